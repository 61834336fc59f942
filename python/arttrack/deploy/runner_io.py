"""Read ``arttrack-infer`` outputs and decode them back to original image coordinates.

The runner writes ``<stem>_<k>.bin`` (output k of input ``<stem>.bin``, float32, the
per-image shape in ``runner.json``) and ``runner.json``; :mod:`arttrack.preprocess`
writes the ``index.json`` with the letterbox geometry of every input. Decoding uses the
export metadata's ``stride`` and ``locref_stdev`` (locref is always applied when the model
has it) and :func:`arttrack.deploy.binaries.to_original` for the way back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from arttrack.postprocess.peaks import LOCREF_STDEV, argmax_pose, find_peaks
from arttrack.deploy.binaries import PreprocessError, load_index, to_original

__all__ = ["RunnerOutputs", "decode_peaks", "decode_single", "load_runner_outputs", "to_hwc"]


class RunnerOutputError(PreprocessError):
    """Missing or inconsistent runner outputs."""


@dataclass(frozen=True)
class OutputSpec:
    index: int
    name: str
    shape: tuple[int, ...]  # one image: (1, C, H, W)


@dataclass
class RunnerOutputs:
    """Runner outputs of one run, in index order."""

    results_dir: Path
    index: dict[str, Any]
    outputs: list[OutputSpec]
    runner: dict[str, Any] | None  # runner.json, when present

    def names(self) -> list[str]:
        return [o.name for o in self.outputs]

    def __len__(self) -> int:
        return len(self.index["entries"])

    def read(self, i: int) -> dict[str, np.ndarray]:
        """The output tensors of entry ``i``, by name, each (1, C, H, W) float32."""
        entry = self.index["entries"][i]
        stem = Path(entry["file"]).stem
        maps = {}
        for o in self.outputs:
            p = self.results_dir / f"{stem}_{o.index}.bin"
            if not p.is_file():
                raise RunnerOutputError(f"missing runner output {p} (output {o.index} "
                                        f"{o.name!r} of {entry['file']})")
            want = int(np.prod(o.shape)) * 4
            got = p.stat().st_size
            if got != want:
                raise RunnerOutputError(f"{p} has {got} bytes, expected {want} (float32 {list(o.shape)})")
            maps[o.name] = np.fromfile(p, dtype=np.float32).reshape(o.shape)
        return maps

    def __iter__(self) -> Iterator[tuple[dict[str, Any], dict[str, np.ndarray]]]:
        for i, entry in enumerate(self.index["entries"]):
            yield entry, self.read(i)


def _output_specs(runner: Mapping[str, Any] | None, meta: Mapping[str, Any]) -> list[OutputSpec]:
    if runner is not None and isinstance(runner.get("outputs"), list):
        specs = [OutputSpec(int(o["index"]), str(o["name"]), tuple(int(v) for v in o["shape"]))
                 for o in runner["outputs"]]
    else:  # outputs written by another tool in the same layout: trust the metadata
        specs = [OutputSpec(k, str(o["name"]), (1, *(int(v) for v in o["shape"][1:])))
                 for k, o in enumerate(meta.get("outputs", []))]
    meta_names = [str(o["name"]) for o in meta.get("outputs", [])]
    if meta_names and [s.name for s in specs] != meta_names:
        raise RunnerOutputError(f"runner outputs {[s.name for s in specs]} do not match the "
                                f"metadata's {meta_names} (outputs of another model?)")
    if not specs:
        raise RunnerOutputError("no output description in runner.json or the metadata")
    return specs


def load_runner_outputs(results_dir: str | os.PathLike, index: str | os.PathLike | Mapping[str, Any],
                        meta: Mapping[str, Any]) -> RunnerOutputs:
    """Open a runner output folder together with its preprocess index and export metadata."""
    rd = Path(results_dir)
    if not rd.is_dir():
        raise RunnerOutputError(f"results folder {rd} does not exist")
    idx = dict(index) if isinstance(index, Mapping) else load_index(index)
    runner = None
    rj = rd / "runner.json"
    if rj.is_file():
        try:
            runner = json.loads(rj.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunnerOutputError(f"cannot read {rj}: {exc}") from None
    return RunnerOutputs(rd, idx, _output_specs(runner, meta), runner)


def to_hwc(t: np.ndarray) -> np.ndarray:
    """(1, C, H, W) network output -> (H, W, C) C-contiguous float32."""
    t = np.asarray(t, dtype=np.float32)
    if t.ndim != 4 or t.shape[0] != 1:
        raise RunnerOutputError(f"expected a (1, C, H, W) output, got {t.shape}")
    return np.ascontiguousarray(t[0].transpose(1, 2, 0))


def _maps(maps: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    if "part_prob" not in maps:
        raise RunnerOutputError(f"no 'part_prob' output among {sorted(maps)}")
    score = to_hwc(maps["part_prob"])
    loc = maps.get("locref")
    if loc is not None:
        h, w, j = score.shape
        loc = to_hwc(loc)
        if loc.shape != (h, w, 2 * j):
            raise RunnerOutputError(f"locref has shape {loc.shape}, expected {(h, w, 2 * j)}")
        loc = np.ascontiguousarray(loc.reshape(h, w, j, 2))
    return score, loc


def _stride_stdev(meta: Mapping[str, Any]) -> tuple[float, float]:
    if "stride" not in meta:
        raise RunnerOutputError("the metadata has no 'stride'")
    return float(meta["stride"]), float(meta.get("locref_stdev", LOCREF_STDEV))


def decode_single(maps: Mapping[str, np.ndarray], meta: Mapping[str, Any],
                  geometry: Mapping[str, Any] | None) -> np.ndarray:
    """Single-person pose: (J, 3) float64 rows (x, y, score) in original image pixels
    (input pixels when ``geometry`` is None); argmax cell per joint plus locref."""
    score, loc = _maps(maps)
    stride, stdev = _stride_stdev(meta)
    pose = np.asarray(argmax_pose(score, loc, stride=stride, locref_stdev=stdev), np.float64)
    if geometry is not None:
        pose[:, :2] = to_original(pose[:, :2], geometry)
    return pose


def decode_peaks(maps: Mapping[str, np.ndarray], meta: Mapping[str, Any],
                 geometry: Mapping[str, Any] | None, *, nms_radius: int = 5,
                 min_score: float = 0.2) -> list[dict[str, float]]:
    """Per-joint detections (greedy NMS + locref) in original image pixels."""
    score, loc = _maps(maps)
    stride, stdev = _stride_stdev(meta)
    pk = find_peaks(score, loc, stride=stride, locref_stdev=stdev, nms_radius=nms_radius,
                    min_score=min_score)
    xy = np.asarray(pk.xy, np.float64)
    if geometry is not None and len(pk):
        xy = to_original(xy, geometry)
    return [{"joint": int(j), "x": float(p[0]), "y": float(p[1]), "score": float(s)}
            for j, p, s in zip(pk.part, xy, pk.score)]
