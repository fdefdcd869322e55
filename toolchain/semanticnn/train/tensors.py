"""Batching and augmentation on in-memory uint8 tensors (the readers are in ``semanticnn.data``).

Augmentation (per image): pad 4 with zeros, random 32x32 crop, horizontal flip
with probability 1/2; then ``x = pixel / 255`` (the only normalisation).
"""

import torch

__all__ = ["to_float", "augment", "batches"]


def to_float(x_uint8):
    """uint8 pixels -> ``pixel / 255`` float."""
    return x_uint8.float().div_(255.0)


def augment(x_uint8, gen, pad=4):
    """Random crop (zero pad ``pad``) + horizontal flip of a uint8 batch -> float."""
    b, c, h, w = x_uint8.shape
    padded = torch.nn.functional.pad(x_uint8, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    rows = (oy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w))[:, None, None, :]
    out = padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    flip = torch.rand(b, generator=gen) < 0.5
    out = torch.where(flip[:, None, None, None], out.flip(3), out)
    return to_float(out)


def batches(n, batch_size, gen=None, shuffle=True):
    """Yield index tensors covering ``range(n)``; shuffled with ``gen`` if asked."""
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]
