"""PCKh@0.5 of every snapshot of a single-person training run on held-out people.

For each checkpoint (``PREFIX-<step>.ckpt``, or the files given), predicts ``--num`` people
of the held-out split with and without location refinement, and with ``--flip-test`` also
with the flip test (``python -m arttrack.predict``), and scores them with
``python -m arttrack.eval pckh``; prints the curve as a table:

    python -m arttrack.train --config configs/synthetic_tiny.yaml --set snapshot_prefix=run/snapshot
    python scripts/pckh_curve.py run/snapshot [--every 1000] [--num 300] [--flip-test]

Synthetic configs hold people out by seed (the ``val`` split never shares a generator seed
with training); MPII configs by the held-out training images (``val_fraction``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def _pckh(ckpt: Path, num: int, locref: bool, work: Path, flip: bool = False) -> dict:
    # run from the caller's folder: configs name their datasets relative to it
    pred, gt, out = work / "pred.json", work / "gt.json", work / "pckh.json"
    cmd = [sys.executable, "-m", "arttrack.predict", "--ckpt", str(ckpt), "--split", "val",
           "--num", str(num), "--out", str(pred), "--gt-out", str(gt)]
    cmd += ([] if locref else ["--no-locref"]) + (["--flip-test"] if flip else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "arttrack.eval", "pckh", "--gt", str(gt),
                    "--pred", str(pred), "--json-out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("snapshots", nargs="+", help="a snapshot prefix, or checkpoint files")
    ap.add_argument("--every", type=int, default=1, help="only steps divisible by this")
    ap.add_argument("--num", type=int, default=300, help="held-out people (default 300)")
    ap.add_argument("--no-locref-column", action="store_true", help="skip the run without locref")
    ap.add_argument("--flip-test", action="store_true",
                    help="add a column with the flip test (arttrack.predict --flip-test)")
    ap.add_argument("--json-out", help="write the curve as JSON")
    args = ap.parse_args(argv)
    from arttrack.models.checkpoint import list_checkpoints

    def step_of(path: Path) -> int:
        m = re.search(r"-(\d+)\.ckpt$", path.name)
        return int(m.group(1)) if m else -1

    ckpts: list[tuple[int, Path]] = []
    for s in args.snapshots:
        p = Path(s)
        found = [p] if p.is_file() else list_checkpoints(p)
        ckpts += [(step_of(path), path.resolve()) for path in found]
    ckpts = [(s, p) for s, p in ckpts if s < 0 or s % args.every == 0]
    if not ckpts:
        print(f"no checkpoints under {args.snapshots}", file=sys.stderr)
        return 1
    rows = []
    print(f"{'step':>6s} {'PCKh@0.5':>9s} {'AUC':>6s} {'no locref':>10s} {'flip':>6s}   "
          "ankle knee  hip wrist elbow shoulder chin forehead", flush=True)
    with tempfile.TemporaryDirectory(prefix="arttrack-pckh-") as tmp:
        for step, path in sorted(ckpts):
            r = _pckh(path, args.num, True, Path(tmp))
            r0 = None if args.no_locref_column else _pckh(path, args.num, False, Path(tmp))
            rf = _pckh(path, args.num, True, Path(tmp), flip=True) if args.flip_test else None
            g = r["groups"]
            rows.append({"step": step, "checkpoint": str(path), "pckh": r["total"], "auc": r["auc"],
                         "pckh_no_locref": r0["total"] if r0 else None,
                         "pckh_flip": rf["total"] if rf else None, "groups": g})
            print(f"{step:6d} {r['total']:9.1f} {r['auc']:6.1f} "
                  f"{r0['total'] if r0 else float('nan'):10.1f} "
                  f"{rf['total'] if rf else float('nan'):6.1f}   "
                  + " ".join(f"{g[k]:.1f}" for k in ("ankle", "knee", "hip", "wrist", "elbow",
                                                     "shoulder", "chin", "forehead")), flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
