"""The authors' DeeperCut COCO model in arttrack on CPU: import time, and frames/s of the
video pipeline at 1280x720 with the network and the post-processing shown apart.

    python benchmarks/bench_deepercut.py                                   # the cached model
    python benchmarks/bench_deepercut.py --prefix models/coco/coco-resnet-101 --pairwise models/coco/pairwise
    python benchmarks/bench_deepercut.py --size 640x480 --repeats 5

* **import**: ``python -m arttrack.convert tf``'s work (read and verify the TensorFlow
  checkpoint, place every variable, write the MindSpore checkpoint), median of
  ``--import-repeats``; needs ``--prefix`` (the authors' ``coco-resnet-101`` as their
  download script leaves it, or a checkpoint with the same variables such as the random
  one ``scripts/tf_fixtures/make_deepercut_fixtures.py --fullsize`` writes).
* **network**: ``Predictor.maps`` on one frame (the part sigmoid and the pairwise
  de-normalisation included), MindSpore GRAPH mode and ONNX Runtime on the export of the
  same network (when installed), median of ``--repeats`` after one untimed call
  (compilation, or export, reported apart). The weights are the imported ones, else the cached
  ``deepercut-coco-resnet101``, else random (the time does not depend on the values).
* **post-processing**: peaks, pairwise terms, partition and assembly (``parse_frame``) plus
  the spatio-temporal linker, on synthetic COCO-17 maps of that frame size with
  ``--people`` people (``make_frame`` of ``bench_postprocess.py``): random weights give
  maps full of junk peaks, which say nothing about real footage.

Prints medians, frames/s and the share of each stage; asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np



def _median_time(fn, repeats: int) -> tuple[float, float]:
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return first, statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefix", help="a TensorFlow checkpoint of the authors' COCO model to import")
    ap.add_argument("--pairwise", help="its pairwise/ folder (default: beside the checkpoint)")
    ap.add_argument("--size", default="1280x720", help="frame WxH (default 1280x720)")
    ap.add_argument("--repeats", type=int, default=3, help="timed network calls (default 3)")
    ap.add_argument("--import-repeats", type=int, default=3)
    ap.add_argument("--people", type=int, default=10, help="people in the post-processing frames")
    ap.add_argument("--frames", type=int, default=8, help="frames of post-processing and tracking")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))

    import mindspore as ms

    ms.set_device("CPU")
    from arttrack.inference import Predictor

    print(f"machine: {platform.processor() or platform.machine()}, MindSpore {ms.__version__}, "
          f"frame {w}x{h}")
    tmp = Path(tempfile.mkdtemp())
    ckpt = None
    if args.prefix:
        from arttrack.convert.tf import import_tf_pose_model

        pdir = Path(args.pairwise) if args.pairwise else Path(args.prefix).parent / "pairwise"
        times = []
        for i in range(args.import_repeats):
            t = time.perf_counter()
            import_tf_pose_model(args.prefix, tmp / f"m{i}" / "model.ckpt", pairwise_dir=pdir)
            times.append(time.perf_counter() - t)
        ckpt = tmp / "m0" / "model.ckpt"
        print(f"import of {args.prefix}: median {statistics.median(times):.2f} s "
              f"(of {args.import_repeats}; {', '.join(f'{t:.2f}' for t in times)})")
    else:
        from arttrack.models import zoo

        if zoo.is_installed("deepercut-coco-resnet101"):
            d = zoo.model_dir("deepercut-coco-resnet101")
            ckpt = d / zoo.read_model_json(d)["checkpoint"]
            print(f"model: the cached deepercut-coco-resnet101 ({d})")
    if ckpt is not None:
        pred = Predictor.from_checkpoint(ckpt, mode="graph", batch_size=1)
    else:
        print("model: random weights with the authors' COCO architecture (no --prefix, nothing cached)")
        from arttrack.convert.tf import TFModelInfo, pose_model_config
        from arttrack.data.codec import PoseCodec
        from arttrack.models.factory import build_model

        info = TFModelInfo("pose", "resnet_v1_101", (3, 4, 23, 3), 64, 17, True, True, True)
        cfg = pose_model_config(info, source="random")
        net = build_model(cfg, pretrained=False)
        j = 17
        codec = PoseCodec(j, stride=8.0, pairwise=True,
                          pairwise_stats=(np.zeros((j * (j - 1), 2)), np.ones((j * (j - 1), 2))))
        pred = Predictor(net, codec, mode="graph", batch_size=1, config=cfg)
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    first, net_s = _median_time(lambda: pred.maps(frame), args.repeats)
    print(f"network, MindSpore (Predictor.maps, GRAPH): first call {first:.2f} s (compiles), "
          f"median {net_s:.3f} s = {1 / net_s:.2f} frames/s")
    from arttrack.inference.backends import onnxruntime_available

    if onnxruntime_available():
        ort = Predictor(pred.net, pred.codec, mean_pixel=pred.mean_pixel, batch_size=1,
                        config=pred.config, backend="onnxruntime")
        ort.onnx_net.folder = tmp / "onnx"  # a fresh export, timed as the first call
        first_o, ort_s = _median_time(lambda: ort.maps(frame), args.repeats)
        print(f"network, ONNX Runtime (same network): first call {first_o:.2f} s (exports and "
              f"checks the export), median {ort_s:.3f} s = {1 / ort_s:.2f} frames/s; "
              f"{net_s / ort_s:.2f}x MindSpore")
        net_s = min(net_s, ort_s)
    else:
        print("network, ONNX Runtime: not installed (pip install 'arttrack[onnx]')")

    import bench_postprocess as bp  # siblings: run as python benchmarks/..., on sys.path
    import bench_tracking as bt
    from arttrack.tracking.linker import FrameDetections, PeopleLinker
    from arttrack.video.pipeline import FILL_GAP, MIN_TRACK_FRAMES
    from arttrack.postprocess.pipeline import MultiPersonSettings, parse_frame
    from arttrack.tracking import TrackSmoother

    hw = (-(-h // 8), -(-w // 8))
    model, settings = bp.spatial_model(), MultiPersonSettings()
    linker, smoother = PeopleLinker(17, "st"), TrackSmoother(17, FILL_GAP, MIN_TRACK_FRAMES)
    post = []
    for t, (part, locref, pw) in enumerate(bt.frame_sequence(bp, args.people, args.frames + 1, hw)):
        t0 = time.perf_counter()
        dets = FrameDetections.from_parse(parse_frame(part, locref, pw, model, settings))
        people, ids = linker.step(t, dets)
        smoother.push(t, people, ids)
        if t:  # the first frame only opens tracks
            post.append(time.perf_counter() - t0)
    post_s = statistics.median(post)
    total = net_s + post_s
    print(f"post-processing + tracking + track completion ({args.people} people, {hw[0]}x{hw[1]} "
          f"cells, synthetic maps): median {post_s * 1000:.1f} ms")
    print(f"end to end without decoding and drawing, faster backend: {1 / total:.2f} frames/s; network "
          f"{100 * net_s / total:.1f} %, post-processing {100 * post_s / total:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
