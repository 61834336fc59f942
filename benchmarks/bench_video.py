"""End-to-end frames/s of the video pipeline (``arttrack.video.pipeline.run``: decode, network,
post-processing, tracking, drawing, writing) with each backend, against the network alone.

    python benchmarks/bench_video.py                                  # the demo model, its clip
    python benchmarks/bench_video.py --model deepercut-coco-resnet101 --size 1280x720 --frames 12
    python benchmarks/bench_video.py --random configs/coco_resnet_v1_101.yaml --size 1280x720 \
        --frames 8 --repeats 1                                        # the authors' network, random weights

For every backend (MindSpore GRAPH mode, and ONNX Runtime when installed) it runs the
pipeline once to warm up (compilation, export), then ``--repeats`` times on a synthetic
clip of ``--frames`` frames, and times the pipeline's network stage alone
(``NetworkStage``: the same decoded frames, batches and workers, nothing after it). Prints
medians, frames/s and the ratios (ONNX Runtime end to end over MindSpore end to end; end
to end over the network alone). Asserts nothing.

With ONNX Runtime the network runs one single-threaded batch per core in worker threads
(``arttrack.video.model.network_workers``) while the caller post-processes, tracks and
writes the batches already done (the decoder runs in its own thread); the bench also times
one call at a time on all cores, the other way to spend the cores.

``--random CONFIG`` times a randomly initialised network of that config instead (with
``benchmarks/bench_tracking.py``'s uninformative spatial model), for when the real weights
are not at hand: the network costs what the real one costs, but its detections are not a
real frame's (``--det-min-score`` sets how many survive; the summary line of each run says
how many people were found), so the post-processing share differs; measure that with real
detections in ``bench_tracking.py`` / ``bench_deepercut.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _clip(folder: Path, size: tuple[int, int], frames: int) -> Path:
    import cv2

    from arttrack.data import synthetic as syn
    from arttrack.video.demo import demo_clip_config

    cfg = demo_clip_config(size)
    clip = syn.generate_clip(np.random.default_rng([9100, 0]), frames, cfg)
    path = folder / "clip.mp4"
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, size)
    for f in clip.frames:
        wr.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    wr.release()
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a registered model name or a model folder (default: the demo model)")
    ap.add_argument("--size", default=None, help="clip WxH (default: the demo's 320x240)")
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--random", metavar="CONFIG",
                    help="a randomly initialised network of this config instead of --model")
    ap.add_argument("--det-min-score", type=float, default=None,
                    help="detection threshold (default: the model's)")
    args = ap.parse_args(argv)

    import mindspore as ms

    ms.set_device("CPU")
    from arttrack.video import pipeline
    from arttrack.video.demo import DEMO_SIZE, demo_dir
    from arttrack.video.model import TrackingModel, network_workers
    from arttrack.video.source import open_source
    from arttrack.inference.backends import onnxruntime_available
    from arttrack.inference import Predictor
    from arttrack.models import zoo
    from arttrack.postprocess import SpatialModel

    size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else DEMO_SIZE
    tmp = Path(tempfile.mkdtemp())
    if args.random:
        from bench_tracking import random_model  # the sibling script (its folder is on sys.path)

        folder = tmp / "random_model"
        folder.mkdir()
        ckpt, spatial_path, stats_path = random_model(args.random, folder, size)
        doc = {"name": f"random {Path(args.random).stem}", "checkpoint": Path(ckpt).name,
               "spatial_model": Path(spatial_path).name, "pairwise_stats": Path(stats_path).name}
    else:
        folder = zoo.resolve(args.model) if args.model else demo_dir()
        doc = zoo.read_model_json(folder)
    video = _clip(tmp, size, args.frames)
    spatial = SpatialModel.load(folder / doc["spatial_model"])
    from arttrack.data.pairwise_stats import load_pairwise_stats

    stats = load_pairwise_stats(folder / doc["pairwise_stats"]) if doc.get("pairwise_stats") else None
    # decoded BGR frames, as the pipeline's network stage receives them
    frames = [f for _, f in open_source(str(video)).frames()]
    print(f"model {doc['name']}, clip {size[0]}x{size[1]}, {len(frames)} frames, batch "
          f"{args.batch_size}, {args.repeats} timed runs after one warm-up")
    backends = ["mindspore"] + (["onnxruntime"] if onnxruntime_available() else [])
    rows = {}
    for b in backends:
        # the network as the pipeline runs it (video.model.network_workers): ONNX Runtime
        # one single-threaded batch per core, MindSpore one batch at a time
        workers, per_batch = network_workers(b)
        pred = Predictor.from_checkpoint(folder / doc["checkpoint"], mode="graph",
                                         batch_size=args.batch_size, pairwise_stats=stats, backend=b)
        if per_batch is not None:
            pred.onnx_net.threads = per_batch
        if args.det_min_score is not None:
            import dataclasses

            pred.settings = dataclasses.replace(pred.settings, det_min_score=args.det_min_score)

        model = TrackingModel(pred, spatial, None, 1.0, {}, workers)
        settings = pipeline.RunSettings(batch_size=args.batch_size, overwrite=True)

        last: list = []

        def end_to_end() -> None:
            last[:] = [pipeline.run(open_source(str(video)), model, tmp / f"out_{b}", settings,
                                    progress=False)]

        def network() -> None:  # the pipeline's network stage alone: same batches, workers
            stage = pipeline.NetworkStage(pred, args.batch_size, 1.0, {"network": 0.0}, workers)
            for _ in stage(iter(enumerate(frames))):
                pass

        cases = [("end to end", end_to_end), ("network alone", network)]
        if per_batch is not None:  # and one call at a time on all cores, for comparison
            pred_all = Predictor.from_checkpoint(folder / doc["checkpoint"], mode="graph",
                                                 batch_size=args.batch_size, pairwise_stats=stats,
                                                 backend=b)

            def network_one_call() -> None:
                stage = pipeline.NetworkStage(pred_all, args.batch_size, 1.0, {"network": 0.0}, 1)
                for _ in stage(iter(enumerate(frames))):
                    pass

            cases.append(("network, one call on all cores", network_one_call))
        times = {}
        for name, fn in cases:
            fn()  # warm-up: compile / export
            ts = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            times[name] = statistics.median(ts)
        rows[b] = times
        print(f"{b:12s} last run: {last[0].summary()}")
        print(f"{b:12s} end to end {len(frames) / times['end to end']:6.2f} frames/s   "
              f"network alone {len(frames) / times['network alone']:6.2f} frames/s ({workers} "
              f"worker(s))   end to end / network alone: "
              f"{times['network alone'] / times['end to end']:.2f}")
        if "network, one call on all cores" in times:
            print(f"{'':12s} network, one call at a time on all cores "
                  f"{len(frames) / times['network, one call on all cores']:6.2f} frames/s")
    if "onnxruntime" in rows:
        r = rows["mindspore"]["end to end"] / rows["onnxruntime"]["end to end"]
        print(f"ONNX Runtime end to end: {r:.2f}x MindSpore end to end; "
              f"{100 * (rows['onnxruntime']['end to end'] / rows['onnxruntime']['network alone'] - 1):.0f} % "
              "slower than its network alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
