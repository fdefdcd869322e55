"""semanticnn.edge: reassembly, erasure marking, bad packets counted, batched onnxruntime decoding."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHIPPED_DECODER, SHIPPED_ENCODER
from edge_helpers import encoder_symbols, frame_packets
from semanticnn.channel import golay
from semanticnn.channel.erasure import symbol_packets
from semanticnn.edge import FrameAssembler, Receiver, frame_symbols, load_edge_model
from semanticnn.model.checkpoint import load_decoder

MANIFEST = {"code_shape": [8, 8, 8], "n_symbols": 512, "levels": 8, "bits_per_symbol": 3, "mapping": "gray",
            "payload_bytes": 192, "mtu": 51}
RNG = np.random.default_rng(0)
SYMBOLS = RNG.integers(0, 8, size=(6, 8, 8, 8))  # six frames of random symbols, NCHW


def assembler(**kw):
    return FrameAssembler(MANIFEST["payload_bytes"], MANIFEST["mtu"], **kw)


def test_a_whole_frame_is_released_on_its_last_packet_and_decodes_to_its_symbols():
    asm = assembler()
    packets = frame_packets(SYMBOLS[0], 7, MANIFEST)
    assert len(packets) == 5
    assert [asm.add("dev", p, now=0.0) for p in packets[:4]] == [None] * 4
    frame = asm.add("dev", packets[4], now=0.0)
    assert (frame.device, frame.frame_id, frame.missing) == ("dev", 7, 0)
    indices, erased = frame_symbols([frame.fragments[i] for i in range(5)], MANIFEST)
    assert np.array_equal(indices, SYMBOLS[0]) and not erased.any()
    assert asm.counters.frames_complete == 1 and asm.counters.lost_packets == 0


def test_missing_fragments_are_erased_symbols_after_the_timeout():
    asm = assembler(timeout_s=1.0)
    packets = frame_packets(SYMBOLS[1], 3, MANIFEST)
    for i in (0, 2, 4):
        asm.add("dev", packets[i], now=10.0)
    assert asm.expired(now=10.9) == []
    (frame,) = asm.expired(now=11.0)
    indices, erased = frame_symbols([frame.fragments.get(i) for i in range(5)], MANIFEST)
    first, last = symbol_packets(512, 3, 51)
    lost_nhwc = np.isin(first, [1, 3]) | np.isin(last, [1, 3])
    assert np.array_equal(erased, lost_nhwc.reshape(8, 8, 8).transpose(2, 0, 1))
    assert np.array_equal(indices[~erased], SYMBOLS[1][~erased])
    assert asm.counters.lost_packets == 2 and asm.counters.frames_partial == 1


def flip_word(packet, word, error):
    """``packet`` with the 24-bit ``error`` XORed into header word ``word``."""
    bad = int.from_bytes(packet[3 * word : 3 * word + 3], "big") ^ error
    return packet[: 3 * word] + bad.to_bytes(3, "big") + packet[3 * word + 3 :]


def with_word1(packet, fragment, count):
    """The packet with a valid header word 1 of ``fragment`` and ``count``."""
    return packet[:3] + golay.encode(fragment << 6 | (count - 1)).to_bytes(3, "big") + packet[6:]


def test_bad_packets_are_counted_and_dropped_never_raised():
    asm = assembler(devices={"a", "b"})
    packets = frame_packets(SYMBOLS[2], 1, MANIFEST)
    bad = [
        ("a", flip_word(packets[0], 0, 0b1111)),      # four errors in a Golay word
        ("a", b"\x00\x01"),                           # shorter than a header
        ("a", with_word1(packets[4], 5, 5)),          # index past the count
        ("a", with_word1(packets[0], 0, 6)),          # count is not the model's
        ("a", packets[4] + b"\x00"),                  # not the length fragment 4 carries
        ("a", packets[0][:-3]),                       # truncated payload
        ("z", packets[0]),                            # unknown device
    ]
    for device, packet in bad:
        assert asm.add(device, packet, now=0.0) is None
    asm.add("a", packets[0], now=0.0)
    asm.add("a", packets[0], now=0.0)                 # duplicate
    c = asm.counters
    assert (c.packets, c.bad_header, c.out_of_range, c.unknown_device, c.duplicate) == (9, 3, 3, 1, 1)
    assert list(asm.pending) == [("a", 1)]


def test_a_packet_of_a_released_frame_is_a_duplicate_not_a_new_frame():
    asm = assembler()
    packets = frame_packets(SYMBOLS[0], 9, MANIFEST)
    for p in packets:
        asm.add("dev", p, now=0.0)
    assert asm.add("dev", packets[2], now=0.5) is None
    assert asm.counters.duplicate == 1 and not asm.pending


def test_whole_frames_lost_in_a_gap_are_counted_and_taken_back_if_they_turn_up():
    asm = assembler()
    for frame_id in (0, 3):
        for p in frame_packets(SYMBOLS[0], frame_id, MANIFEST):
            asm.add("dev", p, now=0.0)
    assert (asm.counters.lost_frames, asm.counters.lost_packets) == (2, 10)
    for p in frame_packets(SYMBOLS[0], 1, MANIFEST):
        asm.add("dev", p, now=0.0)
    assert (asm.counters.lost_frames, asm.counters.lost_packets) == (1, 5)


def test_frame_ids_wrap_at_4096_as_the_header_carries_them():
    asm = assembler()
    for frame_id in (4094, 4095, 4096 + 2):  # the device counts on past 4095; the header sends 2
        for p in frame_packets(SYMBOLS[0], frame_id, MANIFEST):
            frame = asm.add("dev", p, now=0.0)
    assert frame.frame_id == 2
    assert (asm.counters.lost_frames, asm.counters.lost_packets, asm.counters.frames_complete) == (2, 10, 3)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_interleaved_lossy_duplicated_traffic_never_mixes_frames_and_counts_every_loss(data):
    """Three devices, two frames each, packets shuffled, some dropped and some sent twice."""
    sent = []
    for d, device in enumerate(("a", "b", "c")):
        for f in range(2):
            for i, p in enumerate(frame_packets(SYMBOLS[2 * d + f], f, MANIFEST)):
                sent.append((device, f, i, p))
    keep = data.draw(st.lists(st.booleans(), min_size=len(sent), max_size=len(sent)))
    twice = data.draw(st.lists(st.booleans(), min_size=len(sent), max_size=len(sent)))
    traffic = [s for s, k, t in zip(sent, keep, twice, strict=True) if k for _ in range(1 + t)]
    traffic = data.draw(st.permutations(traffic))
    asm = assembler(timeout_s=1.0)
    released = [asm.add(dev, p, now=0.0) for dev, _, _, p in traffic]
    released = [f for f in released if f is not None] + asm.expired(now=5.0)
    for frame in released:
        d = "abc".index(frame.device)
        truth = SYMBOLS[2 * d + frame.frame_id]
        assert frame.frame_id in (0, 1)
        indices, erased = frame_symbols([frame.fragments.get(i) for i in range(frame.count)], MANIFEST)
        assert np.array_equal(indices[~erased], truth[~erased])
        got = {i for dev, f, i, _ in traffic if (dev, f) == (frame.device, frame.frame_id)}
        assert set(frame.fragments) == got
    dropped_in_seen_frames = sum(5 - len(f.fragments) for f in released)
    whole_frames_missing = 6 - len(released)
    c = asm.counters
    assert c.lost_packets == dropped_in_seen_frames + (c.lost_frames * 5)
    assert c.lost_frames <= whole_frames_missing
    assert c.duplicate == len(traffic) - sum(len(f.fragments) for f in released)


@pytest.fixture(scope="module")
def real_frames():
    return encoder_symbols(SHIPPED_ENCODER, 120)


def test_receiver_predicts_what_the_pytorch_decoder_predicts_in_batches(exported_decoder, real_frames):
    folder, manifest = exported_decoder
    indices, _ = real_frames
    rx = Receiver(load_edge_model(folder), timeout_s=1.0, max_batch=32, clock=lambda: 100.0)
    lost = {}
    for n, frame in enumerate(indices):
        packets = frame_packets(frame, n // 7, manifest)
        drop = {n % 5} if n % 3 == 0 else set()
        lost[n] = drop
        for i, p in enumerate(packets):
            if i not in drop:
                rx.receive(f"dev{n % 7}", p, ber=1e-3, now=99.0)
    predictions = sorted(rx.poll(now=100.0), key=lambda p: p.frame_id * 7 + int(p.device[3:]))
    assert len(predictions) == 120 and rx.counters.lost_packets == 40
    first, last = symbol_packets(512, 3, 51)
    erased = np.stack([(np.isin(first, list(lost[n])) | np.isin(last, list(lost[n]))).reshape(8, 8, 8)
                       .transpose(2, 0, 1) for n in range(120)])
    with torch.no_grad():
        logits = load_decoder(SHIPPED_DECODER).classify_indices(torch.from_numpy(indices), 1e-3,
                                                                torch.from_numpy(erased))
    assert [p.label for p in predictions] == logits.argmax(1).tolist()
    assert [p.packets_lost for p in predictions] == [len(lost[n]) for n in range(120)]
    assert all(p.ber == pytest.approx(1e-3) and p.latency_s == 1.0 and 0 < p.confidence <= 1 for p in predictions)


def test_headers_with_three_errors_a_word_are_corrected_and_counted():
    asm = assembler()
    packets = frame_packets(SYMBOLS[2], 1, MANIFEST)
    damaged = [flip_word(flip_word(p, 0, 0b111 << 21), 1, 0b10101 << 7) for p in packets]  # fragment bits hit
    frames = [asm.add("a", p, now=0.0) for p in damaged]
    c = asm.counters
    assert (c.header_corrected, c.bad_header, c.out_of_range) == (len(packets), 0, 0)
    assert frames[-1].fragments == dict(enumerate(packets))
