"""Channel scales of the GDN output (export.equalise): exact in float, undone by the SQ stage, kept by the board."""

import json
import shutil

import numpy as np
import pytest
import torch

from conftest import ROOT
from semanticnn.errors import ConfigError
from semanticnn.evaluate.int8 import Int8Encoder
from semanticnn.export.equalise import channel_scales, scale_gdn_output
from semanticnn.export.pipeline import export_encoder
from semanticnn.firmware.sq import positive_q7, sq_params, symbols_from_output
from semanticnn.model.checkpoint import load_encoder
from semanticnn.model.layers import GDN, FrozenGDN

BINARY_RUN = ROOT / "models" / "runs" / "c24-l2-96-bal"  # its code channel 16 peaks about 12x above the others


def _gdn_module(channels=4, small_beta=2):
    gdn = GDN(channels)
    with torch.no_grad():
        gdn.beta_p[small_beta] = 0.1  # beta and gamma about 0.01 and 0.001: that channel's denominator stays small
        gdn.gamma_p[small_beta, small_beta] = 0.001 ** 0.5
    return torch.nn.Sequential(FrozenGDN(gdn)).eval()


def test_scaling_the_gdn_output_multiplies_each_channel_by_its_scale_in_float():
    module = _gdn_module()
    x = torch.randn(64, 4, 8, 8)
    with torch.no_grad():
        before = module(x)
    scales = channel_scales(module, x, np.zeros(4))
    assert scales[2] < 0.5 and np.all(scales[[0, 1, 3]] == 1.0)
    scale_gdn_output(module, scales)
    with torch.no_grad():
        after = module(x)
    expected = before * torch.as_tensor(scales, dtype=torch.float32).view(1, -1, 1, 1)
    assert torch.allclose(after, expected, rtol=1e-5, atol=1e-6)


def test_scales_stay_where_the_sq_stage_can_undo_them():
    module = _gdn_module()
    with torch.no_grad():
        module[0].norm.weight[2] = 0.0  # a channel that would need a scale far below 1/16
        module[0].norm.bias[2] = 1e-9
    scales = channel_scales(module, torch.randn(16, 4, 8, 8), np.array([0.1, 0.1, 0.1, 0.1]))
    assert scales[2] == 1 / 16
    assert channel_scales(module, torch.randn(16, 4, 8, 8), np.array([0.1, 0.1, 2.0, 0.1]))[2] == 2.0 / 16
    assert positive_q7(scales, 4).tolist()[2] == 2048


def test_the_positive_multiplier_is_128_over_the_scale_and_rejects_bad_scales():
    assert positive_q7(None, 3).tolist() == [128, 128, 128]
    assert positive_q7([1.0, 0.5, 0.129], 3).tolist() == [128, 256, 992]
    assert sq_params([-1.0, 1.0], [0.25, 0.25], [1.0, 0.5])[0].tolist() == [32, 64]
    with pytest.raises(ConfigError) as err:
        positive_q7([1.0, 0.0], 2)
    assert str(err.value) == "channel scales must be 2 positive numbers, got [1.0, 0.0]"
    with pytest.raises(ConfigError) as err:
        positive_q7([0.05], 1)
    assert str(err.value) == "channel scales below 0.0625 are too small for the integer SQ stage"


def test_the_sq_stage_undoes_a_channel_scale():
    """A channel scaled by 1/2 in the int8 output, read with P = 256 and A doubled, gives the unscaled symbols."""
    rng = np.random.default_rng(0)
    q = rng.integers(-60, 60, (8, 8, 3)) * 2
    scaled = q.copy()
    scaled[..., 1] //= 2
    a, b = sq_params([-1.5, -0.5, 0.5, 1.5], [0.25, 0.5, 0.75])
    a2, b2 = sq_params([-1.5, -0.5, 0.5, 1.5], [0.25, 0.5, 0.75], [1.0, 0.5, 1.0])
    p2 = positive_q7([1.0, 0.5, 1.0], 3)
    assert (b2 == b).all() and a2.tolist() == [32, 128, 96]
    assert (symbols_from_output(scaled, 0, a2, b2, p2) == symbols_from_output(q, 0, a, b)).all()
    assert not (symbols_from_output(scaled, 0, a, b) == symbols_from_output(q, 0, a, b)).all()
    with pytest.raises(ConfigError) as err:
        symbols_from_output(q, 0, a2, b2, p2[:2])
    assert str(err.value) == ("output tensor with last dimension (3,) needs one PReLU slope and one positive "
                              "multiplier per channel, got 3 and 2")


@pytest.fixture(scope="module")
def binary_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("binary") / "qemu-m7"
    return out, export_encoder(BINARY_RUN / "encoder.pt", "qemu-m7", out)


def test_an_unbalanced_binary_code_keeps_its_symbols_in_int8(binary_export):
    """Channel 16 is scaled down about 8x; the other channels keep their scale, and the int8 symbols agree."""
    _, manifest = binary_export
    sq = manifest["sq"]
    scales = np.array(sq["channel_scales"])
    assert 0.1 < scales[16] < 0.2 and np.all(np.delete(scales, 16) == 1.0)
    assert sq["prelu_positive_q7"] == positive_q7(scales, 24).tolist() and sq["prelu_positive_q7"][0] == 128
    # without the scales the export measured 0.916 (docs/training.md, c24-l2-96-bal)
    assert manifest["checks"]["int8_vs_float"]["symbol_agreement"] > 0.98


def test_the_l4_code_needs_no_scale(exported_c12):
    sq = exported_c12[1]["sq"]
    assert sq["channel_scales"] == [1.0] * 12 and sq["prelu_positive_q7"] == [128] * 12


def test_int8_eval_takes_the_sq_constants_from_the_export(binary_export, tmp_path):
    folder, _ = binary_export
    encoder = load_encoder(BINARY_RUN / "encoder.pt")
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(folder / "encoder_int8.tflite", lone)
    with pytest.raises(ConfigError) as err:
        Int8Encoder(lone / "encoder_int8.tflite", encoder)
    assert str(err.value) == (f"no readable export.json beside {lone / 'encoder_int8.tflite'}: pass the "
                              "encoder_int8.tflite inside its `snn export` folder, where export.json holds the "
                              "SQ constants")
    manifest = json.loads((folder / "export.json").read_text())
    (lone / "export.json").write_text(json.dumps({**manifest, "model_crc32": 1}))
    with pytest.raises(ConfigError) as err:
        Int8Encoder(lone / "encoder_int8.tflite", encoder)
    assert str(err.value) == (f"{lone / 'export.json'} belongs to another model than "
                              f"{lone / 'encoder_int8.tflite'}: pass the encoder_int8.tflite of one `snn export` "
                              "folder, unchanged")
    assert Int8Encoder(folder / "encoder_int8.tflite", encoder).sq[2] == manifest["sq"]["prelu_positive_q7"]
