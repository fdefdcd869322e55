"""Every JSON the toolchain writes says which toolchain wrote it and from which checkpoint."""

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from semanticnn import __version__
from semanticnn.bench.commands import Board
from semanticnn.bench.fake_device import FakeDeviceServer, FakeFirmware, fake_manifest, fake_reference
from semanticnn.bench.run import bench_samples, summarize
from semanticnn.bench.transport import open_transport
from semanticnn.data import default_cifar10_zip
from semanticnn.provenance import file_sha256, git_state, provenance

ROOT = Path(__file__).resolve().parents[1]
ENCODER, DECODER, BASE = (ROOT / "models" / f"{name}.pt" for name in ("encoder", "decoder", "base"))


def _head():
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_block_records_version_commit_and_checkpoint_hashes(tmp_path):
    other = tmp_path / "other.pt"
    other.write_bytes(b"not a checkpoint")
    block = provenance(encoder=ENCODER, decoder=None, base=other)
    commit, dirty = git_state()
    assert block == {
        "toolchain_version": __version__, "git_commit": _head(), "git_dirty": dirty,
        "checkpoints": {"encoder": {"file": "encoder.pt", "sha256": _sha256(ENCODER)},
                        "base": {"file": "other.pt", "sha256": _sha256(other)}},
    }
    assert commit == _head() and type(dirty) is bool
    assert file_sha256(other) == hashlib.sha256(b"not a checkpoint").hexdigest()


def test_recorded_entries_pass_through():
    entry = {"file": "encoder.pt", "sha256": "ab" * 32}
    assert provenance(encoder=entry)["checkpoints"] == {"encoder": entry}


def test_export_json_records_the_encoder(exported_qemu):
    out, manifest = exported_qemu
    assert json.loads((out / "export.json").read_text())["provenance"] == manifest["provenance"]
    assert manifest["provenance"]["toolchain_version"] == __version__
    assert manifest["provenance"]["git_commit"] == _head()
    assert manifest["provenance"]["checkpoints"] == {"encoder": {"file": "encoder.pt", "sha256": _sha256(ENCODER)}}


def test_bench_report_carries_the_exported_checkpoint():
    manifest = fake_manifest()
    entry = {"file": "encoder.pt", "sha256": "cd" * 32}
    manifest["provenance"] = {"toolchain_version": "0.0.1", "git_commit": None, "git_dirty": None,
                              "checkpoints": {"encoder": entry}}
    images = np.random.default_rng(1).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    with FakeDeviceServer(FakeFirmware(manifest)) as server, Board(open_transport(server.url)) as board:
        info = board.info()
        results = bench_samples(board, fake_reference(manifest), images)
    report = summarize(manifest, info, results, flash_bytes=1, ram_static_bytes=1)
    assert report["provenance"] == {"toolchain_version": __version__, "git_commit": _head(),
                                    "git_dirty": git_state()[1], "checkpoints": {"encoder": entry}}


@pytest.mark.skipif(not default_cifar10_zip().is_file(), reason="CIFAR-10 JPEG zip not found")
def test_eval_json_records_encoder_decoder_and_base(tmp_path):
    from semanticnn.evaluate.cli import evaluate_files

    evaluate_files(ENCODER, DECODER, "0", "iid", samples=10, out=tmp_path, methods=("split",), base=BASE)
    block = json.loads((tmp_path / "eval.json").read_text())["provenance"]
    assert block["git_commit"] == _head()
    assert block["checkpoints"] == {role: {"file": f"{role}.pt", "sha256": _sha256(path)}
                                    for role, path in (("encoder", ENCODER), ("decoder", DECODER), ("base", BASE))}


def test_frontier_rows_name_their_checkpoints():
    from semanticnn.evaluate.frontier import SHIPPED, _row

    checkpoints = provenance(encoder=ENCODER, decoder=DECODER)["checkpoints"]
    split = {"name": "split", "payload_bytes": 192, "packets": 5, "air_bytes": 227, "compression": 341.3,
             "air_compression": 288.7, "accuracy": [0.8], "std": [0.0]}
    report = {"methods": [split], "provenance": provenance(encoder=ENCODER, decoder=DECODER)}
    assert _row(SHIPPED, report, {"train_seconds": 1.0}, [])["checkpoints"] == checkpoints


def test_tflite_export_records_the_model_file(tmp_path):
    from semanticnn.export.tflite_export import export_tflite

    model = ROOT / "tests" / "fixtures" / "tflite" / "resnet18_stem.tflite"
    manifest = export_tflite(model, "qemu-m7", tmp_path / "p")
    assert manifest["provenance"]["checkpoints"] == {"model": {"file": model.name, "sha256": _sha256(model)}}
