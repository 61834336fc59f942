"""ArtTrack / DeeperCut training losses.

Network outputs are NCHW (:mod:`arttrack.models.arttrack_net`). Targets come in the
column order and names of :func:`arttrack.data.pipeline.column_names` and, by default
(``target_layout="NHWC"``), in the pipeline's NHWC layout; the loss cell transposes them
to NCHW and checks every target's shape against its output (``target_layout="NCHW"``
takes them as they are). Heads that are disabled take no targets::

    scmap           (N, h, w, J)          1 where joint j lies within pos_dist_thresh, else 0
    scmap_weights   (N, h, w, J)          per-cell per-joint weight of the part loss
    locref_map      (N, h, w, 2J)         (dx, dy)/locref_stdev, channels 2j, 2j+1
    locref_mask     (N, h, w, 2J)         1 where the locref target is valid
    pairwise_map    (N, h, w, 2J(J-1))    normalised pair offsets (arttrack.joints.pair_channel)
    pairwise_mask   (N, h, w, 2J(J-1))

Losses (each a weighted sum divided by the number of NON-ZERO weights, like TensorFlow's
``SUM_BY_NONZERO_WEIGHTS`` in the original DeeperCut; an all-zero mask gives 0, not NaN):

    part      = sigmoid_xent(part, scmap; scmap_weights)
    interm    = sigmoid_xent(part_interm, scmap; scmap_weights)            (weight 1)
    locref    = huber_1(locref - locref_map; locref_mask)                   (weight 0.05)
    pairwise  = huber_1(pairwise - pairwise_map; pairwise_mask)             (weight 0.05)
    total     = part + w_i * interm + w_l * locref + w_p * pairwise
"""

from __future__ import annotations

from typing import Sequence

import mindspore as ms
from mindspore import nn, ops

__all__ = ["ArtTrackLoss", "ArtTrackWithLoss", "masked_huber", "weighted_sigmoid_cross_entropy",
           "target_names", "LOSS_COMPONENTS"]

LOSS_COMPONENTS = ("total", "part", "part_interm", "locref", "pairwise")


def _nonzero_mean(values, weights):
    """sum(weights * values) / max(#nonzero(weights), 1)."""
    num = ops.reduce_sum(weights * values)
    cnt = ops.reduce_sum(ops.cast(ops.not_equal(weights, 0.0), ms.float32))
    return num / ops.maximum(cnt, 1.0)


def weighted_sigmoid_cross_entropy(logits, labels, weights):
    """Numerically stable sigmoid cross-entropy, averaged over non-zero weights."""
    ce = ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))
    return _nonzero_mean(ce, weights)


def masked_huber(pred, target, mask, delta: float = 1.0):
    """Huber loss (0.5 x^2 for |x| <= delta, delta*(|x| - delta/2) beyond), averaged
    over the non-zero mask entries."""
    a = ops.abs(pred - target)
    quad = ops.minimum(a, delta)
    lin = a - quad
    loss = 0.5 * quad * quad + delta * lin
    return _nonzero_mean(loss, mask)


def target_names(locref: bool = True, pairwise: bool = False) -> tuple[str, ...]:
    """Target column names, in order (same as the data pipeline's columns after image)."""
    names = ["scmap", "scmap_weights"]
    if locref:
        names += ["locref_map", "locref_mask"]
    if pairwise:
        names += ["pairwise_map", "pairwise_mask"]
    return tuple(names)


def _check_same_shape(name, target, output):
    # Static shapes: evaluated at compile time in GRAPH mode.
    if target.shape != output.shape:
        raise ValueError(f"target {name} has shape {target.shape} (after layout conversion), "
                         f"its output {output.shape}; wrong target_layout or map size?")


class ArtTrackLoss(nn.Cell):
    """Combine the head losses; ``construct(outputs, targets)`` returns
    ``(total, part, part_interm, locref, pairwise)`` (disabled terms are 0).

    Args:
        output_names: the network's ``output_names`` (fixes which outputs exist and where).
        locref_loss_weight, pairwise_loss_weight: 0.05 each (DeeperCut).
        intermediate_loss_weight: 1.0.
        huber_delta: 1.0.
        target_layout: ``"NHWC"`` (the data pipeline's, default) or ``"NCHW"``.
    """

    def __init__(self, output_names: Sequence[str], locref_loss_weight: float = 0.05,
                 pairwise_loss_weight: float = 0.05, intermediate_loss_weight: float = 1.0,
                 huber_delta: float = 1.0, target_layout: str = "NHWC") -> None:
        super().__init__()
        if target_layout not in ("NHWC", "NCHW"):
            raise ValueError(f"target_layout must be 'NHWC' or 'NCHW', got {target_layout!r}")
        self.nhwc = target_layout == "NHWC"
        self.target_layout = target_layout
        names = tuple(output_names)
        if not names or names[0] != "part":
            raise ValueError(f"output_names must start with 'part', got {names}")
        self.output_names = names
        self.use_locref = "locref" in names
        self.use_pairwise = "pairwise" in names
        self.use_interm = "part_interm" in names
        self.i_locref = names.index("locref") if self.use_locref else -1
        self.i_pairwise = names.index("pairwise") if self.use_pairwise else -1
        self.i_interm = names.index("part_interm") if self.use_interm else -1
        self.target_names = target_names(self.use_locref, self.use_pairwise)
        self.w_locref = float(locref_loss_weight)
        self.w_pairwise = float(pairwise_loss_weight)
        self.w_interm = float(intermediate_loss_weight)
        self.delta = float(huber_delta)

    def _t(self, x):
        if self.nhwc:
            return ops.transpose(x, (0, 3, 1, 2))
        return x

    def construct(self, outputs, targets):
        part_t = self._t(targets[0])
        part_w = self._t(targets[1])
        _check_same_shape("scmap", part_t, outputs[0])
        _check_same_shape("scmap_weights", part_w, outputs[0])
        zero = ops.zeros((), ms.float32)
        part = weighted_sigmoid_cross_entropy(outputs[0], part_t, part_w)
        total = part
        interm = zero
        locref = zero
        pairwise = zero
        k = 2
        if self.use_locref:
            out = outputs[self.i_locref]
            tgt = self._t(targets[k])
            msk = self._t(targets[k + 1])
            _check_same_shape("locref_map", tgt, out)
            _check_same_shape("locref_mask", msk, out)
            locref = masked_huber(out, tgt, msk, self.delta)
            total = total + self.w_locref * locref
            k = k + 2
        if self.use_pairwise:
            out = outputs[self.i_pairwise]
            tgt = self._t(targets[k])
            msk = self._t(targets[k + 1])
            _check_same_shape("pairwise_map", tgt, out)
            _check_same_shape("pairwise_mask", msk, out)
            pairwise = masked_huber(out, tgt, msk, self.delta)
            total = total + self.w_pairwise * pairwise
        if self.use_interm:
            interm = weighted_sigmoid_cross_entropy(outputs[self.i_interm], part_t, part_w)
            total = total + self.w_interm * interm
        return total, part, interm, locref, pairwise


class ArtTrackWithLoss(nn.Cell):
    """Network + :class:`ArtTrackLoss` for ``nn.TrainOneStepCell``.

    ``construct(image, *targets)`` with the targets in ``self.target_names`` order;
    returns the scalar total loss. ``self.input_names`` = ("image", *target_names), the
    dataset column order to feed (== ``arttrack.data.pipeline.column_names``).
    """

    def __init__(self, network: nn.Cell, loss: ArtTrackLoss | None = None, **loss_cfg) -> None:
        super().__init__()
        self.network = network
        self.loss = loss if loss is not None else ArtTrackLoss(network.output_names, **loss_cfg)
        if tuple(self.loss.output_names) != tuple(network.output_names):
            raise ValueError(f"loss built for outputs {self.loss.output_names}, network has "
                             f"{network.output_names}")
        self.target_names = self.loss.target_names
        self.input_names = ("image",) + tuple(self.target_names)
        self._n_targets = len(self.target_names)

    def construct(self, image, *targets):
        outputs = self.network(image)
        return self.loss(outputs, targets)[0]
