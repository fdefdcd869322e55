"""Each board's clock tree, decoded from the rendered board_target.h, against the reference manuals.

The formulas are written here again, from RM0390 (F446), RM0385 (F746) and RM0433 (H743 rev V),
independently of semanticnn.firmware.clocks: PLL output, flash wait states for the voltage range,
bus limits, and the USART baud rate that BRR gives at 921600 (within 2%).
"""

import re

import pytest

from semanticnn.errors import ConfigError
from semanticnn.firmware.clocks import clock_tree, usart_setting
from semanticnn.firmware.project import board_context
from semanticnn.firmware.render import render_template
from semanticnn.firmware.targets import get_target

LINK_BAUD = 921600


def rendered_defines(target):
    """``{name: int}`` of the board_target.h rendered for ``target``."""
    text = render_template("boards/common/board_target.h.j2", board_context(get_target(target)))
    return {name: int(value, 0) for name, value in re.findall(r"#define (BOARD_\w+)\s+(0x[0-9A-F]+|\d+)u", text)}


def f_pll(d, hse_hz):
    """F4/F7 (RM0390 6.3.2, RM0385 5.3.2): f = HSE / PLLM * PLLN / PLLP, with the VCO limits."""
    reg = d["BOARD_RCC_PLLCFGR"]
    m, n, p = reg & 0x3F, (reg >> 6) & 0x1FF, 2 * (((reg >> 16) & 3) + 1)
    assert (reg >> 22) & 1 == 1, "PLL source is the HSE"
    vco_in = hse_hz / m
    assert 1e6 <= vco_in <= 2e6 and 100e6 <= vco_in * n <= 432e6 and 50 <= n <= 432
    return vco_in * n / p


def h7_pll(d, hse_hz):
    """H7 (RM0433 8.7.11-13): f = HSE / DIVM1 * DIVN1 / DIVP1, wide VCO 192-960 MHz (rev V)."""
    m = (d["BOARD_RCC_PLLCKSELR"] >> 4) & 0x3F
    assert d["BOARD_RCC_PLLCKSELR"] & 3 == 2, "PLL source is the HSE"
    divr = d["BOARD_RCC_PLL1DIVR"]
    n, p = (divr & 0x1FF) + 1, ((divr >> 9) & 0x7F) + 1
    ref = hse_hz / m
    rge = (d["BOARD_RCC_PLLCFGR"] >> 2) & 3
    assert [(1e6, 2e6), (2e6, 4e6), (4e6, 8e6), (8e6, 16e6)][rge][0] <= ref <= [2e6, 4e6, 8e6, 16e6][rge]
    assert (d["BOARD_RCC_PLLCFGR"] >> 1) & 1 == 0 and 192e6 <= ref * n <= 960e6, "wide VCO range"
    assert p % 2 == 0 and d["BOARD_RCC_PLLCFGR"] >> 16 & 1, "DIVP1 even and enabled"
    return ref * n / p


def uart_baud(d, prefix):
    """Achieved baud with oversampling 16 (RM0390 25.4.4, RM0385 31.5.4): fck / USARTDIV, USARTDIV = BRR."""
    return d[f"{prefix}_CLOCK_HZ"] / d[f"{prefix}_BRR"]


def test_stm32f4_nucleo_f446re_tree():
    d = rendered_defines("stm32f4")
    assert d["BOARD_HSE_HZ"] == 8_000_000 and d["BOARD_HSE_BYPASS"] == 1  # ST-LINK MCO
    assert f_pll(d, 8e6) == 180e6 == d["BOARD_CORE_CLOCK_HZ"]
    assert d["BOARD_OVERDRIVE"] == 1  # RM0390 5.1.4: above 168 MHz
    # RM0390 Table 5, 2.7-3.6 V: one wait state per 30 MHz of HCLK: 150 < 180 <= 180 -> 5 WS
    assert d["BOARD_FLASH_ACR"] & 0xF == 5
    presc = d["BOARD_RCC_CFGR_PRESC"]
    assert (presc >> 4) & 0xF == 0 and (presc >> 10) & 7 == 0b101 and (presc >> 13) & 7 == 0b100  # /1, /4, /2
    assert d["BOARD_UART_CLOCK_HZ"] == 45_000_000  # USART2 on APB1 (max 45 MHz)
    assert d["BOARD_UART_BAUD"] == LINK_BAUD
    assert abs(uart_baud(d, "BOARD_UART") / LINK_BAUD - 1) <= 0.02
    # on the 16 MHz HSI no USART divider makes 921600 within 2%: 460800 it is
    assert d["BOARD_FALLBACK_UART_BAUD"] == 460800
    assert abs(uart_baud(d, "BOARD_FALLBACK_UART") / 460800 - 1) <= 0.02


def test_stm32f7_disco_tree():
    d = rendered_defines("stm32f7")
    assert d["BOARD_HSE_HZ"] == 25_000_000 and d["BOARD_HSE_BYPASS"] == 0  # UM1907: X2 crystal
    assert f_pll(d, 25e6) == 216e6 == d["BOARD_CORE_CLOCK_HZ"]
    assert d["BOARD_OVERDRIVE"] == 1  # RM0385 4.1.4: above 180 MHz
    assert d["BOARD_FLASH_ACR"] & 0xF == 7  # RM0385 Table 5, 2.7-3.6 V: 210 < 216 -> 7 WS
    assert d["BOARD_FLASH_ACR"] & (1 << 9), "ART accelerator on"
    assert d["BOARD_UART_CLOCK_HZ"] == 108_000_000  # USART1 on APB2 (max 108 MHz)
    assert d["BOARD_UART_BAUD"] == LINK_BAUD
    assert abs(uart_baud(d, "BOARD_UART") / LINK_BAUD - 1) <= 0.02
    assert d["BOARD_FALLBACK_UART_BAUD"] == 460800  # 16 MHz HSI: 921600 would be 2.1% off
    assert abs(uart_baud(d, "BOARD_FALLBACK_UART") / 460800 - 1) <= 0.02


def test_stm32h7_nucleo_h743zi2_tree():
    d = rendered_defines("stm32h7")
    assert d["BOARD_HSE_HZ"] == 8_000_000 and d["BOARD_HSE_BYPASS"] == 1  # STLINK-V3E MCO
    assert h7_pll(d, 8e6) == 480e6 == d["BOARD_CORE_CLOCK_HZ"]
    assert d["BOARD_OVERDRIVE"] == 1  # VOS0: 480 MHz needs it (rev V)
    assert (d["BOARD_RCC_D1CFGR"] >> 8) & 0xF == 0 and d["BOARD_RCC_D1CFGR"] & 0xF == 0b1000  # cpu /1, AXI /2
    # RM0433 Table 17, VOS0: 225 < AXI 240 MHz <= 240 -> 4 wait states, WRHIGHFREQ 2
    assert d["BOARD_FLASH_ACR"] == 4 | 2 << 4
    assert d["BOARD_UART_CLOCK_HZ"] == 120_000_000  # USART3 on PCLK1, 240 / 2
    for prefix in ("BOARD_UART", "BOARD_FALLBACK_UART"):
        assert d[f"{prefix}_BAUD"] == LINK_BAUD
        assert abs(uart_baud(d, prefix) / LINK_BAUD - 1) <= 0.02


def test_qemu_target_has_no_clock_tree():
    d = rendered_defines("qemu-m7")
    assert d == {"BOARD_CORE_CLOCK_HZ": 25_000_000, "BOARD_BAUD": 115200, "BOARD_SYSTICK_NUM": 40,
                 "BOARD_SYSTICK_DEN": 1}


def test_impossible_clock_is_a_config_error():
    clock = {"family": "stm32f4", "hse_hz": 8_000_000, "hse_bypass": True, "usart_bus": "apb1"}
    with pytest.raises(ConfigError) as e:
        clock_tree(clock, 181_000_000, LINK_BAUD)
    assert str(e.value) == "core_clock_hz 181000000 is above the 180000000 Hz of stm32f4"
    with pytest.raises(ConfigError) as e:
        clock_tree({**clock, "hse_hz": 7_777_777}, 180_000_000, LINK_BAUD)
    assert str(e.value) == ("no PLL setting gives 180000000 Hz from a 7777777 Hz HSE on stm32f4: "
                            "change core_clock_hz in targets.toml")


def test_usart_setting_steps_down_to_a_rate_the_clock_makes():
    # 16 MHz / 921600 = 17.36: BRR 17 is 2.1% fast, 18 is 3.5% slow; 16 MHz / 460800 = 34.72: BRR 35, 0.8%
    setting = usart_setting(16_000_000, LINK_BAUD)
    assert (setting.baud, setting.brr) == (460800, 35)
    assert usart_setting(108_000_000, LINK_BAUD).brr == 117
    with pytest.raises(ConfigError) as e:
        usart_setting(1_000_000, LINK_BAUD)
    assert str(e.value) == "a 1000000 Hz USART clock makes none of (921600, 460800, 230400, 115200) within 2%"
