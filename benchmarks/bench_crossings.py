"""Identity switches per crossing of the two trackers (``st`` and ``hungarian``) on
held-out synthetic clips, from perturbed ground-truth people (no network).

Clips: ``--clips`` clips of ``--frames`` frames drawn with
:func:`arttrack.data.synthetic.generate_clip` from ``numpy.random.default_rng([seed, k])``,
k = 0 .. clips-1, seed ``--seed`` (default 9100), in the demo clip config
(:func:`arttrack.video.demo.demo_clip_config`: 320x240, 2-4 people walking across, crossing
and passing in front of people standing still, PoseTrack-15 joints). These clips are held
out: no network is involved, and the one fitted model that can be used (the demo's temporal
model, ``--temporal demo``) was fit on ``generate_clip(500 + k)``, k < 12
(``scripts/train_demo_model.py``); ``scripts/eval_demo_model.py`` draws seed 9000.

Input: every frame's ground-truth people (:class:`~arttrack.data.synthetic.SyntheticPerson`,
their labelled joints, ``v > 0``, visible or occluded; joints outside the image are not
labelled), each joint moved by Gaussian noise of sigma ``--noise`` px per coordinate and
``--drop`` of the joints dropped (NaN), score 1. The draws are fixed per clip
(``default_rng([seed, k, 1])``): the same standard-normal offsets (scaled by sigma) and the
same dropped joints at every noise level. ``--input visible`` feeds only the joints of
visibility 2 (what a detector can see: no joint hidden behind another person or the person's
own body), from the same draws; ``labelled`` (default) feeds the occluded ones too, so a
person walking fully hidden behind another is still input. People left without a joint are
not input. Each
frame's people go to :class:`arttrack.tracking.linker.PeopleLinker` ``(J, method)`` (defaults:
max_gap 5, built-in temporal model unless ``--temporal demo``) through
:meth:`FrameDetections.from_people` and ``linker.step(t, dets)``.

The st linker (``arttrack.tracking``) scores a person against a track by per-joint temporal
edges: each joint's distance from the track's motion-compensated prediction (remembered
positions filtered against the prediction, smoothed velocity) in units of the track's own
prediction spread (its rms innovation, which follows the noise), Gaussian log-likelihood
ratio by default; people entering the image (few joints) take at least the median size of
the fully seen tracks, link the joints they show next by fallback edges shared among the
joints the track lacks and widened to 0.3 person sizes, and take a velocity from few joints
at a reduced weight. Hungarian matches whole people to the tracks' last poses by mean
distance over their size. ``st+relink`` puts st's output through
:class:`arttrack.tracking.TrackRelinker` (default settings, chosen on seed 7000 and the demo
model's selection clips), as the video pipeline and ``python -m arttrack.track`` do: tracks
re-linked with 8 frames of look-ahead. ``hungarian+relink`` does the same after the
baseline (which the pipeline does not: on the demo model's detections it added switches).

Ground truth for the scores: per frame, the people with at least one labelled joint (with
``--input visible`` too: a person hidden in full is a miss).

Matching (per frame), ``--match distance`` (default): output people to ground-truth people
by the mean distance over the joints present in both (ground-truth joints without noise),
Hungarian (``scipy.optimize.linear_sum_assignment``); a pair is allowed when it shares a joint
and its mean distance is below ``--gate`` (default 0.5) times the ground-truth person's
standing height (``SyntheticPerson.height``, 108-168 px here). Where two people overlap (at
a crossing, or one walker passing another), noise can make this matching itself swap
them: the ``oracle`` method (the ground-truth ids, i.e. a perfect tracker) scores 0 / 0.010 /
0.052 switches per crossing at 4 / 8 / 15 px on 100 clips of seed 7000, 0 / 0.009 / 0.063 on
the 200 of seed 9100 (``--input visible``: 0 / 0.056 / 0.36 and 0 / 0.018 / 0.26). (Before
the clip generator kept walkers of one depth apart, pairs of them drawn on top of each other
for whole clips made most of the switches, the oracle's too.) ``--match input``
matches by identity instead (each output person is one of the input people, found by its
joints, whose ground truth is known),
so only the trackers' own switches count (the oracle scores 0).

Counts (motmetrics-style, summed over clips and frames):

- ``idsw`` (identity switches): a matched ground-truth person whose output track id differs
  from the id it was last matched to (in any earlier frame);
- ``near``: those of the switches within ``--window`` frames (default 5) of a crossing of
  that person; ``part``: those of a person with fewer than half of the joints labelled
  (mostly entering or leaving the image; the two overlap);
- ``miss``: ground-truth people without a match; ``fp``: output people without a match;
  ``MOTA`` = 1 - (miss + fp + idsw) / ground-truth people;
- ``tracks``: output tracks, against the ``ids``: ground-truth identities.

Crossings (from the ground truth, per pair of people): the horizontal order of the two
torso centres (mean of the true shoulder and hip positions, ``true_points``) swaps, while
the vertical distance between the torso centres is below half the taller person's height,
i.e. one passes in front of or behind the other. The order is tracked with a hysteresis of
2 px (it changes only when the other side is reached by more than 2 px; frames in which one
of the two is not listed keep the last order), so each pass counts once per pair.
``idsw/x`` = switches per crossing; ``st/hungarian`` = st's switches over hungarian's (and
``st+relink/hungarian``).

Run:  python benchmarks/bench_crossings.py [--clips 200] [--frames 40] [--seed 9100]
          [--noise 4,8,15] [--drop 0.2] [--temporal builtin|demo|PATH]
          [--methods st,st+relink,hungarian,hungarian+relink,oracle] [--match distance|input]
          [--input labelled|visible]
Nothing is asserted: this prints numbers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HYSTERESIS_PX = 2.0


@dataclass
class GTClip:
    """Ground truth of one clip: per frame (P, J, 3) x, y, v (NaN where v = 0), ids, heights,
    torso centres; and the clip's crossings as (frame, id_a, id_b)."""

    joints: list = field(default_factory=list)
    ids: list = field(default_factory=list)
    heights: list = field(default_factory=list)
    torso: list = field(default_factory=list)
    crossings: list = field(default_factory=list)


def load_clips(n: int, frames: int, seed: int, joint_set: str | None):
    from arttrack.data.synthetic import POINT_INDEX, generate_clip, joint_indices
    from arttrack.video.demo import demo_clip_config

    cfg = demo_clip_config()
    js = joint_set or cfg.joint_set
    idx = joint_indices(js)
    torso_idx = [POINT_INDEX[k] for k in ("l_shoulder", "r_shoulder", "l_hip", "r_hip")]
    clips = []
    for k in range(n):
        clip = generate_clip(np.random.default_rng([seed, k]), frames, cfg)
        g = GTClip()
        for people in clip.people:
            kp = [p.points[idx].astype(np.float64) for p in people]
            keep = [i for i, q in enumerate(kp) if (q[:, 2] > 0).any()]
            arr = np.full((len(keep), len(idx), 3), np.nan)
            for r, i in enumerate(keep):
                q = kp[i]
                lab = q[:, 2] > 0
                arr[r, lab] = q[lab]
            g.joints.append(arr)
            g.ids.append(np.array([people[i].track_id for i in keep], np.int64))
            g.heights.append(np.array([people[i].height for i in keep], np.float64))
            g.torso.append({p.track_id: (p.true_points[torso_idx].mean(0), p.height)
                            for p in people})
        g.crossings = find_crossings(g.torso)
        clips.append(g)
    return clips, js, len(idx), cfg


def find_crossings(torso_per_frame: list[dict]) -> list[tuple[int, int, int]]:
    """(frame, a, b) each time a pair's horizontal order of torso centres swaps (hysteresis
    :data:`HYSTERESIS_PX`) while their vertical distance is below half the taller height."""
    state: dict[tuple[int, int], int] = {}
    out = []
    for t, tor in enumerate(torso_per_frame):
        ids = sorted(tor)
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                (ca, ha), (cb, hb) = tor[a], tor[b]
                dx = float(ca[0] - cb[0])
                if abs(dx) <= HYSTERESIS_PX:
                    continue
                s = 1 if dx > 0 else -1
                prev = state.get((a, b))
                state[(a, b)] = s
                if prev is not None and prev != s and abs(ca[1] - cb[1]) < 0.5 * max(ha, hb):
                    out.append((t, a, b))
    return out


def perturb(clip: GTClip, sigma: float, drop: float, rng_seed,
            visible_only: bool = False) -> tuple[list, list]:
    """Per frame (P', J, 3) input people (x, y, 1; NaN = missing), same draws for any sigma
    and either input, and per frame their (P',) ground-truth ids. ``visible_only`` keeps only
    the joints with visibility 2 (``--input visible``)."""
    rng = np.random.default_rng(rng_seed)
    out, ids = [], []
    for arr in clip.joints:
        z = rng.standard_normal(arr.shape[:2] + (2,))
        dropped = rng.random(arr.shape[:2]) < drop
        p = np.full(arr.shape, np.nan)
        ok = np.isfinite(arr[..., 0]) & ~dropped
        if visible_only:
            ok &= arr[..., 2] == 2
        p[..., :2] = arr[..., :2] + sigma * z
        p[..., 2] = 1.0
        p[~ok] = np.nan
        keep = ok.any(axis=1)
        out.append(p[keep])
        ids.append(clip.ids[len(ids)][keep])
    return out, ids


def match(gt: np.ndarray, heights: np.ndarray, pred: np.ndarray, gate: float):
    """Pairs (gt index, pred index) by Hungarian on the mean common-joint distance, gated at
    ``gate`` x the ground-truth height."""
    from scipy.optimize import linear_sum_assignment

    if len(gt) == 0 or len(pred) == 0:
        return []
    d = np.linalg.norm(gt[:, None, :, :2] - pred[None, :, :, :2], axis=-1)  # (G, P, J)
    both = np.isfinite(d)
    n = both.sum(-1)
    mean = np.where(n > 0, np.where(both, d, 0).sum(-1) / np.maximum(n, 1), np.inf)
    ok = mean < gate * heights[:, None]
    big = 1e9
    cost = np.where(ok, mean, big)
    r, c = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(r, c) if ok[i, j]]


def match_input(gid: np.ndarray, inputs: np.ndarray, input_ids: np.ndarray, pred: np.ndarray):
    """Pairs (gt index, pred index) by identity: an output person is the input person with the
    same joints (both trackers output the people they are given, positions as float32)."""
    key = lambda a: np.nan_to_num(a[:, :2].astype(np.float32), nan=-1e9).tobytes()  # noqa: E731
    of_input = {key(q): int(g) for q, g in zip(inputs, input_ids)}
    row = {int(g): i for i, g in enumerate(gid)}
    return [(row[of_input[key(q)]], j) for j, q in enumerate(pred)]


def score_clip(clip: GTClip, outputs: list, gate: float, window: int, inputs=None,
               input_ids=None) -> dict:
    """Counts of one clip; with ``inputs`` and ``input_ids``, output people are matched to the
    ground truth by identity (:func:`match_input`), else by distance (:func:`match`)."""
    last: dict[int, int] = {}
    c = dict(gt=0, miss=0, fp=0, idsw=0, near=0, part=0)
    tracks: set[int] = set()
    ids_seen: set[int] = set()
    cross_frames: dict[int, list[int]] = {}
    for t, a, b in clip.crossings:
        cross_frames.setdefault(a, []).append(t)
        cross_frames.setdefault(b, []).append(t)
    for t, (people, tids) in enumerate(outputs):
        gt, gid = clip.joints[t], clip.ids[t]
        ids_seen.update(gid.tolist())
        tracks.update(np.asarray(tids).tolist())
        people = np.asarray(people, np.float64).reshape(-1, gt.shape[1], 3)
        pairs = (match(gt, clip.heights[t], people, gate) if inputs is None
                 else match_input(gid, inputs[t], input_ids[t], people))
        c["gt"] += len(gt)
        c["miss"] += len(gt) - len(pairs)
        c["fp"] += len(people) - len(pairs)
        for i, j in pairs:
            g, tr = int(gid[i]), int(tids[j])
            if g in last and last[g] != tr:
                c["idsw"] += 1
                if any(abs(t - tc) <= window for tc in cross_frames.get(g, ())):
                    c["near"] += 1
                if 2 * np.isfinite(gt[i, :, 0]).sum() < gt.shape[1]:
                    c["part"] += 1
            last[g] = tr
    c["tracks"] = len(tracks)
    c["ids"] = len(ids_seen)
    return c


def run_tracker(inputs: list[np.ndarray], nj: int, method: str, temporal, input_ids=None) -> list:
    """Per frame (people, ids) of ``method``: ``st``, ``hungarian``, ``oracle`` or one of
    the first two with ``+relink`` (its output through :class:`TrackRelinker`, default
    settings, as the video pipeline runs it)."""
    from arttrack.tracking import TrackRelinker
    from arttrack.tracking.linker import FrameDetections, PeopleLinker

    if method == "oracle":  # the ground-truth ids: what the scoring counts for a perfect tracker
        return list(zip(inputs, input_ids))
    base, relink = method.removesuffix("+relink"), method.endswith("+relink")
    linker = PeopleLinker(nj, base, model=temporal)
    relinker = TrackRelinker(nj) if relink else None
    outs = []
    for t, p in enumerate(inputs):
        people, ids = linker.step(t, FrameDetections.from_people(p.reshape(-1, nj, 3)))
        if relinker is None:
            outs.append((people, ids))
        else:
            outs += [(r.people, r.ids) for r in relinker.push(t, people, ids)]
    if relinker is not None:
        outs += [(r.people, r.ids) for r in relinker.finish()]
    return outs


def load_temporal(spec: str):
    if spec == "builtin":
        return None
    from arttrack.tracking import TemporalModel

    if spec == "demo":
        from arttrack.video.demo import demo_dir

        return TemporalModel.load(demo_dir() / "temporal.npz")
    return TemporalModel.load(spec)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--seed", type=int, default=9100, help="held-out clip seed (default 9100)")
    p.add_argument("--noise", default="4,8,15", help="joint noise sigmas, px")
    p.add_argument("--drop", type=float, default=0.2, help="share of joints dropped")
    p.add_argument("--gate", type=float, default=0.5,
                   help="matching gate: mean joint distance / ground-truth height")
    p.add_argument("--window", type=int, default=5,
                   help="a switch within this many frames of the person's crossing is 'near'")
    p.add_argument("--joints", default=None, help="joint set (default: the demo's, posetrack15)")
    p.add_argument("--temporal", default="builtin",
                   help="st temporal model: builtin (PeopleLinker's default), demo (the demo "
                        "model's temporal.npz) or a .npz path")
    p.add_argument("--methods", default="st,st+relink,hungarian",
                   help="trackers, of st, hungarian, oracle (the ground-truth ids) and "
                        "st+relink (then TrackRelinker, as the video pipeline runs it), "
                        "hungarian+relink")
    p.add_argument("--input", choices=("labelled", "visible"), default="labelled",
                   help="joints fed to the trackers: all labelled ones (default) or only the "
                        "visible ones (visibility 2)")
    p.add_argument("--match", choices=("distance", "input"), default="distance",
                   help="output people to ground truth: by distance (default) or by identity "
                        "with the input person they are")
    args = p.parse_args(argv)
    sigmas = [float(s) for s in args.noise.split(",") if s.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    temporal = load_temporal(args.temporal)

    t0 = time.perf_counter()
    clips, js, nj, cfg = load_clips(args.clips, args.frames, args.seed, args.joints)
    t_gen = time.perf_counter() - t0
    n_cross = sum(len(c.crossings) for c in clips)
    per_clip = [len(c.crossings) for c in clips]
    n_ids = sum(len({i for ids in c.ids for i in ids.tolist()}) for c in clips)
    print(f"{args.clips} held-out clips (rng [seed={args.seed}, k]), {args.frames} frames "
          f"{cfg.width}x{cfg.height}, {js} ({nj} joints), {n_ids} people, {n_cross} crossings "
          f"({min(per_clip)}-{max(per_clip)} per clip); drop {args.drop:.0%}, "
          f"gate {args.gate} x height, temporal model {args.temporal}, {args.input} joints in, "
          f"matching by {args.match}; "
          f"clips drawn in {t_gen:.1f} s")
    hdr = (f"{'sigma':>5} {'tracker':>16} {'idsw':>5} {'near':>5} {'part':>5} {'cross':>5} {'idsw/x':>7} "
           f"{'miss':>5} {'fp':>5} {'gt':>6} {'MOTA':>6} {'tracks':>6} {'ids':>4} {'s':>6}")
    print(hdr)
    for sigma in sigmas:
        res = {}
        for m in methods:
            tot = dict(gt=0, miss=0, fp=0, idsw=0, near=0, part=0, tracks=0, ids=0)
            t1 = time.perf_counter()
            for k, clip in enumerate(clips):
                inputs, in_ids = perturb(clip, sigma, args.drop, [args.seed, k, 1],
                                         args.input == "visible")
                outs = run_tracker(inputs, nj, m, temporal, in_ids)
                c = (score_clip(clip, outs, args.gate, args.window, inputs, in_ids)
                     if args.match == "input" else score_clip(clip, outs, args.gate, args.window))
                for key in tot:
                    tot[key] += c[key]
            dt = time.perf_counter() - t1
            res[m] = tot
            mota = 1.0 - (tot["miss"] + tot["fp"] + tot["idsw"]) / max(tot["gt"], 1)
            per = tot["idsw"] / n_cross if n_cross else float("nan")
            print(f"{sigma:5g} {m:>16} {tot['idsw']:5d} {tot['near']:5d} {tot['part']:5d} {n_cross:5d} {per:7.3f} "
                  f"{tot['miss']:5d} {tot['fp']:5d} {tot['gt']:6d} {mota:6.3f} "
                  f"{tot['tracks']:6d} {tot['ids']:4d} {dt:6.1f}")
        for m in ("st", "st+relink"):
            if m in res and "hungarian" in res:
                a, b = res[m]["idsw"], res["hungarian"]["idsw"]
                ratio = f"{a / b:.2f}" if b else ("n/a (hungarian 0)" if a else "1 (both 0)")
                print(f"{'':5} {m + '/hungarian':>16} {ratio}")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
