"""snn-bench --accuracy: the board's packets through the channel into the onnxruntime receiver, on QEMU."""

import pytest

from conftest import SHIPPED_DECODER
from semanticnn.bench import accuracy, images, run
from semanticnn.bench.reference import HostReference
from semanticnn.data import read_calibration
from semanticnn.errors import ConfigError

N = 8


@pytest.fixture(scope="module")
def report(exported_qemu):
    project, manifest = exported_qemu
    pictures, labels = read_calibration()
    pictures, labels = pictures[-N:], labels[-N:]
    reference = HostReference(manifest, run.read_model(project, manifest))
    with run._open_board(run.ensure_built(project), manifest["target"], None, None) as board:
        return accuracy.run_accuracy(board, reference, manifest, pictures, labels, (0.0, 0.1), SHIPPED_DECODER,
                                     seeds=2)


def test_every_board_packet_is_bit_exact_and_every_row_has_every_ber(report, exported_qemu):
    assert report["samples"] == N and report["bit_exact"] == N
    checkpoints = report["provenance"]["checkpoints"]  # the board's encoder (from export.json) and the edge's
    assert checkpoints["encoder"] == exported_qemu[1]["provenance"]["checkpoints"]["encoder"]
    assert sorted(checkpoints) == ["decoder", "encoder", "float_encoder"]
    assert [r["name"] for r in report["rows"]] == list(accuracy.ROWS)
    assert all(len(r["accuracy"]) == 2 and len(r["per_seed"]) == 2 for r in report["rows"])
    assert report["seeds"] == [0, 1]


def test_snn_eval_meets_the_same_packets_and_errors_as_the_receiver(report):
    """Same images, seeds, headers and bit errors: the float model agrees in PyTorch and onnxruntime.

    Exactly without bit errors. At BER 1e-1 a header Golay cannot decode is rescued to the
    ids either side of the newest: ``snn eval`` sends every image as frame 0, the board
    frame ``i``, and the receiver has no newest id for its first packet, so a rescue can
    go another way: at most one image a seed here.
    """
    rows = {r["name"]: r["per_seed"] for r in report["rows"]}
    assert rows["float_packets"][0] == rows["float_eval"][0] == [rows["float_eval"][0][0]] * 2
    gaps = [abs(a - b) * N for a, b in zip(rows["float_packets"][1], rows["float_eval"][1], strict=True)]
    assert max(gaps) <= 1.0  # images


def test_errors_lose_packets_and_the_receiver_counts_them(report):
    clean, noisy = report["receiver"]
    assert clean["lost_packets"] == 0 and clean["frames_complete"] == 2 * N
    assert clean["sent"] == noisy["sent"] == 2 * N * 5 and clean["bad_header"] == clean["header_rescued"] == 0
    assert noisy["packets"] == noisy["sent"]  # every packet reaches the receiver, its header as it arrived
    assert noisy["header_rescued"] > 0 and noisy["header_corrected"] > 0


def test_accuracy_needs_test_images(monkeypatch, tmp_path):
    monkeypatch.setattr("semanticnn.data.default_cifar10_zip", lambda: tmp_path / "none.zip")
    with pytest.raises(ConfigError) as err:
        accuracy.accuracy_bench(tmp_path, 5, (0.0,), SHIPPED_DECODER)
    assert str(err.value) == ("--accuracy needs test images: pass --data (a cifar10-jpeg.zip, a "
                              "cifar-10-batches-py folder or an ImageFolder tree)")


def test_bit_exact_bench_falls_back_to_shipped_images_without_a_test_set(monkeypatch, tmp_path):
    monkeypatch.setattr(images, "default_cifar10_zip", lambda: tmp_path / "none.zip")
    got, labels = images.bench_images(None, 12)
    assert (got == read_calibration(limit=12)[0]).all() and len(labels) == 12
    with pytest.raises(ConfigError) as err:
        images.bench_images(None, 5000)
    assert str(err.value) == ("--samples 5000: without a test set only the 1000 shipped calibration images can "
                              "be sent; pass --data for more")
