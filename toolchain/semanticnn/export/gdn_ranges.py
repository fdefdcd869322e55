"""Symbol-aware int8 ranges for the GDN's inner tensors.

The device's GDN is ``y = x * rsqrt(norm(x * x))`` in int8, each tensor quantised per
tensor. The calibration observer picks each tensor's range to keep that tensor's own
error small, so ``x * x`` and ``norm`` spend their 256 steps on rare large values:
on the shipped 12-channel code their steps are 0.066 and 0.24, and small norms (the
most common, and where ``rsqrt`` is steepest) come out coarse. A large ``|x|`` gives
an outer symbol whatever its norm, so both tensors can clip at little cost.

``gdn_ranges`` picks the pair of upper bounds ``(c_sq, c_norm)`` that maximises the
agreement of the SQ symbols with the float encoder's, simulating only those two
tensors' int8 rounding::

    s = q(x * x; 0, c_sq)      n = q(conv1x1(s); 0, c_norm)      y = x * rsqrt(n)
    q(t; lo, hi) = lo + round((clip(t, lo, hi) - lo) / d) * d,   d = (hi - lo) / 255

Each bound is tried at the observed maximum times 2^(-k/2), k = 0 .. STEPS - 1; ties go
to the wider range. ``convert.to_int8_tflite(..., pinned=...)`` then fixes those ranges.
"""

import numpy as np
import torch

from semanticnn.model.layers import FrozenGDN

__all__ = ["STEPS", "gdn_ranges"]

STEPS = 12


def _fake_quant(t: torch.Tensor, hi: float) -> torch.Tensor:
    step = hi / 255.0
    return torch.round(t.clamp(0.0, hi) / step) * step


def _gdn_and_input(module: torch.nn.Module, images_nchw: torch.Tensor):
    """The module's FrozenGDN, its path, and its float input on ``images_nchw``."""
    found = [(name, m) for name, m in module.named_modules() if isinstance(m, FrozenGDN)]
    if len(found) != 1:
        return None, None, None
    name, gdn = found[0]
    seen = []
    handle = gdn.register_forward_hook(lambda _m, args, _out: seen.append(args[0].detach()))
    try:
        with torch.no_grad():
            module.eval()(images_nchw)
    finally:
        handle.remove()
    return name, gdn, seen[0]


def gdn_ranges(module: torch.nn.Module, images_nchw: torch.Tensor, symbols) -> dict:
    """``{path: (0.0, hi)}`` for the square and norm outputs of ``module``'s FrozenGDN, or ``{}`` without one.

    ``symbols(gdn_output_nchw) -> ndarray`` is the float SQ stage (PReLU, power norm, nearest centre).
    """
    name, gdn, x = _gdn_and_input(module, images_nchw)
    if gdn is None:
        return {}
    with torch.no_grad():
        reference = symbols(gdn(x))
        square = x * x
        square_top, norm_top = float(square.max()), float(gdn.norm(square).max())
        best, best_agreement = None, -1.0
        for k_sq in range(STEPS):
            c_sq = square_top * 2.0 ** (-k_sq / 2)
            s = gdn.norm(_fake_quant(square, c_sq))
            for k_norm in range(STEPS):
                c_norm = norm_top * 2.0 ** (-k_norm / 2)
                y = x * torch.rsqrt(_fake_quant(s, c_norm).clamp_min(c_norm / 255.0))
                agreement = float(np.mean(symbols(y) == reference))
                if agreement > best_agreement:
                    best, best_agreement = (c_sq, c_norm), agreement
    prefix = f"{name}." if name else ""
    return {f"{prefix}square": (0.0, best[0]), f"{prefix}norm": (0.0, best[1])}
