"""MPII head-normalised PCKh (and, for comparison only, bounding-box PCK).

Definitions: those of the MPII Human Pose benchmark's own evaluation code (its toolkit's
``evaluatePCKh.m`` with ``getHeadSizeAll``/``util_get_head_size``, ``getDistPCKh``,
``computePCK``, ``genTablePCK``, ``area_under_curve``, ``annolist2matrix``,
``flatten_annolist``):

- head size of a person: ``SC_BIAS * ||(x2 - x1, y2 - y1)||`` of its head box, with
  ``SC_BIAS = 0.6``;
- a joint is correct at threshold ``thr`` when ``||pred - gt|| / head_size <= thr``
  (``<=``: a joint exactly at the threshold counts);
- the joints that count are those annotated in the ground truth (a point with that id;
  MPII's code does not read ``is_visible``; with several points of one id, the first);
  a missing prediction (NaN) for such a joint is an error;
- per joint: percentage of its annotated instances that are correct;
- groups as MPII's table (``genTablePCK``): head = mean of upper neck (``chin``) and head
  top (``forehead``); shoulder, elbow, wrist, hip, knee, ankle = mean of the left and
  right joints (plain means: NaN when a joint has no instance); ubody (upper body) =
  pooled over the wrists, elbows and shoulders;
- total: pooled over all annotated joints (correct / annotated, all joints together);
- curve: thresholds ``0:0.01:0.5`` (51 values); AUC = MPII's
  ``area_under_curve(scale01(range), total)``: the area under the piecewise-linear total
  curve over the thresholds scaled to [0, 1] (trapezoid rule), in percent;
- the benchmark's test set (``split="test"``): test images (``img_train == 0``), and of
  them only the people of ``RELEASE.single_person`` that have an ``objpos``
  (``flatten_annolist``), as ``evaluatePCKh.m`` evaluates.

The model-zoo port's "PCK" is available as :func:`compute_bbox_pck`: the error is
normalised by ``max(w, h)`` of the box spanned by the person's visible ground-truth
joints, default threshold 0.2. It is *not* PCKh and is printed labelled as such.

Joint order is :data:`arttrack.joints.MPII14`; 16-joint MPII arrays (ground truth or
predictions) are mapped with :data:`arttrack.joints.MPII14_FROM_MPII16`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from arttrack.eval import EvalError
from arttrack.eval._io import read_json, table
from arttrack.data.mpii import MATLAB_OFFSET, load_release, struct_list
from arttrack.joints import MPII14, MPII14_FROM_MPII16

log = logging.getLogger(__name__)

SC_BIAS = 0.6
PCKH_THRESHOLD = 0.5
BBOX_PCK_THRESHOLD = 0.2
CURVE_THRESHOLDS = np.round(np.arange(51) * 0.01, 2)  # 0:0.01:0.5

# MPII's table (genTablePCK): head, shoulder, elbow, wrist, hip, knee, ankle, ubody, total
GROUP_NAMES = ("head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "ubody")
UPPER_BODY = ("wrist", "elbow", "shoulder")  # pooled into "ubody" (MPII: joints 7..12)


def _group_indices(names: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Group -> joint indices: head = chin (upper neck) and forehead (head top); the limbs'
    right and left joints; ubody = the wrists, elbows and shoulders."""
    out = {}
    for g in GROUP_NAMES:
        if g == "head":
            members: tuple[str, ...] = ("chin", "forehead")
        elif g == "ubody":
            members = tuple(f"{s}_{u}" for u in UPPER_BODY for s in ("r", "l"))
        else:
            members = (f"r_{g}", f"l_{g}")
        idx = tuple(names.index(n) for n in members if n in names)
        if idx and len(idx) == len(members):
            out[g] = idx
    return out


GROUPS: dict[str, tuple[int, ...]] = _group_indices(MPII14.names)


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PCKhResult:
    """PCK at one threshold. Percentages; NaN where a joint has no visible instance."""

    threshold: float
    normalisation: str  # "head" (PCKh) or "bbox" (bounding-box PCK, model-zoo style)
    joint_names: tuple[str, ...]
    per_joint: np.ndarray  # (J,) percent
    groups: dict[str, float]  # group name -> percent
    total: float  # pooled over all visible joints, percent
    num_visible: np.ndarray  # (J,) visible instances per joint
    num_correct: np.ndarray  # (J,) correct instances per joint
    auc: float = float("nan")  # AUC of the total curve, percent (PCKh only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_joint": {n: float(v) for n, v in zip(self.joint_names, self.per_joint)},
            "groups": {k: float(v) for k, v in self.groups.items()},
            "total": float(self.total),
            "auc": float(self.auc),
        }


@dataclass(frozen=True)
class PCKhCurve:
    thresholds: np.ndarray  # (T,)
    per_joint: np.ndarray  # (T, J) percent
    total: np.ndarray  # (T,) percent, pooled
    auc: float  # mean of ``total``, percent
    joint_names: tuple[str, ...] = field(default=MPII14.names)


def _check_arrays(pred, gt, visible, norm_shape_n: int | None = None):
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    if pred.ndim != 3 or pred.shape[-1] < 2:
        raise EvalError(f"pred must be (N, J, 2), got shape {pred.shape}")
    pred = pred[..., :2]
    if gt.ndim != 3 or gt.shape[-1] < 2:
        raise EvalError(f"gt must be (N, J, 2), got shape {gt.shape}")
    gt = gt[..., :2]
    if pred.shape != gt.shape:
        raise EvalError(f"pred shape {pred.shape} does not match gt shape {gt.shape}")
    if visible.shape != gt.shape[:2]:
        raise EvalError(f"visible must be {gt.shape[:2]}, got {visible.shape}")
    return pred, gt, visible


def head_sizes(headbox: np.ndarray) -> np.ndarray:
    """``SC_BIAS * ||(x2 - x1, y2 - y1)||`` for (N, 4) boxes ``[x1, y1, x2, y2]``."""
    hb = np.asarray(headbox, dtype=np.float64)
    if hb.ndim != 2 or hb.shape[1] != 4:
        raise EvalError(f"headbox must be (N, 4) [x1, y1, x2, y2], got shape {hb.shape}")
    return SC_BIAS * np.hypot(hb[:, 2] - hb[:, 0], hb[:, 3] - hb[:, 1])


def normalised_errors(pred, gt, visible, headbox) -> np.ndarray:
    """(N, J) error / head size; NaN for joints that are not visible in the ground truth,
    +inf for visible joints without a (finite) prediction."""
    pred, gt, visible = _check_arrays(pred, gt, visible)
    hs = head_sizes(headbox)
    if hs.shape[0] != gt.shape[0]:
        raise EvalError(f"headbox has {hs.shape[0]} rows for {gt.shape[0]} people")
    return _normalise(pred, gt, visible, hs)


def _normalise(pred, gt, visible, size) -> np.ndarray:
    err = np.linalg.norm(pred - gt, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = err / size[:, None]
    e[~np.isfinite(e)] = np.inf  # missing prediction or zero-size normaliser
    e[~visible] = np.nan
    return e


def _result_from_errors(e: np.ndarray, thr: float, normalisation: str,
                        names: Sequence[str] = MPII14.names, auc: float = float("nan")) -> PCKhResult:
    vis = ~np.isnan(e)
    with np.errstate(invalid="ignore"):
        correct = vis & (np.nan_to_num(e, nan=np.inf) <= thr)
    n_vis = vis.sum(axis=0)
    n_cor = correct.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_joint = 100.0 * n_cor / n_vis
    groups = {}
    gidx = _group_indices(list(names))
    for g, idx in gidx.items():
        if g == "ubody":  # pooled, as computePCK's upper-body column
            v, c = n_vis[list(idx)].sum(), n_cor[list(idx)].sum()
            groups[g] = float(100.0 * c / v) if v > 0 else float("nan")
        else:  # plain mean, as genTablePCK: (pck(r) + pck(l)) / 2
            groups[g] = float(np.mean(per_joint[list(idx)]))
    total = 100.0 * n_cor.sum() / n_vis.sum() if n_vis.sum() > 0 else float("nan")
    return PCKhResult(threshold=float(thr), normalisation=normalisation, joint_names=tuple(names),
                      per_joint=per_joint.astype(np.float64), groups=groups, total=float(total),
                      num_visible=n_vis, num_correct=n_cor, auc=float(auc))


def _curve_from_errors(e: np.ndarray, thresholds, names) -> PCKhCurve:
    thresholds = np.asarray(thresholds, dtype=np.float64)
    vis = ~np.isnan(e)
    ef = np.nan_to_num(e, nan=np.inf)
    n_vis = vis.sum(axis=0)
    per_joint = np.empty((len(thresholds), e.shape[1]))
    total = np.empty(len(thresholds))
    for t, thr in enumerate(thresholds):
        n_cor = (vis & (ef <= thr)).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_joint[t] = 100.0 * n_cor / n_vis
        total[t] = 100.0 * n_cor.sum() / n_vis.sum() if n_vis.sum() > 0 else np.nan
    return PCKhCurve(thresholds=thresholds, per_joint=per_joint, total=total,
                     auc=area_under_curve(thresholds, total), joint_names=tuple(names))


def area_under_curve(thresholds, values) -> float:
    """MPII's ``area_under_curve(scale01(range), values)``: the area under the
    piecewise-linear curve through (thresholds scaled to [0, 1], values), i.e. the
    trapezoid rule (MATLAB integrates the linear interpolation with quadgk); NaN for fewer
    than two distinct thresholds. For 0:0.01:0.5 it is ``(sum - (first + last) / 2) / 50``,
    not the mean of the 51 values."""
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    t, first = np.unique(t, return_index=True)
    y = y[first]
    if len(t) < 2:
        return float("nan")
    x = (t - t[0]) / (t[-1] - t[0])  # scale01
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def compute_pckh(pred, gt, visible, headbox, thr: float = PCKH_THRESHOLD,
                 joint_names: Sequence[str] = MPII14.names) -> PCKhResult:
    """MPII PCKh at ``thr`` for (N, J, 2) ``pred``/``gt``, (N, J) ``visible``, (N, 4)
    ``headbox`` ``[x1, y1, x2, y2]``. ``auc`` is filled with the AUC over 0:0.01:0.5."""
    e = normalised_errors(pred, gt, visible, headbox)
    names = _names_for(joint_names, e.shape[1])
    auc = _curve_from_errors(e, CURVE_THRESHOLDS, names).auc
    return _result_from_errors(e, thr, "head", names, auc)


def pckh_curve(pred, gt, visible, headbox, thresholds=CURVE_THRESHOLDS,
               joint_names: Sequence[str] = MPII14.names) -> PCKhCurve:
    """PCKh over ``thresholds`` (default 0:0.01:0.5) with MPII's AUC (percent; see
    :func:`area_under_curve`)."""
    e = normalised_errors(pred, gt, visible, headbox)
    return _curve_from_errors(e, thresholds, _names_for(joint_names, e.shape[1]))


def compute_bbox_pck(pred, gt, visible, thr: float = BBOX_PCK_THRESHOLD,
                     joint_names: Sequence[str] = MPII14.names) -> PCKhResult:
    """Bounding-box PCK (the model-zoo port's metric; NOT PCKh).

    A joint is correct when ``||pred - gt|| <= thr * max(w, h)``, where ``w, h`` span the
    person's visible ground-truth joints. People with fewer than two distinct visible
    joints (zero-size box) are left out.
    """
    pred, gt, visible = _check_arrays(pred, gt, visible)
    g = np.where(visible[..., None], gt, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        span = np.nanmax(g, axis=1) - np.nanmin(g, axis=1)  # (N, 2)
        size = np.nanmax(span, axis=1)
    size = np.where(np.isfinite(size) & (size > 0), size, np.nan)
    vis = visible & np.isfinite(size)[:, None]
    dropped = int((visible.any(axis=1) & ~np.isfinite(size)).sum())
    if dropped:
        log.info("bbox PCK: %d people with a zero-size joint box left out", dropped)
    e = _normalise(pred, gt, vis, np.nan_to_num(size, nan=0.0))
    return _result_from_errors(e, thr, "bbox", _names_for(joint_names, e.shape[1]))


def _names_for(names: Sequence[str], j: int) -> tuple[str, ...]:
    if len(names) == j:
        return tuple(names)
    return tuple(f"joint{i}" for i in range(j))


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------
@dataclass
class GTRecords:
    """Ground-truth people in MPII14 order. ``person`` is the annorect index (or None)."""

    images: list[str]
    persons: list[int | None]
    joints: np.ndarray  # (N, 14, 2)
    visible: np.ndarray  # (N, 14) bool
    headbox: np.ndarray  # (N, 4) x1 y1 x2 y2, NaN when unknown

    def __len__(self) -> int:
        return len(self.images)


def _to_mpii14(arr: np.ndarray, what: str) -> np.ndarray:
    """Map (..., 16, C) MPII arrays to the 14 ArtTrack joints; pass (..., 14, C) through."""
    j = arr.shape[-2] if arr.ndim >= 2 else -1
    if j == 14:
        return arr
    if j == 16:
        return arr[..., list(MPII14_FROM_MPII16), :]
    raise EvalError(f"{what}: expected 14 (ArtTrack) or 16 (MPII) joints, got {j}")


def _float_array(x: Any, what: str) -> np.ndarray:
    """Nested lists with None -> float array with NaN."""
    try:
        if isinstance(x, list):
            width = next((len(r) for r in x if isinstance(r, list)), None)
            x = [[np.nan if v is None else v for v in row] if isinstance(row, list) else
                 ([np.nan] * width if width is not None else np.nan) if row is None else row
                 for row in x]
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EvalError(f"{what}: not a numeric array ({exc})") from None


def _json_records(path: str | Path, what: str, containers: Sequence[str]) -> list[dict]:
    """The records of a ground-truth or prediction JSON file: a list, or a dict holding the
    list under one of ``containers``; each record a dict with ``joints``."""
    data = read_json(path, f"{what} file")
    if isinstance(data, dict):
        for k in containers:
            if isinstance(data.get(k), list):
                data = data[k]
                break
    if not isinstance(data, list):
        raise EvalError(f"{path}: expected a JSON list of {what} records")
    for i, rec in enumerate(data):
        if not isinstance(rec, dict) or "joints" not in rec:
            raise EvalError(f"{path}: {what} record {i} has no 'joints'")
    return data


def _record_joints(path: str | Path, i: int, rec: dict) -> np.ndarray:
    """A record's (J, 2) joint positions (extra columns, e.g. scores, dropped; null = NaN)."""
    j = _float_array(rec["joints"], f"{path} record {i} joints")
    if j.ndim != 2 or j.shape[1] < 2:
        raise EvalError(f"{path}: record {i} joints must be (J, 2) or (J, 3), got {j.shape}")
    return j[:, :2]


def _record_image(rec: dict) -> str:
    return str(rec.get("image", ""))


def _record_person(rec: dict) -> int | None:
    return int(rec["person"]) if rec.get("person") is not None else None


def load_gt_json(path: str | Path) -> GTRecords:
    """Ground truth from JSON: a list of records
    ``{"image": str, "joints": (J, 2), "joints_vis": (J,), "headbox": [x1, y1, x2, y2],
    "person": int (optional)}`` with J = 14 (ArtTrack order) or 16 (MPII order).
    Several records may share an image; predictions are matched to them by order, or by
    (image, person) when both sides carry ``person``."""
    data = _json_records(path, "ground-truth", ("annotations", "records", "annolist"))
    images, persons, joints, vis, hbs = [], [], [], [], []
    for i, rec in enumerate(data):
        j = _record_joints(path, i, rec)
        v = rec.get("joints_vis")
        v = np.ones(len(j)) if v is None else _float_array(v, f"{path} record {i} joints_vis")
        v = np.asarray(v).reshape(-1)
        if v.shape[0] != j.shape[0]:
            raise EvalError(f"{path}: record {i} has {j.shape[0]} joints but {v.shape[0]} joints_vis")
        hb = rec.get("headbox", rec.get("head_box"))
        if hb is None:
            raise EvalError(f"{path}: record {i} has no 'headbox' [x1, y1, x2, y2]; PCKh needs "
                            "MPII head boxes (the common MPII JSON conversion drops them)")
        hb = _float_array(hb, f"{path} record {i} headbox").reshape(-1)
        if hb.shape != (4,):
            raise EvalError(f"{path}: record {i} headbox must be [x1, y1, x2, y2]")
        jv = np.concatenate([j, v[:, None]], axis=1)
        jv = _to_mpii14(jv, f"{path} record {i}")
        images.append(_record_image(rec))
        persons.append(_record_person(rec))
        joints.append(jv[:, :2])
        vis.append((jv[:, 2] > 0) & np.all(np.isfinite(jv[:, :2]), axis=1))
        hbs.append(hb)
    n = len(images)
    return GTRecords(images, persons,
                     np.asarray(joints, dtype=np.float64).reshape(n, 14, 2),
                     np.asarray(vis, dtype=bool).reshape(n, 14),
                     np.asarray(hbs, dtype=np.float64).reshape(n, 4))


# ---- the official .mat ----------------------------------------------------------------
def _scalar(x: Any) -> float | None:
    """A MATLAB numeric/char scalar (possibly empty, 0-d, 1-element or a string)."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        if x.size == 0:
            return None
        if x.size != 1:
            return None
        x = x.reshape(-1)[0]
    if isinstance(x, (bytes, str)):
        s = x.decode() if isinstance(x, bytes) else x
        s = s.strip()
        if not s:
            return None
        try:
            return float(s)
        except ValueError:
            return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _image_name(ann: Any) -> str:
    img = getattr(ann, "image", None)
    for im in struct_list(img):
        name = getattr(im, "name", None)
        if isinstance(name, np.ndarray):
            name = name.item() if name.size == 1 else ""
        if isinstance(name, (str, bytes)):
            return name.decode() if isinstance(name, bytes) else name
    return ""


def load_mpii_mat(path: str | Path, split: str = "all", images: Sequence[str] | None = None,
                  visible_only: bool = False, single_person: bool | None = None) -> GTRecords:
    """People from the official ``mpii_human_pose_v1_u12_1.mat``.

    One record per annorect that has a head box (x1 y1 x2 y2) and annopoints, in
    annolist order then annorect order; ``person`` is the annorect index (0-based).

    split: ``"all"``, ``"train"`` (img_train == 1) or ``"test"``/``"val"`` (img_train == 0;
    note the public release has no joints for its test images). ``images``: keep only
    these image names (e.g. a validation list), applied after ``split``.

    single_person: keep only the people of ``RELEASE.single_person`` that have an
    ``objpos``, the subset MPII's ``evaluatePCKh.m`` evaluates; default (None): on for
    ``split="test"`` (the benchmark's test-set rule), off otherwise.

    A joint is evaluated when it is annotated (present in annopoints.point; the first
    point of an id), as in MPII's own evaluation; ``visible_only=True`` also requires
    ``is_visible == 1`` (an empty is_visible is read as visible, ``"0"``/``0`` as not
    visible).
    """
    p = Path(path)
    try:
        rel = load_release(p, fields=("annolist",))
    except ValueError as exc:
        raise EvalError(str(exc)) from None
    annolist = struct_list(rel.annolist)
    img_train = np.atleast_1d(np.asarray(getattr(rel, "img_train", np.ones(len(annolist))))).reshape(-1)
    if split not in ("all", "train", "test", "val"):
        raise EvalError(f"unknown split {split!r}: all, train or test")
    keep_names = set(images) if images is not None else None
    if single_person is None:
        single_person = split == "test"
    singles = struct_list(getattr(rel, "single_person", None)) if single_person else []
    if single_person and len(singles) != len(annolist):
        log.warning("%s: RELEASE.single_person %s; MPII's single-person subset cannot be "
                    "applied: every annotated person is evaluated", p,
                    "is missing" if not singles else f"has {len(singles)} entries for "
                                                     f"{len(annolist)} images")
        single_person = False

    names_out, persons, joints, vis, hbs = [], [], [], [], []
    mpii_to_14 = {m: k for k, m in enumerate(MPII14_FROM_MPII16)}
    for i, ann in enumerate(annolist):
        if split != "all" and i < len(img_train):
            is_train = int(_scalar(img_train[i]) or 0) == 1
            if (split == "train") != is_train:
                continue
        name = _image_name(ann)
        if keep_names is not None and name not in keep_names:
            continue
        wanted = None
        if single_person:
            sp = np.atleast_1d(np.asarray(singles[i], dtype=object)).reshape(-1)
            wanted = {int(_scalar(v)) - 1 for v in sp if _scalar(v) is not None}
        for r, rect in enumerate(struct_list(getattr(ann, "annorect", None))):
            if wanted is not None and (r not in wanted or not _has_objpos(rect)):
                continue
            box = [_scalar(getattr(rect, k, None)) for k in ("x1", "y1", "x2", "y2")]
            if any(b is None for b in box):
                continue
            pts = []
            for ap in struct_list(getattr(rect, "annopoints", None)):
                pts.extend(struct_list(getattr(ap, "point", None)))
            if not pts:
                continue
            j = np.full((14, 2), np.nan)
            v = np.zeros(14, dtype=bool)
            seen: set[int] = set()
            for pt in pts:
                pid = _scalar(getattr(pt, "id", None))
                x, y = _scalar(getattr(pt, "x", None)), _scalar(getattr(pt, "y", None))
                if pid is None or x is None or y is None or int(pid) not in mpii_to_14:
                    continue
                k = mpii_to_14[int(pid)]
                if k in seen:  # MPII's util_get_annopoint_by_id: the first point of an id
                    continue
                seen.add(k)
                j[k] = (x - MATLAB_OFFSET, y - MATLAB_OFFSET)  # 1-based in the .mat
                if visible_only:
                    iv = _scalar(getattr(pt, "is_visible", None))
                    v[k] = iv is None or iv > 0
                else:
                    v[k] = True
            names_out.append(name)
            persons.append(r)
            joints.append(j)
            vis.append(v)
            hbs.append([b - MATLAB_OFFSET for b in box])
    n = len(names_out)
    log.info("MPII .mat: %d people from %d images (split=%s)", n, len(set(names_out)), split)
    return GTRecords(names_out, persons, np.asarray(joints, dtype=np.float64).reshape(n, 14, 2),
                     np.asarray(vis, dtype=bool).reshape(n, 14),
                     np.asarray(hbs, dtype=np.float64).reshape(n, 4))


def _has_objpos(rect: Any) -> bool:
    """A non-empty ``objpos`` (MPII's flatten_annolist keeps only such people)."""
    op = getattr(rect, "objpos", None)
    if op is None or (isinstance(op, np.ndarray) and op.size == 0):
        return False
    return _scalar(getattr(op, "x", None)) is not None and _scalar(getattr(op, "y", None)) is not None


def read_image_list(path: str | Path) -> list[str]:
    """Image names from a text file (one a line) or a JSON list."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        data = read_json(p, "image list")
        if not isinstance(data, list):
            raise EvalError(f"{p}: expected a JSON list of image names")
        return [str(x) for x in data]
    if not p.is_file():
        raise EvalError(f"image list not found: {p}")
    return [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]


# ---- predictions ----------------------------------------------------------------------
@dataclass
class Predictions:
    images: list[str] | None
    persons: list[int | None] | None
    joints: np.ndarray  # (N, 14, 2), NaN = missing


def load_predictions(path: str | Path, key: str | None = None) -> Predictions:
    """Predictions from JSON records ``{"image", "joints": (J, 2|3), "person"?}`` (null =
    missing joint) or from a .mat with an (N, J, 2|3) array (``key``, default ``joints``
    or the only such array), ordered like the ground-truth records."""
    p = Path(path)
    if not p.is_file():
        raise EvalError(f"prediction file not found: {p}")
    if p.suffix.lower() == ".mat":
        try:
            from scipy.io import loadmat
            mat = loadmat(str(p))
        except Exception as exc:
            raise EvalError(f"cannot read prediction .mat {p}: {exc}") from None
        cands = {k: v for k, v in mat.items() if not k.startswith("__") and isinstance(v, np.ndarray)
                 and v.ndim == 3 and v.shape[-1] in (2, 3) and v.dtype.kind in "fiu"}
        if key is not None:
            if key not in mat:
                raise EvalError(f"{p}: no key {key!r} (keys: {sorted(k for k in mat if not k.startswith('__'))})")
            if key not in cands:
                raise EvalError(f"{p}: {key!r} is not an (N, J, 2|3) numeric array")
            arr = cands[key]
        elif "joints" in cands:
            arr = cands["joints"]
        elif len(cands) == 1:
            arr = next(iter(cands.values()))
        else:
            raise EvalError(f"{p}: cannot tell which array holds the predictions "
                            f"(candidates: {sorted(cands)}); pass --pred-key")
        arr = _to_mpii14(np.asarray(arr, dtype=np.float64)[..., :2], f"{p}")
        return Predictions(None, None, arr)
    data = _json_records(p, "prediction", ("predictions", "annotations", "records"))
    images, persons, joints = [], [], []
    for i, rec in enumerate(data):
        joints.append(_to_mpii14(_record_joints(p, i, rec), f"{p} record {i}"))
        images.append(_record_image(rec))
        persons.append(_record_person(rec))
    n = len(joints)
    return Predictions(images, persons, np.asarray(joints, dtype=np.float64).reshape(n, 14, 2))


def align_predictions(gt: GTRecords, pred: Predictions) -> np.ndarray:
    """(N, 14, 2) predictions in ground-truth record order.

    By (image, person) when every record on both sides has ``person``; a ground-truth
    person without a prediction gets NaN (all its joints count as wrong). Otherwise by
    order: the counts must agree and, where both sides name images, the names must too.
    """
    keyed = (pred.persons is not None and len(gt) > 0 and all(q is not None for q in pred.persons)
             and all(q is not None for q in gt.persons))
    if keyed:
        lut: dict[tuple[str, int], int] = {}
        for i, (im, q) in enumerate(zip(pred.images or [], pred.persons)):
            if (im, q) in lut:
                raise EvalError(f"duplicate prediction for image {im!r} person {q}")
            lut[(im, q)] = i
        out = np.full((len(gt), 14, 2), np.nan)
        missing = 0
        for i, (im, q) in enumerate(zip(gt.images, gt.persons)):
            k = lut.get((im, q))
            if k is None:
                missing += 1
            else:
                out[i] = pred.joints[k]
        if missing:
            log.warning("%d of %d ground-truth people have no prediction (counted as wrong)",
                        missing, len(gt))
        return out
    if len(pred.joints) != len(gt):
        raise EvalError(f"{len(pred.joints)} predictions for {len(gt)} ground-truth people; "
                        "predictions must follow the ground-truth order (or give 'person' on both sides)")
    if pred.images is not None:
        for i, (a, b) in enumerate(zip(gt.images, pred.images)):
            if a and b and a != b:
                raise EvalError(f"prediction {i} is for image {b!r} but ground truth {i} is {a!r}")
    return pred.joints


# --------------------------------------------------------------------------------------
# printing
# --------------------------------------------------------------------------------------
def format_result(res: PCKhResult, label: str) -> str:
    header = [label] + [g.capitalize() for g in res.groups] + ["Total"]
    vals = list(res.groups.values()) + [res.total]
    if not np.isnan(res.auc):
        header.append("AUC")
        vals.append(res.auc)
    return table(header, [("", vals)])


def evaluate_files(gt_path: str | Path, pred_path: str | Path, *, split: str = "all",
                   image_list: str | Path | None = None, visible_only: bool = False,
                   pred_key: str | None = None, thr: float = PCKH_THRESHOLD,
                   bbox_thr: float = BBOX_PCK_THRESHOLD,
                   single_person: bool | None = None) -> tuple[PCKhResult, PCKhResult, int]:
    """Load both files and return (PCKh result, bbox-PCK result, number of people).
    ``single_person``: see :func:`load_mpii_mat` (.mat ground truth only)."""
    images = read_image_list(image_list) if image_list else None
    if str(gt_path).lower().endswith(".mat"):
        gt = load_mpii_mat(gt_path, split=split, images=images, visible_only=visible_only,
                           single_person=single_person)
    else:
        gt = load_gt_json(gt_path)
        if images is not None:
            wanted = set(images)
            keep = [i for i, im in enumerate(gt.images) if im in wanted]
            gt = GTRecords([gt.images[i] for i in keep], [gt.persons[i] for i in keep],
                           gt.joints[keep], gt.visible[keep], gt.headbox[keep])
    if len(gt) == 0:
        raise EvalError(f"{gt_path}: no ground-truth people with head boxes and joints")
    pred = align_predictions(gt, load_predictions(pred_path, key=pred_key))
    res = compute_pckh(pred, gt.joints, gt.visible, gt.headbox, thr=thr)
    bres = compute_bbox_pck(pred, gt.joints, gt.visible, thr=bbox_thr)
    return res, bres, len(gt)
