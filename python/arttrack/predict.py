"""``python -m arttrack.predict``: run a checkpoint over the dataset of its config.

Single person (``dataset_type: mpii`` or ``synthetic``; PCKh)
    One prediction per annotated person, in ORIGINAL image coordinates. MPII records are
    cropped and rescaled exactly as for training (:mod:`arttrack.data.mpii`: crop around
    the person, ``base_scale`` so the head is ~50 px, times ``global_scale``, capped by
    ``max_input_size``); the joints are mapped back with
    :func:`arttrack.inference.to_original`. Synthetic images (``arttrack.data.synthetic``,
    the held-out seed of :func:`arttrack.factory.build_source` for ``--split val``) are
    used whole when they hold one person, else cropped around each person like MPII.

    Output: a JSON list of records ``{"image", "person", "joints" (J, 2) (null = missing),
    "joint_scores" (J,), "score"}`` that ``python -m arttrack.eval pckh`` reads; "person"
    is the MPII annorect index (synthetic: the person's index in the image), so the
    evaluation matches predictions to ground truth by (image, person).
    ``--gt-out`` writes the matching ground truth (``{"image", "person", "joints",
    "joints_vis", "headbox"}`` for exactly the predicted people, same order) so that::

        python -m arttrack.eval pckh --gt GT.json --pred PRED.json

    evaluates exactly the predicted split (the official .mat also holds people outside
    the split, which would count as missed). For synthetic data ``--gt-out`` defaults to
    ``PRED.gt.json`` (there is no other ground-truth file). PCKh@0.5 is also logged.

Multi person (``dataset_type: coco``; COCO keypoint AP)
    Every image of the COCO file (``dataset``, images under ``image_dir``), rescaled by
    ``global_scale`` (capped by ``max_input_size``), decoded with
    :func:`arttrack.postprocess.pipeline.maps_to_people` and a spatial model
    (``--spatial-model``, from ``python -m arttrack.pairwise fit``); output is a standard
    COCO results file for ``python -m arttrack.eval coco --gt ANN --pred PRED.json``.

Outputs are written under a temporary name and renamed. Errors: one line on stderr, exit
status 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

logger = logging.getLogger("arttrack.predict")

__all__ = ["PersonItem", "annotated_images", "build_parser", "load_config_for", "main",
           "predict_multi_person", "predict_single_person", "single_person_items"]


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
        from arttrack.factory import build_records

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
        from arttrack import factory
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
        from arttrack import factory

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

    return tqdm(total=total, desc=desc, leave=False, disable=not sys.stderr.isatty())


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


# ----------------------------------------------------------------------------- CLI
def _write_json_atomic(path: Path, data: Any) -> None:
    from arttrack.eval._io import write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)  # atomic: temporary name, then rename


def load_config_for(ckpt: str, config: Optional[str], overrides: Sequence[str] = ()) -> Any:
    """The config given (YAML) or embedded in the checkpoint, with ``key=value`` overrides."""
    from arttrack.checkpoint import load_checkpoint
    from arttrack.config import load_config, parse_override

    if config:
        return load_config(config, overrides)
    cfg = load_checkpoint(ckpt).config
    if cfg is None:
        raise ValueError(f"checkpoint {ckpt} carries no config; pass --config")
    if overrides:
        cfg = cfg.replace(**dict(parse_override(o) for o in overrides))
    return cfg


def checkpoint_arg(value: str) -> str:
    """``--ckpt``: a checkpoint file as it is; a registered model name or a model folder ->
    the checkpoint its model.json names (argparse reports a model that is not fetched)."""
    if Path(value).is_file():
        return value
    if value.endswith(".ckpt"):
        raise argparse.ArgumentTypeError(f"checkpoint not found: {value}")
    from arttrack.models import zoo

    try:
        ckpt = zoo.model_files(zoo.resolve(value))["checkpoint"]
    except zoo.ModelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if ckpt is None:
        raise argparse.ArgumentTypeError(f"model {value!r} names no checkpoint in its model.json")
    return str(ckpt)


def add_model_args(p: argparse.ArgumentParser) -> None:
    """--ckpt, --config, --set, --device, --mode, --batch-size, --flip-test (shared with
    pairwise fit)."""
    p.add_argument("--ckpt", required=True, type=checkpoint_arg,
                   help="checkpoint (training snapshot or exported model), or a model: a name "
                        "from `python -m arttrack.models list` (fetched) or a model folder")
    p.add_argument("--config", default=None,
                   help="experiment YAML (default: the config embedded in the checkpoint)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set dataset=/data/mpii.mat (repeatable)")
    p.add_argument("--device", default="CPU", choices=("CPU", "GPU", "Ascend"))
    p.add_argument("--mode", default="graph", choices=("graph", "pynative"),
                   help="MindSpore execution: graph (mindspore.jit, default) or pynative")
    p.add_argument("--backend", default="auto", choices=("auto", "mindspore", "onnxruntime"),
                   help="what runs the network: auto (default) = MindSpore here, since dataset "
                        "images differ in size and ONNX Runtime needs one export per size; "
                        "onnxruntime on CPU exports once per image size into the model cache")
    p.add_argument("--batch-size", type=int, default=8, help="images per network call")
    p.add_argument("--flip-test", action="store_true",
                   help="also run every image mirrored and average the maps (left/right "
                        "swapped back): usually more accurate, twice the network time; fit "
                        "and use a spatial model with the same setting")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m arttrack.predict",
        description="Predict poses over the dataset of an experiment config: single person "
                    "(MPII / synthetic, JSON records for `python -m arttrack.eval pckh`) or "
                    "multi person (COCO format, a results file for `python -m arttrack.eval coco`).")
    add_model_args(p)
    p.add_argument("--task", default="auto", choices=("auto", "single", "multi"),
                   help="auto: multi for dataset_type coco, single otherwise")
    p.add_argument("--split", default="val", choices=("train", "val", "all"),
                   help="single person: data split (MPII: held-out training images; synthetic: "
                        "the held-out seed for val/all)")
    p.add_argument("--num", type=int, default=None,
                   help="predict only the first N people (single) or images (multi)")
    p.add_argument("--no-locref", action="store_true",
                   help="decode without location refinement (cell centres)")
    p.add_argument("--spatial-model", default=None,
                   help="multi person: spatial model .npz from `python -m arttrack.pairwise fit`")
    p.add_argument("--gt-out", default=None,
                   help="single person: also write the matching ground truth JSON (default for "
                        "synthetic data: OUT with suffix .gt.json)")
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


def _backend(args: argparse.Namespace) -> str:
    """``--backend``: auto is MindSpore for datasets (their images differ in size)."""
    from arttrack.backends import resolve_backend

    return "mindspore" if args.backend == "auto" else resolve_backend(args.backend, args.device)


def _run(args: argparse.Namespace) -> None:
    from arttrack.inference import Predictor

    if args.num is not None and args.num < 1:
        raise ValueError("--num must be >= 1")
    cfg = load_config_for(args.ckpt, args.config, args.overrides)
    task = args.task if args.task != "auto" else ("multi" if cfg.dataset_type == "coco" else "single")
    out = Path(args.out)
    if task == "multi":
        from arttrack.eval.coco import predictions_to_coco_results
        from arttrack.postprocess import SpatialModel

        if cfg.dataset_type != "coco":
            raise ValueError("multi-person prediction reads COCO-format data (dataset_type: coco); "
                             "synthetic COCO data: python -m arttrack.data.synthetic --format coco")
        if not args.spatial_model:
            raise ValueError("multi-person prediction needs --spatial-model (python -m "
                             "arttrack.pairwise fit)")
        model = SpatialModel.load(args.spatial_model)
        predictor = Predictor.from_checkpoint(args.ckpt, cfg, device=args.device, mode=args.mode,
                                              batch_size=args.batch_size,
                                              flip_test=args.flip_test, backend=_backend(args))
        settings = predictor.settings
        if args.no_locref:
            settings = dataclass_replace(settings, use_locref=False)
        people = predict_multi_person(predictor, annotated_images(cfg, "all", args.num), model,
                                      settings=settings, total=args.num)
        results = predictions_to_coco_results(people, min_joints=1)
        _write_json_atomic(out, results)
        logger.info("wrote %d people over %d images to %s; evaluate with: python -m arttrack.eval "
                    "coco --gt %s --pred %s", len(results), len(people), out, cfg.dataset, out)
        return
    predictor = Predictor.from_checkpoint(args.ckpt, cfg, device=args.device, mode=args.mode,
                                          batch_size=args.batch_size, flip_test=args.flip_test,
                                          backend=_backend(args))
    preds, gts = predict_single_person(predictor, single_person_items(cfg, args.split, args.num),
                                       use_locref=not args.no_locref, total=args.num)
    if not preds:
        raise ValueError(f"no annotated people in the {args.split} split of {cfg.dataset_type} data")
    _write_json_atomic(out, preds)
    gt_out = args.gt_out
    if gt_out is None and cfg.dataset_type == "synthetic":
        gt_out = str(out.with_suffix("")) + ".gt.json"
    if gt_out:
        _write_json_atomic(Path(gt_out), gts)
    _log_pckh(preds, gts, out, gt_out)


def dataclass_replace(obj: Any, **kw: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **kw)


def _log_pckh(preds: list[dict], gts: list[dict], out: Path, gt_out: Optional[str]) -> None:
    from arttrack.eval.pckh import compute_pckh

    def arr(rows: list[dict], key: str) -> np.ndarray:
        return np.asarray([[[np.nan if v is None else v for v in p] for p in r[key]] for r in rows],
                          np.float64)

    hb = np.asarray([g["headbox"] for g in gts], np.float64)
    ok = np.all(np.isfinite(hb), axis=1)
    msg = f"wrote {len(preds)} predictions to {out}"
    if ok.any():
        vis = np.asarray([g["joints_vis"] for g in gts], bool)
        res = compute_pckh(arr(preds, "joints")[ok], arr(gts, "joints")[ok], vis[ok], hb[ok])
        msg += f"; PCKh@0.5 {res.total:.1f} (AUC {res.auc:.1f}) over {int(ok.sum())} people"
    if gt_out:
        msg += f"; evaluate with: python -m arttrack.eval pckh --gt {gt_out} --pred {out}"
    logger.info("%s", msg)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from arttrack._cli import run_reporting_errors

    code, _ = run_reporting_errors("arttrack.predict", lambda: _run(args), debug=args.debug)
    return code


if __name__ == "__main__":
    sys.exit(main())
