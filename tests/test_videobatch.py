"""Many videos in one run (arttrack.video.batch through python -m arttrack.multiperson):
which inputs make a batch, each rank's share, failures recorded without stopping, finished
videos skipped on a rerun, msrun with two workers giving the outputs of one process, and
an interrupted run that leaves nothing half-written and resumes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from arttrack.video import batch as vb

DATA = Path(__file__).parent / "data" / "deepercut"
VENV_BIN = Path(sys.executable).parent


def test_assign_balances_frames_the_same_on_every_rank():
    # longest first, each to the least-loaded rank: 10 -> r0, 7 -> r1, 5 -> r1 (7 < 10),
    # 3 -> r0 (10 < 12)
    assert vb.assign([10, 3, 7, 5], 2) == [0, 0, 1, 1]
    assert vb.assign([4, 4, 4], 3) == [0, 1, 2]
    assert vb.assign([5, 5], 1) == [0, 0]
    ranks = vb.assign(list(range(1, 21)), 3)
    loads = [sum(f for f, r in zip(range(1, 21), ranks) if r == k) for k in range(3)]
    assert max(loads) - min(loads) <= 20 // 3


def _clip(path: Path, frames: int = 4, shift: int = 0) -> Path:
    img = cv2.imread(str(DATA / "astronaut.png"))
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (img.shape[1], img.shape[0]))
    for k in range(frames):
        wr.write(np.roll(img, shift + 2 * k, axis=1))
    wr.release()
    return path


def test_which_inputs_make_a_batch(tmp_path):
    vids = tmp_path / "vids"
    vids.mkdir()
    a, b = _clip(vids / "a.mp4"), _clip(vids / "b.mp4")
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    cv2.imwrite(str(imgs / "0.png"), np.zeros((8, 8, 3), np.uint8))
    assert vb.batch_inputs([str(vids)]) == [a, b]
    assert vb.batch_inputs([str(vids / "*.mp4")]) == [a, b]
    assert vb.batch_inputs([str(imgs)]) is None            # a folder of frames: one video
    assert vb.batch_inputs([str(imgs / "*.png")]) is None
    assert vb.batch_inputs([str(a)]) is None                # one video
    assert vb.batch_inputs([str(a), str(b)]) == [a, b]
    lst = tmp_path / "list.txt"
    lst.write_text("# my footage\nvids/b.mp4\n\n" + str(a) + "\n")
    assert vb.batch_inputs([str(lst)]) == [tmp_path / "vids" / "b.mp4", a]
    with pytest.raises(vb.BatchInputError, match="no such video"):
        vb.batch_inputs([str(a), str(tmp_path / "nope.mp4")])
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(vb.BatchInputError, match="names no video"):
        vb.batch_inputs([str(tmp_path / "empty.txt")])
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(vb.BatchInputError, match="same outputs"):
        vb.check_stems([a, _clip(other / "a.mp4")])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """The test-sized DeeperCut COCO model (tests/data/deepercut) as a model folder."""
    from arttrack.convert.tf import import_tf_pose_model

    d = tmp_path_factory.mktemp("model")
    rep = import_tf_pose_model(DATA / "tiny-coco", d / "model.ckpt", pairwise_dir=DATA / "pairwise")
    doc = {"name": "tiny-coco", "format": 1, "task": "multi-person", "joint_set": "coco17",
           "sources": [], "licence": "test", "citation": "", "checkpoint": "model.ckpt",
           "spatial_model": rep["spatial_model"], "pairwise_stats": rep["pairwise_stats"]}
    (d / "model.json").write_text(json.dumps(doc))
    return d


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    """Six short clips of different lengths, one of them not a video at all."""
    d = tmp_path_factory.mktemp("footage")
    for i, n in enumerate((3, 6, 4, 5, 2)):
        _clip(d / f"clip{i}.mp4", frames=n, shift=5 * i)
    (d / "clip5.mp4").write_bytes(os.urandom(3000))  # corrupt
    return d


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_folder_of_videos_one_failure_reported_and_rerun_skips(model, footage, tmp_path, capsys):
    from arttrack.multiperson import main

    out = tmp_path / "out"
    args = [str(footage), "--model", str(model), "--out-dir", str(out), "--no-video"]
    rc = main(args)
    cap = capsys.readouterr()
    assert rc == 1, cap.err
    assert "5 done, 0 skipped (finished before), 1 failed" in cap.out
    assert [ln for ln in cap.err.splitlines() if "error" in ln] == [
        ln for ln in cap.err.splitlines() if ln.startswith("arttrack.multiperson: error: clip5.mp4:")]
    s = _summary(out)
    st = {Path(v["path"]).name: v for v in s["videos"]}
    assert [v["status"] for v in s["videos"]] == ["done"] * 5 + ["failed"]
    assert st["clip1.mp4"]["frames"] == 6 and st["clip4.mp4"]["frames"] == 2
    assert "cannot open as a video" in st["clip5.mp4"]["error"] or "no frame" in st["clip5.mp4"]["error"]
    assert s["counts"] == {"done": 5, "skipped": 0, "failed": 1, "pending": 0}
    assert sorted(q.name for q in out.iterdir()) == [f"clip{i}" for i in range(5)] + ["summary.json"]
    for i in range(5):
        doc = json.loads((out / f"clip{i}" / f"clip{i}.json").read_text())
        assert len(doc["frames"]) == st[f"clip{i}.mp4"]["frames"]
        assert st[f"clip{i}.mp4"]["people"] == sum(len(f["instances"]) for f in doc["frames"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging, no rank parts
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("clip*/clip*.json")}
    rc = main(args)
    cap = capsys.readouterr()
    assert rc == 1 and "0 done, 5 skipped (finished before), 1 failed" in cap.out
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("clip*/clip*.json")} == before
    s2 = _summary(out)
    assert [v["frames"] for v in s2["videos"][:5]] == [v["frames"] for v in s["videos"][:5]]
    # --overwrite redoes them
    rc = main(args + ["--overwrite"])
    assert rc == 1 and "5 done, 0 skipped" in capsys.readouterr().out


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("GLOG_v", "3")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_msrun_two_workers_write_what_one_process_writes(model, footage, tmp_path):
    """Two msrun workers share the five good clips (by frame count) and write byte for byte
    the JSON one process writes; rank 0's summary lists all six, each with its rank."""
    vids = tmp_path / "vids"
    vids.mkdir()
    for i in range(5):
        (vids / f"clip{i}.mp4").symlink_to(footage / f"clip{i}.mp4")
    one, two = tmp_path / "one", tmp_path / "two"
    common = ["--model", str(model), "--no-video"]
    r = subprocess.run([sys.executable, "-m", "arttrack.multiperson", str(vids), "--out-dir", str(one),
                        *common], env=_env(), capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run(["msrun", "--worker_num=2", "--local_worker_num=2",
                        f"--master_port={_free_port()}", "--join=True", f"--log_dir={tmp_path / 'logs'}",
                        "python", "-m", "arttrack.multiperson", str(vids), "--out-dir", str(two),
                        *common], env=_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path)
    logs = "".join(p.read_text() for p in sorted((tmp_path / "logs").glob("*.log")))
    assert r.returncode == 0, logs[-3000:]
    for i in range(5):
        assert (two / f"clip{i}" / f"clip{i}.json").read_bytes() == \
            (one / f"clip{i}" / f"clip{i}.json").read_bytes()
    s = _summary(two)
    assert s["ranks"] == 2 and s["counts"]["done"] == 5
    ranks = {Path(v["path"]).name: v["rank"] for v in s["videos"]}
    # frames 3, 6, 4, 5, 2 -> 6 (r0), 5 (r1), 4 (r1), 3 (r0), 2 (r0 or r1: loads 9, 9 -> r0)
    assert ranks == {"clip1.mp4": 0, "clip3.mp4": 1, "clip2.mp4": 1, "clip0.mp4": 0, "clip4.mp4": 0}
    assert not list(two.glob(".summary-rank*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_batch_leaves_nothing_half_written_and_resumes(model, tmp_path, sig):
    vids = tmp_path / "vids"
    vids.mkdir()
    for i in range(4):
        _clip(vids / f"v{i}.mp4", frames=12, shift=3 * i)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "arttrack.multiperson", str(vids), "--model", str(model),
           "--out-dir", str(out), "--no-video", "--backend", "mindspore", "--mode", "pynative"]
    p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=tmp_path)
    deadline = time.time() + 240
    while not (out / "v0").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == (143 if sig == signal.SIGTERM else 130), stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("arttrack.multiperson:")]
    name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
    assert len(lines) == 1 and f"interrupted by {name}" in lines[0], stderr
    finished = int(lines[0].split(";")[1].split()[0])
    assert finished >= 1 and "of 4 videos finished" in lines[0]
    assert not [q for q in out.iterdir() if q.name.startswith(".") and q.suffix == ".tmp"]
    done = sorted(q.name for q in out.glob("v*"))  # output folders appear only when whole
    assert len(done) == finished and all((out / d / f"{d}.json").is_file() for d in done)
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{4 - finished} done, {finished} skipped" in r.stdout
