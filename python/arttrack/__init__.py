"""arttrack: articulated multi-person pose estimation and tracking (ArtTrack, DeeperCut).

The package is light to import: MindSpore is only loaded by the modules that need it
(``arttrack.models``, ``arttrack.train``, ...). The C++ post-processing core lives in
``arttrack._core`` and is used through :mod:`arttrack.postprocess`.
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
