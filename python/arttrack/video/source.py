"""Video -> frames: a video file, a folder of images or a glob as one :class:`FrameSource`
(BGR uint8 frames, fps, size, expected frame count), and :func:`prefetch`, the thread that
decodes ahead of the network."""

from __future__ import annotations

import glob as globmod
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

log = logging.getLogger(__name__)

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

__all__ = ["IMAGE_EXTS", "FrameSource", "InputError", "open_source", "prefetch"]


class InputError(ValueError):
    """Bad input or output request on the video path; the message is the one line the
    command prints (exit status 2)."""


@dataclass
class FrameSource:
    """Frames of a video file, a folder of images or a glob, as BGR uint8 arrays.

    ``expected`` is the container's frame count (None when unknown); after iterating,
    ``decoded`` says how many frames were actually read.
    """

    path: str
    stem: str
    kind: str  # "video" | "images"
    fps: float
    width: int
    height: int
    expected: Optional[int]
    files: list[Path] = field(default_factory=list)
    decoded: int = 0

    def frames(self, start: int = 0, max_frames: Optional[int] = None
               ) -> Iterator[tuple[int, np.ndarray]]:
        """(index in the source, BGR frame), from ``start``, at most ``max_frames``."""
        import cv2

        n = 0
        if self.kind == "images":
            for i, f in enumerate(self.files[start:], start):
                if max_frames is not None and n >= max_frames:
                    return
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is None:
                    raise InputError(f"cannot read image {f}")
                if img.shape[:2] != (self.height, self.width):
                    raise InputError(f"{f} is {img.shape[1]}x{img.shape[0]}, the first image "
                                     f"{self.width}x{self.height}: all frames must have one size")
                n += 1
                self.decoded = n
                yield i, img
            return
        cap = cv2.VideoCapture(self.path)
        try:
            i = 0
            while max_frames is None or n < max_frames:
                ok, img = cap.read()
                if not ok or img is None:
                    break
                if i >= start:
                    n += 1
                    self.decoded = n
                    yield i, img
                i += 1
        finally:
            cap.release()


def _is_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


def open_source(spec: str, fps: Optional[float] = None) -> FrameSource:
    """Open a video file, an image folder or a glob; :class:`InputError` when unusable."""
    import cv2

    p = Path(spec)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS and f.is_file())
        if not files:
            raise InputError(f"{p}: no images ({', '.join(IMAGE_EXTS)}) in this folder")
        return _image_source(str(p), p.resolve().name or "frames", files, fps)
    if not p.exists():
        if _is_glob(spec):
            files = sorted(Path(f) for f in globmod.glob(spec)
                           if Path(f).suffix.lower() in IMAGE_EXTS and Path(f).is_file())
            if not files:
                raise InputError(f"{spec}: the pattern matches no image")
            return _image_source(spec, files[0].parent.resolve().name or "frames", files, fps)
        raise InputError(f"{spec}: no such file or folder")
    if not p.is_file():
        raise InputError(f"{spec}: not a regular file")
    if p.suffix.lower() in IMAGE_EXTS:
        return _image_source(str(p), p.stem, [p], fps)
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise InputError(f"{p}: cannot open as a video (not a video file, or truncated / damaged)")
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        vfps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, first = cap.read()
    finally:
        cap.release()
    if not ok or first is None:
        raise InputError(f"{p}: no frame could be decoded (not a video, or truncated / damaged)")
    h, w = first.shape[:2]
    if not (math.isfinite(vfps) and vfps > 0):
        vfps = float(fps or 25.0)
        log.warning("%s: the video has no frame rate; using %g", p, vfps)
    return FrameSource(str(p), p.stem, "video", float(fps or vfps), int(w), int(h),
                       count if count > 0 else None)


def _image_source(spec: str, stem: str, files: list[Path], fps: Optional[float]) -> FrameSource:
    import cv2

    first = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
    if first is None:
        raise InputError(f"cannot read image {files[0]}")
    h, w = first.shape[:2]
    return FrameSource(spec, stem, "images", float(fps or 25.0), int(w), int(h), len(files), files)


def prefetch(it: Iterator[Any], size: int, timer: dict, key: str) -> Iterator[Any]:
    """Run ``it`` in a background thread, up to ``size`` items ahead (decoding overlaps the
    network); re-raises its exceptions here. ``timer[key]`` accumulates the thread's time
    per item."""
    q: queue.Queue = queue.Queue(maxsize=max(2, size))
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    break
                timer[key] += time.perf_counter() - t0
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(("error", exc))
            return
        q.put(("done", done))

    th = threading.Thread(target=work, name="arttrack-reader", daemon=True)
    th.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "item":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        th.join(timeout=5)
