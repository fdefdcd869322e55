"""ResNet-50 and MobileNetV2 from ``torchvision.models`` (``weights=None``), split for the codec.

Both are adapted to 32x32 inputs the usual CIFAR way, and cut after their first
conv block so that the split feature keeps the input's 32x32 size, like ResNet-8:

    resnet50:     stem = conv1 (3x3, stride 1, was 7x7 stride 2) + bn1 + ReLU
                         (maxpool removed: it would halve 32x32 again)   -> [64, 32, 32]
                  tail = layer1..layer4 -> global avg pool -> fc(2048 -> classes)
    mobilenetv2:  stem = features[0]: conv 3x3 (stride 1, was 2) + BN + ReLU6 -> [32, 32, 32]
                  tail = features[1:] -> global avg pool -> dropout(0.2) -> linear(1280 -> classes)

The stems expose ``conv``, ``bn`` and ``relu`` like ``backbone.Stem``, so the
encoder's BN folding works on them. Layers are taken from the torchvision
definitions, so their initialisation is torchvision's. MobileNetV2's dropout draws
from the global torch RNG (seeded by the trainer).
"""

import torch
from torch import nn
from torchvision import models

__all__ = ["SplitStem", "ResNet50Split", "MobileNetV2Split"]


class SplitStem(nn.Module):
    """``relu(bn(conv(x)))`` built from existing layers; the split feature."""

    def __init__(self, conv, bn, relu):
        super().__init__()
        self.conv = conv
        self.bn = bn
        self.relu = relu

    def forward(self, x):
        """Split feature ``relu(bn(conv(x)))``."""
        return self.relu(self.bn(self.conv(x)))


class _ResNet50Tail(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.layers = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.fc = net.fc

    def forward(self, feat):
        return self.fc(torch.flatten(self.layers(feat).mean(dim=(2, 3)), 1))


class _MobileNetV2Tail(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.features = net.features[1:]
        self.classifier = net.classifier

    def forward(self, feat):
        return self.classifier(self.features(feat).mean(dim=(2, 3)))


class _Split(nn.Module):
    """``logits = tail(stem(x))``; the split feature is ``stem(x)``."""

    def forward(self, x):
        """Logits of the unsplit model."""
        return self.tail(self.stem(x))


class ResNet50Split(_Split):
    """torchvision ResNet-50, CIFAR stem (3x3 s1 conv, no maxpool), split after the stem."""

    STEM_CHANNELS = 64

    def __init__(self, classes=10):
        super().__init__()
        net = models.resnet50(weights=None, num_classes=classes)
        conv = nn.Conv2d(3, self.STEM_CHANNELS, 3, 1, 1, bias=False)
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        self.stem = SplitStem(conv, net.bn1, nn.ReLU(inplace=False))
        self.tail = _ResNet50Tail(net)


class MobileNetV2Split(_Split):
    """torchvision MobileNetV2, first conv at stride 1, split after ``features[0]``."""

    STEM_CHANNELS = 32

    def __init__(self, classes=10):
        super().__init__()
        net = models.mobilenet_v2(weights=None, num_classes=classes)
        conv, bn, act = net.features[0]
        conv.stride = (1, 1)
        self.stem = SplitStem(conv, bn, act)
        self.tail = _MobileNetV2Tail(net)
