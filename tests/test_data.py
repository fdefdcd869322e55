"""semanticnn.data: the shipped calibration images and every --data layout, read to the same pixels."""

import pickle
import zipfile

import numpy as np
import pytest
from PIL import Image

from semanticnn.data import CIFAR10_CLASSES, default_cifar10_zip, has_split, read_calibration, read_split
from semanticnn.data.cifar_jpeg import read_cifar10_jpeg
from semanticnn.data.shipped import CALIBRATION_FILE, SHIPPED_IMAGES
from semanticnn.errors import ConfigError

needs_zip = pytest.mark.skipif(not default_cifar10_zip().is_file(), reason="CIFAR-10 JPEG zip not found")


@pytest.fixture(scope="module")
def shipped():
    return read_calibration(limit=40)


def test_shipped_calibration_is_class_balanced_train_images():
    images, labels = read_calibration()
    assert images.shape == (SHIPPED_IMAGES, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [SHIPPED_IMAGES // 10] * 10
    assert CALIBRATION_FILE.stat().st_size < 400_000


@needs_zip
def test_shipped_images_are_the_zips_own_pick_so_exports_match_with_or_without_it():
    images, labels = read_calibration(limit=160)
    want, want_labels = read_cifar10_jpeg(None, "train", 160, 0)
    assert np.array_equal(images, want) and np.array_equal(labels, want_labels)


def write_batches(folder, images, labels, names):
    folder.mkdir(parents=True)
    data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    for name, rows in zip(names, np.array_split(np.arange(len(images)), len(names)), strict=True):
        with open(folder / name, "wb") as fh:
            pickle.dump({b"data": data[rows], b"labels": labels[rows].tolist()}, fh)


def test_cifar_batches_folder_reads_the_same_pixels_from_it_or_its_parent(tmp_path, shipped):
    images, labels = shipped
    write_batches(tmp_path / "cifar-10-batches-py", images[:30], labels[:30], ["data_batch_1", "data_batch_2"])
    write_batches(tmp_path / "only-test", images[30:], labels[30:], ["test_batch"])
    got, got_labels = read_split(tmp_path, "train")
    assert np.array_equal(got, images[:30]) and np.array_equal(got_labels, labels[:30])
    got, got_labels = read_split(tmp_path / "only-test", "test")
    assert np.array_equal(got, images[30:]) and np.array_equal(got_labels, labels[30:])
    sub, sub_labels = read_split(tmp_path / "cifar-10-batches-py", "train", limit=10)
    assert sorted(sub_labels.tolist()) == list(range(10))
    assert has_split(tmp_path / "only-test", "test") and not has_split(tmp_path / "only-test", "train")
    with pytest.raises(ConfigError) as err:
        read_split(tmp_path / "only-test", "train")
    assert str(err.value) == (f"{tmp_path / 'only-test'} has no data_batch_1: a cifar-10-batches-py folder "
                              "holds data_batch_1..5 and test_batch")


def test_image_folder_labels_follow_sorted_class_folders(tmp_path, shipped):
    images, labels = shipped
    for split, rows in (("train", range(0, 20)), ("test", range(20, 40))):
        for i in rows:
            folder = tmp_path / split / CIFAR10_CLASSES[labels[i]]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(folder / f"{i:04d}.png")
    got, got_labels = read_split(tmp_path, "test")
    order = sorted(range(20, 40), key=lambda i: (labels[i], i))
    assert np.array_equal(got, images[order]) and got_labels.tolist() == labels[order].tolist()


def test_eval_runs_from_a_test_only_zip(tmp_path, shipped):
    import torch

    from semanticnn.evaluate.cli import evaluate_files
    from semanticnn.model.checkpoint import save_decoder, save_encoder
    from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config

    images, labels = shipped
    path = tmp_path / "test-only.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(20):
            archive.writestr(f"test/{CIFAR10_CLASSES[labels[i]]}/{i:04d}.jpg", _jpeg(images[i]))
    torch.manual_seed(0)
    enc = save_encoder(tmp_path / "e.pt", SplitEncoder(encoder_config(code_channels=2, levels=4)))
    dec = save_decoder(tmp_path / "d.pt", SplitDecoder(decoder_config(code_channels=2, levels=4, hidden=8)))
    report = evaluate_files(enc, dec, "0", "iid", data=path, methods=("split", "raw-int8"))
    assert report["samples"] == 20 and [m["name"] for m in report["methods"]] == ["split", "raw-int8"]


def _jpeg(image):
    import io

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nope", "dataset not found: {p}/nope (pass --data: a cifar10-jpeg.zip, a cifar-10-batches-py "
                           "folder or an ImageFolder tree (default: $SNN_CIFAR10_ZIP or "
                           "../shared/datasets/cifar10-jpeg.zip))"),
    (lambda p: p, "{p} is not a dataset we read: pass a cifar10-jpeg.zip, a cifar-10-batches-py folder or an "
                  "ImageFolder tree (default: $SNN_CIFAR10_ZIP or ../shared/datasets/cifar10-jpeg.zip)"),
    (lambda p: CALIBRATION_FILE, "{c} holds calibration (train) images only: pass a test set with --data"),
])
def test_bad_data_is_a_one_line_config_error(tmp_path, make, message):
    with pytest.raises(ConfigError) as err:
        read_split(make(tmp_path), "test")
    assert str(err.value) == message.format(p=tmp_path, c=CALIBRATION_FILE)
