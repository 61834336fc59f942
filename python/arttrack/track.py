"""Track per-frame poses: ``python -m arttrack.track POSES.json --out FILE`` (the work is
:func:`arttrack.tracking.canonical.track_canonical`).

Reads canonical per-video pose JSON (:mod:`arttrack.io.canonical`; any joint set, names in
``meta.keypoint_names``, missing joints null) from any pose estimator, links the people
through time and writes the same JSON with an integer ``track_id`` on every instance
(0, 1, 2, ... in order of first appearance; an instance without any joint gets an id of
its own; with ``--fill-gap`` or ``--min-track-frames``, after the tracks' ids) and
``meta.tracker`` describing the run. Methods: ``st`` (spatio-temporal
multicut, :class:`arttrack.tracking.Tracker`) and ``hungarian`` (frame-by-frame bipartite
matching, :func:`arttrack.tracking.hungarian_baseline`). After ``st``, tracks are then
re-linked with a few frames of look-ahead (``--relink-window``,
:class:`arttrack.tracking.TrackRelinker`) and ``--fill-gap`` and ``--min-track-frames`` (off by default) complete the tracks, as the
video pipeline does (:class:`arttrack.tracking.TrackSmoother`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from arttrack import cli
from arttrack.tracking.relink import RELINK_WINDOW

PROG = "arttrack.track"
log = logging.getLogger(PROG)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arttrack.track", description=__doc__.split("\n\n")[0].strip('"'),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("poses", help="canonical per-video pose JSON (without track ids)")
    p.add_argument("--out", required=True, help="output JSON with a track_id on every instance")
    p.add_argument("--method", choices=("st", "hungarian"), default="st",
                   help="st: spatio-temporal multicut (default); hungarian: frame-by-frame baseline")
    p.add_argument("--max-gap", type=int, default=5,
                   help="frames a person may stay unseen and keep the id (default 5)")
    p.add_argument("--model", default=None, help="temporal model .npz (TemporalModel.save); default built in")
    p.add_argument("--gate", type=float, default=0.5,
                   help="hungarian only: largest mean joint distance / person size to match (default 0.5)")
    p.add_argument("--relink-window", type=int, default=RELINK_WINDOW,
                   help="--method st: re-link tracks with N frames of look-ahead, as "
                        "arttrack.multiperson does (young tracks, and ids swapped for one "
                        f"frame); 0 or 1: off (default {RELINK_WINDOW})")
    p.add_argument("--fill-gap", type=int, default=0,
                   help="interpolate joints (and whole people) a track misses for up to N "
                        "frames between two sightings, as arttrack.multiperson does; 0: off "
                        "(default)")
    p.add_argument("--min-track-frames", type=int, default=0,
                   help="drop tracks seen in fewer frames unless the clip's start or end cuts "
                        "them; 0: keep all (default)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv: debug)")
    return p


def _run(args: argparse.Namespace) -> None:
    from arttrack.io.canonical import read_canonical, write_canonical
    from arttrack.tracking.canonical import track_canonical

    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise IsADirectoryError(f"--out {out} is a directory")
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} exists; pass --overwrite to replace it")
    data = read_canonical(args.poses)
    result = track_canonical(data, method=args.method, max_gap=args.max_gap, model_path=args.model,
                             gate=args.gate, fill_gap=args.fill_gap,
                             min_track_frames=args.min_track_frames,
                             relink_window=args.relink_window)
    write_canonical(out, result)
    log.info("wrote %s (%d tracks)", out, result["meta"]["tracker"]["num_tracks"])


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(PROG, build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
