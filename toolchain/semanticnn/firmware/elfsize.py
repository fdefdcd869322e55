"""Flash and static RAM use of a firmware ELF, read with pyelftools.

Counted over allocated sections (``SHF_ALLOC``)::

    flash = sum of sizes of allocated sections with contents in the image
            (not SHT_NOBITS): .vectors, .text, .rodata, .ARM.exidx, .data (its load image)
    ram   = sum of sizes of allocated writable sections (SHF_WRITE):
            .data, .bss, .stack, heap

This is ``text + data`` and ``data + bss`` of ``arm-none-eabi-size``, with the
stack region counted as RAM because the linker script reserves it as a section.
"""

from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from semanticnn.errors import ConfigError

__all__ = ["section_sizes", "flash_bytes", "ram_static_bytes"]


def section_sizes(path) -> dict[str, tuple[int, bool, bool]]:
    """``{name: (size, in_flash, in_ram)}`` for every allocated section of the ELF."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no ELF file at {path}: build the firmware first")
    out = {}
    with path.open("rb") as f:
        for sec in ELFFile(f).iter_sections():
            flags = sec["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            in_flash = sec["sh_type"] != "SHT_NOBITS"
            in_ram = bool(flags & SH_FLAGS.SHF_WRITE)
            out[sec.name] = (sec["sh_size"], in_flash, in_ram)
    return out


def flash_bytes(path) -> int:
    """Bytes the image occupies in flash: allocated sections that are not NOBITS."""
    return sum(size for size, in_flash, _ in section_sizes(path).values() if in_flash)


def ram_static_bytes(path) -> int:
    """Bytes of RAM reserved at link time: allocated writable sections (data, bss, stack)."""
    return sum(size for size, _, in_ram in section_sizes(path).values() if in_ram)
