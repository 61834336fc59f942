"""Evaluate the demo model end to end on held-out synthetic clips, ``st`` against ``hungarian``.

Writes ``--clips`` PoseTrack 2018 style clips (``arttrack.data.synthetic.write_posetrack``,
seed ``--seed``: training, the spatial fit and the temporal fit never use it) with 2-4
people walking across, crossing and occluding each other, runs the video pipeline
(``arttrack.multiperson.run``) with each tracker on every clip and scores the results with
``arttrack.eval.posetrack`` (per-joint AP; MOTA and the other tracking metrics on the joints
scoring at least ``--kpt-thr``):

    python scripts/eval_demo_model.py [--clips 8] [--seed 9000] [--kpt-thr 0.4]
    python scripts/eval_demo_model.py --ckpt out/demo/snapshot-7500.ckpt --spatial out/demo/spatial.npz

Prints one table row per tracker (and, with ``--sweep``, MOTA for a range of thresholds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=8, help="held-out clips (default 8)")
    ap.add_argument("--frames", type=int, default=40, help="frames per clip (default 40)")
    ap.add_argument("--seed", type=int, default=9000, help="clip seed (default 9000)")
    ap.add_argument("--size", default="320x240", help="frame size WxH (default: the demo's)")
    ap.add_argument("--ckpt", help="model checkpoint (default: the shipped demo model)")
    ap.add_argument("--spatial", help="spatial model (default: spatial.npz beside --ckpt)")
    ap.add_argument("--temporal", help="temporal model (default: the demo's temporal.npz)")
    ap.add_argument("--pairwise-stats", help="pairwise stats (default: the config's)")
    ap.add_argument("--kpt-thr", type=float, default=None,
                    help="joints below this are left out of the tracking metrics (default: "
                         "--demo's, arttrack.multiperson.DEMO_KPT_THR)")
    ap.add_argument("--scale", type=float, default=None,
                    help="resize frames by this factor for the network (default: the config's "
                         "global_scale)")
    ap.add_argument("--flip-test", action="store_true",
                    help="average each frame's maps with its mirror image's")
    ap.add_argument("--trackers", default="st,hungarian")
    ap.add_argument("--sweep", action="store_true", help="also print MOTA for kpt-thr 0.1..0.8")
    ap.add_argument("--json-out", help="write the results as JSON")
    args = ap.parse_args(argv)
    json_out = Path(args.json_out).resolve() if args.json_out else None

    from arttrack import multiperson as mp
    from arttrack.data.synthetic import write_posetrack
    from arttrack.eval.posetrack import evaluate_posetrack
    from arttrack.tracking import TemporalModel

    kpt_thr = args.kpt_thr if args.kpt_thr is not None else mp.DEMO_KPT_THR
    d = mp.demo_dir()

    def resolved(p):  # before the chdir into the scratch folder
        return None if p is None else str(Path(p).resolve())

    ckpt = Path(args.ckpt).resolve() if args.ckpt else d / mp.DEMO_CKPT
    spatial = resolved(args.spatial) or (None if args.ckpt else str(d / "spatial.npz"))
    stats = resolved(args.pairwise_stats) or (None if args.ckpt else str(d / "pairwise_stats.npz"))
    if stats is None:  # the checkpoint's config may name its stats relative to here
        from arttrack.checkpoint import load_checkpoint

        fn = getattr(load_checkpoint(ckpt).config, "pairwise_stats_fn", "")
        stats = resolved(fn) if fn else None
    tpath = resolved(args.temporal) or (str(d / "temporal.npz") if (d / "temporal.npz").is_file()
                                        else None)
    temporal = TemporalModel.load(tpath) if tpath else None
    w, h = (int(v) for v in args.size.lower().split("x"))
    rows = {}
    with tempfile.TemporaryDirectory(prefix="arttrack-eval-demo-") as tmp:
        root = Path(tmp)
        os.chdir(root)  # MindSpore writes rank_0/ into the working directory
        cfg = mp.demo_clip_config((w, h))
        gts = write_posetrack(root / "data", args.clips, num_frames=args.frames, seed=args.seed,
                              config=cfg, progress=False)
        pred, sm, _ = mp._load_model(ckpt, None, "CPU", "graph", 4, stats, spatial, None,
                                     args.flip_test)
        scale = args.scale or (float(pred.config.global_scale) if pred.config is not None else 1.0)
        first = root / "data" / "videos" / f"{gts[0].stem}.mp4"  # compile before timing
        mp.run(mp.open_source(str(first)), pred, sm, root / "warm-up", scale=scale, max_frames=4,
               video=False, progress=False)
        for tracker in args.trackers.split(","):
            out = root / f"pred_{tracker}"
            frames, elapsed = 0, 0.0
            for gt in gts:
                video = root / "data" / "videos" / f"{gt.stem}.mp4"
                t0 = time.perf_counter()
                res = mp.run(mp.open_source(str(video)), pred, sm, out, tracker=tracker,
                             temporal=temporal, scale=scale, kpt_thr=kpt_thr, video=False,
                             progress=False)
                elapsed += time.perf_counter() - t0
                frames += res.frames
            r = evaluate_posetrack(root / "data" / "annotations" / "val", out, track_thr=kpt_thr)
            rows[tracker] = {**{k: r.total[k] for k in ("ap", "mota", "motp", "precision", "recall",
                                                         "switches")},
                             "per_joint_ap": dict(zip(r.joint_names, [float(v) for v in r.ap])),
                             "frames_per_s": frames / elapsed}
            if args.sweep:
                rows[tracker]["mota_by_kpt_thr"] = {
                    f"{t:.1f}": evaluate_posetrack(root / "data" / "annotations" / "val", out,
                                                   track_thr=t).total["mota"]
                    for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}
    print(f"{args.clips} held-out clips (seed {args.seed}), {args.frames} frames {w}x{h}, "
          f"2-4 people; model {ckpt.name} at scale {scale:g}{' with flip test' * args.flip_test}; "
          "tracking metrics on joints >= "
          f"{kpt_thr:g}")
    print(f"{'tracker':10s} {'AP':>6s} {'MOTA':>6s} {'MOTP':>6s} {'prec':>6s} {'recall':>6s} "
          f"{'IDsw':>5s} {'fps':>6s}")
    for tracker, r in rows.items():
        print(f"{tracker:10s} {r['ap']:6.1f} {r['mota']:6.1f} {r['motp']:6.1f} {r['precision']:6.1f} "
              f"{r['recall']:6.1f} {r['switches']:5d} {r['frames_per_s']:6.1f}")
        if "mota_by_kpt_thr" in r:
            print("   MOTA by kpt-thr: " + "  ".join(f"{t} {v:.1f}" for t, v in
                                                   r["mota_by_kpt_thr"].items()))
    if json_out:
        json_out.write_text(json.dumps({"kpt_thr": kpt_thr, "seed": args.seed,
                                        "flip_test": args.flip_test, "clips": args.clips,
                                        "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
