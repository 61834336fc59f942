"""Exporters of canonical per-video pose JSON (:mod:`arttrack.io.canonical`) to other formats.

All take the canonical dict (``meta.keypoint_names``, 0-based ``frame_id``, instances with
``track_id``, ``keypoints`` (null = missing) and ``keypoint_scores``) and a keypoint score
threshold ``kpt_thr``: a joint scoring below it is written as missing. Every file is
written under a temporary name and renamed; the OpenPose folder is filled under a
temporary name and renamed as a whole.

* :func:`write_posetrack`: PoseTrack 2018 JSON (``images`` with ``vid_id`` /
  ``frame_id`` / ``file_name`` ``images/<video>/%06d.jpg``, ``annotations`` with
  ``keypoints`` [x, y, v] * 17 in PoseTrack's order (joints mapped by name; absent ones
  0, 0, 0), per-keypoint ``scores``, ``track_id``), readable by
  ``python -m arttrack.eval posetrack``.
* :func:`write_coco_results`: COCO keypoint results list ``{image_id, category_id: 1,
  keypoints [x, y, v] * 17, score}``, ``image_id`` = ``frame_id + image_id_offset``;
  keypoints in COCO's order, joints mapped by name (other joint sets' joints that COCO
  lacks, e.g. PoseTrack's head_bottom, are left out; COCO joints the model lacks are
  0, 0, 0); ``v`` is 1 for a present joint; ``score`` = mean score of the written joints.
* :func:`write_openpose`: one ``<stem>_<frame:012d>_keypoints.json`` per frame in a
  folder, OpenPose 1.3 layout; ``pose_keypoints_2d`` is [x, y, c] * J in **our**
  ``keypoint_names`` order (not BODY_25), missing joints 0, 0, 0; ``person_id`` holds
  ``[track_id]``. The folder also gets ``arttrack_meta.json`` saying so.
* :func:`write_csv`: ``frame,track,joint,x,y,score``, one row per present joint.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Optional

from arttrack.io.atomic import atomic_path

__all__ = ["FORMATS", "atomic_write_text", "export", "output_paths", "to_coco_results",
           "to_posetrack", "write_coco_results", "write_csv", "write_openpose",
           "write_posetrack"]

FORMATS = ("posetrack", "coco", "openpose", "csv")

POSETRACK18_NAMES = ("nose", "head_bottom", "head_top", "left_ear", "right_ear",
                     "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                     "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                     "right_knee", "left_ankle", "right_ankle")
# Other joint sets' names for PoseTrack's joints (MPII-14: chin = upper neck, forehead = head top).
_ALIASES = {"chin": "head_bottom", "upper_neck": "head_bottom", "neck": "head_bottom",
            "forehead": "head_top"}


def _posetrack_name(name: str) -> str:
    name = _ALIASES.get(name, name)
    if name.startswith("r_"):
        name = "right_" + name[2:]
    elif name.startswith("l_"):
        name = "left_" + name[2:]
    return name


# ----------------------------------------------------------------------------- helpers
def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` under a temporary name beside ``path`` and rename it to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n"


def _joints(inst: dict, kpt_thr: float) -> Iterator[tuple[int, Optional[tuple[float, float, float]]]]:
    """(joint index, (x, y, score) or None when missing / below threshold)."""
    kps = inst.get("keypoints") or []
    sc = inst.get("keypoint_scores") or [None] * len(kps)
    for j, p in enumerate(kps):
        if p is None or p[0] is None or p[1] is None:
            yield j, None
            continue
        x, y = float(p[0]), float(p[1])
        s = 1.0 if sc[j] is None else float(sc[j])
        if not (math.isfinite(x) and math.isfinite(y)) or not math.isfinite(s) or s < kpt_thr:
            yield j, None
        else:
            yield j, (x, y, s)


def _source_indices(meta: dict, target: tuple[str, ...], what: str) -> list[Optional[int]]:
    """For each name of ``target``, the index of that joint in ``meta.keypoint_names``
    (matched by name, other joint sets' spellings normalised), or None when absent."""
    names = [_posetrack_name(n) for n in meta["keypoint_names"]]
    src = [names.index(n) if n in names else None for n in target]
    if all(j is None for j in src):
        raise ValueError(f"keypoint names {meta['keypoint_names'][:4]}... share none with "
                         f"{what}")
    return src


def _video_name(data: dict) -> str:
    meta = data.get("meta", {})
    return str(meta.get("video") or meta.get("name") or "video")


# ----------------------------------------------------------------------------- PoseTrack
def to_posetrack(data: dict, kpt_thr: float = 0.0, video_id: int = 1) -> dict:
    """PoseTrack 2018 dict of canonical ``data`` (see the module docstring)."""
    meta = data["meta"]
    src = _source_indices(meta, POSETRACK18_NAMES, "PoseTrack 2018's")
    video = _video_name(data)
    frames = sorted(data["frames"], key=lambda f: f["frame_id"])
    nframes = int(meta.get("num_frames") or len(frames))
    w, h = meta.get("width"), meta.get("height")
    images, anns = [], []
    for fr in frames:
        fid = int(fr["frame_id"])
        image_id = 10000000000 + int(video_id) * 10000 + fid
        images.append({"has_no_densepose": True, "is_labeled": True, "nframes": nframes,
                       "file_name": f"images/{video}/{fid:06d}.jpg", "frame_id": image_id,
                       "id": image_id, "vid_id": video, "ignore_regions_x": [],
                       "ignore_regions_y": [], "width": w, "height": h})
        for k, inst in enumerate(fr["instances"]):
            pts = dict(_joints(inst, kpt_thr))
            kp: list[float] = []
            scores: list[float] = []
            for j in src:
                p = None if j is None else pts.get(j)
                if p is None:
                    kp += [0.0, 0.0, 0]
                    scores.append(0.0)
                else:
                    kp += [round(p[0], 3), round(p[1], 3), 1]
                    scores.append(round(p[2], 5))
            present = [p for p in pts.values() if p is not None]
            if not present:
                continue
            xs, ys = [p[0] for p in present], [p[1] for p in present]
            anns.append({"image_id": image_id, "id": image_id * 100 + k, "category_id": 1,
                         "track_id": inst.get("track_id"), "keypoints": kp, "scores": scores,
                         "score": round(sum(p[2] for p in present) / len(present), 5),
                         "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]})
    return {"images": images, "annotations": anns,
            "categories": [{"supercategory": "person", "id": 1, "name": "person",
                            "keypoints": list(POSETRACK18_NAMES)}]}


def write_posetrack(data: dict, path: str | os.PathLike, kpt_thr: float = 0.0) -> Path:
    atomic_write_text(path, _dump(to_posetrack(data, kpt_thr)))
    return Path(path)


# ----------------------------------------------------------------------------- COCO
def to_coco_results(data: dict, kpt_thr: float = 0.0, image_id_offset: int = 0) -> list[dict]:
    """COCO keypoint results (see the module docstring)."""
    from arttrack.joints import COCO17

    src = _source_indices(data["meta"], COCO17.names, "COCO's")
    out = []
    for fr in sorted(data["frames"], key=lambda f: f["frame_id"]):
        for inst in fr["instances"]:
            kp: list[float] = []
            ss = []
            pts = dict(_joints(inst, kpt_thr))
            for j in src:
                p = None if j is None else pts.get(j)
                if p is None:
                    kp += [0.0, 0.0, 0]
                else:
                    kp += [round(p[0], 3), round(p[1], 3), 1]
                    ss.append(p[2])
            if not ss:
                continue
            out.append({"image_id": int(fr["frame_id"]) + int(image_id_offset), "category_id": 1,
                        "keypoints": kp, "score": round(sum(ss) / len(ss), 5),
                        "track_id": inst.get("track_id")})
    return out


def write_coco_results(data: dict, path: str | os.PathLike, kpt_thr: float = 0.0,
                       image_id_offset: int = 0) -> Path:
    atomic_write_text(path, _dump(to_coco_results(data, kpt_thr, image_id_offset)))
    return Path(path)


# ----------------------------------------------------------------------------- OpenPose
OPENPOSE_NOTE = ("pose_keypoints_2d holds [x, y, score] per joint in meta.keypoint_names order "
                 "(arttrack's joint set, not OpenPose's BODY_25); missing joints are 0, 0, 0; "
                 "person_id is [track_id]")


def write_openpose(data: dict, folder: str | os.PathLike, stem: str, kpt_thr: float = 0.0,
                   overwrite: bool = False) -> Path:
    """Per-frame OpenPose JSON files in ``folder`` (created under a temporary name first)."""
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder} exists; pass --overwrite to replace it")
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        for fr in data["frames"]:
            people = []
            for inst in fr["instances"]:
                kp: list[float] = []
                for _, p in _joints(inst, kpt_thr):
                    kp += [0.0, 0.0, 0.0] if p is None else [round(p[0], 3), round(p[1], 3),
                                                             round(p[2], 5)]
                tid = inst.get("track_id")
                people.append({"person_id": [-1 if tid is None else int(tid)],
                               "pose_keypoints_2d": kp, "face_keypoints_2d": [],
                               "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
                               "pose_keypoints_3d": [], "face_keypoints_3d": [],
                               "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": []})
            name = f"{stem}_{int(fr['frame_id']):012d}_keypoints.json"
            (tmp / name).write_text(_dump({"version": 1.3, "people": people}), encoding="utf-8")
        meta = {"note": OPENPOSE_NOTE, "keypoint_names": list(data["meta"]["keypoint_names"]),
                "video": _video_name(data), "kpt_thr": kpt_thr}
        (tmp / "arttrack_meta.json").write_text(_dump(meta), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


# ----------------------------------------------------------------------------- CSV
def write_csv(data: dict, path: str | os.PathLike, kpt_thr: float = 0.0) -> Path:
    names = data["meta"]["keypoint_names"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["frame", "track", "joint", "x", "y", "score"])
    for fr in sorted(data["frames"], key=lambda f: f["frame_id"]):
        for inst in fr["instances"]:
            tid = inst.get("track_id")
            for j, p in _joints(inst, kpt_thr):
                if p is not None:
                    w.writerow([int(fr["frame_id"]), -1 if tid is None else int(tid), names[j],
                                f"{p[0]:.3f}", f"{p[1]:.3f}", f"{p[2]:.5f}"])
    atomic_write_text(path, buf.getvalue())
    return Path(path)


# ----------------------------------------------------------------------------- dispatch
def output_paths(out_dir: str | os.PathLike, stem: str, formats: tuple[str, ...]) -> dict[str, Path]:
    """Where :func:`export` writes each format."""
    d = Path(out_dir)
    names = {"posetrack": f"{stem}_posetrack.json", "coco": f"{stem}_coco_results.json",
             "openpose": f"{stem}_openpose", "csv": f"{stem}.csv"}
    unknown = [f for f in formats if f not in names]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; choose from {', '.join(FORMATS)}")
    return {f: d / names[f] for f in formats}


def export(data: dict, out_dir: str | os.PathLike, stem: str, formats: tuple[str, ...],
           kpt_thr: float = 0.0, overwrite: bool = False) -> dict[str, Path]:
    """Write every format of ``formats``; returns their paths."""
    paths = output_paths(out_dir, stem, formats)
    for fmt, path in paths.items():
        if fmt == "posetrack":
            write_posetrack(data, path, kpt_thr)
        elif fmt == "coco":
            write_coco_results(data, path, kpt_thr)
        elif fmt == "openpose":
            write_openpose(data, path, stem, kpt_thr, overwrite=overwrite)
        elif fmt == "csv":
            write_csv(data, path, kpt_thr)
    return paths
