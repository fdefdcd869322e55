"""`snn eval`: the report of a tiny model pair on 50 test images, and one-line errors."""

import json

import pytest
import torch
from click.testing import CliRunner

from semanticnn.cli import main
from semanticnn.data import default_cifar10_zip, load_split
from semanticnn.errors import CheckpointError, ConfigError
from semanticnn.evaluate.cli import eval_cmd
from semanticnn.evaluate.sweep import METHODS
from semanticnn.model.checkpoint import save_decoder, save_encoder
from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config
from semanticnn.train.tensors import to_float

torch.set_num_threads(2)
FIX = "(re-run `snn train` or pass the right file)"
BERS = [0.0, 0.01, 0.1]
needs_data = pytest.mark.skipif(not default_cifar10_zip().is_file(), reason="CIFAR-10 JPEG zip not found")


def fit_classifier(encoder, decoder, images, labels, ridge=1.0):
    """Ridge-fit the tail's last layer to ``labels`` so a random-init pair predicts varied classes."""
    with torch.no_grad():
        h = decoder.tail.stages(encoder.stem(to_float(images))).mean(dim=(2, 3))
        mu, sd = h.mean(0), h.std(0) + 1e-6
        z = (h - mu) / sd
        target = torch.nn.functional.one_hot(labels, 10).float() - 0.1
        w = torch.linalg.solve(z.T @ z + ridge * torch.eye(z.shape[1]), z.T @ target)
        decoder.tail.fc.weight.copy_((w / sd[:, None]).T)
        decoder.tail.fc.bias.copy_(-(mu / sd) @ w)


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """A random-init encoder/decoder (2 channels, 4 levels) whose tail fits the 50 test images."""
    root = tmp_path_factory.mktemp("pair")
    torch.manual_seed(0)
    enc = SplitEncoder(encoder_config(code_channels=2, levels=4)).eval()
    dec = SplitDecoder(decoder_config(code_channels=2, levels=4, hidden=8)).eval()
    fit_classifier(enc, dec, *load_split(None, "test", 50, 0))
    return save_encoder(root / "encoder.pt", enc), save_decoder(root / "decoder.pt", dec)


@pytest.fixture(scope="module")
def evaluated(tiny_pair, tmp_path_factory):
    """`snn eval` run once on the tiny pair: (out dir, parsed eval.json)."""
    out = tmp_path_factory.mktemp("eval") / "out"
    enc, dec = tiny_pair
    result = CliRunner().invoke(eval_cmd, ["--encoder", enc, "--decoder", dec, "--samples", "50",
                                           "--ber", "0,1e-2,0.1", "--out", out])
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "eval.json").read_text())


@needs_data
def test_report_has_every_method_at_every_ber_with_payload_and_compression(evaluated):
    _, report = evaluated
    assert report["bers"] == BERS and report["samples"] == 50 and report["channel"] == "iid"
    assert report["feature_bytes"] == 4 * 16 * 32 * 32
    assert [m["name"] for m in report["methods"]] == list(METHODS)
    sizes = {m["name"]: (m["payload_bytes"], m["compression"]) for m in report["methods"]}
    assert sizes == {"unsplit": (None, None), "split": (32, 2048.0),
                     "raw-uint8": (16384, 4.0), "raw-int8": (16384, 4.0)}
    for m in report["methods"]:
        assert len(m["accuracy"]) == len(BERS)
        assert m["accuracy"] == [c / 50 for c in m["correct"]]


@needs_data
def test_unsplit_reference_is_the_same_at_every_ber(evaluated):
    unsplit = evaluated[1]["methods"][0]
    assert unsplit["name"] == "unsplit"
    assert unsplit["accuracy"] == [1.0, 1.0, 1.0]


@needs_data
def test_raw_baselines_at_ber_0_match_the_unsplit_model(evaluated):
    acc = {m["name"]: m["accuracy"] for m in evaluated[1]["methods"]}
    assert abs(acc["raw-int8"][0] - acc["unsplit"][0]) <= 0.04
    assert abs(acc["raw-uint8"][0] - acc["unsplit"][0]) <= 0.04
    assert acc["raw-int8"][2] < acc["raw-int8"][0]


@needs_data
def test_writes_a_valid_png_and_markdown_and_no_temp_files(evaluated):
    out, _ = evaluated
    assert sorted(p.name for p in out.iterdir()) == ["accuracy_vs_ber.png", "eval.json", "eval.md"]
    png = (out / "accuracy_vs_ber.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR" and png[-8:-4] == b"IEND"
    assert (out / "accuracy_vs_ber.png").stat().st_mode & 0o777 == 0o644
    md = (out / "eval.md").read_text()
    assert "| raw split feature, int8 symmetric | 16384 | 4.0x |" in md
    assert "![accuracy vs BER](accuracy_vs_ber.png)" in md


def invoke_error(tmp_path, *args):
    """Run `snn eval` on paths that do not exist; return the exception it raised."""
    base = ["--encoder", tmp_path / "e.pt", "--decoder", tmp_path / "d.pt", "--samples", "5"]
    result = CliRunner().invoke(eval_cmd, [*base, *args])
    assert result.exit_code != 0
    return result.exception


@pytest.mark.parametrize("bers, message", [
    ("0,abc", "--ber: 'abc' is not a number: pass comma-separated bit error rates such as 0,1e-3,1e-2"),
    ("0,,0.1", "--ber: '' is not a number: pass comma-separated bit error rates such as 0,1e-3,1e-2"),
    ("0,0.7", "--ber: 0.7 is outside [0, 0.5]: a bit error rate is a probability, "
              "and above 0.5 inverting the bits does better"),
    ("-1e-3", "--ber: -1e-3 is outside [0, 0.5]: a bit error rate is a probability, "
              "and above 0.5 inverting the bits does better"),
])
def test_bad_ber_list_is_a_one_line_config_error(tmp_path, bers, message):
    exc = invoke_error(tmp_path, "--ber", bers)
    assert type(exc) is ConfigError
    assert str(exc) == message


def test_unknown_channel_lists_the_known_ones(tmp_path):
    exc = invoke_error(tmp_path, "--channel", "awgn")
    assert type(exc) is ConfigError
    assert str(exc) == "unknown channel 'awgn': known channels are burst, iid"


def test_missing_checkpoint_is_a_checkpoint_error(tmp_path):
    exc = invoke_error(tmp_path)
    assert type(exc) is CheckpointError
    assert str(exc) == f"checkpoint not found: {tmp_path / 'e.pt'} {FIX}"


def test_entry_point_prints_one_line_and_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["eval", "--encoder", str(tmp_path / "e.pt"), "--decoder", str(tmp_path / "d.pt"),
              "--ber", "0.9"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: --ber: 0.9 is outside [0, 0.5]: a bit error rate is a probability, "
                                "and above 0.5 inverting the bits does better"]


@needs_data
def test_a_subset_of_methods_gives_the_same_rows(tiny_pair, evaluated):
    from semanticnn.evaluate.cli import evaluate_files

    _, full = evaluated
    enc, dec = tiny_pair
    part = evaluate_files(enc, dec, "0,1e-2,0.1", "iid", samples=50, methods=("unsplit", "split"))
    assert [m["name"] for m in part["methods"]] == ["unsplit", "split"]
    by_name = {m["name"]: m for m in full["methods"]}
    for row in part["methods"]:
        assert row["correct"] == by_name[row["name"]]["correct"]


def test_unknown_method_is_a_config_error(tiny_pair):
    from semanticnn.evaluate.sweep import run_eval
    from semanticnn.model.checkpoint import load_decoder, load_encoder

    enc, dec = tiny_pair
    with pytest.raises(ConfigError) as err:
        run_eval(load_encoder(enc), load_decoder(dec), load_split(None, "test", 10, 0), (0.0,), methods=("jpeg",))
    assert str(err.value) == "unknown method 'jpeg' (known: unsplit, split, raw-uint8, raw-int8)"


@needs_data
def test_unsplit_and_raw_rows_run_the_base_tail_when_given(tiny_pair, tmp_path):
    """A codec that fine-tuned its tail must not redefine the unsplit reference (regression)."""
    from semanticnn.evaluate.cli import evaluate_files
    from semanticnn.model.backbone import build_backbone
    from semanticnn.model.checkpoint import base_config, load_decoder, load_encoder, save_base

    enc_path, dec_path = tiny_pair
    enc, dec = load_encoder(enc_path), load_decoder(dec_path)
    base = build_backbone("resnet8", 16, 10)
    base.stem.load_state_dict(enc.stem.state_dict())
    base.tail.load_state_dict(dec.tail.state_dict())
    with torch.no_grad():
        base.tail.fc.weight.zero_()
        base.tail.fc.bias.copy_(torch.arange(10.0))  # always class 9
    base_path = save_base(tmp_path / "base.pt", base, base_config())
    images, labels = load_split(None, "test", 50, 0)
    report = evaluate_files(enc_path, dec_path, "0", "iid", samples=50, base=base_path)
    rows = {m["name"]: m for m in report["methods"]}
    expected = int((labels == 9).sum())
    assert rows["unsplit"]["correct"] == [expected]
    assert rows["raw-uint8"]["correct"] == [expected] and rows["raw-int8"]["correct"] == [expected]
    assert report["base"] == str(base_path)
