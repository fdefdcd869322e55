"""ResNet-50 and MobileNetV2 (torchvision) through the split encoder/decoder."""

import pytest
import torch

from semanticnn.errors import ConfigError
from semanticnn.model.backbone import build_backbone
from semanticnn.model.checkpoint import load_encoder, save_encoder
from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config


@pytest.mark.parametrize(("name", "stem"), [("resnet50", 64), ("mobilenetv2", 32)])
def test_split_forward_on_two_images(name, stem):
    torch.manual_seed(0)
    enc = SplitEncoder(encoder_config(4, 8, "gray", stem, name)).eval()
    dec = SplitDecoder(decoder_config(4, 8, "gray", stem, name, hidden=16, classes=10)).eval()
    with torch.no_grad():
        out = enc(torch.rand(2, 3, 32, 32))
        logits = dec(out.values, 0.01)
    assert out.feature.shape == (2, stem, 32, 32)
    assert out.indices.shape == (2, 4, 8, 8)
    assert logits.shape == (2, 10)
    assert bool(torch.isfinite(logits).all())


def test_unsplit_model_equals_tail_of_stem():
    torch.manual_seed(0)
    model = build_backbone("mobilenetv2", classes=100).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), model.tail(model.stem(x)))
        assert model(x).shape == (2, 100)


def test_encoder_checkpoint_rebuilds_its_backbone(tmp_path):
    enc = SplitEncoder(encoder_config(4, 8, "gray", 32, "mobilenetv2"))
    loaded = load_encoder(save_encoder(tmp_path / "encoder.pt", enc))
    assert type(loaded.stem.relu) is torch.nn.ReLU6
    assert torch.equal(loaded.stem.conv.weight, enc.stem.conv.weight)


def test_fixed_split_width_is_checked():
    with pytest.raises(ConfigError) as err:
        build_backbone("resnet50", stem_channels=16)
    assert str(err.value) == "backbone 'resnet50' splits at 64 channels, not 16"
