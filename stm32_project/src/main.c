/* Firmware entry: stack painting, command loop of docs/protocol.md, latency
 * and stack measurement around graph + SQ stage + packetiser. */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "model.h"
#include "protocol.h"
#include "snn_config.h"
#include "sq.h"

#ifndef SNN_GEN_VERSION
#error snn_config.h defines no SNN_GEN_VERSION: regenerate the project
#endif
#if SNN_GEN_VERSION != 1
#error Regenerate this file: snn_config.h was made by another generator version
#endif

_Static_assert(SNN_N_SYMBOLS == SNN_OUTPUT_BYTES, "one symbol per element of the int8 output tensor");
_Static_assert(SNN_MTU + 1u <= SNN_MAX_PAYLOAD, "a PACKET response must fit one frame");

#define STACK_PAINT_WORD 0xA5A5A5A5u

static snn_rx_t rx;
static uint8_t tx_payload[SNN_MAX_PAYLOAD];
static uint8_t tx_wire[SNN_MAX_WIRE];
#if SNN_SQ_STAGE
static uint8_t bitstream[SNN_PAYLOAD_BYTES];
#endif
static uint8_t packets[SNN_MAX_PACKETS][SNN_MTU];
static uint16_t packet_len[SNN_MAX_PACKETS];
static uint32_t n_packets;
static uint8_t input_written[(SNN_INPUT_BYTES + 7u) / 8u]; /* a bit per byte of the current image */
static uint32_t input_loaded;                              /* bits set in input_written */
static const int8_t *output;
#if SNN_INPUT_IN_ARENA
/* The run reuses the input's arena bytes, so an INFER consumes the upload; a repeated
 * INFER of the same frame (a retry) gets the stored answer instead of running again. */
static uint8_t last_infer_result[14];
static uint16_t last_infer_frame;
#endif

/* Fill the stack below the current stack pointer with 0xA5 bytes. */
static __attribute__((noinline)) void stack_paint(void)
{
    uint32_t *sp;

#if defined(__arm__)
    __asm volatile("mov %0, sp" : "=r"(sp));
#else
    sp = __stack_top__;  /* a host build (make fuzz): the harness's stand-in stack */
#endif
    for (uint32_t *p = __stack_bottom__; p < sp - 8; p++) {
        *p = STACK_PAINT_WORD;
    }
}

/* Bytes between the stack top and the lowest word that lost its paint. */
static uint32_t stack_peak(void)
{
    const uint32_t *p = __stack_bottom__;

    while (p < __stack_top__ && *p == STACK_PAINT_WORD) {
        p++;
    }
    return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)p);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

/* Send one response, then a second delimiter: a frame whose first delimiter is lost on
 * the link still ends at once (the host skips the empty frame). */
static void send(uint8_t cmd, uint8_t seq, uint32_t payload_len)
{
    uint32_t n = snn_frame_encode(cmd, seq, tx_payload, payload_len, tx_wire);

    for (uint32_t i = 0; i < n; i++) {
        board_uart_write_byte(tx_wire[i]);
    }
    board_uart_write_byte(0x00u);
}

/* Each handler writes its result after the status byte and returns
 * (status << 16) | result length. */
#define RESULT(status, len) (((uint32_t)(status) << 16) | (uint32_t)(len))

static uint32_t cmd_info(const uint8_t *req, uint32_t n, uint8_t *res)
{
    static const char target[] = SNN_TARGET_NAME;
    uint8_t *p = res;

    (void)req;
    if (n != 0) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    *p++ = SNN_PROTO_VERSION;
    *p++ = board_status.latency_unit;
    p = put_u32(p, board_status.core_clock_hz);
    p = put_u32(p, SNN_INPUT_BYTES);
    p = put_u32(p, SNN_OUTPUT_BYTES);
    p = put_u32(p, SNN_N_SYMBOLS);
    *p++ = SNN_BITS_PER_SYMBOL;
    p = put_u32(p, SNN_PAYLOAD_BYTES);
    p = put_u16(p, SNN_MTU);
    p = put_u32(p, SNN_ACTIVATION_BYTES);
    p = put_u32(p, (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)__stack_bottom__));
    p = put_u32(p, SNN_MODEL_CRC);
    p = put_u32(p, board_status.baud);
    *p++ = board_status.clock_source;
    *p++ = board_status.caches;
    memcpy(p, target, sizeof target - 1u);
    p += sizeof target - 1u;
    return RESULT(SNN_STATUS_OK, (uint32_t)(p - res));
}

/* Note bytes [offset, offset + len) of the input as written. A LOAD at offset 0
 * starts a new image (docs/protocol.md): what earlier LOADs wrote no longer counts. */
static void mark_written(uint32_t offset, uint32_t len)
{
    if (offset == 0u) {
        memset(input_written, 0, sizeof input_written);
        input_loaded = 0;
    }
    for (uint32_t i = offset; i < offset + len; i++) {
        uint8_t bit = (uint8_t)(1u << (i & 7u));

        if ((input_written[i >> 3] & bit) == 0u) {
            input_written[i >> 3] |= bit;
            input_loaded++;
        }
    }
}

static uint32_t cmd_load(const uint8_t *req, uint32_t n, uint8_t *res)
{
    uint32_t offset, len;

    if (n < 4u) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    offset = get_u32(req);
    len = n - 4u;
    if (offset > SNN_INPUT_BYTES || len > SNN_INPUT_BYTES - offset) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    memcpy((uint8_t *)snn_input + offset, req + 4, len);
    mark_written(offset, len);
#if SNN_INPUT_IN_ARENA
    output = NULL;  /* the input shares arena bytes with later tensors: the last output is gone */
#endif
    put_u32(res, input_loaded);
    return RESULT(SNN_STATUS_OK, 4);
}

static uint32_t cmd_infer(const uint8_t *req, uint32_t n, uint8_t *res)
{
    uint16_t frame_id;
    uint32_t latency, n_bytes;
    uint8_t *p = res;

    if (n != 2u) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    frame_id = get_u16(req);
    if (input_loaded != SNN_INPUT_BYTES) {
#if SNN_INPUT_IN_ARENA
        if (output != NULL && frame_id == last_infer_frame) {
            memcpy(res, last_infer_result, sizeof last_infer_result);  /* a retry: same answer */
            return RESULT(SNN_STATUS_OK, sizeof last_infer_result);
        }
#endif
        return RESULT(SNN_STATUS_NOT_READY, 0);
    }

    board_timer_start();
    output = snn_model_run();
#if SNN_INPUT_IN_ARENA
    mark_written(0u, 0u);  /* the run reused the input's bytes: the next INFER needs a new upload */
#endif
#if SNN_SQ_STAGE
    n_bytes = snn_sq_encode(output, SNN_OUTPUT_BYTES, SNN_OUTPUT_CHANNELS, SNN_OUTPUT_ZERO_POINT,
                            snn_prelu_p_q7, snn_prelu_a_q7, snn_bounds_q12, SNN_LEVELS - 1u, SNN_BITS_PER_SYMBOL,
                            SNN_GRAY, SNN_GOLAY_MSB, bitstream, NULL);
    n_packets = snn_packetize(bitstream, n_bytes, frame_id, SNN_MTU, &packets[0][0], packet_len);
#else
    /* No SQ stage: the packets carry the int8 output tensor as it is. */
    n_bytes = SNN_OUTPUT_BYTES;
    n_packets = snn_packetize((const uint8_t *)output, n_bytes, frame_id, SNN_MTU, &packets[0][0], packet_len);
#endif
    latency = board_timer_stop();

    p = put_u32(p, latency);
    p = put_u32(p, stack_peak());
    p = put_u16(p, (uint16_t)n_packets);
    put_u32(p, n_bytes);
#if SNN_INPUT_IN_ARENA
    memcpy(last_infer_result, res, sizeof last_infer_result);
    last_infer_frame = frame_id;
#endif
    return RESULT(SNN_STATUS_OK, 14);
}

static uint32_t cmd_packet(const uint8_t *req, uint32_t n, uint8_t *res)
{
    uint16_t index;

    if (n != 2u) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    if (output == NULL) {
        return RESULT(SNN_STATUS_NOT_READY, 0);
    }
    index = get_u16(req);
    if (index >= n_packets) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    memcpy(res, packets[index], packet_len[index]);
    return RESULT(SNN_STATUS_OK, packet_len[index]);
}

static uint32_t cmd_output(const uint8_t *req, uint32_t n, uint8_t *res)
{
    uint32_t offset, len;

    if (n != 6u) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    if (output == NULL) {
        return RESULT(SNN_STATUS_NOT_READY, 0);
    }
    offset = get_u32(req);
    len = get_u16(req + 4);
    if (offset > SNN_OUTPUT_BYTES || len > SNN_OUTPUT_BYTES - offset || len > SNN_MAX_PAYLOAD - 1u) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    memcpy(res, output + offset, len);
    return RESULT(SNN_STATUS_OK, len);
}

#ifdef SNN_N_LAYERS
/* Per layer of the last inference: latency (board unit) and multiply-accumulates.
 * A runtime whose model.h has no per-layer table answers LAYERS as unknown. */
_Static_assert(2u + 8u * SNN_N_LAYERS <= SNN_MAX_PAYLOAD - 1u, "the LAYERS result must fit one frame");

uint32_t snn_layer_latency[SNN_N_LAYERS];

static uint32_t cmd_layers(const uint8_t *req, uint32_t n, uint8_t *res)
{
    uint8_t *p = res;
    uint32_t previous = 0;

    (void)req;
    if (n != 0) {
        return RESULT(SNN_STATUS_BAD_ARG, 0);
    }
    if (output == NULL) {
        return RESULT(SNN_STATUS_NOT_READY, 0);
    }
    p = put_u16(p, SNN_N_LAYERS);
    for (uint32_t i = 0; i < SNN_N_LAYERS; i++) {
        p = put_u32(p, snn_layer_latency[i] - previous);
        p = put_u32(p, snn_layer_macs[i]);
        previous = snn_layer_latency[i];
    }
    return RESULT(SNN_STATUS_OK, (uint32_t)(p - res));
}
#endif

static void dispatch(void)
{
    uint32_t r;

    switch (rx.cmd) {
    case SNN_CMD_INFO:   r = cmd_info(rx.payload, rx.payload_len, tx_payload + 1); break;
    case SNN_CMD_LOAD:   r = cmd_load(rx.payload, rx.payload_len, tx_payload + 1); break;
    case SNN_CMD_INFER:  r = cmd_infer(rx.payload, rx.payload_len, tx_payload + 1); break;
    case SNN_CMD_PACKET: r = cmd_packet(rx.payload, rx.payload_len, tx_payload + 1); break;
    case SNN_CMD_OUTPUT: r = cmd_output(rx.payload, rx.payload_len, tx_payload + 1); break;
#ifdef SNN_N_LAYERS
    case SNN_CMD_LAYERS: r = cmd_layers(rx.payload, rx.payload_len, tx_payload + 1); break;
#endif
    default:             r = RESULT(SNN_STATUS_UNKNOWN_CMD, 0); break;
    }
    tx_payload[0] = (uint8_t)(r >> 16);
    send(rx.cmd, rx.seq, 1u + (r & 0xFFFFu));
}

int main(void)
{
    stack_paint();
    board_init();
    snn_rx_init(&rx);
    for (;;) {
        switch (snn_rx_push(&rx, board_uart_read_byte())) {
        case SNN_RX_FRAME:
            dispatch();
            break;
        case SNN_RX_BAD:
            tx_payload[0] = SNN_STATUS_BAD_FRAME;
            send(rx.cmd, rx.seq, 1u);
            break;
        default:
            break;
        }
    }
}
