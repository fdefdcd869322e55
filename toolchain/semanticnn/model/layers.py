"""Building blocks: GDN, IGDN and the BER-conditioned channel gate.

GDN (Ballé et al., "Density modeling of images using a generalized normalization
transformation", ICLR 2016):

    y_i = x_i / sqrt(beta_i + sum_j gamma_ij * x_j^2)

IGDN is its approximate inverse, ``y_i = x_i * sqrt(beta_i + sum_j gamma_ij * x_j^2)``.

``beta`` and ``gamma`` must stay non-negative, so they are stored reparametrised:
``beta = max(beta_p, b0)^2 - pedestal`` (and likewise for gamma), the trick used in
learned image compression. The forward pass is written as
``x*x -> conv2d 1x1 (weight gamma[C, C, 1, 1], bias beta) -> rsqrt -> x * that``,
which converts to int8 TFLite as MUL, CONV_2D, RSQRT, MUL.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GDN", "IGDN", "BerGate", "DepthwiseResidual", "ber_feature"]

_PEDESTAL = 2.0 ** -18


class GDN(nn.Module):
    """Generalised divisive normalisation over channels (see module docstring)."""

    def __init__(self, channels, inverse=False, beta_min=1e-6, gamma_init=0.1):
        super().__init__()
        self.inverse = inverse
        self.channels = channels
        self._beta_bound = math.sqrt(beta_min + _PEDESTAL)
        self._gamma_bound = math.sqrt(_PEDESTAL)
        self.beta_p = nn.Parameter(torch.sqrt(torch.ones(channels) + _PEDESTAL))
        gamma = gamma_init * torch.eye(channels)
        self.gamma_p = nn.Parameter(torch.sqrt(gamma + _PEDESTAL))

    def effective_params(self):
        """Return ``(beta [C], gamma [C, C])``, both non-negative."""
        beta = self.beta_p.clamp(min=self._beta_bound) ** 2 - _PEDESTAL
        gamma = self.gamma_p.clamp(min=self._gamma_bound) ** 2 - _PEDESTAL
        return beta, gamma

    def forward(self, x):
        """``x * rsqrt(conv1x1(x*x))`` (or ``* sqrt`` for the inverse)."""
        beta, gamma = self.effective_params()
        norm = F.conv2d(x * x, gamma.view(self.channels, self.channels, 1, 1), beta)
        if self.inverse:
            return x * torch.sqrt(norm)
        return x * torch.rsqrt(norm)


class IGDN(GDN):
    """Inverse GDN: ``y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)``."""

    def __init__(self, channels, **kwargs):
        super().__init__(channels, inverse=True, **kwargs)


class Square(nn.Module):
    """``y = x * x``: a module of its own so that the int8 export can find its output tensor."""

    def forward(self, x):
        return x * x


class FrozenGDN(nn.Module):
    """GDN with its effective ``beta``/``gamma`` baked in as a plain 1x1 conv.

    ``y = x * rsqrt(norm(square(x)))``, ``norm = conv1x1(.; gamma, beta)``; used by the
    export module. ``square`` and ``norm`` are submodules so that calibration can pin
    the int8 ranges of their outputs (``semanticnn.export.gdn_ranges``).
    """

    def __init__(self, gdn):
        super().__init__()
        self.square = Square()
        beta, gamma = gdn.effective_params()
        c = gdn.channels
        self.norm = nn.Conv2d(c, c, 1, bias=True)
        self.norm.weight.data.copy_(gamma.detach().view(c, c, 1, 1))
        self.norm.bias.data.copy_(beta.detach())

    def forward(self, x):
        return x * torch.rsqrt(self.norm(self.square(x)))


def ber_feature(ber, batch, device=None):
    """Map BER to the gate's scalar input: ``(log10(ber + 1e-4) + 4) / 3``.

    BER 0 -> 0, BER 0.1 -> ~1. ``ber`` is a float or a tensor of shape [B]; the
    result has shape [B, 1].
    """
    ber = torch.as_tensor(ber, dtype=torch.float32, device=device)
    if ber.dim() == 0:
        ber = ber.expand(batch)
    return ((torch.log10(ber + 1e-4) + 4.0) / 3.0).view(-1, 1)


class BerGate(nn.Module):
    """SE-style channel attention conditioned on the channel BER.

    ``s = [mean_hw(x), f(BER)]``, ``a = sigmoid(W2 relu(W1 s))``,
    ``y = x * a + FiLM shift`` where the shift ``b = W3 f(BER)`` is per channel.
    """

    def __init__(self, channels, hidden=None):
        super().__init__()
        hidden = hidden or max(8, channels // 2)
        self.mlp = nn.Sequential(
            nn.Linear(channels + 1, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )
        self.shift = nn.Linear(1, channels)
        nn.init.zeros_(self.shift.weight)
        nn.init.zeros_(self.shift.bias)

    def forward(self, x, ber_feat):
        """Gate ``x`` [B, C, H, W] with ``ber_feat`` [B, 1] from ber_feature."""
        s = torch.cat([x.mean(dim=(2, 3)), ber_feat], dim=1)
        a = torch.sigmoid(self.mlp(s))[:, :, None, None]
        b = self.shift(ber_feat)[:, :, None, None]
        return x * a + b


class DepthwiseResidual(nn.Module):
    """Depthwise-separable residual block, width kept: ``y = relu(x + pw_1x1(relu(dw_3x3(x))))``.

    ``dw_3x3`` is one 3x3 filter a channel (SAME padding), ``pw_1x1`` mixes the channels.
    At 8x8 and 64 channels it costs 64 * 9 * 64 + 64 * 64 * 64 = 299,008 MACs, an eighth of
    a full 3x3 conv, and converts to int8 TFLite as DEPTHWISE_CONV_2D, CONV_2D, ADD. The
    quantizer fuses only ``torch.add`` followed by an ``nn.ReLU`` module, hence no ``+``
    or ``F.relu`` here: they would leave the ADD in float. ``pw`` starts at zero, so a
    new block passes its (non-negative) input through unchanged (zero-init residuals, Goyal
    et al. 2017): stacking blocks does not blow up the activations at the start of training.
    """

    def __init__(self, channels):
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.dw_relu = nn.ReLU()
        self.pw = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.pw.weight)
        nn.init.zeros_(self.pw.bias)
        self.relu = nn.ReLU()

    def forward(self, x):
        """``relu(x + pw(relu(dw(x))))``."""
        return self.relu(torch.add(x, self.pw(self.dw_relu(self.dw(x)))))
