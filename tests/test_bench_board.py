import socket
import threading
import time

import numpy as np
import pytest

from semanticnn.bench.commands import Board, BoardInfo, BoardNotReady, Cmd, InferResult
from semanticnn.bench.fake_device import FakeDeviceServer, FakeFirmware, fake_manifest, fake_reference
from semanticnn.bench.framing import build_frame
from semanticnn.bench.timeouts import DAMAGED_ATTEMPTS
from semanticnn.bench.transport import open_transport
from semanticnn.channel.packets import Header, decode_header
from semanticnn.errors import BoardError, ProtocolError

FAST = {"timeout": 0.2, "infer_timeout": 0.5}


@pytest.fixture
def manifest():
    return fake_manifest()


def image(seed):
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def connect(server, **kwargs):
    return Board(open_transport(server.url), **{**FAST, **kwargs})


@pytest.mark.parametrize("kind", ["tcp", "pty"])
def test_info_fields(manifest, kind):
    with FakeDeviceServer(FakeFirmware(manifest), kind=kind) as server, connect(server) as board:
        info = board.info()
    assert info == BoardInfo(
        proto_version=1, latency_unit=0, core_clock_hz=25_000_000, input_bytes=3072, output_bytes=512,
        n_symbols=512, bits_per_symbol=2, payload_bytes=128, mtu=51, activation_bytes=12288,
        stack_bytes=8192, model_crc=0x5EC0DE42, baud=115200, clock_source=0, caches=0, target="fake",
    )
    assert info.latency_unit_name == "instructions"
    assert info.clock_source_name == "fixed" and info.cache_names == []


@pytest.mark.parametrize("kind", ["tcp", "pty"])
def test_run_sample_matches_host_reference(manifest, kind):
    reference = fake_reference(manifest)
    with FakeDeviceServer(FakeFirmware(manifest), kind=kind) as server, connect(server) as board:
        for frame_id in (0, 1, 65535):
            expected = reference.run(image(frame_id), frame_id)
            result, packets, output = board.run_sample(expected.input.tobytes(), frame_id)
            assert packets == expected.packets
            assert np.array_equal(output, expected.output.reshape(-1))
            assert result.n_packets == 3 and result.payload_bytes == 128
            assert [decode_header(p) for p in packets] == [(Header(frame_id % 4096, i, 3), 0) for i in range(3)]


def test_load_is_chunked_to_1024_bytes(manifest):
    firmware = FakeFirmware(manifest)
    with FakeDeviceServer(firmware) as server, connect(server) as board:
        board.load_input(bytes(range(256)) * 12)
        assert firmware.requests == 3
        input_sum = int(np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64).sum()) * 12
        assert board.infer(7) == InferResult(100_000 + input_sum % 4096, 1536, 3, 128)


def test_packet_before_infer_is_a_board_error_with_status_name(manifest):
    with FakeDeviceServer(FakeFirmware(manifest)) as server, connect(server) as board:
        with pytest.raises(BoardError) as info:
            board.packet(0)
    assert type(info.value) is BoardNotReady
    assert str(info.value) == (
        "board rejected PACKET with status NOT_READY: the board lost its state (reset?); run again"
    )


def test_infer_before_whole_input_is_not_ready(manifest):
    with FakeDeviceServer(FakeFirmware(manifest)) as server, connect(server) as board:
        board.load_input(bytes(1024))
        with pytest.raises(BoardError, match="status NOT_READY"):
            board.infer(0)


def test_packet_index_out_of_range_is_bad_argument(manifest):
    with FakeDeviceServer(FakeFirmware(manifest)) as server, connect(server) as board:
        board.load_input(bytes(3072))
        board.infer(0)
        with pytest.raises(BoardError) as info:
            board.packet(3)
    assert str(info.value) == (
        "board rejected PACKET with status BAD_ARGUMENT: "
        "the request is out of range; does export.json match the flashed firmware?"
    )


def test_unknown_command(manifest):
    with FakeDeviceServer(FakeFirmware(manifest)) as server, connect(server) as board:
        with pytest.raises(BoardError) as info:
            board.command(0x7F)
    assert str(info.value) == (
        "board rejected 0x7f with status UNKNOWN_COMMAND: "
        "the firmware is older than snn-bench; rebuild and flash it"
    )


def test_other_protocol_version_in_info(manifest):
    with FakeDeviceServer(FakeFirmware(manifest, proto_version=2)) as server, connect(server) as board:
        with pytest.raises(ProtocolError) as info:
            board.info()
    assert str(info.value) == (
        "board firmware speaks protocol version 2, snn-bench speaks 1: "
        "rebuild and flash the firmware with this toolchain"
    )


def test_silent_board_does_not_answer_within_bound(manifest):
    with FakeDeviceServer(FakeFirmware(manifest), mangle=lambda i, wire: b"") as server:
        board = connect(server)
        start = time.monotonic()
        with pytest.raises(BoardError) as info:
            board.info()
        elapsed = time.monotonic() - start
        board.close()
    assert type(info.value) is BoardError
    assert str(info.value) == (
        f"board on {server.url} does not answer: is the SemanticNN firmware flashed? try `make flash`"
    )
    assert elapsed < 3.0


def test_silent_tcp_peer_does_not_answer():
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"socket://127.0.0.1:{listener.getsockname()[1]}"
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        board = Board(open_transport(url), timeout=0.1, attempts=2)
        start = time.monotonic()
        with pytest.raises(BoardError, match="does not answer"):
            board.info()
        assert time.monotonic() - start < 2.0
        board.close()
    finally:
        listener.close()
        for conn, _ in accepted:
            conn.close()


def test_dropped_response_is_retried(manifest):
    with FakeDeviceServer(FakeFirmware(manifest), mangle=lambda i, w: b"" if i == 0 else w) as server:
        with connect(server) as board:
            assert board.info().target == "fake"


def test_garbage_before_response_is_retried(manifest):
    def mangle(i, wire):
        return b"\x55\xaa\x13" + wire if i % 2 == 0 else wire

    reference = fake_reference(manifest)
    with FakeDeviceServer(FakeFirmware(manifest), mangle=mangle) as server, connect(server) as board:
        expected = reference.run(image(3), 3)
        _, packets, output = board.run_sample(expected.input.tobytes(), 3)
    assert packets == expected.packets
    assert np.array_equal(output, expected.output.reshape(-1))


def test_duplicated_responses_are_skipped(manifest):
    firmware = FakeFirmware(manifest)
    with FakeDeviceServer(firmware, mangle=lambda i, w: w + w) as server, connect(server) as board:
        board.load_input(bytes(3072))
        board.infer(1)
        board.packet(2)
    assert firmware.requests == 5


def test_every_response_corrupted_is_a_protocol_error(manifest):
    def flip(i, wire):
        last = wire[-2] ^ 0x01 or 0x02
        return wire[:-2] + bytes([last]) + wire[-1:]

    with FakeDeviceServer(FakeFirmware(manifest), mangle=flip) as server, connect(server) as board:
        with pytest.raises(ProtocolError) as info:
            board.info()
    assert str(info.value).startswith(f"INFO on {server.url} failed {DAMAGED_ATTEMPTS} times; last: ")
    assert board.timed_out_tries == 0  # each damaged response was retried at once


def test_wrong_echo_is_a_protocol_error(manifest):
    def reseq(i, wire):
        return build_frame(Cmd.INFO, 200, b"\x00")

    with FakeDeviceServer(FakeFirmware(manifest), mangle=reseq) as server, connect(server) as board:
        with pytest.raises(ProtocolError) as info:
            board.info()
    assert str(info.value) == (
        f"INFO on {server.url} failed {DAMAGED_ATTEMPTS} times; last: response to INFO seq "
        f"{DAMAGED_ATTEMPTS - 1} echoes cmd 0x01 seq 200: another program may be talking to the board"
    )


def test_garbage_only_peer_names_baud():
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"socket://127.0.0.1:{listener.getsockname()[1]}"

    def babble():
        conn, _ = listener.accept()
        with conn:
            for _ in range(40):
                try:
                    conn.sendall(b"\xfe\x81\x33\x7f")
                except OSError:
                    return
                time.sleep(0.02)

    threading.Thread(target=babble, daemon=True).start()
    try:
        with Board(open_transport(url), timeout=0.1, attempts=2) as board:
            with pytest.raises(ProtocolError) as info:
                board.info()
    finally:
        listener.close()
    assert str(info.value) == (
        f"board on {url} sends bytes but no valid frame: check --baud (this port runs at 115200) "
        "and that it runs SemanticNN firmware"
    )
