"""``snn-export ENCODER.pt --target T -o DIR``."""

from pathlib import Path

import click

from semanticnn.channel.packets import HEADER_BYTES
from semanticnn.cli_options import toolchain_options
from semanticnn.export.pipeline import DEFAULT_MTU, export_encoder
from semanticnn.export.preflight import MAX_MTU
from semanticnn.firmware.runtimes import DEFAULT_RUNTIME, RUNTIMES
from semanticnn.firmware.targets import TARGETS

__all__ = ["export_cmd"]


@click.command("export")
@toolchain_options
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--target", default="stm32f7", show_default=True,
              help=f"One of: {', '.join(sorted(TARGETS))}.")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Project directory to write (default: export-<target>).")
@click.option("--mtu", type=int, default=DEFAULT_MTU, show_default=True,
              help=f"Largest packet in bytes, header included, {HEADER_BYTES + 1} to {MAX_MTU} "
                   "(51: LoRa EU868 SF12).")
@click.option("--force", is_flag=True, help="Replace -o DIR even if it holds files that are not an earlier export.")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Training images for calibration: a cifar10-jpeg.zip, a cifar-10-batches-py folder or an "
                   "ImageFolder tree (default: the calibration images shipped in the package).")
@click.option("--runtime", type=click.Choice(list(RUNTIMES)), default=DEFAULT_RUNTIME, show_default=True,
              help="What runs the graph: our generated C, CMSIS-NN kernels on our plan, or the TFLite Micro "
              "interpreter with its reference or CMSIS-NN kernels.")
@click.option("--cmsis-nn", "cmsis_nn_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="CMSIS-NN source tree for --runtime cmsis-nn and tflm-cmsis-nn (default: $CMSIS_NN_DIR).")
@click.option("--tflm", "tflm_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="TFLite Micro source tree for --runtime tflm and tflm-cmsis-nn (default: $TFLM_DIR).")
def export_cmd(checkpoint, target, out_dir, mtu, force, data, runtime, cmsis_nn_dir, tflm_dir):
    """Export an encoder checkpoint to an int8 model and a firmware project."""
    out_dir = out_dir or Path(f"export-{target}")
    trees = {"--cmsis-nn": cmsis_nn_dir, "--tflm": tflm_dir}
    manifest = export_encoder(checkpoint, target, out_dir, mtu=mtu, data=data, runtime=runtime, runtime_trees=trees,
                              force=force)
    c = manifest["checks"]
    click.echo(
        f"wrote {out_dir}/ for {manifest['target']} ({manifest['runtime']}): {len(manifest['layers'])} int8 layers, "
        f"{manifest['payload_bytes']} B payload ({manifest['compression_vs_float32']}x vs float32), "
        f"arena {manifest['activation_bytes']} B (TFLM {manifest['tflm_arena_bytes']} B); "
        f"bit-exact C vs TFLM {c['generated_c_vs_tflm']['bit_exact']}/{c['generated_c_vs_tflm']['samples']}"
        + (f", symbol agreement with float {c['int8_vs_float']['symbol_agreement']:.3f}" if "int8_vs_float" in c
           else " (raw int8 output, no SQ stage)")
    )
