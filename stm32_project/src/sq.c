/* Integer SQ stage, bit mapping and packetiser; formulas in docs/design.md. */
#include "sq.h"

#include <string.h>

#include "snn_packet.h"

#if SNN_PACKET_FORMAT != 2
#error Regenerate snn_packet.h: sq.c writes packet header format 2
#endif

uint32_t snn_isqrt64(uint64_t x)
{
    /* Bit-by-bit (digit-by-digit) method: exact floor(sqrt(x)). */
    uint64_t rem = x;
    uint64_t root = 0;
    uint64_t bit = (uint64_t)1 << 62;

    while (bit > rem) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)root;
}

uint32_t snn_sq_scale(const int8_t *q, uint32_t n, uint32_t channels,
                      int32_t zero_point, const int32_t *p_q7, const int32_t *a_q7)
{
    uint64_t s = 0;
    uint32_t c = 0;

    if (n == 0) {
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        int32_t w = snn_sq_prelu((int32_t)q[i] - zero_point, p_q7[c], a_q7[c]);
        s += (uint64_t)((int64_t)w * (int64_t)w);
        if (++c == channels) {
            c = 0;
        }
    }
    return snn_isqrt64((s << 8) / n);
}

uint32_t snn_sq_symbol(int32_t w, uint32_t r, const int32_t *b_q12,
                       uint32_t n_bounds)
{
    int64_t lhs = (int64_t)w * 65536; /* w << 16 without shifting a negative */
    uint32_t symbol = 0;

    for (uint32_t j = 0; j < n_bounds; j++) {
        if (lhs > (int64_t)b_q12[j] * (int64_t)r) {
            symbol++;
        }
    }
    return symbol;
}

/* Golay(24, 12) code word [info | parity] of a 12-bit info word (snn_packet.h). */
static uint32_t golay_word(uint32_t info)
{
    uint32_t parity = 0;

    for (uint32_t i = 0; i < SNN_GOLAY_INFO_BITS; i++) {
        if ((info >> i) & 1u) {
            parity ^= snn_golay_parity_rows[i];
        }
    }
    return (info << SNN_GOLAY_INFO_BITS) | parity;
}

/* MSB-first bit writer: `acc` holds `acc_bits` < 8 pending bits, right-aligned. */
struct bit_writer {
    uint8_t *out;
    uint32_t acc;
    uint32_t acc_bits;
};

/* Append the low `count` (<= 24) bits of `value`, most significant first. Inlined
 * so that the writer stays in registers in snn_sq_encode's loop. */
static inline __attribute__((always_inline)) void put_bits(struct bit_writer *w, uint32_t value, uint32_t count)
{
    w->acc = (w->acc << count) | value;
    w->acc_bits += count;
    while (w->acc_bits >= 8u) {
        w->acc_bits -= 8u;
        *w->out++ = (uint8_t)(w->acc >> w->acc_bits);
    }
    w->acc &= (1u << w->acc_bits) - 1u;
}

/* A group of SNN_GOLAY_INFO_BITS code words under payload code golay-msb: the Golay
 * word of their MSBs (the first code word's at the top), then each one's low bits. */
static inline __attribute__((always_inline)) void put_group(struct bit_writer *w, const uint8_t *codes, uint32_t bits_per_symbol)
{
    uint32_t low = bits_per_symbol - 1u;
    uint32_t info = 0;

    for (uint32_t j = 0; j < SNN_GOLAY_INFO_BITS; j++) {
        info = (info << 1) | (uint32_t)(codes[j] >> low);
    }
    put_bits(w, golay_word(info), 8u * SNN_GOLAY_WORD_BYTES);
    for (uint32_t j = 0; j < SNN_GOLAY_INFO_BITS; j++) {
        put_bits(w, codes[j] & ((1u << low) - 1u), low);
    }
}

uint32_t snn_sq_encode(const int8_t *q, uint32_t n, uint32_t channels,
                       int32_t zero_point, const int32_t *p_q7, const int32_t *a_q7,
                       const int32_t *b_q12, uint32_t n_bounds,
                       uint32_t bits_per_symbol, int gray, int golay_msb,
                       uint8_t *bitstream, uint8_t *symbols)
{
    uint32_t r = snn_sq_scale(q, n, channels, zero_point, p_q7, a_q7);
    uint32_t grouped = golay_msb ? n - n % SNN_GOLAY_INFO_BITS : 0u;
    struct bit_writer w = {bitstream, 0u, 0u};
    uint8_t group[SNN_GOLAY_INFO_BITS];
    uint32_t c = 0;

    for (uint32_t i = 0; i < n; i++) {
        int32_t v = snn_sq_prelu((int32_t)q[i] - zero_point, p_q7[c], a_q7[c]);
        uint32_t sym = snn_sq_symbol(v, r, b_q12, n_bounds);
        uint32_t code = snn_codeword(sym, gray);

        if (symbols != NULL) {
            symbols[i] = (uint8_t)sym;
        }
        if (i < grouped) {
            group[i % SNN_GOLAY_INFO_BITS] = (uint8_t)code;
            if (i % SNN_GOLAY_INFO_BITS == SNN_GOLAY_INFO_BITS - 1u) {
                put_group(&w, group, bits_per_symbol);
            }
        } else {
            put_bits(&w, code, bits_per_symbol);
        }
        if (++c == channels) {
            c = 0;
        }
    }
    if (w.acc_bits != 0) {
        *w.out++ = (uint8_t)(w.acc << (8u - w.acc_bits));
    }
    return (uint32_t)(w.out - bitstream);
}

static uint8_t *put_word(uint8_t *p, uint32_t word)
{
    for (uint32_t b = SNN_GOLAY_WORD_BYTES; b-- > 0u;) {
        *p++ = (uint8_t)(word >> (8u * b));
    }
    return p;
}

uint32_t snn_packet_count(uint32_t n_bytes, uint32_t mtu)
{
    uint32_t room = mtu - SNN_PACKET_HEADER_BYTES;

    return (n_bytes + room - 1u) / room;
}

uint32_t snn_packetize(const uint8_t *bitstream, uint32_t n_bytes,
                       uint16_t frame_id, uint32_t mtu,
                       uint8_t *out, uint16_t *lengths)
{
    uint32_t room = mtu - SNN_PACKET_HEADER_BYTES;
    uint32_t count = snn_packet_count(n_bytes, mtu);
    uint32_t id_info = frame_id & ((1u << SNN_GOLAY_INFO_BITS) - 1u);

    for (uint32_t i = 0; i < count; i++) {
        uint8_t *p = out + i * mtu;
        uint32_t start = i * room;
        uint32_t len = (n_bytes - start < room) ? n_bytes - start : room;

        p = put_word(p, golay_word(id_info));
        p = put_word(p, golay_word((i << SNN_FRAGMENT_BITS) | (count - 1u)));
        memcpy(p, bitstream + start, len);
        lengths[i] = (uint16_t)(SNN_PACKET_HEADER_BYTES + len);
    }
    return count;
}
