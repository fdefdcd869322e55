"""Stage runner: seeded, resumable, data-parallel epochs for the base model and stages 1, 2.

Each stage is a module whose ``forward`` returns the loss of one (local) batch, so
that DDP sees every trainable parameter through ``forward``:

* base:    ``CE(model(aug(x)), y)`` (label smoothing 0.05), SGD + Nesterov, one-cycle LR.
* stage 1: ``MSE(dec(c[flip(idx)], BER), stem(x))`` (denoising decoder), Adam, one-cycle.
* stage 2: ``CE(tail(f_hat), y) + 0.5 MSE(f_hat, stem(x)) + extra_loss(batch)``, Adam, one-cycle;
           ``extra_loss`` is the XAI hook (``train.xai.make_xai_loss``).

Randomness (shuffle, augmentation, per-sample BER, channel noise) is drawn from one
seeded generator for the whole global batch on every rank, then each rank keeps its
shard (see ``train.distributed``). After every epoch, rank 0 writes the resumable
state (``train.state``); ``start_epoch`` resumes inside a stage.
"""

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from semanticnn.train.loops import noisy_values, sample_ber
from semanticnn.train.tensors import augment, batches

__all__ = ["BaseStep", "Stage1Step", "Stage2Step", "StageRun", "run_stage", "base_optimizer",
           "codec_optimizer", "codec_train_mode", "sigma_schedule"]


class BaseStep(nn.Module):
    """``forward(images, labels) -> CE`` of the unsplit model."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images, labels, ber, channel):
        """Loss of one local batch."""
        return F.cross_entropy(self.model(images), labels, label_smoothing=0.05)


class Stage1Step(nn.Module):
    """``forward -> MSE(rebuilt, clean split feature)``."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, images, labels, ber, channel):
        """Loss of one local batch; ``channel(encoder, out)`` gives the received values."""
        out = self.encoder(images)
        rebuilt = self.decoder.reconstruct(channel(self.encoder, out), ber)
        return F.mse_loss(rebuilt, out.feature)


class Stage2Step(nn.Module):
    """``forward -> CE(tail(rebuilt)) + 0.5 MSE(rebuilt, feature) + extra_loss(batch)``."""

    def __init__(self, encoder, decoder, extra_loss=None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.extra_loss = extra_loss

    def forward(self, images, labels, ber, channel):
        """Loss of one local batch; ``channel(encoder, out)`` gives the received values."""
        out = self.encoder(images)
        rebuilt = self.decoder.reconstruct(channel(self.encoder, out), ber)
        logits = self.decoder.tail(rebuilt)
        loss = F.cross_entropy(logits, labels) + 0.5 * F.mse_loss(rebuilt, out.feature)
        if self.extra_loss is not None:
            loss = loss + self.extra_loss({"images": images, "labels": labels, "encoder_out": out,
                                           "rebuilt": rebuilt, "logits": logits, "ber": ber})
        return loss


def one_cycle(opt, lr, steps, pct_start):
    """OneCycleLR over ``steps``; ``pct_start`` nudged off ``1 / steps`` (a zero-length phase)."""
    steps = max(steps, 1)
    if abs(pct_start * steps - 1.0) < 1e-9:
        pct_start = 1.5 / steps
    return torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=pct_start)


def base_optimizer(model, lr, steps):
    """SGD (momentum 0.9, Nesterov, wd 5e-4) with a one-cycle schedule over ``steps``."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    return opt, one_cycle(opt, lr, steps, 0.25)


def codec_optimizer(modules, lr, steps):
    """Adam over the trainable parameters of ``modules``, one-cycle schedule."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    return opt, one_cycle(opt, lr, steps, 0.15)


def codec_train_mode(encoder, decoder):
    """Codec in train mode; every BatchNorm (stem, tail) stays in eval mode (running stats)."""
    encoder.train()
    decoder.train()
    for module in (encoder.stem, decoder.tail):
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
    encoder.stem.eval()


def sigma_schedule(encoder, epochs, start, end):
    """Quantiser temperature ``start -> end`` geometrically over the stage's epochs."""
    def on_epoch(epoch):
        frac = epoch / max(epochs - 1, 1)
        encoder.quantizer.sigma = start * (end / start) ** frac
    return on_epoch


class StageRun:
    """One stage: its step module (maybe DDP), optimizer, scheduler and per-epoch hooks."""

    def __init__(self, name, epochs, step, opt, sched, train_mode, on_epoch=None):
        self.name, self.epochs, self.step = name, epochs, step
        self.opt, self.sched, self.train_mode, self.on_epoch = opt, sched, train_mode, on_epoch


def steps_per_epoch(n, batch_size):
    """Optimizer steps in one epoch of ``n`` samples."""
    return math.ceil(n / batch_size)


def _global_channel(ctx, ber_global, gen):
    """Channel noise drawn for the whole global batch at ``ber_global``; this rank keeps its rows."""
    n_global = len(ber_global)
    part = ctx.shard(n_global)

    def channel(encoder, out):
        if not ctx.distributed:
            return noisy_values(encoder, out, ber_global, gen)
        full = out.indices.new_zeros((n_global, *out.indices.shape[1:]))
        full[part] = out.indices
        padded = out._replace(indices=full, values=out.values.new_zeros(full.shape))
        corrupted = noisy_values(encoder, padded, ber_global, gen)[part]
        return out.values + (corrupted - out.values).detach()
    return channel


def run_epoch(run, data, batch_size, ber_max, gen, ctx, progress=None):
    """One shuffled epoch of ``run``; returns the mean loss over the global batches."""
    x, y = data
    total, count = 0.0, 0
    task = progress.add_task(run.name, total=steps_per_epoch(len(x), batch_size)) if progress else None
    for gidx in batches(len(x), batch_size, gen):
        n = len(gidx)
        images = augment(x[gidx], gen)
        ber = sample_ber(n, ber_max, gen)
        if n < ctx.world:  # a last global batch too small to give every rank a sample
            continue
        part, dev = ctx.shard(n), ctx.device
        loss = run.step(images[part].to(dev), y[gidx][part].to(dev), ber[part].to(dev),
                        _global_channel(ctx, ber, gen))
        n_local = part.stop - part.start
        scaled = loss * ctx.loss_scale(n_local, n)
        run.opt.zero_grad(set_to_none=True)
        scaled.backward()
        run.opt.step()
        run.sched.step()
        total += loss.item() * n_local
        count += n_local
        if progress:
            progress.advance(task)
    if progress:
        progress.remove_task(task)
    total, count = ctx.sum(total, count)
    return total / max(count, 1)


def run_stage(run, data, batch_size, ber_max, gen, ctx, start_epoch=0, after_epoch=None,
              progress=None, log=print):
    """Epochs ``start_epoch..run.epochs-1``; ``after_epoch(epoch_done, history_row)`` checkpoints."""
    history = []
    for epoch in range(start_epoch, run.epochs):
        if run.on_epoch:
            run.on_epoch(epoch)
        run.train_mode()
        t0 = time.time()
        loss = run_epoch(run, data, batch_size, ber_max, gen, ctx,
                         progress if ctx.is_main else None)
        row = {"epoch": epoch + 1, "loss": loss, "seconds": time.time() - t0}
        history.append(row)
        if after_epoch:
            after_epoch(epoch + 1, row)
        if ctx.is_main:
            log(f"{run.name} epoch {epoch + 1}/{run.epochs} loss {loss:.4f} ({row['seconds']:.1f}s)")
    return history
