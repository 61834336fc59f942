"""Partition references for the tests and benchmarks: the exact optimum of an instance by an
ILP (HiGHS, no gap) and a readable pure-Python GAEC with node labelling (the algorithm of
``partition(..., method="gaec")``)."""

from __future__ import annotations

import heapq
import itertools

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = ["exact_ilp", "reference_gaec"]


def exact_ilp(node_cost: np.ndarray, edges: np.ndarray, edge_cost: np.ndarray) -> float:
    """Optimal objective by an ILP over the complete graph of the instance.

    x_i = node i active; y_ij = i and j active and in the same cluster (zero cost for
    non-edges). y_ij <= x_i, y_ij <= x_j and transitivity y_ij + y_jk - y_ik <= 1 over all
    triples make every feasible (x, y) a labelling and every labelling feasible.
    """
    n = len(node_cost)
    pairs = list(itertools.combinations(range(n), 2))
    pid = {p: k for k, p in enumerate(pairs)}
    m = len(pairs)
    c = np.zeros(n + m)
    c[:n] = node_cost
    for (a, b), w in zip(edges.tolist(), edge_cost.tolist()):
        c[n + pid[(min(a, b), max(a, b))]] += w
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    r = 0
    for k, (i, j) in enumerate(pairs):
        for x in (i, j):  # y_ij - x <= 0
            rows += [r, r]
            cols += [n + k, x]
            vals += [1.0, -1.0]
            r += 1
    n_activity_rows = r
    for i, j, k in itertools.combinations(range(n), 3):
        a, b, d = n + pid[(i, j)], n + pid[(j, k)], n + pid[(i, k)]
        for p, q, s in ((a, b, d), (a, d, b), (b, d, a)):  # y_p + y_q - y_s <= 1
            rows += [r, r, r]
            cols += [p, q, s]
            vals += [1.0, 1.0, -1.0]
            r += 1
    if r == 0:
        return float(np.minimum(node_cost, 0.0).sum())
    a_mat = sp.csr_matrix((vals, (rows, cols)), shape=(r, n + m))
    upper = np.concatenate([np.zeros(n_activity_rows), np.ones(r - n_activity_rows)])
    res = milp(c, constraints=LinearConstraint(a_mat, -np.inf, upper), integrality=np.ones(n + m),
               bounds=Bounds(0, 1), options={"mip_rel_gap": 0.0})
    if not res.success:
        raise RuntimeError(f"ILP failed: {res.message}")
    return float(res.fun)


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
