/* Board interface: what main.c needs from a target.
 *
 * The project's board/ holds boards/common/ (startup, sections, shared
 * Cortex-M and STM32 drivers), the target's boards/<name>/board.c, and two
 * rendered files: board_target.h (clock tree and link numbers decided by
 * semanticnn.firmware.clocks) and link.ld (memory regions from targets.toml).
 */
#ifndef SNN_BOARD_H
#define SNN_BOARD_H

#include <stdint.h>

#include "board_target.h"
#include "protocol.h"

/* What INFO reports about the running board; filled by board_init. */
typedef struct {
    uint32_t core_clock_hz;  /* the PLL clock, or the HSI after a fallback */
    uint32_t baud;           /* UART baud rate, 8N1 */
    uint8_t clock_source;    /* enum snn_clock_source */
    uint8_t caches;          /* SNN_CACHE_* bits */
    uint8_t latency_unit;    /* enum snn_latency_unit */
} board_status_t;

extern board_status_t board_status;

/* Clocks (with the HSI fallback), caches, UART and the latency timer. */
void board_init(void);

/* Blocking single-byte UART I/O. */
void board_uart_write_byte(uint8_t byte);
uint8_t board_uart_read_byte(void);

/* Latency timer: start, then stop returns the elapsed time in
 * board_status.latency_unit, saturated at 0xFFFFFFFF. Stop only reads the
 * timer: model.c calls it after every layer for the per-layer table. */
void board_timer_start(void);
uint32_t board_timer_stop(void);

/* Stack region from the linker script; the stack grows down from the top. */
extern uint32_t __stack_bottom__[];
extern uint32_t __stack_top__[];

#endif /* SNN_BOARD_H */
