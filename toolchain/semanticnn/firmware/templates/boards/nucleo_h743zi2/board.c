/* NUCLEO-H743ZI2, register level (no vendor HAL).
 *
 * Power: LDO supply, VOS1 then VOS0 (SYSCFG_PWRCR.ODEN): 480 MHz needs VOS0
 * and silicon revision V. Clock: PLL1 from the STLINK-V3E's 8 MHz MCO (HSE
 * bypass), wide VCO at 960 MHz, P = 2: 480 MHz core, AXI/AHB 240 MHz, APBs
 * 120 MHz, 4 flash wait states; the 64 MHz HSI if a step does not get ready.
 * Caches: I and D on. UART: USART3 TX PD8, RX PD9, AF7, wired to the ST-LINK
 * virtual COM port, kernel clock PCLK1. Timer: DWT cycle counter.
 * Registers: RM0433 6.8 (PWR), 8.7 (RCC), 4.9 (FLASH), 12.3 (SYSCFG).
 */
#include "board.h"
#include "cortex_m.h"
#include "stm32.h"

#define RCC_BASE         0x58024400u
#define RCC_CR           REG32(RCC_BASE + 0x00u)
#define RCC_CFGR         REG32(RCC_BASE + 0x10u)
#define RCC_D1CFGR       REG32(RCC_BASE + 0x18u)
#define RCC_D2CFGR       REG32(RCC_BASE + 0x1Cu)
#define RCC_D3CFGR       REG32(RCC_BASE + 0x20u)
#define RCC_PLLCKSELR    REG32(RCC_BASE + 0x28u)
#define RCC_PLLCFGR      REG32(RCC_BASE + 0x2Cu)
#define RCC_PLL1DIVR     REG32(RCC_BASE + 0x30u)
#define RCC_APB4ENR      REG32(RCC_BASE + 0xF4u)
#define RCC_CR_HSEON     (1u << 16)
#define RCC_CR_PLL1ON    (1u << 24)
#define RCC_CR_PLL1RDY   (1u << 25)
#define RCC_CFGR_SW      (7u << 0)
#define RCC_CFGR_SW_PLL1 (3u << 0)
#define RCC_CFGR_SWS     (7u << 3)
#define RCC_CFGR_SWS_PLL1 (3u << 3)
#define RCC_APB4ENR_SYSCFGEN  (1u << 1)

#define PWR_CSR1         REG32(0x58024804u)
#define PWR_CR3          REG32(0x5802480Cu)
#define PWR_D3CR         REG32(0x58024818u)
#define PWR_CSR1_ACTVOSRDY (1u << 13)
#define PWR_CR3_SUPPLY   ((1u << 0) | (1u << 1) | (1u << 2))  /* BYPASS, LDOEN, SCUEN */
#define PWR_CR3_LDOEN    (1u << 1)
#define PWR_D3CR_VOS     (3u << 14)         /* VOS1 */
#define PWR_D3CR_VOSRDY  (1u << 13)
#define SYSCFG_PWRCR     REG32(0x5800042Cu)
#define SYSCFG_PWRCR_ODEN (1u << 0)         /* VOS1 -> VOS0 */
#define FLASH_ACR        REG32(0x52002000u)
#define FLASH_ACR_MASK   0x3Fu              /* LATENCY, WRHIGHFREQ */

const stm32_board_t stm32_board = {
    /* RCC_AHB4ENR.GPIODEN, RCC_APB1LENR.USART3EN */
    .clock_enables = {{RCC_BASE + 0xE0u, 1u << 3}, {RCC_BASE + 0xE8u, 1u << 18}},
    .tx = {0x58020C00u, 8u, 7u}, .rx = {0x58020C00u, 9u, 7u},  /* PD8, PD9, AF7 */
    .usart = STM32_USART_V2(0x40004800u),                      /* USART3 */
    .m7_caches = 1u,
};

/* LDO supply, VOS1, then VOS0 when the tree asks for it. */
static int power_up(void)
{
    PWR_CR3 = (PWR_CR3 & ~PWR_CR3_SUPPLY) | PWR_CR3_LDOEN;
    if (!cm_wait(&PWR_CSR1, PWR_CSR1_ACTVOSRDY, PWR_CSR1_ACTVOSRDY, BOARD_READY_SPINS)) {
        return 0;
    }
    PWR_D3CR |= PWR_D3CR_VOS;
    if (!cm_wait(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY, BOARD_READY_SPINS)) {
        return 0;
    }
    if (BOARD_OVERDRIVE) {
        RCC_APB4ENR |= RCC_APB4ENR_SYSCFGEN;
        (void)RCC_APB4ENR;
        SYSCFG_PWRCR |= SYSCFG_PWRCR_ODEN;
        return cm_wait(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY, BOARD_READY_SPINS);
    }
    return 1;
}

static uint8_t fallback(void)
{
    RCC_CFGR &= ~RCC_CFGR_SW;
    cm_wait(&RCC_CFGR, RCC_CFGR_SWS, 0u, BOARD_READY_SPINS);
    RCC_CR &= ~(RCC_CR_PLL1ON | RCC_CR_HSEON);  /* HSEBYP may stay: it does nothing with the HSE off */
    RCC_D1CFGR = 0;                     /* all prescalers /1: the fallback BRR assumes PCLK1 = HSI */
    RCC_D2CFGR = 0;
    RCC_D3CFGR = 0;
    return SNN_CLOCK_HSI_FALLBACK;
}

uint8_t stm32_board_clock_start(void)
{
    if (!power_up()) {
        return fallback();
    }
    if (!stm32_hse_start(&RCC_CR)) {
        return fallback();
    }
    RCC_PLLCKSELR = BOARD_RCC_PLLCKSELR;
    RCC_PLLCFGR = BOARD_RCC_PLLCFGR;
    RCC_PLL1DIVR = BOARD_RCC_PLL1DIVR;
    RCC_CR |= RCC_CR_PLL1ON;
    if (!cm_wait(&RCC_CR, RCC_CR_PLL1RDY, RCC_CR_PLL1RDY, BOARD_READY_SPINS)) {
        return fallback();
    }
    FLASH_ACR = BOARD_FLASH_ACR;        /* wait states before the faster clock */
    if (!cm_wait(&FLASH_ACR, FLASH_ACR_MASK, BOARD_FLASH_ACR, BOARD_READY_SPINS)) {
        return fallback();
    }
    RCC_D1CFGR = BOARD_RCC_D1CFGR;
    RCC_D2CFGR = BOARD_RCC_D2CFGR;
    RCC_D3CFGR = BOARD_RCC_D3CFGR;
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW) | RCC_CFGR_SW_PLL1;
    if (!cm_wait(&RCC_CFGR, RCC_CFGR_SWS, RCC_CFGR_SWS_PLL1, BOARD_READY_SPINS)) {
        return fallback();
    }
    return SNN_CLOCK_PLL;
}
