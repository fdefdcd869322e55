"""The frontier summary: targets from the shipped and 48 B runs, stale runs found, Markdown and PNG from data."""

import dataclasses
import json
import shutil

import pytest

from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError
from semanticnn.evaluate.frontier import (
    BERS,
    REPRO,
    ROBUSTNESS,
    RUNS,
    SHIPPED,
    _run_config,
    _run_fields,
    _selected,
    _summary,
    config_drift,
    run_frontier,
    train_run,
)
from semanticnn.evaluate.frontier_report import frontier_markdown, frontier_png
from semanticnn.evaluate.sweep import EVAL_VERSION
from semanticnn.train.config import TrainConfig

ACC = [0.80, 0.80, 0.79, 0.76, 0.70]
STD = [0.0, 0.001, 0.002, 0.004, 0.01]


def _method(name, label, payload, acc):
    return {"name": name, "label": label, "payload_bytes": payload,
            "compression": None if payload is None else 65536 / payload, "accuracy": acc, "std": [0.0] * 5}


def _payload(name):
    """Payload bytes of run ``name``: C x 8 x 8 symbols of its levels, in its payload layout."""
    config = _run_config(name)
    return PayloadLayout(config.code_channels * 64, config.levels, config.payload_code).n_bytes


def _usage(name):
    """A code usage with channel 0 dead (run ``c1`` has one channel, alive)."""
    config = _run_config(name)
    dead = [0] if config.code_channels > 1 else []
    return {"levels": config.levels, "channel_bits": [0.0 if c in dead else 1.0 for c in range(config.code_channels)]}


def _rows():
    rows = []
    for name in RUNS:
        payload = _payload(name)
        packets = -(-payload // 44)
        robustness = {m: {"label": m, "loss": [0.0, 0.0, 0.004, 0.012, 0.03], "loss_std": [0.0] * 5}
                      for m in ROBUSTNESS}
        rows.append({"name": name, **_run_fields(name), "payload_bytes": payload, "packets": packets,
                     "air_bytes": payload + 7 * packets, "compression": 65536 / payload,
                     "air_compression": 65536 / (payload + 7 * packets), "accuracy": ACC, "std": STD,
                     "robustness": robustness, "code_usage": _usage(name),
                     "stale": ["kd_weight: trained 0.0, now 0.5"] if name == "c1" else [],
                     "train_seconds": 1.0})
    return rows


SHIPPED_REPORT = {"version": EVAL_VERSION, "samples": 100, "feature_bytes": 65536, "seeds": [0, 1, 2], "mtu": 51,
                  "header_bytes": 6, "methods": [
    _method("unsplit", "full model", None, [0.81] * 5),
    _method("split", "codec", 192, ACC),
    _method("raw-uint8", "raw uint8", 16384, [0.81, 0.80, 0.75, 0.50, 0.30]),
    _method("raw-int8", "raw int8", 16384, [0.81, 0.70, 0.60, 0.30, 0.15]),
]}


def test_targets_are_measured_on_the_shipped_and_48_byte_runs():
    targets = {t["target"]: t for t in _summary(_rows(), SHIPPED_REPORT)["targets"]}
    assert list(targets) == [
        "unsplit model >= 80%", "payload ratio vs float32 split feature >= 300x",
        "within 2 points of unsplit at BER <= 1e-2", "within 5 points of unsplit at BER 5e-2",
        "48 B run within 10 points of unsplit at BER 1e-2", "BER estimate off by 2x loses <= 1 point at 1e-2 and 5e-2",
        "a second run of the shipped config within 1 point of it at BER <= 5e-2 (points)",
        "raw 8-bit baselines lose clearly more at 5e-2"]
    assert targets["payload ratio vs float32 split feature >= 300x"]["value"] == pytest.approx(65536 / 192)
    assert targets["within 2 points of unsplit at BER <= 1e-2"]["value"] == pytest.approx(0.02)
    assert targets["within 5 points of unsplit at BER 5e-2"]["value"] == pytest.approx(0.05)
    assert targets["48 B run within 10 points of unsplit at BER 1e-2"]["value"] == pytest.approx(0.02)
    off = targets["BER estimate off by 2x loses <= 1 point at 1e-2 and 5e-2"]
    assert off["value"] == pytest.approx(0.012) and off["met"] is False
    assert targets["raw 8-bit baselines lose clearly more at 5e-2"]["value"] == pytest.approx(0.31)
    assert targets["a second run of the shipped config within 1 point of it at BER <= 5e-2 (points)"]["met"] is True


def test_the_reproduction_target_ignores_ber_1e_1_and_fails_past_one_point():
    rows = _rows()
    repro = next(r for r in rows if r["name"] == REPRO)
    repro["accuracy"] = [0.795, 0.80, 0.79, 0.751, 0.60]
    target = {t["target"]: t for t in _summary(rows, SHIPPED_REPORT)["targets"]}[
        "a second run of the shipped config within 1 point of it at BER <= 5e-2 (points)"]
    assert target["value"] == pytest.approx(0.009) and target["met"] is True
    repro["accuracy"] = [0.795, 0.80, 0.79, 0.749, 0.60]
    target = {t["target"]: t for t in _summary(rows, SHIPPED_REPORT)["targets"]}[
        "a second run of the shipped config within 1 point of it at BER <= 5e-2 (points)"]
    assert target["value"] == pytest.approx(0.011) and target["met"] is False
    summary = _summary([r for r in rows if r["name"] != REPRO], SHIPPED_REPORT)
    target = {t["target"]: t for t in summary["targets"]}[
        "a second run of the shipped config within 1 point of it at BER <= 5e-2 (points)"]
    assert target["value"] is None and target["met"] is False
    assert ("| a second run of the shipped config within 1 point of it at BER <= 5e-2 (points) | "
            "not measured (its run has not finished) | no |") in frontier_markdown(summary, "frontier.png")


def test_the_48_byte_target_takes_the_best_48_byte_run():
    rows = _rows()
    for row in rows:
        if row["name"] == "c6-l2":
            row["accuracy"] = [0.8, 0.8, 0.75, 0.7, 0.6]
    targets = {t["target"]: t for t in _summary(rows, SHIPPED_REPORT)["targets"]}
    assert targets["48 B run within 10 points of unsplit at BER 1e-2"]["value"] == pytest.approx(0.81 - 0.79)
    for row in rows:
        if row["payload_bytes"] == 48 and row["name"] != "c6-l2":
            row["accuracy"] = [0.8, 0.8, 0.70, 0.6, 0.5]
    targets = {t["target"]: t for t in _summary(rows, SHIPPED_REPORT)["targets"]}
    assert targets["48 B run within 10 points of unsplit at BER 1e-2"]["value"] == pytest.approx(0.81 - 0.75)


def test_markdown_and_png_hold_every_run_with_mean_and_std():
    summary = _summary(_rows(), SHIPPED_REPORT)
    md = frontier_markdown(summary, "frontier.png")
    for name in RUNS:
        assert f"`{name}`" in md
    assert "| raw uint8 | 16384 | 4.0x | 81.0 ± 0.0 | 80.0 ± 0.0 | 75.0 ± 0.0 | 50.0 ± 0.0 | 30.0 ± 0.0 |" in md
    assert ("| `c24-l2-144-b05-bal`: 24 binary code channels, L = 2, the dead-channel penalty, trained on BER up to "
            "5e-2, stage 2 of 144 epochs (192 B payload; shipped) | 192 | 227 (5 pkt) | 341.3x | 23 of 24 | "
            "80.0 ± 0.0 | 80.0 ± 0.1 | 79.0 ± 0.2 | 76.0 ± 0.4 | 70.0 ± 1.0 |") in md
    assert ("| `c1`: 1 code channel (stale: kd_weight: trained 0.0, now 0.5) | 24 | 31 (1 pkt) | 2730.7x | "
            "1 of 1 |") in md
    assert "Code channels in use: those whose symbols carry at least 0.01 bits each on these images" in md
    assert "| told 2x, BER 0.05 |" in md and "| 10% packets lost, BER 0.01 |" in md
    assert "packets of at most 51 B, each with a 6-byte header (two extended Golay(24, 12) words)" in md
    assert md.rstrip().endswith("![frontier](frontier.png)")
    assert frontier_png(summary)[:8] == b"\x89PNG\r\n\x1a\n"


def test_frontier_payloads_span_24_to_192_bytes():
    payloads = sorted(_payload(name) for name, r in RUNS.items() if r.kind == "frontier")
    assert payloads == [24, *[48] * 12, 96, 191, *[192] * 11]
    assert RUNS[SHIPPED].overrides == {} and len(BERS) == 5


def test_a_log_that_predates_a_config_key_was_trained_with_its_default():
    identity = _run_config("c1").run_identity()
    assert config_drift("c1", {"config": {**identity, "base": "/elsewhere/base.pt"}}) == []
    old = {k: v for k, v in identity.items() if k != "code_channels"}
    default = {f.name: f.default for f in dataclasses.fields(TrainConfig)}["code_channels"]
    assert config_drift("c1", {"config": old}) == [f"code_channels: trained {default!r}, now 1"]


def test_only_some_runs_always_keeps_the_shipped_one():
    assert _selected(["no-kd"]) == [SHIPPED, "no-kd"]
    with pytest.raises(ConfigError) as err:
        _selected(["c3"])
    assert str(err.value) == f"unknown run 'c3' (known: {', '.join(RUNS)})"


@pytest.fixture()
def fake_root(tmp_path, monkeypatch):
    import semanticnn.evaluate.frontier as frontier

    shutil.copytree(frontier.ROOT / "configs", tmp_path / "configs")
    monkeypatch.setattr(frontier, "ROOT", tmp_path)
    return tmp_path


def test_missing_run_without_train_is_a_config_error(fake_root):
    with pytest.raises(ConfigError) as err:
        run_frontier(fake_root / "runs", fake_root / "out")
    folder = fake_root / "runs" / "c1"
    assert str(err.value) == f"run 'c1' has no finished checkpoints in {folder} (pass --train to train it)"


def test_stale_run_without_train_names_what_changed(fake_root):
    folder = fake_root / "runs" / "c1"
    folder.mkdir(parents=True)
    trained = {**_run_config("c1").run_identity(), "kd_weight": 0.25}
    (folder / "train_log.json").write_text(json.dumps({"config": trained}))
    with pytest.raises(ConfigError) as err:
        run_frontier(fake_root / "runs", fake_root / "out", only=["c1"])
    now = _run_config("c1").kd_weight
    assert str(err.value) == (f"run 'c1' in {folder} is stale (kd_weight: trained 0.25, now {now!r}): pass --train "
                              "to retrain it, or --allow-stale to report it as it is")


def _fake_report(encoder, decoder, bers, channel, samples, methods=None, base=None, **_):
    """What evaluate_files returns, with accuracies that say which checkpoint bytes were read."""
    from semanticnn.provenance import provenance

    acc = [len(encoder.read_bytes()) / 100] * 5
    split = {"name": "split", "label": "codec", "payload_bytes": 192, "packets": 5, "air_bytes": 222,
             "compression": 341.3, "air_compression": 295.2, "accuracy": acc, "std": [0.0] * 5}
    robust = [{"name": m, "label": m, "loss": [0.0] * 5, "loss_std": [0.0] * 5} for m in ROBUSTNESS]
    return {**SHIPPED_REPORT, "methods": [*SHIPPED_REPORT["methods"][:1], split, *SHIPPED_REPORT["methods"][2:],
                                          *robust],
            "code_usage": {"levels": 4, "channel_bits": [2.0] * 12},
            "provenance": provenance(encoder=encoder, decoder=decoder, base=base)}


def test_a_run_with_the_same_checkpoints_keeps_its_row_and_a_changed_one_is_evaluated(fake_root, monkeypatch):
    import semanticnn.evaluate.cli as evaluate_cli
    import semanticnn.evaluate.report as report

    calls = []

    def evaluate(encoder, decoder, bers, channel, samples, **kw):
        calls.append((encoder.parent.name, channel))
        return _fake_report(encoder, decoder, bers, channel, samples, **kw)

    def write(rep, paths, title=None):
        paths["json"].parent.mkdir(parents=True, exist_ok=True)
        paths["json"].write_text(json.dumps({**rep, "format": "semanticnn-eval", "version": EVAL_VERSION,
                                             "channel": channel_of[paths["json"].name], "bers": list(BERS),
                                             "packet_loss": 0.0 if "burst" in paths["json"].name else 0.1}))

    channel_of = {"eval.json": "iid", "burst.json": "burst"}
    monkeypatch.setattr(evaluate_cli, "evaluate_files", evaluate)
    monkeypatch.setattr(report, "write_report", write)
    (fake_root / "models").mkdir()
    (fake_root / "models" / "base.pt").write_bytes(b"base")
    for name, folder in ((SHIPPED, fake_root / "models"), ("c2", fake_root / "runs" / "c2")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "encoder.pt").write_bytes(b"e" * 70)
        (folder / "decoder.pt").write_bytes(b"d")
        (folder / "train_log.json").write_text(json.dumps({"config": _run_config(name).run_identity()}))
    out = fake_root / "out"
    every = [("models", "iid"), ("c2", "iid"), ("models", "burst")]
    run_frontier(fake_root / "runs", out, only=["c2"])
    assert calls == every
    calls.clear()
    summary = run_frontier(fake_root / "runs", out, only=["c2"])
    assert calls == []
    assert [r["name"] for r in summary["runs"]] == ["c2", SHIPPED]
    assert [r["accuracy"] for r in summary["runs"]] == [[0.7] * 5] * 2
    (fake_root / "runs" / "c2" / "encoder.pt").write_bytes(b"e" * 60)
    summary = run_frontier(fake_root / "runs", out, only=["c2"])
    assert calls == [("c2", "iid")]
    assert summary["runs"][0]["accuracy"] == [0.6] * 5
    calls.clear()
    summary = run_frontier(fake_root / "runs", out, only=[SHIPPED])
    assert calls == [] and [r["name"] for r in summary["runs"]] == ["c2", SHIPPED]
    older = json.loads((out / "accuracy.json").read_text())  # rows and report of snn eval 2 (no header rescue)
    for row in older["runs"]:
        del row["settings"]["version"]  # its rows did not record it
    (out / "accuracy.json").write_text(json.dumps(older))
    shipped_json = fake_root / "models" / "eval.json"
    shipped_json.write_text(json.dumps({**json.loads(shipped_json.read_text()), "version": EVAL_VERSION - 1}))
    run_frontier(fake_root / "runs", out, only=["c2"])
    assert calls == [("models", "iid"), ("c2", "iid")]
    calls.clear()
    (fake_root / "models" / "decoder.pt").write_bytes(b"d2")
    run_frontier(fake_root / "runs", out, only=["c2"])
    assert calls == [("models", "iid"), ("models", "burst")]
    calls.clear()
    run_frontier(fake_root / "runs", out, only=["c2"], samples=100)
    assert calls == every
    calls.clear()
    run_frontier(fake_root / "runs", out, only=["c2"], samples=100, reevaluate=True)
    assert calls == every


def test_lever_table_subtracts_the_run_without_the_lever_from_the_run_with_it():
    rows = _rows()
    acc = {"stage2-24": [0.80, 0.80, 0.78, 0.70, 0.50], "stage2-10": [0.78, 0.78, 0.77, 0.67, 0.46],
           "posterior-refine": [0.79, 0.79, 0.775, 0.68, 0.48]}
    for row in rows:
        row["accuracy"] = acc.get(row["name"], row["accuracy"])
        row["std"] = [0.0, 0.0, 0.003, 0.004, 0.0] if row["name"] in acc else row["std"]
    md = frontier_markdown(_summary(rows, SHIPPED_REPORT))
    assert ("| stage 2 of 24 epochs, not 10 | `stage2-24` − `stage2-10` | 2.0 ± 0.0 | 2.0 ± 0.0 | 1.0 ± 0.4 | "
            "3.0 ± 0.6 | 4.0 ± 0.0 |") in md
    assert ("| decoder posterior input and 2 refine blocks | `posterior-refine` − `stage2-24` | -1.0 ± 0.0 | "
            "-1.0 ± 0.0 | -0.5 ± 0.4 | -2.0 ± 0.6 | -2.0 ± 0.0 |") in md
    assert "| distillation (stage 2 of 10 epochs) | `stage2-10` − `no-kd-10` |" in md


def test_a_renamed_run_keeps_the_row_of_its_checkpoints(fake_root, monkeypatch):
    """The old shipped model kept under a new name costs no evaluation."""
    import semanticnn.evaluate.cli as evaluate_cli
    import semanticnn.evaluate.frontier as frontier
    import semanticnn.evaluate.report as report

    calls = []

    def evaluate(encoder, decoder, bers, channel, samples, **kw):
        calls.append(encoder.parent.name)
        return _fake_report(encoder, decoder, bers, channel, samples, **kw)

    def write(rep, paths, title=None):
        paths["json"].parent.mkdir(parents=True, exist_ok=True)
        burst = "burst" in paths["json"].name
        paths["json"].write_text(json.dumps({**rep, "format": "semanticnn-eval", "version": EVAL_VERSION,
                                             "bers": list(BERS), "channel": "burst" if burst else "iid",
                                             "packet_loss": 0.0 if burst else 0.1}))

    monkeypatch.setattr(evaluate_cli, "evaluate_files", evaluate)
    monkeypatch.setattr(report, "write_report", write)
    monkeypatch.setitem(frontier.RUNS, "c2-again", frontier.Run("ablation", "c2 under another name",
                                                               RUNS["c2"].overrides, lever="a name"))
    (fake_root / "models").mkdir()
    (fake_root / "models" / "base.pt").write_bytes(b"base")
    for name, folder in ((SHIPPED, fake_root / "models"), ("c2", fake_root / "runs" / "c2")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "encoder.pt").write_bytes(b"e" * 70)
        (folder / "decoder.pt").write_bytes(name.encode())
        (folder / "train_log.json").write_text(json.dumps({"config": _run_config(name).run_identity()}))
    out = fake_root / "out"
    run_frontier(fake_root / "runs", out, only=["c2"])
    (fake_root / "runs" / "c2").rename(fake_root / "runs" / "c2-again")
    calls.clear()
    summary = run_frontier(fake_root / "runs", out, only=["c2-again"])
    assert calls == []
    row = next(r for r in summary["runs"] if r["name"] == "c2-again")
    assert (row["label"], row["lever"], row["accuracy"]) == ("c2 under another name", "a name", [0.7] * 5)
    assert "c2" not in [r["name"] for r in summary["runs"]]


@pytest.mark.parametrize("saved", [True, False])
def test_training_a_run_continues_its_saved_state(tmp_path, monkeypatch, saved):
    """A run folder with ``train_state.pt`` (an interrupted or committed partial run) is resumed, not restarted."""
    import semanticnn.train.pipeline as pipeline

    calls = []
    monkeypatch.setattr(pipeline, "run_training", lambda config, **options: calls.append((config, options)) or {})
    folder = tmp_path / "c4"
    folder.mkdir()
    if saved:
        (folder / "train_state.pt").write_bytes(b"state")
    train_run("c4", tmp_path, threads=1)
    (config, options), = calls
    assert config.name == "mcu-c12.toml" and options["out"] == str(folder)
    assert options["resume"] is saved and options["code_channels"] == 4 and options["ber_max"] == 0.1
