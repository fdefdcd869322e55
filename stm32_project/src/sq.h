/* Integer SQ stage, bit mapping and packetiser (docs/design.md).
 *
 * Pure functions over caller buffers: no globals, no allocation, no board
 * dependency, so this file is also compiled and tested on the host against
 * the Python mirrors semanticnn.firmware.sq and semanticnn.channel.
 */
#ifndef SNN_SQ_H
#define SNN_SQ_H

#include <stdint.h>

/* Floor square root of a 64-bit unsigned integer. */
uint32_t snn_isqrt64(uint64_t x);

/* PReLU in integer form: w = v * p_q7 if v >= 0 else v * a_q7. */
static inline int32_t snn_sq_prelu(int32_t v, int32_t p_q7, int32_t a_q7)
{
    return v >= 0 ? v * p_q7 : v * a_q7;
}

/* R = isqrt((S << 8) / N), S = sum of w^2 over the n-element NHWC tensor q
 * with `channels` channels (channel = index % channels). */
uint32_t snn_sq_scale(const int8_t *q, uint32_t n, uint32_t channels,
                      int32_t zero_point, const int32_t *p_q7, const int32_t *a_q7);

/* Symbol = number of j < n_bounds with w * 65536 > b_q12[j] * r. */
uint32_t snn_sq_symbol(int32_t w, uint32_t r, const int32_t *b_q12,
                       uint32_t n_bounds);

/* Code word of symbol i: i (natural) or i ^ (i >> 1) (gray != 0). */
static inline uint32_t snn_codeword(uint32_t symbol, int gray)
{
    return gray ? (symbol ^ (symbol >> 1)) : symbol;
}

/* Full SQ stage: symbols of q (NHWC order), mapped to k-bit code words and
 * packed MSB-first into `bitstream`, the last byte zero padded. golay_msb == 0:
 * code word after code word, ceil(n * k / 8) bytes. golay_msb != 0 (payload code
 * golay-msb, semanticnn.channel.payload): each whole group of 12 code words is
 * the Golay(24, 12) word of their MSBs then their k - 1 low bits each; the
 * n % 12 code words after the last group follow plain. If `symbols` is not
 * NULL the symbol indices are stored there too. Returns the bitstream length in
 * bytes. */
uint32_t snn_sq_encode(const int8_t *q, uint32_t n, uint32_t channels,
                       int32_t zero_point, const int32_t *p_q7, const int32_t *a_q7,
                       const int32_t *b_q12, uint32_t n_bounds,
                       uint32_t bits_per_symbol, int gray, int golay_msb,
                       uint8_t *bitstream, uint8_t *symbols);

/* Number of packets for a bitstream of n_bytes: ceil(n_bytes / (mtu - header
 * bytes); the header is described in snn_packet.h and docs/protocol.md. */
uint32_t snn_packet_count(uint32_t n_bytes, uint32_t mtu);

/* Cut the bitstream into packets stored at out + i * mtu; lengths[i] gets the
 * packet length (header included). Each header is two Golay(24, 12) words
 * (snn_packet.h): the low bits of frame_id, then fragment and count - 1.
 * Returns the packet count. The caller provides room for
 * snn_packet_count(n_bytes, mtu) packets; mtu > SNN_PACKET_HEADER_BYTES and the
 * count must be <= SNN_MAX_PACKETS_PER_FRAME. */
uint32_t snn_packetize(const uint8_t *bitstream, uint32_t n_bytes,
                       uint16_t frame_id, uint32_t mtu,
                       uint8_t *out, uint16_t *lengths);

#endif /* SNN_SQ_H */
