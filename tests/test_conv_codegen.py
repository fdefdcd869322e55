"""The specialised CONV_2D code (conv_codegen) and the memory plan, against tflite_micro.

Each model is one or two convolutions from the flatbuffer builder; its generated C is
built for the host (DSP intrinsics emulated in C: the same arithmetic the Cortex-M7 runs)
and compared bit for bit with tflite_micro on inputs that start with the int8 extremes.
One model also runs in QEMU on the Cortex-M7 (SMLAD, SMMULR, SSAT in the binary) and
the per-layer table comes back over the LAYERS command.
"""

import re
import shutil

import numpy as np
import pytest

from kernel_models import extreme_inputs
from semanticnn.bench.run import run_bench
from semanticnn.export import checks
from semanticnn.export.conv_codegen import fold_bias, pack_weights
from semanticnn.export.host_check import run_generated_model
from semanticnn.export.kernel_plan import plan_graph
from semanticnn.export.layer_stats import layer_macs
from semanticnn.export.memory_plan import const_bytes
from semanticnn.export.pipeline import export_encoder
from semanticnn.export.tflite_graph import read_graph
from semanticnn.firmware.render import render_model
from tflite_builder import ModelBuilder

RELU = 1
SHAPES = {  # name -> (input HWC, [(out_c, kernel, stride, dilation, same, act, gain)])
    "stem_3ch_odd": ((9, 9, 3), [(5, 3, 1, 1, True, RELU, 1.0)]),  # in_c 3, odd pixels and channels
    "pointwise_quad": ((8, 8, 8), [(8, 1, 1, 1, False, 0, 1.0)]),  # SXTB16 im2col
    "patchify_4x4_s4": ((12, 12, 16), [(6, 4, 4, 1, False, 0, 1.0)]),
    "dilated_strided_same": ((10, 11, 4), [(4, 3, 2, 2, True, 0, 1.0)]),
    "long_columns": ((6, 6, 64), [(3, 3, 1, 1, True, 0, 1.0)]),  # k = 576: beyond an LDRD offset
    "exact_requant": ((7, 7, 3), [(4, 3, 1, 1, True, 0, 0.003)]),  # scale >= 0.5: TFLite's own path
}
N_INPUTS = 6
RELU6 = 3
DEPTHWISE = {  # name -> (input HWC, (multiplier, kernel, stride, dilation, same, act))
    "dw_m1_s2_same_odd_c": ((9, 9, 9), (1, 3, 2, 1, True, 0)),  # in_c 9: per-tap, no lanes
    "dw_m1_5x5_same_relu_lanes": ((9, 10, 8), (1, 5, 1, 1, True, RELU)),  # 25 border classes: per-tap, smaller
    # the packed path on DSP: tap pairs, SMMLA + SSAT, border classes ("signed": no ReLU floor)
    "packed_m1_s2_valid_signed": ((11, 10, 16), (1, 3, 2, 1, False, 0)),
    "packed_m1_dilated_same_signed": ((10, 9, 12), (1, 3, 1, 2, True, 0)),
    "packed_m2_s1_same_signed": ((8, 8, 8), (2, 3, 1, 1, True, 0)),
    "packed_m1_s1_same": ((9, 8, 8), (1, 3, 1, 1, True, RELU)),
    "packed_m2_s2_valid_5x5": ((12, 11, 10), (2, 5, 2, 1, False, RELU)),
    "packed_m1_5x5_valid_relu6": ((9, 10, 8), (1, 5, 1, 1, False, RELU6)),  # 12 pairs + 1, clamp at 6
    "packed_m1_dilated_s2_same": ((11, 10, 8), (1, 3, 2, 2, True, RELU)),
    "packed_m2_2x2_even_same": ((7, 8, 6), (2, 2, 1, 1, True, RELU6)),  # no lone tap, one-sided padding
    "packed_m1_3x3_on_2x2": ((2, 2, 12), (1, 3, 1, 1, True, RELU)),  # no inside pixel: every class a border
}


def conv_model(shape, convs, seed=3):
    m = ModelBuilder(seed=seed)
    s = 0.03
    y = x = m.act((1, *shape), s, 5)
    for out_c, k, stride, dilation, same, act, gain in convs:
        y, s = m.conv(y, s, out_c, k, stride=stride, dilation=dilation, same=same, act=act, gain=gain)
    return m.build([x], [y])


def host_outputs(model_bytes, dsp, inputs):
    plan = plan_graph(read_graph(model_bytes))
    files = render_model(plan, "test", dsp=dsp)
    return run_generated_model(files, inputs.reshape(len(inputs), -1), plan.output_tensor.nbytes), files


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_specialised_conv_is_bit_exact_with_tflite_micro(name, dsp):
    shape, convs = SHAPES[name]
    model = conv_model(shape, convs)
    inputs = extreme_inputs(shape, N_INPUTS, seed=7)
    ref = checks.tflm_outputs(model, inputs).reshape(N_INPUTS, -1)
    got, files = host_outputs(model, dsp, inputs)
    assert np.array_equal(got, ref)
    assert len(np.unique(ref)) > 6  # the outputs spread over int8, not a saturated constant
    assert ("SNN_MAC_2X2" in files["model/model.c"]) is (dsp and name not in ("long_columns",))


def dw_model(shape, conv, seed=3):
    m = ModelBuilder(seed=seed)
    x = m.act((1, *shape), 0.03, 5)
    multiplier, k, stride, dilation, same, act = conv
    y, _ = m.conv(x, 0.03, 0, k, stride=stride, dilation=dilation, same=same, act=act, depthwise=True,
                  multiplier=multiplier)
    return m.build([x], [y])


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
@pytest.mark.parametrize("name", sorted(DEPTHWISE))
def test_specialised_depthwise_is_bit_exact_with_tflite_micro(name, dsp):
    shape, conv = DEPTHWISE[name]
    model = dw_model(shape, conv)
    inputs = extreme_inputs(shape, N_INPUTS, seed=7)
    ref = checks.tflm_outputs(model, inputs).reshape(N_INPUTS, -1)
    got, files = host_outputs(model, dsp, inputs)
    assert np.array_equal(got, ref)
    assert len(np.unique(ref)) > 6
    code = files["model/model.c"]
    assert "DEPTHWISE_CONV_2D" in code and "snn_depthwise_conv2d_s8(" not in code
    assert ("SNN_DW_REQUANT" in code) is (dsp and name.startswith("packed"))  # DSP-less cores: per-tap
    assert ("SNN_DW_REQUANT_SIGNED(" in code) is (dsp and name.endswith("signed"))
    assert ("snn_sxtb16_ror8(x)" in code) is (dsp and "lanes" in name)


def test_depthwise_weights_are_grouped_in_sxtb16_lane_order():
    from semanticnn.export.dwconv_codegen import dsp_lanes

    w = np.arange(8).reshape(4, 2)  # [out_c 4, taps 2]
    assert dsp_lanes(w).tolist() == [[[0, 4, 2, 6], [1, 5, 3, 7]]]


def test_codegen_picks_the_paths_it_says():
    """Regexes pin the decisions: SXTB16 lanes for in_c % 4 == 0, exact requant for scale >= 0.5, SSAT clamp."""
    def code(name, dsp=True):
        return host_outputs(conv_model(*SHAPES[name]), dsp, np.zeros((1, *SHAPES[name][0]), np.int8))[1][
            "model/model.c"]

    assert "snn_sxtb16_ror8" in code("pointwise_quad") and "snn_sxtb16" not in code("pointwise_quad", dsp=False)
    assert "snn_requant_exact" in code("exact_requant") and "snn_requant_exact" not in code("stem_3ch_odd")
    assert "snn_requant_fast_floor" in code("stem_3ch_odd")  # ReLU: the floor sits at the zero point
    assert re.search(r"snn_sat_s8\(snn_requant_fast\(acc00, q0\)\)", code("pointwise_quad"))
    assert "snn_arena[SNN_ACTIVATION_BYTES]" in code("pointwise_quad")


def test_weights_are_packed_in_sxtb16_lane_order_and_bias_folds_the_offset():
    w = np.arange(1, 9, dtype=np.int8).reshape(1, 8)
    assert pack_weights(w, quad=True).tolist() == [[1, 3, 2, 4, 5, 7, 6, 8]]
    assert pack_weights(w[:, :5], quad=False).tolist() == [[1, 2, 3, 4, 5, 0, 0, 0]]
    assert fold_bias(w, np.array([10]), input_offset=-3).tolist() == [10 - 3 * 36]


def residual_model():
    """conv -> RELU table (in place) -> conv, plus an ADD of the two conv outputs."""
    m = ModelBuilder(seed=5)
    s = 0.03
    x = m.act((1, 8, 8, 8), s, 0)
    a, s = m.conv(x, s, 8, 3)
    zp = int(m.tensors[a].quantization.zeroPoint[0])
    r = m.act((1, 8, 8, 8), s, zp)
    m.op("RELU", [a], [r])
    b, s2 = m.conv(r, s, 8, 1)
    out = m.act((1, 8, 8, 8), max(s, s2) * 2, 0)
    m.op("ADD", [r, b], [out], fusedActivationFunction=0)
    return m.build([x], [out])


def test_memory_plan_holds_input_and_scratch_and_runs_element_wise_ops_in_place():
    model = residual_model()
    plan = plan_graph(read_graph(model))
    relu, add = 1, 3
    assert plan.input_tensor.index in plan.offsets
    assert plan.in_place == {relu, add}  # RELU over its conv's output; ADD over the second conv's output
    assert plan.offsets[plan.layers[relu].output] == plan.offsets[plan.layers[relu].inputs[0]]
    assert set(plan.scratch) == {0, 2}
    inputs = extreme_inputs((8, 8, 8), N_INPUTS, seed=2)
    got, _ = host_outputs(model, True, inputs)
    assert np.array_equal(got, checks.tflm_outputs(model, inputs).reshape(N_INPUTS, -1))
    assert plan.arena_bytes <= checks.tflm_arena_bytes(model)


def test_const_bytes_counts_int32_arrays_as_four_bytes():
    """Regression: the multiplier and shift arrays were counted as int64."""
    m = ModelBuilder(seed=4)
    x = m.act((1, 4, 4, 2), 0.03, 0)
    y, s = m.conv(x, 0.03, 3, 1)
    flat = m.act((1, 48), s, int(m.tensors[y].quantization.zeroPoint[0]))
    m.op("RESHAPE", [y], [flat])
    plan = plan_graph(read_graph(m.build([x], [flat])))
    # conv: 3 rows of k_pad = 4 int16 weights and a 16-byte requant row each; reshape: no arrays
    assert const_bytes(plan.layers) == plan.const_bytes == 3 * (4 * 2 + 16)


def tflite_requant(acc, m, right, zp, lo, hi):
    """TFLite's MultiplyByQuantizedMultiplier (right shift) + zero point + clamp, in Python ints."""
    ab = acc * m
    x = (ab + (1 << 30) if ab >= 0 else ab + 1 - (1 << 30))
    x = -(-x >> 31) if x < 0 and x % (1 << 31) else x >> 31 if x >= 0 else x // (1 << 31)
    mask, rem = (1 << right) - 1, x & ((1 << right) - 1)
    q = (x >> right) + (rem > (mask >> 1) + (x < 0))
    return min(max(q + zp, lo), hi)


def test_packed_requant_is_tflite_arithmetic_on_ties_and_extremes():
    """SMMLA + SSAT with the common shift (dwconv_packed) against TFLite, ties and m = 2^30 included,
    with the clamp floor at the zero point (round half up suffices) and below it (signed)."""
    from semanticnn.export.dwconv_packed import _rounding

    rng = np.random.default_rng(0)
    rights = np.array([1, 3, 7, 10, 12])
    shift = int(rights.max()) + 1
    for zp, lo, hi in ((-128, -128, 127), (5, 5, 127), (-38, -38, 40), (5, -128, 127), (-7, -20, 100)):
        rounding = _rounding({"output_offset": zp}, rights, shift)
        signed = lo < zp  # SNN_DW_REQUANT_SIGNED: rounding - 2^(S-s) for a negative accumulator
        for right, r in zip(rights, rounding, strict=True):
            for m in (1 << 30, (1 << 31) - 1, int(rng.integers(1 << 30, 1 << 31))):
                accs = list(rng.integers(-(1 << 20), 1 << 20, 300)) + [-(1 << 20), 1 << 20, -1, 0, 1]
                ties = [((k << right) + (1 << (right - 1))) * (1 << 31) // m for k in range(-40, 40)]
                for acc in map(int, accs + ties + [t + 1 for t in ties] + [t - 1 for t in ties]):
                    acc2 = acc << (1 + shift - int(right))
                    r_acc = r - (1 << (shift - int(right))) * (signed and acc < 0)
                    v = min(max((r_acc + ((acc2 * m) >> 32)) >> shift, -128), 127)
                    assert min(max(v, lo), hi) == tflite_requant(acc, m, int(right), zp, lo, hi), (acc, m, right)


C_ARRAY_BYTES = {"int8_t": 1, "int16_t": 2, "int32_t": 4, "snn_requant_t": 16}


def test_const_bytes_counts_depthwise_arrays_as_the_generated_c_declares_them():
    """Regression: depthwise weights were counted as int8 though the generated C stores them wider."""
    m = ModelBuilder(seed=6)
    x = m.act((1, 6, 6, 8), 0.03, 2)
    y, s = m.conv(x, 0.03, 0, 3, depthwise=True, act=RELU)  # packed: 2 groups of 4 + 16 + 2 + 8 words
    y, s = m.conv(y, s, 0, 3, depthwise=True)  # no ReLU: packed with 12 requant words a group
    per_tap = 8 * (9 * 2 + 16) + 8  # DSP-less cores: int16 weights, requant rows, zero point row
    for dsp, expected in ((True, 2 * 30 * 4 + 2 * 34 * 4), (False, 2 * per_tap)):
        plan = plan_graph(read_graph(m.build([x], [y])), dsp=dsp)
        code = render_model(plan, "test", dsp=dsp)["model/model.c"]
        arrays = re.findall(r"static const (\w+) layer\d+_\w+((?:\[\d+\])+)", code)
        declared = sum(C_ARRAY_BYTES[ctype] * int(np.prod([int(n) for n in re.findall(r"\d+", dims)]))
                       for ctype, dims in arrays)
        assert const_bytes(plan.layers, dsp) == plan.const_bytes == declared == expected


needs_qemu = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)


@needs_qemu
def test_specialised_convs_in_qemu_m7_are_bit_exact_and_timed_per_layer(tmp_path):
    shape = (12, 12, 3)
    convs = [(8, 3, 1, 1, True, RELU, 1.0), (8, 3, 2, 1, True, 0, 1.0), (16, 1, 1, 1, False, RELU, 1.0)]
    path = tmp_path / "convs.tflite"
    path.write_bytes(conv_model(shape, convs))
    manifest = export_encoder(path, "qemu-m7", tmp_path / "project")
    report = run_bench(tmp_path / "project", samples=3)
    assert report["bit_exact"] == 3
    plan = plan_graph(read_graph(path.read_bytes()))
    assert [row["macs"] for row in report["layers"]] == [layer_macs(layer) for layer in plan.layers]
    assert [row["op"] for row in report["layers"]] == ["CONV_2D"] * 3 == manifest["layers"]
    assert sum(row["latency"] for row in report["layers"]) <= report["latency"]["median"]
    assert report["layers"][1]["latency_per_mac"] < 2.5  # 8 input channels: SMLAD pays off
