"""The target registry, read from ``targets.toml`` beside this module."""

import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from semanticnn.errors import ConfigError
from semanticnn.firmware.clocks import ClockTree, clock_tree

__all__ = ["Region", "Target", "TARGETS", "get_target"]

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class Region:
    """One memory region of the part: ``origin`` and ``length`` in bytes."""

    origin: int
    length: int


@dataclass(frozen=True)
class Target:
    """One firmware target; fields are the keys of its table in targets.toml."""

    name: str
    description: str
    board: str
    cpu_flags: str
    core_clock_hz: int
    baud: int
    latency_unit: str
    memory: dict = field(default_factory=dict)
    ram_region: str = "RAM"
    fast_region: str = "RAM"
    dsp: bool = False
    clock: dict | None = None
    qemu_machine: str | None = None
    qemu_serial: int = 0
    qemu_systick_hz: int | None = None
    flash_address: str | None = None
    openocd_config: str | None = None
    pyocd_target: str | None = None

    @property
    def emulated(self) -> bool:
        """Whether the target's ELF also boots in QEMU."""
        return self.qemu_machine is not None

    @property
    def regions(self) -> dict:
        """``{name: Region}`` of the ``[memory]`` table."""
        return {name: Region(int(r["origin"]), int(r["length"])) for name, r in self.memory.items()}

    @property
    def flash_bytes(self) -> int:
        """Size of the FLASH region, which holds the image."""
        return self.regions["FLASH"].length

    @property
    def fast_bytes(self) -> int:
        """Size of the region that holds the stack and the activations (DTCM where there is one)."""
        return self.regions[self.fast_region].length

    @property
    def ram_bytes(self) -> int:
        """RAM the firmware may use: the data region, plus the fast region when it is another one."""
        names = {self.ram_region, self.fast_region}
        return sum(self.regions[n].length for n in names)

    @property
    def clock_tree(self) -> ClockTree | None:
        """The board's clock tree (``None`` for a target without a ``[clock]`` table)."""
        if self.clock is None:
            return None
        return clock_tree(self.clock, self.core_clock_hz, self.baud)

    @property
    def link_baud(self) -> int:
        """Baud rate of the board's UART after a normal start."""
        tree = self.clock_tree
        return tree.uart.baud if tree else self.baud

    @property
    def fallback_baud(self) -> int:
        """Baud rate after the board fell back to its HSI (the link baud when it has no clock tree)."""
        tree = self.clock_tree
        return tree.fallback_uart.baud if tree else self.baud

    @property
    def qemu_instructions_per_tick(self) -> Fraction | None:
        """Instructions per SysTick tick under QEMU ``-icount shift=0`` (1 ns an instruction)."""
        if self.qemu_systick_hz is None:
            return None
        return Fraction(NS_PER_S, self.qemu_systick_hz)


def _check(target):
    for key in ("FLASH", target.ram_region, target.fast_region):
        if key not in target.memory:
            raise ConfigError(f"targets.toml [{target.name}.memory] lacks region {key}: add it")
    return target


def _load():
    with open(Path(__file__).with_name("targets.toml"), "rb") as f:
        table = tomllib.load(f)
    return {name: _check(Target(name=name, **fields)) for name, fields in table.items()}


TARGETS = _load()


def get_target(name: str) -> Target:
    """The target called ``name``, or a ConfigError listing the known ones."""
    try:
        return TARGETS[name]
    except KeyError:
        raise ConfigError(f"unknown target {name!r}: choose one of {', '.join(sorted(TARGETS))}") from None
