"""`snn train --config`: TOML/YAML into TrainConfig, flags override, one-line ConfigErrors."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from semanticnn.errors import ConfigError
from semanticnn.train.cli import train_cmd
from semanticnn.train.config import TrainConfig, make_config


def test_toml_file_then_flags_override(tmp_path):
    (tmp_path / "data").mkdir()
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'backbone = "mobilenetv2"\ndataset = "imagefolder"\ndata = "{tmp_path / "data"}"\n'
                   "levels = 4\nepochs_base = 7\nxai_weight = 0.05\nstage1 = false\n")
    config = make_config(cfg, levels=16, seed=None)
    assert type(config) is TrainConfig
    assert (config.backbone, config.levels, config.epochs_base, config.xai_weight, config.stage1) == (
        "mobilenetv2", 16, 7, 0.05, False)
    assert config.seed == 0 and config.train_tail is False


def test_yaml_file(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("backbone: resnet50\nbatch_size: 64\nlr_stage2: 0.0005\ntrain_tail: true\n")
    config = make_config(cfg)
    assert (config.backbone, config.batch_size, config.lr_stage2, config.train_tail) == ("resnet50", 64, 5e-4, True)


@pytest.mark.parametrize(("text", "message"), [
    ("levels = 6\n", "--levels must be a power of two >= 2, got 6"),
    ('backbone = "vgg"\n', "unknown backbone 'vgg' (known: resnet8, resnet50, mobilenetv2)"),
    ('dataset = "imagefolder"\ndata = "/nonexistent/tiny"\n', "dataset not found: /nonexistent/tiny "
     "(pass --data DIR)"),
    ('levels = "8"\n', "levels must be a int, got '8'"),
    ('payload_code = "hamming"\n', "--payload-code must be 'plain' or 'golay-msb', got 'hamming'"),
    ("feature_weight = -0.5\n", "--feature-weight must be >= 0, got -0.5"),
    ("balance_weight = -1.0\n", "--balance-weight must be >= 0, got -1.0"),
    ("time_limit = -5.0\n", "--time-limit must be >= 0 minutes, got -5.0"),
])
def test_bad_values_are_one_line_config_errors(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        make_config(cfg)
    assert str(err.value) == message


def test_unknown_key_in_file(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("epochs = 3\n")
    with pytest.raises(ConfigError) as err:
        make_config(cfg)
    assert str(err.value).startswith(f"unknown key 'epochs' in {cfg} (known: backbone, dataset, data,")


def test_cli_reports_config_error(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("levels: 12\n")
    result = CliRunner().invoke(train_cmd, ["--config", str(cfg)])
    assert type(result.exception) is ConfigError
    assert str(result.exception) == "--levels must be a power of two >= 2, got 12"


CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["mcu.toml", "resnet50-cifar100.toml", "mobilenetv2-cifar100.toml"])
def test_shipped_configs_are_valid(name):
    config = make_config(CONFIGS / name)
    assert config.levels in (2, 4, 8) and config.mapping == "gray"


def test_mcu_config_is_the_192_byte_model():
    config = make_config(CONFIGS / "mcu.toml")
    assert (config.backbone, config.code_channels, config.levels, config.train_tail) == ("resnet8", 24, 2, True)
    assert (config.balance_weight, config.epochs_stage2, config.ber_max) == (1.0, 144, 0.05)
    assert config.code_channels * 8 * 8 * 1 // 8 == 192


def test_the_frozen_c12_config_is_mcu_toml_but_for_the_four_keys_that_changed():
    from semanticnn.evaluate.frontier import C12, RUNS, SHIPPED, _run_config

    shipped, c12 = make_config(CONFIGS / "mcu.toml").run_identity(), make_config(CONFIGS / "mcu-c12.toml")
    assert {k: v for k, v in c12.run_identity().items() if shipped[k] != v} == {
        "code_channels": 12, "levels": 4, "balance_weight": 0.0, "epochs_stage2": 48}
    assert _run_config(SHIPPED).run_identity() == shipped and RUNS[C12].config == "mcu-c12.toml"


def test_lora_config_is_the_48_byte_frontier_run():
    from semanticnn.channel.payload import PayloadLayout
    from semanticnn.evaluate.frontier import RUNS, _run_config

    config = make_config(CONFIGS / "lora-48b.toml")
    assert PayloadLayout(config.code_channels * 64, config.levels, config.payload_code).n_bytes == 48
    assert (config.encoder_blocks, config.encoder_ds_blocks) == (1, 1)
    blk1 = _run_config("c6-l2-blk1").run_identity()  # the same run but for the residual block
    assert {k: v for k, v in config.run_identity().items() if blk1[k] != v} == {"encoder_ds_blocks": 1,
                                                                                  "balance_weight": 1.0,
                                                                                  "epochs_stage2": 48}
    assert (RUNS["lora-48b-s48"].config, RUNS["lora-48b-s48"].overrides) == ("lora-48b.toml", {})
    assert _run_config("c6-l2-blk1-ds1-bal").epochs_stage2 == 24  # the same run on half the stage 2
    no_penalty = _run_config("c6-l2-blk1-ds1")  # ... and without the penalty
    assert (no_penalty.balance_weight, no_penalty.epochs_stage2) == (0.0, 24)


def test_tinyimagenet_config_names_its_missing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # a home without ~/datasets, whatever this machine holds
    with pytest.raises(ConfigError) as err:
        make_config(CONFIGS / "resnet50-tinyimagenet.toml")
    assert str(err.value) == "dataset not found: ~/datasets/tiny-imagenet-200 (pass --data DIR)"
