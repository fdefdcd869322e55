/* NUCLEO-F446RE, register level (no vendor HAL).
 *
 * Clock: 180 MHz from the PLL on the ST-LINK's 8 MHz MCO (HSE bypass),
 * over-drive, 5 wait states; the 16 MHz HSI if a step does not get ready
 * (common/stm32f_clock.c). UART: USART2 TX PA2, RX PA3, AF7, wired to the
 * ST-LINK virtual COM port, on APB1. Timer: DWT cycle counter.
 *
 * The same ELF boots in QEMU's netduinoplus2 (STM32F405: same core, RCC,
 * GPIO and USART2 addresses). QEMU models no RCC, so every ready flag reads 0
 * and the fallback runs; its DWT does not count, so the timer is SysTick.
 */
#include "board.h"
#include "cortex_m.h"
#include "stm32.h"

#define RCC_AHB1ENR      REG32(0x40023830u)
#define RCC_APB1ENR      REG32(0x40023840u)
#define RCC_AHB1ENR_GPIOAEN  (1u << 0)
#define RCC_APB1ENR_USART2EN (1u << 17)
#define GPIOA_BASE       0x40020000u
#define GPIO_AF7_USART2  7u
#define USART2_BASE      0x40004400u

void board_init(void)
{
    uint8_t source = stm32f_clock_start();

    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB1ENR |= RCC_APB1ENR_USART2EN;
    (void)RCC_APB1ENR;                  /* read back: the clock enable has taken effect */
    stm32_gpio_af(GPIOA_BASE, 2u, GPIO_AF7_USART2);   /* TX */
    stm32_gpio_af(GPIOA_BASE, 3u, GPIO_AF7_USART2);   /* RX */
    stm32_usart_v1_init(USART2_BASE, STM32_UART_BRR(source));
    stm32_status_init(source, 0u);      /* the M4 has no L1 caches; FLASH_ACR turns on the ART */
}

void board_uart_write_byte(uint8_t byte)
{
    stm32_usart_v1_write(USART2_BASE, byte);
}

uint8_t board_uart_read_byte(void)
{
    return stm32_usart_v1_read(USART2_BASE);
}
