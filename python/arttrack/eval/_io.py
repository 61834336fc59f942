"""Small shared helpers for the evaluation modules: JSON reading and a table printer."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from arttrack.eval import EvalError


def read_json(path: str | Path, what: str = "file") -> Any:
    """Load a JSON file; every failure becomes an :class:`EvalError` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise EvalError(f"{what} not found: {p}")
    try:
        with p.open("r", encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise EvalError(f"{what} {p} is not valid JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read {what} {p}: {exc}") from None


def fmt(v: float | int | None, width: int, prec: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-".rjust(width)
    if isinstance(v, int):
        return str(v).rjust(width)
    return f"{v:.{prec}f}".rjust(width)


def table(header: Sequence[str], rows: Sequence[tuple[str, Sequence[Any]]], prec: int = 1) -> str:
    """Plain-text table: first column a row label, then one right-aligned column per header."""
    lw = max([len(r[0]) for r in rows] + [len(header[0])])
    widths = [max(len(h), 7) for h in header[1:]]
    lines = [header[0].ljust(lw) + " " + " ".join(h.rjust(w) for h, w in zip(header[1:], widths))]
    for label, vals in rows:
        lines.append(label.ljust(lw) + " " + " ".join(fmt(v, w, prec) for v, w in zip(vals, widths)))
    return "\n".join(lines)
