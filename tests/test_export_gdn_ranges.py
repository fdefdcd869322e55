"""Symbol-aware int8 ranges for the GDN's ``x * x`` and norm (``export.gdn_ranges``).

Measured on the L = 4 encoder shipped until stop 28, whose GDN ranges the fix was made for:
both of its ranges clip. The binary code shipped since (its sign alone reaches the code,
and ``export.equalise`` scales its channels) has the symbols check in the export itself.
"""

import numpy as np
import pytest
import torch

from conftest import C12_ENCODER
from semanticnn.data import read_calibration
from semanticnn.errors import ExportError
from semanticnn.export.checks import tflm_outputs
from semanticnn.export.convert import images_to_float, to_int8_tflite
from semanticnn.export.gdn_ranges import gdn_ranges
from semanticnn.export.pipeline import CALIBRATION_IMAGES, CHECK_IMAGES, quantize_input
from semanticnn.export.tflite_graph import read_graph
from semanticnn.firmware.sq import float_symbols, sq_params, symbols_from_outputs
from semanticnn.model.checkpoint import load_encoder


@pytest.fixture(scope="module")
def c12():
    """The L = 4 encoder's export module, its calibration and check images, and its float SQ stage."""
    encoder = load_encoder(C12_ENCODER)
    images = read_calibration(limit=CALIBRATION_IMAGES + CHECK_IMAGES)[0]
    slopes, centres = encoder.prelu_slopes().astype(np.float32), encoder.centres().astype(np.float32)

    def symbols(gdn_nchw):
        return float_symbols(gdn_nchw.permute(0, 2, 3, 1).numpy(), slopes, centres)

    return encoder, encoder.export_module().eval(), images, symbols


def _square_and_norm(graph):
    """The output tensors of the GDN's MUL(x, x) and of the conv that feeds RSQRT."""
    square = next(op for op in graph.operators if op.name == "MUL" and op.inputs[0] == op.inputs[1])
    rsqrt = next(op for op in graph.operators if op.name == "RSQRT")
    return graph.tensors[square.outputs[0]], graph.tensors[rsqrt.inputs[0]]


def test_the_export_pins_the_ranges_gdn_ranges_picks(c12, exported_c12):
    _encoder, module, images, symbols = c12
    calibration = images_to_float(images[:CALIBRATION_IMAGES]).permute(0, 3, 1, 2)
    ranges = gdn_ranges(module, calibration, symbols)
    assert sorted(ranges) == ["3.norm", "3.square"]
    with torch.no_grad():  # both clip: the bound sits below the largest value calibration saw
        x = module[:3](calibration)
        assert 0 < ranges["3.square"][1] < float((x * x).max())
        assert 0 < ranges["3.norm"][1] < float(module[3].norm(x * x).max())
    folder, _ = exported_c12
    square, norm = _square_and_norm(read_graph((folder / "encoder_int8.tflite").read_bytes()))
    for tensor, (lo, hi) in ((square, ranges["3.square"]), (norm, ranges["3.norm"])):
        assert lo == 0.0 and int(tensor.zero_point[0]) == -128
        assert float(tensor.scale[0]) == pytest.approx(hi / 255, rel=1e-6)


def test_pinned_ranges_give_symbols_closer_to_the_float_encoder(c12, exported_c12):
    """Against the observer's own ranges converted in the same run, on the export's check images."""
    encoder, module, images, symbols = c12
    folder, manifest = exported_c12
    pinned = (folder / "encoder_int8.tflite").read_bytes()
    observed = to_int8_tflite(module, images_to_float(images[:CALIBRATION_IMAGES]))
    check = images[CALIBRATION_IMAGES:]
    with torch.no_grad():
        reference = symbols(module(images_to_float(check).permute(0, 3, 1, 2))).reshape(len(check), -1)
    sq = sq_params(encoder.centres().astype(np.float64), encoder.prelu_slopes().astype(np.float64))

    def agreement(model_bytes):
        graph = read_graph(model_bytes)
        tin, tout = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
        out = tflm_outputs(model_bytes, quantize_input(check, float(tin.scale[0]), int(tin.zero_point[0])))
        got = symbols_from_outputs(out, int(tout.zero_point[0]), *sq)
        return float(np.mean(got == reference))

    with_pins = agreement(pinned)
    assert with_pins == pytest.approx(manifest["checks"]["int8_vs_float"]["symbol_agreement"], abs=5e-6)
    assert with_pins > agreement(observed) + 0.02  # measured: 0.978 against 0.937


def test_a_module_without_gdn_has_nothing_to_pin():
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    assert gdn_ranges(module, torch.rand(2, 3, 8, 8), lambda y: y.numpy()) == {}


def test_pinning_a_module_that_is_not_there_is_one_clear_error():
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    with pytest.raises(ExportError) as err:
        to_int8_tflite(module, torch.rand(4, 8, 8, 3), {"3.square": (0.0, 1.0)})
    assert str(err.value) == ("cannot pin the int8 range of 3.square: no module of that path computes an activation "
                              "(pass paths from module.named_modules())")
