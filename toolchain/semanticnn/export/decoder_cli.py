"""``snn export-decoder DECODER.pt -o DIR``."""

from pathlib import Path

import click

from semanticnn.channel.packets import DEFAULT_MTU
from semanticnn.cli_options import toolchain_options

__all__ = ["export_decoder_cmd"]

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("export-decoder")
@toolchain_options
@click.argument("checkpoint", type=_FILE)
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("edge"),
              show_default=True, help="Folder to write decoder.onnx and decoder.json to.")
@click.option("--encoder", type=_FILE, default=None,
              help="encoder.pt that encodes the check images (default: encoder.pt beside the decoder).")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Check on this data set's test images (default: the shipped calibration images).")
@click.option("--mtu", type=int, default=DEFAULT_MTU, show_default=True,
              help="Packet size the devices send, header included (as given to snn-export).")
@click.option("--force", is_flag=True, help="Replace -o DIR even if it holds files that are not an earlier export.")
def export_decoder_cmd(checkpoint, out_dir, encoder, data, mtu, force):
    """Export a decoder checkpoint to ONNX for the edge, checked on onnxruntime."""
    from semanticnn.export.decoder import export_decoder

    manifest = export_decoder(checkpoint, out_dir, encoder=encoder, data=data, mtu=mtu, force=force)
    check = manifest["check"]
    click.echo(f"wrote {out_dir}/decoder.onnx and decoder.json: {manifest['n_symbols']} symbols in "
               f"{manifest['max_packets']} packets of mtu {manifest['mtu']}; onnxruntime vs PyTorch on "
               f"{check['samples']} images: argmax agreement {check['argmax_agreement']:.3f}, "
               f"max logit difference {check['max_logit_diff']:.1e}")
