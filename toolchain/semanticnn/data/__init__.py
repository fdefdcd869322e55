"""data: the image readers every stage shares (train, export, bench, evaluate, edge).

``sources`` (one ``--data`` argument: CIFAR-10 JPEG zip, ``cifar-10-batches-py``,
ImageFolder, calibration file), ``shipped`` (``calibration.npz``, package data),
``datasets`` (training data sets by config name), and one reader a layout.
"""

from semanticnn.data.cifar_jpeg import CIFAR10_CLASSES, default_cifar10_zip, read_cifar10_jpeg
from semanticnn.data.datasets import Dataset, load_dataset
from semanticnn.data.shipped import CALIBRATION_FILE, read_calibration
from semanticnn.data.sources import DATA_HELP, has_split, load_split, read_split

__all__ = [
    "CIFAR10_CLASSES", "default_cifar10_zip", "read_cifar10_jpeg", "Dataset", "load_dataset",
    "CALIBRATION_FILE", "read_calibration", "DATA_HELP", "has_split", "load_split", "read_split",
]
