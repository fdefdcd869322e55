"""MCU-first ResNet-8 for 32x32 inputs (about 78k parameters).

Layout (MLPerf-Tiny style):

    stem:  conv3x3(3 -> 16) + BN + ReLU                  -> [16, 32, 32]   (split point)
    tail:  BasicBlock(16 -> 16, s1) -> BasicBlock(16 -> 32, s2)
           -> BasicBlock(32 -> 64, s2) -> global avg pool -> linear(64 -> classes)

BasicBlock: ``y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with a
1x1 conv shortcut when shape changes. Input is ``pixel / 255`` (NCHW float).
"""

from torch import nn

from semanticnn.errors import ConfigError

__all__ = ["ResNet8", "Stem", "build_backbone", "split_channels", "BACKBONES"]


def _conv_bn(cin, cout, k, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout)
    )


class Stem(nn.Module):
    """``relu(bn(conv3x3(x)))``; attributes ``conv``, ``bn`` for BN folding."""

    def __init__(self, cin=3, cout=16):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        """Split feature ``relu(bn(conv(x)))``."""
        return self.relu(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = _conv_bn(cin, cout, 3, stride)
        self.b = _conv_bn(cout, cout, 3, 1)
        self.short = None if (cin == cout and stride == 1) else _conv_bn(cin, cout, 1, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return self.relu(self.b(self.relu(self.a(x))) + s)


class Tail(nn.Module):
    """Everything after the split point: stages, pooling, classifier."""

    def __init__(self, stem_channels=16, classes=10):
        super().__init__()
        c = stem_channels
        self.stages = nn.Sequential(
            BasicBlock(c, c, 1), BasicBlock(c, 2 * c, 2), BasicBlock(2 * c, 4 * c, 2)
        )
        self.fc = nn.Linear(4 * c, classes)

    def forward(self, feat):
        return self.fc(self.stages(feat).mean(dim=(2, 3)))


class ResNet8(nn.Module):
    """``logits = tail(stem(x))``; the split feature is ``stem(x)``."""

    def __init__(self, stem_channels=16, classes=10):
        super().__init__()
        self.stem = Stem(3, stem_channels)
        self.tail = Tail(stem_channels, classes)

    def forward(self, x):
        """Logits of the unsplit model."""
        return self.tail(self.stem(x))


def _resnet8(stem_channels, classes):
    return ResNet8(stem_channels=stem_channels, classes=classes)


def _resnet50(stem_channels, classes):
    from semanticnn.model.torchvision_backbones import ResNet50Split
    return ResNet50Split(classes=classes)


def _mobilenetv2(stem_channels, classes):
    from semanticnn.model.torchvision_backbones import MobileNetV2Split
    return MobileNetV2Split(classes=classes)


# name -> (builder, split width: None = any, default split width)
BACKBONES = {
    "resnet8": (_resnet8, None, 16),
    "resnet50": (_resnet50, 64, 64),
    "mobilenetv2": (_mobilenetv2, 32, 32),
}


def split_channels(name):
    """Channels of the split feature of backbone ``name`` at its default width."""
    return BACKBONES[name][2]


def build_backbone(name="resnet8", stem_channels=None, classes=10):
    """Backbone by config name; ``stem_channels`` None = the backbone's own split width.

    ResNet-50 and MobileNetV2 split at a fixed width (64 and 32 channels); asking
    for another raises ConfigError.
    """
    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r} (known: {', '.join(BACKBONES)})")
    builder, fixed, default = BACKBONES[name]
    if stem_channels is None:
        stem_channels = default
    if fixed is not None and stem_channels != fixed:
        raise ConfigError(f"backbone {name!r} splits at {fixed} channels, not {stem_channels}")
    model = builder(stem_channels, classes)
    model.config = {"backbone": name, "stem_channels": stem_channels, "classes": classes}
    return model
