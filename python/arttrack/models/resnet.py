"""ResNet backbone (torchvision layout) with selectable output stride.

Parameter names follow torchvision (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0`` ...) with MindSpore's own parameter suffixes (``weight`` for
convolutions; ``gamma``, ``beta``, ``moving_mean``, ``moving_variance`` for BatchNorm), so
ImageNet weights convert by a mechanical rename (:mod:`arttrack.convert`).

Every convolution uses explicit padding (``pad_mode='pad'``): MindSpore 2.10 exports
``pad_mode='same'`` to ONNX as ``auto_pad``, which onnxruntime refuses for dilated
convolutions. Bottleneck blocks put the stride on the 3x3 convolution (torchvision
"v1.5"); the spatial output size for an input of size ``s`` is ``ceil(s / output_stride)``.

Output stride (the stride of ``layer4``):

- 32: plain ResNet;
- 16 (default, DeeperCut): ``layer4`` stride 1, dilation 2;
- 8: ``layer3`` stride 1 dilation 2, ``layer4`` stride 1 dilation 4.
"""

from __future__ import annotations

from typing import Sequence

from mindspore import nn, ops
from mindspore.common.initializer import HeNormal

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "layer_strides_dilations"]


def _conv(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    pad = dilation * (k - 1) // 2
    return nn.Conv2d(cin, cout, k, stride=stride, pad_mode="pad", padding=pad,
                     dilation=dilation, has_bias=False,
                     weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))


def _bn(c: int, freeze: bool) -> nn.BatchNorm2d:
    # use_batch_statistics=False: always normalise with the moving statistics and never
    # update them (frozen BN); None: batch statistics in training, moving ones in eval.
    # gamma/beta stay trainable either way.
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.9,
                          use_batch_statistics=False if freeze else None)


class BasicBlock(nn.Cell):
    """Two 3x3 convolutions (ResNet-18/34)."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1,
                 freeze_bn: bool = False) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = _conv(cin, planes, 3, stride, dilation)
        self.bn1 = _bn(planes, freeze_bn)
        self.conv2 = _conv(planes, planes, 3, 1, dilation)
        self.bn2 = _bn(planes, freeze_bn)
        self.relu = nn.ReLU()
        self.has_downsample = stride != 1 or cin != cout
        if self.has_downsample:
            self.downsample = nn.SequentialCell([_conv(cin, cout, 1, stride), _bn(cout, freeze_bn)])

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.has_downsample:
            identity = self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Cell):
    """1x1 -> 3x3 (strided, dilated) -> 1x1 bottleneck (ResNet-50/101/152)."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1,
                 freeze_bn: bool = False) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = _conv(cin, planes, 1)
        self.bn1 = _bn(planes, freeze_bn)
        self.conv2 = _conv(planes, planes, 3, stride, dilation)
        self.bn2 = _bn(planes, freeze_bn)
        self.conv3 = _conv(planes, cout, 1)
        self.bn3 = _bn(cout, freeze_bn)
        self.relu = nn.ReLU()
        self.has_downsample = stride != 1 or cin != cout
        if self.has_downsample:
            self.downsample = nn.SequentialCell([_conv(cin, cout, 1, stride), _bn(cout, freeze_bn)])

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.has_downsample:
            identity = self.downsample(x)
        return self.relu(out + identity)


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def checked_depths(depths: Sequence[int], width: int, tap_layer3_unit: int | None,
                   stage: str, units: str) -> tuple[int, ...]:
    """``depths`` as four positive ints, after checking ``width`` and the tapped unit
    (``stage`` / ``units`` name them in the message: "layer3" / "blocks")."""
    depths = tuple(int(d) for d in depths)
    if len(depths) != 4 or any(d < 1 for d in depths):
        raise ValueError(f"depths must be four positive ints, got {depths!r}")
    if int(width) < 1:
        raise ValueError(f"width must be positive, got {width!r}")
    if tap_layer3_unit is not None and not 1 <= tap_layer3_unit <= depths[2]:
        raise ValueError(f"tap_layer3_unit must be in 1..{depths[2]} ({stage} has "
                         f"{depths[2]} {units}), got {tap_layer3_unit!r}")
    return depths


def layer_strides_dilations(output_stride: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(stride, dilation) of layer1..layer4 for an output stride of 8, 16 or 32."""
    table = {
        32: ((1, 2, 2, 2), (1, 1, 1, 1)),
        16: ((1, 2, 2, 1), (1, 1, 1, 2)),
        8: ((1, 2, 1, 1), (1, 1, 2, 4)),
    }
    if output_stride not in table:
        raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
    return table[output_stride]


class ResNet(nn.Cell):
    """ResNet feature extractor without the classifier.

    Args:
        depths: number of blocks in layer1..layer4, e.g. (3, 4, 23, 3) for ResNet-101.
        width: base channel count (64 for the ImageNet models); layer i has
            ``width * 2**i`` planes and ``width * 2**i * expansion`` output channels.
        block: ``"bottleneck"`` or ``"basic"``.
        output_stride: 8, 16 or 32 (see the module docstring).
        freeze_bn: normalise with the stored moving statistics and never update them.

    ``construct`` returns ``(layer3_unit_feature, layer4_feature)`` when
    ``tap_layer3_unit`` is set (1-based index of the layer3 block whose output is tapped
    for intermediate supervision), else ``layer4_feature`` only.
    """

    # Inputs are padded to a multiple of the output stride (the predictor does it).
    input_multiple = None

    def __init__(self, depths: Sequence[int] = (3, 4, 23, 3), width: int = 64,
                 block: str = "bottleneck", output_stride: int = 16, freeze_bn: bool = False,
                 tap_layer3_unit: int | None = None) -> None:
        super().__init__()
        depths = checked_depths(depths, width, tap_layer3_unit, "layer3", "blocks")
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {sorted(BLOCKS)}, got {block!r}")
        blk = BLOCKS[block]
        strides, dilations = layer_strides_dilations(output_stride)
        self.depths, self.width, self.block_name = depths, int(width), block
        self.output_stride = output_stride
        self.layer_strides = (4 * strides[0], 4 * strides[0] * strides[1],
                              4 * strides[0] * strides[1] * strides[2], output_stride)
        self.tap_layer3_unit = tap_layer3_unit

        self.conv1 = _conv(3, width, 7, stride=2)
        self.bn1 = _bn(width, freeze_bn)
        self.relu = nn.ReLU()
        # MaxPool2d(pad_mode="pad") lowers to MaxPool3DWithArgmax and nn.ZeroPad2d to
        # PadV3, neither of which MindSpore 2.10 exports to ONNX: zero-pad with the Pad
        # primitive (exact here: the input is post-ReLU, >= 0) and pool "valid".
        self.maxpool_pad = ops.Pad(((0, 0), (0, 0), (1, 1), (1, 1)))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")
        cin = width
        layers = []
        self.channels: list[int] = []
        for i in range(4):
            planes = width * 2 ** i
            cells = []
            for b in range(depths[i]):
                cells.append(blk(cin, planes, strides[i] if b == 0 else 1, dilations[i],
                                 freeze_bn))
                cin = planes * blk.expansion
            layers.append(nn.SequentialCell(cells))
            self.channels.append(cin)
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.out_channels = self.channels[3]
        self.tap_stride = self.layer_strides[2]  # stride of the tapped layer3 features
        if tap_layer3_unit is not None:
            # Split layer3 at the tap without changing parameter names: layer3 keeps
            # all its blocks; construct runs them by index.
            self._tap = tap_layer3_unit
        else:
            self._tap = 0

    def construct(self, x):
        x = self.maxpool(self.maxpool_pad(self.relu(self.bn1(self.conv1(x)))))
        x = self.layer1(x)
        x = self.layer2(x)
        if self._tap > 0:
            mid = x
            for i in range(self._tap):
                mid = self.layer3[i](mid)
            x = mid
            for i in range(self._tap, len(self.layer3)):
                x = self.layer3[i](x)
            x = self.layer4(x)
            return mid, x
        x = self.layer3(x)
        return self.layer4(x)
