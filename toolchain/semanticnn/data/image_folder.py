"""ImageFolder trees: ``ROOT/<split>/<class>/**/*.{jpg,png,...}``, resized to 32x32.

Classes are the sorted folder names of ``ROOT/train`` (or of the split itself when the
tree has no ``train/``), so CIFAR-10 exported as folders keeps its label order. The
test split is ``val/`` or ``test/``; Tiny-ImageNet's ``val/images`` +
``val_annotations.txt`` layout is read too.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from semanticnn.errors import ConfigError

__all__ = ["IMAGE_SIZE", "balanced_indices", "read_image", "class_names", "split_folder", "folder_items",
           "read_image_folder"]

IMAGE_SIZE = 32
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
_TEST_SPLITS = ("val", "test")


def balanced_indices(labels, limit, seed):
    """Indices of a class-balanced subset of ``limit`` (round-robin over shuffled classes)."""
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked, i = [], 0
    while len(picked) < limit:
        items = by_class[i % len(by_class)]
        if i // len(by_class) < len(items):
            picked.append(items[i // len(by_class)])
        i += 1
    return np.array(picked)


def read_image(path):
    """One image file -> uint8 RGB [32, 32, 3] (bilinear resize if it is another size)."""
    with Image.open(path) as img:
        img = img.convert("RGB")
        if img.size != (IMAGE_SIZE, IMAGE_SIZE):
            img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def _files(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)


def split_folder(root, split):
    """``ROOT/train`` for "train"; ``ROOT/val`` or ``ROOT/test`` for "test"; None if absent."""
    names = ("train",) if split == "train" else _TEST_SPLITS
    return next((Path(root) / s for s in names if (Path(root) / s).is_dir()), None)


def class_names(root):
    """Sorted class folder names of ``ROOT/train``, else of the test split's folder."""
    folder = split_folder(root, "train") or split_folder(root, "test")
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "images") if folder else []


def folder_items(folder, names):
    """``[(file, label)]`` of one split folder: class folders, or Tiny-ImageNet's val layout."""
    annotations = folder / "val_annotations.txt"
    if annotations.is_file():
        index = {c: i for i, c in enumerate(names)}
        rows = [line.split("\t")[:2] for line in annotations.read_text().splitlines() if line.strip()]
        return [(folder / "images" / name, index[wnid]) for name, wnid in rows if wnid in index]
    return [(f, i) for i, c in enumerate(names) for f in _files(folder / c)]


def read_image_folder(root, split="test", limit=None, seed=0):
    """``(images uint8 [N, 32, 32, 3], labels int64 [N])`` of one split of an ImageFolder tree."""
    root = Path(root).expanduser()
    if split not in ("train", "test"):
        raise ConfigError(f"unknown split {split!r}: use 'train' or 'test'")
    folder = split_folder(root, split)
    if folder is None:
        want = "train/" if split == "train" else "val/ or test/"
        raise ConfigError(f"{root} has no {want} folder: an ImageFolder tree needs {want}<class>/*.jpg")
    items = folder_items(folder, class_names(root))
    if not items:
        raise ConfigError(f"{folder} holds no images in class folders: expected {folder}/<class>/*.jpg")
    labels = np.array([label for _, label in items], dtype=np.int64)
    keep = balanced_indices(labels, limit, seed)
    return np.stack([read_image(items[i][0]) for i in keep]), labels[keep]
