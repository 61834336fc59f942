"""One video through the pipeline, stage by stage in the order data flows (docs/DESIGN.md
section 3)::

    FrameSource ──> NetworkStage ──> ParseStage ──> PeopleLinker ──> TrackRelinker ──> TrackSmoother ──> sinks
    (frames,        (batches in,     (maps ->        (detections ->   (young tracks     (gap filling,     (CanonicalSink:
     a reader        maps out:        peaks, edges,   tracks,          re-linked with    short tracks      JSON + exports;
     thread)         MindSpore or     partition:      arttrack.        a few frames of   dropped, a        VideoSink:
                     ONNX Runtime)    detections)     tracking)        look-ahead)       fixed delay)      <stem>_pose.mp4)

:func:`run` wires them for one :class:`~arttrack.video.source.FrameSource`. Decoding runs
in a reader thread ahead of the network; with ONNX Runtime (which releases the GIL) one
single-threaded network call per core runs in worker threads while the caller parses,
links and writes the batches already done, so the frame rate approaches the network's
alone. The time of every stage is in the result's summary (the network's summed over its
workers).

Outputs (one folder per video, :class:`OutputDir`): ``<out_dir>/<stem>/`` holding

* ``<stem>.json``: canonical per-video JSON (:mod:`arttrack.io.canonical`): 0-based
  ``frame_id`` = frame index in the source, a ``track_id`` on every instance (0, 1, 2, ...
  in order of first appearance), keypoints in the model's joint order, null = missing;
  ``meta`` with video name, fps, size, keypoint names, model and tracker settings;
* ``<stem>_pose.mp4``: the input frames with skeletons coloured by track id (same size and
  fps as the input; ``video=False`` skips it);
* the exports of ``formats`` (``posetrack``, ``coco``, ``openpose``, ``csv``;
  :mod:`arttrack.io.exporters`).

The folder is written as a hidden staging folder beside it and renamed into place in one
step when everything is written, so it appears whole or not at all: an error or a signal
leaves the earlier outputs (if any) as they were and no staging folder behind.
"""

from __future__ import annotations

import collections
import math
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from arttrack.tracking.relink import RELINK_WINDOW
from arttrack.video.source import FrameSource, InputError, prefetch

KPT_THR = 0.2  # default keypoint threshold for drawing and exports
FILL_GAP = 8  # default TrackSmoother fill_gap
MIN_TRACK_FRAMES = 8  # default TrackSmoother min_track_frames
STAGES = ("read", "network", "parse", "track", "write")

__all__ = ["FILL_GAP", "KPT_THR", "MIN_TRACK_FRAMES", "RELINK_WINDOW", "CanonicalSink",
           "NetworkStage", "OutputDir", "ParseStage", "RunResult", "RunSettings", "VideoSink", "run"]


# ======================================================================================
# settings and result
# ======================================================================================
@dataclass(frozen=True)
class RunSettings:
    """How one video is processed (the model side is a
    :class:`~arttrack.video.model.TrackingModel`).

    tracker: ``st`` (spatio-temporal multicut) or ``hungarian`` (the baseline);
    max_gap: frames a person may stay unseen and keep the id; flow / flow_scale: warp the
    tracks by dense optical flow; start / max_frames: the frames to process; batch_size:
    frames per network call; kpt_thr: keypoint score threshold of drawing and exports;
    relink_window: the :class:`~arttrack.tracking.TrackRelinker`'s look-ahead after ``st``
    (1 or less: off; the Hungarian baseline is left as it links); fill_gap / min_track_frames: the :class:`~arttrack.tracking.TrackSmoother`'s; video:
    write ``<stem>_pose.mp4``; formats: exports; overwrite: replace an earlier output folder.
    """

    tracker: str = "st"
    max_gap: int = 5
    flow: bool = False
    flow_scale: float = 0.5
    start: int = 0
    max_frames: Optional[int] = None
    batch_size: int = 4
    kpt_thr: float = KPT_THR
    fill_gap: int = FILL_GAP
    min_track_frames: int = MIN_TRACK_FRAMES
    relink_window: int = RELINK_WINDOW
    video: bool = True
    formats: tuple[str, ...] = ()
    overwrite: bool = False

    def __post_init__(self) -> None:
        from arttrack.io.exporters import FORMATS

        if self.tracker not in ("st", "hungarian"):
            raise InputError(f"unknown tracker {self.tracker!r}; choose st or hungarian")
        if self.tracker == "hungarian" and self.flow:
            raise InputError("--flow applies to --tracker st only")
        if self.max_gap < 0:
            raise InputError(f"--max-gap must be >= 0, got {self.max_gap}")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.start < 0 or (self.max_frames is not None and self.max_frames < 1):
            raise InputError("--start must be >= 0 and --max-frames >= 1")
        if self.fill_gap < 0 or self.min_track_frames < 0:
            raise InputError("--fill-gap and --min-track-frames must be >= 0")
        if self.relink_window < 0:
            raise InputError(f"--relink-window must be >= 0, got {self.relink_window}")
        if not (self.flow_scale > 0 and math.isfinite(self.flow_scale)):
            raise InputError(f"--flow-scale must be positive, got {self.flow_scale}")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            raise InputError(f"--save: unknown format(s) {', '.join(bad)}; choose from "
                             f"{', '.join(FORMATS)}")


@dataclass
class RunResult:
    """What one video produced: its output folder and files, counts, the time per stage."""

    folder: Path
    json_path: Path
    video_path: Optional[Path]
    exports: dict[str, Path]
    frames: int
    people: int
    tracks: int
    times: dict[str, float]
    elapsed: float
    warnings: list[str] = field(default_factory=list)
    replaced: bool = False

    def summary(self) -> str:
        t = self.times
        fps = self.frames / self.elapsed if self.elapsed > 0 else float("nan")
        return (f"{self.frames} frames, {self.people} people ({self.people / max(self.frames, 1):.1f}"
                f"/frame), {self.tracks} tracks in {self.elapsed:.1f} s ({fps:.1f} frames/s); "
                + ", ".join(f"{k} {t.get(k, 0.0):.2f} s" for k in STAGES))


# ======================================================================================
# the output folder
# ======================================================================================
class OutputDir:
    """The output folder of one video, ``<out_dir>/<stem>/``, that appears whole or not at
    all: everything is written into a hidden staging folder beside it (:meth:`path`) and
    :meth:`commit` renames it into place in one step (an earlier folder, with
    ``overwrite``, is moved aside first and deleted after)."""

    def __init__(self, out_dir: Path, stem: str, *, video: bool = True,
                 formats: tuple[str, ...] = ()) -> None:
        from arttrack.io.exporters import output_paths

        self.out_dir, self.stem = Path(out_dir), stem
        self.folder = self.out_dir / stem
        self.stage = self.out_dir / f".{stem}.arttrack-{os.getpid()}.tmp"
        names = {"json": f"{stem}.json"}
        if video:
            names["video"] = f"{stem}_pose.mp4"
        names.update({k: p.name for k, p in output_paths(Path("."), stem, formats).items()})
        self.names = names
        self._created_out_dir = False

    @property
    def paths(self) -> dict[str, Path]:
        """The final paths of the outputs (json, video, one per export format)."""
        return {k: self.folder / n for k, n in self.names.items()}

    def check(self, overwrite: bool) -> None:
        """InputError when the folder exists (unless ``overwrite``) or is not a folder."""
        if self.folder.exists() or self.folder.is_symlink():
            if not self.folder.is_dir() or self.folder.is_symlink():
                raise InputError(f"{self.folder} exists and is not a folder; move it away")
            if not overwrite:
                raise InputError(f"{self.folder} exists; pass --overwrite to replace it")

    def path(self, key: str) -> Path:
        """Where output ``key`` is written while the run goes on (inside the staging folder)."""
        return self.stage / self.names[key]

    def open(self) -> None:
        self._created_out_dir = not self.out_dir.exists()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.stage.exists():  # left by a killed run of a process with our pid
            shutil.rmtree(self.stage)
        self.stage.mkdir()

    def commit(self) -> bool:
        """Move the finished folder into place; True when it replaced an earlier one."""
        old = None
        if self.folder.is_dir():
            old = self.out_dir / f".{self.stem}.arttrack-{os.getpid()}.old"
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.folder, old)
        try:
            os.replace(self.stage, self.folder)
        except BaseException:
            if old is not None:
                os.replace(old, self.folder)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return old is not None

    def abort(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)
        if self._created_out_dir:
            try:
                self.out_dir.rmdir()
            except OSError:
                pass


# ======================================================================================
# stages
# ======================================================================================
@dataclass
class Batch:
    """Frames ``(index in the source, BGR)`` and their network maps; ``ratio`` (rx, ry) maps
    the network's pixels back to the frame's."""

    frames: list
    maps: list
    ratio: tuple[float, float]


class NetworkStage:
    """Frames in, maps out: batches of ``batch_size`` frames (RGB, resized by ``scale``)
    through ``predictor.maps``, in order. With ``workers`` > 1 (ONNX Runtime, one
    single-threaded call per core: :func:`arttrack.video.model.network_workers`) that many
    batches run at once in worker threads while the caller parses, links and writes the
    previous ones. In MindSpore's graph mode a short last batch is padded with copies of
    its last frame, so the whole video runs one compiled shape. ``timer["network"]`` sums
    the workers' busy time."""

    def __init__(self, predictor: Any, batch_size: int, scale: float, timer: dict,
                 workers: int = 1) -> None:
        if not (scale > 0 and math.isfinite(scale)):
            raise InputError(f"--scale must be positive, got {scale}")
        self.predictor, self.batch_size, self.scale, self.timer = predictor, batch_size, scale, timer
        self.workers = max(1, int(workers))
        self.fixed_shape = getattr(predictor, "mode", "") == "graph"
        self._timer_lock = threading.Lock()

    def run(self, pending: list) -> Batch:
        import cv2

        from arttrack.inference import rescale_image

        t0 = time.perf_counter()
        imgs, ratio = [], (1.0, 1.0)
        for _, bgr in pending:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if self.scale != 1.0:
                rgb, ratio = rescale_image(rgb, self.scale)
            imgs.append(rgb)
        if self.fixed_shape and len(imgs) < self.batch_size:
            imgs = imgs + [imgs[-1]] * (self.batch_size - len(imgs))
        maps = self.predictor.maps(imgs)[:len(pending)]
        with self._timer_lock:
            self.timer["network"] += time.perf_counter() - t0
        return Batch(pending, maps, ratio)

    def _chunks(self, frames: Iterator[tuple[int, np.ndarray]]) -> Iterator[list]:
        pending: list = []
        for item in frames:
            pending.append(item)
            if len(pending) >= self.batch_size:
                yield pending
                pending = []
        if pending:
            yield pending

    def __call__(self, frames: Iterator[tuple[int, np.ndarray]]) -> Iterator[Batch]:
        if self.workers == 1:
            for chunk in self._chunks(frames):
                yield self.run(chunk)
            return
        from concurrent.futures import ThreadPoolExecutor

        # `workers` batches in flight while the caller handles the oldest finished one; on
        # an error or an interrupt the pool finishes the calls under way and stops
        with ThreadPoolExecutor(self.workers, thread_name_prefix="arttrack-network") as pool:
            inflight: collections.deque = collections.deque()
            try:
                for chunk in self._chunks(frames):
                    inflight.append(pool.submit(self.run, chunk))
                    if len(inflight) > self.workers:
                        yield inflight.popleft().result()
                while inflight:
                    yield inflight.popleft().result()
            finally:
                for f in inflight:
                    f.cancel()


class ParseStage:
    """Maps in, the frame's detections out (inference steps 1-5,
    :func:`arttrack.postprocess.pipeline.parse_frame`), in the frame's pixels."""

    def __init__(self, spatial: Any, settings: Any) -> None:
        self.spatial, self.settings = spatial, settings

    def __call__(self, maps: Any, ratio: tuple[float, float]) -> Any:
        from arttrack.postprocess.pipeline import parse_frame
        from arttrack.tracking.linker import FrameDetections

        if maps.pairwise is None:
            raise InputError("the model has no pairwise head (pairwise_predict: false); "
                             "multi-person tracking needs one")
        parse = parse_frame(maps.part, maps.locref, maps.pairwise, self.spatial, self.settings)
        return FrameDetections.from_parse(parse, ratio)


class VideoSink:
    """Frames with skeletons coloured by track id, into an mp4 (OpenCV's ``mp4v``)."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], skeleton: list,
                 kpt_thr: float) -> None:
        import cv2

        self.skeleton, self.kpt_thr = skeleton, kpt_thr
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            raise InputError(f"OpenCV cannot write an mp4 video to {path.parent}")

    def write(self, frame: Any) -> None:
        from arttrack.video.draw import draw_people

        self.writer.write(draw_people(frame.payload.copy(), frame.people, frame.ids,
                                      self.skeleton, self.kpt_thr))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


class CanonicalSink:
    """The people of every frame, as the canonical JSON's frames; :meth:`close` writes the
    JSON and the exports."""

    def __init__(self) -> None:
        self.frames: list[dict] = []
        self.people = 0

    def write(self, frame: Any) -> None:
        from arttrack.io.canonical import instance_from_person

        self.people += len(frame.people)
        self.frames.append({"frame_id": int(frame.frame), "instances": [
            instance_from_person(p, t) for p, t in zip(frame.people, frame.ids)]})

    def close(self, meta: dict, output: OutputDir, formats: tuple[str, ...],
              kpt_thr: float) -> dict[str, Path]:
        from arttrack.io.canonical import write_canonical
        from arttrack.io.exporters import export

        data = {"meta": meta, "frames": self.frames}
        write_canonical(output.path("json"), data)
        return export(data, output.stage, output.stem, formats, kpt_thr=kpt_thr) if formats else {}


# ======================================================================================
# the run
# ======================================================================================
def run(source: FrameSource, model: Any, out_dir: Path, settings: RunSettings = RunSettings(), *,
        meta_extra: Optional[dict] = None, progress: bool = True,
        after_network: Optional[Callable[[], None]] = None) -> RunResult:
    """Process ``source`` with ``model`` (a :class:`~arttrack.video.model.TrackingModel`) into
    ``out_dir/<stem>/`` (module docstring). Raises :class:`InputError` (or another
    ValueError / OSError) with nothing left behind on failure. ``after_network`` is called
    after every network call (the command puts its signal handlers back there, over the
    ones MindSpore's runtime installs)."""
    from tqdm import tqdm

    from arttrack.joints import get_joint_set
    from arttrack.tracking import TrackRelinker, TrackSmoother
    from arttrack.tracking.linker import OpticalFlow, PeopleLinker

    s = settings
    predictor = model.predictor
    cfg = predictor.config
    psettings = predictor.resolve_settings(None)
    js = get_joint_set(cfg.joint_set) if cfg is not None else None
    nj = predictor.codec.num_joints
    output = OutputDir(out_dir, source.stem, video=s.video, formats=s.formats)
    output.check(s.overwrite)
    timer = dict.fromkeys(STAGES, 0.0)
    t_start = time.perf_counter()
    video = None
    try:
        output.open()  # inside the try: an interrupt right after it still removes it
        network = NetworkStage(predictor, s.batch_size, model.scale, timer,
                               getattr(model, "network_workers", 1))
        parse = ParseStage(model.spatial, psettings)
        linker = PeopleLinker(nj, s.tracker, model=model.temporal, max_gap=s.max_gap,
                              min_joints=psettings.min_joints,
                              use_velocity=False if s.flow else None,
                              partition_method=psettings.method,
                              merge_radius=psettings.merge_radius)
        flow = OpticalFlow(s.flow_scale) if s.flow else None
        relinker = TrackRelinker(nj, _relink_window(s))
        smoother = TrackSmoother(nj, s.fill_gap, s.min_track_frames)
        canonical = CanonicalSink()
        if s.video:
            video = VideoSink(output.path("video"), source.fps, (source.width, source.height),
                              list(js.skeleton) if js is not None else [], s.kpt_thr)

        def smooth(released: list) -> list:  # relinked frames through the smoother
            return [sf for r in released
                    for sf in smoother.push(r.frame, r.people, r.ids, r.payload)]

        def emit(final: list) -> None:
            for fr in final:
                canonical.write(fr)
                if video is not None:
                    video.write(fr)

        frames = prefetch(source.frames(s.start, s.max_frames),
                          2 * s.batch_size * network.workers, timer, "read")
        batches = network(frames)
        bar = tqdm(total=_expected_frames(source, s), unit="frame", desc=source.stem,
                   disable=None if progress else True, dynamic_ncols=True, leave=False)
        try:
            for batch in batches:
                if after_network is not None:
                    after_network()
                for (fi, bgr), m in zip(batch.frames, batch.maps):
                    t0 = time.perf_counter()
                    dets = parse(m, batch.ratio)
                    t1 = time.perf_counter()
                    if flow is not None and flow.update(bgr):
                        linker.warp(flow.displace)
                    people, ids = linker.step(fi, dets)
                    final = smooth(relinker.push(fi, people, ids, bgr))
                    t2 = time.perf_counter()
                    emit(final)
                    timer["parse"] += t1 - t0
                    timer["track"] += t2 - t1
                    timer["write"] += time.perf_counter() - t2
                    bar.update(1)
            t0 = time.perf_counter()
            emit(smooth(relinker.finish()))
            emit(smoother.finish())
            timer["write"] += time.perf_counter() - t0
        finally:
            bar.close()
        n = len(canonical.frames)
        if n == 0:
            what = f"after --start {s.start}" if s.start else "in it"
            raise InputError(f"{source.path}: no frame could be decoded {what}")
        warnings = []
        want = _expected_frames(source, s) if source.kind == "video" else None
        if want is not None and n < want:
            warnings.append(f"{source.path}: only {n} of {want} frames could be decoded "
                            f"(truncated or damaged file?); the outputs cover those {n} frames")
        t0 = time.perf_counter()
        if video is not None:
            video.close()
        meta = _meta(source, model, s, psettings, js, n, smoother.num_tracks, linker, meta_extra)
        exports = canonical.close(meta, output, s.formats, s.kpt_thr)
        missing = [k for k in s.formats if k not in exports]
        if missing:  # the exporters and OutputDir name the same files
            raise RuntimeError(f"the exporters wrote no {', '.join(missing)} output")
        replaced = output.commit()
        timer["write"] += time.perf_counter() - t0
    except BaseException:
        if video is not None:
            video.close()
        output.abort()
        raise
    paths = output.paths
    return RunResult(output.folder, paths["json"], paths.get("video"),
                     {f: paths[f] for f in s.formats}, n, canonical.people, smoother.num_tracks,
                     timer, time.perf_counter() - t_start, warnings, replaced)


def _relink_window(s: RunSettings) -> int:
    """The re-linking window in effect: ``st``'s only (on the demo clips it added ID switches
    to the Hungarian baseline's fragments, 431 -> 468)."""
    return int(s.relink_window) if s.tracker == "st" else 0


def _expected_frames(source: FrameSource, s: RunSettings) -> Optional[int]:
    if source.expected is None:
        return None
    total = max(0, source.expected - s.start)
    return total if s.max_frames is None else min(total, s.max_frames)


def _meta(source: FrameSource, model: Any, s: RunSettings, psettings: Any, js: Any, n: int,
          num_tracks: int, linker: Any, extra: Optional[dict]) -> dict:
    """The canonical JSON's ``meta``: the video, the model, the tracker (section 4)."""
    from arttrack import __version__
    from arttrack.io.exporters import OPENPOSE_NOTE

    predictor = model.predictor
    cfg = predictor.config
    nj = predictor.codec.num_joints
    meta = {
        "video": source.stem, "source": str(source.path), "fps": float(source.fps),
        "width": int(source.width), "height": int(source.height), "num_frames": n,
        "start": int(s.start), "frame_ids": "0-based frame index in the source",
        "keypoint_names": list(js.names) if js is not None else [f"joint{j}" for j in range(nj)],
        "joint_set": cfg.joint_set if cfg is not None else None,
        "model": {"net_type": getattr(cfg, "net_type", None), "scale": float(model.scale),
                  "flip_test": bool(getattr(predictor, "flip_test", False)),
                  "settings": {k: getattr(psettings, k) for k in
                               ("stride", "locref_stdev", "nms_radius", "det_min_score",
                                "min_joints", "merge_radius", "use_locref", "same_joint",
                                "method")}},
        "tracker": {"method": s.tracker, "max_gap": int(s.max_gap), "flow": bool(s.flow),
                    "partition_method": psettings.method if s.tracker == "st" else None,
                    "flow_scale": float(s.flow_scale) if s.flow else None,
                    "relink_window": _relink_window(s),
                    "fill_gap": int(s.fill_gap), "min_track_frames": int(s.min_track_frames),
                    "num_tracks": num_tracks},
        "kpt_thr": float(s.kpt_thr), "arttrack_version": __version__,
    }
    if s.tracker == "st":
        meta["tracker"]["temporal_model_weights"] = list(linker.tracker.model.weights)
        meta["tracker"]["use_velocity"] = bool(linker.tracker.use_velocity)
    if "openpose" in s.formats:
        meta["openpose_note"] = OPENPOSE_NOTE
    for source_dict in (model.provenance, extra or {}):
        for k, v in source_dict.items():
            if isinstance(v, dict) and isinstance(meta.get(k), dict):
                meta[k].update(v)
            else:
                meta[k] = v
    return meta
