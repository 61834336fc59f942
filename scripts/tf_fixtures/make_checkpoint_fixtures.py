"""Write the small TensorFlow checkpoints that ``tests/test_tf_checkpoint.py`` reads.

TensorFlow is not a dependency of arttrack; run this with a separate environment that
has TensorFlow 2.x (tested with tensorflow-cpu 2.15.1 and numpy 1.26)::

    /path/to/tf-venv/bin/python scripts/tf_fixtures/make_checkpoint_fixtures.py

It (re)writes ``tests/data/tf_checkpoint/``:

* ``v2/model.ckpt.index`` + ``v2/model.ckpt.data-00000-of-00001``: a V2 bundle written
  by ``tf.compat.v1.train.Saver`` in graph mode (one shard);
* ``v1/model.ckpt``: the same variables plus a variable partitioned into two slices,
  written with ``SaverDef.V1`` (the single-file format of the 2016 TF-slim checkpoints);
* ``other_v2/other.ckpt.*``: a second V2 bundle with other variables and sizes (its
  index is put next to the data of ``v2`` in the error tests);
* ``partitioned_v2/part.ckpt.*``: a V2 bundle holding a partitioned variable;
* ``expected.npz``: every tensor as TensorFlow's ``Saver.restore`` puts it into
  zero-initialized variables (TF's V1 ``CheckpointReader`` can read neither float16 nor
  sliced tensors, so the restore path is used for all), under the key ``"<fixture>:<name with '/' replaced by '|'>"``.

All values come from a fixed numpy seed, so rerunning gives the same tensors.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "tf_checkpoint"
CONV = "resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights"


def _main_values(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        CONV: rng.standard_normal((3, 3, 4, 8)).astype(np.float32),
        "resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/BatchNorm/beta": rng.standard_normal(8).astype(np.float32),
        "global_step": np.array(123456789012, dtype=np.int64),
        "flags/is_training": np.array([True, False, True]),
        "stats/moving_mean": rng.standard_normal(5).astype(np.float64),
        "counts": rng.integers(-1000, 1000, size=(2, 3)).astype(np.int32),
        "half/weights": rng.standard_normal(4).astype(np.float16),
        "pixels": rng.integers(0, 256, size=6).astype(np.uint8),
        "empty/weights": np.zeros((0, 3), dtype=np.float32),
        "note": np.array(b"arttrack fixture \x00\xff", dtype=object),
        "words": np.array([b"alpha", b"", b"\xffz"], dtype=object),
        "empty/strings": np.array([], dtype=object),
    }


def _graph(values: dict[str, np.ndarray], partitioned: dict[str, np.ndarray] | None,
           zeros: bool) -> tuple[tf.Graph, dict[str, tf.Tensor]]:
    """The variables of a fixture, initialized with their values or with zeros."""
    graph = tf.Graph()
    tensors: dict[str, tf.Tensor] = {}
    with graph.as_default():
        for name, value in values.items():
            if value.dtype == object:
                init = tf.constant(b"" if zeros else value, dtype=tf.string, shape=value.shape)
            else:
                init = tf.constant(np.zeros_like(value) if zeros else value)
            tensors[name] = tf.compat.v1.Variable(init, name=name).value()
        for name, value in (partitioned or {}).items():
            v = tf.compat.v1.get_variable(
                name, initializer=tf.constant(np.zeros_like(value) if zeros else value),
                partitioner=tf.compat.v1.fixed_size_partitioner(2))
            tensors[name] = v.as_tensor()
    return graph, tensors


def _save(values: dict[str, np.ndarray], prefix: Path, version: int,
          partitioned: dict[str, np.ndarray] | None = None) -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    graph, _ = _graph(values, partitioned, zeros=False)
    with graph.as_default():
        saver = tf.compat.v1.train.Saver(write_version=version)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(prefix), write_meta_graph=False, write_state=False)


def _restore(values: dict[str, np.ndarray], prefix: Path,
             partitioned: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The tensors as TensorFlow restores them into zero-initialized variables."""
    graph, tensors = _graph(values, partitioned, zeros=True)
    with graph.as_default():
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, str(prefix))
            return sess.run(tensors)


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    rng = np.random.default_rng(20160828)
    values = _main_values(rng)
    part = {"part/weights": rng.standard_normal((6, 2)).astype(np.float32)}
    other = {
        "other/weights": rng.standard_normal((2, 2, 3, 5)).astype(np.float32),
        CONV: rng.standard_normal((1, 1, 4, 8)).astype(np.float32),
        "other/counter": np.array(7, dtype=np.int64),
    }

    v1 = tf.compat.v1.train.SaverDef.V1
    v2 = tf.compat.v1.train.SaverDef.V2
    _save(values, OUT / "v2" / "model.ckpt", v2)
    _save(values, OUT / "v1" / "model.ckpt", v1, partitioned=part)
    _save(other, OUT / "other_v2" / "other.ckpt", v2)
    _save({"plain": np.arange(3, dtype=np.float32)}, OUT / "partitioned_v2" / "part.ckpt", v2,
          partitioned=part)

    # One shard is what a non-sharded V2 Saver writes.
    for fixture in ("v2", "other_v2", "partitioned_v2"):
        data = sorted(p.name for p in (OUT / fixture).glob("*.data-*"))
        assert len(data) == 1 and data[0].endswith(".data-00000-of-00001"), data
    assert sorted(p.name for p in (OUT / "v1").iterdir()) == ["model.ckpt"]

    expected: dict[str, np.ndarray] = {}
    for fixture, path, vals, parts in (("v2", OUT / "v2" / "model.ckpt", values, None),
                                       ("v1", OUT / "v1" / "model.ckpt", values, part),
                                       ("other_v2", OUT / "other_v2" / "other.ckpt", other, None)):
        restored = _restore(vals, path, parts)
        reader = tf.train.load_checkpoint(str(path))
        assert sorted(reader.get_variable_to_shape_map()) == sorted(restored)
        for name, value in restored.items():
            want = np.asarray(vals[name] if name in vals else parts[name])
            value = np.asarray(value, dtype=object if want.dtype == object else None)
            assert value.dtype == want.dtype and value.shape == want.shape, name
            if want.dtype == object:
                assert value.tolist() == want.tolist(), name
            else:
                assert value.tobytes() == want.tobytes(), name
            if value.dtype == object:  # strings: store as fixed-width bytes (no pickles)
                value = value.astype(np.bytes_)
            expected[f"{fixture}:{name.replace('/', '|')}"] = value
    np.savez(OUT / "expected.npz", **expected)


if __name__ == "__main__":
    main()
