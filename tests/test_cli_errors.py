"""Bad input: one line naming the problem and the fix, exit code 2, no traceback, nothing half-written."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_cli(*args, env=None, timeout=120):
    return subprocess.run([str(BIN / args[0]), *map(str, args[1:])], capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_one_line_error(run, message):
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.strip().splitlines()
    assert lines == [f"error: {message}"]


@pytest.mark.parametrize("content, message", [
    (b"garbage", "{name} is not a readable torch checkpoint (re-run `snn train` or pass the right file)"),
    (None, "{name} has format None, expected 'semanticnn-encoder' (re-run `snn train` or pass the right file)"),
])
def test_export_refuses_checkpoints_that_are_not_ours(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)
    else:
        path.write_bytes(content)
    run = run_cli("snn-export", path, "--target", "qemu-m7", "-o", tmp_path / "out")
    assert_one_line_error(run, message.format(name=path))
    assert not (tmp_path / "out").exists()


def test_export_refuses_a_missing_checkpoint(tmp_path):
    run = run_cli("snn-export", tmp_path / "nope.pt", "--target", "qemu-m7", "-o", tmp_path / "out")
    missing = tmp_path / "nope.pt"
    assert_one_line_error(run, f"checkpoint not found: {missing} (re-run `snn train` or pass the right file)")
    assert not (tmp_path / "out").exists()


def test_export_refuses_an_unknown_target(tmp_path):
    run = run_cli("snn-export", ROOT / "models" / "encoder.pt", "--target", "esp32", "-o", tmp_path / "out")
    assert_one_line_error(run, "unknown target 'esp32': choose one of qemu-m3, qemu-m7, stm32f4, stm32f7, stm32h7")
    assert not (tmp_path / "out").exists()


def test_bench_names_a_missing_arm_compiler(project_copy, tmp_path):
    project, _ = project_copy
    shutil.rmtree(project / "build", ignore_errors=True)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "make").symlink_to(shutil.which("make"))
    env = dict(os.environ, PATH=str(fake_bin))
    run = run_cli("snn-bench", "--qemu", project, "--samples", "1", env=env)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "arm-none-eabi-gcc not found: install the gcc-arm-none-eabi package" in run.stderr


def test_bench_names_a_port_that_does_not_exist(exported_qemu):
    project, _ = exported_qemu
    run = run_cli("snn-bench", "--port", "/dev/ttyNOPE0", "--project", project)
    assert_one_line_error(run, "serial port /dev/ttyNOPE0 not found: check the cable and `ls /dev/ttyACM*`")


def test_bench_names_a_board_that_does_not_answer(exported_qemu):
    project, _ = exported_qemu
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"socket://127.0.0.1:{silent.getsockname()[1]}"
        run = run_cli("snn-bench", "--port", url, "--project", project, timeout=60)
    assert_one_line_error(
        run, f"board on {url} does not answer: is the SemanticNN firmware flashed? try `make flash`")


def test_make_flash_names_the_flashers_when_none_is_installed(tmp_path):
    if any(shutil.which(t) for t in ("st-flash", "openocd", "pyocd")):
        pytest.skip("a flasher is installed here")
    project = tmp_path / "stm32_project"
    shutil.copytree(ROOT / "stm32_project", project, ignore=shutil.ignore_patterns("build"))
    run = subprocess.run(["make", "-C", str(project), "flash"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "no flasher found: install st-flash (stlink-tools), openocd or pyocd" in run.stderr
