"""A short round of the firmware fuzzer (``make fuzz`` runs 10^6 frames): parser and command loop
on the host under ASan and UBSan, with the harness's response checks."""

import re
import shutil

import pytest

from fuzz_firmware import build_harness, run_harness

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

FRAMES = 20_000


def test_firmware_survives_generated_and_mutated_frames(tmp_path):
    exe = build_harness(tmp_path)
    done = run_harness(exe, FRAMES, seed=3)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"fuzz_firmware: {FRAMES} frames (")
    assert done.stdout.rstrip().endswith("), 0 failed checks")


def test_harness_reports_a_planted_overflow(tmp_path):
    """The harness can fail: a LOAD bounds check loosened by 64 bytes is found at once."""
    exe = build_harness(tmp_path, patch=("len > SNN_INPUT_BYTES - offset", "len > SNN_INPUT_BYTES + 64u - offset"))
    done = run_harness(exe, FRAMES, seed=3)
    assert done.returncode != 0
    # UBSan sees the written-bytes bitmap indexed past its end before ASan sees the memcpy
    assert re.search(r"src/main\.c:\d+:\d+: runtime error: index \d+ out of bounds", done.stderr), done.stderr[-2000:]
