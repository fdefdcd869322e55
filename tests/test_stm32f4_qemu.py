"""The stm32f4 (NUCLEO-F446RE) firmware, unmodified, in QEMU's netduinoplus2 (STM32F405).

Real STM32 register code under test on every commit: QEMU models no RCC, so every ready flag
reads 0 and the HSI fallback runs; its DWT does not count, so the latency is SysTick instructions.
"""

import json
import shutil
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from semanticnn.bench.commands import BoardInfo, LatencyUnit
from semanticnn.bench.fake_device import FakeDeviceServer, FakeFirmware, fake_manifest
from semanticnn.bench.run import latency_stats, open_port_board, port_bauds
from semanticnn.firmware.targets import get_target

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAMPLES = 20

needs_tools = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)


@needs_tools
def test_shipped_model_for_stm32f4_is_bit_exact_in_netduinoplus2(tmp_path):
    project = tmp_path / "stm32f4"
    export = subprocess.run([str(BIN / "snn-export"), str(ROOT / "models" / "encoder.pt"), "--target", "stm32f4",
                             "-o", str(project)], capture_output=True, text=True, timeout=600)
    assert export.returncode == 0, export.stderr
    build = subprocess.run(["make", "-C", str(project)], capture_output=True, text=True)
    assert build.returncode == 0 and "-Werror" in build.stdout, build.stderr
    report_path = tmp_path / "bench.json"
    bench = subprocess.run([str(BIN / "snn-bench"), "--qemu", str(project), "--samples", str(SAMPLES),
                            "--json", str(report_path)], capture_output=True, text=True, timeout=600)
    assert bench.returncode == 0, bench.stderr
    report = json.loads(report_path.read_text())
    assert (report["target"], report["samples"], report["bit_exact"]) == ("stm32f4", SAMPLES, SAMPLES)
    assert report["latency"]["unit"] == "instructions" and "us" not in report["latency"]
    assert report["clock"] == {"core_clock_hz": 16_000_000, "source": "hsi_fallback", "caches": [], "baud": 460800}
    assert report["memory"]["flash_bytes"] < get_target("stm32f4").flash_bytes
    assert report["memory"]["ram_static_bytes"] < get_target("stm32f4").ram_bytes


def test_port_tries_the_link_rate_then_the_fallback_rate():
    assert port_bauds("stm32f4") == [921600, 460800]  # 16 MHz HSI cannot make 921600 within 2%
    assert port_bauds("stm32f7") == [921600, 460800]
    assert port_bauds("stm32h7") == [921600]          # 64 MHz HSI makes 921600 (0.64%)
    assert port_bauds("stm32h7", 115200) == [115200]


def test_cycles_are_also_reported_in_microseconds():
    stats = latency_stats([2_160_000, 2_160_000, 4_320_000], LatencyUnit.CYCLES.name.lower(), 216_000_000)
    assert stats["median"] == 2_160_000
    assert stats["us"] == {"median": 10_000.0, "p90": 20_000.0, "p99": 20_000.0, "min": 10_000.0, "max": 20_000.0}
    assert "us" not in latency_stats([100], "instructions", 16_000_000)


def test_info_names_the_clock_and_caches():
    info = BoardInfo(1, 1, 216_000_000, 3072, 512, 512, 3, 192, 64, 16896, 8192, 0, 921600, 1, 3, "stm32f7")
    assert (info.clock_source_name, info.cache_names, info.latency_unit_name) == ("pll", ["I", "D"], "cycles")


def test_port_follows_a_board_that_fell_back_to_its_hsi():
    """A board on its HSI answers at the fallback rate only: snn-bench finds it there."""
    rates = []

    def answer_at_460800(i, wire):
        speed = termios.tcgetattr(server._slave)[5]  # the pty's output speed, as the host set it
        rates.append(speed)
        return wire if speed == termios.B460800 else b""

    with FakeDeviceServer(FakeFirmware(fake_manifest()), kind="pty", mangle=answer_at_460800) as server:
        with open_port_board(server.url, "stm32f4", timeout=0.2, attempts=1) as board:
            assert board.info().target == "fake"
    assert rates[0] == termios.B921600 and rates[-1] == termios.B460800
