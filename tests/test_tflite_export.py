"""``snn-export MODEL.tflite``: every operator and the torchvision stems, in QEMU on qemu-m7 and qemu-m3.

Each model is exported once per target (the export itself checks the generated C on
the host against tflite_micro), built with -Wall -Wextra -Werror, booted in QEMU and
benched: the raw int8 output tensor, packetized, equals tflite_micro's bit for bit on
seeded inputs that start with all -128 and all 127.
"""

import json
import shutil
from pathlib import Path

import pytest

from kernel_models import elementwise_model, spatial_model
from semanticnn.bench.run import run_bench
from semanticnn.export.kernel_plan import SUPPORTED_OPS
from semanticnn.export.pipeline import export_encoder
from test_cli_errors import assert_one_line_error, run_cli
from tflite_builder import ModelBuilder

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tflite"
MODELS = {
    "spatial": spatial_model,
    "elementwise": elementwise_model,
    "resnet18_stem": lambda: (FIXTURES / "resnet18_stem.tflite").read_bytes(),
    "mobilenet_v2_stem": lambda: (FIXTURES / "mobilenet_v2_stem.tflite").read_bytes(),
}
LAYERS = {  # the layers that run: each PAD by the zero point before a VALID conv is folded into it
    "resnet18_stem": ["CONV_2D", "PADV2", "MAX_POOL_2D", "CONV_2D", "CONV_2D", "ADD", "CONV_2D"],
    "mobilenet_v2_stem": ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D",
                          "CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "ADD", "CONV_2D"],
}
TARGETS = ("qemu-m7", "qemu-m3")
SAMPLES = 4

needs_qemu = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tflite")
    paths = {}
    for name, make in MODELS.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(make())
    return paths


CLI_CASE = ("elementwise", "qemu-m3")  # run through the snn-export and snn-bench commands instead
CASES = [(model, target) for model in sorted(MODELS) for target in TARGETS if (model, target) != CLI_CASE]


@needs_qemu
@pytest.mark.parametrize("model, target", CASES)
def test_tflite_export_bit_exact_in_qemu(model_files, tmp_path, model, target):
    manifest = export_encoder(model_files[model], target, tmp_path / "project")
    assert manifest["checks"]["generated_c_vs_tflm"] == {"samples": 32, "bit_exact": 32}
    assert manifest["sq"] == {"levels": 256, "bits_per_symbol": 8, "mapping": "raw"}
    if model in LAYERS:
        assert manifest["layers"] == LAYERS[model]
    report = run_bench(tmp_path / "project", samples=SAMPLES)
    assert (report["samples"], report["bit_exact"], report["mismatches"]) == (SAMPLES, SAMPLES, [])
    assert report["payload_bytes"] == manifest["payload_bytes"] == manifest["n_symbols"]


@needs_qemu
def test_snn_export_then_snn_bench(model_files, tmp_path):
    out, bench_json = tmp_path / "ew", tmp_path / "bench.json"
    model, target = CLI_CASE
    run = run_cli("snn-export", model_files[model], "--target", target, "-o", out)
    assert run.returncode == 0, run.stderr
    assert "(raw int8 output, no SQ stage)" in run.stdout
    run = run_cli("snn-bench", "--qemu", out, "--samples", 3, "--json", bench_json)
    assert run.returncode == 0, run.stderr
    report = json.loads(bench_json.read_text())
    assert (report["samples"], report["bit_exact"], report["payload_bytes"]) == (3, 3, 32 * 18)


def test_unsupported_op_is_one_line_exit_2(tmp_path):
    m = ModelBuilder(seed=3)
    x, y = m.act((1, 4, 4, 2), 0.1, 0), m.act((1, 4, 4, 2), 0.1, 0)
    m.op("FLOOR", [x], [y])
    path = tmp_path / "floor.tflite"
    path.write_bytes(m.build([x], [y]))
    run = run_cli("snn-export", path, "--target", "qemu-m7", "-o", tmp_path / "out")
    supported = ", ".join(sorted(SUPPORTED_OPS))
    assert_one_line_error(run, f"unsupported operator FLOOR (layer 0); supported: {supported}")
    assert not (tmp_path / "out").exists()
