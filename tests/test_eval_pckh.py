"""MPII PCKh: against an independent loop reference, hand cases, the .mat reader, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from arttrack.eval import EvalError
from arttrack.eval.pckh import (
    compute_bbox_pck,
    compute_pckh,
    load_gt_json,
    load_mpii_mat,
    pckh_curve,
)
from arttrack.joints import MPII14, MPII14_FROM_MPII16


# ---- independent reference (plain loops) -----------------------------------------------
def reference_pckh(pred, gt, vis, hb, thr):
    n, j = vis.shape
    per_joint = []
    tot_c = tot_v = 0
    for k in range(j):
        c = v = 0
        for i in range(n):
            if not vis[i][k]:
                continue
            head = 0.6 * math.sqrt((hb[i][2] - hb[i][0]) ** 2 + (hb[i][3] - hb[i][1]) ** 2)
            dx, dy = pred[i][k][0] - gt[i][k][0], pred[i][k][1] - gt[i][k][1]
            err = math.sqrt(dx * dx + dy * dy)
            v += 1
            if err / head <= thr:
                c += 1
        per_joint.append(100.0 * c / v if v else float("nan"))
        tot_c += c
        tot_v += v
    return per_joint, 100.0 * tot_c / tot_v


def _random_case(seed=0, n=25):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 500, size=(n, 14, 2))
    x1 = rng.uniform(0, 400, n)
    y1 = rng.uniform(0, 400, n)
    hb = np.stack([x1, y1, x1 + rng.uniform(20, 60, n), y1 + rng.uniform(20, 60, n)], axis=1)
    pred = gt + rng.normal(scale=12.0, size=gt.shape)
    vis = rng.uniform(size=(n, 14)) > 0.2
    return pred, gt, vis, hb


def test_matches_loop_reference():
    pred, gt, vis, hb = _random_case()
    for thr in (0.1, 0.3, 0.5):
        res = compute_pckh(pred, gt, vis, hb, thr=thr)
        ref_pj, ref_tot = reference_pckh(pred, gt, vis, hb, thr)
        np.testing.assert_allclose(res.per_joint, ref_pj)
        assert res.total == pytest.approx(ref_tot)
        names = MPII14.names
        assert res.groups["ankle"] == pytest.approx(
            (ref_pj[names.index("r_ankle")] + ref_pj[names.index("l_ankle")]) / 2)
        # MPII's Head: upper neck (chin) and head top (forehead)
        assert res.groups["head"] == pytest.approx(
            (ref_pj[names.index("chin")] + ref_pj[names.index("forehead")]) / 2)
        # MPII's UBody: pooled over the wrists, elbows and shoulders (joints 7..12 of its 14)
        ub = [names.index(f"{s}_{u}") for u in ("wrist", "elbow", "shoulder") for s in "rl"]
        assert sorted(ub) == list(range(6, 12))
        _, ref_ub = reference_pckh(pred[:, ub], gt[:, ub], vis[:, ub], hb, thr)
        assert res.groups["ubody"] == pytest.approx(ref_ub)
    # curve and AUC against the reference: MPII's area_under_curve(scale01(range), total),
    # the trapezoid rule on thresholds scaled to [0, 1]
    curve = pckh_curve(pred, gt, vis, hb)
    assert len(curve.thresholds) == 51 and curve.thresholds[0] == 0 and curve.thresholds[-1] == 0.5
    ref_curve = [reference_pckh(pred, gt, vis, hb, t)[1] for t in np.arange(51) * 0.01]
    np.testing.assert_allclose(curve.total, ref_curve)
    trapezoids = sum((ref_curve[k] + ref_curve[k + 1]) / 2 * (1 / 50) for k in range(50))
    assert curve.auc == pytest.approx(trapezoids)
    assert compute_pckh(pred, gt, vis, hb).auc == pytest.approx(curve.auc)


def _one_person(offsets, vis=None):
    """Head box 30 x 40 (diagonal 50, head size 30); joint k displaced by offsets[k] in x."""
    gt = np.zeros((1, 14, 2)) + 100.0
    pred = gt.copy()
    pred[0, :, 0] += np.asarray(offsets, dtype=float)
    hb = np.array([[0.0, 0.0, 30.0, 40.0]])
    v = np.ones((1, 14), bool) if vis is None else np.asarray(vis, bool)[None]
    return pred, gt, v, hb


def test_exact_threshold_counts():
    # head size = 0.6 * 50 = 30; threshold 0.5 -> 15 px
    offs = [15.0] + [15.01] + [0.0] * 12
    res = compute_pckh(*_one_person(offs))
    assert res.per_joint[0] == 100.0  # exactly on the threshold: correct
    assert res.per_joint[1] == 0.0  # just beyond: wrong
    assert res.total == pytest.approx(100.0 * 13 / 14)


def test_invisible_joints_ignored_and_missing_predictions_wrong():
    vis = [False] * 14
    vis[13] = True  # only the forehead counts
    pred, gt, v, hb = _one_person([0.0] * 13 + [0.0], vis)
    pred[0, :13] += 1000.0  # invisible joints: far off, must not matter
    res = compute_pckh(pred, gt, v, hb)
    assert res.total == 100.0
    assert np.isnan(res.per_joint[0]) and res.num_visible.sum() == 1
    # MPII's group means are plain: head = (chin + forehead) / 2 is NaN without a chin
    assert np.isnan(res.groups["ankle"]) and np.isnan(res.groups["head"])
    assert res.per_joint[MPII14.index("forehead")] == 100.0
    pred[0, 13] = np.nan  # a visible joint without a prediction is an error
    assert compute_pckh(pred, gt, v, hb).total == 0.0


def test_group_means_and_pooled_total():
    # two people; r_ankle correct in both, l_ankle correct in one, l_ankle invisible in person 2
    gt = np.full((2, 14, 2), 50.0)
    pred = gt.copy()
    hb = np.array([[0, 0, 30, 40], [0, 0, 30, 40]], float)
    vis = np.ones((2, 14), bool)
    la = MPII14.index("l_ankle")
    pred[0, la, 0] += 20  # wrong (> 15)
    vis[1, la] = False
    res = compute_pckh(pred, gt, vis, hb)
    assert res.per_joint[MPII14.index("r_ankle")] == 100.0
    assert res.per_joint[la] == 0.0
    assert res.groups["ankle"] == 50.0  # mean of the two joints' percentages
    assert res.total == pytest.approx(100.0 * 26 / 27)  # pooled: 27 visible, 26 correct
    # MPII's table: Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle, UBody (then Total)
    assert list(res.groups) == ["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "ubody"]
    assert res.groups["ubody"] == 100.0 and res.groups["head"] == 100.0


def test_upper_body_is_pooled_not_averaged():
    """UBody: correct / annotated over the six arm joints together (computePCK's column)."""
    gt = np.full((2, 14, 2), 50.0)
    pred = gt.copy()
    hb = np.array([[0, 0, 30, 40], [0, 0, 30, 40]], float)
    vis = np.ones((2, 14), bool)
    rw, lw = MPII14.index("r_wrist"), MPII14.index("l_wrist")
    pred[:, rw, 0] += 20  # r_wrist wrong in both people: 0 %
    vis[1, [lw, MPII14.index("r_elbow"), MPII14.index("l_elbow"), MPII14.index("r_shoulder"),
            MPII14.index("l_shoulder")]] = False  # person 2: only its (wrong) r_wrist counts
    res = compute_pckh(pred, gt, vis, hb)
    # 7 arm joints annotated, 5 correct: 71.4 (the mean of the wrist/elbow/shoulder groups: 83.3)
    assert res.groups["ubody"] == pytest.approx(100 * 5 / 7)
    assert res.groups["wrist"] == 50.0 and res.groups["elbow"] == 100.0


def test_auc_hand_computed():
    vis = [False] * 14
    vis[0] = True
    # normalised error 7.5 / 30 = 0.25: correct at thresholds 0.25 .. 0.50 (26 of 51).
    # MPII: area under the linear interpolation over thresholds scaled to [0, 1]: the curve
    # is 0 up to x = 0.48, climbs to 100 at x = 0.5, stays 100 to x = 1: 100 * (0.5 + 0.01)
    # = 51.0 (the mean of the 51 values would be 50.98)
    res = compute_pckh(*_one_person([7.5] + [0.0] * 13, vis))
    assert res.auc == pytest.approx(51.0)
    curve = pckh_curve(*_one_person([7.5] + [0.0] * 13, vis))
    assert curve.total[24] == 0.0 and curve.total[25] == 100.0 and curve.auc == pytest.approx(51.0)
    # any thresholds: scaled to [0, 1] first; one threshold: no area
    assert pckh_curve(*_one_person([7.5] + [0.0] * 13, vis), thresholds=[0.2, 0.3]).auc == pytest.approx(50.0)
    assert np.isnan(pckh_curve(*_one_person([7.5] + [0.0] * 13, vis), thresholds=[0.5]).auc)


def test_bbox_pck_hand_case():
    gt = np.zeros((1, 14, 2))
    gt[0, :, 0] = np.linspace(0, 100, 14)  # box 100 x 20
    gt[0, :, 1] = np.linspace(0, 20, 14)
    pred = gt.copy()
    pred[0, 0, 0] += 20.0  # == 0.2 * 100 -> correct
    pred[0, 1, 1] += 20.5  # wrong
    res = compute_bbox_pck(pred, gt, np.ones((1, 14), bool))
    assert res.normalisation == "bbox"
    assert res.per_joint[0] == 100.0 and res.per_joint[1] == 0.0
    assert res.total == pytest.approx(100.0 * 13 / 14)


def test_shape_errors():
    pred, gt, v, hb = _one_person([0.0] * 14)
    with pytest.raises(EvalError):
        compute_pckh(pred[:, :5], gt, v, hb)
    with pytest.raises(EvalError):
        compute_pckh(pred, gt, v, hb[:, :2])


# ---- the official .mat structure ----------------------------------------------------------
EMPTY = np.zeros((0, 0))


def _struct_array(items, fields):
    arr = np.zeros((1, len(items)), dtype=[(f, object) for f in fields])
    for i, it in enumerate(items):
        for f in fields:
            arr[0, i][f] = it.get(f, EMPTY)
    return arr


def _points(pts):
    """pts: list of (mpii id, x, y, is_visible) -> struct array (or one struct if single)."""
    items = [{"id": pid, "x": x, "y": y, "is_visible": iv} for pid, x, y, iv in pts]
    if len(items) == 1:
        return items[0]  # savemat writes a 1x1 struct -> a scalar after squeeze_me
    return _struct_array(items, ["x", "y", "id", "is_visible"])


def _write_release(path):
    full = [(m, 10.0 + m, 20.0 + 2 * m, 1) for m in range(16)]
    full[3] = (3, 13.0, 26.0, "0")  # is_visible as a string
    full[9] = (9, 19.0, 38.0, EMPTY)  # is_visible empty
    rect_fields = ["x1", "y1", "x2", "y2", "annopoints", "scale", "objpos"]
    # image 0: two people, the second without annopoints
    r0 = _struct_array([
        {"x1": 5.0, "y1": 6.0, "x2": 35.0, "y2": 46.0, "annopoints": {"point": _points(full)},
         "scale": 1.5, "objpos": {"x": 50.0, "y": 60.0}},
        {"x1": 1.0, "y1": 1.0, "x2": 11.0, "y2": 11.0, "annopoints": EMPTY, "scale": 1.0,
         "objpos": {"x": 5.0, "y": 5.0}},
    ], rect_fields)
    # image 1: a single annorect (scalar struct quirk) with a single point
    r1 = {"x1": 0.0, "y1": 0.0, "x2": 30.0, "y2": 40.0, "annopoints": {"point": _points([(9, 7.0, 8.0, 1)])},
          "scale": 1.0, "objpos": {"x": 1.0, "y": 1.0}}
    # image 2: a test image (no head box, no joints)
    r2 = {"scale": 2.0, "objpos": {"x": 3.0, "y": 4.0}}
    # image 3: no people at all
    annolist = _struct_array([
        {"image": {"name": "a.jpg"}, "annorect": r0, "frame_sec": EMPTY, "vididx": EMPTY},
        {"image": {"name": "b.jpg"}, "annorect": r1, "frame_sec": 5.0, "vididx": 3.0},
        {"image": {"name": "c.jpg"}, "annorect": r2, "frame_sec": EMPTY, "vididx": EMPTY},
        {"image": {"name": "d.jpg"}, "annorect": EMPTY, "frame_sec": EMPTY, "vididx": EMPTY},
    ], ["image", "annorect", "frame_sec", "vididx"])
    single = np.zeros((4, 1), dtype=object)  # single_person: 1-based rect indices per image
    single[0, 0], single[1, 0], single[2, 0], single[3, 0] = np.array([[1]]), 1, EMPTY, EMPTY
    release = {"annolist": annolist, "img_train": np.array([[1, 0, 0, 1]], dtype=np.uint8),
               "version": "12", "single_person": single, "act": EMPTY, "video_list": EMPTY}
    scipy.io.savemat(str(path), {"RELEASE": release})


def test_mat_parsing(tmp_path):
    p = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    _write_release(p)
    gt = load_mpii_mat(p)
    assert gt.images == ["a.jpg", "b.jpg"]
    assert gt.persons == [0, 0]
    # the .mat is 1-based (MATLAB); the loader returns 0-based coordinates
    np.testing.assert_allclose(gt.headbox, [[4, 5, 34, 45], [-1, -1, 29, 39]])
    # person 0: every joint annotated, mapped 16 -> 14
    for k, m in enumerate(MPII14_FROM_MPII16):
        np.testing.assert_allclose(gt.joints[0, k], [9.0 + m, 19.0 + 2 * m])
    assert gt.visible[0].all()
    # person 1: only MPII id 9 (head top) -> forehead
    assert gt.visible[1].tolist() == [k == MPII14.index("forehead") for k in range(14)]
    np.testing.assert_allclose(gt.joints[1, MPII14.index("forehead")], [6, 7])
    # is_visible only matters with visible_only: "0" -> not visible, empty -> visible
    gv = load_mpii_mat(p, visible_only=True)
    assert not gv.visible[0, MPII14.index("l_hip")]  # MPII id 3, is_visible "0"
    assert gv.visible[0, MPII14.index("forehead")]  # MPII id 9, is_visible empty
    assert gv.visible[0].sum() == 13
    # splits and image lists
    assert load_mpii_mat(p, split="train").images == ["a.jpg"]
    assert load_mpii_mat(p, split="test").images == ["b.jpg"]
    assert load_mpii_mat(p, images=["b.jpg"]).images == ["b.jpg"]


def test_mat_test_split_is_mpii_single_person_subset(tmp_path):
    """MPII's evaluatePCKh.m: test images (img_train == 0), and of them only the people
    listed in RELEASE.single_person that have an objpos (flatten_annolist)."""
    pt = {"point": _points([(9, 7.0, 8.0, 1), (8, 7.0, 20.0, 1)])}
    rect_fields = ["x1", "y1", "x2", "y2", "annopoints", "scale", "objpos"]
    box = {"x1": 0.0, "y1": 0.0, "x2": 30.0, "y2": 40.0, "annopoints": pt, "scale": 1.0}
    rects = _struct_array([{**box, "objpos": {"x": 1.0, "y": 1.0}},  # single: kept
                           {**box, "objpos": {"x": 2.0, "y": 2.0}},  # not in single_person
                           {**box}], rect_fields)  # in single_person, no objpos: dropped
    annolist = _struct_array([
        {"image": {"name": "t.jpg"}, "annorect": rects},
        {"image": {"name": "tr.jpg"}, "annorect": _struct_array([{**box, "objpos": {"x": 1.0, "y": 1.0}}],
                                                                rect_fields)},
    ], ["image", "annorect"])
    single = np.zeros((2, 1), dtype=object)
    single[0, 0], single[1, 0] = np.array([[1], [3]]), EMPTY
    p = tmp_path / "rel.mat"
    scipy.io.savemat(str(p), {"RELEASE": {"annolist": annolist, "img_train": np.array([[0, 1]]),
                                          "single_person": single}})
    test = load_mpii_mat(p, split="test")
    assert test.images == ["t.jpg"] and test.persons == [0]
    # every annotated person on request, and by default for the other splits
    assert load_mpii_mat(p, split="test", single_person=False).persons == [0, 1, 2]
    assert load_mpii_mat(p, split="all").persons == [0, 1, 2, 0]
    assert load_mpii_mat(p, split="all", single_person=True).persons == [0]
    # through evaluate_files: one person, its head top and upper neck
    (tmp_path / "pred.json").write_text(json.dumps(
        [{"image": "t.jpg", "person": 0, "joints": test.joints[0].tolist()}]))
    from arttrack.eval.pckh import evaluate_files
    res, _, n = evaluate_files(p, tmp_path / "pred.json", split="test")
    assert n == 1 and res.total == 100.0 and res.num_visible.sum() == 2


def test_mat_first_point_of_an_id_counts(tmp_path):
    """MPII's util_get_annopoint_by_id returns the first point with the id."""
    rect_fields = ["x1", "y1", "x2", "y2", "annopoints", "scale", "objpos"]
    pts = _points([(9, 7.0, 8.0, 1), (9, 70.0, 80.0, 1)])
    rects = _struct_array([{"x1": 0.0, "y1": 0.0, "x2": 30.0, "y2": 40.0, "annopoints": {"point": pts},
                            "scale": 1.0, "objpos": {"x": 1.0, "y": 1.0}}], rect_fields)
    annolist = _struct_array([{"image": {"name": "a.jpg"}, "annorect": rects}], ["image", "annorect"])
    p = tmp_path / "dup.mat"
    scipy.io.savemat(str(p), {"RELEASE": {"annolist": annolist, "img_train": np.array([[1]])}})
    gt = load_mpii_mat(p)
    np.testing.assert_allclose(gt.joints[0, MPII14.index("forehead")], [6.0, 7.0])  # 1-based -> 0-based


def test_mat_predictions_end_to_end(tmp_path):
    gt_p = tmp_path / "gt.mat"
    _write_release(gt_p)
    gt = load_mpii_mat(gt_p)
    pred = np.concatenate([gt.joints, np.ones((2, 14, 1))], axis=2)
    pred = np.nan_to_num(pred)
    pred[0, 0, 0] += 100.0  # r_ankle of person 0 wrong
    pred_p = tmp_path / "pred.mat"
    scipy.io.savemat(str(pred_p), {"joints": pred})
    out = tmp_path / "res.json"
    r = subprocess.run([sys.executable, "-m", "arttrack.eval", "pckh", "--gt", str(gt_p),
                        "--pred", str(pred_p), "--json-out", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "PCKh" in r.stdout and "bbox" in r.stdout.lower()
    res = json.loads(out.read_text())
    assert set(res) >= {"per_joint", "groups", "total", "auc"}
    assert res["per_joint"]["r_ankle"] == 0.0 and res["per_joint"]["l_ankle"] == 100.0
    assert res["groups"]["ankle"] == 50.0
    assert res["total"] == pytest.approx(100.0 * 14 / 15)
    assert "Head" in r.stdout and "Ubody" in r.stdout


def test_json_gt_and_keyed_predictions(tmp_path):
    recs = [
        {"image": "x.jpg", "person": 0, "joints": [[10.0 * k, 5.0] for k in range(16)],
         "joints_vis": [1] * 16, "headbox": [0, 0, 30, 40]},
        {"image": "x.jpg", "person": 1, "joints": [[10.0 * k, 50.0] for k in range(14)],
         "joints_vis": [1] * 13 + [0], "headbox": [0, 0, 30, 40]},
    ]
    (tmp_path / "gt.json").write_text(json.dumps(recs))
    gt = load_gt_json(tmp_path / "gt.json")
    assert gt.joints.shape == (2, 14, 2) and gt.visible.sum() == 27
    np.testing.assert_allclose(gt.joints[0, 6], [100.0, 5.0])  # r_wrist = MPII id 10
    # predictions in the reverse order, keyed by person; a null joint is missing
    p1 = gt.joints[1].tolist()
    p0 = gt.joints[0].tolist()
    p0[0] = None
    preds = [{"image": "x.jpg", "person": 1, "joints": p1}, {"image": "x.jpg", "person": 0, "joints": p0}]
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    from arttrack.eval.pckh import evaluate_files
    res, bres, n = evaluate_files(tmp_path / "gt.json", tmp_path / "pred.json")
    assert n == 2
    assert res.total == pytest.approx(100.0 * 26 / 27)
    assert bres.total == pytest.approx(100.0 * 26 / 27)


@pytest.mark.parametrize("content", [None, "{not json", "[{\"image\": \"a\"}]"])
def test_cli_bad_input(tmp_path, content):
    gt = tmp_path / "gt.json"
    if content is not None:
        gt.write_text(content)
    r = subprocess.run([sys.executable, "-m", "arttrack.eval", "pckh", "--gt", str(gt),
                        "--pred", str(tmp_path / "pred.json")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "error" in r.stderr


def test_cli_help():
    for sub in ([], ["pckh"], ["coco"], ["posetrack"]):
        r = subprocess.run([sys.executable, "-m", "arttrack.eval", *sub, "--help"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "usage" in r.stdout
