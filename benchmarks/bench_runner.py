"""Images/s of the C++ CPU runner (arttrack-infer, OpenCV DNN) against MindSpore CPU
inference and onnxruntime on the same exported ONNX model and the same inputs.

    python benchmarks/bench_runner.py [--arch resnet50] [--size 256x256] [--n 10] [--threads 1]
    python benchmarks/bench_runner.py --quick      # resnet_tiny, a few seconds

The model is built with random weights (speed does not depend on them) and exported with
``arttrack.export`` unless ``--model``/``--meta`` name an existing export. Inputs are random
float32 binaries of the exported shape. Per-image latency: the runner's own timing
(runner.json, model execution only, after one warm-up run), and the same for MindSpore
(GRAPH mode, the compiled graph) and onnxruntime. Prints medians and ratios; never asserts.
The runner comes from ``--runner``, ``ARTTRACK_INFER`` or is built with CMake into
``build/runner``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def find_runner(path: str | None) -> Path:
    if path or os.environ.get("ARTTRACK_INFER"):
        exe = Path(path or os.environ["ARTTRACK_INFER"])
        if not exe.is_file():
            sys.exit(f"bench_runner: {exe} does not exist")
        return exe
    build = ROOT / "build" / "runner"
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                    "-DARTTRACK_BUILD_RUNNER=ON"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build), "--target", "arttrack-infer", "-j",
                    str(os.cpu_count() or 2)], check=True, stdout=subprocess.DEVNULL)
    return build / "cpp" / "runner" / "arttrack-infer"


def stats(ms_per_image: list[float]) -> dict[str, float]:
    a = np.asarray(ms_per_image, np.float64)
    return {"mean": float(a.mean()), "p50": float(np.median(a)), "p95": float(np.percentile(a, 95)),
            "ips": 1000.0 / float(np.median(a))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--base-width", type=int, default=None, help="backbone width (default: the arch's)")
    ap.add_argument("--size", default="256x256", help="input HxW (default 256x256)")
    ap.add_argument("--n", type=int, default=10, help="images to time per backend")
    ap.add_argument("--threads", type=int, default=1, help="threads for every backend (default 1)")
    ap.add_argument("--model", help="an existing exported .onnx (with <model>.json beside it)")
    ap.add_argument("--runner", help="arttrack-infer binary")
    ap.add_argument("--quick", action="store_true", help="resnet_tiny (width 16) at 128x160, n=20")
    ap.add_argument("--json-out", help="also write the numbers as JSON")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.arch, args.base_width, args.size, args.n = "resnet_tiny", 16, "128x160", 20
    h, w = (int(v) for v in args.size.lower().split("x"))
    exe = find_runner(args.runner)

    import mindspore as ms

    from arttrack.deploy import export
    from arttrack.models import create_model

    ms.set_device("CPU")
    try:  # deprecated in newer MindSpore, still honoured in 2.x
        ms.set_context(runtime_num_threads=args.threads)
    except (TypeError, ValueError):
        pass
    tmp = Path(tempfile.mkdtemp(prefix="bench_runner_"))
    try:
        kw = {"num_joints": 14, "pairwise": False}
        if args.base_width:
            kw["width"] = args.base_width
        net = create_model(args.arch, **kw)
        net.set_train(False)
        if args.model:
            model = Path(args.model)
        else:
            ms.set_context(mode=ms.PYNATIVE_MODE)
            model = export.export_model(net, "ONNX", h, w, tmp / "model.onnx",
                                        {"joint_set": "mpii14", "locref_stdev": 7.2801}, verify=False)
        meta_path = export.metadata_path(model)
        meta = json.loads(meta_path.read_text())
        shape = meta["input"]["shape"]
        rng = np.random.default_rng(0)
        bins = tmp / "bins"
        bins.mkdir()
        xs = [rng.normal(0, 60, shape).astype(np.float32) for _ in range(args.n)]
        for i, x in enumerate(xs):
            x[0].tofile(bins / f"{i:04d}.bin")

        # C++ runner (OpenCV DNN)
        out = tmp / "out"
        t0 = time.perf_counter()
        subprocess.run([str(exe), "--model", str(model), "--meta", str(meta_path), "--input", str(bins),
                        "--output", str(out), "--threads", str(args.threads)], check=True,
                       stderr=subprocess.DEVNULL)
        runner_wall = time.perf_counter() - t0
        rj = json.loads((out / "runner.json").read_text())
        cpp = stats([e["latency_ms"] for e in rj["entries"]])

        # onnxruntime
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        sess.run(None, {name: xs[0]})
        lat = []
        for x in xs:
            t = time.perf_counter()
            sess.run(None, {name: x})
            lat.append((time.perf_counter() - t) * 1e3)
        onnx_rt = stats(lat)

        # MindSpore CPU (graph mode)
        ms.set_context(mode=ms.GRAPH_MODE)
        wrapper = export.InferenceNet(net)
        wrapper.set_train(False)
        if args.model:
            mind = None  # the weights of an external model are not loaded here
        else:
            wrapper(ms.Tensor(xs[0]))  # compile + warm up
            lat = []
            for x in xs:
                t = time.perf_counter()
                outs = wrapper(ms.Tensor(x))
                _ = [o.asnumpy() for o in outs]
                lat.append((time.perf_counter() - t) * 1e3)
            mind = stats(lat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"model {args.arch}{'' if not args.base_width else f' width {args.base_width}'}, input "
          f"{shape}, {args.n} images, {args.threads} thread(s); median ms/image and images/s")
    rows = [("arttrack-infer (C++, OpenCV DNN)", cpp), ("onnxruntime (Python)", onnx_rt)]
    if mind is not None:
        rows.append(("MindSpore CPU (graph mode)", mind))
    for label, s in rows:
        print(f"  {label:34s} p50 {s['p50']:9.2f} ms  p95 {s['p95']:9.2f} ms  {s['ips']:8.2f} img/s")
    print(f"  arttrack-infer process wall time incl. model load: {runner_wall:.2f} s")
    print(f"ratios (images/s): C++ runner / onnxruntime = {cpp['ips'] / onnx_rt['ips']:.2f}"
          + (f", C++ runner / MindSpore = {cpp['ips'] / mind['ips']:.2f}" if mind else "")
          + (f", onnxruntime / MindSpore = {onnx_rt['ips'] / mind['ips']:.2f}" if mind else ""))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(
            {"arch": args.arch, "input_shape": shape, "n": args.n, "threads": args.threads,
             "cpp_runner": cpp, "onnxruntime": onnx_rt, "mindspore": mind}, indent=1))


if __name__ == "__main__":
    main()
