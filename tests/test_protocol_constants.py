"""The constants of the C firmware (src/protocol.h) and of snn-bench are the same numbers."""

import re

from semanticnn.bench.commands import Cache, ClockSource, Cmd, LatencyUnit, Status
from semanticnn.firmware.render import TEMPLATES_DIR

PROTOCOL_H = (TEMPLATES_DIR / "src" / "protocol.h").read_text()


def c_enum(name):
    body = re.search(rf"enum {name} \{{(.*?)\}};", PROTOCOL_H, re.S).group(1)
    return {k: int(v, 0) for k, v in re.findall(r"(SNN_\w+) = (0x[0-9A-F]+|\d+),", body)}


def test_latency_units_match():
    assert c_enum("snn_latency_unit") == {f"SNN_UNIT_{u.name}": u.value for u in LatencyUnit}


def test_clock_sources_match():
    assert c_enum("snn_clock_source") == {f"SNN_CLOCK_{c.name}": c.value for c in ClockSource}


def test_cache_bits_match():
    bits = {k: int(v, 16) for k, v in re.findall(r"#define (SNN_CACHE_\w+) (0x[0-9A-F]+)u", PROTOCOL_H)}
    assert bits == {f"SNN_CACHE_{c.name}": c.value for c in Cache}


def test_statuses_match():
    names = {"UNKNOWN_COMMAND": "UNKNOWN_CMD", "BAD_ARGUMENT": "BAD_ARG"}  # the C spells two shorter
    assert c_enum("snn_status") == {f"SNN_STATUS_{names.get(s.name, s.name)}": s.value for s in Status}


def test_commands_match():
    assert c_enum("snn_cmd") == {f"SNN_CMD_{c.name}": c.value for c in Cmd}
