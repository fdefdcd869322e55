"""Stage runner: seeded, resumable, data-parallel epochs for the base model and stages 1, 2.

Each stage is a module whose ``forward`` returns the loss of one (local) batch, so
that DDP sees every trainable parameter through ``forward``:

* base:    ``CE(model(aug(x)), y)`` (label smoothing 0.05), SGD + Nesterov, one-cycle LR.
* stage 1: ``MSE(dec(c[flip(idx)], BER), stem(x)) + w_b balance(y)`` (denoising decoder), Adam,
           one-cycle.
* stage 2: ``CE(tail(f_hat), y) + w_f MSE(f_hat, stem(x)) + kd T^2 KL(p_T(teacher) || p_T(tail(f_hat)))
           + w_b balance(y) + extra_loss(batch)``, Adam, one-cycle; the teacher is the unsplit model's
           tail on the clean split feature, ``extra_loss`` the XAI hook (``train.xai.make_xai_loss``),
           ``w_f`` the feature weight (0.5 by default), ``balance`` the dead-channel penalty
           (``code_balance``) on the code before quantisation, ``w_b`` its weight (0 by default).

The training link (``TrainLink``) draws a true BER per sample for the bit channel, tells
the decoder an estimate off by up to ``2^ber_jitter`` either way, and loses each packet of
a sample with probability ``U(0, erasure_max)`` (half the samples lose none), erasing the
symbols whose bits it carried.

Randomness (shuffle, augmentation, per-sample BER, channel noise) is drawn from one
seeded generator for the whole global batch on every rank, then each rank keeps its
shard (see ``train.distributed``). After every epoch, rank 0 writes the resumable
state (``train.state``); ``start_epoch`` resumes inside a stage.
"""

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from semanticnn.channel.packets import DEFAULT_MTU
from semanticnn.channel.payload import PayloadLayout
from semanticnn.train.loops import noisy_values, sample_ber
from semanticnn.train.tensors import augment, batches

__all__ = ["BaseStep", "Stage1Step", "Stage2Step", "StageRun", "TrainLink", "run_stage", "base_optimizer",
           "codec_optimizer", "codec_train_mode", "sigma_schedule", "told_ber", "packet_erasures", "code_balance"]


@dataclass(frozen=True)
class TrainLink:
    """The link stages 1 and 2 train through (see the module docstring)."""

    ber_max: float
    ber_jitter: float = 0.0     # log2 of the largest factor between told and true BER
    erasure_max: float = 0.0    # largest per-packet loss rate
    mtu: int = DEFAULT_MTU


def told_ber(ber, jitter, gen):
    """The decoder's BER estimate: ``ber * 2^u``, ``u ~ U(-jitter, jitter)``; ``ber`` itself at 0."""
    if jitter <= 0:
        return ber
    return ber * 2.0 ** ((2 * torch.rand(len(ber), generator=gen) - 1) * jitter)


def packet_erasures(indices, config, erasure_max, mtu, gen):
    """Bool like ``indices`` [B, C, H, W]: symbols whose packet was lost.

    Symbols are sent in NHWC order, in the payload layout of the codec ``config``; each
    packet of a sample is lost with the sample's rate ``r`` (0 for half the samples,
    else ``U(0, erasure_max)``).
    """
    b, c, h, w = indices.shape
    first, last = PayloadLayout.of(config, c * h * w).symbol_packets(mtu)
    rate = torch.rand(b, generator=gen) * erasure_max
    rate = torch.where(torch.rand(b, generator=gen) < 0.5, torch.zeros(b), rate)
    lost = torch.rand(b, int(last[-1]) + 1, generator=gen) < rate[:, None]
    erased = lost[:, torch.from_numpy(first)] | lost[:, torch.from_numpy(last)]
    return erased.view(b, h, w, c).permute(0, 3, 1, 2).to(indices.device)


def received_feature(encoder, decoder, values, ber, erased):
    """The decoder's rebuilt split feature from the received ``values``.

    The decoder's centres are set to the encoder's learned ones first, so that a decoder
    that reads symbols back from values (``posterior_input``) finds the right ones.
    """
    with torch.no_grad():
        decoder.centres.copy_(encoder.quantizer.centres())
    return decoder.reconstruct(values, ber, erased)


def code_balance(y, centres):
    """Dead-channel penalty on the code ``y`` [B, C, H, W] before quantisation.

    ::

        balance = mean_c relu(|mu_c - m| - sigma_c)^2

    ``mu_c`` and ``sigma_c`` are channel ``c``'s mean and standard deviation over the batch,
    ``m = (c_0 + c_{L-1}) / 2`` the middle of the centres (detached: the term does not move
    them). It is zero while ``m`` lies within one standard deviation of every channel's
    mean, so that each channel's values fall on both sides of the middle threshold.

    A channel whose values all sit on one side of every threshold sends the same symbol for
    every picture: its bits carry nothing. With L = 2 and power normalisation, training
    finds such channels (one of six in six of the seven 48 B runs, five of 24 in ``c24-l2``): one channel
    becomes a large constant that takes most of the power, and the others shrink towards
    the threshold, where only their sign matters.
    """
    c = centres.detach()
    middle = (c[0] + c[-1]) / 2
    mean = y.mean(dim=(0, 2, 3))
    std = y.std(dim=(0, 2, 3))
    return F.relu((mean - middle).abs() - std).pow(2).mean()


def _balance_term(encoder, out, weight):
    """``weight * code_balance(out.y)``, or 0 when ``weight`` is 0."""
    if weight <= 0:
        return 0.0
    return weight * code_balance(out.y, encoder.quantizer.centres())


class BaseStep(nn.Module):
    """``forward(images, labels) -> CE`` of the unsplit model."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images, labels, ber, channel):
        """Loss of one local batch."""
        return F.cross_entropy(self.model(images), labels, label_smoothing=0.05)


class Stage1Step(nn.Module):
    """``forward -> MSE(rebuilt, clean split feature) + balance_weight * code_balance(y)``."""

    def __init__(self, encoder, decoder, balance_weight=0.0):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.balance_weight = balance_weight

    def forward(self, images, labels, ber, channel):
        """Loss of one local batch; ``channel(encoder, out)`` gives the received values and erasures."""
        out = self.encoder(images)
        values, erased = channel(self.encoder, out)
        rebuilt = received_feature(self.encoder, self.decoder, values, ber, erased)
        return F.mse_loss(rebuilt, out.feature) + _balance_term(self.encoder, out, self.balance_weight)


def distillation(logits, teacher_logits, temperature):
    """``T^2 KL(softmax(t / T) || softmax(s / T))``, batch mean (Hinton et al., 2015)."""
    log_p = F.log_softmax(logits / temperature, dim=1)
    q = F.softmax(teacher_logits / temperature, dim=1)
    return temperature ** 2 * F.kl_div(log_p, q, reduction="batchmean")


class Stage2Step(nn.Module):
    """``forward -> CE(tail(rebuilt)) + w_f MSE(rebuilt, feature) + kd KD + w_b balance + extra_loss(batch)``.

    ``teacher`` is the unsplit model's frozen tail, run on the clean split feature;
    ``feature_weight`` (``w_f``) ties the rebuilt feature to the clean one (0: the task alone);
    ``balance_weight`` (``w_b``) weighs ``code_balance``.
    """

    def __init__(self, encoder, decoder, extra_loss=None, teacher=None, kd_weight=0.0, kd_temperature=4.0,
                 feature_weight=0.5, balance_weight=0.0):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.extra_loss = extra_loss
        self.teacher = teacher
        self.kd_weight, self.kd_temperature = kd_weight, kd_temperature
        self.feature_weight = feature_weight
        self.balance_weight = balance_weight

    def forward(self, images, labels, ber, channel):
        """Loss of one local batch; ``channel(encoder, out)`` gives the received values and erasures."""
        out = self.encoder(images)
        values, erased = channel(self.encoder, out)
        rebuilt = received_feature(self.encoder, self.decoder, values, ber, erased)
        logits = self.decoder.tail(rebuilt)
        loss = F.cross_entropy(logits, labels)
        if self.feature_weight > 0:
            loss = loss + self.feature_weight * F.mse_loss(rebuilt, out.feature)
        if self.teacher is not None and self.kd_weight > 0:
            with torch.no_grad():
                teacher_logits = self.teacher(out.feature)
            loss = loss + self.kd_weight * distillation(logits, teacher_logits, self.kd_temperature)
        loss = loss + _balance_term(self.encoder, out, self.balance_weight)
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


def _global_channel(ctx, ber_global, link, gen):
    """Channel noise and erasures drawn for the whole global batch; this rank keeps its rows.

    ``channel(encoder, out) -> (values, erased)``; ``erased`` is None without erasures.
    """
    n_global = len(ber_global)
    part = ctx.shard(n_global)

    def channel(encoder, out):
        full = out.indices.new_zeros((n_global, *out.indices.shape[1:]))
        full[part] = out.indices
        padded = out._replace(indices=full, values=out.values.new_zeros(full.shape))
        corrupted = noisy_values(encoder, padded, ber_global, gen)[part]
        erased = None
        if link.erasure_max > 0:
            erased = packet_erasures(full, encoder.config, link.erasure_max, link.mtu, gen)[part]
        return out.values + (corrupted - out.values).detach(), erased
    return channel


def run_epoch(run, data, batch_size, link, gen, ctx, progress=None):
    """One shuffled epoch of ``run`` through ``link``; returns the mean loss over the global batches."""
    x, y = data
    total, count = 0.0, 0
    task = progress.add_task(run.name, total=steps_per_epoch(len(x), batch_size)) if progress else None
    for gidx in batches(len(x), batch_size, gen):
        n = len(gidx)
        images = augment(x[gidx], gen)
        ber = sample_ber(n, link.ber_max, gen)
        told = told_ber(ber, link.ber_jitter, gen)
        if n < ctx.world:  # a last global batch too small to give every rank a sample
            continue
        part, dev = ctx.shard(n), ctx.device
        loss = run.step(images[part].to(dev), y[gidx][part].to(dev), told[part].to(dev),
                        _global_channel(ctx, ber, link, gen))
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


def run_stage(run, data, batch_size, link, gen, ctx, start_epoch=0, after_epoch=None,
              progress=None, log=print):
    """Epochs ``start_epoch..run.epochs-1``; ``after_epoch(epoch_done, history_row)`` records and checkpoints."""
    for epoch in range(start_epoch, run.epochs):
        if run.on_epoch:
            run.on_epoch(epoch)
        run.train_mode()
        t0 = time.time()
        loss = run_epoch(run, data, batch_size, link, gen, ctx,
                         progress if ctx.is_main else None)
        row = {"epoch": epoch + 1, "loss": loss, "seconds": time.time() - t0, "device": ctx.device.type}
        if after_epoch:
            after_epoch(epoch + 1, row)
        if ctx.is_main:
            log(f"{run.name} epoch {epoch + 1}/{run.epochs} loss {loss:.4f} ({row['seconds']:.1f}s)")
