"""Evaluate the demo model end to end on held-out synthetic clips, ``st`` against ``hungarian``.

Writes ``--clips`` PoseTrack 2018 style clips (``arttrack.data.synthetic.write_posetrack``,
seed ``--seed``: training, the spatial fit and the temporal fit never use it) with 2-4
people walking across, crossing and occluding each other, runs the video pipeline
(``arttrack.video.pipeline.run``) with each tracker on every clip and scores the results with
``arttrack.eval.posetrack`` (per-joint AP; MOTA and the other tracking metrics on the joints
scoring at least ``--kpt-thr``):

    python scripts/eval_demo_model.py [--clips 8] [--seed 9000] [--kpt-thr 0.4]
    python scripts/eval_demo_model.py --ckpt out/demo/snapshot-7500.ckpt --spatial out/demo/spatial.npz

Prints one table row per tracker (and, with ``--sweep``, MOTA for a range of thresholds).
``--diagnose`` adds, per joint, where the first tracker's output loses the ground truth (see
:func:`diagnose`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

OUTCOMES = ("correct", "swapped", "near", "misplaced", "missing", "no_person")


def outcome(xy, person, j: int, twin: int, reach: float) -> str:
    """What the predicted ``person`` (an ``arttrack.eval.posetrack.Person``, None when the
    ground-truth person is not paired) made of ground-truth joint ``j`` at ``xy``: one of
    :data:`OUTCOMES` (``twin``: the other-side joint of ``j``, ``j`` itself for centre joints)."""
    import numpy as np

    if person is None:
        return "no_person"
    if not person.present[j]:
        return "missing"
    off = float(np.linalg.norm(person.keypoints[j] - xy))
    if off <= reach:
        return "correct"
    if person.present[twin] and np.linalg.norm(person.keypoints[twin] - xy) <= reach:
        return "swapped"
    return "near" if off <= 2 * reach else "misplaced"


def diagnose(gt_dir, pred_dir, videos, clip_cfg, seed, frames, predictor, spatial, scale):
    """Where the ground-truth joints go, per PoseTrack joint (fractions of the labelled ones).

    ``reach``: some detection of that joint type (before grouping) lies within PCKh 0.5;
    ``hidden``: the joint is occluded (by the person itself or by another); then one of
    ``OUTCOMES`` for the predicted person paired with its ground-truth person (the pairing
    of the evaluation): ``correct`` (its joint is within reach), ``swapped`` (not, but its
    other-side twin is: a left/right mix-up), ``near`` (off by at most twice the reach: a
    localisation error rather than a wrong detection), ``misplaced`` (off by more),
    ``missing`` (the person has no such joint), ``no_person`` (the ground-truth person is
    not paired). ``hidden_ok`` and ``visible_ok``: the share correct among the occluded and
    among the visible joints (None when there are none).
    """
    import cv2
    import numpy as np

    from arttrack.data.synthetic import generate_clip, joint_indices
    from arttrack.eval import posetrack as pt
    from arttrack.inference import rescale_image
    from arttrack.joints import get_joint_set
    from arttrack.postprocess.pipeline import parse_frame
    from arttrack.tracking.linker import FrameDetections
    from arttrack.video.source import open_source

    names = pt.POSETRACK18_NAMES
    twin = {j: names.index(n.replace("left", "right") if "left" in n else n.replace("right", "left"))
            for j, n in enumerate(names)}
    model_names = get_joint_set(predictor.config.joint_set).names
    to17 = np.array([names.index(n) if n in names else -1 for n in model_names])
    kp_idx = joint_indices("posetrack17")
    settings = predictor.resolve_settings(None)
    gt = pt.load_ground_truth(gt_dir)
    pred = pt.load_predictions(pred_dir, gt)
    counts = {k: np.zeros(len(names)) for k in ("n", "reach", "hidden", *OUTCOMES, "hidden_ok")}
    for k, video in enumerate(videos):
        vid = gt.resolve(video.stem)
        clip = generate_clip(np.random.default_rng([seed, k]), frames, clip_cfg)
        for fi, bgr in open_source(str(video)).frames(0, None):
            frame = gt.videos[vid].get(fi)
            if frame is None:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            ratio = (1.0, 1.0)
            if scale != 1.0:
                rgb, ratio = rescale_image(rgb, scale)
            m = predictor.maps(rgb)
            dets = FrameDetections.from_parse(parse_frame(m.part, m.locref, m.pairwise,
                                                             spatial, settings), ratio)
            det17 = to17[dets.joint]
            vis = {p.track_id: p.points[kp_idx, 2] for p in clip.people[fi]}
            people = pred.get(vid, {}).get(fi, [])
            _, _, pairs = pt.match_frame(frame.people, people, pt.PCK_THRESHOLD)
            paired = {g: p for p, g in pairs.items()}
            for g, person in enumerate(frame.people):
                for j in np.flatnonzero(person.present):
                    reach = pt.PCK_THRESHOLD * person.head_size
                    counts["n"][j] += 1
                    near = np.linalg.norm(dets.xy[det17 == j] - person.keypoints[j], axis=1)
                    counts["reach"][j] += bool((near <= reach).any())
                    hidden = vis[person.track_id][j] != 2
                    counts["hidden"][j] += hidden
                    p = paired.get(g)
                    what = outcome(person.keypoints[j], None if p is None else people[p], j,
                                   twin[j], reach)
                    counts[what][j] += 1
                    counts["hidden_ok"][j] += hidden and what == "correct"
    n = np.maximum(counts["n"], 1)
    res = {names[j]: {k: (int(v[j]) if k == "n" else float(100.0 * v[j] / n[j]))
                      for k, v in counts.items() if k != "hidden_ok"} for j in pt.EVAL_JOINTS}
    for j in pt.EVAL_JOINTS:  # correct among the occluded and among the visible joints
        h = counts["hidden"][j]
        res[names[j]]["hidden_ok"] = float(100.0 * counts["hidden_ok"][j] / h) if h else None
        res[names[j]]["visible_ok"] = (float(100.0 * (counts["correct"][j] - counts["hidden_ok"][j])
                                             / (counts["n"][j] - h)) if counts["n"][j] > h
                                       else None)
    return res


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
                         "--demo's, arttrack.video.demo.DEMO_KPT_THR)")
    ap.add_argument("--scale", type=float, default=None,
                    help="resize frames by this factor for the network (default: the config's "
                         "global_scale)")
    ap.add_argument("--flip-test", action="store_true",
                    help="average each frame's maps with its mirror image's")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a decoding setting (arttrack.postprocess.MultiPersonSettings, "
                         "e.g. nms_radius=4); repeatable")
    ap.add_argument("--fill-gap", type=int, default=None,
                    help="TrackSmoother gap filling (default: the CLI's, arttrack.video.pipeline.FILL_GAP)")
    ap.add_argument("--min-track-frames", type=int, default=None,
                    help="TrackSmoother short-track removal (default: the CLI's)")
    ap.add_argument("--relink-window", type=int, default=None,
                    help="TrackRelinker look-ahead, 0: off (default: the CLI's, "
                         "arttrack.video.pipeline.RELINK_WINDOW)")
    ap.add_argument("--trackers", default="st,hungarian")
    ap.add_argument("--sweep", action="store_true", help="also print MOTA for kpt-thr 0.1..0.8")
    ap.add_argument("--diagnose", action="store_true",
                    help="also print, per joint, where the first tracker loses the ground truth")
    ap.add_argument("--json-out", help="write the results as JSON")
    args = ap.parse_args(argv)
    json_out = Path(args.json_out).resolve() if args.json_out else None
    import dataclasses

    import yaml

    from arttrack.postprocess.pipeline import MultiPersonSettings

    known = {f.name for f in dataclasses.fields(MultiPersonSettings)}
    kv = dict(o.split("=", 1) if "=" in o else (o, None) for o in args.overrides)
    bad = sorted(k for k, v in kv.items() if k not in known or v is None)
    if bad:
        ap.error(f"--set {bad[0]}: give KEY=VALUE with KEY one of {sorted(known)}")
    overrides = {k: yaml.safe_load(v) for k, v in kv.items()}

    from arttrack.data.synthetic import write_posetrack
    from arttrack.eval.posetrack import evaluate_posetrack
    from arttrack.video import demo
    from arttrack.video.model import ModelFiles, load_tracking_model
    from arttrack.video.pipeline import FILL_GAP, MIN_TRACK_FRAMES, RELINK_WINDOW, RunSettings, run
    from arttrack.video.source import open_source

    kpt_thr = args.kpt_thr if args.kpt_thr is not None else demo.DEMO_KPT_THR
    fill_gap = FILL_GAP if args.fill_gap is None else args.fill_gap
    min_frames = MIN_TRACK_FRAMES if args.min_track_frames is None else args.min_track_frames
    relink = RELINK_WINDOW if args.relink_window is None else args.relink_window
    d = demo.demo_dir()

    def resolved(p):  # before the chdir into the scratch folder
        return None if p is None else str(Path(p).resolve())

    ckpt = Path(args.ckpt).resolve() if args.ckpt else d / demo.DEMO_CKPT
    spatial = resolved(args.spatial) or (None if args.ckpt else str(d / "spatial.npz"))
    stats = resolved(args.pairwise_stats) or (None if args.ckpt else str(d / "pairwise_stats.npz"))
    if stats is None:  # the checkpoint's config may name its stats relative to here
        from arttrack.models.checkpoint import load_checkpoint

        fn = getattr(load_checkpoint(ckpt).config, "pairwise_stats_fn", "")
        stats = resolved(fn) if fn else None
    tpath = resolved(args.temporal) or (str(d / "temporal.npz") if (d / "temporal.npz").is_file()
                                        else None)
    w, h = (int(v) for v in args.size.lower().split("x"))
    rows, diag = {}, None
    with tempfile.TemporaryDirectory(prefix="arttrack-eval-demo-") as tmp:
        root = Path(tmp)
        os.chdir(root)  # MindSpore writes rank_0/ into the working directory
        cfg = demo.demo_clip_config((w, h))
        gts = write_posetrack(root / "data", args.clips, num_frames=args.frames, seed=args.seed,
                              config=cfg, progress=False)
        model = load_tracking_model(ModelFiles(ckpt, spatial, stats, tpath), backend="mindspore",
                                    flip_test=args.flip_test, scale=args.scale or None)
        pred, sm, scale = model.predictor, model.spatial, model.scale
        if overrides:
            pred.settings = dataclasses.replace(pred.settings, **overrides)
        first = root / "data" / "videos" / f"{gts[0].stem}.mp4"  # compile before timing
        run(open_source(str(first)), model, root / "warm-up",
            RunSettings(max_frames=4, video=False), progress=False)
        for tracker in args.trackers.split(","):
            out = root / f"pred_{tracker}"
            frames, elapsed = 0, 0.0
            for gt in gts:
                video = root / "data" / "videos" / f"{gt.stem}.mp4"
                t0 = time.perf_counter()
                res = run(open_source(str(video)), model, out,
                          RunSettings(tracker=tracker, kpt_thr=kpt_thr, video=False,
                                      fill_gap=fill_gap, min_track_frames=min_frames,
                                      relink_window=relink),
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
            if args.diagnose and diag is None:
                videos = [root / "data" / "videos" / f"{gt.stem}.mp4" for gt in gts]
                diag = diagnose(root / "data" / "annotations" / "val", out, videos, cfg,
                                args.seed, args.frames, pred, sm, scale)
    print(f"{args.clips} held-out clips (seed {args.seed}), {args.frames} frames {w}x{h}, "
          f"2-4 people; model {ckpt.name} at scale {scale:g}{' with flip test' * args.flip_test}; "
          "tracking metrics on joints >= "
          f"{kpt_thr:g}; relink-window {relink}, fill-gap {fill_gap}, min-track-frames {min_frames}"
          + "".join(f"; {o}" for o in args.overrides))
    print(f"{'tracker':10s} {'AP':>6s} {'MOTA':>6s} {'MOTP':>6s} {'prec':>6s} {'recall':>6s} "
          f"{'IDsw':>5s} {'fps':>6s}")
    for tracker, r in rows.items():
        print(f"{tracker:10s} {r['ap']:6.1f} {r['mota']:6.1f} {r['motp']:6.1f} {r['precision']:6.1f} "
              f"{r['recall']:6.1f} {r['switches']:5d} {r['frames_per_s']:6.1f}")
        if "mota_by_kpt_thr" in r:
            print("   MOTA by kpt-thr: " + "  ".join(f"{t} {v:.1f}" for t, v in
                                                   r["mota_by_kpt_thr"].items()))
    if diag is not None:
        tracker = args.trackers.split(",")[0]
        print(f"\nwhere the labelled joints go ({tracker}; % of n; reach and hidden are not "
              "exclusive, the next six add to 100; hidden_ok, visible_ok: % correct among the "
              "occluded, the visible)")
        cols = ("n", "reach", "hidden", *OUTCOMES, "hidden_ok", "visible_ok")
        print(f"{'joint':15s}" + "".join(f"{c:>11s}" for c in cols))
        for name, d in diag.items():
            print(f"{name:15s}{d['n']:11d}" + "".join(f"{'-':>11s}" if d[c] is None else f"{d[c]:11.1f}"
                                                      for c in cols[1:]))
    if json_out:
        json_out.write_text(json.dumps({"kpt_thr": kpt_thr, "seed": args.seed,
                                        "flip_test": args.flip_test, "clips": args.clips,
                                        "results": rows, "diagnosis": diag}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
