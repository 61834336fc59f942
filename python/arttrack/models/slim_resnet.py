"""TF-slim ``resnet_v1``: the backbone of the authors' DeeperCut / ArtTrack models.

The DeeperCut authors trained their published models (and their ImageNet starting point,
TF-slim's 2016 ``resnet_v1_50`` / ``resnet_v1_101`` checkpoints) on TF-slim's ResNet v1,
which differs from the torchvision layout of :class:`arttrack.models.resnet.ResNet` in
ways that change every output, not only the parameter names:

* **the stride sits on the last unit of a block** (``block1/unit_3`` of ResNet-101, not
  ``unit_1``), on that unit's 3x3 convolution;
* a unit whose input and output depths agree has **no shortcut convolution**: its
  shortcut subsamples the input (a 1x1 max pool with the unit's stride, i.e. every
  other pixel from the first); only ``unit_1`` of each block carries ``shortcut``;
* a **strided 3x3 convolution pads explicitly** (``conv2d_same``: 1 pixel on each side),
  a stride-1 one is ``SAME``; the 7x7 root convolution pads 3 on each side;
* the root **max pool is TensorFlow ``SAME``**: for an even input it pads one row /
  column at the bottom / right only, for an odd one on both sides;
* batch norm epsilon 1e-5 (``resnet_arg_scope``), applied after every convolution, which
  therefore has no bias;
* output stride by atrous convolution as ``resnet_utils.stack_blocks_dense`` does it:
  once the running stride reaches ``output_stride``, every later unit runs with stride 1
  and the dilation rate grows by the stride it skipped. For output stride 16 (DeeperCut)
  that is stride 1 in ``block3``'s last unit and rate 2 in all of ``block4``.

Parameters are named after TF-slim's variables, one unit per cell:
``block1.units.0.conv1.weight`` / ``block1.units.0.conv1_bn.gamma`` for
``resnet_v1_101/block1/unit_1/bottleneck_v1/conv1/weights`` /
``.../conv1/BatchNorm/gamma``, ``conv1.weight`` / ``conv1_bn.*`` for the root; the
mapping is :func:`tf_variable_name` (used by :mod:`arttrack.convert.tf`).

No shape-dependent padding operator is exported: the root max pool's padding is decided
from the (static) input size when the graph is built, and zero padding equals TF's
``-inf`` padding there because its input is post-ReLU.
"""

from __future__ import annotations

from typing import Sequence

from mindspore import nn, ops
from mindspore.common.initializer import HeNormal

from .resnet import checked_depths

__all__ = ["SlimBottleneck", "SlimResNetV1", "slim_unit_schedule", "tf_variable_name"]

BN_EPS = 1e-5
BLOCK_STRIDES = (2, 2, 2, 1)  # TF-slim resnet_v1_{50,101,152}: stride of each block's last unit


def _conv(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1,
          pad: int = 0) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, pad_mode="pad", padding=pad,
                     dilation=dilation, has_bias=False,
                     weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))


def _bn(c: int, freeze: bool) -> nn.BatchNorm2d:
    # TF's moving-average decay 0.997 is MindSpore momentum 0.997 (new = m*old + (1-m)*batch).
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.997,
                          use_batch_statistics=False if freeze else None)


def slim_unit_schedule(depths: Sequence[int], output_stride: int | None
                       ) -> tuple[list[list[tuple[int, int]]], list[int], int]:
    """(stride, rate) of every unit, as ``resnet_utils.stack_blocks_dense`` assigns them.

    Returns ``(schedule, block_strides, tap3_stride)``: ``schedule[b][u]`` for block ``b``
    and unit ``u`` (0-based); the running stride after each block; and the stride of
    ``block3``'s units before its last (where the intermediate head taps). The root
    (conv1 + pool) has stride 4. ``output_stride`` None means no atrous convolution.
    """
    if output_stride is not None and (output_stride % 4 or output_stride < 4):
        raise ValueError(f"output_stride must be a multiple of 4, got {output_stride}")
    target = None if output_stride is None else output_stride // 4
    current, rate = 1, 1
    schedule: list[list[tuple[int, int]]] = []
    after: list[int] = []
    tap3 = 0
    for b, n in enumerate(depths):
        units = []
        for u in range(n):
            s = BLOCK_STRIDES[b] if u == n - 1 else 1
            if b == 2 and u == 0:
                tap3 = current * 4
            if target is not None and current == target:
                units.append((1, rate))
                rate *= s
            else:
                units.append((s, 1))
                current *= s
        schedule.append(units)
        after.append(current * 4)
    if target is not None and current != target:
        raise ValueError(f"output_stride {output_stride} cannot be reached by blocks of "
                         f"strides {BLOCK_STRIDES}")
    return schedule, after, tap3


class SlimBottleneck(nn.Cell):
    """``bottleneck_v1``: 1x1 -> 3x3 (stride, rate) -> 1x1, shortcut conv or subsample."""

    def __init__(self, cin: int, depth_bottleneck: int, depth: int, stride: int, rate: int,
                 freeze_bn: bool) -> None:
        super().__init__()
        if stride > 1 and rate > 1:
            raise ValueError("a unit cannot have both stride and rate above 1")
        self.stride = int(stride)
        self.has_shortcut = depth != cin
        if self.has_shortcut:
            self.shortcut = _conv(cin, depth, 1, stride)
            self.shortcut_bn = _bn(depth, freeze_bn)
        elif self.stride > 1:
            # slim's subsample: a 1x1 max pool with the stride (every other pixel from the
            # first). A strided slice would compute the same, but its gradient fails in
            # MindSpore 2.10's PyNative mode ("StridedSliceGrad ... out of bounds").
            self.subsample = nn.MaxPool2d(kernel_size=1, stride=self.stride, pad_mode="valid")
        self.conv1 = _conv(cin, depth_bottleneck, 1)
        self.conv1_bn = _bn(depth_bottleneck, freeze_bn)
        # conv2d_same: explicit symmetric padding of (k_eff - 1) / 2 when strided; SAME
        # (the same symmetric padding for an odd kernel) otherwise.
        self.conv2 = _conv(depth_bottleneck, depth_bottleneck, 3, stride, rate, pad=rate)
        self.conv2_bn = _bn(depth_bottleneck, freeze_bn)
        self.conv3 = _conv(depth_bottleneck, depth, 1)
        self.conv3_bn = _bn(depth, freeze_bn)
        self.relu = nn.ReLU()

    def construct(self, x):
        if self.has_shortcut:
            shortcut = self.shortcut_bn(self.shortcut(x))
        elif self.stride > 1:
            shortcut = self.subsample(x)
        else:
            shortcut = x
        out = self.relu(self.conv1_bn(self.conv1(x)))
        out = self.relu(self.conv2_bn(self.conv2(out)))
        out = self.conv3_bn(self.conv3(out))
        return self.relu(out + shortcut)


class SlimBlock(nn.Cell):
    """One ``blockN`` of units (a CellList, so unit ``k`` is ``units.<k-1>``)."""

    def __init__(self, units: list[SlimBottleneck]) -> None:
        super().__init__()
        self.units = nn.CellList(units)

    def construct(self, x):
        for unit in self.units:
            x = unit(x)
        return x


class SlimResNetV1(nn.Cell):
    """TF-slim ``resnet_v1`` feature extractor (no global pool, no logits).

    Args:
        depths: units per block, (3, 4, 23, 3) for ResNet-101, (3, 4, 6, 3) for ResNet-50.
        width: base depth of block1 (64 in the ImageNet models); block ``i`` has
            bottleneck depth ``width * 2**i`` and output depth 4 times that. The root
            convolution has ``root_width`` channels (64 when None, as TF-slim fixes it).
        output_stride: 8, 16 (DeeperCut) or 32.
        freeze_bn: normalise with the stored moving statistics and never update them
            (the authors trained with ``is_training=False``).
        tap_layer3_unit: 1-based ``block3`` unit whose output feeds the intermediate head
            (DeeperCut's ``block3/unit_12``); ``construct`` then returns ``(tap, final)``.

    Exposes the attributes :class:`arttrack.models.arttrack_net.ArtTrackNet` reads:
    ``output_stride``, ``out_channels``, ``channels`` (output depth per block),
    ``tap_layer3_unit``, ``tap_stride`` and ``input_multiple`` (1: the network takes any
    input size, as TensorFlow does, so the predictor feeds images unpadded).
    """

    input_multiple = 1

    def __init__(self, depths: Sequence[int] = (3, 4, 23, 3), width: int = 64,
                 output_stride: int = 16, freeze_bn: bool = False,
                 tap_layer3_unit: int | None = None, root_width: int | None = None) -> None:
        super().__init__()
        depths = checked_depths(depths, width, tap_layer3_unit, "block3", "units")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        schedule, after, _ = slim_unit_schedule(depths, output_stride)
        self.depths, self.width = depths, int(width)
        self.block_name = "slim"
        self.output_stride = int(output_stride)
        self.layer_strides = tuple(after)
        self.tap_layer3_unit = tap_layer3_unit
        root = 64 if root_width is None else int(root_width)
        self.conv1 = _conv(3, root, 7, stride=2, pad=3)
        self.conv1_bn = _bn(root, freeze_bn)
        self.relu = nn.ReLU()
        # Zero padding with the Pad primitive (MindSpore 2.10 exports neither PadV3 nor a
        # padded max pool to ONNX), one per parity of (height, width): an odd side is padded
        # by one on both ends, an even side at the end only. (Padding by one everywhere and
        # cropping would need a strided slice, whose gradient fails in PyNative mode.)
        self.pool_pad_ee = ops.Pad(((0, 0), (0, 0), (0, 1), (0, 1)))
        self.pool_pad_eo = ops.Pad(((0, 0), (0, 0), (0, 1), (1, 1)))
        self.pool_pad_oe = ops.Pad(((0, 0), (0, 0), (1, 1), (0, 1)))
        self.pool_pad_oo = ops.Pad(((0, 0), (0, 0), (1, 1), (1, 1)))
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")
        cin = root
        blocks = []
        self.channels: list[int] = []
        for b in range(4):
            base = self.width * 2 ** b
            units = []
            for stride, rate in schedule[b]:
                units.append(SlimBottleneck(cin, base, 4 * base, stride, rate, freeze_bn))
                cin = 4 * base
            blocks.append(SlimBlock(units))
            self.channels.append(cin)
        self.block1, self.block2, self.block3, self.block4 = blocks
        self.out_channels = self.channels[3]
        # The stride of the tapped block3 unit's output (16 at output stride 16 or 32).
        if tap_layer3_unit is not None:
            stride_in = after[1]
            for s, _ in schedule[2][:tap_layer3_unit]:
                stride_in *= s
            self.tap_stride = stride_in
        else:
            self.tap_stride = after[2]
        self._tap = tap_layer3_unit or 0

    def _max_pool_same(self, x):
        # TF 'SAME' for a 3x3 / stride-2 pool: total padding 1 (even side) or 2 (odd side),
        # the odd pixel at the end. Shapes are static when the graph is compiled.
        h_odd, w_odd = x.shape[2] % 2 == 1, x.shape[3] % 2 == 1
        if h_odd:
            x = self.pool_pad_oo(x) if w_odd else self.pool_pad_oe(x)
        else:
            x = self.pool_pad_eo(x) if w_odd else self.pool_pad_ee(x)
        return self.pool(x)

    def construct(self, x):
        x = self.relu(self.conv1_bn(self.conv1(x)))
        x = self._max_pool_same(x)
        x = self.block1(x)
        x = self.block2(x)
        if self._tap > 0:
            mid = x
            for i in range(self._tap):
                mid = self.block3.units[i](mid)
            x = mid
            for i in range(self._tap, len(self.block3.units)):
                x = self.block3.units[i](x)
            return mid, self.block4(x)
        x = self.block3(x)
        return self.block4(x)


_BN_LEAVES = {"gamma": "gamma", "beta": "beta", "moving_mean": "moving_mean",
              "moving_variance": "moving_variance"}


def tf_variable_name(param: str, scope: str) -> tuple[str, str]:
    """TF-slim variable of a backbone parameter, and how its array is laid out.

    ``param`` is a parameter name relative to the backbone (``block2.units.0.conv2.weight``);
    ``scope`` the network's variable scope (``resnet_v1_101``). Returns ``(tf_name,
    layout)`` with layout ``"conv"`` (TF ``[kh, kw, in, out]`` -> MindSpore ``(out, in,
    kh, kw)``) or ``"vector"``.
    """
    parts = param.split(".")
    leaf = parts[-1]
    if parts[0] == "conv1" or parts[0] == "conv1_bn":
        prefix, layer = f"{scope}/conv1", parts[0]
    elif parts[0].startswith("block") and len(parts) == 5 and parts[1] == "units":
        unit = int(parts[2]) + 1
        prefix = f"{scope}/{parts[0]}/unit_{unit}/bottleneck_v1/" + parts[3].replace("_bn", "")
        layer = parts[3]
    else:
        raise ValueError(f"not a TF-slim backbone parameter: {param!r}")
    if layer.endswith("_bn"):
        if leaf not in _BN_LEAVES:
            raise ValueError(f"not a TF-slim backbone parameter: {param!r}")
        return f"{prefix}/BatchNorm/{_BN_LEAVES[leaf]}", "vector"
    if leaf != "weight":
        raise ValueError(f"not a TF-slim backbone parameter: {param!r}")
    return f"{prefix}/weights", "conv"
