"""arttrack-infer (C++ CPU runner) with arttrack.preprocess and arttrack.postprocess.

The runner binary comes from ``ARTTRACK_INFER``; without it the test session builds it
with CMake (``-DARTTRACK_BUILD_RUNNER=ON``) into ``build/pytest-runner`` (incremental) and
skips when CMake or OpenCV (Debian ``libopencv-dev``) is missing: a local convenience only,
since ``.ci/run`` installs ``libopencv-dev`` and fails when any test skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

from arttrack import preprocess as preprocess_cli
from arttrack.deploy import binaries, export
from arttrack.eval import pckh
from arttrack.models import create_model
from arttrack.postprocess import __main__ as post_cli
from arttrack.postprocess import argmax_pose

ROOT = Path(__file__).resolve().parents[1]
J = 14
H, W = 64, 96


def _build_runner() -> Path:
    if shutil.which("cmake") is None:
        pytest.skip("cmake not found: cannot build arttrack-infer (or set ARTTRACK_INFER); "
                    ".ci/run has it and fails on any skip")
    build = Path(os.environ.get("ARTTRACK_RUNNER_BUILD_DIR", ROOT / "build" / "pytest-runner"))
    cfg = subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                          "-DARTTRACK_BUILD_RUNNER=ON"], capture_output=True, text=True)
    if cfg.returncode != 0:
        log = cfg.stdout + cfg.stderr
        for lib, package in (("OpenCV", "libopencv-dev"), ("nlohmann", "nlohmann-json3-dev")):
            if lib in log:
                pytest.skip(f"{lib} development files not found (apt-get install {package}): "
                            "the C++ CPU runner cannot be built here; .ci/run installs them and "
                            "fails on any skip")
        pytest.fail(f"cmake configure failed:\n{cfg.stdout}\n{cfg.stderr}")
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    b = subprocess.run(["cmake", "--build", str(build), "--target", "arttrack-infer", "-j", jobs],
                       capture_output=True, text=True)
    if b.returncode != 0:
        pytest.fail(f"building arttrack-infer failed:\n{b.stdout[-4000:]}\n{b.stderr[-4000:]}")
    exe = build / "cpp" / "runner" / "arttrack-infer"
    assert exe.is_file()
    return exe


@pytest.fixture(scope="module")
def runner() -> Path:
    env = os.environ.get("ARTTRACK_INFER")
    if env:
        exe = Path(env)
        if not exe.is_file():
            pytest.fail(f"ARTTRACK_INFER={env} does not exist")
        return exe
    return _build_runner()


def run_infer(exe, *args, check=True):
    p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"arttrack-infer failed ({p.returncode}):\n{p.stderr}")
    return p


@pytest.fixture(scope="module")
def ctx():
    ms.set_device("CPU")
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=mode)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, ctx, runner):
    """A tiny exported model, a synthetic MPII set, its preprocessed binaries and runner outputs."""
    from arttrack.data.synthetic import SyntheticConfig, write_mpii

    tmp = tmp_path_factory.mktemp("runner")
    ms.set_seed(0)
    net = create_model("resnet_tiny", num_joints=J, width=8, pairwise=True)
    net.set_train(False)
    model = export.export_model(net, "ONNX", H, W, tmp / "m.onnx",
                                {"joint_set": "mpii14", "locref_stdev": 7.2801})
    meta_path = export.metadata_path(model)
    mat = write_mpii(tmp / "mpii", 6, seed=7, config=SyntheticConfig(width=112, height=80),
                     test_fraction=0.0, progress=False)
    bins = tmp / "bins"
    assert preprocess_cli.main(["--meta", str(meta_path), "--dataset", str(mat), "--out", str(bins)]) == 0
    out = tmp / "out"
    p = run_infer(runner, "--model", model, "--meta", meta_path, "--input", bins, "--output", out,
                  "--decode", "--threads", "1")
    return {"tmp": tmp, "net": net, "model": model, "meta_path": meta_path, "mat": mat,
            "bins": bins, "out": out, "stderr": p.stderr,
            "meta": json.loads(meta_path.read_text()),
            "index": json.loads((bins / "index.json").read_text())}


def _mindspore_outputs(net, x):
    wrapper = export.InferenceNet(net)
    wrapper.set_train(False)
    return [o.asnumpy() for o in wrapper(ms.Tensor(x))]


# ---------------------------------------------------------------------------------------
def test_letterbox_round_trip():
    lb = binaries.letterbox((80, 112), (10, 5, 60, 75), 64, 96)
    assert lb.crop == (10, 5, 60, 75) and lb.resized[0] == 64 and lb.pad[1] == 0
    assert lb.pad[0] == (96 - lb.resized[1]) // 2
    pts = np.array([[10.0, 5.0], [59.0, 74.0], [33.3, 40.1]])  # original pixels in the crop
    u = lb.pad[0] + (pts[:, 0] - lb.crop[0] + 0.5) * lb.scale[0] - 0.5
    v = lb.pad[1] + (pts[:, 1] - lb.crop[1] + 0.5) * lb.scale[1] - 0.5
    np.testing.assert_allclose(binaries.to_original(np.stack([u, v], 1), lb.to_dict()), pts,
                               atol=1e-12)
    wide = binaries.letterbox((10, 300), None, 64, 96)  # aspect kept, padded top/bottom
    assert wide.resized == (3, 96) and wide.pad == (0, 30)
    assert abs(wide.scale[0] - wide.scale[1]) < 0.05


def test_preprocess_follows_metadata(setup):
    meta, index = setup["meta"], setup["index"]
    assert index["input"]["shape"] == meta["input"]["shape"] == [1, 3, H, W]
    e = index["entries"][0]
    x = np.fromfile(setup["bins"] / e["file"], np.float32)
    assert x.size == 3 * H * W
    x = x.reshape(3, H, W)
    rgb = binaries.read_rgb(e["image_path"])
    x0, y0, x1, y1 = e["crop"]
    mean = np.array(meta["input"]["mean_pixel"], np.float32)
    px, py = e["pad"]
    nh, nw = e["resized"]
    # padding is exactly zero, content is RGB minus the mean pixel (no /255)
    assert np.all(x[:, :py, :] == 0) and np.all(x[:, :, :px] == 0)
    assert np.all(x[:, py + nh:, :] == 0) and np.all(x[:, :, px + nw:] == 0)
    import cv2
    ref = cv2.resize(rgb[y0:y1, x0:x1], (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    np.testing.assert_allclose(x[:, py:py + nh, px:px + nw], (ref - mean).transpose(2, 0, 1), atol=1e-4)
    # a different mean pixel in the metadata changes the binaries accordingly
    meta2 = json.loads(json.dumps(meta))
    meta2["input"]["mean_pixel"] = [0.0, 0.0, 0.0]
    spec = binaries.InputSpec.from_meta(meta2)
    y, _ = binaries.preprocess_image(rgb, spec, tuple(e["crop"]))
    np.testing.assert_allclose(y[:, py:py + nh, px:px + nw], ref.transpose(2, 0, 1), atol=1e-4)


def test_cpu_runner_matches_mindspore(setup):
    runner_json = json.loads((setup["out"] / "runner.json").read_text())
    names = [o["name"] for o in runner_json["outputs"]]
    assert names == ["part_prob", "locref", "pairwise"] == setup["meta"]["output_names"]
    lat = runner_json["latency_ms"]
    assert lat["p50"] <= lat["p95"] and lat["mean"] > 0
    assert runner_json["num_images"] == len(setup["index"]["entries"]) >= 6
    # "within 1e-4" relative to the output's scale: part_prob (in [0, 1]) absolutely, locref
    # and pairwise (raw regressions, |values| up to ~100 with random weights, where float32
    # summation order alone differs by ~1e-5 relative) per unit of their largest magnitude
    worst = {}
    for e in setup["index"]["entries"]:
        x = np.fromfile(setup["bins"] / e["file"], np.float32).reshape(1, 3, H, W)
        ref = _mindspore_outputs(setup["net"], x)
        stem = Path(e["file"]).stem
        for k, (o, r) in enumerate(zip(runner_json["outputs"], ref)):
            got = np.fromfile(setup["out"] / f"{stem}_{k}.bin", np.float32)
            assert got.size == r.size and list(r.shape) == o["shape"]
            err = float(np.abs(got.reshape(r.shape) - r).max()) / max(1.0, float(np.abs(r).max()))
            worst[o["name"]] = max(worst.get(o["name"], 0.0), err)
    assert max(worst.values()) <= 1e-4, worst


def _python_path_predictions(setup):
    """Reference: MindSpore on the same crops, decoded in Python, mapped back."""
    meta = setup["meta"]
    spec = binaries.InputSpec.from_meta(meta)
    items = binaries.items_from_mpii(setup["mat"])
    gt = pckh.load_mpii_mat(setup["mat"])
    assert [(i.image, i.person) for i in items] == list(zip(gt.images, gt.persons))
    preds = []
    for it in items:
        x, lb = binaries.preprocess_image(binaries.read_rgb(it.path), spec, it.crop)
        part, loc = _mindspore_outputs(setup["net"], x[None])[:2]
        score = np.ascontiguousarray(part[0].transpose(1, 2, 0))
        locref = np.ascontiguousarray(loc[0].transpose(1, 2, 0).reshape(*score.shape, 2))
        pose = np.asarray(argmax_pose(score, locref, stride=meta["stride"],
                                      locref_stdev=meta["locref_stdev"]), np.float64)
        preds.append(binaries.to_original(pose[:, :2], lb))
    return np.asarray(preds), gt


def test_postprocess_pckh_equals_python_path(setup, capsys):
    pred_file = setup["tmp"] / "pred.json"
    metrics = setup["tmp"] / "pckh.json"
    rc = post_cli.main(["--results", str(setup["out"]), "--index", str(setup["bins"] / "index.json"),
                        "--meta", str(setup["meta_path"]), "--out", str(pred_file),
                        "--gt", str(setup["mat"]), "--json-out", str(metrics)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "PCKh" in out.out and "Total" in out.out
    records = json.loads(pred_file.read_text())
    ref_pred, gt = _python_path_predictions(setup)
    got = np.array([[r[:2] for r in rec["joints"]] for rec in records], np.float64)
    np.testing.assert_allclose(got, ref_pred, atol=1e-3)  # same cells, locref within float noise

    ref = pckh.compute_pckh(ref_pred, gt.joints, gt.visible, gt.headbox)
    d = json.loads(metrics.read_text())
    assert d["total"] == ref.total and d["num_people"] == len(gt)
    want = ref.to_dict()
    for key in ("per_joint", "groups"):
        assert d[key].keys() == want[key].keys()
        for name, v in want[key].items():
            assert (d[key][name] is None) if np.isnan(v) else d[key][name] == v, (key, name)
    # untrained weights score ~0 at 0.5; compare non-trivial thresholds too (same code path)
    for thr in (2.0, 5.0):
        a, _, _ = pckh.evaluate_files(setup["mat"], pred_file, thr=thr)
        b = pckh.compute_pckh(ref_pred, gt.joints, gt.visible, gt.headbox, thr=thr)
        assert a.total == b.total and np.array_equal(a.num_correct, b.num_correct)
    assert any(pckh.compute_pckh(ref_pred, gt.joints, gt.visible, gt.headbox, thr=5.0).num_correct)


def test_runner_decode_matches_postprocess(setup, tmp_path):
    pred_file = tmp_path / "pred.json"
    assert post_cli.main(["--results", str(setup["out"]), "--index", str(setup["bins"]),
                          "--meta", str(setup["meta_path"]), "--out", str(pred_file)]) == 0
    py = json.loads(pred_file.read_text())
    cpp = json.loads((setup["out"] / "predictions.json").read_text())["predictions"]
    assert [(c["image"], c["person"]) for c in cpp] == [(p["image"], p["person"]) for p in py]
    for c, p in zip(cpp, py):
        assert c["coordinates"] == "original"
        np.testing.assert_allclose(np.array(c["joints"]), np.array(p["joints"]), rtol=0, atol=1e-9)
    peaks_file = tmp_path / "peaks.json"
    assert post_cli.main(["--results", str(setup["out"]), "--index", str(setup["bins"]),
                          "--meta", str(setup["meta_path"]), "--out", str(peaks_file),
                          "--mode", "peaks"]) == 0
    pk = json.loads(peaks_file.read_text())
    for c, p in zip(cpp, pk):
        a = np.array(c["peaks"], np.float64).reshape(-1, 4)
        b = np.array([[q["joint"], q["x"], q["y"], q["score"]] for q in p["peaks"]]).reshape(-1, 4)
        np.testing.assert_allclose(a, b, atol=1e-6)


# ---------------------------------------------------------------------------------------
# bad input: one clear line, exit status 1, no crash
def _expect_error(p, *fragments):
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr.startswith("arttrack-infer: error:"), p.stderr
    for f in fragments:
        assert f in p.stderr, p.stderr


def _copy_bins(setup, dst):
    shutil.copytree(setup["bins"], dst)
    return dst


def test_missing_bin(setup, runner, tmp_path):
    bins = _copy_bins(setup, tmp_path / "bins")
    (bins / "000002.bin").unlink()
    p = run_infer(runner, "--model", setup["model"], "--meta", setup["meta_path"], "--input", bins,
                  "--output", tmp_path / "o", check=False)
    _expect_error(p, "cannot open input", "000002.bin")


def test_wrong_sized_bin(setup, runner, tmp_path):
    bins = _copy_bins(setup, tmp_path / "bins")
    np.zeros(3 * H * (W - 8), np.float32).tofile(bins / "000001.bin")
    p = run_infer(runner, "--model", setup["model"], "--meta", setup["meta_path"], "--input", bins,
                  "--output", tmp_path / "o", check=False)
    _expect_error(p, "000001.bin", f"expected {3 * H * W * 4}", "[3, 64, 96]")


def test_model_input_disagrees_with_metadata(setup, runner, tmp_path):
    meta = json.loads(json.dumps(setup["meta"]))
    meta["input"]["shape"] = [1, 3, H + 8, W]
    bad_meta = tmp_path / "meta.json"
    bad_meta.write_text(json.dumps(meta))
    p = run_infer(runner, "--model", setup["model"], "--meta", bad_meta, "--input", setup["bins"],
                  "--output", tmp_path / "o", check=False)
    _expect_error(p, "[1, 3, 64, 96]", "[1, 3, 72, 96]")
    # the output list disagreeing with the model is caught as well
    meta = json.loads(json.dumps(setup["meta"]))
    meta["outputs"][0]["shape"][2] += 1
    bad_meta.write_text(json.dumps(meta))
    p = run_infer(runner, "--model", setup["model"], "--meta", bad_meta, "--input", setup["bins"],
                  "--output", tmp_path / "o", check=False)
    _expect_error(p, "part_prob", "metadata says")


@pytest.mark.parametrize("kind", ["garbage", "truncated", "missing", "directory"])
def test_unreadable_model(setup, runner, tmp_path, kind):
    model = tmp_path / "m.onnx"
    if kind == "garbage":
        model.write_bytes(b"this is not an onnx model\n" * 10)
    elif kind == "truncated":
        model.write_bytes(setup["model"].read_bytes()[: 100000])
    elif kind == "directory":
        model.mkdir()
    p = run_infer(runner, "--model", model, "--meta", setup["meta_path"], "--input", setup["bins"],
                  "--output", tmp_path / "o", check=False)
    _expect_error(p, str(model))


def test_usage_errors(setup, runner, tmp_path):
    p = run_infer(runner, "--model", setup["model"], "--meta", setup["meta_path"], check=False)
    assert p.returncode == 2 and "--input is required" in p.stderr
    p = run_infer(runner, "--model", setup["model"], "--meta", setup["meta_path"], "--input",
                  setup["bins"], "--output", tmp_path / "o", "--backend", "tpu", check=False)
    assert p.returncode == 2 and "--backend" in p.stderr
    p = run_infer(runner, "--model", setup["model"], "--meta", setup["meta_path"], "--input",
                  setup["bins"], "--output", tmp_path / "o", "--backend", "acl", check=False)
    assert p.returncode == 1 and ("without the Ascend ACL backend" in p.stderr or "acl" in p.stderr.lower())
    p = run_infer(runner, "--model", setup["model"], "--meta", setup["model"], "--input",
                  setup["bins"], "--output", tmp_path / "o", check=False)
    _expect_error(p, "invalid JSON")
    p = run_infer(runner, "--help")
    assert "--decode" in p.stdout


def test_postprocess_errors(setup, tmp_path, capsys):
    out = _copy_bins(setup, tmp_path / "out_copy")  # any folder; copy the runner outputs instead
    shutil.rmtree(out)
    shutil.copytree(setup["out"], out)
    (out / "000003_1.bin").unlink()
    rc = post_cli.main(["--results", str(out), "--index", str(setup["bins"]), "--meta",
                        str(setup["meta_path"]), "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "000003_1.bin" in err and err.count("\n") == 1
    rc = post_cli.main(["--results", str(setup["out"]), "--index", str(tmp_path / "nope.json"),
                        "--meta", str(setup["meta_path"]), "--out", str(tmp_path / "p.json")])
    assert rc == 2 and "index file" in capsys.readouterr().err


def test_preprocess_errors(setup, tmp_path, capsys):
    rc = preprocess_cli.main(["--meta", str(tmp_path / "none.json"), "--images", str(tmp_path),
                          "--out", str(tmp_path / "b")])
    assert rc == 2 and "metadata file" in capsys.readouterr().err
    rc = preprocess_cli.main(["--meta", str(setup["meta_path"]), "--images", str(tmp_path),
                          "--out", str(tmp_path / "b")])
    assert rc == 2 and "no images" in capsys.readouterr().err
    # --images mode: whole images, aspect kept
    imgs = setup["mat"].parent.parent / "images"
    assert preprocess_cli.main(["--meta", str(setup["meta_path"]), "--images", str(imgs),
                            "--out", str(tmp_path / "b")]) == 0
    idx = binaries.load_index(tmp_path / "b")
    e = idx["entries"][0]
    assert e["crop"] == [0, 0, 112, 80] and e["person"] is None
    assert abs(e["scale"][0] - e["scale"][1]) < 0.02
