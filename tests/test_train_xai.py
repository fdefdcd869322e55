"""The Captum Integrated-Gradients XAI term on the sent code: finite, and it moves the encoder only."""

import torch

from semanticnn.model.codec import SplitDecoder, decoder_config
from semanticnn.train.loops import freeze_
from semanticnn.train.xai import ig_attributions, make_xai_loss, xai_term


def _decoder():
    torch.manual_seed(0)
    dec = SplitDecoder(decoder_config(2, 4, "gray", hidden=8))
    freeze_(dec.tail)
    return dec


def test_xai_term_is_finite_and_its_gradient_reaches_the_code_only():
    dec = _decoder()
    values = torch.randn(6, 2, 8, 8, requires_grad=True)
    term = xai_term(dec, values, torch.full((6,), 0.01), torch.randint(0, 10, (6,)), n_steps=4, samples=4)
    assert term.dim() == 0 and bool(torch.isfinite(term))
    term.backward()
    assert float(values.grad[:4].abs().sum()) > 0
    assert float(values.grad[4:].abs().sum()) == 0.0  # outside the sub-batch
    assert all(p.grad is None for p in dec.parameters())


def test_attributions_are_complete():
    """IG's completeness: sum of attributions = loss(v) - loss(0), per sample (to quadrature error)."""
    dec = _decoder()
    values = torch.randn(3, 2, 8, 8)
    ber, labels = torch.zeros(3), torch.tensor([1, 2, 3])
    attr = ig_attributions(dec, values, ber, labels, n_steps=64)
    with torch.no_grad():
        gap = (torch.nn.functional.cross_entropy(dec(values, ber), labels, reduction="none")
               - torch.nn.functional.cross_entropy(dec(torch.zeros_like(values), ber), labels, reduction="none"))
    assert torch.allclose(attr.sum(dim=(1, 2, 3)), gap, atol=2e-3, rtol=2e-2)


def test_hook_is_weighted_and_reads_the_sent_code():
    dec = _decoder()

    class Out:
        values = torch.randn(3, 2, 8, 8)

    batch = {"encoder_out": Out, "ber": torch.tensor([0.0, 0.01, 0.1]), "labels": torch.tensor([1, 2, 3])}
    plain = xai_term(dec, Out.values, batch["ber"], batch["labels"])
    assert torch.allclose(make_xai_loss(dec, 0.25)(batch), 0.25 * plain)
