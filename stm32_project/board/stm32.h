/* STM32 board support shared by the STM32 targets: board_init, the UART and
 * the F4/F7 clock tree. A board's board.c holds its data (stm32_board) and its
 * clock start; every clock-tree value comes from board_target.h
 * (semanticnn.firmware.clocks). */
#ifndef SNN_STM32_H
#define SNN_STM32_H

#include <stdint.h>

/* A USART's register layout. "v1" (F4: SR, DR, BRR, CR1; RM0390 25.6) and
 * "v2" (F7, H7: ISR, ICR, RDR, TDR; RM0385 31.8, RM0433 48.7) share the
 * status bits (ORE 3, RXNE 5, TXE 7) and the BRR formula (oversampling 16). */
typedef struct {
    uint32_t base;
    uint8_t cr1, brr, status, rx, tx, icr;  /* register offsets; icr 0: no ICR (v1) */
    uint32_t enable;                        /* CR1 bits UE, TE, RE */
} stm32_usart_t;

#define STM32_USART_V1(base) {(base), 0x0Cu, 0x08u, 0x00u, 0x04u, 0x04u, 0x00u, (1u << 13) | (1u << 3) | (1u << 2)}
#define STM32_USART_V2(base) {(base), 0x00u, 0x0Cu, 0x1Cu, 0x24u, 0x28u, 0x20u, (1u << 0) | (1u << 3) | (1u << 2)}

/* A pin on an alternate function: GPIO port base, pin number, AF number. */
typedef struct {
    uint32_t port;
    uint32_t pin;
    uint32_t af;
} stm32_pin_t;

/* What a board.c tells board_init: the RCC enable bits of its GPIO ports and
 * USART ({register address, bits}, unused rows 0), its UART pins and USART,
 * and whether the core is a Cortex-M7 with L1 caches to turn on. */
typedef struct {
    uint32_t clock_enables[3][2];
    stm32_pin_t tx, rx;
    stm32_usart_t usart;
    uint8_t m7_caches;
} stm32_board_t;

extern const stm32_board_t stm32_board;

/* board.c: start the clock tree; returns enum snn_clock_source. */
uint8_t stm32_board_clock_start(void);

/* Start the HSE through the RCC_CR at `rcc_cr` (HSEON 16, HSERDY 17, HSEBYP 18
 * on F4, F7 and H7), bypassed when BOARD_HSE_BYPASS; 1 if it got ready within
 * BOARD_READY_SPINS. */
int stm32_hse_start(volatile uint32_t *rcc_cr);

/* F4/F7: PLL from the HSE with over-drive, flash wait states and bus
 * prescalers from board_target.h; falls back to the HSI when a step does not
 * get ready within BOARD_READY_SPINS. Returns enum snn_clock_source. */
uint8_t stm32f_clock_start(void);

#endif /* SNN_STM32_H */
