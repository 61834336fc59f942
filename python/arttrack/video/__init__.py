"""The video pipeline, stage by stage in the order data flows: frames from a source
(:mod:`~arttrack.video.source`), the network, parsing, linking and smoothing stages and the
sinks behind one atomic output folder per video (:mod:`~arttrack.video.pipeline`), drawing
(:mod:`~arttrack.video.draw`), many videos and ``msrun`` ranks
(:mod:`~arttrack.video.batch`) and the built-in demo (:mod:`~arttrack.video.demo`).
``python -m arttrack.multiperson`` only parses its arguments and wires these."""
