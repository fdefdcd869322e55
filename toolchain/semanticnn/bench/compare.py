"""One model on every runtime whose source trees are given, in one run (``make bench-runtimes``).

For each runtime of :mod:`semanticnn.firmware.runtimes` it exports the checkpoint for the
target into ``OUT/<runtime>/``, benches it in QEMU with :func:`semanticnn.bench.run.run_bench`,
and tabulates latency and memory with the ratio of each runtime's latency to codegen's.
A runtime whose tree is absent is listed as skipped, with the variable to set.
"""

import os
import subprocess
from pathlib import Path

import click

from semanticnn.atomic_file import write_atomic
from semanticnn.errors import BoardError, ConfigError, SnnError
from semanticnn.firmware.runtimes import DEFAULT_RUNTIME, RUNTIMES, find_trees
from semanticnn.provenance import provenance

__all__ = ["runtime_availability", "bench_runtimes", "runtime_row", "render_markdown", "compare_cmd"]


def runtime_availability() -> tuple:
    """``(runnable runtime names, {skipped name: reason})`` from the environment's source trees."""
    runnable, skipped = [], {}
    for name, runtime in RUNTIMES.items():
        try:
            find_trees(runtime)
        except ConfigError as exc:
            skipped[name] = str(exc)
        else:
            runnable.append(name)
    return runnable, skipped


def runtime_row(report: dict, baseline_latency: int) -> dict:
    """The comparison's numbers of one bench report."""
    latency = report["latency"]["median"]
    return {
        "bit_exact": report["bit_exact"],
        "samples": report["samples"],
        "latency_median": latency,
        "latency_unit": report["latency"]["unit"],
        "latency_vs_codegen": round(latency / baseline_latency, 3),
        "flash_bytes": report["memory"]["flash_bytes"],
        "ram_static_bytes": report["memory"]["ram_static_bytes"],
        "activation_bytes": report["memory"]["activation_bytes"],
        "stack_peak_bytes": report["memory"]["stack_peak_bytes"],
        "layers": [row["latency"] for row in report.get("layers", [])] or None,
    }


def bench_runtimes(checkpoint, target, out_dir, samples, runtimes=None) -> dict:
    """Export and bench ``checkpoint`` on ``runtimes`` (default: every runnable one); the comparison dict."""
    from semanticnn.bench.run import run_bench
    from semanticnn.export.pipeline import export_encoder

    runnable, skipped = runtime_availability()
    names = runnable if runtimes is None else list(runtimes)
    if DEFAULT_RUNTIME not in names:
        raise ConfigError(f"the comparison needs {DEFAULT_RUNTIME}, its baseline: add it to the runtimes")
    reports, manifests = {}, {}
    for name in [DEFAULT_RUNTIME, *(n for n in names if n != DEFAULT_RUNTIME)]:
        project = Path(out_dir) / name
        manifests[name] = export_encoder(checkpoint, target, project, runtime=name)
        _build(project)
        reports[name] = run_bench(project, samples, qemu=True, json_out=project / "bench.json", strict=False)
    baseline = reports[DEFAULT_RUNTIME]["latency"]["median"]
    return {
        "target": target,
        "model": Path(checkpoint).name,
        "layer_ops": manifests[DEFAULT_RUNTIME]["layers"],  # codegen's layers: PADs folded into convs
        "samples": samples,
        "baseline": DEFAULT_RUNTIME,
        "runtimes": {name: runtime_row(report, baseline) for name, report in reports.items()},
        "skipped": {name: reason for name, reason in skipped.items() if name not in reports},
    }


def _build(project):
    """``make -C project`` on every core, with no time limit: the TFLite Micro and CMSIS-NN trees take minutes."""
    done = subprocess.run(["make", "-C", str(project), f"-j{os.cpu_count() or 1}"], capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise SnnError(f"`make -C {project}` failed: {lines[-1] if lines else done.returncode}")


def render_markdown(result: dict) -> str:
    """The comparison as Markdown: one row per runtime, then the per-layer latencies where kept."""
    rows = result["runtimes"]
    unit = next(iter(rows.values()))["latency_unit"]
    lines = [
        f"Model `{result['model']}` on `{result['target']}`, {result['samples']} samples per runtime.",
        "",
        f"| runtime | bit-exact | latency median ({unit}) | x codegen | flash (bytes) | static RAM (bytes) "
        "| activations (bytes, on target) | stack peak (bytes) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['bit_exact']} / {r['samples']} | {r['latency_median']:,} | {r['latency_vs_codegen']:.3f} "
            f"| {r['flash_bytes']:,} | {r['ram_static_bytes']:,} | {r['activation_bytes']:,} "
            f"| {r['stack_peak_bytes']:,} |"
        )
    lines += _layer_lines(result)
    if result["skipped"]:
        lines += ["", "Skipped:", ""] + [f"- {name}: {reason}" for name, reason in result["skipped"].items()]
    return "\n".join(lines) + "\n"


def _layer_lines(result):
    ops, rows = result["layer_ops"], result["runtimes"]
    timed = {name: r["layers"] for name, r in rows.items() if r["layers"] and len(r["layers"]) == len(ops)}
    apart = [name for name, r in rows.items() if r["layers"] and len(r["layers"]) != len(ops)]
    if not timed:
        return []
    names = list(timed)
    lines = ["", "Per layer (last sample):", "", "| layer | op | " + " | ".join(names) + " |",
             "|---|---|" + "---:|" * len(names)]
    for i, op in enumerate(ops):
        lines.append(f"| {i} | {op} | " + " | ".join(f"{timed[n][i]:,}" for n in names) + " |")
    if apart:
        lines += ["", f"{', '.join(apart)}: each PAD is a layer of its own (codegen folds it into the conv), "
                      "so the per-layer table is in its bench.json."]
    untimed = [name for name in rows if name not in timed and name not in apart]
    if untimed:
        lines += ["", f"{', '.join(untimed)} keep no per-layer table (the interpreter runs the graph)."]
    return lines


@click.command()
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=Path("models/encoder.pt"),
              show_default=True, help="Encoder checkpoint to export.")
@click.option("--target", default="qemu-m7", show_default=True, help="An emulated target.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build/bench-runtimes"), show_default=True, help="Projects go to OUT/<runtime>/.")
@click.option("--samples", default=20, show_default=True, type=click.IntRange(min=1), help="Images per runtime.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the comparison here.")
@click.option("--markdown", "markdown_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the comparison as Markdown here.")
def compare_cmd(checkpoint, target, out_dir, samples, json_out, markdown_out):
    """Bench one model on every runtime whose source trees are set (CMSIS_NN_DIR, TFLM_DIR)."""
    import json

    result = {**bench_runtimes(checkpoint, target, out_dir, samples), "provenance": provenance(encoder=checkpoint)}
    text = render_markdown(result)
    if json_out is not None:
        write_atomic(json_out, json.dumps(result, indent=2) + "\n")
    if markdown_out is not None:
        write_atomic(markdown_out, text)
    click.echo(text, nl=False)
    bad = [name for name, r in result["runtimes"].items() if r["bit_exact"] != r["samples"]]
    if bad:
        raise BoardError(f"{', '.join(bad)} not bit-exact with the host reference: see {out_dir}/<runtime>/bench.json")


if __name__ == "__main__":
    from semanticnn.cli import _run

    _run(compare_cmd)
