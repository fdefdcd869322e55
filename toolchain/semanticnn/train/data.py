"""Moved to ``semanticnn.data.cifar_jpeg``; kept so the imports of a running training job resolve."""

from semanticnn.data.cifar_jpeg import CIFAR10_CLASSES, default_cifar10_zip, read_cifar10_jpeg

__all__ = ["CIFAR10_CLASSES", "default_cifar10_zip", "read_cifar10_jpeg"]
