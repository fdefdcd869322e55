"""What the commands print: -q only errors, -v third-party logs, --version; progress bars on a terminal only."""

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from rich.console import Console
from rich.progress import Progress

from semanticnn import __version__, verbosity
from semanticnn.cli import _run
from semanticnn.cli_options import toolchain_options
from semanticnn.errors import ConfigError
from semanticnn.progress import advancer, progress_bar

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@click.command()
@toolchain_options
@click.option("--fail", is_flag=True)
def talker(fail):
    """Prints on both streams, reports what it sees, and fails on request."""
    click.echo("result line")
    click.echo("log line", err=True)
    click.echo(f"level={verbosity.level()} TF_CPP_MIN_LOG_LEVEL={os.environ.get('TF_CPP_MIN_LOG_LEVEL')} "
               f"pytree={logging.getLogger('torch.utils._pytree').level}", err=True)
    if fail:
        raise ConfigError("bad value: use a good one")


@pytest.fixture()
def silenced(monkeypatch):
    """Third-party logs silenced by us (not by the user), as a fresh ``import semanticnn`` leaves them."""
    for name in verbosity.QUIET_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    verbosity.unsilence_third_party()
    verbosity.silence_third_party()
    yield
    verbosity.silence_third_party()


def test_default_prints_ours_and_keeps_third_party_silenced(silenced, capsys):
    _run(talker, [])
    out, err = capsys.readouterr()
    assert out == "result line\n"
    assert err == f"log line\nlevel=normal TF_CPP_MIN_LOG_LEVEL=2 pytree={logging.ERROR}\n"


def test_quiet_prints_nothing_on_success(silenced, capsys):
    _run(talker, ["-q"])
    assert capsys.readouterr() == ("", "")


def test_quiet_still_prints_the_error(silenced, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run(talker, ["--quiet", "--fail"])
    assert exit_info.value.code == 2
    assert capsys.readouterr() == ("", "error: bad value: use a good one\n")
    assert sys.stdout is not None and verbosity.level() == verbosity.NORMAL


def test_verbose_unsilences_for_the_command_only(silenced, capsys):
    _run(talker, ["-v"])
    assert capsys.readouterr().err.splitlines()[1] == f"level=verbose TF_CPP_MIN_LOG_LEVEL=None pytree={logging.NOTSET}"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert logging.getLogger("torch.utils._pytree").level == logging.ERROR


def test_user_set_variables_are_left_alone(monkeypatch, capsys):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    verbosity.unsilence_third_party()
    verbosity.silence_third_party()
    _run(talker, ["-v"])
    assert "TF_CPP_MIN_LOG_LEVEL=0 " in capsys.readouterr().err
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_verbose_and_quiet_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run(talker, ["-v", "-q"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith("Error: -v/--verbose and -q/--quiet exclude each other: pick one\n")


def test_version_names_the_commit_in_a_checkout():
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    result = subprocess.run([BIN / "snn", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith(f"snn {__version__} (git {commit[:8]}")
    assert result.stderr == ""


def test_progress_bar_only_on_a_terminal():
    assert progress_bar(Console(file=io.StringIO(), force_terminal=False)) is None
    assert type(progress_bar(Console(file=io.StringIO(), force_terminal=True))) is Progress
    advancer(None, "eval", 10)(3)  # no bar: counting is a no-op


def test_eval_progress_counts_every_image():
    from semanticnn.evaluate.sweep import run_eval
    from semanticnn.model.checkpoint import load_decoder, load_encoder

    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (20, 3, 32, 32), dtype=np.uint8))
    progress = Progress(console=Console(file=io.StringIO(), force_terminal=True))
    with progress:
        run_eval(load_encoder(ROOT / "models" / "encoder.pt"), load_decoder(ROOT / "models" / "decoder.pt"),
                 (images, torch.zeros(20, dtype=torch.int64)), (0.0,), batch_size=8, methods=("split",),
                 progress=progress)
    (task,) = progress.tasks
    assert (task.description, task.total, task.completed) == ("eval", 20, 20)


def test_every_command_takes_version_verbose_and_quiet():
    from semanticnn.bench.cli import bench_cmd
    from semanticnn.cli import COMMANDS, snn
    from semanticnn.export.cli import export_cmd

    commands = {"snn": snn, "snn-export": export_cmd, "snn-bench": bench_cmd,
                **{f"snn {name}": snn.get_command(None, name) for name in COMMANDS}}
    for name, command in commands.items():
        flags = {opt for param in command.params for opt in param.opts}
        assert {"--version", "-v", "--verbose", "-q", "--quiet"} <= flags, name


def test_snn_train_does_not_import_the_exporter():
    """A training machine needs neither the converter nor the TFLite-Micro interpreter."""
    code = ("import sys; from semanticnn.cli import main\n"
            "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('tflite_micro', 'semanticnn.export'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"
