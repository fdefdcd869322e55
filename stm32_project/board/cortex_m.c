/* Cortex-M helpers shared by the boards (ARMv7-M ARM, Cortex-M7 TRM). */
#include "board.h"
#include "cortex_m.h"

/* Debug: DEMCR and the DWT cycle counter (ARMv7-M ARM C1.6, C1.8). */
#define DEMCR              REG32(0xE000EDFCu)
#define DEMCR_TRCENA       (1u << 24)
#define DWT_CTRL           REG32(0xE0001000u)
#define DWT_CYCCNT         REG32(0xE0001004u)
#define DWT_LAR            REG32(0xE0001FB0u)
#define DWT_LAR_UNLOCK     0xC5ACCE55u     /* Cortex-M7 software lock; ignored on the M4 */
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_PROBE_SPINS    64u

/* SysTick (ARMv7-M ARM B3.3). */
#define SYST_CSR           REG32(0xE000E010u)
#define SYST_RVR           REG32(0xE000E014u)
#define SYST_CVR           REG32(0xE000E018u)
#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)       /* processor clock */
#define SYST_RELOAD        0x00FFFFFFu
#define SCB_ICSR           REG32(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)

/* Cache maintenance (ARMv7-M ARM B2.2.7, B4.8). */
#define SCB_CCR            REG32(0xE000ED14u)
#define SCB_CCR_DC         (1u << 16)
#define SCB_CCR_IC         (1u << 17)
#define SCB_CCSIDR         REG32(0xE000ED80u)
#define SCB_CSSELR         REG32(0xE000ED84u)
#define SCB_ICIALLU        REG32(0xE000EF50u)
#define SCB_DCISW          REG32(0xE000EF60u)

board_status_t board_status;

static int timer_is_dwt;
static uint32_t start_cycles;
static uint64_t start_ticks;
static volatile uint32_t systick_wraps;

int cm_wait(volatile uint32_t *reg, uint32_t mask, uint32_t want, uint32_t spins)
{
    while (spins-- != 0u) {
        if ((*reg & mask) == want) {
            return 1;
        }
    }
    return 0;
}

void SysTick_Handler(void)
{
    systick_wraps++;
}

/* Enable the DWT cycle counter; 1 if it counts (it reads 0 under QEMU). */
static int dwt_start(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = DWT_LAR_UNLOCK;
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    for (volatile uint32_t i = 0; i < DWT_PROBE_SPINS; i++) {
    }
    return DWT_CYCCNT != 0u;
}

static void systick_start(void)
{
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    while (SYST_CVR == 0u) {
        /* until the first reload: systick_now assumes counting from SYST_RELOAD */
    }
}

/* Ticks since systick_start, as a 64-bit count (the counter counts down). */
static uint64_t systick_now(void)
{
    uint32_t wraps, val;

    __asm volatile("cpsid i" ::: "memory");
    wraps = systick_wraps;
    val = SYST_CVR;
    if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
        /* Wrapped but not yet counted: re-read after the reload. */
        val = SYST_CVR;
        wraps++;
    }
    __asm volatile("cpsie i" ::: "memory");
    return (uint64_t)wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - val);
}

uint8_t cm_timer_init(void)
{
    timer_is_dwt = dwt_start();
    if (timer_is_dwt) {
        return SNN_UNIT_CYCLES;
    }
    systick_start();
    return BOARD_SYSTICK_UNIT;
}

void board_timer_start(void)
{
    if (timer_is_dwt) {
        start_cycles = DWT_CYCCNT;
    } else {
        start_ticks = systick_now();
    }
}

uint32_t board_timer_stop(void)
{
    uint64_t units;

    if (timer_is_dwt) {
        return DWT_CYCCNT - start_cycles;  /* wraps after 2^32 cycles (8.9 s at 480 MHz) */
    }
    units = (systick_now() - start_ticks) * BOARD_SYSTICK_NUM / BOARD_SYSTICK_DEN;
    return units > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)units;
}

/* Invalidate every line of the L1 D-cache by set and way. */
static void dcache_invalidate_all(void)
{
    uint32_t ccsidr, sets, ways, set_shift, way_shift;

    SCB_CSSELR = 0u;  /* level 1 data cache */
    __asm volatile("dsb" ::: "memory");
    ccsidr = SCB_CCSIDR;
    sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    set_shift = (ccsidr & 0x7u) + 4u;  /* log2 of the line size in bytes */
    way_shift = ways > 1u ? (uint32_t)__builtin_clz(ways - 1u) : 0u;
    for (uint32_t set = 0; set < sets; set++) {
        for (uint32_t way = 0; way < ways; way++) {
            SCB_DCISW = (set << set_shift) | (way << way_shift);
        }
    }
    __asm volatile("dsb" ::: "memory");
}

uint8_t cm7_caches_enable(void)
{
    dcache_invalidate_all();
    SCB_ICIALLU = 0u;
    __asm volatile("dsb\n\tisb" ::: "memory");
    SCB_CCR |= SCB_CCR_IC | SCB_CCR_DC;
    __asm volatile("dsb\n\tisb" ::: "memory");
    return (uint8_t)(((SCB_CCR & SCB_CCR_IC) ? SNN_CACHE_I : 0u) | ((SCB_CCR & SCB_CCR_DC) ? SNN_CACHE_D : 0u));
}
