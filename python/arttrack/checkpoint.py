"""Checkpoints that are never half-written and always say what they belong to.

Every checkpoint carries the training step and the full config (as JSON) next to the
parameters, so ``--resume``, export and inference rebuild exactly the network it came
from, and a checkpoint of another architecture is refused with a clear message.
Files are written under a temporary name and renamed into place.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arttrack.config import Config, ConfigError, _build

log = logging.getLogger(__name__)

CONFIG_KEY = "arttrack_config"
STEP_KEY = "arttrack_step"
_STEP_RE = re.compile(r"-(\d+)\.ckpt$")


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not match the network."""


@dataclass(frozen=True)
class LoadedCheckpoint:
    path: Path
    step: int
    config: Config | None
    params: dict[str, Any]


def checkpoint_path(prefix: str | Path, step: int) -> Path:
    return Path(f"{prefix}-{step}.ckpt")


def list_checkpoints(prefix: str | Path) -> list[Path]:
    """Checkpoints written under ``prefix``, oldest step first."""
    prefix = Path(prefix)
    if not prefix.parent.is_dir():
        return []
    found = []
    for path in prefix.parent.glob(prefix.name + "-*.ckpt"):
        m = _STEP_RE.search(path.name)
        if m and path.name == f"{prefix.name}-{m.group(1)}.ckpt":
            found.append((int(m.group(1)), path))
    return [p for _, p in sorted(found)]


def latest_checkpoint(prefix: str | Path) -> Path | None:
    ckpts = list_checkpoints(prefix)
    return ckpts[-1] if ckpts else None


def save_checkpoint(cell: Any, prefix: str | Path, step: int, config: Config, keep: int = 5) -> Path:
    """Save ``cell`` (network or whole train cell with optimizer state) atomically."""
    import mindspore as ms

    final = checkpoint_path(prefix, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp_stem = final.with_name(final.stem + ".partial")  # MindSpore appends ".ckpt"
    tmp = tmp_stem.with_name(tmp_stem.name + ".ckpt")
    ms.save_checkpoint(cell, str(tmp_stem), append_dict={
        STEP_KEY: int(step), CONFIG_KEY: json.dumps(config.to_dict())})
    os.replace(tmp, final)
    if keep > 0:
        for old in list_checkpoints(prefix)[:-keep]:
            old.unlink(missing_ok=True)
    log.info("saved checkpoint %s", final)
    return final


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Read a checkpoint; parameters stay in a dict until loaded into a network."""
    import mindspore as ms

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        params = ms.load_checkpoint(str(path))
    except Exception as exc:  # MindSpore raises ValueError/RuntimeError on corrupt files
        raise CheckpointError(f"cannot read checkpoint {path}: {str(exc).splitlines()[0]}") from None
    step_param = params.pop(STEP_KEY, None)
    step = int(step_param.asnumpy()) if step_param is not None else 0
    cfg_text = params.pop(CONFIG_KEY, None)
    config = None
    if cfg_text is not None:
        try:
            config = _build(json.loads(str(cfg_text)), source=f"{path} (embedded config)")
        except (ConfigError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"checkpoint {path} carries an invalid config: {exc}") from None
    return LoadedCheckpoint(path=path, step=step, config=config, params=params)


def load_into(cell: Any, ckpt: LoadedCheckpoint, *, strict: bool = True) -> None:
    """Load a checkpoint into ``cell`` (the network, or the whole train cell on resume).

    Parameters are matched by their MindSpore names. ``strict``: every parameter of
    ``cell`` must be in the checkpoint; shapes must always agree. A mismatch means the
    checkpoint belongs to another architecture, and the error says so.
    """
    import mindspore as ms

    own = {p.name: p for p in cell.get_parameters()}
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs network {tuple(own[k].shape)}"
                  for k, v in ckpt.params.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    missing = sorted(k for k in own if k not in ckpt.params)
    if mismatched or (strict and missing):
        what = []
        if mismatched:
            what.append(f"{len(mismatched)} shape mismatch(es), e.g. {mismatched[0]}")
        if strict and missing:
            what.append(f"{len(missing)} parameter(s) missing, e.g. {missing[0]}")
        raise CheckpointError(
            f"checkpoint {ckpt.path} does not match this network ({'; '.join(what)}); "
            "was it trained with another net_type, depths, width or joint set?")
    ms.load_param_into_net(cell, {k: v for k, v in ckpt.params.items() if k in own})
