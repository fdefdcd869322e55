"""Shared fixtures: the shipped model exported once per session, the stub firmware built once, and the
hardware option."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_ENCODER = ROOT / "models" / "encoder.pt"
SHIPPED_DECODER = ROOT / "models" / "decoder.pt"
C12_ENCODER = ROOT / "models" / "runs" / "c12-l4-48-b05" / "encoder.pt"  # L = 4, shipped until stop 28


def pytest_addoption(parser):
    parser.addoption("--port", default=None, help="serial port of a flashed STM32F746G-DISCO (runs hardware tests)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--port"):
        return
    skip = pytest.mark.skip(reason="needs a board: pass --port /dev/ttyACM0")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def board_port(request):
    return request.config.getoption("--port")


@pytest.fixture(scope="session")
def exported_qemu(tmp_path_factory):
    """models/encoder.pt exported for qemu-m7: (project dir, manifest)."""
    from semanticnn.export.pipeline import export_encoder

    out = tmp_path_factory.mktemp("export") / "qemu-m7"
    manifest = export_encoder(SHIPPED_ENCODER, "qemu-m7", out)
    return out, manifest


@pytest.fixture(scope="session")
def exported_c12(tmp_path_factory):
    """The L = 4 encoder shipped until stop 28 exported for qemu-m7: (project dir, manifest)."""
    from semanticnn.export.pipeline import export_encoder

    out = tmp_path_factory.mktemp("export-c12") / "qemu-m7"
    return out, export_encoder(C12_ENCODER, "qemu-m7", out)


@pytest.fixture(scope="session")
def stub_qemu_elf(tmp_path_factory):
    """The stub-model firmware (tests/firmware_helpers.py) built once for QEMU: its firmware.elf."""
    from firmware_helpers import QEMU_TARGET, build, render_project

    project = render_project(tmp_path_factory.mktemp("fw") / "qemu", QEMU_TARGET)
    result = build(project)
    assert result.returncode == 0, result.stderr
    return project / "build" / "firmware.elf"


@pytest.fixture()
def project_copy(exported_qemu, tmp_path):
    """A private copy of the exported qemu-m7 project (build/ included) to modify."""
    src, manifest = exported_qemu
    dst = tmp_path / "project"
    shutil.copytree(src, dst, symlinks=True)
    return dst, manifest


@pytest.fixture(scope="session")
def exported_decoder(tmp_path_factory):
    """models/decoder.pt exported with `snn export-decoder` (mtu 51): (folder, manifest)."""
    from semanticnn.export.decoder import export_decoder

    out = tmp_path_factory.mktemp("edge") / "edge"
    manifest = export_decoder(SHIPPED_DECODER, out, samples=100)
    return out, manifest
