"""Pairwise statistics: computation, file format, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from arttrack.data.codec import PoseCodec
from arttrack.joints import COCO17, MPII14, pair_channel
from arttrack.data.pairwise_stats import (compute_pairwise_stats, load_pairwise_stats,
                                          save_pairwise_stats, stats_from_records)
from arttrack.pairwise import main


def _people(rng, n, J):
    out = []
    for _ in range(n):
        p = int(rng.integers(1, 3))
        j = np.zeros((p, J, 3), np.float32)
        j[..., 0] = rng.uniform(0, 300, (p, J))
        j[..., 1] = rng.uniform(0, 300, (p, J))
        j[..., 2] = rng.integers(0, 3, (p, J))
        out.append(j)
    return out


def test_stats_match_bruteforce():
    rng = np.random.default_rng(0)
    J = MPII14.num_joints
    people = _people(rng, 20, J)
    scales = rng.uniform(0.5, 2, 20)
    st = compute_pairwise_stats(people, MPII14, scales=scales, global_scale=0.8)
    for j, k in [(0, 1), (5, 2), (13, 12), (7, 0)]:
        offs = []
        for s, pp in zip(scales, people):
            for person in pp:
                if person[j, 2] > 0 and person[k, 2] > 0:
                    offs.append((person[k, :2] - person[j, :2]) * s * 0.8)
        offs = np.array(offs)
        c = pair_channel(j, k, J)
        np.testing.assert_allclose(st.mean[c], offs.mean(0), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(st.std[c], np.maximum(offs.std(0), 1.0), rtol=1e-5)
        assert st.count[c] == len(offs)
        m, s = st.row(j, k)
        np.testing.assert_allclose(m, st.mean[c])
    # antisymmetry of means
    np.testing.assert_allclose(st.mean[pair_channel(3, 9, J)], -st.mean[pair_channel(9, 3, J)],
                               atol=1e-9)
    assert list(map(tuple, st.pairs[:2])) == [(0, 1), (0, 2)]


def test_save_load_and_codec(tmp_path):
    rng = np.random.default_rng(1)
    st = compute_pairwise_stats(_people(rng, 10, 17), COCO17)
    p = tmp_path / "sub" / "stats.npz"
    save_pairwise_stats(st, p)
    back = load_pairwise_stats(p, COCO17)
    np.testing.assert_array_equal(back.mean, st.mean)
    np.testing.assert_array_equal(back.std, st.std)
    assert back.joint_names == COCO17.names and back.joint_set == "coco17"
    codec = PoseCodec(17, pairwise=True, pairwise_stats=back)
    assert codec.pairwise_mean.shape == (17 * 16, 2)
    with pytest.raises(ValueError, match="not coco17|mpii14"):
        load_pairwise_stats(p, MPII14)
    with pytest.raises(ValueError, match="does not exist"):
        load_pairwise_stats(tmp_path / "none.npz")
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="not an arttrack"):
        load_pairwise_stats(other)


def test_empty_errors():
    with pytest.raises(ValueError, match="empty"):
        compute_pairwise_stats([], MPII14)
    lonely = np.zeros((1, 14, 3), np.float32)
    lonely[0, 0] = (1, 2, 2)
    with pytest.raises(ValueError, match="no labeled joint pairs"):
        compute_pairwise_stats([lonely], MPII14)
    with pytest.raises(ValueError):
        stats_from_records([], MPII14)


def test_cli_coco(tmp_path, caplog):
    from test_data_coco import write_coco

    ann = write_coco(tmp_path)
    out = tmp_path / "stats.npz"
    assert main(["stats", "--dataset", "coco", "--ann", str(ann), "--out", str(out)]) == 0
    st = load_pairwise_stats(out, COCO17)
    assert st.count.max() == 1  # one person in the fixture
    assert main(["stats", "--dataset", "coco", "--ann", str(tmp_path / "x.json"),
                 "--out", str(out)]) == 2
    with pytest.raises(SystemExit):
        main(["--help"])


def test_cli_mpii_mat(tmp_path):
    from test_data_mpii import write_mpii_mat

    mat = write_mpii_mat(tmp_path / "mpii.mat")
    out = tmp_path / "mpii_stats.npz"
    assert main(["stats", "--dataset", "mpii", "--ann", str(mat), "--split", "all",
                 "--out", str(out)]) == 0
    st = load_pairwise_stats(out, MPII14)
    assert st.count.max() == 4


def test_cli_from_a_synthetic_config(tmp_path):
    """``stats --config``: the config's joint set, over the first N training samples, equal
    to the statistics of the same samples drawn directly; head_top sits above head_bottom."""
    from arttrack.data.synthetic import SyntheticConfig, SyntheticPoseDataset
    from arttrack.joints import POSETRACK15

    out = tmp_path / "pt.npz"
    sets = ["dataset_type=synthetic", "joint_set=posetrack15", "multi_person=true",
            "synthetic_people=[1,3]", "synthetic_image_size=[96,128]", "synthetic_walking=0.5"]
    argv = ["stats", "--config", "none"] + [a for s in sets for a in ("--set", s)]
    argv += ["--num-images", "12", "--out", str(out)]
    assert main(argv[:2] + [str(tmp_path / "missing.yaml")] + argv[3:]) == 2  # no such config
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("seed: 5\n")
    argv[2] = str(cfg_file)
    assert main(argv) == 0
    st = load_pairwise_stats(out, POSETRACK15)
    ds = SyntheticPoseDataset(seed=5, size=12, config=SyntheticConfig(
        width=128, height=96, num_people=(1, 3), joint_set="posetrack15", walking=0.5))
    ref = compute_pairwise_stats((ds[i][1] for i in range(12)), POSETRACK15)
    np.testing.assert_allclose(st.mean, ref.mean)
    np.testing.assert_array_equal(st.count, ref.count)
    bottom, top = POSETRACK15.index("head_bottom"), POSETRACK15.index("head_top")
    assert st.row(bottom, top)[0][1] < 0  # y grows downwards
    for extra in (["--dataset", "coco", "--ann", "x"], ["--joint-set", "coco17"],
                  ["--global-scale", "2"]):
        assert main(["stats", "--config", str(cfg_file), *extra, "--out", str(out)]) == 2
