"""Prediction over the dataset of an experiment config (what ``python -m arttrack.predict``
runs; the command's help says what it writes).

Single person (``dataset_type: mpii`` or ``synthetic``; PCKh)
    :func:`single_person_items`: one item per annotated person; MPII records are cropped
    and rescaled exactly as for training (:mod:`arttrack.data.mpii`: crop around the
    person, ``base_scale`` so the head is ~50 px, times ``global_scale``, capped by
    ``max_input_size``); synthetic images (the held-out seed of
    :func:`arttrack.models.factory.build_source` for ``split="val"``) are used whole when
    they hold one person, else cropped around each person like MPII.
    :func:`predict_single_person` returns records ``{"image", "person", "joints" (J, 2)
    (null = missing), "joint_scores" (J,), "score"}`` in ORIGINAL image coordinates (mapped
    back with :func:`arttrack.inference.to_original`) and the matching ground truth
    ``{"image", "person", "joints", "joints_vis", "headbox"}``; "person" is the MPII
    annorect index (synthetic: the person's index in the image).

Multi person (``dataset_type: coco``; COCO keypoint AP)
    :func:`annotated_images`: every image rescaled by ``global_scale`` (capped by
    ``max_input_size``); :func:`predict_multi_person` decodes them with
    :func:`arttrack.postprocess.pipeline.maps_to_people` and a spatial model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["PersonItem", "annotated_images", "predict_multi_person", "predict_single_person",
           "single_person_items"]


@dataclass
class PersonItem:
    """One person to predict: the network input and how to map back to the original.

    ``image`` is the (cropped, rescaled) RGB input; original = ``to_original(pred, ratio,
    offset)``. ``joints`` (J, 3) and ``headbox`` (4,) are the ground truth in ORIGINAL
    coordinates (headbox NaN when unknown).
    """

    name: str
    person: int
    image: np.ndarray
    ratio: tuple[float, float]
    offset: tuple[float, float]
    joints: np.ndarray
    headbox: np.ndarray


# ----------------------------------------------------------------------------- data
def _scale_joints(joints: np.ndarray, rx: float, ry: float) -> np.ndarray:
    """(..., J, 3) joints into a resized image (pixel-centre convention; unlabeled stay 0)."""
    out = np.array(joints, dtype=np.float32, copy=True)
    lab = out[..., 2] > 0
    out[..., 0] = np.where(lab, (out[..., 0] + 0.5) * rx - 0.5, 0.0)
    out[..., 1] = np.where(lab, (out[..., 1] + 0.5) * ry - 0.5, 0.0)
    return out


def _prepare(image: np.ndarray, box: Optional[tuple[int, int, int, int]], factor: float,
             cfg: Any) -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    from arttrack.inference import rescale_image

    x0 = y0 = 0
    if box is not None:
        h, w = image.shape[:2]
        x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"crop box {box} does not overlap the {w}x{h} image")
        image = np.ascontiguousarray(image[y0:y1, x0:x1])
    out, ratio = rescale_image(image, factor, cfg.max_input_size or None)
    return out, ratio, (float(x0), float(y0))


def _mpii_person_index(cfg: Any) -> dict[str, list[tuple[np.ndarray, int]]]:
    """image name -> [(head box, annorect index)], from the evaluation's .mat reader."""
    from arttrack.eval.pckh import load_mpii_mat as load_gt

    gt = load_gt(cfg.dataset, split="all")
    out: dict[str, list[tuple[np.ndarray, int]]] = {}
    for im, p, hb in zip(gt.images, gt.persons, gt.headbox):
        out.setdefault(im, []).append((np.asarray(hb, np.float64), int(p)))
    return out


def _find_person(index: dict[str, list[tuple[np.ndarray, int]]], name: str,
                 headbox: np.ndarray) -> int:
    best, dist = -1, 0.05  # px; the two readers store the same numbers (float32 vs float64)
    for hb, p in index.get(name, []):
        d = float(np.max(np.abs(hb - headbox))) if np.all(np.isfinite(headbox)) else np.inf
        if d < dist:
            best, dist = p, d
    return best


def single_person_items(cfg: Any, split: str = "val", num: Optional[int] = None
                        ) -> Iterator[PersonItem]:
    """People of the config's dataset prepared for single-person prediction (module doc)."""
    from arttrack.data.mpii import DEFAULT_CROP_MARGIN, person_crop_box
    from arttrack.data.pipeline import load_image

    count = 0
    if cfg.dataset_type == "mpii":
        from arttrack.models.factory import build_records

        records = build_records(cfg, split)
        index = _mpii_person_index(cfg)
        for rec in records:
            if num is not None and count >= num:
                return
            name = Path(rec.image_path).name
            hb = (np.asarray(rec.head_boxes, np.float64).reshape(-1, 4)[0]
                  if rec.head_boxes is not None else np.full(4, np.nan))
            person = _find_person(index, name, hb)
            if person < 0:
                logger.warning("%s: person not found in the evaluation's reader; 'person' "
                               "left out", name)
            image = load_image(rec.image_path)
            inp, ratio, off = _prepare(image, rec.crop_box,
                                       rec.base_scale * cfg.global_scale, cfg)
            yield PersonItem(name, person, inp, ratio, off, rec.joints[0], hb)
            count += 1
        return
    if cfg.dataset_type == "synthetic":
        from arttrack.models import factory
        from arttrack.joints import get_joint_set

        js = get_joint_set(cfg.joint_set)
        if js.name != "mpii14":
            raise ValueError("single-person prediction (PCKh) needs joint_set: mpii14; "
                             f"this config has {js.name}")
        ds = factory.build_source(cfg, "train" if split == "train" else "val").inner
        for i in range(len(ds)):
            scene = ds.scene(i)
            people = [p for p in scene.people if p.in_image and (p.keypoints(js)[:, 2] > 0).any()]
            h, w = scene.image.shape[:2]
            for k, p in enumerate(people):
                if num is not None and count >= num:
                    return
                joints = p.keypoints(js)
                box = None
                if len(people) > 1:
                    box = person_crop_box(joints, None, cfg.global_scale, (h, w),
                                          DEFAULT_CROP_MARGIN)
                inp, ratio, off = _prepare(scene.image, box, cfg.global_scale, cfg)
                yield PersonItem(f"synthetic_{split}_{i:06d}.jpg", k, inp, ratio, off, joints,
                                 p.head_box().astype(np.float64))
                count += 1
        return
    raise ValueError(f"single-person prediction reads dataset_type mpii or synthetic, not "
                     f"{cfg.dataset_type!r} (use --task multi for COCO data)")


def annotated_images(cfg: Any, split: str = "train", num: Optional[int] = None
                     ) -> Iterator[tuple[Any, np.ndarray, np.ndarray, tuple[float, float]]]:
    """Whole images of the config's dataset, rescaled by ``global_scale`` (capped by
    ``max_input_size``), with their ground truth in the rescaled image's pixels.

    Yields ``(image_id, image, people (P, J, 3), ratio)``. COCO: every image of the
    annotation file, also those without people; synthetic: the split's images; MPII:
    the single-person crops (one person each).
    """
    n = 0
    if cfg.dataset_type == "coco":
        from arttrack.data.coco import load_coco
        from arttrack.data.pipeline import load_image

        if not cfg.dataset or not Path(cfg.dataset).is_file():
            raise ValueError(f"dataset: COCO annotation file {cfg.dataset!r} not found")
        for rec in load_coco(cfg.dataset, cfg.image_dir or None, skip_empty=False):
            if num is not None and n >= num:
                return
            image, ratio, _ = _prepare(load_image(rec.image_path), None, cfg.global_scale, cfg)
            yield rec.image_id, image, _scale_joints(rec.joints, *ratio), ratio
            n += 1
        return
    if cfg.dataset_type == "synthetic":
        from arttrack.models import factory

        src = factory.build_source(cfg, "train" if split == "train" else "val")
        for i in range(len(src)):
            if num is not None and n >= num:
                return
            img, joints, _ = src[i]
            image, ratio, _ = _prepare(img, None, cfg.global_scale, cfg)
            yield i, image, _scale_joints(np.asarray(joints, np.float32), *ratio), ratio
            n += 1
        return
    for item in single_person_items(cfg, split, num):
        j = item.joints.copy()
        lab = j[:, 2] > 0
        j[lab, 0] -= item.offset[0]
        j[lab, 1] -= item.offset[1]
        yield item.name, item.image, _scale_joints(j[None], *item.ratio), item.ratio


# ----------------------------------------------------------------------------- predict
def _chunks(it: Iterator[Any], size: int) -> Iterator[list[Any]]:
    buf: list[Any] = []
    for x in it:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _progress(total: Optional[int], desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=None)


def predict_single_person(predictor: Any, items: Iterator[PersonItem], *, use_locref: bool = True,
                          total: Optional[int] = None) -> tuple[list[dict], list[dict]]:
    """(prediction records, ground-truth records) in the same order (module docstring)."""
    from arttrack.inference import to_original

    preds: list[dict] = []
    gts: list[dict] = []
    bar = _progress(total, "predict")
    for chunk in _chunks(items, predictor.batch_size):
        poses = predictor.predict_single_batch([c.image for c in chunk], use_locref=use_locref)
        for it, pose in zip(chunk, poses):
            orig = to_original(pose, it.ratio, it.offset)
            rec: dict[str, Any] = {"image": it.name}
            if it.person >= 0:
                rec["person"] = int(it.person)
            rec.update(joints=orig[:, :2].tolist(), joint_scores=orig[:, 2].tolist(),
                       score=float(np.mean(orig[:, 2])))
            preds.append(rec)
            lab = it.joints[:, 2] > 0
            gj = np.where(lab[:, None], it.joints[:, :2], np.nan).astype(np.float64)
            g: dict[str, Any] = {"image": it.name}
            if it.person >= 0:
                g["person"] = int(it.person)
            g.update(joints=gj.tolist(), joints_vis=lab.astype(int).tolist(),
                     headbox=np.asarray(it.headbox, np.float64).tolist())
            gts.append(g)
        bar.update(len(chunk))
    bar.close()
    return preds, gts


def predict_multi_person(predictor: Any, images: Iterator[Any], spatial_model: Any, *,
                         settings: Any = None, total: Optional[int] = None
                         ) -> dict[Any, np.ndarray]:
    """image_id -> (P, J, 3) people in ORIGINAL coordinates (NaN for missing joints)."""
    from arttrack.inference import to_original
    from arttrack.postprocess.pipeline import maps_to_people

    settings = predictor.resolve_settings(settings)
    out: dict[Any, np.ndarray] = {}
    bar = _progress(total, "predict")
    for chunk in _chunks(images, predictor.batch_size):
        maps = predictor.maps([c[1] for c in chunk])
        for (image_id, _, _, ratio), m in zip(chunk, maps):
            if m.pairwise is None:
                raise ValueError("multi-person prediction needs a network with the pairwise "
                                 "head (pairwise_predict: true)")
            people = maps_to_people(m.part, m.locref, m.pairwise, spatial_model, settings)
            out[image_id] = to_original(people, ratio).astype(np.float32)
        bar.update(len(chunk))
    bar.close()
    return out
