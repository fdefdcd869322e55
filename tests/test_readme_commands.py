"""Every command in the README's tables exists with the flags it shows: a renamed flag fails here.

Each ``snn...`` command runs through its console-script entry point (from pyproject.toml)
with ``--help`` appended: click rejects an unknown flag before it prints help. Every flag the
row shows, in the command or in backticks in its description, must be in that help. Error
hints that name a flag are checked the same way.
"""

import importlib
import re
import shlex
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
ROW = re.compile(r"^\| `(?P<command>[^`]+)` \|(?P<description>.*)\|$")
FLAG = re.compile(r"(?<![\w-])--?[a-zA-Z][\w-]*")


def _rows():
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match["command"].replace("\\|", "|"), match["description"]))
    return rows


def _entry_point(script):
    module, function = SCRIPTS[script].split(":")
    return getattr(importlib.import_module(module), function)


def _flags(command, description):
    shown = FLAG.findall(command)
    shown += [flag for code in re.findall(r"`([^`]+)`", description) for flag in FLAG.findall(code)]
    return sorted(set(shown))


def test_readme_has_command_tables():
    scripts = {shlex.split(command)[0] for command, _ in _rows()}
    assert {"snn", "snn-export", "snn-bench", "make"} <= scripts


@pytest.mark.parametrize(("command", "description"), [row for row in _rows() if row[0].startswith("snn")],
                         ids=lambda value: value.split(" --")[0] if value.startswith("snn") else "")
def test_command_accepts_its_flags(command, description, capsys):
    script, *args = shlex.split(command)
    assert script in SCRIPTS, f"README shows `{script}`, pyproject.toml installs {sorted(SCRIPTS)}"
    try:
        _entry_point(script)(args + ["--help"])
    except SystemExit as exc:
        pytest.fail(f"`{command} --help` exits {exc.code}: {capsys.readouterr().err.strip()}")
    help_text = capsys.readouterr().out
    assert help_text.startswith("Usage: ")
    missing = [flag for flag in _flags(command, description) if not re.search(rf"(?<![\w-]){flag}\b", help_text)]
    assert missing == [], f"`{command}`: {missing} not in its --help"


@pytest.mark.parametrize("target", [shlex.split(c)[1] for c, _ in _rows() if re.fullmatch(r"make \w+", c)])
def test_make_target_exists(target):
    assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.MULTILINE), f"Makefile has no `{target}:`"


def test_int8_closeness_hint_names_a_flag_snn_export_has(capsys):
    from semanticnn.errors import ExportError
    from semanticnn.export.checks import check_float_closeness

    ones = np.ones((2, 4), np.float32)
    with pytest.raises(ExportError) as info:
        check_float_closeness(ones * 2, ones, np.zeros(8, np.int64), np.ones(8, np.int64))
    assert str(info.value) == (
        "int8 model strays from the float encoder (nrmse 1.000 > 0.15 or symbol agreement 0.000 < 0.85): "
        "calibrate on the encoder's own training images (--data), or retrain it: its activations do not survive int8"
    )
    _entry_point("snn-export")(["--help"])
    assert "--data" in capsys.readouterr().out
