/* Cortex-M startup shared by every board: vector table (the 16 system
 * exceptions), .data copy, .bss and activation zeroing, FPU on. */
#include <stdint.h>

extern uint32_t __stack_top__[];
extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __activations_start__[], __activations_end__[];

int main(void);
void Reset_Handler(void);
void Default_Handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void Default_Handler(void)
{
    for (;;) {
    }
}

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

/* 16 system exceptions; the board uses no external interrupts. */
__attribute__((section(".vectors"), used))
void (*const vector_table[16])(void) = {
    (void (*)(void))__stack_top__,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
};

static void zero_words(uint32_t *dst, const uint32_t *end)
{
    while (dst < end) {
        *dst++ = 0;
    }
}

void Reset_Handler(void)
{
    uint32_t *src = __data_load__;

    for (uint32_t *dst = __data_start__; dst < __data_end__; dst++) {
        *dst = *src++;
    }
    zero_words(__bss_start__, __bss_end__);
    zero_words(__activations_start__, __activations_end__);
    SCB_CPACR |= 0xFu << 20;  /* CP10, CP11 full access */
    __asm volatile("dsb\n\tisb" ::: "memory");
    main();
    for (;;) {
    }
}
