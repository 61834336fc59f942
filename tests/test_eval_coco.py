"""COCO keypoint AP/AR: equal to pycocotools called directly; perfect = 1, empty = 0."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from arttrack.eval import EvalError
from arttrack.eval.coco import METRIC_NAMES, evaluate_coco, predictions_to_coco_results
from arttrack.joints import COCO17



def _make_gt(rng, n_images=4, people=(1, 3)):
    images, anns = [], []
    aid = 1
    for i in range(n_images):
        images.append({"id": 100 + i, "file_name": f"{i}.jpg", "width": 640, "height": 480})
        for _ in range(rng.integers(people[0], people[1] + 1)):
            x0, y0 = rng.uniform(50, 400), rng.uniform(50, 250)
            w, h = rng.uniform(60, 200), rng.uniform(100, 220)
            kp = np.zeros((17, 3))
            kp[:, 0] = x0 + rng.uniform(0, w, 17)
            kp[:, 1] = y0 + rng.uniform(0, h, 17)
            kp[:, 2] = np.where(rng.uniform(size=17) > 0.2, 2, 0)
            kp[kp[:, 2] == 0, :2] = 0
            anns.append({"id": aid, "image_id": 100 + i, "category_id": 1, "iscrowd": 0,
                         "bbox": [x0, y0, w, h], "area": float(w * h),
                         "num_keypoints": int((kp[:, 2] > 0).sum()),
                         "keypoints": kp.reshape(-1).tolist()})
            aid += 1
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "supercategory": "person",
                            "keypoints": list(COCO17.names), "skeleton": []}]}


def _noisy_results(gt, rng, scale=6.0):
    res = []
    for a in gt["annotations"]:
        kp = np.asarray(a["keypoints"], float).reshape(17, 3)
        kp[:, :2] += rng.normal(scale=scale, size=(17, 2))
        kp[:, 2] = 1
        res.append({"image_id": a["image_id"], "category_id": 1,
                    "keypoints": kp.reshape(-1).tolist(), "score": float(rng.uniform(0.3, 1))})
    # a few false positives
    for im in gt["images"][:2]:
        kp = np.column_stack([rng.uniform(0, 600, 17), rng.uniform(0, 400, 17), np.ones(17)])
        res.append({"image_id": im["id"], "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                    "score": 0.5})
    return res


def _pycocotools_direct(gt_file, res_file):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_file))
        dt = coco.loadRes(str(res_file))
        ev = COCOeval(coco, dt, "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_matches_pycocotools(tmp_path):
    rng = np.random.default_rng(0)
    gt = _make_gt(rng)
    res = _noisy_results(gt, rng)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    stats = evaluate_coco(tmp_path / "gt.json", tmp_path / "res.json")
    ref = _pycocotools_direct(tmp_path / "gt.json", tmp_path / "res.json")
    assert list(stats) == list(METRIC_NAMES)
    np.testing.assert_allclose([stats[k] for k in METRIC_NAMES], ref[:10])
    assert 0.0 < stats["AP"] < 1.0


def test_perfect_and_empty(tmp_path, capsys):
    rng = np.random.default_rng(1)
    gt = _make_gt(rng)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    perfect = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in gt["annotations"]]
    stats = evaluate_coco(tmp_path / "gt.json", perfect)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    empty = evaluate_coco(tmp_path / "gt.json", [])
    assert all(v == 0.0 for v in empty.values())
    assert capsys.readouterr().out == ""  # pycocotools' printing is captured


def test_predictions_to_results():
    rng = np.random.default_rng(2)
    gt = _make_gt(rng, n_images=2, people=(2, 2))
    preds = {}
    for a in gt["annotations"]:
        kp = np.asarray(a["keypoints"], float).reshape(17, 3)
        arr = np.column_stack([kp[:, :2], np.full(17, 0.8)])
        arr[kp[:, 2] == 0] = np.nan  # unannotated -> missing
        preds.setdefault(a["image_id"], []).append(arr)
    preds = {k: np.stack(v) for k, v in preds.items()}
    preds[100][0, 3, 2] = 0.2  # one lower score
    res = predictions_to_coco_results(preds)
    assert len(res) == 4
    r0 = res[0]
    kp0 = np.asarray(r0["keypoints"]).reshape(17, 3)
    missing = np.isnan(preds[100][0]).any(axis=1)
    assert np.all(kp0[missing] == 0)
    present = ~missing
    assert r0["score"] == pytest.approx(np.mean(preds[100][0][present, 2]))
    assert r0["category_id"] == 1 and r0["image_id"] == 100
    assert evaluate_coco(gt, res)["AP"] == pytest.approx(1.0)
    # people with no joints are dropped; empty arrays are fine
    assert predictions_to_coco_results({5: np.full((1, 17, 3), np.nan), 6: np.zeros((0, 17, 3))}) == []
    with pytest.raises(EvalError):
        predictions_to_coco_results({1: np.zeros((1, 14, 3))})


def test_unknown_image_id(tmp_path):
    gt = _make_gt(np.random.default_rng(3), n_images=1)
    bad = [{"image_id": 999, "category_id": 1, "keypoints": [0] * 51, "score": 1.0}]
    with pytest.raises(EvalError, match="not in the ground truth"):
        evaluate_coco(gt, bad)


def test_real_sample_cli(tmp_path, shared_data):
    gt_file = shared_data / "samples" / "coco" / "test_coco.json"
    gt = json.loads(gt_file.read_text())
    res = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
           for a in gt["annotations"] if a["num_keypoints"] > 0 and not a.get("iscrowd")]
    (tmp_path / "res.json").write_text(json.dumps(res))
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-m", "arttrack.eval", "coco", "--gt", str(gt_file),
                        "--pred", str(tmp_path / "res.json"), "--json-out", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "AP" in r.stdout and "Average Precision" not in r.stdout
    stats = json.loads(out.read_text())
    assert stats["AP"] == pytest.approx(1.0)


def test_cli_bad_input(tmp_path):
    (tmp_path / "gt.json").write_text(json.dumps({"images": [], "annotations": []}))
    (tmp_path / "bad.json").write_text("[{\"image_id\": 1}]")
    for gt, pred in (("missing.json", "bad.json"), ("gt.json", "bad.json")):
        r = subprocess.run([sys.executable, "-m", "arttrack.eval", "coco", "--gt", str(tmp_path / gt),
                            "--pred", str(tmp_path / pred)], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
