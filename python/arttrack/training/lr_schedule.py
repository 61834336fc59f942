"""DeeperCut's ``multi_step`` learning rate as a MindSpore schedule cell.

A module-level class (not one defined inside a function): MindSpore's graph parser
resolves the free variables of ``construct`` and fails on closures when the optimizer
is compiled as a sub-graph in PYNATIVE mode.
"""

from __future__ import annotations

from typing import Sequence

import mindspore as ms
from mindspore import ops
from mindspore.nn.learning_rate_schedule import LearningRateSchedule

__all__ = ["MultiStepLR"]


class MultiStepLR(LearningRateSchedule):
    """``lr_i`` while ``until_{i-1} <= global_step < until_i``; the last lr afterwards.

    ``multi_step``: ``[[lr_0, until_0], [lr_1, until_1], ...]`` with increasing ``until``.
    Pure-Python twin: :func:`arttrack.training.trainer.learning_rate_at`.
    """

    def __init__(self, multi_step: Sequence[Sequence[float]]) -> None:
        super().__init__()
        if not multi_step:
            raise ValueError("multi_step needs at least one [learning_rate, until_step] entry")
        self.lrs = ms.Tensor([float(lr) for lr, _ in multi_step], ms.float32)
        self.bounds = ms.Tensor([int(until) for _, until in multi_step], ms.int32)
        self.last = len(multi_step) - 1

    def construct(self, global_step):
        passed = ops.cast(ops.cast(global_step, ms.int32) >= self.bounds, ms.int32)
        idx = ops.minimum(ops.reduce_sum(passed), self.last)
        return ops.gather(self.lrs, idx, 0)
