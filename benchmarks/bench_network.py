"""Speed of the ArtTrack network on CPU: training step and inference, GRAPH against
PYNATIVE, and MindSpore against onnxruntime on the exported ONNX model.

Prints the median of ``--repeats`` timed calls after ``--warmup`` untimed ones (the first
call, which includes graph compilation, is reported separately), a table and the ratios.
It never asserts on time.

    python benchmarks/bench_network.py                       # ResNet-50/101, 256x256 and 480x640
    python benchmarks/bench_network.py --archs resnet50 --sizes 256x256 --repeats 5
    python benchmarks/bench_network.py --quick               # tiny net, tiny sizes: smoke run

Training step = forward + losses + backward + SGD-momentum update of the full train cell
(:func:`arttrack.training.trainer.build_train_cell`, batch ``--batch``), on random images and
synthetic targets; BatchNorm frozen as in the real configs. Inference = the exported
graph (:class:`arttrack.deploy.export.InferenceNet`: sigmoid part map + locref), batch 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

NUM_JOINTS = 14


@dataclass
class Timing:
    first_s: float  # first call: compilation + one run
    times_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)


def measure(fn: Callable[[], object], warmup: int, repeats: int) -> Timing:
    t = time.perf_counter()
    fn()
    timing = Timing(first_s=time.perf_counter() - t)
    for _ in range(max(warmup - 1, 0)):
        fn()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        timing.times_s.append(time.perf_counter() - t)
    return timing


def parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected HEIGHTxWIDTH, e.g. 256x256") from None
    if h < 16 or w < 16:
        raise argparse.ArgumentTypeError(f"size {text!r}: sides must be >= 16")
    return h, w


def make_config(arch: str, quick: bool):
    from arttrack.config import Config

    if quick:
        return Config(net_type="resnet_tiny", depths=(1, 1, 1, 1), width=8, freeze_bn=True,
                      multi_step=((0.001, 1000000),))
    return Config(net_type=arch, multi_step=((0.001, 1000000),))


def train_inputs(net, batch: int, height: int, width: int, seed: int = 0):
    """Random image + targets of the right shapes (NHWC, as the data pipeline gives them)."""
    import mindspore as ms

    rng = np.random.default_rng(seed)
    mh, mw = net.map_size(height, width)
    j = net.num_joints
    image = rng.normal(0.0, 60.0, (batch, 3, height, width)).astype(np.float32)
    scmap = (rng.random((batch, mh, mw, j)) < 0.02).astype(np.float32)
    weights = np.ones_like(scmap)
    locref = rng.normal(0.0, 0.5, (batch, mh, mw, 2 * j)).astype(np.float32)
    locref_mask = np.repeat(scmap, 2, axis=3)
    return [ms.Tensor(a) for a in (image, scmap, weights, locref, locref_mask)]


def bench_mindspore(cfg, height: int, width: int, mode: str, args) -> dict[str, Timing]:
    import mindspore as ms

    from arttrack.models import factory
    from arttrack.deploy.export import InferenceNet
    from arttrack.training.trainer import build_train_cell

    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    out: dict[str, Timing] = {}
    if not args.no_train:
        ms.set_seed(0)
        net = factory.build_model(cfg, pretrained=False)
        cell = build_train_cell(cfg, net)
        inputs = train_inputs(net, args.batch, height, width)
        out["train"] = measure(lambda: cell(*inputs).asnumpy(), args.warmup, args.repeats)
        del cell, net
    ms.set_seed(0)
    net = factory.build_model(cfg, pretrained=False)
    net.set_train(False)
    infer = InferenceNet(net)
    infer.set_train(False)
    x = ms.Tensor(np.random.default_rng(1).normal(0.0, 60.0, (1, 3, height, width)).astype(np.float32))
    out["infer"] = measure(lambda: [o.asnumpy() for o in infer(x)], args.warmup, args.repeats)
    return out


def bench_onnxruntime(cfg, height: int, width: int, args, workdir: Path) -> Timing | None:
    import mindspore as ms

    try:
        import onnxruntime as ort
    except ImportError:
        logging.warning("onnxruntime not installed: skipping the ONNX comparison")
        return None
    from arttrack.models import factory
    from arttrack.deploy.export import export_model

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    net = factory.build_model(cfg, pretrained=False)
    path = export_model(net, "ONNX", height, width, workdir / f"{cfg.net_type}_{height}x{width}",
                        verify=False)
    opts = ort.SessionOptions()
    if args.ort_threads:
        opts.intra_op_num_threads = args.ort_threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(1).normal(0.0, 60.0, (1, 3, height, width)).astype(np.float32)
    return measure(lambda: sess.run(None, {name: x}), args.warmup, args.repeats)


def _fmt_ms(t: Timing | None) -> str:
    return "-" if t is None else f"{t.median_s * 1e3:.1f}"


def _fmt_fps(t: Timing | None) -> str:
    return "-" if t is None else f"{1.0 / t.median_s:.2f}"


def _ratio(a: Timing | None, b: Timing | None) -> str:
    """How many times faster a is than b (b / a)."""
    if a is None or b is None:
        return "-"
    return f"{b.median_s / a.median_s:.2f}x"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default="resnet50,resnet101",
                    help="comma-separated architectures (arttrack.models), default %(default)s")
    ap.add_argument("--sizes", default="256x256,480x640",
                    help="comma-separated input sizes HEIGHTxWIDTH, default %(default)s")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per measurement")
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed calls first (the first one compiles), default %(default)s")
    ap.add_argument("--batch", type=int, default=1, help="training batch size, default 1 (DeeperCut)")
    ap.add_argument("--modes", default="graph,pynative", help="MindSpore modes, default %(default)s")
    ap.add_argument("--no-train", action="store_true", help="inference only")
    ap.add_argument("--no-onnx", action="store_true", help="skip onnxruntime")
    ap.add_argument("--ort-threads", type=int, default=0,
                    help="onnxruntime intra-op threads (0: its default, all cores)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: tiny network (resnet_tiny, width 8), sizes 64x64,96x128, "
                         "2 repeats")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")

    if args.quick:
        archs, sizes = ["resnet_tiny"], [(64, 64), (96, 128)]
        args.repeats, args.warmup = min(args.repeats, 2), 1
    else:
        archs = [a.strip() for a in args.archs.split(",") if a.strip()]
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.repeats < 1 or not set(modes) <= {"graph", "pynative"}:
        ap.error("--repeats must be >= 1 and --modes a subset of graph,pynative")

    import mindspore as ms

    ms.set_device("CPU")
    print(f"# MindSpore {ms.__version__} CPU, {os.cpu_count()} logical cores, "
          f"{platform.processor() or platform.machine()}; load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"# medians of {args.repeats} calls after {args.warmup} warm-up call(s); "
          f"train batch {args.batch}, inference batch 1")

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_network_") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # MindSpore may drop rank_0/ or kernel_meta/ folders into the cwd
        try:
            for arch in archs:
                cfg = make_config(arch, args.quick)
                for h, w in sizes:
                    res: dict[str, Timing | None] = {}
                    for mode in modes:
                        t0 = time.perf_counter()
                        for kind, timing in bench_mindspore(cfg, h, w, mode, args).items():
                            res[f"{kind}_{mode}"] = timing
                        print(f"  {arch} {h}x{w} {mode}: done in {time.perf_counter() - t0:.0f} s",
                              flush=True)
                    res["infer_ort"] = None if args.no_onnx else bench_onnxruntime(cfg, h, w, args,
                                                                                   Path(tmp))
                    rows.append((arch if not args.quick else "resnet_tiny(w8)", f"{h}x{w}", res))
        finally:
            os.chdir(cwd)

    print()
    head = ("arch", "size", "train ms graph", "train ms pynative", "infer fps graph",
            "infer fps pynative", "infer fps onnxrt", "compile+1st s (train/infer graph)")
    table = [head]
    for arch, size, r in rows:
        first = "/".join(f"{r[k].first_s:.1f}" if r.get(k) else "-"
                         for k in ("train_graph", "infer_graph"))
        table.append((arch, size, _fmt_ms(r.get("train_graph")), _fmt_ms(r.get("train_pynative")),
                      _fmt_fps(r.get("infer_graph")), _fmt_fps(r.get("infer_pynative")),
                      _fmt_fps(r.get("infer_ort")), first))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for i, row in enumerate(table):
        print("  ".join(c.rjust(wd) for c, wd in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * wd for wd in widths))

    print("\nratios (how many times faster; >1 means the first one wins):")
    for arch, size, r in rows:
        print(f"  {arch} {size}: train graph/pynative {_ratio(r.get('train_graph'), r.get('train_pynative'))}"
              f", infer graph/pynative {_ratio(r.get('infer_graph'), r.get('infer_pynative'))}"
              f", infer onnxruntime/mindspore-graph {_ratio(r.get('infer_ort'), r.get('infer_graph'))}")


if __name__ == "__main__":
    main()
