"""The firmware project around a generated model: static sources, board, config, Makefile.

``render_project(target, manifest) -> {relative path: text}``; the exporter adds the
model files and writes the whole tree at once.
"""

from semanticnn.channel import golay, packets
from semanticnn.channel.packets import packet_count
from semanticnn.firmware.clocks import header_defines
from semanticnn.firmware.render import TEMPLATES_DIR, render_template

__all__ = [
    "STACK_BYTES", "LATENCY_UNITS", "render_project", "config_context", "make_context", "board_context",
    "link_context", "packet_context", "render_packet_header", "PACKET_HEADER_FILE",
]

STACK_BYTES = 8192
RAW_MAPPING = "raw"  # export.json sq.mapping of a .tflite export: the int8 output bytes are the payload
LATENCY_UNITS = {"instructions": "SNN_UNIT_INSTRUCTIONS", "cycles": "SNN_UNIT_CYCLES"}
QEMU_PORT = 5555
COMMON_BOARD = "boards/common"   # every target: startup, sections, Cortex-M timer and caches
STM32_BOARD = "boards/stm32"     # targets with a [clock] table: STM32 GPIO, USART, F4/F7 clock tree
STATIC_SUFFIXES = (".c", ".h", ".ld")
PACKET_HEADER_FILE = "model/snn_packet.h"


def config_context(target, manifest) -> dict:
    """Context of snn_config.h.j2, taken from the export manifest."""
    sq = manifest["sq"]
    return {
        "target": target.name,
        "output_zero_point": manifest["output"]["zero_point"],
        "output_channels": manifest["output"]["shape"][-1],
        "n_symbols": manifest["n_symbols"],
        "levels": sq["levels"],
        "bits_per_symbol": sq["bits_per_symbol"],
        "gray": int(sq["mapping"] == "gray"),
        "golay_msb": int(sq.get("payload_code", "plain") == "golay-msb"),
        "sq_stage": int(sq["mapping"] != RAW_MAPPING),
        "prelu_a_q7": sq.get("prelu_slopes_q7", []),
        "prelu_p_q7": sq.get("prelu_positive_q7", [128] * len(sq.get("prelu_slopes_q7", []))),
        "bounds_q12": sq.get("boundaries_q12", []),
        "mtu": manifest["mtu"],
        "payload_bytes": manifest["payload_bytes"],
        "max_packets": packet_count(manifest["payload_bytes"], manifest["mtu"]),
        "model_crc": manifest["model_crc32"],
    }


def packet_context() -> dict:
    """Context of snn_packet.h.j2: the header format of ``channel.packets`` and its Golay rows."""
    return {
        "version": packets.HEADER_VERSION,
        "header_bytes": packets.HEADER_BYTES,
        "word_bytes": packets.WORD_BYTES,
        "info_bits": golay.INFO_BITS,
        "fragment_bits": packets.FRAGMENT_BITS,
        "max_packets": packets.MAX_PACKETS,
        "parity_rows": list(golay.PARITY_ROWS),
    }


def render_packet_header() -> str:
    """``snn_packet.h``, which ``src/sq.c`` includes (also for host builds of sq.c)."""
    return render_template("snn_packet.h.j2", packet_context())


def make_context(target) -> dict:
    """Context of Makefile.j2 for ``target``."""
    flash = None
    if target.flash_address is not None:
        flash = {"address": target.flash_address, "openocd_cfg": target.openocd_config,
                 "pyocd_target": target.pyocd_target}
    return {
        "target": target.name,
        "cpu_flags": target.cpu_flags,
        "stack_bytes": STACK_BYTES,
        "qemu": {"machine": target.qemu_machine, "port": QEMU_PORT, "serial": target.qemu_serial}
        if target.emulated else None,
        "flash": flash,
    }


def _c_value(name, value):
    """Register values in hex, the rest in decimal."""
    return f"0x{value:08X}u" if "_RCC_" in name or name.endswith("FLASH_ACR") else f"{value}u"


def board_context(target) -> dict:
    """Context of board_target.h.j2: clock tree and SysTick scale of ``target``."""
    tree = target.clock_tree
    per_tick = target.qemu_instructions_per_tick
    return {
        "target": target.name,
        "board": target.board,
        "core_clock_hz": target.core_clock_hz,
        "baud": target.link_baud,
        # Without a DWT, SysTick on the processor clock: instructions under QEMU, else core cycles.
        "systick_num": per_tick.numerator if per_tick else 1,
        "systick_den": per_tick.denominator if per_tick else 1,
        "systick_unit": LATENCY_UNITS["instructions" if per_tick else "cycles"],
        "defines": [(name, _c_value(name, v), note) for name, v, note in header_defines(tree)] if tree else [],
    }


def link_context(target) -> dict:
    """Context of link.ld.j2: the target's memory regions."""
    regions = [
        {"name": name, "attrs": "rx" if name == "FLASH" else "rwx", "origin": f"0x{r.origin:08X}",
         "length": f"0x{r.length:X}"}
        for name, r in target.regions.items()
    ]
    return {"target": target.name, "regions": regions, "fast_region": target.fast_region,
            "ram_region": target.ram_region}


def _static_files(folder, dest):
    paths = sorted((TEMPLATES_DIR / folder).iterdir())
    return {f"{dest}/{p.name}": p.read_text() for p in paths if p.is_file() and p.suffix in STATIC_SUFFIXES}


def render_project(target, manifest) -> dict:
    """Every file of the project except the model itself."""
    files = {}
    files.update(_static_files("src", "src"))
    files.update(_static_files(COMMON_BOARD, "board"))
    if target.clock is not None:
        files.update(_static_files(STM32_BOARD, "board"))
    files.update(_static_files(f"boards/{target.board}", "board"))
    files["board/board_target.h"] = render_template(f"{COMMON_BOARD}/board_target.h.j2", board_context(target))
    files["board/link.ld"] = render_template(f"{COMMON_BOARD}/link.ld.j2", link_context(target))
    files["model/snn_config.h"] = render_template("snn_config.h.j2", config_context(target, manifest))
    files[PACKET_HEADER_FILE] = render_packet_header()
    files["Makefile"] = render_template("Makefile.j2", make_context(target))
    return files
