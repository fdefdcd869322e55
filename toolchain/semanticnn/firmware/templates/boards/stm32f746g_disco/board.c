/* STM32F746G-DISCO, register level (no vendor HAL).
 *
 * Clock: 216 MHz from the PLL on the 25 MHz crystal X2 (UM1907: the HSE is a
 * crystal on this board, not the ST-LINK's MCO), over-drive, 7 wait states;
 * the 16 MHz HSI if a step does not get ready (common/stm32f_clock.c).
 * Caches: I and D on. UART: USART1 TX PA9, RX PB7, AF7, wired to the ST-LINK
 * virtual COM port, on APB2. Timer: DWT cycle counter (common/cortex_m.c).
 */
#include "board.h"
#include "cortex_m.h"
#include "stm32.h"

#define RCC_AHB1ENR      REG32(0x40023830u)
#define RCC_APB2ENR      REG32(0x40023844u)
#define RCC_DCKCFGR2     REG32(0x40023890u)
#define RCC_AHB1ENR_GPIOAEN  (1u << 0)
#define RCC_AHB1ENR_GPIOBEN  (1u << 1)
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_DCKCFGR2_USART1SEL (3u << 0)    /* 00 = APB2 clock */
#define GPIOA_BASE       0x40020000u
#define GPIOB_BASE       0x40020400u
#define GPIO_AF7_USART1  7u
#define USART1_BASE      0x40011000u

void board_init(void)
{
    uint8_t source = stm32f_clock_start();
    uint8_t caches = cm7_caches_enable();

    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN | RCC_AHB1ENR_GPIOBEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    RCC_DCKCFGR2 &= ~RCC_DCKCFGR2_USART1SEL;
    (void)RCC_APB2ENR;                  /* read back: the clock enable has taken effect */
    stm32_gpio_af(GPIOA_BASE, 9u, GPIO_AF7_USART1);   /* TX */
    stm32_gpio_af(GPIOB_BASE, 7u, GPIO_AF7_USART1);   /* RX */
    stm32_usart_v2_init(USART1_BASE, STM32_UART_BRR(source));
    stm32_status_init(source, caches);
}

void board_uart_write_byte(uint8_t byte)
{
    stm32_usart_v2_write(USART1_BASE, byte);
}

uint8_t board_uart_read_byte(void)
{
    return stm32_usart_v2_read(USART1_BASE);
}
