import json
import os
import zlib

import numpy as np
import pytest

from semanticnn.bench.commands import Board
from semanticnn.bench.fake_device import FakeDeviceServer, FakeFirmware, fake_manifest, fake_reference
from semanticnn.bench.reference import quantize_image
from semanticnn.bench.run import (
    bench_samples,
    check_info,
    latency_stats,
    load_manifest,
    read_model,
    render_markdown,
    run_bench,
    select_board,
    summarize,
    write_json,
)
from semanticnn.bench.transport import open_transport
from semanticnn.errors import BoardError, ConfigError


def images(n):
    return np.random.default_rng(42).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


class PacketFlipFirmware(FakeFirmware):
    """A firmware whose packetiser flips one payload bit of packet 1 (a real firmware bug)."""

    def _infer(self, args):
        status, result = super()._infer(args)
        bad = bytearray(self._packets[1])
        bad[10] ^= 0x04
        self._packets[1] = bytes(bad)
        return status, result


def test_quantize_image_formula():
    img = np.array([[[0, 128, 255]]], dtype=np.uint8)
    q = quantize_image(img, 1 / 255, -128, [1, 1, 1, 3])
    assert q.dtype == np.int8 and q.tolist() == [[[[-128, 0, 127]]]]
    q = quantize_image(img, 0.02, 5, [1, 3, 1, 1], layout="NCHW")
    assert q.reshape(-1).tolist() == [5, 30, 55]


def test_bench_samples_all_bit_exact_and_report(tmp_path):
    manifest = fake_manifest()
    with FakeDeviceServer(FakeFirmware(manifest)) as server, Board(open_transport(server.url)) as board:
        info = board.info()
        check_info(info, manifest, "proj")
        results = bench_samples(board, fake_reference(manifest), images(5))
    report = summarize(manifest, info, results, flash_bytes=40000, ram_static_bytes=30000)
    assert report["samples"] == 5 and report["bit_exact"] == 5 and report["mismatches"] == []
    assert report["latency"]["unit"] == "instructions"
    assert report["memory"] == {
        "flash_bytes": 40000, "ram_static_bytes": 30000, "stack_peak_bytes": 1536,
        "activation_bytes": 12288, "tflm_arena_bytes": 20000,
    }
    assert report["payload_bytes"] == 128 and report["packets_per_inference"] == 3
    assert report["compression_vs_float32"] == 16.0
    assert report["target"] == "fake"
    out = tmp_path / "out" / "bench.json"
    write_json(report, out)
    assert json.loads(out.read_text()) == report
    assert os.listdir(out.parent) == ["bench.json"]
    assert "| bit-exact samples | 5 / 5 |" in render_markdown(report)


def test_a_wrong_packet_bit_is_never_reported_bit_exact():
    manifest = fake_manifest()
    with FakeDeviceServer(PacketFlipFirmware(manifest)) as server, Board(open_transport(server.url)) as board:
        board.info()
        results = bench_samples(board, fake_reference(manifest), images(2))
    assert [r.bit_exact for r in results] == [False, False]
    assert [r.output_match for r in results] == [True, True]
    assert results[0].mismatch == "sample 0: packet 1 differs first at byte 10"


def test_board_with_other_model_is_refused():
    manifest = fake_manifest()
    firmware = FakeFirmware(manifest, model_crc=0x12345678)
    with FakeDeviceServer(firmware) as server, Board(open_transport(server.url)) as board:
        with pytest.raises(BoardError) as info:
            check_info(board.info(), manifest, "proj")
    assert str(info.value) == (
        "board runs a different model (CRC 0x12345678, proj/export.json has "
        f"0x{manifest['model_crc32']:08x}): flash this project's build (`make -C proj flash`)"
    )


def test_board_with_other_mtu_is_refused():
    manifest = fake_manifest()
    firmware = FakeFirmware(fake_manifest(mtu=222))
    with FakeDeviceServer(firmware) as server, Board(open_transport(server.url)) as board:
        with pytest.raises(BoardError) as info:
            check_info(board.info(), manifest, "proj")
    assert str(info.value) == (
        "board reports mtu 222, proj/export.json says 51: flash this project's build (`make -C proj flash`)"
    )


def test_latency_stats_nearest_rank():
    assert latency_stats(list(range(1, 101)), "cycles") == {
        "unit": "cycles", "median": 50.5, "p90": 90, "p99": 99, "min": 1, "max": 100,
    }
    assert latency_stats([7, 3, 5], "instructions") == {
        "unit": "instructions", "median": 5, "p90": 7, "p99": 7, "min": 3, "max": 7,
    }


def test_missing_manifest_message(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_manifest(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/export.json not found: export a project first (`snn-export ... -o {tmp_path}`)"
    )


def test_manifest_missing_keys_message(tmp_path):
    (tmp_path / "export.json").write_text(json.dumps({"target": "qemu-m7"}))
    with pytest.raises(ConfigError, match="lacks model_file, model_crc32, input, "):
        load_manifest(tmp_path)


def test_model_crc_checked(tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"model")
    manifest = {"model_file": "model.tflite", "model_crc32": zlib.crc32(b"model")}
    assert read_model(tmp_path, manifest) == b"model"
    manifest["model_crc32"] ^= 1
    with pytest.raises(ConfigError, match="export the project again$"):
        read_model(tmp_path, manifest)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("d", "/dev/x", None), "--qemu and --port exclude each other: pick one board"),
        ((None, None, None), "no board given: use --qemu DIR or --port PORT --project DIR"),
        ((None, "/dev/x", None), "--port /dev/x needs --project DIR: the exported project the board runs"),
        (("d", None, "e"), "--project goes with --port; with --qemu the project is the --qemu DIR"),
    ],
)
def test_select_board_errors(args, message):
    with pytest.raises(ConfigError) as info:
        select_board(*args)
    assert str(info.value) == message


def test_select_board():
    assert select_board("d", None, None) == ("d", None)
    assert select_board(None, "/dev/ttyACM0", "d") == ("d", "/dev/ttyACM0")


def test_run_bench_rejects_zero_samples(tmp_path):
    with pytest.raises(ConfigError, match="^--samples must be at least 1, got 0$"):
        run_bench(tmp_path, samples=0)


def test_cli_needs_a_board():
    from click.testing import CliRunner

    from semanticnn.bench.cli import bench_cmd

    result = CliRunner().invoke(bench_cmd, ["--samples", "2"], standalone_mode=False)
    assert type(result.exception) is ConfigError
    assert str(result.exception) == "no board given: use --qemu DIR or --port PORT --project DIR"
