import pytest

from arttrack.io.atomic import atomic_path
from arttrack.io.atomic import write_json


def test_atomic_path_renames_on_success(tmp_path):
    out = tmp_path / "model.npz"
    with atomic_path(out) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npz" and tmp != out
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"
    assert list(tmp_path.iterdir()) == [out]


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path):
    out = tmp_path / "result.json"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert out.read_text() == "old"
    assert list(tmp_path.iterdir()) == [out]


def test_write_json_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "pckh.json"
    with pytest.raises(TypeError):
        write_json(out, {"ok": 1, "bad": object()})  # not serialisable midway
    assert not out.exists() and not list(tmp_path.iterdir())
    write_json(out, {"a": float("nan")})
    assert out.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":null}'
