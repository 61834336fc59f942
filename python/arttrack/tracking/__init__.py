"""People -> tracks: the spatio-temporal linker (ArtTrack's tracking, fast variant), its
Hungarian baseline, the re-linking of young tracks and the track smoother.

- :mod:`arttrack.tracking.tracker`: :class:`Tracker` (temporal features, edges and the
  per-frame partition in the C++ core), :class:`TemporalModel`, :func:`track_people`,
  :func:`hungarian_baseline`, :class:`TrackSmoother`;
- :mod:`arttrack.tracking.relink`: :class:`TrackRelinker`, young tracks re-linked with a
  few frames of look-ahead (between the linker and the smoother in the video pipeline);
- :mod:`arttrack.tracking.linker`: :class:`PeopleLinker`, the frame -> tracks step of the
  video pipeline (raw detections and spatial edges of a frame, or whole people), and
  :class:`OpticalFlow` motion compensation.

Fitting the temporal model lives with the other fits, in
:mod:`arttrack.training.temporal_fit`.
"""

from __future__ import annotations

from arttrack.tracking.relink import RELINK_WINDOW, RelinkedFrame, TrackRelinker, relink_ids
from arttrack.tracking.tracker import (
    FEATURE_NAMES,
    FILL_SCORE_DECAY,
    FrameLinks,
    HungarianTracker,
    PeopleDetections,
    SmoothedFrame,
    TemporalModel,
    Tracker,
    TrackSmoother,
    as_people,
    hungarian_baseline,
    people_to_detections,
    temporal_features,
    track_people,
)

__all__ = [
    "FEATURE_NAMES",
    "FILL_SCORE_DECAY",
    "FrameLinks",
    "HungarianTracker",
    "PeopleDetections",
    "RELINK_WINDOW",
    "RelinkedFrame",
    "SmoothedFrame",
    "TemporalModel",
    "TrackRelinker",
    "TrackSmoother",
    "Tracker",
    "as_people",
    "hungarian_baseline",
    "people_to_detections",
    "relink_ids",
    "temporal_features",
    "track_people",
]
