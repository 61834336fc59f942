"""Import of the DeeperCut authors' TensorFlow models, checked against the authors' own code.

The fixtures in tests/data/deepercut/ were made once by
scripts/tf_fixtures/make_deepercut_fixtures.py, which runs the authors' pose-tensorflow
(``nnet/pose_net.py``, ``nnet/predict.py extract_cnn_output``,
``multiperson/detections.py``, ``multiperson/predict.py SpatialModel``) under TensorFlow
2.15 in a separate environment: a test-sized network with the authors' variable names and
random weights, its outputs on a real image (a NASA photograph, public domain) at its own
size and at an odd size, the authors' detections and spatial-model probabilities, and a
manifest of the full-size models' variables. See that folder's README.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import mindspore as ms
import numpy as np
import pytest
import scipy.io

from arttrack.convert import deepercut as dc
from arttrack.convert import tf as tfc
from arttrack.inference import Predictor, pad_image
from arttrack.io.tf_checkpoint import TensorInfo
from arttrack.joints import COCO17, pair_channel
from arttrack.postprocess import Peaks, SpatialModel, find_peaks, pairwise_terms

ms.set_device("CPU")
DATA = Path(__file__).parent / "data" / "deepercut"
PREFIX = DATA / "tiny-coco"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("coco") / "model.ckpt"
    report = tfc.import_tf_pose_model(PREFIX, out, pairwise_dir=DATA / "pairwise")
    return out, report


@pytest.fixture(scope="module")
def reference():
    with np.load(DATA / "reference.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def spatial_reference():
    with np.load(DATA / "spatial_reference.npz") as z:
        return {k: z[k] for k in z.files}


def _image():
    return cv2.cvtColor(cv2.imread(str(DATA / "astronaut.png")), cv2.COLOR_BGR2RGB)


def _close(ours: np.ndarray, theirs: np.ndarray, what: str, tol: float = 1e-4) -> None:
    """Within ``tol`` relative to the authors' map's range."""
    theirs = np.asarray(theirs, np.float64)
    rng = float(theirs.max() - theirs.min()) or 1.0
    err = float(np.abs(np.asarray(ours, np.float64) - theirs).max())
    assert err <= tol * rng, f"{what}: max error {err:.3g} > {tol} x range {rng:.3g}"


def test_import_report_and_config(imported):
    out, rep = imported
    assert rep["kind"] == "pose" and rep["joint_set"] == "coco17" and rep["num_joints"] == 17
    assert rep["heads"] == ["part", "locref", "pairwise", "part_interm"]
    assert rep["arch"] == "resnet_v1" and rep["depths"] == [2, 2, 12, 2] and rep["width"] == 1
    assert rep["converted"] == 303 and rep["ignored"] == []  # every variable placed
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.ckpt", "pairwise_stats.npz",
                                                           "spatial.npz"]
    from arttrack.models.checkpoint import load_checkpoint

    cfg = load_checkpoint(out).config
    assert (cfg.net_type, cfg.joint_set, cfg.dataset_type) == ("resnet_v1", "coco17", "coco")
    assert cfg.multi_person and cfg.pairwise_predict and cfg.intermediate_supervision
    assert (cfg.nms_radius, cfg.det_min_score, cfg.locref_stdev, cfg.stride) == (5, 0.2, 7.2801, 8.0)
    assert cfg.mean_pixel == (123.68, 116.779, 103.939) and cfg.output_stride == 16


@pytest.mark.parametrize("tag", ["own", "odd"])
def test_maps_equal_the_authors_network(imported, reference, tag):
    """Predictor.from_checkpoint + .maps on the real image (80 x 96) and on an odd-sized crop
    (57 x 73): part probabilities, location refinement (units of locref_stdev and pixels),
    de-normalised pairwise offsets and the intermediate head equal TensorFlow's."""
    out, _ = imported
    pred = Predictor.from_checkpoint(out, mode="graph")
    img = _image()
    if tag == "odd":
        y0, y1, x0, x1 = reference["odd_crop_y0_y1_x0_x1"]
        img = np.ascontiguousarray(img[y0:y1, x0:x1])
    m = pred.maps(img)
    h, w = m.part.shape[:2]
    assert (h, w) == (-(-img.shape[0] // 8), -(-img.shape[1] // 8))
    _close(m.part, reference[f"{tag}_part_prob"][0, :h, :w], "part_prob")
    _close(m.locref.reshape(h, w, 34), reference[f"{tag}_locref"][0, :h, :w], "locref")
    _close(m.locref * 7.2801, reference[f"{tag}_locref_px"][:h, :w], "locref px")
    # extract_cnn_output: raw * std + mean per graph pair of the authors' stats file
    raw = reference[f"{tag}_pairwise_pred"][0].reshape(*reference[f"{tag}_pairwise_pred"].shape[1:3], -1, 2)
    mat = scipy.io.loadmat(DATA / "pairwise" / "pairwise_stats.mat")
    want = raw.copy()
    for (a, b), mean, std in zip(mat["graph"], mat["means"], mat["std_devs"]):
        c = pair_channel(int(a), int(b), 17)
        want[:, :, c] = (want[:, :, c] * std.astype(np.float32)) + mean.astype(np.float32)
    if tag == "own":
        np.testing.assert_array_equal(want, reference["own_pairwise_diff"])  # the recipe is theirs
    _close(m.pairwise, want[:h, :w], "pairwise px")
    # the intermediate head, straight from the network
    x = pad_image(img, pred.multiple, pred.mean_pixel)[None]
    outs = dict(zip(pred.net.output_names, pred.net(ms.Tensor(x))))
    _close(outs["part_interm"].asnumpy()[0].transpose(1, 2, 0), reference[f"{tag}_part_pred_interm"][0],
           "intermediate head")


def _authors_detections(sr: dict, tag: str) -> Peaks:
    width = {"own": 12, "odd": 10}[tag]
    cell = sr[f"{tag}_det_cell"]
    return Peaks(part=sr[f"{tag}_det_joint"].astype(np.int32),
                 xy=sr[f"{tag}_det_coord"].astype(np.float32),
                 score=sr[f"{tag}_det_conf"].astype(np.float32),
                 cell=np.stack([cell // width, cell % width], axis=1).astype(np.int32))


def test_peaks_equal_the_authors_detections(reference, spatial_reference):
    """arttrack's find_peaks (greedy NMS in a disk, locref) on the authors' score map finds
    the authors' nms_grid detections, in the same order, at the same positions."""
    scmap = reference["own_part_prob"][0]
    peaks = find_peaks(np.ascontiguousarray(scmap),
                       np.ascontiguousarray(reference["own_locref_px"] / 7.2801, np.float32),
                       stride=8.0, nms_radius=5, min_score=0.2, locref_stdev=7.2801)
    theirs = _authors_detections(spatial_reference, "own")
    np.testing.assert_array_equal(peaks.part, theirs.part)
    np.testing.assert_array_equal(peaks.cell, theirs.cell)
    np.testing.assert_allclose(peaks.xy, theirs.xy, atol=1e-4)
    np.testing.assert_allclose(peaks.score, theirs.score, rtol=1e-6)


def _pair_probs(terms, peaks: Peaks, sr: dict, tag: str, key: str):
    """(ours, theirs) over every edge the authors evaluated, matched by detection indices."""
    joint = peaks.part
    starts = {j: int(np.flatnonzero(joint == j)[0]) for j in np.unique(joint)}
    ours = {}
    for (i, j), p in zip(terms.edges.tolist(), terms.prob.tolist()):
        ours[(i, j)] = p
    got, want = [], []
    offsets = sr[f"{tag}_pair_offsets"]
    for k, (a, b) in enumerate(sr[f"{tag}_pairs"]):
        for e in range(offsets[k], offsets[k + 1]):
            u, v = sr[f"{tag}_ptidx"][e]
            i, j = starts[a] + int(u), starts[b] + int(v)
            got.append(ours[(min(i, j), max(i, j))])
            want.append(sr[f"{tag}_prob_{key}"][e])
    return np.array(got), np.array(want)


def test_spatial_model_gives_the_authors_probabilities(imported, reference, spatial_reference):
    """The imported .mat models on the authors' detections and pairwise map: every
    probability of their SpatialModel.eval (40 sparse pairs and the 17 same-joint ones)."""
    out, _ = imported
    sm = SpatialModel.load(out.parent / "spatial.npz")
    assert sm.origin == "cell_centre" and sm.num_pairs == 40
    assert [tuple(p) for p in sm.pairs.tolist()] == list(tfc.AUTHORS_SPARSE_GRAPH_COCO)
    peaks = _authors_detections(spatial_reference, "own")
    terms = pairwise_terms(peaks, np.ascontiguousarray(reference["own_pairwise_diff"]), sm, stride=8.0)
    got, want = _pair_probs(terms, peaks, spatial_reference, "own", "tf_order")
    assert len(want) == 907
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    # measured from the detections' positions instead, they would not be the authors'
    moved = SpatialModel(sm.pairs, sm.feat_min, sm.feat_max, sm.weights, origin="position")
    got2, _ = _pair_probs(pairwise_terms(peaks, np.ascontiguousarray(reference["own_pairwise_diff"]),
                                         moved), peaks, spatial_reference, "own", "tf_order")
    assert np.abs(got2 - want).max() > 1e-2


def test_graph_pair_order(tmp_path, reference, spatial_reference):
    """tensorflow_pairwise_order false: channel r holds the pair of the (1-based) graph row r.
    With the rows in save_stats order it is arttrack's order (and the authors' probabilities
    equal the true-order ones); with the rows shuffled, the permutation follows the rows."""
    one = DATA / "pairwise" / "pairwise_stats_1based.mat"
    order = dc.pairwise_channel_order(one, 17, tensorflow_pairwise_order=False)
    np.testing.assert_array_equal(order, np.arange(272))
    np.testing.assert_array_equal(spatial_reference["own_prob_graph_1based"],
                                  spatial_reference["own_prob_tf_order"])
    mat = scipy.io.loadmat(one)
    perm = np.random.default_rng(0).permutation(272)
    shuffled = tmp_path / "shuffled.mat"
    scipy.io.savemat(shuffled, {"graph": mat["graph"][perm], "means": mat["means"][perm],
                                "std_devs": mat["std_devs"][perm]})
    order = dc.pairwise_channel_order(shuffled, 17, tensorflow_pairwise_order=False)
    for r, (a, b) in enumerate(mat["graph"][perm]):
        assert order[pair_channel(int(a) - 1, int(b) - 1, 17)] == r
    s1 = dc.load_deepercut_pairwise_stats(one, COCO17, tensorflow_pairwise_order=False)
    s2 = dc.load_deepercut_pairwise_stats(shuffled, COCO17, tensorflow_pairwise_order=False)
    np.testing.assert_array_equal(s1.mean, s2.mean)  # stats land in arttrack's order either way
    with pytest.raises(dc.DeeperCutFormatError, match="1-based"):
        dc.load_deepercut_pairwise_stats(one, COCO17)  # 17 is no 0-based joint of COCO


def test_manifest_of_the_full_size_models_is_placed_in_full():
    """Every variable of the authors' full-size COCO and MPII models and of TF-slim's
    ImageNet ResNet-50/101 finds its arttrack parameter, with the right shape."""
    graphs = json.loads((DATA / "manifest.json").read_text())["graphs"]
    expect = {"coco_resnet_v1_101_pose": ("pose", "resnet_v1_101", "coco17", 4),
              "mpii_resnet_v1_101_pose": ("pose", "resnet_v1_101", "mpii14", 3),
              "imagenet_resnet_v1_50": ("imagenet", "resnet_v1_50", None, 0),
              "imagenet_resnet_v1_101": ("imagenet", "resnet_v1_101", None, 0)}
    for key, (kind, arch, joints, heads) in expect.items():
        variables = {n: TensorInfo(n, np.dtype(d), tuple(s)) for n, s, d in graphs[key]}
        info = tfc.inspect_tf_model(variables, source=key)
        assert (info.kind, info.arch) == (kind, arch), key
        if kind == "pose":
            cfg = tfc.pose_model_config(info, source=key)
            assert cfg.joint_set == joints
            net = tfc._build_net(cfg)
            assert len(net.output_names) == heads
            plan = tfc.plan_import(net, info, variables, source=key)
        else:
            from arttrack.models import create_model

            net = create_model(arch, num_joints=1)
            plan = tfc.plan_import(net, info, variables, source=key, heads=False)
        placed = {t for _, t, _ in plan}
        left = set(variables) - placed - set(info.ignored)
        assert not left, (key, sorted(left)[:3])
        assert len(plan) == len([p for p in net.get_parameters()
                                 if kind == "pose" or p.name.startswith("backbone.")])


def test_imagenet_v1_backbone_equals_tf_slim(tmp_path):
    """TF-slim's V1 ImageNet checkpoint (a test-sized resnet_v1_50) converts to what
    init_weights takes, and the backbone's block4 features equal TF-slim's."""
    out = tmp_path / "r50.ckpt"
    rep = tfc.import_tf_backbone(DATA / "tiny_imagenet_v1.ckpt", out, output_stride=32)
    assert rep["kind"] == "backbone" and rep["tf_scope"] == "resnet_v1_50"
    assert sorted(rep["ignored"]) == ["resnet_v1_50/logits/biases", "resnet_v1_50/logits/weights"]
    from arttrack.models import create_model

    net = create_model("resnet_v1", depths=rep["backbone"]["depths"], width=rep["backbone"]["width"],
                       num_joints=3, output_stride=32, pretrained=out)
    with np.load(DATA / "tiny_imagenet_reference.npz") as z:
        block4, mean = z["block4"], z["input_mean"]
    x = pad_image(_image(), 1, mean)[None]
    feat = net.backbone(ms.Tensor(x)).asnumpy()[0].transpose(1, 2, 0)
    _close(feat, block4[0], "block4")


# ----------------------------------------------------------------------------- bad input
def test_inspect_rejects_what_it_cannot_place():
    def var(n, s):
        return TensorInfo(n, np.dtype("float32"), s)

    base = {"resnet_v1_50/conv1/weights": var("resnet_v1_50/conv1/weights", (7, 7, 3, 64))}
    for b in (1, 2, 3, 4):
        n = f"resnet_v1_50/block{b}/unit_1/bottleneck_v1/conv1/weights"
        base[n] = var(n, (1, 1, 64, 64))
    odd = dict(base, **{"pose/part_pred/block4/weights": var("p", (3, 3, 5, 256))})
    info = tfc.inspect_tf_model(odd, source="x")
    with pytest.raises(tfc.TFImportError, match="unknown head sizes: the part head has 5 channels"):
        tfc.pose_model_config(info, source="x")
    with pytest.raises(tfc.TFImportError, match="neither pose heads"):
        tfc.inspect_tf_model(base, source="x")
    with pytest.raises(tfc.TFImportError, match="not a TF-slim resnet_v1"):
        tfc.inspect_tf_model({"foo/bar": var("foo/bar", (1,))}, source="x")


def _cli(*args) -> int:
    from arttrack.convert import main

    return main([str(a) for a in args])


def test_cli_imports_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "m" / "model.ckpt"
    # the pairwise folder beside the checkpoint is found as the authors' script leaves it
    src = tmp_path / "src"
    shutil.copytree(DATA / "pairwise", src / "pairwise")
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(str(PREFIX) + suffix, str(src / "coco") + suffix)
    assert _cli("tf", src / "coco", "--out", out) == 0
    msg = capsys.readouterr().out
    assert "coco17" in msg and "spatial.npz" in msg and "python -m arttrack.multiperson" in msg
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.ckpt", "pairwise_stats.npz",
                                                           "spatial.npz"]

    def refused(*args, words):
        dest = tmp_path / "bad" / "model.ckpt"
        rc = _cli(*args, "--out", dest)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and err[0].startswith("arttrack.convert: error:"), err
        for w in words:
            assert w in err[0], err[0]
        assert not dest.parent.exists() or not any(dest.parent.iterdir())

    # truncated .data
    cut = tmp_path / "cut"
    cut.mkdir()
    shutil.copy(str(PREFIX) + ".index", cut / "coco.index")
    data = Path(str(PREFIX) + ".data-00000-of-00001").read_bytes()
    (cut / "coco.data-00000-of-00001").write_bytes(data[: len(data) // 2])
    refused("tf", cut / "coco", "--pairwise-dir", DATA / "pairwise", words=["truncated"])
    # the .index of another checkpoint beside this one's data
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "tf_checkpoint" / "v2" / "model.ckpt.index",
                other / "coco.index")
    shutil.copy(str(PREFIX) + ".data-00000-of-00001", other / "coco.data-00000-of-00001")
    refused("tf", other / "coco", words=["coco"])
    # no pairwise folder for a model with a pairwise head
    lone = tmp_path / "lone"
    lone.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(str(PREFIX) + suffix, str(lone / "coco") + suffix)
    refused("tf", lone / "coco", words=["pairwise head", "pairwise/"])
    # a spatial model .mat missing a field
    bad = tmp_path / "badmat"
    shutil.copytree(DATA / "pairwise", bad)
    scipy.io.savemat(bad / "spatial_model_cidx_1_2.mat", {"spatial_model": {"training_opts": {"X_min": np.zeros((1, 8))}}})
    refused("tf", PREFIX, "--pairwise-dir", bad, words=["spatial_model_cidx_1_2.mat",
                                                        "spatial_model.log_reg.w"])
    # a head size that fits no joint set named
    refused("tf", PREFIX, "--pairwise-dir", DATA / "pairwise", "--joint-set", "mpii14",
            words=["17 channels", "mpii14 has 14 joints"])


# ----------------------------------------------------------------------------- training
def test_imagenet_v1_weights_install_from_dir_and_train(tmp_path):
    """The registry's TF-slim ImageNet entry installed from files downloaded by hand
    (``fetch --from``, the real converter), named in the config's init_weights, and a few
    training steps of the slim ResNet from it: the run starts from the converted weights
    (frozen batch-norm statistics are exactly TF-slim's) and trains (convolutions move)."""
    import os
    import subprocess
    import sys

    from arttrack.models import checkpoint as ck
    from arttrack.io.tf_checkpoint import read_tf_checkpoint
    from arttrack.models import zoo

    home = tmp_path / "home"
    env = dict(os.environ, ARTTRACK_HOME=str(home), GLOG_v="2")
    hand = tmp_path / "by_hand"
    hand.mkdir()
    shutil.copy(DATA / "tiny_imagenet_v1.ckpt", hand / "resnet_v1_50.ckpt")  # as tar leaves it
    os.environ["ARTTRACK_HOME"] = str(home)
    try:
        folder = zoo.fetch("imagenet-resnet_v1_50", from_dir=hand, progress=False)
    finally:
        del os.environ["ARTTRACK_HOME"]
    doc = zoo.read_model_json(folder)
    assert doc["init_weights"] == "backbone.ckpt" and doc["trained_on"] == "imagenet"

    repo = Path(__file__).resolve().parents[1]
    sets = {"net_type": "resnet_v1", "depths": "[2,2,12,2]", "width": "1",
            "init_weights": "imagenet-resnet_v1_50", "freeze_bn": "true",
            "synthetic_image_size": "[64,64]",
            "synthetic_size": "4", "batch_size": "2", "num_workers": "1", "mode": "graph",
            "display_iters": "1", "save_iters": "1000", "multi_step": "[[0.005,3]]",
            "scale_jitter_lo": "0.9", "scale_jitter_up": "1.0",
            "snapshot_prefix": str(tmp_path / "out" / "snap")}
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    r = subprocess.run([sys.executable, "-m", "arttrack.train", "--config",
                        str(repo / "configs" / "synthetic_tiny.yaml"), "--quiet", *args],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    losses = [float(x) for x in __import__("re").findall(r"loss ([0-9.eE+-]+)", r.stderr)]
    assert len(losses) == 3 and all(np.isfinite(losses))
    trained = {k: v.asnumpy() for k, v in ck.load_checkpoint(tmp_path / "out" / "snap-3.ckpt").params.items()}
    tf = read_tf_checkpoint(DATA / "tiny_imagenet_v1.ckpt")
    bn = "resnet_v1_50/block3/unit_7/bottleneck_v1/conv2/BatchNorm/moving_mean"
    np.testing.assert_array_equal(trained["network.backbone.block3.units.6.conv2_bn.moving_mean"], tf[bn])
    w0 = np.transpose(tf["resnet_v1_50/block2/unit_1/bottleneck_v1/conv1/weights"], (3, 2, 0, 1))
    w3 = trained["network.backbone.block2.units.0.conv1.weight"]
    assert w3.shape == w0.shape and 0 < np.abs(w3 - w0).max() < 0.5 * np.abs(w0).max()

    # not fetched: the config error names the command that fetches it
    r = subprocess.run([sys.executable, "-m", "arttrack.train", "--config",
                        str(repo / "configs" / "synthetic_tiny.yaml"), "--quiet", *args,
                        "--set", "init_weights=imagenet-resnet_v1_101"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "python -m arttrack.models fetch imagenet-resnet_v1_101" in r.stderr
