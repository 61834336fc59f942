"""Frames -> network -> maps: :class:`Predictor` (pre-processing, batching, MindSpore or ONNX
Runtime, maps cropped to the image) and the geometry that maps results back to the frame.

- :mod:`arttrack.inference.predictor`: :class:`Predictor`, :class:`Maps`, flip test;
- :mod:`arttrack.inference.backends`: which engine runs the network (ONNX Runtime's export
  cache);
- :mod:`arttrack.inference.datasets`: prediction over a config's dataset (what
  ``python -m arttrack.predict`` runs).
"""

from __future__ import annotations

from arttrack.inference.predictor import (
    Maps,
    Predictor,
    average_maps,
    decode_single,
    flip_input,
    pad_image,
    rescale_image,
    to_original,
    unflip_maps,
    valid_map_shape,
)

__all__ = ["Maps", "Predictor", "average_maps", "decode_single", "flip_input", "pad_image",
           "rescale_image", "to_original", "unflip_maps", "valid_map_shape"]
