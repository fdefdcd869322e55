"""The images a bench sends to the board.

Test images of ``--data`` (or of the CIFAR-10 zip beside the checkout). A machine with
neither still benches bit-exactness on the shipped calibration images, and says so:
whether packets match the host does not depend on which images they are.
"""

from semanticnn.data import default_cifar10_zip, read_calibration, read_split
from semanticnn.errors import ConfigError

__all__ = ["bench_images"]


def bench_images(data, samples, console=None):
    """``(images uint8 [N, 32, 32, 3], labels [N])`` for a bit-exactness bench of ``samples`` images."""
    if data is not None or default_cifar10_zip().is_file():
        return read_split(data, "test", samples)
    images, labels = read_calibration()
    if samples > len(images):
        raise ConfigError(f"--samples {samples}: without a test set only the {len(images)} shipped calibration "
                          "images can be sent; pass --data for more")
    if console is not None:
        console.print(f"no test set found ({default_cifar10_zip()}): sending {samples} shipped calibration "
                      "images (pass --data for test images)")
    return images[:samples], labels[:samples]
