"""Runtimes of ``snn-export --runtime``: registry, source-tree errors, rendered code, and bit-exact runs.

CMSIS-NN and TFLite Micro ship in no package registry: the tests that compile them skip,
naming the variable, unless ``CMSIS_NN_DIR`` / ``TFLM_DIR`` point at checkouts
(docs/firmware.md, "Runtimes"). With them set, the cmsis-nn model runs on the host
against tflite_micro on every operator, and each runtime runs the shipped model in QEMU.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kernel_models import elementwise_model, extreme_inputs, spatial_model
from semanticnn.bench.compare import render_markdown, runtime_availability
from semanticnn.errors import ConfigError, ExportError
from semanticnn.export import checks
from semanticnn.export.host_check import HOST_DRIVER
from semanticnn.export.kernel_plan import plan_graph
from semanticnn.export.layer import Layer
from semanticnn.export.tflite_graph import read_graph
from semanticnn.firmware import runtime_cmsis_nn, runtime_tflm
from semanticnn.firmware.render import TEMPLATES_DIR
from semanticnn.firmware.runtimes import CMSIS_NN, RUNTIMES, TFLM, find_trees, get_runtime

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_ENCODER = ROOT / "models" / "encoder.pt"
needs_cmsis_nn = pytest.mark.skipif(not os.environ.get("CMSIS_NN_DIR"),
                                    reason="set CMSIS_NN_DIR to a checkout of ARM-software/CMSIS-NN")
needs_tflm = pytest.mark.skipif(not os.environ.get("TFLM_DIR"),
                                reason="set TFLM_DIR to a checkout of tensorflow/tflite-micro (docs/firmware.md)")


def fake_tree(root, tree):
    for marker in tree.markers:
        (root / marker).parent.mkdir(parents=True, exist_ok=True)
        (root / marker).write_text("")
    return root


def test_registry_keys_and_trees():
    assert list(RUNTIMES) == ["codegen", "cmsis-nn", "tflm", "tflm-cmsis-nn"]
    assert [RUNTIMES[name].sources for name in RUNTIMES] == [(), (CMSIS_NN,), (TFLM,), (TFLM, CMSIS_NN)]


def test_unknown_runtime_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        get_runtime("tvm")
    assert str(err.value) == "unknown runtime 'tvm': choose one of codegen, cmsis-nn, tflm, tflm-cmsis-nn"


def test_missing_tree_names_the_option_and_the_variable(monkeypatch):
    monkeypatch.delenv("CMSIS_NN_DIR", raising=False)
    with pytest.raises(ConfigError) as err:
        find_trees(get_runtime("cmsis-nn"))
    assert str(err.value) == ("--runtime cmsis-nn needs the CMSIS-NN source tree: pass --cmsis-nn DIR or set "
                              "CMSIS_NN_DIR (a checkout of ARM-software/CMSIS-NN)")


def test_incomplete_tree_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TFLM_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as err:
        find_trees(get_runtime("tflm"))
    assert str(err.value) == (f"{tmp_path} is not a usable TFLite Micro tree "
                              "(tensorflow/lite/micro/micro_interpreter.h is missing): point --tflm or TFLM_DIR at a "
                              "checkout of tensorflow/tflite-micro")


def test_option_wins_over_variable_and_both_trees_are_needed(tmp_path, monkeypatch):
    tflm = fake_tree(tmp_path / "tflm", TFLM)
    monkeypatch.setenv("TFLM_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("CMSIS_NN_DIR", raising=False)
    assert find_trees(get_runtime("tflm"), {"--tflm": tflm}) == {TFLM: tflm.resolve()}
    with pytest.raises(ConfigError, match=r"^--runtime tflm-cmsis-nn needs the CMSIS-NN source tree"):
        find_trees(get_runtime("tflm-cmsis-nn"), {"--tflm": tflm})


def test_export_without_the_tree_is_one_line_and_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CMSIS_NN_DIR"}
    run = subprocess.run([str(Path(sys.executable).parent / "snn-export"), str(SHIPPED_ENCODER), "--target",
                          "qemu-m7", "--runtime", "cmsis-nn", "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "error: --runtime cmsis-nn needs the CMSIS-NN source tree: pass --cmsis-nn DIR or set CMSIS_NN_DIR "
        "(a checkout of ARM-software/CMSIS-NN)"]
    assert not (tmp_path / "out").exists()


def test_cmsis_nn_model_calls_cmsis_nn_where_it_can():
    plan = plan_graph(read_graph(spatial_model()))
    files = runtime_cmsis_nn.render(plan, {"source": "spatial.tflite"}, Path("/opt/CMSIS-NN"))
    body = files["model/model.c"].split("const int8_t *snn_model_run(void)")[1]
    conv, dw = "arm_convolve_wrapper_s8", "arm_depthwise_conv_wrapper_s8"
    assert re.findall(r"\b(arm_\w+|snn_\w+_s8)\(", body) == [
        conv, conv, conv, dw, "snn_pad_s8", dw, dw, conv, "snn_avg_pool_s8", "arm_max_pool_s8", "snn_mean_s8",
        "snn_add_s8", "snn_fully_connected_s8", "snn_fully_connected_s8"]
    # the largest scratch: arm_depthwise_conv_s8_opt's int16 patch of the 5x5 depthwise over 12 channels
    assert "#define SNN_CMSIS_SCRATCH_BYTES 600\n" in files["model/model.c"]
    assert "CMSIS_NN_DIR ?= /opt/CMSIS-NN\n" in files["runtime.mk"]
    assert f"snn_arena + {plan.offsets[plan.output_tensor.index]};\n}}" in body


def test_only_same_shape_mul_goes_to_cmsis_nn():
    plan = plan_graph(read_graph(elementwise_model()))
    body = runtime_cmsis_nn.render(plan, {"source": "m"}, Path("/x"))["model/model.c"].split("snn_model_run(void)")[1]
    assert "check(arm_elementwise_mul_s8(" in body and "snn_mul_const_s8(&layer" in body
    params = dict(size=8, input1_offset=0, input2_offset=0, output_offset=0, multiplier=1 << 30, shift=0,
                  act_min=-128, act_max=127)
    shape = ("int32_t", np.array([1, 1, 2, 4]))

    def mul(in2_strides):
        return Layer(0, "MUL", "mul", [0, 1], 2, params, {"out_shape": shape, "in1_strides": ("int32_t", [0, 0, 4, 1]),
                                                           "in2_strides": ("int32_t", in2_strides)})

    assert runtime_cmsis_nn.CMSIS_CALLS["mul"].applies(mul([0, 0, 4, 1])) is True
    assert runtime_cmsis_nn.CMSIS_CALLS["mul"].applies(mul([0, 0, 0, 1])) is False  # [1, 1, 1, 4] broadcast


SPATIAL_OPS = ["CONV_2D", "CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "PAD", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D",
               "CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "ADD", "FULLY_CONNECTED", "FULLY_CONNECTED"]


def tflm_manifest(ops=SPATIAL_OPS):
    return {"source": "spatial.tflite", "layers": ops, "tflm_arena_bytes": 21584,
            "input": {"shape": [1, 22, 21, 5]}, "output": {"shape": [1, 1, 1, 10]}}


def test_tflm_resolver_holds_exactly_the_ops_used():
    files = runtime_tflm.render(plan_graph(read_graph(spatial_model())), tflm_manifest(), Path("/opt/tflm"))
    glue = files["model/model.cc"]
    assert "using OpResolver = tflite::MicroMutableOpResolver<8>;" in glue
    assert re.findall(r"resolver->(Add\w+)\(SNN_KERNEL\((\d), tflite::(\w+)\(\)\)\)", glue) == [
        ("AddConv2D", "0", "Register_CONV_2D"), ("AddDepthwiseConv2D", "1", "Register_DEPTHWISE_CONV_2D"),
        ("AddPad", "2", "Register_PAD"), ("AddAveragePool2D", "3", "Register_AVERAGE_POOL_2D"),
        ("AddMaxPool2D", "4", "Register_MAX_POOL_2D"), ("AddMean", "5", "Register_MEAN"),
        ("AddAdd", "6", "Register_ADD"), ("AddFullyConnected", "7", "Register_FULLY_CONNECTED")]
    assert ("static const uint32_t snn_layer_macs[SNN_N_LAYERS] = "
            "{ 18480, 220320, 29160, 8748, 0, 2700, 8100, 5184, 0, 0, 0, 0, 0, 0 };") in files["model/model.h"]
    assert "#define SNN_TFLM_ARENA_BYTES 21584\n" in files["model/model.h"]
    kernels = re.findall(r"^    tensorflow/lite/micro/kernels/(\S+)\.cc", files["runtime.mk"], re.M)
    assert kernels == ["kernel_util", "micro_tensor_utils", "conv", "conv_common", "depthwise_conv",
                       "depthwise_conv_common", "pad", "pad_common", "pooling", "pooling_common", "reduce",
                       "reduce_common", "add", "add_common", "fully_connected", "fully_connected_common"]
    assert "-DCMSIS_NN" not in files["runtime.mk"]


def test_tflm_cmsis_nn_takes_tflms_cmsis_nn_kernels():
    files = runtime_tflm.render(plan_graph(read_graph(spatial_model())), tflm_manifest(), Path("/opt/tflm"),
                                cmsis_nn=Path("/opt/CMSIS-NN"))
    kernels = re.findall(r"^    tensorflow/lite/micro/kernels/(\S+)\.cc", files["runtime.mk"], re.M)
    assert kernels[2:] == ["cmsis_nn/conv", "conv_common", "cmsis_nn/depthwise_conv", "depthwise_conv_common",
                           "cmsis_nn/pad", "pad_common", "cmsis_nn/pooling", "pooling_common", "reduce",
                           "reduce_common", "cmsis_nn/add", "add_common", "cmsis_nn/fully_connected",
                           "fully_connected_common"]
    assert "TFLM_DEFINES += -DCMSIS_NN\n" in files["runtime.mk"]
    assert "CMSIS_NN_DIR ?= /opt/CMSIS-NN\n" in files["runtime.mk"]


def test_tflm_refuses_an_operator_it_has_no_kernels_for():
    with pytest.raises(ExportError) as err:
        runtime_tflm.render(None, tflm_manifest(["CONV_2D", "SQUARED_DIFFERENCE"]), Path("/x"))
    assert str(err.value) == ("--runtime tflm has no kernel list for SQUARED_DIFFERENCE: add it to OPS in "
                              "semanticnn.firmware.runtime_tflm, or use --runtime codegen")


def test_availability_names_the_variables_of_skipped_runtimes(monkeypatch):
    monkeypatch.delenv("CMSIS_NN_DIR", raising=False)
    monkeypatch.delenv("TFLM_DIR", raising=False)
    runnable, skipped = runtime_availability()
    assert runnable == ["codegen"]
    assert list(skipped) == ["cmsis-nn", "tflm", "tflm-cmsis-nn"]
    assert "set TFLM_DIR" in skipped["tflm-cmsis-nn"]


def test_bench_report_names_the_runtime_and_the_boards_activation_bytes():
    """tflm projects report arena_used_bytes() measured on the target in INFO; the report takes the board's."""
    from semanticnn.bench.commands import Board
    from semanticnn.bench.fake_device import FakeDeviceServer, FakeFirmware, fake_manifest, fake_reference
    from semanticnn.bench.run import bench_samples, summarize
    from semanticnn.bench.run import render_markdown as bench_markdown
    from semanticnn.bench.transport import open_transport

    manifest = dict(fake_manifest(), runtime="tflm")
    image = np.random.default_rng(42).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    firmware = FakeFirmware(dict(manifest, activation_bytes=20740))
    with FakeDeviceServer(firmware) as server, Board(open_transport(server.url)) as board:
        info = board.info()
        results = bench_samples(board, fake_reference(manifest), image)
    report = summarize(manifest, info, results, flash_bytes=1, ram_static_bytes=1)
    assert (report["runtime"], report["memory"]["activation_bytes"]) == ("tflm", 20740)
    assert "| runtime | tflm |" in bench_markdown(report)


def test_comparison_markdown():
    row = dict(bit_exact=3, samples=3, latency_unit="instructions", flash_bytes=7812, ram_static_bytes=32512,
               activation_bytes=16896, stack_peak_bytes=216)
    result = {
        "model": "encoder.pt", "target": "qemu-m7", "samples": 3, "layer_ops": ["CONV_2D", "MUL"],
        "runtimes": {
            "codegen": dict(row, latency_median=1000, latency_vs_codegen=1.0, layers=[900, 100]),
            "tflm": dict(row, latency_median=500, latency_vs_codegen=0.5, layers=None),
        },
        "skipped": {"cmsis-nn": "set CMSIS_NN_DIR"},
    }
    assert render_markdown(result) == (
        "Model `encoder.pt` on `qemu-m7`, 3 samples per runtime.\n\n"
        "| runtime | bit-exact | latency median (instructions) | x codegen | flash (bytes) | static RAM (bytes) "
        "| activations (bytes, on target) | stack peak (bytes) |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|\n"
        "| codegen | 3 / 3 | 1,000 | 1.000 | 7,812 | 32,512 | 16,896 | 216 |\n"
        "| tflm | 3 / 3 | 500 | 0.500 | 7,812 | 32,512 | 16,896 | 216 |\n\n"
        "Per layer (last sample):\n\n"
        "| layer | op | codegen |\n|---|---|---:|\n| 0 | CONV_2D | 900 |\n| 1 | MUL | 100 |\n\n"
        "tflm keep no per-layer table (the interpreter runs the graph).\n\n"
        "Skipped:\n\n- cmsis-nn: set CMSIS_NN_DIR\n"
    )
    result["runtimes"]["cmsis-nn"] = dict(row, latency_median=800, latency_vs_codegen=0.8, layers=[50, 700, 50])
    del result["skipped"]["cmsis-nn"]
    assert ("| 1 | MUL | 100 |\n\ncmsis-nn: each PAD is a layer of its own (codegen folds it into the conv), "
            "so the per-layer table is in its bench.json.\n\ntflm keep no per-layer table") in render_markdown(result)


@needs_cmsis_nn
@pytest.mark.parametrize("name, build", [("spatial", spatial_model), ("elementwise", elementwise_model)])
def test_cmsis_nn_model_is_bit_exact_with_tflm_on_the_host(tmp_path, name, build):
    """Every operator through the cmsis-nn model.c and CMSIS-NN's portable C, against tflite_micro."""
    tree = find_trees(get_runtime("cmsis-nn"))[CMSIS_NN]
    model = build()
    plan = plan_graph(read_graph(model))
    files = runtime_cmsis_nn.render(plan, {"source": name}, tree)
    for rel in ("model/model.c", "model/model.h"):
        (tmp_path / Path(rel).name).write_text(files[rel])
    (tmp_path / "driver.c").write_text(HOST_DRIVER)
    sources = sorted({str(p) for glob in runtime_cmsis_nn.SOURCE_GLOBS for p in (tree / "Source").glob(glob)})
    exe = tmp_path / "model_host"
    build = subprocess.run([shutil.which("cc") or "gcc", "-std=c11", "-O1", "-ffunction-sections", "-Wl,--gc-sections",
                            "-I", str(tmp_path),
                            "-I", str(TEMPLATES_DIR / "src"), "-I", str(tree / "Include"), str(tmp_path / "driver.c"),
                            str(tmp_path / "model.c"), str(TEMPLATES_DIR / "src" / "kernels.c"), *sources, "-o",
                            str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    inputs = extreme_inputs(plan.input_tensor.shape[1:], 8, seed=3)
    run = subprocess.run([str(exe)], input=inputs.tobytes(), capture_output=True, check=True)
    got = np.frombuffer(run.stdout, np.int8).reshape(len(inputs), -1)[:, :plan.output_tensor.size]
    want = checks.tflm_outputs(model, inputs).reshape(len(inputs), -1)
    np.testing.assert_array_equal(got, want)


def bench_runtime(tmp_path, runtime):
    """Export the shipped model for ``runtime``, build it (the third-party trees take minutes), bench 3 images."""
    from semanticnn.bench.run import run_bench
    from semanticnn.export.pipeline import export_encoder

    project = tmp_path / runtime
    manifest = export_encoder(SHIPPED_ENCODER, "qemu-m7", project, runtime=runtime)
    build = subprocess.run(["make", "-C", str(project), "-j2"], capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-2000:]
    return manifest, run_bench(project, 3, qemu=True)


@needs_cmsis_nn
def test_cmsis_nn_runtime_is_bit_exact_in_qemu(tmp_path):
    manifest, report = bench_runtime(tmp_path, "cmsis-nn")
    assert (report["runtime"], report["bit_exact"], report["samples"]) == ("cmsis-nn", 3, 3)
    assert report["memory"]["activation_bytes"] == manifest["activation_bytes"]  # our memory plan


@needs_cmsis_nn
@pytest.mark.parametrize("runtime", ["cmsis-nn", pytest.param("tflm-cmsis-nn", marks=needs_tflm)])
def test_every_spatial_operator_is_bit_exact_in_qemu_on_cmsis_nn(tmp_path, runtime):
    """Depthwise (multipliers 1-3, dilation), 1x1 / dilated / even convolutions, max pool: CMSIS-NN's DSP code."""
    from semanticnn.bench.run import run_bench
    from semanticnn.export.pipeline import export_encoder

    model = tmp_path / "spatial.tflite"
    model.write_bytes(spatial_model())
    project = tmp_path / runtime
    export_encoder(model, "qemu-m7", project, runtime=runtime)
    build = subprocess.run(["make", "-C", str(project), "-j2"], capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-2000:]
    report = run_bench(project, 4, qemu=True)
    assert (report["runtime"], report["bit_exact"], report["samples"]) == (runtime, 4, 4)


@needs_tflm
@pytest.mark.parametrize("runtime", ["tflm", pytest.param("tflm-cmsis-nn", marks=needs_cmsis_nn)])
def test_tflm_runtimes_are_bit_exact_in_qemu(tmp_path, runtime):
    manifest, report = bench_runtime(tmp_path, runtime)
    assert (report["runtime"], report["bit_exact"], report["samples"]) == (runtime, 3, 3)
    # each operator timed: the per-layer table sums to less than the whole INFER (SQ stage, packets)
    assert [row["op"] for row in report["layers"]] == manifest["layers"]
    assert 0 < sum(row["latency"] for row in report["layers"]) < report["latency"]["max"]
    # arena_used_bytes() on the 32-bit target fits the arena the 64-bit host measured
    assert 0 < report["memory"]["activation_bytes"] <= manifest["tflm_arena_bytes"]
