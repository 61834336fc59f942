"""Spatio-temporal tracking: hand cases, synthetic clips (MOTA, ID switches vs the Hungarian
baseline), fitting the temporal model, binding fuzz, canonical JSON and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import motmetrics as mm
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arttrack import _core as core
from arttrack.io.canonical import CanonicalFormatError, people_array, read_canonical, write_canonical
from arttrack.joints import COCO17
from arttrack.track import main as track_main
from arttrack.tracking import (
    FEATURE_NAMES,
    FILL_SCORE_DECAY,
    TemporalModel,
    Tracker,
    TrackSmoother,
    hungarian_baseline,
    people_to_detections,
    temporal_features,
    track_people,
)
from arttrack.training.temporal_fit import fit_temporal_model, temporal_training_pairs

J = COCO17.num_joints
# A standing person, 17 COCO joints, about 200 px tall, feet at y = 0, centred on x = 0.
_TEMPLATE = np.array([
    [0, -190], [-5, -195], [5, -195], [-12, -190], [12, -190], [-25, -160], [25, -160],
    [-32, -120], [32, -120], [-35, -85], [35, -85], [-15, -90], [15, -90], [-16, -45],
    [16, -45], [-17, 0], [17, 0]], dtype=np.float64)


def person(x: float, y: float = 400.0, score: float = 0.9) -> np.ndarray:
    p = np.empty((J, 3))
    p[:, :2] = _TEMPLATE + (x, y)
    p[:, 2] = score
    return p


def frame(*people: np.ndarray) -> np.ndarray:
    return np.stack(people) if people else np.zeros((0, J, 3))


# --------------------------------------------------------------------------------------
# hand cases
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["st", "hungarian"])
def test_two_people_walking_apart_keep_ids(method):
    frames = [frame(person(300 - 6 * t), person(340 + 6 * t)) for t in range(15)]
    ids = track_people(frames) if method == "st" else hungarian_baseline(frames)
    first = ids[0]
    assert first[0] != first[1]
    for f in ids:
        np.testing.assert_array_equal(f, first)


@pytest.mark.parametrize("method", ["st", "hungarian"])
@pytest.mark.parametrize("max_gap,keeps", [(5, True), (1, False), (3, True), (2, False)])
def test_occlusion_keeps_id_within_max_gap(method, max_gap, keeps):
    # The person is gone in frames 4, 5, 6 (occluded for 3 frames), back in frame 7.
    frames = [frame(person(100 + 3 * t)) if not 4 <= t <= 6 else frame() for t in range(10)]
    if method == "st":
        ids = track_people(frames, max_gap=max_gap)
    else:
        ids = hungarian_baseline(frames, max_gap=max_gap)
    assert (ids[7][0] == ids[0][0]) == keeps
    assert ids[9][0] == ids[7][0]


def test_new_person_entering_gets_new_id():
    tr = Tracker(J)
    a = tr.step_people(frame(person(100))).track_id
    b = tr.step_people(frame(person(102), person(500))).track_id
    c = tr.step_people(frame(person(104), person(498))).track_id
    assert b[0] == a[0] and b[1] != a[0]
    np.testing.assert_array_equal(c, b)
    assert tr.next_id == 2


def test_frame_gaps_count_as_unseen_frames():
    tr = Tracker(J, max_gap=2)
    a = tr.step_people(frame(person(100)), frame=10).track_id[0]
    assert tr.step_people(frame(person(100)), frame=13).track_id[0] == a  # 2 frames unseen
    assert tr.step_people(frame(person(100)), frame=17).track_id[0] != a  # 3 frames unseen
    with pytest.raises(ValueError, match="strictly increasing"):
        tr.step_people(frame(person(100)), frame=17)


def test_track_super_node_never_absorbs_two_tracks():
    # Two overlapping people seen in frame 0; in frame 1 one person right between them.
    tr = Tracker(J)
    first = tr.step_people(frame(person(200), person(215))).track_id
    r = tr.step_people(frame(person(207)))
    assert r.track_id[0] in first
    assert len(r.continued) == 1 and len(r.created) == 0
    # Raw detections without spatial edges: every detection lies near both tracks; each
    # cluster still holds at most one track, so no detection carries two ids and every
    # continued track is distinct.
    tr = Tracker(J)
    tr.step_people(frame(person(200), person(215)))
    p = person(207)
    res = tr.step_detections(np.arange(J), p[:, :2], p[:, 2])
    assert set(res.continued.tolist()) <= set(first.tolist())
    assert len(res.continued) == len(set(res.continued.tolist()))
    assert set(res.track_id[res.track_id >= 0].tolist()) <= set(res.continued.tolist()) | set(res.created.tolist())


def _fast_crossing(speed: float = 20.0, frames: int = 12) -> list[np.ndarray]:
    # A walks right, B walks left; they pass each other within one frame (x gap 30 -> -10).
    return [frame(person(0 + speed * t, 400), person(150 - speed * t, 404)) for t in range(frames)]


def test_designed_crossing_st_keeps_ids_where_hungarian_swaps():
    frames = _fast_crossing()
    st_ids = track_people(frames)
    hu_ids = hungarian_baseline(frames)
    gt = [np.array([0, 1])] * len(frames)
    assert _mota(gt, st_ids)[1] == 0
    assert _mota(gt, hu_ids)[1] >= 1
    assert all((f == st_ids[0]).all() for f in st_ids)


def test_people_to_detections_edges():
    p = frame(person(100), person(300))
    p[0, 3] = np.nan  # a missing joint
    d = people_to_detections(p)
    assert len(d.joint) == 2 * J - 1
    assert (d.person[:J - 1] == 0).all() and (d.person[J - 1:] == 1).all()
    bind = d.edge_cost < 0
    assert bind.sum() == 2 * J - 3  # stars: (J - 2) + (J - 1)
    assert (d.person[d.edges[bind, 0]] == d.person[d.edges[bind, 1]]).all()
    rep = d.edges[~bind]
    assert rep.shape == (1, 2) and d.person[rep[0, 0]] != d.person[rep[0, 1]]


def test_person_without_joints_gets_no_track():
    p = frame(person(100), np.full((J, 3), np.nan))
    # ids from 0 in order of first appearance; the person without joints gets none (-1)
    assert [i.tolist() for i in track_people([p, p])] == [[0, -1], [0, -1]]
    assert [i.tolist() for i in hungarian_baseline([p, p])] == [[0, -1], [0, -1]]


def test_set_joint_positions_optical_flow_prior():
    tr = Tracker(J, use_velocity=False)
    a = tr.step_people(frame(person(100))).track_id[0]
    # The caller warped the track to x = 400 (e.g. optical flow): the person there continues it.
    tr.set_joint_positions(a, person(400)[:, :2])
    assert tr.step_people(frame(person(400))).track_id[0] == a
    with pytest.raises(ValueError):
        tr.set_joint_positions(99, person(0)[:, :2])
    t = tr.tracks()
    assert t["xy"].shape == (1, J, 2) and t["id"].tolist() == [a]


# --------------------------------------------------------------------------------------
# synthetic clips
# --------------------------------------------------------------------------------------
def _synthetic_clip(seed: int, num_frames: int = 40, noise: float = 4.0, drop: float = 0.2):
    """Ground-truth COCO joints of a synthetic clip with Gaussian noise and dropped joints.
    Returns (noisy people per frame, gt track ids per frame, clean people per frame)."""
    from arttrack.data import synthetic as syn

    cfg = syn.SyntheticConfig(width=640, height=480, num_people=(3, 5), joint_set="coco17")
    clip = syn.generate_clip(seed, num_frames, config=cfg)
    rng = np.random.default_rng(seed + 12345)
    noisy, gt, clean = [], [], []
    for people in clip.people:
        a = np.full((len(people), J, 3), np.nan)
        c = a.copy()
        for i, p in enumerate(people):
            k = p.keypoints("coco17")
            ok = k[:, 2] > 0
            c[i, ok, :2] = k[ok, :2]
            keep = ok & (rng.random(J) >= drop)
            a[i, keep, :2] = k[keep, :2] + rng.normal(0.0, noise, (int(keep.sum()), 2))
            a[i, keep, 2] = rng.uniform(0.3, 1.0, int(keep.sum()))
        noisy.append(a)
        clean.append(c)
        gt.append(np.array([p.track_id for p in people], dtype=np.int64))
    return noisy, gt, clean


def _mota(gt, pred) -> tuple[float, int, int]:
    """(MOTA, ID switches, objects) with motmetrics; hypothesis i is the tracked copy of
    ground-truth person i (people without any joint have no hypothesis)."""
    acc = mm.MOTAccumulator(auto_id=True)
    for g, p in zip(gt, pred):
        idx = [i for i, t in enumerate(p) if t >= 0]
        dist = np.full((len(g), len(idx)), np.nan)
        for c, i in enumerate(idx):
            dist[i, c] = 0.0
        acc.update([int(x) for x in g], [int(p[i]) for i in idx], dist)
    s = mm.metrics.create().compute(acc, metrics=["mota", "num_switches", "num_objects"])
    return float(s["mota"].iloc[0]), int(s["num_switches"].iloc[0]), int(s["num_objects"].iloc[0])


def _crossings(gt, clean) -> int:
    """Pairs of people whose left-right order flips between consecutive frames."""
    n = 0
    for t in range(1, len(gt)):
        prev = {int(k): i for i, k in enumerate(gt[t - 1])}
        x_now = [np.nanmean(p[:, 0]) if np.isfinite(p[:, 0]).any() else np.nan for p in clean[t]]
        x_prev = [np.nanmean(p[:, 0]) if np.isfinite(p[:, 0]).any() else np.nan for p in clean[t - 1]]
        for a in range(len(gt[t])):
            for b in range(a + 1, len(gt[t])):
                ia, ib = prev.get(int(gt[t][a])), prev.get(int(gt[t][b]))
                if ia is None or ib is None:
                    continue
                d_now, d_prev = x_now[a] - x_now[b], x_prev[ia] - x_prev[ib]
                if np.isfinite(d_now) and np.isfinite(d_prev) and np.sign(d_now) != np.sign(d_prev):
                    n += 1
    return n


SEEDS = (0, 1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def clips():
    return {s: _synthetic_clip(s) for s in SEEDS}


def test_synthetic_clips_mota_and_switches(clips):
    st_total = hu_total = cross_total = 0
    objects = errors = 0
    for seed in SEEDS:
        noisy, gt, clean = clips[seed]
        mota_st, sw_st, n_obj = _mota(gt, track_people(noisy, max_gap=5))
        _, sw_hu, _ = _mota(gt, hungarian_baseline(noisy, max_gap=5))
        cross = _crossings(gt, clean)
        assert sw_st <= max(cross, 1), (seed, sw_st, cross)
        assert mota_st >= 0.93, (seed, mota_st)
        st_total += sw_st
        hu_total += sw_hu
        cross_total += cross
        objects += n_obj
        errors += round((1 - mota_st) * n_obj)
    assert cross_total >= len(SEEDS)  # the clips do contain crossings
    assert 1 - errors / objects >= 0.95
    assert st_total <= hu_total


def test_fit_temporal_model_separates_held_out_pairs(clips, tmp_path):
    train = [list(zip(clips[s][0], clips[s][1])) for s in (0, 1, 2)]
    model = fit_temporal_model(train, max_gap=3)
    assert model.num_positives > 100 and model.num_negatives > 100
    w = dict(zip(FEATURE_NAMES, model.weights))
    assert w["r"] < 0  # farther is less likely the same person
    assert w["r_over_gap"] >= 0 and w["log_gap"] <= 0  # never favours staler tracks
    assert w["q"] <= 0

    held = [list(zip(clips[s][0], clips[s][1])) for s in (3, 4, 5)]
    X, y = temporal_training_pairs(held, max_gap=3)
    assert y.any() and (~y).any()
    p = model.probability(X)
    # AUC by ranks and balanced accuracy at p = 0.5
    order = np.argsort(p)
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    npos, nneg = y.sum(), (~y).sum()
    auc = (ranks[y].sum() - npos * (npos + 1) / 2) / (npos * nneg)
    bacc = 0.5 * ((p[y] > 0.5).mean() + (p[~y] <= 0.5).mean())
    assert auc > 0.95, auc
    assert bacc > 0.85, bacc  # per joint; hard negatives (overlapping people) stay ambiguous

    path = tmp_path / "temporal.npz"
    model.save(path)
    loaded = TemporalModel.load(path)
    assert loaded == model
    np.testing.assert_allclose(loaded.cost(X[:10]), model.cost(X[:10]))
    # the fitted model tracks as well
    noisy, gt, _ = clips[3]
    assert _mota(gt, track_people(noisy, model=loaded, max_gap=3))[0] >= 0.93


def test_temporal_model_validation(tmp_path):
    with pytest.raises(ValueError, match="6 weights"):
        TemporalModel(weights=(1.0, 2.0))
    with pytest.raises(ValueError, match="finite"):
        TemporalModel(weights=(np.nan, 0, 0, 0, 0, 0))
    bad = tmp_path / "bad.npz"
    np.savez(bad, weights=np.zeros(5))
    with pytest.raises(ValueError, match="not an arttrack temporal model"):
        TemporalModel.load(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError):
        TemporalModel.load(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="not found"):
        TemporalModel.load(tmp_path / "missing.npz")
    m = TemporalModel.default()
    np.testing.assert_allclose(m.weights, core.default_temporal_weights())
    f = temporal_features(np.array([[3.0, 4.0]]), np.array([10.0]), np.array([2]), np.array([2.0]))
    np.testing.assert_allclose(f[0], [1, 0.5, 0.25, 0.25, np.log(2), 6.25])
    c = m.cost(f)
    np.testing.assert_allclose(c, -(f @ m.weight_array))
    # default: cost q / 2 - 5 + log(g) / 2 = 3.125 - 5 + 0.3466
    np.testing.assert_allclose(c, [3.125 - 5 + 0.5 * np.log(2)])


def test_temporal_model_loads_format_1(tmp_path):
    """A version 1 file (five features, no q) loads with weight 0 on q; unknown versions and
    a feature list that does not match the version are refused."""
    w1 = np.array([4.0, -12.0, -4.0, 0.0, -0.5])
    names1 = np.array(["bias", "r", "r2", "r_over_gap", "log_gap"])
    common = dict(format=np.array("arttrack-temporal-model"), use_velocity=np.array(True),
                  max_gap=np.array(5), num_positives=np.array(7), num_negatives=np.array(9))
    old = tmp_path / "v1.npz"
    np.savez(old, version=np.array(1), weights=w1, feature_names=names1, **common)
    m = TemporalModel.load(old)
    assert m.weights == (4.0, -12.0, -4.0, 0.0, -0.5, 0.0)
    assert (m.max_gap, m.num_positives, m.num_negatives) == (5, 7, 9)
    bad = tmp_path / "v3.npz"
    np.savez(bad, version=np.array(3), weights=np.zeros(6), feature_names=np.array(FEATURE_NAMES), **common)
    with pytest.raises(ValueError, match="unsupported temporal model version 3"):
        TemporalModel.load(bad)
    mixed = tmp_path / "v2_with_v1_names.npz"
    np.savez(mixed, version=np.array(2), weights=w1, feature_names=names1, **common)
    with pytest.raises(ValueError, match="do not match"):
        TemporalModel.load(mixed)
    # the demo model's file still loads
    from arttrack.video.demo import demo_dir

    assert len(TemporalModel.load(demo_dir() / "temporal.npz").weights) == 6


# --------------------------------------------------------------------------------------
# binding fuzz
# --------------------------------------------------------------------------------------
_dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.bool_])


@st.composite
def _arrays(draw):
    n = draw(st.integers(0, 6))
    shape_j = draw(st.sampled_from([(n,), (n, 1), (n + 1,)]))
    shape_xy = draw(st.sampled_from([(n, 2), (n, 3), (2 * n,), (n + 1, 2)]))
    joint = np.asarray(draw(st.lists(st.integers(-2, 5), min_size=int(np.prod(shape_j)),
                                     max_size=int(np.prod(shape_j))))).reshape(shape_j)
    joint = joint.astype(draw(st.sampled_from([np.int64, np.int64, np.int32, np.float64])))
    vals = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.floats(-500, 500)
    xy = np.asarray(draw(st.lists(vals, min_size=int(np.prod(shape_xy)), max_size=int(np.prod(shape_xy))))
                    ).reshape(shape_xy).astype(draw(st.sampled_from([np.float64, np.float64, np.float32])))
    score = draw(st.none() | st.lists(st.floats(-1, 2) | st.just(np.nan), min_size=n, max_size=n + 1).map(
        lambda v: np.asarray(v, dtype=np.float64)))
    edges = draw(st.none() | st.lists(st.tuples(st.integers(-1, n + 1), st.integers(-1, n + 1)), max_size=5).map(
        lambda v: np.asarray(v, dtype=np.int64).reshape(-1, 2)))
    cost = None if edges is None else draw(
        st.lists(st.floats(-20, 20) | st.just(np.inf), min_size=len(edges), max_size=len(edges) + 1).map(
            lambda v: np.asarray(v, dtype=np.float64)))
    return joint, xy, score, edges, cost


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=_arrays(), frame=st.integers(-3, 5))
def test_binding_fuzz_step_never_crashes(args, frame):
    joint, xy, score, edges, cost = args
    tr = core.Tracker(4)
    tr.step(0, np.zeros(1, np.int64), np.zeros((1, 2)), np.ones(1), None, None)
    try:
        track_id, continued, created, _ = tr.step(frame, joint, xy, score, edges, cost)
    except ValueError:
        return
    assert track_id.shape == (len(joint),) and track_id.dtype == np.int64
    assert np.isfinite(xy).all() and (joint >= 0).all() and (joint < 4).all()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 4), dtype=_dtypes, bad=st.sampled_from(["none", "nan", "size0", "gap0", "shape"]))
def test_binding_fuzz_features_and_ctor(n, dtype, bad):
    d = np.ones((n, 2), dtype=dtype)
    s = np.ones(n, dtype=np.float64)
    g = np.ones(n, dtype=np.int64)
    e = np.ones(n, dtype=np.float64)
    if bad == "nan" and n:
        s[0] = np.nan
    if bad == "size0" and n:
        s[0] = 0.0
    if bad == "gap0" and n:
        g[0] = 0
    if bad == "shape":
        d = np.ones((n, 3))
    should_fail = dtype is not np.float64 or bad == "shape" or (n > 0 and bad != "none")
    if should_fail:
        with pytest.raises(ValueError):
            core.temporal_features(d, s, g, e)
    else:
        assert core.temporal_features(d, s, g, e).shape == (n, 6)
    with pytest.raises(ValueError):
        core.Tracker(0)
    with pytest.raises(ValueError):
        core.Tracker(3, weights=np.zeros(4))
    with pytest.raises(ValueError):
        core.Tracker(3, weights=np.array([np.nan, 0, 0, 0, 0]))
    with pytest.raises(ValueError):
        core.Tracker(3, max_gap=-1)
    with pytest.raises(ValueError):
        core.Tracker(3, method="ilp")
    with pytest.raises(ValueError):
        core.Tracker(3, fallback_spread=-0.1)
    with pytest.raises(ValueError):
        core.Tracker(3).assign(0, np.zeros(2, np.int64), np.zeros((2, 2)), np.ones(2), np.zeros(3, np.int64))


# --------------------------------------------------------------------------------------
# canonical JSON and the CLI
# --------------------------------------------------------------------------------------
def _canonical_from_clip(noisy) -> dict:
    frames = []
    for t, people in enumerate(noisy):
        insts = []
        for p in people:
            ok = np.isfinite(p[:, 0])
            insts.append({
                "keypoints": [[float(x), float(y)] if k else None for (x, y, _), k in zip(p, ok)],
                "keypoint_scores": [float(s) if k else None for (_, _, s), k in zip(p, ok)],
                "bbox": None, "score": 0.9})
        frames.append({"frame_id": t, "instances": insts})
    return {"meta": {"keypoint_names": list(COCO17.names), "source": "test"}, "frames": frames}


def test_io_json_roundtrip_and_errors(tmp_path):
    data = {"meta": {"keypoint_names": ["a", "b"]},
            "frames": [{"frame_id": 0, "instances": [
                {"keypoints": [[1.0, 2.0], [float("nan"), 3.0]], "keypoint_scores": [0.5, np.float64(0.2)],
                 "bbox": [0, 0, 1, 1], "score": None}]}]}
    path = tmp_path / "x.json"
    write_canonical(path, data)
    back = read_canonical(path)
    assert back["frames"][0]["instances"][0]["keypoints"] == [[1.0, 2.0], None]
    assert back["frames"][0]["instances"][0]["keypoint_scores"] == [0.5, 0.2]
    with pytest.raises(FileExistsError):
        write_canonical(path, data, overwrite=False)
    arr = people_array(back["frames"][0], 2)
    assert arr.shape == (1, 2, 3) and np.isnan(arr[0, 1]).all() and arr[0, 0].tolist() == [1.0, 2.0, 0.5]
    bad_cases = [
        ([], "top level"),
        ({"meta": {}, "frames": []}, "keypoint_names"),
        ({"meta": {"keypoint_names": ["a"]}, "frames": [{"frame_id": -1, "instances": []}]}, "frame_id"),
        ({"meta": {"keypoint_names": ["a"]}, "frames": [{"frame_id": 0, "instances": []},
                                                         {"frame_id": 0, "instances": []}]}, "more than once"),
        ({"meta": {"keypoint_names": ["a"]}, "frames": [{"frame_id": 0, "instances": [
            {"keypoints": [[1, 2], [3, 4]]}]}]}, "1 entries"),
        ({"meta": {"keypoint_names": ["a"]}, "frames": [{"frame_id": 0, "instances": [
            {"keypoints": [[0, 0, 0]]}]}]}, r"\[x, y\] or null"),
        ({"meta": {"keypoint_names": ["a"]}, "frames": [{"frame_id": 0, "instances": [
            {"keypoints": [None], "track_id": "x"}]}]}, "track_id"),
    ]
    for obj, msg in bad_cases:
        p = tmp_path / "bad.json"
        p.write_text(json.dumps(obj))
        with pytest.raises(CanonicalFormatError, match=msg):
            read_canonical(p)
    (tmp_path / "trunc.json").write_text('{"meta": ')
    with pytest.raises(CanonicalFormatError, match="not valid JSON"):
        read_canonical(tmp_path / "trunc.json")


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arttrack.track", *args], capture_output=True, text=True,
                          timeout=60)


def test_cli_end_to_end(clips, tmp_path):
    noisy, gt, _ = clips[0]
    src = tmp_path / "poses.json"
    src.write_text(json.dumps(_canonical_from_clip(noisy)))
    out = tmp_path / "tracked.json"
    r = _run_cli(str(src), "--out", str(out), "--max-gap", "5")
    assert r.returncode == 0, r.stderr
    data = read_canonical(out)
    assert data["meta"]["tracker"]["method"] == "st" and data["meta"]["source"] == "test"
    ids = [np.array([inst["track_id"] for inst in fr["instances"]]) for fr in data["frames"]]
    assert all(isinstance(inst["track_id"], int) for fr in data["frames"] for inst in fr["instances"])
    assert _mota(gt, ids)[0] >= 0.93
    # refuses to overwrite
    before = out.read_bytes()
    r = _run_cli(str(src), "--out", str(out), "--method", "hungarian")
    assert r.returncode != 0 and "exists" in r.stderr and "Traceback" not in r.stderr
    assert out.read_bytes() == before
    # bad input: one readable line, no traceback
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"meta": {"keypoint_names": ["a", "b"]},
                               "frames": [{"frame_id": 0, "instances": [{"keypoints": [[1, 2]]}]}]}))
    r = _run_cli(str(bad), "--out", str(tmp_path / "o.json"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "keypoints" in r.stderr
    assert not (tmp_path / "o.json").exists()


def test_cli_in_process_cases(clips, tmp_path, capsys):
    noisy, gt, _ = clips[1]
    src = tmp_path / "poses.json"
    data = _canonical_from_clip(noisy[:12])
    data["frames"][3]["instances"].append({"keypoints": [None] * J})  # nothing to track
    data["frames"] = data["frames"][::-1]  # frame order in the file does not matter
    src.write_text(json.dumps(data))
    out = tmp_path / "t.json"
    assert track_main([str(src), "--out", str(out), "--method", "hungarian"]) == 0
    assert track_main([str(src), "--out", str(out), "--overwrite", "--max-gap", "2"]) == 0
    res = read_canonical(out)
    assert [f["frame_id"] for f in res["frames"]] == list(range(11, -1, -1))
    all_ids = [i["track_id"] for f in res["frames"] for i in f["instances"]]
    assert all(isinstance(t, int) for t in all_ids)
    lone = [i for i in res["frames"][-4]["instances"] if all(k is None for k in i["keypoints"])]
    assert len(lone) == 1 and all_ids.count(lone[0]["track_id"]) == 1
    capsys.readouterr()
    cases = [
        [str(tmp_path / "missing.json"), "--out", str(tmp_path / "a.json")],
        [str(src), "--out", str(tmp_path / "a.json"), "--max-gap", "-1"],
        [str(src), "--out", str(tmp_path / "a.json"), "--model", str(tmp_path / "nope.npz")],
        [str(src), "--out", str(tmp_path / "a.json"), "--method", "hungarian", "--model", "m.npz"],
        [str(src), "--out", str(tmp_path / "no_dir" / "a.json")],
    ]
    for argv in cases:
        assert track_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("arttrack.track: error: ") and len(err.strip().splitlines()) == 1, err
    model = tmp_path / "m.npz"
    TemporalModel.default().save(model)
    assert track_main([str(src), "--out", str(tmp_path / "b.json"), "--model", str(model)]) == 0
    assert read_canonical(tmp_path / "b.json")["meta"]["tracker"]["model"] == str(model)


# --------------------------------------------------------------------------------------
# TrackSmoother
# --------------------------------------------------------------------------------------
def _drain(sm, frames):
    """Push (frame, people, ids) triples; returns the released frames and, per push, how
    many came out."""
    out, counts = [], []
    for f, people, ids in frames:
        got = sm.push(f, people, ids, payload=f"img{f}")
        counts.append(len(got))
        out += got
    out += sm.finish()
    return out, counts


def test_smoother_fills_a_joint_gap_by_hand():
    nj = 2
    a = np.array([[[0.0, 0.0, 0.9], [10.0, 10.0, 0.5]]])
    b = np.array([[[30.0, 60.0, 0.6], [40.0, 10.0, 0.7]]])
    gap = a.copy()
    gap[0, 0] = np.nan  # joint 0 missing in frames 1 and 2
    frames = [(0, a, [7]), (1, gap, [7]), (2, gap, [7]), (3, b, [7])]
    out, counts = _drain(TrackSmoother(nj, fill_gap=2, min_track_frames=0), frames)
    assert counts == [0, 0, 1, 1]  # lag 2
    assert [o.frame for o in out] == [0, 1, 2, 3]
    assert [o.payload for o in out] == ["img0", "img1", "img2", "img3"]
    assert all(o.ids.tolist() == [0] for o in out)  # dense output ids
    s = min(0.9, 0.6) * FILL_SCORE_DECAY
    np.testing.assert_allclose(out[1].people[0, 0], [10.0, 20.0, s])  # 1/3 of the way
    np.testing.assert_allclose(out[2].people[0, 0], [20.0, 40.0, s])
    np.testing.assert_array_equal(out[1].people[0, 1], [10.0, 10.0, 0.5])  # untouched
    # a gap longer than fill_gap stays empty
    out, _ = _drain(TrackSmoother(nj, fill_gap=1, min_track_frames=0), frames)
    assert np.isnan(out[1].people[0, 0]).all() and np.isnan(out[2].people[0, 0]).all()


def test_smoother_puts_back_a_person_the_tracker_missed():
    p = np.array([[[0.0, 0.0, 0.8], [0.0, 50.0, 0.8]]])
    q = p + np.array([20.0, 0.0, 0.0])
    empty = np.zeros((0, 2, 3))
    frames = [(10, p, [3]), (11, empty, []), (12, q, [3])]
    out, _ = _drain(TrackSmoother(2, fill_gap=1, min_track_frames=0), frames)
    assert out[1].ids.tolist() == [0]
    np.testing.assert_allclose(out[1].people[0, :, :2], [[10.0, 0.0], [10.0, 50.0]])
    # frame numbers count, not pushes: 10 -> 13 is a gap of 2
    out, _ = _drain(TrackSmoother(2, fill_gap=1, min_track_frames=0), [(10, p, [3]), (13, q, [3])])
    assert [len(o.people) for o in out] == [1, 1]


def test_smoother_drops_short_tracks_except_at_the_clip_ends():
    p = np.array([[[5.0, 5.0, 0.9]]])
    frames = []
    for f in range(12):
        people, ids = [], []
        if f < 2:
            ids.append(100)  # starts with the clip: kept although short
        if 4 <= f < 7:
            ids.append(200)  # 3 frames in the middle: dropped
        if 3 <= f:
            ids.append(300)  # long: kept
        if f >= 10:
            ids.append(400)  # cut by the end: kept
        people = np.repeat(p, len(ids), axis=0)
        frames.append((f, people, ids))
    out, counts = _drain(TrackSmoother(1, fill_gap=0, min_track_frames=5), frames)
    assert counts[:4] == [0, 0, 0, 0] and counts[4:] == [1] * 8  # lag 4
    kept = {f: o.ids.tolist() for f, o in enumerate(out)}
    assert kept[0] == kept[1] == [0]
    assert kept[5] == [1]  # track 300 only; 200 dropped; ids dense, by first appearance
    assert kept[10] == kept[11] == [1, 2]


def test_smoother_passes_frames_through_when_off():
    rng = np.random.default_rng(0)
    frames = [(f, rng.uniform(0, 100, (2, 3, 3)), [5, 9]) for f in range(4)]
    frames[2][1][0, 1] = np.nan
    out, counts = _drain(TrackSmoother(3, fill_gap=0, min_track_frames=0), frames)
    assert counts == [1, 1, 1, 1]
    for o, (f, people, _) in zip(out, frames):
        np.testing.assert_array_equal(o.people, people)
        assert o.ids.tolist() == [0, 1]


def test_smoother_matches_an_offline_interpolation():
    """Random tracks with random holes against np.interp over each track's whole series."""
    rng = np.random.default_rng(4)
    nj, n, fill_gap = 4, 30, 3
    truth = {t: rng.uniform(0, 300, (n, nj, 2)) for t in range(3)}
    present = {t: rng.random((n, nj)) < 0.6 for t in truth}
    frames = []
    for f in range(n):
        ids = [t for t in truth if present[t][f].any()]
        people = np.full((len(ids), nj, 3), np.nan)
        for k, t in enumerate(ids):
            ok = present[t][f]
            people[k, ok, :2] = truth[t][f, ok]
            people[k, ok, 2] = 0.5
        frames.append((f, people, ids))
    out, _ = _drain(TrackSmoother(nj, fill_gap=fill_gap, min_track_frames=0), frames)
    got = {t: np.full((n, nj, 2), np.nan) for t in truth}
    first = {}
    for o in out:
        for tid, p in zip(o.ids.tolist(), o.people):
            got[tid][o.frame] = p[:, :2]
            first.setdefault(tid, o.frame)
    order = sorted(truth, key=lambda t: (np.flatnonzero(present[t].any(1))[0], t))
    for out_id, t in enumerate(order):
        for j in range(nj):
            seen = np.flatnonzero(present[t][:, j])
            want = np.full((n, 2), np.nan)
            want[seen] = truth[t][seen, j]
            for a, b in zip(seen[:-1], seen[1:]):
                if 1 <= b - a - 1 <= fill_gap:
                    mid = np.arange(a + 1, b)
                    for c in range(2):
                        want[mid, c] = np.interp(mid, [a, b], truth[t][[a, b], j, c])
            np.testing.assert_allclose(got[out_id][:, j], want, atol=1e-9)


def test_smoother_rejects_bad_input():
    with pytest.raises(ValueError, match="fill_gap"):
        TrackSmoother(2, fill_gap=-1)
    with pytest.raises(ValueError, match="min_track_frames"):
        TrackSmoother(2, min_track_frames=-2)
    sm = TrackSmoother(2)
    sm.push(3, np.zeros((1, 2, 3)), [0])
    with pytest.raises(ValueError, match="increase"):
        sm.push(3, np.zeros((1, 2, 3)), [0])
    with pytest.raises(ValueError, match="ids"):
        sm.push(4, np.zeros((2, 2, 3)), [0])
    with pytest.raises(ValueError, match="two people"):
        sm.push(5, np.zeros((2, 2, 3)), [1, 1])
    with pytest.raises(ValueError, match="shape"):
        TrackSmoother(3).push(0, np.zeros((3, 2, 3)), [0, 1, 2])


def test_smoother_keeps_a_sparsely_seen_track():
    """Seen every other frame: with gap filling the put-back frames count, so the track is
    output from its second frame on (frame 12 is decided at frame 19, when 7 frames count:
    12-18); a 2-frame track one frame after the clip's start is dropped."""
    p = np.array([[5.0, 5.0, 0.9]])
    frames = []
    for f in range(10, 26):  # the clip starts (frame 10) before either track
        ids = [10] * (f % 2 == 0 and 12 <= f <= 24) + [20] * (f in (11, 12))
        frames.append((f, np.array([p] * len(ids)).reshape(-1, 1, 3), ids))
    out, _ = _drain(TrackSmoother(1, fill_gap=1, min_track_frames=8), frames)
    seen = [o.frame for o in out if 0 in o.ids.tolist()]
    assert seen == list(range(13, 25))  # to the last sighting, gaps filled
    assert all(len(o.ids) <= 1 for o in out)  # the 2-frame track (frames 11, 12) is dropped


def test_track_cli_completes_tracks(tmp_path):
    """--fill-gap/--min-track-frames in arttrack.track: hand-made poses of one walker."""
    def inst(p):
        return {"keypoints": [[float(x), float(y)] for x, y, _ in p],
                "keypoint_scores": [float(s) for *_, s in p], "bbox": [1, 2, 3, 4]}

    frames = []
    for t in range(8):
        insts = []
        if t != 5:  # the tracker's input misses the walker in frame 5
            a = inst(person(100.0 + 10 * t))
            if t in (2, 3):  # and joint 5 in frames 2 and 3 (null, then NaN)
                a["keypoints"][5] = None if t == 2 else [float("nan"), float("nan")]
                a["keypoint_scores"][5] = None
            insts.append(a)
        if t in (3, 4):
            insts.append(inst(person(600.0)))  # a 2-frame track: dropped
        if t == 6:
            insts.append({"keypoints": [None] * (J - 1) + [[float("nan"), 1.0]]})
        frames.append({"frame_id": t, "instances": insts})
    src = tmp_path / "poses.json"
    src.write_text(json.dumps({"meta": {"keypoint_names": list(COCO17.names)}, "frames": frames}))
    out = tmp_path / "t.json"
    assert track_main([str(src), "--out", str(out), "--fill-gap", "2",
                       "--min-track-frames", "3"]) == 0
    res = read_canonical(out)
    assert (res["meta"]["tracker"]["fill_gap"], res["meta"]["tracker"]["min_track_frames"]) == (2, 3)
    for t, fr in enumerate(res["frames"]):
        walker = [i for i in fr["instances"] if i["track_id"] == 0]
        assert len(walker) == 1, t
        np.testing.assert_allclose(people_array({"instances": walker}, J)[0, :, :2],
                                   person(100.0 + 10 * t)[:, :2], atol=0.01)
        others = [i for i in fr["instances"] if i["track_id"] != 0]
        assert [i["track_id"] for i in others] == ([1] if t == 6 else [])
    assert res["frames"][2]["instances"][0]["keypoint_scores"][5] == pytest.approx(0.9 * FILL_SCORE_DECAY)
    assert res["frames"][2]["instances"][0]["bbox"] == [1, 2, 3, 4]  # given fields kept
    assert res["frames"][5]["instances"][0]["keypoint_scores"][0] == pytest.approx(0.72)
    assert res["meta"]["tracker"]["num_tracks"] == 2
    # off by default: the input's people as given
    assert track_main([str(src), "--out", str(out), "--overwrite"]) == 0
    res = read_canonical(out)
    assert len(res["frames"][5]["instances"]) == 0 and len(res["frames"][3]["instances"]) == 2
    assert res["frames"][2]["instances"][0]["keypoints"][5] is None


def test_track_cli_relinks_what_the_tracker_swapped(tmp_path, monkeypatch):
    """arttrack.track puts the tracker's ids through TrackRelinker (--relink-window): two
    people entering together whose ids a tracker swaps at frame 4 (a stand-in tracker, the
    ids given) come out with one id each; with --relink-window 0 the swap stays."""
    import arttrack.tracking as tracking

    rng = np.random.default_rng(0)
    shape = rng.uniform(-40, 40, (J, 2))

    def pose(cx):
        return [[float(x), float(y)] for x, y in shape + (cx, 200.0) + rng.normal(0, 1.5, (J, 2))]

    frames = [{"frame_id": f, "instances": [{"keypoints": pose(100 + 3 * f)},
                                            {"keypoints": pose(130 - 3 * f)}]} for f in range(14)]
    src = tmp_path / "poses.json"
    src.write_text(json.dumps({"meta": {"keypoint_names": list(COCO17.names)}, "frames": frames}))
    swapped = [np.array([0, 1] if f < 4 else [1, 0]) for f in range(14)]
    monkeypatch.setattr(tracking, "track_people", lambda people, **kw: swapped)
    out = tmp_path / "t.json"

    def ids_of(person):
        return {fr["instances"][person]["track_id"] for fr in read_canonical(out)["frames"]}

    assert track_main([str(src), "--out", str(out)]) == 0
    assert read_canonical(out)["meta"]["tracker"]["relink_window"] == tracking.RELINK_WINDOW
    assert len(ids_of(0)) == 1 and len(ids_of(1)) == 1 and ids_of(0) != ids_of(1)
    assert track_main([str(src), "--out", str(out), "--overwrite", "--relink-window", "0"]) == 0
    assert ids_of(0) == {0, 1} and ids_of(1) == {0, 1}
    assert track_main([str(src), "--out", str(out), "--overwrite", "--relink-window", "-1"]) == 2
    # the Hungarian baseline is left as it links
    monkeypatch.setattr(tracking, "hungarian_baseline", lambda people, **kw: swapped)
    assert track_main([str(src), "--out", str(out), "--overwrite", "--method", "hungarian"]) == 0
    assert ids_of(0) == {0, 1} and read_canonical(out)["meta"]["tracker"]["relink_window"] == 0
