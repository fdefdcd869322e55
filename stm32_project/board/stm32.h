/* STM32 drivers shared by the boards: GPIO alternate functions, the two USART
 * register layouts, and the F4/F7 clock tree. Register values come from
 * board_target.h (semanticnn.firmware.clocks). */
#ifndef SNN_STM32_H
#define SNN_STM32_H

#include <stdint.h>

/* Put `pin` of the GPIO port at `gpio_base` on alternate function `af`, pulled up, high speed. */
void stm32_gpio_af(uint32_t gpio_base, uint32_t pin, uint32_t af);

/* USART "v1" (F4: SR, DR, BRR, CR1; RM0390 25.6), 8N1 at `brr`, oversampling 16. */
void stm32_usart_v1_init(uint32_t base, uint32_t brr);
void stm32_usart_v1_write(uint32_t base, uint8_t byte);
uint8_t stm32_usart_v1_read(uint32_t base);

/* USART "v2" (F7, H7: ISR, ICR, RDR, TDR; RM0385 31.8, RM0433 48.7), 8N1 at `brr`. */
void stm32_usart_v2_init(uint32_t base, uint32_t brr);
void stm32_usart_v2_write(uint32_t base, uint8_t byte);
uint8_t stm32_usart_v2_read(uint32_t base);

/* USART divider (oversampling 16) for the clock the board ended up on. */
#define STM32_UART_BRR(source) ((source) == SNN_CLOCK_PLL ? BOARD_UART_BRR : BOARD_FALLBACK_UART_BRR)

/* Fill board_status for a board that started on `source` (enum snn_clock_source)
 * with `caches` on, and start the latency timer. */
void stm32_status_init(uint8_t source, uint8_t caches);

/* F4/F7: PLL from the HSE with over-drive, flash wait states and bus
 * prescalers from board_target.h; falls back to the HSI when a step does not
 * get ready within BOARD_READY_SPINS. Returns enum snn_clock_source. */
uint8_t stm32f_clock_start(void);

#endif /* SNN_STM32_H */
