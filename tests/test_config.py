from pathlib import Path

import numpy as np
import pytest

from arttrack.config import Config, ConfigError, load_config, save_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.total_steps == cfg.multi_step[-1][1]


def test_overrides_are_parsed_as_yaml():
    cfg = load_config(None, ["depths=[1, 2, 1, 1]", "mirror=false", "weight_decay=0", "net_type=resnet50"])
    assert cfg.depths == (1, 2, 1, 1)
    assert cfg.mirror is False
    assert cfg.weight_decay == 0.0 and isinstance(cfg.weight_decay, float)
    assert cfg.net_type == "resnet50"


@pytest.mark.parametrize(
    "override, message",
    [
        ("mirorr=true", "did you mean 'mirror'"),
        ("batch_size=1.5", "batch_size: expected an integer"),
        ("mirror=1", "mirror: expected true or false"),
        ("mode=eager", "mode: 'eager' is not one of"),
        ("multi_step=[[0.1, 10], [0.1, 5]]", "increasing steps"),
        ("synthetic_image_size=[1, 2, 3]", "list of 2 items"),
        ("noequals", "expected key=value"),
        ("synthetic_person_height=[0.9, 0.5]", "synthetic_person_height: need"),
        ("output_stride=8", "maps have stride 4, not 8; set stride: 4"),
        ("joint_loss_weights=[[left_wrist, 2]]", "'left_wrist' is not a joint of mpii14"),
        ("joint_loss_weights=[[l_wrist, 2], [l_wrist, 3]]", "'l_wrist' is given twice"),
        ("joint_loss_weights=[[l_wrist, 0]]", "weight of l_wrist must be finite and positive"),
        ("joint_loss_weights=[[l_wrist]]", "joint_loss_weights: expected a list of 2 items"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_output_stride_with_its_map_stride_loads():
    assert load_config(None, ["output_stride=8", "stride=4"]).stride == 4.0
    assert load_config(None, ["output_stride=32", "stride=16"]).stride == 16.0


def test_unknown_key_in_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("net_type: resnet50\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="unknown key.*learning_rate"):
        load_config(path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(scalar)


def test_save_round_trip(tmp_path):
    cfg = load_config(None, ["depths=[1,1,1,1]", "multi_step=[[0.1, 5], [0.01, 9]]"])
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]  # no temporary file left
    assert Config().replace(batch_size=4).batch_size == 4


@pytest.mark.parametrize("dataset_type, joint_set", [("coco", "mpii14"), ("mpii", "posetrack15"),
                                                     ("coco", "posetrack15")])
def test_real_datasets_keep_their_joint_set(dataset_type, joint_set):
    with pytest.raises(ConfigError, match=f"{dataset_type} annotations have the"):
        load_config(None, [f"dataset_type={dataset_type}", f"joint_set={joint_set}"])


def test_synthetic_walking_is_a_share():
    assert load_config(None, ["synthetic_walking=0.25"]).synthetic_walking == 0.25
    with pytest.raises(ConfigError, match="synthetic_walking"):
        load_config(None, ["synthetic_walking=1.5"])
    with pytest.raises(ConfigError, match="synthetic_clip_frames"):
        load_config(None, ["synthetic_clip_frames=-0.1"])


def test_joint_loss_weights_reach_the_codec():
    from arttrack.models.factory import build_codec
    from arttrack.joints import MPII14

    cfg = load_config(None, ["joint_loss_weights=[[l_wrist, 2], [r_ankle, 1.5]]"])
    assert cfg.joint_loss_weights == (("l_wrist", 2.0), ("r_ankle", 1.5))
    want = np.ones(MPII14.num_joints, np.float32)
    want[MPII14.names.index("l_wrist")], want[MPII14.names.index("r_ankle")] = 2.0, 1.5
    np.testing.assert_array_equal(build_codec(cfg).joint_weights, want)
    assert build_codec(Config()).joint_weights is None
