"""Many videos in one run: which inputs form a batch, each rank's share under ``msrun``,
skipping finished videos, and the batch's ``summary.json``.

``python -m arttrack.multiperson DIR|GLOB|LIST.txt|VIDEO VIDEO ... --out-dir OUT`` runs
every video into ``OUT`` (``OUT/<stem>.json``, ``OUT/<stem>_pose.mp4``, ...), one after
another, without stopping at a failure:

* a video whose outputs are all there already is skipped (``--overwrite`` redoes it), so a
  run that was interrupted or failed part-way is resumed by running it again;
* a video that fails is recorded with its one-line error and the run goes on; the exit
  status is 1 when any failed;
* ``OUT/summary.json`` lists every video: status (``done`` / ``skipped`` / ``failed``),
  frames, people, tracks, seconds, error, and the rank that ran it.

Under ``msrun`` (``RANK_ID`` / ``RANK_SIZE`` set, as MindSpore's launcher does on one node
or many) every rank takes its share (:func:`assign`: the videos sorted by frame count,
each to the rank with the least frames so far, identically on every rank), writes its
part of the summary to ``OUT/.summary-rank<r>.json`` as it goes, and rank 0 merges the
parts into ``summary.json`` once every rank has finished. ``OUT`` must be a folder all
ranks see (on several machines: a shared file system).
"""

from __future__ import annotations

import glob as globmod
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from arttrack.errors import one_line
from arttrack.io.atomic import write_json

__all__ = ["VIDEO_EXTS", "VideoRecord", "assign", "batch_inputs", "distributed_rank",
           "merge_summaries", "rank_part_path", "run_batch", "write_summary"]

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
SUMMARY = "summary.json"


class BatchInputError(ValueError):
    """The inputs do not name a usable batch of videos."""


@dataclass
class VideoRecord:
    path: str
    stem: str
    status: str = "pending"  # done | skipped | failed | pending
    frames: Optional[int] = None
    people: Optional[int] = None
    tracks: Optional[int] = None
    seconds: Optional[float] = None
    error: Optional[str] = None
    rank: int = 0


def _is_video(p: Path) -> bool:
    return p.suffix.lower() in VIDEO_EXTS


def batch_inputs(specs: Sequence[str]) -> Optional[list[Path]]:
    """The videos of a batch, or None when ``specs`` name one source (a video, a folder of
    images, a glob of images), which the single-video path handles.

    A batch is: several inputs (each a video file), a folder holding video files, a glob
    matching video files, or a ``.txt`` list of video paths (one a line, ``#`` comments,
    relative to the list's folder)."""
    specs = [str(s) for s in specs]
    if len(specs) == 1:
        s = specs[0]
        p = Path(s)
        if p.is_file() and p.suffix.lower() == ".txt":
            return _read_list(p)
        if p.is_dir():
            vids = sorted(f for f in p.iterdir() if f.is_file() and _is_video(f))
            return vids or None
        if not p.exists() and any(c in s for c in "*?["):
            vids = sorted(Path(f) for f in globmod.glob(s) if _is_video(Path(f)) and Path(f).is_file())
            return vids or None
        return None
    videos = []
    for s in specs:
        p = Path(s)
        if not p.is_file():
            raise BatchInputError(f"{s}: no such video file (several inputs must each be a video)")
        videos.append(p)
    return videos


def _read_list(path: Path) -> list[Path]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"{path}: cannot read the list ({exc})") from None
    out = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        if not p.is_absolute():
            p = path.parent / p
        out.append(p)
    if not out:
        raise BatchInputError(f"{path}: the list names no video")
    return out


def check_stems(videos: Sequence[Path]) -> None:
    """Outputs are named by stem: two videos with one stem would overwrite each other."""
    seen: dict[str, Path] = {}
    for v in videos:
        if v.stem in seen:
            raise BatchInputError(f"{seen[v.stem]} and {v} would write the same outputs "
                                  f"({v.stem}.json); rename one")
        seen[v.stem] = v


def frame_count(path: Path) -> int:
    """The container's frame count (0 when unreadable: such a video fails when run)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0) if cap.isOpened() else 0
    finally:
        cap.release()


def assign(frames: Sequence[int], size: int) -> list[int]:
    """Rank of each video: longest first, each to the least-loaded rank (ties: the lower
    rank; equal lengths keep their order), the same on every rank."""
    load = [0] * size
    ranks = [0] * len(frames)
    for i in sorted(range(len(frames)), key=lambda i: (-frames[i], i)):
        r = min(range(size), key=lambda r: (load[r], r))
        ranks[i] = r
        load[r] += max(int(frames[i]), 1)
    return ranks


def distributed_rank(device: str = "CPU") -> tuple[int, int]:
    """(rank, size) under ``msrun``, (0, 1) outside it; MindSpore's device is set first
    (``device``), as the cluster needs. Every process msrun starts (the scheduler and the
    workers) joins MindSpore's cluster (``mindspore.communication.init``); without it the
    scheduler never sees the workers and the job does not end."""
    import mindspore as ms

    ms.set_device(device)
    size = int(os.environ.get("MS_WORKER_NUM", os.environ.get("RANK_SIZE", "1")) or 1)
    if size <= 1:
        return 0, 1
    if os.environ.get("MS_ROLE"):  # msrun starts a scheduler and the workers alike
        from mindspore.communication import get_group_size, get_rank, init

        init()  # in the scheduler it serves the cluster until the workers are done
        return int(get_rank()), int(get_group_size())
    rank = int(os.environ.get("RANK_ID", "0") or 0)
    if not 0 <= rank < size:
        raise BatchInputError(f"bad rank environment: rank {rank} of {size}")
    return rank, size


def rank_part_path(out_dir: Path, rank: int) -> Path:
    return out_dir / f".summary-rank{rank}.json"


def existing_record(rec: VideoRecord, json_path: Path) -> VideoRecord:
    """Frames, people and tracks of a video finished by an earlier run."""
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
        frames = doc.get("frames", [])
        rec.frames = len(frames)
        rec.people = sum(len(f.get("instances", [])) for f in frames)
        rec.tracks = doc.get("meta", {}).get("tracker", {}).get("num_tracks")
    except (OSError, ValueError, AttributeError):
        pass
    return rec


def run_batch(videos: Sequence[Path], out_dir: Path, *,
              planned: Callable[[Path], dict[str, Path]],
              process: Callable[[Path], object], overwrite: bool = False,
              rank: int = 0, size: int = 1, progress: bool = True,
              on_error: tuple[type, ...] = (Exception,),
              progress_state: Optional[dict] = None) -> list[VideoRecord]:
    """Run ``process(video)`` (which writes the video's outputs and returns an object with
    ``frames``, ``people``, ``tracks``) on this rank's share of ``videos``; an exception of
    ``on_error`` (default: any but an interrupt) is recorded as the video's failure and the
    batch goes on. Returns this
    rank's records, also kept in :func:`rank_part_path` as they change; ``progress_state``
    (a dict) gets ``total`` and ``finished`` (done or skipped) as the batch goes."""
    from tqdm import tqdm

    check_stems(videos)
    out_dir.mkdir(parents=True, exist_ok=True)
    ranks = assign([frame_count(v) for v in videos], size) if size > 1 else [0] * len(videos)
    mine = [VideoRecord(str(v), v.stem, rank=rank) for v, r in zip(videos, ranks) if r == rank]
    part = rank_part_path(out_dir, rank)

    def save(finished: bool) -> None:
        write_json(part, {"rank": rank, "size": size, "finished": finished,
                           "videos": [asdict(r) for r in mine]})

    state = progress_state if progress_state is not None else {}
    state.update(total=len(mine), finished=0)
    save(False)
    bar = tqdm(total=len(mine), unit="video", desc=f"videos (rank {rank})" if size > 1 else "videos",
               disable=None if progress else True, dynamic_ncols=True)
    try:
        for rec in mine:
            paths = planned(Path(rec.path))
            if not overwrite and all(p.exists() for p in paths.values()):
                rec.status = "skipped"
                existing_record(rec, paths["json"])
            else:
                t0 = time.perf_counter()
                try:
                    res = process(Path(rec.path))
                except on_error as exc:
                    rec.status, rec.error = "failed", " ".join(one_line(exc).split())
                else:
                    rec.status = "done"
                    rec.frames, rec.people, rec.tracks = res.frames, res.people, res.tracks
                rec.seconds = round(time.perf_counter() - t0, 3)
            state["finished"] += rec.status in ("done", "skipped")
            save(False)
            bar.update(1)
    finally:
        bar.close()
    save(True)
    return mine


def merge_summaries(out_dir: Path, videos: Sequence[Path], size: int, *,
                    wait: bool = True, poll: float = 0.5) -> list[VideoRecord]:
    """Every rank's records, in the batch's order (rank 0 waits for the others to finish)."""
    parts: dict[int, dict] = {}
    while True:
        for r in range(size):
            if r in parts and parts[r].get("finished"):
                continue
            try:
                parts[r] = json.loads(rank_part_path(out_dir, r).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass
        if not wait or all(parts.get(r, {}).get("finished") for r in range(size)):
            break
        time.sleep(poll)
    by_path = {}
    for p in parts.values():
        for v in p.get("videos", []):
            by_path[v["path"]] = VideoRecord(**v)
    return [by_path.get(str(v), VideoRecord(str(v), v.stem, status="pending",
                                             error="not reported by its rank"))
            for v in videos]


def write_summary(out_dir: Path, records: Sequence[VideoRecord], size: int) -> Path:
    """``OUT/summary.json`` (and the ranks' parts removed)."""
    count = {s: sum(r.status == s for r in records) for s in ("done", "skipped", "failed", "pending")}
    doc = {"videos": [asdict(r) for r in records], "counts": count, "ranks": size,
           "frames": sum(r.frames or 0 for r in records if r.status in ("done", "skipped"))}
    path = out_dir / SUMMARY
    write_json(path, doc)
    for r in range(size):
        rank_part_path(out_dir, r).unlink(missing_ok=True)
    return path
