/* STM32F746G-DISCO: 16 MHz HSI, USART1 on the ST-LINK VCP, DWT cycle counter. */
#ifndef SNN_BOARD_TARGET_H
#define SNN_BOARD_TARGET_H

#define BOARD_NAME           "stm32f746g_disco"
#define BOARD_CORE_CLOCK_HZ  16000000u
#define BOARD_LATENCY_UNIT   1u      /* BOARD_UNIT_CYCLES */

#endif /* SNN_BOARD_TARGET_H */
