/* F4/F7 clock tree: PLL from the HSE, over-drive, flash wait states, bus
 * prescalers (RM0390 6.3 and 5.1.4, RM0385 5.3 and 4.1.4: same registers).
 * Every value comes from board_target.h; a step that does not get ready
 * within BOARD_READY_SPINS polls leaves the core on the 16 MHz HSI. */
#include "board.h"
#include "cortex_m.h"
#include "stm32.h"

#ifdef BOARD_RCC_CFGR_PRESC
#define RCC_BASE        0x40023800u
#define RCC_CR          REG32(RCC_BASE + 0x00u)
#define RCC_PLLCFGR     REG32(RCC_BASE + 0x04u)
#define RCC_CFGR        REG32(RCC_BASE + 0x08u)
#define RCC_APB1ENR     REG32(RCC_BASE + 0x40u)
#define RCC_CR_HSEON    (1u << 16)
#define RCC_CR_PLLON    (1u << 24)
#define RCC_CR_PLLRDY   (1u << 25)
#define RCC_CFGR_SW     (3u << 0)
#define RCC_CFGR_SW_PLL (2u << 0)
#define RCC_CFGR_SWS    (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_PRESC  ((0xFu << 4) | (7u << 10) | (7u << 13))  /* HPRE, PPRE1, PPRE2 */
#define RCC_APB1ENR_PWREN (1u << 28)

#define PWR_CR          REG32(0x40007000u)   /* PWR_CR1 on the F7 */
#define PWR_CSR         REG32(0x40007004u)   /* PWR_CSR1 on the F7 */
#define PWR_CR_VOS      (3u << 14)           /* scale 1 */
#define PWR_CR_ODEN     (1u << 16)
#define PWR_CR_ODSWEN   (1u << 17)
#define PWR_CSR_ODRDY   (1u << 16)
#define PWR_CSR_ODSWRDY (1u << 17)

#define FLASH_ACR       REG32(0x40023C00u)
#define FLASH_ACR_LATENCY 0xFu

/* Back to the HSI (the reset clock source): prescalers /1, PLL, HSE and over-drive off. */
static uint8_t fallback(void)
{
    RCC_CFGR &= ~RCC_CFGR_SW;
    cm_wait(&RCC_CFGR, RCC_CFGR_SWS, 0u, BOARD_READY_SPINS);
    RCC_CFGR &= ~RCC_CFGR_PRESC;        /* buses at the HSI too, as the fallback BRR assumes */
    RCC_CR &= ~(RCC_CR_PLLON | RCC_CR_HSEON);  /* HSEBYP may stay: it does nothing with the HSE off */
    PWR_CR &= ~(PWR_CR_ODEN | PWR_CR_ODSWEN);
    return SNN_CLOCK_HSI_FALLBACK;
}

static int overdrive_on(void)
{
    PWR_CR |= PWR_CR_ODEN;
    if (!cm_wait(&PWR_CSR, PWR_CSR_ODRDY, PWR_CSR_ODRDY, BOARD_READY_SPINS)) {
        return 0;
    }
    PWR_CR |= PWR_CR_ODSWEN;
    return cm_wait(&PWR_CSR, PWR_CSR_ODSWRDY, PWR_CSR_ODSWRDY, BOARD_READY_SPINS);
}

uint8_t stm32f_clock_start(void)
{
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC_APB1ENR;                  /* read back: the clock enable has taken effect */
    PWR_CR |= PWR_CR_VOS;
    if (!stm32_hse_start(&RCC_CR)) {
        return fallback();
    }
    RCC_PLLCFGR = BOARD_RCC_PLLCFGR;
    RCC_CR |= RCC_CR_PLLON;
    if (!cm_wait(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY, BOARD_READY_SPINS)) {
        return fallback();
    }
    if (BOARD_OVERDRIVE && !overdrive_on()) {
        return fallback();
    }
    FLASH_ACR = BOARD_FLASH_ACR;        /* wait states before the faster clock */
    if (!cm_wait(&FLASH_ACR, FLASH_ACR_LATENCY, BOARD_FLASH_ACR & FLASH_ACR_LATENCY, BOARD_READY_SPINS)) {
        return fallback();
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_PRESC) | BOARD_RCC_CFGR_PRESC;
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW) | RCC_CFGR_SW_PLL;
    if (!cm_wait(&RCC_CFGR, RCC_CFGR_SWS, RCC_CFGR_SWS_PLL, BOARD_READY_SPINS)) {
        return fallback();
    }
    return SNN_CLOCK_PLL;
}
#endif /* BOARD_RCC_CFGR_PRESC: an F4/F7 clock tree */
