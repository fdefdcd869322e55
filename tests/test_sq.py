import math

import numpy as np
import pytest

from semanticnn.channel.bits import from_codewords, to_codewords
from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError
from semanticnn.firmware.sq import bitstream_from_output, rms_scale, sq_params, symbols_from_output


def test_sq_params_rounds_half_away_from_zero():
    a_q7, b_q12 = sq_params([-1.5, -0.5, 0.5, 1.5], [0.25, -0.5 / 128 * 1.0, 1.0])
    assert a_q7.dtype == np.int32 and b_q12.dtype == np.int32
    assert a_q7.tolist() == [32, -1, 128]
    assert b_q12.tolist() == [-4096, 0, 4096]


def test_sq_params_rejects_unsorted_centres():
    with pytest.raises(ConfigError) as e:
        sq_params([0.0, 1.0, 0.5, 2.0], [1.0])
    assert str(e.value) == "quantiser centres must be strictly increasing, got [0.0, 1.0, 0.5, 2.0]"


def test_sq_params_rejects_non_power_of_two_levels():
    with pytest.raises(ConfigError) as e:
        sq_params([0.0, 1.0, 2.0], [1.0])
    assert str(e.value) == "the quantiser needs a power-of-two number of centres >= 2, got 3"


def test_symbols_hand_computed():
    # C = 1, z = 0, A = 64 (slope 0.5). q = [10, -10, 0, 20] -> w = [1280, -640, 0, 2560]
    # S = 1280^2 + 640^2 + 2560^2 = 8601600; R = isqrt(S * 256 // 4) = isqrt(550502400) = 23462
    w = np.array([1280, -640, 0, 2560])
    assert rms_scale(w) == math.isqrt((int(np.sum(w * w)) << 8) // 4) == 23462
    # boundaries at -0.5, 0, 0.5 (q12: -2048, 0, 2048); y = 16 w / R = [0.873, -0.436, 0, 1.746]
    sym = symbols_from_output(np.array([[10], [-10], [0], [20]]), 0, [64], [-2048, 0, 2048])
    assert sym.tolist() == [3, 1, 1, 3]


def test_symbols_tie_goes_to_lower_centre():
    # w = 128 everywhere -> R = 16 * 128 = 2048, y = 1.0 exactly on the boundary B = 4096
    sym = symbols_from_output(np.full((2, 3), 1, dtype=np.int8), 0, [128, 128, 128], [4096])
    assert sym.tolist() == [0] * 6


def test_symbols_all_zero_tensor_is_symbol_zero():
    sym = symbols_from_output(np.full((1, 2, 2, 2), -5, dtype=np.int8), -5, [10, 10], [-100, 0, 100])
    assert sym.tolist() == [0] * 8


def test_symbols_follow_nhwc_channel_slopes():
    # channel 1 has slope 0: its negative values become w = 0
    q = np.array([[[[-4, -4]]]], dtype=np.int8)
    sym = symbols_from_output(q, 0, [128, 0], [0])
    assert sym.tolist() == [0, 0]
    sym = symbols_from_output(np.array([[-4, -4], [4, 4]]), 0, [128, 0], [0])
    assert sym.tolist() == [0, 0, 1, 1]


def test_gray_codewords_round_trip():
    s = np.arange(256)
    g = to_codewords(s, gray=True)
    assert g[:8].tolist() == [0, 1, 3, 2, 6, 7, 5, 4]
    assert np.all(np.bitwise_count(g[1:] ^ g[:-1]) == 1)
    assert from_codewords(g, gray=True).tolist() == s.tolist()
    assert to_codewords(s, gray=False).tolist() == s.tolist()


def test_plain_payload_msb_first_zero_padded():
    assert PayloadLayout(3, 4).pack([1, 2, 3]) == bytes([0b01101100])
    assert PayloadLayout(3, 8).pack([5, 7, 1]) == bytes([0b10111100, 0b10000000])
    assert PayloadLayout(3, 8).n_bytes == 2


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8])
def test_pack_unpack_round_trip(k):
    rng = np.random.default_rng(k)
    codes = rng.integers(0, 2**k, 101)
    layout = PayloadLayout(101, 2**k)
    data = layout.pack(codes)
    assert len(data) == layout.n_bytes == (101 * k + 7) // 8
    assert layout.unpack(data).tolist() == codes.tolist()


def test_bitstream_from_output_uses_gray_mapping():
    q = np.array([[-10], [10], [0], [20]], dtype=np.int8)
    # w = [-1280, 1280, 0, 2560], R = isqrt(9830400 * 256 // 4) = 25082, y = [-0.82, 0.82, 0, 1.63]
    sym = symbols_from_output(q, 0, [128], [-2048, 0, 2048])
    assert sym.tolist() == [0, 3, 1, 3]
    assert bitstream_from_output(q, 0, [128], [-2048, 0, 2048], gray=True) == bytes([0b00100110])
    assert bitstream_from_output(q, 0, [128], [-2048, 0, 2048], gray=False) == bytes([0b00110111])
