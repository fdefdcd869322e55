"""`snn eval --int8`: the split rows send the symbols of the exported int8 graph and the firmware's SQ stage."""

import json

import numpy as np
import pytest
import torch

from conftest import ROOT, SHIPPED_DECODER, SHIPPED_ENCODER
from semanticnn.data import read_calibration
from semanticnn.errors import ConfigError
from semanticnn.evaluate.int8 import Int8Encoder
from semanticnn.export.convert import images_to_float
from semanticnn.export.pipeline import CALIBRATION_IMAGES, CHECK_IMAGES
from semanticnn.firmware.sq import float_symbols
from semanticnn.model.checkpoint import load_decoder, load_encoder
from test_cli_errors import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def device(exported_qemu):
    folder, manifest = exported_qemu
    return Int8Encoder(folder / "encoder_int8.tflite", load_encoder(SHIPPED_ENCODER)), manifest


def test_symbols_agree_with_the_float_encoder_as_the_export_measured(device):
    """On the export's own check images, the share of symbols equal to the float SQ stage's is the export's."""
    int8, manifest = device
    encoder = load_encoder(SHIPPED_ENCODER)
    images = read_calibration(limit=CALIBRATION_IMAGES + CHECK_IMAGES)[0][CALIBRATION_IMAGES:]  # NHWC uint8
    module = encoder.export_module()
    with torch.no_grad():
        gdn = module(images_to_float(images).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    expected = float_symbols(gdn, encoder.prelu_slopes().astype(np.float32), encoder.centres().astype(np.float32))
    got = int8.indices(images.transpose(0, 3, 1, 2)).numpy()
    assert got.shape == (CHECK_IMAGES, *int8.shape) and got.dtype == np.int64
    agreement = float(np.mean(got.transpose(0, 2, 3, 1) == expected))
    assert agreement == pytest.approx(manifest["checks"]["int8_vs_float"]["symbol_agreement"], abs=5e-6)
    assert agreement < 1.0  # the int8 graph really ran: it differs from the float encoder somewhere


def test_the_split_row_at_ber_0_is_the_decoder_on_the_device_symbols(exported_qemu, tmp_path):
    from semanticnn.data import load_split
    from semanticnn.evaluate.cli import evaluate_files

    tflite = exported_qemu[0] / "encoder_int8.tflite"
    report = evaluate_files(SHIPPED_ENCODER, SHIPPED_DECODER, "0", "iid", samples=40, seeds=1, out=tmp_path,
                            int8=tflite, threads=1)
    images, labels = load_split(None, "test", 40, 0)
    indices = Int8Encoder(tflite, load_encoder(SHIPPED_ENCODER)).indices(images.numpy())
    with torch.no_grad():
        logits = load_decoder(SHIPPED_DECODER).eval().classify_indices(indices, 0.0, torch.zeros_like(indices,
                                                                                                      dtype=torch.bool))
    split = next(m for m in report["methods"] if m["name"] == "split")
    assert split["accuracy"] == [int((logits.argmax(1) == labels).sum()) / 40]
    assert json.loads((tmp_path / "eval.json").read_text())["int8"]["sha256"] == Int8Encoder(
        tflite, load_encoder(SHIPPED_ENCODER)).sha256
    assert "The split rows send the device's symbols: the int8 graph" in (tmp_path / "eval.md").read_text()


def test_a_graph_of_another_encoder_is_refused(exported_qemu):
    other = load_encoder(ROOT / "models" / "runs" / "c8-48" / "encoder.pt")
    with pytest.raises(ConfigError) as err:
        Int8Encoder(exported_qemu[0] / "encoder_int8.tflite", other)
    assert str(err.value) == (f"{exported_qemu[0] / 'encoder_int8.tflite'} outputs [8, 8, 24] (HWC) but the "
                              "encoder's code is [8, 8, 8]: pass the encoder_int8.tflite exported from this encoder")


def test_snn_eval_names_a_file_that_is_not_a_graph(tmp_path):
    bad = tmp_path / "encoder_int8.tflite"
    bad.write_bytes(b"not a flatbuffer")
    run = run_cli("snn", "eval", "--encoder", SHIPPED_ENCODER, "--decoder", SHIPPED_DECODER, "--int8", bad,
                  "--samples", "4", "--seeds", "1")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    line, = run.stderr.strip().splitlines()
    assert line.startswith(f"error: {bad} is not an int8 encoder graph (")
    assert line.endswith("); pass the encoder_int8.tflite of `snn export`")


def test_snn_eval_names_a_missing_graph(tmp_path):
    run = run_cli("snn", "eval", "--encoder", SHIPPED_ENCODER, "--decoder", SHIPPED_DECODER,
                  "--int8", tmp_path / "none.tflite", "--samples", "4", "--seeds", "1")
    assert_one_line_error(run, f"cannot read {tmp_path / 'none.tflite'}: No such file or directory "
                               "(pass the encoder_int8.tflite of `snn export`)")
