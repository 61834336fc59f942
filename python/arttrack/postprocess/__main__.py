"""``python -m arttrack.postprocess``: decode ``arttrack-infer`` outputs, optionally score PCKh.

::

    python -m arttrack.postprocess --results OUTDIR --index BINDIR/index.json \\
        --meta model.onnx.json --out pred.json [--gt mpii.mat [--split all]]

Decoding: single-person argmax per joint with location refinement (``--mode single``,
default) or per-joint peaks (``--mode peaks``), mapped back through the letterbox of
:mod:`arttrack.preprocess` to original image pixels. Predictions are JSON records
``{"image", "person", "file", "joints": [[x, y, score], ...]}`` (``"peaks"`` instead of
``"joints"`` in peaks mode), the format :mod:`arttrack.eval.pckh` reads.

With ``--gt`` (single mode), PCKh is computed by :func:`arttrack.eval.pckh.evaluate_files`
on the written file, the same code as ``python -m arttrack.eval pckh``, and printed;
``--json-out`` also writes it. Bad input: one line on stderr, exit status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from arttrack._atomic import atomic_path

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


def _write_json(path: str | os.PathLike, data: Any) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        tmp.write_text(json.dumps(data, indent=1, allow_nan=False), encoding="utf-8")


def _finite_or_none(v: float) -> float | None:
    return float(v) if v == v and abs(v) != float("inf") else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from arttrack.postprocess.runner_io import decode_peaks, decode_single, load_runner_outputs
    from arttrack.preprocess import load_index, load_meta

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
    _write_json(args.out, records)
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
            from arttrack.eval._io import write_json

            write_json(args.json_out, d)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from arttrack._cli import run_reporting_errors

    code, res = run_reporting_errors("arttrack.postprocess", lambda: run(args), debug=args.debug)
    if code:
        return code
    print(f"wrote {res['num']} predictions to {res['predictions']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
