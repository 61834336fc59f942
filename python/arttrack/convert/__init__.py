"""Bring weights from other frameworks into arttrack.

* :mod:`arttrack.convert.tf`: the DeeperCut authors' TensorFlow pose models and TF-slim's
  ImageNet ResNets (read without TensorFlow, :mod:`arttrack.io.tf_checkpoint`);
* :mod:`arttrack.convert.deepercut`: the authors' pairwise statistics and spatial models
  (``.mat``);
* :mod:`arttrack.convert.torchvision`: torchvision / timm ResNet state dicts.

Command line: ``python -m arttrack.convert tf PREFIX --out FILE`` and
``python -m arttrack.convert torch --src FILE --arch NAME --out FILE``
(:mod:`arttrack.convert.__main__`).
"""

from arttrack.convert.torchvision import (ConversionReport, convert_file, convert_state_dict,
                                          load_state_dict_file)


def main(argv=None) -> int:
    """The command line (see :mod:`arttrack.convert.__main__`)."""
    from arttrack.convert.__main__ import main as _main

    return _main(argv)


__all__ = ["ConversionReport", "convert_file", "convert_state_dict", "load_state_dict_file", "main"]
