"""Benchmark the video pipeline's per-frame work after the network: post-processing
(:func:`arttrack.postprocess.pipeline.parse_frame`), tracking (the CLI's
:class:`arttrack.tracking.linker.PeopleLinker`, ``st`` and ``hungarian``) and what the CLI
runs after ``st``: re-linking young tracks (:class:`arttrack.tracking.TrackRelinker`) and
track completion (:class:`arttrack.tracking.TrackSmoother`), default settings, against the
number of people; optionally end-to-end frames/s of ``python -m arttrack.multiperson`` on CPU.

Frames come from ``make_frame`` of ``bench_postprocess.py`` (same folder): synthetic
network outputs for COCO-17 at 60x80 cells (640x480 input). To make tracking real, every
frame of a sequence is the same layout of people shifted by one cell (8 px) per frame
(people leaving one side re-enter on the other, like walkers crossing), with fresh score
noise per frame. Medians over the frames of the sequence (the first frame, which only
creates tracks, is left out).

Run:  python benchmarks/bench_tracking.py [--frames 40] [--people 1,5,10,20,40]
      python benchmarks/bench_tracking.py --ckpt run/snapshot-1300.ckpt [--spatial s.npz]
      python benchmarks/bench_tracking.py --people 10 --arch configs/coco_resnet101.yaml \
          --e2e-size 640x480 --e2e-frames 8
``--arch`` times a randomly initialised network of a config (no trained weights exist here):
read its network time only. Random maps are full of weak peaks, so its parse and track times
say nothing about real footage (the tracker can spend seconds a frame on the junk
detections); take those from the people table.
Nothing is asserted: this prints numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def _load_bench_postprocess():
    """The sibling script (run as ``python benchmarks/...``, its folder is on sys.path)."""
    import bench_postprocess

    return bench_postprocess


def frame_sequence(bp, num_people: int, num_frames: int, map_hw=(60, 80), seed: int = 0):
    """Maps of ``num_frames`` consecutive frames: one layout shifted one cell per frame."""
    part, locref, pairwise, _ = bp.make_frame(num_people, map_hw, np.random.default_rng(seed))
    noise = np.random.default_rng(seed + 1)
    for t in range(num_frames):
        p = np.roll(part, t, axis=1)
        p = np.clip(p + noise.uniform(-0.03, 0.03, p.shape).astype(np.float32), 0, 1)
        yield p, np.roll(locref, t, axis=1), np.roll(pairwise, t, axis=1)


def bench_people(bp, sizes, num_frames: int, hops: int | None = None) -> None:
    from arttrack.tracking.linker import FrameDetections, PeopleLinker
    from arttrack.video.pipeline import FILL_GAP, MIN_TRACK_FRAMES
    from arttrack.postprocess.pipeline import MultiPersonSettings, parse_frame
    from arttrack.tracking import TrackRelinker, TrackSmoother

    spatial = bp.spatial_model(hops)
    settings = MultiPersonSettings()
    j = 17
    print(f"per frame, medians over {num_frames - 1} frames (60x80 cells, COCO-17, "
          f"{len(spatial.pairs)} joint pairs), ms")
    print(f"{'people':>6} {'dets':>6} {'edges':>7} {'parse':>8} {'track st':>9} {'track hu':>9} "
          f"{'relink':>7} {'smooth':>7} {'total st':>9} {'found':>6} {'tracks':>6}")
    for n in sizes:
        st, hu = PeopleLinker(j, "st"), PeopleLinker(j, "hungarian")
        rl, sm = TrackRelinker(j), TrackSmoother(j, FILL_GAP, MIN_TRACK_FRAMES)
        t_parse, t_st, t_hu, t_rl, t_sm = [], [], [], [], []
        dets_n, edges_n, found = [], [], []
        for t, (part, locref, pw) in enumerate(frame_sequence(bp, n, num_frames)):
            t0 = time.perf_counter()
            parse = parse_frame(part, locref, pw, spatial, settings)
            dets = FrameDetections.from_parse(parse)
            t1 = time.perf_counter()
            people, ids = st.step(t, dets)
            t2 = time.perf_counter()
            hu.step(t, dets)
            t3 = time.perf_counter()
            final = rl.push(t, people, ids)
            t4 = time.perf_counter()
            for r in final:
                sm.push(r.frame, r.people, r.ids)
            t5 = time.perf_counter()
            if t == 0:
                continue
            t_parse.append(t1 - t0)
            t_st.append(t2 - t1)
            t_hu.append(t3 - t2)
            t_rl.append(t4 - t3)
            t_sm.append(t5 - t4)
            dets_n.append(len(dets.joint))
            edges_n.append(len(dets.edge_cost))
            found.append(len(people))
        m = statistics.median
        print(f"{n:6d} {m(dets_n):6.0f} {m(edges_n):7.0f} {1e3 * m(t_parse):8.2f} "
              f"{1e3 * m(t_st):9.2f} {1e3 * m(t_hu):9.2f} {1e3 * m(t_rl):7.2f} {1e3 * m(t_sm):7.2f} "
              f"{1e3 * (m(t_parse) + m(t_st) + m(t_rl) + m(t_sm)):9.2f} "
              f"{m(found):6.0f} {st.num_tracks:6d}")


def bench_end_to_end(ckpt: str, spatial: str | None, frames: int, size: tuple[int, int],
                     batch_size: int, mode: str) -> None:
    import cv2

    from arttrack.data.synthetic import SyntheticConfig, generate_clip
    from arttrack.video.model import ModelFiles, load_tracking_model
    from arttrack.video.pipeline import RunSettings, run
    from arttrack.video.source import open_source

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # MindSpore writes rank_0/ into the working directory
        clip = generate_clip(3, frames, SyntheticConfig(width=size[0], height=size[1],
                                                        num_people=(2, 4)))
        mp4 = Path(tmp) / "bench.mp4"
        wr = cv2.VideoWriter(str(mp4), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, size)
        for f in clip.frames:
            wr.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        wr.release()
        model = load_tracking_model(ModelFiles(Path(ckpt), spatial), mode=mode,
                                    backend="mindspore", batch_size=batch_size)
        for label, video in (("warm-up (compiles)", False), ("run", True)):
            res = run(open_source(str(mp4)), model, Path(tmp) / f"out_{label[:3]}",
                      RunSettings(batch_size=batch_size, video=video), progress=False)
            print(f"end to end, CPU, {size[0]}x{size[1]}, batch {batch_size}, {mode}, {label}: "
                  f"{res.summary()}")


def random_model(config: str, folder: Path, size: tuple[int, int]) -> tuple[str, str, str]:
    """A randomly initialised network of ``config`` saved as a checkpoint in ``folder``, with
    pairwise statistics of synthetic people of the frame size and an uninformative spatial
    model (every pair p = 0.5): for timing only. Returns (ckpt, spatial, stats) paths."""
    import mindspore as ms

    from arttrack.models.checkpoint import save_checkpoint
    from arttrack.config import load_config
    from arttrack.data.synthetic import SyntheticConfig, SyntheticPoseDataset
    from arttrack.models.factory import build_model
    from arttrack.joints import get_joint_set
    from arttrack.data.pairwise_stats import compute_pairwise_stats, save_pairwise_stats
    from arttrack.postprocess import SpatialModel

    ms.set_device("CPU")
    stats = folder / "pairwise_stats.npz"
    cfg = load_config(config, ["device_target=CPU", "init_weights=''", f"pairwise_stats_fn={stats}"])
    js = get_joint_set(cfg.joint_set)
    ds = SyntheticPoseDataset(seed=1, size=50, config=SyntheticConfig(
        width=size[0], height=size[1], num_people=(1, 4), joint_set=cfg.joint_set))
    save_pairwise_stats(compute_pairwise_stats((ds[i][1] for i in range(len(ds))), js), stats)
    ckpt = save_checkpoint(build_model(cfg, pretrained=False), folder / "random", 0, cfg, keep=0)
    pairs = js.pair_graph
    spatial = folder / "spatial.npz"
    SpatialModel(pairs, np.zeros((len(pairs), 9)), np.ones((len(pairs), 9)),
                 np.zeros((len(pairs), 9))).save(spatial)
    return str(ckpt), str(spatial), str(stats)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", default="1,5,10,20,40")
    p.add_argument("--frames", type=int, default=40,
                   help="consecutive frames per size (default 40: the relinker and the smoother "
                        "hold 7 and 8 frames, a short sequence would time little of them)")
    p.add_argument("--hops", type=int, default=None,
                   help="pair graph of the spatial model (default: COCO-17's, 2 hops)")
    p.add_argument("--ckpt", help="checkpoint for the end-to-end frames/s (optional)")
    p.add_argument("--spatial", help="spatial model (default: spatial.npz next to --ckpt)")
    p.add_argument("--arch", metavar="CONFIG",
                   help="instead of --ckpt: time a randomly initialised network of this config "
                        "(e.g. configs/coco_resnet101.yaml)")
    p.add_argument("--e2e-frames", type=int, default=24)
    p.add_argument("--e2e-size", default="320x240")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--mode", choices=("graph", "pynative"), default="graph")
    args = p.parse_args(argv)
    bp = _load_bench_postprocess()
    bench_people(bp, [int(s) for s in args.people.split(",")], max(2, args.frames), args.hops)
    w, h = (int(v) for v in args.e2e_size.lower().split("x"))
    if args.arch:
        with tempfile.TemporaryDirectory() as tmp:
            ckpt, spatial, stats = random_model(args.arch, Path(tmp), (w, h))
            print(f"end to end with a randomly initialised {Path(args.arch).name} network")
            bench_end_to_end(ckpt, spatial, args.e2e_frames, (w, h), args.batch_size, args.mode)
    elif args.ckpt:
        bench_end_to_end(args.ckpt, args.spatial, args.e2e_frames, (w, h), args.batch_size,
                         args.mode)
    else:
        print("end to end: pass --ckpt (and --spatial) to measure frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
