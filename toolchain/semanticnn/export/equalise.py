"""Channel scales for the GDN output, so that one int8 scale serves every channel.

The int8 graph ends with the GDN output ``g`` (NHWC), quantised with one scale for all
channels. A channel whose GDN denominator stays small peaks far above the others and
sets that scale; the others keep a few int8 steps, and their symbols near a threshold
flip (one 24-channel binary code: a peak of 36 against about 3, symbol agreement 0.92).

With channel scales ``k_c`` in ``(0, 1]`` the export divides row ``c`` of ``gamma``, and
``beta_c``, by ``k_c^2``::

    g'_c = x_c * rsqrt((beta_c + sum_j gamma_cj x_j^2) / k_c^2) = k_c * g_c

exactly in float. The SQ stage undoes it per channel (``firmware.sq``:
``P_c = round(128 / k_c)``, ``A_c = round(a_c * 128 / k_c)``), so the symbols are those of
``g``. On the calibration images each channel's peak is brought down to at most twice the
median channel's::

    k_c = clip(2 * median_j peak_j / peak_c, max(1, |a_c|) / 16, 1)

The lower bound keeps ``P_c`` and ``A_c`` within the SQ stage's ``2^11`` (``a_c``: the PReLU slope).

A code whose channels peak alike gets ``k_c = 1`` everywhere: the graph and the SQ
constants are those of an export without this step.
"""

import numpy as np
import torch

__all__ = ["MIN_SCALE", "channel_scales", "scale_gdn_output"]

MIN_SCALE = 1 / 16  # P_c = 128 / k_c stays within the SQ stage's 2^11 (firmware.sq)


def channel_scales(module, images_nchw, prelu_slopes) -> np.ndarray:
    """``k_c`` (float64 [C]) of the export module's GDN output on ``images_nchw``."""
    with torch.no_grad():
        g = module(images_nchw)
    peak = g.abs().amax(dim=(0, 2, 3)).double().numpy()
    target = 2 * np.median(peak)
    with np.errstate(divide="ignore"):
        k = np.where(peak > 0, target / peak, 1.0)
    low = MIN_SCALE * np.maximum(1.0, np.abs(np.asarray(prelu_slopes, np.float64)))
    return np.clip(k, np.minimum(low, 1.0), 1.0)


def scale_gdn_output(module, scales) -> None:
    """Make the export module's last layer (a ``FrozenGDN``) output ``k_c * g_c``, in place."""
    norm = module[-1].norm
    inv = torch.as_tensor(1 / np.asarray(scales, np.float64) ** 2, dtype=norm.weight.dtype)
    with torch.no_grad():
        norm.weight.mul_(inv.view(-1, 1, 1, 1))
        norm.bias.mul_(inv)
