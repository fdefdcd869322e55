"""The target registry, read from ``targets.toml`` beside this module."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from semanticnn.errors import ConfigError

__all__ = ["Target", "TARGETS", "get_target"]


@dataclass(frozen=True)
class Target:
    """One firmware target; fields are the keys of its table in targets.toml."""

    name: str
    description: str
    board: str
    cpu_flags: str
    flash_bytes: int
    ram_bytes: int
    core_clock_hz: int
    latency_unit: str
    dsp: bool = False
    qemu_machine: str | None = None
    flash_address: str | None = None
    openocd_config: str | None = None
    pyocd_target: str | None = None

    @property
    def emulated(self) -> bool:
        """Whether the target runs in QEMU."""
        return self.qemu_machine is not None


def _load():
    with open(Path(__file__).with_name("targets.toml"), "rb") as f:
        table = tomllib.load(f)
    return {name: Target(name=name, **fields) for name, fields in table.items()}


TARGETS = _load()


def get_target(name: str) -> Target:
    """The target called ``name``, or a ConfigError listing the known ones."""
    try:
        return TARGETS[name]
    except KeyError:
        raise ConfigError(f"unknown target {name!r}: choose one of {', '.join(sorted(TARGETS))}") from None
