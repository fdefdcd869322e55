"""One ``--data`` argument, any of the dataset layouts we read.

    None                      the CIFAR-10 JPEG zip beside the checkout or at $SNN_CIFAR10_ZIP
    *.zip                     the CIFAR-10 JPEG zip (train/<class>/*.jpg, test/<class>/*.jpg)
    *.npz                     a calibration file (``semanticnn.data.shipped``; train images only)
    cifar-10-batches-py/      torchvision's CIFAR-10 python batches (or a folder that holds it)
    ROOT/ with train/ val/ or test/   an ImageFolder tree

``read_split`` returns numpy ``(images uint8 [N, 32, 32, 3], labels int64 [N])``;
``load_split`` the same as torch tensors, images NCHW.
"""

from pathlib import Path

import numpy as np
import torch

from semanticnn.data.cifar_batches import FOLDER_NAME, is_cifar_batches, read_cifar_batches
from semanticnn.data.cifar_jpeg import default_cifar10_zip, read_cifar10_jpeg
from semanticnn.data.image_folder import balanced_indices, read_image_folder, split_folder
from semanticnn.data.shipped import read_calibration
from semanticnn.errors import ConfigError

__all__ = ["DATA_HELP", "read_split", "load_split", "has_split"]

DATA_HELP = ("a cifar10-jpeg.zip, a cifar-10-batches-py folder or an ImageFolder tree "
             "(default: $SNN_CIFAR10_ZIP or ../shared/datasets/cifar10-jpeg.zip)")


def _kind(data):
    """``(reader, path)`` for a ``--data`` value; ConfigError naming the layouts if none fits."""
    path = Path(data).expanduser() if data is not None else default_cifar10_zip()
    if not path.exists():
        raise ConfigError(f"dataset not found: {path} (pass --data: {DATA_HELP})")
    if path.is_file() and path.suffix == ".zip":
        return "zip", path
    if path.is_file() and path.suffix == ".npz":
        return "npz", path
    if path.is_dir() and is_cifar_batches(path):
        return "batches", path
    if path.is_dir() and is_cifar_batches(path / FOLDER_NAME):
        return "batches", path / FOLDER_NAME
    if path.is_dir() and (split_folder(path, "train") or split_folder(path, "test")):
        return "folder", path
    raise ConfigError(f"{path} is not a dataset we read: pass {DATA_HELP}")


def _read_npz(path, split, limit, seed):
    if split != "train":
        raise ConfigError(f"{path} holds calibration (train) images only: pass a test set with --data")
    images, labels = read_calibration(path)
    keep = balanced_indices(labels, limit, seed) if limit is not None and limit < len(labels) else slice(None)
    return images[keep], labels[keep]


_READERS = {
    "zip": read_cifar10_jpeg,
    "npz": _read_npz,
    "batches": read_cifar_batches,
    "folder": read_image_folder,
}


def read_split(data=None, split="test", limit=None, seed=0):
    """``split`` ("train" or "test") of ``data`` (see the module docstring), a balanced ``limit`` subset."""
    kind, path = _kind(data)
    return _READERS[kind](path, split, limit, seed)


def has_split(data, split):
    """True if ``data`` (an existing dataset) holds ``split``; ConfigError if it is no dataset at all."""
    kind, path = _kind(data)
    if kind == "npz":
        return split == "train"
    if kind == "folder":
        return split_folder(path, split) is not None
    if kind == "batches":
        from semanticnn.data.cifar_batches import TEST_BATCHES, TRAIN_BATCHES

        return any((path / n).is_file() for n in (TRAIN_BATCHES if split == "train" else TEST_BATCHES))
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return any(n.startswith(f"{split}/") and n.endswith(".jpg") for n in archive.namelist())


def load_split(data, split, limit=None, seed=0):
    """``(images uint8 [N, 3, 32, 32], labels int64 [N])`` as torch tensors."""
    images, labels = read_split(data, split, limit, seed)
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)
