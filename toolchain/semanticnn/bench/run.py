"""``snn-bench``: run real test images through a board and check every packet.

:func:`run_bench` is the whole command; its parts are separate so tests can drive
them with the fake device: :func:`load_manifest`, :func:`ensure_built`,
:func:`check_info`, :func:`bench_samples`, :func:`summarize`, :func:`write_json`.
"""

import contextlib
import json
import math
import os
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from semanticnn.atomic_file import write_atomic
from semanticnn.bench.commands import Board
from semanticnn.bench.layer_table import layer_rows, print_layers, read_layers, render_layers_markdown
from semanticnn.bench.reference import HostReference
from semanticnn.bench.timeouts import BUILD_TIMEOUT_S, COMMAND_ATTEMPTS, QEMU_RESPONSE_TIMEOUT_S
from semanticnn.bench.transport import open_transport
from semanticnn.errors import BoardError, ConfigError, ProtocolError, SnnError, ToolMissingError
from semanticnn.firmware.targets import get_target
from semanticnn.output_paths import check_output_file
from semanticnn.progress import advancer, progress_bar
from semanticnn.provenance import provenance

__all__ = [
    "MANIFEST_NAME",
    "ELF_PATH",
    "SampleResult",
    "load_manifest",
    "ensure_built",
    "elf_memory",
    "check_info",
    "bench_samples",
    "latency_stats",
    "summarize",
    "write_json",
    "render_markdown",
    "print_report",
    "select_board",
    "port_bauds",
    "open_port_board",
    "run_bench",
]

MANIFEST_NAME = "export.json"
ELF_PATH = Path("build") / "firmware.elf"
_MANIFEST_KEYS = (
    "target", "model_file", "model_crc32", "input", "output", "sq", "n_symbols", "payload_bytes", "mtu",
    "float32_split_bytes", "tflm_arena_bytes", "activation_bytes",
)
_MAX_LISTED_MISMATCHES = 10


@dataclass(frozen=True)
class SampleResult:
    """One sample on the board, compared with the host reference."""

    index: int
    latency: int
    stack_peak: int
    n_packets: int
    payload_bytes: int
    packets_match: bool
    output_match: bool
    mismatch: str | None

    @property
    def bit_exact(self):
        """Packets and output tensor both equal the host's."""
        return self.packets_match and self.output_match


def load_manifest(project_dir):
    """``DIR/export.json`` as a dict, with the keys snn-bench needs checked."""
    path = Path(project_dir) / MANIFEST_NAME
    if not path.is_file():
        raise ConfigError(f"{path} not found: export a project first (`snn-export ... -o {project_dir}`)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}): export the project again") from None
    missing = [key for key in _MANIFEST_KEYS if key not in manifest]
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}: export the project again with this toolchain")
    return manifest


def read_model(project_dir, manifest):
    """Read the project's int8 TFLite model, its CRC checked against the manifest."""
    path = Path(project_dir) / manifest["model_file"]
    if not path.is_file():
        raise ConfigError(f"{path} not found (model_file in export.json): export the project again")
    data = path.read_bytes()
    crc = zlib.crc32(data) & 0xFFFFFFFF
    if crc != manifest["model_crc32"]:
        raise ConfigError(
            f"{path} has CRC 0x{crc:08x}, export.json says 0x{manifest['model_crc32']:08x}: "
            "export the project again"
        )
    return data


def ensure_built(project_dir):
    """``DIR/build/firmware.elf``, running ``make -C DIR`` if it is missing or older than a source."""
    project_dir = Path(project_dir)
    elf = project_dir / ELF_PATH
    if elf.is_file() and elf.stat().st_mtime >= _newest_source(project_dir):
        return elf
    if shutil.which("make") is None:
        raise ToolMissingError("make not found: install the Debian package `make`")
    try:
        done = subprocess.run(
            ["make", "-C", str(project_dir)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise SnnError(
            f"`make -C {project_dir}` took over {BUILD_TIMEOUT_S:g} s: build it by hand to see why"
        ) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        last = lines[-1] if lines else f"exit code {done.returncode}"
        raise SnnError(f"`make -C {project_dir}` failed: {last}")
    if not elf.is_file():
        raise SnnError(f"`make -C {project_dir}` did not produce {elf}: check the project's Makefile")
    return elf


def _newest_source(project_dir):
    newest = 0.0
    for root, dirs, files in os.walk(project_dir):
        dirs[:] = [d for d in dirs if d != "build" and not d.startswith(".")]
        for name in files:
            newest = max(newest, (Path(root) / name).stat().st_mtime)
    return newest


def elf_memory(elf):
    """``(flash_bytes, ram_static_bytes)`` of a firmware ELF, from ``semanticnn.firmware.elfsize``."""
    from semanticnn.firmware.elfsize import flash_bytes, ram_static_bytes

    return flash_bytes(elf), ram_static_bytes(elf)


def check_info(info, manifest, project_dir):
    """Stop unless the board runs the project's firmware and model."""
    if info.model_crc != manifest["model_crc32"]:
        raise BoardError(
            f"board runs a different model (CRC 0x{info.model_crc:08x}, {project_dir}/export.json has "
            f"0x{manifest['model_crc32']:08x}): flash this project's build (`make -C {project_dir} flash`)"
        )
    expected = {
        "target": manifest["target"],
        "input_bytes": int(np.prod(manifest["input"]["shape"])),
        "output_bytes": int(np.prod(manifest["output"]["shape"])),
        "n_symbols": manifest["n_symbols"],
        "bits_per_symbol": manifest["sq"]["bits_per_symbol"],
        "payload_bytes": manifest["payload_bytes"],
        "mtu": manifest["mtu"],
    }
    for field, want in expected.items():
        got = getattr(info, field)
        if got != want:
            raise BoardError(
                f"board reports {field} {got}, {project_dir}/export.json says {want}: "
                f"flash this project's build (`make -C {project_dir} flash`)"
            )


def bench_samples(board, reference, images, on_sample=None):
    """Run each image on ``board`` and compare with ``reference``; a :class:`SampleResult` each."""
    results = []
    for index, image in enumerate(images):
        frame_id = index & 0xFFFF
        expected = reference.run(image, frame_id)
        result, packets, output = board.run_sample(expected.input.tobytes(), frame_id)
        packets_match = packets == expected.packets and result.payload_bytes == len(expected.bitstream)
        output_match = np.array_equal(output, expected.output.reshape(-1))
        mismatch = None
        if not (packets_match and output_match):
            mismatch = _describe_mismatch(index, packets, expected, output, result)
        results.append(SampleResult(
            index, result.latency, result.stack_peak, result.n_packets, result.payload_bytes,
            packets_match, output_match, mismatch,
        ))
        if on_sample is not None:
            on_sample(results[-1])
    return results


def _describe_mismatch(index, packets, expected, output, result):
    want = expected.output.reshape(-1)
    if not np.array_equal(output, want):
        first = int(np.argmax(output != want)) if output.shape == want.shape else 0
        return f"sample {index}: output tensor differs first at element {first}"
    if result.payload_bytes != len(expected.bitstream):
        return f"sample {index}: payload {result.payload_bytes} bytes, host {len(expected.bitstream)}"
    if len(packets) != len(expected.packets):
        return f"sample {index}: {len(packets)} packets, host {len(expected.packets)}"
    for i, (got, host) in enumerate(zip(packets, expected.packets, strict=True)):
        if got != host:
            diffs = [j for j, (a, b) in enumerate(zip(got, host, strict=False)) if a != b]
            byte = diffs[0] if diffs else min(len(got), len(host))
            return f"sample {index}: packet {i} differs first at byte {byte}"
    return f"sample {index}: differs"


def latency_stats(values, unit, core_clock_hz=None):
    """Median, p90, p99 (nearest rank), min and max of latencies; in cycles, also in µs at ``core_clock_hz``."""
    ordered = sorted(values)

    def rank(p):
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    median = float(np.median(ordered))
    stats = {
        "unit": unit,
        "median": int(median) if median.is_integer() else median,
        "p90": rank(90),
        "p99": rank(99),
        "min": ordered[0],
        "max": ordered[-1],
    }
    if unit == "cycles" and core_clock_hz:
        stats["us"] = {k: round(stats[k] * 1e6 / core_clock_hz, 3) for k in ("median", "p90", "p99", "min", "max")}
    return stats


def summarize(manifest, info, results, flash_bytes, ram_static_bytes):
    """Build the report dict (the JSON output)."""
    payload = manifest["payload_bytes"]
    return {
        "target": manifest["target"],
        "runtime": manifest.get("runtime", "codegen"),
        "samples": len(results),
        "bit_exact": sum(r.bit_exact for r in results),
        "latency": latency_stats([r.latency for r in results], info.latency_unit_name, info.core_clock_hz),
        "clock": {"core_clock_hz": info.core_clock_hz, "source": info.clock_source_name,
                  "caches": info.cache_names, "baud": info.baud},
        "memory": {
            "flash_bytes": flash_bytes,
            "ram_static_bytes": ram_static_bytes,
            "stack_peak_bytes": max(r.stack_peak for r in results),
            "activation_bytes": info.activation_bytes,  # measured on target by the tflm runtimes
            "tflm_arena_bytes": manifest["tflm_arena_bytes"],
        },
        "payload_bytes": payload,
        "packets_per_inference": max(r.n_packets for r in results),
        "compression_vs_float32": manifest["float32_split_bytes"] / payload,
        "mismatches": [r.mismatch for r in results if r.mismatch][:_MAX_LISTED_MISMATCHES],
        "provenance": provenance(**manifest.get("provenance", {}).get("checkpoints", {})),
    }


def write_json(report, path):
    """Write ``report`` to ``path`` atomically (temporary file + ``os.replace``)."""
    write_atomic(path, json.dumps(report, indent=2) + "\n")


def _rows(report):
    lat, mem = report["latency"], report["memory"]
    unit = lat["unit"]
    return [
        ("target", report["target"]),
        ("runtime", report["runtime"]),
        ("bit-exact samples", f"{report['bit_exact']} / {report['samples']}"),
        (f"latency median ({unit})", f"{lat['median']:,}"),
        (f"latency p99 ({unit})", f"{lat['p99']:,}"),
        (f"latency min / max ({unit})", f"{lat['min']:,} / {lat['max']:,}"),
        *_clock_rows(report),
        ("flash (bytes)", f"{mem['flash_bytes']:,}"),
        ("static RAM (bytes)", f"{mem['ram_static_bytes']:,}"),
        ("stack peak (bytes)", f"{mem['stack_peak_bytes']:,}"),
        ("activation arena (bytes)", f"{mem['activation_bytes']:,}"),
        ("TFLM arena (bytes)", f"{mem['tflm_arena_bytes']:,}"),
        ("payload per inference (bytes)", f"{report['payload_bytes']:,}"),
        ("packets per inference", str(report["packets_per_inference"])),
        ("compression vs float32 split", f"{report['compression_vs_float32']:.1f}x"),
        *_link_rows(report),
    ]


def _link_rows(report):
    """Commands retried on the link, and where an incomplete run stopped."""
    rows = []
    if "link" in report:
        rows.append(("commands retried (retries)", f"{report['link']['retried_commands']} "
                                                   f"({report['link']['retries']})"))
        if "timed_out_tries" in report["link"]:
            rows.append(("tries that got no answer", str(report["link"]["timed_out_tries"])))
    if "stopped" in report:
        rows.append(("stopped", report["stopped"].replace("|", "/")))
    return rows


def _clock_rows(report):
    """Latency in µs (cycle counts only) and how the board is clocked."""
    lat, clock = report["latency"], report.get("clock")
    rows = []
    if "us" in lat:
        rows.append(("latency median (µs)", f"{lat['us']['median']:,.1f}"))
    if clock:
        caches = "+".join(clock["caches"]) or "none"
        rows.append(("core clock", f"{clock['core_clock_hz'] / 1e6:g} MHz ({clock['source']}), caches {caches}"))
        rows.append(("link (baud)", f"{clock['baud']:,}"))
    return rows


def render_markdown(report):
    """Render the report as a Markdown table."""
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in _rows(report)]
    text = "\n".join(lines) + "\n"
    if "layers" in report:
        text += "\nPer layer (last sample):\n\n" + render_layers_markdown(report["layers"], report["latency"]["unit"])
    return text


def print_report(report, console):
    """Print the report as a rich table, then any mismatches."""
    table = Table(title="snn-bench", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in _rows(report):
        table.add_row(name, value)
    console.print(table)
    if "layers" in report:
        print_layers(report["layers"], report["latency"]["unit"], console)
    for line in report["mismatches"]:
        console.print(f"[red]mismatch[/red] {line}")


def select_board(qemu_dir, port, project_dir):
    """``(project_dir, port)`` from the CLI's ``--qemu DIR`` or ``--port PORT --project DIR``."""
    if qemu_dir is not None and port is not None:
        raise ConfigError("--qemu and --port exclude each other: pick one board")
    if qemu_dir is not None:
        if project_dir is not None:
            raise ConfigError("--project goes with --port; with --qemu the project is the --qemu DIR")
        return qemu_dir, None
    if port is None:
        raise ConfigError("no board given: use --qemu DIR or --port PORT --project DIR")
    if project_dir is None:
        raise ConfigError(f"--port {port} needs --project DIR: the exported project the board runs")
    return project_dir, port


def run_bench(project_dir, samples=20, port=None, qemu=True, json_out=None, markdown_out=None,
              baud=None, console=None, strict=True, data=None):
    """Bench the exported project ``project_dir`` on QEMU (default) or the board on ``port``.

    On a port, ``baud`` defaults to the export's target: its link rate, then the rate it falls
    back to on the HSI (:func:`port_bauds`).

    Returns the report dict; writes it to ``json_out`` / ``markdown_out`` when given. With
    ``strict``, a sample that is not bit-exact raises :class:`BoardError` after writing.
    ``data`` holds the test images (``semanticnn.bench.images.bench_images``).
    """
    from semanticnn.bench.images import bench_images

    if samples < 1:
        raise ConfigError(f"--samples must be at least 1, got {samples}")
    if baud is not None and baud <= 0:
        raise ConfigError(f"--baud {baud} is not a baud rate: give a positive rate such as 115200")
    for path in (json_out, markdown_out):
        if path is not None:
            check_output_file(path)
    if port is None and not qemu:
        raise ConfigError("no board given: use --qemu DIR or --port PORT --project DIR")
    console = console or Console(stderr=True)
    project_dir = Path(project_dir)
    manifest = load_manifest(project_dir)
    reference = HostReference(manifest, read_model(project_dir, manifest))
    elf = ensure_built(project_dir)
    flash_bytes, ram_static_bytes = elf_memory(elf)
    if manifest["sq"]["mapping"] == "raw":  # a .tflite export: seeded int8 inputs, extremes first
        from semanticnn.export.tflite_export import check_inputs

        images = check_inputs(tuple(manifest["input"]["shape"][1:]), samples, seed=1)
    else:
        images, _ = bench_images(data, samples, console)
    with _open_board(elf, manifest["target"], port, baud) as board:
        info = board.info()
        check_info(info, manifest, project_dir)
        progress = progress_bar(console)
        with progress or contextlib.nullcontext():
            advance = advancer(progress, "samples", len(images))
            results, stopped = _bench_until_failure(board, reference, images, lambda _: advance())
        layers = read_layers(board) if stopped is None else None
        report = summarize(manifest, info, results, flash_bytes, ram_static_bytes)
        report["link"] = {"retried_commands": board.retried_commands, "retries": board.retries,
                          "timed_out_tries": board.timed_out_tries}
        if stopped is not None:  # keep what was measured, then say why it stopped (inside: QEMU may explain)
            report["stopped"] = f"after {len(results)} of {len(images)} samples: {stopped}"
            _write_reports(report, json_out, markdown_out)
            raise type(stopped)(f"{stopped} (the {len(results)} samples measured before are in the report)")
    if layers is not None:
        report["layers"] = layer_rows(manifest["layers"], layers)
    _write_reports(report, json_out, markdown_out)
    print_report(report, console)
    if strict and report["bit_exact"] != report["samples"]:
        bad = report["samples"] - report["bit_exact"]
        raise BoardError(
            f"{bad} of {report['samples']} samples differ from the host reference "
            f"({report['mismatches'][0]}): the firmware is not bit-exact with tflite_micro"
        )
    return report


def _bench_until_failure(board, reference, images, on_sample):
    """:func:`bench_samples` up to a board or link failure: ``(results so far, the error or None)``."""
    results = []

    def keep(result):
        results.append(result)
        on_sample(result)

    try:
        bench_samples(board, reference, images, keep)
    except BoardError as exc:
        if not results:
            raise
        return results, exc
    return results, None


def _write_reports(report, json_out, markdown_out):
    if json_out is not None:
        write_json(report, json_out)
    if markdown_out is not None:
        write_atomic(markdown_out, render_markdown(report))


def port_bauds(target, baud=None):
    """Rates to try on the port of a ``target`` board: ``baud`` if given, else the link rate, then the fallback's."""
    if baud is not None:
        return [baud]
    t = get_target(target)
    return list(dict.fromkeys([t.link_baud, t.fallback_baud]))


def open_port_board(port, target, baud=None, **board_options):
    """A :class:`Board` on ``port`` that answered INFO, at the first of :func:`port_bauds` that works.

    ``board_options`` go to :class:`Board` (timeouts, attempts).
    """
    last_error = None
    for rate in port_bauds(target, baud):
        board = Board(open_transport(port, rate), baud=rate, **board_options)
        try:
            board.info()
        except (BoardError, ProtocolError) as exc:
            board.close()
            last_error = exc
            continue
        return board
    raise last_error


@contextlib.contextmanager
def _open_board(elf, target, port, baud):
    if port is not None:
        with open_port_board(port, target, baud) as board:
            yield board
        return
    from semanticnn.bench.qemu import launch_qemu

    with launch_qemu(elf, target) as transport:
        yield Board(transport, max_timeout=QEMU_RESPONSE_TIMEOUT_S, first_contact_attempts=COMMAND_ATTEMPTS)
