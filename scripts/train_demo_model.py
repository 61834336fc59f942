"""Reproduce the demo model shipped in ``python/arttrack/assets/demo/``.

Steps (all on CPU, no download):
  1. synthetic images -> pairwise statistics         (python -m arttrack.pairwise stats)
  2. train configs/synthetic_demo.yaml               (python -m arttrack.train)
  3. fit the spatial model on the trained network     (python -m arttrack.pairwise fit --hops 4)
  4. fit the temporal model on synthetic clips        (arttrack.training.temporal_fit)
  5. write the network-only checkpoint + models into the package assets

    python scripts/train_demo_model.py [--work out/demo] [--skip-train] [--resume]

The demo model knows synthetic figures only; train a real one on COCO with
configs/coco_resnet101.yaml.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "python" / "arttrack" / "assets" / "demo"
CONFIG = REPO / "configs" / "synthetic_demo.yaml"
# Decoding settings are read from CONFIG, not from the snapshot's embedded config, so they can
# be retuned without retraining; the spatial fit and the shipped checkpoint both use them.
INFERENCE_KEYS = ("nms_radius", "det_min_score", "min_joints")
SPATIAL_HOPS = 4  # pair graph of the spatial model (python -m arttrack.pairwise fit --hops)
log = logging.getLogger("train_demo_model")


def run(*args: str) -> None:
    log.info("$ %s", " ".join(args))
    subprocess.run([sys.executable, *args], check=True, cwd=REPO)


def synthetic_clips(num: int, seed: int):
    from arttrack.data.synthetic import generate_clip, joint_indices
    from arttrack.video.demo import demo_clip_config

    cfg = demo_clip_config()
    idx = joint_indices(cfg.joint_set)
    for k in range(num):
        clip = generate_clip(seed + k, num_frames=40, config=cfg)
        frames = []
        import numpy as np

        for people in clip.people:
            pts = [p.points[idx] for p in people]
            arr = np.stack(pts).astype(np.float32) if pts else np.zeros((0, len(idx), 3), np.float32)
            frames.append((arr, np.array([p.track_id for p in people], np.int64)))
        yield frames


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="out/demo", help="working folder (snapshots, data)")
    ap.add_argument("--skip-train", action="store_true", help="use the latest snapshot as it is")
    ap.add_argument("--resume", action="store_true", help="continue training from the latest snapshot")
    ap.add_argument("--ckpt", help="use this training snapshot instead of the latest one")
    ap.add_argument("--assets", default=str(ASSETS),
                    help="where the demo model goes (default: the package's assets/demo)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    work = (REPO / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    assets = Path(args.assets).resolve()
    assets.mkdir(parents=True, exist_ok=True)
    stats = ASSETS / "pairwise_stats.npz"  # the config's pairwise_stats_fn

    # 1. pairwise statistics (the config points at the asset file)
    if not stats.is_file():
        run("-m", "arttrack.pairwise", "stats", "--config", str(CONFIG), "--num-images", "3000",
            "--out", str(stats))

    # 2. training
    prefix = work / "snapshot"
    if not args.skip_train and not args.ckpt:
        cmd = ["-m", "arttrack.train", "--config", str(CONFIG), "--set", f"snapshot_prefix={prefix}"]
        run(*(cmd + (["--resume"] if args.resume else [])))
    from arttrack.models.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

    ckpt_path = Path(args.ckpt) if args.ckpt else latest_checkpoint(prefix)
    if ckpt_path is None:
        log.error("no snapshot under %s", prefix)
        return 1

    # 3. spatial model from the trained network's detections on synthetic training images
    from arttrack.config import load_config

    decoding = {k: getattr(load_config(CONFIG), k) for k in INFERENCE_KEYS}
    sets = [a for k, v in decoding.items() for a in ("--set", f"{k}={v}")]
    run("-m", "arttrack.pairwise", "fit", "--ckpt", str(ckpt_path), "--num-images", "300",
        "--balanced", "--hops", str(SPATIAL_HOPS), *sets, "--out", str(work / "spatial.npz"))

    # 4. temporal model from annotated synthetic clips
    from arttrack.training.temporal_fit import fit_temporal_model

    temporal = fit_temporal_model(list(synthetic_clips(12, seed=500)))
    temporal.save(work / "temporal.npz")

    # 5. network-only checkpoint with its config embedded, plus the models, into the package
    import mindspore as ms

    ms.set_device("CPU")
    from arttrack.models.factory import build_model
    from arttrack.models import load_model_checkpoint

    loaded = load_checkpoint(ckpt_path)
    net = build_model(loaded.config, pretrained=False)
    load_model_checkpoint(net, ckpt_path)
    # the embedded config names the stats by their place in the repository, not this machine's
    # (and no init_weights or load_from: the shipped network is complete, those paths were the
    # trainer's; the snapshot prefix is the config file's, not this run's folder)
    config = loaded.config.replace(pairwise_stats_fn=str(stats.relative_to(REPO)), init_weights="",
                                   load_from="", snapshot_prefix=load_config(CONFIG).snapshot_prefix,
                                   **decoding)
    out = save_checkpoint(net, work / "demo", loaded.step, config, keep=0)
    for src, name in ((out, "demo.ckpt"), (work / "spatial.npz", "spatial.npz"),
                      (work / "temporal.npz", "temporal.npz"), (stats, "pairwise_stats.npz")):
        if (assets / name).resolve() != Path(src).resolve():
            shutil.copyfile(src, assets / name)
    log.info("demo model written to %s (step %d)", assets, loaded.step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
