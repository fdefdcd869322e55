/* Cortex-M helpers shared by the boards: bounded polling, the latency timer
 * (DWT cycle counter, SysTick where the DWT does not count) and the M7 caches. */
#ifndef SNN_CORTEX_M_H
#define SNN_CORTEX_M_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* Poll until (*reg & mask) == want, at most `spins` times; 1 if it got there. */
int cm_wait(volatile uint32_t *reg, uint32_t mask, uint32_t want, uint32_t spins);

/* Start the latency timer; returns its unit (enum snn_latency_unit). */
uint8_t cm_timer_init(void);

/* Invalidate and enable the Cortex-M7 I- and D-caches; returns the SNN_CACHE_* bits now on. */
uint8_t cm7_caches_enable(void);

#endif /* SNN_CORTEX_M_H */
