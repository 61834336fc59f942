"""PoseTrack evaluation against poseval: its numbers on the shared fixture (real, medium,
crowded), and a hand-computed case for each of its rules; canonical per-video input, the
real PoseTrack 2018 sample files, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from arttrack.eval import EvalError
from arttrack.eval.posetrack import (EVAL_NAMES, MIN_SCORE, POSETRACK18_NAMES, POSEVAL_NAMES,
                                     evaluate_posetrack)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"  # <repo>/../shared
SAMPLES = SHARED / "data" / "samples" / "posetrack18" / "annotations"
FIXTURE = SHARED / "data" / "posetrack_eval"
EARS = [POSETRACK18_NAMES.index("left_ear"), POSETRACK18_NAMES.index("right_ear")]
NOSE = EVAL_NAMES.index("nose")


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


def _posetrack_json(video, frames, vid_id="000001", scores=False, labelled=None):
    """frames: list (frame index order) of lists of (track_id, (17, 3) keypoints).
    Head boxes are 30 x 40 (head size 0.6 * 50 = 30 px)."""
    images, anns = [], []
    for fi, people in enumerate(frames):
        iid = int(f"1{vid_id}{fi:04d}")
        images.append({"id": iid, "file_name": f"images/val/{video}/{fi:06d}.jpg", "vid_id": vid_id,
                       "frame_id": iid, "nframes": len(frames),
                       "is_labeled": True if labelled is None else labelled[fi],
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


def _set_scores(pred, fn):
    """Per-keypoint scores fn(annotation) for every predicted person."""
    for a in pred["annotations"]:
        a["scores"] = fn(a)
    return pred


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def _eval(tmp_path, gt, pred, **kw):
    return evaluate_posetrack(_write(tmp_path / "gt.json", gt), _write(tmp_path / "pred.json", pred), **kw)


def _two_people_video(n_frames=3):
    return [[(0, _body(100 + 3 * f, 100)), (1, _body(400, 120 + 2 * f, annotated=set(range(0, 12))))]
            for f in range(n_frames)]


# ---- poseval's numbers on the shared fixture ---------------------------------------------
@pytest.fixture()
def expected(shared_data):
    """poseval's figures on the fixture (skips only when ``<repo>/../shared`` is absent)."""
    return json.loads((FIXTURE / "expected.json").read_text())


@pytest.mark.parametrize("case", ["real", "medium", "crowded"])
def test_poseval_numbers(case, expected):
    """Every per-joint and total figure poseval gives for the fixture, within 0.01."""
    exp = expected
    assert [POSEVAL_NAMES[n] for n in EVAL_NAMES] == sorted(exp["joints"]["order"],
                                                           key=[POSEVAL_NAMES[n] for n in EVAL_NAMES].index)
    e = exp["cases"][case]
    res = evaluate_posetrack(FIXTURE / case / "gt", FIXTURE / case / "pred")
    assert res.info["rules"] == "poseval"
    for ours, theirs in (("ap", "ap"), ("ap_precision", "precision"), ("ap_recall", "recall")):
        for j, n in enumerate(EVAL_NAMES):
            assert getattr(res, ours)[j] == pytest.approx(e["ap"][theirs][POSEVAL_NAMES[n]], abs=0.01), (ours, n)
        assert res.total[ours] == pytest.approx(e["ap"][theirs]["total"], abs=0.01), ours
    for v, pv in e["per_video"].items():
        assert res.per_video[v]["total"]["ap"] == pytest.approx(pv["ap_total"], abs=0.01), v
    if e["tracking"] is None:  # one-frame videos: poseval crashes; arttrack says n/a
        assert res.info["tracking_frames"] == 0 and len(res.info["one_frame_videos"]) == 3
        for k in ("mota", "motp", "precision", "recall"):
            assert math.isnan(res.total[k]) and np.isnan(getattr(res, k)).all()
        return
    for k in ("mota", "motp", "precision", "recall"):
        for j, n in enumerate(EVAL_NAMES):
            assert getattr(res, k)[j] == pytest.approx(e["tracking"][k][POSEVAL_NAMES[n]], abs=0.01), (k, n)
        assert res.total[k] == pytest.approx(e["tracking"][k]["total"], abs=0.01), k
    for v, pv in e["per_video"].items():
        assert res.per_video[v]["total"]["mota"] == pytest.approx(pv["mota_total"], abs=0.01), v
    # 3 videos x 11 labelled frames, one of which (in 003418) has nobody in it
    assert res.info["frames"] == 32 and res.info["tracking_frames"] == 29


def test_poseval_numbers_through_cli(tmp_path, expected):
    e = expected["cases"]["crowded"]
    out = tmp_path / "pt.json"
    r = subprocess.run([sys.executable, "-m", "arttrack.eval", "posetrack", "--gt", str(FIXTURE / "crowded" / "gt"),
                        "--pred", str(FIXTURE / "crowded" / "pred"), "--json-out", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "PoseTrack (poseval)" in r.stdout and "-20.0" in r.stdout and "42.6" in r.stdout
    d = json.loads(out.read_text())
    for n in EVAL_NAMES:
        pj = d["per_joint"][n]
        assert pj["poseval_name"] == POSEVAL_NAMES[n]
        assert pj["ap"] == pytest.approx(e["ap"]["ap"][POSEVAL_NAMES[n]], abs=0.01)
        assert pj["ap_recall"] == pytest.approx(e["ap"]["recall"][POSEVAL_NAMES[n]], abs=0.01)
        assert pj["motp"] == pytest.approx(e["tracking"]["motp"][POSEVAL_NAMES[n]], abs=0.01)
    assert d["total"]["mota"] == pytest.approx(e["tracking"]["mota"]["total"], abs=0.01)
    assert d["total"]["precision"] == pytest.approx(e["tracking"]["precision"]["total"], abs=0.01)
    # the groups poseval prints: plain means of their joints
    head = [e["tracking"]["mota"][n] for n in ("neck", "nose", "head_top")]
    assert d["groups"]["head"]["mota"] == pytest.approx(sum(head) / 3, abs=0.01)
    assert d["per_video"]["012834_mpii_test"]["total"]["mota"] == pytest.approx(
        e["per_video"]["012834_mpii_test"]["mota_total"], abs=0.01)


# ---- poseval's rules, hand-computed ------------------------------------------------------
def test_perfect_predictions(tmp_path):
    frames = _two_people_video()
    res = _eval(tmp_path, _posetrack_json("000001_mpii_test", frames),
                _posetrack_json("000001_mpii_test", frames, scores=True))
    assert len(EVAL_NAMES) == 15 and "left_ear" not in EVAL_NAMES
    assert res.total["ap"] == 100.0 and res.total["ap_precision"] == 100.0
    assert res.total["mota"] == 100.0 and res.total["motp"] == 100.0
    assert res.total["precision"] == 100.0 and res.total["recall"] == 100.0
    assert res.total["switches"] == 0
    # annotated joints: person 0 has 15, person 1 has joints 0..11 minus the ears = 10;
    # 3 frames, the last left out of tracking
    assert res.total["objects"] == 2 * (15 + 10)
    for g in ("head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        assert res.groups[g]["ap"] == 100.0 and res.groups[g]["mota"] == 100.0


def test_total_mota_is_the_mean_of_the_joint_motas(tmp_path):
    """Rule 1: A (15 joints) found, B (nose only) missed: nose MOTA 50, the others 100;
    total = mean 96.67, not 1 - 2/32 = 93.75 from pooled counts."""
    nose = {POSETRACK18_NAMES.index("nose")}
    gt = _posetrack_json("v", [[(0, _body(100, 100)), (1, _body(400, 300, annotated=nose))]] * 3)
    pred = _posetrack_json("v", [[(0, _body(100, 100))]] * 3, scores=True)
    res = _eval(tmp_path, gt, pred)
    assert res.mota[NOSE] == pytest.approx(50.0) and res.recall[NOSE] == pytest.approx(50.0)
    assert res.total["mota"] == pytest.approx((50 + 14 * 100) / 15)
    assert res.total["recall"] == pytest.approx((50 + 14 * 100) / 15)
    assert res.total["objects"] == 32 and res.total["misses"] == 2


def test_last_frame_left_out_of_tracking_only(tmp_path):
    """Rule 2: a wrong prediction in the video's last frame lowers AP, not MOTA."""
    gt = _posetrack_json("v", [[(0, _body(100, 100))]] * 3)
    pred = _posetrack_json("v", [[(0, _body(100, 100))]] * 2 + [[(0, _body(700, 500))]], scores=True)
    _set_scores(pred, lambda a: [(0.5 if a["image_id"] % 10 == 2 else 1.0) * (v > 0)
                                 for v in a["keypoints"][2::3]])
    res = _eval(tmp_path, gt, pred)
    assert res.total["mota"] == 100.0 and res.total["objects"] == 2 * 15
    # ranked TP, TP, FP over 3 ground-truth joints: VOC AP 2/3
    assert res.total["ap"] == pytest.approx(200 / 3)
    assert res.total["ap_precision"] == pytest.approx(200 / 3) and res.total["ap_recall"] == pytest.approx(200 / 3)
    assert res.info["tracking_frames"] == 2


def test_frame_without_predictions_gets_one_dummy_update(tmp_path):
    """Rule 3: frame 1 holds 3 people and no prediction: per joint 1 object, 1 miss, 1 FP."""
    three = [(k, _body(100 + 250 * k, 100)) for k in range(3)]
    gt = _posetrack_json("v", [three] * 3)
    pred = _posetrack_json("v", [three, [], three], scores=True)
    res = _eval(tmp_path, gt, pred)
    assert list(res.objects) == [4] * 15 and list(res.misses) == [1] * 15
    assert list(res.false_positives) == [1] * 15
    assert res.total["mota"] == pytest.approx(50.0)  # 1 - (1 + 1) / 4
    assert res.total["precision"] == pytest.approx(75.0) and res.total["recall"] == pytest.approx(75.0)
    assert res.total["ap"] == pytest.approx(100 * 6 / 9)  # all 9 ground-truth joints count


def test_ignore_regions_can_empty_a_frame_into_a_dummy_update(tmp_path):
    """Rule 3, poseval's condition: a ground-truth AND a predicted person after the ignore
    regions. Frame 1's only person lies in an ignore region: dummy update, and its
    (kept) prediction elsewhere is a false positive for AP."""
    gt = _posetrack_json("v", [[(0, _body(100, 100))], [(0, _body(900, 600))], [(0, _body(100, 100))]])
    gt["images"][1]["ignore_regions_x"] = [[800, 1200, 1200, 800]]
    gt["images"][1]["ignore_regions_y"] = [[500, 500, 900, 900]]
    pred = _posetrack_json("v", [[(0, _body(100, 100))]] * 3, scores=True)
    _set_scores(pred, lambda a: [(0.5 if a["image_id"] % 10 == 1 else 1.0) * (v > 0)
                                 for v in a["keypoints"][2::3]])
    res = _eval(tmp_path, gt, pred)
    assert list(res.objects) == [2] * 15 and list(res.misses) == [1] * 15 and list(res.false_positives) == [1] * 15
    assert res.total["ap"] == pytest.approx(100.0) and res.total["ap_precision"] == pytest.approx(200 / 3)


def test_only_frames_holding_annotations_count(tmp_path):
    """Rule 4: predictions on an unlabelled frame and on a labelled frame with nobody in it
    are dropped (no false positives); a frame holding an annotation counts even when it is
    not marked labelled (poseval does not read is_labeled)."""
    person = [(0, _body(100, 100))]
    gt = _posetrack_json("v", [person, [], [], person], labelled=[True, False, True, True])
    pred = _posetrack_json("v", [person, [(5, _body(600, 400))], [(6, _body(600, 400))], person], scores=True)
    res = _eval(tmp_path, gt, pred)
    assert res.total["ap_precision"] == 100.0 and res.total["precision"] == 100.0
    assert res.info["frames"] == 2 and res.info["tracking_frames"] == 1
    gt = _posetrack_json("v", [person, person, person], labelled=[True, False, True])
    res = _eval(tmp_path, gt, _posetrack_json("v", [person] * 3, scores=True))
    assert res.info["frames"] == 3 and res.total["objects"] == 2 * 15


def test_annotation_without_joints_keeps_its_frame(tmp_path):
    """poseval keeps a frame whose only annotation has no joint: predictions there are
    false positives (AP and tracking), and there is no dummy update (no object)."""
    person = [(0, _body(100, 100))]
    empty = [(1, np.zeros((17, 3)))]
    gt = _posetrack_json("v", [person, empty, person])
    gt["annotations"][1]["bbox_head"] = [0, 0, 30, 40]
    pred = _posetrack_json("v", [person, [(0, _body(500, 400))], person], scores=True)
    res = _eval(tmp_path, gt, pred)
    assert res.info["frames"] == 3
    assert list(res.objects) == [1] * 15 and list(res.false_positives) == [1] * 15
    assert res.total["mota"] == 0.0 and res.total["precision"] == 50.0
    assert res.total["ap_precision"] == pytest.approx(200 / 3)


def _greedy_case():
    """A: all 15 joints; B: 5 leg joints only. pred 0 = B's 5 joints (PCKh 1 with B);
    pred 1 = A's upper 10 joints (PCKh 10/15 with A) + B's 5 (PCKh 1 with B)."""
    legs = {12, 13, 14, 15, 16}
    a, b = _body(100, 100), _body(100, 400, annotated=legs)
    p1 = a.copy()
    p1[list(legs)] = b[list(legs)]
    gt = _posetrack_json("v", [[(0, a), (1, b)]] * 2)
    pred = _posetrack_json("v", [[(0, b), (1, p1)]] * 2, scores=True)
    return gt, pred


def test_greedy_pckh_pairing(tmp_path):
    """Rule 5: pred 1 picks B (PCKh 1 > 10/15 although 10 joints match A); B keeps pred 0
    (first index on a tie), so pred 1 is unmatched and all its joints are false positives:
    A's joints are never found. Hungarian pairing (a named option) pairs pred 1 with A."""
    gt, pred = _greedy_case()
    res = _eval(tmp_path, gt, pred)
    assert res.ap[NOSE] == 0.0 and res.ap_precision[NOSE] == 0.0
    assert res.ap[EVAL_NAMES.index("left_wrist")] == 0.0
    hung = _eval(tmp_path, gt, pred, pairing="hungarian")
    assert hung.ap[NOSE] == 100.0 and hung.ap[EVAL_NAMES.index("left_wrist")] == 100.0
    assert hung.info["rules"] == "NOT poseval: hungarian pairing" and res.info["rules"] == "poseval"
    # the tracking metrics do not use the pairing
    assert np.array_equal(res.mota, hung.mota, equal_nan=True)
    with pytest.raises(EvalError, match="pairing"):
        _eval(tmp_path, gt, pred, pairing="best")


def test_score_ties_fall_as_in_poseval(tmp_path):
    """poseval ranks by argsort()[::-1]: of equal scores, the later detection first. Two
    frames, a true and a false positive each, all scoring 1: ranked FP TP FP TP (AP 50);
    with the false positive first in each frame: TP FP TP FP (AP 1/2 + 1/2 * 2/3)."""
    gt = _posetrack_json("v", [[(0, _body(100, 100))]] * 2)
    tp, fp = (0, _body(100, 100)), (1, _body(700, 500))
    assert _eval(tmp_path, gt, _posetrack_json("v", [[tp, fp]] * 2, scores=True)).total["ap"] == pytest.approx(50.0)
    assert _eval(tmp_path, gt, _posetrack_json("v", [[fp, tp]] * 2, scores=True)).total["ap"] == \
        pytest.approx(100 * (1 / 2 + 1 / 3))


def test_missing_scores_rank_last(tmp_path):
    """A predicted person without per-keypoint scores scores poseval's MIN_SCORE (-9999)."""
    gt = _posetrack_json("v", [[(0, _body(100, 100))]] * 2)
    pred = _posetrack_json("v", [[(0, _body(100, 100)), (1, _body(700, 500))]] * 2, scores=True)
    _set_scores(pred, lambda a: [] if a["track_id"] == 0 else [0.1 * (v > 0) for v in a["keypoints"][2::3]])
    assert MIN_SCORE == -9999.0
    assert _eval(tmp_path, gt, pred).total["ap"] == pytest.approx(50.0)  # FP, FP (0.1), then TP, TP
    pred["annotations"][1]["scores"] = [0.5] * 3
    with pytest.raises(EvalError, match="scores"):
        _eval(tmp_path, gt, pred)


def test_motp_sums_every_event_distance(tmp_path):
    """Rule 6: poseval's MOTP = 100 (1 - D / detections), D the sum of the D column of
    all motmetrics events: RAW events (every pair within the threshold) + MATCH."""
    nose = {POSETRACK18_NAMES.index("nose")}
    gt = _posetrack_json("v", [[(0, _body(100, 100, annotated=nose))]] * 3)
    near = _body(103, 100, annotated=nose)  # 3 px: 3 / 30 = 0.1
    pred = _posetrack_json("v", [[(0, near)]] * 3, scores=True)
    # per tracked frame: RAW 0.1 + MATCH 0.1; 2 frames, 2 detections
    assert _eval(tmp_path, gt, pred).motp[NOSE] == pytest.approx(100 * (1 - 0.4 / 2))
    dup = _body(106, 100, annotated=nose)  # a second prediction 0.2 away: RAW only, then FP
    pred = _posetrack_json("v", [[(0, near), (1, dup)]] * 3, scores=True)
    res = _eval(tmp_path, gt, pred)
    assert res.motp[NOSE] == pytest.approx(100 * (1 - 0.8 / 2))
    assert res.false_positives[NOSE] == 2 and res.precision[NOSE] == pytest.approx(50.0)
    # a joint without detections (or objects): MOTP 0, MOTA and recall NaN, as in poseval
    ankle = EVAL_NAMES.index("left_ankle")
    assert res.motp[ankle] == 0.0 and np.isnan(res.mota[ankle]) and np.isnan(res.recall[ankle])
    assert res.total["mota"] == pytest.approx(res.mota[NOSE])  # NaN joints left out of the mean


def test_identity_switch(tmp_path):
    """A switch at frame 2 (of 4; frame 3 left out): MOTA 1 - 1/3; MOTP with D = 3 RAW
    + 3 MATCH/SWITCH + 1 ASCEND (motmetrics' event for a new hypothesis id) = 7 / 30."""
    nose = {POSETRACK18_NAMES.index("nose")}
    gt = _posetrack_json("v", [[(0, _body(100, 100, annotated=nose))] for _ in range(4)])
    pred = _posetrack_json("v", [[(5 if f < 2 else 7, _body(101, 100, annotated=nose))] for f in range(4)],
                           scores=True)
    res = _eval(tmp_path, gt, pred)
    assert res.total["switches"] == 1 and res.total["objects"] == 3
    assert res.total["mota"] == pytest.approx(100.0 * (1 - 1 / 3))
    assert res.total["recall"] == 100.0 and res.total["precision"] == 100.0
    assert res.motp[NOSE] == pytest.approx(100.0 * (1 - 7 / 30 / 3))
    # the other joints have no detections: MOTP 0 in poseval, and they count in the mean
    assert res.motp[EVAL_NAMES.index("left_ankle")] == 0.0
    assert res.total["motp"] == pytest.approx(res.motp[NOSE] / 15)
    assert res.ap[NOSE] == 100.0  # AP ignores identities
    # poseval: a joint without detections has AP 0 (even with no ground truth) and counts
    assert res.ap[EVAL_NAMES.index("left_ankle")] == 0.0 and res.total["ap"] == pytest.approx(100 / 15)
    # full bodies: one switch per joint type
    gt = _posetrack_json("v", [[(0, _body(100, 100))] for _ in range(4)])
    pred = _posetrack_json("v", [[(5 if f < 2 else 7, _body(100, 100))] for f in range(4)], scores=True)
    res = _eval(tmp_path, gt, pred)
    assert res.total["switches"] == 15 and list(res.switches) == [1] * 15


def test_one_frame_videos(tmp_path):
    """Rule 7: poseval crashes on a video with one frame with ground truth. arttrack counts
    it for AP only; with no two-frame video at all the tracking metrics are n/a (NaN)."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    one = [[(0, _body(100, 100))]]
    _write(gt_dir / "000001_mpii_test.json", _posetrack_json("000001_mpii_test", one, vid_id="000001"))
    wrong = [[(0, _body(700, 500))]]
    _write(pred_dir / "000001_mpii_test.json", _posetrack_json("000001_mpii_test", wrong, "000001", scores=True))
    res = evaluate_posetrack(gt_dir, pred_dir)
    assert res.total["ap"] == 0.0 and res.info["tracking_frames"] == 0
    assert all(math.isnan(res.total[k]) for k in ("mota", "motp", "precision", "recall"))
    assert "poseval" in res.info["notes"][-1] and res.info["one_frame_videos"] == ["000001_mpii_test"]
    # with a three-frame video beside it: tracking from that video alone, AP from both
    three = [[(0, _body(100, 100))]] * 3
    _write(gt_dir / "000002_mpii_test.json", _posetrack_json("000002_mpii_test", three, vid_id="000002"))
    _write(pred_dir / "000002_mpii_test.json", _posetrack_json("000002_mpii_test", three, "000002", scores=True))
    res = evaluate_posetrack(gt_dir, pred_dir)
    assert res.total["mota"] == 100.0 and res.total["objects"] == 2 * 15
    assert res.total["ap_recall"] == pytest.approx(75.0)  # 3 of 4 ground-truth joints found
    assert math.isnan(res.per_video["000001_mpii_test"]["total"]["mota"])
    assert res.per_video["000002_mpii_test"]["total"]["mota"] == 100.0


def test_joint_with_zero_visibility_but_coordinates_counts(tmp_path):
    """poseval's converter drops only x = y = v = 0 joints: v = 0 with coordinates counts."""
    kp = _body(100, 100)
    kp[POSETRACK18_NAMES.index("nose"), 2] = 0  # coordinates kept
    gt = _posetrack_json("v", [[(0, kp)]] * 2)
    res = _eval(tmp_path, gt, _posetrack_json("v", [[(0, _body(100, 100))]] * 2, scores=True))
    assert res.objects[NOSE] == 1 and res.total["ap"] == 100.0


# ---- options and inputs ------------------------------------------------------------------
def test_missed_person_lowers_recall(tmp_path):
    frames = _two_people_video(3)
    only_first = [[people[0]] for people in frames]
    res = _eval(tmp_path, _posetrack_json("v", frames), _posetrack_json("v", only_first, scores=True))
    nose = EVAL_NAMES.index("nose")
    ankle = EVAL_NAMES.index("left_ankle")
    assert res.recall[nose] == pytest.approx(50.0) and res.ap[nose] == pytest.approx(50.0)
    assert res.recall[ankle] == pytest.approx(100.0) and res.ap[ankle] == pytest.approx(100.0)
    # 10 joints half found, 5 (person 1 lacks them) all found: mean over joints
    assert res.total["recall"] == pytest.approx((10 * 50 + 5 * 100) / 15)
    assert res.total["mota"] == pytest.approx((10 * 50 + 5 * 100) / 15)
    assert res.total["precision"] == 100.0


def test_false_positive_ranked_first(tmp_path):
    gt = _posetrack_json("v", [[(0, _body(100, 100))]] * 2)
    pred = _posetrack_json("v", [[(0, _body(100, 100)), (1, _body(900, 600))]] * 2, scores=True)
    # the spurious person scores higher
    _set_scores(pred, lambda a: [(0.95 if a["track_id"] == 1 else 0.9) * (v > 0) for v in a["keypoints"][2::3]])
    res = _eval(tmp_path, gt, pred)
    # ranked: FP, FP (0.95) then TP, TP (0.9): precision at full recall 1/2 -> VOC AP 50
    assert res.total["ap"] == pytest.approx(50.0)
    assert res.total["precision"] == pytest.approx(50.0) and res.total["recall"] == 100.0
    assert res.total["mota"] == pytest.approx(0.0)


def test_track_thr_drops_low_scores_from_tracking_only(tmp_path):
    """A spurious low-scoring person: tracking metrics without it above track_thr, AP the same."""
    gt = _posetrack_json("v", [[(0, _body(100, 100))]] * 2)
    pred = _posetrack_json("v", [[(0, _body(100, 100)), (1, _body(900, 600))]] * 2, scores=True)
    _set_scores(pred, lambda a: [(0.2 if a["track_id"] == 1 else 0.9) * (v > 0) for v in a["keypoints"][2::3]])
    all_joints = _eval(tmp_path, gt, pred)
    assert all_joints.total["precision"] == pytest.approx(50.0)
    assert all_joints.total["mota"] == pytest.approx(0.0)
    res = _eval(tmp_path, gt, pred, track_thr=0.5)
    assert res.total["precision"] == 100.0 and res.total["mota"] == 100.0
    assert res.total["ap"] == all_joints.total["ap"] == 100.0
    assert res.info["rules"] == "NOT poseval: tracking on joints scoring >= 0.5"
    # nothing left to track: the frame gets the dummy update (1 object, 1 miss, 1 FP)
    res = _eval(tmp_path, gt, pred, track_thr=0.95)
    assert res.total["recall"] == 0.0 and res.total["mota"] == -100.0 and res.total["ap"] == 100.0
    with pytest.raises(EvalError, match="track_thr"):
        _eval(tmp_path, gt, pred, track_thr=float("nan"))


def test_threshold_is_inclusive(tmp_path):
    gt_kp = _body(100, 100)
    on = gt_kp.copy()
    on[:, 0] += np.where(on[:, 2] > 0, 15.0, 0.0)  # exactly 0.5 * 30
    beyond = gt_kp.copy()
    beyond[:, 0] += np.where(beyond[:, 2] > 0, 15.5, 0.0)
    gt = _posetrack_json("v", [[(0, gt_kp)]] * 2)
    assert _eval(tmp_path, gt, _posetrack_json("v", [[(0, on)]] * 2, scores=True)).total["recall"] == 100.0
    assert _eval(tmp_path, gt, _posetrack_json("v", [[(0, beyond)]] * 2, scores=True)).total["recall"] == 0.0


def test_ignore_regions_remove_predictions(tmp_path):
    gt = _posetrack_json("v", [[(0, _body(100, 100))]] * 2)
    for im in gt["images"]:
        im["ignore_regions_x"] = [[800, 1200, 1200, 800]]
        im["ignore_regions_y"] = [[500, 500, 900, 900]]
    pred = _posetrack_json("v", [[(0, _body(100, 100)), (1, _body(900, 600))]] * 2, scores=True)
    assert _eval(tmp_path, gt, pred).total["precision"] == 100.0
    res = _eval(tmp_path, gt, pred, use_ignore_regions=False)
    assert res.total["precision"] == pytest.approx(50.0) and res.info["rules"].startswith("NOT poseval")


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
    assert res.total["ap"] == 100.0 and res.total["mota"] == 100.0
    assert res.total["objects"] == (2 + 1) * 25  # each video's last frame left out
    # the same track ids in two videos are two different tracks: no switches
    assert res.total["switches"] == 0


def test_untracked_and_duplicate_ids(tmp_path):
    frames = [[(0, _body(100, 100))] for _ in range(4)]
    gt = _posetrack_json("v", frames)
    pred = _canonical([[(None, _body(100, 100))] for _ in range(4)], "v")
    res = _eval(tmp_path, gt, pred)
    # each untracked person is a new track: a switch in each of frames 1 and 2
    assert res.total["recall"] == 100.0 and res.total["switches"] == 2 * 15
    dup = _posetrack_json("v", [[(0, _body(100, 100)), (0, _body(400, 100))]], scores=True)
    with pytest.raises(EvalError, match="share a track_id"):
        _eval(tmp_path, _posetrack_json("v", [[(0, _body(100, 100))]]), dup)


def test_real_samples_gt_vs_gt(tmp_path, shared_data):
    combined = SAMPLES / "test_posetrack18_val.json"
    res = evaluate_posetrack(combined, combined)
    # three one-frame videos: AP only
    assert res.info["videos"] == 3 and res.info["frames"] == 3 and res.info["tracking_frames"] == 0
    assert res.total["ap"] == 100.0 and res.total["ap_precision"] == 100.0 and res.total["ap_recall"] == 100.0
    assert math.isnan(res.total["mota"])
    # per-video directory against the combined file, through the CLI
    out = tmp_path / "pt.json"
    r = subprocess.run([sys.executable, "-m", "arttrack.eval", "posetrack", "--gt", str(SAMPLES / "val"),
                        "--pred", str(combined), "--json-out", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "MOTA" in r.stdout and "Ankle" in r.stdout and "poseval crashes" in r.stdout
    d = json.loads(out.read_text())
    assert d["total"]["mota"] is None and d["total"]["ap"] == 100.0
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
