"""mindspore.dataset training pipeline on a tiny in-memory source."""

from __future__ import annotations

import numpy as np
import pytest

from arttrack.data.augment import Augmenter
from arttrack.data.codec import PoseCodec
from arttrack.data.pipeline import (MEAN_PIXEL, EpochSampler, SampleMapper,
                                    build_dataset, column_names)
from arttrack.joints import MPII14

J = MPII14.num_joints


class TinySource:
    """Image i is filled with the value i (so a batch tells which samples it holds)."""

    def __init__(self, n=6):
        rng = np.random.default_rng(0)
        self.sizes = [(int(rng.integers(40, 90)), int(rng.integers(40, 120))) for _ in range(n)]
        self.joints = []
        for h, w in self.sizes:
            j = np.zeros((2, J, 3), np.float32)
            j[..., 0] = rng.uniform(0, w - 1, (2, J))
            j[..., 1] = rng.uniform(0, h - 1, (2, J))
            j[..., 2] = 2
            j[1, :4, 2] = 0
            self.joints.append(j)

    def __len__(self):
        return len(self.sizes)

    def __getitem__(self, i):
        h, w = self.sizes[i]
        return np.full((h, w, 3), i, np.uint8), self.joints[i], None


def _codec(pairwise=False):
    C = J * (J - 1)
    stats = (np.zeros((C, 2)), np.full((C, 2), 30.0)) if pairwise else None
    return PoseCodec(J, pairwise=pairwise, pairwise_stats=stats)


def _collect(ds, epochs=1):
    it = ds.create_dict_iterator(num_epochs=epochs, output_numpy=True)
    out = []
    for _ in range(epochs):
        out.append([b for b in it])
    return out


def _ids(batch):
    return [int(round(v)) for v in batch["image"][:, 0, 0, 0] + MEAN_PIXEL[0]]


def test_batch_shapes_and_padding():
    src = TinySource(5)
    codec = _codec(pairwise=True)
    aug = Augmenter(MPII14.flip_permutation, mirror=True)
    ds = build_dataset(src, codec, aug, batch_size=2, shuffle=False, seed=1,
                       num_parallel_workers=2)
    (batches,) = _collect(ds)
    assert [len(_ids(b)) for b in batches] == [2, 2, 1]
    assert [i for b in batches for i in _ids(b)] == [0, 1, 2, 3, 4]
    cols = column_names(True)
    for b in batches:
        assert list(b) == cols
        n, _, h, w = b["image"].shape
        assert b["image"].dtype == np.float32 and h % 16 == 0 and w % 16 == 0
        H, W = h // 8, w // 8
        assert b["scmap"].shape == (n, H, W, J)
        assert b["scmap_weights"].shape == (n, H, W, J)
        assert b["locref_map"].shape == (n, H, W, 2 * J)
        assert b["locref_mask"].shape == (n, H, W, 2 * J)
        assert b["pairwise_map"].shape == (n, H, W, 2 * J * (J - 1))
        assert b["pairwise_mask"].shape == (n, H, W, 2 * J * (J - 1))
        for k in range(n):
            idx = _ids(b)[k]
            # padded image area is exactly 0; valid area is value - mean
            img = b["image"][k]
            valid_h = np.nonzero(img[0, :, 0] != 0)[0].max() + 1 if idx != round(MEAN_PIXEL[0]) else h
            assert np.all(img[:, valid_h:, :] == 0)
            # maps beyond the sample's own map size are zero / masked out
            mh = int(np.ceil(valid_h / 16)) * 2
            assert np.all(b["scmap_weights"][k, mh:] == 0)
            assert np.all(b["scmap"][k, mh:] == 0)
            assert np.all(b["locref_mask"][k, mh:] == 0)
            assert np.all(b["pairwise_mask"][k, mh:] == 0)
            assert b["scmap"][k].sum() > 0


def test_determinism_and_epochs():
    src = TinySource(4)
    codec = _codec()
    aug = Augmenter(MPII14.flip_permutation, mirror=True)

    def run(seed):
        ds = build_dataset(src, codec, aug, batch_size=1, shuffle=True, seed=seed)
        return _collect(ds, epochs=2)

    a, b, c = run(7), run(7), run(8)
    for ea, eb in zip(a, b):
        assert len(ea) == len(eb) == 4
        for x, y in zip(ea, eb):
            for k in x:
                np.testing.assert_array_equal(x[k], y[k])
    # epochs differ (order and / or jitter), seeds differ
    def sig(epoch):
        return [(tuple(_ids(x)), x["image"].shape, float(x["scmap"].sum())) for x in epoch]

    assert sig(a[0]) != sig(a[1])
    assert sig(a[0]) != sig(c[0])
    assert sorted(i for x in a[1] for i in _ids(x)) == [0, 1, 2, 3]


def test_shards_disjoint():
    n = 12
    parts = [EpochSampler(n, shuffle=True, seed=3, num_shards=3, shard_id=s).indices(0)
             for s in range(3)]
    assert sum(len(p) for p in parts) == n
    assert set(np.concatenate(parts)) == set(range(n))
    # uneven: padded by wrapping, equal lengths
    parts = [EpochSampler(10, seed=3, num_shards=4, shard_id=s).indices(1) for s in range(4)]
    assert {len(p) for p in parts} == {3}
    assert set(np.concatenate(parts)) == set(range(10))
    # through the dataset
    src = TinySource(6)
    seen = []
    for s in range(2):
        ds = build_dataset(src, _codec(), Augmenter(), batch_size=1, seed=5, num_shards=2,
                           shard_id=s)
        (batches,) = _collect(ds)
        seen.append({i for x in batches for i in _ids(x)})
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(6))
    with pytest.raises(ValueError):
        EpochSampler(4, num_shards=2, shard_id=2)


def test_skipped_batches_are_placeholders_and_the_rest_unchanged():
    """Resuming mid-epoch: the batches the trainer throws away are not decoded or augmented
    (the source is never asked for them), and every later batch is the one a run without
    skipping would give."""

    class Counting(TinySource):
        def __init__(self, n):
            super().__init__(n)
            self.asked = []

        def __getitem__(self, i):
            self.asked.append(int(i))
            return super().__getitem__(i)

    codec = _codec(pairwise=True)
    aug = Augmenter(MPII14.flip_permutation, mirror=True)
    full_src, skip_src = Counting(6), Counting(6)
    (full,) = _collect(build_dataset(full_src, codec, aug, batch_size=2, seed=4, start_epoch=1))
    (skipped,) = _collect(build_dataset(skip_src, codec, aug, batch_size=2, seed=4,
                                        start_epoch=1, skip_batches=2))
    assert len(full) == len(skipped) == 3
    order = EpochSampler(6, seed=4).indices(1)
    assert sorted(skip_src.asked) == sorted(order[4:].tolist())
    assert sorted(full_src.asked) == list(range(6))
    for b in skipped[:2]:  # empty placeholders: zero image, no positive targets
        assert np.all(b["image"] == 0) and b["scmap"].sum() == 0
        assert b["locref_mask"].sum() == 0 and b["pairwise_mask"].sum() == 0
    for k in full[2]:
        np.testing.assert_array_equal(skipped[2][k], full[2][k])
    # two ranks, 7 samples (the shards wrap around): each rank skips its own first batch
    for rank in range(2):
        src_a, src_b = Counting(7), Counting(7)
        kw = dict(batch_size=2, seed=4, start_epoch=1, num_shards=2, shard_id=rank,
                  drop_remainder=True)
        (a,) = _collect(build_dataset(src_a, codec, aug, **kw))
        (b,) = _collect(build_dataset(src_b, codec, aug, skip_batches=1, **kw))
        mine = EpochSampler(7, seed=4, num_shards=2, shard_id=rank).indices(1)
        assert sorted(src_b.asked) == sorted(mine[2:4].tolist())
        assert len(a) == len(b) == 2 and np.all(b[0]["image"] == 0)
        for k in a[1]:
            np.testing.assert_array_equal(b[1][k], a[1][k])


def test_multiprocessing_workers():
    src = TinySource(4)
    ds = build_dataset(src, _codec(), Augmenter(), batch_size=2, shuffle=False,
                       num_parallel_workers=2, python_multiprocessing=True)
    (batches,) = _collect(ds)
    assert [i for b in batches for i in _ids(b)] == [0, 1, 2, 3]


def test_sample_mapper_virtual_index_and_errors():
    src = TinySource(3)
    m = SampleMapper(src, _codec(), Augmenter())
    a = m[3 * 2 + 1]  # epoch 2, sample 1
    b = m.sample(1, epoch=2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)

    class Bad:
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return (np.zeros((10, 10), np.uint8), np.zeros((0, J, 3)), None)

    with pytest.raises(ValueError, match="HxWx3"):
        SampleMapper(Bad(), _codec(), Augmenter()).sample(0)
    with pytest.raises(ValueError):
        build_dataset(src, _codec(), Augmenter(), batch_size=0)


def test_real_samples_through_pipeline(shared_data):
    samples = shared_data / "samples"
    from arttrack.data.coco import load_coco
    from arttrack.data.mpii import load_mpii_json
    from arttrack.data.pipeline import RecordSource
    from arttrack.joints import COCO17

    recs = [r for r in load_coco(samples / "coco" / "test_coco.json") if r.image_id == 40083]
    ds = build_dataset(RecordSource(recs), PoseCodec(17), Augmenter(COCO17.flip_permutation,
                       mirror=True), batch_size=1, seed=0)
    (batches,) = _collect(ds)
    w = batches[0]["scmap_weights"]
    assert (w == 0).any() and (w == 1).any()  # the person without keypoints is ignored
    assert batches[0]["scmap"].sum() > 0

    recs = load_mpii_json(samples / "mpii" / "test_mpii.json")
    ds = build_dataset(RecordSource(recs), PoseCodec(J), Augmenter(MPII14.flip_permutation),
                       batch_size=5, shuffle=False)
    (batches,) = _collect(ds)
    b = batches[0]
    assert b["image"].shape[0] == 5
    # every sample is a single person normalised to ~300 px: all labeled joints present
    assert np.all(b["scmap"].reshape(5, -1, J).max(axis=1).sum(axis=1) >= 12)


def test_synthetic_config_keys_reach_the_generator():
    """synthetic_person_height / _walking / _clip_frames / joint_set of a config shape the
    source (clip windows keep the people's pixel heights)."""
    from arttrack.config import load_config
    from arttrack.models.factory import build_source

    cfg = load_config(None, ["synthetic_person_height=[0.8, 0.9]", "synthetic_walking=0.5",
                             "joint_set=posetrack15", "synthetic_image_size=[100, 120]",
                             "synthetic_facing_cues=true", "synthetic_clip_frames=0.5"])
    src = build_source(cfg, "val").inner
    assert src.config.person_height == (0.8, 0.9) and src.config.walking == 0.5
    assert src.config.facing_cues and src.config.clip_frames == 0.5
    image, joints = src[0]
    assert image.shape == (100, 120, 3) and joints.shape[1:] == (15, 3)
    heights = [p.height for i in range(10) for p in src.scene(i).people]
    assert all(80 - 1e-6 <= h <= 90 + 1e-6 for h in heights)
