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

:func:`reference_gaec` is a slow pure-Python (networkx) version of ``"gaec"`` for
benchmarks and cross-checks.
"""

from __future__ import annotations

import heapq
from typing import Literal

import networkx as nx
import numpy as np

from arttrack._native import core

__all__ = ["PARTITION_METHODS", "objective", "partition", "reference_gaec"]

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


def reference_gaec(
    node_cost: np.ndarray,
    edges: np.ndarray,
    edge_cost: np.ndarray,
    *,
    tolerance: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray]:
    """Slow pure-Python GAEC with node labelling (same algorithm as ``method="gaec"``).

    Meant as a readable reference and a baseline for benchmarks, not for production use.
    Ties between equally good contractions may be broken differently from the C++ solver.
    Inputs are not validated beyond what numpy conversion does.

    Returns:
        ``(active, cluster)`` as for :func:`partition`.
    """
    costs = np.asarray(node_cost, dtype=np.float64)
    pairs = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    weights = np.asarray(edge_cost, dtype=np.float64)
    n = int(costs.shape[0])

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for (a, b), w in zip(pairs.tolist(), weights.tolist()):
        if graph.has_edge(a, b):
            graph[a][b]["weight"] += w
        else:
            graph.add_edge(a, b, weight=w)

    cluster_cost = {v: float(costs[v]) for v in range(n)}
    members = {v: [v] for v in range(n)}
    version = dict.fromkeys(range(n), 0)

    def delta(a: int, b: int, w: float) -> float:
        ca, cb = cluster_cost[a], cluster_cost[b]
        return min(0.0, ca + cb + w) - min(0.0, ca) - min(0.0, cb)

    heap: list[tuple[float, int, int, int, int]] = []

    def push(a: int, b: int, w: float) -> None:
        a, b = min(a, b), max(a, b)
        d = delta(a, b, w)
        if d < -tolerance:
            heapq.heappush(heap, (d, a, b, version[a], version[b]))

    for a, b, w in graph.edges(data="weight"):
        push(a, b, w)
    while heap:
        _, a, b, va, vb = heapq.heappop(heap)
        if a not in members or b not in members or version[a] != va or version[b] != vb:
            continue
        # Contract b into a.
        internal = graph[a][b]["weight"]
        for c, attrs in list(graph[b].items()):
            if c == a:
                continue
            if graph.has_edge(a, c):
                graph[a][c]["weight"] += attrs["weight"]
            else:
                graph.add_edge(a, c, weight=attrs["weight"])
        graph.remove_node(b)
        cluster_cost[a] += cluster_cost.pop(b) + internal
        members[a].extend(members.pop(b))
        version[a] += 1
        del version[b]
        for c, w in graph[a].items():
            push(a, c, w["weight"])

    label = np.full(n, -1, dtype=np.int64)
    for rep, nodes in members.items():
        if cluster_cost[rep] < 0.0:
            label[nodes] = rep

    # Suppress nodes with a positive marginal cost in their cluster, until none is left.
    neighbours: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for (a, b), w in zip(pairs.tolist(), weights.tolist()):
        neighbours[a].append((b, w))
        neighbours[b].append((a, w))
    changed = True
    while changed:
        changed = False
        for v in range(n):
            if label[v] < 0:
                continue
            marginal = costs[v] + sum(w for u, w in neighbours[v] if label[u] == label[v])
            if marginal > tolerance:
                label[v] = -1
                changed = True

    cluster = np.full(n, -1, dtype=np.int32)
    numbering: dict[int, int] = {}
    for v in range(n):
        if label[v] >= 0:
            cluster[v] = numbering.setdefault(int(label[v]), len(numbering))
    return cluster >= 0, cluster
