"""`python -m arttrack.predict`: data preparation consistent with training, mapping back to
original coordinates, output formats read by `python -m arttrack.eval`, and the locref
effect (exact maps through the whole single-person path)."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from arttrack.config import load_config
from arttrack.data.codec import PoseCodec
from arttrack.data.synthetic import SyntheticConfig, write_coco, write_mpii
from arttrack.inference import Maps, decode_single, to_original
from arttrack.joints import COCO17, MPII14
from arttrack.inference.datasets import predict_single_person, single_person_items

J = MPII14.num_joints
TINY = ["net_type=resnet_tiny", "width=8", "depths=[1,1,1,1]", "freeze_bn=false"]


@pytest.fixture(scope="module")
def mpii_mat(tmp_path_factory):
    out = tmp_path_factory.mktemp("mpii")
    cfg = SyntheticConfig(width=128, height=128, num_people=(1, 2), joint_set="mpii14")
    return write_mpii(out, 12, seed=3, config=cfg, test_fraction=0.0, progress=False)


def _mpii_cfg(mat, *extra):
    return load_config(None, TINY + ["dataset_type=mpii", f"dataset={mat}", "val_fraction=0.5",
                                     f"image_dir={mat.parent.parent / 'images'}",
                                     "global_scale=0.5", "max_input_size=200", *extra])


def _key(img):
    return hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest() + str(img.shape)


def _training_view(cfg, split):
    """image -> joints as the TRAINING pipeline prepares them (independent of predict.py)."""
    from arttrack.models import factory

    source = factory.build_source(cfg, split)
    aug = factory.build_augmenter(cfg, train=False)
    out = {}
    for i in range(len(source)):
        image, joints, mask, base = source[i]
        s = aug(image, joints, mask, rng=np.random.default_rng(0), base_scale=base)
        out[_key(s.image)] = s.joints[0]
    return out


class ExactMapsPredictor:
    """Stands in for a perfect network: codec-encoded maps of the true joints."""

    batch_size = 4

    def __init__(self, lookup, radius):
        self.lookup = lookup
        self.codec = PoseCodec(J, pos_dist_thresh=radius)

    def predict_single_batch(self, images, use_locref=True):
        res = []
        for im in images:
            t = self.codec.encode(self.lookup[_key(im)][None], im.shape[:2])
            m = Maps(t["scmap"], t["locref_map"], None, im.shape[:2], 8.0)
            res.append(decode_single(m, use_locref=use_locref))
        return res


def test_items_match_training_and_map_back(mpii_mat):
    cfg = _mpii_cfg(mpii_mat)
    view = _training_view(cfg, "val")
    items = list(single_person_items(cfg, "val"))
    assert len(items) == len(view) > 0
    for it in items:
        joints_in = view[_key(it.image)]  # same pixels as training prepares
        lab = joints_in[:, 2] > 0
        back = to_original(joints_in[lab, :2], it.ratio, it.offset)
        np.testing.assert_allclose(back, it.joints[lab, :2], atol=1e-3)
        assert max(it.image.shape[:2]) <= 200
    # "person" is the annorect index of the evaluation's .mat reader
    from arttrack.eval.pckh import load_mpii_mat as load_gt

    gt = load_gt(mpii_mat, split="all")
    lut = {(im, p): j for im, p, j in zip(gt.images, gt.persons, gt.joints)}
    for it in items:
        lab = it.joints[:, 2] > 0
        np.testing.assert_allclose(lut[(it.name, it.person)][lab], it.joints[lab, :2], atol=1e-3)


def test_locref_improves_pckh_exact_maps(mpii_mat, tmp_path):
    """Exact maps through predict's whole single-person path: PCKh with locref > without."""
    from arttrack.eval import pckh
    from arttrack.io.atomic import write_json

    cfg = _mpii_cfg(mpii_mat, "global_scale=0.6", "max_input_size=300")
    stub = ExactMapsPredictor(_training_view(cfg, "all"), radius=20.0)
    res = {}
    for use in (True, False):
        preds, gts = predict_single_person(stub, single_person_items(cfg, "all"), use_locref=use)
        write_json(tmp_path / f"p{use}.json", preds)
        write_json(tmp_path / "gt.json", gts)
        res[use], _, n = pckh.evaluate_files(tmp_path / "gt.json", tmp_path / f"p{use}.json")
    assert res[True].total > 99.0
    assert res[True].total > res[False].total + 10
    assert res[True].auc > res[False].auc


def _tiny_checkpoint(tmp_path, cfg):
    from arttrack.models.checkpoint import save_checkpoint
    from arttrack.models.factory import build_model

    return save_checkpoint(build_model(cfg, pretrained=False), tmp_path / "snap", 1, cfg)


@pytest.fixture()
def ms_cwd(tmp_path, monkeypatch):
    import mindspore as ms

    monkeypatch.chdir(tmp_path)
    ms.set_device("CPU")
    return ms


def test_cli_single_person_mpii_then_eval(mpii_mat, tmp_path, ms_cwd, capsys):
    from arttrack.eval.__main__ import main as eval_main
    from arttrack.predict import main

    ckpt = _tiny_checkpoint(tmp_path, _mpii_cfg(mpii_mat))
    out, gt = tmp_path / "pred.json", tmp_path / "gt.json"
    assert main(["--ckpt", str(ckpt), "--split", "val", "--num", "3", "--out", str(out),
                 "--gt-out", str(gt), "--batch-size", "2"]) == 0
    preds = json.loads(out.read_text())
    assert len(preds) == 3 == len(json.loads(gt.read_text()))
    assert all(len(p["joints"]) == J and "person" in p and "score" in p for p in preds)
    assert not list(tmp_path.glob(".*tmp*"))
    assert eval_main(["pckh", "--gt", str(gt), "--pred", str(out)]) == 0
    assert "PCKh" in capsys.readouterr().out
    # the official .mat also reads it (keyed by image + person)
    assert eval_main(["pckh", "--gt", str(mpii_mat), "--pred", str(out)]) == 0
    # errors: one line, non-zero exit
    assert main(["--ckpt", str(ckpt), "--set", "dataset=/nonexistent.mat", "--out",
                 str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0] and not (tmp_path / "x.json").exists()


def test_cli_synthetic_writes_gt(tmp_path, ms_cwd):
    from arttrack.eval import pckh
    from arttrack.predict import main

    cfg = load_config(None, TINY + ["synthetic_size=3", "synthetic_image_size=[64,64]"])
    ckpt = _tiny_checkpoint(tmp_path, cfg)
    out = tmp_path / "syn.json"
    assert main(["--ckpt", str(ckpt), "--no-locref", "--mode", "pynative", "--out", str(out)]) == 0
    res, _, n = pckh.evaluate_files(tmp_path / "syn.gt.json", out)
    # PCKh@0.5 by hand from the two files (written person by person, in the same order)
    gts, preds = json.loads((tmp_path / "syn.gt.json").read_text()), json.loads(out.read_text())
    assert n == len(gts) == len(preds) == 3
    correct = counted = 0
    for g, p in zip(gts, preds):
        assert (g["image"], g["person"]) == (p["image"], p["person"])
        x1, y1, x2, y2 = g["headbox"]
        head = 0.6 * math.hypot(x2 - x1, y2 - y1)
        for gj, vis, pj in zip(g["joints"], g["joints_vis"], p["joints"]):
            if vis:
                counted += 1
                correct += pj is not None and math.dist(pj, gj) <= 0.5 * head
    assert counted > 0 and res.total == pytest.approx(100.0 * correct / counted)
    # --flip-test reaches the predictor: same people, other (averaged) joints
    flip = tmp_path / "flip.json"
    assert main(["--ckpt", str(ckpt), "--no-locref", "--mode", "pynative", "--flip-test",
                 "--out", str(flip)]) == 0
    a, b = json.loads(out.read_text()), json.loads(flip.read_text())
    assert [r["image"] for r in a] == [r["image"] for r in b]
    assert any(ra["joint_scores"] != rb["joint_scores"] for ra, rb in zip(a, b))
    # --backend onnxruntime: the same predictions as MindSpore's
    onnx = tmp_path / "onnx.json"
    assert main(["--ckpt", str(ckpt), "--no-locref", "--backend", "onnxruntime",
                 "--out", str(onnx)]) == 0
    c = json.loads(onnx.read_text())
    assert [r["image"] for r in c] == [r["image"] for r in a]
    np.testing.assert_allclose([r["joint_scores"] for r in c], [r["joint_scores"] for r in a],
                               atol=1e-4)


def test_cli_multi_person_coco(tmp_path, ms_cwd):
    from arttrack.eval.coco import evaluate_coco
    from arttrack.data.pairwise_stats import PairwiseStats, save_pairwise_stats
    from arttrack.postprocess import SpatialModel
    from arttrack.predict import main
    from arttrack.training.spatial_fit import prior_pair_model

    syn = SyntheticConfig(width=64, height=48, num_people=(1, 2), joint_set="coco17")
    ann = write_coco(tmp_path / "coco", 2, seed=1, config=syn, progress=False)
    j = COCO17.num_joints
    c = j * (j - 1)
    save_pairwise_stats(PairwiseStats("coco17", COCO17.names, np.zeros((c, 2)),
                                      np.full((c, 2), 10.0), np.ones(c, np.int64)),
                        tmp_path / "stats.npz")
    cfg = load_config(None, TINY + [
        "dataset_type=coco", f"dataset={ann}", f"image_dir={tmp_path / 'coco' / 'val2017'}",
        "joint_set=coco17", "multi_person=true", "pairwise_predict=true",
        f"pairwise_stats_fn={tmp_path / 'stats.npz'}", "min_joints=1"])
    ckpt = _tiny_checkpoint(tmp_path, cfg)
    pairs = COCO17.pair_graph
    mn, mx, w = prior_pair_model()
    k = len(pairs)
    SpatialModel(pairs, np.tile(mn, (k, 1)), np.tile(mx, (k, 1)), np.tile(w, (k, 1))).save(
        tmp_path / "spatial.npz")
    out = tmp_path / "coco_pred.json"
    assert main(["--ckpt", str(ckpt), "--spatial-model", str(tmp_path / "spatial.npz"),
                 "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert isinstance(results, list)
    for r in results:
        assert r["category_id"] == 1 and len(r["keypoints"]) == 51 and r["image_id"] in (1, 2)
    stats = evaluate_coco(ann, results)
    assert 0.0 <= stats["AP"] <= 1.0
    # without a spatial model: a clear error
    assert main(["--ckpt", str(ckpt), "--out", str(tmp_path / "y.json")]) == 2


@pytest.mark.slow
def test_locref_helps_on_a_learned_model(ms_cwd):
    """Train a tiny net for 150 steps on 16 fixed synthetic images (~1-2 min on a CPU):
    decoding its own maps with locref beats the cell centres (PCKh on those images)."""
    ms = ms_cwd
    from arttrack.data.pipeline import MEAN_PIXEL, pad_batch
    from arttrack.data.synthetic import SyntheticPoseDataset
    from arttrack.eval.pckh import compute_pckh
    from arttrack.models.factory import build_codec, build_model
    from arttrack.inference import Predictor
    from arttrack.training.trainer import build_train_cell

    steps = 150
    cfg = load_config(None, TINY + ["pos_dist_thresh=8", "weight_decay=0.0",
                                    f"multi_step=[[0.01, 30], [0.05, {steps}]]"])
    syn = SyntheticConfig(width=64, height=64, num_people=(1, 1), joint_set="mpii14",
                          person_height=(0.8, 0.95))
    ds = SyntheticPoseDataset(seed=5, size=16, config=syn)
    people = []
    samples = []
    codec = build_codec(cfg)
    for i in range(len(ds)):
        scene = ds.scene(i)
        p = [q for q in scene.people if q.in_image][0]
        people.append((scene.image, p.keypoints("mpii14"), p.head_box()))
        t = codec.encode(p.keypoints("mpii14")[None], (64, 64))
        img = (scene.image.astype(np.float32) - np.asarray(MEAN_PIXEL, np.float32)).transpose(2, 0, 1)
        samples.append((img, t["scmap"], t["scmap_weights"], t["locref_map"].reshape(8, 8, -1),
                        t["locref_mask"].reshape(8, 8, -1)))
    batches = [[ms.Tensor(x) for x in pad_batch(samples[i:i + 8], codec)] for i in (0, 8)]
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        ms.set_seed(0)
        net = build_model(cfg, pretrained=False)
        cell = build_train_cell(cfg, net)
        cell.set_train(True)
        losses = [float(cell(*batches[s % 2]).asnumpy()) for s in range(steps)]
    finally:
        ms.set_context(mode=mode)
    assert losses[-1] < 0.5 * losses[0]
    pred = Predictor(net, codec, mode="graph")
    gt = np.stack([p[1] for p in people])
    hb = np.stack([p[2] for p in people])
    res = {}
    for use in (True, False):
        poses = np.stack(pred.predict_single_batch([p[0] for p in people], use_locref=use))
        res[use] = compute_pckh(poses[..., :2], gt[..., :2], gt[..., 2] > 0, hb)
    assert res[True].total > res[False].total + 10, (res[True].total, res[False].total)
    assert res[True].auc > res[False].auc


def test_ckpt_takes_a_model_name_or_folder(tmp_path, monkeypatch, capsys):
    """--ckpt NAME|DIR: the checkpoint a model folder's model.json names; a registered model
    that is not fetched is a usage error naming the fetch command."""
    import json

    from arttrack.cli import checkpoint_arg

    monkeypatch.setenv("ARTTRACK_HOME", str(tmp_path / "home"))
    d = tmp_path / "m"
    d.mkdir()
    (d / "net.ckpt").write_bytes(b"x")
    (d / "model.json").write_text(json.dumps({
        "name": "m", "format": 1, "task": "single-person", "joint_set": "mpii14", "sources": [],
        "licence": "test", "citation": "", "checkpoint": "net.ckpt"}))
    assert checkpoint_arg(str(d)) == str(d / "net.ckpt")
    assert checkpoint_arg(str(d / "net.ckpt")) == str(d / "net.ckpt")
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="fetch deepercut-mpii-resnet101"):
        checkpoint_arg("deepercut-mpii-resnet101")
    with pytest.raises(argparse.ArgumentTypeError, match="checkpoint not found: nope.ckpt"):
        checkpoint_arg("nope.ckpt")
    from arttrack.predict import main

    with pytest.raises(SystemExit) as e:
        main(["--ckpt", "deepercut-mpii-resnet101", "--out", str(tmp_path / "x.json")])
    assert e.value.code == 2
    assert "python -m arttrack.models fetch deepercut-mpii-resnet101" in capsys.readouterr().err
