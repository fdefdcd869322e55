"""XAI asymmetry-compensation term for stage 2 (Integrated Gradients via Captum).

The device's encoder is weak, the edge's decoder strong. The term looks at the
transmitted code ``v`` (the quantised symbol values, straight-through) through the
edge's eyes: Integrated Gradients of the per-sample task loss
``CE(tail(dec(v, BER)), y)`` with respect to ``v``, from the zero baseline, over
``m`` steps (Captum's Gauss-Legendre rule)::

    g_bar = sum_k w_k * d CE(tail(dec(alpha_k * v, BER)), y) / d v      (Captum, detached)
    A     = (v - 0) * g_bar                                              [S, C, H, W]

and, over the ``n`` elements of ``A`` for a sub-batch of ``S`` samples::

    xai = n / count(A > 0) + S / sum(A[A > 0])

weighted by ``xai_weight``. ``A > 0`` marks code elements that carry task evidence
the decoder relies on; the term falls as more elements carry more of it, so the
encoder is pushed to spread the evidence over the code instead of leaving it in a
few symbols that one bit error destroys (the paper's asymmetry compensation).
Captum's gradients are detached, so the term's gradient flows only through the
``v`` factor of ``A``, back into the encoder and the quantiser centres; the decoder
and the tail are not moved by it. ``n / count`` is piecewise constant: it carries
no gradient, only the value. The sum is per sample (``S / sum``), so the weight
does not depend on the sub-batch size. If no element is positive, the term is the
constant ``n + 1``.

Differences from the paper's code: Captum's IG with ``m`` steps instead of a
two-point trapezoid, and a per-sample sum.
"""

import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients

__all__ = ["ig_attributions", "xai_term", "make_xai_loss"]


def ig_attributions(decoder, values, ber, labels, n_steps=4):
    """Captum IG of ``CE(decoder(v, ber), labels)`` w.r.t. ``v`` at ``values``, zero baseline.

    ``ber`` is a tensor [S] (one BER per sample); ``decoder(v, ber)`` returns logits.
    """

    def per_sample_loss(v, ber_, y):
        return F.cross_entropy(decoder(v, ber_), y, reduction="none")

    ig = IntegratedGradients(per_sample_loss)
    return ig.attribute(values, baselines=torch.zeros_like(values),
                        additional_forward_args=(ber, labels), n_steps=n_steps)


def xai_term(decoder, values, ber, labels, n_steps=4, samples=32):
    """``n / count(A > 0) + S / sum(A[A > 0])`` on the first ``samples`` of the batch."""
    v = values[:samples]
    ber = torch.as_tensor(ber, dtype=torch.float32, device=v.device).expand(len(values))[:samples]
    attr = ig_attributions(decoder, v, ber.contiguous(), labels[:samples], n_steps)
    positive = attr > 0
    count = positive.sum()
    if count == 0:
        return attr.new_tensor(attr.numel() + 1.0)
    return attr.numel() / count.to(attr.dtype) + len(v) / attr[positive].sum()


def make_xai_loss(decoder, weight, n_steps=4, samples=32):
    """The ``extra_loss`` hook of stage 2: ``weight * xai_term`` on the sent code values."""

    def extra_loss(batch):
        return weight * xai_term(decoder, batch["encoder_out"].values, batch["ber"], batch["labels"],
                                 n_steps, samples)

    return extra_loss
