"""Training of the spatial model: one logistic regression per joint pair of the sparse graph.

DeeperCut / ArtTrack score an edge between detections d1 (joint a) and d2 (joint b) with a
logistic regression on 9 pairwise features (:mod:`arttrack.postprocess.pairwise`), but the
authors never released the code that fits those regressions. This is it:

1. run the network on annotated images (or take precomputed :class:`arttrack.inference.Maps`);
2. detections: :func:`arttrack.postprocess.find_peaks` with the inference settings;
3. match every detection of joint j to the nearest ground-truth person whose joint j is
   labeled and lies within ``radius`` pixels (else unmatched);
4. for every candidate edge of the pair graph (:func:`arttrack.postprocess.candidate_edges`,
   the same edges as inference): label 1 when both ends are matched to the same person,
   0 when they are matched to different people, skip it when either end is unmatched;
5. features: :func:`arttrack.postprocess.pairwise_features` (the C++ function inference
   uses, so training and inference features cannot differ);
6. per pair: min-max scaling of features 0..7 on that pair's samples, then L2-regularised
   logistic regression (:func:`fit_logistic`: L-BFGS on the mean log-loss plus
   ``l2 / (2 n)`` times the squared weights, the intercept not penalised; sklearn's
   ``LogisticRegression(C=1/l2)``).

Fallback for pairs with fewer than ``min_samples`` samples of each class: the **pooled**
model, fitted the same way on the samples of all pairs together (pairs differ mostly in
their typical distances, so the pooled model is a reasonable, slightly blunter score).
When even the pooled data lacks a class (e.g. only single-person images: no negatives),
the **prior** model :func:`prior_pair_model` is used: a hand-set regression that gives
p ~ 0.95 to a perfect match and decreases with the distance / angle errors, reaching
p = 0.5 at a total distance error of about ``prior_distance`` pixels. Both are logged.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from arttrack.postprocess.pairwise import NUM_FEATURES, SpatialModel
from arttrack.training.logistic import fit_logistic

logger = logging.getLogger(__name__)

__all__ = ["EdgeSamples", "PairFit", "SpatialFitReport", "edge_samples",
           "fit_pair_models", "fit_spatial_model", "match_detections", "prior_pair_model",
           "roc_auc"]

NUM_SCALED = NUM_FEATURES - 1  # the bias column is not scaled


@dataclass
class EdgeSamples:
    """Labeled pairwise features: (E, 9) raw ``features``, (E,) 0/1 ``labels``,
    (E,) ``pair_index`` into the pair graph."""

    features: np.ndarray
    labels: np.ndarray
    pair_index: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @classmethod
    def empty(cls) -> "EdgeSamples":
        return cls(np.zeros((0, NUM_FEATURES)), np.zeros(0, np.int8), np.zeros(0, np.int64))

    @classmethod
    def concat(cls, parts: Sequence["EdgeSamples"]) -> "EdgeSamples":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.features for p in parts]),
                   np.concatenate([p.labels for p in parts]),
                   np.concatenate([p.pair_index for p in parts]))


@dataclass
class PairFit:
    pair: tuple[int, int]
    num_pos: int
    num_neg: int
    source: str  # "own", "pooled" or "prior"
    train_auc: float = float("nan")


@dataclass
class SpatialFitReport:
    pairs: list[PairFit] = field(default_factory=list)
    pooled_auc: float = float("nan")
    num_images: int = 0
    num_detections: int = 0

    def summary(self) -> str:
        own = sum(p.source == "own" for p in self.pairs)
        pos = sum(p.num_pos for p in self.pairs)
        neg = sum(p.num_neg for p in self.pairs)
        aucs = [p.train_auc for p in self.pairs if p.source == "own" and np.isfinite(p.train_auc)]
        mean_auc = float(np.mean(aucs)) if aucs else float("nan")
        return (f"{self.num_images} images, {self.num_detections} detections, {pos} positive / "
                f"{neg} negative edges; {own}/{len(self.pairs)} pairs fitted on their own data "
                f"(mean train AUC {mean_auc:.3f}), pooled AUC {self.pooled_auc:.3f}")


# ----------------------------------------------------------------------------- samples
def match_detections(peaks: Any, people: np.ndarray, radius: float) -> np.ndarray:
    """(N,) int64 index of the ground-truth person each detection belongs to, -1 if none.

    Detection d of joint j goes to the nearest person whose joint j is labeled
    (visibility > 0) and within ``radius`` pixels.
    """
    n = len(peaks)
    out = np.full(n, -1, np.int64)
    people = np.asarray(people, np.float64)
    if n == 0 or people.size == 0:
        return out
    people = people.reshape(-1, people.shape[-2], people.shape[-1])
    j = np.asarray(peaks.part, np.int64)
    gt = people[:, j, :2].transpose(1, 0, 2)  # (N, P, 2)
    lab = people[:, j, 2].T > 0  # (N, P)
    d = np.linalg.norm(gt - np.asarray(peaks.xy, np.float64)[:, None, :], axis=2)
    d = np.where(lab, d, np.inf)
    best = d.argmin(axis=1)
    ok = d[np.arange(n), best] <= radius
    out[ok] = best[ok]
    return out


def edge_samples(peaks: Any, pairwise: np.ndarray, people: np.ndarray, pairs: np.ndarray,
                 radius: float) -> EdgeSamples:
    """Labeled features of one image's candidate edges (module docstring, steps 3-5).

    Args:
        peaks: detections (:class:`arttrack.postprocess.Peaks`).
        pairwise: (H, W, J*(J-1), 2) pixel offsets.
        people: (P, J, 3) ground truth in the maps' input pixels.
        pairs: (K, 2) int64 pair graph.
        radius: matching radius in pixels.
    """
    from arttrack.postprocess import candidate_edges, pairwise_features

    if len(peaks) == 0:
        return EdgeSamples.empty()
    pairs = np.ascontiguousarray(pairs, np.int64).reshape(-1, 2)
    num_joints = int(np.asarray(people).shape[-2]) if np.size(people) else \
        int(round((1 + np.sqrt(1 + 4 * pairwise.shape[2])) / 2))
    edges, pidx = candidate_edges(peaks, pairs, num_joints)
    if len(edges) == 0:
        return EdgeSamples.empty()
    owner = match_detections(peaks, people, radius)
    o1, o2 = owner[edges[:, 0]], owner[edges[:, 1]]
    keep = (o1 >= 0) & (o2 >= 0)
    if not keep.any():
        return EdgeSamples.empty()
    edges = np.ascontiguousarray(edges[keep])
    feats = pairwise_features(peaks, np.ascontiguousarray(pairwise, np.float32), edges)
    return EdgeSamples(np.asarray(feats, np.float64), (o1[keep] == o2[keep]).astype(np.int8),
                       np.asarray(pidx, np.int64)[keep])


# ----------------------------------------------------------------------------- regression
def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count 1/2); NaN without both classes."""
    from scipy.stats import rankdata

    s = np.asarray(scores, np.float64)
    y = np.asarray(labels).astype(bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


def _scale(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = np.asarray(features, np.float64)
    mn = np.zeros(NUM_FEATURES)
    mx = np.zeros(NUM_FEATURES)
    mn[:NUM_SCALED] = f[:, :NUM_SCALED].min(axis=0)
    mx[:NUM_SCALED] = f[:, :NUM_SCALED].max(axis=0)
    rng = np.where(mx - mn == 0, 1.0, mx - mn)
    s = (f - mn) / rng
    s[:, NUM_SCALED] = 1.0
    return s, mn, mx


def prior_pair_model(prior_distance: float = 40.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feat_min, feat_max, weights) of the hand-set fallback model (module docstring):
    distances scaled by ``prior_distance`` px, angles by pi; z = 3 - 3 (d_f + d_b) / D
    - (a_f + a_b) / pi, so p = 0.95 for a perfect match and 0.5 at d_f + d_b = D."""
    mn = np.zeros(NUM_FEATURES)
    mx = np.array([prior_distance, prior_distance, np.pi, np.pi, 1, 1, 1, 1, 0], np.float64)
    w = np.array([-3.0, -3.0, -1.0, -1.0, 0, 0, 0, 0, 3.0])
    return mn, mx, w


def fit_pair_models(samples: EdgeSamples, pairs: np.ndarray, *, l2: float = 1.0,
                    min_samples: int = 10, balanced: bool = False,
                    prior_distance: float = 40.0) -> tuple[SpatialModel, SpatialFitReport]:
    """One logistic regression per pair (module docstring, step 6, and the fallbacks).

    Args:
        samples: labeled features of all pairs.
        pairs: (K, 2) pair graph (``samples.pair_index`` indexes it).
        l2: L2 penalty (sklearn's 1 / C).
        min_samples: a pair needs this many positive AND negative samples to get its own model.
        balanced: weigh the classes inversely to their frequency.
        prior_distance: scale of the prior fallback model (px).
    """
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    k = len(pairs)
    report = SpatialFitReport()

    def fit(f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        s, mn, mx = _scale(f)
        sw = None
        if balanced:
            npos, nneg = max(int(y.sum()), 1), max(int((1 - y).sum()), 1)
            sw = np.where(y > 0, len(y) / (2.0 * npos), len(y) / (2.0 * nneg))
        w = fit_logistic(s, y, l2=l2, sample_weight=sw)
        return mn, mx, w, roc_auc(s @ w, y)

    y_all = np.asarray(samples.labels, np.float64)
    if len(samples) and 0 < y_all.sum() < len(y_all):
        p_mn, p_mx, p_w, report.pooled_auc = fit(samples.features, y_all)
        pooled = (p_mn, p_mx, p_w, "pooled")
    else:
        logger.warning("spatial fit: the samples hold %d positive and %d negative edges in all; "
                       "pairs without enough data of both classes use the prior model "
                       "(multi-person images are needed for negatives)",
                       int(y_all.sum()), int(len(y_all) - y_all.sum()))
        pooled = (*prior_pair_model(prior_distance), "prior")

    feat_min = np.zeros((k, NUM_FEATURES))
    feat_max = np.zeros((k, NUM_FEATURES))
    weights = np.zeros((k, NUM_FEATURES))
    for p in range(k):
        sel = samples.pair_index == p
        y = y_all[sel]
        npos, nneg = int(y.sum()), int(len(y) - y.sum())
        entry = PairFit((int(pairs[p, 0]), int(pairs[p, 1])), npos, nneg, pooled[3])
        if npos >= min_samples and nneg >= min_samples:
            feat_min[p], feat_max[p], weights[p], entry.train_auc = fit(samples.features[sel], y)
            entry.source = "own"
        else:
            feat_min[p], feat_max[p], weights[p] = pooled[:3]
        report.pairs.append(entry)
    fallback = [f"{e.pair}" for e in report.pairs if e.source != "own"]
    if fallback:
        logger.info("spatial fit: %d of %d pairs use the %s model (fewer than %d samples of a "
                    "class): %s", len(fallback), k, pooled[3], min_samples,
                    ", ".join(fallback[:10]) + (" ..." if len(fallback) > 10 else ""))
    return SpatialModel(pairs, feat_min, feat_max, weights), report


# ----------------------------------------------------------------------------- driver
def fit_spatial_model(source: Any, records: Iterable[Any], pair_graph: np.ndarray, *,
                      radius: float = 17.0, l2: float = 1.0, min_samples: int = 10,
                      balanced: bool = False, settings: Any = None,
                      num_images: Optional[int] = None, progress: Optional[bool] = None,
                      return_report: bool = False) -> Any:
    """Fit a :class:`SpatialModel` for ``pair_graph`` from annotated images.

    Args:
        source: a :class:`arttrack.inference.Predictor` (then ``records`` yields
            ``(image, people)``: an H x W x 3 uint8 RGB image and its (P, J, 3) ground
            truth in that image's pixels), or a sequence of :class:`arttrack.inference.Maps`
            (then ``records`` yields the (P, J, 3) ground truth of each, in order).
        records: see ``source``.
        pair_graph: (K, 2) joint pairs, e.g. ``get_joint_set(name).pair_graph``.
        radius: detection-to-joint matching radius in pixels.
        l2, min_samples, balanced: see :func:`fit_pair_models`.
        settings: :class:`arttrack.postprocess.pipeline.MultiPersonSettings` for the peaks
            (default: the predictor's, else the defaults).
        num_images: stop after this many records.
        progress: tqdm bar (default: when stderr is a terminal).
        return_report: also return the :class:`SpatialFitReport`.
    """
    from tqdm import tqdm

    from arttrack.postprocess.pipeline import MultiPersonSettings, detect

    predictor = source if hasattr(source, "maps") and hasattr(source, "codec") else None
    if settings is None:
        settings = predictor.settings if predictor is not None else MultiPersonSettings()
    if predictor is not None:
        items: Iterable[Any] = records
    else:
        items = zip(source, records)
    pairs = np.ascontiguousarray(pair_graph, np.int64).reshape(-1, 2)
    total = num_images
    if total is None and hasattr(records, "__len__"):
        total = len(records)  # type: ignore[arg-type]
    bar = tqdm(items, total=total, desc="spatial fit", leave=False,
               disable=not (sys.stderr.isatty() if progress is None else progress))
    parts: list[EdgeSamples] = []
    n_img = n_det = 0
    for item in bar:
        if num_images is not None and n_img >= num_images:
            break
        if predictor is not None:
            image, people = item
            maps = predictor.maps(np.asarray(image))
        else:
            maps, people = item
        if maps.pairwise is None:
            raise ValueError("fitting the spatial model needs pairwise maps (a network trained "
                             "with pairwise_predict: true)")
        peaks = detect(maps.part, maps.locref, settings)
        n_img += 1
        n_det += len(peaks)
        people = np.asarray(people, np.float64).reshape(-1, maps.num_joints, 3)
        parts.append(edge_samples(peaks, maps.pairwise, people, pairs, radius))
    bar.close()
    samples = EdgeSamples.concat(parts)
    model, report = fit_pair_models(samples, pairs, l2=l2, min_samples=min_samples,
                                    balanced=balanced)
    report.num_images, report.num_detections = n_img, n_det
    logger.info("spatial fit: %s", report.summary())
    return (model, report) if return_report else model
