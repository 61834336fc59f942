"""Images into float32 binaries for ``arttrack-infer`` (and any fixed-shape runner); the
library of ``python -m arttrack.preprocess``.

::

    python -m arttrack.preprocess --meta model.onnx.json --images DIR --out BINDIR
    python -m arttrack.preprocess --meta model.onnx.json --dataset mpii.mat --out BINDIR
    python -m arttrack.preprocess --meta model.onnx.json --config experiment.yaml --out BINDIR

Every geometric and photometric choice comes from the export metadata (``<model>.json``
written by :mod:`arttrack.export`): the input shape and layout, the colour order, the mean
pixel and the scale. Nothing here is specific to one export size.

Letterbox: the image (or person crop) is resized with its aspect ratio kept so that it fits
the exported ``height x width``, then centred and padded with the mean pixel (zero after
normalisation). Pixel-centre convention (integer = pixel centre), as everywhere in
arttrack: input pixel ``u`` of the network comes from crop pixel ``(u - pad_x + 0.5) / sx -
0.5``, where ``sx = resized_width / crop_width`` (likewise for y). :func:`to_original` does
this mapping with the C++ core's ``to_original`` (``cpp/include/arttrack/geometry.hpp``),
which ``arttrack-infer --decode`` calls too, reading the geometry from the index.

Outputs in ``BINDIR``: ``000000.bin``, ``000001.bin``, ... (one image each: the input shape
without its batch axis, float32, C order) and ``index.json``::

    {"format": "arttrack-preprocess", "version": 1, "meta": ..., "input": {...},
     "gt": <annotation file or null>, "split": ..., "crop": "person" | "image" | "none",
     "entries": [{"file": "000000.bin", "image": "000000001.jpg", "image_path": ...,
                  "person": 0 | null, "orig_size": [h, w], "crop": [x0, y0, x1, y1],
                  "resized": [h', w'], "scale": [sx, sy], "pad": [left, top]}, ...]}

``crop`` is in original pixels (``x1``, ``y1`` exclusive, pixel edges).

Sources:

- ``--images DIR``: every image under DIR (jpg/jpeg/png/bmp, sorted), whole image.
- ``--dataset FILE.mat``: MPII (official or ``arttrack.data.synthetic``) ground truth,
  single-person protocol: one crop per annotated person with a head box, the box around
  its annotated joints and head box grown by ``--crop-margin`` (the person's position is
  known at test time, as MPII's ``objpos``/``scale``); ``person`` is the annorect index,
  so predictions align with :mod:`arttrack.eval.pckh` by (image, person). ``--crop image``
  instead takes whole images that hold exactly one annotated person.
- ``--config``: an experiment YAML; its ``dataset`` / ``image_dir`` (MPII) are used when
  neither ``--images`` nor ``--dataset`` is given.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from arttrack.io.atomic import atomic_path

__all__ = ["IMAGE_EXTENSIONS", "InputSpec", "Letterbox", "items_for", "letterbox", "load_index", "load_meta",
           "preprocess_image", "to_original"]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
INDEX_FORMAT = "arttrack-preprocess"
INDEX_VERSION = 1


class PreprocessError(ValueError):
    """Bad metadata, images or arguments; the CLI prints it as one line."""


# ------------------------------------------------------------------------------------
# metadata
# ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputSpec:
    """The network input as the export metadata describes it."""

    name: str
    shape: tuple[int, ...]  # (N, C, H, W) or (N, H, W, C)
    layout: str  # NCHW | NHWC
    color: str  # RGB | BGR
    mean_pixel: tuple[float, float, float]
    scale: float  # multiplied after subtracting the mean
    std: tuple[float, float, float] | None = None  # optional per-channel divisor

    @property
    def height(self) -> int:
        return self.shape[2] if self.layout == "NCHW" else self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[3] if self.layout == "NCHW" else self.shape[2]

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image's tensor (the input shape without the batch axis)."""
        return tuple(self.shape[1:])

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], where: str = "metadata") -> "InputSpec":
        try:
            inp = meta["input"]
            shape = tuple(int(v) for v in inp["shape"])
            layout = str(inp.get("layout", "NCHW")).upper()
            color = str(inp.get("color", "RGB")).upper()
            mean = tuple(float(v) for v in inp["mean_pixel"])
            scale = float(inp.get("scale", 1.0))
            std = inp.get("std")
            std = None if std is None else tuple(float(v) for v in std)
            dtype = str(inp.get("dtype", "float32"))
            name = str(inp.get("name", "image"))
        except (KeyError, TypeError, ValueError) as exc:
            raise PreprocessError(f"{where}: no usable 'input' description ({exc!r}); was it "
                                  "written by python -m arttrack.export?") from None
        if len(shape) != 4 or min(shape) < 1:
            raise PreprocessError(f"{where}: input.shape must be 4 positive dims, got {list(shape)}")
        if layout not in ("NCHW", "NHWC"):
            raise PreprocessError(f"{where}: input.layout must be NCHW or NHWC, got {layout}")
        if color not in ("RGB", "BGR"):
            raise PreprocessError(f"{where}: input.color must be RGB or BGR, got {color}")
        channels = shape[1] if layout == "NCHW" else shape[3]
        if channels != 3 or len(mean) != 3 or (std is not None and len(std) != 3):
            raise PreprocessError(f"{where}: expected 3 channels, a 3-value mean_pixel (and std)")
        if dtype != "float32":
            raise PreprocessError(f"{where}: input.dtype {dtype} is not supported (float32 only)")
        if not np.isfinite(scale) or scale == 0:
            raise PreprocessError(f"{where}: input.scale must be finite and non-zero")
        return cls(name, shape, layout, color, mean, scale, std)


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise PreprocessError(f"metadata file {p} does not exist (python -m arttrack.export writes "
                              "<model>.json next to the model)")
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PreprocessError(f"cannot read metadata {p}: {exc}") from None
    if not isinstance(meta, dict):
        raise PreprocessError(f"{p}: metadata must be a JSON object")
    return meta


# ------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Letterbox:
    """Where a crop of the original image lands in the network input."""

    orig_size: tuple[int, int]  # (h, w) of the original image
    crop: tuple[int, int, int, int]  # x0, y0, x1, y1 in original pixels (x1, y1 exclusive)
    resized: tuple[int, int]  # (h', w') of the resized crop inside the input
    scale: tuple[float, float]  # (sx, sy) = resized / crop size
    pad: tuple[int, int]  # (left, top) padding in input pixels

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Letterbox":
        try:
            return cls(tuple(int(v) for v in d["orig_size"]), tuple(int(v) for v in d["crop"]),
                       tuple(int(v) for v in d["resized"]), tuple(float(v) for v in d["scale"]),
                       tuple(int(v) for v in d["pad"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise PreprocessError(f"index entry without letterbox geometry ({exc!r})") from None


def letterbox(orig_size: tuple[int, int], crop: tuple[int, int, int, int] | None,
              height: int, width: int) -> Letterbox:
    """Letterbox geometry of ``crop`` (default: the whole image) into ``height x width``."""
    h, w = int(orig_size[0]), int(orig_size[1])
    x0, y0, x1, y1 = (0, 0, w, h) if crop is None else (int(c) for c in crop)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        raise PreprocessError(f"empty crop {crop} of a {w}x{h} image")
    cw, ch = x1 - x0, y1 - y0
    s = min(height / ch, width / cw)
    nw = int(min(width, max(1, round(cw * s))))
    nh = int(min(height, max(1, round(ch * s))))
    return Letterbox((h, w), (x0, y0, x1, y1), (nh, nw), (nw / cw, nh / ch),
                     ((width - nw) // 2, (height - nh) // 2))


def to_original(xy: np.ndarray, lb: Letterbox | Mapping[str, Any]) -> np.ndarray:
    """Map (..., 2) input-pixel coordinates back to original image pixels (float64)."""
    from arttrack._native import core

    if not isinstance(lb, Letterbox):
        lb = Letterbox.from_dict(lb)
    return core.to_original(np.asarray(xy, dtype=np.float64), scale=tuple(lb.scale),
                            pad=tuple(float(v) for v in lb.pad),
                            crop=(float(lb.crop[0]), float(lb.crop[1])))


def preprocess_image(rgb: np.ndarray, spec: InputSpec,
                     crop: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, Letterbox]:
    """One RGB uint8 image -> (input tensor of ``spec.image_shape`` float32, geometry)."""
    import cv2

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise PreprocessError(f"expected an H x W x 3 image, got shape {rgb.shape}")
    lb = letterbox(rgb.shape[:2], crop, spec.height, spec.width)
    x0, y0, x1, y1 = lb.crop
    part = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    nh, nw = lb.resized
    if (nh, nw) != part.shape[:2]:
        part = cv2.resize(part, (nw, nh), interpolation=cv2.INTER_LINEAR)
    mean = np.asarray(spec.mean_pixel, np.float32)
    canvas = np.empty((spec.height, spec.width, 3), np.float32)
    canvas[...] = mean  # padding is the mean pixel: zero after normalisation
    px, py = lb.pad
    canvas[py:py + nh, px:px + nw] = part.astype(np.float32)
    if spec.color == "BGR":
        canvas = canvas[..., ::-1]
        mean = mean[::-1]
    x = (canvas - mean) * np.float32(spec.scale)
    if spec.std is not None:
        std = np.asarray(spec.std, np.float32)
        x = x / (std[::-1] if spec.color == "BGR" else std)
    if spec.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x, dtype=np.float32), lb


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise PreprocessError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ------------------------------------------------------------------------------------
# sources
# ------------------------------------------------------------------------------------
@dataclass
class Item:
    image: str  # name used to match ground truth
    path: Path
    person: int | None = None
    crop: tuple[int, int, int, int] | None = None


def items_from_dir(root: str | os.PathLike) -> list[Item]:
    root = Path(root)
    if not root.is_dir():
        raise PreprocessError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise PreprocessError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
    return [Item(p.relative_to(root).as_posix(), p) for p in files]


def person_box(joints: np.ndarray, visible: np.ndarray, headbox: np.ndarray,
               margin: float) -> tuple[float, float, float, float]:
    """Box (x0, y0, x1, y1) around a person's annotated joints and head box, grown by
    ``margin`` times its longer side on every side."""
    pts = [joints[visible & np.all(np.isfinite(joints), axis=1)]]
    if np.all(np.isfinite(headbox)):
        pts.append(np.asarray(headbox, np.float64).reshape(2, 2))
    pts = np.concatenate(pts, axis=0)
    if len(pts) == 0:
        raise PreprocessError("a person without annotated joints or head box")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    m = margin * float(max(hi - lo))
    return lo[0] - m, lo[1] - m, hi[0] + m, hi[1] + m


def _resolve_image_root(mat: Path, image_root: str | os.PathLike | None) -> Path:
    if image_root:
        root = Path(image_root)
        if not root.is_dir():
            raise PreprocessError(f"image root {root} does not exist")
        return root
    for cand in (mat.parent / "images", mat.parent.parent / "images"):
        if cand.is_dir():
            return cand
    raise PreprocessError(f"cannot find the images of {mat} (tried {mat.parent / 'images'} and "
                          f"{mat.parent.parent / 'images'}); pass --image-root")


def items_from_mpii(mat: str | os.PathLike, image_root: str | os.PathLike | None = None, *,
                    split: str = "all", crop: str = "person",
                    margin: float = 0.25) -> list[Item]:
    """Single-person items of an MPII .mat: one per ground-truth person (see module doc)."""
    from arttrack.eval.pckh import load_mpii_mat

    mat = Path(mat)
    gt = load_mpii_mat(mat, split=split)
    root = _resolve_image_root(mat, image_root)
    items: list[Item] = []
    if crop == "image":
        counts: dict[str, int] = {}
        for name in gt.images:
            counts[name] = counts.get(name, 0) + 1
        for i, name in enumerate(gt.images):
            if counts[name] == 1:
                items.append(Item(name, root / name, gt.persons[i]))
        skipped = sum(1 for c in counts.values() if c > 1)
        if skipped:
            logger.info("--crop image: %d images with several people left out", skipped)
        return items
    for i, name in enumerate(gt.images):
        x0, y0, x1, y1 = person_box(gt.joints[i], gt.visible[i], gt.headbox[i], margin)
        box = (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)) + 1, int(np.ceil(y1)) + 1)
        items.append(Item(name, root / name, gt.persons[i], box))
    return items


# ------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------
def write_bins(items: Sequence[Item], meta: Mapping[str, Any], out_dir: str | os.PathLike, *,
               meta_path: str | os.PathLike | None = None, extra: Mapping[str, Any] | None = None,
               progress: bool = True) -> Path:
    """Preprocess ``items`` into ``out_dir`` (.bin files + index.json); returns the index path."""
    from tqdm import tqdm

    spec = InputSpec.from_meta(meta, str(meta_path or "metadata"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    cache: dict[Path, np.ndarray] = {}
    for i, it in enumerate(tqdm(items, desc="preprocess", disable=None if progress else True)):
        rgb = cache.get(it.path)
        if rgb is None:
            rgb = read_rgb(it.path)
            cache = {it.path: rgb}  # items of one image are consecutive: keep only the last
        x, lb = preprocess_image(rgb, spec, it.crop)
        fname = f"{i:06d}.bin"
        x.tofile(out / fname)
        entries.append({"file": fname, "image": it.image, "image_path": str(it.path.resolve()),
                        "person": it.person, **lb.to_dict()})
    doc = {
        "format": INDEX_FORMAT, "version": INDEX_VERSION,
        "meta": str(Path(meta_path).resolve()) if meta_path else None,
        "input": {"name": spec.name, "shape": list(spec.shape), "layout": spec.layout,
                  "color": spec.color, "mean_pixel": list(spec.mean_pixel), "scale": spec.scale,
                  "std": None if spec.std is None else list(spec.std), "dtype": "float32",
                  "pad_value": "mean_pixel", "interpolation": "bilinear (cv2.INTER_LINEAR)"},
        **(extra or {}),
        "entries": entries,
    }
    index = out / "index.json"
    with atomic_path(index) as tmp:
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    logger.info("wrote %d inputs of shape %s to %s", len(entries), list(spec.image_shape), out)
    return index


def load_index(path: str | os.PathLike) -> dict[str, Any]:
    """Read an index.json written by :func:`write_bins` (a folder means ``<folder>/index.json``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "index.json"
    if not p.is_file():
        raise PreprocessError(f"index file {p} does not exist (python -m arttrack.preprocess writes it)")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PreprocessError(f"cannot read index {p}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT or not isinstance(doc.get("entries"), list):
        raise PreprocessError(f"{p} is not an arttrack.preprocess index")
    return doc


def items_for(meta: Mapping[str, Any], *, images: str | os.PathLike | None = None,
              dataset: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
              image_root: str | os.PathLike | None = None, split: str = "all",
              crop: str = "person", crop_margin: float = 0.25,
              limit: int | None = None) -> tuple[list[Item], dict[str, Any]]:
    """The items of one source (module docstring, Sources) and the index's ``gt``, ``split``
    and ``crop`` entries."""
    if images is None and dataset is None:
        if not config:
            raise PreprocessError("give --images DIR, --dataset MAT or --config CONFIG")
        from arttrack.config import load_config

        cfg = load_config(config)
        if cfg.dataset_type != "mpii" or not cfg.dataset:
            raise PreprocessError(f"{config}: dataset_type {cfg.dataset_type!r} with dataset "
                                  f"{cfg.dataset!r}; only an MPII .mat (or --images) is supported")
        dataset, image_root = cfg.dataset, image_root or cfg.image_dir or None
    if images is not None:
        items = items_from_dir(images)
        extra = {"gt": None, "split": None, "crop": "none"}
    else:
        if not Path(dataset).is_file():
            raise PreprocessError(f"annotation file {dataset} does not exist")
        if not 0 <= crop_margin < 10:
            raise PreprocessError(f"--crop-margin must be in [0, 10), got {crop_margin}")
        items = items_from_mpii(dataset, image_root, split=split, crop=crop, margin=crop_margin)
        extra = {"gt": str(Path(dataset).resolve()), "split": split, "crop": crop}
    if limit is not None:
        items = items[:max(0, limit)]
    if not items:
        raise PreprocessError("nothing to preprocess (no images or annotated people)")
    return items, extra
