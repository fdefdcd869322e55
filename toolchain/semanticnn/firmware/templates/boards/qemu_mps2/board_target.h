/* QEMU mps2-an500 (Cortex-M7): CMSDK UART0, SysTick under -icount shift=0. */
#ifndef SNN_BOARD_TARGET_H
#define SNN_BOARD_TARGET_H

#define BOARD_NAME           "qemu_mps2"
#define BOARD_CORE_CLOCK_HZ  25000000u
#define BOARD_LATENCY_UNIT   0u      /* BOARD_UNIT_INSTRUCTIONS */

/* Instructions per SysTick tick under -icount shift=0 (1 instruction = 1 ns
 * of virtual time, SysTick clocked at 25 MHz = 40 ns); measured by
 * tests/test_firmware_qemu.py::test_systick_ticks_are_40_instructions. */
#ifndef BOARD_INSTR_PER_TICK
#define BOARD_INSTR_PER_TICK 40u
#endif

#endif /* SNN_BOARD_TARGET_H */
