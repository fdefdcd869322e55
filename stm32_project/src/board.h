/* Board interface: what main.c needs from a target (boards/<name>/).
 *
 * Each board directory provides board_target.h (BOARD_NAME,
 * BOARD_CORE_CLOCK_HZ, BOARD_LATENCY_UNIT), startup code with the vector
 * table, a linker script link.ld defining __stack_bottom__/__stack_top__,
 * and board.c implementing the functions below.
 */
#ifndef SNN_BOARD_H
#define SNN_BOARD_H

#include <stdint.h>

#include "board_target.h"

#define BOARD_UNIT_INSTRUCTIONS 0u  /* QEMU SysTick under -icount shift=0 */
#define BOARD_UNIT_CYCLES       1u  /* DWT cycle counter */

/* Clocks, UART (115200 8N1) and the latency timer. */
void board_init(void);

/* Blocking single-byte UART I/O. */
void board_uart_write_byte(uint8_t byte);
uint8_t board_uart_read_byte(void);

/* Latency timer: start, then stop returns the elapsed time in the board's
 * unit (BOARD_LATENCY_UNIT), saturated at 0xFFFFFFFF. Stop only reads the
 * timer: model.c calls it after every layer for the per-layer table. */
void board_timer_start(void);
uint32_t board_timer_stop(void);

/* Stack region from the linker script; the stack grows down from the top. */
extern uint32_t __stack_bottom__[];
extern uint32_t __stack_top__[];

#endif /* SNN_BOARD_H */
