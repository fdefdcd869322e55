"""The ``snn`` command and its short forms ``snn-export`` and ``snn-bench``.

Each command is a thin wrapper over a library function; the stage packages own
their options (``semanticnn.<stage>.cli``). Every ``SnnError`` becomes one line on
stderr and exit code 2.
"""

import importlib
import sys

import click

from semanticnn import verbosity
from semanticnn.cli_options import toolchain_options
from semanticnn.errors import SnnError

__all__ = ["main", "export_main", "bench_main", "snn"]


# name -> (module, attribute). A command's module is imported only when that command runs
# (or for --help), so `snn train` needs neither the converter nor the TFLite-Micro
# interpreter, and `snn --version` starts fast.
COMMANDS = {
    "train": ("semanticnn.train.cli", "train_cmd"),
    "snapshot": ("semanticnn.train.cli", "snapshot_cmd"),
    "export": ("semanticnn.export.cli", "export_cmd"),
    "export-decoder": ("semanticnn.export.decoder_cli", "export_decoder_cmd"),
    "serve": ("semanticnn.edge.cli", "serve_cmd"),
    "bench": ("semanticnn.bench.cli", "bench_cmd"),
    "eval": ("semanticnn.evaluate.cli", "eval_cmd"),
}


class _LazyGroup(click.Group):
    """A group whose subcommands come from ``COMMANDS``, imported on first use."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=_LazyGroup)
@toolchain_options
def snn():
    """SemanticNN toolchain: train, export, bench and evaluate split models."""


def _run(command, args=None):
    try:
        with verbosity.restored():  # -q ends here, before an error is printed
            command.main(args=args, standalone_mode=False)
    except SnnError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)


def main(args=None):
    """Entry point of ``snn``."""
    _run(snn, args)


def export_main(args=None):
    """Entry point of ``snn-export``."""
    from semanticnn.export.cli import export_cmd

    _run(export_cmd, args)


def bench_main(args=None):
    """Entry point of ``snn-bench``."""
    from semanticnn.bench.cli import bench_cmd

    _run(bench_cmd, args)
