"""The training input pipeline: sample source -> augmentation -> targets -> padded batches.

:func:`build_dataset` returns a ``mindspore.dataset`` pipeline (``GeneratorDataset`` then
``batch``) over any *sample source*: an object with ``__len__`` and
``__getitem__(i) -> (image, joints, ignore_mask)`` or ``(image, joints, ignore_mask,
base_scale)`` where ``image`` is HxWx3 uint8 RGB, ``joints`` (P, J, 3) x, y, visibility
(:mod:`arttrack.data.records` conventions), ``ignore_mask`` an (H, W) mask or None, and
``base_scale`` a dataset normalisation factor (default 1). :class:`RecordSource` turns
MPII / COCO :class:`~arttrack.data.records.PoseRecord` lists into one; the synthetic
generator's source object can be used directly.

Columns of every batch (N = batch size, h x w the padded input size, a multiple of
``pad_to_multiple`` (16), H = h / 8, W = w / 8 = the codec's map size, J joints,
C = J*(J-1) ordered pairs). Targets are NHWC:

====================  ======================  =========  ==========================================
column                shape                   dtype      meaning
====================  ======================  =========  ==========================================
``image``             (N, 3, h, w)            float32    RGB minus ``mean_pixel``, no /255; 0 on padding
``scmap``             (N, H, W, J)            float32    part targets (0/1)
``scmap_weights``     (N, H, W, J)            float32    part loss weights; 0 on padding / ignore
``locref_map``        (N, H, W, 2J)           float32    channel 2j = dx_j, 2j+1 = dy_j (/ locref_stdev)
``locref_mask``       (N, H, W, 2J)           float32    1 inside the disks
``pairwise_map``      (N, H, W, 2C)           float32    channel 2c = dx, 2c+1 = dy, c = pair_channel(j, k, J); only with pairwise
``pairwise_mask``     (N, H, W, 2C)           float32    1 where both joints are labeled; only with pairwise
====================  ======================  =========  ==========================================

Transposing a target to NCHW (``x.transpose(0, 3, 1, 2)``) gives the network's channel
order directly. See :mod:`arttrack.data.codec` for the target definitions.

Randomness: each sample's augmentation RNG is ``numpy.random.default_rng([seed, epoch,
index])``, so results do not depend on worker count or scheduling. The epoch reaches the
workers through the sampler (:class:`EpochSampler`), which yields *virtual* indices
``epoch * len(source) + index`` and counts its epochs; it also shuffles (with
``seed + epoch``, identical on every rank) and shards: rank ``shard_id`` of
``num_shards`` takes every ``num_shards``-th index of the permutation, padded by
wrapping so that all ranks see the same number of samples per epoch.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Iterator, Sequence

import numpy as np

from arttrack.data.augment import Augmenter, crop_sample
from arttrack.data.codec import PoseCodec
from arttrack.data.records import PoseRecord

logger = logging.getLogger(__name__)

__all__ = ["RecordSource", "EpochSampler", "SampleMapper", "build_dataset", "column_names",
           "pad_batch", "load_image", "MEAN_PIXEL"]

MEAN_PIXEL = (123.68, 116.779, 103.939)


def load_image(path: str) -> np.ndarray:
    """HxWx3 uint8 RGB image; ValueError naming the file when it cannot be read."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class RecordSource:
    """Sample source over :class:`PoseRecord` objects (reads and crops the images)."""

    def __init__(self, records: Sequence[PoseRecord]) -> None:
        self.records = list(records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        rec = self.records[i]
        image = load_image(rec.image_path)
        h, w = image.shape[:2]
        mask = rec.ignore_mask(h, w)
        joints = rec.joints
        if rec.crop_box is not None:
            image, joints, mask = crop_sample(image, joints, mask, rec.crop_box)
        return image, joints, mask, float(rec.base_scale)


class EpochSampler:
    """Yields virtual indices ``epoch * n + i`` (see module docstring); counts epochs."""

    def __init__(self, num_samples: int, *, shuffle: bool = True, seed: int = 0,
                 num_shards: int = 1, shard_id: int = 0, start_epoch: int = 0) -> None:
        if num_samples <= 0:
            raise ValueError("the sample source is empty")
        if num_shards < 1 or not 0 <= shard_id < num_shards:
            raise ValueError(f"bad shard {shard_id} of {num_shards}")
        self.num_samples = int(num_samples)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.num_shards = int(num_shards)
        self.shard_id = int(shard_id)
        self.epoch = int(start_epoch)

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.num_shards)

    def indices(self, epoch: int) -> np.ndarray:
        """Source indices of this rank in ``epoch`` (without the epoch offset)."""
        n = self.num_samples
        order = (np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle
                 else np.arange(n))
        total = len(self) * self.num_shards
        if total > n:
            order = np.concatenate([order, order[: total - n]])
        return order[self.shard_id::self.num_shards]

    def __iter__(self) -> Iterator[int]:
        # A generator: the epoch is only consumed when MindSpore actually draws indices.
        epoch = self.epoch
        self.epoch += 1
        for i in self.indices(epoch):
            yield int(epoch * self.num_samples + i)


def column_names(pairwise: bool) -> list[str]:
    cols = ["image", "scmap", "scmap_weights", "locref_map", "locref_mask"]
    if pairwise:
        cols += ["pairwise_map", "pairwise_mask"]
    return cols


class SampleMapper:
    """Random-access source for GeneratorDataset: virtual index -> one sample's columns.

    Also usable without MindSpore: ``mapper.sample(index, epoch)``.
    """

    def __init__(self, source: Any, codec: PoseCodec, augmenter: Augmenter, *, seed: int = 0,
                 mean_pixel: Sequence[float] = MEAN_PIXEL) -> None:
        self.source = source
        self.codec = codec
        self.augmenter = augmenter
        self.seed = int(seed)
        self.mean_pixel = np.asarray(mean_pixel, np.float32).reshape(3, 1, 1)
        self.columns = column_names(codec.pairwise)
        self._n = len(source)
        self._skip: frozenset = frozenset()

    def __len__(self) -> int:
        return self._n

    def sample(self, index: int, epoch: int = 0) -> tuple[np.ndarray, ...]:
        item = self.source[int(index)]
        if len(item) == 3:
            image, joints, mask = item
            base_scale = 1.0
        elif len(item) == 4:
            image, joints, mask, base_scale = item
        else:
            raise ValueError(f"sample source item {index} has {len(item)} fields; expected "
                             "(image, joints, ignore_mask[, base_scale])")
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"sample {index}: image must be HxWx3 uint8 RGB, got "
                             f"{image.shape} {image.dtype}")
        J = self.codec.num_joints
        joints = np.asarray(joints, np.float32).reshape(-1, J, 3)
        rng = np.random.default_rng([self.seed, int(epoch), int(index)])
        aug = self.augmenter(image, joints, mask, rng=rng, base_scale=float(base_scale))
        h, w = aug.image.shape[:2]
        t = self.codec.encode(aug.joints, (h, w), scale=aug.scale, ignore_mask=aug.ignore_mask)
        img = aug.image.astype(np.float32).transpose(2, 0, 1) - self.mean_pixel
        return self._columns(np.ascontiguousarray(img), t)

    def _columns(self, image: np.ndarray, t: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        """The network input and the codec's targets in :func:`column_names` order."""
        H, W = t["scmap"].shape[:2]
        out = [image, t["scmap"], t["scmap_weights"],
               t["locref_map"].reshape(H, W, -1), t["locref_mask"].reshape(H, W, -1)]
        if self.codec.pairwise:
            out += [t["pairwise_map"].reshape(H, W, -1), t["pairwise_mask"].reshape(H, W, -1)]
        return tuple(out)

    def skip(self, virtual_indices: Any) -> None:
        """Serve these virtual indices as a cheap empty placeholder instead of decoding and
        augmenting them: the batches a mid-epoch ``--resume`` draws again and throws away."""
        self._skip = frozenset(int(i) for i in virtual_indices)

    def placeholder(self) -> tuple[np.ndarray, ...]:
        """A minimal valid sample (16 x 16 zero image, no people) in :func:`column_names`
        order."""
        t = self.codec.encode(np.zeros((0, self.codec.num_joints, 3), np.float32), (16, 16))
        return self._columns(np.zeros((3, 16, 16), np.float32), t)

    def __getitem__(self, virtual_index: int) -> tuple[np.ndarray, ...]:
        if int(virtual_index) in self._skip:
            return self.placeholder()
        epoch, index = divmod(int(virtual_index), self._n)
        return self.sample(index, epoch)


def pad_batch(samples: Sequence[Sequence[np.ndarray]], codec: PoseCodec, *,
              pad_to_multiple: int = 16, min_size: int = 0) -> list[np.ndarray]:
    """Stack per-sample columns, zero-padding to the batch's max size (see module doc).

    ``samples`` is a list of per-sample tuples in :func:`column_names` order.
    """
    hs = [s[0].shape[1] for s in samples]
    ws = [s[0].shape[2] for s in samples]
    m = max(1, int(pad_to_multiple))
    h = max(int(math.ceil(max(max(hs), min_size) / m)) * m, 1)
    w = max(int(math.ceil(max(max(ws), min_size) / m)) * m, 1)
    H, W = codec.map_shape(h, w)
    ncol = len(samples[0])
    out = [np.zeros((len(samples), 3, h, w), np.float32)]
    for c in range(1, ncol):
        out.append(np.zeros((len(samples), H, W, samples[0][c].shape[2]), np.float32))
    for n, s in enumerate(samples):
        img = s[0]
        out[0][n, :, :img.shape[1], :img.shape[2]] = img
        for c in range(1, ncol):
            t = s[c]
            out[c][n, :t.shape[0], :t.shape[1]] = t
    return out


class _BatchPadder:
    """per_batch_map: MindSpore checks its signature (one parameter per column + BatchInfo)."""

    def __init__(self, codec: PoseCodec, pad_to_multiple: int, min_size: int,
                 columns: Sequence[str]) -> None:
        import inspect

        self.codec, self.pad_to_multiple, self.min_size = codec, pad_to_multiple, min_size
        params = [inspect.Parameter(c, inspect.Parameter.POSITIONAL_ONLY)
                  for c in list(columns) + ["batch_info"]]
        self.__signature__ = inspect.Signature(params)

    def __call__(self, *cols):
        *cols, _batch_info = cols
        samples = list(zip(*cols))
        return tuple(pad_batch(samples, self.codec, pad_to_multiple=self.pad_to_multiple,
                               min_size=self.min_size))


def build_dataset(source: Any, codec: PoseCodec, augmenter: Augmenter, *, batch_size: int = 1,
                  shuffle: bool = True, seed: int = 0, num_shards: int = 1, shard_id: int = 0,
                  num_parallel_workers: int = 1, python_multiprocessing: bool = False,
                  mean_pixel: Sequence[float] = MEAN_PIXEL, pad_to_multiple: int = 16,
                  drop_remainder: bool = False, start_epoch: int = 0, skip_batches: int = 0):
    """Build the MindSpore training dataset (columns in the module docstring).

    Args:
        source: sample source (module docstring), e.g. :class:`RecordSource`.
        codec: target codec (its ``pairwise`` flag adds the pairwise columns).
        augmenter: :class:`~arttrack.data.augment.Augmenter`.
        batch_size: samples per batch, padded to the batch's largest.
        shuffle, seed: per-epoch shuffling and augmentation seed.
        num_shards, shard_id: data-parallel split (e.g. ``get_group_size()``,
            ``get_rank()`` under msrun).
        num_parallel_workers, python_multiprocessing: GeneratorDataset parallelism.
        mean_pixel: RGB mean subtracted from the image.
        pad_to_multiple: padded input sides are multiples of this (16: maps = input / 8).
        drop_remainder: drop the last incomplete batch.
        start_epoch: first epoch number (for resuming with the same randomness).
        skip_batches: the first batches of ``start_epoch`` that the caller will throw away
            (resuming mid-epoch): their samples are empty placeholders, not real samples,
            so that skipping them costs next to nothing.
    """
    import mindspore.dataset as ds

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    mapper = SampleMapper(source, codec, augmenter, seed=seed, mean_pixel=mean_pixel)
    sampler = EpochSampler(len(mapper), shuffle=shuffle, seed=seed, num_shards=num_shards,
                           shard_id=shard_id, start_epoch=start_epoch)
    if skip_batches > 0:
        first = sampler.indices(start_epoch)[: int(skip_batches) * batch_size]
        mapper.skip(first.astype(np.int64) + start_epoch * len(mapper))
    cols = mapper.columns
    dataset = ds.GeneratorDataset(mapper, column_names=cols, sampler=sampler,
                                  num_parallel_workers=num_parallel_workers,
                                  python_multiprocessing=python_multiprocessing)
    padder = _BatchPadder(codec, pad_to_multiple, augmenter.min_input_size, cols)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, per_batch_map=padder,
                            input_columns=cols, output_columns=cols)
    logger.info("dataset: %d samples, shard %d/%d, %d per epoch on this rank, batch %d",
                len(mapper), shard_id, num_shards, len(sampler), batch_size)
    return dataset
