"""Tests of the procedural synthetic data generator and its official-format writers."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import scipy.io as scipy_io
from pycocotools import coco as coco_mod

from arttrack.data import synthetic as syn
from arttrack.joints import COCO17, MPII14


CLEAN = syn.SyntheticConfig(noise=0.0, blur_prob=0.0)


def test_determinism_per_seed():
    a_img, a_people = syn.generate_image(7)
    b_img, b_people = syn.generate_image(7)
    c_img, _ = syn.generate_image(8)
    assert a_img.dtype == np.uint8 and a_img.shape == (256, 256, 3)
    np.testing.assert_array_equal(a_img, b_img)
    assert len(a_people) == len(b_people)
    for p, q in zip(a_people, b_people):
        assert p.shape == (MPII14.num_joints, 3)
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a_img, c_img)
    ds = syn.SyntheticPoseDataset(seed=3, size=10)
    i1, j1 = ds[4]
    i2, j2 = syn.SyntheticPoseDataset(seed=3, size=10)[4]
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(j1, j2)
    assert j1.dtype == np.float32 and j1.ndim == 3 and j1.shape[1:] == (14, 3)
    assert len(ds) == 10
    with pytest.raises(IndexError):
        ds[10]
    c1 = syn.generate_clip(5, 4, replace(CLEAN, width=160, height=120))
    c2 = syn.generate_clip(5, 4, replace(CLEAN, width=160, height=120))
    for f1, f2 in zip(c1.frames, c2.frames):
        np.testing.assert_array_equal(f1, f2)


def test_visible_joints_lie_on_their_person():
    checked = 0
    for seed in range(12):
        scene = syn.generate_scene(seed, replace(CLEAN, num_people=(1, 4)))
        H, W = scene.image.shape[:2]
        for k, p in enumerate(scene.people):
            for name in syn.POINT_NAMES:
                x, y, v = p.points[syn.POINT_NAMES.index(name)]
                xi, yi = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
                if v == 0:
                    assert x == 0 and y == 0
                    continue
                assert 0 <= xi < W and 0 <= yi < H
                if v == 2:
                    owner = int(scene.owner[yi, xi]) - 1
                    assert owner // 32 == k, (seed, k, name)
                    # the pixel has the person's colour, not the background's
                    assert np.abs(scene.image[yi, xi].astype(int)
                                  - scene.background[yi, xi].astype(int)).sum() > 0
                    checked += 1
    assert checked > 100


def test_joint_sets_and_outside_points():
    scene = syn.generate_scene(1, CLEAN)
    p = scene.people[0]
    kp = p.keypoints(COCO17)
    assert kp.shape == (17, 3)
    np.testing.assert_array_equal(kp[0], p.points[syn.POINT_NAMES.index("nose")])
    mp = p.keypoints("mpii14")
    np.testing.assert_array_equal(mp[12], p.points[syn.POINT_NAMES.index("upper_neck")])
    assert p.keypoints("posetrack17").shape == (17, 3)
    # a person half outside the image: its outside joints are unlabeled with zeros
    body = syn.sample_body(0)
    pose = syn.sample_pose(0, x=-10.0, y=128.0, height=200.0)
    scene = syn.render_people(np.zeros((256, 256, 3), np.uint8), [(body, pose)])
    pts = scene.people[0].points
    outside = scene.people[0].true_points[:, 0] < -0.5
    assert outside.any()
    assert (pts[outside, 2] == 0).all() and (pts[outside, :2] == 0).all()


def _front_pose(x, y, h, yaw=0.0):
    limbs = np.zeros((8, 2))
    limbs[[0, 1, 2, 3], 0] = 0.3  # arms slightly out
    limbs[[4, 5, 6, 7], 0] = 0.1
    return syn.Pose(x=x, y=y, height=h, yaw=yaw, limbs=limbs)


def test_occlusion_one_person_fully_in_front():
    bg = np.full((256, 256, 3), 128, np.uint8)
    small = syn.sample_body(1)
    big = syn.sample_body(2)
    big = replace(big, radii={**big.radii, "torso_depth": 0.6})
    # the big person is seen from the side: its torso is a wide block covering the small one
    a = (small, _front_pose(128.0, 190.0, 80.0))
    b = (big, _front_pose(128.0, 230.0, 300.0, yaw=np.pi / 2))
    scene = syn.render_people(bg, [a, b])  # back to front: a behind b
    pa, pb = scene.people
    assert (pa.points[:, 2] == 1).all(), pa.points[:, 2]  # inside the image, all hidden
    assert pb.points[syn.POINT_NAMES.index("head_top"), 2] == 2
    assert pa.visible_area == 0 and pb.visible_area > 0
    # the other way round the small person is in front and visible
    scene = syn.render_people(bg, [b, a])
    pa = scene.people[1]
    for name in ("pelvis", "thorax", "r_knee", "l_knee", "head_top", "nose"):
        assert pa.points[syn.POINT_NAMES.index(name), 2] == 2, name
    # a face turned away from the camera: nose labeled but not visible
    scene = syn.render_people(bg, [(small, _front_pose(128.0, 128.0, 150.0, yaw=np.pi))])
    assert scene.people[0].points[syn.POINT_NAMES.index("nose"), 2] == 1


def test_mpii_mat_round_trip(tmp_path):
    cfg = replace(syn.SyntheticConfig(), num_people=(0, 3), joint_set="mpii14")
    n = 16
    path = syn.write_mpii(tmp_path, n, seed=2, config=cfg, test_fraction=0.25, progress=False)
    assert path.name == "mpii_human_pose_v1_u12_1.mat"
    assert not list(tmp_path.rglob("*.tmp"))
    rel = scipy_io.loadmat(str(path), struct_as_record=False, squeeze_me=True)["RELEASE"]
    assert rel._fieldnames == ["annolist", "img_train", "version", "single_person", "act",
                               "video_list"]
    assert len(rel.annolist) == n and rel.img_train.shape == (n,)
    assert len(rel.single_person) == n and len(rel.act) == n
    assert str(rel.version) == "12"
    assert set(rel.act[0]._fieldnames) == {"cat_name", "act_name", "act_id"}
    ds = syn.SyntheticPoseDataset(seed=2, size=n, config=cfg)
    idx16 = syn.joint_indices("mpii16")
    seen_scalar = seen_empty = seen_train = seen_test = 0
    vis_kinds = set()
    for i, ann in enumerate(rel.annolist):
        assert ann._fieldnames == ["image", "annorect", "frame_sec", "vididx"]
        assert ann.image.name == f"{i + 1:09d}.jpg"
        assert (tmp_path / "images" / ann.image.name).is_file()
        people = [p for p in ds.scene(i).people if p.in_image]
        rects = ann.annorect
        if isinstance(rects, np.ndarray):
            assert rects.size == len(people)
            seen_empty += rects.size == 0
            rects = list(rects)
        else:  # a single rectangle comes back as a scalar struct
            seen_scalar += 1
            rects = [rects]
            assert len(people) == 1
        if rel.img_train[i] == 0:
            seen_test += 1
            for r in rects:
                assert r._fieldnames == ["scale", "objpos"]
            continue
        seen_train += 1
        for r, p in zip(rects, people):
            assert r._fieldnames == ["x1", "y1", "x2", "y2", "annopoints", "scale", "objpos"]
            assert r.x1 < r.x2 and r.y1 < r.y2
            assert r.scale > 0 and hasattr(r.objpos, "x")
            hb = p.head_box() + 1
            np.testing.assert_allclose([r.x1, r.y1, r.x2, r.y2], hb, atol=0.01)
            j16 = p.points[idx16]
            pts = r.annopoints.point
            pts = [pts] if not isinstance(pts, np.ndarray) else list(pts)
            assert sorted(int(q.id) for q in pts) == list(np.flatnonzero(j16[:, 2] > 0))
            for q in pts:
                jid = int(q.id)
                assert q.x == pytest.approx(j16[jid, 0] + 1, abs=1e-3)  # 1-based MATLAB
                assert q.y == pytest.approx(j16[jid, 1] + 1, abs=1e-3)
                vis = q.is_visible
                if isinstance(vis, np.ndarray):
                    assert vis.size == 0 and j16[jid, 2] == 2
                    vis_kinds.add("empty")
                    continue
                vis_kinds.add(type(vis).__name__)
                assert int(vis) == int(j16[jid, 2] == 2)
        sp = np.atleast_1d(rel.single_person[i])
        assert all(1 <= int(s) <= len(rects) for s in sp)
    assert seen_scalar and seen_empty and seen_train and seen_test
    assert {"int", "str", "empty"} <= vis_kinds


def test_coco_json_loads_with_pycocotools(tmp_path):
    cfg = replace(syn.SyntheticConfig(), joint_set="coco17")
    path = syn.write_coco(tmp_path, 5, seed=4, config=cfg, split="val2017", progress=False)
    coco = coco_mod.COCO(str(path))
    assert sorted(coco.getImgIds()) == [1, 2, 3, 4, 5]
    cat = coco.loadCats(1)[0]
    assert cat["keypoints"] == list(COCO17.names)
    assert cat["skeleton"] == [[a + 1, b + 1] for a, b in COCO17.skeleton]
    ds = syn.SyntheticPoseDataset(seed=4, size=5, config=cfg)
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        image = cv2.imread(str(tmp_path / "val2017" / info["file_name"]))
        assert image.shape == (info["height"], info["width"], 3)
        scene = ds.scene(img_id - 1)
        want = [p.keypoints(COCO17) for p in scene.people if p.visible_area > 0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert len(anns) == len(want)
        for ann, kp in zip(anns, want):
            got = np.array(ann["keypoints"], np.float64).reshape(17, 3)
            np.testing.assert_allclose(got, kp, atol=0.006)
            assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum())
            assert ann["area"] > 0 and ann["iscrowd"] == 0 and ann["category_id"] == 1
            x, y, w, h = ann["bbox"]
            assert w > 0 and h > 0 and x >= -0.5 and y >= -0.5
            assert coco.annToMask(ann).sum() > 0


def test_posetrack_json_has_the_real_files_structure(tmp_path, shared_data):
    """Same top-level keys, image and annotation fields, and categories as a real
    PoseTrack 2018 annotation file."""
    real_file = shared_data / "samples" / "posetrack18" / "annotations" / "val" / "012834_mpii_test.json"
    real = json.loads(real_file.read_text())
    cfg = syn.SyntheticConfig(width=160, height=120, num_people=(2, 3), joint_set="coco17")
    (path,) = syn.write_posetrack(tmp_path, 1, num_frames=2, seed=1, config=cfg,
                                  write_video=False, progress=False)
    data = json.loads(path.read_text())
    assert list(data) == list(real)
    assert set(data["images"][0]) == set(real["images"][0])
    assert set(data["annotations"][0]) == set(real["annotations"][0])
    assert data["categories"] == real["categories"]


def test_posetrack_json_matches_the_real_structure(tmp_path):
    cfg = syn.SyntheticConfig(width=320, height=240, num_people=(2, 3), joint_set="coco17")
    paths = syn.write_posetrack(tmp_path, 1, num_frames=8, seed=1, config=cfg,
                                label_every=2, progress=False)
    data = json.loads(paths[0].read_text())
    assert data["images"] and data["annotations"]
    img0 = data["images"][0]
    assert len(data["images"]) == 8 and img0["nframes"] == 8
    assert [im["is_labeled"] for im in data["images"]] == [True, False] * 4
    assert img0["frame_id"] == img0["id"] == 10000000000 + int(img0["vid_id"]) * 10000
    assert (tmp_path / img0["file_name"]).is_file()
    labeled = {im["id"] for im in data["images"] if im["is_labeled"]}
    for ann in data["annotations"]:
        assert ann["image_id"] in labeled
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        assert set(kp[:, 2].tolist()) <= {0, 1}
        assert (kp[3:5] == 0).all()  # PoseTrack 2018 never labels the ears
        assert len(ann["bbox"]) == 4 and len(ann["bbox_head"]) == 4
        assert ann["scores"] == [] and ann["iscrowd"] is False
    # the mp4 reads back with the right frame count and size
    mp4 = tmp_path / "videos" / f"{paths[0].stem}.mp4"
    cap = cv2.VideoCapture(str(mp4))
    assert cap.isOpened()
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 8
    assert frames[0].shape == (240, 320, 3)


def test_clip_identities_persist_and_motion_is_smooth():
    cfg = replace(CLEAN, width=320, height=240, num_people=(3, 4))
    clip = syn.generate_clip(11, 40, cfg)
    assert len(clip.frames) == 40 == len(clip.people)
    assert clip.frames[0].shape == (240, 320, 3)
    tracks: dict[int, list[tuple[int, syn.SyntheticPerson]]] = {}
    for t, people in enumerate(clip.people):
        ids = [p.track_id for p in people]
        assert len(ids) == len(set(ids))
        for p in people:
            tracks.setdefault(p.track_id, []).append((t, p))
    assert len(tracks) >= 3
    moved = False
    for tid, seq in tracks.items():
        heights = {round(p.height, 6) for _, p in seq}
        assert len(heights) == 1  # the same person (size) throughout
        for (t0, p0), (t1, p1) in zip(seq, seq[1:]):
            if t1 != t0 + 1:
                continue
            d = np.linalg.norm(p1.true_points - p0.true_points, axis=1).max()
            assert d < 0.15 * p0.height, (tid, t0, d)
            moved |= d > 1.0
    assert moved


def test_walkers_at_one_depth_never_walk_through_each_other():
    """Two walkers going one way at one distance from the camera (heights within 10 %) stay
    half a height apart: the clips used to draw such pairs on top of each other for whole
    clips ([7000, 0], [7000, 60] and [7000, 67] among these), one person twice, which no
    tracker can separate. Walkers at other depths still pass each other."""
    from arttrack.video.demo import demo_clip_config

    torso = [syn.POINT_INDEX[k] for k in ("l_shoulder", "r_shoulder", "l_hip", "r_hip")]
    passed = 0
    for k in (0, 1, 60, 67, 3, 5):
        clip = syn.generate_clip(np.random.default_rng([7000, k]), 40, demo_clip_config())
        x: dict[int, dict[int, float]] = {}
        h: dict[int, float] = {}
        for t, people in enumerate(clip.people):
            for p in people:
                x.setdefault(p.track_id, {})[t] = float(p.true_points[torso, 0].mean())
                h[p.track_id] = p.height
        ids = sorted(x)
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                ts = sorted(set(x[a]) & set(x[b]))
                if len(ts) < 2:
                    continue
                va, vb = (x[a][ts[-1]] - x[a][ts[0]], x[b][ts[-1]] - x[b][ts[0]])
                if va * vb <= 0 or min(abs(va), abs(vb)) < 0.3 * len(ts):
                    continue  # not two walkers going one way
                gap = min(abs(x[a][t] - x[b][t]) for t in ts)
                if abs(h[a] - h[b]) < syn.SAME_DEPTH * max(h[a], h[b]):
                    # the torso sways with the gait by a few pixels
                    assert gap > 0.9 * syn.WALK_APART * max(h[a], h[b]), (k, a, b, gap)
                elif gap < 0.1 * max(h[a], h[b]):
                    passed += 1
    assert passed >= 1  # one walker passes another one nearer the camera


def test_cli(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        syn.main(["--help"])
    assert exc.value.code == 0
    assert "--format" in capsys.readouterr().out
    rc = syn.main(["--format", "coco", "--out", str(tmp_path), "--num-images", "2",
                   "--seed", "1", "--split", "train2017"])
    assert rc == 0
    data = json.loads((tmp_path / "annotations" / "person_keypoints_train2017.json").read_text())
    assert len(data["images"]) == 2
    assert not list(tmp_path.rglob("*.tmp"))


def test_config_validation_and_options():
    with pytest.raises(ValueError):
        syn.SyntheticConfig(num_people=(3, 1))
    with pytest.raises(ValueError):
        syn.SyntheticConfig(joint_set="nope")
    with pytest.raises(ValueError):
        syn.SyntheticConfig(width=4)
    cfg = replace(CLEAN, self_occlusion=False, joint_set="coco17", width=200, height=120)
    image, people = syn.generate_image(3, cfg)
    assert image.shape == (120, 200, 3)
    assert all(p.shape == (17, 3) for p in people)
    ds = syn.SyntheticPoseDataset(seed=0, size=3, num_people=(0, 0))
    image, joints = ds[1]
    assert joints.shape == (0, 14, 3)


def test_posetrack15_joints_and_flip():
    """POSETRACK15 names the figure's points (head_bottom = upper neck) and its mirror
    permutation swaps every left_/right_ name and nothing else."""
    from arttrack.joints import JOINT_SETS, POSETRACK15

    p = syn.generate_scene(1, CLEAN).people[0]
    kp = p.keypoints(POSETRACK15)
    np.testing.assert_array_equal(kp[1], p.points[syn.POINT_NAMES.index("upper_neck")])
    np.testing.assert_array_equal(kp[2], p.points[syn.POINT_NAMES.index("head_top")])
    for js in JOINT_SETS.values():
        swap = {"left": "right", "right": "left", "l": "r", "r": "l"}
        for j, name in enumerate(js.names):
            side, _, rest = name.partition("_")
            mirrored = f"{swap[side]}_{rest}" if side in swap else name
            assert js.names[js.flip_permutation[j]] == mirrored, (js.name, name)


def test_walking_share():
    """``walking`` draws side-on walkers (the clips' poses); 0 keeps the stream that images
    were drawn from before the option existed (fingerprint taken with that code)."""
    for k in range(20):
        pose = syn.sample_walking_pose(k, 50.0, 50.0, 100.0)
        assert abs(abs(pose.yaw) - np.pi / 2) <= 0.35 + 1e-9
        phis = np.linspace(0, 2 * np.pi, 721)
        err = min(np.abs(syn._walk_limbs(f) - pose.limbs).max() for f in phis)
        assert err < 0.02  # a phase of the walk cycle
    clean = replace(CLEAN, truncation=0.0, clutter=(0, 0), num_people=(2, 3))
    a = syn.generate_scene(4, clean)
    before = [[[42.3147, 239.9626], [80.6556, 83.3824], [63.0643, 50.0929]],
              [[51.8794, 189.0020], [139.6880, 44.9581], [120.8462, 2.9242]],
              [[127.6479, 220.3476], [115.6761, 52.2964], [150.1835, 10.3856]]]
    got = [p.true_points[[0, 9, 13], :2] for p in a.people]
    np.testing.assert_allclose(np.array(got), np.array(before), atol=2e-3)
    c = syn.generate_scene(4, replace(clean, walking=1.0))
    assert not np.array_equal(a.image, c.image)
    with pytest.raises(ValueError, match="walking"):
        syn.SyntheticConfig(walking=-0.1)


def test_facing_cues():
    """facing_cues: eyes (dark, on the head) only on faces turned to the camera; in profile
    the hair moves to the back of the head (its centroid behind the head's); off by
    default, where the drawing is unchanged."""
    body = syn.sample_body(1)
    limbs = np.zeros((8, 2))
    limbs[:4, 0] = 0.3
    bg = np.full((128, 128, 3), 200, np.uint8)

    def draw(yaw, cues):
        pose = syn.Pose(x=64, y=70, height=110, yaw=yaw, limbs=limbs)
        return syn.render_people(bg, [(body, pose)], facing_cues=cues)

    for yaw in (0.0, 1.57, 3.14):
        assert np.array_equal(draw(yaw, False).image, syn.render_people(
            bg, [(body, syn.Pose(x=64, y=70, height=110, yaw=yaw, limbs=limbs))]).image)
    head = syn.POINT_NAMES.index("head_top"), syn.POINT_NAMES.index("upper_neck")

    def dark_on_head(scene):
        img, lab = scene.image.astype(int), scene.owner % 32 - 1  # owner = person*32 + part + 1
        return int(((img.sum(axis=2) < 100) & (lab == syn.HEAD)).sum())

    assert dark_on_head(draw(0.0, True)) > 0 and dark_on_head(draw(0.0, False)) == 0
    assert dark_on_head(draw(3.14, True)) == 0  # from behind: no eyes
    for yaw in (1.57, -1.57):  # profile facing image-right / image-left
        sc = draw(yaw, True)
        hair = np.argwhere(sc.owner % 32 - 1 == syn.HAIR)[:, 1].mean()
        pts = sc.people[0].true_points
        centre = 0.5 * (pts[head[0], 0] + pts[head[1], 0])
        assert np.sign(centre - hair) == np.sign(np.sin(yaw)), (yaw, hair, centre)
    with pytest.raises(TypeError):
        syn.SyntheticConfig(facing_cue=True)
    assert syn.SyntheticConfig(facing_cues=True).facing_cues


def test_clip_windows_are_windows_of_clips():
    """generate_clip_window draws a clip as generate_clip does (4:3, CLIP_WINDOW_ZOOM times
    the image's height, people of the image's pixel heights) and shows one window of it:
    the same pixels and labels as the full clip frame cropped there."""
    small = replace(CLEAN, width=160, height=120, num_people=(3, 4), person_height=(0.6, 0.9))
    assert syn.CLIP_WINDOW_ZOOM == 1.5 and syn.CLIP_WINDOW_FRAMES == 40
    world = replace(small, width=240, height=180, person_height=(0.4, 0.6))
    full = syn.generate_clip(4, 40, world)  # frame 0: no random frame or window drawn first
    ref = {p.track_id: p for p in full.people[0]}
    for x0, y0 in ((0, 0), (37, 21), (80, 60)):
        win = syn.generate_clip_window(4, small, frame=0, window=(x0, y0))
        assert win.image.shape == (120, 160, 3)
        crop = full.frames[0][y0:y0 + 120, x0:x0 + 160].astype(int)
        assert (np.abs(win.image.astype(int) - crop).sum(-1) > 0).mean() < 1e-3
        shown = [p for p in win.people if p.in_image]
        assert {p.track_id for p in shown} <= set(ref)
        for p in shown:
            q = ref[p.track_id]
            np.testing.assert_allclose(p.true_points, q.true_points - [x0, y0], atol=1e-3)
            tx, ty = q.true_points[:, 0] - x0, q.true_points[:, 1] - y0
            inside = (np.floor(tx + 0.5) >= 0) & (np.floor(tx + 0.5) < 160) \
                & (np.floor(ty + 0.5) >= 0) & (np.floor(ty + 0.5) < 120)
            np.testing.assert_array_equal(p.points[:, 2] > 0, inside)
            assert np.mean(p.points[inside, 2] == q.points[inside, 2]) > 0.9
    with pytest.raises(ValueError, match="does not fit"):
        syn.generate_clip_window(4, small, window=(81, 0))


def test_clip_frames_share():
    """clip_frames = 1 makes every image a clip window with someone in it most of the time,
    people as tall as person_height says; 0 (the default) leaves the image stream alone
    (test_walking_share's fingerprint)."""
    cfg = replace(CLEAN, width=160, height=160, num_people=(1, 3), person_height=(0.65, 0.95),
                  clip_frames=1.0)
    with_people = 0
    for seed in range(20):
        scene = syn.generate_scene(seed, cfg)
        shown = [p for p in scene.people if p.in_image]
        with_people += any((p.points[:, 2] == 2).sum() >= 5 for p in shown)
        assert scene.people
        assert all(0.65 * 160 - 1e-3 <= p.height <= 0.95 * 160 + 1e-3 for p in scene.people)
    assert with_people >= 15
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match="clip_frames"):
            syn.SyntheticConfig(clip_frames=bad)
