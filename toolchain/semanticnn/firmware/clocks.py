"""STM32 clock trees, decided here from a target's ``[clock]`` table in targets.toml.

Python picks every number of the tree: PLL dividers, bus prescalers, flash wait states
and the USART baud-rate register, for the PLL clock and for the HSI fallback the board
drops to when the HSE or the PLL does not lock. :func:`header_defines` turns the tree
into the ``#define`` lines of the rendered ``board/board_target.h``; the C only writes
them into registers.

Limits come from the reference manuals: RM0390 (STM32F446), RM0385 (STM32F746),
RM0433 (STM32H743, silicon revision V). ``tests/test_clocks.py`` checks every tree
against the manuals' formulas.
"""

import math
from dataclasses import dataclass

from semanticnn.errors import ConfigError

__all__ = [
    "BAUD_TOLERANCE",
    "STANDARD_BAUDS",
    "READY_TIMEOUT_S",
    "Family",
    "FAMILIES",
    "UartSetting",
    "ClockTree",
    "clock_tree",
    "usart_setting",
    "header_defines",
]

BAUD_TOLERANCE = 0.02
"""Largest relative error of the achieved baud rate."""

STANDARD_BAUDS = (921600, 460800, 230400, 115200)
"""Baud rates tried, fastest first, up to the target's ``baud``."""

READY_TIMEOUT_S = 0.1
"""How long the board waits for HSE, PLL, over-drive or a clock switch before falling back."""

SPIN_CYCLES = 4
"""Core cycles of one polling iteration (load, test, count, branch), for the spin bound."""


@dataclass(frozen=True)
class Family:
    """Reference-manual limits of one STM32 family (Hz, inclusive ranges)."""

    hsi_hz: int
    sysclk_max: int
    pll_m: tuple
    pll_n: tuple
    pll_p: tuple
    vco_in: tuple
    vco_out: tuple
    hclk_max: int
    apb1_max: int
    apb2_max: int
    flash_table: tuple  # (max HCLK, wait states, WRHIGHFREQ) at the board's supply voltage
    overdrive_above: int


FAMILIES = {
    # RM0390 6.3.2 (PLLCFGR), 3.4 Table 5 (2.7-3.6 V); DS10693: 180 MHz, APB1 45, APB2 90, over-drive above 168.
    "stm32f4": Family(
        hsi_hz=16_000_000, sysclk_max=180_000_000, pll_m=(2, 63), pll_n=(50, 432), pll_p=(2, 4, 6, 8),
        vco_in=(1_000_000, 2_000_000), vco_out=(100_000_000, 432_000_000), hclk_max=180_000_000,
        apb1_max=45_000_000, apb2_max=90_000_000,
        flash_table=tuple((30_000_000 * (ws + 1), ws, 0) for ws in range(6)),
        overdrive_above=168_000_000,
    ),
    # RM0385 5.3.2 (PLLCFGR), 3.3.2 Table 5 (2.7-3.6 V); DS10916: 216 MHz, APB1 54, APB2 108, over-drive above 180.
    "stm32f7": Family(
        hsi_hz=16_000_000, sysclk_max=216_000_000, pll_m=(2, 63), pll_n=(50, 432), pll_p=(2, 4, 6, 8),
        vco_in=(1_000_000, 2_000_000), vco_out=(100_000_000, 432_000_000), hclk_max=216_000_000,
        apb1_max=54_000_000, apb2_max=108_000_000,
        flash_table=tuple((min(30_000_000 * (ws + 1), 216_000_000), ws, 0) for ws in range(8)),
        overdrive_above=180_000_000,
    ),
    # RM0433 8.7.10-13 (PLL1, wide VCO range), 4.3.8 Table 17 (VOS0 column); DS12110 rev V: 480 MHz at VOS0,
    # AXI/AHB 240 MHz, APB 120 MHz. "Over-drive" here is VOS0 (SYSCFG_PWRCR.ODEN).
    "stm32h7": Family(
        hsi_hz=64_000_000, sysclk_max=480_000_000, pll_m=(1, 63), pll_n=(4, 512), pll_p=tuple(range(2, 129, 2)),
        vco_in=(2_000_000, 16_000_000), vco_out=(192_000_000, 960_000_000), hclk_max=240_000_000,
        apb1_max=120_000_000, apb2_max=120_000_000,
        flash_table=((70_000_000, 0, 0), (140_000_000, 1, 1), (185_000_000, 2, 1), (210_000_000, 2, 2),
                     (225_000_000, 3, 2), (240_000_000, 4, 2)),
        overdrive_above=400_000_000,
    ),
}


@dataclass(frozen=True)
class UartSetting:
    """USART divider for one kernel clock: ``brr`` goes into USART_BRR (oversampling 16)."""

    clock_hz: int
    baud: int
    brr: int
    actual_baud: float

    @property
    def error(self):
        """Relative error of the achieved baud rate."""
        return abs(self.actual_baud - self.baud) / self.baud


@dataclass(frozen=True)
class ClockTree:
    """Every number of one board's clock tree."""

    family: str
    hse_hz: int
    hse_bypass: bool
    pll_m: int
    pll_n: int
    pll_p: int
    pll_q: int
    sysclk_hz: int
    hclk_div: int
    apb1_div: int
    apb2_div: int
    flash_latency: int
    wrhighfreq: int
    overdrive: bool
    uart: UartSetting           # on the PLL clock
    fallback_uart: UartSetting  # on the HSI, after a fallback

    @property
    def hclk_hz(self):
        """AHB clock (the AXI clock on the H7)."""
        return self.sysclk_hz // self.hclk_div

    @property
    def apb1_hz(self):
        """APB1 clock (every APB on the H7)."""
        return self.hclk_hz // self.apb1_div

    @property
    def apb2_hz(self):
        """APB2 clock."""
        return self.hclk_hz // self.apb2_div

    @property
    def vco_hz(self):
        """PLL VCO output."""
        return self.hse_hz // self.pll_m * self.pll_n


def _pll(family, hse_hz, sysclk_hz):
    """``(M, N, P)`` for ``sysclk_hz``: the highest VCO input in range (least jitter), then the lowest P."""
    f = FAMILIES[family]
    candidates = []
    for m in range(f.pll_m[0], f.pll_m[1] + 1):
        if hse_hz % m or not f.vco_in[0] <= hse_hz // m <= f.vco_in[1]:
            continue
        for p in f.pll_p:
            n, rest = divmod(sysclk_hz * p, hse_hz // m)
            if not rest and f.pll_n[0] <= n <= f.pll_n[1] and f.vco_out[0] <= hse_hz // m * n <= f.vco_out[1]:
                candidates.append((-(hse_hz // m), p, m, n))
    if not candidates:
        raise ConfigError(f"no PLL setting gives {sysclk_hz} Hz from a {hse_hz} Hz HSE on {family}: "
                          "change core_clock_hz in targets.toml")
    _, p, m, n = min(candidates)
    return m, n, p


def _pll_q(family, vco_hz):
    """Smallest Q that keeps the 48 MHz domain at or under 48 MHz (the H7 leaves Q off: 2)."""
    if family == "stm32h7":
        return 2
    return next(q for q in range(2, 16) if vco_hz / q <= 48_000_000)


def _flash(family, hclk_hz):
    for max_hz, latency, wrhighfreq in FAMILIES[family].flash_table:
        if hclk_hz <= max_hz:
            return latency, wrhighfreq
    raise ConfigError(f"{hclk_hz} Hz is above every flash wait-state row of {family}")


def _divider(clock_hz, max_hz):
    """Smallest power-of-two prescaler that brings ``clock_hz`` to ``max_hz`` or under."""
    return next(d for d in (1, 2, 4, 8, 16) if clock_hz // d <= max_hz)


def usart_setting(clock_hz, max_baud):
    """The fastest standard baud rate up to ``max_baud`` that ``clock_hz`` makes within BAUD_TOLERANCE.

    Oversampling 16: baud = fck / BRR on both layouts. Oversampling 8 drops USARTDIV[0]
    (RM0385 31.5.4, BRR[2:0] = USARTDIV[3:0] >> 1), so it adds no resolution: never used.
    """
    for baud in (b for b in STANDARD_BAUDS if b <= max_baud):
        brr = round(clock_hz / baud)
        setting = UartSetting(clock_hz, baud, brr, clock_hz / brr)
        if brr >= 16 and setting.error <= BAUD_TOLERANCE:
            return setting
    raise ConfigError(f"a {clock_hz} Hz USART clock makes none of {STANDARD_BAUDS} within 2%")


def clock_tree(clock: dict, core_clock_hz: int, baud: int) -> ClockTree:
    """The clock tree of a ``[target.clock]`` table for ``core_clock_hz`` and a link at ``baud``."""
    family = clock["family"]
    if family not in FAMILIES:
        raise ConfigError(f"unknown clock family {family!r}: choose one of {', '.join(sorted(FAMILIES))}")
    f = FAMILIES[family]
    if core_clock_hz > f.sysclk_max:
        raise ConfigError(f"core_clock_hz {core_clock_hz} is above the {f.sysclk_max} Hz of {family}")
    hse_hz = int(clock["hse_hz"])
    m, n, p = _pll(family, hse_hz, core_clock_hz)
    hclk_div = _divider(core_clock_hz, f.hclk_max)
    hclk = core_clock_hz // hclk_div
    apb1_div, apb2_div = _divider(hclk, f.apb1_max), _divider(hclk, f.apb2_max)
    latency, wrhighfreq = _flash(family, hclk)
    uart_clock = hclk // (apb2_div if clock["usart_bus"] == "apb2" else apb1_div)
    return ClockTree(
        family=family, hse_hz=hse_hz, hse_bypass=bool(clock["hse_bypass"]), pll_m=m, pll_n=n, pll_p=p,
        pll_q=_pll_q(family, hse_hz // m * n), sysclk_hz=core_clock_hz, hclk_div=hclk_div,
        apb1_div=apb1_div, apb2_div=apb2_div, flash_latency=latency, wrhighfreq=wrhighfreq,
        overdrive=core_clock_hz > f.overdrive_above,
        uart=usart_setting(uart_clock, baud),
        fallback_uart=usart_setting(f.hsi_hz, baud),
    )


_HPRE = {1: 0x0, 2: 0x8, 4: 0x9, 8: 0xA, 16: 0xB}  # RCC HPRE field per AHB divider
_PPRE = {1: 0x0, 2: 0x4, 4: 0x5, 8: 0x6, 16: 0x7}  # RCC PPREx / DxPPRE field per APB divider


def _registers_f(tree):
    """RCC, FLASH values of the F4/F7 tree (RM0390 6.3, RM0385 5.3, same layout)."""
    acr_bits = (1 << 8) | (1 << 9) | (1 << 10) if tree.family == "stm32f4" else (1 << 8) | (1 << 9)
    pllcfgr = (tree.pll_m | tree.pll_n << 6 | (tree.pll_p // 2 - 1) << 16 | 1 << 22 | tree.pll_q << 24
               | 2 << 28)
    presc = _HPRE[tree.hclk_div] << 4 | _PPRE[tree.apb1_div] << 10 | _PPRE[tree.apb2_div] << 13
    return [
        ("BOARD_RCC_PLLCFGR", pllcfgr, f"PLLM {tree.pll_m}, PLLN {tree.pll_n}, PLLP {tree.pll_p}, "
                                       f"PLLQ {tree.pll_q}, source HSE, PLLR 2 (reset value)"),
        ("BOARD_RCC_CFGR_PRESC", presc, f"HPRE /{tree.hclk_div}, PPRE1 /{tree.apb1_div}, PPRE2 /{tree.apb2_div}"),
        ("BOARD_FLASH_ACR", tree.flash_latency | acr_bits,
         f"{tree.flash_latency} wait states, prefetch and {'I/D caches' if tree.family == 'stm32f4' else 'ART'} on"),
    ]


def _pll_range(ref_hz):
    """RM0433 PLL1RGE: 0 = 1-2 MHz, 1 = 2-4, 2 = 4-8, 3 = 8-16."""
    return next(code for code, top in enumerate((2_000_000, 4_000_000, 8_000_000, 16_000_000)) if ref_hz <= top)


def _registers_h7(tree):
    """RCC, FLASH values of the H7 tree (RM0433 8.7, 4.9.1)."""
    ref = tree.hse_hz // tree.pll_m
    divr = (tree.pll_n - 1) | (tree.pll_p - 1) << 9 | (tree.pll_q - 1) << 16 | (2 - 1) << 24
    return [
        ("BOARD_RCC_PLLCKSELR", 2 | tree.pll_m << 4, f"PLL source HSE, DIVM1 {tree.pll_m}"),
        ("BOARD_RCC_PLLCFGR", _pll_range(ref) << 2 | 1 << 16,
         f"PLL1 input {ref} Hz (PLL1RGE {_pll_range(ref)}), wide VCO, DIVP1 output on"),
        ("BOARD_RCC_PLL1DIVR", divr, f"DIVN1 {tree.pll_n}, DIVP1 {tree.pll_p}, DIVQ1 {tree.pll_q}, DIVR1 2"),
        ("BOARD_RCC_D1CFGR", _HPRE[tree.hclk_div] | _PPRE[tree.apb1_div] << 4,
         f"D1CPRE /1, HPRE /{tree.hclk_div}, D1PPRE /{tree.apb1_div}"),
        ("BOARD_RCC_D2CFGR", _PPRE[tree.apb1_div] << 4 | _PPRE[tree.apb1_div] << 8,
         f"D2PPRE1 /{tree.apb1_div}, D2PPRE2 /{tree.apb1_div}"),
        ("BOARD_RCC_D3CFGR", _PPRE[tree.apb1_div] << 4, f"D3PPRE /{tree.apb1_div}"),
        ("BOARD_FLASH_ACR", tree.flash_latency | tree.wrhighfreq << 4,
         f"{tree.flash_latency} wait states, WRHIGHFREQ {tree.wrhighfreq} (VOS0, AXI {tree.hclk_hz} Hz)"),
    ]


def _uart_defines(prefix, setting):
    return [
        (f"{prefix}_CLOCK_HZ", setting.clock_hz, "USART kernel clock"),
        (f"{prefix}_BAUD", setting.baud, f"achieved {setting.actual_baud:.0f} baud, "
                                         f"{100 * setting.error:.2f}% off"),
        (f"{prefix}_BRR", setting.brr, "oversampling 16"),
    ]


def header_defines(tree: ClockTree) -> list:
    """``(name, value, comment)`` rows of board_target.h for ``tree``."""
    f = FAMILIES[tree.family]
    rows = [
        ("BOARD_HSE_HZ", tree.hse_hz, "crystal" if not tree.hse_bypass else "external clock (bypass)"),
        ("BOARD_HSE_BYPASS", int(tree.hse_bypass), "RCC_CR.HSEBYP"),
        ("BOARD_OVERDRIVE", int(tree.overdrive), "over-drive (F4/F7) or VOS0 (H7) before the switch"),
        ("BOARD_HSI_HZ", f.hsi_hz, "the clock after a fallback"),
        ("BOARD_READY_SPINS", math.ceil(READY_TIMEOUT_S * f.hsi_hz / SPIN_CYCLES),
         f"{READY_TIMEOUT_S * 1000:g} ms of polling on the HSI before falling back"),
    ]
    rows += _registers_h7(tree) if tree.family == "stm32h7" else _registers_f(tree)
    return rows + _uart_defines("BOARD_UART", tree.uart) + _uart_defines("BOARD_FALLBACK_UART", tree.fallback_uart)
