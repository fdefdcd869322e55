"""The frontier summary: targets computed from the shipped run, Markdown and PNG rendered from data."""

import pytest

from semanticnn.errors import ConfigError
from semanticnn.evaluate.frontier import BERS, RUNS, SHIPPED, _summary, run_frontier
from semanticnn.evaluate.frontier_report import frontier_markdown, frontier_png


def _method(name, label, payload, acc):
    return {"name": name, "label": label, "payload_bytes": payload,
            "compression": None if payload is None else 65536 / payload, "accuracy": acc}


def _rows():
    rows = []
    for name, run in RUNS.items():
        payload = 24 * run.overrides.get("code_channels", 8)
        rows.append({"name": name, "kind": run.kind, "label": run.label, "overrides": run.overrides,
                     "payload_bytes": payload, "compression": 65536 / payload,
                     "accuracy": [0.80, 0.80, 0.79, 0.76, 0.70], "train_seconds": 1.0})
    return rows


SHIPPED_REPORT = {"samples": 100, "feature_bytes": 65536, "methods": [
    _method("unsplit", "full model", None, [0.81] * 5),
    _method("split", "codec", 192, [0.80, 0.80, 0.79, 0.76, 0.70]),
    _method("raw-uint8", "raw uint8", 16384, [0.81, 0.80, 0.75, 0.50, 0.30]),
    _method("raw-int8", "raw int8", 16384, [0.81, 0.70, 0.60, 0.30, 0.15]),
]}


def test_targets_are_measured_on_the_shipped_run():
    summary = _summary(_rows(), SHIPPED_REPORT)
    targets = {t["target"]: t for t in summary["targets"]}
    assert targets["unsplit model >= 80%"]["met"] is True
    assert targets["compression >= 300x"]["value"] == pytest.approx(65536 / 192)
    assert targets["within 2 points of unsplit at BER <= 1e-2"]["value"] == pytest.approx(0.02)
    assert targets["within 5 points of unsplit at BER 5e-2"]["value"] == pytest.approx(0.05)
    assert targets["raw 8-bit baselines lose clearly more at 5e-2"]["value"] == pytest.approx(0.31)
    assert targets["raw 8-bit baselines lose clearly more at 5e-2"]["met"] is True


def test_markdown_and_png_hold_every_run():
    summary = _summary(_rows(), SHIPPED_REPORT)
    md = frontier_markdown(summary, "frontier.png")
    for name in RUNS:
        assert f"`{name}`" in md
    assert "| raw uint8 | 16384 | 4.0x | 81.0 | 80.0 | 75.0 | 50.0 | 30.0 |" in md
    assert md.rstrip().endswith("![frontier](frontier.png)")
    assert frontier_png(summary)[:8] == b"\x89PNG\r\n\x1a\n"


def test_frontier_payloads_span_24_to_256_bytes_with_the_lora_frame():
    payloads = sorted(24 * r.overrides.get("code_channels", 8) for r in RUNS.values() if r.kind == "frontier")
    assert payloads == [24, 48, 96, 192]
    assert RUNS[SHIPPED].overrides == {} and len(BERS) == 5


def test_missing_run_without_train_is_a_config_error(tmp_path, monkeypatch):
    import semanticnn.evaluate.frontier as frontier

    monkeypatch.setattr(frontier, "ROOT", tmp_path)
    with pytest.raises(ConfigError) as err:
        run_frontier(tmp_path / "runs", tmp_path / "out")
    folder = tmp_path / "runs" / "c1"
    assert str(err.value) == f"run 'c1' has no finished checkpoints in {folder} (pass --train to train it)"
