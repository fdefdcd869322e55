"""SoftQuantizer: hard values, straight-through gradients, sorted centres."""

import pytest
import torch

from semanticnn.model.quantizer import SoftQuantizer

torch.set_num_threads(1)


def test_initial_centres_are_evenly_spaced_and_sorted():
    q = SoftQuantizer(levels=8, init_range=1.75)
    expected = torch.linspace(-1.75, 1.75, 8)
    assert torch.allclose(q.centres().detach(), expected, atol=1e-5)


def test_hard_forward_matches_hand_computed_nearest_centre():
    q = SoftQuantizer(levels=8, init_range=1.75)  # centres -1.75, -1.25, ..., 1.75
    x = torch.tensor([[-3.0, -1.3, 0.1, 0.6, 1.1, 2.5]])
    out = q(x)
    assert out.indices.tolist() == [[0, 1, 4, 5, 6, 7]]
    assert torch.allclose(out.values, torch.tensor([[-1.75, -1.25, 0.25, 0.75, 1.25, 1.75]]), atol=1e-5)
    assert out.indices.dtype == torch.int64
    assert torch.equal(q.indices(x), out.indices)


def test_gradient_reaches_input_and_centres():
    q = SoftQuantizer(levels=8, sigma=0.5)
    x = torch.randn(4, 3, 5, 5, requires_grad=True)
    out = q(x)
    (out.values * torch.randn_like(out.values)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert q.c0.grad is not None and q.c0.grad.abs() > 0
    assert q.deltas.grad is not None and q.deltas.grad.abs().sum() > 0


def test_centres_stay_sorted_and_distinct_under_training():
    torch.manual_seed(0)
    q = SoftQuantizer(levels=8, sigma=1.0)
    opt = torch.optim.SGD(q.parameters(), lr=0.5)
    for _ in range(100):  # pull every centre towards 0: they want to collapse
        x = torch.randn(256) * 0.3
        loss = (q(x).values ** 2).mean() + (q.centres() ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    c = q.centres().detach()
    assert torch.isfinite(c).all()
    assert torch.all(c[1:] > c[:-1])
    assert float(c[-1] - c[0]) < 3.0  # they did move together


@pytest.mark.parametrize("levels", [2, 4, 8, 16])
def test_indices_in_range(levels):
    q = SoftQuantizer(levels=levels)
    idx = q(torch.randn(1000) * 5).indices
    assert int(idx.min()) >= 0 and int(idx.max()) <= levels - 1


def test_soft_value_and_its_gradient_by_hand():
    """L=2, centres -1 and 1, sigma 1, x = 0.5: weights softmax(-(x - c)^2) = softmax(-2.25, -0.25)."""
    q = SoftQuantizer(levels=2, init_range=1.0, sigma=1.0)
    x = torch.tensor([0.5], requires_grad=True)
    out = q(x)
    w1 = 1.0 / (1.0 + torch.exp(torch.tensor(-2.0)))  # weight of c=+1: e^-0.25 / (e^-2.25 + e^-0.25)
    soft = 2 * w1 - 1
    assert out.indices.tolist() == [1] and out.values.item() == pytest.approx(1.0)  # hard forward
    assert out.soft.item() == pytest.approx(float(soft), abs=1e-6)
    out.values.sum().backward()
    # d soft / dx = sum_k c_k dw_k/dx; dw1/dx = w1 (1 - w1) * d(logit gap)/dx, gap = 4x -> 4 w1 (1 - w1)
    assert x.grad.item() == pytest.approx(float(2 * 4 * w1 * (1 - w1)), abs=1e-5)
