/* QEMU mps2-an500: CMSDK APB UART0 and SysTick latency timer. */
#include "board.h"

#define UART0_BASE      0x40004000u
#define UART_DATA       (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE      (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL       (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV    (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TXFULL  (1u << 0)
#define UART_STATE_RXFULL  (1u << 1)
#define UART_CTRL_TXEN     (1u << 0)
#define UART_CTRL_RXEN     (1u << 1)

#define SYST_CSR        (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR        (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR        (*(volatile uint32_t *)0xE000E018u)
#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)   /* processor clock */
#define SCB_ICSR        (*(volatile uint32_t *)0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SYST_RELOAD     0x00FFFFFFu

static volatile uint32_t systick_wraps;
static uint64_t timer_start_ticks;

void SysTick_Handler(void)
{
    systick_wraps++;
}

void board_init(void)
{
    UART_BAUDDIV = BOARD_CORE_CLOCK_HZ / 115200u;
    UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN;

    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    while (SYST_CVR == 0) {
        /* until the first reload: systick_now assumes counting from SYST_RELOAD */
    }
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

/* Ticks since board_init, as a 64-bit count (the counter counts down). */
static uint64_t systick_now(void)
{
    uint32_t wraps, val;

    __asm volatile("cpsid i" ::: "memory");
    wraps = systick_wraps;
    val = SYST_CVR;
    if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
        /* Wrapped but not yet counted: re-read after the reload. */
        val = SYST_CVR;
        wraps++;
    }
    __asm volatile("cpsie i" ::: "memory");
    return (uint64_t)wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - val);
}

void board_timer_start(void)
{
    timer_start_ticks = systick_now();
}

uint32_t board_timer_stop(void)
{
    uint64_t instr = (systick_now() - timer_start_ticks) * BOARD_INSTR_PER_TICK;

    return instr > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)instr;
}
