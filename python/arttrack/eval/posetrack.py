"""PoseTrack-style evaluation: per-joint AP with PCKh matching, and MOT metrics per joint.

Written from the PoseTrack benchmark's description (Andriluka et al., CVPR 2018; its
``poseval`` tool), not from its code:

- Only labelled ground-truth frames (``is_labeled``) are evaluated. Joints are the 17
  PoseTrack 2018 keypoints minus the two ears, which PoseTrack 2018 never annotates
  (always 0, 0, 0): 15 joints. Ground-truth people with none of them annotated are
  dropped.
- Distances are normalised by the ground-truth person's head size
  ``0.6 * ||(w, h)||`` of its ``bbox_head`` ``[x, y, w, h]``; a predicted joint matches
  a ground-truth joint when the normalised distance is ``<= 0.5``.
- Per frame, ground-truth and predicted people are paired one-to-one (Hungarian) so as
  to maximise the total number of matching joints; pairs with no matching joint stay
  unpaired.
- AP per joint: every predicted joint is a detection with its keypoint score; it is a
  true positive when its person is paired with a ground-truth person and the joint
  matches, a false positive otherwise. Detections of all frames are ranked by score;
  AP is the VOC-style area under the precision envelope, over the number of annotated
  ground-truth joints. Group = mean of its joints' APs; total = mean over the 15 joints.
- Tracking per joint type with ``motmetrics``: objects are the ground-truth track ids
  whose joint is annotated, hypotheses the predicted track ids whose joint is present;
  the distance matrix holds the normalised distance where it is within the threshold and
  NaN (no match possible) beyond it. Counts are pooled over all videos (ids are made
  unique per video). MOTA = 1 - (misses + false positives + switches) / objects,
  MOTP = 1 - mean normalised distance of the matched joints, precision =
  matched / (matched + false positives), recall = matched / objects (all in percent).
  Group = mean of its joints' values; total = computed from the counts pooled over the
  15 joints (switches: sums).
- ``track_thr`` (default 0): predicted joints scoring below it are left out of the tracking
  metrics only; AP always ranks every predicted joint by its score. A tracker's output is
  usually thresholded for MOTA (every joint it reports counts as a hypothesis), while AP
  needs the whole ranking.
- Joints inside the frame's ignore regions (``ignore_regions_x/y``) are removed before
  matching, from predictions and ground truth alike (the real PoseTrack 2018 files do
  have annotated joints inside ignore regions); people left with no joint are dropped.

Inputs: ground truth as a PoseTrack 2018 JSON file or a directory of per-video files;
predictions as PoseTrack 2018 JSON (per-keypoint ``scores``) or as arttrack's canonical
per-video JSON (``{"meta", "frames": [{"frame_id", "instances": [...]}]}``), a file or a
directory of files (the formats can be mixed).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

from arttrack.eval import EvalError
from arttrack.eval._io import read_json, table

log = logging.getLogger(__name__)

POSETRACK18_NAMES = ("nose", "head_bottom", "head_top", "left_ear", "right_ear",
                     "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                     "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                     "right_knee", "left_ankle", "right_ankle")
NUM_KEYPOINTS = len(POSETRACK18_NAMES)
UNUSED = ("left_ear", "right_ear")  # never annotated in PoseTrack 2018
EVAL_JOINTS = tuple(i for i, n in enumerate(POSETRACK18_NAMES) if n not in UNUSED)
EVAL_NAMES = tuple(POSETRACK18_NAMES[i] for i in EVAL_JOINTS)
GROUPS: dict[str, tuple[str, ...]] = {
    "head": ("nose", "head_bottom", "head_top"),
    "shoulder": ("left_shoulder", "right_shoulder"),
    "elbow": ("left_elbow", "right_elbow"),
    "wrist": ("left_wrist", "right_wrist"),
    "hip": ("left_hip", "right_hip"),
    "knee": ("left_knee", "right_knee"),
    "ankle": ("left_ankle", "right_ankle"),
}
HEAD_SIZE_FACTOR = 0.6
PCK_THRESHOLD = 0.5


# --------------------------------------------------------------------------------------
# data model
# --------------------------------------------------------------------------------------
@dataclass
class Person:
    track_id: Any
    keypoints: np.ndarray  # (17, 2)
    present: np.ndarray  # (17,) bool
    scores: np.ndarray  # (17,)
    head_size: float = float("nan")  # ground truth only


@dataclass
class GTFrame:
    people: list[Person]
    ignore_regions: list[np.ndarray] = field(default_factory=list)  # polygons (K, 2)


@dataclass
class GroundTruth:
    videos: dict[str, dict[int, GTFrame]]  # video -> frame index -> labelled frame
    aliases: dict[str, str]  # any known name of a video -> its key in ``videos``
    image_keys: dict[Any, tuple[str, int]]  # image id -> (video, frame index)

    def resolve(self, name: str) -> str | None:
        return self.aliases.get(str(name))


Predictions = dict  # video -> frame index -> list[Person]


# --------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------
def _json_files(path: str | Path, what: str) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        # hidden files are skipped: a writer killed mid-way leaves .<name>.tmp<pid>.json
        files = sorted(f for f in p.glob("*.json") if not f.name.startswith("."))
        if not files:
            raise EvalError(f"{what} directory {p} holds no .json files")
        return files
    if not p.exists():
        raise EvalError(f"{what} not found: {p}")
    return [p]


def _frame_index(image: Mapping[str, Any]) -> int:
    """0-based frame index in the video: the file name's number (``000042.jpg``), else
    the last 4 digits of PoseTrack's ``frame_id`` (``1`` + 6-digit video + 4-digit frame)."""
    name = str(image.get("file_name", ""))
    stem = Path(name).stem
    if stem.isdigit():
        return int(stem)
    fid = image.get("frame_id", image.get("id"))
    try:
        return int(fid) % 10000
    except (TypeError, ValueError):
        raise EvalError(f"cannot tell the frame index of image {image.get('id')!r} "
                        f"(file_name {name!r}, frame_id {fid!r})") from None


def _video_names(image: Mapping[str, Any], file_stem: str | None) -> list[str]:
    """Names a video is known by: sequence folder, vid_id, annotation file stem."""
    names = []
    parent = Path(str(image.get("file_name", ""))).parent.name
    if parent:
        names.append(parent)
    if image.get("vid_id") is not None:
        names.append(str(image["vid_id"]))
    if file_stem:
        names.append(file_stem)
    return names


def _kp_array(kps: Any, where: str) -> np.ndarray:
    try:
        a = np.asarray([np.nan if v is None else v for v in kps], dtype=np.float64)
    except (TypeError, ValueError):
        raise EvalError(f"{where}: keypoints are not numbers") from None
    if a.size != 3 * NUM_KEYPOINTS:
        raise EvalError(f"{where}: keypoints must hold {3 * NUM_KEYPOINTS} numbers "
                        f"(x, y, v for the 17 PoseTrack joints), got {a.size}")
    return a.reshape(NUM_KEYPOINTS, 3)


def _head_size(bbox_head: Any) -> float:
    if bbox_head is None:
        return float("nan")
    b = np.asarray(bbox_head, dtype=np.float64).reshape(-1)
    if b.size != 4:
        return float("nan")
    return float(HEAD_SIZE_FACTOR * np.hypot(b[2], b[3]))


def load_ground_truth(path: str | Path) -> GroundTruth:
    """PoseTrack 2018 ground truth: one JSON file or a directory of per-video files."""
    videos: dict[str, dict[int, GTFrame]] = {}
    aliases: dict[str, str] = {}
    image_keys: dict[Any, tuple[str, int]] = {}
    no_head = 0
    for f in _json_files(path, "ground truth"):
        data = read_json(f, "ground-truth file")
        if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
            raise EvalError(f"{f}: not a PoseTrack 2018 file (needs 'images' and 'annotations')")
        stem = f.stem if Path(path).is_dir() else None
        labelled: dict[Any, GTFrame] = {}
        for im in data["images"]:
            names = _video_names(im, stem)
            if not names:
                raise EvalError(f"{f}: image {im.get('id')!r} has neither vid_id nor a folder in file_name")
            key = names[0]
            for n in names:
                aliases.setdefault(n, key)
            fi = _frame_index(im)
            image_keys[im["id"]] = (key, fi)
            videos.setdefault(key, {})
            if im.get("is_labeled", True):
                polys = []
                for xs, ys in zip(im.get("ignore_regions_x") or [], im.get("ignore_regions_y") or []):
                    if len(xs) >= 3 and len(xs) == len(ys):
                        polys.append(np.column_stack([xs, ys]).astype(np.float64))
                fr = GTFrame([], polys)
                videos[key][fi] = fr
                labelled[im["id"]] = fr
        for i, ann in enumerate(data["annotations"]):
            fr = labelled.get(ann.get("image_id"))
            if fr is None:
                if ann.get("image_id") not in image_keys:
                    log.warning("%s: annotation %d refers to unknown image %r", f, i, ann.get("image_id"))
                continue
            kp = _kp_array(ann.get("keypoints", []), f"{f} annotation {i}")
            present = np.isfinite(kp[:, :2]).all(axis=1) & (kp[:, 2] > 0)
            present[[POSETRACK18_NAMES.index(n) for n in UNUSED]] = False
            if not present.any():
                continue
            hs = _head_size(ann.get("bbox_head"))
            if not np.isfinite(hs) or hs <= 0:
                no_head += 1
            tid = ann.get("track_id", ann.get("id"))
            fr.people.append(Person(tid, kp[:, :2], present, np.ones(NUM_KEYPOINTS), hs))
    if no_head:
        log.warning("%d ground-truth people have no usable bbox_head (their joints can never match)", no_head)
    return GroundTruth(videos, aliases, image_keys)


def _pred_present(kp: np.ndarray) -> np.ndarray:
    """A predicted joint is present when its x, y are finite and it is not ``0, 0, 0``."""
    return np.isfinite(kp[:, :2]).all(axis=1) & ~np.all(kp == 0, axis=1)


def _load_posetrack_predictions(data: dict, f: Path, gt: GroundTruth, out: Predictions,
                                unmatched: set) -> None:
    stem = f.stem
    keys: dict[Any, tuple[str, int] | None] = {}
    if isinstance(data.get("images"), list) and data["images"]:
        for im in data["images"]:
            vid = None
            for n in _video_names(im, stem):
                vid = gt.resolve(n)
                if vid is not None:
                    break
            if vid is None:
                unmatched.add(_video_names(im, stem)[0] if _video_names(im, stem) else str(im.get("id")))
                keys[im.get("id")] = None
            else:
                keys[im.get("id")] = (vid, _frame_index(im))
    for i, ann in enumerate(data.get("annotations") or []):
        iid = ann.get("image_id")
        key = keys[iid] if iid in keys else gt.image_keys.get(iid)
        if key is None:
            if iid not in keys:
                unmatched.add(f"image {iid}")
            continue
        kp = _kp_array(ann.get("keypoints", []), f"{f} annotation {i}")
        sc = ann.get("scores")
        if sc is not None and len(sc) == NUM_KEYPOINTS:
            scores = np.asarray([np.nan if v is None else v for v in sc], dtype=np.float64)
        else:
            scores = kp[:, 2].copy()
        present = _pred_present(kp)
        scores = np.where(np.isfinite(scores), scores, 0.0)
        out.setdefault(key[0], {}).setdefault(key[1], []).append(
            Person(ann.get("track_id"), kp[:, :2], present, scores))


def _load_canonical_predictions(data: dict, f: Path, gt: GroundTruth, out: Predictions,
                                unmatched: set, single: bool) -> None:
    meta = data.get("meta") or {}
    vid = None
    cands = [str(meta[k]) for k in ("video", "video_id", "vid_id", "sequence", "name") if meta.get(k) is not None]
    cands.append(f.stem)
    for c in cands:
        vid = gt.resolve(c) or gt.resolve(Path(c).stem)
        if vid is not None:
            break
    if vid is None and single and len(gt.videos) == 1:
        vid = next(iter(gt.videos))
        log.info("%s: no video name matches the ground truth; using its only video %s", f, vid)
    if vid is None:
        unmatched.add(cands[0])
        return
    names = meta.get("keypoint_names") or meta.get("joint_names")
    order = None
    if names:
        order = [list(names).index(n) if n in names else -1 for n in POSETRACK18_NAMES]
        if all(o < 0 for o in order):
            raise EvalError(f"{f}: meta keypoint names {list(names)[:4]}... share none with PoseTrack's")
    frames = data.get("frames")
    if not isinstance(frames, list):
        raise EvalError(f"{f}: 'frames' must be a list")
    for fr in frames:
        fi = int(fr.get("frame_id"))
        for k, inst in enumerate(fr.get("instances") or []):
            where = f"{f} frame {fi} instance {k}"
            raw = inst.get("keypoints") or []
            pts = np.full((len(raw), 2), np.nan)
            for j, p in enumerate(raw):
                if p is not None and len(p) >= 2 and p[0] is not None and p[1] is not None:
                    pts[j] = (float(p[0]), float(p[1]))
            sc_raw = inst.get("keypoint_scores")
            if sc_raw is None:
                s = float(inst.get("score", 1.0) or 0.0)
                sc = np.full(len(raw), s)
            else:
                sc = np.asarray([np.nan if v is None else v for v in sc_raw], dtype=np.float64)
                if len(sc) != len(raw):
                    raise EvalError(f"{where}: {len(raw)} keypoints but {len(sc)} keypoint_scores")
            if order is None:
                if len(raw) != NUM_KEYPOINTS:
                    raise EvalError(f"{where}: {len(raw)} keypoints; expected the 17 PoseTrack 2018 "
                                    "joints (or meta.keypoint_names to map them)")
                kp, scores = pts, sc
            else:
                kp = np.full((NUM_KEYPOINTS, 2), np.nan)
                scores = np.zeros(NUM_KEYPOINTS)
                for j, o in enumerate(order):
                    if 0 <= o < len(raw):
                        kp[j], scores[j] = pts[o], sc[o]
            present = np.isfinite(kp).all(axis=1)
            out.setdefault(vid, {}).setdefault(fi, []).append(
                Person(inst.get("track_id"), kp, present, np.where(np.isfinite(scores), scores, 0.0)))


def load_predictions(path: str | Path, gt: GroundTruth) -> Predictions:
    """Predictions (PoseTrack 2018 JSON or canonical per-video JSON; file or directory),
    keyed by the ground truth's video keys and frame indices."""
    files = _json_files(path, "predictions")
    out: Predictions = {}
    unmatched: set = set()
    for f in files:
        data = read_json(f, "prediction file")
        if isinstance(data, dict) and "frames" in data:
            _load_canonical_predictions(data, f, gt, out, unmatched, single=len(files) == 1)
        elif isinstance(data, dict) and "annotations" in data:
            _load_posetrack_predictions(data, f, gt, out, unmatched)
        else:
            raise EvalError(f"{f}: neither PoseTrack 2018 JSON ('annotations') nor arttrack's "
                            "per-video JSON ('frames')")
    if unmatched:
        log.warning("predictions for %d video(s)/image(s) not in the ground truth ignored, e.g. %s",
                    len(unmatched), sorted(unmatched)[:3])
    return out


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoseTrackResult:
    """Per-joint values over :data:`EVAL_NAMES` (percent; NaN where undefined)."""

    joint_names: tuple[str, ...]
    ap: np.ndarray
    mota: np.ndarray
    motp: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    switches: np.ndarray  # int counts
    misses: np.ndarray
    false_positives: np.ndarray
    objects: np.ndarray
    groups: dict[str, dict[str, float]]  # group -> metric -> value
    total: dict[str, float]

    METRICS = ("ap", "mota", "motp", "precision", "recall", "switches")

    def to_dict(self) -> dict[str, Any]:
        per_joint = {}
        for j, n in enumerate(self.joint_names):
            per_joint[n] = {"ap": float(self.ap[j]), "mota": float(self.mota[j]),
                            "motp": float(self.motp[j]), "precision": float(self.precision[j]),
                            "recall": float(self.recall[j]), "switches": int(self.switches[j]),
                            "misses": int(self.misses[j]),
                            "false_positives": int(self.false_positives[j]),
                            "objects": int(self.objects[j])}
        return {"per_joint": per_joint, "groups": self.groups, "total": self.total}


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the monotone (non-increasing) precision envelope, recall in [0, 1]."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    step = np.nonzero(r[1:] != r[:-1])[0] + 1
    return float(np.sum((r[step] - r[step - 1]) * p[step]))


def _average_precision(scores: list[float], tps: list[bool], n_gt: int) -> float:
    if n_gt == 0:
        return float("nan")
    if not scores:
        return 0.0
    s = np.asarray(scores)
    order = np.argsort(-s, kind="mergesort")
    tp = np.asarray(tps, dtype=np.float64)[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(1.0 - tp)
    return 100.0 * voc_ap(ctp / n_gt, ctp / np.maximum(ctp + cfp, np.finfo(float).eps))


def _points_in_polygon(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule for (N, 2) points against a (K, 2) polygon."""
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0][None], poly[:, 1][None]
    x2, y2 = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return np.sum(crosses & (x < xint), axis=1) % 2 == 1


def _drop_ignored(people: list[Person], polys: list[np.ndarray]) -> list[Person]:
    if not polys:
        return people
    kept = []
    for p in people:
        inside = np.zeros(NUM_KEYPOINTS, dtype=bool)
        pts = np.nan_to_num(p.keypoints, nan=-1e9)
        for poly in polys:
            inside |= _points_in_polygon(pts, poly)
        present = p.present & ~inside
        if present[list(EVAL_JOINTS)].any():
            kept.append(Person(p.track_id, p.keypoints, present, p.scores, p.head_size))
    return kept


def _match_frame(gt: list[Person], pr: list[Person], thr: float):
    """(P, G, J) normalised distances (inf when a side lacks the joint), (P, G, J) match,
    and the person pairing {pred index: gt index}."""
    J = list(EVAL_JOINTS)
    P, G = len(pr), len(gt)
    dist = np.full((P, G, len(J)), np.inf)
    if P and G:
        pk = np.stack([p.keypoints[J] for p in pr])  # (P, J, 2)
        gk = np.stack([g.keypoints[J] for g in gt])
        pv = np.stack([p.present[J] for p in pr])
        gv = np.stack([g.present[J] for g in gt])
        hs = np.array([g.head_size for g in gt])
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.linalg.norm(pk[:, None] - gk[None], axis=-1) / hs[None, :, None]
        both = pv[:, None] & gv[None]
        dist = np.where(both & np.isfinite(d), d, np.inf)
    match = dist <= thr
    pairs: dict[int, int] = {}
    if P and G:
        count = match.sum(axis=2)
        rows, cols = linear_sum_assignment(-count)
        pairs = {int(r): int(c) for r, c in zip(rows, cols) if count[r, c] > 0}
    return dist, match, pairs


def evaluate(gt: GroundTruth, pred: Predictions, thr: float = PCK_THRESHOLD,
             use_ignore_regions: bool = True, track_thr: float = 0.0) -> PoseTrackResult:
    """All metrics for loaded ground truth and predictions (``track_thr``: see the module
    docstring)."""
    import motmetrics as mm

    if not math.isfinite(track_thr):
        raise EvalError(f"track_thr must be a finite number, got {track_thr}")

    nJ = len(EVAL_JOINTS)
    ap_scores: list[list[float]] = [[] for _ in range(nJ)]
    ap_tp: list[list[bool]] = [[] for _ in range(nJ)]
    n_gt = np.zeros(nJ, dtype=np.int64)
    accs = [mm.MOTAccumulator(auto_id=True) for _ in range(nJ)]
    untracked = 0
    g_uids: dict[tuple, int] = {}
    p_uids: dict[tuple, int] = {}

    for vid in sorted(gt.videos):
        vpred = pred.get(vid, {})
        for fi in sorted(gt.videos[vid]):
            frame = gt.videos[vid][fi]
            g_people = frame.people
            p_people = vpred.get(fi, [])
            if use_ignore_regions:
                g_people = _drop_ignored(g_people, frame.ignore_regions)
                p_people = _drop_ignored(p_people, frame.ignore_regions)
            dist, match, pairs = _match_frame(g_people, p_people, thr)
            # track ids made unique per video, as integers (motmetrics stores ids as floats)
            g_ids = [_uid(g_uids, (vid, g.track_id)) for g in g_people]
            p_ids = []
            for p in p_people:
                if p.track_id is None:
                    untracked += 1
                    p_ids.append(_uid(p_uids, (vid, None, untracked)))
                else:
                    p_ids.append(_uid(p_uids, (vid, p.track_id)))
            if len(set(p_ids)) != len(p_ids):
                raise EvalError(f"video {vid} frame {fi}: several predicted people share a track_id")
            if len(set(g_ids)) != len(g_ids):
                raise EvalError(f"video {vid} frame {fi}: several ground-truth people share a track_id")
            for jj, j in enumerate(EVAL_JOINTS):
                g_has = [k for k, g in enumerate(g_people) if g.present[j]]
                p_has = [k for k, p in enumerate(p_people) if p.present[j]]
                n_gt[jj] += len(g_has)
                for k in p_has:
                    ap_scores[jj].append(float(p_people[k].scores[j]))
                    gk = pairs.get(k)
                    ap_tp[jj].append(bool(gk is not None and match[k, gk, jj]))
                if track_thr > 0:
                    p_has = [k for k in p_has if p_people[k].scores[j] >= track_thr]
                d = np.full((len(g_has), len(p_has)), np.nan)
                for a, gk in enumerate(g_has):
                    for b, pk in enumerate(p_has):
                        if match[pk, gk, jj]:
                            d[a, b] = dist[pk, gk, jj]
                accs[jj].update([g_ids[k] for k in g_has], [p_ids[k] for k in p_has], d)
    if untracked:
        log.warning("%d predicted people have no track_id (each counted as a new track)", untracked)

    mh = mm.metrics.create()
    names = ["num_objects", "num_misses", "num_false_positives", "num_switches",
             "num_detections", "motp"]
    obj = np.zeros(nJ, dtype=np.int64)
    miss, fp, sw, det = obj.copy(), obj.copy(), obj.copy(), obj.copy()
    sum_d = np.zeros(nJ)
    for jj, acc in enumerate(accs):
        s = mh.compute(acc, metrics=names, return_dataframe=False)
        obj[jj], miss[jj] = int(s["num_objects"]), int(s["num_misses"])
        fp[jj], sw[jj], det[jj] = int(s["num_false_positives"]), int(s["num_switches"]), int(s["num_detections"])
        sum_d[jj] = float(s["motp"]) * det[jj] if det[jj] > 0 else 0.0

    ap = np.array([_average_precision(ap_scores[j], ap_tp[j], int(n_gt[j])) for j in range(nJ)])

    def rates(o, m, f, s_, dt, sd):
        with np.errstate(divide="ignore", invalid="ignore"):
            o, m, f, s_, dt, sd = (np.asarray(v, dtype=np.float64) for v in (o, m, f, s_, dt, sd))
            mota = np.where(o > 0, 100.0 * (1.0 - (m + f + s_) / o), np.nan)
            motp = np.where(dt > 0, 100.0 * (1.0 - sd / dt), np.nan)
            prec = np.where(dt + f > 0, 100.0 * dt / (dt + f), np.nan)
            rec = np.where(o > 0, 100.0 * dt / o, np.nan)
        return mota, motp, prec, rec

    mota, motp, prec, rec = rates(obj, miss, fp, sw, det, sum_d)
    per = {"ap": ap, "mota": mota, "motp": motp, "precision": prec, "recall": rec}
    groups: dict[str, dict[str, float]] = {}
    for g, members in GROUPS.items():
        idx = [EVAL_NAMES.index(n) for n in members]
        groups[g] = {k: _nanmean(v[idx]) for k, v in per.items()}
        groups[g]["switches"] = int(sw[idx].sum())
    t_mota, t_motp, t_prec, t_rec = rates(obj.sum(), miss.sum(), fp.sum(), sw.sum(), det.sum(), sum_d.sum())
    total = {"ap": _nanmean(ap), "mota": float(t_mota), "motp": float(t_motp),
             "precision": float(t_prec), "recall": float(t_rec), "switches": int(sw.sum()),
             "misses": int(miss.sum()), "false_positives": int(fp.sum()), "objects": int(obj.sum())}
    return PoseTrackResult(EVAL_NAMES, ap, mota, motp, prec, rec, sw, miss, fp, obj, groups, total)


def _uid(table: dict[tuple, int], key: tuple) -> int:
    return table.setdefault(key, len(table))


def _nanmean(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=np.float64)
    return float(np.mean(v[~np.isnan(v)])) if np.any(~np.isnan(v)) else float("nan")


def evaluate_posetrack(gt_path: str | Path, pred_path: str | Path, thr: float = PCK_THRESHOLD,
                       use_ignore_regions: bool = True, track_thr: float = 0.0) -> PoseTrackResult:
    """Load ground truth and predictions (files or directories) and evaluate."""
    gt = load_ground_truth(gt_path)
    n_frames = sum(len(v) for v in gt.videos.values())
    if n_frames == 0:
        raise EvalError(f"{gt_path}: no labelled frames")
    pred = load_predictions(pred_path, gt)
    log.info("PoseTrack: %d videos, %d labelled frames", len(gt.videos), n_frames)
    return evaluate(gt, pred, thr=thr, use_ignore_regions=use_ignore_regions, track_thr=track_thr)


def format_result(res: PoseTrackResult) -> str:
    cols = list(GROUPS) + ["total"]
    header = ["PoseTrack"] + [c.capitalize() for c in cols]
    rows = []
    for key, label in (("ap", "AP"), ("mota", "MOTA"), ("motp", "MOTP"),
                       ("precision", "Precision"), ("recall", "Recall"), ("switches", "ID switches")):
        vals = [res.groups[c][key] for c in GROUPS] + [res.total[key]]
        rows.append((label, vals))
    return table(header, rows)
