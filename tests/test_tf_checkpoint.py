"""Reading TensorFlow checkpoints without TensorFlow (arttrack.io.tf_checkpoint).

The fixtures in tests/data/tf_checkpoint were written by TensorFlow 2.15 with
scripts/tf_fixtures/make_checkpoint_fixtures.py; expected.npz holds the values that
TensorFlow itself restores from them.
"""

from __future__ import annotations

import pickle
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import cramjam
import google_crc32c
import numpy as np
import pytest

from arttrack.io import tf_checkpoint as tfc
from arttrack.io.tf_checkpoint import (
    TensorInfo,
    TFCheckpointError,
    list_tf_variables,
    read_tf_checkpoint,
    tf_checkpoint_files,
    tf_checkpoint_format,
)

DATA = Path(__file__).parent / "data" / "tf_checkpoint"
V2 = DATA / "v2" / "model.ckpt"
V1 = DATA / "v1" / "model.ckpt"
OTHER = DATA / "other_v2" / "other.ckpt"
PARTITIONED = DATA / "partitioned_v2" / "part.ckpt"
SHARD = ".data-00000-of-00001"
CONV = "resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights"


def expected(fixture: str) -> dict[str, np.ndarray]:
    with np.load(DATA / "expected.npz") as npz:
        return {key.split(":", 1)[1].replace("|", "/"): npz[key]
                for key in npz.files if key.split(":", 1)[0] == fixture}


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(want)
    for name, value in got.items():
        ref = want[name]
        assert value.shape == ref.shape, name
        if ref.dtype.kind == "S":  # strings are stored as fixed-width bytes in the npz
            assert value.dtype == object
            assert value.tolist() == ref.tolist(), name
        else:
            assert value.dtype == ref.dtype, name
            assert value.tobytes() == ref.tobytes(), name  # bit-exact


def copy_v2(src: Path, dst_dir: Path, name: str = "model.ckpt") -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    for suffix in (".index", SHARD):
        shutil.copy(src.with_name(src.name + suffix), dst_dir / (name + suffix))
    return dst_dir / name


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def raises(match: list[str]):
    """pytest.raises(TFCheckpointError) that also checks key words of the one-line message."""

    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(TFCheckpointError)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self._ctx.__exit__(*exc)
            message = str(self.info.value)
            assert "\n" not in message
            for word in match:
                assert word in message, (word, message)
            return handled

    return _Check()


# --- a minimal LevelDB table writer, to build variants TensorFlow no longer writes ----

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _block(pairs: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    buf, restarts, prev = bytearray(), [], b""
    for i, (key, value) in enumerate(pairs):
        shared = 0
        if i % restart_interval == 0:
            restarts.append(len(buf))
        else:
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        buf += _varint(shared) + _varint(len(key) - shared) + _varint(len(value)) + key[shared:] + value
        prev = key
    restarts = restarts or [0]
    return bytes(buf) + struct.pack(f"<{len(restarts)}I", *restarts) + struct.pack("<I", len(restarts))


def write_table(path: Path, pairs: list[tuple[bytes, bytes]], *, snappy: bool = False,
                per_block: int = 3, restart_interval: int = 2, kind: int | None = None) -> None:
    out = bytearray()

    def add(contents: bytes) -> bytes:
        block_kind = 0
        if snappy:
            contents, block_kind = bytes(cramjam.snappy.compress_raw(contents)), 1
        if kind is not None:
            block_kind = kind
        handle = _varint(len(out)) + _varint(len(contents))
        crc = google_crc32c.value(contents + bytes([block_kind]))
        out.extend(contents + bytes([block_kind]) + struct.pack("<I", _mask(crc)))
        return handle

    index = []
    for i in range(0, len(pairs), per_block):
        chunk = pairs[i: i + per_block]
        index.append((chunk[-1][0], add(_block(chunk, restart_interval))))
    footer = add(_block([], 1)) + add(_block(index, 1))
    footer += b"\x00" * (40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57)
    path.write_bytes(bytes(out) + footer)


def table_pairs(path: Path) -> list[tuple[bytes, bytes]]:
    with open(path, "rb") as f:
        return list(tfc._Table(path, f).entries())


# --- reading -----------------------------------------------------------------------------

def test_v2_matches_tensorflow():
    got = read_tf_checkpoint(V2)
    assert_same(got, expected("v2"))
    assert got["note"].item() == b"arttrack fixture \x00\xff"
    assert got["words"].tolist() == [b"alpha", b"", b"\xffz"]
    assert got["empty/strings"].shape == (0,) and got["empty/strings"].dtype == object
    assert got[CONV].flags.writeable
    assert_same(read_tf_checkpoint(OTHER), expected("other_v2"))


def test_v1_matches_tensorflow_including_a_tensor_saved_as_two_slices():
    got = read_tf_checkpoint(V1)
    assert_same(got, expected("v1"))
    assert got["part/weights"].shape == (6, 2)
    assert got["words"].tolist() == [b"alpha", b"", b"\xffz"]
    assert got["empty/strings"].shape == (0,) and got["empty/strings"].dtype == object


def test_v2_can_be_named_by_prefix_index_or_data_file():
    want = expected("v2")
    for spelling in (V2, str(V2), V2.with_name(V2.name + ".index"), V2.with_name(V2.name + SHARD)):
        assert_same(read_tf_checkpoint(spelling), want)
        assert tf_checkpoint_format(spelling) == "v2"
    assert tf_checkpoint_format(V1) == "v1"


def test_read_selected_names_in_the_order_asked():
    got = read_tf_checkpoint(V2, ["global_step", CONV])
    assert list(got) == ["global_step", CONV]
    assert got["global_step"].dtype == np.int64 and got["global_step"].item() == 123456789012
    got = read_tf_checkpoint(V1, [CONV, "half/weights"])
    assert list(got) == [CONV, "half/weights"]
    assert got["half/weights"].dtype == np.float16
    with raises(["has no tensor named 'nope'", "model.ckpt"]):
        read_tf_checkpoint(V2, ["nope"])
    with raises(["has no tensor named 'nope'"]):
        read_tf_checkpoint(V1, ["nope"])


def test_list_tf_variables():
    for path, fixture in ((V2, "v2"), (V1, "v1")):
        infos = list_tf_variables(path)
        want = expected(fixture)
        assert list(infos) == sorted(want)
        for name, info in infos.items():
            assert isinstance(info, TensorInfo) and info.name == name
            assert info.shape == want[name].shape
            assert info.dtype == (object if want[name].dtype.kind == "S" else want[name].dtype)
    assert list_tf_variables(V2)[CONV] == TensorInfo(CONV, np.dtype(np.float32), (3, 3, 4, 8))
    assert list_tf_variables(V1)["flags/is_training"].dtype == np.bool_


def test_checkpoint_files_one_shard():
    assert tf_checkpoint_files(V2) == [V2.with_name("model.ckpt.index"), V2.with_name("model.ckpt" + SHARD)]
    assert tf_checkpoint_files(V1) == [V1]
    assert tfc._read_bundle(V2).num_shards == 1  # what a non-sharded TF Saver writes


def test_partitioned_v2_variable_is_listed_but_refused():
    assert list_tf_variables(PARTITIONED)["part/weights"].shape == (6, 2)
    assert read_tf_checkpoint(PARTITIONED, ["plain"])["plain"].tolist() == [0.0, 1.0, 2.0]
    with raises(["part/weights", "partitioned", "not supported"]):
        read_tf_checkpoint(PARTITIONED)


def test_snappy_blocks_and_multi_block_tables(tmp_path):
    # TensorFlow compressed table blocks with snappy by default until about 2017 (the
    # 2016 TF-slim checkpoints); today it writes them uncompressed. Rebuild the fixtures
    # as snappy-compressed tables of many small blocks with prefix-compressed keys.
    v1 = tmp_path / "snappy_v1.ckpt"
    write_table(v1, table_pairs(V1), snappy=True)
    assert_same(read_tf_checkpoint(v1), expected("v1"))
    prefix = copy_v2(V2, tmp_path / "v2")
    index = prefix.with_name("model.ckpt.index")
    write_table(index, table_pairs(index), snappy=True, per_block=4, restart_interval=3)
    assert_same(read_tf_checkpoint(prefix), expected("v2"))


def test_snappy_without_cramjam_is_a_clear_error(tmp_path, monkeypatch):
    v1 = tmp_path / "snappy_v1.ckpt"
    write_table(v1, table_pairs(V1), snappy=True)
    monkeypatch.setitem(sys.modules, "cramjam", None)
    with raises(["snappy_v1.ckpt", "snappy-compressed", "cramjam"]):
        read_tf_checkpoint(v1)


# --- damaged and foreign files -------------------------------------------------------------

def test_truncated_data_file(tmp_path):
    prefix = copy_v2(V2, tmp_path)
    data = prefix.with_name("model.ckpt" + SHARD)
    data.write_bytes(data.read_bytes()[:250])
    with raises([str(data), "is truncated", "but the file has 250"]):
        read_tf_checkpoint(prefix)
    assert list_tf_variables(prefix)[CONV].shape == (3, 3, 4, 8)  # the index alone is fine


def test_flipped_byte_in_a_tensor_fails_its_crc(tmp_path):
    prefix = copy_v2(V2, tmp_path)
    data = prefix.with_name("model.ckpt" + SHARD)
    flip_byte(data, 600)  # inside the 4-D conv weights
    with raises([str(data), f"tensor '{CONV}'", "CRC32C", "corrupt"]):
        read_tf_checkpoint(prefix)
    # only the tensors read are checked
    assert read_tf_checkpoint(prefix, ["global_step"])["global_step"].item() == 123456789012


def test_flipped_bytes_in_a_string_tensor(tmp_path):
    prefix = copy_v2(V2, tmp_path)
    data = prefix.with_name("model.ckpt" + SHARD)
    entry = tfc._read_bundle(prefix).entries["words"]
    flip_byte(data, entry.offset + entry.size - 1)  # in the string bytes
    with raises([str(data), "tensor 'words'", "CRC32C"]):
        read_tf_checkpoint(prefix, ["words"])
    flip_byte(data, entry.offset + entry.size - 1)
    flip_byte(data, entry.offset)  # in the first length
    with raises([str(data), "string tensor 'words' is corrupt"]):
        read_tf_checkpoint(prefix, ["words"])


def test_flipped_byte_in_the_index_fails_the_block_crc(tmp_path):
    prefix = copy_v2(V2, tmp_path)
    index = prefix.with_name("model.ckpt.index")
    flip_byte(index, 20)
    for call in (read_tf_checkpoint, list_tf_variables, tf_checkpoint_format):
        with raises([str(index), "data block 0", "CRC32C"]):
            call(prefix)


def test_flipped_byte_in_a_v1_file_fails_the_block_crc(tmp_path):
    v1 = tmp_path / "model.ckpt"
    shutil.copy(V1, v1)
    flip_byte(v1, 1000)
    with raises([str(v1), "CRC32C"]):
        read_tf_checkpoint(v1)


def test_index_of_another_checkpoint_beside_the_data(tmp_path):
    # other's tensors fit inside model's larger data file: their CRCs fail
    prefix = copy_v2(V2, tmp_path / "a")
    shutil.copy(OTHER.with_name("other.ckpt.index"), prefix.with_name("model.ckpt.index"))
    with raises([SHARD, "fails its CRC32C check", "belongs to another checkpoint"]):
        read_tf_checkpoint(prefix)
    # model's tensors do not fit in other's smaller data file
    prefix = copy_v2(OTHER, tmp_path / "b")
    shutil.copy(V2.with_name("model.ckpt.index"), prefix.with_name("model.ckpt.index"))
    with raises([SHARD, "is truncated", "another checkpoint"]):
        read_tf_checkpoint(prefix)


def test_index_entry_inconsistent_with_its_shape(tmp_path):
    prefix = copy_v2(V2, tmp_path)
    index = prefix.with_name("model.ckpt.index")
    pairs = table_pairs(index)
    for i, (key, value) in enumerate(pairs):
        if key == CONV.encode():
            entry = tfc._BundleEntryProto.FromString(value)
            entry.shape.dim[0].size = 4
            pairs[i] = (key, entry.SerializeToString())
    write_table(index, pairs)
    with raises([str(index), CONV, "1152 bytes", "need 1536"]):
        list_tf_variables(prefix)


def test_missing_data_shard(tmp_path):
    prefix = copy_v2(V2, tmp_path)
    prefix.with_name("model.ckpt" + SHARD).unlink()
    with raises(["model.ckpt" + SHARD, "data file is missing", "1 shard"]):
        read_tf_checkpoint(prefix)
    with raises(["data file is missing"]):
        tf_checkpoint_files(prefix)
    assert CONV in list_tf_variables(prefix)


def test_missing_index(tmp_path):
    prefix = copy_v2(V2, tmp_path)
    prefix.with_name("model.ckpt.index").unlink()
    with raises(["index", "is missing"]):
        read_tf_checkpoint(prefix)
    with raises(["looks like a V2 data shard", "is missing"]):
        read_tf_checkpoint(prefix.with_name("model.ckpt" + SHARD))


def test_missing_path_and_directory(tmp_path):
    with raises([str(tmp_path / "nothing"), "no such checkpoint"]):
        read_tf_checkpoint(tmp_path / "nothing")
    with raises([str(tmp_path / "nothing.index"), "file not found"]):
        read_tf_checkpoint(tmp_path / "nothing.index")
    with raises(["is a directory"]):
        read_tf_checkpoint(tmp_path)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    with raises([str(empty), "is empty"]):
        read_tf_checkpoint(empty)
    (tmp_path / "e.index").write_bytes(b"")
    with raises(["e.index", "is empty"]):
        list_tf_variables(tmp_path / "e")


def test_random_file_is_not_a_checkpoint(tmp_path):
    junk = tmp_path / "weights.ckpt"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with raises([str(junk), "not a TensorFlow checkpoint"]):
        read_tf_checkpoint(junk)
    short = tmp_path / "short.ckpt"
    short.write_bytes(b"hello")
    with raises([str(short), "too few"]):
        tf_checkpoint_format(short)


def test_truncated_v1_file(tmp_path):
    v1 = tmp_path / "model.ckpt"
    v1.write_bytes(V1.read_bytes()[:-100])
    with raises([str(v1), "truncated"]):
        read_tf_checkpoint(v1)


def test_truncated_block_handle(tmp_path):
    # A valid footer whose index block lies beyond the end of the (cut) table data.
    v1 = tmp_path / "model.ckpt"
    raw = V1.read_bytes()
    v1.write_bytes(raw[:100] + raw[-48:])
    with raises([str(v1), "truncated or corrupt", "index block"]):
        read_tf_checkpoint(v1)


def test_one_format_passed_as_the_other(tmp_path):
    # a V2 index given as a V1 file
    v2_index_as_file = tmp_path / "renamed.ckpt"
    shutil.copy(V2.with_name("model.ckpt.index"), v2_index_as_file)
    with raises(["not a V1 TensorFlow checkpoint", ".index of a V2 checkpoint"]):
        read_tf_checkpoint(v2_index_as_file)
    # a V1 file given as a V2 index
    shutil.copy(V1, tmp_path / "v1.index")
    with raises(["v1.index", "not the index of a V2 checkpoint"]):
        read_tf_checkpoint(tmp_path / "v1")


def test_v1_slice_missing(tmp_path):
    v1 = tmp_path / "model.ckpt"
    pairs = [(k, v) for k, v in table_pairs(V1) if not k.startswith(b"\x00part/weights\x00\x01\x01\x02\x83")]
    write_table(v1, pairs)
    assert read_tf_checkpoint(v1, [CONV])[CONV].shape == (3, 3, 4, 8)
    with raises([str(v1), "'part/weights'", "missing", "1 of its 2 slices"]):
        read_tf_checkpoint(v1, ["part/weights"])


def test_unknown_block_compression(tmp_path):
    v1 = tmp_path / "model.ckpt"
    write_table(v1, table_pairs(V1), kind=7)
    with raises([str(v1), "unknown compression type 7"]):
        read_tf_checkpoint(v1)


def test_corrupt_snappy_block_with_a_valid_crc(tmp_path):
    v1 = tmp_path / "model.ckpt"
    write_table(v1, [(b"", b"x" * 10)], kind=1)  # a CRC-valid block that is not snappy
    with raises([str(v1), "snappy"]):
        read_tf_checkpoint(v1)


# --- the fast path for V1 values (fixed-width packed fields cut out before protobuf) ------

def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _floats(values, fmt: str = "<f4") -> bytes:
    return np.asarray(values, dtype=fmt).tobytes()


def _v1_record(slice_fields: bytes, tensor_proto: bytes) -> bytes:
    """SavedTensorSlices{data (2): SavedSlice{slice_fields, data (3): tensor_proto}}."""
    return _len_field(2, slice_fields + _len_field(3, tensor_proto))


def _conv_record_parts() -> tuple[bytes, bytes, bytes, np.ndarray]:
    """The CONV slice record of the V1 fixture taken apart: its key, its SavedSlice without
    data, its TensorProto without float_val, and its float values."""
    value = dict(table_pairs(V1))
    key = next(k for k in value if tfc._v1_key_name(k) == CONV.encode())
    saved = tfc._SavedTensorSlices.FromString(value[key]).data
    floats = np.array(saved.data.float_val, dtype=np.float32)
    tensor = type(saved.data)()
    tensor.CopyFrom(saved.data)
    tensor.ClearField("float_val")
    saved.ClearField("data")
    return key, saved.SerializeToString(), tensor.SerializeToString(), floats


def _write_v1_with_conv_record(path: Path, record: bytes) -> None:
    key = _conv_record_parts()[0]
    write_table(path, [(k, record if k == key else v) for k, v in table_pairs(V1)])


def test_v1_under_pure_python_protobuf_matches_tensorflow(tmp_path):
    # MindSpore forces protobuf's pure-Python runtime (set before protobuf is first
    # imported, so this needs a fresh interpreter); there the float values must not go
    # through protobuf's per-value decoding, and must come out bit for bit the same.
    out = tmp_path / "v1.pkl"
    script = (
        "import pickle, sys\n"
        "import mindspore  # noqa: F401\n"
        "from google.protobuf.internal import api_implementation\n"
        "from arttrack.io.tf_checkpoint import read_tf_checkpoint\n"
        "got = read_tf_checkpoint(sys.argv[1])\n"
        "with open(sys.argv[2], 'wb') as f:\n"
        "    pickle.dump((api_implementation.Type(), got), f)\n"
    )
    r = subprocess.run([sys.executable, "-c", script, str(V1), str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(out, "rb") as f:
        implementation, got = pickle.load(f)
    assert implementation == "python"
    assert_same(got, expected("v1"))
    here = read_tf_checkpoint(V1)  # with this process's protobuf runtime
    assert sorted(got) == sorted(here)
    for name, value in got.items():
        assert value.dtype == here[name].dtype and value.shape == here[name].shape, name
        if value.dtype == object:
            assert value.tolist() == here[name].tolist(), name
        else:
            assert value.tobytes() == here[name].tobytes(), name


def _check_cut_against_protobuf(record: bytes) -> None:
    """The record parsed by protobuf alone == what is left after the cut, parsed by
    protobuf, with the values cut out put back."""
    whole = tfc._SavedTensorSlices.FromString(record)
    rest, cut = tfc._cut_v1_record(record)
    assert cut is not None
    if not whole.HasField("data"):
        assert rest is record
        return
    assert len(rest) < len(record) or rest is record
    merged = tfc._SavedTensorSlices.FromString(rest)
    tensor = merged.data.data
    for field in ("float_val", "double_val", "scomplex_val", "dcomplex_val"):
        assert len(getattr(tensor, field)) == 0
        values = cut.array(field)
        getattr(tensor, field).extend(values.tolist())
        want = np.array(getattr(whole.data.data, field), dtype=values.dtype)
        assert values.tobytes() == want.tobytes(), field
    assert tensor.tensor_content == b""
    assert bytes(cut.tensor_content) == whole.data.data.tensor_content
    tensor.tensor_content = bytes(cut.tensor_content)
    assert merged == whole
    assert merged.SerializeToString(deterministic=True) == whole.SerializeToString(deterministic=True)


def test_v1_cut_keeps_protobuf_semantics():
    name = _len_field(1, b"t")
    dtype = _key(1, 0) + _varint(1)
    unknown = _key(99, 0) + _varint(300) + _key(98, 1) + b"12345678" + _len_field(97, b"xyz")
    records = [
        # one packed chunk, as TensorFlow writes it
        _v1_record(name, dtype + _len_field(5, _floats([1.5, -2.0, 3.25]))),
        # packed chunks and single (unpacked) values mixed: all count, in order
        _v1_record(name, dtype + _len_field(5, _floats([1, 2])) + _key(5, 5) + _floats([3])
                   + _len_field(5, _floats([4, 5])) + _key(5, 5) + _floats([6])),
        # double / complex values, packed and single, and unknown fields at every level
        unknown + _v1_record(name + unknown, _len_field(6, _floats([0.1, 1e300], "<f8"))
                             + unknown + _key(6, 1) + _floats([-0.0], "<f8")
                             + _len_field(9, _floats([1, 2, 3, 4])) + _len_field(12, _floats([7, 8], "<f8"))),
        # the TensorProto given twice in a SavedSlice, the SavedSlice twice in the record:
        # protobuf merges them, appending the repeated fields
        _len_field(2, name + _len_field(3, dtype + _len_field(5, _floats([1, 2])))
                   + _len_field(3, _len_field(5, _floats([3]))))
        + _len_field(2, _len_field(3, _len_field(5, _floats([4])) + _key(5, 5) + _floats([5]))),
        # tensor_content: the last one wins, even an empty one
        _v1_record(name, dtype + _len_field(4, b"\x00" * 8) + _len_field(4, b"\x01" * 4)),
        _v1_record(name, dtype + _len_field(4, b"\x00" * 8) + _len_field(4, b"")),
        # float_val with a wire type it does not have: an unknown field to protobuf
        _v1_record(name, dtype + _key(5, 0) + _varint(7) + _key(5, 1) + b"\x00" * 8
                   + _len_field(5, _floats([9]))),
        # varint-packed fields stay with protobuf
        _v1_record(name, _key(1, 0) + _varint(9) + _len_field(10, _varint(5) + _varint(2**40))),
        # empty packed fields, an empty TensorProto, an empty record
        _v1_record(name, _len_field(5, b"") + _len_field(6, b"")),
        _v1_record(name, b""),
        b"",
    ]
    for record in records:
        _check_cut_against_protobuf(record)
    # a group (wire types 3 and 4) is not stepped through: protobuf gets the whole record
    group = _key(50, 3) + _key(1, 0) + _varint(1) + _key(50, 4)
    record = _v1_record(name + group, dtype + _len_field(5, _floats([1])))
    assert tfc._cut_v1_record(record) == (record, None)


def test_v1_values_split_into_chunks_read_back_the_same(tmp_path):
    key, saved, tensor, floats = _conv_record_parts()
    raw = floats.astype("<f4").tobytes()
    tensor += (_len_field(5, raw[:400]) + _key(5, 5) + raw[400:404] + _len_field(5, raw[404:]))
    v1 = tmp_path / "model.ckpt"
    _write_v1_with_conv_record(v1, _v1_record(saved, tensor))
    assert_same(read_tf_checkpoint(v1), expected("v1"))


def test_v1_malformed_packed_values(tmp_path):
    key, saved, tensor, floats = _conv_record_parts()
    raw = floats.astype("<f4").tobytes()
    v1 = tmp_path / "model.ckpt"
    # a packed float_val whose length runs past its TensorProto and the record
    bad = tensor + _key(5, 2) + _varint(len(raw) + 100) + raw
    _write_v1_with_conv_record(v1, _v1_record(saved, bad))
    with raises([str(v1), f"a slice of tensor '{CONV}'", "not a valid SavedTensorSlices",
                 f"field 5 claims {len(raw) + 100} bytes", f"has {len(raw)} left"]):
        read_tf_checkpoint(v1)
    assert read_tf_checkpoint(v1, ["global_step"])["global_step"].item() == 123456789012
    # a record cut short: the SavedSlice's own length runs past it
    _write_v1_with_conv_record(v1, _v1_record(saved, tensor + _len_field(5, raw))[:-7])
    with raises([str(v1), f"a slice of tensor '{CONV}'", "not a valid SavedTensorSlices", "field 2 claims"]):
        read_tf_checkpoint(v1)
    # a packed float_val of 10 bytes (not whole floats)
    _write_v1_with_conv_record(v1, _v1_record(saved, tensor + _len_field(5, raw[:10])))
    with raises([str(v1), f"a slice of tensor '{CONV}'", "float_val", "10 bytes", "not a multiple of 4"]):
        read_tf_checkpoint(v1)
    # a packed double_val of 12 bytes
    _write_v1_with_conv_record(v1, _v1_record(saved, tensor + _len_field(6, b"\x00" * 12)))
    with raises([str(v1), "double_val", "12 bytes", "not a multiple of 8"]):
        read_tf_checkpoint(v1)
    # a single float_val cut off, and a varint key running off the end of the record
    _write_v1_with_conv_record(v1, _v1_record(saved, tensor + _key(5, 5) + b"\x00\x00"))
    with raises([str(v1), f"tensor '{CONV}'", "runs past the end"]):
        read_tf_checkpoint(v1)
    _write_v1_with_conv_record(v1, _len_field(2, saved + _len_field(3, tensor)) + b"\x80")
    with raises([str(v1), f"tensor '{CONV}'", "varint runs past the end"]):
        read_tf_checkpoint(v1)
    # whole values of the wrong count still fail the slice's count check
    _write_v1_with_conv_record(v1, _v1_record(saved, tensor + _len_field(5, raw[:-4])))
    with raises([str(v1), f"tensor '{CONV}'", "287 values", "needs 288"]):
        read_tf_checkpoint(v1)
