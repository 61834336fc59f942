"""``python -m arttrack.multiperson``: the video pipeline end to end with a tiny untrained
model, exporters, refusals and bad inputs, the real PoseTrack sample clip, and tracking
quality through the CLI's own people -> tracks step (no network needed).

MindSpore runs in a temporary working directory so that ``rank_0/`` never lands in the repo.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from arttrack.data import synthetic as syn
from arttrack.io.canonical import read_canonical
from arttrack.joints import COCO17

J = COCO17.num_joints
REAL_CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "samples" / \
    "posetrack18" / "videos" / "000001_mpiinew_test.mp4"
W, H, N_FRAMES, FPS = 160, 128, 6, 10.0


# ----------------------------------------------------------------------------- fixtures
def _write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    h, w = frames[0].shape[:2]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert wr.isOpened()
    for f in frames:
        wr.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    wr.release()
    return path


def _spatial_model():
    from arttrack.postprocess import SpatialModel

    pairs = COCO17.pair_graph
    n = len(pairs)
    fmin = np.zeros((n, 9))
    fmax = np.tile([200.0, 200.0, np.pi, np.pi, 1.0, 1.0, 1.0, 1.0, 1.0], (n, 1))
    w = np.tile([-12.0, -12.0, -3.0, -3.0, 1.0, 1.0, 1.0, 1.0, 4.0], (n, 1))
    return SpatialModel(pairs, fmin, fmax, w)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A tiny untrained COCO-17 model (training checkpoint with embedded config), its
    spatial model, a synthetic clip as mp4, and a working directory for MindSpore."""
    from arttrack.models.checkpoint import save_checkpoint
    from arttrack.config import Config
    from arttrack.models.factory import build_model
    from arttrack.data.pairwise_stats import compute_pairwise_stats, save_pairwise_stats

    root = tmp_path_factory.mktemp("mp")
    old = os.getcwd()
    os.chdir(root)
    try:
        import mindspore as ms

        ms.set_device("CPU")
        clip = syn.generate_clip(3, N_FRAMES, syn.SyntheticConfig(width=W, height=H, num_people=(2, 3),
                                                                   joint_set="coco17"), FPS)
        people = [np.stack([p.keypoints("coco17") for p in fr]) for fr in clip.people if fr]
        stats_path = root / "model" / "pairwise_stats.npz"
        save_pairwise_stats(compute_pairwise_stats(people, COCO17), stats_path)
        # dataset_type coco: stands in for a real model (a synthetic one draws a warning)
        cfg = Config().replace(dataset_type="coco", net_type="resnet_tiny", width=8, joint_set="coco17",
                               multi_person=True, pairwise_predict=True,
                               pairwise_stats_fn=str(stats_path), det_min_score=0.55)
        net = build_model(cfg, pretrained=False)
        ckpt = save_checkpoint(net, root / "model" / "snapshot", 1, cfg)
        _spatial_model().save(root / "model" / "spatial.npz")
        other = cfg.replace(width=16)
        other_yaml = root / "other.yaml"
        from arttrack.config import save_config

        save_config(other, other_yaml)
        video = _write_mp4(root / "clip.mp4", clip.frames, FPS)
        yield {"root": root, "ckpt": ckpt, "spatial": root / "model" / "spatial.npz",
               "video": video, "other_yaml": other_yaml, "clip": clip}
    finally:
        os.chdir(old)


def _cli(env, *args, out=None):
    from arttrack.multiperson import main

    out = out or env["root"] / "out"
    return main([*map(str, args), "--ckpt", str(env["ckpt"]), "--out-dir", str(out),
                 "--mode", "pynative"])


def _video_props(path: Path) -> tuple[int, int, int, float]:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    props = (n, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
             float(cap.get(cv2.CAP_PROP_FPS)))
    cap.release()
    return props


def _listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# ----------------------------------------------------------------------------- end to end
def test_cli_outputs_and_exports(env, capsys):
    out = env["root"] / "out_full"
    rc = _cli(env, env["video"], "--save", "posetrack,coco,openpose,csv", "--batch-size", "4",
              "--kpt-thr", "0", out=out)
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "frames/s" in cap.out and "network" in cap.out and "track" in cap.out
    stem = "clip"
    # video: same frame count, size and fps as the input
    # one folder per video, nothing else (no staging folder left)
    assert _listing(out) == [stem]
    d = out / stem
    n, w, h, fps = _video_props(d / f"{stem}_pose.mp4")
    assert (n, w, h) == (N_FRAMES, W, H) and abs(fps - FPS) < 0.01
    # canonical JSON
    data = read_canonical(d / f"{stem}.json")
    assert [f["frame_id"] for f in data["frames"]] == list(range(N_FRAMES))
    meta = data["meta"]
    assert meta["model"]["flip_test"] is False
    assert meta["keypoint_names"] == list(COCO17.names)
    assert meta["video"] == stem and meta["width"] == W and meta["height"] == H
    assert abs(meta["fps"] - FPS) < 0.01 and meta["tracker"]["method"] == "st"
    assert (meta["tracker"]["fill_gap"], meta["tracker"]["min_track_frames"]) == (8, 8)
    assert meta["tracker"]["relink_window"] == 8
    n_inst, first_seen = 0, []
    for fr in data["frames"]:
        ids = [inst["track_id"] for inst in fr["instances"]]
        assert all(isinstance(t, int) for t in ids) and len(set(ids)) == len(ids)
        first_seen += [t for t in ids if t not in first_seen]
        n_inst += len(ids)
    assert n_inst > 0, "the tiny model with threshold 0.55 should find something"
    # ids are dense, 0, 1, 2, ... in order of first appearance
    assert first_seen == list(range(len(first_seen)))
    # COCO results load against a ground truth with those image ids
    from pycocotools.coco import COCO

    res = json.loads((d / f"{stem}_coco_results.json").read_text())
    assert len(res) == n_inst and all(len(r["keypoints"]) == 3 * J for r in res)
    gt = {"images": [{"id": i, "width": W, "height": H, "file_name": f"{i}.jpg"}
                     for i in range(N_FRAMES)],
          "annotations": [{"id": 1, "image_id": 0, "category_id": 1, "iscrowd": 0, "area": 100.0,
                           "bbox": [0, 0, 10, 10], "num_keypoints": 1,
                           "keypoints": [5, 5, 2] + [0, 0, 0] * (J - 1)}],
          "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.names),
                          "skeleton": []}]}
    gt_path = env["root"] / "coco_gt.json"
    gt_path.write_text(json.dumps(gt))
    coco = COCO(str(gt_path))
    dt = coco.loadRes(str(d / f"{stem}_coco_results.json"))
    assert len(dt.getAnnIds()) == n_inst
    # CSV
    with open(d / f"{stem}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0]) == ["frame", "track", "joint", "x", "y", "score"]
    assert {r["joint"] for r in rows} <= set(COCO17.names)
    # OpenPose folder: one file per frame
    op = d / f"{stem}_openpose"
    files = sorted(op.glob(f"{stem}_*_keypoints.json"))
    assert len(files) == N_FRAMES and files[0].name == f"{stem}_000000000000_keypoints.json"
    fr0 = json.loads(files[0].read_text())
    assert all(len(p["pose_keypoints_2d"]) == 3 * J for p in fr0["people"])
    assert "note" in json.loads((op / "arttrack_meta.json").read_text())
    # PoseTrack export: the evaluator reads it
    pt = json.loads((d / f"{stem}_posetrack.json").read_text())
    assert len(pt["images"]) == N_FRAMES and all(len(a["keypoints"]) == 51 for a in pt["annotations"])
    # nothing temporary left
    assert not [p for p in out.iterdir() if p.name.startswith(".")]

    # refuse to overwrite, then --overwrite works
    before = (d / f"{stem}.json").stat().st_mtime_ns
    rc = _cli(env, env["video"], "--no-video", out=out)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "exists" in err[0] and "--overwrite" in err[0]
    assert (d / f"{stem}.json").stat().st_mtime_ns == before
    rc = _cli(env, env["video"], "--no-video", "--overwrite", "--tracker", "hungarian",
              "--max-frames", "3", "--fill-gap", "0", "--min-track-frames", "0", out=out)
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert f"replaced the earlier run's {stem}" in cap.out
    data = read_canonical(d / f"{stem}.json")
    assert len(data["frames"]) == 3 and data["meta"]["tracker"]["method"] == "hungarian"
    # the folder was replaced whole: the exports of the first run are gone
    assert _listing(d) == [f"{stem}.json"] and _listing(out) == [stem]
    assert (data["meta"]["tracker"]["fill_gap"], data["meta"]["tracker"]["min_track_frames"]) == (0, 0)


def test_cli_image_folder_flow_and_graph_mode(env, capsys):
    frames_dir = env["root"] / "frames"
    frames_dir.mkdir(exist_ok=True)
    for i, f in enumerate(env["clip"].frames[:3]):
        cv2.imwrite(str(frames_dir / f"{i:06d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    from arttrack.multiperson import main

    out = env["root"] / "out_folder"
    rc = main([str(frames_dir), "--ckpt", str(env["ckpt"]), "--out-dir", str(out), "--flow",
               "--batch-size", "2", "--fps", "12", "--solver", "gaec", "--flip-test",
               "--fill-gap", "1", "--min-track-frames", "2", "--backend", "mindspore"])  # frames come out 1 late
    assert rc == 0, capsys.readouterr().err
    data = read_canonical(out / "frames" / "frames.json")
    assert len(data["frames"]) == 3 and data["meta"]["tracker"]["flow"] is True
    assert data["meta"]["backend"] == "mindspore"
    assert data["meta"]["tracker"]["partition_method"] == "gaec"
    assert data["meta"]["model"]["settings"]["method"] == "gaec"
    assert data["meta"]["model"]["flip_test"] is True
    n, w, h, fps = _video_props(out / "frames" / "frames_pose.mp4")
    assert (n, w, h) == (3, W, H) and abs(fps - 12) < 0.01


# ----------------------------------------------------------------------------- bad input
def _one_line_error(rc: int, err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert rc != 0
    assert len(lines) == 1, err
    assert lines[0].startswith("arttrack.multiperson: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_bad_inputs_one_line_and_no_outputs(env, capsys):
    root = env["root"]
    out = root / "out_bad"
    not_video = root / "notes.mp4"
    not_video.write_text("this is not a video\n" * 50)
    empty = root / "empty_dir"
    empty.mkdir(exist_ok=True)
    truncated = root / "truncated.mp4"
    data = env["video"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    cases = {"missing": root / "nope.mp4", "not a video": not_video, "empty folder": empty,
             "truncated": truncated}
    for what, path in cases.items():
        rc = _cli(env, path, out=out)
        msg = _one_line_error(rc, capsys.readouterr().err)
        assert str(path.name) in msg, (what, msg)
        assert not out.exists() or _listing(out) == [], (what, _listing(out))
    rc = _cli(env, env["video"], "--fill-gap", "-1", out=out)
    assert "--fill-gap" in _one_line_error(rc, capsys.readouterr().err)
    assert not out.exists() or _listing(out) == []
    rc = _cli(env, env["video"], "--relink-window", "-1", out=out)
    assert "--relink-window" in _one_line_error(rc, capsys.readouterr().err)
    assert not out.exists() or _listing(out) == []
    # a checkpoint that does not match the config
    from arttrack.multiperson import main

    rc = main([str(env["video"]), "--ckpt", str(env["ckpt"]), "--config", str(env["other_yaml"]),
               "--out-dir", str(out), "--mode", "pynative"])
    msg = _one_line_error(rc, capsys.readouterr().err)
    print(msg)
    assert "checkpoint" in msg and "match" in msg
    assert not out.exists() or _listing(out) == []


def test_truncated_video_warns_and_keeps_decoded_frames(env, capsys):
    """A video that stops decoding early (an AVI cut short keeps its declared frame count):
    one warning line, outputs for the frames that decoded."""
    root = env["root"]
    full = root / "full.avi"
    wr = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    for f in env["clip"].frames:
        wr.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    wr.release()
    cut = root / "cut.avi"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    out = root / "out_cut"
    rc = _cli(env, cut, "--no-video", out=out)
    err = capsys.readouterr().err
    assert rc == 0, err
    warn = [ln for ln in err.splitlines() if ln.startswith("arttrack.multiperson: warning:")]
    assert len(warn) == 1 and "truncated" in warn[0] and f"of {N_FRAMES} frames" in warn[0]
    n = len(read_canonical(out / "cut" / "cut.json")["frames"])
    assert 0 < n < N_FRAMES and f"only {n} of" in warn[0]


def test_subprocess_error_is_one_line(env, tmp_path):
    """The real entry point: exit status and a single stderr line, no traceback."""
    r = subprocess.run([sys.executable, "-m", "arttrack.multiperson", str(tmp_path / "missing.mp4"),
                        "--ckpt", str(env["ckpt"]), "--out-dir", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    msg = _one_line_error(r.returncode, r.stderr)
    assert "no such file" in msg
    assert not (tmp_path / "o").exists()
    truncated = tmp_path / "cut.mp4"
    data = env["video"].read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    r = subprocess.run([sys.executable, "-m", "arttrack.multiperson", str(truncated),
                        "--ckpt", str(env["ckpt"]), "--out-dir", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    _one_line_error(r.returncode, r.stderr)
    assert not (tmp_path / "o").exists()
    r = subprocess.run([sys.executable, "-m", "arttrack.multiperson", "--help"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and "examples:" in r.stdout and "--demo" in r.stdout


def test_demo_missing_model_message(monkeypatch, tmp_path, capsys):
    from arttrack import multiperson
    from arttrack.video import demo

    monkeypatch.setattr(demo, "demo_dir", lambda: tmp_path / "no_demo")
    rc = multiperson.main(["--demo", "--out-dir", str(tmp_path / "o")])
    msg = _one_line_error(rc, capsys.readouterr().err)
    assert "demo model is not installed" in msg and "scripts/train_demo_model.py" in msg
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- real clip
def test_real_posetrack_clip(env, capsys, shared_data):
    assert REAL_CLIP.is_file(), f"{REAL_CLIP} is missing from ../shared"
    out = env["root"] / "out_real"
    # --scale 0.25: the untrained tiny model is slow on 1280x720 CPU frames; outputs stay
    # in the original size
    rc = _cli(env, REAL_CLIP.resolve(), "--max-frames", "3", "--batch-size", "2", "--scale",
              "0.25", out=out)
    assert rc == 0, capsys.readouterr().err
    stem = REAL_CLIP.stem
    cap = cv2.VideoCapture(str(REAL_CLIP))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    n, ow, oh, _ = _video_props(out / stem / f"{stem}_pose.mp4")
    assert (n, ow, oh) == (3, w, h)
    data = read_canonical(out / stem / f"{stem}.json")
    assert len(data["frames"]) == 3 and data["meta"]["width"] == w


# ----------------------------------------------------------------------------- tracking quality
def _gt_people(clip, joints: str = "coco17") -> list[np.ndarray]:
    """(P, J, 3) labelled joints per frame; with ``posetrack17``, exactly the people and
    joints :func:`arttrack.data.synthetic.write_posetrack` annotates (no ears, people with
    a visible joint)."""
    out = []
    for people in clip.people:
        rows = []
        for p in sorted(people, key=lambda q: q.track_id):
            k = p.keypoints(joints)
            if joints == "posetrack17":
                k[[3, 4]] = 0
                if not (k[:, 2] == 2).any():
                    continue
            a = np.full((k.shape[0], 3), np.nan)
            ok = k[:, 2] > 0
            a[ok, :2] = k[ok, :2]
            a[ok, 2] = 1.0
            rows.append(a)
        n = len(syn.joint_indices(joints))
        out.append(np.stack(rows) if rows else np.zeros((0, n, 3)))
    return out


@pytest.mark.parametrize("method, solver", [("st", "gaec+klj"), ("st", "gaec"),
                                            ("hungarian", "gaec+klj")])
def test_tracking_quality_through_cli_linker(tmp_path, method, solver):
    """Ground-truth people of synthetic clips through the CLI's people -> tracks step
    (PeopleLinker, as `run` calls it), written as canonical JSON and scored by
    arttrack.eval.posetrack: MOTA >= 95 %."""
    from arttrack.eval.posetrack import evaluate_posetrack
    from arttrack.io.canonical import instance_from_person, write_canonical
    from arttrack.tracking.linker import FrameDetections, PeopleLinker

    cfg = syn.SyntheticConfig(width=640, height=480, num_people=(3, 4), joint_set="coco17")
    gt_paths = syn.write_posetrack(tmp_path / "gt", 2, num_frames=30, seed=11, config=cfg,
                                   write_video=False, progress=False)
    motas = []
    for k, gt_path in enumerate(gt_paths):
        clip = syn.generate_clip(np.random.default_rng([11, k]), 30, cfg)
        linker = PeopleLinker(len(syn.POSETRACK17_NAMES), method, min_joints=1,
                              partition_method=solver)
        if method == "st":
            assert linker.tracker.method == solver
        frames = []
        for t, people in enumerate(_gt_people(clip, "posetrack17")):
            got, ids = linker.step(t, FrameDetections.from_people(people))
            frames.append({"frame_id": t, "instances": [instance_from_person(p, i)
                                                        for p, i in zip(got, ids)]})
        pred = tmp_path / f"{gt_path.stem}.json"
        write_canonical(pred, {"meta": {"video": gt_path.stem,
                                         "keypoint_names": list(syn.POSETRACK17_NAMES)},
                               "frames": frames})
        r = evaluate_posetrack(gt_path, pred)
        motas.append(r.total["mota"])
    assert min(motas) >= 95.0, motas


def test_st_person_takes_each_joints_best_detection():
    """Two far-apart detections of joint 0 (both feet) bound into one person: the person,
    and the track's remembered joint, sit at the better one, not between them; with a
    merge radius that covers both, at their score-weighted mean."""
    from arttrack.tracking.linker import FrameDetections, PeopleLinker

    joint = np.array([0, 0, 1, 2])  # the best detection first: "the last one wins" fails too
    xy = np.array([[50.0, 100.0], [10.0, 100.0], [30.0, 50.0], [30.0, 20.0]])
    score = np.array([0.9, 0.4, 0.8, 0.8])
    edges = np.array([[i, k] for i in range(4) for k in range(i + 1, 4)])
    dets = FrameDetections(joint, xy, score, edges, np.full(len(edges), -5.0),
                           np.zeros((0, 3, 3)))
    linker = PeopleLinker(3, "st")
    people, ids = linker.step(0, dets)
    assert people.shape == (1, 3, 3) and list(ids) == [0]
    np.testing.assert_allclose(people[0], [[50, 100, 0.9], [30, 50, 0.8], [30, 20, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(linker.tracker.tracks()["xy"][0], people[0, :, :2])
    merged, _ = PeopleLinker(3, "st", merge_radius=50.0).step(0, dets)
    np.testing.assert_allclose(merged[0, 0], [(0.4 * 10 + 0.9 * 50) / 1.3, 100, 0.9], rtol=1e-6)


def test_hungarian_stream_matches_baseline():
    from arttrack.tracking import HungarianTracker
    from arttrack.tracking import hungarian_baseline

    rng = np.random.default_rng(0)
    clip = syn.generate_clip(5, 25, syn.SyntheticConfig(width=320, height=240, num_people=(2, 4),
                                                        joint_set="coco17"))
    frames = _gt_people(clip)
    for a in frames:  # noise and dropped joints
        a[..., :2] += rng.normal(0, 3, a[..., :2].shape)
        a[rng.random(a.shape[:2]) < 0.2] = np.nan
    fids = [0, 1, 2, 4, 5] + list(range(9, 9 + len(frames) - 5))
    ref = hungarian_baseline(frames, max_gap=2, frame_ids=fids)
    s = HungarianTracker(J, max_gap=2)
    for a, f, r in zip(frames, fids, ref):
        np.testing.assert_array_equal(s.step(f, a), r)


def test_demo_flow_with_a_stand_in_model(env, monkeypatch, capsys):
    """--demo end to end with the tiny model standing in for the shipped one: clip + ground
    truth written first, tracked, PoseTrack numbers printed."""
    import shutil

    from arttrack import multiperson
    from arttrack.video import demo

    d = env["root"] / "fake_demo"
    d.mkdir(exist_ok=True)
    shutil.copy(env["ckpt"], d / demo.DEMO_CKPT)
    shutil.copy(env["spatial"], d / "spatial.npz")
    shutil.copy(env["ckpt"].parent / "pairwise_stats.npz", d / "pairwise_stats.npz")
    for name in ("model.json", "temporal.npz"):  # model.json names the files
        shutil.copy(demo.demo_dir() / name, d / name)
    monkeypatch.setattr(demo, "demo_dir", lambda: d)
    out = env["root"] / "out_demo"
    rc = multiperson.main(["--demo", "--out-dir", str(out), "--no-video", "--max-frames", "8"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "demo PoseTrack" in cap.out and "MOTA" in cap.out and "AP" in cap.out
    names = _listing(out)
    # the clip, its ground truth and the clip's output folder
    mp4 = [n for n in names if n.endswith(".mp4")]
    assert len(mp4) == 1 and any(n.endswith("_gt_posetrack.json") for n in names)
    stem = mp4[0][:-len(".mp4")]
    assert stem in names and len(read_canonical(out / stem / f"{stem}.json")["frames"]) == 8
    # the README's command works when run twice: a rerun replaces the demo's own outputs
    # and says which
    rc = multiperson.main(["--demo", "--out-dir", str(out), "--no-video", "--max-frames", "8"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    line = [ln for ln in cap.out.splitlines() if "replaced the earlier run's" in ln]
    assert len(line) == 1 and "_gt_posetrack.json" in line[0] and f" {stem}" in line[0]
    assert _listing(out) == names


def _script(name: str = "eval_demo_model"):
    """scripts/<name>.py as a module (scripts/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_eval_demo_model_script(env, tmp_path, capsys):
    """scripts/eval_demo_model.py with the tiny model: one table row per tracker, JSON with
    the PoseTrack totals of each (the numbers are those of arttrack.eval.posetrack)."""
    import json

    script = _script()
    out = tmp_path / "r.json"
    old = os.getcwd()
    try:
        rc = script.main(["--clips", "1", "--frames", "4", "--ckpt", str(env["ckpt"]),
                          "--spatial", str(env["spatial"]), "--json-out", str(out), "--diagnose",
                          "--set", "min_joints=2"])
    finally:
        os.chdir(old)
    assert rc == 0
    text = capsys.readouterr().out
    assert "st " in text and "hungarian " in text and "min_joints=2" in text
    doc = json.loads(out.read_text())
    res = doc["results"]
    for tracker in ("st", "hungarian"):
        r = res[tracker]
        assert set(r) >= {"ap", "mota", "precision", "recall", "switches", "frames_per_s"}
        assert len(r["per_joint_ap"]) == 15 and r["frames_per_s"] > 0
    # the diagnosis covers every labelled joint of the clip (the same clip, regenerated)
    from arttrack.video.demo import demo_clip_config

    clip = syn.generate_clip(np.random.default_rng([9000, 0]), 4, demo_clip_config())
    idx = syn.joint_indices("posetrack17")
    diag = doc["diagnosis"]
    assert len(diag) == 15
    for name, d in diag.items():
        assert sum(d[k] for k in script.OUTCOMES) == pytest.approx(100.0)
        assert 0 <= d["reach"] <= 100 and 0 <= d["hidden"] <= 100
        # correct = the visible share of visible_ok plus the hidden share of hidden_ok
        ok = sum(share / 100 * d[k] for share, k in ((d["hidden"], "hidden_ok"),
                                                     (100 - d["hidden"], "visible_ok"))
                 if d[k] is not None)
        assert ok == pytest.approx(d["correct"])
    n_gt = {name: 0 for name in diag}
    from arttrack.eval.posetrack import POSETRACK18_NAMES

    for people in clip.people:
        for p in people:
            pts = p.points[idx].copy()
            pts[[3, 4]] = 0  # the ears, never annotated
            if (pts[:, 2] == 2).any():  # annotated: some joint visible
                for k, name in enumerate(POSETRACK18_NAMES):
                    if name in n_gt and pts[k, 2] > 0:
                        n_gt[name] += 1
    assert {name: d["n"] for name, d in diag.items()} == n_gt
    with pytest.raises(SystemExit):
        script.main(["--set", "nms=3"])
    assert "nms_radius" in capsys.readouterr().err


def test_eval_demo_model_outcome():
    """Hand cases for the diagnosis of one labelled joint (reach 5 px)."""
    from arttrack.eval.posetrack import Person

    script = _script()
    kp = np.full((17, 2), np.nan)
    present = np.zeros(17, bool)

    def person(**joints):
        k, pr = kp.copy(), present.copy()
        for j, xy in joints.items():
            k[int(j[1:])], pr[int(j[1:])] = xy, True
        return Person(1, k, pr, np.ones(17))

    gt = np.array([100.0, 50.0])
    lw, rw = 9, 10  # left / right wrist
    assert script.outcome(gt, None, lw, rw, 5.0) == "no_person"
    assert script.outcome(gt, person(j10=(100, 50)), lw, rw, 5.0) == "missing"
    assert script.outcome(gt, person(j9=(104, 53)), lw, rw, 5.0) == "correct"  # 5 px: within
    assert script.outcome(gt, person(j9=(120, 50), j10=(101, 50)), lw, rw, 5.0) == "swapped"
    assert script.outcome(gt, person(j9=(108, 50), j10=(120, 50)), lw, rw, 5.0) == "near"
    assert script.outcome(gt, person(j9=(110.5, 50)), lw, rw, 5.0) == "misplaced"
    assert script.outcome(gt, person(j0=(120, 50)), 0, 0, 5.0) == "misplaced"  # nose: no twin


def test_exporters_map_other_joint_sets_by_name():
    """A PoseTrack-15 model's JSON: COCO results hold 17 COCO keypoints (head_bottom and
    head_top dropped, eyes and ears 0, 0, 0), PoseTrack's 17 hold all 15 (ears 0)."""
    from arttrack.io.exporters import to_coco_results, to_posetrack
    from arttrack.joints import COCO17, POSETRACK15

    kps = [[10.0 * j, 5.0 * j + 1] for j in range(15)]
    data = {"meta": {"video": "v", "keypoint_names": list(POSETRACK15.names)},
            "frames": [{"frame_id": 0, "instances": [
                {"track_id": 3, "keypoints": kps, "keypoint_scores": [0.9] * 14 + [0.1]}]}]}
    (res,) = to_coco_results(data, kpt_thr=0.5, image_id_offset=7)
    kp = np.array(res["keypoints"]).reshape(17, 3)
    assert res["image_id"] == 7 and res["track_id"] == 3
    for c, name in enumerate(COCO17.names):
        if name in POSETRACK15.names and name != "right_ankle":  # right_ankle scores 0.1
            j = POSETRACK15.index(name)
            assert kp[c].tolist() == [kps[j][0], kps[j][1], 1], name
        else:
            assert kp[c].tolist() == [0, 0, 0], name
    pt = to_posetrack(data)["annotations"][0]
    names = to_posetrack(data)["categories"][0]["keypoints"]
    k17 = np.array(pt["keypoints"]).reshape(17, 3)
    for j, name in enumerate(POSETRACK15.names):
        assert k17[names.index(name), :2].tolist() == kps[j]
    assert k17[names.index("left_ear")].tolist() == [0, 0, 0]
    data["meta"]["keypoint_names"] = [f"joint{j}" for j in range(15)]
    with pytest.raises(ValueError, match="share none with COCO"):
        to_coco_results(data)


def test_shipped_demo_model(tmp_path, capsys):
    """The demo model inside the package: its files are there (the checkpoint at most 25 MB),
    its embedded config is configs/synthetic_demo.yaml's architecture and decoding settings,
    and it tracks held-out clips (seed 9000, which training never saw) about as well as the
    README says: 2 clips of 12 frames score AP 78.2 / MOTA 64.8 here; a broken or stale
    asset scores near 0."""
    import json

    from arttrack.config import load_config
    from arttrack.models.checkpoint import ARCHITECTURE_KEYS, load_checkpoint
    from arttrack.video import demo

    d = demo.demo_dir()
    for name in (demo.DEMO_CKPT, "spatial.npz", "pairwise_stats.npz", "temporal.npz", "model.json"):
        assert (d / name).is_file(), f"{d / name} missing from the package"
    assert (d / demo.DEMO_CKPT).stat().st_size <= 25 * 2 ** 20
    embedded = load_checkpoint(d / demo.DEMO_CKPT).config
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "synthetic_demo.yaml")
    # the decoding keys that scripts/train_demo_model.py copies from the YAML into the checkpoint
    for key in ARCHITECTURE_KEYS + _script("train_demo_model").INFERENCE_KEYS + ("stride",):
        assert getattr(embedded, key) == getattr(config, key), key

    out = tmp_path / "r.json"
    old = os.getcwd()
    try:
        rc = _script().main(["--clips", "2", "--frames", "12", "--trackers", "st",
                             "--json-out", str(out)])
    finally:
        os.chdir(old)
    assert rc == 0, capsys.readouterr().err
    r = json.loads(out.read_text())["results"]["st"]
    assert r["ap"] >= 65 and r["mota"] >= 50, r


# ----------------------------------------------------------------------------- --model
def test_default_model_not_fetched_names_the_command(env, monkeypatch, tmp_path, capsys):
    from arttrack import multiperson

    monkeypatch.setenv("ARTTRACK_HOME", str(tmp_path / "cache"))
    out = tmp_path / "o"
    for extra in ([], ["--model", "deepercut-coco-resnet101"]):
        rc = multiperson.main([str(env["video"]), "--out-dir", str(out), *extra])
        msg = _one_line_error(rc, capsys.readouterr().err)
        assert "python -m arttrack.models fetch deepercut-coco-resnet101" in msg
        assert "not installed" in msg and "download" in msg
    assert not out.exists()
    rc = multiperson.main([str(env["video"]), "--out-dir", str(out), "--model", "no-such-model"])
    assert "'no-such-model' is neither a model name" in _one_line_error(rc, capsys.readouterr().err)


def _model_folder(root: Path, env, **doc) -> Path:
    import json
    import shutil

    d = root / "folder_model"
    d.mkdir(exist_ok=True)
    shutil.copy(env["ckpt"], d / "net.ckpt")
    shutil.copy(env["spatial"], d / "spatial.npz")
    shutil.copy(env["ckpt"].parent / "pairwise_stats.npz", d / "stats.npz")
    meta = {"name": "tiny", "format": 1, "task": "multi-person", "joint_set": "coco17",
            "sources": [], "licence": "test", "citation": "", "checkpoint": "net.ckpt",
            "spatial_model": "spatial.npz", "pairwise_stats": "stats.npz"}
    meta.update(doc)
    (d / "model.json").write_text(json.dumps(meta))
    return d


def test_model_folder_runs_and_single_person_is_refused(env, tmp_path, capsys):
    from arttrack import multiperson

    d = _model_folder(tmp_path, env)
    out = tmp_path / "o"
    rc = multiperson.main([str(env["video"]), "--model", str(d), "--out-dir", str(out),
                           "--no-video", "--max-frames", "3", "--mode", "pynative"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "warning" not in cap.err  # a COCO-trained stand-in: no synthetic warning
    data = read_canonical(out / "clip" / "clip.json")
    assert data["meta"]["backend"] == "onnxruntime"  # --backend auto on the CPU
    assert len(data["frames"]) == 3 and data["meta"]["model"]["name"] == "tiny"
    assert data["meta"]["model"]["checkpoint"] == str(d / "net.ckpt")

    (tmp_path / "s").mkdir()
    single = _model_folder(tmp_path / "s", env, task="single-person", spatial_model=None)
    rc = multiperson.main([str(env["video"]), "--model", str(single), "--out-dir", str(tmp_path / "o2")])
    msg = _one_line_error(rc, capsys.readouterr().err)
    assert "single-person" in msg and "pairwise head" in msg and "deepercut-coco-resnet101" in msg
    assert not (tmp_path / "o2").exists()
    (d / "spatial.npz").unlink()
    rc = multiperson.main([str(env["video"]), "--model", str(d), "--out-dir", str(tmp_path / "o3")])
    assert "incomplete: spatial.npz is missing" in _one_line_error(rc, capsys.readouterr().err)
    rc = multiperson.main([str(env["video"]), "--model", str(tmp_path), "--out-dir", str(tmp_path / "o3")])
    assert "not an arttrack model folder" in _one_line_error(rc, capsys.readouterr().err)


def test_synthetic_model_on_real_video_warns_once(env, tmp_path, capsys):
    """The shipped demo model (trained on synthetic figures) on a video that is not the demo
    clip: it runs, and one warning line says its output on real footage is meaningless."""
    from arttrack import multiperson
    from arttrack.video.demo import demo_dir

    out = tmp_path / "o"
    rc = multiperson.main([str(env["video"]), "--model", str(demo_dir()),
                           "--out-dir", str(out), "--no-video", "--max-frames", "2",
                           "--mode", "pynative"])
    err = capsys.readouterr().err
    assert rc == 0, err
    warn = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(warn) == 1 and "synthetic figures only" in warn[0] and "meaningless" in warn[0]


def test_network_stage_workers_keep_the_frame_order():
    """With several workers the batches come back in the order of the frames, whole, the
    last one short; a worker's error reaches the caller; the busy time is summed."""
    import threading
    import time as _time

    from arttrack.video.pipeline import NetworkStage

    class SlowNet:  # stands in for a Predictor: maps = the frames' first pixel values
        def __init__(self):
            self.active, self.most = 0, 0
            self.lock = threading.Lock()

        def maps(self, imgs):
            with self.lock:
                self.active += 1
                self.most = max(self.most, self.active)
            _time.sleep(0.02 * (1 + int(imgs[0][0, 0, 0]) % 3))  # batches finish out of order
            with self.lock:
                self.active -= 1
            return [int(im[0, 0, 0]) for im in imgs]

    frames = [(i, np.full((2, 2, 3), i, np.uint8)) for i in range(11)]
    net, timer = SlowNet(), {"network": 0.0}
    batches = list(NetworkStage(net, 3, 1.0, timer, workers=3)(iter(frames)))
    assert [[fi for fi, _ in b.frames] for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    assert [b.maps for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    assert net.most > 1 and timer["network"] > 0  # the calls overlapped
    seq = list(NetworkStage(SlowNet(), 3, 1.0, {"network": 0.0}, workers=1)(iter(frames)))
    assert [b.maps for b in seq] == [b.maps for b in batches]

    class Broken(SlowNet):
        def maps(self, imgs):
            if int(imgs[0][0, 0, 0]) == 6:
                raise RuntimeError("the network failed")
            return super().maps(imgs)

    with pytest.raises(RuntimeError, match="the network failed"):
        list(NetworkStage(Broken(), 3, 1.0, {"network": 0.0}, workers=2)(iter(frames)))
