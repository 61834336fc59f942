"""Where the network runs: MindSpore, or ONNX Runtime on an export cached per checkpoint.

On CPU, ONNX Runtime runs the exported network about 1.8 times as fast as MindSpore
(ResNet-101 at 480x640: 1.41 against 0.78 frames/s, ``benchmarks/bench_network.py``).
``--backend auto`` (the CLIs' default, :func:`resolve_backend`) therefore picks
``onnxruntime`` on CPU when the package is installed (``pip install '.[onnx]'``) and
MindSpore otherwise (GPU, Ascend).

:class:`OnnxRuntimeNet` exports the network once per input shape with
:func:`arttrack.deploy.export.export_model` (which checks the export against MindSpore) into
``<cache>/onnx/<key>/b<N>_<H>x<W>.onnx``, ``<cache>`` being the model cache
(:func:`arttrack.models.zoo.cache_root`) and ``<key>`` a digest of the network's
parameters, architecture and arttrack's version, so a second run, or another video of the
same size, reuses the file instead of exporting again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import threading
from pathlib import Path
from typing import Any, Optional

import numpy as np

__all__ = ["BACKENDS", "OnnxRuntimeNet", "network_digest", "resolve_backend"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "mindspore", "onnxruntime")


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def resolve_backend(backend: str, device: Optional[str] = "CPU") -> str:
    """``auto`` -> ``onnxruntime`` on CPU when installed, else ``mindspore``; an explicit
    ``onnxruntime`` that is not installed, or asked for on another device, is a ValueError
    saying how to fix it."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    cpu = (device or "CPU").upper() == "CPU"
    if backend == "auto":
        return "onnxruntime" if cpu and onnxruntime_available() else "mindspore"
    if backend == "onnxruntime":
        if not cpu:
            raise ValueError(f"--backend onnxruntime runs on the CPU; on {device} use "
                             "--backend mindspore (or auto)")
        if not onnxruntime_available():
            raise ValueError("--backend onnxruntime needs the onnxruntime package: "
                             "pip install 'arttrack[onnx]' (or use --backend mindspore)")
    return backend


def network_digest(net: Any) -> str:
    """A short digest of a network's parameters, architecture and arttrack's version."""
    from arttrack import __version__

    h = hashlib.sha256()
    cfg = getattr(net, "model_config", None)
    h.update(json.dumps(cfg.to_dict() if cfg is not None else None, sort_keys=True).encode())
    h.update(json.dumps(list(net.output_names)).encode())
    h.update(str(__version__).encode())
    for p in sorted(net.get_parameters(), key=lambda p: p.name):
        h.update(p.name.encode())
        h.update(np.ascontiguousarray(p.asnumpy()).tobytes())
    return h.hexdigest()[:20]


class OnnxRuntimeNet:
    """``net`` run by ONNX Runtime: call it with a (N, 3, H, W) float32 batch, get
    ``{"part_prob", "locref", "pairwise"}`` (those the network has) as NCHW arrays.

    Args:
        net: an :class:`arttrack.models.ArtTrackNet`.
        cache_dir: folder for the exports (default ``<model cache>/onnx``).
        threads: ONNX Runtime's intra-op threads (default: its own choice, all cores).
    """

    def __init__(self, net: Any, *, cache_dir: Optional[Path] = None,
                 threads: Optional[int] = None) -> None:
        if not onnxruntime_available():
            raise ValueError("onnxruntime is not installed: pip install 'arttrack[onnx]'")
        self.net = net
        if cache_dir is None:
            from arttrack.models.zoo import cache_root

            cache_dir = cache_root() / "onnx"
        self.folder = Path(cache_dir) / network_digest(net)
        self.threads = threads
        self._sessions: dict[tuple[int, int, int], Any] = {}
        # several network workers may call at once (one session serves them all; its run()
        # is thread-safe), but only one exports and opens a session for a new shape
        self._lock = threading.Lock()
        self.exports = 0  # exports made by this object (0 when every shape was cached)

    def model_path(self, n: int, h: int, w: int) -> Path:
        return self.folder / f"b{n}_{h}x{w}.onnx"

    def _session(self, n: int, h: int, w: int):
        key = (n, h, w)
        with self._lock:
            return self._sessions[key] if key in self._sessions else self._open(key)

    def _open(self, key: tuple[int, int, int]):
        """Export (once per shape, into the cache) and open the session of ``key``."""
        import onnxruntime as ort

        n, h, w = key
        path = self.model_path(n, h, w)
        if not path.is_file():
            from arttrack.deploy.export import export_model

            log.info("exporting the network to %s for ONNX Runtime (once per input size)", path)
            export_model(self.net, "ONNX", h, w, path, batch=n, verify=True)
            self.exports += 1
        opts = ort.SessionOptions()
        if self.threads:
            opts.intra_op_num_threads = int(self.threads)
        # Idle worker threads sleep instead of spinning: the post-processing thread and
        # the decoder share the cores (ResNet-101 at 1280x720: 1.04 s against 1.15 s a
        # frame alone, 2.3 s against 2.9 s beside another busy process, on 2 cores)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._sessions[key] = ort.InferenceSession(str(path), sess_options=opts,
                                                   providers=["CPUExecutionProvider"])
        return self._sessions[key]

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        batch = np.ascontiguousarray(batch, np.float32)
        n, _, h, w = batch.shape
        sess = self._session(n, h, w)
        outs = sess.run(None, {sess.get_inputs()[0].name: batch})
        return {o.name: v for o, v in zip(sess.get_outputs(), outs)}

