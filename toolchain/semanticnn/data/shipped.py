"""Calibration images shipped inside the package: ``semanticnn/data/calibration.npz``.

They are CIFAR-10 TRAIN images (so accuracy measured on test images stays honest),
picked as ``read_cifar10_jpeg(split="train", limit=N, seed=0)`` picks them and stored
as the zip's own JPEG files, undecoded, so they decode to the very pixels the zip
gives. A smaller pick is a prefix of a larger one, so the export's 160 images are the
same with the zip or without it. Arrays in the file:

    jpeg     uint8 [total]   the JPEG files one after the other
    offsets  int64 [N + 1]   file i is jpeg[offsets[i]:offsets[i + 1]]
    labels   int64 [N]       CIFAR-10 class indices
    split    str             "train"
"""

import io
from importlib import resources
from pathlib import Path

import numpy as np

from semanticnn.atomic_file import write_atomic
from semanticnn.data.cifar_jpeg import decode_jpeg, read_cifar10_jpeg_bytes
from semanticnn.errors import ConfigError

__all__ = ["CALIBRATION_FILE", "SHIPPED_IMAGES", "write_calibration", "read_calibration"]

CALIBRATION_FILE = Path(str(resources.files("semanticnn.data") / "calibration.npz"))  # package data: works from a wheel
SHIPPED_IMAGES = 1000


def write_calibration(path=CALIBRATION_FILE, zip_path=None, count=SHIPPED_IMAGES, seed=0):
    """Pick ``count`` train images from the CIFAR-10 JPEG zip and write them to ``path``."""
    blobs, labels = read_cifar10_jpeg_bytes(zip_path, "train", count, seed)
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    buf = io.BytesIO()
    np.savez_compressed(buf, jpeg=np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets=offsets,
                        labels=labels, split=np.array("train"))
    return write_atomic(path, buf.getvalue())


def read_calibration(path=CALIBRATION_FILE, limit=None):
    """``(images uint8 [N, 32, 32, 3], labels int64 [N])``: the first ``limit`` shipped images."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            jpeg, offsets, labels = npz["jpeg"], npz["offsets"], npz["labels"]
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: restore it with `git checkout {path.name}` or pass --data") from None
    except (OSError, KeyError, ValueError):
        raise ConfigError(f"{path} is not a calibration file (jpeg, offsets, labels): pass --data") from None
    n = len(labels) if limit is None else min(limit, len(labels))
    images = np.stack([decode_jpeg(jpeg[offsets[i]:offsets[i + 1]].tobytes()) for i in range(n)])
    return images, labels[:n]
