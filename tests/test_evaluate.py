"""`snn eval`: the report of a tiny model pair on 50 test images, and one-line errors."""

import json
import statistics

import pytest
import torch
from click.testing import CliRunner

from semanticnn.cli import main
from semanticnn.data import default_cifar10_zip, load_split
from semanticnn.errors import CheckpointError, ConfigError
from semanticnn.evaluate.cli import eval_cmd
from semanticnn.evaluate.sweep import default_methods
from semanticnn.model.checkpoint import save_decoder, save_encoder
from semanticnn.model.codec import UNKNOWN_BER, SplitDecoder, SplitEncoder, decoder_config, encoder_config
from semanticnn.train.tensors import to_float

torch.set_num_threads(1)
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
    """`snn eval` run once on the tiny pair: (out dir, parsed eval.json, what it printed)."""
    out = tmp_path_factory.mktemp("eval") / "out"
    enc, dec = tiny_pair
    result = CliRunner().invoke(eval_cmd, ["--encoder", enc, "--decoder", dec, "--samples", "50",
                                           "--ber", "0,1e-2,0.1", "--out", out, "--threads", "1"])
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "eval.json").read_text()), result.output


@needs_data
def test_report_has_every_method_at_every_ber_with_payload_air_bytes_and_compression(evaluated):
    report = evaluated[1]
    assert report["bers"] == BERS and report["samples"] == 50 and report["channel"] == "iid"
    assert report["seeds"] == [0, 1, 2] and report["mtu"] == 51 and report["header_bytes"] == 6
    assert report["feature_bytes"] == 4 * 16 * 32 * 32
    assert [m["name"] for m in report["methods"]] == list(default_methods()) == [
        "unsplit", "split", "split-est-half", "split-est-double", "split-est-unknown", "raw-uint8", "raw-int8"]
    sizes = {m["name"]: (m["payload_bytes"], m["packets"], m["air_bytes"]) for m in report["methods"]}
    assert sizes["unsplit"] == (None, None, None)
    assert sizes["split"] == (32, 1, 38) and sizes["raw-uint8"] == (16384, 365, 16384 + 6 * 365)
    for m in report["methods"][1:]:
        assert m["air_bytes"] == m["payload_bytes"] + 6 * m["packets"]
        assert m["compression"] == 65536 / m["payload_bytes"] and m["air_compression"] == 65536 / m["air_bytes"]
        assert len(m["accuracy"]) == len(m["std"]) == len(m["correct"]) == len(BERS)
        for acc, std, per_seed in zip(m["accuracy"], m["std"], m["correct"], strict=True):
            values = [c / 50 for c in per_seed]
            assert len(per_seed) == 3
            assert acc == statistics.fmean(values) and std == statistics.stdev(values)


@needs_data
def test_the_printed_table_is_not_cut_to_80_columns_in_a_pipe(evaluated):
    row = next(line for line in evaluated[2].splitlines() if "split-est-unknown" in line)
    assert row.split("│")[1:5] == [" split-est-unknown ", "    32 ", "    38 ", " 2048.0x "]


@needs_data
def test_unsplit_reference_is_the_same_at_every_ber(evaluated):
    unsplit = evaluated[1]["methods"][0]
    assert unsplit["name"] == "unsplit"
    assert unsplit["accuracy"] == [1.0, 1.0, 1.0] and unsplit["std"] == [0.0, 0.0, 0.0]


@needs_data
def test_std_over_seeds_is_exactly_0_at_ber_0_and_the_seeds_differ_at_0_1(evaluated):
    rows = evaluated[1]["methods"]
    assert all(m["std"][0] == 0.0 and len(set(m["correct"][0])) == 1 for m in rows)
    assert any(len(set(m["correct"][2])) > 1 for m in rows)


@needs_data
def test_a_wrong_ber_estimate_is_paired_with_the_true_one(evaluated):
    """Told 0.5x or 2x of BER 0 is the truth; told UNKNOWN_BER at BER UNKNOWN_BER too: loss exactly 0."""
    rows = {m["name"]: m for m in evaluated[1]["methods"]}
    split = rows["split"]["correct"]
    for name in ("split-est-half", "split-est-double", "split-est-unknown"):
        row = rows[name]
        assert row["versus"] == "split"
        for j, (ref, own) in enumerate(zip(split, row["correct"], strict=True)):
            diffs = [(a - b) / 50 for a, b in zip(ref, own, strict=True)]
            assert row["loss"][j] == statistics.fmean(diffs) and row["loss_std"][j] == statistics.stdev(diffs)
    assert rows["split-est-half"]["correct"][0] == split[0] and rows["split-est-double"]["correct"][0] == split[0]
    assert UNKNOWN_BER == BERS[1] and rows["split-est-unknown"]["correct"][1] == split[1]
    assert "split-lost" not in rows and "loss" not in rows["split"]


@needs_data
def test_raw_baselines_at_ber_0_match_the_unsplit_model(evaluated):
    acc = {m["name"]: m["accuracy"] for m in evaluated[1]["methods"]}
    assert abs(acc["raw-int8"][0] - acc["unsplit"][0]) <= 0.04
    assert abs(acc["raw-uint8"][0] - acc["unsplit"][0]) <= 0.04
    assert acc["raw-int8"][2] < acc["raw-int8"][0]


@needs_data
def test_writes_a_valid_png_and_markdown_and_no_temp_files(evaluated):
    out = evaluated[0]
    assert sorted(p.name for p in out.iterdir()) == ["accuracy_vs_ber.png", "eval.json", "eval.md"]
    png = (out / "accuracy_vs_ber.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR" and png[-8:-4] == b"IEND"
    assert (out / "accuracy_vs_ber.png").stat().st_mode & 0o777 == 0o644
    md = (out / "eval.md").read_text()
    assert ("| method | payload (B) | on air (B) | payload ratio vs float32 split feature | on-air ratio | "
            "BER 0 | BER 0.01 | BER 0.1 |") in md
    assert "| raw split feature, int8 symmetric | 16384 | 18574 (365 packets) | 4.0x | 3.5x | " in md
    assert "| split SQ codec, decoder told the true BER | 32 | 38 (1 packet) | 2048.0x | 1724.6x | " in md
    assert "reach the decoder as erasures: 0.00% at 0.01, " in md
    assert "mean ± std over 3 channel seeds (0, 1, 2)" in md
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

    full = evaluated[1]
    enc, dec = tiny_pair
    part = evaluate_files(enc, dec, "0,1e-2,0.1", "iid", samples=50, methods=("unsplit", "split"), threads=1)
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
    assert str(err.value) == ("unknown method 'jpeg' (known: unsplit, split, split-est-half, split-est-double, "
                              "split-est-unknown, split-lost, raw-uint8, raw-int8)")


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
    report = evaluate_files(enc_path, dec_path, "0", "iid", samples=50, base=base_path, threads=1)
    rows = {m["name"]: m for m in report["methods"]}
    expected = int((labels == 9).sum())
    assert rows["unsplit"]["correct"] == [[expected] * 3]
    assert rows["raw-uint8"]["correct"] == [[expected] * 3] and rows["raw-int8"]["correct"] == [[expected] * 3]
    assert report["base"] == str(base_path)


class RecordingDecoder(SplitDecoder):
    """A SplitDecoder that notes every BER it is told (in a class list: the sweep works on a deep copy)."""

    told = []

    def classify_indices(self, indices, ber, erased=None):
        RecordingDecoder.told.append((ber, None if erased is None else int(erased.sum())))
        return super().classify_indices(indices, ber, erased)


def recording_pair(tiny_pair):
    from semanticnn.model.checkpoint import load_decoder, load_encoder

    enc, dec = load_encoder(tiny_pair[0]), load_decoder(tiny_pair[1])
    recording = RecordingDecoder(dec.config)
    recording.load_state_dict(dec.state_dict())
    RecordingDecoder.told.clear()
    return enc, recording.eval()


@needs_data
def test_the_decoder_is_told_each_estimate_once_and_work_is_shared(tiny_pair):
    from semanticnn.evaluate.sweep import run_eval

    enc, dec = recording_pair(tiny_pair)
    run_eval(enc, dec, load_split(None, "test", 20, 0), BERS, methods=default_methods()[:5])
    told = sorted(ber for ber, _ in RecordingDecoder.told)
    # true BER: 0 once (identity channel), 1e-2 and 0.1 per seed; 0.5x and 2x: the non-zero BERs per seed;
    # unknown: at BER 0 once, at 0.1 per seed (at 1e-2 it is the true BER).
    assert told == sorted([0.0, 0.01] + [0.01, 0.1, 0.005, 0.05, 0.02, 0.2] * 3 + [0.01] * 3)


@needs_data
def test_channel_seeds_count_up_from_seed_on_the_same_images(tiny_pair):
    from semanticnn.evaluate.sweep import run_eval
    from semanticnn.model.checkpoint import load_decoder, load_encoder

    enc, dec = load_encoder(tiny_pair[0]), load_decoder(tiny_pair[1])
    data = load_split(None, "test", 20, 0)
    three = run_eval(enc, dec, data, (0.1,), seed=0, methods=("split", "raw-int8"))
    second = run_eval(enc, dec, data, (0.1,), seed=1, seeds=1, methods=("split", "raw-int8"))
    for row, one in zip(three["methods"], second["methods"], strict=True):
        assert one["correct"] == [[row["correct"][0][1]]] and one["std"] == [0.0]


@needs_data
def test_lost_packets_reach_the_decoder_as_an_erasure_mask(tiny_pair):
    from semanticnn.evaluate.sweep import run_eval

    enc, dec = recording_pair(tiny_pair)
    report = run_eval(enc, dec, load_split(None, "test", 20, 0), (0.0,), methods=("split", "split-lost"),
                      mtu=6 + 8, packet_loss=0.5)
    lost = {m["name"]: m for m in report["methods"]}["split-lost"]
    assert lost["label"] == "split SQ codec, 50% of packets lost (erasure mask to the decoder)"
    assert (lost["packets"], lost["air_bytes"]) == (4, 32 + 4 * 6) and lost["versus"] == "split"
    masks = [n for _, n in RecordingDecoder.told]
    assert masks[0] == 0 and len(masks) == 4 and all(0 < n < 20 * 128 for n in masks[1:])


def test_eval_options_are_checked_before_any_work(tmp_path):
    for args, message in [
        (("--mtu", "6"), "--mtu 6 leaves no room after the 6-byte header: pass 7 or more"),
        (("--seeds", "0"), "--seeds 0: pass at least 1 channel seed"),
        (("--packet-loss", "1"), "--packet-loss 1.0 is outside [0, 1): it is the fraction of packets lost"),
    ]:
        exc = invoke_error(tmp_path, *args)
        assert type(exc) is ConfigError and str(exc) == message


def test_the_packet_loss_row_needs_a_loss_rate(tmp_path):
    from semanticnn.evaluate.cli import evaluate_files

    with pytest.raises(ConfigError) as err:
        evaluate_files(tmp_path / "e.pt", tmp_path / "d.pt", "0", "iid", methods=("split-lost",))
    assert str(err.value) == "method 'split-lost' loses packets: pass a packet loss rate above 0 (--packet-loss)"
