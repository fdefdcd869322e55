"""Training data sets by config name; every one returns in-memory uint8 tensors.

    cifar10-jpeg  the shared CIFAR-10 JPEG zip (default; ``data`` = the zip)
    cifar10       torchvision CIFAR10 under ``data`` (downloaded if absent)
    cifar100      torchvision CIFAR100 under ``data`` (downloaded if absent)
    imagefolder   ``data/train/<class>/**/*`` and ``data/val/<class>/**/*`` (or ``test/``);
                  Tiny-ImageNet's ``val/images`` + ``val_annotations.txt`` is read too.
                  Images are resized to 32x32 (bilinear), the codec's input size.

A split is ``(images uint8 [N, 3, 32, 32], labels int64 [N])``; ``limit`` keeps a
class-balanced subset chosen with ``seed`` (the test split gets ``limit // 4``).
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from semanticnn.data.cifar_jpeg import default_cifar10_zip
from semanticnn.data.image_folder import IMAGE_SIZE, balanced_indices, folder_items, read_image
from semanticnn.data.sources import load_split
from semanticnn.errors import ConfigError

__all__ = ["Dataset", "load_dataset", "default_download_root", "IMAGE_SIZE"]


class Dataset(NamedTuple):
    """Train and test splits, the class count and a name for the metadata."""

    train: tuple
    test: tuple
    classes: int
    name: str


def default_download_root():
    """Where torchvision datasets go when no ``data`` is given."""
    return Path.home() / ".cache" / "semanticnn" / "datasets"


def _test_limit(limit):
    return None if limit is None else max(limit // 4, 10)


def _to_tensors(images, labels, limit, seed):
    keep = balanced_indices(np.asarray(labels), limit, seed)
    x = torch.from_numpy(np.ascontiguousarray(images[keep])).permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(np.asarray(labels, dtype=np.int64)[keep])


def _cifar_jpeg(data, limit, seed):
    path = Path(data) if data is not None else default_cifar10_zip()
    if not path.is_file():
        raise ConfigError(f"dataset not found: {path} (pass --data or set SNN_CIFAR10_ZIP)")
    return Dataset(load_split(path, "train", limit, seed), load_split(path, "test", _test_limit(limit), seed),
                   10, path.name)


def _torchvision(cls_name, classes):
    def load(data, limit, seed):
        from torchvision import datasets

        root = Path(data).expanduser() if data is not None else default_download_root()
        cls = getattr(datasets, cls_name)
        try:
            train = cls(root=str(root), train=True, download=True)
            test = cls(root=str(root), train=False, download=True)
        except (OSError, RuntimeError) as exc:
            raise ConfigError(f"cannot load {cls_name} under {root}: {str(exc).splitlines()[0]}") from None
        return Dataset(_to_tensors(train.data, train.targets, limit, seed),
                       _to_tensors(test.data, test.targets, _test_limit(limit), seed),
                       classes, cls_name.lower())
    return load


def _imagefolder(data, limit, seed):
    root = Path(data).expanduser()
    if not (root / "train").is_dir():
        raise ConfigError(f"{root} has no train/ folder: expected train/<class>/ and val/ or test/")
    class_names = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    test_split = next((s for s in ("val", "test") if (root / s).is_dir()), None)
    if not class_names or test_split is None:
        raise ConfigError(f"{root} needs train/<class>/ folders and a val/ or test/ folder")
    splits = []
    for split, lim in (("train", limit), (test_split, _test_limit(limit))):
        items = folder_items(root / split, class_names)
        if not items:
            raise ConfigError(f"{root / split} holds no images of the train/ classes")
        labels = np.array([label for _, label in items], dtype=np.int64)
        keep = balanced_indices(labels, lim, seed)
        images = np.stack([read_image(items[i][0]) for i in keep])
        splits.append(_to_tensors(images, labels[keep], None, seed))
    return Dataset(splits[0], splits[1], len(class_names), root.name)


_LOADERS = {
    "cifar10-jpeg": _cifar_jpeg,
    "cifar10": _torchvision("CIFAR10", 10),
    "cifar100": _torchvision("CIFAR100", 100),
    "imagefolder": _imagefolder,
}


def load_dataset(name, data=None, limit=None, seed=0):
    """Load dataset ``name`` (see the module docstring) -> Dataset."""
    if name not in _LOADERS:
        raise ConfigError(f"unknown dataset {name!r} (known: {', '.join(_LOADERS)})")
    return _LOADERS[name](data, limit, seed)
