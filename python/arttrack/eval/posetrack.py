"""PoseTrack 2018 evaluation that reproduces the official evaluator, poseval.

poseval (github.com/leonid-pishchulin/poseval, ``python -m poseval.evaluate -e -t``) is
the specification; by default every figure here is poseval's: per-joint and total AP
with the precision and recall at the end of the AP ranking, and per-joint and total MOTA,
MOTP, precision and recall. Its rules, in the terms of this module:

- Joints: the 17 PoseTrack 2018 keypoints minus the two ears (15; poseval's ``neck`` is
  ``head_bottom``). A joint is present unless it is ``x = y = v = 0`` (poseval's
  converter drops exactly those), for ground truth and predictions alike.
- Frames: a ground-truth frame counts when it holds at least one ground-truth annotation
  (poseval does not read ``is_labeled``); other frames and their predictions are
  dropped. People (either side) with no joint left inside the frame's ignore regions
  are removed, and so are the joints inside them.
- Distances: ``||pred - gt|| / (0.6 * ||(w, h)||)`` of the ground-truth person's
  ``bbox_head``; a joint matches at ``<= 0.5``.
- Pairing (AP only), greedy: each predicted person picks the ground-truth person with
  the highest PCKh (matching joints / that person's annotated joints; first index on
  ties); each ground-truth person keeps the best of the predictions that picked it (first
  index on ties); predictions that lose, or whose best PCKh is 0, are unmatched and all
  their joints are false positives.
- AP per joint: the predicted joints of all frames ranked by score with numpy's
  ``argsort()[::-1]`` on the scores in poseval's order (video, frame, person; so ties
  fall as in poseval), true positive when its person is paired and the joint matches;
  VOC AP over the number of annotated joints. A predicted joint without a score scores
  -9999 (poseval's ``MIN_SCORE``). A joint with no detections has AP, precision and
  recall 0. Totals: mean over the joints (NaN left out).
- Tracking per joint with ``motmetrics``, one accumulator per video and joint: objects are
  the ground-truth people holding the joint, hypotheses the predicted people holding it,
  the distance the normalised distance where it matches and NaN (never pair) otherwise;
  the person pairing plays no part. Each video's last counted frame is left out. A frame
  that does not hold both a ground-truth and a predicted person (after the ignore regions)
  gets one dummy update per joint: one object, one hypothesis, no match (1 object, 1
  miss, 1 false positive), however many people it holds.
- Counts are summed over videos per joint: MOTA = 100 (1 - (misses + switches + false
  positives) / objects), precision = 100 detections / (detections + false positives),
  recall = 100 detections / objects, MOTP = 100 (1 - D / detections) where D is the sum
  of the ``D`` column of *all* the accumulator's events, as poseval sums it: the RAW
  events (every ground-truth/prediction pair within the threshold), the MATCH/SWITCH
  events and motmetrics' extra TRANSFER/ASCEND/MIGRATE events; MOTP is 0 where there are
  no detections. Totals: the mean over the joints (NaN left out), not figures recomputed
  from pooled counts.
- Groups (head, shoulder, ...): the plain mean of their joints (as poseval's tables).

Where poseval gives no answer, this module does:

- A video with a single counted frame has nothing left for tracking once its last frame
  is left out; poseval crashes on it (IndexError), here it counts for AP only (with a
  warning). When no video has two counted frames, MOTA, MOTP, precision and recall are
  NaN (printed as ``-``, ``null`` in JSON), not 0, and the result's ``info["notes"]``
  says why.
- Several videos may share one file; a prediction file need not hold every image
  (frames are matched by video and frame index); predicted people without a track id
  are each a new track (poseval rejects them).

Videos are taken in poseval's order, ground-truth files as ``glob`` lists them (the
directory's listing order): with numpy's unstable ``argsort``, that order decides how
exact score ties fall, so ties fall as in poseval run on the same directory.

Options that depart from poseval, each named in the printed table and in the JSON
``rules``: ``pairing="hungarian"`` (one-to-one pairing maximising the number of matching
joints), ``thr`` other than 0.5, ``use_ignore_regions=False`` and ``track_thr > 0``
(predicted joints scoring below it are left out of the tracking metrics, and people
left with none; AP still ranks every joint).

Inputs: ground truth as a PoseTrack 2018 JSON file or a directory of per-video files;
predictions as PoseTrack 2018 JSON (per-keypoint ``scores``) or as arttrack's canonical
per-video JSON (``{"meta", "frames": [{"frame_id", "instances": [...]}]}``), a file or a
directory of files (the formats can be mixed).
"""

from __future__ import annotations

import glob
import logging
import math
import os
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
UNUSED = ("left_ear", "right_ear")  # never annotated in PoseTrack 2018, not evaluated
EVAL_JOINTS = tuple(i for i, n in enumerate(POSETRACK18_NAMES) if n not in UNUSED)
EVAL_NAMES = tuple(POSETRACK18_NAMES[i] for i in EVAL_JOINTS)
# poseval's names of EVAL_NAMES (its ``neck`` is PoseTrack 2018's ``head_bottom``)
POSEVAL_NAMES = {n: ("neck" if n == "head_bottom" else n) for n in EVAL_NAMES}
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
MIN_SCORE = -9999.0  # poseval's score for a predicted joint that has none
PAIRINGS = ("greedy", "hungarian")


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
    """A ground-truth frame. ``people``: those with at least one evaluated joint, in file
    order; ``num_annotations``: every annotation of the image, people without any
    evaluated joint included (poseval counts a frame when it holds any)."""

    people: list[Person]
    ignore_regions: list[np.ndarray] = field(default_factory=list)  # polygons (K, 2)
    num_annotations: int = 0


@dataclass
class GroundTruth:
    videos: dict[str, dict[int, GTFrame]]  # video -> frame index -> frame (file order)
    aliases: dict[str, str]  # any known name of a video -> its key in ``videos``
    image_keys: dict[Any, tuple[str, int]]  # image id -> (video, frame index)

    def resolve(self, name: str) -> str | None:
        return self.aliases.get(str(name))


Predictions = dict  # video -> frame index -> list[Person]


# --------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------
def _json_files(path: str | Path, what: str, listing_order: bool = False) -> list[Path]:
    """The .json files of a directory (sorted; ``listing_order``: in the order
    ``glob.glob(dir + "/*.json")`` lists them, which is poseval's), or the file itself.
    A directory of ``arttrack.multiperson``'s per-video output folders (``<stem>/<stem>.json``)
    counts as holding those files."""
    p = Path(path)
    if p.is_dir():
        # hidden files are skipped: a writer killed mid-way leaves .<name>.tmp<pid>.json
        if listing_order:
            files = [Path(f) for f in glob.glob(os.path.join(glob.escape(str(p)), "*.json"))
                     if not Path(f).name.startswith(".")]
        else:
            files = sorted(f for f in p.glob("*.json") if not f.name.startswith("."))
        if not files:
            files = sorted(d / f"{d.name}.json" for d in p.iterdir()
                           if d.is_dir() and not d.name.startswith(".") and (d / f"{d.name}.json").is_file())
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
    """``0.6 * ||(x2, y2) - (x1, y1)||`` with ``x2 = x + w``, ``y2 = y + h``, as poseval."""
    if bbox_head is None:
        return float("nan")
    b = np.asarray(bbox_head, dtype=np.float64).reshape(-1)
    if b.size != 4:
        return float("nan")
    x1, y1 = b[0], b[1]
    x2, y2 = b[0] + b[2], b[1] + b[3]
    return float(HEAD_SIZE_FACTOR * np.linalg.norm(np.subtract([x2, y2], [x1, y1])))


def _present(kp: np.ndarray) -> np.ndarray:
    """A joint is present when its x, y are finite and it is not ``0, 0, 0`` (poseval's
    converter drops exactly the ``x == y == v == 0`` joints); ears never."""
    present = np.isfinite(kp[:, :2]).all(axis=1) & ~np.all(kp == 0, axis=1)
    present[[POSETRACK18_NAMES.index(n) for n in UNUSED]] = False
    return present


_pred_present = _present  # the same rule for predictions


def load_ground_truth(path: str | Path) -> GroundTruth:
    """PoseTrack 2018 ground truth: one JSON file or a directory of per-video files.

    ``videos`` holds, in file order, the labelled frames and any other frame with a
    ground-truth annotation; the evaluation counts those with at least one annotation."""
    videos: dict[str, dict[int, GTFrame]] = {}
    aliases: dict[str, str] = {}
    image_keys: dict[Any, tuple[str, int]] = {}
    no_head = 0
    annotated_unlabelled = 0
    # files in poseval's order: it decides the order of the AP ranking's input, so how
    # exact score ties fall (numpy's argsort is not stable)
    for f in _json_files(path, "ground truth", listing_order=True):
        data = read_json(f, "ground-truth file")
        if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
            raise EvalError(f"{f}: not a PoseTrack 2018 file (needs 'images' and 'annotations')")
        stem = f.stem if Path(path).is_dir() else None
        frames: dict[Any, tuple[str, int, GTFrame, bool]] = {}
        for im in data["images"]:
            names = _video_names(im, stem)
            if not names:
                raise EvalError(f"{f}: image {im.get('id')!r} has neither vid_id nor a folder in file_name")
            key = names[0]
            for n in names:
                aliases.setdefault(n, key)
            fi = _frame_index(im)
            image_keys[im["id"]] = (key, fi)
            polys = []
            for xs, ys in zip(im.get("ignore_regions_x") or [], im.get("ignore_regions_y") or []):
                if len(xs) >= 3 and len(xs) == len(ys):
                    polys.append(np.column_stack([xs, ys]).astype(np.float64))
            frames[im["id"]] = (key, fi, GTFrame([], polys), bool(im.get("is_labeled", True)))
        for i, ann in enumerate(data["annotations"]):
            entry = frames.get(ann.get("image_id"))
            if entry is None:
                log.warning("%s: annotation %d refers to unknown image %r", f, i, ann.get("image_id"))
                continue
            fr = entry[2]
            fr.num_annotations += 1
            kp = _kp_array(ann.get("keypoints", []), f"{f} annotation {i}")
            present = _present(kp)
            if not present.any():
                continue
            hs = _head_size(ann.get("bbox_head"))
            if not np.isfinite(hs) or hs <= 0:
                no_head += 1
            tid = ann.get("track_id", ann.get("id"))
            fr.people.append(Person(tid, kp[:, :2], present, np.ones(NUM_KEYPOINTS), hs))
        for key, fi, fr, labelled in frames.values():  # image order
            videos.setdefault(key, {})
            if labelled or fr.num_annotations:
                annotated_unlabelled += (not labelled) and fr.num_annotations > 0
                videos[key][fi] = fr
    if no_head:
        log.warning("%d ground-truth people have no usable bbox_head (their joints can never match)", no_head)
    if annotated_unlabelled:
        log.info("%d frames marked is_labeled false hold annotations; they count, as in poseval",
                 annotated_unlabelled)
    return GroundTruth(videos, aliases, image_keys)


def _load_posetrack_predictions(data: dict, f: Path, gt: GroundTruth, out: Predictions,
                                unmatched: set, no_scores: list) -> None:
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
        where = f"{f} annotation {i}"
        kp = _kp_array(ann.get("keypoints", []), where)
        sc = ann.get("scores")
        if sc:  # poseval: a missing or empty list leaves every joint without a score
            if len(sc) != NUM_KEYPOINTS:
                raise EvalError(f"{where}: 'scores' must hold {NUM_KEYPOINTS} numbers (one per "
                                f"keypoint), got {len(sc)}")
            try:
                scores = np.asarray([np.nan if v is None else v for v in sc], dtype=np.float64)
            except (TypeError, ValueError):
                raise EvalError(f"{where}: 'scores' are not numbers") from None
        else:
            no_scores.append(where)
            scores = np.full(NUM_KEYPOINTS, np.nan)
        scores = np.where(np.isfinite(scores), scores, MIN_SCORE)
        out.setdefault(key[0], {}).setdefault(key[1], []).append(
            Person(ann.get("track_id"), kp[:, :2], _pred_present(kp), scores))


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
    keyed by the ground truth's video keys and frame indices, people in file order."""
    files = _json_files(path, "predictions")
    out: Predictions = {}
    unmatched: set = set()
    no_scores: list[str] = []
    for f in files:
        data = read_json(f, "prediction file")
        if isinstance(data, dict) and "frames" in data:
            _load_canonical_predictions(data, f, gt, out, unmatched, single=len(files) == 1)
        elif isinstance(data, dict) and "annotations" in data:
            _load_posetrack_predictions(data, f, gt, out, unmatched, no_scores)
        else:
            raise EvalError(f"{f}: neither PoseTrack 2018 JSON ('annotations') nor arttrack's "
                            "per-video JSON ('frames')")
    if unmatched:
        log.warning("predictions for %d video(s)/image(s) not in the ground truth ignored, e.g. %s",
                    len(unmatched), sorted(unmatched)[:3])
    if no_scores:
        log.warning("%d predicted people have no per-keypoint 'scores' (e.g. %s); their joints "
                    "score %g, as in poseval", len(no_scores), no_scores[0], MIN_SCORE)
    return out


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoseTrackResult:
    """Per-joint values over :data:`EVAL_NAMES` (percent; NaN where undefined).

    ``precision``/``recall`` are the tracking metrics' (poseval's MOT ``pre``/``rec``);
    ``ap_precision``/``ap_recall`` those at the end of the AP ranking (poseval's AP
    ``pre``/``rec``). ``total``: the means over the joints (``switches`` and the counts:
    sums). ``info``: the rules used and what was evaluated; ``per_video``: the same
    figures per video (poseval's ``-s`` files)."""

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
    ap_precision: np.ndarray | None = None
    ap_recall: np.ndarray | None = None
    detections: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
    per_video: dict[str, dict[str, Any]] = field(default_factory=dict)

    METRICS = ("ap", "mota", "motp", "precision", "recall", "switches")

    def to_dict(self) -> dict[str, Any]:
        per_joint = {}
        for j, n in enumerate(self.joint_names):
            per_joint[n] = _joint_dict(self, j)
        return {"per_joint": per_joint, "groups": self.groups, "total": self.total,
                "info": self.info, "per_video": self.per_video}


def _joint_dict(res: Any, j: int) -> dict[str, Any]:
    d = {"poseval_name": POSEVAL_NAMES.get(res.joint_names[j], res.joint_names[j])}
    for k in ("ap", "ap_precision", "ap_recall", "mota", "motp", "precision", "recall"):
        v = getattr(res, k)
        d[k] = float("nan") if v is None else float(v[j])
    for k in ("switches", "misses", "false_positives", "objects", "detections"):
        v = getattr(res, k)
        d[k] = 0 if v is None else int(v[j])
    return d


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """poseval's ``VOCap``: area under the monotone precision envelope (recall in [0, 1])."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    step = np.nonzero(r[1:] != r[:-1])[0] + 1
    return float(np.sum((r[step] - r[step - 1]) * p[step]))


def _ap_figures(scores: list[float], labels: list[bool], n_gt: int) -> tuple[float, float, float]:
    """(AP, precision, recall) in percent, as poseval's ``computeRPC`` + ``VOCap``: the
    detections ranked by ``argsort()[::-1]`` of the scores (so ties fall as in poseval);
    no detections: 0, 0, 0; no ground truth: AP and recall NaN."""
    if not scores:
        return 0.0, 0.0, 0.0
    s = np.asarray(scores, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)[s.argsort()[::-1]]
    npos = np.cumsum(lab == 1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = npos / np.float64(n_gt)
    precision = npos / np.arange(1, len(s) + 1, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ap = voc_ap(recall, precision) * 100
    return ap, float(precision[-1] * 100), float(recall[-1] * 100)


def _points_in_polygon(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule for (N, 2) points against a (K, 2) polygon (poseval: shapely's
    ``contains``; the two can differ only for points exactly on the boundary)."""
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0][None], poly[:, 1][None]
    x2, y2 = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return np.sum(crosses & (x < xint), axis=1) % 2 == 1


def _drop_ignored(people: list[Person], polys: list[np.ndarray]) -> list[Person]:
    """Joints inside the polygons removed, and people left with no evaluated joint (those
    that had none to begin with too, as poseval does in frames with ignore regions)."""
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


def _distances(gt: list[Person], pr: list[Person], thr: float) -> tuple[np.ndarray, np.ndarray]:
    """(P, G, J) normalised distances (inf when a side lacks the joint) and matches."""
    J = list(EVAL_JOINTS)
    P, G = len(pr), len(gt)
    dist = np.full((P, G, len(J)), np.inf)
    if P and G:
        pk = np.stack([p.keypoints[J] for p in pr])  # (P, J, 2)
        gk = np.stack([g.keypoints[J] for g in gt])
        pv = np.stack([p.present[J] for p in pr])
        gv = np.stack([g.present[J] for g in gt])
        hs = np.array([g.head_size for g in gt])
        diff = gk[None] - pk[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]) / hs[None, :, None]
        dist = np.where(pv[:, None] & gv[None], d, np.inf)  # NaN (no head size) stays NaN
    with np.errstate(invalid="ignore"):
        match = dist <= thr
    return dist, match


def _pair_greedy(match: np.ndarray, gt: list[Person]) -> dict[int, int]:
    """poseval's pairing {pred index: gt index}: each prediction picks the ground-truth
    person with the highest PCKh (first on ties), each ground-truth person keeps the best
    prediction among those that picked it (first on ties), PCKh 0 never pairs."""
    P, G = match.shape[:2]
    if not P or not G:
        return {}
    n_gt = np.array([g.present[list(EVAL_JOINTS)].sum() for g in gt])
    pck = match.sum(axis=2).astype(np.float64)
    pck = np.where(n_gt[None] > 0, pck / np.maximum(n_gt, 1)[None], pck)
    best = np.argmax(pck, axis=1)
    kept = np.zeros_like(pck)
    kept[np.arange(P), best] = pck[np.arange(P), best]
    winner = np.argmax(kept, axis=0)
    val = np.max(kept, axis=0)
    return {int(winner[g]): g for g in range(G) if val[g] != 0}


def _pair_hungarian(match: np.ndarray) -> dict[int, int]:
    """One-to-one pairing maximising the number of matching joints (NOT poseval's)."""
    P, G = match.shape[:2]
    if not P or not G:
        return {}
    count = match.sum(axis=2)
    rows, cols = linear_sum_assignment(-count)
    return {int(r): int(c) for r, c in zip(rows, cols) if count[r, c] > 0}


def match_frame(gt: list[Person], pr: list[Person], thr: float, pairing: str = "greedy"):
    """(P, G, J) normalised distances (inf when a side lacks the joint), (P, G, J) match,
    and the person pairing {pred index: gt index} (poseval's greedy one by default)."""
    dist, match = _distances(gt, pr, thr)
    pairs = _pair_hungarian(match) if pairing == "hungarian" else _pair_greedy(match, gt)
    return dist, match, pairs


class _MotCounts:
    """Per-joint tracking counts (summed over accumulators)."""

    def __init__(self, n: int):
        self.misses = np.zeros(n, dtype=np.int64)
        self.switches = np.zeros(n, dtype=np.int64)
        self.false_positives = np.zeros(n, dtype=np.int64)
        self.objects = np.zeros(n, dtype=np.int64)
        self.detections = np.zeros(n, dtype=np.int64)
        self.sum_d = np.zeros(n)

    def add(self, j: int, acc: Any) -> None:
        """Counts of one motmetrics accumulator, as ``motmetrics.metrics`` counts them
        (objects = MATCH + SWITCH + MISS events, detections = MATCH + SWITCH), and
        poseval's distance sum: the ``D`` column of all events, RAW ones included."""
        ev = acc.events
        types = ev["Type"].astype(str).to_numpy()
        match = int(np.sum(types == "MATCH"))
        switch = int(np.sum(types == "SWITCH"))
        miss = int(np.sum(types == "MISS"))
        self.misses[j] += miss
        self.switches[j] += switch
        self.false_positives[j] += int(np.sum(types == "FP"))
        self.objects[j] += match + switch + miss
        self.detections[j] += match + switch
        s = float(ev["D"].sum())
        self.sum_d[j] += 0.0 if math.isnan(s) else s

    def rates(self) -> dict[str, np.ndarray]:
        """poseval's per-joint MOTA, MOTP, precision, recall (percent)."""
        o = self.objects.astype(np.float64)
        det = self.detections.astype(np.float64)
        fp = self.false_positives.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            obj = np.where(o > 0, o, np.nan)
            mota = 100.0 * (1.0 - (self.misses + self.switches + fp) / obj)
            motp = np.where(det > 0, 100.0 * (1.0 - self.sum_d / det), 0.0)
            prec = 100.0 * det / np.where(fp + det > 0, fp + det, np.nan)
            rec = 100.0 * det / obj
        return {"mota": mota, "motp": motp, "precision": prec, "recall": rec}


def _undefined_rates(n: int) -> dict[str, np.ndarray]:
    return {k: np.full(n, np.nan) for k in ("mota", "motp", "precision", "recall")}


class _APLists:
    """Per-joint ranked detections and ground-truth counts."""

    def __init__(self, n: int):
        self.scores: list[list[float]] = [[] for _ in range(n)]
        self.labels: list[list[bool]] = [[] for _ in range(n)]
        self.n_gt = np.zeros(n, dtype=np.int64)

    def extend(self, other: "_APLists") -> None:
        for j in range(len(self.scores)):
            self.scores[j].extend(other.scores[j])
            self.labels[j].extend(other.labels[j])
        self.n_gt += other.n_gt

    def figures(self) -> dict[str, np.ndarray]:
        f = [_ap_figures(self.scores[j], self.labels[j], int(self.n_gt[j])) for j in range(len(self.scores))]
        a = np.array(f, dtype=np.float64).reshape(len(self.scores), 3)
        return {"ap": a[:, 0], "ap_precision": a[:, 1], "ap_recall": a[:, 2]}


_DUMMY_ID = -1  # poseval's dummy update uses id 0 on both sides; which id changes no count


def evaluate(gt: GroundTruth, pred: Predictions, thr: float = PCK_THRESHOLD,
             use_ignore_regions: bool = True, track_thr: float = 0.0,
             pairing: str = "greedy") -> PoseTrackResult:
    """All metrics for loaded ground truth and predictions, poseval's rules by default
    (see the module docstring for them and for the options)."""
    import motmetrics as mm

    if not math.isfinite(track_thr):
        raise EvalError(f"track_thr must be a finite number, got {track_thr}")
    if not math.isfinite(thr) or thr < 0:
        raise EvalError(f"thr must be a finite number >= 0, got {thr}")
    if pairing not in PAIRINGS:
        raise EvalError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")

    nJ = len(EVAL_JOINTS)
    ap_all = _APLists(nJ)
    mot_all = _MotCounts(nJ)
    per_video: dict[str, dict[str, Any]] = {}
    one_frame: list[str] = []
    n_frames = n_tracked = untracked = 0

    for vid in gt.videos:  # poseval's order: GT files as glob lists them, frames in file order
        vpred = pred.get(vid, {})
        frames = [(fi, fr) for fi, fr in gt.videos[vid].items() if fr.num_annotations > 0]
        if not frames:
            continue
        n_frames += len(frames)
        n_tracked += len(frames) - 1
        if len(frames) == 1:
            one_frame.append(vid)
        ap_v = _APLists(nJ)
        accs = [mm.MOTAccumulator(auto_id=True) for _ in range(nJ)] if len(frames) > 1 else []
        g_uids: dict[Any, int] = {}
        p_uids: dict[Any, int] = {}
        for t, (fi, frame) in enumerate(frames):
            g_people = frame.people
            n_empty = frame.num_annotations - len(frame.people)  # annotations with no joint
            p_people = vpred.get(fi, [])
            _check_unique(g_people, vid, fi, "ground-truth")
            _check_unique(p_people, vid, fi, "predicted")
            if use_ignore_regions and frame.ignore_regions:
                g_people = _drop_ignored(g_people, frame.ignore_regions)
                p_people = _drop_ignored(p_people, frame.ignore_regions)
                n_empty = 0
            g_ids = [_uid(g_uids, g.track_id) for g in g_people]
            p_ids = []
            for p in p_people:
                if p.track_id is None:
                    untracked += 1
                    p_ids.append(_uid(p_uids, (None, untracked)))
                else:
                    p_ids.append(_uid(p_uids, p.track_id))
            has_gt = len(g_people) + n_empty > 0
            dist, match = _distances(g_people, p_people, thr)
            # AP
            pairs = {}
            if has_gt and p_people:
                pairs = (_pair_hungarian(match) if pairing == "hungarian"
                         else _pair_greedy(match, g_people))
            for jj, j in enumerate(EVAL_JOINTS):
                ap_v.n_gt[jj] += sum(1 for g in g_people if g.present[j])
                for k, p in enumerate(p_people):
                    if p.present[j]:
                        gk = pairs.get(k)
                        ap_v.scores[jj].append(float(p.scores[j]))
                        ap_v.labels[jj].append(bool(gk is not None and match[k, gk, jj]))
            # tracking: every frame but the video's last
            if t == len(frames) - 1:
                continue
            p_track = list(range(len(p_people)))
            p_has_joint = np.array([[p.present[j] for j in EVAL_JOINTS] for p in p_people],
                                   dtype=bool).reshape(len(p_people), nJ)
            if track_thr > 0:
                sc = np.array([[p.scores[j] for j in EVAL_JOINTS] for p in p_people]).reshape(len(p_people), nJ)
                p_has_joint &= sc >= track_thr
                p_track = [k for k in p_track if p_has_joint[k].any()]
            if not (has_gt and p_track):
                for acc in accs:  # poseval's dummy update
                    acc.update([_DUMMY_ID], [_DUMMY_ID], np.full((1, 1), np.nan))
                continue
            for jj, j in enumerate(EVAL_JOINTS):
                g_has = [k for k, g in enumerate(g_people) if g.present[j]]
                p_has = [k for k in p_track if p_has_joint[k, jj]]
                d = np.full((len(g_has), len(p_has)), np.nan)
                for a, gk in enumerate(g_has):
                    for b, pk in enumerate(p_has):
                        if match[pk, gk, jj]:
                            d[a, b] = dist[pk, gk, jj]
                accs[jj].update([g_ids[k] for k in g_has], [p_ids[k] for k in p_has], d)
        mot_v = _MotCounts(nJ)
        for jj, acc in enumerate(accs):
            mot_v.add(jj, acc)
        mot_all.misses += mot_v.misses
        mot_all.switches += mot_v.switches
        mot_all.false_positives += mot_v.false_positives
        mot_all.objects += mot_v.objects
        mot_all.detections += mot_v.detections
        mot_all.sum_d += mot_v.sum_d
        ap_all.extend(ap_v)
        per_video[vid] = _summary(ap_v.figures(), mot_v.rates() if accs else _undefined_rates(nJ),
                                  mot_v, frames=len(frames), tracked=len(frames) - 1)
    if untracked:
        log.warning("%d predicted people have no track_id (each counted as a new track)", untracked)
    if n_frames == 0:
        raise EvalError("no ground-truth frame holds an annotation: nothing to evaluate")
    notes = []
    if one_frame:
        notes.append(f"{len(one_frame)} of {len(per_video)} videos have a single frame with ground "
                     "truth: they count for AP only (the tracking metrics leave out each video's "
                     "last frame); poseval crashes on such videos")
        log.warning("%s (e.g. %s)", notes[-1], one_frame[0])
    if n_tracked == 0:
        notes.append("no video has two frames with ground truth: MOTA, MOTP, precision and recall "
                     "are undefined (shown as -, null in JSON); poseval cannot evaluate tracking "
                     "here (it crashes)")
        log.warning("%s", notes[-1])
        rates = _undefined_rates(nJ)
    else:
        rates = mot_all.rates()
    s = _summary(ap_all.figures(), rates, mot_all, frames=n_frames, tracked=n_tracked)
    departures = []
    if pairing != "greedy":
        departures.append(f"{pairing} pairing")
    if thr != PCK_THRESHOLD:
        departures.append(f"match threshold {thr:g}")
    if not use_ignore_regions:
        departures.append("ignore regions not applied")
    if track_thr > 0:
        departures.append(f"tracking on joints scoring >= {track_thr:g}")
    info = {"rules": "poseval" if not departures else "NOT poseval: " + ", ".join(departures),
            "pairing": pairing, "thr": thr, "use_ignore_regions": use_ignore_regions,
            "track_thr": track_thr, "videos": len(per_video), "frames": n_frames,
            "tracking_frames": n_tracked, "one_frame_videos": one_frame, "notes": notes}
    per = s["per_joint"]
    return PoseTrackResult(EVAL_NAMES, per["ap"], per["mota"], per["motp"], per["precision"],
                           per["recall"], mot_all.switches, mot_all.misses, mot_all.false_positives,
                           mot_all.objects, s["groups"], s["total"], per["ap_precision"],
                           per["ap_recall"], mot_all.detections, info,
                           {v: _plain(d) for v, d in per_video.items()})


def _check_unique(people: list[Person], vid: str, fi: int, what: str) -> None:
    ids = [p.track_id for p in people if p.track_id is not None]
    if len(set(map(str, ids))) != len(ids):
        raise EvalError(f"video {vid} frame {fi}: several {what} people share a track_id")


def _summary(ap: dict[str, np.ndarray], rates: dict[str, np.ndarray], mot: _MotCounts,
             frames: int, tracked: int) -> dict[str, Any]:
    per = {**ap, **rates}
    groups: dict[str, dict[str, float]] = {}
    for g, members in GROUPS.items():
        idx = [EVAL_NAMES.index(n) for n in members]
        groups[g] = {k: float(np.mean(v[idx])) for k, v in per.items()}  # plain mean, as poseval
        groups[g]["switches"] = int(mot.switches[idx].sum())
    total: dict[str, Any] = {k: _nanmean(v) for k, v in per.items()}
    total.update(switches=int(mot.switches.sum()), misses=int(mot.misses.sum()),
                 false_positives=int(mot.false_positives.sum()), objects=int(mot.objects.sum()),
                 detections=int(mot.detections.sum()))
    return {"per_joint": per, "groups": groups, "total": total, "frames": frames,
            "tracking_frames": tracked, "counts": mot}


def _plain(s: dict[str, Any]) -> dict[str, Any]:
    """A per-video summary as JSON-ready values."""
    per, mot = s["per_joint"], s["counts"]
    joints = {}
    for j, n in enumerate(EVAL_NAMES):
        joints[n] = {k: float(v[j]) for k, v in per.items()}
        joints[n].update(switches=int(mot.switches[j]), misses=int(mot.misses[j]),
                         false_positives=int(mot.false_positives[j]), objects=int(mot.objects[j]),
                         detections=int(mot.detections[j]))
    return {"frames": s["frames"], "tracking_frames": s["tracking_frames"], "per_joint": joints,
            "total": s["total"]}


def _uid(table: dict[Any, int], key: Any) -> int:
    return table.setdefault(key, len(table))


def _nanmean(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=np.float64)
    return float(np.mean(v[~np.isnan(v)])) if np.any(~np.isnan(v)) else float("nan")


def evaluate_posetrack(gt_path: str | Path, pred_path: str | Path, thr: float = PCK_THRESHOLD,
                       use_ignore_regions: bool = True, track_thr: float = 0.0,
                       pairing: str = "greedy") -> PoseTrackResult:
    """Load ground truth and predictions (files or directories) and evaluate them as
    poseval does (the options other than their defaults depart from it)."""
    gt = load_ground_truth(gt_path)
    n_frames = sum(1 for v in gt.videos.values() for fr in v.values() if fr.num_annotations)
    if n_frames == 0:
        raise EvalError(f"{gt_path}: no frame holds a ground-truth annotation")
    pred = load_predictions(pred_path, gt)
    log.info("PoseTrack: %d videos, %d frames with ground truth", len(gt.videos), n_frames)
    return evaluate(gt, pred, thr=thr, use_ignore_regions=use_ignore_regions, track_thr=track_thr,
                    pairing=pairing)


def format_result(res: PoseTrackResult) -> str:
    info = res.info or {}
    title = f"PoseTrack ({info.get('rules', 'poseval')}): {info.get('videos', '?')} videos, " \
            f"{info.get('frames', '?')} frames with ground truth, " \
            f"{info.get('tracking_frames', '?')} in the tracking metrics"
    cols = list(GROUPS) + ["total"]
    header = ["PoseTrack"] + [c.capitalize() for c in cols]
    rows = []
    for key, label in (("ap", "AP"), ("mota", "MOTA"), ("motp", "MOTP"),
                       ("precision", "Precision"), ("recall", "Recall"), ("switches", "ID switches")):
        vals = [res.groups[c][key] for c in GROUPS] + [res.total[key]]
        rows.append((label, vals))
    lines = [title, table(header, rows)]
    lines += [f"note: {n}" for n in info.get("notes", [])]
    return "\n".join(lines)
