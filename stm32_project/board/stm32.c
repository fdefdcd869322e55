/* STM32 board support (no vendor HAL): board_init and the UART for every
 * STM32 target, from the board's stm32_board table. */
#include "board.h"
#include "cortex_m.h"
#include "stm32.h"

/* GPIO (RM0390 7.4, RM0385 6.4, RM0433 11.4: same layout). */
#define GPIO_MODER(b)   REG32((b) + 0x00u)
#define GPIO_OSPEEDR(b) REG32((b) + 0x08u)
#define GPIO_PUPDR(b)   REG32((b) + 0x0Cu)
#define GPIO_AFR(b, i)  REG32((b) + 0x20u + 4u * (i))
#define GPIO_MODE_AF    2u
#define GPIO_PULL_UP    1u
#define GPIO_SPEED_HIGH 2u

#define USART_REG(u, off)  REG32((u)->base + (off))
#define USART_ERRORS       ((1u << 1) | (1u << 2) | (1u << 3))  /* FE, NF, ORE */
#define USART_RXNE         (1u << 5)
#define USART_TXE          (1u << 7)

/* Put a pin on its alternate function, pulled up, high speed. */
static void pin_af(const stm32_pin_t *p)
{
    uint32_t shift2 = 2u * p->pin, shift4 = 4u * (p->pin % 8u);

    GPIO_MODER(p->port) = (GPIO_MODER(p->port) & ~(3u << shift2)) | (GPIO_MODE_AF << shift2);
    GPIO_OSPEEDR(p->port) = (GPIO_OSPEEDR(p->port) & ~(3u << shift2)) | (GPIO_SPEED_HIGH << shift2);
    GPIO_PUPDR(p->port) = (GPIO_PUPDR(p->port) & ~(3u << shift2)) | (GPIO_PULL_UP << shift2);
    GPIO_AFR(p->port, p->pin / 8u) = (GPIO_AFR(p->port, p->pin / 8u) & ~(0xFu << shift4)) | (p->af << shift4);
}

static void usart_start(const stm32_usart_t *u, uint32_t brr)
{
    USART_REG(u, u->cr1) = 0;
    USART_REG(u, u->brr) = brr;  /* 8N1, oversampling 16: CR2, CR3 stay at reset */
    USART_REG(u, u->cr1) = u->enable;
}

int stm32_hse_start(volatile uint32_t *rcc_cr)
{
    if (BOARD_HSE_BYPASS) {
        *rcc_cr |= 1u << 18;            /* HSEBYP, before HSEON */
    }
    *rcc_cr |= 1u << 16;                /* HSEON */
    return cm_wait(rcc_cr, 1u << 17, 1u << 17, BOARD_READY_SPINS);  /* HSERDY */
}

void board_init(void)
{
    uint8_t source = stm32_board_clock_start();
    int pll = source == SNN_CLOCK_PLL;

    board_status.caches = stm32_board.m7_caches ? cm7_caches_enable() : 0u;
    for (uint32_t i = 0; i < 3u && stm32_board.clock_enables[i][0] != 0u; i++) {
        REG32(stm32_board.clock_enables[i][0]) |= stm32_board.clock_enables[i][1];
        (void)REG32(stm32_board.clock_enables[i][0]);  /* read back: the enable has taken effect */
    }
    pin_af(&stm32_board.tx);
    pin_af(&stm32_board.rx);
    usart_start(&stm32_board.usart, pll ? BOARD_UART_BRR : BOARD_FALLBACK_UART_BRR);
    board_status.core_clock_hz = pll ? BOARD_CORE_CLOCK_HZ : BOARD_HSI_HZ;
    board_status.baud = pll ? BOARD_UART_BAUD : BOARD_FALLBACK_UART_BAUD;
    board_status.clock_source = source;
    board_status.latency_unit = cm_timer_init();
}

void board_uart_write_byte(uint8_t byte)
{
    const stm32_usart_t *u = &stm32_board.usart;

    while (!(USART_REG(u, u->status) & USART_TXE)) {
    }
    USART_REG(u, u->tx) = byte;
}

uint8_t board_uart_read_byte(void)
{
    const stm32_usart_t *u = &stm32_board.usart;

    for (;;) {
        uint32_t status = USART_REG(u, u->status);

        if ((status & USART_ERRORS) && u->icr != 0u) {
            USART_REG(u, u->icr) = USART_ERRORS;  /* v2; v1 clears them by reading DR */
        }
        if (status & USART_RXNE) {
            return (uint8_t)USART_REG(u, u->rx);  /* an overrun lost a byte: the CRC catches it */
        }
    }
}
