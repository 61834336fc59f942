"""Procedural articulated people: images, clips and ground truth in the official formats.

A fast, deterministic generator of multi-person images and short video clips, so the
data readers, the training pipeline and the tracking demo can run without downloads.

The person model
----------------
Each person is a 2D projection of a simple 3D stick figure: a torso, a neck, a head
ellipse (with a hair cap), upper/lower arms with hands and upper/lower legs with feet.
Limb directions are given by an abduction angle (sideways, in the frontal plane) and a
flexion angle (forward, in the sagittal plane) within plausible joint limits; the body is
turned by a yaw angle (0 = facing the camera, +pi/2 = facing image-right), projected
orthographically, leaned in the image plane and scaled to a height in pixels. Proportions,
limb widths, colours and textures (stripes, noise) are random per person. Parts are drawn
far-to-near inside a person and people are drawn back-to-front (smaller = farther).

Ground truth is exact: the joints ARE the figure's own points. A joint is

- ``2`` (visible) when the pixel under it belongs to one of the person's own parts that
  contain the joint (e.g. an elbow must be on the upper arm or forearm),
- ``1`` (labeled, occluded) when it is inside the image but covered by another person,
  by another part of the same person (self-occlusion, e.g. the far arm behind the torso),
  or when it is a face point turned away from the camera,
- ``0`` (unlabeled) when it is outside the image; its coordinates are then set to 0
  (the convention of :mod:`arttrack.data.records`). :class:`SyntheticPerson` keeps the
  true coordinates in ``true_points``.

Coordinates use the pixel-centre convention (integer = pixel centre). Images are uint8
``H x W x 3`` in **RGB** order (the network's input order); the writers convert to BGR
for OpenCV.

Point sets: the figure has 21 named points (:data:`POINT_NAMES`); joint sets are selected
by name: :data:`arttrack.joints.MPII14` (``chin`` = MPII upper neck, ``forehead`` = MPII
head top), :data:`arttrack.joints.COCO17`, :data:`arttrack.joints.POSETRACK15`
(``head_bottom`` = upper neck), the 16 MPII ids and PoseTrack 2018's 17 joints.

Determinism: everything is a function of the seed; image ``i`` of a dataset or a writer
with seed ``s`` is drawn from ``numpy.random.default_rng([s, i])``, so
``SyntheticPoseDataset(s)[i]`` and image ``i`` written by ``write_coco(..., seed=s)`` are
the same picture.

Formats written (see the ``write_*`` functions)
-----------------------------------------------
- MPII: ``<out>/images/*.jpg`` and
  ``<out>/mpii_human_pose_v1_u12_2/mpii_human_pose_v1_u12_1.mat`` with the ``RELEASE``
  struct of the official release (1-based MATLAB pixel coordinates, as the real file).
- COCO: ``<out>/annotations/person_keypoints_<split>.json`` and ``<out>/<split>/*.jpg``.
- PoseTrack 2018: ``<out>/annotations/<split>/<video>.json``,
  ``<out>/images/<split>/<video>/%06d.jpg`` and ``<out>/videos/<video>.mp4``.

CLI: ``python -m arttrack.data.synthetic --format mpii|coco|posetrack --out DIR ...``.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, Optional, Sequence, Union

import cv2
import numpy as np

from arttrack.io.atomic import atomic_path, write_json
from arttrack.joints import COCO17, MPII14, MPII14_FROM_MPII16, JointSet, get_joint_set

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
RngLike = Union[np.random.Generator, int, Sequence[int]]

__all__ = [
    "POINT_NAMES", "MPII16_NAMES", "POSETRACK17_NAMES", "SyntheticConfig", "Body", "Pose",
    "SyntheticPerson", "Scene", "SyntheticClip", "SyntheticPoseDataset", "joint_indices",
    "sample_body", "sample_pose", "sample_walking_pose", "render_people", "generate_scene", "generate_image",
    "generate_clip", "generate_clip_window", "random_background", "write_mpii", "write_coco", "write_posetrack",
    "main",
]

# ----------------------------------------------------------------------------- points
#: Every point of the figure; joint sets are selections of these (by name).
POINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
    "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "upper_neck", "head_top", "pelvis",
    "thorax", "nose", "l_eye", "r_eye", "l_ear", "r_ear")
POINT_INDEX = {n: i for i, n in enumerate(POINT_NAMES)}
NUM_POINTS = len(POINT_NAMES)

#: The 16 MPII annotation ids 0..15 in order.
MPII16_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
    "l_wrist")
#: PoseTrack 2018's 17 keypoints (the ears exist in the list but are never labeled).
POSETRACK17_NAMES: tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
_POSETRACK_UNUSED = (3, 4)
_ALIASES = {"chin": "upper_neck", "forehead": "head_top", "head_bottom": "upper_neck"}


def _point_name(name: str) -> str:
    name = _ALIASES.get(name, name)
    if name.startswith("left_"):
        name = "l_" + name[5:]
    elif name.startswith("right_"):
        name = "r_" + name[6:]
    if name not in POINT_INDEX:
        raise ValueError(f"the synthetic figure has no point {name!r}")
    return name


def joint_indices(joints: Union[JointSet, str, Sequence[str]]) -> np.ndarray:
    """Indices into :data:`POINT_NAMES` of a joint set (a JointSet, its name, or names).

    Accepted names: "mpii14", "coco17", "mpii16", "posetrack17" or a list of point names.
    """
    if isinstance(joints, JointSet):
        names: Sequence[str] = joints.names
    elif isinstance(joints, str):
        if joints == "mpii16":
            names = MPII16_NAMES
        elif joints == "posetrack17":
            names = POSETRACK17_NAMES
        else:
            names = get_joint_set(joints).names
    else:
        names = joints
    return np.array([POINT_INDEX[_point_name(n)] for n in names], dtype=np.int64)


# Consistency with arttrack.joints (fails loudly at import if someone reorders a list).
assert [MPII16_NAMES[i] for i in MPII14_FROM_MPII16] == [
    _point_name(n) for n in MPII14.names], "MPII14_FROM_MPII16 disagrees with MPII16_NAMES"

# ----------------------------------------------------------------------------- parts
# Part ids (label = part + 1 in the per-person label map; 0 = background).
TORSO, NECK, HEAD, HAIR = 0, 1, 2, 3
R_UARM, R_FARM, R_HAND, L_UARM, L_FARM, L_HAND = 4, 5, 6, 7, 8, 9
R_THIGH, R_SHIN, R_FOOT, L_THIGH, L_SHIN, L_FOOT = 10, 11, 12, 13, 14, 15
NUM_PARTS = 16
_OWNER_STRIDE = 32  # owner map value = person * 32 + part + 1

# Parts a point may lie on to count as visible.
_POINT_PARTS: dict[str, tuple[int, ...]] = {
    "r_ankle": (R_SHIN, R_FOOT), "r_knee": (R_THIGH, R_SHIN), "r_hip": (TORSO, R_THIGH),
    "l_hip": (TORSO, L_THIGH), "l_knee": (L_THIGH, L_SHIN), "l_ankle": (L_SHIN, L_FOOT),
    "r_wrist": (R_FARM, R_HAND), "r_elbow": (R_UARM, R_FARM), "r_shoulder": (TORSO, R_UARM),
    "l_shoulder": (TORSO, L_UARM), "l_elbow": (L_UARM, L_FARM), "l_wrist": (L_FARM, L_HAND),
    "upper_neck": (NECK, HEAD, HAIR), "head_top": (HEAD, HAIR), "pelvis": (TORSO,),
    "thorax": (TORSO, NECK), "nose": (HEAD,), "l_eye": (HEAD,), "r_eye": (HEAD,),
    "l_ear": (HEAD, HAIR), "r_ear": (HEAD, HAIR)}
# allowed[point, part] as a (NUM_POINTS, NUM_PARTS) bool table.
_ALLOWED = np.zeros((NUM_POINTS, NUM_PARTS + 1), dtype=bool)
for _n, _parts in _POINT_PARTS.items():
    for _q in _parts:
        _ALLOWED[POINT_INDEX[_n], _q] = True
_ON_TORSO_SIDE = np.array([POINT_INDEX[n] for n in ("r_hip", "l_hip", "r_shoulder", "l_shoulder")])

# Limbs: (name, proximal point, distal point, side (+1 person's left), part, length key)
_LIMBS = (
    ("r_uarm", "r_shoulder", "r_elbow", -1, R_UARM, "uarm"),
    ("r_farm", "r_elbow", "r_wrist", -1, R_FARM, "farm"),
    ("l_uarm", "l_shoulder", "l_elbow", +1, L_UARM, "uarm"),
    ("l_farm", "l_elbow", "l_wrist", +1, L_FARM, "farm"),
    ("r_thigh", "r_hip", "r_knee", -1, R_THIGH, "thigh"),
    ("r_shin", "r_knee", "r_ankle", -1, R_SHIN, "shin"),
    ("l_thigh", "l_hip", "l_knee", +1, L_THIGH, "thigh"),
    ("l_shin", "l_knee", "l_ankle", +1, L_SHIN, "shin"),
)
NUM_LIMBS = len(_LIMBS)
# Joint limits [abduction, flexion] (radians) per limb, used to clip sampled/animated poses.
_LIMB_LO = np.array([[-0.35, -0.9], [-0.6, -0.9], [-0.35, -0.9], [-0.6, -0.9],
                     [-0.25, -0.5], [-0.35, -2.0], [-0.25, -0.5], [-0.35, -2.0]])
_LIMB_HI = np.array([[2.9, 2.6], [3.0, 3.0], [2.9, 2.6], [3.0, 3.0],
                     [0.9, 2.0], [0.9, 1.4], [0.9, 2.0], [0.9, 1.4]])


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class SyntheticConfig:
    """Scene parameters. Immutable; derive variants with :func:`dataclasses.replace`.

    Attributes:
        width, height: image size in pixels.
        num_people: inclusive (min, max) number of people per image / clip.
        joint_set: joint set of the returned keypoints ("mpii14", "coco17", "mpii16",
            "posetrack17").
        person_height: (min, max) standing height of a person as a fraction of the image
            height.
        truncation: probability that a person (in still images) is placed partly outside.
        clutter: (min, max) number of background shapes.
        noise: maximum amplitude of the additive pixel noise (0 disables it).
        blur_prob: probability of a light Gaussian blur of the whole image.
        self_occlusion: mark joints hidden by the person's own parts as occluded.
        walking: share of people (in still images) drawn in a walking pose seen from the
            side, the poses of the people walking through :func:`generate_clip`'s clips.
        facing_cues: draw where a person faces, as a real head shows it: dark eyes on a
            face turned to the camera and, seen from the side, the hair towards the back of
            the head (without them the head of a figure in profile looks the same facing
            left or right, and its left and right joints can only be guessed).
        clip_frames: share of still images cut from a clip instead (see
            :func:`generate_clip_window`): a window of this size out of a random frame of a
            :func:`generate_clip` clip drawn :data:`CLIP_WINDOW_ZOOM` times taller (4:3),
            with ``num_people`` people of the same pixel heights as ``person_height`` gives
            here, walkers crossing and passing in front of people standing still.
    """

    width: int = 256
    height: int = 256
    num_people: tuple[int, int] = (1, 3)
    joint_set: str = "mpii14"
    person_height: tuple[float, float] = (0.45, 0.95)
    truncation: float = 0.15
    clutter: tuple[int, int] = (3, 12)
    noise: float = 6.0
    blur_prob: float = 0.3
    self_occlusion: bool = True
    walking: float = 0.0
    facing_cues: bool = False
    clip_frames: float = 0.0

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise ValueError(f"image size must be at least 16x16, got {self.width}x{self.height}")
        lo, hi = self.num_people
        if not 0 <= lo <= hi:
            raise ValueError(f"num_people must be 0 <= min <= max, got {self.num_people}")
        plo, phi = self.person_height
        if not 0.02 <= plo <= phi <= 3.0:
            raise ValueError(f"person_height must be 0.02 <= min <= max <= 3, got "
                             f"{self.person_height}")
        if not 0.0 <= self.truncation <= 1.0 or not 0.0 <= self.blur_prob <= 1.0:
            raise ValueError("truncation and blur_prob must be probabilities")
        if self.clutter[0] < 0 or self.clutter[0] > self.clutter[1]:
            raise ValueError(f"clutter must be 0 <= min <= max, got {self.clutter}")
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        if not 0.0 <= self.walking <= 1.0:
            raise ValueError(f"walking must be a share in [0, 1], got {self.walking}")
        if not 0.0 <= self.clip_frames <= 1.0:
            raise ValueError(f"clip_frames must be a share in [0, 1], got {self.clip_frames}")
        joint_indices(self.joint_set)  # validates the name

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.width, self.height


def _rng(seed: RngLike) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- body
@dataclass(frozen=True, eq=False)
class Body:
    """A person's identity: proportions (fractions of the height), widths, appearance."""

    lengths: dict[str, float]
    radii: dict[str, float]
    palette: np.ndarray  # (NUM_PARTS + 1, 3) float32 colour per label (0 unused)
    textured: np.ndarray  # (NUM_PARTS + 1,) bool: the stripes/noise texture applies
    texture: int  # 0 plain, 1 stripes, 2 noise
    stripe_period: float  # fraction of the height
    stripe_angle: float
    texture_amp: float


def _skin(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.uniform(5, 20), rng.uniform(60, 170), rng.uniform(70, 240)]]],
                   np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _colour(rng: np.random.Generator, dark: bool = False) -> np.ndarray:
    if dark:
        return rng.uniform(10, 90, 3).astype(np.float32)
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0, 255), rng.uniform(30, 255)]]],
                   np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def sample_body(rng: RngLike) -> Body:
    """A random identity: proportions within +-10 %, widths, clothes colours, texture."""
    rng = _rng(rng)
    j = lambda m, s=0.08: float(m * (1.0 + rng.uniform(-s, s)))  # noqa: E731
    lengths = {"head": j(0.155, 0.06), "neck": j(0.03, 0.2), "torso": j(0.29), "shoulder": j(0.11),
               "hip": j(0.075), "uarm": j(0.165), "farm": j(0.15), "thigh": j(0.24),
               "shin": j(0.235), "foot": j(0.065)}
    w = rng.uniform(0.85, 1.25)
    radii = {"uarm": 0.030 * w, "farm": 0.024 * w, "thigh": 0.043 * w, "shin": 0.032 * w,
             "neck": 0.028 * w, "torso_depth": 0.075 * w, "hand": 0.027 * w, "foot": 0.022 * w}
    skin, shirt, pants = _skin(rng), _colour(rng), _colour(rng)
    hair = _colour(rng, dark=rng.random() < 0.7)
    shoes = _colour(rng, dark=True)
    long_sleeves, shorts = rng.random() < 0.5, rng.random() < 0.25
    pal = np.zeros((NUM_PARTS + 1, 3), np.float32)
    for part, col in ((TORSO, shirt), (NECK, skin), (HEAD, skin), (HAIR, hair),
                      (R_UARM, shirt), (L_UARM, shirt), (R_HAND, skin), (L_HAND, skin),
                      (R_FARM, shirt if long_sleeves else skin),
                      (L_FARM, shirt if long_sleeves else skin),
                      (R_THIGH, pants), (L_THIGH, pants), (R_FOOT, shoes), (L_FOOT, shoes),
                      (R_SHIN, skin if shorts else pants), (L_SHIN, skin if shorts else pants)):
        pal[part + 1] = col
    textured = np.zeros(NUM_PARTS + 1, bool)
    for part in (TORSO, R_UARM, L_UARM, R_THIGH, L_THIGH):
        textured[part + 1] = True
    for part in (R_FARM, L_FARM):
        textured[part + 1] = long_sleeves
    for part in (R_SHIN, L_SHIN):
        textured[part + 1] = not shorts
    return Body(lengths=lengths, radii=radii, palette=pal, textured=textured,
                texture=int(rng.choice(3, p=[0.4, 0.4, 0.2])),
                stripe_period=float(rng.uniform(0.02, 0.07)),
                stripe_angle=float(rng.uniform(0, np.pi)),
                texture_amp=float(rng.uniform(0.2, 0.5)))


# ----------------------------------------------------------------------------- pose
@dataclass(frozen=True, eq=False)
class Pose:
    """Where a person is and how it is articulated.

    Attributes:
        x, y: pelvis position in pixels.
        height: standing height in pixels (all lengths are fractions of it).
        yaw: body turn, 0 = facing the camera, +pi/2 = facing image-right, pi = back.
        lean: in-plane rotation of the whole body (radians, positive = clockwise on screen).
        head_tilt: extra in-plane rotation of the head about the upper neck.
        limbs: (8, 2) [abduction, flexion] per limb in the order r_uarm, r_farm, l_uarm,
            l_farm, r_thigh, r_shin, l_thigh, l_shin. Directions are absolute (relative
            to the torso, not to the parent limb): abduction moves the limb sideways away
            from the body, flexion forwards; (0, 0) hangs straight down.
    """

    x: float
    y: float
    height: float
    yaw: float = 0.0
    lean: float = 0.0
    head_tilt: float = 0.0
    limbs: np.ndarray = field(default_factory=lambda: np.zeros((NUM_LIMBS, 2)))


def sample_pose(rng: RngLike, x: float, y: float, height: float) -> Pose:
    """A random static pose within the joint limits (standing, reaching, kicking, ...)."""
    rng = _rng(rng)
    u = rng.random()
    if u < 0.55:
        yaw = rng.uniform(-0.9, 0.9)
    elif u < 0.8:
        yaw = rng.choice([-1.0, 1.0]) * rng.uniform(0.9, 2.0)
    else:
        yaw = np.pi + rng.uniform(-0.7, 0.7)
    lean = rng.uniform(-0.2, 0.2) if rng.random() < 0.9 else rng.uniform(-1.0, 1.0)
    limbs = np.zeros((NUM_LIMBS, 2))
    for k in (0, 2):  # arms: upper arm, then forearm relative to it (elbow flexes forward)
        abd = rng.uniform(-0.2, 2.7) * (0.4 if rng.random() < 0.5 else 1.0)
        flex = rng.uniform(-0.6, 2.2) * (0.5 if rng.random() < 0.5 else 1.0)
        limbs[k] = abd, flex
        limbs[k + 1] = abd + rng.uniform(-0.5, 0.6), flex + rng.uniform(0.0, 2.3)
    big = rng.random() < 0.15  # sitting / kneeling / kicking
    for k in (4, 6):  # legs: thigh, then shin (knee flexes backwards)
        abd = rng.uniform(-0.1, 0.45) if not big else rng.uniform(-0.1, 0.8)
        flex = rng.uniform(-0.35, 0.5) if not big else rng.uniform(0.3, 1.8)
        limbs[k] = abd, flex
        knee = rng.uniform(0.0, 0.5) if not big else rng.uniform(0.0, 2.2)
        limbs[k + 1] = abd + rng.uniform(-0.15, 0.15), flex - knee
    limbs = np.clip(limbs, _LIMB_LO, _LIMB_HI)
    return Pose(x=float(x), y=float(y), height=float(height), yaw=float(yaw), lean=float(lean),
                head_tilt=float(rng.uniform(-0.35, 0.35)), limbs=limbs)


def sample_walking_pose(rng: RngLike, x: float, y: float, height: float) -> Pose:
    """A random phase of the side-on walk of :func:`generate_clip`'s walkers."""
    rng = _rng(rng)
    d = 1.0 if rng.random() < 0.5 else -1.0
    limbs = np.clip(_walk_limbs(float(rng.uniform(0, 2 * np.pi))), _LIMB_LO, _LIMB_HI)
    return Pose(x=float(x), y=float(y), height=float(height),
                yaw=float(d * (np.pi / 2) + rng.uniform(-0.35, 0.35)),
                lean=float(d * rng.uniform(0.0, 0.08)), head_tilt=float(rng.uniform(-0.1, 0.1)),
                limbs=limbs)


def _limb_dir(abd: float, flex: float, side: int) -> np.ndarray:
    ca = math.cos(abd)
    return np.array([side * math.sin(abd), ca * math.cos(flex), ca * math.sin(flex)])


class _Geometry(NamedTuple):
    pts: np.ndarray  # (NUM_POINTS + 2, 2) image coordinates (+ r_toe, l_toe)
    depth: np.ndarray  # (NUM_POINTS + 2,) depth toward the camera in units of height
    self_visible: np.ndarray  # (NUM_POINTS,) bool (face points turned away are False)


_R_TOE, _L_TOE = NUM_POINTS, NUM_POINTS + 1


def _geometry(body: Body, pose: Pose) -> _Geometry:
    L = body.lengths
    p3 = np.zeros((NUM_POINTS + 2, 3))
    torso = L["torso"]
    p3[POINT_INDEX["thorax"]] = (0.0, -torso, 0.0)
    p3[POINT_INDEX["l_shoulder"]] = (L["shoulder"], -torso, 0.0)
    p3[POINT_INDEX["r_shoulder"]] = (-L["shoulder"], -torso, 0.0)
    p3[POINT_INDEX["l_hip"]] = (L["hip"], 0.0, 0.0)
    p3[POINT_INDEX["r_hip"]] = (-L["hip"], 0.0, 0.0)
    for k, (_, a, b, side, _, key) in enumerate(_LIMBS):
        abd, flex = pose.limbs[k]
        p3[POINT_INDEX[b]] = p3[POINT_INDEX[a]] + L[key] * _limb_dir(abd, flex, side)
    foot = np.array([0.0, 0.25, 0.97]) * L["foot"]
    p3[_R_TOE] = p3[POINT_INDEX["r_ankle"]] + foot
    p3[_L_TOE] = p3[POINT_INDEX["l_ankle"]] + foot
    hl = L["head"]
    neck = p3[POINT_INDEX["upper_neck"]] = (0.0, -torso - L["neck"], 0.0)
    c = np.array(neck) + (0.0, -0.5 * hl, 0.0)
    p3[POINT_INDEX["head_top"]] = c + (0.0, -0.5 * hl, 0.0)
    p3[POINT_INDEX["nose"]] = c + hl * np.array([0.0, 0.12, 0.40])
    p3[POINT_INDEX["l_eye"]] = c + hl * np.array([0.15, 0.0, 0.33])
    p3[POINT_INDEX["r_eye"]] = c + hl * np.array([-0.15, 0.0, 0.33])
    p3[POINT_INDEX["l_ear"]] = c + hl * np.array([0.34, 0.04, -0.03])
    p3[POINT_INDEX["r_ear"]] = c + hl * np.array([-0.34, 0.04, -0.03])
    # yaw about the vertical axis, then orthographic projection and in-plane lean
    cy, sy = math.cos(pose.yaw), math.sin(pose.yaw)
    x = p3[:, 0] * cy + p3[:, 2] * sy
    z = -p3[:, 0] * sy + p3[:, 2] * cy
    y = p3[:, 1]
    cl, sl = math.cos(pose.lean), math.sin(pose.lean)
    pts = np.empty((len(p3), 2))
    pts[:, 0] = pose.x + pose.height * (x * cl - y * sl)
    pts[:, 1] = pose.y + pose.height * (x * sl + y * cl)
    # head tilt about the upper neck
    hidx = [POINT_INDEX[n] for n in ("head_top", "nose", "l_eye", "r_eye", "l_ear", "r_ear")]
    ct, st = math.cos(pose.head_tilt), math.sin(pose.head_tilt)
    d = pts[hidx] - pts[POINT_INDEX["upper_neck"]]
    pts[hidx] = pts[POINT_INDEX["upper_neck"]] + np.stack([d[:, 0] * ct - d[:, 1] * st,
                                                  d[:, 0] * st + d[:, 1] * ct], axis=1)
    # face points face the camera when their outward normal does
    self_vis = np.ones(NUM_POINTS, bool)
    for name, nx, nz, thr in (("nose", 0.0, 1.0, 0.05), ("l_eye", 0.45, 0.9, 0.05),
                              ("r_eye", -0.45, 0.9, 0.05), ("l_ear", 1.0, 0.0, -0.35),
                              ("r_ear", -1.0, 0.0, -0.35)):
        self_vis[POINT_INDEX[name]] = (-nx * sy + nz * cy) > thr
    return _Geometry(pts, z, self_vis)


# ----------------------------------------------------------------------------- drawing
_SHIFT = 4
_ONE = 1 << _SHIFT


class _Drawn(NamedTuple):
    roi: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) in the image
    label: np.ndarray  # uint8 part + 1 inside the roi


def _draw_person(image: np.ndarray, owner: np.ndarray, index: int, body: Body, pose: Pose,
                 geo: _Geometry, rng: np.random.Generator,
                 facing_cues: bool = False) -> Optional[_Drawn]:
    """Draw one person on ``image`` and ``owner`` (in place); None when fully outside."""
    H, W = image.shape[:2]
    h = pose.height
    pts, z = geo.pts, geo.depth
    R = body.radii
    margin = max(R["thigh"], R["torso_depth"], 0.4 * body.lengths["head"]) * h + 3
    x0 = max(int(math.floor(pts[:, 0].min() - margin)), 0)
    y0 = max(int(math.floor(pts[:, 1].min() - margin)), 0)
    x1 = min(int(math.ceil(pts[:, 0].max() + margin)) + 1, W)
    y1 = min(int(math.ceil(pts[:, 1].max() + margin)) + 1, H)
    if x1 <= x0 or y1 <= y0:
        return None
    lab = np.zeros((y1 - y0, x1 - x0), np.uint8)
    q = pts - (x0, y0)

    def t(r: float) -> int:
        return max(2, int(round(2.0 * r * h)))

    P = POINT_INDEX
    items: list[tuple[float, int, tuple]] = []  # (depth key, part, shape)
    Q = [tuple(v) for v in np.rint(q * _ONE).astype(np.int64).tolist()]  # fixed point
    zl = z.tolist()
    # torso: a quadrilateral, wider across the shoulders, with depth when turned sideways
    cy, sy = abs(math.cos(pose.yaw)), abs(math.sin(pose.yaw))
    L = body.lengths
    ws = h * max(L["shoulder"] * cy + 0.5 * R["uarm"], R["torso_depth"] * sy + 0.02)
    wh = h * max(L["hip"] * cy + 0.6 * R["thigh"], 0.9 * R["torso_depth"] * sy + 0.02)
    n = np.array([math.cos(pose.lean), math.sin(pose.lean)])
    up = q[P["thorax"]] - q[P["pelvis"]]
    up /= max(np.linalg.norm(up), 1e-6)
    top = q[P["thorax"]] + 0.02 * h * up
    bot = q[P["pelvis"]] - 0.04 * h * up
    quad = np.array([top - ws * n, top + ws * n, bot + wh * n, bot - wh * n])
    items.append((0.0, TORSO, ("poly", np.rint(quad * _ONE).astype(np.int32))))
    items.append((zl[P["upper_neck"]] + 1e-4, NECK,
                  ("line", Q[P["upper_neck"]], Q[P["thorax"]], t(R["neck"]))))
    for k, (_, a, b, _, part, key) in enumerate(_LIMBS):
        ia, ib = P[a], P[b]
        items.append((0.5 * (zl[ia] + zl[ib]) + (2e-3 if k < 4 else 1e-3), part,
                      ("line", Q[ia], Q[ib], t(R[key]))))
    rh = int(round(max(1.0, R["hand"] * h) * _ONE))
    for wrist, part in (("r_wrist", R_HAND), ("l_wrist", L_HAND)):
        items.append((zl[P[wrist]] + 2.5e-3, part, ("circle", Q[P[wrist]], rh)))
    for ankle, toe, part in (("r_ankle", _R_TOE, R_FOOT), ("l_ankle", _L_TOE, L_FOOT)):
        items.append((zl[P[ankle]] + 1.5e-3, part, ("line", Q[P[ankle]], Q[toe], t(R["foot"]))))
    # head ellipse and a hair cap (the whole head seen from behind)
    neck, htop = q[P["upper_neck"]], q[P["head_top"]]
    axis = htop - neck
    hl = max(float(np.linalg.norm(axis)), 1.0)
    ang = math.degrees(math.atan2(axis[1], axis[0]))
    centre = 0.5 * (neck + htop)
    hz = 0.5 * (zl[P["upper_neck"]] + zl[P["head_top"]]) + 3e-3
    fx = lambda p: (int(round(p[0] * _ONE)), int(round(p[1] * _ONE)))  # noqa: E731
    fa = lambda a, b: (int(round(a * hl * _ONE)), int(round(b * hl * _ONE)))  # noqa: E731
    items.append((hz, HEAD, ("ellipse", fx(centre), fa(0.56, 0.42), ang, 0, 360)))
    back = math.cos(pose.yaw) < -0.2
    hair_c = centre if back else centre + 0.12 * axis
    span = 180 if back else 80
    cap = ang
    if facing_cues and not back:
        # seen from the side the hair sits on the back of the head: the forward direction
        # projects to sin(yaw) along the head's image x axis (perpendicular to its axis)
        side = math.sin(pose.yaw)
        u = axis / hl
        hair_c = hair_c - 0.12 * hl * side * np.array([-u[1], u[0]])
        cap = ang - 50.0 * side
    items.append((hz + 1e-4, HAIR, ("ellipse", fx(hair_c), fa(0.47, 0.44), cap, -span, span)))
    if facing_cues:
        r_eye = int(round(max(0.8, 0.07 * hl) * _ONE))
        for eye in ("l_eye", "r_eye"):
            if geo.self_visible[P[eye]]:
                items.append((hz + 2e-4, HEAD, ("eye", Q[P[eye]], r_eye, (25.0, 20.0, 20.0))))
    items.sort(key=lambda it: it[0])
    # colours: palette, far-side limbs a little darker
    pal = body.palette.copy()
    for k, (_, a, b, _, part, _) in enumerate(_LIMBS):
        if zl[P[a]] + zl[P[b]] < -0.02:
            pal[part + 1] *= 0.78
    for hand, wrist in ((R_HAND, "r_wrist"), (L_HAND, "l_wrist")):
        if zl[P[wrist]] < -0.02:
            pal[hand + 1] *= 0.78
    if back:
        pal[HEAD + 1] = pal[HAIR + 1]
    colours = [tuple(c) for c in np.clip(pal, 0, 255).tolist()]
    col = np.zeros(lab.shape + (3,), np.uint8)
    for _, part, shape in items:
        kind = shape[0]
        colour = shape[3] if kind == "eye" else colours[part + 1]
        for buf, c in ((lab, part + 1), (col, colour)):
            if kind == "line":
                cv2.line(buf, shape[1], shape[2], c, shape[3], cv2.LINE_8, _SHIFT)
            elif kind == "poly":
                cv2.fillConvexPoly(buf, shape[1], c, cv2.LINE_8, _SHIFT)
            elif kind in ("circle", "eye"):
                cv2.circle(buf, shape[1], shape[2], c, -1, cv2.LINE_8, _SHIFT)
            else:
                cv2.ellipse(buf, shape[1], shape[2], shape[3], shape[4], shape[5], c, -1,
                            cv2.LINE_8, _SHIFT)
    mask = lab > 0
    mask8 = mask.view(np.uint8)
    if not mask.any():
        return None
    if body.texture:  # stripes or noise on the clothes
        tlut = np.zeros(256, np.uint8)
        tlut[:NUM_PARTS + 1] = body.textured
        tex = cv2.LUT(lab, tlut).view(bool)
        if body.texture == 1:
            ys = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(pose.y)
            xs = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(pose.x)
            period = max(body.stripe_period * h, 3.0)
            phase = (xs * np.float32(math.cos(body.stripe_angle) / period)
                     + ys * np.float32(math.sin(body.stripe_angle) / period))
            dark = tex & ((phase - np.floor(phase)) < 0.5)
            d8 = dark.view(np.uint8)
            np.copyto(col, cv2.convertScaleAbs(col, alpha=1.0 - body.texture_amp),
                      where=cv2.merge((d8, d8, d8)).view(bool))
        else:
            mod = 1.0 - body.texture_amp * 0.6 * rng.random(lab.shape, dtype=np.float32)
            t8 = tex.view(np.uint8)
            np.copyto(col, (col * mod[..., None]).astype(np.uint8),
                      where=cv2.merge((t8, t8, t8)).view(bool))
    np.copyto(image[y0:y1, x0:x1], col, where=cv2.merge((mask8, mask8, mask8)).view(bool))
    np.copyto(owner[y0:y1, x0:x1], lab.astype(np.uint16) + np.uint16(index * _OWNER_STRIDE),
              where=mask)
    return _Drawn((x0, y0, x1, y1), lab)


# ----------------------------------------------------------------------------- background
def random_background(rng: RngLike, width: int, height: int,
                      clutter: tuple[int, int] = (3, 12)) -> np.ndarray:
    """A random RGB background: a smooth gradient with low-frequency noise and clutter
    (rectangles, circles, ellipses, polygons, lines, limb-like capsules, grids)."""
    rng = _rng(rng)
    g = 8
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:g, 0:g] / (g - 1.0)
    tt = (xx * math.cos(a) + yy * math.sin(a))
    tt = (tt - tt.min()) / max(np.ptp(tt), 1e-6)
    small = c0 + (c1 - c0) * tt[..., None] + rng.normal(0, rng.uniform(5, 35), (g, g, 3))
    small = np.clip(small, 0, 255).astype(np.uint8)
    bg = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    s = max(width, height)
    for _ in range(int(rng.integers(clutter[0], clutter[1] + 1))):
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 7))
        p = (int(rng.integers(-s // 8, width + s // 8)),
             int(rng.integers(-s // 8, height + s // 8)))
        r = int(rng.integers(max(2, s // 40), max(3, s // 5)))
        if kind == 0:
            cv2.rectangle(bg, p, (p[0] + int(rng.integers(-2 * r, 2 * r)),
                                  p[1] + int(rng.integers(-2 * r, 2 * r))), col,
                          -1 if rng.random() < 0.7 else int(rng.integers(1, 5)))
        elif kind == 1:
            cv2.circle(bg, p, r, col, -1 if rng.random() < 0.7 else int(rng.integers(1, 5)))
        elif kind == 2:
            cv2.ellipse(bg, p, (r, max(1, int(r * rng.uniform(0.2, 1.0)))),
                        float(rng.uniform(0, 180)), 0, 360, col, -1)
        elif kind == 3:
            k = int(rng.integers(3, 7))
            poly = (np.array(p) + rng.integers(-r, r + 1, (k, 2))).astype(np.int32)
            cv2.fillPoly(bg, [poly], col)
        elif kind == 4:  # limb-like distractor: a capsule
            q = (p[0] + int(rng.integers(-2 * r, 2 * r + 1)),
                 p[1] + int(rng.integers(-2 * r, 2 * r + 1)))
            cv2.line(bg, p, q, col, int(rng.integers(2, max(3, s // 25))))
        elif kind == 5:
            q = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(bg, p, q, col, int(rng.integers(1, 4)))
        else:  # a grid (tiles, windows, fences)
            step = int(rng.integers(max(4, s // 30), max(5, s // 8)))
            x0, y0 = p
            w, h = int(rng.integers(r, 3 * r + 1)), int(rng.integers(r, 3 * r + 1))
            for gx in range(x0, x0 + w + 1, step):
                cv2.line(bg, (gx, y0), (gx, y0 + h), col, 1)
            for gy in range(y0, y0 + h + 1, step):
                cv2.line(bg, (x0, gy), (x0 + w, gy), col, 1)
    return bg


_NOISE_BANK: Optional[np.ndarray] = None
_NOISE_STD = 40.0


def _noise_bank() -> np.ndarray:
    """A fixed bank of uint8 noise (mean 128, std 40), cropped at random offsets, so that
    per-image noise is one saturating ``addWeighted`` (fast and deterministic)."""
    global _NOISE_BANK
    if _NOISE_BANK is None:
        g = np.random.default_rng(12345).normal(128.0, _NOISE_STD, (1024, 1024, 3))
        _NOISE_BANK = np.clip(g, 0, 255).astype(np.uint8)
    return _NOISE_BANK


def _finish(image: np.ndarray, rng: np.random.Generator, cfg: SyntheticConfig) -> np.ndarray:
    if cfg.blur_prob > 0 and rng.random() < cfg.blur_prob:
        image = cv2.GaussianBlur(image, (3, 3), float(rng.uniform(0.4, 1.0)))
    if cfg.noise > 0:
        amp = float(rng.uniform(0, cfg.noise))  # std of the added noise in grey levels
        if amp >= 0.5:
            bank = _noise_bank()
            H, W = image.shape[:2]
            if H > bank.shape[0] or W > bank.shape[1]:
                bank = np.pad(bank, ((0, max(0, H - bank.shape[0])),
                                     (0, max(0, W - bank.shape[1])), (0, 0)), mode="wrap")
            oy = int(rng.integers(0, bank.shape[0] - H + 1))
            ox = int(rng.integers(0, bank.shape[1] - W + 1))
            beta = amp / _NOISE_STD
            image = cv2.addWeighted(image, 1.0, bank[oy:oy + H, ox:ox + W], beta,
                                    -128.0 * beta)
    return image


# ----------------------------------------------------------------------------- people
@dataclass(eq=False)
class SyntheticPerson:
    """Ground truth of one drawn person.

    Attributes:
        points: (NUM_POINTS, 3) float32 x, y, v over :data:`POINT_NAMES` (v in 0/1/2;
            x = y = 0 where v = 0).
        true_points: (NUM_POINTS, 2) float32 positions including those outside the image.
        track_id: identity (persistent through a clip; the drawing index in images).
        height: standing height in pixels.
        depth_rank: drawing order (0 = farthest).
        roi: x0, y0, x1, y1 (exclusive) box of the drawn pixels' region.
        visible_area: number of pixels of this person visible in the image.
    """

    points: np.ndarray
    true_points: np.ndarray
    track_id: int
    height: float
    depth_rank: int
    roi: tuple[int, int, int, int]
    visible_area: int = 0

    def keypoints(self, joints: Union[JointSet, str, Sequence[str]] = "mpii14") -> np.ndarray:
        """(J, 3) float32 x, y, v of a joint set (see :func:`joint_indices`)."""
        return self.points[joint_indices(joints)].copy()

    def head_box(self) -> np.ndarray:
        """Axis-aligned head box x1, y1, x2, y2: a 1.0 x 1.2 head-lengths rectangle along the
        upper-neck -> head-top axis (PCKh: 0.6 * diagonal is about the head length)."""
        neck, top = self.true_points[POINT_INDEX["upper_neck"]], self.true_points[POINT_INDEX["head_top"]]
        axis = top - neck
        hl = max(float(np.linalg.norm(axis)), 1e-3)
        u = axis / hl
        v = np.array([-u[1], u[0]])
        c = 0.5 * (neck + top)
        ext = np.abs(u) * 0.6 * hl + np.abs(v) * 0.5 * hl
        return np.concatenate([c - ext, c + ext]).astype(np.float32)

    @property
    def in_image(self) -> bool:
        return bool((self.points[:, 2] > 0).any()) or self.visible_area > 0


@dataclass(eq=False)
class Scene:
    """A rendered image with everything known about it.

    Attributes:
        image: uint8 H x W x 3 RGB.
        people: drawn people, back to front.
        owner: uint16 H x W map; 0 = background, else ``person_index * 32 + part + 1``
            where person_index indexes ``people``.
        background: the RGB image before any person was drawn (before noise/blur).
    """

    image: np.ndarray
    people: list[SyntheticPerson]
    owner: np.ndarray
    background: np.ndarray

    def person_mask(self, index: int) -> np.ndarray:
        """bool H x W mask of the visible pixels of ``people[index]``."""
        o = self.owner.astype(np.int32) - 1
        return (o >= 0) & (o // _OWNER_STRIDE == index)


def render_people(background: np.ndarray, people: Sequence[tuple[Body, Pose]],
                  rng: RngLike = 0, *, track_ids: Optional[Sequence[int]] = None,
                  self_occlusion: bool = True, facing_cues: bool = False) -> Scene:
    """Draw ``people`` (back to front, as given) on a copy of ``background``
    (``facing_cues``: see :class:`SyntheticConfig`).

    No noise or blur is added (see :func:`generate_scene`). Persons entirely outside the
    image are still returned (all joints v=0).
    """
    rng = _rng(rng)
    image = background.copy()
    H, W = image.shape[:2]
    owner = np.zeros((H, W), np.uint16)
    geos = []
    rois = []
    for i, (body, pose) in enumerate(people):
        geo = _geometry(body, pose)
        drawn = _draw_person(image, owner, i, body, pose, geo, rng, facing_cues)
        geos.append(geo)
        rois.append(drawn.roi if drawn is not None else (0, 0, 0, 0))
    out: list[SyntheticPerson] = []
    for i, ((body, pose), geo) in enumerate(zip(people, geos)):
        pts = geo.pts[:NUM_POINTS]
        xr = np.floor(pts[:, 0] + 0.5).astype(np.int64)
        yr = np.floor(pts[:, 1] + 0.5).astype(np.int64)
        inside = (xr >= 0) & (xr < W) & (yr >= 0) & (yr < H)
        v = np.zeros(NUM_POINTS, np.float32)
        o = np.zeros(NUM_POINTS, np.int64)
        o[inside] = owner[yr[inside], xr[inside]].astype(np.int64) - 1
        mine = (o >= 0) & (o // _OWNER_STRIDE == i)
        part = np.where(mine, o % _OWNER_STRIDE, NUM_PARTS)
        if self_occlusion:
            visible = inside & mine & _ALLOWED[np.arange(NUM_POINTS), part] & geo.self_visible
            # shoulders/hips on the far side of a turned torso are behind it
            far = np.zeros(NUM_POINTS, bool)
            far[_ON_TORSO_SIDE] = geo.depth[_ON_TORSO_SIDE] < -0.04
            visible &= ~(far & (part == TORSO))
        else:  # only other (nearer) people occlude
            visible = inside & mine & geo.self_visible
        v[inside] = 1.0
        v[visible] = 2.0
        points = np.zeros((NUM_POINTS, 3), np.float32)
        points[:, :2] = np.where(inside[:, None], pts, 0.0)
        points[:, 2] = v
        x0, y0, x1, y1 = rois[i]
        area = 0
        if x1 > x0:
            ro = owner[y0:y1, x0:x1].astype(np.int32) - 1
            area = int(((ro >= 0) & (ro // _OWNER_STRIDE == i)).sum())
        out.append(SyntheticPerson(
            points=points, true_points=pts.astype(np.float32),
            track_id=int(track_ids[i]) if track_ids is not None else i,
            height=float(pose.height), depth_rank=i, roi=rois[i], visible_area=area))
    return Scene(image=image, people=out, owner=owner, background=background)


def _place(rng: np.random.Generator, cfg: SyntheticConfig, height: float) -> tuple[float, float]:
    """Pelvis position for a person of ``height`` px: inside, or truncated at a border."""
    W, H = cfg.width, cfg.height
    if rng.random() < cfg.truncation:
        side = int(rng.integers(0, 4))
        x = rng.uniform(0, W)
        y = rng.uniform(0.3 * height, H - 0.3 * height) if H > 0.6 * height else H / 2
        if side == 0:
            x = rng.uniform(-0.15, 0.05) * height
        elif side == 1:
            x = W + rng.uniform(-0.05, 0.15) * height
        elif side == 2:
            y = rng.uniform(-0.1, 0.3) * height
        else:
            y = H + rng.uniform(-0.4, -0.1) * height
        return float(x), float(y)
    mx = min(0.2 * height, 0.45 * W)
    x = rng.uniform(mx, W - mx)
    lo, hi = 0.48 * height, H - 0.5 * height
    y = rng.uniform(lo, hi) if hi > lo else rng.uniform(min(lo, hi), max(lo, hi))
    return float(x), float(y)


def generate_scene(rng: RngLike, config: Optional[SyntheticConfig] = None) -> Scene:
    """A random multi-person image with full ground truth (see :class:`Scene`)."""
    cfg = config or SyntheticConfig()
    rng = _rng(rng)
    if cfg.clip_frames > 0 and rng.random() < cfg.clip_frames:
        return generate_clip_window(rng, cfg)
    bg = random_background(rng, cfg.width, cfg.height, cfg.clutter)
    n = int(rng.integers(cfg.num_people[0], cfg.num_people[1] + 1))
    heights = np.sort(rng.uniform(*cfg.person_height, size=n)) * cfg.height  # far first
    people = []
    for h in heights:
        body = sample_body(rng)
        x, y = _place(rng, cfg, float(h))
        walk = cfg.walking > 0 and rng.random() < cfg.walking
        people.append((body, (sample_walking_pose if walk else sample_pose)(rng, x, y, float(h))))
    scene = render_people(bg, people, rng, self_occlusion=cfg.self_occlusion,
                          facing_cues=cfg.facing_cues)
    scene.image = _finish(scene.image, rng, cfg)
    return scene


def generate_image(rng: RngLike = 0, config: Optional[SyntheticConfig] = None
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """A random image and its people.

    Returns:
        image: uint8 H x W x 3 **RGB**.
        people: one (J, 3) float32 array x, y, v per person in ``config.joint_set``
            (v: 0 outside the image with x = y = 0, 1 occluded, 2 visible). People
            entirely outside the image are left out.
    """
    cfg = config or SyntheticConfig()
    scene = generate_scene(rng, cfg)
    return scene.image, [p.keypoints(cfg.joint_set) for p in scene.people if p.in_image]


class SyntheticPoseDataset:
    """An indexable, deterministic synthetic dataset (a GeneratorDataset source).

    ``ds[i]`` returns ``(image, joints)``: a uint8 H x W x 3 RGB image and a float32
    (P, J, 3) array (P may be 0), drawn from ``default_rng([seed, i])``.
    """

    def __init__(self, seed: int = 0, size: int = 10000,
                 config: Optional[SyntheticConfig] = None, **overrides: Any) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        cfg = config or SyntheticConfig()
        self.config = replace(cfg, **overrides) if overrides else cfg
        self.seed = int(seed)
        self.size = int(size)
        self._idx = joint_indices(self.config.joint_set)

    def __len__(self) -> int:
        return self.size

    def scene(self, index: int) -> Scene:
        if not -self.size <= index < self.size:
            raise IndexError(f"index {index} out of range for {self.size} samples")
        index %= self.size
        return generate_scene(np.random.default_rng([self.seed, index]), self.config)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        scene = self.scene(index)
        joints = [p.points[self._idx] for p in scene.people if p.in_image]
        arr = (np.stack(joints) if joints
               else np.zeros((0, len(self._idx), 3), np.float32)).astype(np.float32)
        return scene.image, arr


# ----------------------------------------------------------------------------- clips
@dataclass(eq=False)
class _Actor:
    body: Body
    track_id: int
    height: float
    walking: bool
    x0: float
    y0: float
    vx: float
    yaw: float
    lean: float
    phase0: float
    period: float
    base: np.ndarray  # (8, 2) idle base angles
    amp: np.ndarray
    freq: np.ndarray
    phase: np.ndarray


def _walk_limbs(phi: float) -> np.ndarray:
    s = math.sin(phi)
    limbs = np.zeros((NUM_LIMBS, 2))
    for k, sign, off in ((4, -1.0, 0.0), (6, 1.0, math.pi)):  # r thigh, l thigh
        flex = sign * 0.42 * s
        knee = 0.1 + 0.75 * max(0.0, math.cos(phi + off)) ** 1.5
        limbs[k] = 0.04, flex
        limbs[k + 1] = 0.04, flex - knee
    for k, sign in ((0, 1.0), (2, -1.0)):  # arms swing against the legs of the same side
        flex = sign * 0.38 * s
        limbs[k] = 0.08, flex
        limbs[k + 1] = 0.12, flex + 0.35 + 0.25 * max(0.0, sign * s)
    return limbs


def _actor_pose(a: _Actor, t: float) -> Pose:
    if a.walking:
        phi = a.phase0 + 2.0 * math.pi * t / a.period
        limbs = _walk_limbs(phi)
        x = a.x0 + a.vx * t
        y = a.y0 - 0.012 * a.height * math.cos(2.0 * phi)
        yaw = a.yaw
    else:
        limbs = a.base + a.amp * np.sin(a.freq * t + a.phase)
        x = a.x0 + 0.03 * a.height * math.sin(0.05 * t + a.phase0)
        y = a.y0 + 0.01 * a.height * math.sin(0.07 * t + 2 * a.phase0)
        yaw = a.yaw + 0.4 * math.sin(0.04 * t + a.phase0)
    limbs = np.clip(limbs, _LIMB_LO, _LIMB_HI)
    return Pose(x=x, y=y, height=a.height, yaw=yaw, lean=a.lean, head_tilt=0.1 * math.sin(
        0.1 * t + a.phase0), limbs=limbs)


class SyntheticClip(NamedTuple):
    """frames: list of uint8 H x W x 3 RGB; people: per frame, the people in the image
    (:class:`SyntheticPerson`, with persistent ``track_id``); fps: frame rate."""

    frames: list[np.ndarray]
    people: list[list[SyntheticPerson]]
    fps: float


def generate_clip(seed: RngLike, num_frames: int = 30,
                  config: Optional[SyntheticConfig] = None, fps: float = 25.0) -> SyntheticClip:
    """A short clip of people walking across (crossing each other's paths, entering and
    leaving the frame, passing in front of people standing still) on a static background.

    Identities are persistent: ``track_id`` k is always the same person. A person is listed
    in a frame when any of its joints is inside the image or any of its pixels is visible.
    Default image size for clips is whatever ``config`` says (e.g. 640 x 480).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    cfg = config or SyntheticConfig(width=640, height=480, num_people=(2, 4))
    rng = _rng(seed)
    bg, actors = _clip_actors(rng, num_frames, cfg, fps)
    frames: list[np.ndarray] = []
    people: list[list[SyntheticPerson]] = []
    for t in range(num_frames):
        posed = [(a.body, _actor_pose(a, float(t))) for a in actors]
        scene = render_people(bg, posed, rng, track_ids=[a.track_id for a in actors],
                              self_occlusion=cfg.self_occlusion, facing_cues=cfg.facing_cues)
        frames.append(_finish(scene.image, rng, replace(cfg, blur_prob=0.0)))
        people.append([p for p in scene.people if p.in_image])
    return SyntheticClip(frames=frames, people=people, fps=float(fps))


#: walkers whose heights differ by less than this share (the same distance from the camera)
#: ... cannot pass through each other: :func:`_walk_apart`
SAME_DEPTH = 0.1
#: ... they walk one behind the other this many heights apart
WALK_APART = 0.5


def _walk_apart(actors: list[_Actor], x0: float, vx: float, h: float,
                num_frames: int) -> tuple[float, float]:
    """Start and velocity of a walker so that it keeps :data:`WALK_APART` heights from every
    earlier walker going its way at the same depth (heights within :data:`SAME_DEPTH`).

    Two people at one distance from the camera cannot walk through each other, nor walk on
    top of each other for a whole clip (the walkers all head for one meeting point); in the
    image such a pair is one person drawn twice, which no tracker can separate. A walker
    that would come closer than that walks behind the other one at its pace. Walkers at
    different depths pass in front of or behind each other, which the clips are for. Draws
    no random numbers: a clip without such a pair is unchanged."""
    t = np.arange(max(int(num_frames), 1), dtype=np.float64)
    for _ in range(len(actors) + 1):
        near = next((b for b in actors
                     if b.walking and b.vx * vx > 0
                     and abs(b.height - h) < SAME_DEPTH * max(b.height, h)
                     and np.abs(x0 + vx * t - (b.x0 + b.vx * t)).min()
                     < WALK_APART * max(b.height, h) - 1e-9), None)
        if near is None:
            break
        vx = near.vx
        x0 = near.x0 - math.copysign(WALK_APART * max(near.height, h), vx)
    return x0, vx


def _clip_actors(rng: np.random.Generator, num_frames: int, cfg: SyntheticConfig,
                 fps: float) -> tuple[np.ndarray, list[_Actor]]:
    """The background and the people of a :func:`generate_clip` clip in ``cfg``'s frame:
    ``cfg.num_people`` people, the nearest always walking, the walkers meeting near one
    point at one time."""
    W, H = cfg.width, cfg.height
    bg = random_background(rng, W, H, cfg.clutter)
    n = int(rng.integers(cfg.num_people[0], cfg.num_people[1] + 1))
    plo, phi_ = cfg.person_height
    fr = np.sort(rng.uniform(plo, phi_, size=n))  # far (small) first
    t_meet = rng.uniform(0.3, 0.7) * (num_frames - 1)
    x_meet = rng.uniform(0.3, 0.7) * W
    actors: list[_Actor] = []
    walker = 0
    for k in range(n):
        h = float(fr[k] * H)
        span = max(phi_ - plo, 1e-6)
        foot = H * (0.62 + 0.33 * (fr[k] - plo) / span) + rng.uniform(-0.03, 0.03) * H
        y0 = foot - 0.49 * h
        walking = (k == n - 1) or rng.random() < 0.7 or n == 1
        body = sample_body(rng)
        if walking:
            d = 1.0 if walker % 2 == 0 else -1.0
            walker += 1
            speed = h * rng.uniform(0.02, 0.04)
            if rng.random() < 0.5:  # enter from outside the frame
                x0 = -0.3 * h if d > 0 else W + 0.3 * h
                speed = float(np.clip(abs(x_meet - x0) / max(t_meet, 1.0), 0.02 * h, 0.07 * h))
            else:
                x0 = x_meet - d * speed * t_meet + rng.uniform(-0.1, 0.1) * h
            x0, speed = _walk_apart(actors, float(x0), d * speed, h, num_frames)
            speed = abs(speed)
            actors.append(_Actor(
                body=body, track_id=k, height=h, walking=True, x0=float(x0), y0=float(y0),
                vx=float(d * speed), yaw=float(d * (math.pi / 2) + rng.uniform(-0.35, 0.35)),
                lean=float(d * rng.uniform(0.0, 0.08)), phase0=float(rng.uniform(0, 2 * np.pi)),
                period=float(rng.uniform(0.9, 1.2) * fps), base=np.zeros((NUM_LIMBS, 2)),
                amp=np.zeros((NUM_LIMBS, 2)), freq=np.zeros((NUM_LIMBS, 2)),
                phase=np.zeros((NUM_LIMBS, 2))))
        else:
            x0 = x_meet + rng.uniform(-0.15, 0.15) * W
            static = sample_pose(rng, x0, y0, h)
            base = static.limbs.copy()
            base[4:] = np.clip(base[4:], [-0.1, -0.3], [0.4, 0.4])  # standing legs
            amp = rng.uniform(0.0, 0.5, (NUM_LIMBS, 2))
            amp[4:] *= 0.2
            actors.append(_Actor(
                body=body, track_id=k, height=h, walking=False, x0=float(x0), y0=float(y0),
                vx=0.0, yaw=float(rng.uniform(-1.2, 1.2)), lean=float(rng.uniform(-0.08, 0.08)),
                phase0=float(rng.uniform(0, 2 * np.pi)), period=1.0, base=base, amp=amp,
                freq=rng.uniform(0.05, 0.2, (NUM_LIMBS, 2)),
                phase=rng.uniform(0, 2 * np.pi, (NUM_LIMBS, 2))))
    return bg, actors


#: a :func:`generate_clip_window` image's clip frame is this many times taller than the image
CLIP_WINDOW_ZOOM = 1.5
#: ... and that many frames long (the window shows one of them at random)
CLIP_WINDOW_FRAMES = 40


def generate_clip_window(rng: RngLike, config: Optional[SyntheticConfig] = None, *,
                         frame: Optional[int] = None,
                         window: Optional[tuple[int, int]] = None) -> Scene:
    """A still image that is a window of a clip: ``config``'s size out of frame ``frame``
    (random by default) of a :func:`generate_clip` clip of :data:`CLIP_WINDOW_FRAMES`
    frames, drawn in a 4:3 frame :data:`CLIP_WINDOW_ZOOM` times taller than the image, its
    people as tall in pixels as ``config.person_height`` makes them here. ``window``: its
    top-left corner in the clip frame (by default around a random person in the frame, at
    a random height). Points are in the window's coordinates and labelled as
    :func:`generate_scene` labels them (outside: v = 0).
    """
    cfg = config or SyntheticConfig()
    rng = _rng(rng)
    H = int(round(cfg.height * CLIP_WINDOW_ZOOM))
    W = max(int(round(H * 4 / 3)), cfg.width)
    lo, hi = cfg.person_height
    clip = replace(cfg, width=W, height=H, clip_frames=0.0,
                   person_height=(lo / CLIP_WINDOW_ZOOM, hi / CLIP_WINDOW_ZOOM))
    bg, actors = _clip_actors(rng, CLIP_WINDOW_FRAMES, clip, 25.0)
    t = int(rng.integers(0, CLIP_WINDOW_FRAMES)) if frame is None else int(frame)
    poses = [_actor_pose(a, float(t)) for a in actors]
    if window is None:  # around someone in the frame, when anyone is
        inside = [p.x for p in poses if 0 <= p.x < W]
        x = inside[int(rng.integers(0, len(inside)))] if inside else rng.uniform(0, W)
        x0 = int(np.clip(round(x + (rng.uniform(-0.35, 0.35) - 0.5) * cfg.width), 0, W - cfg.width))
        y0 = int(rng.integers(0, H - cfg.height + 1))
    else:
        x0, y0 = (int(v) for v in window)
        if not (0 <= x0 <= W - cfg.width and 0 <= y0 <= H - cfg.height):
            raise ValueError(f"window {window} does not fit a {cfg.width}x{cfg.height} image "
                             f"into the {W}x{H} clip frame")
    posed = [(a.body, replace(p, x=p.x - x0, y=p.y - y0)) for a, p in zip(actors, poses)]
    scene = render_people(bg[y0:y0 + cfg.height, x0:x0 + cfg.width], posed, rng,
                          track_ids=[a.track_id for a in actors],
                          self_occlusion=cfg.self_occlusion, facing_cues=cfg.facing_cues)
    scene.image = _finish(scene.image, rng, cfg)
    return scene


# ----------------------------------------------------------------------------- file helpers
def _replace_into(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _write_image(path: Path, rgb: np.ndarray, quality: int = 95) -> None:
    ext = path.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {path}")
    _write_bytes(path, buf.tobytes())


def _progress(iterable: Any, total: int, desc: str, progress: bool) -> Any:
    if not progress:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return iterable
    return tqdm(iterable, total=total, desc=desc, disable=None, unit="img")


def _polygons(mask: np.ndarray, offset: tuple[int, int]) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        c = cv2.approxPolyDP(c, 0.8, True).reshape(-1, 2).astype(np.float64)
        if len(c) >= 3:
            c += offset
            polys.append([round(float(v), 2) for v in c.ravel()])
    return polys


def _person_visible_mask(scene: Scene, index: int) -> tuple[np.ndarray, tuple[int, int]]:
    x0, y0, x1, y1 = scene.people[index].roi
    ro = scene.owner[y0:y1, x0:x1].astype(np.int32) - 1
    return (ro >= 0) & (ro // _OWNER_STRIDE == index), (x0, y0)


# ----------------------------------------------------------------------------- MPII
MPII_MAT_NAME = "mpii_human_pose_v1_u12_1.mat"
MPII_MAT_DIR = "mpii_human_pose_v1_u12_2"
_MPII_ACTS = (("sports", "running", 1), ("occupation", "walking", 2),
              ("miscellaneous", "standing", 3), ("dancing", "dancing", 4))


def _mpii_rect(person: SyntheticPerson, train: bool, rng: np.random.Generator,
               one_based: bool, string_vis: bool) -> dict[str, Any]:
    off = 1.0 if one_based else 0.0
    j16 = person.points[joint_indices("mpii16")]
    tp = person.true_points[joint_indices("mpii16")]
    head_len = float(np.linalg.norm(tp[8] - tp[9]))
    scale = 6.0 * head_len / 200.0  # MPII: person height / 200 with height = 6 head segments
    centre = 0.5 * (tp.min(0) + tp.max(0))
    objpos = {"x": float(round(centre[0] + off)), "y": float(round(centre[1] + off))}
    if not train:  # test images of the release only have scale and objpos
        return {"scale": scale, "objpos": objpos}
    hb = person.head_box() + off
    labeled = np.flatnonzero(j16[:, 2] > 0)
    rec = np.zeros((1, len(labeled)), dtype=[("id", "O"), ("x", "O"), ("y", "O"),
                                             ("is_visible", "O")])
    for k, jid in enumerate(labeled):
        vis: Any = int(j16[jid, 2] == 2)
        if jid in (8, 9) and vis == 1 and rng.random() < 0.3:
            vis = np.zeros((0, 0))  # the release leaves is_visible empty on some head points
        elif string_vis:
            vis = str(vis)
        rec[0, k] = (int(jid), round(float(j16[jid, 0]) + off, 3),
                     round(float(j16[jid, 1]) + off, 3), vis)
    return {"x1": round(float(hb[0]), 2), "y1": round(float(hb[1]), 2),
            "x2": round(float(hb[2]), 2), "y2": round(float(hb[3]), 2),
            "annopoints": {"point": rec} if len(labeled) else np.zeros((0, 0)),
            "scale": scale, "objpos": objpos}


def _single_person(people: list[SyntheticPerson]) -> list[int]:
    """1-based indices of rectangles whose person box does not touch any other."""
    boxes = []
    for p in people:
        tp = p.true_points
        lo, hi = tp.min(0), tp.max(0)
        pad = 0.1 * (hi - lo) + 2
        boxes.append(np.concatenate([lo - pad, hi + pad]))
    out = []
    for i, a in enumerate(boxes):
        if all(j == i or a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]
               for j, b in enumerate(boxes)):
            out.append(i + 1)
    return out


def write_mpii(out_dir: PathLike, num_images: int, seed: int = 0,
               config: Optional[SyntheticConfig] = None, *, test_fraction: float = 0.1,
               one_based: bool = True, progress: bool = True) -> Path:
    """Write images and an ``mpii_human_pose_v1_u12_1.mat`` mirroring the official release.

    ``RELEASE`` fields (as the real file, loaded with ``loadmat(struct_as_record=False,
    squeeze_me=True)``):

    - ``annolist`` (1 x N struct: ``image.name``, ``annorect``, ``frame_sec``, ``vididx``).
      ``annorect`` is a 1 x K struct array (a scalar struct when K = 1, an empty array
      when K = 0) with ``x1 y1 x2 y2`` (head box), ``annopoints.point`` (struct array of
      ``id`` (MPII ids 0..15), ``x``, ``y``, ``is_visible``), ``scale``, ``objpos.x/.y``.
      Test images (``img_train == 0``) have only ``scale`` and ``objpos``, as the release.
      Only joints inside the image are listed; ``is_visible`` is 1/0, as ``'1'``/``'0'``
      strings in some images, and empty on some head points (meaning "visible").
      Pelvis and thorax are the midpoints of the hips and of the shoulders.
    - ``img_train`` (1 x N 0/1), ``version`` ('12'), ``single_person`` (N x 1 cell of
      1-based rectangle indices), ``act`` (N x 1 struct: ``cat_name``, ``act_name``,
      ``act_id``), ``video_list`` (1 x V cell of strings).

    Coordinates are 1-based MATLAB pixels like the real file (``one_based``): x_mat = x + 1
    for our 0-based pixel-centre coordinates. ``scale`` = 6 * |upper_neck - head_top| / 200,
    the rule the real annotations follow.

    Returns the path of the .mat file.
    """
    import scipy.io

    cfg = config or SyntheticConfig()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / MPII_MAT_DIR).mkdir(parents=True, exist_ok=True)
    n = int(num_images)
    annolist = np.zeros((1, n), dtype=[("image", "O"), ("annorect", "O"), ("frame_sec", "O"),
                                       ("vididx", "O")])
    img_train = np.zeros((1, n), np.float64)
    single = np.empty((n, 1), dtype=object)
    act = np.zeros((n, 1), dtype=[("cat_name", "O"), ("act_name", "O"), ("act_id", "O")])
    videos = [f"synthetic{seed:04d}v{k:02d}" for k in range(max(1, min(10, n // 5)))]
    meta_rng = np.random.default_rng([seed, 1 << 30])
    for i in _progress(range(n), n, "mpii", progress):
        rng = np.random.default_rng([seed, i])
        scene = generate_scene(rng, cfg)
        name = f"{i + 1:09d}.jpg"
        _write_image(out / "images" / name, scene.image)
        people = [p for p in scene.people if p.in_image]
        train = meta_rng.random() >= test_fraction
        img_train[0, i] = int(train)
        string_vis = meta_rng.random() < 0.15
        rects = [_mpii_rect(p, train, meta_rng, one_based, string_vis)
                 for p in people]
        if rects:
            ra = np.zeros((1, len(rects)), dtype=[(k, "O") for k in rects[0]])
            for k, r in enumerate(rects):
                ra[0, k] = tuple(r.values())
            annorect: Any = ra
        else:
            annorect = np.zeros((0, 0))
        sp = _single_person(people) if train else []
        single[i, 0] = np.array(sp, np.float64).reshape(-1, 1) if sp else np.zeros((0, 0))
        vid = int(meta_rng.integers(0, len(videos)))
        annolist[0, i] = ({"name": name}, annorect, int(meta_rng.integers(1, 600)), vid + 1)
        if meta_rng.random() < 0.1:
            act[i, 0] = (np.zeros((0, 0)), np.zeros((0, 0)), -1.0)
        else:
            cat, a, aid = _MPII_ACTS[int(meta_rng.integers(0, len(_MPII_ACTS)))]
            act[i, 0] = (cat, a, float(aid))
    vl = np.empty((1, len(videos)), dtype=object)
    for k, v in enumerate(videos):
        vl[0, k] = v
    release = {"annolist": annolist, "img_train": img_train, "version": "12",
               "single_person": single, "act": act, "video_list": vl}
    path = out / MPII_MAT_DIR / MPII_MAT_NAME
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        scipy.io.savemat(f, {"RELEASE": release}, do_compression=True, oned_as="row")
    _replace_into(tmp, path)
    logger.info("wrote %d MPII images and %s", n, path)
    return path


# ----------------------------------------------------------------------------- COCO
def _coco_category(names: Sequence[str]) -> dict[str, Any]:
    return {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(names),
            "skeleton": [[a + 1, b + 1] for a, b in COCO17.skeleton]}


def _kp_list(kp: np.ndarray, label_value: Optional[int] = None) -> list[float]:
    out: list[float] = []
    for x, y, v in kp:
        if v <= 0:
            out += [0, 0, 0]
        else:
            out += [round(float(x), 2), round(float(y), 2),
                    int(v) if label_value is None else label_value]
    return out


def write_coco(out_dir: PathLike, num_images: int, seed: int = 0,
               config: Optional[SyntheticConfig] = None, *, split: str = "val2017",
               image_ext: str = ".jpg", progress: bool = True) -> Path:
    """Write ``<out>/<split>/%012d.jpg`` and ``<out>/annotations/person_keypoints_<split>.json``.

    The JSON has ``info``, ``licenses``, ``images`` (id, file_name, width, height, ...),
    ``annotations`` (id, image_id, category_id 1, keypoints [x,y,v]*17 (v 0/1/2, zeros for
    v=0), num_keypoints, bbox (of the visible silhouette), area (visible pixels), iscrowd 0,
    segmentation (polygons of the visible silhouette)) and ``categories`` (person, keypoint
    names, 1-based skeleton). Image ids are 1..N; people without any visible pixel are
    left out.
    """
    cfg = config or SyntheticConfig()
    out = Path(out_dir)
    (out / split).mkdir(parents=True, exist_ok=True)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    kp_idx = joint_indices(COCO17)
    images, anns = [], []
    for i in _progress(range(int(num_images)), int(num_images), "coco", progress):
        rng = np.random.default_rng([seed, i])
        scene = generate_scene(rng, cfg)
        image_id = i + 1
        name = f"{image_id:012d}{image_ext}"
        _write_image(out / split / name, scene.image)
        images.append({"license": 1, "file_name": name, "coco_url": "", "height": cfg.height,
                       "width": cfg.width, "date_captured": "2020-01-01 00:00:00",
                       "flickr_url": "", "id": image_id})
        for k, p in enumerate(scene.people):
            if p.visible_area <= 0:
                continue
            mask, off = _person_visible_mask(scene, k)
            ys, xs = np.nonzero(mask)
            x0, y0 = xs.min() + off[0], ys.min() + off[1]
            bbox = [float(x0) - 0.5, float(y0) - 0.5, float(xs.max() - xs.min() + 1),
                    float(ys.max() - ys.min() + 1)]
            seg = _polygons(mask, off) or [[bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1],
                                            bbox[0] + bbox[2], bbox[1] + bbox[3], bbox[0],
                                            bbox[1] + bbox[3]]]
            kp = p.points[kp_idx]
            anns.append({"segmentation": seg, "num_keypoints": int((kp[:, 2] > 0).sum()),
                         "area": float(mask.sum()), "iscrowd": 0, "keypoints": _kp_list(kp),
                         "image_id": image_id, "bbox": bbox, "category_id": 1,
                         "id": image_id * 100 + k})
    data = {"info": {"description": f"arttrack synthetic COCO keypoints (seed {seed})",
                     "version": "1.0", "year": 2020, "contributor": "arttrack.data.synthetic",
                     "date_created": "2020/01/01"},
            "licenses": [{"url": "", "id": 1, "name": "synthetic"}],
            "images": images, "annotations": anns,
            "categories": [_coco_category(COCO17.names)]}
    path = out / "annotations" / f"person_keypoints_{split}.json"
    write_json(path, data, indent=None)
    logger.info("wrote %d COCO images, %d people, %s", len(images), len(anns), path)
    return path


# ----------------------------------------------------------------------------- PoseTrack
def _posetrack_bbox(kp: np.ndarray, head: np.ndarray, W: int, H: int) -> list[float]:
    pts = kp[kp[:, 2] > 0, :2]
    pts = np.concatenate([pts, head.reshape(2, 2)]) if len(pts) else head.reshape(2, 2)
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.15 * (hi - lo)
    lo = np.maximum(lo - pad, 0)
    hi = np.minimum(hi + pad, (W - 1, H - 1))
    return [round(float(lo[0]), 3), round(float(lo[1]), 3), round(float(hi[0] - lo[0]), 3),
            round(float(hi[1] - lo[1]), 3)]


def write_posetrack(out_dir: PathLike, num_videos: int, num_frames: int = 30, seed: int = 0,
                    config: Optional[SyntheticConfig] = None, *, split: str = "val",
                    label_every: int = 1, fps: float = 25.0, write_video: bool = True,
                    progress: bool = True) -> list[Path]:
    """Write PoseTrack 2018 style videos: one JSON per video, frames and an mp4.

    Layout: ``<out>/annotations/<split>/<vid>_mpii_<test|train>.json``,
    ``<out>/images/<split>/<video>/%06d.jpg``, ``<out>/videos/<video>.mp4``.
    Each JSON has ``categories`` (person, the 17 PoseTrack keypoint names, 1-based
    skeleton), ``images`` (has_no_densepose, is_labeled, file_name, nframes,
    frame_id = id = 10000000000 + vid * 10000 + frame, vid_id, ignore_regions_x/y, width,
    height, mask_file) and, on labeled frames, ``annotations`` (bbox_head and bbox as
    [x, y, w, h], keypoints [x,y,v]*17 with v = 1 for every labeled joint and zeros for
    the unused ears and joints outside the image, track_id, image_id, id = image_id * 100
    + k, scores [], category_id 1, iscrowd false, num_keypoints). A person is annotated
    in a frame when at least one of its joints is visible (fully occluded people are not,
    as in PoseTrack). Video ``k`` uses the clip seed ``[seed, k]``.
    """
    cfg = config or SyntheticConfig(width=640, height=480, num_people=(2, 4))
    if label_every < 1:
        raise ValueError(f"label_every must be >= 1, got {label_every}")
    out = Path(out_dir)
    kp_idx = joint_indices("posetrack17")
    tag = "train" if split == "train" else "test"
    paths = []
    for k in _progress(range(int(num_videos)), int(num_videos), "posetrack", progress):
        vid_num = (seed * 1000 + k + 1) % 1000000
        vid = f"{vid_num:06d}"
        video = f"{vid}_mpii_{tag}"
        clip = generate_clip(np.random.default_rng([seed, k]), num_frames, cfg, fps)
        img_dir = out / "images" / split / video
        img_dir.mkdir(parents=True, exist_ok=True)
        (out / "annotations" / split).mkdir(parents=True, exist_ok=True)
        images, anns = [], []
        for t, (frame, people) in enumerate(zip(clip.frames, clip.people)):
            rel = f"images/{split}/{video}/{t:06d}.jpg"
            _write_image(out / rel, frame)
            image_id = 10000000000 + vid_num * 10000 + t
            labeled = t % label_every == 0
            images.append({"has_no_densepose": True, "is_labeled": labeled, "file_name": rel,
                           "nframes": num_frames, "frame_id": image_id, "vid_id": vid,
                           "ignore_regions_y": [], "ignore_regions_x": [], "id": image_id,
                           "width": cfg.width, "height": cfg.height,
                           "mask_file": f"mask/{split}/{video}/{t:06d}.jpg"})
            if not labeled:
                continue
            n_ann = 0
            for p in sorted(people, key=lambda q: q.track_id):
                kp = p.points[kp_idx].copy()
                kp[list(_POSETRACK_UNUSED)] = 0
                if not (kp[:, 2] == 2).any():
                    continue
                hb = p.head_box()
                bbox_head = [int(round(hb[0])), int(round(hb[1])),
                             int(round(hb[2] - hb[0])), int(round(hb[3] - hb[1]))]
                anns.append({"bbox_head": bbox_head, "keypoints": _kp_list(kp, 1),
                             "track_id": int(p.track_id), "image_id": image_id,
                             "bbox": _posetrack_bbox(kp, hb, cfg.width, cfg.height),
                             "scores": [], "category_id": 1, "id": image_id * 100 + n_ann,
                             "iscrowd": False, "num_keypoints": int((kp[:, 2] > 0).sum())})
                n_ann += 1
        data = {"categories": [_coco_category(POSETRACK17_NAMES)], "images": images,
                "annotations": anns}
        path = out / "annotations" / split / f"{video}.json"
        write_json(path, data, indent=None)
        paths.append(path)
        if write_video:
            (out / "videos").mkdir(parents=True, exist_ok=True)
            mp4 = out / "videos" / f"{video}.mp4"
            tmp = mp4.with_name(mp4.stem + ".tmp.mp4")
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                     (cfg.width, cfg.height))
            if not writer.isOpened():
                raise RuntimeError(f"OpenCV cannot open an mp4v writer for {tmp}")
            for frame in clip.frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            writer.release()
            _replace_into(tmp, mp4)
    logger.info("wrote %d PoseTrack videos to %s", len(paths), out)
    return paths


# ----------------------------------------------------------------------------- CLI
def _pair(kind: type) -> Any:
    def parse(s: str) -> tuple:
        parts = s.split(",")
        if len(parts) == 1:
            parts = parts * 2
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"expected MIN,MAX, got {s!r}")
        return tuple(kind(p) for p in parts)
    return parse


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arttrack.data.synthetic",
        description="Generate synthetic multi-person pose data in the official MPII (.mat), "
                    "COCO keypoints (JSON) or PoseTrack 2018 (JSON + frames + mp4) formats.")
    parser.add_argument("--format", required=True, choices=("mpii", "coco", "posetrack"))
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--num-images", type=int, default=100,
                        help="images (mpii, coco); for posetrack the total number of frames "
                             "when --num-videos is not given")
    parser.add_argument("--num-videos", type=int, default=None, help="posetrack: videos")
    parser.add_argument("--num-frames", type=int, default=30, help="posetrack: frames per video")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=None,
                        help="image width (default 256 for images, 640 for posetrack)")
    parser.add_argument("--height", type=int, default=None,
                        help="image height (default 256 for images, 480 for posetrack)")
    parser.add_argument("--people", type=_pair(int), default=None, metavar="MIN,MAX",
                        help="people per image (default 1,3 for images, 2,4 for posetrack)")
    parser.add_argument("--person-height", type=_pair(float), default=(0.45, 0.95),
                        metavar="MIN,MAX", help="person height as a fraction of the image height")
    parser.add_argument("--split", default=None,
                        help="coco: split name (val2017); posetrack: val or train")
    parser.add_argument("--test-fraction", type=float, default=0.1,
                        help="mpii: fraction of images marked img_train = 0")
    parser.add_argument("--label-every", type=int, default=1,
                        help="posetrack: annotate every k-th frame")
    parser.add_argument("--no-video", action="store_true", help="posetrack: skip the mp4")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    pt = args.format == "posetrack"
    cfg = SyntheticConfig(
        width=args.width or (640 if pt else 256), height=args.height or (480 if pt else 256),
        num_people=tuple(args.people) if args.people else ((2, 4) if pt else (1, 3)),
        person_height=tuple(args.person_height),
        joint_set="coco17" if args.format != "mpii" else "mpii14")
    if args.format == "mpii":
        write_mpii(args.out, args.num_images, args.seed, cfg, test_fraction=args.test_fraction)
    elif args.format == "coco":
        write_coco(args.out, args.num_images, args.seed, cfg, split=args.split or "val2017")
    else:
        nv = args.num_videos or max(1, math.ceil(args.num_images / args.num_frames))
        write_posetrack(args.out, nv, args.num_frames, args.seed, cfg,
                        split=args.split or "val", label_every=args.label_every,
                        write_video=not args.no_video)
    return 0


if __name__ == "__main__":
    sys.exit(main())
