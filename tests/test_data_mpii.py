"""MPII readers: the official .mat nesting (with its quirks) and the JSON conversion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io as scipy_io

from arttrack.data.mpii import (load_mpii_json, load_mpii_mat, mpii16_to_14, person_crop_box,
                                split_train_val)
from arttrack.data.pipeline import RecordSource
from arttrack.joints import MPII14, MPII14_FROM_MPII16

def _points(joints16, vis_kinds):
    """Struct array of points (or a single struct when there is only one)."""
    ids = [i for i in range(16) if joints16[i] is not None]
    dt = [("id", "O"), ("x", "O"), ("y", "O"), ("is_visible", "O")]
    pts = np.zeros((1, len(ids)), dtype=dt)
    for n, i in enumerate(ids):
        x, y = joints16[i]
        kind = vis_kinds[n % len(vis_kinds)]
        vis = {"int": 1, "int0": 0, "str": "1", "str0": "0", "empty": np.zeros((0, 0))}[kind]
        pts[0, n] = (i, float(x), float(y), vis)
    if len(ids) == 1:
        return {"id": ids[0], "x": float(joints16[ids[0]][0]), "y": float(joints16[ids[0]][1]),
                "is_visible": "1"}
    return pts


def _rect(joints16, scale, objpos, head, vis_kinds=("int",)):
    return {"x1": head[0], "y1": head[1], "x2": head[2], "y2": head[3], "scale": scale,
            "objpos": {"x": objpos[0], "y": objpos[1]},
            "annopoints": {"point": _points(joints16, vis_kinds)}}


def _person(cx, cy, s=1.0):
    j = [None] * 16
    for i in range(16):
        j[i] = (cx + 3 * i - 20, cy + 5 * i - 40)
    return j


def write_mpii_mat(path: Path):
    """A small .mat in the official nesting. Images:
    0 train, single annorect given as ONE struct (squeeze quirk), single_person scalar 1
    1 train, two annorects as a struct array, single_person [1, 2]
    2 train, single_person empty (multi-person only image)
    3 test image (img_train 0), annorect without annopoints
    4 train, one annorect whose annopoints is empty (no points)
    5 train, person with unlabeled joints, is_visible strings / empty
    """
    rect_dt = [("x1", "O"), ("y1", "O"), ("x2", "O"), ("y2", "O"), ("scale", "O"),
               ("objpos", "O"), ("annopoints", "O")]
    annolist = np.zeros((1, 6), dtype=[("image", "O"), ("annorect", "O")])
    annolist[0, 0] = ({"name": "img0.jpg"}, _rect(_person(100, 100), 1.5, (100, 100),
                                                   (80, 40, 110, 70)))
    two = np.zeros((1, 2), dtype=rect_dt)
    for n, (cx, s) in enumerate([(60, 1.0), (160, 2.0)]):
        r = _rect(_person(cx, 90), s, (cx, 90), (cx - 10, 50, cx + 10, 70))
        two[0, n] = tuple(r[k] for k, _ in rect_dt)
    annolist[0, 1] = ({"name": "img1.jpg"}, two)
    annolist[0, 2] = ({"name": "img2.jpg"}, _rect(_person(50, 50), 1.0, (50, 50), (0, 0, 9, 9)))
    annolist[0, 3] = ({"name": "img3.jpg"}, {"scale": 1.2, "objpos": {"x": 30, "y": 40}})
    annolist[0, 4] = ({"name": "img4.jpg"}, {"x1": 1, "y1": 1, "x2": 5, "y2": 5, "scale": 1.0,
                                              "objpos": {"x": 3, "y": 3},
                                              "annopoints": np.zeros((0, 0))})
    partial = _person(120, 110)
    for i in (0, 5, 9):
        partial[i] = None
    annolist[0, 5] = ({"name": "img5.jpg"},
                      _rect(partial, 0.8, (120, 110), (100, 40, 130, 70),
                            vis_kinds=("str", "empty", "int0", "str0")))
    single = np.empty((6, 1), dtype=object)
    single[0, 0] = 1
    single[1, 0] = np.array([[1], [2]])
    single[2, 0] = np.zeros((0, 0))
    single[3, 0] = np.zeros((0, 0))
    single[4, 0] = 1
    single[5, 0] = 1
    release = {"annolist": annolist, "img_train": np.array([[1, 1, 1, 0, 1, 1]]),
               "single_person": single, "version": "12"}
    scipy_io.savemat(str(path), {"RELEASE": release})
    return path


def test_mat_reader_quirks(tmp_path):
    mat = write_mpii_mat(tmp_path / "mpii.mat")
    recs = load_mpii_mat(mat, split="all")
    names = [Path(r.image_path).name for r in recs]
    assert names == ["img0.jpg", "img1.jpg", "img1.jpg", "img5.jpg"]
    assert all(r.joints.shape == (1, 14, 3) for r in recs)
    assert Path(recs[0].image_path).parent == tmp_path / "images"
    # joint mapping 16 -> 14; the .mat is 1-based (MATLAB), records are 0-based
    p = _person(100, 100)
    for a, m in enumerate(MPII14_FROM_MPII16):
        np.testing.assert_allclose(recs[0].joints[0, a, :2], np.subtract(p[m], 1))
    assert np.all(recs[0].joints[0, :, 2] == 2)
    # scale rule: base_scale = 300 / (200 * scale)
    assert recs[0].base_scale == pytest.approx(300 / (200 * 1.5))
    assert recs[2].base_scale == pytest.approx(300 / (200 * 2.0))
    np.testing.assert_allclose(recs[1].head_boxes[0], [49, 49, 69, 69])
    np.testing.assert_allclose(recs[1].centers[0], [59, 89])
    # visibility: string '1' -> 2, empty -> 2, 0 / '0' -> 1, missing -> 0
    r5 = recs[3].joints[0]
    lab16 = [i for i in range(16) if i not in (0, 5, 9)]
    kinds = {i: ("str", "empty", "int0", "str0")[n % 4] for n, i in enumerate(lab16)}
    for a, m in enumerate(MPII14_FROM_MPII16):
        want = 0 if m in (0, 5, 9) else {"str": 2, "empty": 2, "int0": 1, "str0": 1}[kinds[m]]
        assert r5[a, 2] == want, (a, m)
        if want == 0:
            assert np.all(r5[a, :2] == 0)
    # crop box contains all labeled joints plus margin / base_scale
    x0, y0, x1, y1 = recs[0].crop_box
    lab = recs[0].joints[0, :, :2]
    m = 65 / recs[0].base_scale
    assert x0 <= max(lab[:, 0].min() - m, 0) + 1 and x1 >= lab[:, 0].max() + m
    assert y0 == 0  # clipped at the top


def test_mat_split_deterministic(tmp_path):
    mat = write_mpii_mat(tmp_path / "mpii.mat")
    tr = load_mpii_mat(mat, split="train", val_fraction=0.34, seed=3)
    va = load_mpii_mat(mat, split="val", val_fraction=0.34, seed=3)
    tr_names = {Path(r.image_path).name for r in tr}
    va_names = {Path(r.image_path).name for r in va}
    assert not tr_names & va_names
    assert tr_names | va_names == {"img0.jpg", "img1.jpg", "img5.jpg"}
    assert len(va_names) == 1
    assert {Path(r.image_path).name for r in load_mpii_mat(
        mat, split="val", val_fraction=0.34, seed=3)} == va_names
    lst = tmp_path / "val.txt"
    lst.write_text("img1.jpg\n")
    va = load_mpii_mat(mat, split="val", val_images=lst)
    assert [Path(r.image_path).name for r in va] == ["img1.jpg", "img1.jpg"]
    tr, va = split_train_val(["a", "b", "c", "d"], val_fraction=0.5, seed=1)
    assert len(va) == 2 and not tr & va


def test_mat_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_mpii_mat(tmp_path / "missing.mat")
    bad = tmp_path / "norelease.mat"
    scipy_io.savemat(str(bad), {"foo": np.zeros(3)})
    with pytest.raises(ValueError, match="RELEASE"):
        load_mpii_mat(bad)
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ValueError, match="junk.mat"):
        load_mpii_mat(junk)
    # malformed: single_person points at a rectangle that does not exist
    annolist = np.zeros((1, 2), dtype=[("image", "O"), ("annorect", "O")])
    annolist[0, 0] = ({"name": "a.jpg"}, _rect(_person(50, 50), 1.0, (50, 50), (0, 0, 5, 5)))
    annolist[0, 1] = ({"name": "b.jpg"}, _rect(_person(50, 50), 1.0, (50, 50), (0, 0, 5, 5)))
    single = np.empty((2, 1), dtype=object)
    single[0, 0] = 1
    single[1, 0] = 3
    bad2 = tmp_path / "bad_index.mat"
    scipy_io.savemat(str(bad2), {"RELEASE": {"annolist": annolist, "img_train": np.array(
        [[1, 1]]), "single_person": single}})
    with pytest.raises(ValueError, match=r"bad_index.mat.*annolist\[1\]"):
        load_mpii_mat(bad2, split="all")


def test_mpii16_to_14_and_crop_helpers():
    j16 = np.zeros((16, 3), np.float32)
    j16[:, 0] = np.arange(16)
    j14 = mpii16_to_14(j16)
    assert j14.shape == (14, 3)
    assert list(j14[:, 0]) == list(MPII14_FROM_MPII16)
    assert MPII14.names[12] == "chin" and j14[12, 0] == 8
    with pytest.raises(ValueError):
        mpii16_to_14(np.zeros((14, 3)))
    box = person_crop_box(np.array([[10, 10, 2], [20, 30, 2]]), (15, 20), 1.0, (100, 100),
                          crop_margin=5)
    assert box == (5, 5, 26, 36)


def test_mpii_json_fixture(tmp_path):
    ent = {"image": "x.jpg", "center": [50.0, 60.0], "scale": 0.5,
           "joints": [[10.0 + i, 20.0 + i] for i in range(16)], "joints_vis": [1] * 16}
    ent2 = dict(ent, joints_vis=[0] + [1] * 15,
                joints=[[-1.0, -1.0]] + [[10.0 + i, 20.0 + i] for i in range(1, 16)])
    p = tmp_path / "m.json"
    p.write_text(json.dumps([ent, ent2]))
    recs = load_mpii_json(p)
    assert len(recs) == 2
    assert recs[1].joints[0, 0, 2] == 0 and recs[0].joints[0, 0, 2] == 2
    assert recs[0].base_scale == pytest.approx(3.0)
    p.write_text(json.dumps([{"image": "x.jpg"}]))
    with pytest.raises(ValueError, match="entry 0"):
        load_mpii_json(p)
    p.write_text("{}")
    with pytest.raises(ValueError, match="list"):
        load_mpii_json(p)


def test_real_mpii_json_samples(shared_data):
    ann = shared_data / "samples" / "mpii" / "test_mpii.json"
    recs = load_mpii_json(ann)
    assert len(recs) == 5
    raw = json.loads(ann.read_text())
    for rec, ent in zip(recs, raw):
        j = rec.joints[0]
        # MPII scale is 6 head lengths / 200 px: after base_scale the head is 50 px
        if j[12, 2] > 0 and j[13, 2] > 0:
            head = np.linalg.norm(j[12, :2] - j[13, :2]) * rec.base_scale
            assert head == pytest.approx(50.0, rel=1e-3)
        assert int((j[:, 2] > 0).sum()) == sum(
            1 for m in MPII14_FROM_MPII16 if ent["joints_vis"][m])
    src = RecordSource(recs)
    for i in range(len(src)):
        img, joints, mask, base = src[i]
        assert img.dtype == np.uint8 and img.ndim == 3 and mask is None
        lab = joints[0, :, 2] > 0
        assert np.all(joints[0, lab, 0] >= 0) and np.all(joints[0, lab, 0] < img.shape[1])
        assert np.all(joints[0, lab, 1] >= 0) and np.all(joints[0, lab, 1] < img.shape[0])
