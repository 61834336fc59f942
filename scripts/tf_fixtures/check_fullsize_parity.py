"""Full-size parity of the DeeperCut import, against the authors' TensorFlow graph.

The test suite checks a test-sized network (tests/test_deepercut_import.py); this script
checks the full-size one, whose checkpoint (215 MB) is too large to commit. Make the data
with ``make_deepercut_fixtures.py --fullsize DIR`` (TensorFlow in its own environment),
then, in arttrack's environment::

    python scripts/tf_fixtures/check_fullsize_parity.py DIR [--pairwise tests/data/deepercut/pairwise]

It imports ``DIR/coco-resnet-101-random`` (a ResNet-101 COCO pose model with the authors'
variable names and random weights), times the conversion, runs
``Predictor.from_checkpoint(...).maps(image)`` on the two images the reference was made
on (320 x 240 and the odd 333 x 251) and prints, for each map, the largest difference to
TensorFlow's relative to that map's range; it also converts the V1 ImageNet
``resnet_v1_50.ckpt`` and compares its block4 features. Exit 1 when a map is off by more
than 1e-4 of its range.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _rel(ours: np.ndarray, theirs: np.ndarray) -> float:
    rng = float(theirs.max() - theirs.min()) or 1.0
    return float(np.abs(ours.astype(np.float64) - theirs).max()) / rng


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path, help="folder written by make_deepercut_fixtures.py --fullsize")
    ap.add_argument("--pairwise", type=Path, default=REPO / "tests" / "data" / "deepercut" / "pairwise")
    args = ap.parse_args(argv)

    import cv2
    import mindspore as ms

    ms.set_device("CPU")
    from arttrack.convert.tf import import_tf_backbone, import_tf_pose_model
    from arttrack.inference import Predictor, pad_image
    from arttrack.joints import pair_channel
    from arttrack.models import create_model

    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.ckpt"
        t0 = time.perf_counter()
        rep = import_tf_pose_model(args.dir / "coco-resnet-101-random", out, pairwise_dir=args.pairwise)
        t_conv = time.perf_counter() - t0
        print(f"conversion of the full-size COCO model ({rep['converted']} tensors): {t_conv:.1f} s")
        pred = Predictor.from_checkpoint(out, mode="graph")
        import scipy.io

        mat = scipy.io.loadmat(args.pairwise / "pairwise_stats.mat")
        with np.load(args.dir / "reference.npz") as z:
            ref = {k: z[k] for k in z.files}
        for tag in ("s320x240", "s333x251"):
            img = cv2.cvtColor(cv2.imread(str(args.dir / f"astronaut_{tag}.png")), cv2.COLOR_BGR2RGB)
            t0 = time.perf_counter()
            m = pred.maps(img)
            t_net = time.perf_counter() - t0
            h, w = m.part.shape[:2]
            raw = ref[f"{tag}_pairwise_pred"][0]
            raw = raw.reshape(*raw.shape[:2], -1, 2)
            pw = raw.copy()
            for (a, b), mean, std in zip(mat["graph"], mat["means"], mat["std_devs"]):
                c = pair_channel(int(a), int(b), 17)
                pw[:, :, c] = pw[:, :, c] * std.astype(np.float32) + mean.astype(np.float32)
            x = pad_image(img, pred.multiple, pred.mean_pixel)[None]
            interm = dict(zip(pred.net.output_names, pred.net(ms.Tensor(x))))["part_interm"]
            errs = {
                "part_prob": _rel(m.part, ref[f"{tag}_scmap"][:h, :w]),
                "locref_px": _rel(m.locref * 7.2801, ref[f"{tag}_locref_px"][:h, :w]),
                "pairwise_px": _rel(m.pairwise, pw[:h, :w]),
                "part_interm": _rel(interm.asnumpy()[0].transpose(1, 2, 0),
                                    ref[f"{tag}_part_pred_interm"][0]),
            }
            worst = max(worst, *errs.values())
            print(f"{tag} ({img.shape[1]}x{img.shape[0]}, maps {h}x{w}, first call {t_net:.1f} s): "
                  + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
        bb = Path(tmp) / "r50.ckpt"
        t0 = time.perf_counter()
        import_tf_backbone(args.dir / "resnet_v1_50.ckpt", bb, output_stride=32)
        t_bb = time.perf_counter() - t0
        net = create_model("resnet_v1_50", num_joints=1, output_stride=32, pretrained=bb)
        net.set_train(False)
        with np.load(args.dir / "resnet_v1_50_reference.npz") as z:
            block4 = z["block4"][0]
        img = cv2.cvtColor(cv2.imread(str(args.dir / "astronaut_s320x240.png")), cv2.COLOR_BGR2RGB)
        feat = net.backbone(ms.Tensor(pad_image(img, 1)[None])).asnumpy()[0].transpose(1, 2, 0)
        e = _rel(feat, block4)
        worst = max(worst, e)
        print(f"ImageNet resnet_v1_50 (V1 file): conversion {t_bb:.1f} s, block4 {e:.2e}")
    print(f"worst relative difference {worst:.2e} (limit 1e-4)")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
