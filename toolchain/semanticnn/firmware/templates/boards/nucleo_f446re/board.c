/* NUCLEO-F446RE, register level (no vendor HAL).
 *
 * Clock: 180 MHz from the PLL on the ST-LINK's 8 MHz MCO (HSE bypass),
 * over-drive, 5 wait states; the 16 MHz HSI if a step does not get ready
 * (stm32f_clock.c). UART: USART2 TX PA2, RX PA3, AF7, wired to the ST-LINK
 * virtual COM port, on APB1. Timer: DWT cycle counter.
 *
 * The same ELF boots in QEMU's netduinoplus2 (STM32F405: same core, RCC,
 * GPIO and USART2 addresses). QEMU models no RCC, so every ready flag reads 0
 * and the fallback runs; its DWT does not count, so the timer is SysTick.
 */
#include "board.h"
#include "stm32.h"

const stm32_board_t stm32_board = {
    /* RCC_AHB1ENR.GPIOAEN, RCC_APB1ENR.USART2EN */
    .clock_enables = {{0x40023830u, 1u << 0}, {0x40023840u, 1u << 17}},
    .tx = {0x40020000u, 2u, 7u}, .rx = {0x40020000u, 3u, 7u},  /* PA2, PA3, AF7 */
    .usart = STM32_USART_V1(0x40004400u),                      /* USART2 */
    .m7_caches = 0u,                                            /* Cortex-M4: the ART is in FLASH_ACR */
};

uint8_t stm32_board_clock_start(void)
{
    return stm32f_clock_start();
}
