"""PoseTrack evaluation: perfect scores, hand cases (switch, miss, false positive),
canonical per-video input, the real PoseTrack 2018 sample files, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from arttrack.eval import EvalError
from arttrack.eval.posetrack import EVAL_NAMES, POSETRACK18_NAMES, evaluate_posetrack

SHARED = Path(__file__).resolve().parents[1].parent / "shared"  # <repo>/../shared
SAMPLES = SHARED / "data" / "samples" / "posetrack18" / "annotations"
EARS = [POSETRACK18_NAMES.index("left_ear"), POSETRACK18_NAMES.index("right_ear")]


def _body(x0, y0, annotated=None):
    """(17, 3) keypoints of a person at (x0, y0); ears never annotated (as in PoseTrack)."""
    kp = np.zeros((17, 3))
    kp[:, 0] = x0 + 10.0 * np.arange(17)
    kp[:, 1] = y0 + 7.0 * np.arange(17)
    kp[:, 2] = 1
    if annotated is not None:
        kp[[j for j in range(17) if j not in annotated], 2] = 0
    kp[EARS] = 0
    kp[kp[:, 2] == 0, :2] = 0
    return kp


def _posetrack_json(video, frames, vid_id="000001", scores=False):
    """frames: list (frame index order) of lists of (track_id, (17, 3) keypoints)."""
    images, anns = [], []
    for fi, people in enumerate(frames):
        iid = int(f"1{vid_id}{fi:04d}")
        images.append({"id": iid, "file_name": f"images/val/{video}/{fi:06d}.jpg", "vid_id": vid_id,
                       "frame_id": iid, "nframes": len(frames), "is_labeled": True,
                       "ignore_regions_x": [], "ignore_regions_y": []})
        for k, (tid, kp) in enumerate(people):
            ann = {"id": iid * 100 + k, "image_id": iid, "track_id": tid, "category_id": 1,
                   "keypoints": np.asarray(kp).reshape(-1).tolist(),
                   "bbox_head": [float(kp[2, 0]) - 5, float(kp[2, 1]) - 5, 30.0, 40.0],
                   "scores": []}
            if scores:
                ann["scores"] = [1.0 if v > 0 else 0.0 for v in np.asarray(kp)[:, 2]]
            anns.append(ann)
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(POSETRACK18_NAMES)}]}


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def _eval(tmp_path, gt, pred, **kw):
    return evaluate_posetrack(_write(tmp_path / "gt.json", gt), _write(tmp_path / "pred.json", pred), **kw)


def _two_people_video(n_frames=3):
    return [[(0, _body(100 + 3 * f, 100)), (1, _body(400, 120 + 2 * f, annotated=set(range(0, 12))))]
            for f in range(n_frames)]


def test_perfect_predictions(tmp_path):
    frames = _two_people_video()
    res = _eval(tmp_path, _posetrack_json("000001_mpii_test", frames),
                _posetrack_json("000001_mpii_test", frames, scores=True))
    assert len(EVAL_NAMES) == 15 and "left_ear" not in EVAL_NAMES
    assert res.total["ap"] == pytest.approx(100.0)
    assert res.total["mota"] == pytest.approx(100.0)
    assert res.total["motp"] == pytest.approx(100.0)
    assert res.total["precision"] == 100.0 and res.total["recall"] == 100.0
    assert res.total["switches"] == 0
    # annotated joints: person 0 has 15, person 1 has joints 0..11 minus the ears = 10; 3 frames
    assert res.total["objects"] == 3 * (15 + 10)
    for g in ("head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        assert res.groups[g]["ap"] == pytest.approx(100.0) and res.groups[g]["mota"] == pytest.approx(100.0)


def test_one_identity_switch(tmp_path):
    nose = {POSETRACK18_NAMES.index("nose")}
    gt = _posetrack_json("v", [[(0, _body(100, 100, annotated=nose))] for _ in range(4)])
    pred = _posetrack_json("v", [[(5 if f < 2 else 7, _body(101, 100, annotated=nose))] for f in range(4)],
                           scores=True)
    res = _eval(tmp_path, gt, pred)
    assert res.total["switches"] == 1
    assert res.total["objects"] == 4
    assert res.total["mota"] == pytest.approx(100.0 * (1 - 1 / 4))
    assert res.total["recall"] == 100.0 and res.total["precision"] == 100.0
    # head size = 0.6 * 50 = 30; each joint is 1 px off -> MOTP = 100 * (1 - 1/30)
    assert res.total["motp"] == pytest.approx(100.0 * (1 - 1 / 30))
    assert res.total["ap"] == pytest.approx(100.0)  # AP ignores identities
    # full bodies: one switch per joint type
    gt = _posetrack_json("v", [[(0, _body(100, 100))] for _ in range(4)])
    pred = _posetrack_json("v", [[(5 if f < 2 else 7, _body(100, 100))] for f in range(4)], scores=True)
    res = _eval(tmp_path, gt, pred)
    assert res.total["switches"] == 15
    assert all(s == 1 for s in res.switches)


def test_missed_person_lowers_recall(tmp_path):
    frames = _two_people_video(2)
    only_first = [[people[0]] for people in frames]
    res = _eval(tmp_path, _posetrack_json("v", frames), _posetrack_json("v", only_first, scores=True))
    # 2 frames x (15 joints of person 0 + 10 of person 1) annotated; person 0's found
    assert res.total["recall"] == pytest.approx(100.0 * 30 / 50)
    assert res.total["precision"] == 100.0
    assert res.total["mota"] == pytest.approx(100.0 * 30 / 50)  # no FP, no switch
    nose = EVAL_NAMES.index("nose")
    ankle = EVAL_NAMES.index("left_ankle")
    assert res.recall[nose] == pytest.approx(50.0) and res.ap[nose] == pytest.approx(50.0)
    assert res.recall[ankle] == pytest.approx(100.0) and res.ap[ankle] == pytest.approx(100.0)


def test_false_positive_ranked_first(tmp_path):
    gt = _posetrack_json("v", [[(0, _body(100, 100))]])
    pred = _posetrack_json("v", [[(0, _body(100, 100)), (1, _body(900, 600))]], scores=True)
    for a in pred["annotations"]:  # the spurious person scores higher
        a["scores"] = [0.95 if (a["track_id"] == 1 and v > 0) else (0.9 if v > 0 else 0.0)
                       for v in a["keypoints"][2::3]]
    res = _eval(tmp_path, gt, pred)
    # ranked: FP (0.95) then TP (0.9): precision at full recall 1/2 -> VOC AP 50
    assert res.total["ap"] == pytest.approx(50.0)
    assert res.total["precision"] == pytest.approx(50.0) and res.total["recall"] == 100.0
    assert res.total["mota"] == pytest.approx(0.0)


def test_track_thr_drops_low_scores_from_tracking_only(tmp_path):
    """A spurious low-scoring person: tracking metrics without it above track_thr, AP the same."""
    gt = _posetrack_json("v", [[(0, _body(100, 100))]])
    pred = _posetrack_json("v", [[(0, _body(100, 100)), (1, _body(900, 600))]], scores=True)
    for a in pred["annotations"]:
        a["scores"] = [(0.2 if a["track_id"] == 1 else 0.9) if v > 0 else 0.0
                       for v in a["keypoints"][2::3]]
    all_joints = _eval(tmp_path, gt, pred)
    assert all_joints.total["precision"] == pytest.approx(50.0)
    assert all_joints.total["mota"] == pytest.approx(0.0)
    res = _eval(tmp_path, gt, pred, track_thr=0.5)
    assert res.total["precision"] == 100.0 and res.total["mota"] == pytest.approx(100.0)
    assert res.total["ap"] == pytest.approx(all_joints.total["ap"]) == pytest.approx(100.0)
    res = _eval(tmp_path, gt, pred, track_thr=0.95)  # nothing left to track
    assert res.total["recall"] == 0.0 and res.total["ap"] == pytest.approx(100.0)
    with pytest.raises(EvalError, match="track_thr"):
        _eval(tmp_path, gt, pred, track_thr=float("nan"))


def test_threshold_is_inclusive(tmp_path):
    gt_kp = _body(100, 100)
    on = gt_kp.copy()
    on[:, 0] += np.where(on[:, 2] > 0, 15.0, 0.0)  # exactly 0.5 * 30
    beyond = gt_kp.copy()
    beyond[:, 0] += np.where(beyond[:, 2] > 0, 15.5, 0.0)
    gt = _posetrack_json("v", [[(0, gt_kp)]])
    assert _eval(tmp_path, gt, _posetrack_json("v", [[(0, on)]], scores=True)).total["recall"] == 100.0
    assert _eval(tmp_path, gt, _posetrack_json("v", [[(0, beyond)]], scores=True)).total["recall"] == 0.0


def test_ignore_regions_remove_predictions(tmp_path):
    gt = _posetrack_json("v", [[(0, _body(100, 100))]])
    gt["images"][0]["ignore_regions_x"] = [[800, 1200, 1200, 800]]
    gt["images"][0]["ignore_regions_y"] = [[500, 500, 900, 900]]
    pred = _posetrack_json("v", [[(0, _body(100, 100)), (1, _body(900, 600))]], scores=True)
    assert _eval(tmp_path, gt, pred).total["precision"] == 100.0
    assert _eval(tmp_path, gt, pred, use_ignore_regions=False).total["precision"] == pytest.approx(50.0)


def _canonical(frames, video):
    out = {"meta": {"video": video}, "frames": []}
    for fi, people in enumerate(frames):
        inst = []
        for tid, kp in people:
            kp = np.asarray(kp)
            inst.append({"track_id": tid,
                         "keypoints": [[float(x), float(y)] if v > 0 else None for x, y, v in kp],
                         "keypoint_scores": [0.9 if v > 0 else None for v in kp[:, 2]],
                         "bbox": [0, 0, 1, 1], "score": 0.9})
        out["frames"].append({"frame_id": fi, "instances": inst})
    return out


def test_canonical_directory_and_gt_directory(tmp_path):
    f1, f2 = _two_people_video(3), _two_people_video(2)
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    _write(gt_dir / "000001_mpii_test.json", _posetrack_json("000001_mpii_test", f1, vid_id="000001"))
    _write(gt_dir / "000002_mpii_test.json", _posetrack_json("000002_mpii_test", f2, vid_id="000002"))
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    _write(pred_dir / "a.json", _canonical(f1, "000001_mpii_test"))
    _write(pred_dir / "000002_mpii_test.json", {**_canonical(f2, ""), "meta": {}})  # by file name
    (pred_dir / ".a.tmp123.json").write_text('{"half-writ')  # a killed writer's leftover
    res = evaluate_posetrack(gt_dir, pred_dir)
    assert res.total["ap"] == pytest.approx(100.0) and res.total["mota"] == pytest.approx(100.0)
    assert res.total["objects"] == 5 * 25
    # the same track ids in two videos are two different tracks: no switches
    assert res.total["switches"] == 0


def test_untracked_and_duplicate_ids(tmp_path):
    frames = [[(0, _body(100, 100))] for _ in range(3)]
    gt = _posetrack_json("v", frames)
    pred = _canonical([[(None, _body(100, 100))] for _ in range(3)], "v")
    res = _eval(tmp_path, gt, pred)
    assert res.total["recall"] == 100.0 and res.total["switches"] == 2 * 15
    dup = _posetrack_json("v", [[(0, _body(100, 100)), (0, _body(400, 100))]], scores=True)
    with pytest.raises(EvalError, match="share a track_id"):
        _eval(tmp_path, _posetrack_json("v", [[(0, _body(100, 100))]]), dup)


def test_real_samples_gt_vs_gt(tmp_path):
    if not SAMPLES.is_dir():
        pytest.skip("real samples (<repo>/../shared) absent")
    combined = SAMPLES / "test_posetrack18_val.json"
    res = evaluate_posetrack(combined, combined)
    assert res.total["objects"] > 100
    assert res.total["ap"] == pytest.approx(100.0) and res.total["mota"] == pytest.approx(100.0)
    assert res.total["precision"] == 100.0 and res.total["recall"] == 100.0
    # per-video directory against the combined file, through the CLI
    out = tmp_path / "pt.json"
    r = subprocess.run([sys.executable, "-m", "arttrack.eval", "posetrack", "--gt", str(SAMPLES / "val"),
                        "--pred", str(combined), "--json-out", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "MOTA" in r.stdout and "Ankle" in r.stdout
    d = json.loads(out.read_text())
    assert d["total"]["mota"] == pytest.approx(100.0) and d["total"]["ap"] == pytest.approx(100.0)
    assert set(d["per_joint"]) == set(EVAL_NAMES)
    assert set(d["groups"]) == {"head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"}


def test_cli_bad_input(tmp_path):
    _write(tmp_path / "gt.json", _posetrack_json("v", [[(0, _body(100, 100))]]))
    (tmp_path / "junk.json").write_text("{\"foo\": 1}")
    (tmp_path / "short.json").write_text(json.dumps(
        {"images": [], "annotations": [{"image_id": 10000010000, "keypoints": [1, 2, 3]}]}))
    for gt, pred in (("nope.json", "gt.json"), ("gt.json", "junk.json"), ("gt.json", "short.json"),
                     ("gt.json", "nodir/")):
        r = subprocess.run([sys.executable, "-m", "arttrack.eval", "posetrack", "--gt", str(tmp_path / gt),
                            "--pred", str(tmp_path / pred)], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, (gt, pred)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
