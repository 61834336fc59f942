"""``python -m arttrack.predict``: run a checkpoint over the dataset of its config
(the work is :mod:`arttrack.inference.datasets`).

Single person (``dataset_type: mpii`` or ``synthetic``; PCKh)
    One prediction per annotated person, in ORIGINAL image coordinates. MPII records are
    cropped and rescaled exactly as for training (:mod:`arttrack.data.mpii`: crop around
    the person, ``base_scale`` so the head is ~50 px, times ``global_scale``, capped by
    ``max_input_size``); the joints are mapped back with
    :func:`arttrack.inference.to_original`. Synthetic images (``arttrack.data.synthetic``,
    the held-out seed of :func:`arttrack.models.factory.build_source` for ``--split val``) are
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

Outputs are written under a temporary name and renamed. Exit status and errors as every
command (:mod:`arttrack.cli`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from arttrack import cli

PROG = "arttrack.predict"
logger = logging.getLogger(PROG)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m arttrack.predict",
        description="Predict poses over the dataset of an experiment config: single person "
                    "(MPII / synthetic, JSON records for `python -m arttrack.eval pckh`) or "
                    "multi person (COCO format, a results file for `python -m arttrack.eval coco`).")
    cli.add_model_args(p)
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
    from arttrack.inference.backends import resolve_backend

    return "mindspore" if args.backend == "auto" else resolve_backend(args.backend, args.device)


def _run(args: argparse.Namespace) -> None:
    from arttrack.inference import Predictor
    from arttrack.inference.datasets import (annotated_images, predict_multi_person,
                                             predict_single_person, single_person_items)
    from arttrack.io.atomic import write_json
    from arttrack.models.checkpoint import config_for

    if args.num is not None and args.num < 1:
        raise ValueError("--num must be >= 1")
    cfg = config_for(args.ckpt, args.config, args.overrides)
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
        write_json(out, results)
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
    write_json(out, preds)
    gt_out = args.gt_out
    if gt_out is None and cfg.dataset_type == "synthetic":
        gt_out = str(out.with_suffix("")) + ".gt.json"
    if gt_out:
        write_json(Path(gt_out), gts)
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
    return cli.main(PROG, build_parser(), _run, argv, default_verbosity=1)


if __name__ == "__main__":
    sys.exit(main())
