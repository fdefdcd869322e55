"""Layers and codec: GDN formula, BN folding in export_module, BER-aware decoder."""

import numpy as np
import torch

from semanticnn.firmware import sq
from semanticnn.model.codec import (
    SplitDecoder,
    SplitEncoder,
    decoder_config,
    encoder_config,
    power_normalize,
)
from semanticnn.model.layers import GDN, IGDN

torch.set_num_threads(1)


def _randomise_bn(bn, gen):
    c = bn.num_features
    bn.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
    bn.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
    bn.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
    bn.bias.data.copy_(torch.randn(c, generator=gen) * 0.2)


def test_gdn_matches_formula():
    torch.manual_seed(0)
    gdn = GDN(3)
    with torch.no_grad():
        gdn.gamma_p.add_(torch.rand(3, 3) * 0.3)
    x = torch.randn(2, 3, 4, 4)
    beta, gamma = gdn.effective_params()
    assert torch.all(beta >= 0) and torch.all(gamma >= 0)
    norm = beta.view(1, 3, 1, 1) + torch.einsum("ij,bjhw->bihw", gamma, x * x)
    assert torch.allclose(gdn(x), x / torch.sqrt(norm), atol=1e-6)
    assert torch.allclose(IGDN(3)(x), x * torch.sqrt(1.0 + 0.1 * x * x), atol=1e-5)


def test_export_module_equals_encoder_gdn_output():
    gen = torch.Generator().manual_seed(1)
    enc = SplitEncoder(encoder_config(code_channels=4, levels=8))
    _randomise_bn(enc.stem.bn, gen)
    with torch.no_grad():
        enc.gdn.gamma_p.add_(torch.rand(4, 4, generator=gen) * 0.2)
    enc.eval()
    x = torch.rand(3, 3, 32, 32, generator=gen)
    module = enc.export_module()
    names = [type(m).__name__ for m in module]
    assert names == ["Conv2d", "ReLU", "Conv2d", "FrozenGDN"]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules())
    with torch.no_grad():
        ref = enc(x).gdn
        got = module(x)
    assert got.shape == (3, 4, 8, 8)
    assert torch.allclose(got, ref, atol=1e-5)


def test_encoder_outputs_and_device_interface():
    enc = SplitEncoder(encoder_config(code_channels=4, levels=8)).eval()
    out = enc(torch.rand(2, 3, 32, 32))
    assert out.feature.shape == (2, 16, 32, 32)
    assert out.indices.shape == (2, 4, 8, 8)
    rms = out.y.pow(2).mean(dim=(1, 2, 3)).sqrt()
    assert torch.allclose(rms, torch.ones(2), atol=1e-4)
    c = enc.centres()
    assert isinstance(c, np.ndarray) and c.shape == (8,) and np.all(np.diff(c) > 0)
    slopes = enc.prelu_slopes()
    assert slopes.shape == (4,) and np.allclose(slopes, 0.25)
    assert set(enc.config) >= {"backbone", "input_shape", "stem_channels", "code_channels",
                               "levels", "mapping"}


def test_power_normalize_is_per_sample():
    x = torch.randn(3, 2, 4, 4) * torch.tensor([0.1, 1.0, 10.0]).view(3, 1, 1, 1)
    y = power_normalize(x)
    assert torch.allclose(y.pow(2).mean(dim=(1, 2, 3)), torch.ones(3), atol=1e-5)


def test_decoder_shapes_and_ber_sensitivity():
    torch.manual_seed(0)
    dec = SplitDecoder(decoder_config(code_channels=4, levels=8)).eval()
    values = dec.dequantize(torch.randint(0, 8, (2, 4, 8, 8)))
    with torch.no_grad():
        f0 = dec.reconstruct(values, 0.0)
        f1 = dec.reconstruct(values, 0.1)
        logits = dec(values, torch.tensor([0.0, 0.05]))
    assert f0.shape == (2, 16, 32, 32)
    assert logits.shape == (2, 10)
    assert not torch.allclose(f0, f1)


def test_indices_agree_with_integer_sq_stage():
    """The float quantiser and the integer SQ mirror pick the same symbols (fine int8 grid)."""
    torch.manual_seed(0)
    enc = SplitEncoder(encoder_config(code_channels=4, levels=8)).eval()
    with torch.no_grad():
        enc.prelu.weight.copy_(torch.tensor([0.25, 0.5, 0.1, 0.75]))
        out = enc(torch.rand(4, 3, 32, 32))
    a_q7, b_q12 = sq.sq_params(enc.centres(), enc.prelu_slopes())
    agree = 0
    for g, idx in zip(out.gdn, out.indices, strict=True):
        nhwc = g.permute(1, 2, 0).numpy()
        q = np.round(nhwc / (np.abs(nhwc).max() / 127)).astype(np.int64)
        got = sq.symbols_from_output(q, 0, a_q7, b_q12)
        agree += (got == idx.permute(1, 2, 0).reshape(-1).numpy()).mean()
    assert agree / 4 > 0.9


def test_fold_bn_rounds_the_float64_fold_once():
    """Every CPU folds to the same float32 weights: the exact fold, rounded to float32 once."""
    from semanticnn.model.codec import fold_bn

    gen = torch.Generator().manual_seed(2)
    conv, bn = torch.nn.Conv2d(3, 16, 3, bias=True), torch.nn.BatchNorm2d(16)
    _randomise_bn(bn, gen)
    fused = fold_bn(conv, bn)
    g, var, eps = bn.weight.detach().numpy().astype(np.float64), bn.running_var.numpy().astype(np.float64), bn.eps
    scale = g / np.sqrt(var + eps)
    weight = (conv.weight.detach().numpy().astype(np.float64) * scale[:, None, None, None]).astype(np.float32)
    bias = (bn.bias.detach().numpy().astype(np.float64)
            + (conv.bias.detach().numpy().astype(np.float64) - bn.running_mean.numpy()) * scale).astype(np.float32)
    np.testing.assert_array_equal(fused.weight.detach().numpy(), weight)
    np.testing.assert_array_equal(fused.bias.detach().numpy(), bias)
    float32_fold = conv.weight.detach() * (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().view(-1, 1, 1, 1)
    assert not np.array_equal(float32_fold.numpy(), weight)  # the float32 fold is not the exact one
