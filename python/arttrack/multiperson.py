"""Multi-person pose estimation and tracking on a video: ``python -m arttrack.multiperson VIDEO``.

The product's main job. This command only reads its arguments and wires the library's
stages (:mod:`arttrack.video`): the frame source, the model (:mod:`arttrack.video.model`),
the pipeline of one video (:mod:`arttrack.video.pipeline`: network, parsing, linking,
smoothing, the sinks behind one output folder per video), many videos and ``msrun`` ranks
(:mod:`arttrack.video.batch`) and the demo (:mod:`arttrack.video.demo`).

Outputs per video in ``--out-dir`` (default ``./out``): ``<stem>/<stem>.json`` (canonical
JSON with track ids), ``<stem>/<stem>_pose.mp4`` and the ``--save`` exports; the folder
appears whole or not at all. An existing folder is refused unless ``--overwrite``;
``--demo`` replaces its own earlier outputs (the same clip every time) and says so.
Exit status as every command (:mod:`arttrack.cli`): 0, 2 for bad input, 1 when a video
failed, 130 / 143 after SIGINT / SIGTERM (one line says which videos were finished).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from arttrack import cli
from arttrack.video.demo import DEMO_KPT_THR
from arttrack.video.model import DEFAULT_MODEL
from arttrack.video.pipeline import FILL_GAP, KPT_THR, MIN_TRACK_FRAMES, RELINK_WINDOW
from arttrack.video.source import InputError

log = logging.getLogger("arttrack.multiperson")

PROG = "arttrack.multiperson"

__all__ = ["build_parser", "main"]


EXAMPLES = """\
examples:
  python -m arttrack.models fetch deepercut-coco-resnet101    (once)
  python -m arttrack.multiperson clip.mp4
      the authors' COCO model (default --model) -> out/clip/clip.json, out/clip/clip_pose.mp4
  python -m arttrack.multiperson --demo
      synthetic clip + the shipped demo model; prints PoseTrack AP / MOTA
  python -m arttrack.multiperson clip.mp4 --model path/to/model_folder
  python -m arttrack.multiperson clip.mp4 --ckpt run/snapshot-1300.ckpt
      (spatial model: run/spatial.npz unless --spatial) -> out/clip/clip.json, out/clip/clip_pose.mp4
  python -m arttrack.multiperson frames/ --ckpt m.ckpt --spatial s.npz --fps 30 --no-video
  python -m arttrack.multiperson "frames/*.jpg" --ckpt m.ckpt --save posetrack,coco,openpose,csv
  python -m arttrack.multiperson clip.mp4 --ckpt m.ckpt --tracker hungarian --out-dir cmp/
  python -m arttrack.multiperson clip.mp4 --ckpt m.ckpt --flow --device GPU --batch-size 8
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m arttrack.multiperson",
        description="Multi-person pose estimation and tracking (ArtTrack) on a video, a folder "
                    "of images or a glob: canonical JSON, a video with tracked skeletons and "
                    "optional exports.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="*",
                   help="a video, a folder of images or a quoted glob of images (one video); or "
                        "many videos: a folder of videos, a quoted glob of videos, a .txt list, "
                        "or several video files (outputs per video in --out-dir, a "
                        "summary.json, finished videos skipped on a rerun)")
    p.add_argument("--demo", action="store_true",
                   help="track a generated synthetic clip with the shipped demo model")
    g = p.add_argument_group("model")
    g.add_argument("--model", help=f"a model name from `python -m arttrack.models list` or a "
                                   f"model folder (with model.json); default {DEFAULT_MODEL}")
    g.add_argument("--ckpt", help="training checkpoint (embeds its config) or model checkpoint "
                                  "(instead of --model)")
    g.add_argument("--config", help="experiment YAML (default: the checkpoint's embedded config)")
    g.add_argument("--spatial", help="spatial model .npz (default: spatial.npz next to --ckpt)")
    g.add_argument("--temporal", help="temporal model .npz (default: built in)")
    g.add_argument("--pairwise-stats", help="pairwise stats .npz (default: the config's)")
    g.add_argument("--device", choices=("CPU", "GPU", "Ascend"), default="CPU",
                   help="MindSpore device (default CPU)")
    g.add_argument("--mode", choices=("graph", "pynative"), default="graph",
                   help="MindSpore execution mode (default graph)")
    g.add_argument("--backend", choices=("auto", "mindspore", "onnxruntime"), default="auto",
                   help="what runs the network: auto (default) = ONNX Runtime on CPU when "
                        "installed (about 1.8x faster; the network is exported once per "
                        "checkpoint and frame size into the model cache), else MindSpore")
    g.add_argument("--batch-size", type=int, default=4,
                   help="frames per network call (default 4; with --flip-test, plus their "
                        "mirror images)")
    g.add_argument("--scale", type=float, default=None,
                   help="resize frames by this factor for the network (default: config "
                        "global_scale); outputs are in original pixels")
    g.add_argument("--min-joints", type=int, default=None,
                   help="drop people with fewer joints (default: config min_joints)")
    g.add_argument("--flip-test", action="store_true",
                   help="also run every frame mirrored and average the maps: usually more "
                        "accurate, twice the network time")
    t = p.add_argument_group("tracking")
    t.add_argument("--tracker", choices=("st", "hungarian"), default="st",
                   help="st: spatio-temporal multicut (default); hungarian: baseline")
    t.add_argument("--solver", choices=("gaec+klj", "gaec"), default="gaec+klj",
                   help="partition solver, per frame and spatio-temporal: greedy GAEC plus "
                        "Kernighan-Lin moves (default) or GAEC alone (faster)")
    t.add_argument("--max-gap", type=int, default=5,
                   help="frames a person may stay unseen and keep the id (default 5)")
    t.add_argument("--flow", action="store_true",
                   help="warp tracks by dense optical flow (Farneback) before linking")
    t.add_argument("--flow-scale", type=float, default=0.5,
                   help="downscale factor of the flow's grey frames (default 0.5)")
    t.add_argument("--relink-window", type=int, default=RELINK_WINDOW,
                   help="--tracker st: re-link tracks with N frames of look-ahead: where the "
                        "people's paths over N frames on each side of a frame boundary join "
                        "clearly better another way, young tracks (first seen up to 8 frames "
                        "before) change ids there, and people who swapped ids for one frame get "
                        "them back: fewer identity switches where people enter together or "
                        "cross. Output delayed by N - 1 frames; 0 or 1: off (default "
                        f"{RELINK_WINDOW})")
    t.add_argument("--fill-gap", type=int, default=FILL_GAP,
                   help="interpolate a tracked person's joints (and the whole person) missing "
                        f"for up to N frames between two sightings; 0: off (default {FILL_GAP})")
    t.add_argument("--min-track-frames", type=int, default=MIN_TRACK_FRAMES,
                   help="drop tracks seen in fewer frames, unless the clip's start or end cuts "
                        f"them; 0: keep all (default {MIN_TRACK_FRAMES}). Output is delayed, and "
                        "that many frames held in memory, by max(fill-gap, N - 1)")
    i = p.add_argument_group("input / output")
    i.add_argument("--start", type=int, default=0, help="first frame to process (default 0)")
    i.add_argument("--max-frames", type=int, default=None, help="process at most N frames")
    i.add_argument("--fps", type=float, default=None,
                   help="frame rate of image folders (default 25) or override of the video's")
    i.add_argument("--out-dir", default="out",
                   help="output folder (default ./out); each video's outputs go to their own "
                        "folder OUT/<stem>/, which appears whole or not at all")
    i.add_argument("--save", default="",
                   help="comma-separated exports: posetrack,coco,openpose,csv")
    i.add_argument("--kpt-thr", type=float, default=None,
                   help=f"keypoint score threshold for drawing, exports and (with --demo) the "
                        f"tracking metrics (default {KPT_THR}; {DEMO_KPT_THR} with --demo); "
                        "the JSON keeps every joint")
    i.add_argument("--no-video", action="store_true", help="do not write <stem>_pose.mp4")
    i.add_argument("--overwrite", action="store_true",
                   help="replace a video's existing output folder (--demo always replaces its "
                        "own); in a batch, redo finished videos instead of skipping them")
    i.add_argument("-v", "--verbose", action="count", default=0,
                   help="log progress (-vv: debug, with tracebacks)")
    return p


def _settings(args: argparse.Namespace, kpt_thr: float, overwrite: bool) -> Any:
    from arttrack.video.pipeline import RunSettings

    formats = tuple(dict.fromkeys(s.strip().lower() for s in args.save.split(",") if s.strip()))
    return RunSettings(tracker=args.tracker, max_gap=args.max_gap, flow=args.flow,
                       flow_scale=args.flow_scale, start=args.start, max_frames=args.max_frames,
                       batch_size=args.batch_size, kpt_thr=kpt_thr, fill_gap=args.fill_gap,
                       min_track_frames=args.min_track_frames,
                       relink_window=args.relink_window, video=not args.no_video,
                       formats=formats, overwrite=overwrite)


def _files(args: argparse.Namespace) -> Any:
    """The model's files, from --demo / --ckpt / --model."""
    from arttrack.video.model import demo_model_files, model_files

    extra = {"spatial": args.spatial, "pairwise_stats": args.pairwise_stats,
             "temporal": args.temporal}
    if args.demo:
        if args.input:
            raise InputError("--demo takes no input (it generates its own clip)")
        if args.model or args.ckpt:
            raise InputError("--demo uses the shipped demo model; drop --model / --ckpt")
        return demo_model_files(**extra)
    if not args.input:
        raise InputError("give an input video / folder / glob / list (or --demo)")
    return model_files(args.model, args.ckpt, **extra)


def _load(args: argparse.Namespace, files: Any, threads: Optional[int] = None,
          set_device: bool = True) -> Any:
    from arttrack.video.model import load_tracking_model

    model = load_tracking_model(files, config=args.config, device=args.device,
                                set_device=set_device, mode=args.mode, backend=args.backend,
                                batch_size=args.batch_size, min_joints=args.min_joints,
                                flip_test=args.flip_test, solver=args.solver, scale=args.scale,
                                threads=threads)
    cli.reassert_signals()  # MindSpore installed its own SIGINT handler while loading
    if not args.demo and model.trained_on_synthetic:
        print(f"{PROG}: warning: this model was trained on synthetic figures only; its output "
              f"on real footage is meaningless (use --model {DEFAULT_MODEL})", file=sys.stderr)
    return model


def _run(args: argparse.Namespace) -> int:
    from arttrack.video import pipeline
    from arttrack.video.batch import BatchInputError, batch_inputs
    from arttrack.video.source import open_source

    kpt_thr = args.kpt_thr if args.kpt_thr is not None else (DEMO_KPT_THR if args.demo else KPT_THR)
    out_dir = Path(args.out_dir)
    if not args.demo and args.input:
        try:
            videos = batch_inputs(args.input)
        except BatchInputError as exc:
            raise InputError(str(exc)) from None
        if videos is not None:
            return _run_batch(args, videos, out_dir, kpt_thr)
    # The demo's outputs are its own (the same clip every time): a rerun replaces them
    # and says so, so the README's command works any number of times.
    settings = _settings(args, kpt_thr, overwrite=args.overwrite or args.demo)
    files = _files(args)
    gt_path = None
    replaced: list[Path] = []
    if args.demo:
        from arttrack.video.demo import write_demo_clip

        src_path, gt_path = write_demo_clip(out_dir, True, replaced)
        source = open_source(str(src_path), args.fps)
    else:
        source = open_source(args.input[0], args.fps)
    # refuse an existing output folder before the (slow) model load
    pipeline.OutputDir(out_dir, source.stem).check(settings.overwrite)
    model = _load(args, files)
    res = pipeline.run(source, model, out_dir, settings, after_network=cli.reassert_signals)
    for w in res.warnings:
        print(f"{PROG}: warning: {w}", file=sys.stderr)
    print(f"{PROG}: {res.summary()}")
    print(f"{PROG}: wrote {res.json_path}" + (f", {res.video_path}" if res.video_path else "")
          + "".join(f", {p}" for p in res.exports.values()))
    if res.replaced:
        replaced.append(res.folder)
    if replaced:
        print(f"{PROG}: replaced the earlier run's {', '.join(p.name for p in replaced)} "
              f"in {out_dir}")
    if gt_path is not None:
        from arttrack.eval.posetrack import evaluate_posetrack

        r = evaluate_posetrack(gt_path, res.json_path, track_thr=kpt_thr)
        print(f"{PROG}: demo PoseTrack (vs {gt_path.name}; tracking metrics on joints scoring "
              f">= --kpt-thr {kpt_thr:g}): AP {r.total['ap']:.1f}  "
              f"MOTA {r.total['mota']:.1f}  MOTP {r.total['motp']:.1f}  "
              f"precision {r.total['precision']:.1f}  recall {r.total['recall']:.1f}  "
              f"ID switches {int(r.total['switches'])}")
    return 0


def _run_batch(args: argparse.Namespace, videos: list[Path], out_dir: Path, kpt_thr: float) -> int:
    """Many videos (arttrack.video.batch): this rank's share, failures recorded, finished
    videos skipped; rank 0 writes OUT/summary.json. Exit 1 when any video failed."""
    from arttrack.video import batch as vb
    from arttrack.video import pipeline
    from arttrack.video.source import open_source

    if args.start or args.max_frames:
        raise InputError("--start / --max-frames apply to one video, not to a batch")
    settings = _settings(args, kpt_thr, overwrite=True)
    files = _files(args)
    rank, size = vb.distributed_rank(args.device)
    threads = max(1, (os.cpu_count() or 1) // size) if size > 1 else None
    model = _load(args, files, threads, set_device=False)

    def planned(v: Path) -> dict[str, Path]:
        return pipeline.OutputDir(out_dir, v.stem, video=settings.video,
                                  formats=settings.formats).paths

    def process(v: Path) -> Any:
        res = pipeline.run(open_source(str(v), args.fps), model, out_dir, settings,
                           after_network=cli.reassert_signals)
        for w in res.warnings:
            print(f"{PROG}: warning: {w}", file=sys.stderr)
        return res

    done = vb.run_batch(videos, out_dir, planned=planned, process=process,
                        overwrite=args.overwrite, rank=rank, size=size,
                        progress_state=_BATCH_PROGRESS)
    failed = [r for r in done if r.status == "failed"]
    for r in failed:
        print(f"{PROG}: error: {Path(r.path).name}: {r.error}", file=sys.stderr)
    if rank == 0:
        records = vb.merge_summaries(out_dir, videos, size)
        path = vb.write_summary(out_dir, records, size)
        n = {s: sum(r.status == s for r in records) for s in ("done", "skipped", "failed", "pending")}
        print(f"{PROG}: {len(records)} videos: {n['done']} done, {n['skipped']} skipped (finished "
              f"before), {n['failed']} failed" + (f", {n['pending']} not reported" if n["pending"] else "")
              + f"; summary in {path}")
        return cli.EXIT_FAILURE if n["failed"] or n["pending"] else cli.EXIT_OK
    return cli.EXIT_FAILURE if failed else cli.EXIT_OK


_BATCH_PROGRESS: dict = {}


def _saved() -> str:
    """What an interrupted run had finished (the line after 'interrupted by SIG...')."""
    b = _BATCH_PROGRESS
    if b.get("total"):
        return (f"{b['finished']} of {b['total']} videos finished (their outputs are complete, "
                "the one in progress left nothing behind); run the same command again to go on")
    return "nothing was written (outputs appear only when complete)"


def main(argv: Optional[Sequence[str]] = None) -> int:
    os.environ.setdefault("GLOG_v", "3")  # MindSpore: errors only
    # FFmpeg's own messages ("moov atom not found") would add lines to our one-line errors
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    _BATCH_PROGRESS.clear()
    return cli.main(PROG, build_parser(), _run, argv, saved=_saved)


if __name__ == "__main__":
    sys.exit(main())
