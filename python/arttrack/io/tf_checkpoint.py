"""Read TensorFlow checkpoints without TensorFlow.

Two on-disk formats are understood; both are built on the LevelDB *table* (SSTable)
format as described in LevelDB's ``doc/table_format.md`` (TensorFlow's copy lives in
``tensorflow/core/lib/io/table*.{h,cc}``):

* a table file ends in a 48-byte footer: the block handles (two varints each, offset
  and size) of the *metaindex* and the *index* block, zero padding, and the magic
  number ``0xdb4775248b80fb57`` (little-endian);
* the index block maps a separator key to the handle of every data block; a block is a
  run of entries ``varint shared, varint non_shared, varint value_length, key delta,
  value`` (keys are prefix-compressed against the previous key) followed by the
  restart-point offsets (``uint32`` each) and their count;
* every block is followed by a 5-byte trailer: the compression type (0 none,
  1 snappy) and the masked CRC32C of the block contents plus that type byte
  (``mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8``).

**V2 bundle** (``tensorflow/core/util/tensor_bundle/tensor_bundle.h`` and
``tensor_bundle.proto``): ``PREFIX.index`` is such a table. Its key ``""`` holds a
``BundleHeaderProto`` (number of shards, endianness, version); every other key is a
tensor name mapped to a ``BundleEntryProto`` (dtype, shape, shard, offset and size of
its bytes in ``PREFIX.data-SSSSS-of-NNNNN``, and the masked CRC32C of those bytes).
Numeric tensors are stored as their raw bytes in the writer's byte order; string
tensors as varint64 lengths, a masked CRC32C of the lengths, then the bytes.

**V1 single file** (``tensorflow/core/util/tensor_slice_writer.h``,
``saved_tensor_slice.proto``; the format of the 2016 TF-slim ImageNet checkpoints such
as ``resnet_v1_101.ckpt``): one table whose key ``""`` holds a ``SavedTensorSlices``
with the ``meta`` (name, shape, dtype and slices of every tensor), and whose other keys
are OrderedCode-encoded ``(tensor name, slice)`` pairs mapped to a ``SavedTensorSlices``
whose ``data`` is a ``SavedSlice`` holding the values of that slice in a
``TensorProto`` (``float_val``, ``int64_val``, ... or ``tensor_content``). A tensor is
assembled from its slices (normally one slice covering all of it).

The protobuf messages are defined at run time from a ``FileDescriptorProto`` built
here, with the field numbers of TensorFlow's ``tensor_bundle.proto``,
``tensor_shape.proto``, ``types.proto``, ``tensor.proto``, ``tensor_slice.proto``,
``versions.proto`` and ``saved_tensor_slice.proto``, in a private descriptor pool.
The fixed-width values of a V1 slice (``float_val``, ``double_val``, ``scomplex_val``,
``dcomplex_val``) and its ``tensor_content`` are cut out of its record by walking the
protobuf wire format and decoded with numpy, the rest going to protobuf: protobuf's
pure-Python runtime (which MindSpore forces) decodes packed values one by one, some
hundred times slower.

Everything read is checked (block CRCs, tensor CRCs, sizes against the files, shapes
against the bytes); any problem raises :class:`TFCheckpointError` with one line naming
the file and what is wrong. Snappy-compressed blocks are decompressed with ``cramjam``:
early TensorFlow releases (those that wrote the 2016 V1 checkpoints) built tables with
snappy on by default, storing a block compressed when that saved at least 1/8 of it;
current releases write uncompressed tables.
"""

from __future__ import annotations

import glob
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, Union

import google_crc32c
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

__all__ = [
    "TFCheckpointError",
    "TensorInfo",
    "list_tf_variables",
    "read_tf_checkpoint",
    "tf_checkpoint_files",
    "tf_checkpoint_format",
]

PathLike = Union[str, "os.PathLike[str]"]


class TFCheckpointError(ValueError):
    """A TensorFlow checkpoint is missing, damaged, inconsistent or of an unsupported kind."""


@dataclass(frozen=True)
class TensorInfo:
    """Name, numpy dtype and shape of one tensor of a checkpoint."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]


# --------------------------------------------------------------------------------------
# Protobuf messages (a subset of TensorFlow's, same field numbers).

# DataType values of types.proto that map onto numpy; DT_STRING (7) maps to object
# arrays of bytes. The *_REF variants (value + 100) are accepted as their base type.
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32),  # DT_FLOAT
    2: np.dtype(np.float64),  # DT_DOUBLE
    3: np.dtype(np.int32),  # DT_INT32
    4: np.dtype(np.uint8),  # DT_UINT8
    5: np.dtype(np.int16),  # DT_INT16
    6: np.dtype(np.int8),  # DT_INT8
    7: np.dtype(object),  # DT_STRING
    8: np.dtype(np.complex64),  # DT_COMPLEX64
    9: np.dtype(np.int64),  # DT_INT64
    10: np.dtype(np.bool_),  # DT_BOOL
    17: np.dtype(np.uint16),  # DT_UINT16
    18: np.dtype(np.complex128),  # DT_COMPLEX128
    19: np.dtype(np.float16),  # DT_HALF
    22: np.dtype(np.uint32),  # DT_UINT32
    23: np.dtype(np.uint64),  # DT_UINT64
}
_DT_STRING = 7
_DTYPE_NAMES = {
    0: "DT_INVALID", 11: "DT_QINT8", 12: "DT_QUINT8", 13: "DT_QINT32", 14: "DT_BFLOAT16",
    15: "DT_QINT16", 16: "DT_QUINT16", 20: "DT_RESOURCE", 21: "DT_VARIANT",
    24: "DT_FLOAT8_E5M2", 25: "DT_FLOAT8_E4M3FN", 29: "DT_INT4", 30: "DT_UINT4",
}

_F = descriptor_pb2.FieldDescriptorProto
_OPT, _REP = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED


def _add_message(
    container: Any, name: str, fields: list[tuple[str, int, int, int, str | None]],
    oneofs: dict[str, list[str]] | None = None,
) -> descriptor_pb2.DescriptorProto:
    msg = container.add(name=name)
    oneof_index: dict[str, int] = {}
    for i, (oneof, members) in enumerate((oneofs or {}).items()):
        msg.oneof_decl.add(name=oneof)
        oneof_index.update({m: i for m in members})
    for fname, number, ftype, label, type_name in fields:
        field = msg.field.add(name=fname, number=number, type=ftype, label=label)
        if type_name:
            field.type_name = type_name
        if fname in oneof_index:
            field.oneof_index = oneof_index[fname]
    return msg


def _build_messages() -> dict[str, type[Message]]:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="arttrack/io/tf_checkpoint.proto", package="tensorflow", syntax="proto3")
    # Names are declared as bytes (wire-compatible with TensorFlow's `string`) so a
    # name that is not UTF-8 cannot make a whole message unparseable.
    dt = ".tensorflow.DataType"
    enum = fdp.enum_type.add(name="DataType")
    for number in sorted({0, *_DTYPES, *_DTYPE_NAMES}):
        enum.value.add(name=f"DT_{number}", number=number)
    shape = _add_message(fdp.message_type, "TensorShapeProto", [
        ("dim", 2, _F.TYPE_MESSAGE, _REP, ".tensorflow.TensorShapeProto.Dim"),
        ("unknown_rank", 3, _F.TYPE_BOOL, _OPT, None),
    ])
    _add_message(shape.nested_type, "Dim", [
        ("size", 1, _F.TYPE_INT64, _OPT, None),
        ("name", 2, _F.TYPE_BYTES, _OPT, None),
    ])
    tslice = _add_message(fdp.message_type, "TensorSliceProto", [
        ("extent", 1, _F.TYPE_MESSAGE, _REP, ".tensorflow.TensorSliceProto.Extent"),
    ])
    _add_message(tslice.nested_type, "Extent", [
        ("start", 1, _F.TYPE_INT64, _OPT, None),
        ("length", 2, _F.TYPE_INT64, _OPT, None),
    ], oneofs={"has_length": ["length"]})
    _add_message(fdp.message_type, "VersionDef", [
        ("producer", 1, _F.TYPE_INT32, _OPT, None),
        ("min_consumer", 2, _F.TYPE_INT32, _OPT, None),
        ("bad_consumers", 3, _F.TYPE_INT32, _REP, None),
    ])
    header = _add_message(fdp.message_type, "BundleHeaderProto", [
        ("num_shards", 1, _F.TYPE_INT32, _OPT, None),
        ("endianness", 2, _F.TYPE_ENUM, _OPT, ".tensorflow.BundleHeaderProto.Endianness"),
        ("version", 3, _F.TYPE_MESSAGE, _OPT, ".tensorflow.VersionDef"),
    ])
    endianness = header.enum_type.add(name="Endianness")
    endianness.value.add(name="LITTLE", number=0)
    endianness.value.add(name="BIG", number=1)
    _add_message(fdp.message_type, "BundleEntryProto", [
        ("dtype", 1, _F.TYPE_ENUM, _OPT, dt),
        ("shape", 2, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorShapeProto"),
        ("shard_id", 3, _F.TYPE_INT32, _OPT, None),
        ("offset", 4, _F.TYPE_INT64, _OPT, None),
        ("size", 5, _F.TYPE_INT64, _OPT, None),
        ("crc32c", 6, _F.TYPE_FIXED32, _OPT, None),
        ("slices", 7, _F.TYPE_MESSAGE, _REP, ".tensorflow.TensorSliceProto"),
    ])
    _add_message(fdp.message_type, "TensorProto", [
        ("dtype", 1, _F.TYPE_ENUM, _OPT, dt),
        ("tensor_shape", 2, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorShapeProto"),
        ("version_number", 3, _F.TYPE_INT32, _OPT, None),
        ("tensor_content", 4, _F.TYPE_BYTES, _OPT, None),
        ("float_val", 5, _F.TYPE_FLOAT, _REP, None),
        ("double_val", 6, _F.TYPE_DOUBLE, _REP, None),
        ("int_val", 7, _F.TYPE_INT32, _REP, None),
        ("string_val", 8, _F.TYPE_BYTES, _REP, None),
        ("scomplex_val", 9, _F.TYPE_FLOAT, _REP, None),
        ("int64_val", 10, _F.TYPE_INT64, _REP, None),
        ("bool_val", 11, _F.TYPE_BOOL, _REP, None),
        ("dcomplex_val", 12, _F.TYPE_DOUBLE, _REP, None),
        ("half_val", 13, _F.TYPE_INT32, _REP, None),
        ("uint32_val", 16, _F.TYPE_UINT32, _REP, None),
        ("uint64_val", 17, _F.TYPE_UINT64, _REP, None),
    ])
    _add_message(fdp.message_type, "SavedSliceMeta", [
        ("name", 1, _F.TYPE_BYTES, _OPT, None),
        ("shape", 2, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorShapeProto"),
        ("type", 3, _F.TYPE_ENUM, _OPT, dt),
        ("slice", 4, _F.TYPE_MESSAGE, _REP, ".tensorflow.TensorSliceProto"),
    ])
    _add_message(fdp.message_type, "SavedTensorSliceMeta", [
        ("tensor", 1, _F.TYPE_MESSAGE, _REP, ".tensorflow.SavedSliceMeta"),
        ("versions", 2, _F.TYPE_MESSAGE, _OPT, ".tensorflow.VersionDef"),
    ])
    _add_message(fdp.message_type, "SavedSlice", [
        ("name", 1, _F.TYPE_BYTES, _OPT, None),
        ("slice", 2, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorSliceProto"),
        ("data", 3, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorProto"),
    ])
    _add_message(fdp.message_type, "SavedTensorSlices", [
        ("meta", 1, _F.TYPE_MESSAGE, _OPT, ".tensorflow.SavedTensorSliceMeta"),
        ("data", 2, _F.TYPE_MESSAGE, _OPT, ".tensorflow.SavedSlice"),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.21
    if get_class is None:
        get_class = message_factory.MessageFactory(pool).GetPrototype
    return {
        name: get_class(pool.FindMessageTypeByName(f"tensorflow.{name}"))
        for name in ("BundleHeaderProto", "BundleEntryProto", "SavedTensorSlices")
    }


_MESSAGES = _build_messages()
_BundleHeaderProto = _MESSAGES["BundleHeaderProto"]
_BundleEntryProto = _MESSAGES["BundleEntryProto"]
_SavedTensorSlices = _MESSAGES["SavedTensorSlices"]

# Versions this reader understands (tensor_bundle.cc kTensorBundleVersion; version.h
# TF_CHECKPOINT_VERSION).
_BUNDLE_VERSION = 1
_V1_CHECKPOINT_VERSION = 1


def _parse(cls: type[Message], data: bytes, path: Path, what: str) -> Any:
    try:
        return cls.FromString(data)
    except (DecodeError, RuntimeError) as exc:
        raise TFCheckpointError(
            f"{path}: {what} is not a valid {cls.DESCRIPTOR.name} ({exc})") from None


def _check_version(version: Any, supported: int, path: Path, kind: str) -> None:
    if version.min_consumer > supported or supported in version.bad_consumers:
        raise TFCheckpointError(
            f"{path}: {kind} version {version.producer} needs a reader of version "
            f">= {version.min_consumer} (this one reads version {supported})")


# --------------------------------------------------------------------------------------
# CRC32C and varints.

_CRC_MASK_DELTA = 0xA282EAD8


def _unmask_crc(masked: int) -> int:
    rot = (masked - _CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C of ``data`` continuing ``crc`` (google-crc32c takes only ``bytes``)."""
    return google_crc32c.extend(crc, data)


class _Corrupt(Exception):
    """Raised by the low-level parsers; turned into a TFCheckpointError with context."""


def _varint(buf: bytes | memoryview, pos: int, limit: int, max_bytes: int = 10) -> tuple[int, int]:
    result = shift = 0
    for _ in range(max_bytes):
        if pos >= limit:
            raise _Corrupt("a varint runs past the end of its buffer")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise _Corrupt(f"a varint is longer than {max_bytes} bytes")


# --------------------------------------------------------------------------------------
# The LevelDB table (SSTable) reader.

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_TRAILER_SIZE = 5
_NO_COMPRESSION, _SNAPPY = 0, 1


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")  # noqa: SIM115 (closed by the caller)
    except FileNotFoundError:
        raise TFCheckpointError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise TFCheckpointError(f"{path}: is a directory, not a checkpoint file") from None
    except OSError as exc:
        raise TFCheckpointError(f"{path}: cannot be read ({exc.strerror})") from None


def _snappy_uncompress(data: bytes) -> bytes:
    # The uncompressed length leads a raw snappy stream; bound it before allocating
    # (a snappy copy tag of 3 bytes yields at most 64 bytes).
    try:
        declared, _ = _varint(data, 0, len(data), 5)
    except _Corrupt:
        raise _Corrupt("does not snappy-decompress (no valid length header)") from None
    if declared > 32 * len(data) + 64:
        raise _Corrupt(f"does not snappy-decompress (it claims {declared} bytes from {len(data)})")
    try:
        import cramjam
    except ImportError:
        raise _Corrupt("is snappy-compressed; install the 'cramjam' package to read it") from None
    try:
        out = bytes(cramjam.snappy.decompress_raw(data))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise _Corrupt(f"does not snappy-decompress ({exc})") from None
    if len(out) != declared:
        raise _Corrupt("does not snappy-decompress to the length it claims")
    return out


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs of one uncompressed table block."""
    n = len(block)
    if n < 4:
        raise _Corrupt(f"a block of {n} bytes is too short")
    (num_restarts,) = struct.unpack_from("<I", block, n - 4)
    if num_restarts > (n - 4) // 4:
        raise _Corrupt(f"a block claims {num_restarts} restart points, more than fit")
    limit = n - 4 - 4 * num_restarts
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < limit:
        shared, pos = _varint(block, pos, limit, 5)
        non_shared, pos = _varint(block, pos, limit, 5)
        value_len, pos = _varint(block, pos, limit, 5)
        if shared > len(key):
            raise _Corrupt("a block entry shares more key bytes than the previous key has")
        end_key = pos + non_shared
        end_value = end_key + value_len
        if end_value > limit:
            raise _Corrupt("a block entry runs past the end of its block")
        key = key[:shared] + block[pos:end_key]
        entries.append((key, block[end_key:end_value]))
        pos = end_value
    return entries


def _decode_handle(buf: bytes, pos: int = 0, limit: int | None = None) -> tuple[tuple[int, int], int]:
    limit = len(buf) if limit is None else limit
    offset, pos = _varint(buf, pos, limit)
    size, pos = _varint(buf, pos, limit)
    return (offset, size), pos


class _Table:
    """A LevelDB table file, read block by block with every block's CRC checked."""

    def __init__(self, path: Path, f: BinaryIO) -> None:
        self.path = path
        self._f = f
        self.size = os.fstat(f.fileno()).st_size
        if self.size == 0:
            self.fail("is empty")
        if self.size < _FOOTER_SIZE:
            self.fail(f"has {self.size} bytes, too few for a TensorFlow checkpoint table "
                      f"(the footer alone has {_FOOTER_SIZE}); it is truncated or not a checkpoint")
        f.seek(self.size - _FOOTER_SIZE)
        footer = f.read(_FOOTER_SIZE)
        if len(footer) != _FOOTER_SIZE:
            self.fail("changed size while being read")
        (magic,) = struct.unpack_from("<Q", footer, 40)
        if magic != _TABLE_MAGIC:
            self.fail("is not a TensorFlow checkpoint table (no table magic number at its end; "
                      "the file is truncated or of another kind)")
        try:
            meta_handle, pos = _decode_handle(footer, 0, 40)
            self._index_handle, _ = _decode_handle(footer, pos, 40)
        except _Corrupt as exc:
            self.fail(f"has a corrupt table footer ({exc})")
        self._read_block(meta_handle, "the metaindex block")  # checks its CRC only
        try:
            index = _block_entries(self._read_block(self._index_handle, "the index block"))
            self._data_handles = [_decode_handle(v)[0] for _, v in index]
        except _Corrupt as exc:
            self.fail(f"has a corrupt index block ({exc})")

    def fail(self, what: str) -> NoReturn:
        raise TFCheckpointError(f"{self.path}: {what}")

    def _read_block(self, handle: tuple[int, int], what: str) -> bytes:
        offset, size = handle
        end = self.size - _FOOTER_SIZE
        if offset + size + _TRAILER_SIZE > end:
            self.fail(f"is truncated or corrupt: {what} needs bytes {offset}..{offset + size + _TRAILER_SIZE} "
                      f"but the table data ends at byte {end}")
        self._f.seek(offset)
        raw = self._f.read(size + _TRAILER_SIZE)
        if len(raw) != size + _TRAILER_SIZE:
            self.fail("changed size while being read")
        (stored,) = struct.unpack_from("<I", raw, size + 1)
        if _crc32c(raw[: size + 1]) != _unmask_crc(stored):
            self.fail(f"{what} at byte {offset} fails its CRC32C check (the file is corrupt)")
        kind = raw[size]
        contents = raw[:size]
        if kind == _NO_COMPRESSION:
            return contents
        if kind == _SNAPPY:
            try:
                return _snappy_uncompress(contents)
            except _Corrupt as exc:
                self.fail(f"{what} at byte {offset} {exc}")
        self.fail(f"{what} at byte {offset} has unknown compression type {kind}")
        raise AssertionError  # unreachable

    def entries(self, first_block_only: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """All (key, value) pairs in key order; keys must be strictly increasing."""
        previous: bytes | None = None
        handles = self._data_handles[:1] if first_block_only else self._data_handles
        for i, handle in enumerate(handles):
            what = f"data block {i}"
            block = self._read_block(handle, what)
            try:
                pairs = _block_entries(block)
            except _Corrupt as exc:
                self.fail(f"{what} is corrupt ({exc})")
            for key, value in pairs:
                if previous is not None and key <= previous:
                    self.fail(f"{what} has its keys out of order (the file is corrupt)")
                previous = key
                yield key, value


# --------------------------------------------------------------------------------------
# Locating a checkpoint.

_DATA_RE = re.compile(r"\.data-(\d{5})-of-(\d{5})$")


def _locate(path: PathLike) -> tuple[str, Path]:
    """("v2", prefix) or ("v1", file) for any of the accepted spellings of a checkpoint."""
    p = Path(os.fspath(path))
    name = p.name
    if name.endswith(".index"):
        return "v2", p.with_name(name[: -len(".index")])
    m = _DATA_RE.search(name)
    if m:
        prefix = p.with_name(name[: m.start()])
        index = _index_path(prefix)
        if not index.is_file():
            raise TFCheckpointError(f"{p}: looks like a V2 data shard but its index {index} is missing")
        return "v2", prefix
    if _index_path(p).is_file():
        return "v2", p
    if p.is_file():
        return "v1", p
    if p.is_dir():
        raise TFCheckpointError(
            f"{p}: is a directory; give a checkpoint prefix (such as DIR/model.ckpt) or file")
    if p.parent.is_dir() and any(p.parent.glob(f"{glob.escape(name)}.data-*")):
        raise TFCheckpointError(f"{p}: the V2 checkpoint's index {_index_path(p)} is missing")
    raise TFCheckpointError(f"{p}: no such checkpoint (neither the file nor {_index_path(p).name} exists)")


def _index_path(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".index")


def _data_path(prefix: Path, shard: int, num_shards: int) -> Path:
    return prefix.with_name(f"{prefix.name}.data-{shard:05d}-of-{num_shards:05d}")


# --------------------------------------------------------------------------------------
# Shapes, dtypes, slices.


def _dtype(code: int, path: Path, name: str) -> np.dtype:
    base = code - 100 if code > 100 else code
    if base in _DTYPES:
        return _DTYPES[base]
    label = _DTYPE_NAMES.get(base, f"DataType {code}")
    raise TFCheckpointError(f"{path}: tensor '{name}' has dtype {label}, which this reader does not support")


def _shape(proto: Any, path: Path, name: str) -> tuple[int, ...]:
    if proto.unknown_rank:
        raise TFCheckpointError(f"{path}: tensor '{name}' has a shape of unknown rank")
    dims = tuple(int(d.size) for d in proto.dim)
    if any(d < 0 for d in dims):
        raise TFCheckpointError(f"{path}: tensor '{name}' has a shape with unknown or negative sizes {dims}")
    return dims


def _num_elements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _slice_bounds(proto: Any, shape: tuple[int, ...], path: Path, name: str) -> tuple[tuple[int, int], ...]:
    """(start, stop) for every dimension of a TensorSliceProto (no extents: all of it)."""
    if not proto.extent:
        return tuple((0, d) for d in shape)
    if len(proto.extent) != len(shape):
        raise TFCheckpointError(
            f"{path}: tensor '{name}' has a slice of rank {len(proto.extent)} for shape {shape}")
    bounds = []
    for ext, dim in zip(proto.extent, shape):
        start = int(ext.start)
        stop = start + int(ext.length) if ext.HasField("length") else dim
        if not 0 <= start <= stop <= dim:
            raise TFCheckpointError(f"{path}: tensor '{name}' has a slice {start}..{stop} outside its shape {shape}")
        bounds.append((start, stop))
    return tuple(bounds)


def _decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------
# V2 bundles.


@dataclass(frozen=True)
class _Entry:
    info: TensorInfo
    shard: int
    offset: int
    size: int
    crc32c: int


@dataclass(frozen=True)
class _Bundle:
    prefix: Path
    index: Path
    num_shards: int
    big_endian: bool
    entries: dict[str, _Entry]

    def data_file(self, shard: int) -> Path:
        return _data_path(self.prefix, shard, self.num_shards)


def _read_bundle(prefix: Path) -> _Bundle:
    index = _index_path(prefix)
    with _open(index) as f:
        table = _Table(index, f)
        pairs = iter(table.entries())
        first = next(pairs, None)
        if first is None or first[0] != b"":
            table.fail("has no bundle header (key ''): it is not the index of a V2 checkpoint")
        header = _parse(_BundleHeaderProto, first[1], index, "the bundle header")
        if header.num_shards < 1:
            table.fail(f"has a bundle header with {header.num_shards} shards: it is not the index "
                       "of a V2 checkpoint (a V1 checkpoint file named .index?)")
        _check_version(header.version, _BUNDLE_VERSION, index, "tensor bundle")
        entries: dict[str, _Entry] = {}
        for key, value in pairs:
            if key.startswith(b"\x00"):
                # OrderedCode (name, slice) keys: the slices of a partitioned tensor,
                # whose full entry is listed under its plain name.
                continue
            name = _decode_name(key)
            proto = _parse(_BundleEntryProto, value, index, f"the entry of tensor '{name}'")
            info = TensorInfo(name, _dtype(proto.dtype, index, name), _shape(proto.shape, index, name))
            if proto.slices:
                entries[name] = _Entry(info, -1, 0, 0, 0)  # listed; reading it is refused
                continue
            if not 0 <= proto.shard_id < header.num_shards:
                table.fail(f"tensor '{name}' is in shard {proto.shard_id} of {header.num_shards}")
            if proto.offset < 0 or proto.size < 0:
                table.fail(f"tensor '{name}' has a negative offset or size")
            n = _num_elements(info.shape)
            if info.dtype.kind != "O":
                need = n * info.dtype.itemsize
                if proto.size != need:
                    table.fail(f"tensor '{name}' has {proto.size} bytes, but {n} elements of "
                               f"{info.dtype} need {need}")
            elif proto.size < n + 4 and not (n == 0 and proto.size == 0):
                # n varint lengths (>= 1 byte each) and a 4-byte checksum, even for n == 0
                table.fail(f"tensor '{name}' has {proto.size} bytes, too few for {n} strings")
            entries[name] = _Entry(info, proto.shard_id, proto.offset, proto.size, proto.crc32c)
    return _Bundle(prefix, index, header.num_shards, header.endianness == 1, entries)


def _check_extent(entry: _Entry, data: Path, data_size: int) -> None:
    end = entry.offset + entry.size
    if end > data_size:
        raise TFCheckpointError(
            f"{data}: is truncated: tensor '{entry.info.name}' needs bytes {entry.offset}..{end} "
            f"but the file has {data_size} (or the .index belongs to another checkpoint)")


def _read_v2_tensor(bundle: _Bundle, entry: _Entry, f: BinaryIO, data: Path, data_size: int) -> np.ndarray:
    name, dtype, shape = entry.info.name, entry.info.dtype, entry.info.shape
    _check_extent(entry, data, data_size)
    f.seek(entry.offset)
    raw = f.read(entry.size)
    if len(raw) != entry.size:
        raise TFCheckpointError(f"{data}: changed size while being read")
    if dtype.kind == "O":
        try:
            values, crc = _decode_v2_strings(raw, _num_elements(shape), bundle.big_endian)
        except _Corrupt as exc:
            raise TFCheckpointError(f"{data}: string tensor '{name}' is corrupt ({exc})") from None
    else:
        crc = _crc32c(raw)
    if crc != _unmask_crc(entry.crc32c):
        raise TFCheckpointError(
            f"{data}: tensor '{name}' fails its CRC32C check (the .data file is corrupt or "
            "belongs to another checkpoint)")
    if dtype.kind == "O":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    if dtype == np.bool_ and raw and np.frombuffer(raw, dtype=np.uint8).max() > 1:
        raise TFCheckpointError(f"{data}: bool tensor '{name}' holds bytes other than 0 and 1")
    stored = dtype.newbyteorder(">") if bundle.big_endian else dtype
    # A writable array in native byte order (frombuffer over bytes is read-only).
    return np.frombuffer(raw, dtype=stored).astype(dtype, copy=True).reshape(shape)


def _decode_v2_strings(raw: bytes, n: int, big_endian: bool) -> tuple[list[bytes], int]:
    """Strings and their CRC32C as tensor_bundle.cc writes them (WriteStringTensor):
    varint64 lengths, the masked CRC32C of the lengths, then the bytes."""
    if not raw:
        return [], 0
    order = ">" if big_endian else "<"
    limit = len(raw)
    lengths = []
    crc = 0
    pos = 0
    for _ in range(n):
        length, pos = _varint(raw, pos, limit)
        lengths.append(length)
        # Each length is checksummed as a uint32 (a uint64 when it does not fit).
        crc = _crc32c(struct.pack(order + ("I" if length <= 0xFFFFFFFF else "Q"), length), crc)
    if pos + 4 > limit:
        raise _Corrupt("its lengths run past its bytes")
    raw_checksum = raw[pos: pos + 4]
    (checksum,) = struct.unpack(order + "I", raw_checksum)
    if _unmask_crc(checksum) != crc:
        raise _Corrupt("the checksum of its lengths does not match")
    pos += 4
    if pos + sum(lengths) != limit:
        raise _Corrupt(f"its lengths add up to {pos + sum(lengths)} bytes, not {limit}")
    crc = _crc32c(raw_checksum + raw[pos:], crc)
    values = []
    for length in lengths:
        values.append(raw[pos: pos + length])
        pos += length
    return values, crc


def _read_v2(bundle: _Bundle, names: list[str]) -> dict[str, np.ndarray]:
    wanted = [bundle.entries[name] for name in names]
    for entry in wanted:
        if entry.shard < 0:
            raise TFCheckpointError(
                f"{bundle.index}: tensor '{entry.info.name}' is partitioned (saved as slices); "
                "partitioned variables are not supported")
    out: dict[str, np.ndarray] = {}
    for shard in sorted({e.shard for e in wanted}):
        data = bundle.data_file(shard)
        if not data.is_file():
            raise TFCheckpointError(
                f"{data}: data file is missing (the checkpoint {bundle.prefix} has "
                f"{bundle.num_shards} shard(s))")
        in_shard = sorted((e for e in wanted if e.shard == shard), key=lambda e: e.offset)
        with _open(data) as f:
            size = os.fstat(f.fileno()).st_size
            # Check every extent before reading any: a truncated or foreign data file is
            # reported as such rather than as the CRC failure of its first tensor.
            _check_extent(max(in_shard, key=lambda e: e.offset + e.size), data, size)
            for entry in in_shard:
                out[entry.info.name] = _read_v2_tensor(bundle, entry, f, data, size)
    return {name: out[name] for name in names}


# --------------------------------------------------------------------------------------
# V1 single files.


def _v1_key_name(key: bytes) -> bytes | None:
    """The tensor name of an OrderedCode (0, name, slice...) key, or None if malformed."""
    if not key.startswith(b"\x00"):
        return None
    out = bytearray()
    i, n = 1, len(key)
    while i + 1 < n:
        byte = key[i]
        if byte == 0x00:
            nxt = key[i + 1]
            if nxt == 0x01:
                return bytes(out)
            if nxt != 0xFF:
                return None
            out.append(0x00)
        elif byte == 0xFF:
            if key[i + 1] != 0x00:
                return None
            out.append(0xFF)
        else:
            out.append(byte)
            i += 1
            continue
        i += 2
    return None


@dataclass(frozen=True)
class _V1Meta:
    info: TensorInfo
    slices: tuple[tuple[tuple[int, int], ...], ...]


def _v1_meta(table: _Table, first: tuple[bytes, bytes] | None) -> dict[str, _V1Meta]:
    if first is None or first[0] != b"":
        table.fail("is a table but not a V1 TensorFlow checkpoint (it has no metadata entry)")
    sts = _parse(_SavedTensorSlices, first[1], table.path, "the V1 checkpoint metadata")
    if not sts.HasField("meta"):
        table.fail("is a table but not a V1 TensorFlow checkpoint (its first entry holds no "
                   "SavedTensorSliceMeta; is it the .index of a V2 checkpoint?)")
    _check_version(sts.meta.versions, _V1_CHECKPOINT_VERSION, table.path, "V1 checkpoint")
    metas: dict[str, _V1Meta] = {}
    for t in sts.meta.tensor:
        name = _decode_name(t.name)
        if name in metas:
            table.fail(f"lists tensor '{name}' twice")
        info = TensorInfo(name, _dtype(t.type, table.path, name), _shape(t.shape, table.path, name))
        slices = tuple(_slice_bounds(s, info.shape, table.path, name) for s in t.slice)
        if len(set(slices)) != len(slices):
            table.fail(f"lists a slice of tensor '{name}' twice")
        metas[name] = _V1Meta(info, slices)
    return metas


# TensorProto fields holding each dtype's values in a V1 checkpoint (saved_tensor_slice_util.h).
_V1_FIELDS: dict[str, str] = {
    "float32": "float_val", "float64": "double_val", "int32": "int_val", "uint8": "int_val",
    "int16": "int_val", "int8": "int_val", "uint16": "int_val", "int64": "int64_val",
    "bool": "bool_val", "float16": "half_val", "complex64": "scomplex_val",
    "complex128": "dcomplex_val", "uint32": "uint32_val", "uint64": "uint64_val",
    "object": "string_val",
}


# The values of a V1 slice, fast. The pure-Python protobuf runtime (which some packages
# force, MindSpore among them) decodes a packed repeated float field value by value, with
# a type check for each: some 25 s for the 23.5 M floats of ResNet-50. So before a slice
# record goes to protobuf, its wire format (varint keys: field number << 3 | wire type;
# wire types 0 varint, 1 eight bytes, 2 varint length and that many bytes, 5 four bytes)
# is walked down SavedTensorSlices.data -> SavedSlice.data -> TensorProto, and the
# fixed-width packed fields and tensor_content are cut out of it as raw bytes (decoded
# here with numpy, little-endian as protobuf stores them); protobuf parses what is left
# (names, slice, shape, dtype, varint-packed and string values) as before. Protobuf's
# merge rules are kept: every occurrence of a repeated field counts, in order (an
# embedded message given twice is merged, which appends its repeated fields), and the
# last occurrence of tensor_content wins.

_STS_DATA = 2  # SavedTensorSlices.data (a SavedSlice); saved_tensor_slice.proto
_SS_DATA = 3  # SavedSlice.data (a TensorProto); saved_tensor_slice.proto
_TP_TENSOR_CONTENT = 4  # TensorProto.tensor_content; tensor.proto
# TensorProto's fixed-width packed fields: number -> (name, element size, wire type of
# one element written unpacked).
_TP_FIXED: dict[int, tuple[str, int, int]] = {
    5: ("float_val", 4, 5), 6: ("double_val", 8, 1),
    9: ("scomplex_val", 4, 5), 12: ("dcomplex_val", 8, 1),
}
_WT_VARINT, _WT_I64, _WT_LEN, _WT_I32 = 0, 1, 2, 5


class _Unwalkable(Exception):
    """A record with a wire type the walker does not skip (groups, or invalid ones):
    protobuf gets the whole record instead."""


class _CutValues:
    """The fields cut out of the TensorProto of one V1 slice record."""

    def __init__(self) -> None:
        self.fixed: dict[str, list[memoryview]] = {name: [] for name, _, _ in _TP_FIXED.values()}
        self.tensor_content: memoryview | bytes = b""

    def array(self, field: str) -> np.ndarray | None:
        """The values of a cut field (little-endian, read-only), or None if not cut."""
        if field not in self.fixed:
            return None
        stored = np.dtype("<f4" if field in ("float_val", "scomplex_val") else "<f8")
        pieces = self.fixed[field]
        if len(pieces) == 1:
            return np.frombuffer(pieces[0], dtype=stored)
        return np.concatenate([np.frombuffer(p, dtype=stored) for p in pieces] or [np.empty(0, stored)])


def _wire_fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int, int, int]]:
    """(number, wire type, key start, key end, value start, value end) of every field of
    the message in buf[start:end]; every bound is checked."""
    pos = start
    while pos < end:
        key_start = pos
        key, pos = _varint(buf, pos, end)
        number, wire_type = key >> 3, key & 7
        key_end = pos
        if wire_type == _WT_VARINT:
            _, pos = _varint(buf, pos, end)
            value_start = key_end
        elif wire_type == _WT_LEN:
            length, value_start = _varint(buf, pos, end)
            pos = value_start + length
            if pos > end:
                raise _Corrupt(f"field {number} claims {length} bytes but its message has "
                               f"{end - value_start} left")
        elif wire_type in (_WT_I64, _WT_I32):
            value_start = pos
            pos += 8 if wire_type == _WT_I64 else 4
            if pos > end:
                raise _Corrupt(f"field {number} runs past the end of its message")
        else:
            raise _Unwalkable
        yield number, wire_type, key_start, key_end, value_start, pos


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _cut_message(buf: memoryview, start: int, end: int, level: int, cut: _CutValues) -> bytes | None:
    """buf[start:end] (a SavedTensorSlices at level 0, SavedSlice at 1, TensorProto at 2)
    without the fields cut into ``cut``; None if nothing in it changed."""
    parts: list[bytes | memoryview] = []
    kept_from = start  # the fields from here to the current one are kept as they are
    for number, wire_type, key_start, key_end, value_start, value_end in _wire_fields(buf, start, end):
        if level < 2:
            if wire_type != _WT_LEN or number != (_STS_DATA if level == 0 else _SS_DATA):
                continue
            inner = _cut_message(buf, value_start, value_end, level + 1, cut)
            if inner is None:
                continue
            parts += (buf[kept_from:key_start], buf[key_start:key_end], _encode_varint(len(inner)), inner)
        elif number == _TP_TENSOR_CONTENT and wire_type == _WT_LEN:
            cut.tensor_content = buf[value_start:value_end]
            parts.append(buf[kept_from:key_start])
        elif number in _TP_FIXED:
            field, size, single_wire_type = _TP_FIXED[number]
            if wire_type == _WT_LEN:
                if (value_end - value_start) % size:
                    raise _Corrupt(f"its {field} has a packed length of {value_end - value_start} "
                                   f"bytes, not a multiple of {size}")
            elif wire_type != single_wire_type:
                continue  # a mismatched wire type: left to protobuf (an unknown field)
            cut.fixed[field].append(buf[value_start:value_end])
            parts.append(buf[kept_from:key_start])
        else:
            continue
        kept_from = value_end
    if not parts:
        return None
    parts.append(buf[kept_from:end])
    return b"".join(parts)


def _cut_v1_record(record: bytes) -> tuple[bytes, _CutValues | None]:
    """The record to hand to protobuf, and the values cut out of it (None: nothing cut,
    for a record the walker cannot step through). Raises _Corrupt."""
    cut = _CutValues()
    try:
        rest = _cut_message(memoryview(record), 0, len(record), 0, cut)
    except _Unwalkable:
        return record, None
    return (record if rest is None else rest), cut


def _v1_values(proto: Any, dtype: np.dtype, count: int, path: Path, name: str,
               cut: _CutValues | None = None) -> np.ndarray:
    content = proto.tensor_content if cut is None else cut.tensor_content
    if content and dtype.kind != "O":
        if len(content) != count * dtype.itemsize:
            raise TFCheckpointError(f"{path}: a slice of tensor '{name}' has {len(content)} bytes "
                                    f"of content, not {count * dtype.itemsize}")
        return np.frombuffer(content, dtype=dtype.newbyteorder("<")).astype(dtype, copy=True)
    field_name = _V1_FIELDS[dtype.name]
    field = None if cut is None else cut.array(field_name)
    if field is None:
        field = getattr(proto, field_name)
    per_element = 2 if dtype.kind == "c" else 1
    if len(field) != count * per_element:
        raise TFCheckpointError(f"{path}: a slice of tensor '{name}' has {len(field) // per_element} "
                                f"values, but its slice needs {count}")
    if dtype.kind == "O":
        out = np.empty(count, dtype=object)
        out[:] = list(field)
        return out
    if dtype == np.float16:
        bits = np.array(field, dtype=np.int64)
        if bits.size and (bits.min() < 0 or bits.max() > 0xFFFF):
            raise TFCheckpointError(f"{path}: tensor '{name}' has half_val values outside 16 bits")
        return bits.astype(np.uint16).view(np.float16)
    if dtype.kind == "c":
        return np.array(field, dtype=np.float32 if dtype == np.complex64 else np.float64).view(dtype)
    if dtype.kind in "iu" and dtype.itemsize < 4:
        wide = np.array(field, dtype=np.int64)
        lim = np.iinfo(dtype)
        if wide.size and (wide.min() < lim.min or wide.max() > lim.max):
            raise TFCheckpointError(f"{path}: tensor '{name}' has values outside the range of {dtype}")
        return wide.astype(dtype)
    return np.array(field, dtype=dtype)


def _read_v1(path: Path, names: list[str] | None) -> dict[str, np.ndarray]:
    with _open(path) as f:
        table = _Table(path, f)
        pairs = iter(table.entries())
        metas = _v1_meta(table, next(pairs, None))
        names = sorted(metas) if names is None else names
        for name in names:
            if name not in metas:
                raise TFCheckpointError(f"{path}: has no tensor named '{name}'")
        wanted = {name.encode("utf-8", "surrogateescape"): name for name in names}
        pieces: dict[str, dict[tuple[tuple[int, int], ...], np.ndarray]] = {name: {} for name in names}
        for key, value in pairs:
            raw_name = _v1_key_name(key)
            if raw_name is None:
                table.fail("has an entry whose key is not a V1 (tensor name, slice) key: "
                           "it is not a V1 checkpoint")
            if raw_name not in wanted:
                continue
            name = wanted[raw_name]
            what = f"a slice of tensor '{name}'"
            try:
                record, cut = _cut_v1_record(value)
            except _Corrupt as exc:
                raise TFCheckpointError(
                    f"{path}: {what} is not a valid {_SavedTensorSlices.DESCRIPTOR.name} ({exc})") from None
            sts = _parse(_SavedTensorSlices, record, path, what)
            saved = sts.data
            if not sts.HasField("data") or saved.name != raw_name:
                table.fail(f"the entry of a slice of tensor '{name}' holds another tensor or no data")
            meta = metas[name]
            bounds = _slice_bounds(saved.slice, meta.info.shape, path, name)
            if bounds not in meta.slices:
                table.fail(f"holds a slice of tensor '{name}' that its metadata does not list")
            if bounds in pieces[name]:
                table.fail(f"holds the same slice of tensor '{name}' twice")
            count = _num_elements(tuple(b - a for a, b in bounds))
            pieces[name][bounds] = _v1_values(saved.data, meta.info.dtype, count, path, name, cut)
    return {name: _assemble(metas[name], pieces[name], path) for name in names}


def _assemble(meta: _V1Meta, pieces: dict[tuple[tuple[int, int], ...], np.ndarray], path: Path) -> np.ndarray:
    info = meta.info
    missing = [s for s in meta.slices if s not in pieces]
    if missing or not meta.slices:
        raise TFCheckpointError(f"{path}: the data of tensor '{info.name}' is missing "
                                f"({len(missing)} of its {len(meta.slices)} slices)")
    full = tuple((0, d) for d in info.shape)
    if len(pieces) == 1 and full in pieces:
        return pieces[full].reshape(info.shape)
    if sum(v.size for v in pieces.values()) != _num_elements(info.shape):
        raise TFCheckpointError(f"{path}: the slices of tensor '{info.name}' do not add up to its "
                                f"shape {info.shape}")
    out = np.zeros(info.shape, dtype=info.dtype)
    covered = np.zeros(info.shape, dtype=np.int8)
    for bounds, values in pieces.items():
        index = tuple(slice(a, b) for a, b in bounds)
        out[index] = values.reshape(tuple(b - a for a, b in bounds))
        covered[index] += 1
    if covered.size and (covered.min() != 1 or covered.max() != 1):
        raise TFCheckpointError(f"{path}: the slices of tensor '{info.name}' do not tile it "
                                "(they overlap or leave gaps)")
    return out


# --------------------------------------------------------------------------------------
# Public API.


def tf_checkpoint_format(path: PathLike) -> str:
    """``"v2"`` for a V2 bundle (prefix, ``.index`` or ``.data-*`` path), ``"v1"`` for a
    V1 single file; raises :class:`TFCheckpointError` for anything else."""
    kind, where = _locate(path)
    if kind == "v2":
        _read_bundle(where)
    else:
        with _open(where) as f:
            table = _Table(where, f)
            _v1_meta(table, next(table.entries(first_block_only=True), None))
    return kind


def tf_checkpoint_files(path: PathLike) -> list[Path]:
    """The files making up the checkpoint (``.index`` then the data shards, or the V1
    file); every one of them must exist."""
    kind, where = _locate(path)
    if kind == "v1":
        tf_checkpoint_format(where)
        return [where]
    bundle = _read_bundle(where)
    files = [bundle.index] + [bundle.data_file(i) for i in range(bundle.num_shards)]
    for data in files[1:]:
        if not data.is_file():
            raise TFCheckpointError(f"{data}: data file is missing (the checkpoint {bundle.prefix} "
                                    f"has {bundle.num_shards} shard(s))")
    return files


def list_tf_variables(path: PathLike) -> dict[str, TensorInfo]:
    """Name, dtype and shape of every tensor, in the checkpoint's (sorted) order.

    Reads only the V2 index or the V1 metadata (checking the CRCs of the blocks read).
    """
    kind, where = _locate(path)
    if kind == "v2":
        return {name: e.info for name, e in _read_bundle(where).entries.items()}
    with _open(where) as f:
        table = _Table(where, f)
        metas = _v1_meta(table, next(table.entries(first_block_only=True), None))
    return {name: metas[name].info for name in sorted(metas)}


def read_tf_checkpoint(path: PathLike, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Tensors of a TensorFlow checkpoint as numpy arrays (all of them, or ``names``).

    ``path`` is a V2 prefix (``PREFIX.index`` exists), a V2 ``.index`` or ``.data-*``
    file, or a V1 checkpoint file. Every tensor read is verified (CRC32C, size, dtype,
    shape); string tensors come back as object arrays of ``bytes``. Raises
    :class:`TFCheckpointError` for a missing, damaged, mismatched or unsupported
    checkpoint and for names it does not hold.
    """
    kind, where = _locate(path)
    wanted = None if names is None else list(dict.fromkeys(names))
    if kind == "v1":
        return _read_v1(where, wanted)
    bundle = _read_bundle(where)
    if wanted is None:
        wanted = list(bundle.entries)
    for name in wanted:
        if name not in bundle.entries:
            raise TFCheckpointError(f"{bundle.index}: has no tensor named '{name}'")
    return _read_v2(bundle, wanted)
