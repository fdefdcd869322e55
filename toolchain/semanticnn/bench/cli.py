"""``snn bench`` / ``snn-bench``: a thin wrapper over :func:`semanticnn.bench.run.run_bench`."""

from pathlib import Path

import click

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
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Test images: a cifar10-jpeg.zip, a cifar-10-batches-py folder or an ImageFolder tree "
                   "(default: the CIFAR-10 zip beside the checkout, else the shipped calibration images).")
@click.option("--accuracy", type=click.IntRange(min=1), default=None,
              help="Instead of timing: N test images through the board, the bit channel and the onnxruntime "
                   "receiver; accuracy next to the float model's.")
@click.option("--ber", "bers", default="0,1e-2", show_default=True, help="BERs of --accuracy, comma-separated.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Channel seeds of --accuracy: the board's packets meet the channel again for each (no re-run); "
                   "accuracy is their mean, snn eval's row uses the same seeds.")
@click.option("--decoder", type=click.Path(dir_okay=False, path_type=Path), default=Path("models/decoder.pt"),
              show_default=True, help="decoder.pt of --accuracy (its encoder.pt beside it is the float reference).")
@click.option("--baud", type=int,
              help="Baud rate of --port [default: the target's in export.json, then its HSI-fallback rate].")
def bench_cmd(qemu_dir, port, project_dir, samples, json_out, markdown_out, baud, data, accuracy, bers, seeds,
              decoder):
    """Run test images on QEMU or a board, check every packet bit for bit, report latency and memory."""
    from semanticnn.bench.run import run_bench, select_board

    project, port = select_board(qemu_dir, port, project_dir)
    if accuracy is not None:
        from semanticnn.bench.accuracy import accuracy_bench
        from semanticnn.evaluate.sweep import parse_bers

        accuracy_bench(project, accuracy, parse_bers(bers), decoder, port=port, data=data, baud=baud,
                       json_out=json_out, markdown_out=markdown_out, seeds=seeds)
        return
    run_bench(project, samples, port=port, qemu=port is None, json_out=json_out, markdown_out=markdown_out,
              baud=baud, data=data)
