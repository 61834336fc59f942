"""``python -m arttrack.postprocess``: decode ``arttrack-infer`` outputs, optionally score PCKh.

::

    python -m arttrack.postprocess --results OUTDIR --index BINDIR/index.json \\
        --meta model.onnx.json --out pred.json [--gt mpii.mat [--split all]]

Decoding: single-person argmax per joint with location refinement (``--mode single``,
default) or per-joint peaks (``--mode peaks``), mapped back through the letterbox of
:mod:`arttrack.deploy.binaries` to original image pixels. Predictions are JSON records
``{"image", "person", "file", "joints": [[x, y, score], ...]}`` (``"peaks"`` instead of
``"joints"`` in peaks mode), the format :mod:`arttrack.eval.pckh` reads.

With ``--gt`` (single mode), PCKh is computed by :func:`arttrack.eval.pckh.evaluate_files`
on the written file, the same code as ``python -m arttrack.eval pckh``, and printed;
``--json-out`` also writes it. Exit status and errors as every command (:mod:`arttrack.cli`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Sequence

from arttrack import cli
from arttrack.io.atomic import write_json

logger = logging.getLogger("arttrack.postprocess")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m arttrack.postprocess",
        description="Decode arttrack-infer outputs (with locref) back to original image "
                    "coordinates; with --gt print MPII PCKh as python -m arttrack.eval pckh does.")
    ap.add_argument("--results", required=True, help="arttrack-infer --output folder")
    ap.add_argument("--index", required=True,
                    help="index.json written by python -m arttrack.preprocess (or its folder)")
    ap.add_argument("--meta", required=True, help="export metadata JSON (<model>.json)")
    ap.add_argument("--out", required=True, help="predictions JSON to write")
    ap.add_argument("--mode", choices=("single", "peaks"), default="single",
                    help="single-person argmax (default) or per-joint peaks")
    ap.add_argument("--nms-radius", type=int, default=5, help="peaks: radius in cells (default 5)")
    ap.add_argument("--min-score", type=float, default=0.2, help="peaks: threshold (default 0.2)")
    ap.add_argument("--gt", help="ground truth for PCKh: MPII .mat or JSON records (see "
                                 "python -m arttrack.eval pckh --help)")
    ap.add_argument("--split", choices=("all", "train", "test"), default=None,
                    help=".mat ground truth: the split (default: the one preprocess used, else all)")
    ap.add_argument("--thr", type=float, default=0.5, help="PCKh threshold (default 0.5)")
    ap.add_argument("--json-out", metavar="FILE", help="with --gt: also write PCKh as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="log progress")
    ap.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return ap


def _finite_or_none(v: float) -> float | None:
    return float(v) if v == v and abs(v) != float("inf") else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from arttrack.deploy.runner_io import decode_peaks, decode_single, load_runner_outputs
    from arttrack.deploy.binaries import load_index, load_meta

    meta = load_meta(args.meta)
    index = load_index(args.index)
    outs = load_runner_outputs(args.results, index, meta)
    records = []
    for entry, maps in tqdm(outs, total=len(outs), desc="postprocess",
                            disable=not sys.stderr.isatty()):
        rec: dict[str, Any] = {"image": entry.get("image", ""), "person": entry.get("person"),
                               "file": entry["file"]}
        if args.mode == "single":
            pose = decode_single(maps, meta, entry)
            rec["joints"] = [[_finite_or_none(v) for v in row] for row in pose.tolist()]
        else:
            rec["peaks"] = decode_peaks(maps, meta, entry, nms_radius=args.nms_radius,
                                        min_score=args.min_score)
        records.append(rec)
    write_json(args.out, records)
    logger.info("wrote %d predictions to %s", len(records), args.out)
    result: dict[str, Any] = {"predictions": str(args.out), "num": len(records)}
    if args.gt:
        if args.mode != "single":
            raise ValueError("--gt scores single-person predictions; drop --mode peaks")
        from arttrack.eval import pckh

        split = args.split or index.get("split") or "all"
        res, bres, n = pckh.evaluate_files(args.gt, args.out, split=split, thr=args.thr)
        print(f"MPII PCKh@{args.thr:g} (head-normalised, {n} people)")
        print(pckh.format_result(res, "PCKh"))
        d = res.to_dict()
        d["threshold"] = args.thr
        d["num_people"] = n
        d["bbox_pck"] = bres.to_dict()
        d["bbox_pck"].pop("auc", None)
        result["pckh"] = d
        if args.json_out:
            write_json(args.json_out, d)
    return result


def _work(args: argparse.Namespace) -> None:
    res = run(args)
    print(f"wrote {res['num']} predictions to {res['predictions']}")


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main("arttrack.postprocess", build_parser(), _work, argv)


if __name__ == "__main__":
    sys.exit(main())
