"""CIFAR-10 read straight from the JPEG zip (``cifar10-jpeg.zip``).

The zip is ImageFolder-style: ``train/<class>/NNNN.jpg`` and ``test/<class>/NNNN.jpg``.
Images come back as uint8 arrays (N, 32, 32, 3), labels as int64 (N,), classes in
index order. Decoded arrays are cached next to nothing: callers keep them in memory.
"""

import io
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from semanticnn.errors import ConfigError

__all__ = ["CIFAR10_CLASSES", "REPO_ROOT", "default_cifar10_zip", "read_cifar10_jpeg", "read_cifar10_jpeg_bytes",
           "decode_jpeg", "balanced_subset"]

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def default_cifar10_zip() -> Path:
    """``$SNN_CIFAR10_ZIP`` if set, else ``../shared/datasets/cifar10-jpeg.zip`` beside the repo."""
    env = os.environ.get("SNN_CIFAR10_ZIP")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "datasets" / "cifar10-jpeg.zip"


def read_cifar10_jpeg(zip_path=None, split="test", limit=None, seed=0):
    """Decode ``split`` ("train" or "test") from the zip.

    ``limit`` keeps a class-balanced subset of that many images, chosen with ``seed``;
    the same arguments always give the same images in the same order.
    """
    blobs, labels = read_cifar10_jpeg_bytes(zip_path, split, limit, seed)
    images = np.empty((len(blobs), 32, 32, 3), dtype=np.uint8)
    for i, blob in enumerate(blobs):
        images[i] = decode_jpeg(blob)
    return images, labels


def read_cifar10_jpeg_bytes(zip_path=None, split="test", limit=None, seed=0):
    """The JPEG files themselves, undecoded: ``([bytes], labels int64)``, picked as ``read_cifar10_jpeg``."""
    path = Path(zip_path) if zip_path is not None else default_cifar10_zip()
    if split not in ("train", "test"):
        raise ConfigError(f"unknown split {split!r}: use 'train' or 'test'")
    if not path.is_file():
        raise ConfigError(f"dataset not found: {path} (set SNN_CIFAR10_ZIP or pass --data)")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ConfigError(f"{path} is not a zip file: expected cifar10-jpeg.zip") from None
    with archive:
        names = sorted(n for n in archive.namelist() if n.startswith(f"{split}/") and n.endswith(".jpg"))
        labelled = [(n, CIFAR10_CLASSES.index(n.split("/")[1]))
                    for n in names if n.split("/")[1] in CIFAR10_CLASSES]
        if not labelled:
            raise ConfigError(f"{path} holds no {split}/<class>/*.jpg images: expected cifar10-jpeg.zip")
        if limit is not None and limit < len(labelled):
            labelled = balanced_subset(labelled, limit, seed)
        blobs = [archive.read(name) for name, _ in labelled]
    return blobs, np.array([label for _, label in labelled], dtype=np.int64)


def decode_jpeg(blob):
    """One JPEG file's bytes -> uint8 RGB array [H, W, 3]."""
    with Image.open(io.BytesIO(blob)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def balanced_subset(labelled, limit, seed):
    """``limit`` of the ``(item, label)`` pairs: round-robin over classes, each shuffled with ``seed``.

    A smaller ``limit`` gives a prefix of a larger one's pick (same seed).
    """
    rng = np.random.default_rng(seed)
    by_class = [[item for item in labelled if item[1] == c] for c in range(len(CIFAR10_CLASSES))]
    for items in by_class:
        rng.shuffle(items)
    picked = []
    for i in range(limit):
        items = by_class[i % len(by_class)]
        picked.append(items[i // len(by_class)])
    return picked
