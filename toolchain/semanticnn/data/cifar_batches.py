"""torchvision's CIFAR-10 folder ``cifar-10-batches-py``, read without torchvision.

The folder holds pickled batches ``data_batch_1`` .. ``data_batch_5`` (train) and
``test_batch`` (test); each is a dict with ``b"data"`` (uint8 [N, 3072], the planes
R, G, B of a 32x32 image one after the other) and ``b"labels"``. This is the format
the CIFAR-10 authors publish; ``pickle`` is how it is read (trust only a real copy).
"""

import pickle
from pathlib import Path

import numpy as np

from semanticnn.data.image_folder import balanced_indices
from semanticnn.errors import ConfigError

__all__ = ["FOLDER_NAME", "TRAIN_BATCHES", "TEST_BATCHES", "is_cifar_batches", "read_cifar_batches"]

FOLDER_NAME = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)


def is_cifar_batches(folder):
    """True if ``folder`` holds a ``test_batch`` or ``data_batch_1`` file."""
    return any((Path(folder) / name).is_file() for name in (*TEST_BATCHES, TRAIN_BATCHES[0]))


def _read_batch(path):
    try:
        with open(path, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError):
        raise ConfigError(f"{path} is not a CIFAR-10 python batch: download cifar-10-python again") from None
    return data.transpose(0, 2, 3, 1), labels


def read_cifar_batches(folder, split="test", limit=None, seed=0):
    """``(images uint8 [N, 32, 32, 3], labels int64 [N])`` of ``split`` from ``cifar-10-batches-py``."""
    folder = Path(folder)
    if split not in ("train", "test"):
        raise ConfigError(f"unknown split {split!r}: use 'train' or 'test'")
    names = TRAIN_BATCHES if split == "train" else TEST_BATCHES
    present = [folder / n for n in names if (folder / n).is_file()]
    if not present:
        raise ConfigError(f"{folder} has no {names[0]}: a {FOLDER_NAME} folder holds data_batch_1..5 and test_batch")
    parts = [_read_batch(p) for p in present]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    keep = balanced_indices(labels, limit, seed)
    return np.ascontiguousarray(images[keep]), labels[keep]
