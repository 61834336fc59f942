"""Benchmark the node-labelling multicut (arttrack.postprocess.partition) for quality and speed.

Two parts, side by side for arttrack's ``gaec+klj`` (the default), plain ``gaec`` (GAEC, then
every cluster of positive total cost and every node of positive marginal cost suppressed),
``klj-only`` (the default with the exact, re-solving and restart stages switched off: GAEC +
KLj per component, close to what arttrack had before) and, when built, the original
DeeperCut solver (nl-lmp, "orig" below):

1. Small instances, ``--instances`` of each kind (default 1,000), 6-20 nodes:
   * ``pose``: DeeperCut-like detections of 1-3 people (17 joint types) with duplicates
     (a second detection of a joint, strongly tied to the first) and false positives (20 %),
     90 % of all pairs joined, probabilities from overlapping Beta distributions;
   * ``uniform``: node and edge probabilities uniform in [0.02, 0.98], 60 % of all pairs.
   Costs are log((1-p)/p). The exact optimum comes from an ILP solved by HiGHS
   (scipy.optimize.milp, relative gap 0): x_i = node i active, y_ij = i, j active and in
   one cluster, over all pairs (zero cost for non-edges), y_ij <= x_i, y_ij <= x_j and the
   three triangle inequalities y_ij + y_jk - y_ik <= 1 of every triple. Printed: share of
   instances solved optimally (within 1e-6), mean and largest excess (obj - opt) / |opt|,
   how often each solver is worse than arttrack and than plain GAEC, and times.
2. Frames with 10, 20 and 40 people (``--frames`` each): ``make_frame`` of
   ``bench_postprocess.py`` (COCO-17, 60x80 maps), ``find_peaks``, ``pairwise_terms`` with that
   script's spatial model and ``costs_from_probs``, i.e. the pipeline's instances. Printed
   per size: detections, edges, median time and objective of each solver, and the frames
   on which arttrack's objective is above the original's.

Times are medians of ``--repeats`` calls (one per instance for the small ones), on one
thread, including the Python call (about 5-10 us); the original is timed through ctypes.

Run:  python benchmarks/bench_partition.py                 (1,000 + 1,000 instances, minutes)
      python benchmarks/bench_partition.py --quick         (100 + 100 instances, 3 frames)
      python benchmarks/bench_partition.py --nllmp /path/libnllmp.so   (with the original)
Nothing is asserted: this prints numbers.

The original solver, for the comparison (LGPL; built outside this repository and never
copied into it): the DeeperCut authors' ``lib/multicut_cython`` in
https://github.com/eldar/pose-tensorflow holds nl-lmp's headers. This script carries a
small C driver of our own (NLLMP_DRIVER below) that includes those headers and solves an
instance the way DeeperCut's ``multicut.pyx`` does (sparse graph, one class plus
suppression, costs passed directly, SolvingMethod::Joint after GAEC, console output off).
Build it with

    python benchmarks/bench_partition.py --build-nllmp /path/to/pose-tensorflow/lib/multicut_cython \\
        --nllmp /somewhere/outside/libnllmp.so

(g++, C++11, -O3 as their setup.py), then pass ``--nllmp /somewhere/outside/libnllmp.so`` or
set ARTTRACK_NLLMP. Duplicate edges are summed before they reach it (nl-lmp would keep
the last one); the generated instances have none.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the references
from reference.partition import exact_ilp  # noqa: E402

from arttrack._native import core  # noqa: E402
from arttrack.postprocess import costs_from_probs, find_peaks, objective, pairwise_terms  # noqa: E402

NLLMP_DRIVER = r"""
// arttrack benchmark driver for the original nl-lmp solver (DeeperCut's multicut_cython).
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>  // nl-lmp's headers use std::numeric_limits without including it
#include <map>
#include <utility>
#include <vector>
#include <andres/graph/graph.hxx>
#include <nl-lmp/greedy-additive.hxx>
#include <nl-lmp/solve-joint.hxx>

extern "C" int nllmp_solve(std::int64_t n, const double* node_cost, std::int64_t m, const std::int64_t* edges,
                           const double* edge_cost, std::int64_t* out_cluster) {
  std::streambuf* old = std::cout.rdbuf(nullptr);  // the solver reports progress on stdout
  nl_lmp::Problem<andres::graph::Graph<>> problem(static_cast<size_t>(n), 2);  // class 1: suppressed
  for (std::int64_t v = 0; v < n; ++v) problem.setUnaryCost(v, 0, node_cost[v]);
  std::map<std::pair<std::int64_t, std::int64_t>, double> merged;
  for (std::int64_t e = 0; e < m; ++e) {
    std::int64_t a = edges[2 * e], b = edges[2 * e + 1];
    if (a > b) std::swap(a, b);
    merged[std::make_pair(a, b)] += edge_cost[e];
  }
  for (const auto& kv : merged) problem.setPairwiseJoinCost(kv.first.first, kv.first.second, 0, 0, kv.second);
  for (size_t e = 0; e < problem.liftedGraph().numberOfEdges(); ++e) {  // as make_problem, with_suppression
    const auto v0 = problem.liftedGraph().vertexOfEdge(e, 0), v1 = problem.liftedGraph().vertexOfEdge(e, 1);
    problem.setPairwiseJoinCost(v0, v1, 0, 1, 1000.0, e);
    problem.setPairwiseJoinCost(v0, v1, 1, 0, 1000.0, e);
  }
  nl_lmp::Solution solution(problem.numberOfVertices());
  solution = nl_lmp::greedyAdditiveEdgeContraction(problem, solution);
  if (n > 0) solution = nl_lmp::update_labels_and_multicut(problem, solution);
  for (size_t v = 0; v < solution.size(); ++v)
    out_cluster[v] = solution[v].classIndex == 1 ? -1 : static_cast<std::int64_t>(solution[v].clusterIndex);
  std::cout.rdbuf(old);
  return 0;
}
"""

# ---------------------------------------------------------------------------------------
# Instances


def logit_cost(p: np.ndarray) -> np.ndarray:
    return costs_from_probs(p)


def pose_instance(rng: np.random.Generator, n: int):
    """DeeperCut-like: 1-3 people, duplicates, false positives, noisy probabilities."""
    k = int(rng.integers(1, 4))
    person = np.full(n, -1)
    joint = np.full(n, -1)
    dup = np.zeros(n, bool)
    next_joint = [0] * k
    for i in range(n):
        if rng.random() < 0.2:  # false positive
            joint[i] = rng.integers(0, 17)
            continue
        p = int(rng.integers(0, k))
        person[i] = p
        prev = np.flatnonzero(person[:i] == p)
        if len(prev) and rng.random() < 0.3:  # a second detection of one of p's joints
            joint[i] = joint[rng.choice(prev)]
            dup[i] = True
        else:
            joint[i] = next_joint[p] % 17
            next_joint[p] += 1
    p_node = np.where(person < 0, rng.beta(1.5, 3, n), np.where(dup, rng.beta(2.5, 2, n), rng.beta(4, 1.5, n)))
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.9],
                     np.int64).reshape(-1, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    m = len(pairs)
    same = (person[a] == person[b]) & (person[a] >= 0)
    same_joint = joint[a] == joint[b]
    false_pos = (person[a] < 0) | (person[b] < 0)
    q = np.where(false_pos, rng.beta(1.5, 2.5, m),
                 np.where(same & same_joint, rng.beta(6, 1.5, m),
                          np.where(same, rng.beta(3, 1.5, m),
                                   np.where(same_joint, rng.beta(1, 4, m), rng.beta(1.5, 3, m)))))
    flip = rng.random(m) < 0.5
    pairs[flip] = pairs[flip][:, ::-1]
    return logit_cost(p_node), pairs, logit_cost(q)


def uniform_instance(rng: np.random.Generator, n: int, density: float = 0.6):
    """Unstructured: uniform probabilities, `density` of all pairs joined."""
    p = rng.uniform(0.02, 0.98, n)
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < density],
                     np.int64).reshape(-1, 2)
    q = rng.uniform(0.02, 0.98, len(pairs))
    return logit_cost(p), pairs, logit_cost(q)


KINDS = {"pose": pose_instance, "uniform": uniform_instance}


def make_instances(kind: str, count: int, seed: int):
    rng = np.random.default_rng(seed)
    return [KINDS[kind](rng, int(rng.integers(6, 21))) for _ in range(count)]


# ---------------------------------------------------------------------------------------
# Exact optimum


def optimum(instance) -> float:
    """The instance's optimal objective (tests/reference/partition.py's ILP)."""
    return exact_ilp(*instance)


# ---------------------------------------------------------------------------------------
# Solvers


def load_nllmp(path: str | None):
    """ctypes wrapper of the original solver, or None when no library is given / found."""
    if not path:
        return None
    lib = ctypes.CDLL(str(path))
    ptr = ctypes.c_void_p
    lib.nllmp_solve.argtypes = [ctypes.c_int64, ptr, ctypes.c_int64, ptr, ptr, ptr]
    lib.nllmp_solve.restype = ctypes.c_int

    def solve(node_cost, edges, edge_cost):
        nc = np.ascontiguousarray(node_cost, np.float64)
        e = np.ascontiguousarray(edges, np.int64)
        ec = np.ascontiguousarray(edge_cost, np.float64)
        out = np.zeros(len(nc), np.int64)
        lib.nllmp_solve(len(nc), nc.ctypes.data, len(e), e.ctypes.data, ec.ctypes.data, out.ctypes.data)
        return out >= 0, out

    return solve


def build_nllmp(src_dir: str, out_path: str) -> None:
    """Compiles NLLMP_DRIVER against the nl-lmp headers in `src_dir` into `out_path`."""
    src = Path(src_dir)
    include = src / "include"
    if not (include / "nl-lmp" / "solve-joint.hxx").exists():
        raise SystemExit(f"{include}/nl-lmp/solve-joint.hxx not found: pass pose-tensorflow's lib/multicut_cython")
    out = Path(out_path).resolve()
    repo = Path(__file__).resolve().parents[1]
    if repo in out.parents:
        raise SystemExit("build the original solver outside the arttrack repository")
    out.parent.mkdir(parents=True, exist_ok=True)
    driver = out.with_suffix(".cpp")
    driver.write_text(NLLMP_DRIVER)
    cmd = ["g++", "-std=c++11", "-O3", "-DHAVE_CPP11_INITIALIZER_LISTS", "-fPIC", "-shared",
           f"-I{include}", str(driver), "-o", str(out)]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    print(f"built {out}")


KLJ_ONLY = dict(exact_max_nodes=0, resolve_max_nodes=0, restarts_per_node=0)


def solvers(nllmp):
    out = {
        "arttrack": lambda nc, e, ec: core.partition(nc, e, ec)[:2],
        "gaec": lambda nc, e, ec: core.partition(nc, e, ec, method="gaec")[:2],
        "klj-only": lambda nc, e, ec: core.partition(nc, e, ec, **KLJ_ONLY)[:2],
    }
    if nllmp is not None:
        out["orig"] = nllmp
    return out


def timed(fn, args, repeats):
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


# ---------------------------------------------------------------------------------------
# Reports


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def small_instances(kind, count, seed, jobs, nllmp, pin):
    instances = make_instances(kind, count, seed)
    t0 = time.perf_counter()
    if jobs > 1:
        with Pool(jobs) as pool:
            optima = np.array(pool.map(optimum, instances, chunksize=4))
    else:
        optima = np.array([optimum(x) for x in instances])
    t_ilp = time.perf_counter() - t0
    if pin:
        pin_to_one_core()
    names = list(solvers(nllmp))
    values = {k: np.zeros(count) for k in names}
    times = {k: np.zeros(count) for k in names}
    for i, inst in enumerate(instances):
        for name, fn in solvers(nllmp).items():
            t, (active, cluster) = timed(fn, inst, 1)
            times[name][i] = t
            values[name][i] = objective(*inst, active, cluster)
    print(f"\n{kind}: {count} instances, 6-20 nodes (ILP optima in {t_ilp:.0f} s)")
    print(f"{'solver':>9} {'optimal':>8} {'mean exc':>9} {'max exc':>8} {'> arttrack':>10} {'> gaec':>7} "
          f"{'< opt':>6} | {'median':>8} {'p90':>8} {'max':>8} us")
    scale = np.maximum(np.abs(optima), 1e-12)
    for name in names:
        v = values[name]
        excess = (v - optima) / scale
        print(f"{name:>9} {np.mean(v <= optima + 1e-6):8.1%} {excess.mean():9.4%} {excess.max():8.3%} "
              f"{np.sum(v > values['arttrack'] + 1e-9):10d} {np.sum(v > values['gaec'] + 1e-9):7d} "
              f"{np.sum(v < optima - 1e-6):6d} | {np.median(times[name]) * 1e6:8.0f} "
              f"{np.percentile(times[name], 90) * 1e6:8.0f} {times[name].max() * 1e6:8.0f}")
    worse = {k: int(np.sum(values["arttrack"] > values[k] + 1e-9)) for k in names if k != "arttrack"}
    print("  arttrack worse than: " + ", ".join(f"{k} on {v}" for k, v in worse.items()))


def load_bench_postprocess():
    """The sibling script (run as ``python benchmarks/...``, its folder is on sys.path)."""
    import bench_postprocess

    return bench_postprocess


def frames(people, count, seed, repeats, nllmp):
    bp = load_bench_postprocess()
    model = bp.spatial_model()
    rng = np.random.default_rng(seed)
    names = list(solvers(nllmp))
    print(f"\nframes: COCO-17, 60x80 maps, {count} per size; median time (ms) and mean objective per solver")
    print(f"{'ppl':>4} {'dets':>5} {'edges':>6} | " + " ".join(f"{n + ' ms':>12}" for n in names) + " | "
          + " ".join(f"{n + ' obj':>13}" for n in names) + " | arttrack > orig")
    for p in people:
        dets, nedges = [], []
        t = {k: [] for k in names}
        obj = {k: [] for k in names}
        for _ in range(count):
            score, locref, pairwise, _ = bp.make_frame(p, (60, 80), rng)
            peaks = find_peaks(score, locref, stride=bp.STRIDE)
            terms = pairwise_terms(peaks, pairwise, model)
            inst = (costs_from_probs(peaks.score), terms.edges, costs_from_probs(terms.prob))
            dets.append(len(peaks))
            nedges.append(len(terms.edges))
            for name, fn in solvers(nllmp).items():
                dt, (active, cluster) = timed(fn, inst, 1 if name == "orig" else repeats)
                t[name].append(dt)
                obj[name].append(objective(*inst, active, cluster))
        line = (f"{p:4d} {int(np.median(dets)):5d} {int(np.median(nedges)):6d} | "
                + " ".join(f"{statistics.median(t[n]) * 1e3:12.2f}" for n in names) + " | "
                + " ".join(f"{np.mean(obj[n]):13.3f}" for n in names) + " | ")
        if "orig" in obj:
            worse = int(np.sum(np.array(obj["arttrack"]) > np.array(obj["orig"]) + 1e-9))
            better = int(np.sum(np.array(obj["arttrack"]) < np.array(obj["orig"]) - 1e-9))
            line += f"{worse} of {count} (better on {better})"
        else:
            line += "n/a"
        print(line, flush=True)
        ratios = ", ".join(f"{n} {statistics.median(t[n]) / statistics.median(t['arttrack']):.1f}x"
                           for n in names if n != "arttrack")
        print(f"{'':>4} time relative to arttrack: {ratios}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=1000, help="small instances of each kind")
    ap.add_argument("--kinds", default="pose,uniform", help="comma-separated: pose, uniform")
    ap.add_argument("--people", default="10,20,40", help="comma-separated people per frame")
    ap.add_argument("--frames", type=int, default=10, help="frames per number of people")
    ap.add_argument("--repeats", type=int, default=10, help="timed calls per frame (the original: one)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes for the ILPs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="100 instances of each kind, 3 frames per size")
    ap.add_argument("--pin", action="store_true", help="time on one CPU core (the ILPs still use --jobs)")
    ap.add_argument("--nllmp", default=os.environ.get("ARTTRACK_NLLMP"),
                    help="the original solver's driver library (see the docstring); default $ARTTRACK_NLLMP")
    ap.add_argument("--build-nllmp", metavar="MULTICUT_CYTHON_DIR",
                    help="build the driver against these nl-lmp sources into --nllmp, then exit")
    args = ap.parse_args(argv)
    if args.build_nllmp:
        if not args.nllmp:
            ap.error("--build-nllmp needs --nllmp (the library to write, outside the repository)")
        build_nllmp(args.build_nllmp, args.nllmp)
        return 0
    if args.quick:
        args.instances, args.frames = 100, 3
    nllmp = None
    if args.nllmp:
        if Path(args.nllmp).exists():
            nllmp = load_nllmp(args.nllmp)
        else:
            print(f"(original solver {args.nllmp} not found: compared without it)")
    print("node-labelling multicut benchmark: arttrack gaec+klj vs plain gaec, klj-only"
          + (" and the original nl-lmp" if nllmp else " (original nl-lmp not built)"))
    for k, kind in enumerate(args.kinds.split(",")):
        small_instances(kind, args.instances, args.seed + 1 + k, args.jobs, nllmp, args.pin)
    if args.pin:
        pin_to_one_core()
    frames([int(p) for p in args.people.split(",")], args.frames, args.seed, args.repeats, nllmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
