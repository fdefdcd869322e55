"""`snn train` on a tiny subset writes loadable checkpoints; bad options fail cleanly."""

import json

import pytest
import torch
from click.testing import CliRunner

from semanticnn.data import default_cifar10_zip, load_split
from semanticnn.errors import ConfigError
from semanticnn.model.checkpoint import load_decoder, load_encoder
from semanticnn.provenance import provenance
from semanticnn.train.cli import train_cmd
from semanticnn.train.pipeline import run_training
from semanticnn.train.tensors import augment

ZIP = default_cifar10_zip()
needs_data = pytest.mark.skipif(not ZIP.is_file(), reason=f"{ZIP} not present")


@needs_data
def test_train_tiny_subset_writes_loadable_checkpoints(tmp_path):
    out = tmp_path / "models"
    args = ["--data", str(ZIP), "--out", str(out), "--limit", "200", "--epochs-base", "1",
            "--epochs-stage1", "1", "--epochs-stage2", "1", "--threads", "1"]
    result = CliRunner().invoke(train_cmd, args)
    assert result.exit_code == 0, result.output
    enc, dec = load_encoder(out / "encoder.pt"), load_decoder(out / "decoder.pt")
    assert enc.config["levels"] == 8 and enc.config["mapping"] == "gray"
    log = json.loads((out / "train_log.json").read_text())
    assert log["provenance"] == provenance()  # no input checkpoint: the base was trained here
    assert set(log["split_acc"]) == {"0.0", "0.01", "0.05", "0.1"}
    assert 0.0 <= log["base_test_acc"] <= 1.0
    from semanticnn.evaluate.code_usage import code_usage_of, usage_line

    test_images = load_split(ZIP, "test", 50, 0)[0]  # the run's test split: limit // 4, seed 0
    assert log["stage2_code_usage"] == code_usage_of(enc.eval(), test_images)
    assert len(log["stage2_code_usage"]["channel_bits"]) == enc.config["code_channels"]
    assert f"after stage2: {usage_line(log['stage2_code_usage'])}" in result.output
    assert torch.allclose(dec.centres, torch.tensor(enc.centres(), dtype=torch.float32))
    with torch.no_grad():
        idx = enc(torch.rand(2, 3, 32, 32)).indices
        assert dec.classify_indices(idx, 0.01).shape == (2, 10)


def test_time_limit_exits_75_and_says_how_to_go_on(tmp_path):
    from semanticnn.train.cli import EXIT_TIME_LIMIT
    from train_helpers import make_imagefolder, tiny_options

    options = tiny_options(make_imagefolder(tmp_path / "data"), tmp_path / "run", time_limit=1e-9)
    args = [arg for key, value in options.items() for arg in (f"--{key.replace('_', '-')}", str(value))]
    result = CliRunner().invoke(train_cmd, args)
    assert EXIT_TIME_LIMIT == 75 and result.exit_code == 75, result.output
    assert result.output.splitlines()[-1] == (
        "stopped after base epoch 1 of 1: another epoch would pass --time-limit 1e-09 min; continue with the "
        f"same command and --resume (state in {tmp_path / 'run' / 'train_state.pt'})")
    assert not (tmp_path / "run" / "encoder.pt").exists()


def test_missing_data_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="dataset not found"):
        run_training(data=tmp_path / "none.zip", out=tmp_path)


@needs_data
def test_levels_not_power_of_two(tmp_path):
    result = CliRunner().invoke(train_cmd, ["--data", str(ZIP), "--out", str(tmp_path), "--levels", "6"])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception) == "--levels must be a power of two >= 2, got 6"


def test_augment_shapes_and_range():
    x = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    y = augment(x, torch.Generator().manual_seed(0))
    assert y.shape == (5, 3, 32, 32) and y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
