"""`snn snapshot`: a run's encoder and decoder from its per-epoch state, for `snn eval` mid-run."""

import pytest
import torch

from semanticnn.model.checkpoint import load_decoder, load_encoder, read_checkpoint
from semanticnn.train.pipeline import run_training
from test_cli_errors import assert_one_line_error, run_cli
from train_helpers import make_imagefolder, tiny_options


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_imagefolder(tmp_path_factory.mktemp("tiny"))


def _stop_at(prefix):
    def log(message):
        if message.startswith(prefix):
            raise Interrupt(message)
    return log


def _state_dicts(out):
    return [read_checkpoint(out / f"{n}.pt", f"semanticnn-{n}")["state_dict"] for n in ("encoder", "decoder")]


def test_snapshot_of_a_finished_run_is_its_checkpoints(folder, tmp_path):
    run_training(**tiny_options(folder, tmp_path / "run"), log=lambda m: None)
    got = run_cli("snn", "snapshot", tmp_path / "run", "-o", tmp_path / "snap")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == (f"stage2 epoch 1 of {tmp_path / 'run'}: wrote {tmp_path / 'snap'}/encoder.pt, "
                                  f"{tmp_path / 'snap'}/decoder.pt")
    for final, snap in zip(_state_dicts(tmp_path / "run"), _state_dicts(tmp_path / "snap"), strict=True):
        assert final.keys() == snap.keys()
        assert all(torch.equal(final[k], snap[k]) for k in final)


def test_snapshot_mid_stage2_is_that_epochs_codec(folder, tmp_path):
    opts = dict(epochs_stage2=2)
    with pytest.raises(Interrupt):
        run_training(**tiny_options(folder, tmp_path / "run", **opts), log=_stop_at("stage2 epoch 1/2"))
    stage1 = _state_dicts(tmp_path / "run")  # written when stage 1 ended
    run_cli("snn", "snapshot", tmp_path / "run", "-o", tmp_path / "snap")
    encoder, decoder = load_encoder(tmp_path / "snap" / "encoder.pt"), load_decoder(tmp_path / "snap" / "decoder.pt")
    assert encoder.config["code_channels"] == 2 and decoder.config["classes"] == 2
    assert torch.equal(decoder.centres, torch.as_tensor(encoder.centres(), dtype=torch.float32))
    meta = read_checkpoint(tmp_path / "snap" / "encoder.pt", "semanticnn-encoder")["metadata"]
    assert (meta["stage"], meta["epoch"]) == ("stage2", 1)
    assert not torch.equal(encoder.state_dict()["conv.weight"], stage1[0]["conv.weight"])
    with torch.no_grad():
        assert decoder.classify_indices(encoder(torch.rand(2, 3, 32, 32)).indices, 0.01).shape == (2, 2)


def test_snapshot_names_a_folder_without_a_state_and_a_run_still_on_its_base(folder, tmp_path):
    assert_one_line_error(run_cli("snn", "snapshot", tmp_path, "-o", tmp_path / "snap"),
                          f"no train_state.pt in {tmp_path}: pass the --out folder of a run of snn train")
    with pytest.raises(Interrupt):
        run_training(**tiny_options(folder, tmp_path / "run", epochs_base=2), log=_stop_at("base epoch 1/2"))
    assert_one_line_error(run_cli("snn", "snapshot", tmp_path / "run", "-o", tmp_path / "snap"),
                          f"{tmp_path / 'run'} is still training its base model (epoch 1): the codec starts "
                          "with stage 1, take the snapshot then")
    assert not (tmp_path / "snap").exists()


def test_snapshot_keeps_out_of_the_runs_own_folder(folder, tmp_path):
    run_training(**tiny_options(folder, tmp_path / "run"), log=lambda m: None)
    before = (tmp_path / "run" / "encoder.pt").read_bytes()
    assert_one_line_error(run_cli("snn", "snapshot", tmp_path / "run", "-o", tmp_path / "run" / "."),
                          f"{tmp_path / 'run'} is the run's own folder, where its stages write encoder.pt and "
                          "decoder.pt: pick another folder for the snapshot")
    assert (tmp_path / "run" / "encoder.pt").read_bytes() == before
