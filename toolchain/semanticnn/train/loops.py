"""Pieces the stages share: per-sample BER, the training channel, freezing, evaluation.

The stages themselves live in ``train.engine``; the runner in ``train.pipeline``.

Channel noise uses a straight-through estimator: the decoder sees the corrupted
centre values, the gradient flows as if the channel were the identity.
"""

import math

import torch

from semanticnn.channel.noise import flip_symbol_bits
from semanticnn.train.tensors import batches, to_float

__all__ = ["sample_ber", "noisy_values", "evaluate_base", "evaluate_split", "freeze_"]


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
    """Centre values after the channel, straight-through w.r.t. ``out.values``.

    The symbols go on air in NHWC order, in the payload layout of the encoder's config.
    """
    cfg = encoder.config
    idx = flip_symbol_bits(out.indices, ber, cfg["levels"], cfg["mapping"], gen, channel_dim=1,
                           payload_code=cfg.get("payload_code", "plain"))
    corrupted = encoder.quantizer.centres().detach()[idx]
    return out.values + (corrupted - out.values).detach()


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
        idx = flip_symbol_bits(idx, float(ber), cfg["levels"], cfg["mapping"], gen, channel_dim=1,
                               payload_code=cfg.get("payload_code", "plain"))
        correct += (decoder.classify_indices(idx, float(ber)).argmax(1) == y[i]).sum().item()
    return correct / len(x)
