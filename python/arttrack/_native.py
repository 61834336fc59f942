"""Guarded access to the compiled extension ``arttrack._core``."""

from __future__ import annotations

try:
    from arttrack import _core as core  # noqa: F401
except ImportError as exc:  # pragma: no cover - only hit on a broken install
    raise ImportError(
        "arttrack's C++ extension (arttrack._core) is not built or cannot be loaded "
        f"({exc}). Build and install it with `pip install .` (or `pip install -e .` for "
        "development) from the repository root; this needs a C++17 compiler and CMake."
    ) from exc

__all__ = ["core"]
