"""Read and write arttrack's canonical per-video pose JSON (docs/DESIGN.md section 4).

Format::

    {"meta": {..., "keypoint_names": ["nose", ...]},
     "frames": [{"frame_id": 0,
                 "instances": [{"keypoints": [[x, y] or null, ...],
                                "keypoint_scores": [s or null, ...],   # optional
                                "bbox": [x, y, w, h] or null,          # optional
                                "score": s or null,                    # optional
                                "track_id": int or null}]}]}           # optional

``frame_id`` is 0-based and unique; missing joints are ``null`` (or NaN), never (0, 0).
:func:`read_canonical` validates all of it and raises :class:`CanonicalFormatError` (a
``ValueError``) naming the offending place; :func:`write_canonical` writes NaN as ``null``,
to a temporary name first and then renames, so readers never see a half-written file.
"""

from __future__ import annotations

import json
import math
import os
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from arttrack.io.atomic import atomic_path

__all__ = ["CanonicalFormatError", "instance_from_person", "people_array", "read_canonical",
           "write_canonical"]


class CanonicalFormatError(ValueError):
    """The file is not valid canonical pose JSON."""


def _is_num(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_canonical(data: Any, where: str = "input") -> None:
    """Raise :class:`CanonicalFormatError` unless ``data`` is canonical pose JSON."""

    def err(msg: str) -> CanonicalFormatError:
        return CanonicalFormatError(f"{where}: {msg}")

    if not isinstance(data, dict):
        raise err(f"top level must be an object with 'meta' and 'frames', got {type(data).__name__}")
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise err("'meta' must be an object")
    names = meta.get("keypoint_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise err("meta.keypoint_names must be a non-empty list of strings")
    if len(set(names)) != len(names):
        raise err("meta.keypoint_names has duplicate names")
    nj = len(names)
    frames = data.get("frames")
    if not isinstance(frames, list):
        raise err("'frames' must be a list")
    seen: set[int] = set()
    for fi, fr in enumerate(frames):
        at = f"frames[{fi}]"
        if not isinstance(fr, dict):
            raise err(f"{at} must be an object")
        fid = fr.get("frame_id")
        if not _is_int(fid) or fid < 0:
            raise err(f"{at}.frame_id must be a non-negative integer, got {fid!r}")
        if fid in seen:
            raise err(f"{at}.frame_id {fid} appears more than once")
        seen.add(fid)
        insts = fr.get("instances")
        if not isinstance(insts, list):
            raise err(f"{at}.instances must be a list")
        for ii, inst in enumerate(insts):
            ai = f"{at}.instances[{ii}]"
            if not isinstance(inst, dict):
                raise err(f"{ai} must be an object")
            kps = inst.get("keypoints")
            if not isinstance(kps, list) or len(kps) != nj:
                got = f"{len(kps)} entries" if isinstance(kps, list) else type(kps).__name__
                raise err(f"{ai}.keypoints must be a list of {nj} entries (one per keypoint name), got {got}")
            for k, p in enumerate(kps):
                if p is None:
                    continue
                if not (isinstance(p, list) and len(p) == 2 and all(_is_num(v) for v in p)):
                    raise err(f"{ai}.keypoints[{k}] must be [x, y] or null, got {p!r}")
            sc = inst.get("keypoint_scores")
            if sc is not None:
                if not isinstance(sc, list) or len(sc) != nj:
                    raise err(f"{ai}.keypoint_scores must be a list of {nj} numbers or nulls")
                for k, v in enumerate(sc):
                    if v is not None and not _is_num(v):
                        raise err(f"{ai}.keypoint_scores[{k}] must be a number or null, got {v!r}")
            bb = inst.get("bbox")
            if bb is not None and not (isinstance(bb, list) and len(bb) == 4 and all(_is_num(v) for v in bb)):
                raise err(f"{ai}.bbox must be [x, y, w, h] or null, got {bb!r}")
            s = inst.get("score")
            if s is not None and not _is_num(s):
                raise err(f"{ai}.score must be a number or null, got {s!r}")
            t = inst.get("track_id")
            if t is not None and not _is_int(t):
                raise err(f"{ai}.track_id must be an integer or null, got {t!r}")


def read_canonical(path: str | os.PathLike) -> dict:
    """Load and validate a canonical pose JSON file."""
    p = Path(path)
    if not p.is_file():
        raise CanonicalFormatError(f"{p}: no such file")
    try:
        with p.open("r", encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise CanonicalFormatError(f"{p}: not valid JSON ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CanonicalFormatError(f"{p}: cannot read ({exc})") from None
    validate_canonical(data, str(p))
    return data


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, np.generic):
        return _clean(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _missing_to_null(data: Any) -> None:
    """A keypoint with a non-finite coordinate (null after cleaning) becomes null."""
    frames = data.get("frames") if isinstance(data, dict) else None
    for fr in frames if isinstance(frames, list) else []:
        for inst in fr.get("instances", []) if isinstance(fr, dict) else []:
            kps = inst.get("keypoints") if isinstance(inst, dict) else None
            if isinstance(kps, list):
                inst["keypoints"] = [None if isinstance(k, list) and any(v is None for v in k) else k for k in kps]


def write_canonical(path: str | os.PathLike, data: dict, overwrite: bool = True) -> None:
    """Validate and write ``data`` atomically. NaN / inf become null (a keypoint with a
    non-finite coordinate becomes a null keypoint); numpy values are allowed."""
    p = Path(path)
    clean = _clean(data)
    _missing_to_null(clean)
    validate_canonical(clean, "output")
    if not overwrite and p.exists():
        raise FileExistsError(f"{p} exists (pass overwrite=True to replace it)")
    with atomic_path(p) as tmp, tmp.open("w", encoding="utf-8") as f:
        json.dump(clean, f, allow_nan=False, separators=(",", ":"))
        f.write("\n")


def people_array(frame: dict, num_joints: int) -> np.ndarray:
    """(P, J, 3) float64 x, y, score of a validated frame's instances; NaN for missing
    joints; score 1 where ``keypoint_scores`` is absent or null."""
    insts = frame.get("instances", [])
    out = np.full((len(insts), num_joints, 3), np.nan)
    for i, inst in enumerate(insts):
        sc = inst.get("keypoint_scores") or [None] * num_joints
        for k, pt in enumerate(inst["keypoints"]):
            if pt is None:
                continue
            x, y = float(pt[0]), float(pt[1])
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            s = sc[k]
            out[i, k] = (x, y, 1.0 if s is None or not math.isfinite(float(s)) else float(s))
    return out


def instance_from_person(person: np.ndarray, track_id: int | None) -> dict:
    """A canonical instance from one (J, 3) x, y, score row of :func:`people_array`'s
    layout (NaN = missing joint): positions to 0.01 px, scores to 1e-4, ``bbox`` around
    the present joints and ``score`` their mean score (null when there are none)."""
    person = np.asarray(person, np.float64)
    ok = np.isfinite(person[:, 0]) & np.isfinite(person[:, 1])
    kps = [[round(float(x), 2), round(float(y), 2)] if k else None
           for (x, y, _), k in zip(person, ok)]
    sc = [round(float(s), 4) if k and np.isfinite(s) else None for (_, _, s), k in zip(person, ok)]
    bbox = score = None
    if ok.any():
        p = person[ok]
        x0, y0 = p[:, :2].min(0)
        x1, y1 = p[:, :2].max(0)
        bbox = [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2),
                round(float(y1 - y0), 2)]
        s = p[:, 2][np.isfinite(p[:, 2])]
        score = round(float(s.mean()), 4) if len(s) else None
    return {"track_id": None if track_id is None else int(track_id), "keypoints": kps,
            "keypoint_scores": sc, "bbox": bbox, "score": score}
