"""Train the ArtTrack / DeeperCut network.

    python -m arttrack.train --config configs/synthetic_tiny.yaml [--set key=value ...] [--resume]

Data parallel over several devices with MindSpore's launcher::

    msrun --worker_num=2 --local_worker_num=2 --master_port=8118 --join=True \\
        python -m arttrack.train --config configs/coco_resnet101.yaml

Every rank computes gradients on its own shard and they are averaged (AllReduce) before
each update, so all ranks hold identical weights; only rank 0 writes checkpoints and logs.
SGD with momentum, weight decay on convolution weights, the piecewise-constant learning
rate of ``multi_step`` (which also fixes the length of the run). Checkpoints hold the
optimizer state and the config; ``--resume`` continues from the latest one at the same
step, learning rate and momentum. Ctrl-C (or SIGTERM) saves a checkpoint before exiting.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Sequence

from arttrack.checkpoint import (CheckpointError, latest_checkpoint, load_checkpoint,
                                 save_checkpoint)
from arttrack.config import Config, ConfigError, load_config, save_config

log = logging.getLogger("arttrack.train")


class TrainingInterrupted(Exception):
    pass


def setup_context(cfg: Config) -> tuple[int, int]:
    """Device, mode and (under msrun) the communication group. Returns (rank, size)."""
    import mindspore as ms

    ms.set_device(cfg.device_target)
    ms.set_context(mode=ms.GRAPH_MODE if cfg.mode == "graph" else ms.PYNATIVE_MODE)
    world = int(os.environ.get("MS_WORKER_NUM", os.environ.get("RANK_SIZE", "1")) or 1)
    if world <= 1:
        return 0, 1
    from mindspore.communication import get_group_size, get_rank, init

    init()
    rank, size = get_rank(), get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=size)
    return rank, size


def _multi_step_lr(multi_step):
    import mindspore as ms
    from mindspore import ops
    from mindspore.nn.learning_rate_schedule import LearningRateSchedule

    class MultiStepLR(LearningRateSchedule):
        """lr_i while step < until_i (DeeperCut's ``multi_step``); the last lr afterwards."""

        def __init__(self) -> None:
            super().__init__()
            self.lrs = ms.Tensor([float(lr) for lr, _ in multi_step], ms.float32)
            self.bounds = ms.Tensor([int(until) for _, until in multi_step], ms.int32)
            self.last = len(multi_step) - 1

        def construct(self, global_step):
            passed = ops.cast(ops.cast(global_step, ms.int32) >= self.bounds, ms.int32)
            idx = ops.minimum(ops.reduce_sum(passed), self.last)
            return ops.gather(self.lrs, idx, 0)

    return MultiStepLR()


def learning_rate_at(cfg: Config, step: int) -> float:
    """The learning rate ``multi_step`` gives at ``step`` (pure Python, for logs and tests)."""
    for lr, until in cfg.multi_step:
        if step < until:
            return float(lr)
    return float(cfg.multi_step[-1][0])


def build_train_cell(cfg: Config, net):
    from mindspore import nn

    from arttrack.models.losses import ArtTrackWithLoss

    with_loss = ArtTrackWithLoss(net, locref_loss_weight=cfg.locref_loss_weight,
                                 pairwise_loss_weight=cfg.pairwise_loss_weight)
    params = with_loss.trainable_params()
    # Weight decay on convolution kernels only (as TF-slim's ResNet arg scope did).
    decay = [p for p in params if p.name.endswith(".weight")]
    no_decay = [p for p in params if not p.name.endswith(".weight")]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    opt = nn.Momentum(groups, learning_rate=_multi_step_lr(cfg.multi_step), momentum=cfg.momentum)
    cell = nn.TrainOneStepCell(with_loss, opt)
    cell.set_train(True)
    return cell


def train(cfg: Config, *, resume: bool = False, quiet: bool = False) -> Path:
    """Run (or continue) training; returns the path of the final checkpoint."""
    import mindspore as ms
    import numpy as np
    from tqdm import tqdm

    from arttrack import factory
    from arttrack.data.pipeline import build_dataset

    rank, world = setup_context(cfg)
    is_main = rank == 0
    ms.set_seed(cfg.seed)  # identical initial weights on every rank

    prefix = Path(cfg.snapshot_prefix)
    start_step = 0
    ckpt = None
    if resume:
        found = latest_checkpoint(prefix)
        if found is None:
            raise CheckpointError(f"--resume: no checkpoint {prefix}-<step>.ckpt to resume from")
        ckpt = load_checkpoint(found)
        start_step = ckpt.step
    if start_step >= cfg.max_steps:
        log.info("already trained for %d steps (multi_step ends at %d)", start_step, cfg.max_steps)
        return latest_checkpoint(prefix)

    net = factory.build_model(cfg, pretrained=ckpt is None)
    cell = build_train_cell(cfg, net)
    if ckpt is not None:
        from arttrack.checkpoint import load_into

        load_into(cell, ckpt, strict=True)
        log.info("resumed from %s at step %d", ckpt.path, start_step)
    if is_main:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        save_config(cfg, prefix.parent / "config.yaml")

    source = factory.build_source(cfg, "train")
    codec = factory.build_codec(cfg)
    augmenter = factory.build_augmenter(cfg, train=True)
    per_rank = math.ceil(len(source) / world)
    steps_per_epoch = max(per_rank // cfg.batch_size, 1)
    start_epoch, skip = divmod(start_step, steps_per_epoch)
    dataset = build_dataset(source, codec, augmenter, batch_size=cfg.batch_size, shuffle=True,
                            seed=cfg.seed, num_shards=world, shard_id=rank,
                            num_parallel_workers=max(cfg.num_workers, 1),
                            python_multiprocessing=cfg.num_workers > 1, mean_pixel=cfg.mean_pixel,
                            drop_remainder=True, start_epoch=start_epoch)
    cols = list(cell.network.target_names)
    cols.insert(0, "image")
    iterator = dataset.create_dict_iterator(num_epochs=-1, output_numpy=False)

    stop = {"signal": None}

    def _on_signal(signum, _frame):
        stop["signal"] = signum

    old_handler = signal.signal(signal.SIGTERM, _on_signal) if is_main else None
    step = start_step
    last_saved = None
    bar = tqdm(total=cfg.max_steps, initial=start_step, desc="train", unit="step",
               disable=quiet or not is_main or not sys.stderr.isatty(), dynamic_ncols=True)
    t_last, s_last = time.perf_counter(), step
    try:
        while step < cfg.max_steps:
            for i, batch in enumerate(iterator):
                if skip:
                    if i < skip:
                        continue
                    skip = 0
                loss = cell(*[batch[c] for c in cols])
                step += 1
                bar.update(1)
                if step % cfg.display_iters == 0 or step == cfg.max_steps:
                    value = float(loss.asnumpy())
                    if not np.isfinite(value):
                        raise FloatingPointError(f"loss became {value} at step {step}; lower the learning rate")
                    now = time.perf_counter()
                    rate = (step - s_last) / max(now - t_last, 1e-9)
                    t_last, s_last = now, step
                    bar.set_postfix(loss=f"{value:.4f}", lr=f"{learning_rate_at(cfg, step - 1):.2g}",
                                    steps_s=f"{rate:.2f}")
                    if is_main:
                        log.info("step %d/%d loss %.5f lr %.3g %.2f steps/s", step, cfg.max_steps, value,
                                 learning_rate_at(cfg, step - 1), rate)
                if is_main and step % cfg.save_iters == 0 and step < cfg.max_steps:
                    last_saved = save_checkpoint(cell, prefix, step, cfg, keep=cfg.keep_checkpoints)
                if stop["signal"] is not None:
                    raise TrainingInterrupted()
                if step >= cfg.max_steps:
                    break
    except (KeyboardInterrupt, TrainingInterrupted):
        bar.close()
        if is_main and step > start_step:
            path = save_checkpoint(cell, prefix, step, cfg, keep=cfg.keep_checkpoints)
            log.warning("interrupted at step %d; saved %s (continue with --resume)", step, path)
        raise
    finally:
        bar.close()
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    if is_main:
        last_saved = save_checkpoint(cell, prefix, step, cfg, keep=cfg.keep_checkpoints)
        log.info("finished %d steps; final checkpoint %s", step, last_saved)
    return last_saved if last_saved is not None else Path(f"{prefix}-{step}.ckpt")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m arttrack.train",
        description="Train the ArtTrack/DeeperCut network (MindSpore; CPU, GPU or Ascend; "
                    "data parallel under msrun).",
        epilog="Example: python -m arttrack.train --config configs/synthetic_tiny.yaml "
               "--set multi_step='[[0.05, 200]]' --set snapshot_prefix=out/tiny/snapshot")
    p.add_argument("--config", required=True, help="YAML config (see configs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (value parsed as YAML); repeatable")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint under snapshot_prefix")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config, args.overrides)
        train(cfg, resume=args.resume, quiet=args.quiet)
    except (KeyboardInterrupt, TrainingInterrupted):
        return 130
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError, FloatingPointError) as exc:
        if args.debug:
            raise
        print(f"arttrack.train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
