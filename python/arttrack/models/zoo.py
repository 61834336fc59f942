"""Model registry and download cache (``python -m arttrack.models list|fetch|path|remove``).

A :class:`ModelEntry` names the original files of a published model (the authors'
TensorFlow checkpoints, a pairwise-statistics tarball, TF-slim ImageNet weights) and the
converter that turns them into arttrack files. :func:`fetch` downloads them (resuming and
retrying), verifies them, converts them and installs the result as one folder::

    $ARTTRACK_HOME (default ~/.cache/arttrack)/
        models/<name>/model.json        # finished models only; model.json marks them complete
        models/.staging-<name>-<pid>/   # a model being built (removed on any failure)
        downloads/<name>/<file>.part    # interrupted downloads, resumed by the next fetch
        downloads/<name>/<file>         # verified downloads, kept only until the model is built

A model folder appears in one ``os.replace``: a failed, corrupted or interrupted fetch never
leaves a half-written model, and never touches a model that was already installed.

Example::

    from arttrack.models import zoo
    folder = zoo.fetch("deepercut-coco-resnet101")     # or from_dir= files downloaded by hand
    meta = zoo.read_model_json(folder)                 # {"checkpoint": ..., "licence": ...}
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import difflib
import gzip
import hashlib
import http.client
import importlib
import json
import logging
import os
import re
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, Mapping

__all__ = [
    "ConversionError", "DownloadError", "FORMAT", "HOME_ENV", "MODEL_JSON", "MissingFilesError",
    "ModelEntry", "ModelError", "ModelNotFoundError", "ModelStatus", "REGISTRY", "RemoteFile",
    "UnknownModelError", "UnsafeArchiveError", "VerificationError", "cache_root", "fetch",
    "get_entry", "is_installed", "list_models_status", "model_dir", "read_model_json", "remove",
    "resolve",
]

logger = logging.getLogger(__name__)

HOME_ENV = "ARTTRACK_HOME"
MODEL_JSON = "model.json"
FORMAT = 1
_CHUNK = 1 << 20
_REQUIRED_KEYS = ("name", "format", "task", "joint_set", "sources", "licence", "citation")
_TASKS = ("multi-person", "single-person", "imagenet-backbone")


# --------------------------------------------------------------------------- errors


class ModelError(Exception):
    """Anything that went wrong with the registry or cache; the message is one line saying
    what and how to fix it. ``exit_code`` is the status ``python -m arttrack.models`` exits
    with: 2 for bad usage (unknown name, not installed, missing input files), 1 for a
    failure during the work (download, verification, unpacking, conversion)."""

    exit_code = 1


class UnknownModelError(ModelError):
    """The name is not in the registry."""

    exit_code = 2


class ModelNotFoundError(ModelError):
    """The model is in the registry but not installed (or a folder is not a model)."""

    exit_code = 2


class MissingFilesError(ModelError):
    """``fetch(from_dir=...)``: the folder lacks some of the model's files."""

    exit_code = 2


class DownloadError(ModelError):
    """A download failed (unreachable host, HTTP error, retries exhausted)."""


class VerificationError(DownloadError):
    """A file's size or sha256 is not what the registry or the server said."""


class UnsafeArchiveError(ModelError):
    """A tarball holds absolute paths, ``..``, links out of the folder or special files
    (or is not a readable tarball)."""


class ConversionError(ModelError):
    """The converter could not be loaded, failed, or returned something unusable."""


class InvalidModelError(ModelError):
    """A model folder's ``model.json`` is missing, unreadable or incomplete."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RemoteFile:
    """One original file of a model."""

    name: str                    # file name as the authors' download scripts leave it
    url: str
    size: int | None = None      # bytes, enforced when known
    sha256: str | None = None    # hex digest, enforced when known
    extract: bool = False        # a .tar.gz to unpack into the converter's raw folder
    # Top-level paths the tarball unpacks to (extract=True only). With fetch(from_dir=...)
    # these already-extracted paths are accepted in place of the tarball itself (the
    # authors' scripts unpack, and for the TF-slim weights never keep, the tarball).
    contents: tuple[str, ...] = ()
    # Expected size when the exact one is unknown: shown to users, never enforced.
    approx_size: int | None = None

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or "\\" in self.name or self.name in (".", ".."):
            raise ValueError(f"RemoteFile.name must be a plain file name, got {self.name!r}")
        if self.contents and not self.extract:
            raise ValueError(f"{self.name}: contents= only makes sense with extract=True")
        object.__setattr__(self, "contents", tuple(self.contents))
        if self.sha256 is not None:
            object.__setattr__(self, "sha256", self.sha256.lower())


@dataclass(frozen=True)
class ModelEntry:
    """A registry entry: the original files and how to turn them into an arttrack model."""

    name: str                    # "deepercut-coco-resnet101"
    summary: str                 # one line for `list`
    task: str                    # "multi-person" | "single-person" | "imagenet-backbone"
    joint_set: str | None        # "coco17" | "mpii14" | None
    files: tuple[RemoteFile, ...]
    converter: str               # "module:function", imported at fetch time
    licence: str
    citation: str
    homepage: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise ValueError(f"model name {self.name!r} must be letters, digits, '.', '_', '-'")
        if self.task not in _TASKS:
            raise ValueError(f"{self.name}: task must be one of {_TASKS}, got {self.task!r}")
        if ":" not in self.converter:
            raise ValueError(f"{self.name}: converter must be 'module:function', "
                             f"got {self.converter!r}")
        object.__setattr__(self, "files", tuple(self.files))
        names = [f.name for f in self.files]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"{self.name}: files must be non-empty with distinct names: {names}")

    @property
    def download_size(self) -> int | None:
        """Total bytes to download, or None when any file's size is unknown."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)

    @property
    def approx_download_size(self) -> int | None:
        """The exact total when known, else the sum of the files' expected sizes."""
        sizes = [f.size if f.size is not None else f.approx_size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)


_DEEPERCUT_URL = "https://datasets.d2.mpi-inf.mpg.de/deepercut-models-tensorflow/"
# The URLs are those of the authors' download scripts (eldar/pose-tensorflow,
# models/pretrained/download.sh uses plain http for download.tensorflow.org).
_TF_SLIM_URL = "http://download.tensorflow.org/models/"
_DEEPERCUT_HOME = "https://github.com/eldar/pose-tensorflow"
_TF_SLIM_HOME = "https://github.com/tensorflow/models/tree/master/research/slim"
_DEEPERCUT_LICENCE = ("research use; check the authors' terms before any other use (the "
                      "authors' repository eldar/pose-tensorflow: LGPL-3.0 code; model terms "
                      "by MPI Informatik)")
_TF_SLIM_LICENCE = "Apache-2.0 (TensorFlow models)"
_DEEPERCUT_CITATION = (
    "E. Insafutdinov, L. Pishchulin, B. Andres, M. Andriluka, B. Schiele: DeeperCut: A Deeper, "
    "Stronger, and Faster Multi-Person Pose Estimation Model, ECCV 2016; "
    "E. Insafutdinov, M. Andriluka, L. Pishchulin, S. Tang, E. Levinkov, B. Andres, "
    "B. Schiele: ArtTrack: Articulated Multi-person Tracking in the Wild, CVPR 2017")
_RESNET_CITATION = ("K. He, X. Zhang, S. Ren, J. Sun: Deep Residual Learning for Image "
                    "Recognition, CVPR 2016; weights from TF-slim (tensorflow/models, "
                    "research/slim)")


def _tf_checkpoint(prefix: str, data_bytes: int) -> tuple[RemoteFile, ...]:
    # Sizes and sha256 of the authors' files are not known here (this was written on a
    # machine that cannot reach their server), so they are None: fetch then checks the
    # size the server announces (Content-Length / Content-Range), the checkpoint's own
    # CRC32C of every tensor, and records the sha256 of what it got in model.json. Fill
    # them in once known to have them enforced. The approximate size is the network's
    # variables (tests/data/deepercut/manifest.json: a V2 .data file is their bytes).
    # The .meta graph the authors' script also fetches is not needed: arttrack builds the
    # network itself.
    return (RemoteFile(prefix + ".data-00000-of-00001", _DEEPERCUT_URL + prefix + ".data-00000-of-00001",
                       approx_size=data_bytes),
            RemoteFile(prefix + ".index", _DEEPERCUT_URL + prefix + ".index", approx_size=25_000))


def _slim_resnet(arch: str, approx: int) -> RemoteFile:
    tgz = f"{arch}_2016_08_28.tar.gz"
    # size / sha256 unknown here (see _tf_checkpoint); ~ the variables' bytes.
    return RemoteFile(tgz, _TF_SLIM_URL + tgz, size=None, sha256=None, extract=True,
                      contents=(f"{arch}.ckpt",), approx_size=approx)


_ENTRIES = (
    ModelEntry(
        name="deepercut-coco-resnet101",
        summary="DeeperCut multi-person ResNet-101 on COCO (17 joints) with pairwise terms",
        task="multi-person", joint_set="coco17",
        files=_tf_checkpoint("coco-resnet-101", 214_919_312) + (
            # Unpacks to pairwise/pairwise_stats.mat + pairwise/spatial_model_cidx_<a>_<b>.mat.
            # size / sha256 unknown here (see _tf_checkpoint).
            RemoteFile("pairwise_coco.tar.gz", _DEEPERCUT_URL + "pairwise_coco.tar.gz",
                       size=None, sha256=None, extract=True, contents=("pairwise",),
                       approx_size=50_000),),
        converter="arttrack.convert.tf:import_deepercut_model",
        licence=_DEEPERCUT_LICENCE, citation=_DEEPERCUT_CITATION, homepage=_DEEPERCUT_HOME),
    ModelEntry(
        name="deepercut-mpii-resnet101",
        summary="DeeperCut single-person ResNet-101 on MPII (14 joints)",
        task="single-person", joint_set="mpii14",
        files=_tf_checkpoint("mpii-single-resnet-101", 174_034_912),
        converter="arttrack.convert.tf:import_deepercut_model",
        licence=_DEEPERCUT_LICENCE, citation=_DEEPERCUT_CITATION, homepage=_DEEPERCUT_HOME),
    ModelEntry(
        name="imagenet-resnet_v1_50",
        summary="TF-slim ResNet-50 v1 ImageNet weights (backbone initialisation)",
        task="imagenet-backbone", joint_set=None,
        files=(_slim_resnet("resnet_v1_50", 102_440_608),),
        converter="arttrack.convert.tf:import_imagenet_backbone",
        licence=_TF_SLIM_LICENCE, citation=_RESNET_CITATION, homepage=_TF_SLIM_HOME),
    ModelEntry(
        name="imagenet-resnet_v1_101",
        summary="TF-slim ResNet-101 v1 ImageNet weights (backbone initialisation)",
        task="imagenet-backbone", joint_set=None,
        files=(_slim_resnet("resnet_v1_101", 178_618_016),),
        converter="arttrack.convert.tf:import_imagenet_backbone",
        licence=_TF_SLIM_LICENCE, citation=_RESNET_CITATION, homepage=_TF_SLIM_HOME),
)

#: The published models, by name. Functions taking ``registry=None`` use this (looked up at
#: call time, so tests may monkeypatch it).
REGISTRY: Mapping[str, ModelEntry] = {e.name: e for e in _ENTRIES}


def _registry(registry: Mapping[str, ModelEntry] | None) -> Mapping[str, ModelEntry]:
    return REGISTRY if registry is None else registry


def get_entry(name: str, registry: Mapping[str, ModelEntry] | None = None) -> ModelEntry:
    """The registry entry called ``name``; :class:`UnknownModelError` names the choices."""
    reg = _registry(registry)
    try:
        return reg[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(reg), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownModelError(f"unknown model {name!r}{hint}; known models: "
                                f"{', '.join(sorted(reg)) or '(none)'}") from None


# --------------------------------------------------------------------------- cache layout


def cache_root() -> Path:
    """``$ARTTRACK_HOME``, else ``~/.cache/arttrack``."""
    env = os.environ.get(HOME_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "arttrack"


def _models_root() -> Path:
    return cache_root() / "models"


def _downloads_dir(name: str) -> Path:
    return cache_root() / "downloads" / name


def _fetch_hint(name: str) -> str:
    return f"`python -m arttrack.models fetch {name}`"


def human_size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} GB"  # pragma: no cover


def _installed_dir(name: str) -> Path | None:
    d = _models_root() / name
    return d if (d / MODEL_JSON).is_file() else None


def is_installed(name: str, registry: Mapping[str, ModelEntry] | None = None) -> bool:
    get_entry(name, registry)
    return _installed_dir(name) is not None


def model_dir(name: str, registry: Mapping[str, ModelEntry] | None = None) -> Path:
    """The installed folder of ``name``; :class:`ModelNotFoundError` (with the command that
    fetches it) when it is not installed."""
    entry = get_entry(name, registry)
    d = _installed_dir(name)
    if d is None:
        size = entry.download_size
        approx = entry.approx_download_size
        what = (f"download {human_size(size)}" if size is not None else
                f"download about {human_size(approx)}" if approx is not None else "download size unknown")
        raise ModelNotFoundError(f"model {name!r} is not installed in {_models_root()}; fetch it "
                                 f"with {_fetch_hint(name)} ({what})")
    return d


def _folder_size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


@dataclass(frozen=True)
class ModelStatus:
    entry: ModelEntry
    installed: bool
    path: Path | None            # the model folder when installed
    size_bytes: int | None       # its size on disk when installed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the entry's fields (files as dicts) plus installed / path / size."""
        d = dataclasses.asdict(self.entry)
        d["files"] = [dict(f, contents=list(f["contents"])) for f in d["files"]]
        d["download_size"] = self.entry.download_size
        d.update(installed=self.installed, path=str(self.path) if self.path else None,
                 size_bytes=self.size_bytes)
        return d


def list_models_status(registry: Mapping[str, ModelEntry] | None = None) -> list[ModelStatus]:
    """Every registry entry (in registry order) with whether and where it is installed."""
    out = []
    for name, entry in _registry(registry).items():
        d = _installed_dir(name)
        out.append(ModelStatus(entry, d is not None, d, _folder_size(d) if d else None))
    return out


def read_model_json(folder: str | os.PathLike) -> dict[str, Any]:
    """``folder/model.json`` as a dict, checked for the required keys."""
    path = Path(folder) / MODEL_JSON
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise InvalidModelError(f"{path} does not exist; {folder} is not an arttrack model "
                                "folder (fetch one with `python -m arttrack.models fetch NAME`)"
                                ) from None
    except (OSError, ValueError) as exc:
        raise InvalidModelError(f"cannot read {path}: {exc}; fetch the model again with "
                                "`python -m arttrack.models fetch NAME --force`") from None
    if not isinstance(doc, dict):
        raise InvalidModelError(f"{path} holds a {type(doc).__name__}, not an object; fetch the "
                                "model again with `python -m arttrack.models fetch NAME --force`")
    missing = [k for k in _REQUIRED_KEYS if k not in doc]
    if missing:
        name = doc.get("name") if isinstance(doc.get("name"), str) else "NAME"
        raise InvalidModelError(f"{path} lacks {missing}; fetch the model again with "
                                f"`python -m arttrack.models fetch {name} --force`")
    if not isinstance(doc["format"], int) or doc["format"] > FORMAT:
        raise InvalidModelError(f"{path} has format {doc['format']!r}; this arttrack reads "
                                f"format <= {FORMAT} (upgrade arttrack or fetch the model again)")
    return doc


def resolve(name_or_dir: str | os.PathLike,
            registry: Mapping[str, ModelEntry] | None = None) -> Path:
    """A registry name -> its installed folder (it must be installed); an existing folder
    holding a model.json -> that folder. Anything else is a :class:`ModelError`."""
    reg = _registry(registry)
    s = os.fspath(name_or_dir)
    if s in reg:
        return model_dir(s, reg)
    p = Path(s).expanduser()
    if p.is_dir():
        if (p / MODEL_JSON).is_file():
            return p
        raise ModelNotFoundError(f"{p} has no {MODEL_JSON}, so it is not an arttrack model "
                                 f"folder; give a model name ({', '.join(sorted(reg))}) or a "
                                 "folder made by `python -m arttrack.models fetch`")
    raise ModelNotFoundError(f"{s!r} is neither a model name ({', '.join(sorted(reg))}) nor a "
                             f"model folder")


MODEL_FILES = ("checkpoint", "spatial_model", "pairwise_stats", "temporal_model", "init_weights")


def model_files(folder: str | os.PathLike) -> dict[str, Path | None]:
    """The files a model folder's model.json names (``checkpoint``, ``spatial_model``,
    ``pairwise_stats``, ``temporal_model``, ``init_weights``; None where it names none),
    each checked to exist: :class:`InvalidModelError` says which is missing."""
    folder = Path(folder)
    doc = read_model_json(folder)
    out: dict[str, Path | None] = {}
    for key in MODEL_FILES:
        name = doc.get(key)
        if not name:
            out[key] = None
            continue
        path = folder / name
        if not path.is_file():
            raise InvalidModelError(f"model folder {folder} is incomplete: {name} is missing "
                                    f"(fetch it again with `python -m arttrack.models fetch "
                                    f"{doc.get('name', 'NAME')} --force`)")
        out[key] = path
    return out


def remove(name: str, registry: Mapping[str, ModelEntry] | None = None) -> bool:
    """Delete the installed model and any partial downloads of ``name``. Returns whether
    anything was there. The folder is first renamed away, so a half-deleted model never
    looks installed."""
    get_entry(name, registry)
    root = _models_root()
    if not root.is_dir() and not _downloads_dir(name).exists():
        return False
    found = False
    with _fetch_lock(name):
        _clean_stale(name)
        d = root / name
        if d.exists() or d.is_symlink():
            trash = root / f".removing-{name}-{os.getpid()}"
            _rm(trash)
            os.replace(d, trash)
            _rm(trash)
            found = True
        dl = _downloads_dir(name)
        if dl.exists():
            shutil.rmtree(dl, ignore_errors=True)
            found = True
    return found


def _rm(p: Path) -> None:
    """Delete a folder tree or a file (nothing if absent); a link is removed, not followed."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


# --------------------------------------------------------------------------- helpers


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _arttrack_version() -> str:
    try:
        from importlib.metadata import version

        return version("arttrack")
    except Exception:  # noqa: BLE001 - not installed as a distribution (source tree)
        try:
            from arttrack import __version__

            return str(__version__)
        except Exception:  # noqa: BLE001
            return "unknown"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _clean_stale(name: str) -> None:
    """Tidy leftovers of ``name`` from processes that no longer run (killed with SIGKILL,
    which no ``finally`` survives): staging and removal folders go; a previous model that
    was swapped out while its replacement never landed is put back."""
    root = _models_root()
    if not root.is_dir():
        return
    pat = re.compile(rf"\.(staging|removing|old)-{re.escape(name)}-(\d+)")
    for p in sorted(root.iterdir()):
        m = pat.fullmatch(p.name)
        if not m or (int(m.group(2)) != os.getpid() and _pid_alive(int(m.group(2)))):
            continue
        if m.group(1) == "old" and not (root / name).exists():
            logger.warning("restoring %s from the interrupted fetch's %s", name, p)
            os.replace(p, root / name)
        else:
            logger.info("removing leftover %s", p)
            _rm(p)


@contextlib.contextmanager
def _fetch_lock(name: str) -> Iterator[None]:
    """One fetch of a model at a time (two would write the same .part files). POSIX
    ``flock``; where that does not exist, no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = cache_root() / "downloads" / f".{name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ModelError(f"another process is fetching {name!r} (lock {lock}); wait for it "
                             "to finish, or delete the lock file if no fetch is running") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _progress_bar(total: int | None, initial: int, desc: str, progress: bool | None):
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
                unit_divisor=1024, leave=False, disable=not show)


# --------------------------------------------------------------------------- download


class _Transient(Exception):
    """A failure worth retrying (connection reset/closed early, timeout, 5xx)."""


class _Restart(_Transient):
    """The .part cannot be resumed (stale, too long, odd Content-Range): it was deleted and
    the download starts again from byte 0."""


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _total_from_416(headers) -> int | None:
    m = re.fullmatch(r"bytes\s+\*/(\d+)", (headers.get("Content-Range") or "").strip())
    return int(m.group(1)) if m else None


def _by_hand(model: str) -> str:
    return (f"download the files by hand and run "
            f"`python -m arttrack.models fetch {model} --from DIR`")


def _download_once(url: str, part: Path, *, timeout: float, progress: bool | None,
                   desc: str, model: str) -> int | None:
    """One HTTP request appending to (or restarting) ``part``. Returns the file's total
    size when the server said it (None otherwise). Raises :class:`_Transient` when the
    transfer should be tried again (``part`` then holds what arrived)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"arttrack/{_arttrack_version()} (python urllib)",
               "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        with contextlib.closing(exc):
            if exc.code == 416 and offset:
                total = _total_from_416(exc.headers)
                if total is not None and total == offset:
                    logger.info("%s: already complete (%d bytes)", desc, offset)
                    return total
                logger.info("%s: cannot resume at byte %d (file size %s); downloading it "
                            "again", desc, offset, total)
                part.unlink(missing_ok=True)
                raise _Restart("range not satisfiable") from None
            if exc.code >= 500:
                raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
            raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}; the file "
                                f"may have moved or need a login: {_by_hand(model)}") from None
    with contextlib.closing(resp):
        status = resp.status
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.strip().isdigit() else None
        total: int | None
        if status == 206 and offset:
            m = _CONTENT_RANGE.fullmatch((resp.headers.get("Content-Range") or "").strip())
            if not m or int(m.group(1)) != offset:
                logger.info("%s: unexpected Content-Range %r; downloading it again", desc,
                            resp.headers.get("Content-Range"))
                part.unlink(missing_ok=True)
                raise _Restart("unexpected Content-Range")
            total = None if m.group(3) == "*" else int(m.group(3))
            mode = "ab"
            logger.info("%s: resuming at byte %d", desc, offset)
        elif status in (200, 206):
            if offset:
                logger.info("%s: the server ignored the range request; downloading it again "
                            "from the start", desc)
            offset, total, mode = 0, length, "wb"
        else:
            raise DownloadError(f"cannot download {url}: unexpected HTTP status {status}; "
                                f"{_by_hand(model)}")
        done = offset
        with open(part, mode) as f, _progress_bar(total, offset, desc, progress) as bar:
            try:
                while True:
                    block = resp.read(_CHUNK)
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as exc:  # reset, timeout, incomplete
                raise _Transient(f"connection lost after {done} bytes "
                                 f"({type(exc).__name__}: {exc})") from None
        if total is not None and done < total:
            raise _Transient(f"connection closed after {done} of {total} bytes")
        if total is not None and done > total:
            part.unlink(missing_ok=True)
            raise VerificationError(f"{url}: received {done} bytes, more than the announced "
                                    f"{total}; fetch again")
        return total


def _download(url: str, part: Path, *, retries: int, timeout: float, progress: bool | None,
              backoff: float, desc: str, model: str) -> int | None:
    """Download ``url`` into ``part`` (resuming a partial one), retrying transient errors
    ``retries`` times, waiting ``backoff`` * 1, 2, 4, ... seconds (at most 30) between."""
    attempt = 0
    restarted = False
    while True:
        try:
            return _download_once(url, part, timeout=timeout, progress=progress, desc=desc,
                                  model=model)
        except _Restart as exc:
            if not restarted:  # one immediate restart from byte 0
                restarted = True
                continue
            reason = str(exc)
        except _Transient as exc:
            reason = str(exc)
        except urllib.error.URLError as exc:  # DNS, connection refused, TLS, ...
            reason = str(exc.reason)
        except (OSError, http.client.HTTPException) as exc:  # timeout, reset before headers
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempt += 1
        if attempt > retries:
            tries = f"{retries + 1} time" + ("s" if retries else "")
            raise DownloadError(f"cannot reach {url}: {reason} (tried {tries}); check the "
                                f"network or {_by_hand(model)}")
        delay = min(backoff * 2 ** (attempt - 1), 30.0)
        logger.warning("%s: %s; retrying in %.1f s (%d/%d)", desc, reason, delay, attempt,
                       retries)
        time.sleep(delay)


def _verify(path: Path, rf: RemoteFile, *, expected_size: int | None, what: str) -> str:
    """Check size/sha256 of ``path`` against ``rf`` (and ``expected_size``, e.g. from the
    server). Returns the sha256. Raises :class:`VerificationError`."""
    size = path.stat().st_size
    want = rf.size if rf.size is not None else expected_size
    if want is not None and size != want:
        raise VerificationError(f"{what}: {size} bytes, expected {want}; the download is "
                                "corrupt or the file changed upstream: fetch again")
    digest = _sha256_file(path)
    if rf.sha256 is not None and digest != rf.sha256:
        raise VerificationError(f"{what}: sha256 {digest} does not match the expected "
                                f"{rf.sha256}; the download is corrupt or the file changed "
                                "upstream: fetch again")
    return digest


def _obtain(entry: ModelEntry, rf: RemoteFile, *, retries: int, timeout: float,
            progress: bool | None, backoff: float) -> tuple[Path, str]:
    """The verified download of ``rf`` in downloads/<name>/ (downloading or resuming it)."""
    dl = _downloads_dir(entry.name)
    dl.mkdir(parents=True, exist_ok=True)
    final = dl / rf.name
    if final.is_file():  # verified by an earlier fetch whose conversion then failed
        try:
            return final, _verify(final, rf, expected_size=None, what=f"{final}")
        except VerificationError:
            logger.warning("%s: kept download no longer verifies; downloading again", final)
            final.unlink()
    part = dl / (rf.name + ".part")
    total = _download(rf.url, part, retries=retries, timeout=timeout, progress=progress,
                      backoff=backoff, desc=rf.name, model=entry.name)
    try:
        digest = _verify(part, rf, expected_size=total, what=f"downloaded {rf.url}")
    except VerificationError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, final)
    return final, digest


# --------------------------------------------------------------------------- unpacking


# tarfile.FilterError exists from Python 3.12 and in PEP 706 backports; () catches nothing.
_FILTER_ERROR = getattr(tarfile, "FilterError", ())


def _escapes(base: PurePosixPath, target: str) -> bool:
    """Whether ``base / target`` (posix, relative) climbs above the archive's root."""
    if target.startswith("/") or re.match(r"[A-Za-z]:", target):
        return True
    depth = 0
    for part in (base / target).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part != ".":
            depth += 1
    return False


def _check_member(m: tarfile.TarInfo, archive: Path) -> None:
    name = m.name.replace("\\", "/")
    bad = None
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        bad = "an absolute path"
    elif ".." in PurePosixPath(name).parts:
        bad = "a '..' component"
    elif m.issym() or m.islnk():
        base = PurePosixPath(name).parent if m.issym() else PurePosixPath(".")
        if _escapes(base, m.linkname.replace("\\", "/")):
            bad = f"a link to {m.linkname!r}, outside the archive"
    elif not (m.isfile() or m.isdir()):
        bad = "a special file (device, fifo)"
    if bad:
        raise UnsafeArchiveError(f"{archive.name}: member {m.name!r} has {bad}; refusing to "
                                 "unpack it (the archive is damaged or not the published one)")


def _extract(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest``, refusing absolute paths, ``..``, links out of
    ``dest`` and special files (checked here, and by tarfile's ``data`` filter)."""
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(m, archive)
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - Python without PEP 706 (checked above instead)
                tf.extractall(dest, members=members)
    except _FILTER_ERROR as exc:
        raise UnsafeArchiveError(f"{archive.name}: {exc}; refusing to unpack it (the archive "
                                 "is damaged or not the published one)") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise UnsafeArchiveError(f"cannot unpack {archive.name}: {exc}; the file is damaged: "
                                 "delete it and fetch again") from None


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=False)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


# --------------------------------------------------------------------------- fetch


def _import_converter(entry: ModelEntry) -> Callable[[Path, Path, ModelEntry], Mapping]:
    mod_name, _, fn_name = entry.converter.partition(":")
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise ConversionError(f"cannot load the converter {entry.converter} of {entry.name}: "
                              f"{exc}; this arttrack may be too old or incomplete for it") from None
    if not callable(fn):
        raise ConversionError(f"converter {entry.converter} of {entry.name} is not callable")
    return fn


def _gather_local(entry: ModelEntry, from_dir: Path, raw: Path) -> list[dict[str, Any]]:
    """``fetch(from_dir=...)``: verify the hand-downloaded files and put them in ``raw``."""
    if not from_dir.is_dir():
        raise MissingFilesError(f"--from {from_dir}: no such folder")
    found: list[tuple[RemoteFile, Path | None]] = []
    missing = []
    for rf in entry.files:
        p = from_dir / rf.name
        if p.is_file():
            found.append((rf, p))
        elif rf.extract and rf.contents and all((from_dir / c).exists() for c in rf.contents):
            found.append((rf, None))
        else:
            alt = f" (or its contents {', '.join(rf.contents)})" if rf.contents else ""
            missing.append(rf.name + alt)
    if missing:
        raise MissingFilesError(f"{from_dir} lacks {len(missing)} file(s) of {entry.name}: "
                                f"{'; '.join(missing)}; download them from the URLs in "
                                "`python -m arttrack.models list --json`")
    sources = []
    for rf, p in found:
        if p is None:
            logger.info("%s: using the already extracted %s", rf.name, ", ".join(rf.contents))
            for c in rf.contents:
                _link_or_copy(from_dir / c, raw / c)
            sources.append({"file": rf.name, "url": rf.url, "size": None, "sha256": None,
                            "imported": "extracted contents"})
            continue
        digest = _verify(p, rf, expected_size=None, what=str(p))
        sources.append({"file": rf.name, "url": rf.url, "size": p.stat().st_size,
                        "sha256": digest})
        if rf.extract:
            _extract(p, raw)
        else:
            _link_or_copy(p, raw / rf.name)
    return sources


def fetch(name: str, *, from_dir: str | os.PathLike | None = None, force: bool = False,
          progress: bool | None = None, retries: int = 3, timeout: float = 30.0,
          registry: Mapping[str, ModelEntry] | None = None, backoff: float = 1.0) -> Path:
    """Install model ``name`` in the cache and return its folder.

    Already installed (and not ``force``): returns the folder at once. Otherwise the
    original files are downloaded (or, with ``from_dir``, taken from a folder laid out as
    the authors' download scripts leave it: the files by name, tarballs either as such or
    already extracted), verified (size and sha256 where known; else the size the server
    announced), tarballs unpacked, the entry's converter run, and ``model.json`` written;
    then the finished folder replaces ``models/<name>`` in one rename.

    Interrupted downloads stay in ``downloads/<name>/*.part`` and are resumed next time
    (HTTP Range). Transient errors (connection reset or closed, timeouts, HTTP 5xx) are
    retried ``retries`` times, waiting ``backoff``, 2 x ``backoff``, ... seconds; HTTP 4xx
    is not. ``progress``: tqdm bars (None: when stderr is a terminal). Verified downloads
    are deleted once the model is installed (kept when conversion fails, for the next try).

    Raises :class:`ModelError` subclasses; on any failure, Ctrl-C included, the cache's
    ``models/`` folder is as before.
    """
    entry = get_entry(name, registry)
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if not force and (d := _installed_dir(name)) is not None:
        logger.info("%s is already installed in %s (cached)", name, d)
        return d
    models = _models_root()
    models.mkdir(parents=True, exist_ok=True)
    with _fetch_lock(name):
        _clean_stale(name)
        staging = models / f".staging-{name}-{os.getpid()}"
        _rm(staging)
        staging.mkdir()
        try:
            raw = staging / "raw"
            raw.mkdir()
            if from_dir is not None:
                sources = _gather_local(entry, Path(from_dir).expanduser(), raw)
            else:
                sources, downloaded = [], []
                for rf in entry.files:
                    path, digest = _obtain(entry, rf, retries=retries, timeout=timeout,
                                           progress=progress, backoff=backoff)
                    downloaded.append(path)
                    sources.append({"file": rf.name, "url": rf.url,
                                    "size": path.stat().st_size, "sha256": digest})
                for rf, path in zip(entry.files, downloaded):
                    if rf.extract:
                        _extract(path, raw)
                    else:
                        _link_or_copy(path, raw / rf.name)
            fields = _convert(entry, raw, staging)
            shutil.rmtree(raw)
            doc = {
                "name": entry.name, "format": FORMAT, "task": entry.task,
                "joint_set": entry.joint_set, "sources": sources,
                "arttrack_version": _arttrack_version(),
                "fetched": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "licence": entry.licence, "citation": entry.citation,
                "homepage": entry.homepage,
            }
            # The converter may repeat a registry field (e.g. the joint set it recognised in
            # the checkpoint) but not contradict it.
            clash = sorted(k for k in set(fields) & set(doc) if fields[k] != doc[k])
            if clash:
                k = clash[0]
                raise ConversionError(
                    f"converter {entry.converter} found {k}={fields[k]!r} where the registry "
                    f"says {doc[k]!r} for {entry.name}; are these the right files?")
            doc.update(fields)
            (staging / MODEL_JSON).write_text(json.dumps(doc, indent=2) + "\n",
                                              encoding="utf-8")
            final = _install(staging, models / name)
        except ConversionError:
            # The downloads passed every check the registry knows, yet the converter (which
            # checks the checkpoint's own CRC32C of every tensor) refused them: they are not
            # kept, so the next fetch downloads afresh instead of failing the same way.
            shutil.rmtree(staging, ignore_errors=True)
            if from_dir is None:
                shutil.rmtree(_downloads_dir(name), ignore_errors=True)
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            _rmdir_if_empty(_downloads_dir(name))
            raise
        if from_dir is None:
            shutil.rmtree(_downloads_dir(name), ignore_errors=True)
        else:
            _rmdir_if_empty(_downloads_dir(name))
    logger.info("installed %s in %s", name, final)
    return final


def _rmdir_if_empty(p: Path) -> None:
    with contextlib.suppress(OSError):
        p.rmdir()


def _convert(entry: ModelEntry, raw: Path, out: Path) -> dict[str, Any]:
    fn = _import_converter(entry)
    try:
        fields = fn(raw, out, entry)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - one line naming the model and converter
        text = str(exc).strip().splitlines()
        raise ConversionError(f"converting {entry.name} with {entry.converter} failed: "
                              f"{text[0] if text else type(exc).__name__}") from exc
    if fields is None:
        fields = {}
    if not isinstance(fields, Mapping):
        raise ConversionError(f"converter {entry.converter} returned {type(fields).__name__}, "
                              "not a dict")
    fields = dict(fields)
    try:
        json.dumps(fields)
    except (TypeError, ValueError) as exc:
        raise ConversionError(f"converter {entry.converter} returned fields that are not "
                              f"JSON: {exc}") from None
    return fields


def _install(staging: Path, final: Path) -> Path:
    """Move ``staging`` to ``final``; an existing ``final`` is swapped out first and only
    deleted once the new folder is in place."""
    old = None
    if final.exists() or final.is_symlink():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        _rm(old)
        os.replace(final, old)
    try:
        os.replace(staging, final)
    except BaseException:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        _rm(old)
    return final
