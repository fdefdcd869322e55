"""A tiny ImageFolder dataset and config for fast training tests."""

import numpy as np
from PIL import Image


def make_imagefolder(root, per_class=8, val_per_class=2, classes=("cat", "dog")):
    """``root/train/<class>/*.png`` and ``root/val/<class>/*.png``, seeded random 32x32 images."""
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("val", val_per_class)):
        for c in classes:
            folder = root / split / c
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def tiny_options(data, out, **overrides):
    """Options of a seconds-long run on the tiny folder."""
    options = dict(dataset="imagefolder", data=str(data), out=str(out), epochs_base=1, epochs_stage1=1,
                   epochs_stage2=1, batch_size=8, code_channels=2, hidden=8, threads=1, device="cpu")
    options.update(overrides)
    return options
