"""Split codec: device-side SQ encoder and edge-side BER-aware decoder.

Encoder (device), for an image ``x = pixel / 255`` [B, 3, 32, 32]:

    f = stem(x)                                   split feature [B, 16, 32, 32]
    g = GDN(conv_k4s4(f))                         [B, C, 8, 8]   (end of the int8 graph)
      or GDN(conv_k2s2(relu(conv_k2s2(f))))       with ``conv_hidden`` > 0 channels between
      or GDN(conv_1x1(ctx_n(...ctx_1(relu(conv_k2s2(relu(conv_k2s2(f))))))))
                                                  ``context_blocks`` n > 0: ctx_i = relu(conv3x3,
                                                  dilation 2^(i-1), SAME) at 8x8: each symbol sees
                                                  2^n - 1 positions each way, not its 4x4 pixels
                                                  (n = 3: the whole image)
      or GDN(conv_1x1(blk_n(...blk_1(relu(conv3x3_s2(relu(conv_k2s2(f))))))))
                                                  ``conv_blocks`` n > 0: the 3x3 stride-2 conv
                                                  doubles the width to 2N at 8x8, blk_i =
                                                  relu(conv3x3, SAME) at 8x8 and 2N channels;
                                                  ``ds_blocks`` m > 0 then adds m depthwise-separable
                                                  residual blocks (``layers.DepthwiseResidual``)
    p = PReLU(g)                                  per-channel slope a_c
    y = p / sqrt(mean(p^2))                       power norm over each sample's tensor
    y_hat, idx = SoftQuantizer(y)                 L sorted centres, idx in 0..L-1

Decoder (edge), for dequantised symbols ``v = c[idx]``, the receiver's BER estimate and
the mask ``m`` of symbols erased with their packets:

    h = [v * (1 - m), m]                           (``erasure_input``; else ``v * (1 - m)``)
    h = [h, P(sent | idx, BER) (1 - m) + m / L]    (``posterior_input``: L channels a code channel)
    h = gate_k(block_k(h), f(BER))                 2 blocks at 8x8: conv3x3 + IGDN + PReLU + BER gate
    h = h + gate(block(h), f(BER))                 ``refine_blocks`` residual blocks at 8x8
    h = gate_k(block_k(h), f(BER))                 2 blocks: convT 2x2 s2 up to 32x32
    f_hat = relu(conv3x3(h))                       rebuilt split feature [B, 16, 32, 32]
    logits = tail(f_hat)                           frozen backbone tail
"""

import copy
import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from semanticnn.channel.bits import bits_per_symbol, codewords_to_bits, is_gray, to_codewords
from semanticnn.model.backbone import build_backbone
from semanticnn.model.layers import GDN, IGDN, BerGate, DepthwiseResidual, FrozenGDN, ber_feature
from semanticnn.model.quantizer import SoftQuantizer

__all__ = [
    "SplitEncoder", "SplitDecoder", "EncoderOut", "encoder_config", "decoder_config",
    "fold_bn", "power_normalize", "code_convs", "UNKNOWN_BER", "codeword_distances", "symbol_posterior",
]

UNKNOWN_BER = 1e-2  # the estimate a receiver tells the decoder when it knows nothing of its link


def encoder_config(code_channels=4, levels=8, mapping="gray", stem_channels=16, backbone="resnet8",
                   conv_hidden=0, context_blocks=0, payload_code="plain", conv_blocks=0, ds_blocks=0):
    """Return the encoder config dict (keys fixed by docs/design.md).

    ``conv_hidden`` 0 is the paper's single conv k4 s4; N > 0 is two k2 s2 convs with N
    channels and a ReLU between them (same 4x4 footprint, a deeper device encoder).
    ``context_blocks`` (needs ``conv_hidden``): that many 3x3 convs of ``conv_hidden``
    channels at 8x8, dilations 1, 2, 4, ..., then a 1x1 conv to the code. A checkpoint
    without the key has none. ``conv_blocks`` (needs ``conv_hidden``, not with
    ``context_blocks``): a 3x3 stride-2 conv from 16x16 to 8x8 that doubles the width, then
    that many 3x3 convs there, then a 1x1 conv to the code. ``ds_blocks`` (the same layout):
    that many depthwise-separable residual blocks after the 3x3 convs, before the 1x1 conv.
    ``payload_code``: the payload layout (``channel.payload``); a checkpoint without one of
    these keys has its default.
    """
    return {
        "backbone": backbone, "input_shape": [3, 32, 32], "stem_channels": stem_channels,
        "code_channels": code_channels, "levels": levels, "mapping": mapping, "conv_hidden": conv_hidden,
        "context_blocks": context_blocks, "payload_code": payload_code, "conv_blocks": conv_blocks,
        "ds_blocks": ds_blocks,
    }


def code_convs(stem_channels, code_channels, conv_hidden=0, context_blocks=0, conv_blocks=0, ds_blocks=0):
    """The device's convs from the split feature to the code, before the GDN (8x8 out)."""
    s, c, h = stem_channels, code_channels, conv_hidden
    blocks = conv_blocks or ds_blocks
    if not h:
        if context_blocks or blocks:
            raise ValueError("context_blocks, conv_blocks and ds_blocks need conv_hidden > 0")
        return nn.Conv2d(s, c, kernel_size=4, stride=4)
    if context_blocks and blocks:
        raise ValueError("context_blocks and conv_blocks/ds_blocks are two layouts: use one")
    layers = [nn.Conv2d(s, h, 2, stride=2), nn.ReLU()]
    if blocks:
        layers += [nn.Conv2d(h, 2 * h, 3, stride=2, padding=1), nn.ReLU()]
        for _ in range(conv_blocks):
            layers += [nn.Conv2d(2 * h, 2 * h, 3, padding=1), nn.ReLU()]
        layers += [DepthwiseResidual(2 * h) for _ in range(ds_blocks)]
        return nn.Sequential(*layers, nn.Conv2d(2 * h, c, 1))
    if not context_blocks:
        return nn.Sequential(*layers, nn.Conv2d(h, c, 2, stride=2))
    layers += [nn.Conv2d(h, h, 2, stride=2), nn.ReLU()]
    for i in range(context_blocks):
        d = 2 ** i
        layers += [nn.Conv2d(h, h, 3, padding=d, dilation=d), nn.ReLU()]
    return nn.Sequential(*layers, nn.Conv2d(h, c, 1))


def decoder_config(code_channels=4, levels=8, mapping="gray", stem_channels=16,
                   backbone="resnet8", hidden=64, classes=10, erasure_input=False,
                   posterior_input=False, refine_blocks=0, payload_code="plain"):
    """Return the decoder config dict: what SplitDecoder needs to rebuild itself.

    ``erasure_input``: the erasure mask enters the first block as C extra channels.
    ``posterior_input``: each symbol's posterior over the L sent symbols enters as C*L channels.
    ``refine_blocks``: residual 3x3 blocks at the code's 8x8 resolution.
    """
    return {
        "backbone": backbone, "stem_channels": stem_channels, "code_channels": code_channels,
        "levels": levels, "mapping": mapping, "hidden": hidden, "classes": classes,
        "code_shape": [code_channels, 8, 8], "erasure_input": erasure_input,
        "posterior_input": posterior_input, "refine_blocks": refine_blocks, "payload_code": payload_code,
    }


def codeword_distances(levels, mapping):
    """``D[y, k]``: Hamming distance between the code words of symbols ``y`` and ``k``, [L, L]."""
    k = bits_per_symbol(levels)
    bits = codewords_to_bits(to_codewords(torch.arange(levels), is_gray(mapping)), k)
    return (bits[:, None, :] != bits[None, :, :]).sum(-1).float()


def symbol_posterior(indices, ber, distances, eps=1e-6):
    """``P(sent = k | received = y)`` for a uniform prior and a BSC(p), as [B, C, L, H, W].

    ``P(k | y) = p^D[y,k] (1 - p)^(b - D[y,k])`` with ``b = log2(L)`` bits a symbol; with
    every code word in use this already sums to 1 over ``k``. ``p`` is the receiver's
    estimate (float or [B]), clamped to ``[eps, 0.5]``.
    """
    b = float(math.log2(distances.shape[0]))
    p = torch.as_tensor(ber, dtype=torch.float32, device=indices.device)
    p = p.expand(indices.shape[0]) if p.dim() == 0 else p
    p = p.clamp(eps, 0.5).view(-1, 1, 1, 1, 1)
    d = distances[indices]                                   # [B, C, H, W, L]
    post = torch.exp(d * torch.log(p) + (b - d) * torch.log1p(-p))
    return post.permute(0, 1, 4, 2, 3)


def power_normalize(x, eps=1e-12):
    """``x / sqrt(mean(x^2))`` over each sample's whole tensor."""
    return x * torch.rsqrt(x.pow(2).mean(dim=(1, 2, 3), keepdim=True) + eps)


def fold_bn(conv, bn):
    """Return a conv with bias equal to ``bn(conv(x))`` in eval mode.

    ``w' = w * g / sqrt(var + eps)``, ``b' = beta + (b - mean) * g / sqrt(var + eps)``.

    Computed in float64 and rounded to float32 once, so every CPU folds to the same
    float32 weights: in float32 two machines gave per-channel weight scales a few ULPs
    apart, and so a different int8 model from the same checkpoint.
    """
    def f64(t):
        return t.detach().double()

    scale = f64(bn.weight) / torch.sqrt(f64(bn.running_var) + bn.eps)
    bias = f64(conv.bias) if conv.bias is not None else torch.zeros_like(f64(bn.running_mean))
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, bias=True)
    fused.weight.data.copy_((f64(conv.weight) * scale.view(-1, 1, 1, 1)).float())
    fused.bias.data.copy_((f64(bn.bias) + (bias - f64(bn.running_mean)) * scale).float())
    return fused


class EncoderOut(NamedTuple):
    """Named outputs of SplitEncoder.forward."""

    feature: torch.Tensor  # split feature stem(x)
    gdn: torch.Tensor      # GDN output (end of the int8 graph)
    y: torch.Tensor        # power-normalised PReLU output
    values: torch.Tensor   # quantised values (straight-through)
    indices: torch.Tensor  # symbol indices, NCHW


class SplitEncoder(nn.Module):
    """Device part: stem + SQ encoder (see module docstring). ``config`` rebuilds it."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        s, c = config["stem_channels"], config["code_channels"]
        self.stem = build_backbone(config["backbone"], s).stem
        self.conv = code_convs(s, c, config.get("conv_hidden", 0), config.get("context_blocks", 0),
                               config.get("conv_blocks", 0), config.get("ds_blocks", 0))
        self.gdn = GDN(c)
        self.prelu = nn.PReLU(c, init=0.25)
        self.quantizer = SoftQuantizer(config["levels"])

    def forward(self, x):
        """Image ``pixel / 255`` [B, 3, 32, 32] -> EncoderOut."""
        feature = self.stem(x)
        g = self.gdn(self.conv(feature))
        y = power_normalize(self.prelu(g))
        q = self.quantizer(y)
        return EncoderOut(feature, g, y, q.values, q.indices)

    def export_module(self):
        """Float module image -> stem (BN folded) -> conv(s) to the code -> GDN, eval mode."""
        stem_conv = fold_bn(self.stem.conv, self.stem.bn)
        module = nn.Sequential(stem_conv, copy.deepcopy(self.stem.relu), copy.deepcopy(self.conv),
                               FrozenGDN(self.gdn))
        return module.eval().requires_grad_(False)

    def prelu_slopes(self):
        """Per-channel PReLU slopes ``a_c`` as float64 [C]."""
        return self.prelu.weight.detach().cpu().numpy().astype(np.float64).copy()

    def centres(self):
        """Sorted quantiser centres as float64 [L]."""
        return self.quantizer.centres_numpy()


class _DecBlock(nn.Module):
    """``gate(prelu(igdn(conv(x))), f(BER))``; conv is 3x3 or a 2x2 stride-2 transpose."""

    def __init__(self, cin, cout, upsample):
        super().__init__()
        if upsample:
            self.conv = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        else:
            self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.igdn = IGDN(cout)
        self.act = nn.PReLU(cout)
        self.gate = BerGate(cout)

    def forward(self, x, ber_feat):
        return self.gate(self.act(self.igdn(self.conv(x))), ber_feat)


class SplitDecoder(nn.Module):
    """Edge part: BER-aware reconstruction of the split feature, then the tail."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        c, h, s = config["code_channels"], config["hidden"], config["stem_channels"]
        levels = config["levels"]
        self.erasure_input = bool(config.get("erasure_input", False))
        self.posterior_input = bool(config.get("posterior_input", False))
        cin = c * (1 + self.erasure_input + levels * self.posterior_input)
        self.blocks = nn.ModuleList([  # two at 8x8, then two upsampling; ``refine`` runs between them
            _DecBlock(cin, h, False), _DecBlock(h, h, False),
            _DecBlock(h, h // 2, True), _DecBlock(h // 2, h // 2, True),
        ])
        self.refine = nn.ModuleList([_DecBlock(h, h, False) for _ in range(config.get("refine_blocks", 0))])
        self.out = nn.Conv2d(h // 2, s, 3, padding=1)
        self.tail = build_backbone(config["backbone"], s, config["classes"]).tail
        self.register_buffer("centres", torch.linspace(-1.75, 1.75, levels))
        self.register_buffer("distances", codeword_distances(levels, config["mapping"]), persistent=False)

    def reconstruct(self, values, ber, erased=None):
        """Rebuild the split feature [B, 16, 32, 32] from centre values [B, C, 8, 8].

        ``ber`` is the receiver's estimate (float or [B]); ``erased`` (bool, like
        ``values``) marks symbols whose packet never arrived: their values are zeroed.
        """
        bf = ber_feature(ber, values.shape[0], values.device)
        mask = torch.zeros_like(values) if erased is None else erased.to(values.dtype)
        parts = [values * (1.0 - mask)]
        if self.erasure_input:
            parts.append(mask)
        if self.posterior_input:
            parts.append(self._posterior(values, ber, mask))
        h = torch.cat(parts, dim=1)
        for block in self.blocks[:2]:
            h = block(h, bf)
        for block in self.refine:
            h = h + block(h, bf)
        for block in self.blocks[2:]:
            h = block(h, bf)
        return torch.relu(self.out(h))

    def _posterior(self, values, ber, mask):
        """[B, C*L, H, W]: ``symbol_posterior`` of the received symbols; ``1/L`` where erased."""
        indices = torch.argmin((values.detach().unsqueeze(-1) - self.centres).abs(), dim=-1)
        post = symbol_posterior(indices, ber, self.distances)
        levels = post.shape[2]
        m = mask.unsqueeze(2)
        post = post * (1.0 - m) + m / levels
        b, c, _, hh, ww = post.shape
        return post.reshape(b, c * levels, hh, ww)

    def dequantize(self, indices):
        """Centre values ``c[indices]`` with the centres stored in the checkpoint."""
        return self.centres[indices]

    def forward(self, values, ber, erased=None):
        """Logits from centre values [B, C, 8, 8], a BER estimate (float or [B]) and erasures."""
        return self.tail(self.reconstruct(values, ber, erased))

    def classify_indices(self, indices, ber, erased=None):
        """Logits from received symbol indices [B, C, 8, 8] (NCHW)."""
        return self(self.dequantize(indices), ber, erased)
