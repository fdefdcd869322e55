"""The frontier summary as Markdown and as a PNG (accuracy against payload, one line per BER)."""

import io

from semanticnn.evaluate.report import ber_text

__all__ = ["frontier_markdown", "frontier_png"]


def _pct(a):
    return f"{100 * a:.1f}"


def _run_table(summary, kind):
    head = ["run", "payload (B)", "vs float32"] + [f"BER {ber_text(b)}" for b in summary["bers"]]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in summary["runs"]:
        if row["kind"] == kind or (kind == "ablation" and row["name"] == "c8"):
            lines.append("| " + " | ".join([f"`{row['name']}`: {row['label']}", str(row["payload_bytes"]),
                                            f"{row['compression']:.1f}x"] + [_pct(a) for a in row["accuracy"]]) + " |")
    return lines


def frontier_markdown(summary, plot=None):
    """Markdown page: targets, rate-accuracy frontier, baselines, ablations."""
    bers = summary["bers"]
    lines = [
        "# Accuracy against bit error rate: frontier and ablations", "",
        f"CIFAR-10 (JPEG) test, {summary['samples']} images, i.i.d. bit flips on the packed bitstream "
        f"(channel `{summary['channel']}`). Top-1 accuracy in %. The float32 split feature is "
        f"{summary['feature_bytes']} B; the unsplit model scores {_pct(summary['unsplit_accuracy'])}.", "",
        "## Targets (shipped model)", "",
        "| target | measured | met |", "|---|---:|:---:|",
    ]
    for t in summary["targets"]:
        value = f"{t['value']:.1f}x" if "compression" in t["target"] else (
            _pct(t["value"]) + (" points" if "points" in t["target"] or "lose" in t["target"] else ""))
        lines.append(f"| {t['target']} | {value} | {'yes' if t['met'] else 'no'} |")
    lines += ["", "## Rate-accuracy frontier", ""] + _run_table(summary, "frontier")
    lines += ["", "## Baselines under the same channel", "",
              "| method | payload (B) | vs float32 | " + " | ".join(f"BER {ber_text(b)}" for b in bers) + " |",
              "|---|---:|---:|" + "---:|" * len(bers)]
    for row in summary["baselines"]:
        lines.append(f"| {row['label']} | {row['payload_bytes']} | {row['compression']:.1f}x | "
                     + " | ".join(_pct(a) for a in row["accuracy"]) + " |")
    lines += ["", "## Ablations (one switch off the shipped configuration)", ""] + _run_table(summary, "ablation")
    if plot:
        lines += ["", f"![frontier]({plot})"]
    return "\n".join(lines) + "\n"


def frontier_png(summary):
    """PNG bytes: accuracy (%) against payload bytes (log x), one line per BER."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    runs = sorted((r for r in summary["runs"] if r["kind"] == "frontier"), key=lambda r: r["payload_bytes"])
    fig = Figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    xs = [r["payload_bytes"] for r in runs]
    for j, ber in enumerate(summary["bers"]):
        ax.plot(xs, [100 * r["accuracy"][j] for r in runs], "-o", label=f"BER {ber_text(ber)}")
    ax.axhline(100 * summary["unsplit_accuracy"], color="0.3", ls="--", lw=1, label="unsplit model")
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.minorticks_off()
    ax.set(xlabel="payload per inference (bytes)", ylabel="top-1 accuracy (%)", ylim=(0, 100),
           title=f"SemanticNN MCU-first model, CIFAR-10 (JPEG), {summary['samples']} images")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
