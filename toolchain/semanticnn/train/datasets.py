"""Moved to ``semanticnn.data.datasets``; kept so ``train.pipeline``'s import resolves."""

from semanticnn.data.datasets import IMAGE_SIZE, Dataset, default_download_root, load_dataset

__all__ = ["Dataset", "load_dataset", "default_download_root", "IMAGE_SIZE"]
