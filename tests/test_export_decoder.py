"""snn export-decoder: the shipped decoder on onnxruntime matches PyTorch; a failed check writes nothing."""

import hashlib
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import SHIPPED_DECODER, SHIPPED_ENCODER
from semanticnn.channel import golay
from semanticnn.data import read_calibration
from semanticnn.errors import ConfigError, ExportError
from semanticnn.export import decoder as decoder_export
from semanticnn.export.decoder_cli import export_decoder_cmd
from semanticnn.model.checkpoint import load_decoder, load_encoder

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("edge") / "edge"
    result = CliRunner().invoke(export_decoder_cmd, [str(SHIPPED_DECODER), "-o", str(out), "--mtu", "51"])
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "decoder.json").read_text())


def test_writes_the_graph_and_a_manifest_a_receiver_can_use(exported):
    out, manifest = exported
    assert sorted(p.name for p in out.iterdir()) == ["decoder.json", "decoder.onnx"]
    dec = load_decoder(SHIPPED_DECODER)
    c, h, w = dec.config["code_shape"]
    assert manifest["n_symbols"] == c * h * w and manifest["symbol_order"] == "NHWC"
    assert (manifest["levels"], manifest["bits_per_symbol"]) == (dec.config["levels"], 1)
    assert manifest["payload_bytes"] == (c * h * w * manifest["bits_per_symbol"] + 7) // 8 == 192
    assert manifest["max_packets"] == 5
    assert manifest["centres"] == [float(v) for v in dec.centres]
    packet = manifest["packet"]
    assert (packet["format"], packet["header_bytes"], packet["max_packets_per_frame"]) == (2, 6, 64)
    assert packet["golay_parity_rows"] == list(golay.PARITY_ROWS)
    assert manifest["check"] == {**manifest["check"], "samples": 500, "argmax_agreement": 1.0, "passed": True}
    assert manifest["provenance"]["checkpoints"] == {  # the encoder found beside the decoder is recorded too
        role: {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        for role, path in (("decoder", SHIPPED_DECODER), ("encoder", SHIPPED_ENCODER))}


def test_onnxruntime_agrees_with_pytorch_on_300_other_images_with_erasures(exported):
    import onnxruntime as ort

    out, manifest = exported
    enc, dec = load_encoder(SHIPPED_ENCODER), load_decoder(SHIPPED_DECODER)
    images = read_calibration()[0][500:800]
    indices, ber, erased = decoder_export._check_inputs(enc, dec, images, manifest["mtu"], seed=1)
    assert 0.05 < float(erased.float().mean()) < 0.2
    session = ort.InferenceSession(str(out / "decoder.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"indices": indices.numpy(), "ber": ber.numpy(), "erased": erased.numpy()})[0]
    with torch.no_grad():
        want = dec.classify_indices(indices, ber, erased).numpy()
    assert got.shape == (300, 10)
    assert (got.argmax(1) == want.argmax(1)).all()
    assert np.abs(got - want).max() < decoder_export.MAX_LOGIT_DIFF


def test_a_failed_check_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(decoder_export, "MAX_LOGIT_DIFF", -1.0)
    with pytest.raises(ExportError) as err:
        decoder_export.export_decoder(SHIPPED_DECODER, tmp_path / "edge", samples=20)
    assert str(err.value).startswith("onnxruntime disagrees with PyTorch: argmax agreement 1.0000, max logit")
    assert str(err.value).endswith("(limit -1); nothing written")
    assert list(tmp_path.iterdir()) == []


def test_an_mtu_that_needs_more_than_64_packets_writes_nothing(tmp_path):
    with pytest.raises(ConfigError) as err:
        decoder_export.export_decoder(SHIPPED_DECODER, tmp_path / "edge", mtu=8)
    assert str(err.value) == ("--mtu 8 cuts the 192-byte bitstream into 96 packets, the header counts at most 64: "
                              "pass 9 or more")
    assert list(tmp_path.iterdir()) == []


def test_the_receiver_refuses_a_manifest_of_the_old_packet_header(exported, tmp_path):
    from semanticnn.edge import load_edge_model

    out = exported[0]
    manifest = json.loads((out / "decoder.json").read_text())
    old = tmp_path / "old"
    old.mkdir()
    (old / "decoder.onnx").write_bytes((out / "decoder.onnx").read_bytes())
    del manifest["packet"]["format"]  # manifests of the 7-byte CRC-8 header had no format
    (old / "decoder.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError) as err:
        load_edge_model(old)
    assert str(err.value) == (f"{old / 'decoder.json'} is for packet header format 1, this receiver reads format 2: "
                              "export it with `snn export-decoder decoder.pt -o DIR`")


def test_missing_encoder_names_the_option(tmp_path):
    lone = tmp_path / "decoder.pt"
    lone.write_bytes(SHIPPED_DECODER.read_bytes())
    with pytest.raises(ConfigError) as err:
        decoder_export.export_decoder(lone, tmp_path / "edge")
    assert str(err.value) == f"encoder not found: {tmp_path / 'encoder.pt'} (the check encodes images: pass --encoder)"


@pytest.mark.parametrize("extra", [{}, {"posterior_input": True, "refine_blocks": 1}],
                         ids=["mask", "mask+posterior+refine"])
def test_a_decoder_that_takes_the_erasure_mask_exports_and_agrees(tmp_path, extra):
    from semanticnn.model.checkpoint import save_decoder, save_encoder
    from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config

    torch.manual_seed(0)
    save_encoder(tmp_path / "encoder.pt", SplitEncoder(encoder_config(code_channels=2, levels=4)))
    dec = SplitDecoder(decoder_config(code_channels=2, levels=4, hidden=8, erasure_input=True, **extra))
    manifest = decoder_export.export_decoder(save_decoder(tmp_path / "decoder.pt", dec), tmp_path / "edge", samples=64)
    assert manifest["erasure_input"] is True and manifest["code_shape"] == [2, 8, 8]
    assert manifest["check"]["argmax_agreement"] == 1.0 and manifest["check"]["passed"] is True
