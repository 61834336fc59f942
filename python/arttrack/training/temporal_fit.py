"""Fitting the tracker's temporal model (:class:`arttrack.tracking.TemporalModel`) on
annotated clips: the candidate links the C++ tracker builds, labelled by the annotation, and
one logistic regression (:func:`arttrack.training.logistic.fit_logistic`)."""

from __future__ import annotations

import logging
import os
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from arttrack._native import core
from arttrack.tracking.tracker import (FEATURE_NAMES, NUM_FEATURES, TemporalModel, as_people,
                                       infer_num_joints)
from arttrack.training.logistic import fit_logistic

log = logging.getLogger(__name__)

__all__ = ["AnnotatedFrame", "fit_temporal_model", "posetrack_clips", "temporal_training_pairs"]

AnnotatedFrame = tuple  # (people (P, J, 3) or (P, J, 2) with NaN for missing joints, track_ids (P,))


def temporal_training_pairs(clips: Iterable[Sequence[AnnotatedFrame]], max_gap: int = 5,
                            strides: Sequence[int] = (1, 2, 3), use_velocity: bool = True,
                            drop_prob: float = 0.0, seed: int = 0,
                            max_normalized_distance: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Features (M, 6) and labels (M,) of temporal links from annotated clips.

    Each clip is a list of frames ``(people, track_ids)``. The C++ tracker is run with the
    annotated assignment (teacher forcing), so the features are computed from exactly the
    track state (last joint positions, velocity, size) the tracker has at inference. For
    every frame, each candidate link (detection of joint j, live track remembering joint j,
    within the distance gate) is a positive when the track id equals the person's id, else a
    negative. Frame strides in ``strides`` produce gaps > 1; ``drop_prob`` drops joints at
    random (simulating missed detections).
    """
    rng = np.random.default_rng(seed)
    feats: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for clip in clips:
        clip = list(clip)
        if not clip:
            continue
        nj = infer_num_joints([fr[0] for fr in clip])
        for stride in strides:
            if stride < 1:
                raise ValueError(f"strides must be >= 1, got {stride}")
            if stride > max_gap + 1:
                continue
            tr = core.Tracker(nj, max_gap=int(max_gap), use_velocity=bool(use_velocity),
                              max_normalized_distance=float(max_normalized_distance))
            for k, fi in enumerate(range(0, len(clip), stride)):
                people, tids = clip[fi]
                a = as_people(people, nj)
                tids = np.asarray(tids, dtype=np.int64).reshape(-1)
                if len(tids) != a.shape[0]:
                    raise ValueError(f"frame {fi}: {a.shape[0]} people but {len(tids)} track ids")
                present = np.isfinite(a[..., 0])
                if drop_prob > 0:
                    present &= rng.random(present.shape) >= drop_prob
                pi, ji = np.nonzero(present)
                joint = ji.astype(np.int64)
                xy = np.ascontiguousarray(a[pi, ji, :2])
                det_tid = tids[pi]
                frame = k * stride
                det, cand_tid, f, _, fallback = tr.candidates(frame, joint, xy)
                own = ~fallback
                if own.any():
                    feats.append(f[own])
                    labels.append(det_tid[det[own]] == cand_tid[own])
                tr.assign(frame, joint, xy, np.ones(len(joint)), det_tid)
    if not feats:
        return np.zeros((0, NUM_FEATURES)), np.zeros(0, dtype=bool)
    return np.concatenate(feats), np.concatenate(labels)


def fit_temporal_model(clips: Iterable[Sequence[AnnotatedFrame]], max_gap: int = 5,
                       strides: Sequence[int] = (1, 2, 3), use_velocity: bool = True,
                       drop_prob: float = 0.1, l2: float = 1e-3, balanced: bool = True,
                       seed: int = 0) -> TemporalModel:
    """Fits the temporal logistic regression on annotated clips (see
    :func:`temporal_training_pairs`) by minimising the mean log-loss plus
    ``l2 / 2 * |w[1:]|^2`` (bias not penalised) with L-BFGS.

    ``balanced`` weights positives and negatives equally (a prior of 1/2). The tracker sums
    the costs of all of a person's temporal edges, so a prior inside every edge's log-odds
    would be counted once per joint; with balanced classes the per-edge costs carry only
    the evidence of the displacement.

    The fit is constrained so that p(same) never increases with the frame gap at a fixed
    displacement (``w[r_over_gap] >= 0``, ``w[log_gap] <= 0``): otherwise a stale duplicate
    track could win over the track updated in the previous frame; and never with the
    displacement in spreads (``w[q] <= 0``).
    """
    X, y = temporal_training_pairs(clips, max_gap=max_gap, strides=strides, use_velocity=use_velocity,
                                   drop_prob=drop_prob, seed=seed)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        raise ValueError(f"fitting needs both same-track and different-track pairs; got {npos} "
                         f"positives and {nneg} negatives (give clips with several people)")
    sw = np.where(y, 0.5 * len(y) / npos, 0.5 * len(y) / nneg) if balanced else np.ones(len(y))
    # p(same) must not increase with the gap at a fixed displacement (a staler track is never
    # more credible): with r >= 0, d logit / d g = -w3 r / g^2 + w4 / g <= 0 iff w3 >= 0, w4 <= 0.
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * NUM_FEATURES
    bounds[FEATURE_NAMES.index("r_over_gap")] = (0.0, None)
    bounds[FEATURE_NAMES.index("log_gap")] = (None, 0.0)
    bounds[FEATURE_NAMES.index("q")] = (None, 0.0)
    w = fit_logistic(X, y.astype(np.float64), l2=l2, sample_weight=sw / sw.sum(),
                     bias=FEATURE_NAMES.index("bias"), bounds=bounds, gtol=1e-5,
                     w0=np.asarray(core.default_temporal_weights(), np.float64))
    log.info("temporal model fitted on %d positive / %d negative pairs: %s", npos, nneg,
             dict(zip(FEATURE_NAMES, np.round(w, 3))))
    return TemporalModel(weights=tuple(w), use_velocity=use_velocity, max_gap=max_gap,
                         num_positives=npos, num_negatives=nneg)


def posetrack_clips(path: Union[str, os.PathLike], num_videos: Optional[int] = None
                    ) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Annotated clips for the temporal model from PoseTrack 2018 ground truth (a file or a
    folder of per-video files): per video, each run of consecutive labelled frames becomes
    one clip of ``(people (P, 17, 3) with NaN for missing joints, track_ids (P,) int64)``."""
    from arttrack.eval.posetrack import load_ground_truth

    gt = load_ground_truth(path)
    clips: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for n, (video, frames) in enumerate(sorted(gt.videos.items())):
        if num_videos is not None and n >= num_videos:
            break
        ids: dict[object, int] = {}
        run: list[tuple[np.ndarray, np.ndarray]] = []
        last = None
        for fi in sorted(frames):
            if last is not None and fi != last + 1 and run:
                clips.append(run)
                run = []
            last = fi
            people = frames[fi].people
            arr = np.full((len(people), 17, 3), np.nan)
            for k, p in enumerate(people):
                arr[k, p.present, :2] = p.keypoints[p.present]
                arr[k, p.present, 2] = 1.0
            tids = np.array([ids.setdefault((video, p.track_id), len(ids)) for p in people],
                            np.int64)
            run.append((arr, tids))
        if run:
            clips.append(run)
    if not clips:
        raise ValueError(f"{path}: no labelled frames")
    return clips
