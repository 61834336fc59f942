"""Track per-frame poses: ``python -m arttrack.track POSES.json --out FILE``.

Reads canonical per-video pose JSON (:mod:`arttrack.io_json`; any joint set, names in
``meta.keypoint_names``, missing joints null) from any pose estimator, links the people
through time and writes the same JSON with an integer ``track_id`` on every instance
(0, 1, 2, ... in order of first appearance; an instance without any joint gets an id of
its own; with ``--fill-gap`` or ``--min-track-frames``, after the tracks' ids) and
``meta.tracker`` describing the run. Methods: ``st`` (spatio-temporal
multicut, :class:`arttrack.tracking.Tracker`) and ``hungarian`` (frame-by-frame bipartite
matching, :func:`arttrack.tracking.hungarian_baseline`). ``--fill-gap`` and
``--min-track-frames`` (off by default) complete the tracks as the video pipeline does
(:class:`arttrack.tracking.TrackSmoother`).
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
                    gate: float = 0.5, fill_gap: int = 0, min_track_frames: int = 0) -> dict:
    """Returns a copy of validated canonical JSON ``data`` with track ids filled in.

    ``fill_gap`` and ``min_track_frames`` (default 0: off) complete the tracks as
    ``python -m arttrack.multiperson`` does (:class:`arttrack.tracking.TrackSmoother`):
    joints a track misses for up to ``fill_gap`` frames are interpolated (new instances
    where the whole person was missed; given joints are never changed) and tracks seen in
    fewer than ``min_track_frames`` frames are dropped unless the clip's ends cut them."""
    from arttrack import __version__
    from arttrack.io_json import people_array
    from arttrack.joints import JOINT_SETS
    from arttrack.tracking import TemporalModel, hungarian_baseline, track_people

    if max_gap < 0:
        raise ValueError(f"--max-gap must be >= 0, got {max_gap}")
    if fill_gap < 0 or min_track_frames < 0:
        raise ValueError("--fill-gap and --min-track-frames must be >= 0")
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
    if fill_gap > 0 or min_track_frames > 1:
        n = _complete_tracks(frames, people, nj, fill_gap, min_track_frames)
        info.update(fill_gap=int(fill_gap), min_track_frames=int(min_track_frames))
    info["num_tracks"] = n
    out["meta"]["tracker"] = info
    return out


def _complete_tracks(frames: list[dict], people: list[np.ndarray], nj: int, fill_gap: int,
                     min_track_frames: int) -> int:
    """:class:`arttrack.tracking.TrackSmoother` over tracked ``frames`` (in place): fills
    joints that were missing (null or NaN), adds the people it puts back, drops short
    tracks, renumbers the ids; an instance's other fields (``bbox``, ``score``) stay as
    given; instances without any joint keep ids of their own after the tracks'. Returns
    the number of ids."""
    from arttrack.io_json import instance_from_person
    from arttrack.tracking import TrackSmoother

    sm = TrackSmoother(nj, fill_gap, min_track_frames)
    released = []
    for fr, p in zip(frames, people):
        has = np.isfinite(p[..., 0])  # (P, J): the joints the input gave
        ids = [inst["track_id"] if h.any() else -1 for inst, h in zip(fr["instances"], has)]
        released += sm.push(fr["frame_id"], p, ids, payload=(fr, has))
    released += sm.finish()
    jointless = []
    for r in released:
        fr, has = r.payload
        given = {inst["track_id"]: (inst, h) for inst, h in zip(fr["instances"], has) if h.any()}
        own = [inst for inst, h in zip(fr["instances"], has) if not h.any()]
        jointless += own
        insts = []
        for p, old, new in zip(r.people, r.tracks.tolist(), r.ids.tolist()):
            filled = instance_from_person(p, new)
            if old not in given:  # a person put back
                insts.append(filled)
                continue
            inst, h = given[old]
            scores = inst.get("keypoint_scores")
            for k in range(len(inst["keypoints"])):
                if not h[k] and filled["keypoints"][k] is not None:
                    inst["keypoints"][k] = filled["keypoints"][k]
                    if scores is not None:
                        scores[k] = filled["keypoint_scores"][k]
            inst["track_id"] = new
            insts.append(inst)
        fr["instances"] = insts + own
    n = sm.num_tracks
    for inst in jointless:
        inst["track_id"] = n
        n += 1
    return n


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
    p.add_argument("--fill-gap", type=int, default=0,
                   help="interpolate joints (and whole people) a track misses for up to N "
                        "frames between two sightings, as arttrack.multiperson does; 0: off "
                        "(default)")
    p.add_argument("--min-track-frames", type=int, default=0,
                   help="drop tracks seen in fewer frames unless the clip's start or end cuts "
                        "them; 0: keep all (default)")
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
                                 gate=args.gate, fill_gap=args.fill_gap,
                                 min_track_frames=args.min_track_frames)
        write_canonical(out, result)
    except (ValueError, OSError) as exc:
        print(f"arttrack.track: error: {exc}", file=sys.stderr)
        return 2
    log.info("wrote %s (%d tracks)", out, result["meta"]["tracker"]["num_tracks"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
