"""Which frontier results still hold: rows and reports kept when their checkpoints and settings match.

A run's row in the last ``accuracy.json`` is kept when the sha256 of its encoder,
decoder and base and the evaluation settings (report version, BERs, channel, packet
loss, samples, seeds, MTU, header) are those of this run; the shipped report (``models/eval.json``) and
the burst report are kept the same way. Everything else is evaluated again.
"""

import json
from pathlib import Path

from semanticnn.evaluate.frontier import BERS, PACKET_LOSS, SHIPPED
from semanticnn.evaluate.sweep import EVAL_VERSION
from semanticnn.provenance import provenance

__all__ = ["settings_of", "last_summary", "kept_or_evaluated", "kept_row"]


def _checkpoints(folder, base):
    """``{role: {"file", "sha256"}}`` of a run folder's encoder and decoder and the base, as reports record them."""
    return provenance(encoder=folder / "encoder.pt", decoder=folder / "decoder.pt", base=base)["checkpoints"]


def settings_of(report):
    """What a split row's numbers depend on besides the checkpoints."""
    return {"bers": list(BERS), "channel": "iid", "packet_loss": PACKET_LOSS,
            **{k: report[k] for k in ("version", "samples", "seeds", "mtu", "header_bytes")}}


def last_summary(path):
    """The last ``accuracy.json`` ({} when there is none or it is of another format)."""
    try:
        summary = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    if summary.get("format") != "semanticnn-frontier" or summary.get("version") != 2:
        return {}
    return summary


def kept_or_evaluated(folder, base, channel, methods, paths, reuse, title=None, **options):
    """The eval report of ``folder``'s checkpoints over ``channel``.

    With ``reuse``, the report already at ``paths["json"]`` is kept when it was made from the
    same checkpoints with the same BERs, packet loss and methods; otherwise the checkpoints
    are evaluated (``evaluate_files(**options)``) and, with ``paths``, the report written there.
    """
    from semanticnn.evaluate.cli import evaluate_files
    from semanticnn.evaluate.report import write_report

    if reuse and paths is not None:
        try:
            kept = json.loads(Path(paths["json"]).read_text())
        except (OSError, ValueError):
            kept = {}
        if (kept.get("format"), kept.get("version"), kept.get("channel")) == ("semanticnn-eval", EVAL_VERSION,
                                                                              channel) \
                and kept.get("bers") == list(BERS) and kept.get("packet_loss") == options["packet_loss"] \
                and kept.get("provenance", {}).get("checkpoints") == _checkpoints(folder, base) \
                and set(methods) <= {m["name"] for m in kept.get("methods", [])}:
            options["log"](f"{paths['json']}: same checkpoints and settings, kept")
            return kept
    report = evaluate_files(folder / "encoder.pt", folder / "decoder.pt", ",".join(map(str, BERS)), channel,
                            options["samples"], base=base, methods=methods, packet_loss=options["packet_loss"],
                            threads=options["threads"], log=options["log"])
    if paths is not None:
        write_report(report, paths, title=title)
    return report


def kept_row(previous, name, folder, base, shipped):
    """A previous row made from ``folder``'s checkpoints with the settings we would use now.

    Run ``name``'s own row first, then any other row of the same checkpoints, so that a
    run renamed in ``RUNS`` (the old shipped model kept under a new name, say) keeps its
    numbers. The caller puts this run's name, label and lever over the row's.
    """
    if name == SHIPPED or shipped is None:
        return None
    checkpoints, settings = _checkpoints(folder, base), settings_of(shipped)
    candidates = [previous[name]] if name in previous else []
    candidates += [row for other, row in previous.items() if other != name]
    return next((row for row in candidates
                 if row.get("checkpoints") == checkpoints and row["settings"] == settings), None)
