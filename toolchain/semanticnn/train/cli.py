"""``snn train``: the click command over ``run_training``.

Every ``TrainConfig`` field is a flag (``epochs_base`` -> ``--epochs-base``; booleans
as ``--stage1/--no-stage1``). Flags override ``--config FILE`` (TOML or YAML), which
overrides the defaults.
"""

import dataclasses
import sys

import click

from semanticnn.cli_options import toolchain_options
from semanticnn.train.config import TrainConfig, field_kind

__all__ = ["train_cmd", "snapshot_cmd", "EXIT_TIME_LIMIT"]

EXIT_TIME_LIMIT = 75  # EX_TEMPFAIL of sysexits.h: not done yet, run again (with --resume)

_HELP = {
    "backbone": "resnet8 (MCU-first) | resnet50 | mobilenetv2.",
    "dataset": "cifar10-jpeg | cifar10 | cifar100 | imagefolder.",
    "data": "Dataset path: the JPEG zip, a download root, or an ImageFolder root.",
    "limit": "Use a class-balanced subset of N training images.",
    "levels": "Quantiser levels L (a power of two).",
    "mapping": "Symbol-to-bit mapping: gray | natural.",
    "payload_code": "plain | golay-msb: each symbol's most significant bit protected by Golay(24, 12).",
    "stage1": "Run stage 1 (the denoising decoder).",
    "xai_weight": "Weight of the Integrated-Gradients XAI term in stage 2 (0: off).",
    "train_tail": "Fine-tune the tail on the edge in stage 2.",
    "encoder_hidden": "0: conv k4 s4 to the code (paper); N: two k2 s2 convs with N channels between.",
    "encoder_context": "3x3 convs at 8x8 (dilations 1, 2, 4, ...) before a 1x1 conv to the code, so each "
                       "symbol sees more of the image; needs --encoder-hidden.",
    "encoder_blocks": "A 3x3 stride-2 conv to 8x8 at twice --encoder-hidden channels, then N 3x3 convs "
                      "there, then a 1x1 conv to the code.",
    "encoder_ds_blocks": "The --encoder-blocks layout with N depthwise-separable residual blocks "
                         "(dw 3x3, ReLU, 1x1, add, ReLU) after its 3x3 convs.",
    "kd_weight": "Weight of distillation from the unsplit model's logits in stage 2 (0: off).",
    "feature_weight": "Weight of MSE(rebuilt, clean split feature) in stage 2 (0: the task loss alone).",
    "balance_weight": "Weight of the dead-channel penalty on the code in stages 1 and 2 (0: off): keeps "
                      "every code channel's values on both sides of the middle threshold.",
    "ber_jitter": "Tell the decoder the BER times 2^U(-j, j) in training, so a wrong estimate costs little.",
    "erasure_max": "Lose packets at a rate up to this in training; the decoder gets the erasure mask.",
    "posterior_input": "The decoder also sees each symbol's posterior over the sent symbols, given the BER.",
    "refine_blocks": "Residual 3x3 blocks in the decoder at the code's 8x8 resolution.",
    "base": "Reuse this base.pt instead of training the backbone.",
    "out": "Output folder for encoder.pt, decoder.pt, base.pt, train_log.json.",
    "device": "auto | cpu | cuda | cuda:N.",
    "time_limit": "Minutes this leg may run: stop after the epoch past which another would overrun, with "
                  f"the state saved for --resume, and exit with code {EXIT_TIME_LIMIT} (0: no limit).",
}


def _config_options(command):
    """Add one option per TrainConfig field, default None (= not given)."""
    for field in reversed(dataclasses.fields(TrainConfig)):
        flag = field.name.replace("_", "-")
        kind = field_kind(field.name)
        help_text = _HELP.get(field.name, f"default {field.default!r}")
        if kind is bool:
            command = click.option(f"--{flag}/--no-{flag}", field.name, default=None, help=help_text)(command)
        else:
            command = click.option(f"--{flag}", field.name, type=kind, default=None, help=help_text)(command)
    return command


@click.command("train")
@toolchain_options
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML or YAML file of TrainConfig keys.")
@click.option("--resume", is_flag=True, help="Continue the run saved in OUT/train_state.pt.")
@_config_options
def train_cmd(config_file, resume, **options):
    """Train the base model, then the split encoder/decoder (stages 1 and 2)."""
    from semanticnn.progress import progress_bar
    from semanticnn.train.pipeline import TimeLimitReached, run_training

    try:
        record = run_training(config_file, progress=progress_bar(), log=lambda m: click.echo(m, err=True),
                              resume=resume, **options)
    except TimeLimitReached as stop:
        click.echo(str(stop), err=True)
        sys.exit(EXIT_TIME_LIMIT)
    accs = ", ".join(f"BER {k}: {v:.3f}" for k, v in record["split_acc"].items())
    click.echo(f"base {record['base_test_acc']:.3f}; split {accs}; wrote {record['out']}")


@click.command("snapshot")
@toolchain_options
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder for encoder.pt and decoder.pt.")
def snapshot_cmd(run_dir, out):
    """Write a run's encoder.pt and decoder.pt as they stand after its last epoch (for snn eval mid-run)."""
    from semanticnn.train.snapshot import snapshot

    meta = snapshot(run_dir, out)
    click.echo(f"{meta['stage']} epoch {meta['epoch']} of {run_dir}: wrote {out}/encoder.pt, {out}/decoder.pt")
