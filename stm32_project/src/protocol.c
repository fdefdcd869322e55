/* COBS + CRC-32 framing; see protocol.h and docs/protocol.md. */
#include "protocol.h"

#include <stddef.h>

static const uint32_t crc32_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu,
    0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

static uint32_t crc32_update(uint32_t crc, uint8_t byte)
{
    crc ^= byte;
    crc = (crc >> 4) ^ crc32_nibble[crc & 0x0Fu];
    crc = (crc >> 4) ^ crc32_nibble[crc & 0x0Fu];
    return crc;
}

uint32_t snn_crc32(const uint8_t *data, uint32_t n)
{
    uint32_t crc = 0xFFFFFFFFu;

    for (uint32_t i = 0; i < n; i++) {
        crc = crc32_update(crc, data[i]);
    }
    return crc ^ 0xFFFFFFFFu;
}

void snn_rx_init(snn_rx_t *rx)
{
    rx->len = 0;
    rx->left = 0;
    rx->code = 0;
    rx->overflow = 0;
    rx->cmd = 0;
    rx->seq = 0;
    rx->payload = NULL;
    rx->payload_len = 0;
}

static void rx_append(snn_rx_t *rx, uint8_t byte)
{
    if (rx->len >= SNN_MAX_BODY) {
        rx->overflow = 1;
        return;
    }
    rx->body[rx->len++] = byte;
}

static enum snn_rx_event rx_finish(snn_rx_t *rx)
{
    uint32_t n = rx->len;
    uint32_t got;

    if (rx->code == 0) {
        return SNN_RX_NONE;                 /* empty frame (0x00 0x00): skip */
    }
    if (rx->overflow || n < 3u) {
        return SNN_RX_DROPPED;              /* oversized, or no cmd/seq to answer with */
    }
    rx->cmd = rx->body[1];
    rx->seq = rx->body[2];
    if (rx->left != 0 || n < 7u) {
        return SNN_RX_BAD;                  /* a COBS block cut short (a byte lost), or no room for a CRC */
    }
    got = (uint32_t)rx->body[n - 4] | ((uint32_t)rx->body[n - 3] << 8) |
          ((uint32_t)rx->body[n - 2] << 16) | ((uint32_t)rx->body[n - 1] << 24);
    if (got != snn_crc32(rx->body, n - 4u) || rx->body[0] != SNN_PROTO_VERSION) {
        return SNN_RX_BAD;
    }
    rx->payload = &rx->body[3];
    rx->payload_len = n - 7u;
    return SNN_RX_FRAME;
}

enum snn_rx_event snn_rx_push(snn_rx_t *rx, uint8_t byte)
{
    enum snn_rx_event ev;

    if (byte == 0x00u) {
        ev = rx_finish(rx);
        rx->len = 0;
        rx->left = 0;
        rx->code = 0;
        rx->overflow = 0;
        return ev;
    }
    if (rx->overflow) {
        return SNN_RX_NONE;                 /* discard until the next 0x00 */
    }
    if (rx->left == 0) {
        /* A code byte. The block before it implies a zero unless it was a
         * full 254-byte run (code 0xFF). */
        if (rx->code != 0 && rx->code != 0xFFu) {
            rx_append(rx, 0x00u);
        }
        rx->code = byte;
        rx->left = (uint8_t)(byte - 1u);
    } else {
        rx_append(rx, byte);
        rx->left--;
    }
    return SNN_RX_NONE;
}

/* Incremental COBS encoder writing into a wire buffer. */
typedef struct {
    uint8_t *wire;
    uint32_t pos;       /* next write position */
    uint32_t code_pos;  /* where the current block's code byte goes */
    uint8_t code;
} cobs_enc_t;

static void cobs_start(cobs_enc_t *e, uint8_t *wire)
{
    e->wire = wire;
    e->code_pos = 0;
    e->pos = 1;
    e->code = 1;
}

static void cobs_put(cobs_enc_t *e, uint8_t byte)
{
    if (byte != 0x00u) {
        e->wire[e->pos++] = byte;
        e->code++;
    }
    if (byte == 0x00u || e->code == 0xFFu) {
        e->wire[e->code_pos] = e->code;
        e->code_pos = e->pos++;
        e->code = 1;
    }
}

static uint32_t cobs_end(cobs_enc_t *e)
{
    e->wire[e->code_pos] = e->code;
    e->wire[e->pos++] = 0x00u;
    return e->pos;
}

uint32_t snn_frame_encode(uint8_t cmd, uint8_t seq, const uint8_t *payload,
                          uint32_t payload_len, uint8_t *wire)
{
    const uint8_t head[3] = {SNN_PROTO_VERSION, cmd, seq};
    uint32_t crc = 0xFFFFFFFFu;
    cobs_enc_t e;

    if (payload_len > SNN_MAX_PAYLOAD) {
        return 0;
    }
    cobs_start(&e, wire);
    for (uint32_t i = 0; i < 3u; i++) {
        crc = crc32_update(crc, head[i]);
        cobs_put(&e, head[i]);
    }
    for (uint32_t i = 0; i < payload_len; i++) {
        crc = crc32_update(crc, payload[i]);
        cobs_put(&e, payload[i]);
    }
    crc ^= 0xFFFFFFFFu;
    for (uint32_t i = 0; i < 4u; i++) {
        cobs_put(&e, (uint8_t)(crc >> (8u * i)));
    }
    return cobs_end(&e);
}
