"""The eval report as JSON, Markdown, a PNG plot and a rich table; files written atomically.

The plot has accuracy against BER on a log x axis; BER 0 sits one decade left of
the smallest non-zero BER, with its tick labelled ``0`` and a break mark.
"""

import io
import json
from pathlib import Path

from semanticnn.atomic_file import write_atomic

__all__ = ["to_json", "render_markdown", "render_png", "rich_table", "report_paths", "write_report",
           "ber_text", "x_positions"]

_FILES = {"json": "eval.json", "md": "eval.md", "png": "accuracy_vs_ber.png"}


def to_json(report):
    """The report as indented JSON text."""
    return json.dumps(report, indent=2) + "\n"


def ber_text(ber):
    """A BER as a short label: ``0``, ``0.001``, ``0.1``."""
    return "0" if ber == 0 else f"{ber:g}"


def _cells(row, key="label"):
    payload = "—" if row["payload_bytes"] is None else str(row["payload_bytes"])
    ratio = "—" if row["compression"] is None else f"{row['compression']:.1f}x"
    return [row[key], payload, ratio] + [f"{100 * a:.1f}" for a in row["accuracy"]]


def _header(report):
    return ["method", "payload (B)", "vs float32"] + [f"BER {ber_text(b)}" for b in report["bers"]]


def render_markdown(report, title=None, plot=None):
    """Markdown page: a header line, the accuracy table (top-1 %), the raw quantisers, ``plot``."""
    head = _header(report)
    lines = [
        f"# {title or 'Accuracy vs bit error rate'}", "",
        f"CIFAR-10 (JPEG) test, {report['samples']} images, channel `{report['channel']}`, "
        f"seed {report['seed']}. Top-1 accuracy in %. Payload is the bitstream of one inference; "
        f"the float32 split feature is {report['feature_bytes']} bytes.", "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" + "---:|" * (len(head) - 1),
    ]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in report["methods"]]
    lines += ["", "Raw baselines: per-tensor scale fixed by min/max calibration on training images."]
    lines += [f"- `{k}`: scale {q['scale']:.6g}, zero point {q['zero_point']}"
              for k, q in report["quantizers"].items()]
    if plot:
        lines += ["", f"![accuracy vs BER]({plot})"]
    return "\n".join(lines) + "\n"


def x_positions(bers):
    """Plot x of each BER: itself, or one decade below the smallest non-zero one for 0."""
    nonzero = [b for b in bers if b > 0]
    zero_at = (min(nonzero) if nonzero else 1e-3) / 10
    return [b if b > 0 else zero_at for b in bers], zero_at


def render_png(report, title=None):
    """PNG bytes of accuracy (%) vs BER, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    xs, zero_at = x_positions(report["bers"])
    fig = Figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    for row in report["methods"]:
        style = "--" if row["payload_bytes"] is None else "-o"
        ax.plot(xs, [100 * a for a in row["accuracy"]], style, label=row["label"])
    ax.set_xscale("log")
    ticks = sorted(set(xs))
    ax.set_xticks(ticks, [ber_text(b) if b != zero_at else "0" for b in ticks])
    ax.minorticks_off()
    if zero_at in xs and len(set(xs)) > 1:
        ax.axvline(zero_at * 10 ** 0.5, color="0.8", lw=0.8, ls=":")
    ax.set(xlabel="bit error rate", ylabel="top-1 accuracy (%)", ylim=(0, 100),
           title=title or f"CIFAR-10 (JPEG), {report['samples']} images, channel {report['channel']}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def rich_table(report):
    """A compact ``rich.table.Table`` of the report: one column per BER, method keys as rows."""
    from rich.table import Table

    table = Table(title=f"top-1 accuracy (%), channel {report['channel']}, {report['samples']} images",
                  caption="columns after the first three: bit error rate")
    table.add_column("method", no_wrap=True)
    for name in ["bytes", "x f32"] + [ber_text(b) for b in report["bers"]]:
        table.add_column(name, justify="right", no_wrap=True)
    for row in report["methods"]:
        table.add_row(*_cells(row, "name"))
    return table


def report_paths(out_dir, stem=None):
    """``{"json", "md", "png": Path}`` in ``out_dir``; ``stem`` renames them ``stem.json`` etc."""
    out_dir = Path(out_dir)
    if stem is None:
        return {k: out_dir / name for k, name in _FILES.items()}
    return {k: out_dir / f"{stem}.{k}" for k in _FILES}


def write_report(report, paths, title=None):
    """Render everything first, then write each file through a temp file + ``os.replace``."""
    markdown = render_markdown(report, title, Path(paths["png"]).name)
    blobs = {"json": to_json(report).encode(), "md": markdown.encode(), "png": render_png(report, title)}
    for key, path in paths.items():
        write_atomic(Path(path), blobs[key])
    return paths
