"""``python -m arttrack.eval pckh|coco|posetrack``: evaluation from the command line.

Each subcommand prints a table and, with ``--json-out FILE``, writes the numbers as
JSON. Bad input gives one line on stderr and exit status 1 (``--debug`` shows the
traceback).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from arttrack import cli


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json-out", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m arttrack.eval",
        description="Pose estimation and tracking evaluation: MPII PCKh, COCO keypoint AP, "
                    "PoseTrack AP/MOTA.")
    sub = parser.add_subparsers(dest="command", metavar="{pckh,coco,posetrack}", required=True)

    p = sub.add_parser(
        "pckh", help="MPII head-normalised PCKh (and bbox PCK for comparison)",
        description="MPII PCKh@thr (error <= thr * 0.6 * head box diagonal, visible joints only), "
                    "its AUC over thresholds 0:0.01:0.5, and the model-zoo bounding-box PCK "
                    "(error <= bbox-thr * max(w, h) of the GT joints' box), labelled as such.")
    p.add_argument("--gt", required=True,
                   help="ground truth: the official mpii_human_pose_v1_u12_1.mat, or JSON records "
                        "{image, joints (14|16, 2), joints_vis, headbox [x1,y1,x2,y2], person?}")
    p.add_argument("--pred", required=True,
                   help="predictions: JSON records {image, joints (J, 2|3), person?} in ground-truth "
                        "order (or keyed by image+person), or a .mat with an (N, J, 2|3) array")
    p.add_argument("--pred-key", help="the .mat key holding predictions (default: 'joints' or the only "
                                      "(N, J, 2|3) array)")
    p.add_argument("--split", choices=("all", "train", "test"), default="all",
                   help=".mat only: img_train == 1 (train), == 0 (test) or all (default); test "
                        "keeps MPII's single-person subset (RELEASE.single_person people with an "
                        "objpos), as the benchmark's own evaluation does")
    p.add_argument("--images", metavar="FILE",
                   help="keep only these image names (text, one a line, or a JSON list), e.g. a "
                        "validation list")
    p.add_argument("--visible-only", action="store_true",
                   help=".mat only: evaluate only joints with is_visible == 1 (default: every "
                        "annotated joint, as MPII's evaluation does)")
    p.add_argument("--thr", type=float, default=0.5, help="PCKh threshold (default 0.5)")
    p.add_argument("--bbox-thr", type=float, default=0.2,
                   help="bounding-box PCK threshold (default 0.2)")
    _add_common(p)

    p = sub.add_parser(
        "coco", help="COCO keypoint AP/AR (pycocotools)",
        description="COCO keypoint AP/AR through pycocotools COCOeval (iouType keypoints). "
                    "The table prints percent; --json-out writes pycocotools' fractions (0..1, "
                    "-1 where an area range has no ground truth).")
    p.add_argument("--gt", required=True, help="COCO person_keypoints_*.json")
    p.add_argument("--pred", required=True,
                   help="results JSON: [{image_id, category_id: 1, keypoints [x,y,v]*17, score}]")
    _add_common(p)

    p = sub.add_parser(
        "posetrack", help="PoseTrack per-joint AP and MOTA/MOTP/precision/recall, as poseval",
        description="PoseTrack 2018 evaluation that reproduces the official evaluator poseval "
                    "(leonid-pishchulin/poseval): per-joint and total AP (greedy PCKh pairing, "
                    "match at 0.5 of 0.6 * head box diagonal, ears excluded), per-joint and total "
                    "MOTA, MOTP, precision and recall (motmetrics; each video's last frame left out; "
                    "totals are means over the joints). Options that depart from poseval are named "
                    "in the output. --json-out also writes per-video figures.")
    p.add_argument("--gt", required=True,
                   help="PoseTrack 2018 ground-truth JSON, or a directory of per-video files")
    p.add_argument("--pred", required=True,
                   help="predictions: PoseTrack 2018 JSON (per-keypoint scores) or arttrack per-video "
                        "JSON ({meta, frames}); a file or a directory of files")
    p.add_argument("--thr", type=float, default=0.5,
                   help="PCKh matching threshold (default 0.5, poseval's; another value is not poseval)")
    p.add_argument("--track-thr", type=float, default=0.0,
                   help="leave joints scoring below this out of MOTA/MOTP/precision/recall "
                        "(AP always ranks all joints; default 0: keep all, as poseval)")
    p.add_argument("--no-ignore-regions", action="store_true",
                   help="keep joints inside the ground truth's ignore regions (not poseval)")
    p.add_argument("--pairing", choices=("greedy", "hungarian"), default="greedy",
                   help="how predicted people are paired with ground-truth people for AP: greedy by "
                        "PCKh (default, poseval's) or hungarian (one-to-one, most matching joints; "
                        "not poseval)")
    _add_common(p)
    return parser


def _run(args: argparse.Namespace) -> None:
    from arttrack.io.atomic import write_json

    if args.command == "pckh":
        from arttrack.eval import pckh

        res, bres, n = pckh.evaluate_files(
            args.gt, args.pred, split=args.split, image_list=args.images,
            visible_only=args.visible_only, pred_key=args.pred_key, thr=args.thr,
            bbox_thr=args.bbox_thr)
        print(f"MPII PCKh@{args.thr:g} (head-normalised, {n} people)")
        print(pckh.format_result(res, "PCKh"))
        print()
        print(f"Bounding-box PCK@{args.bbox_thr:g} (model-zoo style, normalised by max(w, h) of "
              "the GT joints' box; NOT PCKh)")
        print(pckh.format_result(bres, "bbox PCK"))
        if args.json_out:
            d = res.to_dict()
            d["threshold"] = args.thr
            d["num_people"] = n
            d["bbox_pck"] = {**bres.to_dict(), "threshold": args.bbox_thr}
            d["bbox_pck"].pop("auc", None)
            write_json(args.json_out, d)
    elif args.command == "coco":
        from arttrack.eval import coco

        stats = coco.evaluate_coco(args.gt, args.pred)
        print(coco.format_result(stats))
        if args.json_out:
            write_json(args.json_out, stats)
    elif args.command == "posetrack":
        from arttrack.eval import posetrack

        res = posetrack.evaluate_posetrack(args.gt, args.pred, thr=args.thr,
                                           use_ignore_regions=not args.no_ignore_regions,
                                           track_thr=args.track_thr, pairing=args.pairing)
        print(posetrack.format_result(res))
        if args.json_out:
            write_json(args.json_out, res.to_dict())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(int(bool(args.verbose)))
    return cli.run(f"arttrack.eval {args.command}", lambda: _run(args), debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
