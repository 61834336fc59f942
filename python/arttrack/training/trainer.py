"""Train the ArtTrack / DeeperCut network (the work of ``python -m arttrack.train``).

    python -m arttrack.train --config configs/synthetic_tiny.yaml [--set key=value ...] [--resume]

Data parallel over several devices with MindSpore's launcher::

    msrun --worker_num=2 --local_worker_num=2 --master_port=8118 --join=True \\
        python -m arttrack.train --config configs/coco_resnet101.yaml

Every rank computes gradients on its own shard and they are averaged (AllReduce) before
each update, so all ranks hold identical weights and optimizer state; BatchNorm moving
statistics (which each rank gathers on its own shard) are averaged over the ranks at
every checkpoint. Only rank 0 writes checkpoints and logs progress. A signal on any rank
stops all ranks after the same step.

SGD with momentum, weight decay on convolution weights, the piecewise-constant learning
rate of ``multi_step`` (which also fixes the length of the run, unless ``max_steps`` or
``--steps N`` stops it earlier or later). Checkpoints hold the
optimizer state (momentum buffers, ``global_step``) and the config; ``--resume``
continues from the latest one at the same step, learning rate and momentum, and draws
the same batches as an uninterrupted run (sample order and augmentation are seeded by
``(seed, epoch, index)``, see :mod:`arttrack.data.pipeline`).

Ctrl-C or SIGTERM stops after the current step, saves a checkpoint and exits with
``128 + signal number``; a second signal aborts at once without saving. (In GRAPH
mode a Ctrl-C that arrives while a step runs is turned into SIGTERM by MindSpore.)
Under msrun, a signal to any worker stops every rank after the same step and rank 0
saves; msrun itself answers Ctrl-C by SIGKILLing its workers, so stop a data-parallel
run with ``kill -TERM <worker pid>`` (or a scheduler's SIGTERM to the workers) instead.

Errors in the input (config, dataset path, checkpoint) are reported as one line
``arttrack.train: error: ...`` on stderr with exit status 2, before anything is
written; a failure during the run (MindSpore's runtime, a loss that diverges) with exit
status 1; ``--debug`` shows the traceback instead (:mod:`arttrack.cli`).

Testing aid: ``--dump-weights DIR`` makes every rank (not only rank 0) write all its
parameters, optimizer state included, to ``DIR/rank<k>.npz`` at the end of the run, so a
test can check that data-parallel ranks end identical. It writes no checkpoint.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from arttrack.io.atomic import atomic_path
from arttrack.models.checkpoint import (CheckpointError, check_architecture, latest_checkpoint,
                                 list_checkpoints, load_checkpoint, load_into, partial_files,
                                 save_checkpoint)
from arttrack.config import Config, ConfigError, save_config
from arttrack.errors import Interrupted

log = logging.getLogger("arttrack.train")

__all__ = ["TrainingInterrupted", "build_train_cell", "learning_rate_at", "setup_context", "train"]


class TrainingInterrupted(Interrupted):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint."""

    def __init__(self, signum: int, step: int, path: Path | None, rank: int = 0) -> None:
        self.step, self.path = step, path
        if path is not None:
            saved = f"stopped at step {step}, saved {path} (continue with --resume)"
        else:
            saved = (f"stopped at step {step}, " +
                     ("rank 0 writes the checkpoint" if rank else "no checkpoint written"))
        super().__init__(signum, saved)


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


def learning_rate_at(cfg: Config, step: int) -> float:
    """The learning rate of the update at 0-based ``step`` (the ``step+1``-th update).

    ``multi_step = [[lr_0, until_0], [lr_1, until_1], ...]``: ``lr_i`` for
    ``until_{i-1} <= step < until_i``; the last ``lr`` beyond the schedule.
    """
    for lr, until in cfg.multi_step:
        if step < until:
            return float(lr)
    return float(cfg.multi_step[-1][0])


def build_train_cell(cfg: Config, net):
    """``nn.TrainOneStepCell`` over network + loss with ``nn.Momentum`` and the multi-step LR.

    Under data parallel (``setup_context`` first) the cell averages gradients over ranks.
    The optimizer is ``cell.optimizer``; its ``global_step`` counts the updates done.
    """
    from mindspore import nn

    from arttrack.training.lr_schedule import MultiStepLR
    from arttrack.models.losses import ArtTrackWithLoss

    with_loss = ArtTrackWithLoss(net, locref_loss_weight=cfg.locref_loss_weight,
                                 pairwise_loss_weight=cfg.pairwise_loss_weight)
    params = with_loss.trainable_params()
    # Weight decay on convolution kernels only (as TF-slim's ResNet arg scope did).
    decay = [p for p in params if p.name.endswith(".weight")]
    no_decay = [p for p in params if not p.name.endswith(".weight")]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    opt = nn.Momentum(groups, learning_rate=MultiStepLR(cfg.multi_step), momentum=cfg.momentum)
    cell = nn.TrainOneStepCell(with_loss, opt)
    cell.set_train(True)
    return cell


def _bn_stat_params(cell) -> list:
    return [p for p in cell.get_parameters()
            if p.name.endswith((".moving_mean", ".moving_variance"))]


def _average_bn_stats(cell, world: int) -> None:
    """Average BatchNorm moving statistics over the ranks (every rank must call it)."""
    if world <= 1:
        return
    import mindspore as ms
    import numpy as np
    from mindspore import ops

    params = _bn_stat_params(cell)
    if not params:
        return
    values = [p.asnumpy() for p in params]
    flat = np.concatenate([v.ravel() for v in values]).astype(np.float32)
    summed = ops.AllReduce()(ms.Tensor(flat)).asnumpy() / world
    offset = 0
    for p, v in zip(params, values):
        p.set_data(ms.Tensor(summed[offset:offset + v.size].reshape(v.shape), p.dtype))
        offset += v.size


def _any_rank(flag: bool, world: int) -> bool:
    """True on every rank when ``flag`` is set on any rank (a collective when world > 1)."""
    if world <= 1:
        return flag
    import mindspore as ms
    from mindspore import ops

    # float32 SUM: the reduction the CPU backend (mccl) supports
    got = ops.AllReduce()(ms.Tensor([1.0 if flag else 0.0], ms.float32))
    return bool(got.asnumpy().reshape(-1)[0] > 0)


def dump_weights(cell, directory: str | Path, rank: int) -> Path:
    """Write every parameter of ``cell`` to ``directory/rank<rank>.npz`` (testing aid)."""
    import numpy as np

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"rank{rank}.npz"
    with atomic_path(out) as tmp:  # keeps the .npz suffix, so np.savez adds none
        np.savez(tmp, **{p.name: p.asnumpy() for p in cell.get_parameters()})
    return out


class _StopFlag:
    """SIGINT/SIGTERM set a flag checked between steps; a second signal aborts at once.

    MindSpore's GRAPH-mode executor installs its own C-level SIGINT handler whenever it
    runs a graph (it turns Ctrl-C into SIGTERM), so :meth:`arm` is called again after
    every step; a Ctrl-C that lands inside a step arrives here as SIGTERM, which is
    handled the same way.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _handler(self, signum, _frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("%s received: stopping after this step (Ctrl-C again to abort without saving)",
                    signal.Signals(signum).name)

    def arm(self) -> None:
        for sig in self.SIGNALS:
            try:
                old = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: keep the defaults
                continue
            self._old.setdefault(sig, old)

    def __enter__(self) -> "_StopFlag":
        self.arm()
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def train(cfg: Config, *, resume: bool = False, quiet: bool = False,
          dump_weights_dir: str | Path | None = None) -> Path:
    """Run (or continue) training; returns the path of the final checkpoint.

    Everything that can be wrong with the input (dataset, resume checkpoint, network) is
    checked before the first file is written. Raises :class:`TrainingInterrupted` (after
    saving) on SIGINT / SIGTERM.
    """
    import mindspore as ms
    import numpy as np
    from tqdm import tqdm

    from arttrack.models import factory
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
        try:
            ckpt = load_checkpoint(found)
        except CheckpointError as exc:
            older = list_checkpoints(prefix)[:-1]
            hint = f"; move it away to resume from {older[-1]}" if older else ""
            raise CheckpointError(f"--resume: {exc}{hint}") from None
        check_architecture(ckpt, cfg)
        start_step = ckpt.step
        if start_step >= cfg.total_steps:
            log.info("%s is at step %d: already trained for the run's %d steps",
                     found, start_step, cfg.total_steps)
            return found

    # Data first: a missing dataset fails fast, before the network is built.
    source = factory.build_source(cfg, "train")
    codec = factory.build_codec(cfg)
    augmenter = factory.build_augmenter(cfg, train=True)
    per_rank = math.ceil(len(source) / world)
    steps_per_epoch = per_rank // cfg.batch_size  # drop_remainder
    if steps_per_epoch < 1:
        raise ConfigError(f"batch_size: {cfg.batch_size} is larger than the {per_rank} training "
                          f"samples per rank ({len(source)} samples, {world} rank(s))")

    net = factory.build_model(cfg, pretrained=ckpt is None)
    cell = build_train_cell(cfg, net)
    if ckpt is not None:
        load_into(cell, ckpt, strict=True)
        done = int(cell.optimizer.global_step.asnumpy().reshape(-1)[0])
        if done != start_step:
            raise CheckpointError(f"checkpoint {ckpt.path} is inconsistent: step {start_step} but "
                                  f"the optimizer made {done} updates")
        log.info("resumed from %s at step %d (lr %.3g)", ckpt.path, start_step,
                 learning_rate_at(cfg, start_step))

    if is_main:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        for stale in partial_files(prefix):
            log.warning("removing %s left by an interrupted save", stale)
            stale.unlink(missing_ok=True)
        save_config(cfg, prefix.parent / "config.yaml")

    start_epoch, skip = divmod(start_step, steps_per_epoch)
    dataset = build_dataset(source, codec, augmenter, batch_size=cfg.batch_size, shuffle=True,
                            seed=cfg.seed, num_shards=world, shard_id=rank,
                            num_parallel_workers=max(cfg.num_workers, 1),
                            python_multiprocessing=cfg.num_workers > 1, mean_pixel=cfg.mean_pixel,
                            drop_remainder=True, start_epoch=start_epoch, skip_batches=skip)
    cols = ["image", *cell.network.target_names]
    iterator = dataset.create_dict_iterator(num_epochs=-1, output_numpy=False)

    def save(step: int) -> Path | None:
        # Collective: every rank must reach the same save points (they do: same steps).
        _average_bn_stats(cell, world)
        if not is_main:
            return None
        return save_checkpoint(cell, prefix, step, cfg, keep=cfg.keep_checkpoints)

    step = start_step
    last_saved: Path | None = None
    bar = tqdm(total=cfg.total_steps, initial=start_step, desc="train", unit="step",
               disable=quiet or not is_main or not sys.stderr.isatty(), dynamic_ncols=True)
    t_last, s_last = time.perf_counter(), step
    with _StopFlag() as stop:
        try:
            stopping = False
            while step < cfg.total_steps and not stopping:
                for i, batch in enumerate(iterator):
                    if skip:  # resuming mid-epoch: the batches already trained on
                        if i < skip:
                            continue
                        skip = 0
                    loss = cell(*[batch[c] for c in cols])
                    stop.arm()
                    step += 1
                    bar.update(1)
                    if step % cfg.display_iters == 0 or step == cfg.total_steps:
                        value = float(loss.asnumpy())
                        if not np.isfinite(value):
                            raise FloatingPointError(f"loss became {value} at step {step}; "
                                                     "lower the learning rate")
                        now = time.perf_counter()
                        rate = (step - s_last) / max(now - t_last, 1e-9)
                        t_last, s_last = now, step
                        lr = learning_rate_at(cfg, step - 1)
                        bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2g}", steps_s=f"{rate:.2f}")
                        if is_main:
                            log.info("step %d/%d loss %.5f lr %.3g %.2f steps/s", step,
                                     cfg.total_steps, value, lr, rate)
                    # All ranks agree on stopping, so they stop after the same step.
                    stopping = _any_rank(stop.signum is not None, world)
                    if step % cfg.save_iters == 0 and step < cfg.total_steps and not stopping:
                        last_saved = save(step)
                    if step >= cfg.total_steps or stopping:
                        break
                if stopping:
                    break
        finally:
            bar.close()
        if stopping:
            path = save(step) if step > start_step else None
            raise TrainingInterrupted(stop.signum or signal.SIGTERM, step, path, rank)
    final = save(step)
    if is_main:
        last_saved = final
        log.info("finished %d steps; final checkpoint %s", step, final)
    if dump_weights_dir is not None:
        log.info("rank %d: weights written to %s", rank, dump_weights(cell, dump_weights_dir, rank))
    return last_saved if last_saved is not None else Path(f"{prefix}-{step}.ckpt")
