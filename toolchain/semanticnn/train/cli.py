"""``snn train``: the click command over ``run_training``."""

import click
import torch

from semanticnn.train.data import default_cifar10_zip
from semanticnn.train.pipeline import run_training

__all__ = ["train_cmd"]


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    return Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


@click.command("train")
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="CIFAR-10 JPEG zip (default: shared/datasets/cifar10-jpeg.zip or $SNN_CIFAR10_ZIP).")
@click.option("--out", type=click.Path(file_okay=False), default="models", show_default=True,
              help="Output folder for encoder.pt, decoder.pt, train_log.json.")
@click.option("--epochs-base", type=int, default=20, show_default=True)
@click.option("--epochs-stage1", type=int, default=4, show_default=True)
@click.option("--epochs-stage2", type=int, default=4, show_default=True)
@click.option("--limit", type=int, default=None, help="Use a class-balanced subset of N training images.")
@click.option("--code-channels", type=int, default=4, show_default=True)
@click.option("--levels", type=int, default=8, show_default=True, help="Quantiser levels (power of two).")
@click.option("--mapping", type=click.Choice(["gray", "natural"]), default="gray", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--ber-max", type=float, default=0.1, show_default=True)
@click.option("--threads", type=int, default=2, show_default=True, help="torch CPU threads.")
def train_cmd(data, out, epochs_base, epochs_stage1, epochs_stage2, limit, code_channels,
              levels, mapping, seed, ber_max, threads):
    """Train the base model, then the split encoder/decoder (stages 1 and 2)."""
    torch.set_num_threads(threads)
    record = run_training(
        data=data if data is not None else default_cifar10_zip(), out=out,
        epochs_base=epochs_base, epochs_stage1=epochs_stage1, epochs_stage2=epochs_stage2,
        limit=limit, code_channels=code_channels, levels=levels, mapping=mapping, seed=seed,
        ber_max=ber_max, progress=_progress(), log=lambda m: click.echo(m, err=True),
    )
    accs = ", ".join(f"BER {k}: {v:.3f}" for k, v in record["split_acc"].items())
    click.echo(f"base {record['base_test_acc']:.3f}; split {accs}; wrote {out}")
