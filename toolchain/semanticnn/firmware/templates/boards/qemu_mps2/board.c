/* QEMU mps2-an500 (Cortex-M7): CMSDK APB UART0; no clock tree to set. The
 * latency timer is the shared one: the DWT does not count in QEMU, so it
 * counts SysTick ticks as instructions (BOARD_SYSTICK_NUM / _DEN). */
#include "board.h"
#include "cortex_m.h"

#define UART0_BASE         0x40004000u
#define UART_DATA          REG32(UART0_BASE + 0x00u)
#define UART_STATE         REG32(UART0_BASE + 0x04u)
#define UART_CTRL          REG32(UART0_BASE + 0x08u)
#define UART_BAUDDIV       REG32(UART0_BASE + 0x10u)
#define UART_STATE_TXFULL  (1u << 0)
#define UART_STATE_RXFULL  (1u << 1)
#define UART_CTRL_TXEN     (1u << 0)
#define UART_CTRL_RXEN     (1u << 1)

void board_init(void)
{
    UART_BAUDDIV = BOARD_CORE_CLOCK_HZ / BOARD_BAUD;
    UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN;
    board_status.core_clock_hz = BOARD_CORE_CLOCK_HZ;
    board_status.baud = BOARD_BAUD;
    board_status.clock_source = SNN_CLOCK_FIXED;
    board_status.caches = 0;
    board_status.latency_unit = cm_timer_init();
}

void board_uart_write_byte(uint8_t byte)
{
    while (UART_STATE & UART_STATE_TXFULL) {
    }
    UART_DATA = byte;
}

uint8_t board_uart_read_byte(void)
{
    while (!(UART_STATE & UART_STATE_RXFULL)) {
    }
    return (uint8_t)UART_DATA;
}
