"""arttrack: articulated multi-person pose estimation and tracking (ArtTrack, DeeperCut).

The package is light to import: MindSpore is only loaded by the modules that need it
(``arttrack.models``, ``arttrack.train``, ...). The C++ post-processing core lives in
``arttrack._core`` and is used through :mod:`arttrack.postprocess`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
