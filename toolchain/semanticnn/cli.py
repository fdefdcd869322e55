"""The ``snn`` command and its short forms ``snn-export`` and ``snn-bench``.

Each command is a thin wrapper over a library function; the stage packages own
their options (``semanticnn.<stage>.cli``). Every ``SnnError`` becomes one line on
stderr and exit code 2.
"""

import sys

import click

from semanticnn import verbosity
from semanticnn.cli_options import toolchain_options
from semanticnn.errors import SnnError

__all__ = ["main", "export_main", "bench_main", "snn"]


@click.group()
@toolchain_options
def snn():
    """SemanticNN toolchain: train, export, bench and evaluate split models."""


def _register():
    from semanticnn.bench.cli import bench_cmd
    from semanticnn.edge.cli import serve_cmd
    from semanticnn.evaluate.cli import eval_cmd
    from semanticnn.export.cli import export_cmd
    from semanticnn.export.decoder_cli import export_decoder_cmd
    from semanticnn.train.cli import train_cmd

    snn.add_command(train_cmd, "train")
    snn.add_command(export_cmd, "export")
    snn.add_command(export_decoder_cmd, "export-decoder")
    snn.add_command(serve_cmd, "serve")
    snn.add_command(bench_cmd, "bench")
    snn.add_command(eval_cmd, "eval")


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
    _register()
    _run(snn, args)


def export_main(args=None):
    """Entry point of ``snn-export``."""
    from semanticnn.export.cli import export_cmd

    _run(export_cmd, args)


def bench_main(args=None):
    """Entry point of ``snn-bench``."""
    from semanticnn.bench.cli import bench_cmd

    _run(bench_cmd, args)
