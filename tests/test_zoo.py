"""Model registry and download cache (arttrack.models.zoo and its CLI), offline: a local
HTTP server on 127.0.0.1 that can cut connections, fail with 503, refuse (404/403) or
ignore Range requests, and a tiny test registry whose converter lives in this module."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from arttrack.models import zoo
from arttrack.models.__main__ import main

NAME = "tiny"
LOCK = f"downloads/.{NAME}.lock"


# --------------------------------------------------------------------------- converters


def convert_ok(raw: Path, out: Path, entry) -> dict:
    """Test converter: one output file from the raw files; reports what it saw."""
    data = (raw / "a.bin").read_bytes() + (raw / "b.bin").read_bytes()
    data += (raw / "stuff" / "inner.txt").read_bytes()
    (out / "x.bin").write_bytes(hashlib.sha256(data).digest())
    seen = sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file())
    return {"checkpoint": "x.bin", "raw_files": seen, "joint_set": "coco17"}  # may repeat


def convert_contradicts(raw: Path, out: Path, entry) -> dict:
    return {"checkpoint": "x.bin", "joint_set": "mpii14"}


def convert_fail(raw: Path, out: Path, entry) -> dict:
    (out / "half-written.bin").write_bytes(b"x")
    raise RuntimeError("boom: bad tensor\nsecond line")


def convert_interrupt(raw: Path, out: Path, entry) -> dict:
    raise KeyboardInterrupt


# --------------------------------------------------------------------------- test server


class _State:
    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str | None]] = []   # (file, Range header)
        self.cut: dict[str, int] = {}          # file -> send only N bytes, first request only
        self.fail: dict[str, list[int]] = {}   # file -> statuses to answer first (e.g. [503])
        self.refuse: dict[str, int] = {}       # file -> status always (404, 403)
        self.ignore_range: set[str] = set()    # answer 200 with the whole file
        self.lock = threading.Lock()

    def ranges(self, name: str) -> list[str | None]:
        return [r for f, r in self.requests if f == name]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def _empty(self, code: int, headers: dict | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802 - http.server's naming
        st: _State = self.server.state
        name = self.path.lstrip("/")
        rng = self.headers.get("Range")
        with st.lock:
            st.requests.append((name, rng))
            fail = st.fail.get(name)
            status = fail.pop(0) if fail else st.refuse.get(name)
            cut = st.cut.pop(name, None)
        if status:
            return self._empty(status)
        path = st.root / name
        if not path.is_file():
            return self._empty(404)
        data = path.read_bytes()
        start = 0
        if rng and name not in st.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                return self._empty(416, {"Content-Range": f"bytes */{len(data)}"})
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if cut is not None:  # promise everything, send some, hang up
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = _State(root)
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    t.start()
    httpd.state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd.state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("ARTTRACK_HOME", str(h))
    for var in ("http_proxy", "https_proxy", "all_proxy"):  # talk to 127.0.0.1 directly
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    return h


# --------------------------------------------------------------------------- test data


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


FILES = {
    "a.bin": bytes(range(256)) * 800,          # 204800 bytes
    "b.bin": b"b" * 1000,
    "c.tar.gz": _tgz({"stuff/inner.txt": b"inner", "stuff/sub/deep.txt": b"deep"}),
}


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_registry(base_url: str, converter: str = "convert_ok", *, sizes=None, shas=None):
    sizes, shas = sizes or {}, shas or {}
    files = tuple(
        zoo.RemoteFile(n, base_url + n, size=sizes.get(n), sha256=shas.get(n),
                       extract=n.endswith(".tar.gz"),
                       contents=("stuff",) if n.endswith(".tar.gz") else ())
        for n in FILES)
    entry = zoo.ModelEntry(
        name=NAME, summary="a tiny test model", task="multi-person", joint_set="coco17",
        files=files, converter=f"{__name__}:{converter}", licence="test licence",
        citation="test citation", homepage="http://example.invalid/")
    return {NAME: entry}


@pytest.fixture
def reg(server):
    for n, data in FILES.items():
        (server.root / n).write_bytes(data)
    return make_registry(server.url)


def fetch(reg, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("backoff", 0.001)
    return zoo.fetch(NAME, registry=reg, **kw)


def snapshot(home: Path) -> dict[str, str]:
    """Every file under the cache with its sha256 (the fetch lock file left out)."""
    if not home.exists():
        return {}
    files = (p for p in sorted(home.rglob("*")) if p.is_file())
    return {p.relative_to(home).as_posix(): sha(p.read_bytes())
            for p in files if p.relative_to(home).as_posix() != LOCK}


def leftovers(home: Path) -> list[str]:
    models = home / "models"
    if not models.exists():
        return []
    return sorted(p.name for p in models.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- fetch


def test_fetch_installs_model(home, server, reg):
    d = fetch(reg)
    assert d == home / "models" / NAME
    meta = zoo.read_model_json(d)
    assert meta["name"] == NAME and meta["format"] == 1
    assert meta["task"] == "multi-person" and meta["joint_set"] == "coco17"
    assert meta["licence"] == "test licence" and meta["citation"] == "test citation"
    assert meta["checkpoint"] == "x.bin" and meta["arttrack_version"]
    assert meta["fetched"].endswith("+00:00")
    assert [(s["file"], s["url"], s["size"], s["sha256"]) for s in meta["sources"]] == [
        (n, server.url + n, len(b), sha(b)) for n, b in FILES.items()]
    # the converter saw the files and the unpacked tarball, not the tarball itself
    assert meta["raw_files"] == ["a.bin", "b.bin", "stuff/inner.txt", "stuff/sub/deep.txt"]
    assert sorted(p.name for p in d.iterdir()) == ["model.json", "x.bin"]  # no raw/, no originals
    assert not (home / "downloads" / NAME).exists()
    assert leftovers(home) == []
    assert zoo.model_dir(NAME, reg) == d and zoo.resolve(NAME, reg) == d
    assert zoo.resolve(d, reg) == d


def test_second_fetch_is_a_noop(home, server, reg, caplog):
    d = fetch(reg)
    before, n = snapshot(home), len(server.requests)
    with caplog.at_level("INFO", logger="arttrack.models.zoo"):
        assert fetch(reg) == d
    assert len(server.requests) == n and snapshot(home) == before
    assert "cached" in caplog.text


def test_cut_download_resumes_with_range(home, server, reg):
    server.cut["a.bin"] = 70_000
    d = fetch(reg, progress=True)  # the bars go to stderr; the resumed one starts at 70000
    assert server.ranges("a.bin") == [None, "bytes=70000-"]
    src = {s["file"]: s for s in zoo.read_model_json(d)["sources"]}
    assert src["a.bin"]["sha256"] == sha(FILES["a.bin"])
    assert src["a.bin"]["size"] == len(FILES["a.bin"])


def test_server_ignoring_range_restarts(home, server, reg):
    server.cut["a.bin"] = 70_000
    server.ignore_range.add("a.bin")
    d = fetch(reg)
    assert server.ranges("a.bin") == [None, "bytes=70000-"]  # asked, got 200 from byte 0
    assert zoo.read_model_json(d)["sources"][0]["sha256"] == sha(FILES["a.bin"])


def test_oversized_part_restarts_after_416(home, server, reg):
    dl = home / "downloads" / NAME
    dl.mkdir(parents=True)
    (dl / "b.bin.part").write_bytes(b"z" * 5000)  # longer than the 1000-byte file
    d = fetch(reg)
    assert server.ranges("b.bin") == ["bytes=5000-", None]
    assert zoo.read_model_json(d)["sources"][1]["sha256"] == sha(FILES["b.bin"])


def test_503_once_then_success(home, server, reg):
    server.fail["b.bin"] = [503]
    fetch(reg)
    assert server.ranges("b.bin") == [None, None]


def test_503_until_retries_run_out(home, server, reg):
    server.fail["b.bin"] = [503] * 10
    with pytest.raises(zoo.DownloadError, match=r"cannot reach .*b\.bin: HTTP 503.*--from DIR"):
        fetch(reg, retries=2)
    assert len(server.ranges("b.bin")) == 3
    assert not (home / "models" / NAME).exists() and leftovers(home) == []


@pytest.mark.parametrize("status", [404, 403])
def test_refusal_is_not_retried_and_leaves_cache_unchanged(home, server, reg, status):
    server.refuse["a.bin"] = status
    with pytest.raises(zoo.DownloadError, match=rf"{server.url}a\.bin: HTTP {status}"):
        fetch(reg)
    assert server.ranges("a.bin") == [None]
    assert snapshot(home) == {} and leftovers(home) == []
    assert list((home / "models").iterdir()) == []
    # an installed model survives a failed --force fetch untouched
    server.refuse.clear()
    fetch(reg)
    before = snapshot(home)
    server.refuse["b.bin"] = status
    with pytest.raises(zoo.DownloadError):
        fetch(reg, force=True)
    after = snapshot(home)
    # models/ as before; the verified a.bin waits in downloads/ for the next try
    assert after.pop(f"downloads/{NAME}/a.bin") == sha(FILES["a.bin"])
    assert after == before and leftovers(home) == []


@pytest.mark.parametrize("bad", ["size", "sha256"])
def test_size_or_sha_mismatch_rejected(home, server, reg, bad):
    fetch(reg)
    before = snapshot(home)
    kw = ({"sizes": {"a.bin": len(FILES["a.bin"]) + 1}} if bad == "size"
          else {"shas": {"a.bin": "0" * 64}})
    with pytest.raises(zoo.VerificationError, match="a.bin"):
        fetch(make_registry(server.url, **kw), force=True)
    assert snapshot(home) == before and leftovers(home) == []
    assert not (home / "downloads" / NAME).exists()  # the bad .part was deleted


def test_known_size_and_sha_accepted(home, server, reg):
    good = make_registry(server.url, sizes={n: len(b) for n, b in FILES.items()},
                         shas={n: sha(b).upper() for n, b in FILES.items()})
    assert good[NAME].download_size == sum(len(b) for b in FILES.values())
    fetch(good)


def test_converter_failure_keeps_previous_model(home, server, reg):
    d = fetch(reg)
    before = snapshot(home)
    bad = make_registry(server.url, "convert_fail")
    with pytest.raises(zoo.ConversionError, match=r"converting tiny .* failed: boom: bad tensor$"):
        fetch(bad, force=True)
    assert leftovers(home) == []
    models_before = {k: v for k, v in before.items() if k.startswith("models/")}
    assert {k: v for k, v in snapshot(home).items() if k.startswith("models/")} == models_before
    assert zoo.model_dir(NAME, reg) == d
    # the converter refused what was downloaded, so nothing of it is kept: the next try
    # downloads afresh (a corrupt file would otherwise fail the same way forever)
    assert not (home / "downloads" / NAME).exists()
    n = len(server.requests)
    fetch(reg, force=True)
    assert len(server.requests) == n + len(FILES)
    assert not (home / "downloads" / NAME).exists()


@pytest.mark.parametrize("converter, message", [
    ("no_such_function", "cannot load the converter"),
    ("convert_contradicts", "found joint_set='mpii14' where the registry says 'coco17'")])
def test_bad_converter_is_a_clear_error(home, server, reg, converter, message):
    with pytest.raises(zoo.ConversionError, match=message):
        fetch(make_registry(server.url, converter))
    assert leftovers(home) == [] and not (home / "models" / NAME).exists()


def _evil_tgz(kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        ok = tarfile.TarInfo("stuff/inner.txt")
        ok.size = 1
        tf.addfile(ok, io.BytesIO(b"i"))
        if kind in ("dotdot", "absolute"):
            info = tarfile.TarInfo("../evil" if kind == "dotdot" else "/tmp/arttrack-evil")
            info.size = 4
            tf.addfile(info, io.BytesIO(b"evil"))
        else:
            info = tarfile.TarInfo("stuff/link")
            info.type = tarfile.SYMTYPE if kind.startswith("symlink") else tarfile.LNKTYPE
            info.linkname = {"symlink": "../../../outside", "symlink-abs": "/etc/passwd",
                             "hardlink": "../outside"}[kind]
            tf.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "symlink-abs", "hardlink"])
def test_unsafe_tarball_rejected(home, tmp_path, kind):
    src = tmp_path / "by-hand"
    src.mkdir()
    for n in ("a.bin", "b.bin"):
        (src / n).write_bytes(FILES[n])
    (src / "c.tar.gz").write_bytes(_evil_tgz(kind))
    with pytest.raises(zoo.UnsafeArchiveError, match=r"c\.tar\.gz.*refusing to unpack"):
        fetch(make_registry("http://127.0.0.1:9/"), from_dir=src)
    assert leftovers(home) == [] and not (home / "models" / NAME).exists()
    assert not (tmp_path / "evil").exists() and not (home / "evil").exists()


def test_corrupt_tarball_rejected(home, tmp_path):
    src = tmp_path / "by-hand"
    src.mkdir()
    for n in ("a.bin", "b.bin"):
        (src / n).write_bytes(FILES[n])
    (src / "c.tar.gz").write_bytes(FILES["c.tar.gz"][:40])
    with pytest.raises(zoo.UnsafeArchiveError, match="cannot unpack c.tar.gz"):
        fetch(make_registry("http://127.0.0.1:9/"), from_dir=src)
    assert leftovers(home) == []


@pytest.mark.parametrize("extracted", [False, True])
def test_fetch_from_dir(home, tmp_path, extracted):
    src = tmp_path / "by-hand"
    src.mkdir()
    for n in ("a.bin", "b.bin"):
        (src / n).write_bytes(FILES[n])
    if extracted:
        (src / "stuff" / "sub").mkdir(parents=True)
        (src / "stuff" / "inner.txt").write_bytes(b"inner")
        (src / "stuff" / "sub" / "deep.txt").write_bytes(b"deep")
    else:
        (src / "c.tar.gz").write_bytes(FILES["c.tar.gz"])
    before = {p.relative_to(src).as_posix() for p in src.rglob("*")}
    reg = make_registry("http://127.0.0.1:9/")  # nothing listens there: no download
    d = fetch(reg, from_dir=src)
    meta = zoo.read_model_json(d)
    assert meta["raw_files"] == ["a.bin", "b.bin", "stuff/inner.txt", "stuff/sub/deep.txt"]
    src_meta = {s["file"]: s for s in meta["sources"]}
    assert src_meta["a.bin"]["sha256"] == sha(FILES["a.bin"])
    if extracted:
        assert src_meta["c.tar.gz"]["sha256"] is None
    else:
        assert src_meta["c.tar.gz"]["sha256"] == sha(FILES["c.tar.gz"])
    # the hand-downloaded files are left as they were
    assert {p.relative_to(src).as_posix() for p in src.rglob("*")} == before
    assert (src / "a.bin").read_bytes() == FILES["a.bin"]
    assert sorted(p.name for p in d.iterdir()) == ["model.json", "x.bin"]
    assert leftovers(home) == [] and not (home / "downloads" / NAME).exists()


def test_fetch_from_dir_lists_missing_files(home, tmp_path, capsys, monkeypatch):
    src = tmp_path / "by-hand"
    src.mkdir()
    (src / "b.bin").write_bytes(FILES["b.bin"])
    reg = make_registry("http://127.0.0.1:9/")
    with pytest.raises(zoo.MissingFilesError, match=r"lacks 2 file\(s\) of tiny: a\.bin; "
                                                     r"c\.tar\.gz \(or its contents stuff\)"):
        fetch(reg, from_dir=src)
    monkeypatch.setattr(zoo, "REGISTRY", reg)
    assert main(["fetch", NAME, "--from", str(src)]) == 2
    assert "error: " in capsys.readouterr().err
    assert leftovers(home) == [] and not (home / "models" / NAME).exists()


def test_interrupted_download_keeps_part_and_resumes(home, server, reg, monkeypatch):
    import urllib.request

    real = urllib.request.urlopen

    class Interrupting:
        def __init__(self, resp):
            self._resp, self._reads = resp, 0

        def __getattr__(self, k):
            return getattr(self._resp, k)

        def read(self, n=-1):
            self._reads += 1
            if self._reads > 1:
                raise KeyboardInterrupt
            return self._resp.read(n)

        def close(self):
            self._resp.close()

    monkeypatch.setattr(zoo, "_CHUNK", 16384)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Interrupting(real(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        fetch(reg)
    assert leftovers(home) == [] and not (home / "models" / NAME).exists()
    part = home / "downloads" / NAME / "a.bin.part"
    assert part.read_bytes() == FILES["a.bin"][:16384]
    monkeypatch.setattr(urllib.request, "urlopen", real)
    d = fetch(reg)
    assert server.ranges("a.bin") == [None, "bytes=16384-"]
    assert zoo.read_model_json(d)["sources"][0]["sha256"] == sha(FILES["a.bin"])


def test_interrupt_in_converter_via_cli(home, server, reg, monkeypatch, capsys):
    monkeypatch.setattr(zoo, "REGISTRY", make_registry(server.url, "convert_interrupt"))
    assert main(["fetch", NAME, "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "run the same command again to resume" in err
    assert len(err.strip().splitlines()) == 1
    assert leftovers(home) == [] and not (home / "models" / NAME).exists()


# --------------------------------------------------------------------------- lookups


def test_unknown_name_and_resolve(home, tmp_path, reg):
    with pytest.raises(zoo.UnknownModelError, match=r"unknown model 'tinny' \(did you mean 'tiny'"):
        zoo.fetch("tinny", registry=reg)
    with pytest.raises(zoo.ModelNotFoundError,
                       match=r"not installed.*python -m arttrack\.models fetch tiny.*size unknown"):
        zoo.model_dir(NAME, reg)
    with pytest.raises(zoo.ModelError, match=r"neither a model name \(tiny\)"):
        zoo.resolve(tmp_path / "nope", reg)
    with pytest.raises(zoo.ModelError, match="has no model.json"):
        zoo.resolve(tmp_path, reg)


def test_read_model_json_validates(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"name": "x", "format": 1}))
    with pytest.raises(zoo.ModelError, match=r"lacks \['task', 'joint_set', 'sources'"):
        zoo.read_model_json(tmp_path)
    (tmp_path / "model.json").write_text("{oops")
    with pytest.raises(zoo.ModelError, match="cannot read"):
        zoo.read_model_json(tmp_path)


def test_real_registry_is_well_formed():
    names = set(zoo.REGISTRY)
    assert names == {"deepercut-coco-resnet101", "deepercut-mpii-resnet101",
                     "imagenet-resnet_v1_50", "imagenet-resnet_v1_101"}
    coco = zoo.REGISTRY["deepercut-coco-resnet101"]
    assert [f.name for f in coco.files] == [  # the authors' .meta graph is not needed
        "coco-resnet-101.data-00000-of-00001", "coco-resnet-101.index", "pairwise_coco.tar.gz"]
    # the expected size is the network's variables' bytes (the authors' full-size manifest)
    assert coco.approx_download_size == 214_919_312 + 25_000 + 50_000
    assert coco.files[-1].extract and coco.files[-1].contents == ("pairwise",)
    slim = zoo.REGISTRY["imagenet-resnet_v1_101"].files[0]
    assert slim.url.endswith("/resnet_v1_101_2016_08_28.tar.gz")
    assert slim.contents == ("resnet_v1_101.ckpt",)
    import importlib

    for e in zoo.REGISTRY.values():
        assert all(f.url.startswith(("http://", "https://")) for f in e.files)
        module, _, fn = e.converter.partition(":")
        assert module == "arttrack.convert.tf" and callable(getattr(importlib.import_module(module), fn))


# --------------------------------------------------------------------------- the real converter
DEEPERCUT = Path(__file__).parent / "data" / "deepercut"


def _tiny_coco_registry(server) -> dict:
    """The test-sized DeeperCut COCO model (tests/data/deepercut) served as the authors
    publish theirs: checkpoint files plus pairwise_coco.tar.gz."""
    for suffix in (".index", ".data-00000-of-00001"):
        (server.root / f"coco{suffix}").write_bytes((DEEPERCUT / f"tiny-coco{suffix}").read_bytes())
    with tarfile.open(server.root / "pairwise_coco.tar.gz", "w:gz") as tar:
        for p in sorted((DEEPERCUT / "pairwise").iterdir()):
            if p.name != "pairwise_stats_1based.mat":
                tar.add(p, arcname=f"pairwise/{p.name}")
    files = tuple(zoo.RemoteFile(n, server.url + n) for n in ("coco.data-00000-of-00001", "coco.index"))
    files += (zoo.RemoteFile("pairwise_coco.tar.gz", server.url + "pairwise_coco.tar.gz",
                             extract=True, contents=("pairwise",)),)
    entry = zoo.ModelEntry(name="tiny-coco", summary="test-sized DeeperCut COCO model",
                           task="multi-person", joint_set="coco17", files=files,
                           converter="arttrack.convert.tf:import_deepercut_model",
                           licence="test", citation="test", homepage="http://127.0.0.1/")
    return {"tiny-coco": entry}


def test_fetch_converts_a_deepercut_model(home, server):
    """A normal fetch through the real converter, then a cut-off download that resumes,
    a corrupted tensor (rejected, cache unchanged) and a server that refuses."""
    import numpy as np

    from arttrack.models.checkpoint import load_checkpoint

    reg = _tiny_coco_registry(server)
    d = zoo.fetch("tiny-coco", registry=reg, progress=False, backoff=0.001)
    meta = zoo.read_model_json(d)
    assert (meta["checkpoint"], meta["spatial_model"], meta["pairwise_stats"]) == (
        "model.ckpt", "spatial.npz", "pairwise_stats.npz")
    assert meta["trained_on"] == "coco" and meta["joint_set"] == "coco17"
    assert sorted(p.name for p in d.iterdir()) == ["model.ckpt", "model.json", "pairwise_stats.npz",
                                                  "spatial.npz"]
    data = (DEEPERCUT / "tiny-coco.data-00000-of-00001").read_bytes()
    src = {s["file"]: s for s in meta["sources"]}
    assert src["coco.data-00000-of-00001"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert load_checkpoint(d / "model.ckpt").config.net_type == "resnet_v1"

    # cut off mid-file: the download resumes with a Range request and converts the same
    zoo.remove("tiny-coco", registry=reg)
    server.requests.clear()
    server.cut["coco.data-00000-of-00001"] = len(data) // 3
    d = zoo.fetch("tiny-coco", registry=reg, progress=False, backoff=0.001)
    assert f"bytes={len(data) // 3}-" in server.ranges("coco.data-00000-of-00001")
    params = load_checkpoint(d / "model.ckpt").params
    w = params["part_pred.deconv.weight"].asnumpy()
    assert w.shape == (32, 17, 3, 3) and np.isfinite(w).all()

    # a corrupted tensor: the checkpoint's own CRC32C rejects it; the cache stays as it was
    zoo.remove("tiny-coco", registry=reg)
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    (server.root / "coco.data-00000-of-00001").write_bytes(bytes(bad))
    before = snapshot(home)
    with pytest.raises(zoo.ConversionError, match="CRC32C"):
        zoo.fetch("tiny-coco", registry=reg, progress=False, backoff=0.001)
    assert not (home / "models" / "tiny-coco").exists()
    assert {k: v for k, v in snapshot(home).items() if k.startswith("models/")} == \
        {k: v for k, v in before.items() if k.startswith("models/")}

    # a server that refuses
    server.refuse["coco.index"] = 403
    with pytest.raises(zoo.DownloadError, match="403"):
        zoo.fetch("tiny-coco", registry=reg, progress=False, backoff=0.001, force=True)
    assert not (home / "models" / "tiny-coco").exists()


def test_multiperson_uses_a_fetched_model_by_name(home, server, monkeypatch, tmp_path, capsys):
    """python -m arttrack.multiperson VIDEO --model NAME with the model fetched into the
    cache: the model folder's files are found and the video is tracked."""
    import cv2
    import numpy as np

    from arttrack import multiperson
    from arttrack.io.canonical import read_canonical

    reg = _tiny_coco_registry(server)
    monkeypatch.setattr(zoo, "REGISTRY", reg)
    zoo.fetch("tiny-coco", progress=False, backoff=0.001)
    img = cv2.imread(str(DEEPERCUT / "astronaut.png"))
    video = tmp_path / "clip.mp4"
    wr = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (img.shape[1], img.shape[0]))
    for k in range(3):
        wr.write(np.roll(img, 2 * k, axis=1))
    wr.release()
    rc = multiperson.main([str(video), "--model", "tiny-coco", "--out-dir", str(tmp_path / "o"),
                           "--no-video", "--mode", "pynative"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "warning" not in cap.err
    doc = read_canonical(tmp_path / "o" / "clip" / "clip.json")
    assert len(doc["frames"]) == 3 and doc["meta"]["model"]["name"] == "tiny-coco"


# --------------------------------------------------------------------------- CLI


def test_cli_list_path_remove(home, server, reg, monkeypatch, capsys):
    monkeypatch.setattr(zoo, "REGISTRY", reg)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "coco17" in out and " no " in out

    assert main(["path", NAME]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arttrack.models path: error: ") and "fetch tiny" in err

    assert main(["fetch", NAME, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"installed {NAME} in {home / 'models' / NAME}" in out and "test licence" in out
    assert main(["fetch", NAME]) == 0
    assert "already installed" in capsys.readouterr().out

    assert main(["path", NAME]) == 0
    assert capsys.readouterr().out.strip() == str(home / "models" / NAME)

    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == NAME and rows[0]["installed"] is True
    assert rows[0]["size_bytes"] > 0 and rows[0]["files"][0]["url"] == server.url + "a.bin"

    assert main(["remove", NAME]) == 0
    assert "removed tiny" in capsys.readouterr().out
    assert not (home / "models" / NAME).exists() and leftovers(home) == []
    assert main(["remove", NAME]) == 0
    assert "not installed" in capsys.readouterr().out
    assert main(["path", NAME]) == 2


def test_cli_errors(home, server, reg, monkeypatch, capsys):
    monkeypatch.setattr(zoo, "REGISTRY", reg)
    assert main(["path", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    server.refuse["a.bin"] = 404
    assert main(["fetch", NAME, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("arttrack.models fetch: error: cannot download ") and "404" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["fetch", NAME, "--retries", "-1"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "examples:" in capsys.readouterr().out
