/* STM32F746G-DISCO, register level (no vendor HAL).
 *
 * Clock: the 16 MHz HSI the chip starts on (no PLL yet), so AHB = APB2 =
 * 16 MHz. UART: USART1 TX PA9, RX PB7, alternate function 7, wired to the
 * ST-LINK virtual COM port, 115200 8N1. Timer: DWT cycle counter.
 */
#include "board.h"

/* RCC (RM0385 section 5.3) */
#define RCC_BASE        0x40023800u
#define RCC_AHB1ENR     (*(volatile uint32_t *)(RCC_BASE + 0x30u))
#define RCC_APB2ENR     (*(volatile uint32_t *)(RCC_BASE + 0x44u))
#define RCC_DCKCFGR2    (*(volatile uint32_t *)(RCC_BASE + 0x90u))
#define RCC_AHB1ENR_GPIOAEN  (1u << 0)
#define RCC_AHB1ENR_GPIOBEN  (1u << 1)
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_DCKCFGR2_USART1SEL_MASK (3u << 0)   /* 00 = APB2 clock */

/* GPIO (RM0385 section 6.4) */
#define GPIOA_BASE      0x40020000u
#define GPIOB_BASE      0x40020400u
#define GPIO_MODER(b)   (*(volatile uint32_t *)((b) + 0x00u))
#define GPIO_OSPEEDR(b) (*(volatile uint32_t *)((b) + 0x08u))
#define GPIO_PUPDR(b)   (*(volatile uint32_t *)((b) + 0x0Cu))
#define GPIO_AFRL(b)    (*(volatile uint32_t *)((b) + 0x20u))
#define GPIO_AFRH(b)    (*(volatile uint32_t *)((b) + 0x24u))
#define GPIO_MODE_AF    2u
#define GPIO_PULL_UP    1u
#define GPIO_SPEED_HIGH 2u
#define GPIO_AF7_USART1 7u

/* USART1 (RM0385 section 31.8) */
#define USART1_BASE     0x40011000u
#define USART_CR1       (*(volatile uint32_t *)(USART1_BASE + 0x00u))
#define USART_CR2       (*(volatile uint32_t *)(USART1_BASE + 0x04u))
#define USART_CR3       (*(volatile uint32_t *)(USART1_BASE + 0x08u))
#define USART_BRR       (*(volatile uint32_t *)(USART1_BASE + 0x0Cu))
#define USART_ISR       (*(volatile uint32_t *)(USART1_BASE + 0x1Cu))
#define USART_ICR       (*(volatile uint32_t *)(USART1_BASE + 0x20u))
#define USART_RDR       (*(volatile uint32_t *)(USART1_BASE + 0x24u))
#define USART_TDR       (*(volatile uint32_t *)(USART1_BASE + 0x28u))
#define USART_CR1_UE    (1u << 0)
#define USART_CR1_RE    (1u << 2)
#define USART_CR1_TE    (1u << 3)
#define USART_ISR_FE    (1u << 1)
#define USART_ISR_NF    (1u << 2)
#define USART_ISR_ORE   (1u << 3)
#define USART_ISR_RXNE  (1u << 5)
#define USART_ISR_TXE   (1u << 7)
#define USART_ICR_ERRORS (USART_ISR_FE | USART_ISR_NF | USART_ISR_ORE)
#define UART_BAUD       115200u

/* Debug: DEMCR and the DWT cycle counter (ARMv7-M ARM C1.6, C1.8) */
#define DEMCR           (*(volatile uint32_t *)0xE000EDFCu)
#define DEMCR_TRCENA    (1u << 24)
#define DWT_CTRL        (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT      (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR         (*(volatile uint32_t *)0xE0001FB0u)
#define DWT_LAR_UNLOCK  0xC5ACCE55u     /* Cortex-M7 software lock access */
#define DWT_CTRL_CYCCNTENA (1u << 0)

static uint32_t timer_start_cycles;

static void gpio_af(uint32_t base, uint32_t pin, uint32_t af)
{
    GPIO_MODER(base) = (GPIO_MODER(base) & ~(3u << (2u * pin))) | (GPIO_MODE_AF << (2u * pin));
    GPIO_OSPEEDR(base) = (GPIO_OSPEEDR(base) & ~(3u << (2u * pin))) | (GPIO_SPEED_HIGH << (2u * pin));
    GPIO_PUPDR(base) = (GPIO_PUPDR(base) & ~(3u << (2u * pin))) | (GPIO_PULL_UP << (2u * pin));
    if (pin < 8u) {
        GPIO_AFRL(base) = (GPIO_AFRL(base) & ~(0xFu << (4u * pin))) | (af << (4u * pin));
    } else {
        GPIO_AFRH(base) = (GPIO_AFRH(base) & ~(0xFu << (4u * (pin - 8u)))) | (af << (4u * (pin - 8u)));
    }
}

void board_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN | RCC_AHB1ENR_GPIOBEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    RCC_DCKCFGR2 &= ~RCC_DCKCFGR2_USART1SEL_MASK;
    (void)RCC_APB2ENR;              /* read back: clock enable has taken effect */

    gpio_af(GPIOA_BASE, 9u, GPIO_AF7_USART1);   /* TX */
    gpio_af(GPIOB_BASE, 7u, GPIO_AF7_USART1);   /* RX */

    USART_CR1 = 0;
    USART_CR2 = 0;
    USART_CR3 = 0;
    USART_BRR = (BOARD_CORE_CLOCK_HZ + UART_BAUD / 2u) / UART_BAUD;  /* oversampling 16 */
    USART_CR1 = USART_CR1_UE | USART_CR1_RE | USART_CR1_TE;

    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = DWT_LAR_UNLOCK;
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}

void board_uart_write_byte(uint8_t byte)
{
    while (!(USART_ISR & USART_ISR_TXE)) {
    }
    USART_TDR = byte;
}

uint8_t board_uart_read_byte(void)
{
    for (;;) {
        uint32_t isr = USART_ISR;

        if (isr & USART_ICR_ERRORS) {
            USART_ICR = USART_ICR_ERRORS;   /* overrun/noise/framing: the CRC catches the loss */
        }
        if (isr & USART_ISR_RXNE) {
            return (uint8_t)USART_RDR;
        }
    }
}

void board_timer_start(void)
{
    timer_start_cycles = DWT_CYCCNT;
}

uint32_t board_timer_stop(void)
{
    return DWT_CYCCNT - timer_start_cycles;  /* wraps after 2^32 cycles (268 s at 16 MHz) */
}
