"""Drawing tracked people on video frames: skeletons coloured by track id, id labels.

Pure OpenCV on BGR uint8 images (what ``cv2.VideoCapture`` / ``cv2.VideoWriter`` use).
A track keeps its colour for the whole video (:func:`track_color`, golden-ratio hues).
"""

from __future__ import annotations

import colorsys
from typing import Optional, Sequence

import cv2
import numpy as np

__all__ = ["draw_people", "track_color"]

_GOLDEN = 0.618033988749895


def track_color(track_id: int) -> tuple[int, int, int]:
    """A saturated BGR colour of a track id, well apart from its neighbours' (-1: grey)."""
    if track_id < 0:
        return (160, 160, 160)
    h = (0.13 + int(track_id) * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_people(image: np.ndarray, people: np.ndarray, track_ids: Sequence[int],
                skeleton: Sequence[tuple[int, int]], kpt_thr: float = 0.0,
                labels: bool = True, thickness: Optional[int] = None) -> np.ndarray:
    """Draw (P, J, 3) people (x, y, score; NaN = missing) on a BGR ``image`` in place.

    Joints with a score below ``kpt_thr`` are not drawn, nor the limbs that touch them.
    Each person gets its track's colour and, with ``labels``, its id above the head.
    Returns ``image``.
    """
    a = np.asarray(people, dtype=np.float64)
    if a.size == 0:
        return image
    h, w = image.shape[:2]
    t = thickness or max(1, int(round(min(h, w) / 240)))
    radius = t + 1
    for p in range(a.shape[0]):
        tid = int(track_ids[p]) if p < len(track_ids) else -1
        col = track_color(tid)
        xy, s = a[p, :, :2], a[p, :, 2]
        ok = np.isfinite(xy).all(axis=1) & (np.nan_to_num(s, nan=0.0) >= kpt_thr)
        if not ok.any():
            continue
        for j, k in skeleton:
            if ok[j] and ok[k]:
                cv2.line(image, _pt(xy[j]), _pt(xy[k]), col, t, cv2.LINE_AA)
        for j in np.flatnonzero(ok):
            cv2.circle(image, _pt(xy[j]), radius, col, -1, cv2.LINE_AA)
        if labels:
            pts = xy[ok]
            x0, y0 = float(pts[:, 0].min()), float(pts[:, 1].min())
            text = str(tid) if tid >= 0 else "?"
            scale = 0.4 * t
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            x = int(np.clip(x0, 0, max(0, w - tw - 2)))
            y = int(np.clip(y0 - 4, th + 2, h - 1))
            cv2.rectangle(image, (x, y - th - 2), (x + tw + 2, y + base), col, -1)
            cv2.putText(image, text, (x + 1, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                        cv2.LINE_AA)
    return image


def _pt(xy: np.ndarray) -> tuple[int, int]:
    # sub-pixel drawing: OpenCV takes fixed-point coordinates with `shift`; plain rounding is
    # enough at video resolution.
    return int(round(float(xy[0]))), int(round(float(xy[1])))
