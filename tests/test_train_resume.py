"""Seeded runs repeat exactly; a run resumed from its per-epoch state ends with the same weights."""

import time

import pytest
import torch

from semanticnn.errors import ConfigError
from semanticnn.model.checkpoint import load_base, read_checkpoint
from semanticnn.train.pipeline import TimeLimitReached, run_training
from semanticnn.train.state import STATE_NAME
from train_helpers import make_imagefolder, tiny_options


class Interrupt(Exception):
    pass


def _weights(out):
    return {name: read_checkpoint(out / f"{name}.pt", f"semanticnn-{name}")["state_dict"]
            for name in ("encoder", "decoder")}


def _assert_same(a, b):
    for name in a:
        assert a[name].keys() == b[name].keys()
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), f"{name}.{key}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_imagefolder(tmp_path_factory.mktemp("tiny"))


def test_same_config_same_weights(folder, tmp_path):
    run_training(**tiny_options(folder, tmp_path / "a"), log=lambda m: None)
    run_training(**tiny_options(folder, tmp_path / "b"), log=lambda m: None)
    _assert_same(_weights(tmp_path / "a"), _weights(tmp_path / "b"))
    assert load_base(tmp_path / "a" / "base.pt").config == {"backbone": "resnet8", "stem_channels": 16,
                                                            "classes": 2}


@pytest.mark.parametrize("stop_at", ["base epoch 1/2", "stage2 epoch 1/2"])
def test_resume_after_epoch_1_equals_uninterrupted(folder, tmp_path, stop_at):
    opts = dict(epochs_base=2, epochs_stage2=2, xai_weight=0.1, xai_samples=4)
    run_training(**tiny_options(folder, tmp_path / "full", **opts), log=lambda m: None)

    def log(message):
        if message.startswith(stop_at):
            raise Interrupt(message)

    with pytest.raises(Interrupt):
        run_training(**tiny_options(folder, tmp_path / "cut", **opts), log=log)
    assert (tmp_path / "cut" / STATE_NAME).is_file()
    (tmp_path / "cut").rename(tmp_path / "moved")  # as when a run started elsewhere ends here
    first_leg = torch.load(tmp_path / "moved" / STATE_NAME, weights_only=True)["record"]["train_seconds"]
    t0 = time.time()
    record = run_training(**tiny_options(folder, tmp_path / "moved", **opts), log=lambda m: None, resume=True)
    assert first_leg < record["train_seconds"] < first_leg + time.time() - t0  # both legs, counted once
    _assert_same(_weights(tmp_path / "full"), _weights(tmp_path / "moved"))
    assert record["out"] == str(tmp_path / "moved")
    assert [row["device"] for row in record["stage2_history"]] == ["cpu", "cpu"]


def test_legs_cut_by_the_time_limit_end_with_the_uninterrupted_weights(folder, tmp_path):
    """A limit no epoch fits in stops every leg after one epoch, at the stage ends too, but not the last one."""
    opts = dict(epochs_base=2, epochs_stage2=2)
    run_training(**tiny_options(folder, tmp_path / "full", **opts), log=lambda m: None)
    out, stops = tmp_path / "legs", []
    for leg in range(6):
        try:
            record = run_training(**tiny_options(folder, out, time_limit=1e-9, **opts), log=lambda m: None,
                                  resume=leg > 0)
            break
        except TimeLimitReached as stop:
            stops.append(str(stop))
    assert [s.split(":")[0].removeprefix("stopped after ") for s in stops] == [
        "base epoch 1 of 2", "base epoch 2 of 2", "stage1 epoch 1 of 1", "stage2 epoch 1 of 2"]
    assert stops[0] == ("stopped after base epoch 1 of 2: another epoch would pass --time-limit 1e-09 min; continue "
                        f"with the same command and --resume (state in {out / STATE_NAME})")
    assert len(record["stage2_history"]) == 2
    _assert_same(_weights(tmp_path / "full"), _weights(out))


def test_resume_with_another_config_is_refused(folder, tmp_path):
    run_training(**tiny_options(folder, tmp_path, epochs_stage2=0), log=lambda m: None)
    with pytest.raises(ConfigError) as err:
        run_training(**tiny_options(folder, tmp_path, epochs_stage2=0, levels=4), log=lambda m: None, resume=True)
    assert str(err.value) == "--resume: levels is 4 but the saved run used 8"


def test_resume_of_a_run_saved_before_a_key_existed_takes_the_default(folder, tmp_path):
    run_training(**tiny_options(folder, tmp_path, epochs_stage2=0), log=lambda m: None)
    state = torch.load(tmp_path / STATE_NAME, weights_only=True)
    del state["config"]["encoder_context"]  # as a run started before the key was added
    torch.save(state, tmp_path / STATE_NAME)
    run_training(**tiny_options(folder, tmp_path, epochs_stage2=0), log=lambda m: None, resume=True)
    with pytest.raises(ConfigError) as err:
        run_training(**tiny_options(folder, tmp_path, epochs_stage2=0, encoder_hidden=8, encoder_context=1),
                     log=lambda m: None, resume=True)
    assert str(err.value) == "--resume: encoder_context is 1 but the saved run used 0"


def test_resume_takes_the_same_base_by_another_path_but_not_another_base(tmp_path, monkeypatch):
    """``--base models/base.pt`` from the repo root and the absolute path of ``frontier --train`` are one base."""
    import dataclasses

    from semanticnn.train.config import TrainConfig
    from semanticnn.train.state import STATE_FORMAT, load_state

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "base.pt").write_bytes(b"base weights")
    (tmp_path / "other.pt").write_bytes(b"other weights")
    saved = dataclasses.replace(TrainConfig(), base="models/base.pt").run_identity()
    torch.save({"format": STATE_FORMAT, "version": 1, "config": saved, "stage": "stage2", "epoch": 3},
               tmp_path / STATE_NAME)
    same = dataclasses.replace(TrainConfig(), base=str(tmp_path / "models" / "base.pt"))
    assert load_state(tmp_path, same)["epoch"] == 3
    with pytest.raises(ConfigError) as err:
        load_state(tmp_path, dataclasses.replace(TrainConfig(), base=str(tmp_path / "other.pt")))
    assert str(err.value) == f"--resume: base is '{tmp_path / 'other.pt'}' but the saved run used 'models/base.pt'"
