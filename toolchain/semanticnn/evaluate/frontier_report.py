"""The frontier summary as Markdown and as a PNG (accuracy against payload, one line per BER)."""

import io
import math

from semanticnn.evaluate.code_usage import DEAD_BITS, dead_channels
from semanticnn.evaluate.frontier import SHIPPED
from semanticnn.evaluate.report import ber_text, pm

__all__ = ["frontier_markdown", "frontier_png"]

_ROBUST_BERS = (1e-2, 5e-2)


def _pct(a):
    return f"{100 * a:.1f}"


def _table(head, rows):
    return ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)] + [
        "| " + " | ".join(cells) + " |" for cells in rows]


def _run_name(row):
    stale = f" (stale: {'; '.join(row['stale'])})" if row.get("stale") else ""
    return f"`{row['name']}`: {row['label']}{stale}"


def _kind_rows(summary, kind):
    return [r for r in summary["runs"] if r["kind"] == kind or (kind == "ablation" and r["name"] == SHIPPED)]


def _channels_in_use(row):
    """``"5 of 6"``: code channels that are not dead (``evaluate.code_usage.dead_channels``)."""
    usage = row.get("code_usage")
    if usage is None:
        return "—"
    channels = len(usage["channel_bits"])
    return f"{channels - len(dead_channels(usage))} of {channels}"


def _run_table(summary, kind):
    head = ["run", "payload (B)", "on air (B)", "payload ratio vs float32 split feature", "code channels in use"] + [
        f"BER {ber_text(b)}" for b in summary["bers"]]
    return _table(head, [[_run_name(r), str(r["payload_bytes"]), f"{r['air_bytes']} ({r['packets']} pkt)",
                          f"{r['compression']:.1f}x", _channels_in_use(r)]
                         + [pm(a, s) for a, s in zip(r["accuracy"], r["std"], strict=True)]
                         for r in _kind_rows(summary, kind)])


def _loss(row, method, ber, bers):
    entry = row["robustness"].get(method)
    if entry is None:
        return "—"
    j = bers.index(ber)
    return pm(entry["loss"][j], entry["loss_std"][j])


def _robustness_table(summary):
    """Points lost against the run's own true-BER row, at the BERs of the issue's targets."""
    bers = summary["bers"]
    cols = [("split-est-half", "told 0.5x"), ("split-est-double", "told 2x"), ("split-est-unknown", "BER unknown"),
            ("split-lost", f"{100 * summary['packet_loss']:g}% packets lost")]
    head = ["run"] + [f"{name}, BER {ber_text(b)}" for b in _ROBUST_BERS if b in bers for _, name in cols]
    rows = [[_run_name(r)] + [_loss(r, m, b, bers) for b in _ROBUST_BERS if b in bers for m, _ in cols]
            for r in summary["runs"]]
    return _table(head, rows)


def _lever_table(summary):
    """Points each lever bought: accuracy with it minus without it, on the same images and seeds.

    The ± is ``sqrt(std_with^2 + std_without^2)`` of the two rows' seed spreads.
    """
    by_name = {r["name"]: r for r in summary["runs"]}
    rows = []
    for run in summary["runs"]:
        other = by_name.get(run.get("versus"))
        if not run.get("lever") or other is None:
            continue
        with_, without = (run, other) if run["has_lever"] else (other, run)
        cells = [pm(a - b, math.hypot(sa, sb)) for a, b, sa, sb in
                 zip(with_["accuracy"], without["accuracy"], with_["std"], without["std"], strict=True)]
        rows.append([run["lever"], f"`{with_['name']}` − `{without['name']}`"] + cells)
    return _table(["lever", "with − without"] + [f"BER {ber_text(b)}" for b in summary["bers"]], rows)


def _target_value(t):
    if t["value"] is None:
        return "not measured (its run has not finished)"
    if "ratio" in t["target"]:
        return f"{t['value']:.1f}x"
    return _pct(t["value"]) + (" points" if "points" in t["target"] or "lose" in t["target"] else "")


def frontier_markdown(summary, plot=None):
    """Markdown page: targets, rate-accuracy frontier, baselines, ablations, robustness to the receiver's view."""
    bers = summary["bers"]
    seeds = summary["seeds"]
    lines = [
        "# Accuracy against bit error rate: frontier and ablations", "",
        f"CIFAR-10 (JPEG) test, {summary['samples']} images, i.i.d. bit flips on the packed bitstream "
        f"(channel `{summary['channel']}`). Top-1 accuracy in %, mean ± std over {len(seeds)} channel seeds "
        f"({', '.join(map(str, seeds))}) on the same images. The float32 split feature is "
        f"{summary['feature_bytes']} B; the unsplit model scores {_pct(summary['unsplit_accuracy'])}. On air: "
        f"the payload in packets of at most {summary['mtu']} B, each with a {summary['header_bytes']}-byte header "
        "(two extended Golay(24, 12) words). The split rows send these packets, headers included, through the "
        "channel; a packet whose header the receiver can neither decode nor rescue (`channel.packets.rescue_header`) "
        "reaches the decoder as erasures. The raw rows send payload bits only. Code channels in use: those whose "
        f"symbols carry at least {DEAD_BITS:g} bits each on these images (`snn eval`'s code usage); the others send "
        "the same symbol for nearly every picture.", "",
        "## Targets (shipped model)", "",
        "| target | measured | met |", "|---|---:|:---:|",
    ]
    lines += [f"| {t['target']} | {_target_value(t)} | {'yes' if t['met'] else 'no'} |" for t in summary["targets"]]
    lines += ["", "## Rate-accuracy frontier", ""] + _run_table(summary, "frontier")
    head = ["method", "payload (B)", "payload ratio vs float32 split feature"] + [f"BER {ber_text(b)}" for b in bers]
    lines += ["", "## Baselines under the same channel", ""] + _table(head, [
        [r["label"], str(r["payload_bytes"]), f"{r['compression']:.1f}x"]
        + [pm(a, s) for a, s in zip(r["accuracy"], r["std"], strict=True)] for r in summary["baselines"]])
    lines += ["", "## Ablations (one switch off the shipped configuration)", ""] + _run_table(summary, "ablation")
    lines += ["", "## What each lever bought", "",
              "Top-1 points, the run with the lever minus the run without it (negative: the lever cost accuracy).",
              ""] + _lever_table(summary)
    lines += ["", "## The receiver's view: wrong BER estimate, lost packets", "",
              "Top-1 points each run loses against itself with the decoder told the true BER and no packet lost, "
              "on the same images and bit errors (mean ± std over the seeds; negative: better).", ""]
    lines += _robustness_table(summary)
    if plot:
        lines += ["", f"![frontier]({plot})"]
    return "\n".join(lines) + "\n"


def frontier_png(summary):
    """PNG bytes: accuracy (%) against payload bytes (log x), one line per BER, error bars ± std.

    Where two frontier runs share a payload, the one more accurate at the middle BER is drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    best = {}  # payload -> the frontier run with the best accuracy at the middle BER
    for r in summary["runs"]:
        if r["kind"] == "frontier":
            key = r["accuracy"][len(r["accuracy"]) // 2]
            if r["payload_bytes"] not in best or key > best[r["payload_bytes"]]["accuracy"][len(r["accuracy"]) // 2]:
                best[r["payload_bytes"]] = r
    runs = [best[p] for p in sorted(best)]
    fig = Figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    xs = [r["payload_bytes"] for r in runs]
    for j, ber in enumerate(summary["bers"]):
        ax.errorbar(xs, [100 * r["accuracy"][j] for r in runs], yerr=[100 * r["std"][j] for r in runs], fmt="-o",
                    markersize=4, capsize=3, label=f"BER {ber_text(ber)}")
    ax.axhline(100 * summary["unsplit_accuracy"], color="0.3", ls="--", lw=1, label="unsplit model")
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.minorticks_off()
    ax.set(xlabel="payload per inference (bytes)", ylabel="top-1 accuracy (%)", ylim=(0, 100),
           title=f"SemanticNN MCU-first model, CIFAR-10 (JPEG), {summary['samples']} images, "
                 f"{len(summary['seeds'])} channel seeds")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
