"""The Captum Integrated-Gradients XAI term: finite, and its gradient reaches the decoder."""

import torch

from semanticnn.model.codec import SplitDecoder, decoder_config
from semanticnn.train.loops import freeze_
from semanticnn.train.xai import make_xai_loss, xai_term


def test_xai_term_is_finite_and_trains_the_decoder():
    torch.manual_seed(0)
    dec = SplitDecoder(decoder_config(2, 4, "gray", hidden=8))
    freeze_(dec.tail)
    rebuilt = dec.reconstruct(torch.randn(6, 2, 8, 8), 0.01)
    term = xai_term(dec.tail, rebuilt, torch.randint(0, 10, (6,)), n_steps=4, samples=4)
    assert term.dim() == 0 and bool(torch.isfinite(term))
    term.backward()
    assert float(dec.blocks[0].conv.weight.grad.abs().sum()) > 0
    assert float(dec.out.weight.grad.abs().sum()) > 0
    assert all(p.grad is None for p in dec.tail.parameters())


def test_hook_is_weighted():
    torch.manual_seed(0)
    dec = SplitDecoder(decoder_config(2, 4, "gray", hidden=8))
    freeze_(dec.tail)
    batch = {"rebuilt": dec.reconstruct(torch.randn(3, 2, 8, 8), 0.0), "labels": torch.tensor([1, 2, 3])}
    plain = xai_term(dec.tail, batch["rebuilt"], batch["labels"])
    assert torch.allclose(make_xai_loss(dec.tail, 0.25)(batch), 0.25 * plain)
