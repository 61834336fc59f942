"""Post-processing of network outputs into people, backed by the C++ core.

Stages: :func:`find_peaks` (detections with location refinement), pairwise terms between
detections, :func:`partition` (node-labelling multicut), :func:`assemble` (clusters to people).
"""

from __future__ import annotations

from arttrack.postprocess.assemble import assemble
from arttrack.postprocess.pairwise import (
    FEATURE_NAMES,
    PairwiseTerms,
    SpatialModel,
    candidate_edges,
    costs_from_probs,
    pairwise_features,
    pairwise_terms,
)
from arttrack.postprocess.partition import objective, partition
from arttrack.postprocess.peaks import Peaks, argmax_pose, find_peaks

__all__: list[str] = [
    "FEATURE_NAMES",
    "PairwiseTerms",
    "Peaks",
    "SpatialModel",
    "argmax_pose",
    "assemble",
    "candidate_edges",
    "costs_from_probs",
    "find_peaks",
    "objective",
    "pairwise_features",
    "pairwise_terms",
    "partition",
]
