"""The training levers of issue 9: erasures, the told BER, distillation, the deeper encoder."""

import numpy as np
import pytest
import torch

from semanticnn.channel.bits import to_codewords
from semanticnn.channel.packets import packetize, reassemble
from semanticnn.channel.payload import PayloadLayout
from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config
from semanticnn.train.engine import distillation, packet_erasures, told_ber


def _mask_through_real_packets(indices_nchw, lost, levels, mtu):
    """Per-symbol 'erased' mask by packetizing, dropping ``lost`` packets and reassembling."""
    k = int(np.log2(levels))
    row = indices_nchw.permute(1, 2, 0).reshape(-1).numpy()  # NHWC, as the device sends
    stream = PayloadLayout(row.size, levels).pack(to_codewords(row, True))
    packets = packetize(stream, 0, mtu)
    kept = [None if lost[i] else p for i, p in enumerate(packets)]
    got = reassemble(kept, len(stream), mtu)
    arrived = PayloadLayout(row.size, 1 << k).received(got.received)
    c, h, w = indices_nchw.shape
    return torch.from_numpy(~arrived).view(h, w, c).permute(2, 0, 1)


def test_packet_erasures_match_the_real_packetizer():
    gen = torch.Generator().manual_seed(3)
    indices = torch.randint(0, 8, (64, 8, 8, 8), generator=gen)
    erased = packet_erasures(indices, {"levels": 8}, 0.6, 51, torch.Generator().manual_seed(4))
    # replay the draw to learn which packets each sample lost
    replay = torch.Generator().manual_seed(4)
    rate = torch.rand(64, generator=replay) * 0.6
    rate = torch.where(torch.rand(64, generator=replay) < 0.5, torch.zeros(64), rate)
    n_packets = -(-PayloadLayout(512, 8).n_bytes // 44)
    lost = (torch.rand(64, n_packets, generator=replay) < rate[:, None]).numpy()
    assert lost.any() and not lost.all()
    for b in range(64):
        assert torch.equal(erased[b], _mask_through_real_packets(indices[b], lost[b], 8, 51))


def test_told_ber_stays_within_the_jitter_and_keeps_zero():
    ber = torch.tensor([0.0, 1e-3, 1e-2, 5e-2] * 250)
    told = told_ber(ber, 1.0, torch.Generator().manual_seed(0))
    ratio = told[ber > 0] / ber[ber > 0]
    assert told[ber == 0].eq(0).all()
    assert 0.5 <= ratio.min().item() and ratio.max().item() <= 2.0
    assert ratio.min().item() < 0.6 and ratio.max().item() > 1.9
    assert told_ber(ber, 0.0, None) is ber


def test_erased_symbols_do_not_reach_the_decoder():
    torch.manual_seed(0)
    dec = SplitDecoder(decoder_config(8, 8, erasure_input=True)).eval()
    values = torch.randn(2, 8, 8, 8)
    erased = torch.zeros(2, 8, 8, 8, dtype=torch.bool)
    erased[:, :, :4] = True
    other = values.clone()
    other[erased] = 5.0
    with torch.no_grad():
        a, b = dec(values, 0.01, erased), dec(other, 0.01, erased)
        c = dec(values, 0.01)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_distillation_is_zero_for_the_teacher_and_positive_otherwise():
    t = torch.randn(16, 10)
    assert distillation(t, t, 4.0).abs().item() < 1e-6
    assert distillation(torch.zeros(16, 10), t, 4.0).item() > 0


def test_deeper_encoder_has_two_k2s2_convs_and_the_same_code_shape():
    enc = SplitEncoder(encoder_config(8, 8, conv_hidden=32)).eval()
    convs = [m for m in enc.export_module().modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.out_channels) for c in convs[1:3]] == [((2, 2), (2, 2), 32),
                                                                               ((2, 2), (2, 2), 8)]
    assert tuple(enc(torch.rand(1, 3, 32, 32)).indices.shape) == (1, 8, 8, 8)


def test_context_encoder_widens_what_each_symbol_sees():
    torch.manual_seed(0)
    enc = SplitEncoder(encoder_config(6, 2, conv_hidden=16, context_blocks=2)).eval()
    convs = [m for m in enc.export_module().modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.dilation, c.padding) for c in convs[3:6]] == [
        ((3, 3), (1, 1), (1, 1)), ((3, 3), (2, 2), (2, 2)), ((1, 1), (1, 1), (0, 0))]
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    enc.gdn(enc.conv(enc.stem(x)))[0, :, 0, 0].sum().backward()
    seen = x.grad.abs().sum(1)[0] > 0  # pixels the symbols at (0, 0) depend on
    # dilations 1 and 2 reach 3 positions (12 pixels) on, plus the 4x4 block and the stem's border
    assert seen[:17, :17].all() and not seen[17:, :].any() and not seen[:, 17:].any()
    plain = SplitEncoder(encoder_config(6, 2, conv_hidden=16)).eval()
    x.grad = None
    plain.gdn(plain.conv(plain.stem(x)))[0, :, 0, 0].sum().backward()
    assert (x.grad.abs().sum(1)[0] > 0).sum().item() == 5 * 5  # the 4x4 block and the stem's 3x3 border
    assert tuple(enc(torch.rand(2, 3, 32, 32)).indices.shape) == (2, 6, 8, 8)


def test_context_encoder_needs_a_hidden_width():

    from semanticnn.errors import ConfigError
    from semanticnn.train.config import make_config

    with pytest.raises(ValueError, match="context_blocks, conv_blocks and ds_blocks need conv_hidden"):
        SplitEncoder(encoder_config(6, 2, context_blocks=1))
    with pytest.raises(ConfigError) as err:
        make_config(None, encoder_context=2, data=__file__)
    assert str(err.value) == "--encoder-context needs --encoder-hidden N (the context convs' width)"


def _bayes_posterior(received, ber, levels, mapping):
    """P(sent = k | received) by Bayes over every sent symbol, uniform prior, bits flipped i.i.d."""
    from semanticnn.channel.bits import bits_per_symbol, is_gray

    k_bits = bits_per_symbol(levels)
    codes = to_codewords(np.arange(levels), is_gray(mapping))
    got = codes[received]
    flips = np.array([bin(int(c) ^ int(got)).count("1") for c in codes])
    like = ber ** flips * (1 - ber) ** (k_bits - flips)
    return like / like.sum()


def test_symbol_posterior_is_bayes_over_the_real_code_words():
    from semanticnn.model.codec import codeword_distances, symbol_posterior

    for mapping in ("gray", "natural"):
        dist = codeword_distances(8, mapping)
        received = torch.arange(8).view(1, 1, 8, 1).expand(3, 1, 8, 1)
        ber = torch.tensor([0.0, 0.01, 0.1])
        post = symbol_posterior(received, ber, dist)  # [3, 1, L, 8, 1]
        assert torch.allclose(post.sum(2), torch.ones(3, 1, 8, 1), atol=1e-5)
        assert torch.equal(post[0, 0].argmax(0).view(-1), torch.arange(8))
        assert post[0, 0].max(0).values.min().item() > 0.9999
        for b, p in ((1, 0.01), (2, 0.1)):
            for y in range(8):
                want = _bayes_posterior(y, p, 8, mapping)
                assert np.allclose(post[b, 0, :, y, 0].numpy(), want, atol=1e-6), (mapping, p, y)
    gray = codeword_distances(8, "gray")
    assert gray[0, 7].item() == 1 and gray[0, 4].item() == 2 and gray[0, 5].item() == 3


def test_posterior_decoder_sees_erased_symbols_as_the_uniform_prior():
    torch.manual_seed(0)
    dec = SplitDecoder(decoder_config(2, 8, erasure_input=True, posterior_input=True, refine_blocks=1))
    dec.centres.copy_(torch.linspace(-1.5, 1.5, 8))
    values = dec.centres[torch.randint(0, 8, (2, 2, 8, 8))]
    erased = torch.zeros(2, 2, 8, 8)
    erased[:, 0, :4] = 1
    post = dec._posterior(values, 0.05, erased)
    assert post.shape == (2, 16, 8, 8)
    assert torch.allclose(post[:, :8, :4], torch.full_like(post[:, :8, :4], 1 / 8))
    assert torch.allclose(post[:, :8, 4:].sum(1), torch.ones(2, 4, 8), atol=1e-5)
    assert post[:, :8, 4:].max().item() > 0.8
    assert len(dec.refine) == 1 and dec.blocks[0].conv.in_channels == 2 * (1 + 1 + 8)
    with torch.no_grad():
        assert dec(values, 0.05, erased.bool()).shape == (2, 10)


def test_training_step_gives_the_decoder_the_encoders_learned_centres():
    from semanticnn.train.engine import received_feature

    torch.manual_seed(0)
    enc = SplitEncoder(encoder_config(2, 8))
    dec = SplitDecoder(decoder_config(2, 8, posterior_input=True))
    with torch.no_grad():
        enc.quantizer.c0.fill_(-0.9)
    out = enc(torch.rand(2, 3, 32, 32))
    assert not torch.allclose(dec.centres, enc.quantizer.centres())
    received_feature(enc, dec, out.values, 0.0, None)
    assert torch.equal(dec.centres, enc.quantizer.centres().detach())
    found = torch.argmin((out.values.detach().unsqueeze(-1) - dec.centres).abs(), dim=-1)
    assert torch.equal(found, out.indices)


def test_stage2_feature_weight_adds_exactly_its_share_of_the_feature_mse():
    import torch.nn.functional as F

    from semanticnn.train.engine import Stage2Step, received_feature

    torch.manual_seed(0)
    enc, dec = SplitEncoder(encoder_config(2, 4)).eval(), SplitDecoder(decoder_config(2, 4)).eval()
    images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])

    def channel(encoder, out):
        return out.values, None

    with torch.no_grad():
        task = Stage2Step(enc, dec, feature_weight=0.0)(images, labels, torch.zeros(4), channel)
        tied = Stage2Step(enc, dec, feature_weight=0.5)(images, labels, torch.zeros(4), channel)
        out = enc(images)
        rebuilt = received_feature(enc, dec, out.values, torch.zeros(4), None)
        assert torch.allclose(task, F.cross_entropy(dec.tail(rebuilt), labels))
        assert torch.allclose(tied - task, 0.5 * F.mse_loss(rebuilt, out.feature))


def test_block_encoder_doubles_the_width_at_8x8_within_the_device_budget():
    enc = SplitEncoder(encoder_config(6, 2, conv_hidden=32, conv_blocks=1)).eval()
    convs = [m for m in enc.export_module().modules() if isinstance(m, torch.nn.Conv2d)][:-1]  # not the GDN's
    assert [(c.kernel_size, c.stride, c.padding, c.out_channels) for c in convs] == [
        ((3, 3), (1, 1), (1, 1), 16), ((2, 2), (2, 2), (0, 0), 32), ((3, 3), (2, 2), (1, 1), 64),
        ((3, 3), (1, 1), (1, 1), 64), ((1, 1), (1, 1), (0, 0), 6)]
    sizes = [32, 16, 8, 8, 8]  # each conv's output side
    macs = sum(c.weight.numel() * s * s for c, s in zip(convs, sizes, strict=True))
    weights = sum(c.weight.numel() for c in convs)
    assert macs == 4_530_176 and macs < 5_000_000  # the device budget: 5 M MACs,
    assert weights == 58_160 and weights < 64 * 1024  # 64 KB of int8 weights
    assert tuple(enc(torch.rand(2, 3, 32, 32)).indices.shape) == (2, 6, 8, 8)


@pytest.mark.parametrize(("blocks", "macs", "weights"), [
    ({"ds_blocks": 6}, 3_964_928, 49_328),                   # 6 residual blocks in place of the 3x3 conv
    ({"conv_blocks": 1, "ds_blocks": 1}, 4_829_184, 62_832),  # one after it
])
def test_depthwise_residual_blocks_stay_within_the_device_budget(blocks, macs, weights):
    enc = SplitEncoder(encoder_config(6, 2, conv_hidden=32, **blocks)).eval()
    convs = [m for m in enc.export_module().modules() if isinstance(m, torch.nn.Conv2d)][:-1]  # not the GDN's
    side = {16: 32, 32: 16}  # output side by output width: 32x32 stem, 16x16 k2 s2, else 8x8
    counted = sum(c.weight.numel() * side.get(c.out_channels, 8) ** 2 for c in convs)
    assert (counted, sum(c.weight.numel() for c in convs)) == (macs, weights)
    assert macs < 5_000_000 and weights < 64 * 1024  # the device budget
    depthwise = [c for c in convs if c.groups > 1]
    assert [(c.groups, c.kernel_size) for c in depthwise] == [(64, (3, 3))] * blocks["ds_blocks"]
    enc.conv[-2].pw.weight.data.zero_()  # a block with no pointwise weights is relu(x + bias)
    enc.conv[-2].pw.bias.data.zero_()
    x = torch.rand(2, 64, 8, 8) - 0.5
    assert torch.equal(enc.conv[-2](x), torch.relu(x))
    assert tuple(enc(torch.rand(2, 3, 32, 32)).indices.shape) == (2, 6, 8, 8)


def test_block_and_context_layouts_exclude_each_other():
    from semanticnn.errors import ConfigError
    from semanticnn.train.config import make_config

    with pytest.raises(ValueError, match="two layouts"):
        SplitEncoder(encoder_config(6, 2, conv_hidden=8, context_blocks=1, conv_blocks=1))
    with pytest.raises(ConfigError) as err:
        make_config(None, encoder_blocks=1, data=__file__)
    assert str(err.value) == "--encoder-blocks needs --encoder-hidden N (half the blocks' width)"
    with pytest.raises(ConfigError) as err:
        make_config(None, encoder_hidden=8, encoder_blocks=1, encoder_context=1, data=__file__)
    assert str(err.value) == "--encoder-blocks and --encoder-context are two device layouts: pass one"
    with pytest.raises(ConfigError) as err:
        make_config(None, encoder_ds_blocks=2, data=__file__)
    assert str(err.value) == "--encoder-ds-blocks needs --encoder-hidden N (half the blocks' width)"


def test_code_balance_is_zero_for_live_channels_and_the_hinge_for_a_dead_one():
    from semanticnn.train.engine import code_balance

    gen = torch.Generator().manual_seed(0)
    y = torch.randn(64, 6, 8, 8, generator=gen)
    centres = torch.tensor([-2.0, 2.0])
    assert code_balance(y, centres) == 0.0
    y[:, 3] = 2.4 + 0.05 * torch.randn(64, 8, 8, generator=gen)  # a power sink: always the upper symbol
    y.requires_grad_(True)
    balance = code_balance(y, centres)
    mean, std = y[:, 3].mean().item(), y[:, 3].std().item()
    assert balance.item() == pytest.approx((mean - std) ** 2 / 6, rel=1e-5)
    balance.backward()
    assert y.grad[:, 3].sum() > 0  # a descent step lowers the sink's mean towards the threshold
    assert (y.grad[:, [0, 1, 2, 4, 5]] == 0).all()
    off_centre = torch.tensor([0.0, 4.0])  # the middle moves with the centres
    assert code_balance(y.detach() + 2.0, off_centre) == pytest.approx(balance.item(), rel=1e-5)


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_balance_weight_adds_exactly_its_share_of_the_code_balance(stage):
    from semanticnn.train.engine import Stage1Step, Stage2Step, code_balance

    torch.manual_seed(0)
    enc, dec = SplitEncoder(encoder_config(2, 2, conv_hidden=8)).eval(), SplitDecoder(decoder_config(2, 2)).eval()
    with torch.no_grad():
        enc.conv[-1].bias[1] = 50.0  # channel 1 dead: one symbol for every picture
    images, labels = torch.rand(8, 3, 32, 32), torch.arange(8) % 10
    step = Stage1Step if stage == "stage1" else Stage2Step

    def channel(encoder, out):
        return out.values, None

    with torch.no_grad():
        plain = step(enc, dec)(images, labels, torch.zeros(8), channel)
        balanced = step(enc, dec, balance_weight=2.0)(images, labels, torch.zeros(8), channel)
        out = enc(images)
        assert out.indices[:, 1].unique().numel() == 1
        assert code_balance(out.y, enc.quantizer.centres()) > 0.1
        assert torch.allclose(balanced - plain, 2.0 * code_balance(out.y, enc.quantizer.centres()))


def test_training_with_the_balance_term_revives_a_dead_code_channel():
    from semanticnn.train.engine import Stage1Step

    def symbols_of_channel_1(weight):
        torch.manual_seed(0)
        enc, dec = SplitEncoder(encoder_config(2, 2, conv_hidden=8)), SplitDecoder(decoder_config(2, 2, hidden=8))
        with torch.no_grad():
            enc.conv[-1].bias[1] = 3.0
        images = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))
        step = Stage1Step(enc, dec, balance_weight=weight)
        opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
        for _ in range(15):
            loss = step(images, None, torch.zeros(16), lambda encoder, out: (out.values, None))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return enc(images).indices[:, 1].unique().numel()

    assert symbols_of_channel_1(0.0) == 1
    assert symbols_of_channel_1(1.0) == 2
