"""Code usage: each code channel's symbol entropy, and the dead channels `snn eval` names."""

import math

import pytest
import torch

from semanticnn.evaluate.code_usage import CodeUsage, dead_channels, measure_code_usage, usage_line
from semanticnn.model.checkpoint import save_encoder
from semanticnn.model.codec import SplitEncoder, encoder_config


def test_entropy_per_channel_and_the_dead_ones():
    usage = CodeUsage(3, 4)
    indices = torch.zeros(2, 3, 2, 2, dtype=torch.long)
    indices[:, 0] = torch.tensor([[0, 1], [2, 3]])  # every symbol equally often: 2 bits
    indices[0, 1], indices[1, 1] = 1, 3  # two symbols, half each: 1 bit
    indices[:, 2] = 2  # one symbol for every picture
    usage.add(indices)
    usage.add(indices)
    assert usage.summary() == {"levels": 4, "channel_bits": [2.0, 1.0, 0.0]}
    assert dead_channels(usage.summary()) == [2]
    skewed = CodeUsage(2, 2)
    rare = torch.zeros(1000, 2, 1, 1, dtype=torch.long)
    rare[:250, 0] = 1  # a quarter of channel 0's symbols are 1
    rare[0, 1] = 1  # one of channel 1's thousand: 0.011 bits, nearly dead
    skewed.add(rare)
    quarter = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    one_in_1000 = -(0.999 * math.log2(0.999) + 0.001 * math.log2(0.001))
    assert skewed.summary()["channel_bits"] == [pytest.approx(quarter, abs=1e-4), pytest.approx(one_in_1000, abs=1e-4)]
    assert dead_channels(skewed.summary()) == []
    assert dead_channels({"levels": 2, "channel_bits": [0.5, 0.0099]}) == [1]


def test_the_usage_line_names_dead_channels_and_the_fix():
    alive = {"levels": 2, "channel_bits": [1.0, 0.97]}
    assert usage_line(alive) == ("Code usage: 2 of 2 code channels carry information; bits a symbol (at most 1): "
                                 "1.00, 0.97")
    dead = {"levels": 4, "channel_bits": [0.0, 1.9, 0.004]}
    assert usage_line(dead) == ("Code usage: 1 of 3 code channels carry information; bits a symbol (at most 2): "
                                "0.00, 1.90, 0.00. Channels 0, 2 send the same symbol for nearly every picture: "
                                "retrain with --balance-weight 1")


def test_a_checkpoint_with_a_dead_channel_is_measured_as_such(tmp_path):
    torch.manual_seed(0)
    encoder = SplitEncoder(encoder_config(3, 2, conv_hidden=8)).eval()
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # channels 0 and 2 centred on the threshold, channel 1 far above it
        pre_gdn = encoder.conv(encoder.stem(images.float() / 255))
        encoder.conv[-1].bias -= pre_gdn.mean(dim=(0, 2, 3))
        encoder.conv[-1].bias[1] = 50.0
    checkpoint = save_encoder(tmp_path / "encoder.pt", encoder)
    usage = measure_code_usage(checkpoint, images, batch_size=16)
    assert dead_channels(usage) == [1]
    assert usage["channel_bits"][1] == 0.0 and min(usage["channel_bits"][0], usage["channel_bits"][2]) > 0.5
