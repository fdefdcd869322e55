/* Serial framing of docs/protocol.md: body = version cmd seq payload crc32,
 * wire = COBS(body) 0x00.
 *
 * Pure functions over buffers (no UART), so the parser and encoder compile
 * and are tested on the host. The parser is fed one byte at a time and
 * decodes COBS on the fly into its body buffer.
 */
#ifndef SNN_PROTOCOL_H
#define SNN_PROTOCOL_H

#include <stdint.h>

#define SNN_PROTO_VERSION   1u
#define SNN_MAX_BODY        1280u                    /* version..crc */
#define SNN_MAX_PAYLOAD     (SNN_MAX_BODY - 7u)      /* 1273 */
/* COBS adds one code byte per started 254-byte run, plus the 0x00 marker. */
#define SNN_MAX_WIRE        (SNN_MAX_BODY + SNN_MAX_BODY / 254u + 2u)

enum snn_status {
    SNN_STATUS_OK = 0,
    SNN_STATUS_BAD_FRAME = 1,
    SNN_STATUS_UNKNOWN_CMD = 2,
    SNN_STATUS_BAD_ARG = 3,
    SNN_STATUS_NOT_READY = 4,
};

enum snn_cmd {
    SNN_CMD_INFO = 0x01,
    SNN_CMD_LOAD = 0x02,
    SNN_CMD_INFER = 0x03,
    SNN_CMD_PACKET = 0x04,
    SNN_CMD_OUTPUT = 0x05,
    SNN_CMD_LAYERS = 0x06,
};

/* INFO fields (docs/protocol.md): what the latency counts, where the core clock
 * comes from, which caches are on. */
enum snn_latency_unit {
    SNN_UNIT_INSTRUCTIONS = 0,  /* QEMU: SysTick under -icount shift=0 */
    SNN_UNIT_CYCLES = 1,        /* silicon: DWT cycle counter */
};

enum snn_clock_source {
    SNN_CLOCK_FIXED = 0,        /* the board has no clock tree to set (QEMU mps2) */
    SNN_CLOCK_PLL = 1,          /* PLL from the HSE, as planned */
    SNN_CLOCK_HSI_FALLBACK = 2, /* HSE, PLL or over-drive did not get ready: running on the HSI */
};

#define SNN_CACHE_I 0x01u       /* instruction cache on */
#define SNN_CACHE_D 0x02u       /* data cache on */

/* What snn_rx_push reports after a byte. */
enum snn_rx_event {
    SNN_RX_NONE = 0,    /* byte absorbed, no complete frame yet */
    SNN_RX_FRAME,       /* valid frame: cmd, seq, payload, payload_len set */
    SNN_RX_BAD,         /* CRC, length or version wrong, or cut short: answer status 1 with cmd/seq */
    SNN_RX_DROPPED,     /* oversized, or under 3 bytes (no cmd/seq): dropped, no answer */
};

typedef struct {
    uint8_t body[SNN_MAX_BODY];
    uint32_t len;       /* decoded body bytes so far */
    uint8_t left;       /* data bytes left in the current COBS block */
    uint8_t code;       /* code byte of the current COBS block, 0 = none yet */
    uint8_t overflow;   /* frame longer than SNN_MAX_BODY: wait for 0x00 */
    /* Results, valid after SNN_RX_FRAME (all) or SNN_RX_BAD (cmd, seq). */
    uint8_t cmd;
    uint8_t seq;
    const uint8_t *payload;
    uint32_t payload_len;
} snn_rx_t;

/* CRC-32 (IEEE, reflected 0xEDB88320, init and final xor 0xFFFFFFFF). */
uint32_t snn_crc32(const uint8_t *data, uint32_t n);

void snn_rx_init(snn_rx_t *rx);

/* Feed one received byte. A 0x00 ends (and resynchronises) a frame. */
enum snn_rx_event snn_rx_push(snn_rx_t *rx, uint8_t byte);

/* Encode a frame (version 1) carrying `payload` into `wire` (room for
 * SNN_MAX_WIRE bytes), including the trailing 0x00. Returns the wire length,
 * or 0 when payload_len > SNN_MAX_PAYLOAD. */
uint32_t snn_frame_encode(uint8_t cmd, uint8_t seq, const uint8_t *payload,
                          uint32_t payload_len, uint8_t *wire);

#endif /* SNN_PROTOCOL_H */
