"""Benchmark the C++ post-processing against the NumPy / networkx reference.

Frames are generated to look like real network outputs for COCO-17 (stride 8 maps of
60x80 for 480x640 input and 90x160 for 720x1280): per person a probability blob per
visible joint, consistent location refinement and pairwise offsets with noise, background
noise and false-positive blobs. The spatial model is a fixed, hand-set logistic model
(offsets that agree with the real displacement -> likely the same person).

Stages timed (median over repeats, one thread):
  peaks      find_peaks (C++)            vs find_peaks_reference (NumPy)
  pairwise   pairwise_terms (C++)        vs pairwise_terms_reference (NumPy)
  partition  partition gaec+klj (C++)    vs reference_gaec (pure Python + networkx)
  assemble   assemble (C++)              vs a NumPy loop
  total      all of the above

Also timed first: find_peaks against one NumPy pass over the same maps (17x60x80 maps with
20 blobs per joint, thousands of cells above the threshold; see ``peaks_vs_numpy``).

Run:  python benchmarks/bench_postprocess.py            (full table, a few minutes)
      python benchmarks/bench_postprocess.py --quick    (small sizes, seconds)
      python benchmarks/bench_postprocess.py --peaks-ratio   (the find_peaks / NumPy ratio only)
Nothing is asserted: this prints numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from arttrack.joints import COCO17, pair_channel  # noqa: E402
from arttrack.postprocess import (SpatialModel, assemble, costs_from_probs, find_peaks,  # noqa: E402
                                  objective, pairwise_terms, partition)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the references
from reference.partition import reference_gaec  # noqa: E402
from reference.postprocess import blob_maps, find_peaks_reference, pairwise_terms_reference  # noqa: E402

STRIDE = 8.0
LOCREF_STDEV = 7.2801
# A standing COCO-17 person, unit height, centred at the hips' midpoint.
TEMPLATE = np.array([
    [0.00, -0.44], [-0.03, -0.46], [0.03, -0.46], [-0.06, -0.45], [0.06, -0.45],
    [-0.11, -0.33], [0.11, -0.33], [-0.15, -0.17], [0.15, -0.17], [-0.16, -0.02],
    [0.16, -0.02], [-0.08, 0.00], [0.08, 0.00], [-0.08, 0.24], [0.08, 0.24],
    [-0.08, 0.48], [0.08, 0.48]])


def spatial_model(hops: int | None = None) -> SpatialModel:
    """A distance-based spatial model on COCO-17's pair graph (``hops``: a denser one)."""
    pairs = COCO17.pair_graph if hops is None else COCO17.pairs_within(hops)
    n = len(pairs)
    fmin = np.zeros((n, 9))
    fmax = np.tile([200.0, 200.0, np.pi, np.pi, 1.0, 1.0, 1.0, 1.0, 1.0], (n, 1))
    w = np.tile([-12.0, -12.0, -3.0, -3.0, 1.0, 1.0, 1.0, 1.0, 4.0], (n, 1))
    return SpatialModel(pairs, fmin, fmax, w)


def make_frame(num_people: int, map_hw: tuple[int, int], rng: np.random.Generator):
    """(scoremap, locref, pairwise in pixels, people (P, J, 2)) for one frame."""
    h, w = map_hw
    j = COCO17.num_joints
    img_w, img_h = w * STRIDE, h * STRIDE
    people = []
    for _ in range(num_people):
        height = rng.uniform(0.25, 0.6) * img_h
        cx, cy = rng.uniform(0.1, 0.9) * img_w, rng.uniform(0.3, 0.7) * img_h
        pts = TEMPLATE * height + [cx, cy] + rng.normal(0, 0.02 * height, (j, 2))
        people.append(pts)
    people = np.array(people).reshape(num_people, j, 2)
    ys, xs = np.mgrid[0:h, 0:w]
    centres = np.stack([xs * STRIDE + STRIDE / 2, ys * STRIDE + STRIDE / 2], -1)  # (h, w, 2)
    score = rng.uniform(0, 0.08, (h, w, j)).astype(np.float32)
    locref = np.zeros((h, w, j, 2), np.float32)
    pairwise = rng.normal(0, 2.0, (h, w, j * (j - 1), 2)).astype(np.float32)
    owner = np.full((h, w, j), -1)
    best = np.full((h, w, j), np.inf)
    for p in range(num_people):
        for k in range(j):
            if rng.random() < 0.1:  # occluded / missed joint
                continue
            d2 = ((centres - people[p, k]) ** 2).sum(-1)
            blob = rng.uniform(0.7, 0.98) * np.exp(-d2 / (2 * (1.2 * STRIDE) ** 2))
            score[:, :, k] = np.maximum(score[:, :, k], blob)
            closer = d2 < best[:, :, k]
            best[:, :, k][closer] = d2[closer]
            owner[:, :, k][closer] = p
    for k in range(j):
        for _ in range(rng.integers(0, 3)):  # false positives
            c = rng.uniform([0, 0], [img_w, img_h])
            d2 = ((centres - c) ** 2).sum(-1)
            score[:, :, k] = np.maximum(score[:, :, k], rng.uniform(0.25, 0.6) * np.exp(-d2 / (2 * STRIDE ** 2)))
        own = owner[:, :, k]
        near = own >= 0
        target = people[own[near], k]
        locref[:, :, k][near] = (target - centres[near]) / LOCREF_STDEV
        for m in range(j):
            if m == k:
                continue
            c = pair_channel(k, m, j)
            pairwise[:, :, c][near] += (people[own[near], m] - centres[near]).astype(np.float32)
    return score.astype(np.float32), locref, pairwise, people


def peaks_vs_numpy(repeats: int = 2000, seed: int = 0, min_score: float = 0.2) -> dict:
    """Median time of find_peaks (with locref, nms_radius 5) on 17x60x80 blob maps against
    one NumPy pass over the same maps, ``(maps >= min_score).sum()`` and ``maps.max()``,
    timed interleaved in the same run."""
    rng = np.random.default_rng(seed)
    maps = blob_maps(rng)
    locref = rng.normal(0, 1, maps.shape + (2,)).astype(np.float32)
    fns = {"find_peaks": lambda: find_peaks(maps, locref, stride=STRIDE, nms_radius=5, min_score=min_score),
           "ge_sum": lambda: (maps >= min_score).sum(),
           "max": lambda: maps.max()}
    times = {k: [] for k in fns}
    for _ in range(max(repeats // 10, 10)):  # warm-up
        for fn in fns.values():
            fn()
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return dict(med, candidates=int((maps >= min_score).sum()), dets=len(fns["find_peaks"]()),
                min_score=min_score, repeats=repeats)


def print_peaks_vs_numpy(repeats: int, seed: int) -> None:
    r = peaks_vs_numpy(repeats, seed)
    print(f"find_peaks vs one NumPy pass: 17x60x80 maps, 20 Gaussian blobs per joint (sigma 1.5 cells, "
          f"peak 0.5-0.95) over uniform noise 0-0.15, min_score {r['min_score']}, nms_radius 5, with locref: "
          f"{r['candidates']} cells >= min_score, {r['dets']} detections; medians of {r['repeats']}")
    print(f"  find_peaks {r['find_peaks'] * 1e6:.1f} us | (maps >= {r['min_score']}).sum() "
          f"{r['ge_sum'] * 1e6:.1f} us: ratio {r['find_peaks'] / r['ge_sum']:.1f}x | maps.max() "
          f"{r['max'] * 1e6:.1f} us: ratio {r['find_peaks'] / r['max']:.1f}x", flush=True)


def assemble_numpy(peaks, active, cluster, num_joints, min_joints=3):
    out = []
    for c in range(cluster.max() + 1 if cluster.size else 0):
        person = np.full((num_joints, 3), np.nan, np.float32)
        person[:, 2] = 0
        members = np.flatnonzero((cluster == c) & active)
        n = 0
        for k in range(num_joints):
            sel = members[peaks.part[members] == k]
            if sel.size:
                wgt = peaks.score[sel].astype(np.float64)
                person[k, :2] = (peaks.xy[sel] * wgt[:, None]).sum(0) / wgt.sum()
                person[k, 2] = wgt.max()
                n += 1
        if n >= min_joints:
            out.append(person)
    return np.array(out, np.float32).reshape(-1, num_joints, 3)


def timeit(fn, repeats):
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run_case(num_people, map_hw, model, rng, repeats, ref_repeats, with_reference):
    score, locref, pairwise, _ = make_frame(num_people, map_hw, rng)
    j = COCO17.num_joints
    row = {"people": num_people, "map": f"{map_hw[0]}x{map_hw[1]}"}

    t_peaks, peaks = timeit(lambda: find_peaks(score, locref, stride=STRIDE), repeats)
    t_pw, terms = timeit(lambda: pairwise_terms(peaks, pairwise, model), repeats)
    node_cost = costs_from_probs(peaks.score)
    edge_cost = costs_from_probs(terms.prob)
    t_part, (active, cluster) = timeit(lambda: partition(node_cost, terms.edges, edge_cost), repeats)
    t_asm, people = timeit(lambda: assemble(peaks, active, cluster, j), repeats)
    row.update(dets=len(peaks), edges=len(terms.edges), found=len(people),
               peaks=t_peaks, pairwise=t_pw, partition=t_part, assemble=t_asm,
               total=t_peaks + t_pw + t_part + t_asm,
               obj=objective(node_cost, terms.edges, edge_cost, active, cluster))
    if with_reference:
        r_peaks, rp = timeit(lambda: find_peaks_reference(score, locref, stride=STRIDE), ref_repeats)
        r_pw, rterms = timeit(lambda: pairwise_terms_reference(rp, pairwise, model), ref_repeats)
        r_part, (ra, rc) = timeit(lambda: reference_gaec(node_cost, terms.edges, edge_cost), ref_repeats)
        r_asm, _ = timeit(lambda: assemble_numpy(peaks, active, cluster, j), ref_repeats)
        row.update(ref_peaks=r_peaks, ref_pairwise=r_pw, ref_partition=r_part, ref_assemble=r_asm,
                   ref_total=r_peaks + r_pw + r_part + r_asm,
                   ref_obj=objective(node_cost, terms.edges, edge_cost, ra, rc))
        row["same_peaks"] = len(rp) == len(peaks) and bool(np.allclose(rp.xy, peaks.xy, atol=1e-3))
        row["same_edges"] = bool(np.array_equal(rterms.edges, terms.edges)) and bool(
            np.allclose(rterms.prob, terms.prob, atol=1e-6))
    return row


def fmt_us(seconds):
    return f"{seconds * 1e6:9.0f}" if seconds < 0.1 else f"{seconds * 1e3:7.0f}ms"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", default="1,5,10,20,40", help="comma-separated people per frame")
    ap.add_argument("--maps", default="60x80,90x160", help="comma-separated map sizes HxW")
    ap.add_argument("--repeats", type=int, default=30, help="repeats of the C++ stages")
    ap.add_argument("--ref-repeats", type=int, default=3, help="repeats of the reference stages")
    ap.add_argument("--no-reference", action="store_true", help="time the C++ stages only")
    ap.add_argument("--quick", action="store_true", help="1 and 5 people on 60x80 maps, few repeats")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pin", action="store_true", help="pin the process to one CPU core")
    ap.add_argument("--peaks-ratio", action="store_true", help="only find_peaks against one NumPy pass")
    ap.add_argument("--peaks-repeats", type=int, default=2000, help="repeats of the find_peaks / NumPy timing")
    args = ap.parse_args(argv)
    if args.quick:
        args.people, args.maps, args.repeats, args.ref_repeats = "1,5", "60x80", 5, 1
    if args.pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print_peaks_vs_numpy(args.peaks_repeats, args.seed)
    if args.peaks_ratio:
        return 0
    model = spatial_model()
    rng = np.random.default_rng(args.seed)
    people = [int(p) for p in args.people.split(",")]
    maps = [tuple(int(v) for v in m.split("x")) for m in args.maps.split(",")]
    print(f"arttrack post-processing benchmark: COCO-17, {len(model.pairs)} joint pairs, "
          f"medians of {args.repeats} (C++) / {args.ref_repeats} (reference) runs, times in us")
    print(f"{'map':>7} {'ppl':>4} {'dets':>5} {'edges':>7} {'found':>5} | "
          f"{'peaks':>9} {'pairwise':>9} {'partition':>9} {'assemble':>9} {'total':>9} | "
          f"{'ref total':>9} {'ratio':>7} | objective C++ / ref GAEC")
    for hw in maps:
        for n in people:
            r = run_case(n, hw, model, rng, args.repeats, args.ref_repeats, not args.no_reference)
            line = (f"{r['map']:>7} {n:4d} {r['dets']:5d} {r['edges']:7d} {r['found']:5d} | "
                    f"{fmt_us(r['peaks'])} {fmt_us(r['pairwise'])} {fmt_us(r['partition'])} "
                    f"{fmt_us(r['assemble'])} {fmt_us(r['total'])} | ")
            if "ref_total" in r:
                line += (f"{fmt_us(r['ref_total'])} {r['ref_total'] / r['total']:6.0f}x | "
                         f"{r['obj']:.2f} / {r['ref_obj']:.2f}")
                if not (r["same_peaks"] and r["same_edges"]):
                    line += "  (MISMATCH with reference!)"
            print(line, flush=True)
            if "ref_total" in r:
                print(f"{'':>32}   per-stage speed-up: peaks {r['ref_peaks'] / r['peaks']:.0f}x, "
                      f"pairwise {r['ref_pairwise'] / r['pairwise']:.0f}x "
                      f"({r['pairwise'] / max(r['edges'], 1) * 1e9:.0f} vs "
                      f"{r['ref_pairwise'] / max(r['edges'], 1) * 1e9:.0f} ns/edge), "
                      f"partition {r['ref_partition'] / r['partition']:.0f}x, "
                      f"assemble {r['ref_assemble'] / r['assemble']:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
