"""The training path: loss falls, learning-rate schedule, checkpoints, resume, interruption,
data parallel under msrun, and clear errors on bad input.

Training runs go through the CLI in subprocesses (``python -m arttrack.train``), each in
its own tmp dir (MindSpore drops ``rank_0/`` folders into the cwd on compile errors).
Everything uses a tiny ResNet (width 8) on 64x64 synthetic images.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

from arttrack.models import checkpoint as ck
from arttrack.config import Config, load_config
from arttrack.training.trainer import build_train_cell, learning_rate_at

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "configs" / "synthetic_tiny.yaml"
VENV_BIN = Path(sys.executable).parent

TINY = {
    "net_type": "resnet_tiny", "depths": "[1,1,1,1]", "width": "8",
    "synthetic_image_size": "[64,64]", "synthetic_size": "8", "batch_size": "2",
    "num_workers": "1", "mode": "graph", "display_iters": "1", "save_iters": "1000",
    "keep_checkpoints": "5",
    # padded inputs stay 64x64 (one graph compile) while scale jitter is still drawn
    "scale_jitter_lo": "0.9", "scale_jitter_up": "1.0",
}


def _sets(tmp_path: Path, **kw) -> list[str]:
    values = dict(TINY, snapshot_prefix=str(tmp_path / "out" / "snap"))
    values.update({k: str(v) for k, v in kw.items()})
    args = []
    for k, v in values.items():
        args += ["--set", f"{k}={v}"]
    return args


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("GLOG_v", "2")  # MindSpore: warnings and errors only
    return env


def _train_cli(tmp_path: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arttrack.train", "--config", str(TINY_CONFIG),
                           "--quiet", *args], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def _losses(stderr: str) -> list[float]:
    return [float(m) for m in re.findall(r"step \d+/\d+ loss ([0-9.eE+-]+)", stderr)]


def _params(path: Path) -> dict[str, np.ndarray]:
    return {k: v.asnumpy() for k, v in ck.load_checkpoint(path).params.items()}


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file()}


def _cfg(**kw) -> Config:
    base = dict(net_type="resnet_tiny", depths=(1, 1, 1, 1), width=8, synthetic_image_size=(64, 64),
                synthetic_size=8, batch_size=2, num_workers=1, freeze_bn=False, pos_dist_thresh=12.0)
    base.update(kw)
    return Config(**base)


# --- learning rate ----------------------------------------------------------------------


def test_learning_rate_at_boundaries():
    cfg = _cfg(multi_step=((0.1, 3), (0.01, 5), (0.001, 7)))
    expected = {0: 0.1, 2: 0.1, 3: 0.01, 4: 0.01, 5: 0.001, 6: 0.001, 7: 0.001, 100: 0.001}
    for step, lr in expected.items():
        assert learning_rate_at(cfg, step) == pytest.approx(lr), step
    assert cfg.total_steps == 7


def test_optimizer_uses_learning_rate_at(tmp_path, monkeypatch):
    """The LR the optimizer actually applies at update k is learning_rate_at(cfg, k).

    MindSpore's Momentum: accum = momentum * accum + grad; w -= lr * accum, so
    lr = (w_before - w_after) / accum_after for every element.
    """
    from arttrack.models import factory
    from arttrack.data.pipeline import SampleMapper, pad_batch

    monkeypatch.chdir(tmp_path)
    ms.set_device("CPU")
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        cfg = _cfg(multi_step=((0.05, 2), (0.01, 4), (0.002, 5)))
        ms.set_seed(0)
        cell = build_train_cell(cfg, factory.build_model(cfg, pretrained=False))
        codec = factory.build_codec(cfg)
        mapper = SampleMapper(factory.build_source(cfg), codec,
                              factory.build_augmenter(cfg, train=False), mean_pixel=cfg.mean_pixel)
        batch = pad_batch([mapper.sample(i) for i in range(2)], codec, min_size=cfg.min_input_size)
        batch = [ms.Tensor(b) for b in batch]
        opt = cell.optimizer
        for k in range(cfg.total_steps + 2):  # two updates past the end of the schedule
            assert int(opt.global_step.asnumpy().reshape(-1)[0]) == k
            want = learning_rate_at(cfg, k)
            scheduled = float(opt.learning_rate(ms.Tensor(k, ms.int32)).asnumpy())
            assert scheduled == pytest.approx(want, rel=1e-6), k
            before = np.concatenate([p.asnumpy().ravel() for p in opt.parameters])
            cell(*batch)
            after = np.concatenate([p.asnumpy().ravel() for p in opt.parameters])
            accum = np.concatenate([m.asnumpy().ravel() for m in opt.moments])
            top = np.argsort(-np.abs(accum))[:200]
            used = np.median((before[top] - after[top]) / accum[top])
            assert used == pytest.approx(want, rel=1e-3), (k, used, want)
        assert int(opt.global_step.asnumpy().reshape(-1)[0]) == cfg.total_steps + 2
    finally:
        ms.set_context(mode=mode)


# --- training runs ----------------------------------------------------------------------


def test_loss_falls_and_old_checkpoints_are_pruned(tmp_path):
    # A fixed set of 8 synthetic images, 2 batches per epoch, 10 epochs.
    r = _train_cli(tmp_path, *_sets(tmp_path, batch_size=4, multi_step="[[0.05,20]]", save_iters=5,
                                    keep_checkpoints=2))
    assert r.returncode == 0, r.stderr[-3000:]
    losses = _losses(r.stderr)
    assert len(losses) == 20
    assert np.isfinite(losses).all()
    first, last = np.mean(losses[:3]), np.mean(losses[-5:])
    assert last < 0.8 * first, losses
    assert "steps/s" in r.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "snap-15.ckpt", "snap-20.ckpt"]
    final = ck.load_checkpoint(out / "snap-20.ckpt")
    assert final.step == 20 and final.config is not None and final.config.width == 8
    assert int(final.params["global_step"].asnumpy().reshape(-1)[0]) == 20
    assert load_config(out / "config.yaml") == final.config


def test_steps_cuts_the_run_short_and_checkpoints_have_normal_permissions(tmp_path):
    """--steps 4 on a 100-step schedule: 4 updates, the final checkpoint at step 4 with the
    schedule unchanged (max_steps recorded), readable by others as the umask allows (MindSpore
    writes 0400); --resume --steps 6 goes on to 6; --steps 0 is bad usage."""
    schedule = "[[0.05,3],[0.01,100]]"
    r = _train_cli(tmp_path, *_sets(tmp_path, multi_step=schedule), "--steps", "4")
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(_losses(r.stderr)) == 4
    out = tmp_path / "out"
    final = ck.load_checkpoint(out / "snap-4.ckpt")
    assert final.step == 4 and final.config.max_steps == 4 and final.config.total_steps == 4
    assert final.config.multi_step == ((0.05, 3), (0.01, 100))
    assert int(final.params["global_step"].asnumpy().reshape(-1)[0]) == 4
    mask = os.umask(0)
    os.umask(mask)
    assert (out / "snap-4.ckpt").stat().st_mode & 0o777 == 0o666 & ~mask
    r = _train_cli(tmp_path, *_sets(tmp_path, multi_step=schedule), "--steps", "6", "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    assert ck.load_checkpoint(out / "snap-6.ckpt").step == 6 and len(_losses(r.stderr)) == 2
    r = _train_cli(tmp_path, *_sets(tmp_path, multi_step=schedule), "--steps", "0")
    assert r.returncode == 2 and "--steps must be >= 1" in r.stderr


def test_resume_gives_the_same_weights_as_a_straight_run(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    straight.mkdir()
    (split / "out").mkdir(parents=True)
    # 4 steps per epoch: resuming at step 5 continues mid-epoch (skips one batch), and the
    # learning rate changes at step 3 (before the checkpoint) and 6 (after it).
    schedule = "[[0.02,3],[0.01,6],[0.005,8]]"
    r = _train_cli(straight, *_sets(straight, multi_step=schedule, save_iters=5))
    assert r.returncode == 0, r.stderr[-3000:]
    straight_losses = _losses(r.stderr)
    # the first half: the step-5 checkpoint of that run, alone in a fresh folder
    half = ck.load_checkpoint(straight / "out" / "snap-5.ckpt")
    assert half.step == 5
    (split / "out" / "snap-5.ckpt").write_bytes((straight / "out" / "snap-5.ckpt").read_bytes())
    r = _train_cli(split, *_sets(split, multi_step=schedule), "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stderr and "at step 5" in r.stderr
    assert [int(s) for s in re.findall(r"step (\d+)/8 loss", r.stderr)] == [6, 7, 8]
    # same batches, same state: the logged losses of steps 6-8 agree too
    np.testing.assert_allclose(_losses(r.stderr), straight_losses[5:], rtol=1e-4)
    a = _params(straight / "out" / "snap-8.ckpt")
    b = _params(split / "out" / "snap-8.ckpt")
    assert sorted(a) == sorted(b)
    assert any(k.startswith("moments.") for k in a)
    assert int(a["global_step"].reshape(-1)[0]) == int(b["global_step"].reshape(-1)[0]) == 8
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # resuming a finished run does nothing and succeeds
    before = _snapshot(split / "out")
    r = _train_cli(split, *_sets(split, multi_step=schedule), "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _snapshot(split / "out") == before


@pytest.mark.parametrize("sig,mode", [(signal.SIGTERM, "graph"), (signal.SIGINT, "pynative")])
def test_signal_saves_a_checkpoint_and_exits_nonzero(tmp_path, sig, mode):
    args = [sys.executable, "-m", "arttrack.train", "--config", str(TINY_CONFIG), "--quiet",
            *_sets(tmp_path, multi_step="[[0.01,100000]]", mode=mode)]
    proc = subprocess.Popen(args, cwd=tmp_path, env=_env(), stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 180
    try:
        for line in proc.stderr:
            lines.append(line)
            if re.search(r"step 3/", line):
                proc.send_signal(sig)
                break
            assert time.monotonic() < deadline, "".join(lines[-20:])
        rest = proc.stderr.read()
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(lines) + rest
    assert rc != 0, err[-3000:]
    # GRAPH mode: MindSpore turns a Ctrl-C that lands inside a step into SIGTERM.
    assert rc in (128 + sig, 128 + signal.SIGTERM), err[-3000:]
    assert "Traceback" not in err
    out = tmp_path / "out"
    ckpts = ck.list_checkpoints(out / "snap")
    assert len(ckpts) == 1, err[-3000:]
    step = ck.load_checkpoint(ckpts[0]).step
    assert step >= 3
    assert "interrupted by" in err and f"stopped at step {step}, saved {ckpts[0]}" in err
    assert not ck.partial_files(out / "snap")
    assert not [p for p in out.iterdir() if "partial" in p.name or p.name.endswith(".tmp")]


def test_failed_save_leaves_no_partial_file_and_keeps_old_ones(tmp_path, monkeypatch):
    from arttrack.models import create_model

    cfg = _cfg()
    net = create_model("resnet_tiny", width=8, num_joints=14)
    prefix = tmp_path / "snap"
    first = ck.save_checkpoint(net, prefix, 1, cfg)
    before = _snapshot(tmp_path)

    def boom(*args, **kwargs):
        Path(str(args[1])).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ms, "save_checkpoint", boom)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(net, prefix, 2, cfg)
    assert _snapshot(tmp_path) == before
    assert ck.list_checkpoints(prefix) == [first]
    assert not ck.partial_files(prefix)


def test_load_into_strict_refuses_extra_and_missing_parameters(tmp_path):
    from arttrack.models import create_model

    cfg = _cfg()
    net = create_model("resnet_tiny", width=8, num_joints=14)
    path = ck.save_checkpoint(net, tmp_path / "snap", 1, cfg)
    cell = build_train_cell(cfg, create_model("resnet_tiny", width=8, num_joints=14))
    with pytest.raises(ck.CheckpointError, match="missing"):
        ck.load_into(cell, ck.load_checkpoint(path))
    bigger = create_model("resnet_tiny", width=8, num_joints=14, pairwise=True)
    path = ck.save_checkpoint(bigger, tmp_path / "big", 1, cfg)
    with pytest.raises(ck.CheckpointError, match="unexpected"):
        ck.load_into(net, ck.load_checkpoint(path))
    ck.load_into(net, ck.load_checkpoint(path), strict=False)  # extra heads ignored


def test_load_from_starts_a_new_run_from_a_whole_network(tmp_path):
    """load_from: every parameter (heads included) comes from the checkpoint, a network-only
    one here; the run starts at step 0 with a fresh optimizer."""
    from arttrack.models import factory

    cfg = load_config(TINY_CONFIG, _sets(tmp_path)[1::2])
    net = factory.build_model(cfg, pretrained=False)
    for p in net.get_parameters():  # convolutions negated: unlike any fresh initialisation
        if p.ndim == 4:
            p.set_data(ms.Tensor(-p.asnumpy()))
    source = ck.save_checkpoint(net, tmp_path / "trained" / "net", 300, cfg)
    want = _params(source)
    # a learning rate of 1e-12: one update leaves the weights where they were loaded
    r = _train_cli(tmp_path, *_sets(tmp_path, multi_step="[[1.0e-12,1]]", load_from=source,
                                    freeze_bn="true"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.findall(r"step (\d+)/1 loss", r.stderr) == ["1"]
    got = ck.load_checkpoint(tmp_path / "out" / "snap-1.ckpt")
    assert got.step == 1 and got.config.load_from == str(source)
    assert int(got.params["global_step"].asnumpy().reshape(-1)[0]) == 1
    fresh = {p.name: p.asnumpy() for p in factory.build_model(cfg, pretrained=False).get_parameters()}
    assert all(not np.allclose(fresh[k], v) for k, v in want.items() if v.ndim == 4)
    for k, v in want.items():
        np.testing.assert_allclose(got.params[f"network.{k}"].asnumpy(), v, atol=1e-6, err_msg=k)
    # the heads of configs/synthetic_tiny.yaml (part and locref) were among them
    assert sorted(k for k in want if not k.startswith("backbone.")) == [
        "locref_pred.deconv.bias", "locref_pred.deconv.weight",
        "part_pred.deconv.bias", "part_pred.deconv.weight"]
    # a training snapshot (train cell: "network." names and optimizer state) loads the same way
    again = factory.build_model(cfg.replace(load_from=str(tmp_path / "out" / "snap-1.ckpt")))
    for p in again.get_parameters():
        np.testing.assert_allclose(p.asnumpy(), got.params[f"network.{p.name}"].asnumpy(),
                                   err_msg=p.name)


# --- bad input --------------------------------------------------------------------------


@pytest.fixture()
def resumable(tmp_path):
    """An output folder with a (fake, untrained) step-4 training checkpoint of the tiny net."""
    from arttrack.models import factory

    cfg = load_config(TINY_CONFIG, _sets(tmp_path)[1::2])
    cell = build_train_cell(cfg, factory.build_model(cfg, pretrained=False))
    cell.optimizer.global_step.set_data(ms.Tensor(np.array([4], np.int32)))
    ck.save_checkpoint(cell, cfg.snapshot_prefix, 4, cfg)
    from arttrack.config import save_config

    save_config(cfg, tmp_path / "out" / "config.yaml")
    return tmp_path


def _bad_yaml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(TINY_CONFIG.read_text() + text)
    return str(path)


BAD_INPUTS = {
    "unknown_key_in_yaml": (lambda t: ["--config", _bad_yaml(t, "\nlearning_rat: 0.1\n")],
                            "unknown key(s) 'learning_rat'"),
    "unknown_key_set": (lambda t: ["--set", "batchsize=3"], "unknown key(s) 'batchsize'"),
    "wrong_type": (lambda t: ["--set", "batch_size=two"], "batch_size: expected an integer"),
    "wrong_type_in_yaml": (lambda t: ["--config", _bad_yaml(t, "\nmirror: 3\n")],
                           "mirror: expected true or false"),
    "missing_dataset": (lambda t: ["--set", "dataset_type=mpii", "--set",
                                   f"dataset={t / 'nowhere' / 'mpii.mat'}"], "not found"),
    "missing_config": (lambda t: ["--config", str(t / "nope.yaml")], "config file not found"),
    "other_architecture": (lambda t: ["--resume", "--set", "width=16"], "another architecture"),
    "other_parameters": (lambda t: ["--resume", "--set", "location_refinement=false"],
                         "another architecture"),
    "load_from_missing": (lambda t: ["--set", f"load_from={t / 'nope.ckpt'}"],
                          "load_from: {t}/nope.ckpt not found"),
    "load_from_other_architecture": (
        lambda t: ["--set", f"load_from={t / 'out' / 'snap-4.ckpt'}", "--set", "width=16"],
        "load_from: checkpoint"),
    "load_from_and_init_weights": (lambda t: ["--set", f"load_from={t / 'out' / 'snap-4.ckpt'}",
                                              "--set", f"init_weights={t / 'out' / 'snap-4.ckpt'}"],
                                   "set one of them"),
    "network_only_checkpoint": ("network_only", "does not match this network"),
    "corrupt_checkpoint": ("corrupt", "cannot read checkpoint"),
    "empty_checkpoint": ("empty", "the file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_one_line_error(resumable, case):
    tmp_path = resumable
    make, message = BAD_INPUTS[case]
    out = tmp_path / "out"
    if isinstance(make, str):
        if make == "network_only":  # same embedded config, but no optimizer state
            from arttrack.models import factory

            cfg = load_config(TINY_CONFIG, _sets(tmp_path)[1::2])
            ck.save_checkpoint(factory.build_model(cfg, pretrained=False), out / "snap", 6, cfg)
        elif make == "corrupt":
            (out / "snap-6.ckpt").write_bytes((out / "snap-4.ckpt").read_bytes()[:5000])
        else:
            (out / "snap-6.ckpt").write_bytes(b"")
        extra = ["--resume"]
    else:
        extra = make(tmp_path)
    before = _snapshot(out)
    args = _sets(tmp_path)
    if "--config" in extra:
        i = extra.index("--config")
        config, extra = extra[i + 1], extra[:i] + extra[i + 2:]
    else:
        config = str(TINY_CONFIG)
    r = subprocess.run([sys.executable, "-m", "arttrack.train", "--config", config, "--quiet",
                        *args, *extra], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("arttrack.train: error: "), r.stderr
    assert message.replace("{t}", str(tmp_path)) in lines[0]
    assert "Traceback" not in r.stderr
    assert _snapshot(out) == before


# --- data parallel ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_msrun_two_cpu_ranks_end_identical(tmp_path):
    msrun = VENV_BIN / "msrun"  # MindSpore's launcher, installed with the mindspore package
    assert msrun.is_file(), f"{msrun} is missing: is the mindspore package installed in this environment?"
    logs, dumps = tmp_path / "logs", tmp_path / "weights"
    cmd = [str(msrun), "--worker_num", "2", "--local_worker_num", "2", "--master_port",
           str(_free_port()), "--join=True", "--log_dir", str(logs),
           "python", "-m", "arttrack.train", "--config", str(TINY_CONFIG), "--quiet",
           *_sets(tmp_path, multi_step="[[0.02,3],[0.01,6]]", save_iters=3),
           "--dump-weights", str(dumps)]
    r = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=400)
    w0 = (logs / "worker_0.log").read_text() if (logs / "worker_0.log").exists() else ""
    w1 = (logs / "worker_1.log").read_text() if (logs / "worker_1.log").exists() else ""
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:] + w0[-2000:] + w1[-2000:]
    # each rank trained on its own half of the data
    assert "shard 0/2" in w0 and "shard 1/2" in w1
    a, b = np.load(dumps / "rank0.npz"), np.load(dumps / "rank1.npz")
    assert sorted(a.files) == sorted(b.files)
    assert any(k.endswith("moving_mean") for k in a.files)
    for k in a.files:  # weights, momentum buffers, BatchNorm statistics, global_step
        np.testing.assert_allclose(b[k], a[k], rtol=1e-6, atol=1e-7, err_msg=k)
    # only rank 0 wrote checkpoints, and the final one holds rank 0's weights
    assert w0.count("saved checkpoint") == 2 and "saved checkpoint" not in w1
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "snap-3.ckpt", "snap-6.ckpt"]
    final = _params(out / "snap-6.ckpt")
    for k in a.files:
        np.testing.assert_array_equal(final[k], a[k], err_msg=k)
