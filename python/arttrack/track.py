"""Track per-frame poses: ``python -m arttrack.track POSES.json --out FILE``.

Reads canonical per-video pose JSON (:mod:`arttrack.io_json`; any joint set, names in
``meta.keypoint_names``, missing joints null) from any pose estimator, links the people
through time and writes the same JSON with an integer ``track_id`` on every instance
(0, 1, 2, ... in order of first appearance; an instance without any joint gets an id of
its own) and ``meta.tracker`` describing the run. Methods: ``st`` (spatio-temporal
multicut, :class:`arttrack.tracking.Tracker`) and ``hungarian`` (frame-by-frame bipartite
matching, :func:`arttrack.tracking.hungarian_baseline`).
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger("arttrack.track")


def track_canonical(data: dict, method: str = "st", max_gap: int = 5, model_path: str | None = None,
                    gate: float = 0.5) -> dict:
    """Returns a copy of validated canonical JSON ``data`` with track ids filled in."""
    from arttrack import __version__
    from arttrack.io_json import people_array
    from arttrack.joints import JOINT_SETS
    from arttrack.tracking import TemporalModel, hungarian_baseline, track_people

    if max_gap < 0:
        raise ValueError(f"--max-gap must be >= 0, got {max_gap}")
    names = data["meta"]["keypoint_names"]
    nj = len(names)
    known = [js.name for js in JOINT_SETS.values() if tuple(names) == js.names]
    log.info("%d keypoints (%s)", nj, known[0] if known else "custom joint set")
    out = copy.deepcopy(data)
    order = sorted(range(len(out["frames"])), key=lambda i: out["frames"][i]["frame_id"])
    frames = [out["frames"][i] for i in order]
    if any(inst.get("track_id") is not None for fr in frames for inst in fr["instances"]):
        log.warning("input already has track ids; they are replaced")
    people = [people_array(fr, nj) for fr in frames]
    fids = [fr["frame_id"] for fr in frames]
    info: dict = {"method": method, "max_gap": int(max_gap), "arttrack_version": __version__}
    if method == "st":
        model = TemporalModel.load(model_path) if model_path else TemporalModel.default()
        info["model"] = str(model_path) if model_path else "default"
        info["model_weights"] = list(model.weights)
        ids = track_people(people, model=model, max_gap=max_gap, frame_ids=fids)
    elif method == "hungarian":
        if model_path:
            raise ValueError("--model only applies to --method st")
        info["gate"] = float(gate)
        ids = hungarian_baseline(people, max_gap=max_gap, gate=gate, frame_ids=fids)
    else:
        raise ValueError(f"unknown method {method!r}; choose 'st' or 'hungarian'")
    remap: dict[int, int] = {}  # tracker id -> output id, in order of first appearance
    n = 0
    for fr, fid in zip(frames, ids):
        for inst, t in zip(fr["instances"], np.asarray(fid).tolist()):
            if t < 0:  # no joint to track: an id of its own
                inst["track_id"] = n
                n += 1
                continue
            if t not in remap:
                remap[t] = n
                n += 1
            inst["track_id"] = remap[t]
    info["num_tracks"] = n
    out["meta"]["tracker"] = info
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arttrack.track", description=__doc__.split("\n\n")[0],
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
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(levelname)s: %(message)s")
    from arttrack.io_json import read_canonical, write_canonical

    try:
        out = Path(args.out)
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
        if out.exists() and out.is_dir():
            raise IsADirectoryError(f"--out {out} is a directory")
        data = read_canonical(args.poses)
        result = track_canonical(data, method=args.method, max_gap=args.max_gap, model_path=args.model,
                                 gate=args.gate)
        write_canonical(out, result)
    except (ValueError, OSError) as exc:
        print(f"arttrack.track: error: {exc}", file=sys.stderr)
        return 2
    log.info("wrote %s (%d tracks)", out, result["meta"]["tracker"]["num_tracks"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
