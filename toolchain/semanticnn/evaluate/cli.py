"""``snn eval``: the click command over :func:`semanticnn.evaluate.sweep.run_eval`."""

from pathlib import Path

import click

from semanticnn.channel.packets import DEFAULT_MTU, HEADER_BYTES
from semanticnn.cli_options import toolchain_options

__all__ = ["eval_cmd", "CALIB_IMAGES"]

CALIB_IMAGES = 500  # training images that fix the raw baselines' quantisation range
_TABLE_WIDTH = 140  # columns of the printed table when stdout is not a terminal
_FILE = click.Path(dir_okay=False, path_type=Path)


def evaluate_files(encoder, decoder, bers, channel, samples=None, data=None, out=None, seed=0, log=None,
                   methods=None, base=None, progress=None, seeds=3, mtu=None, packet_loss=0.0, threads=2,
                   int8=None):
    """Load checkpoints and data, run the sweep, write the files to ``out``; returns the report.

    ``seeds`` channel seeds from ``seed``; packets of ``mtu`` bytes (default
    ``DEFAULT_MTU``), lost at ``packet_loss`` in the ``split-lost`` row; ``threads`` torch CPU threads.
    ``int8``: the encoder's ``encoder_int8.tflite``; the split rows then send the device's symbols.
    """
    import torch

    from semanticnn.data import has_split, load_split, read_calibration
    from semanticnn.evaluate.link import check_channel
    from semanticnn.evaluate.report import report_paths, write_report
    from semanticnn.evaluate.sweep import check_options, default_methods, parse_bers, run_eval
    from semanticnn.model.checkpoint import load_base, load_decoder, load_encoder
    from semanticnn.provenance import provenance

    ber_list = parse_bers(bers)
    check_channel(channel, ber_list)
    mtu = DEFAULT_MTU if mtu is None else mtu
    methods = default_methods(packet_loss) if methods is None else tuple(methods)
    check_options(methods, seeds, mtu, packet_loss)
    enc, dec = load_encoder(encoder), load_decoder(decoder)
    device_encoder = None
    if int8 is not None:
        from semanticnn.evaluate.int8 import Int8Encoder

        device_encoder = Int8Encoder(int8, enc)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    test = load_split(data, "test", samples, seed)
    if has_split(data, "train"):
        calib, _ = load_split(data, "train", CALIB_IMAGES, seed)
    else:  # a test-only data set: the shipped CIFAR-10 train images fix the raw baselines' range
        calib = torch.from_numpy(read_calibration(limit=CALIB_IMAGES)[0]).permute(0, 3, 1, 2).contiguous()
    ref = load_base(base) if base is not None else None
    report = run_eval(enc, dec, test, ber_list, channel, seed, calib, log=log, methods=methods, base=ref,
                      progress=progress, seeds=seeds, mtu=mtu, packet_loss=packet_loss, int8=device_encoder)
    report.update(encoder=str(encoder), decoder=str(decoder), base=None if base is None else str(base),
                  provenance=provenance(encoder=encoder, decoder=decoder, base=base))
    if device_encoder is not None:
        report.update(int8={"file": str(int8), "sha256": device_encoder.sha256})
    if out is not None:
        write_report(report, report_paths(out))
    return report


@click.command("eval")
@toolchain_options
@click.option("--encoder", required=True, type=_FILE, help="encoder.pt from `snn train`.")
@click.option("--decoder", required=True, type=_FILE, help="decoder.pt from `snn train`.")
@click.option("--ber", "bers", default="0,1e-3,1e-2,5e-2,1e-1", show_default=True,
              help="Comma-separated bit error rates in [0, 0.5].")
@click.option("--channel", default="iid", show_default=True, help="Bit-error channel model.")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Class-balanced subset of N test images (default: all 5000).")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Test images: a cifar10-jpeg.zip (a test-only one will do), a cifar-10-batches-py folder or "
                   "an ImageFolder tree (default: shared/datasets/cifar10-jpeg.zip or $SNN_CIFAR10_ZIP).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write eval.json, eval.md and accuracy_vs_ber.png here.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the test subset, and the first channel seed.")
@click.option("--seeds", type=int, default=3, show_default=True,
              help="Channel seeds (seed, seed + 1, ...): every row is their mean ± std on the same images.")
@click.option("--mtu", type=int, default=DEFAULT_MTU, show_default=True,
              help=f"Packet size in bytes, {HEADER_BYTES}-byte header included, for the bytes on air.")
@click.option("--packet-loss", type=float, default=0.0, show_default=True,
              help="Fraction of packets lost; above 0 adds a split row with the erasures.")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True, help="Torch CPU threads.")
@click.option("--base", type=_FILE, default=None,
              help="base.pt of the unsplit model: its tail runs the unsplit and raw rows (needed when the "
                   "decoder fine-tuned its tail).")
@click.option("--int8", type=_FILE, default=None,
              help="encoder_int8.tflite that `snn export` wrote for this encoder: the split rows send the symbols "
                   "the device computes (int8 graph, then the firmware's SQ stage), not the float encoder's.")
def eval_cmd(encoder, decoder, bers, channel, samples, data, out, seed, seeds, mtu, packet_loss, threads, base,
             int8):
    """Accuracy vs BER of the split model and its baselines over a bit-level channel."""
    import contextlib

    from rich.console import Console

    from semanticnn.evaluate.code_usage import usage_line
    from semanticnn.evaluate.report import rich_table
    from semanticnn.progress import progress_bar

    progress = progress_bar()
    with progress or contextlib.nullcontext():
        report = evaluate_files(encoder, decoder, bers, channel, samples, data, out, seed, base=base,
                                log=None if progress else lambda m: click.echo(m, err=True), progress=progress,
                                seeds=seeds, mtu=mtu, packet_loss=packet_loss, threads=threads, int8=int8)
    console = Console()
    if not console.is_terminal:  # a pipe or a log file: do not cut the table to 80 columns
        console = Console(width=_TABLE_WIDTH)
    console.print(rich_table(report))
    click.echo(usage_line(report["code_usage"]))
    if out is not None:
        click.echo(f"wrote {out}")
