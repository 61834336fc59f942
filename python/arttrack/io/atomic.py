"""Atomic file output: write under a temporary name in the same folder, then rename."""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    The temporary name keeps ``path``'s suffix (some writers, e.g. ``np.savez``, insist on
    it). On an exception the temporary file is removed and ``path`` is left untouched.
    """
    final = Path(path)
    tmp = final.with_name(f".{final.stem}.tmp{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def normal_permissions(path: str | os.PathLike) -> None:
    """Give a file the permissions a new file gets from the process's umask (usually
    ``rw-r--r--``): MindSpore writes checkpoints and MINDIR files read-only for the owner
    alone (0400), which a later overwrite or another user of a shared folder trips over."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2) -> None:
    """Write ``data`` as JSON (NaN written as null, which strict JSON readers accept; numpy
    scalars as numbers), under a temporary name renamed into place, so no half-written file
    is left; the folder is created. ``indent=None``: compact, one line."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        json.dump(_nan_to_none(data), f, indent=indent, allow_nan=False,
                  separators=(",", ":") if indent is None else None)
        f.write("\n")


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):  # numpy scalar
        return _nan_to_none(x.item())
    return x
