"""Checkpoint format of docs/design.md: round trip and one-line errors."""

import pickle

import pytest
import torch

from semanticnn.errors import CheckpointError
from semanticnn.model.checkpoint import load_decoder, load_encoder, save_decoder, save_encoder
from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config

torch.set_num_threads(1)
FIX = "(re-run `snn train` or pass the right file)"


def test_encoder_round_trip(tmp_path):
    enc = SplitEncoder(encoder_config(code_channels=4, levels=8, mapping="gray")).eval()
    path = save_encoder(tmp_path / "encoder.pt", enc, {"seed": 3})
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"format", "version", "config", "state_dict", "metadata"}
    assert raw["format"] == "semanticnn-encoder" and raw["version"] == 1
    assert raw["config"]["levels"] == 8 and raw["config"]["mapping"] == "gray"
    back = load_encoder(path)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(back(x).indices, enc(x).indices)
    assert back.metadata == {"seed": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["encoder.pt"]  # no temp file left


def test_decoder_round_trip(tmp_path):
    dec = SplitDecoder(decoder_config()).eval()
    save_decoder(tmp_path / "decoder.pt", dec)
    back = load_decoder(tmp_path / "decoder.pt")
    v = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        assert torch.equal(back(v, 0.01), dec(v, 0.01))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError) as err:
        load_encoder(path)
    assert str(err.value) == f"checkpoint not found: {path} {FIX}"


def test_corrupt_file(tmp_path):
    path = tmp_path / "encoder.pt"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError) as err:
        load_encoder(path)
    assert str(err.value) == f"{path} is not a readable torch checkpoint {FIX}"


def test_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump(object(), fh)
    with pytest.raises(CheckpointError):
        load_encoder(path)


def test_not_a_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError) as err:
        load_encoder(path)
    assert str(err.value) == f"{path} is not a SemanticNN checkpoint: not a dict {FIX}"


def test_wrong_format(tmp_path):
    dec_path = save_decoder(tmp_path / "decoder.pt", SplitDecoder(decoder_config()))
    with pytest.raises(CheckpointError) as err:
        load_encoder(dec_path)
    assert str(err.value) == (f"{dec_path} has format 'semanticnn-decoder', "
                              f"expected 'semanticnn-encoder' {FIX}")
    assert "\n" not in str(err.value)


def test_config_mismatch(tmp_path):
    path = save_encoder(tmp_path / "e.pt", SplitEncoder(encoder_config(code_channels=4)))
    raw = torch.load(path, weights_only=True)
    raw["config"]["code_channels"] = 6
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_encoder(path)
