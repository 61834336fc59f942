"""arttrack: articulated multi-person pose estimation and tracking (ArtTrack, DeeperCut).

Sub-packages follow the data path (docs/DESIGN.md section 3): :mod:`arttrack.data` ->
:mod:`arttrack.models` -> :mod:`arttrack.inference` -> :mod:`arttrack.postprocess` ->
:mod:`arttrack.tracking` -> :mod:`arttrack.video` -> :mod:`arttrack.io` ->
:mod:`arttrack.eval`, with :mod:`arttrack.training`, :mod:`arttrack.deploy` and
:mod:`arttrack.convert`; the modules at the top level are the ``python -m arttrack.<name>``
programs and what they share (:mod:`arttrack.cli`, :mod:`arttrack.joints`,
:mod:`arttrack.config`).

The package is light to import: MindSpore is only loaded by the modules that need it
(``arttrack.models``, ``arttrack.training``, ...). The C++ core lives in ``arttrack._core``
and is used through :mod:`arttrack.postprocess`, :mod:`arttrack.tracking` and
:mod:`arttrack.inference`.
"""

import os as _os

__version__ = "0.1.0"

# MindSpore's CPU kernels come from oneDNN. On the AVX-512 machines we develop on (AMD EPYC
# VMs) oneDNN's AVX-512 convolutions ran about 170x slower than its AVX2 ones (a 256->256
# 3x3 conv on 32x32: 4.5 s vs 0.026 s), which made CPU training and inference crawl.
# Cap the ISA at AVX2 unless the user chose otherwise; this only sets an environment
# default (read by oneDNN when MindSpore first runs a kernel) and costs little elsewhere.
_os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

__all__ = ["__version__"]
