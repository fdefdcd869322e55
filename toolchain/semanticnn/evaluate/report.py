"""The eval report as JSON, Markdown, a PNG plot and a rich table; files written atomically.

The plot has accuracy (mean, error bars ± one std over channel seeds) against BER on a log x axis; BER 0
sits one decade left of the smallest non-zero BER, with its tick labelled ``0`` and a break mark.
"""

import io
import json
from pathlib import Path

from semanticnn.atomic_file import write_atomic
from semanticnn.channel.packets import RESCUE_WORD_BITS
from semanticnn.evaluate.code_usage import usage_line

__all__ = ["to_json", "render_markdown", "render_png", "rich_table", "report_paths", "write_report",
           "ber_text", "pm", "x_positions"]

_FILES = {"json": "eval.json", "md": "eval.md", "png": "accuracy_vs_ber.png"}


def to_json(report):
    """The report as indented JSON text."""
    return json.dumps(report, indent=2) + "\n"


def ber_text(ber):
    """A BER as a short label: ``0``, ``0.001``, ``0.1``."""
    return "0" if ber == 0 else f"{ber:g}"


def pm(mean, std, scale=100.0):
    """``mean ± std`` in percent (points) with one decimal; a mean that rounds to zero prints ``0.0``."""
    text = f"{scale * mean:.1f}"
    return f"{'0.0' if text == '-0.0' else text} ± {scale * std:.1f}"


def _sizes(row):
    if row["payload_bytes"] is None:
        return ["—"] * 4
    packets = f"{row['packets']} packet" + ("" if row["packets"] == 1 else "s")
    return [str(row["payload_bytes"]), f"{row['air_bytes']} ({packets})",
            f"{row['compression']:.1f}x", f"{row['air_compression']:.1f}x"]


def _cells(row, key="label"):
    return [row[key], *_sizes(row)] + [pm(a, s) for a, s in zip(row["accuracy"], row["std"], strict=True)]


def _header(report):
    return ["method", "payload (B)", "on air (B)", "payload ratio vs float32 split feature", "on-air ratio"] + [
        f"BER {ber_text(b)}" for b in report["bers"]]


def _table(head, rows):
    return ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)] + [
        "| " + " | ".join(cells) + " |" for cells in rows]


def _loss_lines(report):
    """The rows measured against another (told a wrong BER, packets lost): points lost, paired."""
    rows = [r for r in report["methods"] if "loss" in r]
    if not rows:
        return []
    head = ["method", "versus"] + [f"BER {ber_text(b)}" for b in report["bers"]]
    cells = [[r["label"], f"`{r['versus']}`"] + [pm(a, s) for a, s in zip(r["loss"], r["loss_std"], strict=True)]
             for r in rows]
    return ["", "## Loss against the decoder told the true BER, no packet lost", "",
            "Top-1 points lost against the `versus` row on the same images and the same bit errors "
            "(mean ± std of the per-seed difference; negative: better).", ""] + _table(head, cells)


def _header_note(report):
    if not report.get("split_erased"):
        return []
    shares = ", ".join(f"{100 * e:.2f}% at {ber_text(b)}" for b, e in zip(report["bers"], report["split_erased"],
                                                                         strict=True) if b > 0)
    return ["", f"The split rows send real packets: each {report['header_bytes']}-byte header (two extended "
                f"Golay(24, 12) words, up to 3 bit errors corrected in each) crosses the channel with its payload. "
                f"A header beyond that is matched against the headers the receiver expects (this frame id, the next "
                f"and the previous, each fragment of the packet's length) and kept if one is nearest and within "
                f"{RESCUE_WORD_BITS} bits in each word; the symbols of a packet that is not reach the decoder as "
                f"erasures: {shares} of the symbols. The raw rows send payload bits only."]


def render_markdown(report, title=None, plot=None):
    """Markdown page: how it was measured, accuracy (mean ± std), losses, raw quantisers, ``plot``."""
    seeds = ", ".join(map(str, report["seeds"]))
    lines = [
        f"# {title or 'Accuracy vs bit error rate'}", "",
        f"CIFAR-10 (JPEG) test, {report['samples']} images, channel `{report['channel']}`. Top-1 accuracy in %, "
        f"mean ± std over {len(report['seeds'])} channel seeds ({seeds}); the test images are the same for every "
        f"seed (subset seed {report['seed']}).", "",
        f"Sizes are per inference. Payload: the bitstream. On air: the payload cut into packets of at most "
        f"{report['mtu']} bytes (MTU), each with a {report['header_bytes']}-byte header. Payload ratio: the float32 "
        f"split feature ({report['feature_bytes']} bytes) over the payload; on-air ratio: the same over the bytes "
        "on air.", "",
    ]
    if report.get("int8"):
        lines += [f"The split rows send the device's symbols: the int8 graph `{report['int8']['file']}` (sha256 "
                  f"{report['int8']['sha256'][:12]}) under the tflite_micro reference kernels, then the firmware's "
                  "SQ stage; the float encoder runs the raw rows.", ""]
    lines += _table(_header(report), [_cells(row) for row in report["methods"]])
    lines += _loss_lines(report) + _header_note(report)
    if report.get("code_usage"):
        lines += ["", usage_line(report["code_usage"]) + "."]
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
        style = "--" if row["payload_bytes"] is None else (":" if "versus" in row else "-")
        ax.errorbar(xs, [100 * a for a in row["accuracy"]], yerr=[100 * s for s in row["std"]], fmt=style,
                    marker=None if row["payload_bytes"] is None else "o", markersize=3, capsize=3,
                    label=row["label"])
    ax.set_xscale("log")
    ticks = sorted(set(xs))
    ax.set_xticks(ticks, [ber_text(b) if b != zero_at else "0" for b in ticks])
    ax.minorticks_off()
    if zero_at in xs and len(set(xs)) > 1:
        ax.axvline(zero_at * 10 ** 0.5, color="0.8", lw=0.8, ls=":")
    ax.set(xlabel="bit error rate", ylabel="top-1 accuracy (%)", ylim=(0, 100),
           title=title or f"CIFAR-10 (JPEG), {report['samples']} images, channel {report['channel']}, "
                          f"mean ± std over {len(report['seeds'])} seeds")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def rich_table(report):
    """A compact ``rich.table.Table`` of the report: one column per BER, method keys as rows."""
    from rich.table import Table

    table = Table(title=f"top-1 accuracy (%), mean ± std over {len(report['seeds'])} channel seeds, "
                        f"channel {report['channel']}, {report['samples']} images",
                  caption="bytes: payload; air: with packet headers; x f32: payload ratio vs the float32 split "
                          "feature; other columns: bit error rate")
    table.add_column("method", no_wrap=True)
    for name in ["bytes", "air", "x f32"] + [ber_text(b) for b in report["bers"]]:
        table.add_column(name, justify="right", no_wrap=True)
    for row in report["methods"]:
        size = ["—"] * 3 if row["payload_bytes"] is None else [
            str(row["payload_bytes"]), str(row["air_bytes"]), f"{row['compression']:.1f}x"]
        table.add_row(row["name"], *size, *(f"{100 * a:.1f}±{100 * s:.1f}"
                                            for a, s in zip(row["accuracy"], row["std"], strict=True)))
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
