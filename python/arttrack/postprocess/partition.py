"""Node-labelling multicut: group detections into people and suppress false positives.

docs/DESIGN.md section 1, inference step 4. Every detection (node) is either *active* or
*suppressed*; active nodes are grouped into clusters (one cluster per person). The solver
minimises::

    sum(node_cost[i] for active i)
    + sum(edge_cost[e] for edges e = (i, j) with i, j active and in the same cluster)

Costs are log-odds ``log((1 - p) / p)``: a confident detection has a negative node cost, a
likely same-person edge a negative edge cost. Suppressed nodes are alone and pay nothing.

Edges are undirected, given as an (E, 2) int64 array with endpoints in ``[0, N)`` and no
self loops, in either order. Duplicate edges (including ``(i, j)`` and ``(j, i)``) are
allowed; their costs add up, in :func:`partition` and :func:`objective` alike.

The solvers run in the C++ core (``arttrack._core``) with the GIL released:

``"gaec"``
    Greedy additive edge contraction generalised to node labelling (Levinkov et al.,
    CVPR 2017): a cluster of total cost ``C`` contributes ``min(C, 0)`` (active when that
    pays); the contraction that lowers the objective most is applied until none does;
    then single nodes with a positive marginal cost in their cluster are suppressed.
``"gaec+klj"`` (default)
    The instance is split into the components of its attractive (negative-cost) edges,
    which is exact: no optimal cluster needs to span two of them. Per component: GAEC,
    then Kernighan-Lin with joins (suppression modelled as a sink cluster, so KL moves
    also activate and suppress nodes); components of up to 20 nodes are then solved
    exactly by a branch and bound; larger ones get large-neighbourhood steps: each cluster,
    and each cluster with the clusters most attracted to it, is re-solved exactly as an
    instance of its own (contracted to at most 24 atoms), followed by KLj. Never worse than
    ``"gaec"``; optimal on all of 2,000 benchmark instances of 6-20 nodes and never worse
    than DeeperCut's original solver on the benchmark frames
    (``benchmarks/bench_partition.py``), at about 2.5 ms for 20 people on one core.
    The settings of each stage are arguments of ``arttrack._native.core.partition``
    (see ``cpp/include/arttrack/partition.hpp``).

A slow pure-Python version of ``"gaec"`` for benchmarks and cross-checks lives with the
tests (``tests/reference/partition.py``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from arttrack._native import core

__all__ = ["PARTITION_METHODS", "objective", "partition"]

#: Methods accepted by :func:`partition`.
PARTITION_METHODS: tuple[str, ...] = ("gaec", "gaec+klj")

PartitionMethod = Literal["gaec", "gaec+klj"]


def partition(
    node_cost: np.ndarray,
    edges: np.ndarray,
    edge_cost: np.ndarray,
    *,
    method: PartitionMethod = "gaec+klj",
) -> tuple[np.ndarray, np.ndarray]:
    """Solves the node-labelling multicut problem heuristically.

    Args:
        node_cost: (N,) float64 cost of activating each node (finite).
        edges: (E, 2) int64 endpoints, in ``[0, N)``, no self loops; duplicates add up.
        edge_cost: (E,) float64 cost of each edge when both ends are active and joined.
        method: ``"gaec"`` or ``"gaec+klj"``.

    Returns:
        ``(active, cluster)``: (N,) bool and (N,) int32. ``cluster`` is -1 for suppressed
        nodes, else ``0..K-1`` numbered in order of first appearance by node index. The
        result is deterministic for the same input.

    Raises:
        ValueError: on an unknown ``method``, a wrong dtype or shape, NaN or infinite
            costs, or an out-of-range or self-loop edge. The message names the argument.
    """
    if not isinstance(method, str) or method not in PARTITION_METHODS:
        raise ValueError(f"method must be one of {PARTITION_METHODS}, got {method!r}")
    active, cluster, *_ = core.partition(node_cost, edges, edge_cost, method=method)
    return active, cluster


def objective(
    node_cost: np.ndarray,
    edges: np.ndarray,
    edge_cost: np.ndarray,
    active: np.ndarray,
    cluster: np.ndarray,
) -> float:
    """Objective of a labelling, evaluated from the definition (independent of the solver).

    Args:
        node_cost, edges, edge_cost: as for :func:`partition`.
        active: (N,) bool.
        cluster: (N,) int32 or int64; ``>= 0`` for active nodes and exactly -1 for
            suppressed ones.

    Raises:
        ValueError: on bad input (message names the argument) or an inconsistent labelling.
    """
    return float(core.partition_objective(node_cost, edges, edge_cost, active, cluster))
