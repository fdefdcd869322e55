"""The whole chain on the shipped model: export -> C -> arm-none-eabi-gcc -> QEMU -> snn-bench."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import C12_ENCODER
from semanticnn.export.tflite_graph import read_graph
from semanticnn.firmware.elfsize import flash_bytes, ram_static_bytes
from semanticnn.firmware.targets import get_target

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_export_writes_every_artifact(exported_qemu):
    out, manifest = exported_qemu
    for rel in ("encoder_int8.tflite", "tflm/model_data.cc", "tflm/model_data.h", "export.json", "Makefile",
                "model/model.c", "model/model.h", "model/snn_config.h", "src/kernels.c", "src/main.c",
                "board/link.ld"):
        assert (out / rel).is_file(), rel
    graph = read_graph((out / "encoder_int8.tflite").read_bytes())
    assert graph.tensors[graph.inputs[0]].dtype is np.int8
    assert graph.tensors[graph.outputs[0]].dtype is np.int8
    data = (out / "tflm" / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char snn_model_data[]" in data
    assert f"snn_model_data_len = {len((out / 'encoder_int8.tflite').read_bytes())};" in data
    assert json.loads((out / "export.json").read_text()) == manifest


def test_export_manifest_records_checks_and_sizes(exported_qemu):
    _, m = exported_qemu
    assert m["target"] == "qemu-m7"
    assert m["input"]["shape"] == [1, 32, 32, 3]
    assert m["sq"]["levels"] == 2 and m["sq"]["bits_per_symbol"] == 1
    assert m["n_symbols"] == 24 * 8 * 8 and m["payload_bytes"] == (m["n_symbols"] * 1 + 7) // 8 == 192
    assert m["compression_vs_float32"] == round(m["float32_split_bytes"] / m["payload_bytes"], 2)
    assert m["checks"]["litert_ref_vs_tflm"] == {"samples": 32, "bit_exact": 32}
    assert m["checks"]["generated_c_vs_tflm"] == {"samples": 32, "bit_exact": 32}
    assert m["activation_bytes"] < m["tflm_arena_bytes"]


def test_generated_c_prints_only_decided_constants(exported_qemu):
    out, _ = exported_qemu
    model_c = (out / "model" / "model.c").read_text()
    assert "#error" in model_c and "_Static_assert" in model_c
    assert "static void layer0_run(const int8_t *restrict in, int8_t *restrict out, int16_t *restrict col)" in model_c
    assert "SNN_MAC_2X2(" in model_c  # qemu-m7 has the DSP extension: SMLAD
    assert "float" not in model_c and "double" not in model_c


def test_firmware_builds_and_fits(project_copy):
    project, _ = project_copy
    subprocess.run(["make", "-C", str(project)], check=True, capture_output=True)
    elf = project / "build" / "firmware.elf"
    target = get_target("qemu-m7")
    assert 0 < flash_bytes(elf) < target.flash_bytes
    assert 0 < ram_static_bytes(elf) < target.ram_bytes


def test_snn_bench_on_qemu_is_bit_exact(project_copy, tmp_path):
    project, manifest = project_copy
    report_path = tmp_path / "bench.json"
    command = [str(BIN / "snn-bench"), "--qemu", str(project), "--samples", "8", "--json", str(report_path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads(report_path.read_text())
    assert report["samples"] == 8
    assert report["bit_exact"] == 8
    assert report["latency"]["unit"] == "instructions"
    assert report["latency"]["median"] > 0 and report["latency"]["p99"] >= report["latency"]["median"]
    assert report["payload_bytes"] == manifest["payload_bytes"]
    ratio = manifest["float32_split_bytes"] / manifest["payload_bytes"]
    assert report["compression_vs_float32"] == pytest.approx(ratio)
    mem = report["memory"]
    assert mem["activation_bytes"] == manifest["activation_bytes"]
    assert 0 < mem["stack_peak_bytes"] < 8192
    assert mem["flash_bytes"] > manifest["const_bytes"]
    assert mem["ram_static_bytes"] > manifest["activation_bytes"]


def _without_git(export_json):
    manifest = json.loads(export_json.read_text())
    del manifest["provenance"]["git_commit"], manifest["provenance"]["git_dirty"]
    return manifest


def test_committed_stm32_project_is_the_rendering_of_the_shipped_model(tmp_path):
    from semanticnn.export.pipeline import export_encoder

    fresh = tmp_path / "stm32_project"
    export_encoder(ROOT / "models" / "encoder.pt", "stm32f7", fresh)
    committed = ROOT / "stm32_project"
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*")
                             if p.is_file() and "build" not in p.relative_to(committed).parts)
    assert fresh_files == committed_files, "run `make stm32_project` and commit the result"
    for rel in fresh_files:
        if rel.name == "export.json":  # records the commit it was rendered at, which a commit cannot contain
            assert _without_git(fresh / rel) == _without_git(committed / rel), "run `make stm32_project`"
            continue
        assert (fresh / rel).read_bytes() == (committed / rel).read_bytes(), f"{rel} differs: run `make stm32_project`"
    subprocess.run(["make", "-C", str(fresh)], check=True, capture_output=True)
    target = get_target("stm32f7")
    elf = fresh / "build" / "firmware.elf"
    assert flash_bytes(elf) < target.flash_bytes
    assert ram_static_bytes(elf) < target.ram_bytes


@pytest.mark.hardware
def test_board_on_port_is_bit_exact(board_port, tmp_path):
    from semanticnn.bench.run import run_bench

    report = run_bench(ROOT / "stm32_project", samples=10, port=board_port, qemu=False)
    assert report["bit_exact"] == 10
    assert report["latency"]["unit"] == "cycles"


def test_golay_msb_payload_is_bit_exact_on_qemu(tmp_path):
    """The L = 4 encoder with payload code golay-msb: the firmware's packets equal the Python mirror's."""
    from semanticnn.channel.payload import PayloadLayout
    from semanticnn.export.pipeline import export_encoder
    from semanticnn.model.checkpoint import load_encoder, save_encoder

    encoder = load_encoder(C12_ENCODER)
    encoder.config["payload_code"] = "golay-msb"
    checkpoint = tmp_path / "encoder-golay.pt"
    save_encoder(checkpoint, encoder)
    manifest = export_encoder(checkpoint, "qemu-m7", tmp_path / "project")
    n = manifest["n_symbols"]
    assert manifest["sq"]["payload_code"] == "golay-msb"
    assert manifest["payload_bytes"] == PayloadLayout(n, 4, "golay-msb").n_bytes == 288
    config_h = (tmp_path / "project" / "model" / "snn_config.h").read_text()
    assert "#define SNN_GOLAY_MSB          1" in config_h
    report_path = tmp_path / "bench.json"
    command = [str(BIN / "snn-bench"), "--qemu", str(tmp_path / "project"), "--samples", "4",
               "--json", str(report_path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads(report_path.read_text())
    assert report["bit_exact"] == 4 and report["payload_bytes"] == 288
