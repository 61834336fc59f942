"""Post-processing of network outputs into people, backed by the C++ core.

Stages: :func:`find_peaks` (detections with location refinement), pairwise terms between
detections, :func:`partition` (node-labelling multicut), :func:`assemble` (clusters to people).
"""

from __future__ import annotations

__all__: list[str] = []
