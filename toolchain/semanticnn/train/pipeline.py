"""``run_training``: base model -> stage 1 -> stage 2 -> checkpoints + train_log.json.

Two-stage Feature-augmentation Learning on top of a trained backbone:

* base:    the unsplit backbone, ``CE(model(aug(x)), y)``, written to ``OUT/base.pt``
           (skipped when ``base`` names a ``semanticnn-base`` checkpoint to reuse).
* stage 1: the decoder as a denoising autoencoder on channel-corrupted codes,
           ``MSE(dec(c[flip(idx)], BER), stem(x))`` at a random BER per sample
           (``+ balance_weight * code_balance``, the dead-channel penalty, in both stages).
* stage 2: ``CE(tail(f_hat), y) + feature_weight * MSE(f_hat, stem(x)) + kd_weight * KD + xai_weight * XAI``,
           the tail frozen (or fine-tuned with ``train_tail``); KD distils the unsplit model's
           logits on the clean split feature.

Writes ``encoder.pt`` and ``decoder.pt`` (docs/design.md format) after each codec
stage, ``train_log.json`` at the end, and ``train_state.pt`` after every epoch so that
``resume=True`` continues an interrupted run with the same result. With ``time_limit``
(minutes), a leg stops after the epoch past which another would end beyond the limit,
its state saved, by raising ``TimeLimitReached``; the last epoch of stage 2 always ends the run.
"""

import copy
import datetime
import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from semanticnn.atomic_file import write_atomic
from semanticnn.data.datasets import load_dataset
from semanticnn.errors import ConfigError
from semanticnn.evaluate.code_usage import code_usage_of, usage_line
from semanticnn.model.backbone import build_backbone, split_channels
from semanticnn.model.checkpoint import base_config, load_base, save_base, save_decoder, save_encoder
from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config
from semanticnn.output_paths import check_output_file
from semanticnn.provenance import provenance
from semanticnn.train import engine
from semanticnn.train.config import make_config
from semanticnn.train.distributed import DistContext
from semanticnn.train.loops import evaluate_base, evaluate_split, freeze_
from semanticnn.train.state import STATE_NAME, check_finite, load_state, save_state, set_rng_state

__all__ = ["run_training", "codec_modules", "save_codec", "TimeLimitReached", "EVAL_BERS", "STAGES"]

EVAL_BERS = (0.0, 1e-2, 5e-2, 1e-1)
STAGES = ("base", "stage1", "stage2")


def codec_modules(config, classes):
    """A fresh ``(SplitEncoder, SplitDecoder)`` of the shapes ``config`` names."""
    stem = split_channels(config.backbone)
    enc = SplitEncoder(encoder_config(config.code_channels, config.levels, config.mapping, stem,
                                      config.backbone, config.encoder_hidden, config.encoder_context,
                                      config.payload_code, config.encoder_blocks,
                                      config.encoder_ds_blocks))
    dec = SplitDecoder(decoder_config(config.code_channels, config.levels, config.mapping, stem,
                                      config.backbone, config.hidden, classes, config.erasure_max > 0,
                                      config.posterior_input, config.refine_blocks, config.payload_code))
    return enc, dec


def _build_codec(config, base, classes):
    enc, dec = codec_modules(config, classes)
    enc.stem.load_state_dict(base.stem.state_dict())
    freeze_(enc.stem)
    dec.tail.load_state_dict(base.tail.state_dict())
    freeze_(dec.tail)
    return enc, dec


def _stage_run(name, config, ctx, modules, n_train):
    """StageRun of stage ``name`` over ``modules`` (base: (model,), codec: (enc, dec)).

    Stage 2's distillation teacher is a frozen copy of the tail as stage 1 left it: the
    base model's own tail, which stage 1 does not train.
    """
    steps = config_epochs(config, name) * engine.steps_per_epoch(n_train, config.batch_size)
    if name == "base":
        (model,) = modules
        opt, sched = engine.base_optimizer(model, config.lr_base, steps)
        return engine.StageRun("base", config.epochs_base, ctx.wrap(engine.BaseStep(model), sync_bn=True),
                               opt, sched, model.train)
    enc, dec = modules
    if name == "stage1":
        opt, sched = engine.codec_optimizer((enc, dec), config.lr_stage1, steps)
        step = engine.Stage1Step(enc, dec, config.balance_weight)
        return engine.StageRun("stage1", config_epochs(config, name), ctx.wrap(step), opt, sched,
                               lambda: engine.codec_train_mode(enc, dec),
                               engine.sigma_schedule(enc, config.epochs_stage1, 1.0, 0.3))
    if config.train_tail:
        for p in dec.tail.parameters():
            p.requires_grad_(True)
    extra = None
    if config.xai_weight > 0:
        from semanticnn.train.xai import make_xai_loss
        extra = make_xai_loss(dec, config.xai_weight, config.xai_steps, config.xai_samples)
    teacher = freeze_(copy.deepcopy(dec.tail)) if config.kd_weight > 0 else None
    opt, sched = engine.codec_optimizer((enc, dec), config.lr_stage2, steps)
    start = 1.0 if config.epochs_stage1 == 0 or not config.stage1 else 0.3
    step = engine.Stage2Step(enc, dec, extra, teacher, config.kd_weight, config.kd_temperature,
                             config.feature_weight, config.balance_weight)
    return engine.StageRun("stage2", config.epochs_stage2, ctx.wrap(step),
                           opt, sched, lambda: engine.codec_train_mode(enc, dec),
                           engine.sigma_schedule(enc, config.epochs_stage2, start, 0.1))


def config_epochs(config, stage):
    """Epochs of ``stage`` under ``config`` (stage 1 is 0 when switched off)."""
    if stage == "stage1" and not config.stage1:
        return 0
    return getattr(config, f"epochs_{stage}")


def _evaluate(encoder, decoder, test, seed):
    decoder.centres.copy_(encoder.quantizer.centres().detach())
    return {str(b): evaluate_split(encoder, decoder, test, b, seed) for b in EVAL_BERS}


def _metadata(record, config):
    return {"dataset": record["dataset"], "seed": config.seed, "base_test_acc": record["base_test_acc"],
            "n_test": record["n_test"], "train_tail": config.train_tail, "xai_weight": config.xai_weight,
            "stage1": config.stage1, "date": datetime.datetime.now().isoformat(timespec="seconds")}


def save_codec(out, encoder, decoder, metadata):
    """Write ``out/encoder.pt`` and ``out/decoder.pt``, the decoder holding the encoder's centres."""
    decoder.centres.copy_(encoder.quantizer.centres().detach())
    save_encoder(out / "encoder.pt", encoder, metadata)
    save_decoder(out / "decoder.pt", decoder, metadata)


class TimeLimitReached(Exception):  # not an SnnError: the run is fine and goes on with --resume
    """The leg stopped at ``time_limit`` after an epoch; the run's state is saved for ``--resume``."""


class _Run:
    """Per-run state shared by the stages: config, context, data, out folder, record."""

    def __init__(self, config, ctx, dataset, out, gen, progress, log, t_start):
        self.config, self.ctx, self.dataset, self.out = config, ctx, dataset, out
        self.gen, self.progress, self.log = gen, progress, log
        self.record = {"config": config.run_identity(), "out": str(out), "dataset": dataset.name,
                       "n_train": len(dataset.train[0]), "n_test": len(dataset.test[0])}
        self.resume_from = None  # (stage, epoch, state) when resuming
        self.t_start, self.seconds_before = t_start, 0.0  # seconds_before: earlier legs of a resumed run

    def clock(self):
        """Set ``record["train_seconds"]``: this leg's wall time plus the earlier legs'."""
        self.record["train_seconds"] = self.seconds_before + time.time() - self.t_start

    def out_of_time(self, stage, done, epochs, epoch_seconds):
        """True when another epoch would end past ``time_limit`` minutes of this leg (every rank agrees).

        Never after the last epoch of stage 2: the run ends there anyway.
        """
        limit = self.config.time_limit * 60
        if limit <= 0 or (stage == STAGES[-1] and done == epochs):
            return False
        over = time.time() - self.t_start + epoch_seconds > limit
        return self.ctx.sum(float(over))[0] > 0

    def stage(self, name, modules, module_names):
        """Run stage ``name`` to its end, resuming inside it if the saved state says so."""
        cfg, ctx = self.config, self.ctx
        run = _stage_run(name, cfg, ctx, modules, len(self.dataset.train[0]))
        start = 0
        if self.resume_from is not None:
            saved_stage, epoch, state = self.resume_from
            if saved_stage == name:
                for key, module in zip(module_names, modules, strict=True):
                    module.load_state_dict(state["modules"][key])
                run.opt.load_state_dict(state["optimizer"])
                run.sched.load_state_dict(state["scheduler"])
                set_rng_state(self.gen, state["rng"])
                start = epoch
                self.resume_from = None
        named = dict(zip(module_names, modules, strict=True))

        def after_epoch(done, row):
            check_finite(name, done, row["loss"], named)
            self.record.setdefault(f"{name}_history", []).append(row)  # saved with the state, so a resume keeps it
            self.clock()
            if ctx.is_main:
                save_state(self.out, cfg, name, done, named, run.opt, run.sched, self.gen, self.record)
            ctx.barrier()
            if self.out_of_time(name, done, run.epochs, row["seconds"]):
                raise TimeLimitReached(
                    f"stopped after {name} epoch {done} of {run.epochs}: another epoch would pass --time-limit "
                    f"{cfg.time_limit:g} min; continue with the same command and --resume "
                    f"(state in {self.out / STATE_NAME})")

        link = engine.TrainLink(cfg.ber_max, cfg.ber_jitter, cfg.erasure_max)
        engine.run_stage(run, self.dataset.train, cfg.batch_size, link, self.gen, ctx,
                         start, after_epoch, self.progress, self.log)


def _base_model(run):
    """The trained unsplit backbone: reused from ``config.base`` or trained here."""
    cfg = run.config
    if cfg.base is not None:
        base = load_base(cfg.base)
        if base.config["backbone"] != cfg.backbone or base.config["classes"] != run.dataset.classes:
            raise ConfigError(f"base checkpoint {cfg.base} is a {base.config['backbone']} for "
                              f"{base.config['classes']} classes; the run needs {cfg.backbone} for "
                              f"{run.dataset.classes}")
        return base
    base = build_backbone(cfg.backbone, split_channels(cfg.backbone), run.dataset.classes).to(run.ctx.device)
    if run.resume_from is None or run.resume_from[0] == "base":
        run.stage("base", (base,), ("base",))
        return base.cpu()
    return load_base(run.out / "base.pt")


def _train_stages(run):
    """Base (or the reused one), stage 1, stage 2; returns the trained encoder."""
    config, dataset, ctx, out, quiet = run.config, run.dataset, run.ctx, run.out, run.log
    with (run.progress if run.progress is not None else nullcontext()):
        base = _base_model(run)
        run.record["base_test_acc"] = evaluate_base(base, dataset.test)
        quiet(f"base test accuracy {run.record['base_test_acc']:.4f}")
        if ctx.is_main and config.base is None:
            save_base(out / "base.pt", base, base_config(config.backbone, split_channels(config.backbone),
                                                         dataset.classes))
        enc, dec = _build_codec(config, base, dataset.classes)
        enc, dec = enc.to(ctx.device), dec.to(ctx.device)
        meta = _metadata(run.record, config)
        for stage in ("stage1", "stage2"):
            if run.resume_from is not None and STAGES.index(run.resume_from[0]) > STAGES.index(stage):
                continue
            run.stage(stage, (enc, dec), ("encoder", "decoder"))
            enc_cpu, dec_cpu = enc.cpu(), dec.cpu()
            acc = _evaluate(enc_cpu, dec_cpu, dataset.test, config.seed)
            run.record[f"{stage}_split_acc"] = acc
            run.record[f"{stage}_code_usage"] = code_usage_of(enc_cpu.eval(), dataset.test[0])
            quiet(f"after {stage}: split accuracy {acc}")
            quiet(f"after {stage}: {usage_line(run.record[f'{stage}_code_usage'])}")
            if ctx.is_main:
                save_codec(out, enc_cpu, dec_cpu, {**meta, "stage": stage, "split_acc": acc})
            enc, dec = enc_cpu.to(ctx.device), dec_cpu.to(ctx.device)
    return enc


def _resume_state(out, config):
    """``(stage, epochs done in it, state)`` of the run saved in ``out``."""
    state = load_state(out, config)
    return state["stage"], state["epoch"], state


def run_training(config_file=None, progress=None, log=print, resume=False, **options):
    """Train everything from a config file and/or options; returns the train_log dict.

    ``options`` are ``TrainConfig`` fields (``None`` = not given). Under ``torchrun``
    every rank calls this; rank 0 alone logs and writes files.
    """
    config = make_config(config_file, **options)
    torch.set_num_threads(config.threads)
    torch.set_flush_denormal(True)  # softmax tails at small sigma are slow as denormals
    ctx = DistContext.from_env(config.device)
    out = Path(config.out)  # made by the first file written: an interrupted start leaves no empty folder
    if ctx.is_main:
        check_output_file(out / STATE_NAME)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    t_start = time.time()
    dataset = load_dataset(config.dataset, config.data, config.limit, config.seed)
    quiet = log if ctx.is_main else (lambda m: None)
    run = _Run(config, ctx, dataset, out, gen, progress if ctx.is_main else None, quiet, t_start)
    if resume:
        run.resume_from = _resume_state(out, config)
        run.record.update({**run.resume_from[2]["record"], "out": str(out)})  # the folder may have moved
        run.seconds_before = run.record.get("train_seconds", 0.0)
    quiet(f"data: {run.record['n_train']} train, {run.record['n_test']} test ({time.time() - t_start:.1f}s)")
    try:
        enc = _train_stages(run)
    except TimeLimitReached:
        ctx.close()  # every rank stopped after the same epoch
        raise
    run.record["split_acc"] = run.record["stage2_split_acc"]
    run.record["centres"] = enc.cpu().centres().tolist()
    run.record["prelu_slopes"] = enc.prelu_slopes().tolist()
    run.clock()
    if ctx.is_main:
        log_json = {**run.record, "provenance": provenance(base=config.base)}
        write_atomic(out / "train_log.json", json.dumps(log_json, indent=2, allow_nan=False))
    ctx.close()
    return run.record
