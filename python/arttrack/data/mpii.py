"""MPII Human Pose readers: the official ``.mat`` release and the common JSON conversion.

Both produce :class:`~arttrack.data.records.PoseRecord` objects in the 14-joint ArtTrack
order (:data:`arttrack.joints.MPII14`), mapped from the 16 MPII ids with
:data:`arttrack.joints.MPII14_FROM_MPII16` (pelvis, thorax are dropped; upper neck becomes
``chin``, head top ``forehead``).

Rescaling rule (single person, DeeperCut style)
-----------------------------------------------
MPII's ``scale`` is the person height divided by 200 px, and it is computed from the head:
``scale = 6 * |upper_neck - head_top| / 200`` (checked on real annotations: the ratio is
exactly 1/6 on every sample). Each person is resized by::

    base_scale = target_height / (200 * scale)        # default target_height = 300

so that a person of MPII scale 1 (200 px) becomes ``target_height`` px tall and the
head segment becomes ``target_height / 6`` = 50 px. (DeeperCut pre-rescaled to 400 px and
then trained with ``global_scale`` 0.845, i.e. about 338 px / a 56 px head.) The training
``global_scale`` and jitter are applied on top of ``base_scale`` by the augmentation.

Crop: the box around the person's labeled joints and ``objpos``, grown on every side by
``crop_margin`` pixels of the RESCALED image (default 65, i.e. ``65 / base_scale``
original pixels), clipped to the image. Joints stay in original image coordinates in
the record; the crop and ``base_scale`` are applied when the sample is loaded.

Coordinates
-----------
The official ``.mat`` stores MATLAB (1-based) pixel coordinates; the reader subtracts 1
(:data:`MATLAB_OFFSET`) from joints, ``objpos`` and head boxes so every record uses the
package-wide 0-based convention (integer = pixel centre). The JSON conversion is already
0-based.

Train / validation split
------------------------
Only images with ``img_train == 1`` and only their single-person rectangles
(``RELEASE.single_person``) that carry annotated points are used. The split is by IMAGE
(all rectangles of an image go to the same side): either an explicit list of image names
(``val_images``: an iterable or a text file with one name per line) or, when none is given,
a seeded split: the sorted list of training image names is permuted with
``numpy.random.default_rng(seed)`` and the first ``round(val_fraction * n)`` form the
validation set (defaults ``seed=0``, ``val_fraction=0.05``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from arttrack.joints import MPII14, MPII14_FROM_MPII16
from arttrack.data.records import VISIBLE, OCCLUDED, PoseRecord, as_joints

logger = logging.getLogger(__name__)

# The official .mat uses 1-based (MATLAB) pixel coordinates.
MATLAB_OFFSET = 1.0

PathLike = Union[str, os.PathLike]

NUM_MPII16 = 16
DEFAULT_TARGET_HEIGHT = 300.0
DEFAULT_CROP_MARGIN = 65.0

__all__ = [
    "load_mpii_mat",
    "load_mpii_json",
    "split_train_val",
    "mpii16_to_14",
    "mpii_base_scale",
    "person_crop_box",
    "DEFAULT_TARGET_HEIGHT",
    "DEFAULT_CROP_MARGIN",
    "JOINT_SET",
]


# ----------------------------------------------------------------------------- helpers
def struct_list(x: Any) -> list:
    """A MATLAB struct array as scipy reads it with ``squeeze_me`` (an array of structs, a
    single struct, or empty) -> a python list; the MPII readers' (training and evaluation)
    one way to walk ``annolist``, ``annorect`` and ``point``."""
    if x is None:
        return []
    if isinstance(x, np.ndarray):
        if x.size == 0:
            return []
        return list(x.ravel())
    return [x]


def _is_empty(x: Any) -> bool:
    return x is None or (isinstance(x, np.ndarray) and x.size == 0) or (
        isinstance(x, str) and x.strip() == "")


def _scalar(x: Any, what: str, where: str) -> float:
    if _is_empty(x):
        raise ValueError(f"{where}: {what} is empty")
    try:
        return float(np.asarray(x, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {what} is not a number ({x!r})") from exc


def _visibility(v: Any) -> int:
    """MPII is_visible (empty, int, float, '0'/'1' string) -> our 1/2 convention."""
    if _is_empty(v):
        return VISIBLE  # labeled, visibility unknown -> counted as visible
    if isinstance(v, np.ndarray):
        v = v.ravel()[0]
    if isinstance(v, (bytes, str)):
        v = v.decode() if isinstance(v, bytes) else v
        v = v.strip()
        if v not in ("0", "1"):
            return VISIBLE
        v = int(v)
    return VISIBLE if int(v) != 0 else OCCLUDED


def mpii16_to_14(joints16: np.ndarray) -> np.ndarray:
    """(..., 16, 3) MPII-id-ordered joints -> (..., 14, 3) ArtTrack order."""
    joints16 = np.asarray(joints16, np.float32)
    if joints16.shape[-2] != NUM_MPII16:
        raise ValueError(f"expected 16 MPII joints, got shape {joints16.shape}")
    return joints16[..., list(MPII14_FROM_MPII16), :]


def mpii_base_scale(scale: float, target_height: float = DEFAULT_TARGET_HEIGHT) -> float:
    """Resize factor making a person of MPII ``scale`` ``target_height`` px tall."""
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"MPII scale must be positive, got {scale}")
    return float(target_height) / (200.0 * float(scale))


def person_crop_box(joints: np.ndarray, center: Optional[Sequence[float]], base_scale: float,
                    image_size: Optional[tuple[int, int]],
                    crop_margin: float = DEFAULT_CROP_MARGIN) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) crop in original pixels around one person (see module docstring)."""
    joints = np.asarray(joints, np.float32).reshape(-1, 3)
    pts = joints[joints[:, 2] > 0, :2]
    if center is not None and np.all(np.isfinite(center)) and np.all(np.asarray(center) >= 0):
        pts = np.concatenate([pts, np.asarray(center, np.float32).reshape(1, 2)])
    if len(pts) == 0:
        raise ValueError("cannot crop around a person without labeled joints or centre")
    m = crop_margin / base_scale
    x0 = int(np.floor(pts[:, 0].min() - m))
    y0 = int(np.floor(pts[:, 1].min() - m))
    x1 = int(np.ceil(pts[:, 0].max() + m)) + 1
    y1 = int(np.ceil(pts[:, 1].max() + m)) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    if image_size is not None:
        h, w = image_size
        x1, y1 = min(x1, int(w)), min(y1, int(h))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty crop box {(x0, y0, x1, y1)} (image size {image_size})")
    return x0, y0, x1, y1


def _read_name_list(val_images: Union[PathLike, Iterable[str]]) -> set[str]:
    if isinstance(val_images, (str, os.PathLike)):
        p = Path(val_images)
        if not p.is_file():
            raise ValueError(f"validation list {p} does not exist")
        return {line.strip() for line in p.read_text().splitlines() if line.strip()}
    return {str(v) for v in val_images}


def split_train_val(names: Iterable[str], *, val_fraction: float = 0.05, seed: int = 0,
                    val_images: Union[PathLike, Iterable[str], None] = None
                    ) -> tuple[set[str], set[str]]:
    """Split unique image names into (train, val) sets (see module docstring)."""
    uniq = sorted(set(names))
    if val_images is not None:
        val = _read_name_list(val_images) & set(uniq)
    else:
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        perm = np.random.default_rng(seed).permutation(len(uniq))
        n_val = int(round(val_fraction * len(uniq)))
        val = {uniq[i] for i in perm[:n_val]}
    return set(uniq) - val, val


def _select(records: list[PoseRecord], split: str, **split_kw) -> list[PoseRecord]:
    if split not in ("train", "val", "all"):
        raise ValueError(f"split must be 'train', 'val' or 'all', got {split!r}")
    if split == "all":
        return records
    train, val = split_train_val((Path(r.image_path).name for r in records), **split_kw)
    keep = train if split == "train" else val
    return [r for r in records if Path(r.image_path).name in keep]


def _single_person_record(image_path: str, joints14: np.ndarray, scale: float,
                          center: Optional[np.ndarray], head_box: Optional[np.ndarray],
                          image_size: Optional[tuple[int, int]], image_id: Any, dataset: str,
                          target_height: float, crop_margin: float,
                          crop: bool) -> PoseRecord:
    base = mpii_base_scale(scale, target_height)
    box = person_crop_box(joints14, center, base, image_size, crop_margin) if crop else None
    return PoseRecord(
        image_path=image_path,
        joints=as_joints(joints14[None]),
        image_size=image_size,
        image_id=image_id,
        crop_box=box,
        base_scale=base,
        person_scales=np.array([scale], np.float32),
        centers=None if center is None else np.asarray(center, np.float32).reshape(1, 2),
        head_boxes=None if head_box is None else np.asarray(head_box, np.float32).reshape(1, 4),
        dataset=dataset,
    )


# ----------------------------------------------------------------------------- .mat
def load_release(path: PathLike, fields: Sequence[str] = ("annolist", "img_train")) -> Any:
    """The ``RELEASE`` struct of the official MPII ``.mat`` (loaded with ``squeeze_me``), with
    ``fields`` checked; ValueError naming the file for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"MPII annotation file {path} does not exist")
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), struct_as_record=False, squeeze_me=True)
    except Exception as exc:  # scipy raises several types for non-.mat input
        raise ValueError(f"{path}: cannot be read as a MATLAB .mat file ({exc})") from exc
    if "RELEASE" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"{path}: no RELEASE struct (found variables {keys}); is this "
                         "mpii_human_pose_v1_u12_1.mat?")
    rel = mat["RELEASE"]
    for fld in fields:
        if not hasattr(rel, fld):
            raise ValueError(f"{path}: RELEASE has no field {fld!r}")
    return rel


def _parse_points(annopoints: Any, where: str) -> Optional[np.ndarray]:
    """annopoints -> (16, 3) MPII-ordered joints, or None when the rect has no points."""
    if _is_empty(annopoints) or not hasattr(annopoints, "point"):
        return None
    pts = struct_list(annopoints.point)
    if not pts:
        return None
    out = np.zeros((NUM_MPII16, 3), np.float32)
    for p in pts:
        try:
            jid = int(np.asarray(p.id).ravel()[0])
            x, y = float(np.asarray(p.x).ravel()[0]), float(np.asarray(p.y).ravel()[0])
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: malformed annopoints.point entry ({exc})") from exc
        if not 0 <= jid < NUM_MPII16:
            raise ValueError(f"{where}: joint id {jid} outside 0..15")
        vis = _visibility(getattr(p, "is_visible", None))
        out[jid] = (x - MATLAB_OFFSET, y - MATLAB_OFFSET, vis)
    return out


def load_mpii_mat(path: PathLike, image_root: Optional[PathLike] = None, *,
                  split: str = "train", val_fraction: float = 0.05, seed: int = 0,
                  val_images: Union[PathLike, Iterable[str], None] = None,
                  target_height: float = DEFAULT_TARGET_HEIGHT,
                  crop_margin: float = DEFAULT_CROP_MARGIN, crop: bool = True,
                  image_sizes: Optional[dict[str, tuple[int, int]]] = None) -> list[PoseRecord]:
    """Read the official ``mpii_human_pose_v1_u12_1.mat`` into single-person records.

    Args:
        path: the .mat file.
        image_root: folder of the MPII images (default: ``<mat folder>/images``).
        split: "train", "val" (held out from the training images) or "all" (train + val).
        val_fraction, seed, val_images: the validation split (module docstring).
        target_height, crop_margin, crop: the rescaling and crop rule (module docstring).
        image_sizes: optional {image name: (height, width)} to clip crops; the .mat has
            no image sizes and reading every image header is slow, so crops are only
            clipped at 0 here and at the image border when the image is loaded.

    Returns:
        One :class:`PoseRecord` per annotated single-person rectangle (14 joints).
    """
    path = Path(path)
    rel = load_release(path)
    root = Path(image_root) if image_root is not None else path.parent / "images"
    annolist = struct_list(rel.annolist)
    img_train = np.asarray(rel.img_train).ravel()
    if len(img_train) != len(annolist):
        raise ValueError(f"{path}: RELEASE.img_train has {len(img_train)} entries but "
                         f"annolist has {len(annolist)}")
    single = struct_list(getattr(rel, "single_person", None))
    if single and len(single) != len(annolist):
        raise ValueError(f"{path}: RELEASE.single_person has {len(single)} entries but "
                         f"annolist has {len(annolist)}")
    if not single:
        logger.warning("%s: RELEASE.single_person missing; using every annotated rectangle",
                       path)

    records: list[PoseRecord] = []
    n_skipped = 0
    from tqdm import tqdm

    progress = tqdm(annolist, desc=f"reading {path.name}", leave=False,
                    disable=not sys.stderr.isatty())
    for i, ann in enumerate(progress):
        if int(img_train[i]) != 1:
            continue
        where = f"{path}: annolist[{i}]"
        try:
            name = str(ann.image.name)
        except AttributeError as exc:
            raise ValueError(f"{where}: no image.name") from exc
        rects = struct_list(getattr(ann, "annorect", None))
        if single:
            sp = np.asarray(single[i]).ravel()
            wanted = sorted({int(v) - 1 for v in sp if np.isfinite(v)}) if sp.size else []
        else:
            wanted = list(range(len(rects)))
        size = None if image_sizes is None else image_sizes.get(name)
        for r in wanted:
            if not 0 <= r < len(rects):
                raise ValueError(f"{where}: single_person index {r + 1} but the image has "
                                 f"{len(rects)} rectangles")
            rect = rects[r]
            rwhere = f"{where}.annorect[{r}]"
            j16 = _parse_points(getattr(rect, "annopoints", None), rwhere)
            if j16 is None or not (j16[:, 2] > 0).any():
                n_skipped += 1
                continue
            scale = _scalar(getattr(rect, "scale", None), "scale", rwhere)
            objpos = getattr(rect, "objpos", None)
            center = None
            if not _is_empty(objpos) and hasattr(objpos, "x"):
                center = np.array([_scalar(objpos.x, "objpos.x", rwhere),
                                   _scalar(objpos.y, "objpos.y", rwhere)], np.float32) - MATLAB_OFFSET
            head = None
            if all(hasattr(rect, f) for f in ("x1", "y1", "x2", "y2")):
                head = np.array([_scalar(getattr(rect, f), f, rwhere)
                                 for f in ("x1", "y1", "x2", "y2")], np.float32) - MATLAB_OFFSET
            records.append(_single_person_record(
                str(root / name), mpii16_to_14(j16), scale, center, head, size, i, "mpii",
                target_height, crop_margin, crop))
    if n_skipped:
        logger.info("%s: skipped %d single-person rectangles without points", path, n_skipped)
    out = _select(records, split, val_fraction=val_fraction, seed=seed, val_images=val_images)
    logger.info("%s: %d records (%s split)", path, len(out), split)
    return out


# ----------------------------------------------------------------------------- JSON
def load_mpii_json(path: PathLike, image_root: Optional[PathLike] = None, *,
                   split: str = "all", val_fraction: float = 0.05, seed: int = 0,
                   val_images: Union[PathLike, Iterable[str], None] = None,
                   target_height: float = DEFAULT_TARGET_HEIGHT,
                   crop_margin: float = DEFAULT_CROP_MARGIN, crop: bool = True
                   ) -> list[PoseRecord]:
    """Read the common MPII JSON conversion (a list of {image, center, scale, joints (16,2),
    joints_vis (16)}) into single-person 14-joint records.

    ``joints_vis`` there only says "annotated": annotated joints get visibility 2, the rest
    (stored as (-1, -1)) 0. There are no head boxes. The default split is "all" because
    these files are usually already split (train / valid / test).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"MPII JSON file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    root = Path(image_root) if image_root is not None else path.parent
    records = []
    for i, ent in enumerate(data):
        where = f"{path}: entry {i}"
        try:
            name = str(ent["image"])
            joints = np.asarray(ent["joints"], np.float32)
            vis = np.asarray(ent.get("joints_vis", np.ones(len(joints))), np.float32).ravel()
            scale = float(ent["scale"])
            center = np.asarray(ent["center"], np.float32).reshape(2)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: malformed record ({exc!r})") from exc
        if joints.shape != (NUM_MPII16, 2) or vis.shape != (NUM_MPII16,):
            raise ValueError(f"{where}: joints must be (16, 2) and joints_vis (16,), got "
                             f"{joints.shape} and {vis.shape}")
        lab = (vis > 0) & np.all(joints >= 0, axis=1)
        j16 = np.zeros((NUM_MPII16, 3), np.float32)
        j16[lab, :2] = joints[lab]
        j16[lab, 2] = VISIBLE
        if not lab.any():
            continue
        records.append(_single_person_record(
            str(root / name), mpii16_to_14(j16), scale, center, None, None, i, "mpii_json",
            target_height, crop_margin, crop))
    return _select(records, split, val_fraction=val_fraction, seed=seed, val_images=val_images)


JOINT_SET = MPII14
