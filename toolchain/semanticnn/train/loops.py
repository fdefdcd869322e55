"""Training loops: base model, stage 1 (denoising decoder), stage 2 (task loss).

* base:    ``CE(tail(stem(aug(x))), y)``, SGD + Nesterov, one-cycle LR.
* stage 1: codes corrupted at a random BER per sample, decoder trained as a
           denoising autoencoder: ``MSE(dec(c[flip(idx)], BER), stem(x))``.
* stage 2: ``CE(tail(dec(c[flip(idx)], BER)), y) + extra_loss(...)`` with the tail
           frozen; encoder (minus the frozen stem) and decoder trainable.
           ``extra_loss`` is the hook for the later XAI / Integrated-Gradients term.

Channel noise uses a straight-through estimator: the decoder sees the corrupted
centre values, the gradient flows as if the channel were the identity.
"""

import math
import time

import torch
import torch.nn.functional as F

from semanticnn.channel.noise import flip_symbol_bits
from semanticnn.train.tensors import augment, batches, to_float

__all__ = [
    "sample_ber", "noisy_values", "train_base", "train_stage1", "train_stage2",
    "evaluate_base", "evaluate_split", "freeze_",
]


def freeze_(module):
    """Eval mode and no gradients (used for the stem and the tail)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def sample_ber(batch, ber_max, gen, p_zero=0.15):
    """Per-sample BER: 0 with prob ``p_zero``, else log-uniform in [1e-4, ber_max]."""
    if ber_max <= 0:
        return torch.zeros(batch)
    lo, hi = -4.0, math.log10(ber_max)
    ber = 10.0 ** (lo + (hi - lo) * torch.rand(batch, generator=gen))
    return torch.where(torch.rand(batch, generator=gen) < p_zero, torch.zeros(batch), ber)


def noisy_values(encoder, out, ber, gen):
    """Centre values after the channel, straight-through w.r.t. ``out.values``."""
    cfg = encoder.config
    idx = flip_symbol_bits(out.indices, ber, cfg["levels"], cfg["mapping"], gen)
    corrupted = encoder.quantizer.centres().detach()[idx]
    return out.values + (corrupted - out.values).detach()


def _epoch(step, n, batch_size, gen, progress=None, label=""):
    """Run ``step(idx)`` over one shuffled epoch; return the mean of its losses."""
    total, count = 0.0, 0
    task = progress.add_task(label, total=math.ceil(n / batch_size)) if progress else None
    for idx in batches(n, batch_size, gen):
        total += step(idx) * len(idx)
        count += len(idx)
        if progress:
            progress.advance(task)
    if progress:
        progress.remove_task(task)
    return total / max(count, 1)


def train_base(model, data, epochs, gen, batch_size=128, lr=0.1, progress=None, log=print):
    """Train the unsplit backbone; returns the per-epoch history."""
    x, y = data
    steps = epochs * math.ceil(len(x) / batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(steps, 1), pct_start=0.25)
    model.train()

    def step(idx):
        loss = F.cross_entropy(model(augment(x[idx], gen)), y[idx], label_smoothing=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    return _run_epochs("base", epochs, step, len(x), batch_size, gen, progress, log)


def _run_epochs(name, epochs, step, n, batch_size, gen, progress, log, on_epoch=None):
    history = []
    for epoch in range(epochs):
        if on_epoch:
            on_epoch(epoch)
        t0 = time.time()
        loss = _epoch(step, n, batch_size, gen, progress, f"{name} {epoch + 1}/{epochs}")
        history.append({"epoch": epoch + 1, "loss": loss, "seconds": time.time() - t0})
        log(f"{name} epoch {epoch + 1}/{epochs} loss {loss:.4f} ({time.time() - t0:.1f}s)")
    return history


def _codec_train_mode(encoder, decoder):
    encoder.train()
    decoder.train()
    encoder.stem.eval()
    decoder.tail.eval()


def _sigma_schedule(encoder, epochs, start=1.0, end=0.1):
    def on_epoch(epoch):
        frac = epoch / max(epochs - 1, 1)
        encoder.quantizer.sigma = start * (end / start) ** frac
    return on_epoch


def _codec_optimizer(encoder, decoder, lr, steps):
    params = [p for p in list(encoder.parameters()) + list(decoder.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(steps, 1), pct_start=0.15)
    return opt, sched


def train_stage1(encoder, decoder, data, epochs, gen, ber_max=0.1, batch_size=128, lr=2e-3,
                 progress=None, log=print):
    """Denoising autoencoder: MSE between rebuilt and clean split feature."""
    x, _ = data
    opt, sched = _codec_optimizer(encoder, decoder, lr, epochs * math.ceil(len(x) / batch_size))
    _codec_train_mode(encoder, decoder)

    def step(idx):
        out = encoder(augment(x[idx], gen))
        ber = sample_ber(len(idx), ber_max, gen)
        rebuilt = decoder.reconstruct(noisy_values(encoder, out, ber, gen), ber)
        loss = F.mse_loss(rebuilt, out.feature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    on_epoch = _sigma_schedule(encoder, epochs, 1.0, 0.3)
    return _run_epochs("stage1", epochs, step, len(x), batch_size, gen, progress, log, on_epoch)


def train_stage2(encoder, decoder, data, epochs, gen, ber_max=0.1, batch_size=128, lr=1e-3,
                 extra_loss=None, progress=None, log=print):
    """Task loss through the frozen tail; ``extra_loss(batch dict) -> tensor`` is the XAI hook."""
    x, y = data
    opt, sched = _codec_optimizer(encoder, decoder, lr, epochs * math.ceil(len(x) / batch_size))
    _codec_train_mode(encoder, decoder)

    def step(idx):
        images = augment(x[idx], gen)
        out = encoder(images)
        ber = sample_ber(len(idx), ber_max, gen)
        rebuilt = decoder.reconstruct(noisy_values(encoder, out, ber, gen), ber)
        logits = decoder.tail(rebuilt)
        loss = F.cross_entropy(logits, y[idx]) + 0.5 * F.mse_loss(rebuilt, out.feature)
        if extra_loss is not None:
            loss = loss + extra_loss({"images": images, "labels": y[idx], "encoder_out": out,
                                      "rebuilt": rebuilt, "logits": logits, "ber": ber})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    on_epoch = _sigma_schedule(encoder, epochs, 0.3, 0.1)
    return _run_epochs("stage2", epochs, step, len(x), batch_size, gen, progress, log, on_epoch)


@torch.no_grad()
def evaluate_base(model, data, batch_size=500):
    """Top-1 accuracy of the unsplit model."""
    model.eval()
    x, y = data
    correct = sum((model(to_float(x[i])).argmax(1) == y[i]).sum().item()
                  for i in batches(len(x), batch_size, shuffle=False))
    return correct / len(x)


@torch.no_grad()
def evaluate_split(encoder, decoder, data, ber, seed=0, batch_size=500):
    """Top-1 accuracy of device -> BSC(ber) -> edge, using the decoder's own centres."""
    encoder.eval()
    decoder.eval()
    gen = torch.Generator().manual_seed(seed)
    x, y = data
    cfg = encoder.config
    correct = 0
    for i in batches(len(x), batch_size, shuffle=False):
        idx = encoder(to_float(x[i])).indices
        idx = flip_symbol_bits(idx, float(ber), cfg["levels"], cfg["mapping"], gen)
        correct += (decoder.classify_indices(idx, float(ber)).argmax(1) == y[i]).sum().item()
    return correct / len(x)
