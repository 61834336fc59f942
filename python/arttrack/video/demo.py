"""The built-in demo: the shipped demo model (``arttrack/assets/demo``, a model folder trained
on synthetic figures) and the synthetic clip ``--demo`` tracks, with its PoseTrack ground
truth (the same clip every time: :data:`DEMO_SEED`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from arttrack.video.source import InputError

DEMO_SEED = 7
DEMO_FRAMES = 40
DEMO_SIZE = (320, 240)
# People 108-168 px tall in the 320x240 demo clips: the range the demo model saw in training
# (160 px images, configs/synthetic_demo.yaml: heights 0.65-0.95 of the image, jitter +-15 %).
DEMO_PERSON_HEIGHT = (0.45, 0.7)
DEMO_CKPT = "demo.ckpt"
# --demo's --kpt-thr, chosen on the selection clips (seed 8000): for the current demo model
# MOTA 57.5 at 0.5, 58.4 at 0.6, 58.3 at 0.7 (scripts/eval_demo_model.py --seed 8000 --sweep)
DEMO_KPT_THR = 0.6

__all__ = ["DEMO_CKPT", "DEMO_FRAMES", "DEMO_KPT_THR", "DEMO_SEED", "DEMO_SIZE", "demo_clip_config",
           "demo_dir", "write_demo_clip"]


def demo_dir() -> Path:
    """Folder of the demo model shipped with the package (``arttrack/assets/demo``)."""
    from importlib import resources

    try:
        return Path(str(resources.files("arttrack") / "assets" / "demo"))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        return Path(__file__).parent.parent / "assets" / "demo"


def demo_clip_config(size: tuple[int, int] = DEMO_SIZE) -> Any:
    """The :class:`arttrack.data.synthetic.SyntheticConfig` of the demo clips (2-4 people of
    :data:`DEMO_PERSON_HEIGHT`, with eyes and hair that show where they face):
    ``--demo``, the demo model's temporal fit and its evaluation
    (``scripts/eval_demo_model.py``) draw their clips from it."""
    from arttrack.data.synthetic import SyntheticConfig

    return SyntheticConfig(width=size[0], height=size[1], num_people=(2, 4),
                           joint_set="posetrack15", person_height=DEMO_PERSON_HEIGHT,
                           facing_cues=True)


def write_demo_clip(out_dir: Path, overwrite: bool,
                     replaced: Optional[list] = None) -> tuple[Path, Path]:
    """Write the demo clip (mp4) and its PoseTrack ground truth into ``out_dir``; files it
    replaces are added to ``replaced``."""
    import tempfile

    from arttrack.data.synthetic import write_posetrack

    cfg = demo_clip_config()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".demo-") as tmp:
        (gt_path,) = write_posetrack(tmp, 1, num_frames=DEMO_FRAMES, seed=DEMO_SEED, config=cfg,
                                     progress=False)
        video = gt_path.stem
        mp4 = out_dir / f"{video}.mp4"
        gt = out_dir / f"{video}_gt_posetrack.json"
        for p in (mp4, gt):
            if p.exists() and not overwrite:
                raise InputError(f"{p} exists; pass --overwrite to replace")
            if p.exists() and replaced is not None:
                replaced.append(p)
        os.replace(Path(tmp) / "videos" / f"{video}.mp4", mp4)
        os.replace(gt_path, gt)
    return mp4, gt
