# SPDX-License-Identifier: Apache-2.0
"""Reference outputs of the authors' DeeperCut code (eldar/pose-tensorflow) for import tests.

This script contains none of the authors' code: it imports their modules at run time from a
work tree of https://github.com/eldar/pose-tensorflow and runs them unchanged, on random
weights, under TensorFlow 2 through ``tf.compat.v1`` plus small module shims
(``tensorflow`` -> ``tf.compat.v1``, ``tensorflow.contrib.slim`` -> ``tf_slim``,
``scipy.misc.imread`` stub, ``multicut`` stub; the multicut solver is not used).

What it writes (see tests/data/deepercut/README.md for the details):

* ``<out>/tiny-coco.{index,data-00000-of-00001}``  test-sized COCO pose model (V2) built by
  the authors' ``PoseNet`` with the real variable names (``resnet_v1_101/...``, ``pose/...``)
  but tiny ResNet blocks;
* ``<out>/astronaut.png``, ``<out>/reference.npz``  raw network outputs and
  ``nnet.predict.extract_cnn_output`` results at two input sizes;
* ``<out>/pairwise/``  ``pairwise_stats.mat`` written by the authors' ``save_stats`` and
  ``spatial_model_cidx_<a>_<b>.mat`` files readable by ``multiperson.predict.SpatialModel``;
* ``<out>/spatial_reference.npz``  ``extract_detections`` + ``SpatialModel.eval`` results;
* ``<out>/tiny_imagenet_v1.ckpt`` + ``tiny_imagenet_reference.npz``  a tiny slim ImageNet
  classifier in the V1 checkpoint format and its outputs;
* ``<out>/manifest.json``  variable names/shapes/dtypes of the full-size graphs;
* ``--fullsize DIR`` (optional, large, not committed): full-size random COCO ResNet-101 pose
  checkpoint and its reference outputs, and a full-size V1 ``resnet_v1_50`` ImageNet checkpoint.

Set-up (CPU only, no network access needed beyond the package index)::

    python3.11 -m venv /work/tfenv/venv
    /work/tfenv/venv/bin/pip install tensorflow-cpu==2.15.1 tf-slim==1.1.0 numpy==1.26.4 \
        scipy pillow easydict pyyaml cython setuptools scikit-image
    /work/tfenv/venv/bin/pip install --no-deps tf-keras==2.15.1  # tf_slim.batch_norm needs it
    mkdir -p /work/ref/pose-tensorflow
    git --git-dir=<pose-tensorflow bare repo> archive HEAD | tar -x -C /work/ref/pose-tensorflow
    cd /work/ref/pose-tensorflow/lib/nms_cython
    # modern g++ needs <array>; the authors' sources are left unchanged
    CFLAGS="-include array" /work/tfenv/venv/bin/python setup.py build_ext --inplace

Run::

    /work/tfenv/venv/bin/python scripts/tf_fixtures/make_deepercut_fixtures.py \
        --pose-tensorflow /work/ref/pose-tensorflow --out tests/data/deepercut \
        --fullsize /work/ref/fullsize
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.metadata
import io
import json
import os
import re
import sys
import tempfile
import types
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SEED = 20161128

# COCO sparse graph of demo/pose_cfg_multi.yaml is read from the work tree at run time.
NUM_JOINTS_COCO = 17
NUM_JOINTS_MPII = 14

# Astronaut crops: (y0, y1, x0, x1) in the 512x512 original, then output (width, height).
TINY_CROP = (0, 400, 0, 480)
TINY_SIZE = (96, 80)
# Odd-sized input: a crop (no resize) of the tiny image: rows, cols.
ODD_CROP = (12, 69, 11, 84)  # -> 57 high x 73 wide (odd sizes at 3 stages, 8x10 grid)
FULL_SIZES = {
    "s320x240": ((0, 384, 0, 512), (320, 240)),
    "s333x251": ((0, 386, 0, 512), (333, 251)),
}
MEAN_PIXEL = [123.68, 116.779, 103.939]


# --------------------------------------------------------------------------------------------
# Shims that let the authors' TF1 code import unchanged
# --------------------------------------------------------------------------------------------

def install_shims(pose_tf_dir: Path):
    """Import the authors' modules with TF1-era module names mapped to their TF2 equivalents."""
    import tensorflow.compat.v1 as tf1  # also loads the tensorflow.python.* submodules
    import tf_slim
    import tf_slim.nets
    from tf_slim.nets import resnet_v1

    tf1.disable_v2_behavior()
    # TF 2.15.1's tf.layers batch norm (used by tf_slim.batch_norm) lazily imports
    # ``tf_keras.legacy_tf_layers.normalization``; tf-keras 2.15.1 ships it under ``src``.
    try:
        import tf_keras.legacy_tf_layers  # noqa: F401
    except ImportError:
        import tf_keras.src.legacy_tf_layers as legacy_layers
        sys.modules["tf_keras.legacy_tf_layers"] = legacy_layers

    shim_tf = types.ModuleType("tensorflow")
    shim_tf.__dict__["__getattr__"] = lambda name: getattr(tf1, name)
    contrib = types.ModuleType("tensorflow.contrib")
    contrib.slim = tf_slim
    contrib.losses = tf1.losses
    shim_tf.contrib = contrib

    misc = types.ModuleType("scipy.misc")

    def _no_image_io(*args, **kwargs):
        raise NotImplementedError("scipy.misc image I/O is not available (not needed here)")

    misc.imread = misc.imresize = misc.imsave = _no_image_io

    multicut = types.ModuleType("multicut")
    multicut.solve_nl_lmp = _no_image_io

    aliases = {
        "tensorflow": shim_tf,
        "tensorflow.contrib": contrib,
        "tensorflow.contrib.slim": tf_slim,
        "tensorflow.contrib.slim.nets": tf_slim.nets,
        "tensorflow.contrib.slim.nets.resnet_v1": resnet_v1,
        "tensorflow.contrib.losses": tf1.losses,
        "scipy.misc": misc,
        "multicut": multicut,
    }
    saved = {name: sys.modules.get(name) for name in aliases}
    sys.modules.update(aliases)
    sys.path.insert(0, str(pose_tf_dir))
    try:
        import util.default_config as default_config
        import nnet.pose_net as pose_net
        import nnet.predict as predict
        import dataset.pose_dataset as pose_dataset
        import multiperson.detections as detections
        import multiperson.predict as mp_predict
        import pairwise_stats as pairwise_stats_mod
        import train as train_mod
        from nms_grid import nms_grid
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
    return types.SimpleNamespace(
        tf=tf1, slim=tf_slim, resnet_v1=resnet_v1, default_config=default_config,
        pose_net=pose_net, predict=predict, pose_dataset=pose_dataset, detections=detections,
        mp_predict=mp_predict, pairwise_stats=pairwise_stats_mod, train=train_mod,
        nms_grid=nms_grid)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def tiny_blocks(resnet_v1):
    b = resnet_v1.resnet_v1_block
    return [b("block1", base_depth=1, num_units=2, stride=2),
            b("block2", base_depth=2, num_units=2, stride=2),
            b("block3", base_depth=4, num_units=12, stride=2),
            b("block4", base_depth=8, num_units=2, stride=1)]


def make_tiny_net(resnet_v1, scope):
    def net(inputs, num_classes=None, is_training=True, global_pool=True, output_stride=None,
            reuse=None, **_):
        return resnet_v1.resnet_v1(inputs, tiny_blocks(resnet_v1), num_classes=num_classes,
                                   is_training=is_training, global_pool=global_pool,
                                   output_stride=output_stride, include_root_block=True,
                                   reuse=reuse, scope=scope)
    return net


@contextlib.contextmanager
def tiny_backbone(A):
    """Temporarily replace PoseNet's resnet_101 by the tiny net (same scope name)."""
    old = A.pose_net.net_funcs["resnet_101"]
    A.pose_net.net_funcs["resnet_101"] = make_tiny_net(A.resnet_v1, "resnet_v1_101")
    try:
        yield
    finally:
        A.pose_net.net_funcs["resnet_101"] = old


def pose_cfg(A, num_joints=NUM_JOINTS_COCO, pairwise=True, init_weights=""):
    cfg = copy.deepcopy(A.default_config.cfg)
    cfg.net_type = "resnet_101"
    cfg.num_joints = num_joints
    cfg.location_refinement = True
    cfg.pairwise_predict = pairwise
    cfg.intermediate_supervision = True
    cfg.intermediate_supervision_layer = 12
    cfg.locref_stdev = 7.2801
    cfg.tensorflow_pairwise_order = True
    cfg.init_weights = init_weights
    return cfg


# Random weights.  The distributions of the brief keep activations O(1) only with two scalings:
# the root conv sees pixels minus the mean (|x| up to ~128), so its weights are divided by
# ROOT_INPUT_SCALE, and the last conv of every residual branch (conv3) is multiplied by
# RESIDUAL_SCALE: random BN moving statistics do not normalise, so without it the residual
# stream grows ~1.5x per unit (1e5 after resnet_v1_101's block3).
ROOT_INPUT_SCALE = 64.0
RESIDUAL_SCALE = 0.2
HEAD_STD = 0.05  # for a 32-channel block4 (tiny); scaled by sqrt(32 / channels) otherwise
PART_PRED_BIAS_OFFSET = -1.0  # spreads part_prob below/above det_min_score


def random_value(name: str, shape, head_std=HEAD_STD, head_bias=None):
    """Deterministic per-variable random values (independent of creation order)."""
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    op_name = name.split(":")[0]
    leaf = op_name.rsplit("/", 1)[-1]
    is_head = op_name.startswith("pose/")
    shape = tuple(int(s) for s in shape)
    if leaf == "gamma":
        v = rng.uniform(0.5, 1.5, shape)
    elif leaf == "beta":
        v = rng.normal(0.0, 0.1, shape)
    elif leaf == "moving_mean":
        v = rng.normal(0.0, 0.1, shape)
    elif leaf == "moving_variance":
        v = rng.uniform(0.5, 2.0, shape)
    elif leaf == "weights":
        if is_head:
            v = rng.normal(0.0, head_std, shape)
        else:  # conv2d [kh, kw, in, out]
            fan_in = int(np.prod(shape[:-1]))
            v = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
            if re.fullmatch(r"resnet_v1_\d+/conv1/weights", op_name):
                v = v / ROOT_INPUT_SCALE
            elif op_name.endswith("/bottleneck_v1/conv3/weights"):
                v = v * RESIDUAL_SCALE
    elif leaf == "biases":
        v = rng.normal(0.0, 0.1, shape)
        for key, offset in (head_bias or {}).items():
            if op_name.startswith(key + "/"):
                v = v + offset
    else:
        raise ValueError(f"no random rule for variable {name}")
    return v.astype(np.float32)


def randomize_variables(tf, sess, **kwargs):
    for var in tf.global_variables():
        value = random_value(var.name, var.shape, **kwargs)
        var.load(value, sess)


def save_checkpoint(tf, sess, prefix: Path, v1=False):
    version = tf.train.SaverDef.V1 if v1 else tf.train.SaverDef.V2
    saver = tf.train.Saver(tf.global_variables(), write_version=version)
    saver.save(sess, str(prefix), write_meta_graph=False, write_state=False)


def variables_manifest(tf):
    return [{"name": v.op.name, "shape": [int(s) for s in v.shape],
             "dtype": v.dtype.base_dtype.name} for v in tf.global_variables()]


def crop_resize(original, crop, size):
    from PIL import Image
    y0, y1, x0, x1 = crop
    img = Image.fromarray(original[y0:y1, x0:x1])
    return np.asarray(img.resize(size, Image.BILINEAR), dtype=np.uint8)


# --------------------------------------------------------------------------------------------
# Pose model: build, randomize, save, run
# --------------------------------------------------------------------------------------------

def build_pose_checkpoint(A, cfg, prefix: Path, tiny: bool):
    """Builds the authors' test graph, fills it with random values and saves it (V2)."""
    tf = A.tf
    ctx = tiny_backbone(A) if tiny else contextlib.nullcontext()
    with ctx, tf.Graph().as_default():
        inputs = tf.placeholder(tf.float32, shape=[cfg.batch_size, None, None, 3])
        A.pose_net.PoseNet(cfg).test(inputs)
        block4 = tf.get_default_graph().get_tensor_by_name(
            "resnet_v1_101/block4/unit_2/bottleneck_v1/Relu:0")
        head_std = HEAD_STD * np.sqrt(32.0 / int(block4.shape[-1]))
        with tf.Session() as sess:
            randomize_variables(tf, sess, head_std=head_std,
                                head_bias={"pose/part_pred": PART_PRED_BIAS_OFFSET})
            save_checkpoint(tf, sess, prefix)
        return float(head_std)


def run_pose_reference(A, cfg, images: dict, pairwise_stats):
    """Runs the authors' setup_pose_prediction + extract_cnn_output on each image."""
    tf = A.tf
    result = {}
    with tf.Graph().as_default():
        sess, inputs, outputs = A.predict.setup_pose_prediction(cfg)
        graph = tf.get_default_graph()
        extra = {
            "part_pred": outputs["part_prob"].op.inputs[0],
            "part_pred_interm": graph.get_tensor_by_name(
                "pose/intermediate_supervision/block4/BiasAdd:0"),
        }
        assert extra["part_pred"].name == "pose/part_pred/block4/BiasAdd:0", extra["part_pred"]
        for tag, image in images.items():
            batch = A.pose_dataset.data_to_input(image)
            outputs_np, extra_np = sess.run([outputs, extra], feed_dict={inputs: batch})
            raw = {k: np.array(v, dtype=np.float32, copy=True) for k, v in outputs_np.items()}
            raw.update({k: np.asarray(v, dtype=np.float32) for k, v in extra_np.items()})
            # extract_cnn_output scales locref / pairwise in place: give it its own copy.
            scmap, locref, pairwise_diff = A.predict.extract_cnn_output(
                {k: v.copy() for k, v in outputs_np.items()}, cfg, pairwise_stats)
            result[tag] = dict(raw, scmap=scmap, locref_px=locref, pairwise_diff=pairwise_diff)
        sess.close()
    return result


# --------------------------------------------------------------------------------------------
# Pairwise statistics and spatial models
# --------------------------------------------------------------------------------------------

def make_pairwise_stats(num_joints, rng):
    """Plausible stats: mean(b->a) = -mean(a->b), std symmetric."""
    stats = {}
    for a in range(num_joints):
        for b in range(a + 1, num_joints):
            mean = rng.uniform(-60.0, 60.0, 2)
            std = rng.uniform(10.0, 40.0, 2)
            stats[(a, b)] = {"mean": mean, "std": std}
            stats[(b, a)] = {"mean": -mean, "std": std.copy()}
    return stats


def write_pairwise_stats(A, stats, num_joints, path: Path):
    """Writes the file with the authors' own pairwise_stats.save_stats."""
    cfg = types.SimpleNamespace(num_joints=num_joints, pairwise_stats_fn=str(path))
    with contextlib.redirect_stdout(io.StringIO()):
        A.pairwise_stats.save_stats(stats, cfg)


def spatial_model_struct(rng):
    """A spatial model as MATLAB would save it: struct spatial_model with sub-structs
    training_opts (X_min, X_max: 1x8 double row vectors) and log_reg (w: 1x9 double row
    vector, last entry = bias).  Features: [dist_fwd, angle_fwd, dist_bwd, angle_bwd,
    exp(-dist_fwd), exp(-angle_fwd), exp(-dist_bwd), exp(-angle_bwd)]."""
    d_min = rng.uniform(0.05, 1.0, 2)
    d_max = rng.uniform(150.0, 400.0, 2)
    a_min = rng.uniform(0.0, 1e-3, 2)
    a_max = np.pi - rng.uniform(0.0, 1e-3, 2)
    x_min = np.array([d_min[0], a_min[0], d_min[1], a_min[1],
                      np.exp(-d_max[0]), np.exp(-a_max[0]), np.exp(-d_max[1]), np.exp(-a_max[1])])
    x_max = np.array([d_max[0], a_max[0], d_max[1], a_max[1],
                      np.exp(-d_min[0]), np.exp(-a_min[0]), np.exp(-d_min[1]), np.exp(-a_min[1])])
    w = np.concatenate([
        [-rng.uniform(6.0, 12.0), -rng.uniform(1.0, 3.0), -rng.uniform(6.0, 12.0),
         -rng.uniform(1.0, 3.0)],
        rng.uniform(-1.0, 1.0, 4) * [1.0, 1.5, 1.0, 1.5],
        [rng.uniform(2.5, 4.5)],
    ])
    return {"spatial_model": {
        "training_opts": {"X_min": x_min.reshape(1, 8), "X_max": x_max.reshape(1, 8)},
        "log_reg": {"w": w.reshape(1, 9)},
    }}


def write_spatial_models(sparse_graph, out_dir: Path, rng):
    import scipy.io as sio
    for a, b in sparse_graph:
        assert a < b
        sio.savemat(out_dir / f"spatial_model_cidx_{a + 1}_{b + 1}.mat", spatial_model_struct(rng),
                    do_compression=True)


def check_spatial_models(A, cfg, sparse_graph, out_dir: Path):
    """Loads the files back with the authors' SpatialModel.load and checks shapes/values."""
    import scipy.io as sio
    sm = A.mp_predict.SpatialModel(cfg)
    sm.load()
    for a, b in sparse_graph:
        raw = sio.loadmat(out_dir / f"spatial_model_cidx_{a + 1}_{b + 1}.mat")
        sm_struct = raw["spatial_model"]
        assert sm_struct.shape == (1, 1)
        assert sm.X_min[a][b].shape == (8,) and sm.X_max[a][b].shape == (8,)
        assert sm.w[a][b].shape == (9,), sm.w[a][b].shape
        topts = sm_struct["training_opts"][0, 0]
        log_reg = sm_struct["log_reg"][0, 0]
        assert topts["X_min"][0, 0].shape == (1, 8) and log_reg["w"][0, 0].shape == (1, 9)
        np.testing.assert_array_equal(sm.X_min[a][b], topts["X_min"][0, 0][0])
        np.testing.assert_array_equal(sm.X_max[a][b], topts["X_max"][0, 0][0])
        np.testing.assert_array_equal(sm.w[a][b], log_reg["w"][0, 0][0])
        assert (sm.X_max[a][b] > sm.X_min[a][b]).all()
    n_loaded = sum(w is not None for row in sm.w for w in row)
    assert n_loaded == len(sparse_graph), n_loaded
    return sm


def run_detections(A, cfg, maps):
    """The authors' extract_detections, plus each detection's flat cell index (iy * W + ix)
    from their nms_grid (the same call extract_detections makes)."""
    scmap, locref, pairwise_diff = maps["scmap"], maps["locref_px"], maps["pairwise_diff"]
    dets = A.detections.extract_detections(cfg, scmap, locref, pairwise_diff)
    dist_grid = A.detections.make_nms_grid(cfg.nms_radius)
    joint, cells = [], []
    for j in range(cfg.num_joints):
        c = np.asarray(A.nms_grid(np.ascontiguousarray(scmap[:, :, j]), dist_grid,
                                  cfg.det_min_score), dtype=np.int64)
        ix, iy = c % scmap.shape[1], c // scmap.shape[1]
        grid = np.stack([ix, iy], 1) * cfg.stride + 0.5 * cfg.stride
        np.testing.assert_array_equal(grid.reshape(-1, 2), dets.coord_grid[j])
        np.testing.assert_array_equal(scmap[iy, ix, j].reshape(-1, 1), dets.conf[j])
        np.testing.assert_array_equal(pairwise_diff[iy, ix], dets.pairwise[j])
        joint.append(np.full(len(c), j, np.int64))
        cells.append(c)
    out = {
        "det_joint": np.concatenate(joint),
        "det_cell": np.concatenate(cells),
        "det_coord": np.concatenate(dets.coord).reshape(-1, 2),
        "det_coord_grid": np.concatenate(dets.coord_grid).reshape(-1, 2),
        "det_conf": np.concatenate(dets.conf).reshape(-1),
    }
    return dets, out


def run_spatial(spatial_models: dict, dets, pairs):
    """SpatialModel.eval for every pair with each spatial model variant; probabilities are
    concatenated over pairs (NaN where the variant raised KeyError)."""
    offsets, ptidx_all, probs = [0], [], {name: [] for name in spatial_models}
    failed = {name: [] for name in spatial_models}
    for a, b in pairs:
        assert dets.coord[a].shape[0] > 0 and dets.coord[b].shape[0] > 0, (a, b)
        ptidx_ref = None
        for name, sm in spatial_models.items():
            try:
                prob, ptidx = sm.eval(a, b, dets)
            except KeyError as err:
                failed[name].append([a, b, f"KeyError {err}"])
                prob, ptidx = None, None
            if ptidx is not None:
                ptidx = np.asarray(ptidx, np.int64)
                if ptidx_ref is None:
                    ptidx_ref = ptidx
                np.testing.assert_array_equal(ptidx, ptidx_ref)
            probs[name].append(prob)
        ptidx_all.append(ptidx_ref)
        offsets.append(offsets[-1] + len(ptidx_ref))
    out = {"pairs": np.asarray(pairs, np.int64), "pair_offsets": np.asarray(offsets, np.int64),
           "ptidx": np.concatenate(ptidx_all)}
    for name, plist in probs.items():
        out[f"prob_{name}"] = np.concatenate([
            np.asarray(p, np.float64) if p is not None else np.full(offsets[i + 1] - offsets[i],
                                                                    np.nan)
            for i, p in enumerate(plist)])
    return out, failed


def check_column_w_breaks_loader(A, cfg, tmp: Path):
    """Documents the layout choice: a 9x1 (column) w loads as shape (1,) and eval fails."""
    import scipy.io as sio
    tmp.mkdir(parents=True, exist_ok=True)
    sm_dict = spatial_model_struct(np.random.default_rng(0))
    sm_dict["spatial_model"]["log_reg"]["w"] = sm_dict["spatial_model"]["log_reg"]["w"].T
    sio.savemat(tmp / "spatial_model_cidx_1_2.mat", sm_dict)
    c = copy.deepcopy(cfg)
    c.pairwise_model_dir = str(tmp)
    sm = A.mp_predict.SpatialModel(c)
    sm.load()
    try:
        np.ones((2, 9)).dot(sm.w[0][1])
        dot = "ok"
    except ValueError as err:
        dot = f"ValueError: {err}"
    return {"w_shape_after_load_if_column": list(sm.w[0][1].shape),
            "X_min_shape_after_load": list(sm.X_min[0][1].shape), "features_dot_w": dot}


# --------------------------------------------------------------------------------------------
# ImageNet classifiers
# --------------------------------------------------------------------------------------------

def imagenet_checkpoint(A, prefix: Path, net_fn, num_classes, image, scope):
    """Random slim ImageNet classifier saved in the V1 format, with reference outputs."""
    tf, slim = A.tf, A.slim
    with tf.Graph().as_default():
        inputs = tf.placeholder(tf.float32, [1, None, None, 3])
        with slim.arg_scope(A.resnet_v1.resnet_arg_scope()):
            logits_map, end_points = net_fn(inputs, num_classes=num_classes, is_training=False,
                                            global_pool=False, output_stride=None)
            logits, end_points_pooled = net_fn(inputs, num_classes=num_classes,
                                               is_training=False, global_pool=True,
                                               output_stride=None, reuse=True)
        block4 = end_points[f"{scope}/block4"]
        pool5 = logits.op.inputs[0].op.inputs[0]  # logits = BiasAdd(Conv2D(pool5))
        while pool5.op.type != "Mean":
            pool5 = pool5.op.inputs[0]
        manifest = variables_manifest(tf)
        with tf.Session() as sess:
            randomize_variables(tf, sess)
            save_checkpoint(tf, sess, prefix, v1=True)
        # Run from the restored checkpoint (round trip through the V1 reader).
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, str(prefix))
            x = image.astype(np.float32)[None] - np.asarray(MEAN_PIXEL, np.float32)
            b4, lm, p5, lg = sess.run([block4, logits_map, pool5, logits], {inputs: x})
    ref = {"input_mean": np.asarray(MEAN_PIXEL, np.float32), "block4": b4,
           "logits_map": lm, "pool5": p5, "logits": lg}
    return manifest, ref


# --------------------------------------------------------------------------------------------
# Manifest of the full-size graphs
# --------------------------------------------------------------------------------------------

def write_manifest(manifest, path: Path):
    """JSON with one variable per line: [name, shape, dtype]."""
    lines = ["{", f' "tensorflow_version": {json.dumps(manifest["tensorflow_version"])},',
             f' "tf_slim_version": {json.dumps(manifest["tf_slim_version"])},', ' "graphs": {']
    graphs = list(manifest["graphs"].items())
    for gi, (name, variables) in enumerate(graphs):
        lines.append(f"  {json.dumps(name)}: [")
        for vi, v in enumerate(variables):
            entry = json.dumps([v["name"], v["shape"], v["dtype"]])
            lines.append("   " + entry + ("," if vi + 1 < len(variables) else ""))
        lines.append("  ]" + ("," if gi + 1 < len(graphs) else ""))
    lines += [" }", "}"]
    path.write_text("\n".join(lines) + "\n")
    assert json.loads(path.read_text())["graphs"].keys() == manifest["graphs"].keys()


def full_manifest(A):
    tf = A.tf
    out = {}
    for key, num_joints, pairwise in (("coco_resnet_v1_101_pose", NUM_JOINTS_COCO, True),
                                      ("mpii_resnet_v1_101_pose", NUM_JOINTS_MPII, False)):
        cfg = pose_cfg(A, num_joints=num_joints, pairwise=pairwise)
        with tf.Graph().as_default():
            inputs = tf.placeholder(tf.float32, shape=[1, None, None, 3])
            A.pose_net.PoseNet(cfg).test(inputs)
            out[key] = variables_manifest(tf)
    for name in ("resnet_v1_50", "resnet_v1_101"):
        with tf.Graph().as_default():
            inputs = tf.placeholder(tf.float32, shape=[1, 224, 224, 3])
            with A.slim.arg_scope(A.resnet_v1.resnet_arg_scope()):
                getattr(A.resnet_v1, name)(inputs, num_classes=1000, is_training=True)
            out[f"imagenet_{name}"] = variables_manifest(tf)
    return out


# --------------------------------------------------------------------------------------------

def train_snapshot_check(A):
    """What a snapshot written by the authors' train.py holds: its Saver is created after
    PoseNet.train() but before get_optimizer(), so global_step and the Momentum slots that
    create_train_op adds later are not saved.  Checked on the tiny COCO graph."""
    tf = A.tf
    cfg = pose_cfg(A)
    with tiny_backbone(A), tf.Graph().as_default() as g:
        batch, _, _ = A.train.setup_preloading(A.pose_net.get_batch_spec(cfg))
        losses = A.pose_net.PoseNet(cfg).train(batch)
        saver = tf.train.Saver(max_to_keep=5)
        saved = sorted(n.decode() for n in tf.get_static_value(
            g.get_operation_by_name(saver.saver_def.save_tensor_name.split("/")[0] + "/SaveV2")
            .inputs[1]))
        A.train.get_optimizer(losses["total_loss"], cfg)
        all_vars = sorted(v.op.name for v in tf.global_variables())
    with tiny_backbone(A), tf.Graph().as_default():
        inputs = tf.placeholder(tf.float32, shape=[1, None, None, 3])
        A.pose_net.PoseNet(cfg).test(inputs)
        test_vars = sorted(v.op.name for v in tf.global_variables())
    extra = sorted(set(all_vars) - set(saved))
    return {"snapshot_vars_equal_test_graph_vars": saved == test_vars,
            "not_saved_after_optimizer": {"count": len(extra),
                                          "examples": [n for n in extra if "Momentum" not in n]
                                          + [n for n in extra if "Momentum" in n][:2]}}


def graph_facts(A):
    """Facts about the tf_slim graph that an importer must reproduce."""
    tf = A.tf
    cfg = pose_cfg(A)
    facts = {}
    with tiny_backbone(A), tf.Graph().as_default() as g:
        inputs = tf.placeholder(tf.float32, shape=[1, 80, 96, 3])
        A.pose_net.PoseNet(cfg).test(inputs)
        eps = sorted({round(float(op.get_attr("epsilon")), 10) for op in g.get_operations()
                      if op.type.startswith("FusedBatchNorm")})
        facts["batch_norm_epsilon"] = eps
        pool = g.get_operation_by_name("resnet_v1_101/pool1/MaxPool")
        facts["pool1"] = {"padding": pool.get_attr("padding").decode(),
                          "ksize": pool.get_attr("ksize"), "strides": pool.get_attr("strides")}
        convs = {}
        for op in g.get_operations():
            if op.type == "Conv2D" and op.name.startswith("resnet_v1_101/"):
                convs[op.name[:-len("/Conv2D")]] = {
                    "strides": op.get_attr("strides")[1],
                    "dilations": op.get_attr("dilations")[1],
                    "padding": op.get_attr("padding").decode()}
            if op.type == "SpaceToBatchND":
                convs.setdefault("_space_to_batch", []).append(op.name)
        facts["convs"] = convs
        facts["explicit_pads"] = {
            op.name: tf.get_static_value(op.inputs[1]).tolist()
            for op in g.get_operations() if op.type == "Pad"}
    return facts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pose-tensorflow", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--fullsize", type=Path, default=None,
                        help="also write full-size parity data here (hundreds of MB)")
    parser.add_argument("--det-min-score", type=float, default=0.2)
    parser.add_argument("--nms-radius", type=float, default=5.0)
    args = parser.parse_args(argv)

    import scipy.io as sio
    import skimage.data
    import yaml
    from PIL import Image

    A = install_shims(args.pose_tensorflow.resolve())
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "pairwise").mkdir(exist_ok=True)

    with open(args.pose_tensorflow / "demo" / "pose_cfg_multi.yaml") as f:
        sparse_graph = [list(map(int, p)) for p in yaml.safe_load(f)["sparse_graph"]]

    # ---- image
    original = skimage.data.astronaut()
    image = crop_resize(original, TINY_CROP, TINY_SIZE)
    Image.fromarray(image).save(out / "astronaut.png")
    image = np.asarray(Image.open(out / "astronaut.png").convert("RGB"))
    y0, y1, x0, x1 = ODD_CROP
    images = {"own": image, "odd": image[y0:y1, x0:x1]}

    # ---- pairwise stats (authors' save_stats) + spatial models
    rng = np.random.default_rng(SEED)
    stats = make_pairwise_stats(NUM_JOINTS_COCO, rng)
    stats_fn = out / "pairwise" / "pairwise_stats.mat"
    write_pairwise_stats(A, stats, NUM_JOINTS_COCO, stats_fn)
    # The same statistics with a 1-based graph (MATLAB convention), for the
    # tensorflow_pairwise_order=false code path of SpatialModel.
    mat = sio.loadmat(stats_fn)
    sio.savemat(out / "pairwise" / "pairwise_stats_1based.mat",
                {"graph": mat["graph"] + 1, "means": mat["means"], "std_devs": mat["std_devs"]})
    write_spatial_models(sparse_graph, out / "pairwise", rng)

    # ---- tiny pose checkpoint + reference maps
    cfg = pose_cfg(A, init_weights=str(out / "tiny-coco"))
    cfg.pairwise_stats_fn = str(stats_fn)
    cfg.global_scale = 1.0
    build_pose_checkpoint(A, cfg, out / "tiny-coco", tiny=True)
    pairwise_stats = A.pose_dataset.load_pairwise_stats(cfg)
    with tiny_backbone(A):
        ref = run_pose_reference(A, cfg, images, pairwise_stats)
    npz = {"odd_crop_y0_y1_x0_x1": np.asarray(ODD_CROP, np.int64)}
    for tag, maps in ref.items():
        # scmap is np.squeeze(part_prob): stored once as part_prob only.
        assert np.array_equal(maps["scmap"], maps["part_prob"][0])
        for k, v in maps.items():
            if k == "scmap" or (tag == "odd" and k == "pairwise_diff"):
                continue  # size budget: see README.md
            npz[f"{tag}_{k}"] = np.asarray(v, dtype=np.float32)
    np.savez_compressed(out / "reference.npz", **npz)

    # ---- detections and spatial model
    cfg.nms_radius = args.nms_radius
    cfg.det_min_score = args.det_min_score
    cfg.stride = 8.0
    cfg.sparse_graph = sparse_graph
    cfg.pairwise_model_dir = str(out / "pairwise")
    sm_tf = check_spatial_models(A, cfg, sparse_graph, out / "pairwise")
    report = {"detections": {}, "failed": {}}
    with tempfile.TemporaryDirectory() as tmp:
        report["column_w_check"] = check_column_w_breaks_loader(A, cfg, Path(tmp))
    cfg_graph0 = copy.deepcopy(cfg)
    cfg_graph0.tensorflow_pairwise_order = False
    cfg_graph1 = copy.deepcopy(cfg_graph0)
    cfg_graph1.pairwise_stats_fn = str(out / "pairwise" / "pairwise_stats_1based.mat")
    models = {"tf_order": sm_tf}
    for name, c in (("graph_1based", cfg_graph1), ("graph_0based", cfg_graph0)):
        models[name] = A.mp_predict.SpatialModel(c)
        models[name].load()

    pairs = [tuple(p) for p in sparse_graph] + [(j, j) for j in range(NUM_JOINTS_COCO)]
    spatial = {"sparse_graph": np.asarray(sparse_graph, np.int64),
               "nms_radius": np.float64(cfg.nms_radius),
               "det_min_score": np.float64(cfg.det_min_score), "stride": np.float64(cfg.stride)}
    for tag in ref:
        dets, det_out = run_detections(A, cfg, ref[tag])
        spatial.update({f"{tag}_{k}": v for k, v in det_out.items()})
        report["detections"][tag] = [int(c.shape[0]) for c in dets.coord]
        sp, failed = run_spatial(models, dets, pairs)
        spatial.update({f"{tag}_{k}": v for k, v in sp.items()})
        report["failed"][tag] = failed
        ref_prob = sp["prob_tf_order"]
        for name in ("graph_1based", "graph_0based"):
            same = []
            for i, (a, b) in enumerate(pairs):
                sl = slice(sp["pair_offsets"][i], sp["pair_offsets"][i + 1])
                same.append(bool(np.array_equal(sp[f"prob_{name}"][sl], ref_prob[sl])))
            report[f"{tag}_{name}_pairs_identical_to_tf_order"] = (
                f"{sum(same)}/{len(pairs)}; differing: "
                f"{[list(p) for p, s_ in zip(pairs, same) if not s_]}")
        sparse_end = sp["pair_offsets"][len(sparse_graph)]
        report[f"{tag}_prob_percentiles"] = np.percentile(
            ref_prob[:sparse_end], [0, 10, 25, 50, 75, 90, 100]).tolist()
    np.savez_compressed(out / "spatial_reference.npz", **spatial)

    # ---- tiny ImageNet classifier (V1 checkpoint)
    _, tiny_in_ref = imagenet_checkpoint(
        A, out / "tiny_imagenet_v1.ckpt", make_tiny_net(A.resnet_v1, "resnet_v1_50"), 10, image,
        "resnet_v1_50")
    np.savez_compressed(out / "tiny_imagenet_reference.npz", **tiny_in_ref)

    # ---- manifest of the full-size graphs
    import tensorflow
    manifest = {"tensorflow_version": tensorflow.__version__,
                "tf_slim_version": importlib.metadata.version("tf-slim"),
                "graphs": full_manifest(A)}
    write_manifest(manifest, out / "manifest.json")

    report["graph_facts"] = graph_facts(A)
    report["train_snapshot"] = train_snapshot_check(A)

    # ---- full size parity data (not committed)
    if args.fullsize is not None:
        fs = args.fullsize
        fs.mkdir(parents=True, exist_ok=True)
        cfg_fs = pose_cfg(A, init_weights=str(fs / "coco-resnet-101-random"))
        cfg_fs.pairwise_stats_fn = str(stats_fn)
        report["fullsize_head_std"] = build_pose_checkpoint(
            A, cfg_fs, fs / "coco-resnet-101-random", tiny=False)
        fs_images = {}
        for tag, (crop, size) in FULL_SIZES.items():
            fs_images[tag] = crop_resize(original, crop, size)
            Image.fromarray(fs_images[tag]).save(fs / f"astronaut_{tag}.png")
        fs_ref = run_pose_reference(A, cfg_fs, fs_images, pairwise_stats)
        np.savez(fs / "reference.npz", **{f"{tag}_{k}": np.asarray(v, np.float32)
                                          for tag, maps in fs_ref.items()
                                          for k, v in maps.items()})
        _, in_ref = imagenet_checkpoint(A, fs / "resnet_v1_50.ckpt", A.resnet_v1.resnet_v1_50,
                                        1000, fs_images["s320x240"], "resnet_v1_50")
        np.savez(fs / "resnet_v1_50_reference.npz", **in_ref)
        report["fullsize"] = {k: {kk: [float(np.abs(vv).max()), float(np.std(vv))]
                                  for kk, vv in m.items()} for k, m in fs_ref.items()}

    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
