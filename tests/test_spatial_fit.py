"""Spatial model fitting: sample labelling, logistic regression, fallbacks, AUC on held-out
edges from exact maps of synthetic multi-person scenes, and the `pairwise fit` CLI."""

from __future__ import annotations

import logging

import numpy as np

from arttrack.data.codec import PoseCodec
from arttrack.data.synthetic import SyntheticConfig, generate_image
from arttrack.inference import Maps
from arttrack.joints import MPII14
from arttrack.postprocess import Peaks, SpatialModel
from arttrack.postprocess.pipeline import MultiPersonSettings, detect
from arttrack.training.logistic import fit_logistic
from arttrack.training.spatial_fit import (EdgeSamples, edge_samples, fit_pair_models,
                                  fit_spatial_model, match_detections, prior_pair_model, roc_auc)

J = MPII14.num_joints
RADIUS = 12.0


def _identity_stats(j):
    c = j * (j - 1)
    return np.zeros((c, 2), np.float32), np.ones((c, 2), np.float32)


def exact_maps(people, size, rng, *, noise_px=4.0, radius=RADIUS):
    """Maps a perfect network would output (codec encoding), with noisy pairwise offsets and
    score maps peaked at the joints."""
    codec = PoseCodec(J, pos_dist_thresh=radius, pairwise=True, pairwise_stats=_identity_stats(J))
    t = codec.encode(people, size)
    h, w = t["scmap"].shape[:2]
    xs, ys = codec.cell_centers(h, w)
    part = np.zeros((h, w, J), np.float32)
    for p in people:
        for j, (x, y, v) in enumerate(p):
            if v > 0:
                d = np.hypot(xs[None, :] - x, ys[:, None] - y)
                part[..., j] = np.maximum(part[..., j], np.where(d <= radius, 1 - 0.5 * d / radius, 0))
    pw = codec.pairwise_to_pixels(t["pairwise_map"])
    pw = pw + rng.normal(0, noise_px, pw.shape).astype(np.float32) * (t["pairwise_mask"] > 0)
    return Maps(part, t["locref_map"], pw.astype(np.float32), size, 8.0)


def scenes(seed, n, size=(192, 192)):
    cfg = SyntheticConfig(width=size[1], height=size[0], num_people=(2, 3), joint_set="mpii14",
                          person_height=(0.5, 0.8))
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        _, people = generate_image(np.random.default_rng([seed, i]), cfg)
        people = np.stack(people).astype(np.float32) if people else np.zeros((0, J, 3), np.float32)
        out.append((exact_maps(people, size, rng), people))
    return out


SETTINGS = MultiPersonSettings(nms_radius=2, det_min_score=0.3)


def test_match_detections_nearest_within_radius():
    people = np.zeros((2, 2, 3), np.float32)
    people[0, 0] = (10, 10, 2)
    people[1, 0] = (30, 10, 2)
    people[0, 1] = (10, 40, 2)
    people[1, 1] = (0, 0, 0)  # unlabeled
    peaks = Peaks(np.array([0, 0, 0, 1, 1], np.int32),
                  np.array([[12, 10], [26, 10], [60, 60], [11, 41], [1, 1]], np.float32),
                  np.ones(5, np.float32), np.zeros((5, 2), np.int32))
    assert match_detections(peaks, people, 5.0).tolist() == [0, 1, -1, 0, -1]


def test_edge_samples_labels_two_people():
    rng = np.random.default_rng(0)
    people = np.zeros((2, J, 3), np.float32)
    base = np.array([[40, 150], [42, 120], [44, 92], [64, 92], [66, 120], [68, 150], [30, 80],
                     [34, 62], [40, 42], [68, 42], [74, 62], [78, 80], [54, 34], [54, 12]])
    people[0, :, :2] = base
    people[1, :, :2] = base + (100, 0)
    people[..., 2] = 2
    m = exact_maps(people, (160, 240), rng, noise_px=0.0)
    peaks = detect(m.part, m.locref, SETTINGS)
    assert len(peaks) == 2 * J
    pairs = MPII14.pair_graph
    s = edge_samples(peaks, m.pairwise, people, pairs, RADIUS)
    # every pair: 2 x 2 candidate edges, 2 same-person, 2 cross-person
    assert len(s) == 4 * len(pairs)
    assert s.labels.sum() == 2 * len(pairs)
    assert s.features.shape == (len(s), 9)
    pos, neg = s.features[s.labels == 1], s.features[s.labels == 0]
    # forward distance error: small for the true person, large across people
    assert pos[:, 0].max() < RADIUS + 1 and neg[:, 0].min() > 50


def test_fit_logistic_recovers_weights():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=(4000, 2)), np.ones((4000, 1))], axis=1)
    w_true = np.array([2.0, -3.0, 0.5])
    y = (rng.random(4000) < 1 / (1 + np.exp(-x @ w_true))).astype(float)
    w = fit_logistic(x, y, l2=1e-6)
    np.testing.assert_allclose(w, w_true, atol=0.3)
    # the penalty shrinks the weights, never the intercept
    w_reg = fit_logistic(x, y, l2=1e4)
    assert np.abs(w_reg[:2]).max() < 0.2 and abs(w_reg[2]) > 0.1
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert np.isnan(roc_auc(np.ones(3), np.ones(3)))


def test_fit_pair_models_fallbacks(caplog):
    pairs = np.array([[0, 1], [1, 2]])
    rng = np.random.default_rng(2)
    n = 200
    f = np.abs(rng.normal(size=(n, 9))) * 10
    y = (f[:, 0] < 8).astype(np.int8)
    f[:, 8] = 1
    s = EdgeSamples(f, y, np.zeros(n, np.int64))  # only pair 0 has data
    model, report = fit_pair_models(s, pairs, min_samples=10)
    assert [p.source for p in report.pairs] == ["own", "pooled"]
    assert report.pairs[0].train_auc > 0.95
    np.testing.assert_allclose(model.weights[1], model.weights[0])  # pooled == only data
    # only positives (single-person images): the prior model, with a warning
    with caplog.at_level(logging.WARNING):
        model, report = fit_pair_models(EdgeSamples(f, np.ones(n, np.int8), np.zeros(n, np.int64)),
                                        pairs)
    assert all(p.source == "prior" for p in report.pairs)
    assert "prior" in caplog.text
    mn, mx, w = prior_pair_model()
    np.testing.assert_allclose(model.weights[0], w)
    perfect = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1.0]])
    assert model.probabilities(perfect, np.array([0]))[0] > 0.9


def test_fit_on_exact_maps_separates_held_out_edges(tmp_path):
    pairs = MPII14.pair_graph
    train = scenes(10, 40)
    model, report = fit_spatial_model([m for m, _ in train], [p for _, p in train], pairs,
                                      radius=RADIUS, settings=SETTINGS, return_report=True)
    assert isinstance(model, SpatialModel) and model.num_pairs == len(pairs)
    assert report.num_images == 40
    assert sum(p.source == "own" for p in report.pairs) >= len(pairs) // 2
    # held-out images, same generator, other seed
    test = scenes(11, 20)
    held = EdgeSamples.concat([edge_samples(detect(m.part, m.locref, SETTINGS), m.pairwise, p,
                                            pairs, RADIUS) for m, p in test])
    assert held.labels.sum() > 50 and (1 - held.labels).sum() > 50
    prob = model.probabilities(held.features, held.pair_index)
    auc = roc_auc(prob, held.labels)
    assert auc > 0.9, auc
    acc = np.mean((prob > 0.5) == (held.labels > 0))
    assert acc > 0.8, acc
    # save / load round trip keeps the probabilities
    model.save(tmp_path / "s.npz")
    back = SpatialModel.load(tmp_path / "s.npz")
    np.testing.assert_allclose(back.probabilities(held.features, held.pair_index), prob)


def test_fit_cli_tiny_untrained_net(tmp_path, monkeypatch, capsys):
    """`python -m arttrack.pairwise fit` end to end on a tiny pairwise net (untrained)."""
    import mindspore as ms

    monkeypatch.chdir(tmp_path)
    ms.set_device("CPU")
    from arttrack.models.checkpoint import save_checkpoint
    from arttrack.config import load_config
    from arttrack.models.factory import build_model
    from arttrack.pairwise import main

    c = J * (J - 1)
    from arttrack.data.pairwise_stats import PairwiseStats, save_pairwise_stats

    save_pairwise_stats(PairwiseStats("mpii14", MPII14.names, np.zeros((c, 2)), np.full((c, 2), 10.0),
                                      np.ones(c, np.int64)), tmp_path / "stats.npz")
    cfg = load_config(None, ["net_type=resnet_tiny", "width=8", "depths=[1,1,1,1]",
                             "freeze_bn=false", "multi_person=true", "pairwise_predict=true",
                             f"pairwise_stats_fn={tmp_path / 'stats.npz'}",
                             "synthetic_people=[2,2]", "synthetic_image_size=[64,64]",
                             "synthetic_size=4"])
    path = save_checkpoint(build_model(cfg, pretrained=False), tmp_path / "snap", 1, cfg)
    out = tmp_path / "spatial.npz"
    assert main(["fit", "--ckpt", str(path), "--num-images", "2", "--mode", "pynative",
                 "--out", str(out)]) == 0
    model = SpatialModel.load(out)
    np.testing.assert_array_equal(model.pairs, MPII14.pair_graph)
    assert main(["fit", "--ckpt", str(path), "--num-images", "2", "--mode", "pynative",
                 "--hops", "13", "--out", str(out)]) == 0  # every pair of the 14 joints
    np.testing.assert_array_equal(SpatialModel.load(out).pairs,
                                  [(a, b) for a in range(J) for b in range(a + 1, J)])
    assert main(["fit", "--ckpt", str(path), "--hops", "0", "--out", str(out)]) == 2
    assert "arttrack.pairwise: error: --hops must be >= 1" in capsys.readouterr().err
    # --temporal-out: a clear error without clips, else the temporal model of the GT tracks
    assert main(["fit", "--ckpt", str(path), "--out", str(out), "--temporal-out",
                 str(tmp_path / "t.npz")]) == 2
    from arttrack.data.synthetic import write_posetrack
    from arttrack.tracking import TemporalModel

    syn = SyntheticConfig(width=160, height=120, num_people=(2, 3), joint_set="coco17")
    write_posetrack(tmp_path / "pt", 1, num_frames=8, seed=0, config=syn, write_video=False,
                    progress=False)
    tout = tmp_path / "temporal.npz"
    assert main(["fit", "--ckpt", str(path), "--num-images", "1", "--mode", "pynative",
                 "--out", str(out), "--temporal-out", str(tout),
                 "--clips", str(tmp_path / "pt" / "annotations" / "val")]) == 0
    assert TemporalModel.load(tout).num_positives > 0
