"""How much of its code an encoder uses: each code channel's symbol entropy on the test images.

For channel ``c``, ``p_ck`` is the share of its symbols (every picture, every position)
that are symbol ``k``, and::

    H_c = -sum_k p_ck log2 p_ck          (bits a symbol, at most log2 L)

A channel under ``DEAD_BITS`` (1/100 of a bit a symbol) is dead: it sends the same symbol
for nearly every picture, so its bits cross the link and carry nothing.
``snn train --balance-weight`` keeps every channel alive (``train.engine.code_balance``).
``H_c`` is a first-order measure: it does not see what channels or positions share.
"""

import math

import torch

__all__ = ["CodeUsage", "DEAD_BITS", "dead_channels", "usage_line", "code_usage_of", "measure_code_usage"]

DEAD_BITS = 0.01


class CodeUsage:
    """Symbol counts per code channel over the batches ``add`` sees; ``summary()`` the entropies."""

    def __init__(self, channels, levels):
        self.levels = levels
        self.counts = torch.zeros(channels, levels, dtype=torch.long)

    def add(self, indices):
        """Count the symbols of ``indices`` [B, C, H, W] (what the device sends)."""
        per_channel = indices.transpose(0, 1).reshape(indices.shape[1], -1).long()
        self.counts += torch.stack([torch.bincount(row, minlength=self.levels) for row in per_channel])

    def summary(self):
        """``{"levels": L, "channel_bits": [H_c]}``."""
        p = self.counts.double() / self.counts.sum(1, keepdim=True).clamp(min=1)
        bits = -(p * torch.log2(torch.where(p > 0, p, torch.ones_like(p)))).sum(1)
        return {"levels": self.levels, "channel_bits": [round(float(b), 4) + 0.0 for b in bits]}


def dead_channels(usage):
    """The channels of a ``summary()`` that carry under ``DEAD_BITS`` a symbol."""
    return [c for c, bits in enumerate(usage["channel_bits"]) if bits < DEAD_BITS]


def usage_line(usage):
    """One line: channels in use, the bits a symbol each carries, and a hint for dead channels."""
    bits, dead = usage["channel_bits"], dead_channels(usage)
    most = math.log2(usage["levels"])
    text = (f"Code usage: {len(bits) - len(dead)} of {len(bits)} code channels carry information; "
            f"bits a symbol (at most {most:g}): " + ", ".join(f"{b:.2f}" for b in bits))
    if dead:
        names = ", ".join(map(str, dead))
        text += (f". Channel{'s' if len(dead) > 1 else ''} {names} sen{'d' if len(dead) > 1 else 'ds'} the same "
                 "symbol for nearly every picture: retrain with --balance-weight 1")
    return text


@torch.no_grad()
def code_usage_of(encoder, images, batch_size=1000):
    """``CodeUsage.summary()`` of a float ``SplitEncoder`` (eval mode) on ``images`` (uint8 [N, 3, 32, 32])."""
    from semanticnn.train.tensors import batches, to_float

    usage = CodeUsage(encoder.config["code_channels"], encoder.config["levels"])
    for idx in batches(len(images), batch_size, shuffle=False):
        usage.add(encoder(to_float(images[idx])).indices)
    return usage.summary()


def measure_code_usage(encoder_file, images, batch_size=1000):
    """``code_usage_of`` the encoder checkpoint ``encoder_file``."""
    from semanticnn.model.checkpoint import load_encoder

    return code_usage_of(load_encoder(encoder_file).eval(), images, batch_size)
