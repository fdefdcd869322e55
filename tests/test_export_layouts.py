"""Device layouts other than the shipped one, exported and run on the emulated board bit-exact."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from semanticnn.export.pipeline import export_encoder
from semanticnn.model.checkpoint import load_base, save_encoder
from semanticnn.model.codec import SplitEncoder, encoder_config

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("blocks", [{"conv_blocks": 1}, {"ds_blocks": 2}], ids=["conv3x3", "depthwise-residual"])
def test_block_encoder_exports_and_runs_bit_exact_on_qemu(tmp_path, blocks):
    torch.manual_seed(0)
    enc = SplitEncoder(encoder_config(6, 2, conv_hidden=32, **blocks))
    enc.stem.load_state_dict(load_base(ROOT / "models" / "base.pt").stem.state_dict())
    checkpoint = save_encoder(tmp_path / "encoder.pt", enc.eval())
    out = tmp_path / "qemu-m7"
    manifest = export_encoder(checkpoint, "qemu-m7", out)
    assert manifest["payload_bytes"] == 48
    assert manifest["checks"]["litert_ref_vs_tflm"] == {"samples": 32, "bit_exact": 32}
    assert manifest["checks"]["generated_c_vs_tflm"] == {"samples": 32, "bit_exact": 32}
    report_path = tmp_path / "bench.json"
    run = subprocess.run([str(BIN / "snn-bench"), "--qemu", str(out), "--samples", "3", "--json", str(report_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads(report_path.read_text())
    assert (report["samples"], report["bit_exact"]) == (3, 3)
    assert report["payload_bytes"] == 48
