/* STM32 drivers shared by the boards (no vendor HAL). */
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

/* USART v1 (F4). */
#define V1_SR(b)        REG32((b) + 0x00u)
#define V1_DR(b)        REG32((b) + 0x04u)
#define V1_BRR(b)       REG32((b) + 0x08u)
#define V1_CR1(b)       REG32((b) + 0x0Cu)
#define V1_CR2(b)       REG32((b) + 0x10u)
#define V1_CR3(b)       REG32((b) + 0x14u)
#define V1_SR_ORE       (1u << 3)
#define V1_SR_RXNE      (1u << 5)
#define V1_SR_TXE       (1u << 7)
#define V1_CR1_RE       (1u << 2)
#define V1_CR1_TE       (1u << 3)
#define V1_CR1_UE       (1u << 13)

/* USART v2 (F7, H7). */
#define V2_CR1(b)       REG32((b) + 0x00u)
#define V2_CR2(b)       REG32((b) + 0x04u)
#define V2_CR3(b)       REG32((b) + 0x08u)
#define V2_BRR(b)       REG32((b) + 0x0Cu)
#define V2_ISR(b)       REG32((b) + 0x1Cu)
#define V2_ICR(b)       REG32((b) + 0x20u)
#define V2_RDR(b)       REG32((b) + 0x24u)
#define V2_TDR(b)       REG32((b) + 0x28u)
#define V2_CR1_UE       (1u << 0)
#define V2_CR1_RE       (1u << 2)
#define V2_CR1_TE       (1u << 3)
#define V2_ISR_ERRORS   ((1u << 1) | (1u << 2) | (1u << 3))  /* FE, NF, ORE (same bits in ICR) */
#define V2_ISR_RXNE     (1u << 5)
#define V2_ISR_TXE      (1u << 7)

void stm32_gpio_af(uint32_t base, uint32_t pin, uint32_t af)
{
    uint32_t shift2 = 2u * pin, shift4 = 4u * (pin % 8u);

    GPIO_MODER(base) = (GPIO_MODER(base) & ~(3u << shift2)) | (GPIO_MODE_AF << shift2);
    GPIO_OSPEEDR(base) = (GPIO_OSPEEDR(base) & ~(3u << shift2)) | (GPIO_SPEED_HIGH << shift2);
    GPIO_PUPDR(base) = (GPIO_PUPDR(base) & ~(3u << shift2)) | (GPIO_PULL_UP << shift2);
    GPIO_AFR(base, pin / 8u) = (GPIO_AFR(base, pin / 8u) & ~(0xFu << shift4)) | (af << shift4);
}

void stm32_usart_v1_init(uint32_t base, uint32_t brr)
{
    V1_CR1(base) = 0;
    V1_CR2(base) = 0;
    V1_CR3(base) = 0;
    V1_BRR(base) = brr;
    V1_CR1(base) = V1_CR1_UE | V1_CR1_TE | V1_CR1_RE;
}

void stm32_usart_v1_write(uint32_t base, uint8_t byte)
{
    while (!(V1_SR(base) & V1_SR_TXE)) {
    }
    V1_DR(base) = byte;
}

uint8_t stm32_usart_v1_read(uint32_t base)
{
    /* Reading DR after SR clears RXNE and an overrun; the CRC catches a lost byte. */
    while (!(V1_SR(base) & (V1_SR_RXNE | V1_SR_ORE))) {
    }
    return (uint8_t)V1_DR(base);
}

void stm32_usart_v2_init(uint32_t base, uint32_t brr)
{
    V2_CR1(base) = 0;
    V2_CR2(base) = 0;
    V2_CR3(base) = 0;
    V2_BRR(base) = brr;
    V2_CR1(base) = V2_CR1_UE | V2_CR1_RE | V2_CR1_TE;
}

void stm32_usart_v2_write(uint32_t base, uint8_t byte)
{
    while (!(V2_ISR(base) & V2_ISR_TXE)) {
    }
    V2_TDR(base) = byte;
}

uint8_t stm32_usart_v2_read(uint32_t base)
{
    for (;;) {
        uint32_t isr = V2_ISR(base);

        if (isr & V2_ISR_ERRORS) {
            V2_ICR(base) = V2_ISR_ERRORS;  /* overrun/noise/framing: the CRC catches the loss */
        }
        if (isr & V2_ISR_RXNE) {
            return (uint8_t)V2_RDR(base);
        }
    }
}

void stm32_status_init(uint8_t source, uint8_t caches)
{
    int pll = source == SNN_CLOCK_PLL;

    board_status.core_clock_hz = pll ? BOARD_CORE_CLOCK_HZ : BOARD_HSI_HZ;
    board_status.baud = pll ? BOARD_UART_BAUD : BOARD_FALLBACK_UART_BAUD;
    board_status.clock_source = source;
    board_status.caches = caches;
    board_status.latency_unit = cm_timer_init();
}
