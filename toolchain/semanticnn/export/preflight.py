"""What an export checks before its long work: the MTU, the code mapping and the output directory.

The MTU is bounded below by the packet header (``channel.packets``): a frame has at most
``MAX_PACKETS`` (64) packets, so ``mtu >= ceil(payload / 64) + HEADER_BYTES``
(``check_packets``, once the model's bitstream size is known), and above by one packet
per serial frame (``MAX_MTU``).

Each check is cheap and raises a one-line :class:`~semanticnn.errors.ConfigError`, so a
bad argument stops ``snn-export`` in a moment rather than after calibration.
"""

from semanticnn.bench.framing import MAX_RESULT_BYTES
from semanticnn.channel.bits import MAPPINGS
from semanticnn.channel.packets import HEADER_BYTES, check_packet_count, min_mtu
from semanticnn.errors import ConfigError
from semanticnn.firmware.runtimes import find_trees, get_runtime
from semanticnn.firmware.targets import get_target
from semanticnn.output_paths import check_project_dir

__all__ = ["MANIFEST_FILE", "MAX_MTU", "check_export", "check_mtu", "check_packets", "check_mapping",
           "check_destination"]

MANIFEST_FILE = "export.json"
"""The manifest every export writes; its presence marks a directory as an earlier export."""

MAX_MTU = MAX_RESULT_BYTES
"""Largest packet: a PACKET response carries one whole packet after its status byte in one frame."""


def check_mtu(mtu):
    """Raise ConfigError unless a packet of ``mtu`` bytes holds payload and fits one PACKET response."""
    if not HEADER_BYTES < mtu <= MAX_MTU:
        raise ConfigError(
            f"--mtu {mtu} out of range: packets need {HEADER_BYTES + 1} to {MAX_MTU} bytes "
            f"(a {HEADER_BYTES}-byte header, and one packet per serial frame)"
        )


def check_packets(payload_bytes, mtu):
    """Raise ConfigError unless a ``payload_bytes`` bitstream fits the header's packet count at ``mtu``."""
    if min_mtu(payload_bytes) > MAX_MTU:
        raise ConfigError(f"the model's {payload_bytes}-byte bitstream needs packets of {min_mtu(payload_bytes)} "
                          f"bytes or more, above the {MAX_MTU}-byte limit of one serial frame: shrink the model's "
                          "output")
    check_packet_count(payload_bytes, mtu, "--mtu")


def check_mapping(mapping, checkpoint):
    """Raise ConfigError unless the checkpoint's symbol -> code word ``mapping`` is one the firmware has."""
    if mapping not in MAPPINGS:
        choices = ", ".join(repr(m) for m in MAPPINGS)
        raise ConfigError(
            f"{checkpoint} has mapping {mapping!r}, which the firmware does not implement: "
            f"retrain with mapping {choices}"
        )


def check_destination(out_dir, force=False):
    """Raise ConfigError unless ``out_dir`` is new, empty or an earlier export (``force``: replace anyway)."""
    check_project_dir(out_dir, MANIFEST_FILE, force)


def check_export(target_name, runtime, runtime_trees, mtu, out_dir, force):
    """The checks every export runs first; returns ``(target, runtime, source trees)``."""
    target = get_target(target_name)
    chosen_runtime = get_runtime(runtime)
    trees = find_trees(chosen_runtime, runtime_trees)
    check_mtu(mtu)
    check_destination(out_dir, force)
    return target, chosen_runtime, trees
