"""Soft-to-hard scalar quantiser with L learned, sorted centres.

Centres: ``c_0 = c0``, ``c_k = c0 + sum_{m<k} softplus(d_m)`` so that
``c_0 < c_1 < ... < c_{L-1}`` always holds (strictly, softplus > 0).

Forward (hard): ``q(x) = c_{argmin_k |x - c_k|}`` (ties to the lower centre).
Backward (soft): ``s(x) = sum_k softmax_k(-(x - c_k)^2 / sigma) c_k``.
Straight-through: ``y = s + (q - s).detach()``, so the value is ``q`` while the
gradient w.r.t. ``x`` and the centres is that of ``s``. ``sigma`` is the
temperature, annealed by the trainer.
"""

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SoftQuantizer", "QuantOut"]


class QuantOut(NamedTuple):
    """Named outputs of SoftQuantizer.forward."""

    values: torch.Tensor   # quantised values (hard forward, soft backward), shape of x
    indices: torch.Tensor  # symbol indices 0..L-1 (int64), shape of x
    soft: torch.Tensor     # the soft assignment s(x)


class SoftQuantizer(nn.Module):
    """Scalar quantiser over every element, see module docstring."""

    def __init__(self, levels=8, init_range=1.75, sigma=1.0):
        super().__init__()
        if levels < 2:
            raise ValueError("levels must be >= 2")
        self.levels = levels
        self.sigma = sigma
        step = 2 * init_range / (levels - 1)
        self.c0 = nn.Parameter(torch.tensor(-init_range))
        self.deltas = nn.Parameter(torch.full((levels - 1,), math.log(math.expm1(step))))

    def centres(self):
        """Sorted centres as a tensor [L] (differentiable)."""
        steps = torch.cumsum(F.softplus(self.deltas), dim=0)
        return torch.cat([self.c0.view(1), self.c0 + steps])

    def centres_numpy(self):
        """Sorted centres as float64 numpy [L]."""
        return self.centres().detach().cpu().numpy().astype(np.float64)

    def indices(self, x):
        """Nearest-centre indices (ties to the lower centre)."""
        c = self.centres().detach()
        return torch.argmin((x.unsqueeze(-1) - c).abs(), dim=-1)

    def dequantize(self, indices):
        """Centre values of symbol indices (gradient reaches the centres)."""
        return self.centres()[indices]

    def forward(self, x):
        """Quantise every element of ``x``; returns QuantOut."""
        c = self.centres()
        dist = (x.unsqueeze(-1) - c) ** 2
        soft = (torch.softmax(-dist / self.sigma, dim=-1) * c).sum(-1)
        idx = torch.argmin(dist.detach(), dim=-1)
        hard = c.detach()[idx]
        return QuantOut(soft + (hard - soft).detach(), idx, soft)
