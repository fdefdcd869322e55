"""semanticnn.edge: reassembly, erasure marking, bad packets counted, batched onnxruntime decoding."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHIPPED_DECODER, SHIPPED_ENCODER
from edge_helpers import encoder_symbols, frame_packets
from semanticnn.channel import golay
from semanticnn.channel.payload import PayloadLayout
from semanticnn.edge import FrameAssembler, Receiver, frame_symbols, load_edge_model
from semanticnn.edge.assembler import FRAME_ID_WINDOW, MAX_GAP_FRAMES
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
    first, last = PayloadLayout(512, 8).symbol_packets(51)
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
    c, h, w = manifest["code_shape"]
    first, last = PayloadLayout.from_manifest(manifest).symbol_packets(manifest["mtu"])
    erased = np.stack([(np.isin(first, list(lost[n])) | np.isin(last, list(lost[n]))).reshape(h, w, c)
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


def miscorrected(packet, near):
    """``packet`` with 5 bit errors in header word 0 that Golay decodes (3 corrected) to an id from ``near``."""
    word = int.from_bytes(packet[:3], "big")
    for frame_id in near:
        diff = word ^ golay.encode(frame_id)
        if diff.bit_count() == 8:
            five = 0
            for _ in range(5):
                five |= diff & -diff
                diff &= diff - 1
            return flip_word(packet, 0, five)
    raise AssertionError(f"no id in {near} is at distance 8")


def test_a_header_golay_cannot_decode_is_rescued_to_the_device_s_newest_frame_or_dropped():
    asm = assembler()
    send_frames(asm, [7])
    packets = frame_packets(SYMBOLS[2], 8, MANIFEST)
    first = flip_word(packets[0], 0, 0b1111)  # 4 errors in the frame id word: detected, not corrected
    released = [asm.add("dev", first, now=0.0)] + [asm.add("dev", p, now=0.0) for p in packets[1:]]
    frame = released[-1]
    assert (frame.frame_id, frame.missing, frame.fragments[0]) == (8, 0, packets[0])  # its clean header back
    c = asm.counters
    assert (c.header_rescued, c.bad_header, c.header_corrected, c.frames_complete) == (1, 0, 0, 2)
    assert asm.add("new", first, now=0.0) is None  # a device's first packet: no newest id to rescue it to
    zeros = bytes(6) + packets[1][6:]  # frame 0, fragment 0 of 1: no expected frame id word within 7 bits of 0
    assert asm.add("dev", zeros, now=0.0) is None
    assert (c.header_rescued, c.bad_header, c.out_of_range) == (1, 1, 1)


def send_frames(asm, frame_ids, symbols=0, device="dev", now=0.0, keep=range(5)):
    """Every kept packet of ``frame_ids`` (symbols ``SYMBOLS[symbols]``); returns the frames released."""
    out = [asm.add(device, frame_packets(SYMBOLS[symbols], f, MANIFEST)[i], now=now) for f in frame_ids for i in keep]
    return [f for f in out if f is not None]


def test_a_miscorrected_frame_id_opens_no_frame_and_adds_no_lost_frames():
    asm = assembler(timeout_s=1.0)
    released = send_frames(asm, range(3))
    packets = frame_packets(SYMBOLS[1], 3, MANIFEST)
    bad = miscorrected(packets[2], range(3 + 700, 3 + 900))  # the old receiver counted ~700 frames lost here
    forged = miscorrected(packets[4], range(2500, 2700))
    assert asm.add("dev", bad, now=0.0) is None and asm.add("dev", forged, now=0.0) is None
    c = asm.counters
    assert (c.header_corrected, c.lost_frames, c.frames_complete, len(asm.tentative), c.suspect_header) == (
        2, 0, 3, 1, 1)
    released += [asm.add("dev", p, now=0.0) for i, p in enumerate(packets) if i not in (2, 4)]
    released += send_frames(asm, range(4, 6), now=0.5)
    released = [f for f in released if f is not None] + asm.expired(now=1.0) + asm.flush()
    assert [(f.frame_id, f.missing) for f in released] == [(0, 0), (1, 0), (2, 0), (4, 0), (5, 0), (3, 2)]
    assert (c.lost_frames, c.lost_packets, c.suspect_header, c.resyncs) == (0, 2, 2, 0)
    assert not asm.tentative and not asm.pending


def test_a_repeated_miscorrected_packet_is_a_duplicate_not_a_confirmation():
    asm = assembler(timeout_s=1.0)
    send_frames(asm, range(2))
    bad = miscorrected(frame_packets(SYMBOLS[1], 2, MANIFEST)[0], range(600, 800))
    assert [asm.add("dev", bad, now=0.0) for _ in range(2)] == [None, None]
    assert asm.expired(now=1.0) == []
    c = asm.counters
    assert (c.duplicate, c.suspect_header, c.lost_frames, c.frames_complete) == (1, 1, 0, 2)


@pytest.mark.parametrize(("before", "keep_first"), [(range(10), range(5)), (range(500, 510), (3,))])
def test_a_device_restart_to_frame_0_is_followed_once_the_next_packet_confirms_it(before, keep_first):
    """Old ids still remembered as released (range(10)) or far away (500..509); frame 0 whole or 1 packet."""
    asm = assembler(timeout_s=1.0)
    assert len(send_frames(asm, before)) == 10
    released = send_frames(asm, [0], symbols=3, now=1.0, keep=keep_first)
    released += send_frames(asm, [1, 2], symbols=4, now=1.0)
    released += asm.expired(now=3.0)
    assert sorted((f.frame_id, f.missing) for f in released) == [(0, 5 - len(keep_first)), (1, 0), (2, 0)]
    frame0 = next(f for f in released if f.frame_id == 0)
    assert frame0.fragments == {i: frame_packets(SYMBOLS[3], 0, MANIFEST)[i] for i in keep_first}
    c = asm.counters
    assert (c.resyncs, c.lost_frames, c.duplicate, c.late, c.suspect_header) == (1, 0, 0, 0, 0)
    assert c.lost_packets == 5 - len(keep_first)


def test_a_confirmed_jump_counts_its_gap_exactly_up_to_max_gap_frames_and_no_more():
    asm = assembler(timeout_s=1.0)
    send_frames(asm, [0])
    send_frames(asm, [MAX_GAP_FRAMES], keep=(0,))  # past the window: held until a second packet
    assert asm.counters.lost_frames == 0 and len(asm.tentative) == 1
    send_frames(asm, [MAX_GAP_FRAMES], keep=(1, 2, 3, 4))
    assert (asm.counters.lost_frames, asm.counters.lost_packets) == (MAX_GAP_FRAMES - 1, (MAX_GAP_FRAMES - 1) * 5)
    send_frames(asm, [10])  # a frame of the gap turns up: taken back
    assert asm.counters.lost_frames == MAX_GAP_FRAMES - 2
    send_frames(asm, [2 * MAX_GAP_FRAMES + 1])  # further: a resync, no frames counted
    c = asm.counters
    assert (c.lost_frames, c.resyncs, c.frames_complete, c.suspect_header) == (MAX_GAP_FRAMES - 2, 1, 4, 0)


def test_frames_lost_within_the_window_are_counted_at_once():
    asm = assembler()
    send_frames(asm, [0, FRAME_ID_WINDOW])
    c = asm.counters
    assert (c.lost_frames, c.lost_packets, c.frames_complete) == (FRAME_ID_WINDOW - 1, (FRAME_ID_WINDOW - 1) * 5, 2)
    assert not asm.tentative


def test_a_device_holds_one_tentative_id_so_stale_noise_cannot_confirm_new_noise():
    asm = assembler(timeout_s=float("inf"))
    send_frames(asm, range(2))
    first = miscorrected(frame_packets(SYMBOLS[1], 2, MANIFEST)[0], range(1000, 1200))
    asm.add("dev", first, now=0.0)
    (held,) = asm.tentative
    following = miscorrected(frame_packets(SYMBOLS[1], 2, MANIFEST)[1], range(held[1] + 2000, held[1] + 2200))
    asm.add("dev", following, now=0.0)
    assert list(asm.tentative) != [held] and len(asm.tentative) == 1 and asm.counters.suspect_header == 1
    assert send_frames(asm, [2], keep=(2, 3, 4)) == [] and asm.flush()[0].frame_id == 2
    assert (asm.counters.suspect_header, asm.counters.lost_frames, asm.counters.resyncs) == (2, 0, 0)


def test_a_released_packet_heard_again_with_other_bit_errors_is_a_duplicate_not_a_new_frame():
    asm = assembler(timeout_s=1.0)
    packets = frame_packets(SYMBOLS[0], 5, MANIFEST)
    send_frames(asm, [5])
    noisy = bytearray(packets[1])
    for bit in range(0, 8 * len(noisy), 11):  # 9% of the bits
        noisy[bit // 8] ^= 1 << bit % 8
    noisy[:6] = packets[1][:6]
    assert asm.add("dev", bytes(noisy), now=0.5) is None
    assert asm.counters.duplicate == 1 and not asm.pending and not asm.tentative
