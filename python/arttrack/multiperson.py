"""Multi-person pose estimation and tracking on a video: ``python -m arttrack.multiperson VIDEO``.

The product's main job. Per frame (docs/DESIGN.md section 1)::

    read -> network (batched, Predictor.maps) -> parse_frame (peaks, spatial edges,
    multicut, people) -> tracking -> draw / write

Tracking (``--tracker st``, default) is ArtTrack's spatio-temporal way: the frame's raw
detections *and* its spatial edges go to :meth:`arttrack.tracking.Tracker.step_detections`,
which partitions them jointly with the live tracks; a person is the set of detections that
received the same track id (per joint its best detection). ``--tracker hungarian`` links
the per-frame people of the spatial partition by bipartite matching (the baseline of
:func:`arttrack.tracking.hungarian_baseline`, run frame by frame). ``--flow`` warps the
live tracks' remembered joints by dense optical flow (Farneback on downscaled grey
frames) before each frame is linked (motion compensation by the image instead of by the
tracks' velocities).

Outputs in ``--out-dir`` (default ``./out``), ``<stem>`` = the video's file name stem:

* ``<stem>.json``: canonical per-video JSON (:mod:`arttrack.io_json`): 0-based
  ``frame_id`` = frame index in the source, a ``track_id`` on every instance (0, 1, 2, ...
  in order of first appearance), keypoints in the model's joint order, null = missing;
  ``meta`` with video name, fps, size, keypoint names, model and tracker settings;
* ``<stem>_pose.mp4``: the input frames with skeletons coloured by track id (same size and
  fps as the input; ``--no-video`` skips it);
* ``--save posetrack,coco,openpose,csv``: see :mod:`arttrack.exporters`.

Everything is written into a hidden staging folder inside the output folder and renamed
into place at the end, so an error leaves no half-written output. Existing outputs are
refused unless ``--overwrite``; ``--demo`` replaces its own earlier outputs (the same clip
every time) and says which.

The people -> tracks step (:class:`PeopleLinker` with :class:`FrameDetections`) is public
so that tests and other front ends track through exactly the code the CLI uses.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob as globmod
import logging
import math
import os
import queue
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

log = logging.getLogger("arttrack.multiperson")

PROG = "arttrack.multiperson"
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
DEMO_SEED = 7
DEMO_FRAMES = 40
DEMO_SIZE = (320, 240)
# People 108-168 px tall in the 320x240 demo clips: the range the demo model saw in training
# (160 px images, configs/synthetic_demo.yaml: heights 0.65-0.95 of the image, jitter +-15 %).
DEMO_PERSON_HEIGHT = (0.45, 0.7)
DEMO_CKPT = "demo.ckpt"
KPT_THR = 0.2  # default --kpt-thr
# --demo's --kpt-thr, chosen on the selection clips (seed 8000): for the current demo model
# MOTA 57.5 at 0.5, 58.4 at 0.6, 58.3 at 0.7 (scripts/eval_demo_model.py --seed 8000 --sweep)
DEMO_KPT_THR = 0.6
FILL_GAP = 8  # default --fill-gap (arttrack.tracking.TrackSmoother)
MIN_TRACK_FRAMES = 8  # default --min-track-frames
DEMO_FILES = (DEMO_CKPT, "spatial.npz", "pairwise_stats.npz")
# --model when neither --ckpt nor --demo is given: the authors' COCO model, fetched once
# with `python -m arttrack.models fetch deepercut-coco-resnet101`.
DEFAULT_MODEL = "deepercut-coco-resnet101"

__all__ = ["FrameDetections", "FrameSource", "InputError", "PeopleLinker", "RunResult",
           "build_parser", "demo_clip_config", "demo_dir", "main", "open_source", "run"]


class InputError(ValueError):
    """Bad input or output request; the message is the one line the CLI prints."""


# ======================================================================================
# input
# ======================================================================================
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


def _prefetch(it: Iterator[Any], size: int, timer: dict, key: Optional[str]) -> Iterator[Any]:
    """Run ``it`` in a background thread (decoding overlaps the network, the network the
    post-processing); re-raises its exceptions here. ``timer[key]`` accumulates the
    thread's time per item (None: the stage times itself)."""
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
                if key is not None:
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


# ======================================================================================
# people / detections -> tracks
# ======================================================================================
@dataclass(frozen=True, eq=False)
class FrameDetections:
    """One frame's input to the linker, in original image pixels.

    Attributes:
        joint: (N,) int64 joint type of each detection.
        xy: (N, 2) float64 positions.
        score: (N,) float64 detection probabilities (node costs ``log((1-s)/s)``).
        edges: (E, 2) int64 spatial edges between detections.
        edge_cost: (E,) float64 their join costs.
        people: (P, J, 3) float64 the frame's people from the spatial partition alone
            (x, y, score; NaN = missing), used by the Hungarian baseline.
    """

    joint: np.ndarray
    xy: np.ndarray
    score: np.ndarray
    edges: np.ndarray
    edge_cost: np.ndarray
    people: np.ndarray

    @classmethod
    def from_parse(cls, parse: Any, ratio: tuple[float, float] = (1.0, 1.0)) -> "FrameDetections":
        """From a :class:`arttrack.postprocess.pipeline.FrameParse` of a frame rescaled by
        ``ratio`` (positions are mapped back to the original frame)."""
        from arttrack.inference import to_original

        xy = np.asarray(parse.peaks.xy, np.float64).reshape(-1, 2)
        people = np.asarray(parse.people, np.float64)
        if ratio != (1.0, 1.0):
            xy = to_original(xy, ratio)
            people = to_original(people, ratio) if people.size else people
        return cls(np.asarray(parse.peaks.part, np.int64), xy,
                   np.asarray(parse.peaks.score, np.float64),
                   np.asarray(parse.terms.edges, np.int64).reshape(-1, 2),
                   np.asarray(parse.terms.costs, np.float64).reshape(-1), people)

    @classmethod
    def from_people(cls, people: np.ndarray) -> "FrameDetections":
        """From whole (P, J, 3) people of any estimator: each person's joints are bound by
        strongly attractive edges, people repel each other (as
        :meth:`arttrack.tracking.Tracker.step_people`); every joint is kept (score 1)."""
        from arttrack.tracking import _as_people, people_to_detections

        a = _as_people(people)
        d = people_to_detections(a)
        return cls(d.joint, d.xy, np.ones(len(d.joint)), d.edges, d.edge_cost, a)


def _people_from_tracks(dets: FrameDetections, track_id: np.ndarray, num_joints: int,
                        settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """One person per track id among the detections, assembled as the frame's spatial
    clusters are (:func:`arttrack.postprocess.pipeline.people_from_groups` with ``settings``'
    min_joints and merge_radius: per joint the best detection). Returns ((P, J, 3) float64,
    (P,) tracker ids), ordered by id."""
    from arttrack.postprocess import Peaks
    from arttrack.postprocess.pipeline import people_from_groups

    tid = np.asarray(track_id, np.int64).reshape(-1)
    n = len(tid)
    peaks = Peaks(np.asarray(dets.joint, np.int32), np.asarray(dets.xy, np.float32).reshape(n, 2),
                  np.asarray(dets.score, np.float32), np.zeros((n, 2), np.int32))
    people, ids = people_from_groups(peaks, tid >= 0, tid, num_joints, settings)
    return np.asarray(people, np.float64), ids


class PeopleLinker:
    """The people/detections -> tracks step of the CLI.

    Args:
        num_joints: J.
        method: ``"st"`` (spatio-temporal multicut on the raw detections and spatial
            edges) or ``"hungarian"`` (bipartite matching of the spatial people).
        model: temporal model of ``st`` (default: built in).
        max_gap: frames a person may stay unseen and keep the id.
        min_joints: people with fewer joints are not output (their tracks live on).
        use_velocity: ``st`` motion compensation by the tracks' velocities (default: the
            model's; set False when the positions are warped by optical flow).
        gate: ``hungarian`` largest mean joint distance / person size to match.
        partition_method: ``st`` solver of the spatio-temporal partition, ``"gaec+klj"``
            or ``"gaec"`` (greedy only: faster, slightly worse optima).
        merge_radius: ``st`` assembly of a track's detections in a frame (as
            :class:`arttrack.postprocess.pipeline.MultiPersonSettings`).

    :meth:`step` returns the frame's people and their output ids: dense, 0, 1, 2, ... in
    order of first output.
    """

    def __init__(self, num_joints: int, method: str = "st", model: Any = None, max_gap: int = 5,
                 min_joints: int = 1, use_velocity: Optional[bool] = None, gate: float = 0.5,
                 partition_method: str = "gaec+klj", merge_radius: float = 0.0) -> None:
        from arttrack.tracking import HungarianTracker, Tracker

        if method not in ("st", "hungarian"):
            raise ValueError(f"unknown tracker {method!r}; choose 'st' or 'hungarian'")
        if max_gap < 0:
            raise ValueError(f"max_gap must be >= 0, got {max_gap}")
        self.num_joints, self.method = int(num_joints), method
        self.min_joints = max(1, int(min_joints))
        from arttrack.postprocess.pipeline import MultiPersonSettings

        self._assembly = MultiPersonSettings(min_joints=self.min_joints, merge_radius=merge_radius)
        self.tracker = (Tracker(self.num_joints, model=model, max_gap=max_gap,
                                use_velocity=use_velocity, method=partition_method)
                        if method == "st" else None)
        self._hungarian = (HungarianTracker(self.num_joints, max_gap, gate)
                           if method == "hungarian" else None)
        self._remap: dict[int, int] = {}

    @property
    def num_tracks(self) -> int:
        """Tracks output so far."""
        return len(self._remap)

    def warp(self, displace: Callable[[np.ndarray], np.ndarray]) -> None:
        """Move the live tracks' remembered joints by ``displace`` ((N, 2) -> (N, 2)),
        e.g. optical flow from the previous frame to the next (``st`` only)."""
        if self.tracker is None:
            return
        t = self.tracker.tracks()
        for tid, xy in zip(np.asarray(t["id"]).tolist(), np.asarray(t["xy"])):
            ok = np.isfinite(xy[:, 0])
            if not ok.any():
                continue
            new = np.array(xy, np.float64, copy=True)
            new[ok] = displace(new[ok])
            new[~np.isfinite(new).all(axis=1)] = np.nan
            self.tracker.set_joint_positions(int(tid), new)

    def step(self, frame: int, dets: FrameDetections) -> tuple[np.ndarray, np.ndarray]:
        """Link one frame; returns ((P, J, 3) people, (P,) output track ids)."""
        if self.tracker is not None:
            links = self.tracker.step_detections(dets.joint, dets.xy, dets.score, dets.edges,
                                                 dets.edge_cost, frame=int(frame))
            people, raw = _people_from_tracks(dets, links.track_id, self.num_joints,
                                              self._assembly)
        else:
            people = np.asarray(dets.people, np.float64).reshape(-1, self.num_joints, 3)
            n = np.isfinite(people[..., 0]).sum(axis=1)
            people = people[n >= self.min_joints]
            raw = self._hungarian.step(int(frame), people)
            people = people[raw >= 0]
            raw = raw[raw >= 0]
        ids = np.empty(len(raw), np.int64)
        for i, t in enumerate(raw.tolist()):
            if t not in self._remap:
                self._remap[t] = len(self._remap)
            ids[i] = self._remap[t]
        order = np.argsort(ids, kind="stable")
        return people[order], ids[order]


class _Flow:
    """Farneback optical flow between consecutive frames on grey images downscaled by
    ``scale``; :meth:`displace` moves points of the previous frame into the current one."""

    def __init__(self, scale: float = 0.5) -> None:
        self.scale = float(scale)
        self.prev: Optional[np.ndarray] = None
        self.flow: Optional[np.ndarray] = None

    def update(self, bgr: np.ndarray) -> bool:
        import cv2

        s = self.scale
        small = bgr if s == 1.0 else cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        self.flow = (None if self.prev is None else
                     cv2.calcOpticalFlowFarneback(self.prev, grey, None, 0.5, 3, 15, 3, 5, 1.2, 0))
        self.prev = grey
        return self.flow is not None

    def displace(self, xy: np.ndarray) -> np.ndarray:
        f = self.flow
        if f is None:
            return xy
        h, w = f.shape[:2]
        s = self.scale
        ix = np.clip(np.round((xy[:, 0] + 0.5) * s - 0.5), 0, w - 1).astype(int)
        iy = np.clip(np.round((xy[:, 1] + 0.5) * s - 0.5), 0, h - 1).astype(int)
        return xy + f[iy, ix].astype(np.float64) / s


# ======================================================================================
# the run
# ======================================================================================
@dataclass
class RunResult:
    json_path: Path
    video_path: Optional[Path]
    exports: dict[str, Path]
    frames: int
    people: int
    tracks: int
    times: dict[str, float]
    elapsed: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        t = self.times
        fps = self.frames / self.elapsed if self.elapsed > 0 else float("nan")
        return (f"{self.frames} frames, {self.people} people ({self.people / max(self.frames, 1):.1f}"
                f"/frame), {self.tracks} tracks in {self.elapsed:.1f} s ({fps:.1f} frames/s); "
                + ", ".join(f"{k} {t.get(k, 0.0):.2f} s" for k in
                            ("read", "network", "parse", "track", "write")))


def _planned_outputs(out_dir: Path, stem: str, video: bool, formats: tuple[str, ...]
                     ) -> dict[str, Path]:
    from arttrack.exporters import output_paths

    paths = {"json": out_dir / f"{stem}.json"}
    if video:
        paths["video"] = out_dir / f"{stem}_pose.mp4"
    paths.update(output_paths(out_dir, stem, formats))
    return paths


def _check_outputs(paths: dict[str, Path], overwrite: bool) -> None:
    existing = [str(p) for p in paths.values() if p.exists() or p.is_symlink()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise InputError(f"{existing[0]}{more} exists; pass --overwrite to replace")
    for p in paths.values():
        if p.is_dir() and p.suffix in (".json", ".mp4", ".csv"):
            raise InputError(f"{p} is a folder")


def run(source: FrameSource, predictor: Any, spatial: Any, out_dir: Path, *,
        settings: Any = None, tracker: str = "st", temporal: Any = None, max_gap: int = 5,
        flow: bool = False, flow_scale: float = 0.5, scale: float = 1.0, start: int = 0,
        max_frames: Optional[int] = None, batch_size: int = 4, kpt_thr: float = KPT_THR,
        fill_gap: int = FILL_GAP, min_track_frames: int = MIN_TRACK_FRAMES,
        video: bool = True, formats: tuple[str, ...] = (), overwrite: bool = False,
        meta_extra: Optional[dict] = None, progress: bool = True,
        after_network: Optional[Callable[[], None]] = None) -> RunResult:
    """Process ``source`` and write the outputs (module docstring). Raises
    :class:`InputError` (or ValueError / OSError) with nothing left behind on failure.
    ``after_network`` is called after every network call (the CLI puts its signal
    handlers back there, over the ones MindSpore's runtime installs)."""
    import cv2
    from tqdm import tqdm

    from arttrack import __version__
    from arttrack.draw import draw_people
    from arttrack.exporters import OPENPOSE_NOTE, export
    from arttrack.inference import rescale_image
    from arttrack.io_json import instance_from_person, write_canonical
    from arttrack.joints import get_joint_set
    from arttrack.postprocess.pipeline import parse_frame
    from arttrack.tracking import TrackSmoother

    if tracker == "hungarian" and flow:
        raise InputError("--flow applies to --tracker st only")
    if batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {batch_size}")
    if start < 0 or (max_frames is not None and max_frames < 1):
        raise InputError("--start must be >= 0 and --max-frames >= 1")
    if not (scale > 0 and math.isfinite(scale)):
        raise InputError(f"--scale must be positive, got {scale}")
    if fill_gap < 0 or min_track_frames < 0:
        raise InputError("--fill-gap and --min-track-frames must be >= 0")
    cfg = predictor.config
    settings = predictor.resolve_settings(settings)
    js = get_joint_set(cfg.joint_set) if cfg is not None else None
    nj = predictor.codec.num_joints
    names = list(js.names) if js is not None else [f"joint{j}" for j in range(nj)]
    skeleton = list(js.skeleton) if js is not None else []
    stem = source.stem
    paths = _planned_outputs(out_dir, stem, video, formats)
    _check_outputs(paths, overwrite)

    created_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = out_dir / f".{stem}.arttrack-{os.getpid()}.tmp"
    writer = None
    timer = {"read": 0.0, "network": 0.0, "parse": 0.0, "track": 0.0, "write": 0.0}
    t_start = time.perf_counter()
    try:
        # made inside the try: an interrupt right after it still removes it
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir()
        if video:
            writer = cv2.VideoWriter(str(stage / paths["video"].name), cv2.VideoWriter_fourcc(*"mp4v"),
                                     source.fps, (source.width, source.height))
            if not writer.isOpened():
                raise InputError(f"OpenCV cannot write an mp4 video to {stage}")
        linker = PeopleLinker(nj, tracker, model=temporal, max_gap=max_gap,
                              min_joints=settings.min_joints,
                              use_velocity=False if flow else None,
                              partition_method=settings.method,
                              merge_radius=settings.merge_radius)
        of = _Flow(flow_scale) if flow else None
        smoother = TrackSmoother(nj, fill_gap, min_track_frames)
        frames_out: list[dict] = []
        n_people = 0
        total = None
        if source.expected is not None:
            total = max(0, source.expected - start)
            if max_frames is not None:
                total = min(total, max_frames)
        bar = tqdm(total=total, unit="frame", desc=stem, disable=None if progress else True,
                   dynamic_ncols=True, leave=False)
        frames_it = _prefetch(source.frames(start, max_frames), 2 * batch_size, timer, "read")
        graph = getattr(predictor, "mode", "") == "graph"

        def network(pending: list) -> tuple[list, list, tuple[float, float]]:
            """The network stage: a batch of (index, BGR frame) -> their maps."""
            t0 = time.perf_counter()
            imgs, ratio = [], (1.0, 1.0)
            for _, bgr in pending:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                if scale != 1.0:
                    rgb, ratio = rescale_image(rgb, scale)
                imgs.append(rgb)
            if graph and len(imgs) < batch_size:  # one compiled shape for the whole video
                imgs = imgs + [imgs[-1]] * (batch_size - len(imgs))
            maps = predictor.maps(imgs)[:len(pending)]
            timer["network"] += time.perf_counter() - t0
            return pending, maps, ratio

        def batches() -> Iterator[tuple[list, list, tuple[float, float]]]:
            pending: list[tuple[int, np.ndarray]] = []
            for item in frames_it:
                pending.append(item)
                if len(pending) >= batch_size:
                    yield network(pending)
                    pending = []
            if pending:
                yield network(pending)

        stream = batches()
        if getattr(predictor, "backend", "mindspore") == "onnxruntime":
            # ONNX Runtime releases the GIL: the next batch runs while this one is parsed,
            # tracked and written (MindSpore's graph calls stay on this thread)
            stream = _prefetch(stream, 1, timer, None)

        def post(pending: list, maps: list, ratio: tuple[float, float]) -> None:
            """Parse, link, smooth and write the frames of one batch."""
            for (fi, bgr), m in zip(pending, maps):
                t0 = time.perf_counter()
                if m.pairwise is None:
                    raise InputError("the model has no pairwise head (pairwise_predict: false); "
                                     "multi-person tracking needs one")
                parse = parse_frame(m.part, m.locref, m.pairwise, spatial, settings)
                dets = FrameDetections.from_parse(parse, ratio)
                t1 = time.perf_counter()
                timer["parse"] += t1 - t0
                if of is not None and of.update(bgr):
                    linker.warp(of.displace)
                people, ids = linker.step(fi, dets)
                final = smoother.push(fi, people, ids, bgr)
                t2 = time.perf_counter()
                timer["track"] += t2 - t1
                emit(final)
                timer["write"] += time.perf_counter() - t2
                bar.update(1)

        def emit(final: list) -> None:
            nonlocal n_people
            for fr in final:
                n_people += len(fr.people)
                frames_out.append({"frame_id": int(fr.frame), "instances": [
                    instance_from_person(p, t) for p, t in zip(fr.people, fr.ids)]})
                if writer is not None:
                    writer.write(draw_people(fr.payload.copy(), fr.people, fr.ids, skeleton,
                                             kpt_thr))

        try:
            for pending, maps, ratio in stream:
                if after_network is not None:
                    after_network()
                post(pending, maps, ratio)
            t0 = time.perf_counter()
            emit(smoother.finish())
            timer["write"] += time.perf_counter() - t0
        finally:
            bar.close()
        n = len(frames_out)
        if n == 0:
            what = f"after --start {start}" if start else "in it"
            raise InputError(f"{source.path}: no frame could be decoded {what}")
        warnings = []
        if source.kind == "video" and source.expected is not None:
            want = max(0, source.expected - start)
            if max_frames is not None:
                want = min(want, max_frames)
            if n < want:
                warnings.append(f"{source.path}: only {n} of {want} frames could be decoded "
                                f"(truncated or damaged file?); the outputs cover those {n} frames")
        t0 = time.perf_counter()
        if writer is not None:
            writer.release()
            writer = None
        meta = {
            "video": stem, "source": str(source.path), "fps": float(source.fps),
            "width": int(source.width), "height": int(source.height), "num_frames": n,
            "start": int(start), "frame_ids": "0-based frame index in the source",
            "keypoint_names": names, "joint_set": cfg.joint_set if cfg is not None else None,
            "model": {"net_type": getattr(cfg, "net_type", None), "scale": float(scale),
                      "flip_test": bool(getattr(predictor, "flip_test", False)),
                      "settings": {k: getattr(settings, k) for k in
                                   ("stride", "locref_stdev", "nms_radius", "det_min_score",
                                    "min_joints", "merge_radius", "use_locref", "same_joint",
                                    "method")}},
            "tracker": {"method": tracker, "max_gap": int(max_gap), "flow": bool(flow),
                        "partition_method": settings.method if tracker == "st" else None,
                        "flow_scale": float(flow_scale) if flow else None,
                        "fill_gap": int(fill_gap), "min_track_frames": int(min_track_frames),
                        "num_tracks": smoother.num_tracks},
            "kpt_thr": float(kpt_thr), "arttrack_version": __version__,
        }
        if tracker == "st":
            meta["tracker"]["temporal_model_weights"] = list(linker.tracker.model.weights)
            meta["tracker"]["use_velocity"] = bool(linker.tracker.use_velocity)
        if "openpose" in formats:
            meta["openpose_note"] = OPENPOSE_NOTE
        for k, v in (meta_extra or {}).items():
            if isinstance(v, dict) and isinstance(meta.get(k), dict):
                meta[k].update(v)
            else:
                meta[k] = v
        data = {"meta": meta, "frames": frames_out}
        write_canonical(stage / paths["json"].name, data)
        staged = {"json": stage / paths["json"].name}
        if video:
            staged["video"] = stage / paths["video"].name
        if formats:
            staged.update(export(data, stage, stem, formats, kpt_thr=kpt_thr))
        # all written: move into place
        for key, src in staged.items():
            dst = paths[key]
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            os.replace(src, dst)
        timer["write"] += time.perf_counter() - t0
    except BaseException:
        if writer is not None:
            writer.release()
        shutil.rmtree(stage, ignore_errors=True)
        if created_dir:
            try:
                out_dir.rmdir()
            except OSError:
                pass
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return RunResult(paths["json"], paths.get("video"),
                     {f: paths[f] for f in formats}, n, n_people, smoother.num_tracks, timer,
                     time.perf_counter() - t_start, warnings)


# ======================================================================================
# model loading, demo
# ======================================================================================
def demo_dir() -> Path:
    """Folder of the demo model shipped with the package (``arttrack/assets/demo``)."""
    from importlib import resources

    try:
        return Path(str(resources.files("arttrack") / "assets" / "demo"))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        return Path(__file__).parent / "assets" / "demo"


def _load_model(ckpt: Path, config: Optional[str], device: Optional[str], mode: str,
                batch_size: int, pairwise_stats: Optional[str], spatial: Optional[str],
                min_joints: Optional[int], flip_test: bool = False,
                backend: str = "mindspore") -> tuple[Any, Any, Path]:
    from arttrack.inference import Predictor
    from arttrack.pairwise import load_pairwise_stats
    from arttrack.postprocess import SpatialModel
    if not ckpt.is_file():
        raise InputError(f"checkpoint not found: {ckpt}")
    sp = Path(spatial) if spatial else ckpt.parent / "spatial.npz"
    if not sp.is_file():
        raise InputError(f"spatial model not found: {sp}" + ("" if spatial else
                         " (pass --spatial; fit one with `python -m arttrack.pairwise fit`)"))
    try:
        spatial_model = SpatialModel.load(sp)
    except (OSError, KeyError) as exc:
        raise InputError(f"{sp}: not a spatial model ({exc})") from None
    stats = load_pairwise_stats(pairwise_stats) if pairwise_stats else None
    pred = Predictor.from_checkpoint(ckpt, config, device=device, mode=mode,
                                     batch_size=batch_size, pairwise_stats=stats,
                                     flip_test=flip_test, backend=backend)
    if pred.config is not None and not pred.config.multi_person:
        log.warning("the model's config says multi_person: false")
    if min_joints is not None:
        if min_joints < 1:
            raise InputError(f"--min-joints must be >= 1, got {min_joints}")
        pred.settings = dataclasses.replace(pred.settings, min_joints=int(min_joints))
    if spatial_model.num_pairs and int(spatial_model.pairs.max()) >= pred.codec.num_joints:
        raise InputError(f"the spatial model {sp} is for more joints than the network's "
                         f"{pred.codec.num_joints}")
    return pred, spatial_model, sp


def _resolve_model(name_or_dir: str) -> Path:
    """A registry name (installed in the cache) or a model folder; InputError otherwise,
    naming the command that fetches a registered model that is missing."""
    from arttrack.models import zoo

    try:
        return zoo.resolve(name_or_dir)
    except zoo.ModelError as exc:
        raise InputError(str(exc)) from None


def _model_folder_files(folder: Path, args: argparse.Namespace
                        ) -> tuple[Path, Optional[str], Optional[str], Optional[str], dict]:
    """(checkpoint, spatial, pairwise stats, temporal, model.json) of a model folder, with
    --spatial / --pairwise-stats / --temporal taking precedence."""
    from arttrack.models import zoo

    try:
        doc = zoo.read_model_json(folder)
    except zoo.ModelError as exc:
        raise InputError(str(exc)) from None
    if doc.get("task") != "multi-person" or not doc.get("spatial_model"):
        raise InputError(f"model {doc.get('name', folder)!r} is a {doc.get('task', 'unknown')} model "
                         "without a pairwise head and spatial model; multi-person tracking needs "
                         f"one such as {DEFAULT_MODEL}")

    try:
        files = zoo.model_files(folder)
    except zoo.ModelError as exc:
        raise InputError(str(exc)) from None
    if files["checkpoint"] is None:
        raise InputError(f"{folder / 'model.json'} names no checkpoint")

    def given(arg: Optional[str], key: str) -> Optional[str]:
        return arg or (str(files[key]) if files[key] is not None else None)

    return (files["checkpoint"], given(args.spatial, "spatial_model"),
            given(args.pairwise_stats, "pairwise_stats"), given(args.temporal, "temporal_model"), doc)


def demo_clip_config(size: tuple[int, int] = DEMO_SIZE) -> Any:
    """The :class:`arttrack.data.synthetic.SyntheticConfig` of the demo clips (2-4 people of
    :data:`DEMO_PERSON_HEIGHT`, with eyes and hair that show where they face):
    ``--demo``, the demo model's temporal fit and its evaluation
    (``scripts/eval_demo_model.py``) draw their clips from it."""
    from arttrack.data.synthetic import SyntheticConfig

    return SyntheticConfig(width=size[0], height=size[1], num_people=(2, 4),
                           joint_set="posetrack15", person_height=DEMO_PERSON_HEIGHT,
                           facing_cues=True)


def _write_demo_clip(out_dir: Path, overwrite: bool,
                     replaced: Optional[list] = None) -> tuple[Path, Path]:
    """Write the demo clip (mp4) and its PoseTrack ground truth into ``out_dir``; files it
    replaces are added to ``replaced``."""
    import tempfile

    from arttrack.data.synthetic import write_posetrack

    cfg = demo_clip_config()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".demo-") as tmp:
        (gt_path,) = write_posetrack(tmp, 1, num_frames=DEMO_FRAMES, seed=DEMO_SEED, config=cfg,
                                     progress=False)
        video = gt_path.stem
        mp4 = out_dir / f"{video}.mp4"
        gt = out_dir / f"{video}_gt_posetrack.json"
        for p in (mp4, gt):
            if p.exists() and not overwrite:
                raise InputError(f"{p} exists; pass --overwrite to replace")
            if p.exists() and replaced is not None:
                replaced.append(p)
        os.replace(Path(tmp) / "videos" / f"{video}.mp4", mp4)
        os.replace(gt_path, gt)
    return mp4, gt


# ======================================================================================
# CLI
# ======================================================================================
EXAMPLES = """\
examples:
  python -m arttrack.models fetch deepercut-coco-resnet101    (once)
  python -m arttrack.multiperson clip.mp4
      the authors' COCO model (default --model) -> out/clip.json, out/clip_pose.mp4
  python -m arttrack.multiperson --demo
      synthetic clip + the shipped demo model; prints PoseTrack AP / MOTA
  python -m arttrack.multiperson clip.mp4 --model path/to/model_folder
  python -m arttrack.multiperson clip.mp4 --ckpt run/snapshot-1300.ckpt
      (spatial model: run/spatial.npz unless --spatial) -> out/clip.json, out/clip_pose.mp4
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
    i.add_argument("--out-dir", default="out", help="output folder (default ./out)")
    i.add_argument("--save", default="",
                   help="comma-separated exports: posetrack,coco,openpose,csv")
    i.add_argument("--kpt-thr", type=float, default=None,
                   help=f"keypoint score threshold for drawing, exports and (with --demo) the "
                        f"tracking metrics (default {KPT_THR}; {DEMO_KPT_THR} with --demo); "
                        "the JSON keeps every joint")
    i.add_argument("--no-video", action="store_true", help="do not write <stem>_pose.mp4")
    i.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (--demo always replaces its own)")
    i.add_argument("-v", "--verbose", action="count", default=0,
                   help="log progress (-vv: debug, with tracebacks)")
    return p


def _formats(text: str) -> tuple[str, ...]:
    from arttrack.exporters import FORMATS

    out = tuple(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad:
        raise InputError(f"--save: unknown format(s) {', '.join(bad)}; choose from "
                         f"{', '.join(FORMATS)}")
    return out


@dataclass
class _Loaded:
    """The model side of a run, loaded once for one video or many."""

    pred: Any
    spatial: Any
    temporal: Any
    scale: float
    meta_extra: dict


def _model_files(args: argparse.Namespace) -> tuple[Path, Optional[str], Optional[str],
                                                  Optional[str], Optional[dict]]:
    """(checkpoint, spatial, stats, temporal, model.json) from --demo / --ckpt / --model."""
    if args.demo:
        if args.input:
            raise InputError("--demo takes no input (it generates its own clip)")
        if args.model or args.ckpt:
            raise InputError("--demo uses the shipped demo model; drop --model / --ckpt")
        d = demo_dir()
        missing = [f for f in (DEMO_CKPT, "spatial.npz") if not (d / f).is_file()]
        if missing:
            raise InputError(f"the demo model is not installed ({d / missing[0]} is missing); "
                             "train one with `python scripts/train_demo_model.py`")
        return _model_folder_files(d, args)
    if not args.input:
        raise InputError("give an input video / folder / glob / list (or --demo)")
    if args.ckpt and args.model:
        raise InputError("give --model or --ckpt, not both")
    if args.ckpt:
        return Path(args.ckpt), args.spatial, args.pairwise_stats, args.temporal, None
    return _model_folder_files(_resolve_model(args.model or DEFAULT_MODEL), args)


def _load(args: argparse.Namespace, files: tuple, threads: Optional[int] = None,
          device_set: bool = False) -> _Loaded:
    from arttrack.backends import resolve_backend

    ckpt, spatial, stats, tpath, model_doc = files
    temporal = None
    if tpath:
        from arttrack.tracking import TemporalModel

        temporal = TemporalModel.load(tpath)
    try:
        backend = resolve_backend(args.backend, args.device)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    pred, spatial_model, sp = _load_model(ckpt, args.config, None if device_set else args.device,
                                          args.mode, args.batch_size, stats, spatial,
                                          args.min_joints, args.flip_test, backend)
    if threads and backend == "onnxruntime":
        pred.onnx_net.threads = threads
    pred.settings = dataclasses.replace(pred.settings, method=args.solver)
    scale = args.scale if args.scale is not None else float(getattr(pred.config, "global_scale", 1.0))
    meta_extra: dict = {"backend": backend}
    meta_extra["model"] = {"checkpoint": str(ckpt), "spatial_model": str(sp),
                           "pairwise_stats": str(stats) if stats else
                           getattr(pred.config, "pairwise_stats_fn", None)}
    if model_doc is not None:
        meta_extra["model"]["name"] = model_doc.get("name")
    meta_extra["tracker"] = {"temporal_model": str(tpath) if tpath else "default"}
    _reassert_signals()
    return _Loaded(pred, spatial_model, temporal, scale, meta_extra)


def _run_one(args: argparse.Namespace, m: _Loaded, source: FrameSource, out_dir: Path,
             formats: tuple[str, ...], kpt_thr: float, overwrite: bool, progress: bool = True
             ) -> RunResult:
    return run(source, m.pred, m.spatial, out_dir, tracker=args.tracker, temporal=m.temporal,
               max_gap=args.max_gap, fill_gap=args.fill_gap,
               min_track_frames=args.min_track_frames, flow=args.flow,
               flow_scale=args.flow_scale, scale=m.scale, start=args.start,
               max_frames=args.max_frames, batch_size=args.batch_size, kpt_thr=kpt_thr,
               video=not args.no_video, formats=formats, overwrite=overwrite,
               meta_extra=m.meta_extra, progress=progress, after_network=_reassert_signals)


def _synthetic_warning(args: argparse.Namespace, m: _Loaded) -> list[str]:
    if not args.demo and getattr(m.pred.config, "dataset_type", None) == "synthetic":
        return ["this model was trained on synthetic figures only; its output on real "
                f"footage is meaningless (use --model {DEFAULT_MODEL})"]
    return []


def _main(args: argparse.Namespace) -> int:
    formats = _formats(args.save)
    kpt_thr = args.kpt_thr if args.kpt_thr is not None else (DEMO_KPT_THR if args.demo else KPT_THR)
    out_dir = Path(args.out_dir)
    if not args.demo and args.input:
        from arttrack.videobatch import BatchInputError, batch_inputs

        try:
            videos = batch_inputs(args.input)
        except BatchInputError as exc:
            raise InputError(str(exc)) from None
        if videos is not None:
            return _main_batch(args, videos, out_dir, formats, kpt_thr)
    files = _model_files(args)
    gt_path = None
    replaced: list[Path] = []
    overwrite = args.overwrite
    if args.demo:
        # The demo's outputs are its own (the same clip every time): a rerun replaces them
        # and says so, so the README's command works any number of times.
        overwrite = True
        src_path, gt_path = _write_demo_clip(out_dir, True, replaced)
        source = open_source(str(src_path), args.fps)
    else:
        source = open_source(args.input[0], args.fps)
    # refuse existing outputs before the (slow) model load
    planned = _planned_outputs(out_dir, source.stem, not args.no_video, formats)
    _check_outputs(planned, overwrite)
    if args.demo:
        replaced += [p for p in planned.values() if p.exists()]
    m = _load(args, files)
    res = _run_one(args, m, source, out_dir, formats, kpt_thr, overwrite)
    for w in list(res.warnings) + _synthetic_warning(args, m):
        print(f"{PROG}: warning: {w}", file=sys.stderr)
    print(f"{PROG}: {res.summary()}")
    print(f"{PROG}: wrote {res.json_path}" + (f", {res.video_path}" if res.video_path else "")
          + "".join(f", {p}" for p in res.exports.values()))
    if replaced:
        print(f"{PROG}: replaced the earlier demo run's {', '.join(p.name for p in replaced)} "
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


def _main_batch(args: argparse.Namespace, videos: list[Path], out_dir: Path,
                formats: tuple[str, ...], kpt_thr: float) -> int:
    """Many videos (arttrack.videobatch): this rank's share, failures recorded, finished
    videos skipped; rank 0 writes OUT/summary.json. Exit 1 when any video failed."""
    from arttrack import videobatch as vb

    if args.start or args.max_frames:
        raise InputError("--start / --max-frames apply to one video, not to a batch")
    import mindspore as ms

    ms.set_device(args.device)  # before msrun's cluster forms (distributed_rank)
    rank, size = vb.distributed_rank()
    threads = max(1, (os.cpu_count() or 1) // size) if size > 1 else None
    m = _load(args, _model_files(args), threads, device_set=True)
    for w in _synthetic_warning(args, m):
        print(f"{PROG}: warning: {w}", file=sys.stderr)

    def planned(v: Path) -> dict[str, Path]:
        return _planned_outputs(out_dir, v.stem, not args.no_video, formats)

    def process(v: Path) -> RunResult:
        res = _run_one(args, m, open_source(str(v), args.fps), out_dir, formats, kpt_thr,
                       True)
        for w in res.warnings:
            print(f"{PROG}: warning: {w}", file=sys.stderr)
        return res

    import cv2

    done = vb.run_batch(videos, out_dir, planned=planned, process=process,
                        overwrite=args.overwrite, rank=rank, size=size,
                        on_error=(InputError, ValueError, OSError, RuntimeError, cv2.error),
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
        return 1 if n["failed"] or n["pending"] else 0
    return 1 if failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(name)s: %(levelname)s: %(message)s")
    os.environ.setdefault("GLOG_v", "3")  # MindSpore: errors only
    # FFmpeg's own messages ("moov atom not found") would add lines to our one-line errors
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2
    import signal

    def on_sigterm(signum: int, frame: Any) -> None:
        raise _Terminated()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = (signal.signal(signal.SIGTERM, on_sigterm),
                    # Ctrl-C interrupts even when the parent started us with SIGINT ignored
                    # (a background job of a non-interactive shell)
                    signal.signal(signal.SIGINT, signal.default_int_handler))
        _OWN_SIGNALS.update({signal.SIGTERM: on_sigterm, signal.SIGINT: signal.default_int_handler})
    try:
        return _main(args)
    except (KeyboardInterrupt, _Terminated) as exc:
        name = "SIGTERM" if isinstance(exc, _Terminated) else "SIGINT"
        print(f"{PROG}: interrupted by {name}; {_interrupted_state()}", file=sys.stderr)
        return 143 if name == "SIGTERM" else 130
    except (InputError, ValueError, OSError, RuntimeError, cv2.error) as exc:
        log.debug("traceback", exc_info=True)
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2
    finally:
        _OWN_SIGNALS.clear()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])


class _Terminated(BaseException):
    """SIGTERM, raised where the process is so that the staging folder is cleaned up."""


def _interrupted_state() -> str:
    b = _BATCH_PROGRESS
    if b.get("total"):
        return (f"{b['finished']} of {b['total']} videos finished (their outputs are complete, "
                "the one in progress left nothing behind); run the same command again to go on")
    return "nothing was written (outputs appear only when complete)"


_BATCH_PROGRESS: dict = {}
_OWN_SIGNALS: dict = {}


def _reassert_signals() -> None:
    """Put main()'s SIGINT / SIGTERM handlers back: MindSpore's runtime installs its own C
    SIGINT handler when it loads and again at its first network call (it ends the process
    by SIGTERM), which would turn Ctrl-C into a SIGTERM exit."""
    import signal

    if threading.current_thread() is threading.main_thread():
        for sig, handler in _OWN_SIGNALS.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
