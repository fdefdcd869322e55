"""XAI asymmetry-compensation term for stage 2 (Integrated Gradients via Captum).

The edge rebuilds the split feature ``f_hat`` and the frozen tail classifies it.
Integrated Gradients of the per-sample task loss ``CE(tail(f), y)`` with respect to
``f``, from the zero baseline, over ``m`` steps (Captum's Gauss-Legendre rule)::

    g_bar = sum_k w_k * d CE(tail(alpha_k * f_hat), y) / d f      (Captum, detached)
    A     = (f_hat - 0) * g_bar

and the term, over the ``n`` elements of ``A`` of a sub-batch::

    xai = n / count(A > 0) + 1 / sum(A[A > 0])

weighted by ``xai_weight``. It is small when many feature elements, with a large
total, push the loss the same way, i.e. when the decoder spreads the task evidence
instead of leaving it to a few elements that a bit error can destroy. Captum's
gradients are detached, so the term's gradient flows only through the ``f_hat``
factor of ``A``, back into the decoder (and the encoder, through the codes).
``n / count`` is piecewise constant: it carries no gradient, only the value.
If no element is positive, the term is ``n + 1`` (a constant, no gradient).
"""

import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients

__all__ = ["ig_attributions", "xai_term", "make_xai_loss"]


def ig_attributions(tail, feature, labels, n_steps=4):
    """Captum IG of ``CE(tail(f), labels)`` w.r.t. ``f`` at ``feature``, zero baseline."""

    def per_sample_loss(f, y):
        return F.cross_entropy(tail(f), y, reduction="none")

    ig = IntegratedGradients(per_sample_loss)
    return ig.attribute(feature, baselines=torch.zeros_like(feature),
                        additional_forward_args=(labels,), n_steps=n_steps)


def xai_term(tail, feature, labels, n_steps=4, samples=32):
    """``n / count(A > 0) + 1 / sum(A[A > 0])`` on the first ``samples`` of the batch."""
    attr = ig_attributions(tail, feature[:samples], labels[:samples], n_steps)
    positive = attr > 0
    count = positive.sum()
    if count == 0:
        return attr.new_tensor(attr.numel() + 1.0)
    return attr.numel() / count.to(attr.dtype) + 1.0 / attr[positive].sum()


def make_xai_loss(tail, weight, n_steps=4, samples=32):
    """The ``extra_loss`` hook of stage 2: ``weight * xai_term(tail, rebuilt, labels)``."""

    def extra_loss(batch):
        return weight * xai_term(tail, batch["rebuilt"], batch["labels"], n_steps, samples)

    return extra_loss
