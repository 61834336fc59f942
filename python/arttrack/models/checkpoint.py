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
from typing import Any, Optional, Sequence

from arttrack.errors import one_line
from arttrack.io.atomic import normal_permissions
from arttrack.config import Config, ConfigError, build_config

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


def partial_files(prefix: str | Path) -> list[Path]:
    """Temporary files a killed :func:`save_checkpoint` may have left under ``prefix``."""
    prefix = Path(prefix)
    if not prefix.parent.is_dir():
        return []
    return sorted(prefix.parent.glob(prefix.name + "-*.partial*"))


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. a directory on a platform without O_RDONLY dirs
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def save_checkpoint(cell: Any, prefix: str | Path, step: int, config: Config, keep: int = 5) -> Path:
    """Save ``cell`` (network or whole train cell with optimizer state) atomically.

    The file is written as ``<prefix>-<step>.partial<pid>.ckpt``, flushed to disk and
    renamed to ``<prefix>-<step>.ckpt``; a failed save removes its temporary file and
    leaves existing checkpoints untouched. Afterwards only the newest ``keep``
    checkpoints under ``prefix`` are kept (``keep <= 0``: all).
    """
    import mindspore as ms

    final = checkpoint_path(prefix, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    # MindSpore appends ".ckpt" to names without it; the pid keeps concurrent writers apart.
    tmp = final.with_name(f"{final.stem}.partial{os.getpid()}.ckpt")
    try:
        ms.save_checkpoint(cell, str(tmp), append_dict={
            STEP_KEY: int(step), CONFIG_KEY: json.dumps(config.to_dict())})
        normal_permissions(tmp)  # MindSpore writes 0400
        _fsync(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(final.parent)
    if keep > 0:
        for old in list_checkpoints(prefix)[:-keep]:
            old.unlink(missing_ok=True)
            log.debug("removed old checkpoint %s", old)
    log.info("saved checkpoint %s", final)
    return final


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Read a checkpoint; parameters stay in a dict until loaded into a network."""
    import mindspore as ms

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"cannot read checkpoint {path}: the file is empty")
    try:
        params = ms.load_checkpoint(str(path))
    except Exception as exc:  # MindSpore raises ValueError/RuntimeError on corrupt files
        raise CheckpointError(f"cannot read checkpoint {path}: {one_line(exc)}") from None
    step_param = params.pop(STEP_KEY, None)
    try:
        step = int(step_param.asnumpy()) if step_param is not None else 0
    except (TypeError, ValueError, AttributeError):
        raise CheckpointError(f"checkpoint {path} carries an invalid step {step_param!r}") from None
    cfg_text = params.pop(CONFIG_KEY, None)
    config = None
    if cfg_text is not None:
        try:
            config = build_config(json.loads(str(cfg_text)), source=f"{path} (embedded config)")
        except (ConfigError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"checkpoint {path} carries an invalid config: {exc}") from None
    return LoadedCheckpoint(path=path, step=step, config=config, params=params)


# Config keys that fix the parameter set of the network; a checkpoint trained with other
# values cannot be resumed with this config.
ARCHITECTURE_KEYS = ("net_type", "depths", "width", "output_stride", "joint_set",
                     "location_refinement", "pairwise_predict", "intermediate_supervision",
                     "intermediate_supervision_layer")


def check_architecture(ckpt: LoadedCheckpoint, config: Config) -> None:
    """Refuse a checkpoint whose embedded config names another architecture than ``config``."""
    if ckpt.config is None:
        return
    diff = [f"{k}={getattr(ckpt.config, k)!r} (config: {getattr(config, k)!r})"
            for k in ARCHITECTURE_KEYS if getattr(ckpt.config, k) != getattr(config, k)]
    if diff:
        raise CheckpointError(f"checkpoint {ckpt.path} belongs to another architecture: it was "
                              f"trained with {', '.join(diff)}")


def load_into(cell: Any, ckpt: LoadedCheckpoint, *, strict: bool = True) -> None:
    """Load a checkpoint into ``cell`` (the network, or the whole train cell on resume).

    Parameters are matched by their MindSpore names; shapes must always agree.
    ``strict``: the checkpoint must hold exactly the parameters of ``cell`` (none missing,
    none extra). A mismatch means the checkpoint belongs to another architecture (or, on
    resume, was not written by the training loop), and the error says so.
    """
    import mindspore as ms

    own = {p.name: p for p in cell.get_parameters()}
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs network {tuple(own[k].shape)}"
                  for k, v in ckpt.params.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    missing = sorted(k for k in own if k not in ckpt.params)
    unexpected = sorted(k for k in ckpt.params if k not in own)
    what = []
    if mismatched:
        what.append(f"{len(mismatched)} shape mismatch(es), e.g. {mismatched[0]}")
    if strict and missing:
        what.append(f"{len(missing)} parameter(s) missing, e.g. {missing[0]}")
    if strict and unexpected:
        what.append(f"{len(unexpected)} unexpected parameter(s), e.g. {unexpected[0]}")
    if what:
        raise CheckpointError(
            f"checkpoint {ckpt.path} does not match this network ({'; '.join(what)}); "
            "was it trained with another net_type, depths, width or joint set?")
    ms.load_param_into_net(cell, {k: v for k, v in ckpt.params.items() if k in own})


def config_for(ckpt: str, config: Optional[str], overrides: Sequence[str] = ()) -> Any:
    """The config given (YAML) or embedded in the checkpoint, with ``key=value`` overrides."""
    from arttrack.config import load_config, parse_override

    if config:
        return load_config(config, overrides)
    cfg = load_checkpoint(ckpt).config
    if cfg is None:
        raise ValueError(f"checkpoint {ckpt} carries no config; pass --config")
    if overrides:
        cfg = cfg.replace(**dict(parse_override(o) for o in overrides))
    return cfg
