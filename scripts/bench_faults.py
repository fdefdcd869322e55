"""snn-bench behind a damaged link (`make bench-faults`).

QEMU's serial port is reached through a TCP proxy that passes every byte (the baseline), one
that drops 1% of the bytes both ways, and one that stalls both ways for 5 s once. Each run
benches the exported qemu-m7 project (``--project``, from `make bench-qemu`'s export) for
``--samples`` test images and records the samples, the bit-exact ones, the retries, the tries
that got no answer, the bytes the proxy dropped and the wall time. Writes
docs/results/bench-faults.json and .md.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fault_proxy import proxied_qemu  # noqa: E402
from semanticnn.atomic_file import write_atomic  # noqa: E402
from semanticnn.bench.run import ensure_built, run_bench  # noqa: E402
from semanticnn.errors import SnnError  # noqa: E402

RESULTS = ROOT / "docs" / "results"
FAULTS = {  # name: FaultyProxy arguments
    "none (the proxy only)": {},
    "drop 1% of bytes": {"drop_rate": 0.01, "seed": 5},
    "stall 5 s once": {"stall_after": 6_000, "stall_s": 5.0},
}


def bench_behind(project, name, faults, samples):
    """One snn-bench run of ``project`` with QEMU behind a proxy with ``faults``: a result row."""
    started = time.monotonic()
    with proxied_qemu(**faults) as proxies, tempfile.TemporaryDirectory() as tmp:
        try:
            report = run_bench(project, samples=samples, json_out=Path(tmp) / "bench.json",
                               console=Console(stderr=True, quiet=True))
        except SnnError as exc:  # a run that stopped: keep what it measured
            report = json.loads((Path(tmp) / "bench.json").read_text()) | {"error": str(exc)}
    proxy = proxies[-1]
    return {
        "fault": name,
        "proxy": faults,
        "samples": report["samples"],
        "bit_exact": report["bit_exact"],
        **report["link"],
        "bytes_dropped": proxy.dropped,
        "stalls": proxy.stalls,
        "wall_s": round(time.monotonic() - started, 1),
        **({"stopped": report["error"]} if "error" in report else {}),
    }


def render_markdown(rows, samples):
    """The result rows as a Markdown table."""
    lines = [
        f"snn-bench of the shipped model on qemu-m7, {samples} test images, QEMU's serial port behind a TCP "
        "proxy that damages the link both ways (`make bench-faults`, tests/fault_proxy.py).",
        "",
        "| fault | samples | bit-exact | commands retried | retries | tries that got no answer | bytes dropped "
        "| wall time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['fault']} | {r['samples']} | {r['bit_exact']} | {r['retried_commands']} | {r['retries']} "
                     f"| {r['timed_out_tries']} | {r['bytes_dropped']:,} | {r['wall_s']:.1f} |")
    stopped = [f"- {r['fault']} stopped: {r['stopped']}" for r in rows if "stopped" in r]
    return "\n".join(lines + ([""] + stopped if stopped else [])) + "\n"


def main(argv=None):
    """Bench behind each fault and write the two result files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="an exported qemu-m7 project")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for bench-faults.{json,md}")
    args = parser.parse_args(argv)
    ensure_built(args.project)  # before the clock starts
    rows = []
    for name, faults in FAULTS.items():
        rows.append(bench_behind(args.project, name, faults, args.samples))
        print(json.dumps(rows[-1]), flush=True)
    write_atomic(args.out / "bench-faults.json", json.dumps({"target": "qemu-m7", "runs": rows}, indent=2) + "\n")
    write_atomic(args.out / "bench-faults.md", render_markdown(rows, args.samples))
    failed = [r["fault"] for r in rows if r["bit_exact"] != args.samples or "stopped" in r]
    if failed:
        sys.exit(f"not every sample was measured bit-exact behind: {', '.join(failed)}")


if __name__ == "__main__":
    main()
