"""``snn bench`` / ``snn-bench``: a thin wrapper over :func:`semanticnn.bench.run.run_bench`."""

from pathlib import Path

import click

from semanticnn.bench.timeouts import DEFAULT_BAUD
from semanticnn.cli_options import toolchain_options

__all__ = ["bench_cmd"]

_DIR = click.Path(file_okay=False, path_type=Path)


@click.command()
@toolchain_options
@click.option("--qemu", "qemu_dir", type=_DIR, help="Exported project to build and boot in QEMU.")
@click.option("--port", help="Serial port (or socket:// URL) of a flashed board.")
@click.option("--project", "project_dir", type=_DIR, help="Exported project the board on --port runs.")
@click.option("--samples", default=20, show_default=True, type=click.IntRange(min=1),
              help="CIFAR-10 test images to run.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report as JSON here.")
@click.option("--markdown", "markdown_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report as a Markdown table here.")
@click.option("--baud", default=DEFAULT_BAUD, show_default=True, type=int, help="Baud rate of --port.")
def bench_cmd(qemu_dir, port, project_dir, samples, json_out, markdown_out, baud):
    """Run test images on QEMU or a board, check every packet bit for bit, report latency and memory."""
    from semanticnn.bench.run import run_bench, select_board

    project, port = select_board(qemu_dir, port, project_dir)
    run_bench(project, samples, port=port, qemu=port is None, json_out=json_out, markdown_out=markdown_out,
              baud=baud)
