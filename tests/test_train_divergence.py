"""Training never writes NaN: non-finite config values and a diverging loss stop it with one line."""

import json

import pytest

from semanticnn.errors import ConfigError, TrainingError
from semanticnn.train import pipeline
from semanticnn.train.config import make_config
from semanticnn.train.pipeline import run_training
from train_helpers import make_imagefolder, tiny_options


@pytest.mark.parametrize("text, message", [
    ("lr_base = nan", "lr_base must be a finite number, got nan"),
    ("ber_max = inf", "ber_max must be a finite number, got inf"),
    ("lr_stage2 = 0.0", "--lr-stage2 must be > 0, got 0.0"),
])
def test_non_finite_config_values_are_refused(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        make_config(path)
    assert str(info.value) == message


def test_a_diverging_loss_stops_training_before_anything_holds_nan(tmp_path):
    data = make_imagefolder(tmp_path / "data")
    out = tmp_path / "out"
    with pytest.raises(TrainingError) as info:
        run_training(log=lambda m: None, **tiny_options(data, out, lr_base=1e38))
    assert str(info.value).startswith("base diverged in epoch 1 (")
    assert str(info.value).endswith("): lower lr_base and train again; nothing of this stage was saved")
    assert not out.exists()  # the first epoch diverged: no state, checkpoint or log was written


def test_a_diverging_later_epoch_keeps_the_last_finite_state(tmp_path, monkeypatch):
    from semanticnn.train import state

    data = make_imagefolder(tmp_path / "data")
    out = tmp_path / "out"
    real_check = state.check_finite

    def nan_in_stage1(stage, epoch, loss, modules):
        real_check(stage, epoch, float("nan") if stage == "stage1" else loss, modules)

    monkeypatch.setattr(pipeline, "check_finite", nan_in_stage1)
    with pytest.raises(TrainingError, match=r"^stage1 diverged in epoch 1 \(loss is nan\)"):
        run_training(log=lambda m: None, **tiny_options(data, out))
    assert sorted(p.name for p in out.iterdir()) == ["base.pt", "train_state.pt"]
    saved = state.load_state(out, make_config(**tiny_options(data, out)))
    assert saved["stage"] == "base"
    json.dumps(saved["record"], allow_nan=False)


def test_an_interrupted_start_leaves_no_empty_output_folder(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    data = make_imagefolder(tmp_path / "data")
    monkeypatch.setattr(pipeline, "load_dataset", interrupted)
    out = tmp_path / "runs" / "out"
    with pytest.raises(KeyboardInterrupt):
        run_training(log=lambda m: None, **tiny_options(data, out))
    assert not (tmp_path / "runs").exists()
