"""Every supported operator, generated C on the host against tflite_micro, bit for bit.

Two hand-built models (tests/kernel_models.py) hold all the operators; their inputs
include the extremes -128 and 127. The reference is tflite_micro's interpreter, itself
checked against LiteRT's BUILTIN_REF kernels. The same models run in QEMU in
test_kernels_qemu.py.
"""

import shutil

import numpy as np
import pytest

from kernel_models import RELU, RELU_N1_TO_1, elementwise_model, extreme_inputs, spatial_model
from semanticnn.errors import ExportError
from semanticnn.export import checks
from semanticnn.export.add_codegen import add_tables, is_flat_add
from semanticnn.export.host_check import run_generated_model
from semanticnn.export.kernel_plan import SUPPORTED_OPS, plan_graph
from semanticnn.export.tflite_graph import read_graph
from semanticnn.firmware.render import render_model
from tflite_builder import ModelBuilder

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no host cc")

MODELS = {"spatial": spatial_model, "elementwise": elementwise_model}
SAMPLES = 12
KINDS = {
    "spatial": ["conv2d", "conv2d", "conv2d", "depthwise_conv2d", "depthwise_conv2d", "depthwise_conv2d",  # PAD folded
                "conv2d", "avg_pool", "max_pool", "mean", "add", "fully_connected", "fully_connected"],
    "elementwise": ["table", "table", "mean", "add_const", "mul", "add", "add_const", "prelu", "add", "concat",
                    "copy", "mul_const", "pad"],
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def case(request):
    model = MODELS[request.param]()
    graph = read_graph(model)
    inputs = extreme_inputs(graph.tensors[graph.inputs[0]].shape[1:], SAMPLES, seed=7)
    return request.param, model, inputs, checks.tflm_outputs(model, inputs)


def test_plan_uses_every_kernel(case):
    name, model, _, _ = case
    assert [layer.kind for layer in plan_graph(read_graph(model), fold_pads=True).layers] == KINDS[name]


def test_reference_interpreters_agree_on_elementwise_ops():
    # Not on the spatial model: LiteRT's per-channel FULLY_CONNECTED rounds unlike tflite_micro's,
    # and tflite_micro is the reference the firmware follows.
    model = elementwise_model()
    inputs = extreme_inputs((6, 5, 8), SAMPLES, seed=7)
    ref = checks.tflm_outputs(model, inputs)
    assert checks.check_interpreters(model, inputs, ref) == {"samples": SAMPLES, "bit_exact": SAMPLES}


def test_outputs_are_not_saturated(case):
    _, _, _, ref = case
    assert len(np.unique(ref)) >= 30  # a test whose outputs all clamp could not catch an arithmetic slip


def test_generated_c_bit_exact_on_host(case):
    _, model, inputs, ref = case
    files = render_model(plan_graph(read_graph(model), fold_pads=True), source="test")
    got = run_generated_model(files, inputs.reshape(SAMPLES, -1), ref[0].size)
    np.testing.assert_array_equal(got, ref.reshape(SAMPLES, -1))


def _one_op_model(name, **options):
    m = ModelBuilder(seed=3)
    x = m.act((1, 4, 4, 2), 0.1, 0)
    y = m.act((1, 4, 4, 2), 0.1, 0)
    m.op(name, [x], [y], **options)
    return m.build([x], [y])


def test_unsupported_op_is_one_line_naming_op_index_and_supported():
    with pytest.raises(ExportError) as err:
        plan_graph(read_graph(_one_op_model("FLOOR")))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("unsupported operator FLOOR (layer 0); supported: ADD, AVERAGE_POOL_2D, CONCATENATION, ")
    assert "DEPTHWISE_CONV_2D" in message and "HARD_SWISH" in message


def test_unsupported_shape_is_one_line():
    m = ModelBuilder(seed=4)
    x = m.act((1, 4, 4, 2), 0.1, 0)
    y = m.act((1, 2), 0.1, 0)
    m.op("MEAN", [x, m.const_int32([3])], [y], keepDims=False)
    with pytest.raises(ExportError, match=r"^MEAN at layer 0: axes \[3\] of a 4-d tensor; supported: MEAN over axes "
                                          r"1 and 2 of \[1, H, W, C\]$"):
        plan_graph(read_graph(m.build([x], [y])))


def test_float_operators_get_the_int8_hint():
    m = ModelBuilder(seed=5)
    x = m.act((1, 4, 4, 2), 0.1, 0)
    f = m.tensor((1, 4, 4, 2), dtype=np.float32)
    m.op("DEQUANTIZE", [x], [f])
    with pytest.raises(ExportError) as err:
        plan_graph(read_graph(m.build([x], [f])))
    assert str(err.value).endswith(
        "; supported: " + ", ".join(sorted(SUPPORTED_OPS))
        + " (DEQUANTIZE means float operators in the graph: quantize the whole model to int8)"
    )
    assert str(err.value).startswith("unsupported operator DEQUANTIZE (layer 0); ")


def _same_shape_mul_model(out_scale, out_zero_point, act, square):
    """``x * x`` or ``x * leaky_relu(x)``: a MUL of two run-time tensors of the output's shape."""
    m = ModelBuilder(seed=6)
    x = m.act((1, 4, 4, 8), 0.05, -5)
    other = x
    if not square:
        other = m.act((1, 4, 4, 8), 0.045, 10)
        m.op("LEAKY_RELU", [x], [other], alpha=0.2)
    out = m.act((1, 4, 4, 8), out_scale, out_zero_point)
    m.op("MUL", [x, other], [out], fusedActivationFunction=act)
    return m.build([x], [out])


@pytest.mark.parametrize(("requant", "out_scale", "out_zero_point", "act", "square"), [
    ("fast_floor", 0.02, -128, 0, True),  # clamp floor = output zero point
    ("fast", 0.02, 3, 0, False),
    ("fast", 0.01, 0, RELU_N1_TO_1, False),  # clamp below int8's range
    ("exact", 0.001, 0, 0, False),  # s1 s2 / s_out = 2.25: a left shift
])
def test_same_shape_mul_is_one_flat_loop_bit_exact(requant, out_scale, out_zero_point, act, square):
    code = _flat_loop_code_bit_exact(_same_shape_mul_model(out_scale, out_zero_point, act, square))
    assert f"snn_requant_{requant}(a * b, &layer{1 - square}_requant)" in code
    assert "snn_mul_s8" not in code


def _flat_loop_code_bit_exact(model):
    """The generated model.c of a 4x4x8 model, after checking one flat loop and the C against tflite_micro."""
    files = render_model(plan_graph(read_graph(model)), source="test")
    assert "for (int32_t i = 0; i < 128; ++i)" in files["model/model.c"]
    inputs = extreme_inputs((4, 4, 8), SAMPLES, seed=9)
    ref = checks.tflm_outputs(model, inputs)
    got = run_generated_model(files, inputs.reshape(SAMPLES, -1), ref[0].size)
    np.testing.assert_array_equal(got, ref.reshape(SAMPLES, -1))
    return files["model/model.c"]


def test_broadcasting_mul_keeps_the_generic_kernel():
    code = render_model(plan_graph(read_graph(elementwise_model())), source="test")["model/model.c"]
    assert "layer4_run(" in code  # hs * b: same shapes
    assert "snn_mul_const_s8(&layer11," in code  # r * a [16] constant: broadcast


def _same_shape_add_model(op, out_scale, out_zero_point, act):
    """``x ± leaky_relu(x)``: an ADD or SUB of two run-time tensors of the output's shape."""
    m = ModelBuilder(seed=6)
    x = m.act((1, 4, 4, 8), 0.05, -5)
    other = m.act((1, 4, 4, 8), 0.045, 10)
    m.op("LEAKY_RELU", [x], [other], alpha=0.2)
    out = m.act((1, 4, 4, 8), out_scale, out_zero_point)
    m.op(op, [x, other], [out], fusedActivationFunction=act)
    return m.build([x], [out])


def _mbqm(v, q, shift):
    """TFLM's MultiplyByQuantizedMultiplier on a Python int (reference_ops' definition)."""
    v <<= max(shift, 0)
    prod = v * q
    high = int((prod + ((1 << 30) if prod >= 0 else 1 - (1 << 30))) / (1 << 31))  # truncates toward 0
    right = max(-shift, 0)
    mask = (1 << right) - 1
    return (high >> right) + ((high & mask) > (mask >> 1) + (high < 0))


def _requant_sum(p, total):
    r = _mbqm(total, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
    return min(max(r, p["act_min"]), p["act_max"])


def _tflm_add_one(p, x, y):
    """TFLM's general int8 ADD (or SUB) of one pair."""
    a = _mbqm((x + p["input1_offset"]) << p["left_shift"], p["input1_multiplier"], p["input1_shift"])
    b = _mbqm((y + p["input2_offset"]) << p["left_shift"], p["input2_multiplier"], p["input2_shift"])
    return _requant_sum(p, a + p["sign2"] * b)


ADD_CASES = [
    ("ADD", "fast_floor", 0.06, -128, 0),  # clamp floor = output zero point
    ("ADD", "fast", 0.06, 3, 0),
    ("SUB", "fast_floor", 0.05, -20, RELU),
    ("ADD", "exact", 1.3e-7, 0, 0),  # 2 * 0.05 / (2^20 * 1.3e-7) = 0.73: shift 0, no right shift
]


@pytest.mark.parametrize(("op", "requant", "out_scale", "out_zero_point", "act"), ADD_CASES)
def test_add_tables_match_tflm_on_every_int8_pair(op, requant, out_scale, out_zero_point, act):
    layer = plan_graph(read_graph(_same_shape_add_model(op, out_scale, out_zero_point, act))).layers[1]
    assert is_flat_add(layer)
    p = layer.params
    table1, table2 = add_tables(p)
    pairs = [(x, y) for x in range(-128, 128) for y in range(-128, 128)]
    want = [_tflm_add_one(p, x, y) for x, y in pairs]
    assert [_requant_sum(p, int(table1[x + 128] + table2[y + 128])) for x, y in pairs] == want
    assert len(set(want)) > 2  # not one clamp everywhere


@pytest.mark.parametrize(("op", "requant", "out_scale", "out_zero_point", "act"), ADD_CASES)
def test_same_shape_add_is_one_flat_loop_bit_exact(op, requant, out_scale, out_zero_point, act):
    code = _flat_loop_code_bit_exact(_same_shape_add_model(op, out_scale, out_zero_point, act))
    assert f"snn_requant_{requant}(t1[in1[i]] + t2[in2[i]], &layer1_requant)" in code
    assert "snn_add_s8(&layer1" not in code


def _pad_then_conv_model(pad_value):
    """PAD by one row and column each side of a 16x16x8 input, then a 3x3 stride-2 VALID conv to 8x8x16.

    This is how litert-torch converts PyTorch's ``Conv2d(k=3, stride=2, padding=1)`` on an
    even input. ``pad_value`` None is PAD (the zero point), else PADV2 with that value.
    """
    m = ModelBuilder(seed=11)
    x = m.act((1, 16, 16, 8), 0.04, -7)
    p = m.act((1, 18, 18, 8), 0.04, -7)
    pads = m.const_int32([[0, 0], [1, 1], [1, 1], [0, 0]])
    if pad_value is None:
        m.op("PAD", [x, pads], [p])
    else:
        m.op("PADV2", [x, pads, m.tensor((), 0.04, -7, np.array(pad_value), np.int8)], [p])
    y, _ = m.conv(p, 0.04, 16, 3, stride=2, same=False, act=RELU)
    return m.build([x], [y])


@pytest.mark.parametrize(("pad_value", "kinds"), [(None, ["conv2d"]), (-7, ["conv2d"]), (5, ["pad", "conv2d"])])
def test_a_pad_by_the_zero_point_folds_into_the_conv_that_reads_it(pad_value, kinds):
    model = _pad_then_conv_model(pad_value)
    plan = plan_graph(read_graph(model), fold_pads=True)
    assert [layer.kind for layer in plan.layers] == kinds
    assert [layer.kind for layer in plan_graph(read_graph(model)).layers] == ["pad", "conv2d"]  # TFLM's layers
    if kinds == ["conv2d"]:
        p = plan.layers[0].params
        assert (p["in_h"], p["in_w"], p["pad_h"], p["pad_w"]) == (16, 16, 1, 1)
        assert plan.arena_bytes < 16 * 16 * 8 + 18 * 18 * 8 + 8 * 8 * 16  # no 18x18 buffer
    inputs = extreme_inputs((16, 16, 8), SAMPLES, seed=13)
    ref = checks.tflm_outputs(model, inputs)
    got = run_generated_model(render_model(plan, source="test"), inputs.reshape(SAMPLES, -1), ref[0].size)
    np.testing.assert_array_equal(got, ref.reshape(SAMPLES, -1))
