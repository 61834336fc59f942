"""The ArtTrack / DeeperCut network: ResNet backbone + transposed-convolution heads.

Layout and output contract
--------------------------
Input: ``(N, 3, H, W)`` float32, RGB minus the mean pixel ``[123.68, 116.779, 103.939]``,
no division by 255.

All outputs are **NCHW** float32 maps of size ``map_size(H, W) = (2*ceil(H/os),
2*ceil(W/os))`` where ``os`` is the backbone output stride; the maps have stride
``os / 2`` (8 px for the default output stride 16). Cell ``(i, j)`` is centred on input
pixel ``(j*stride + stride/2, i*stride + stride/2)``.

``construct`` returns a tuple in this FIXED order, keeping only the enabled heads
(``net.output_names`` lists the names actually returned, in order)::

    "part"         (N, J, h, w)          part logits (apply sigmoid for probabilities)
    "locref"       (N, 2J, h, w)         channel 2j = dx, 2j+1 = dy of joint j, in units of locref_stdev
    "pairwise"     (N, 2J(J-1), h, w)    channels 2c, 2c+1 = normalised (dx, dy) of ordered pair
                                         c = arttrack.joints.pair_channel(j, k, J)
    "part_interm"  (N, J, h, w)          intermediate-supervision part logits (layer3 tap)

Use :func:`outputs_as_dict` (or ``dict(zip(net.output_names, outputs))``) instead of
positional indexing.

Each head is one 3x3 transposed convolution with stride 2 and no padding, whose
``2m+1`` output is cropped to ``2m`` by dropping the last row and column; this is
TensorFlow's ``SAME`` transposed convolution used by the original DeeperCut.
"""

from __future__ import annotations

import math
from typing import Sequence

from mindspore import nn
from mindspore.common.initializer import Normal, Zero

from .resnet import ResNet

__all__ = ["ArtTrackNet", "OUTPUT_ORDER", "PredictionHead", "outputs_as_dict"]

OUTPUT_ORDER = ("part", "locref", "pairwise", "part_interm")


class PredictionHead(nn.Cell):
    """3x3 transposed convolution (stride 2 or 1) cropped to an exact map size.

    Stride 2: the full ``2m+1`` output is cropped to its first ``out`` rows/columns
    (TensorFlow ``SAME``). Stride 1 (only for the intermediate head at output stride 32):
    the full ``m+2`` output is cropped from offset 1 (so the centre tap stays aligned).
    The caller guarantees ``out <= 2m`` (stride 2) or ``out <= m+1`` (stride 1). Only
    slicing is used: no pad operators, which keeps the graph ONNX-exportable.
    """

    def __init__(self, cin: int, cout: int, stride: int = 2) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"head stride must be 1 or 2, got {stride}")
        self.stride = stride
        self.offset = 0 if stride == 2 else 1
        self.deconv = nn.Conv2dTranspose(cin, cout, 3, stride=stride, pad_mode="pad",
                                         padding=0, has_bias=True,
                                         weight_init=Normal(0.01), bias_init=Zero())

    def construct(self, x, out_h: int, out_w: int):
        y = self.deconv(x)
        o = self.offset
        return y[:, :, o:o + out_h, o:o + out_w]


class ArtTrackNet(nn.Cell):
    """Backbone + ``part`` / ``locref`` / ``pairwise`` / intermediate ``part`` heads.

    Args:
        backbone: a :class:`~arttrack.models.resnet.ResNet`; when
            ``intermediate_supervision`` is set it must tap layer3
            (``tap_layer3_unit`` not None).
        num_joints: J.
        locref: add the 2J-channel location-refinement head.
        pairwise: add the 2J(J-1)-channel pairwise head.
        intermediate_supervision: add a ``part`` head on the tapped layer3 features.
    """

    def __init__(self, backbone: ResNet, num_joints: int, locref: bool = True,
                 pairwise: bool = False, intermediate_supervision: bool = False) -> None:
        super().__init__()
        if int(num_joints) < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints!r}")
        if pairwise and num_joints < 2:
            raise ValueError("the pairwise head needs at least 2 joints")
        if intermediate_supervision and backbone.tap_layer3_unit is None:
            raise ValueError("intermediate_supervision needs a backbone built with tap_layer3_unit")
        self.backbone = backbone
        self.num_joints = j = int(num_joints)
        self.use_locref = bool(locref)
        self.use_pairwise = bool(pairwise)
        self.use_interm = bool(intermediate_supervision)
        self.output_stride = backbone.output_stride
        self.stride = backbone.output_stride // 2
        # Inputs are padded to a multiple of this (the output stride unless the backbone
        # takes any size exactly, as the TF-slim one does: 1).
        self.input_multiple = backbone.input_multiple or backbone.output_stride
        cin = backbone.out_channels
        self.part_pred = PredictionHead(cin, j)
        if self.use_locref:
            self.locref_pred = PredictionHead(cin, 2 * j)
        if self.use_pairwise:
            self.pairwise_pred = PredictionHead(cin, 2 * j * (j - 1))
        if self.use_interm:
            # the tapped layer3 features have stride 16 (os 16, 32) or 8 (os 8); bring them
            # to the part map stride.
            l3_stride = backbone.tap_stride
            self.part_pred_interm = PredictionHead(backbone.channels[2], j,
                                                   stride=2 * l3_stride // self.output_stride)
        # The tapped backbone returns (mid, final); an untapped one returns final.
        self._tapped = backbone.tap_layer3_unit is not None
        names = ["part"]
        if self.use_locref:
            names.append("locref")
        if self.use_pairwise:
            names.append("pairwise")
        if self.use_interm:
            names.append("part_interm")
        self.output_names: tuple[str, ...] = tuple(names)

    def output_channels(self) -> dict[str, int]:
        j = self.num_joints
        chans = {"part": j, "locref": 2 * j, "pairwise": 2 * j * (j - 1), "part_interm": j}
        return {n: chans[n] for n in self.output_names}

    def map_size(self, height: int, width: int) -> tuple[int, int]:
        """Output map size (h, w) for an input of ``height`` x ``width`` pixels."""
        os_ = self.output_stride
        return 2 * math.ceil(height / os_), 2 * math.ceil(width / os_)

    def output_shapes(self, height: int, width: int, batch: int = 1) -> dict[str, tuple[int, ...]]:
        h, w = self.map_size(height, width)
        return {n: (batch, c, h, w) for n, c in self.output_channels().items()}

    def construct(self, x):
        if self._tapped:
            mid, feat = self.backbone(x)
        else:
            feat = self.backbone(x)
            mid = feat
        out_h = 2 * feat.shape[2]
        out_w = 2 * feat.shape[3]
        outs = (self.part_pred(feat, out_h, out_w),)
        if self.use_locref:
            outs = outs + (self.locref_pred(feat, out_h, out_w),)
        if self.use_pairwise:
            outs = outs + (self.pairwise_pred(feat, out_h, out_w),)
        if self.use_interm:
            outs = outs + (self.part_pred_interm(mid, out_h, out_w),)
        return outs


def outputs_as_dict(net_or_names, outputs: Sequence) -> dict:
    """Map a network's output tuple to ``{name: tensor}`` using its ``output_names``."""
    names = getattr(net_or_names, "output_names", net_or_names)
    names = tuple(names)
    if len(names) != len(outputs):
        raise ValueError(f"expected {len(names)} outputs {names}, got {len(outputs)}")
    return dict(zip(names, outputs))
