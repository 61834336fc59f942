"""Tests of the node-labelling multicut solvers (arttrack.postprocess.partition)."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from arttrack._native import core
from arttrack.postprocess import objective, partition
from arttrack.postprocess.partition import PARTITION_METHODS
from reference.partition import exact_ilp, reference_gaec

# ---------------------------------------------------------------------------------------
# Exact solvers


_LABELLINGS: dict[int, np.ndarray] = {}


def all_labellings(n: int) -> np.ndarray:
    """Every labelling of n nodes, (Bell(n + 1), n): -1 suppressed, clusters numbered by first use."""
    if n not in _LABELLINGS:
        rows: list[list[int]] = []

        def rec(i: int, label: list[int], used: int) -> None:
            if i == n:
                rows.append(list(label))
                return
            for lv in range(-1, used + 1):
                label.append(lv)
                rec(i + 1, label, used + (lv == used))
                label.pop()

        rec(0, [], 0)
        _LABELLINGS[n] = np.array(rows, dtype=np.int64).reshape(-1, n)
    return _LABELLINGS[n]


def enumerate_optimum(node_cost: np.ndarray, edges: np.ndarray, edge_cost: np.ndarray) -> float:
    """Optimal objective by evaluating every labelling at once (n <= 9: 115,975 of them)."""
    lab = all_labellings(len(node_cost))
    total = (lab >= 0) @ node_cost
    for (a, b), w in zip(edges.tolist(), edge_cost.tolist()):
        total += np.where((lab[:, a] == lab[:, b]) & (lab[:, a] >= 0), w, 0.0)
    return float(total.min())


def brute_force(node_cost: np.ndarray, edges: np.ndarray, edge_cost: np.ndarray) -> float:
    """Optimal objective by evaluating every labelling (Bell(n + 1) of them) one at a time
    with :func:`objective` (the vectorised sum of :func:`enumerate_optimum` checked apart)."""
    return min(objective(node_cost, edges, edge_cost, lab >= 0, lab)
               for lab in all_labellings(len(node_cost)))


# ---------------------------------------------------------------------------------------
# Instances


def planted_instance(rng: np.random.Generator, n: int):
    """Pose-like instance: a few people plus false positives, noisy log-odds costs."""
    k = int(rng.integers(1, 5))
    person = rng.integers(-1, k, n)  # -1: false positive
    p = np.where(person >= 0, rng.beta(5, 2, n), rng.beta(2, 5, n))
    node_cost = np.log((1 - p) / p)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.7]
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    flip = rng.random(len(edges)) < 0.5
    edges[flip] = edges[flip][:, ::-1]
    same = (person[edges[:, 0]] == person[edges[:, 1]]) & (person[edges[:, 0]] >= 0)
    q = np.clip(np.where(same, rng.beta(4, 2, len(edges)), rng.beta(2, 4, len(edges))), 1e-7, 1 - 1e-7)
    return node_cost, edges, np.log((1 - q) / q)


def uniform_instance(rng: np.random.Generator, n: int, density: float):
    """Unstructured instance: uniform probabilities, random density. Harder than pose data."""
    p = rng.uniform(0.02, 0.98, n)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < density]
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    q = rng.uniform(0.02, 0.98, len(edges))
    return np.log((1 - p) / p), edges, np.log((1 - q) / q)


def check_labelling(active: np.ndarray, cluster: np.ndarray, n: int) -> None:
    assert active.shape == (n,) and active.dtype == np.bool_
    assert cluster.shape == (n,) and cluster.dtype == np.int32
    assert np.all((cluster == -1) == ~active)
    # Clusters numbered 0..K-1 in order of first appearance.
    seen = cluster[active]
    _, first = np.unique(seen, return_index=True)
    assert np.array_equal(seen[np.sort(first)], np.arange(len(first)))


# ---------------------------------------------------------------------------------------
# Exactness


@pytest.fixture(scope="module")
def planted_results():
    rng = np.random.default_rng(2024)
    out = []
    for _ in range(120):
        n = int(rng.integers(6, 21))
        nc, e, ec = planted_instance(rng, n)
        opt = exact_ilp(nc, e, ec)
        a, c = partition(nc, e, ec, method="gaec+klj")
        ag, cg = partition(nc, e, ec, method="gaec")
        check_labelling(a, c, n)
        check_labelling(ag, cg, n)
        out.append((opt, objective(nc, e, ec, a, c), objective(nc, e, ec, ag, cg)))
    return np.array(out)


def test_gaec_klj_optimal_on_small_instances(planted_results):
    # Up to 20 nodes every component is solved by the branch and bound.
    opt, klj, _ = planted_results.T
    assert np.all(klj >= opt - 1e-6), "nothing beats the exact optimum"
    assert np.all(klj <= opt + 1e-6), f"not optimal on {np.sum(klj > opt + 1e-6)} instances"


def test_gaec_never_better_than_klj(planted_results):
    _, klj, gaec = planted_results.T
    assert np.all(gaec >= klj - 1e-9)


def test_unstructured_instances_optimal():
    rng = np.random.default_rng(7)
    for _ in range(40):
        n = int(rng.integers(5, 12))
        nc, e, ec = uniform_instance(rng, n, rng.uniform(0.3, 1.0))
        opt = exact_ilp(nc, e, ec)
        a, c = partition(nc, e, ec)
        assert objective(nc, e, ec, a, c) == pytest.approx(opt, abs=1e-6)


def solve_with(nc, e, ec, **settings) -> float:
    """Objective of core.partition with non-default settings; checks the labelling."""
    active, cluster, value, *_ = core.partition(nc, e, ec, **settings)
    check_labelling(active, cluster, len(nc))
    assert value == pytest.approx(objective(nc, e, ec, active, cluster), abs=1e-9)
    return value


# The stages of "gaec+klj" on their own (see arttrack/partition.hpp): KLj only; KLj and the
# exact re-solving of clusters (no branch and bound on whole components); KLj, re-solving
# and perturbation restarts (the branch and bound gives up at once).
KLJ_ONLY = dict(exact_max_nodes=0, resolve_max_nodes=0, restarts_per_node=0)
RESOLVE = dict(exact_max_nodes=0, restarts_per_node=0)
RESTARTS = dict(exact_node_limit=1)


@pytest.fixture(scope="module")
def enumerated_results():
    """300 instances of 4-9 nodes, half pose-like, half uniform, with the enumerated optimum."""
    rng = np.random.default_rng(99)
    rows = []
    for i in range(300):
        n = int(rng.integers(4, 10))
        nc, e, ec = planted_instance(rng, n) if i % 2 else uniform_instance(rng, n, rng.uniform(0.4, 1.0))
        ag, cg = partition(nc, e, ec, method="gaec")
        rows.append((enumerate_optimum(nc, e, ec), objective(nc, e, ec, ag, cg), solve_with(nc, e, ec),
                     solve_with(nc, e, ec, **KLJ_ONLY), solve_with(nc, e, ec, **RESOLVE),
                     solve_with(nc, e, ec, **RESTARTS)))
    return np.array(rows)


def test_enumeration_matches_ilp():
    rng = np.random.default_rng(4)
    for i in range(10):
        n = int(rng.integers(3, 9))
        nc, e, ec = planted_instance(rng, n) if i % 2 else uniform_instance(rng, n, 0.7)
        assert enumerate_optimum(nc, e, ec) == pytest.approx(exact_ilp(nc, e, ec), abs=1e-7)


def test_optimal_against_enumeration(enumerated_results):
    opt, gaec, default = enumerated_results[:, :3].T
    assert np.all(default >= opt - 1e-9)
    assert np.all(default <= opt + 1e-9), f"not optimal on {np.sum(default > opt + 1e-9)} of {len(opt)}"
    assert np.all(default <= gaec + 1e-9)


def test_stages_never_worse_than_gaec_and_mostly_optimal(enumerated_results):
    opt, gaec = enumerated_results[:, 0], enumerated_results[:, 1]
    shares = {}
    for name, col in (("klj", 3), ("resolve", 4), ("restarts", 5)):
        val = enumerated_results[:, col]
        assert np.all(val >= opt - 1e-9)
        assert np.all(val <= gaec + 1e-9), f"{name} worse than gaec"
        shares[name] = np.mean(val <= opt + 1e-9)
    # KLj alone is optimal on 97 % of these, re-solving clusters adds a little, the restarts
    # (what a small component gets when the search gives up) make it 100 %.
    assert shares["klj"] >= 0.9, shares
    assert shares["resolve"] >= max(shares["klj"], 0.9), shares
    assert shares["restarts"] >= 0.98, shares


def test_resolving_finds_what_klj_misses():
    # GAEC puts 0, 2, 3, 4 in one cluster and suppresses 1, 5; no KLj move improves on it
    # (-4.61). The optimum (-4.68) is {0, 2, 5}, {3, 4}, 1 suppressed: 5 has to be activated
    # and 3, 4 split off at once. Re-solving the cluster with the suppressed nodes attracted
    # to it finds it.
    nc = np.array([-0.69, 1.28, 0.07, -0.14, -0.17, 0.64])
    e = np.array([[0, 1], [0, 2], [0, 4], [0, 5], [1, 2], [1, 5], [2, 3], [2, 4], [2, 5], [3, 4], [3, 5],
                  [4, 5]], np.int64)
    ec = np.array([2.58, -1.21, 0.71, -0.74, 0.2, 1.32, -0.38, -1.24, -0.88, -1.56, 2.13, 0.29])
    assert brute_force(nc, e, ec) == pytest.approx(-4.68)
    assert solve_with(nc, e, ec, **KLJ_ONLY) == pytest.approx(-4.61)
    assert solve_with(nc, e, ec, **RESOLVE) == pytest.approx(-4.68)
    active, cluster, _, _, proven, _ = core.partition(nc, e, ec)
    assert proven and cluster.tolist() == [0, -1, 0, 1, 1, 0]
    _, _, _, _, proven, _ = core.partition(nc, e, ec, **RESOLVE)
    assert not proven


def test_components_of_attractive_edges_solved_apart():
    # Two groups, each held together by attractive edges, linked only by repulsive ones:
    # no cluster spans both, and each group's labelling is what it gets on its own.
    rng = np.random.default_rng(12)
    nc1, e1, ec1 = planted_instance(rng, 14)
    nc2, e2, ec2 = planted_instance(rng, 11)
    n1 = len(nc1)
    cross = np.array([(i, n1 + j) for i in range(n1) for j in range(len(nc2)) if rng.random() < 0.5], np.int64)
    nc = np.concatenate([nc1, nc2])
    e = np.concatenate([e1, e2 + n1, cross])
    ec = np.concatenate([ec1, ec2, rng.uniform(0.1, 3.0, len(cross))])
    a, c = partition(nc, e, ec)
    a1, c1 = partition(nc1, e1, ec1)
    a2, c2 = partition(nc2, e2, ec2)
    assert not set(c[:n1][a[:n1]]) & set(c[n1:][a[n1:]])
    assert objective(nc, e, ec, a, c) == pytest.approx(
        objective(nc1, e1, ec1, a1, c1) + objective(nc2, e2, ec2, a2, c2), abs=1e-9)


def test_larger_instances_never_worse_than_gaec_nor_klj():
    rng = np.random.default_rng(21)
    for i in range(12):
        n = int(rng.integers(30, 120))
        nc, e, ec = planted_instance(rng, n) if i % 2 else uniform_instance(rng, n, rng.uniform(0.05, 0.3))
        val = solve_with(nc, e, ec)
        assert val <= solve_with(nc, e, ec, method="gaec") + 1e-9
        assert val <= solve_with(nc, e, ec, **KLJ_ONLY) + 1e-9


@pytest.mark.parametrize("setting", ["exact_max_nodes", "resolve_max_nodes"])
def test_settings_out_of_range(setting):
    for bad in (-1, 33):
        with pytest.raises(ValueError, match=setting):
            core.partition(*GOOD, **{setting: bad})
    for setting2 in ("exact_node_limit", "resolve_node_limit", "restarts_per_node"):
        with pytest.raises(ValueError, match=setting2):
            core.partition(*GOOD, **{setting2: -1})


def test_ilp_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(15):
        n = int(rng.integers(2, 7))
        nc, e, ec = uniform_instance(rng, n, 0.8)
        assert exact_ilp(nc, e, ec) == pytest.approx(brute_force(nc, e, ec), abs=1e-7)


# ---------------------------------------------------------------------------------------
# Behaviour


def test_hand_computed_objective():
    nc = np.array([-1.0, -2.0, 0.5, -0.25])
    e = np.array([[0, 1], [1, 2], [2, 3], [0, 3], [1, 0]], dtype=np.int64)
    ec = np.array([-0.5, 0.75, -1.0, 2.0, 0.25])
    active = np.array([True, True, False, True])
    cluster = np.array([0, 0, -1, 1], dtype=np.int32)
    # Nodes 0, 1, 3 active; edges (0,1) twice inside cluster 0: -0.5 + 0.25.
    assert objective(nc, e, ec, active, cluster) == pytest.approx(-1 - 2 - 0.25 - 0.5 + 0.25)
    cluster64 = np.array([0, 0, 0, 0], dtype=np.int64)
    assert objective(nc, e, ec, np.ones(4, bool), cluster64) == pytest.approx(
        -1 - 2 + 0.5 - 0.25 - 0.5 + 0.75 - 1.0 + 2.0 + 0.25)
    with pytest.raises(ValueError, match="cluster"):
        objective(nc, e, ec, active, np.array([0, 0, 1, 1], dtype=np.int32))
    with pytest.raises(ValueError, match="active"):
        objective(nc, e, ec, active.astype(np.int32), cluster)


def test_small_cases():
    # Two confident detections, attractive edge: one person.
    a, c = partition(np.array([-1.0, -1.0]), np.array([[0, 1]], np.int64), np.array([-0.5]))
    assert a.tolist() == [True, True] and c.tolist() == [0, 0]
    # Repulsive edge: two people.
    a, c = partition(np.array([-1.0, -1.0]), np.array([[0, 1]], np.int64), np.array([2.0]))
    assert c.tolist() == [0, 1]
    # Unlikely detection tied strongly to a confident one is kept, one alone is suppressed.
    a, c = partition(np.array([-1.0, 1.0, 0.5]), np.array([[1, 0]], np.int64), np.array([-3.0]))
    assert a.tolist() == [True, True, False] and c.tolist() == [0, 0, -1]
    # No nodes, no edges.
    a, c = partition(np.zeros(0), np.zeros((0, 2), np.int64), np.zeros(0))
    assert a.shape == (0,) and c.shape == (0,)
    # Edgeless.
    a, c = partition(np.array([0.5, -1.0, 2.0, -3.0]), np.zeros((0, 2), np.int64), np.zeros(0))
    assert c.tolist() == [-1, 0, -1, 1]


def test_duplicate_edges_add_up():
    nc = np.array([-1.0, -1.0])
    a1, c1 = partition(nc, np.array([[0, 1], [1, 0]], np.int64), np.array([-1.0, 0.75]))
    a2, c2 = partition(nc, np.array([[0, 1]], np.int64), np.array([-0.25]))
    assert np.array_equal(c1, c2) and c1.tolist() == [0, 0]


def test_deterministic_and_views_accepted():
    rng = np.random.default_rng(11)
    nc, e, ec = planted_instance(rng, 60)
    first = partition(nc, e, ec)
    for _ in range(3):
        again = partition(nc.copy(), e.copy(), ec.copy())
        assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    # Non-contiguous views are fine.
    e2 = np.asfortranarray(e)
    view = partition(nc[::1], e2, np.repeat(ec, 2)[::2])
    assert np.array_equal(first[1], view[1])


def test_reference_gaec_matches_core():
    rng = np.random.default_rng(5)
    for _ in range(20):
        nc, e, ec = planted_instance(rng, int(rng.integers(5, 40)))
        a, c = partition(nc, e, ec, method="gaec")
        ra, rc = reference_gaec(nc, e, ec)
        check_labelling(ra, rc, len(nc))
        assert objective(nc, e, ec, ra, rc) == pytest.approx(objective(nc, e, ec, a, c), abs=1e-9)


def test_larger_instance_consistent():
    rng = np.random.default_rng(9)
    nc, e, ec = planted_instance(rng, 400)
    for method in PARTITION_METHODS:
        a, c = partition(nc, e, ec, method=method)
        check_labelling(a, c, len(nc))


# ---------------------------------------------------------------------------------------
# Bad input

GOOD = (np.array([-1.0, 0.5, -2.0]), np.array([[0, 1], [1, 2]], np.int64), np.array([-0.5, 1.0]))


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((GOOD[0].astype(np.float32), GOOD[1], GOOD[2]), "node_cost"),
        ((GOOD[0], GOOD[1].astype(np.int32), GOOD[2]), "edges"),
        ((GOOD[0], GOOD[1], GOOD[2].astype(np.float32)), "edge_cost"),
        ((GOOD[0].reshape(3, 1), GOOD[1], GOOD[2]), "node_cost"),
        ((GOOD[0], GOOD[1].reshape(-1), GOOD[2]), "edges"),
        ((GOOD[0], np.zeros((2, 3), np.int64), GOOD[2]), "edges"),
        ((GOOD[0], GOOD[1], GOOD[2][:1]), "edge_cost"),
        ((np.array([np.nan, 0.0, 0.0]), GOOD[1], GOOD[2]), "node_cost"),
        ((GOOD[0], GOOD[1], np.array([np.inf, 0.0])), "edge_cost"),
        ((GOOD[0], np.array([[0, 3], [1, 2]], np.int64), GOOD[2]), "edges"),
        ((GOOD[0], np.array([[0, -1], [1, 2]], np.int64), GOOD[2]), "edges"),
        ((GOOD[0], np.array([[1, 1], [1, 2]], np.int64), GOOD[2]), "self loop"),
        (([-1.0, 0.5, -2.0], GOOD[1], GOOD[2]), "node_cost"),
    ],
)
def test_bad_input_names_argument(args, name):
    with pytest.raises(ValueError, match=name):
        partition(*args)


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        partition(*GOOD, method="klj")
    with pytest.raises(ValueError, match="method"):
        partition(*GOOD, method=None)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), method=st.sampled_from(PARTITION_METHODS))
def test_fuzz_binding(data, method):
    """Random arrays, mostly well-formed: either a ValueError or a valid labelling."""
    n = data.draw(st.integers(0, 12))
    e = data.draw(st.integers(0, 20))
    floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
    node_cost = data.draw(hnp.arrays(st.sampled_from([np.float64] * 4 + [np.float32]),
                                     st.sampled_from([(n,)] * 4 + [(n, 1)]), elements=floats))
    edges = data.draw(hnp.arrays(st.sampled_from([np.int64] * 4 + [np.int32, np.float64]),
                                 st.sampled_from([(e, 2)] * 4 + [(e, 3), (2 * e,)]),
                                 elements=st.integers(-2, n + 1)))
    edge_cost = data.draw(hnp.arrays(np.float64, st.sampled_from([(e,)] * 4 + [(e + 1,)]), elements=floats))
    try:
        active, cluster = partition(node_cost, edges, edge_cost, method=method)
    except ValueError:
        return
    check_labelling(active, cluster, len(node_cost))
    assert np.isfinite(objective(node_cost, edges, edge_cost, active, cluster))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.floats(0.0, 1.0))
def test_fuzz_valid_instances(seed, n, density):
    rng = np.random.default_rng(seed)
    nc, e, ec = uniform_instance(rng, n, density)
    if len(e) and rng.random() < 0.5:  # add duplicates
        e = np.concatenate([e, e[::-1, ::-1]])
        ec = np.concatenate([ec, rng.normal(size=len(ec))])
    a, c = partition(nc, e, ec)
    check_labelling(a, c, n)
    ag, cg = partition(nc, e, ec, method="gaec")
    assert objective(nc, e, ec, a, c) <= objective(nc, e, ec, ag, cg) + 1e-9
    assert objective(nc, e, ec, a, c) <= 1e-12  # never worse than suppressing everything
