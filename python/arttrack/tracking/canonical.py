"""Tracking the canonical per-video JSON of any pose estimator (what ``python -m
arttrack.track`` runs): :func:`track_canonical` links the people of every frame through time
and returns the same JSON with an integer ``track_id`` on every instance (0, 1, 2, ... in
order of first appearance; an instance without any joint gets an id of its own; with
``fill_gap`` or ``min_track_frames``, after the tracks' ids) and ``meta.tracker`` describing
the run. Methods: ``st`` (spatio-temporal multicut, :class:`arttrack.tracking.Tracker`) and
``hungarian`` (frame-by-frame bipartite matching,
:func:`arttrack.tracking.hungarian_baseline`); after ``st``, tracks are then re-linked with
``relink_window`` frames of look-ahead (:class:`arttrack.tracking.TrackRelinker`), and
``fill_gap`` and ``min_track_frames`` complete the tracks, as the video pipeline does
(:class:`arttrack.tracking.TrackSmoother`).
"""

from __future__ import annotations

import copy
import logging

import numpy as np

from arttrack.tracking.relink import RELINK_WINDOW

log = logging.getLogger(__name__)

__all__ = ["track_canonical"]


def track_canonical(data: dict, method: str = "st", max_gap: int = 5, model_path: str | None = None,
                    gate: float = 0.5, fill_gap: int = 0, min_track_frames: int = 0,
                    relink_window: int = RELINK_WINDOW) -> dict:
    """Returns a copy of validated canonical JSON ``data`` with track ids filled in.

    ``relink_window`` (1 or less: off) re-links young tracks after ``st`` as the video
    pipeline does (:class:`arttrack.tracking.TrackRelinker`). ``fill_gap`` and ``min_track_frames``
    (default 0: off) complete the tracks as
    ``python -m arttrack.multiperson`` does (:class:`arttrack.tracking.TrackSmoother`):
    joints a track misses for up to ``fill_gap`` frames are interpolated (new instances
    where the whole person was missed; given joints are never changed) and tracks seen in
    fewer than ``min_track_frames`` frames are dropped unless the clip's ends cut them."""
    from arttrack import __version__
    from arttrack.io.canonical import people_array
    from arttrack.joints import JOINT_SETS
    from arttrack.tracking import TemporalModel, hungarian_baseline, relink_ids, track_people

    if max_gap < 0:
        raise ValueError(f"--max-gap must be >= 0, got {max_gap}")
    if fill_gap < 0 or min_track_frames < 0:
        raise ValueError("--fill-gap and --min-track-frames must be >= 0")
    if relink_window < 0:
        raise ValueError(f"--relink-window must be >= 0, got {relink_window}")
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
    if method == "st":  # the Hungarian baseline is left as it links (as in the pipeline)
        ids = relink_ids(people, ids, fids, nj, relink_window)
    info["relink_window"] = int(relink_window) if method == "st" else 0
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
    from arttrack.io.canonical import instance_from_person
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
