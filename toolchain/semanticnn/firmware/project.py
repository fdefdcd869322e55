"""The firmware project around a generated model: static sources, board, config, Makefile.

``render_project(target, manifest) -> {relative path: text}``; the exporter adds the
model files and writes the whole tree at once.
"""

from semanticnn.channel.packets import packet_count
from semanticnn.firmware.render import TEMPLATES_DIR, render_template

__all__ = ["STACK_BYTES", "LATENCY_UNITS", "render_project", "config_context", "make_context"]

STACK_BYTES = 8192
RAW_MAPPING = "raw"  # export.json sq.mapping of a .tflite export: the int8 output bytes are the payload
LATENCY_UNITS = {"instructions": 0, "cycles": 1}
QEMU_PORT = 5555


def config_context(target, manifest) -> dict:
    """Context of snn_config.h.j2, taken from the export manifest."""
    sq = manifest["sq"]
    return {
        "target": target.name,
        "latency_unit": LATENCY_UNITS[target.latency_unit],
        "core_clock_hz": target.core_clock_hz,
        "output_zero_point": manifest["output"]["zero_point"],
        "output_channels": manifest["output"]["shape"][-1],
        "n_symbols": manifest["n_symbols"],
        "levels": sq["levels"],
        "bits_per_symbol": sq["bits_per_symbol"],
        "gray": int(sq["mapping"] == "gray"),
        "sq_stage": int(sq["mapping"] != RAW_MAPPING),
        "prelu_a_q7": sq.get("prelu_slopes_q7", []),
        "bounds_q12": sq.get("boundaries_q12", []),
        "mtu": manifest["mtu"],
        "payload_bytes": manifest["payload_bytes"],
        "max_packets": packet_count(manifest["payload_bytes"], manifest["mtu"]),
        "model_crc": manifest["model_crc32"],
    }


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
        "qemu": {"machine": target.qemu_machine, "port": QEMU_PORT} if target.emulated else None,
        "flash": flash,
    }


def _static_files(folder, dest):
    return {f"{dest}/{p.name}": p.read_text() for p in sorted((TEMPLATES_DIR / folder).iterdir()) if p.is_file()}


def render_project(target, manifest) -> dict:
    """Every file of the project except the model itself."""
    files = {}
    files.update(_static_files("src", "src"))
    files.update(_static_files(f"boards/{target.board}", "board"))
    files["model/snn_config.h"] = render_template("snn_config.h.j2", config_context(target, manifest))
    files["Makefile"] = render_template("Makefile.j2", make_context(target))
    return files
