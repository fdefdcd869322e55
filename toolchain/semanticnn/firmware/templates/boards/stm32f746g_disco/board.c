/* STM32F746G-DISCO, register level (no vendor HAL).
 *
 * Clock: 216 MHz from the PLL on the 25 MHz crystal X2 (UM1907: the HSE is a
 * crystal on this board, not the ST-LINK's MCO), over-drive, 7 wait states;
 * the 16 MHz HSI if a step does not get ready (stm32f_clock.c). Caches: I and
 * D on. UART: USART1 TX PA9, RX PB7, AF7, wired to the ST-LINK virtual COM
 * port, on APB2 (RCC_DCKCFGR2.USART1SEL stays at its reset value, PCLK2).
 * Timer: DWT cycle counter.
 */
#include "board.h"
#include "stm32.h"

const stm32_board_t stm32_board = {
    /* RCC_AHB1ENR.GPIOAEN | GPIOBEN, RCC_APB2ENR.USART1EN */
    .clock_enables = {{0x40023830u, (1u << 0) | (1u << 1)}, {0x40023844u, 1u << 4}},
    .tx = {0x40020000u, 9u, 7u}, .rx = {0x40020400u, 7u, 7u},  /* PA9, PB7, AF7 */
    .usart = STM32_USART_V2(0x40011000u),                      /* USART1 */
    .m7_caches = 1u,
};

uint8_t stm32_board_clock_start(void)
{
    return stm32f_clock_start();
}
