"""The engine benchmark (`make bench-engine`): a matrix of int8 encoder shapes in QEMU.

Each model is exported, built and run in QEMU (Cortex-M7, -icount shift=0) and checked bit
for bit against tflite_micro. Reports per model the instructions per inference, instructions
per MAC (whole model and per conv layer), flash, and the activation RAM (input included) next to tflite_micro's
``arena_used_bytes()`` (a host measurement, so it carries 64-bit bookkeeping). Writes
docs/results/engine-matrix.json, .md and .png.

The shapes are built with the tests' flatbuffer builder (tests/tflite_builder.py); the
ResNet-18 and MobileNetV2 stems are the litert-torch conversions in tests/fixtures/tflite.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from semanticnn.atomic_file import write_atomic  # noqa: E402
from semanticnn.bench.run import run_bench  # noqa: E402
from semanticnn.export.pipeline import DEFAULT_MTU, export_encoder  # noqa: E402
from tflite_builder import ModelBuilder  # noqa: E402

RELU = 1
TARGET = "qemu-m7"
SAMPLES = 3
RAW_OUTPUT_MTU = 1024
RESULTS = ROOT / "docs" / "results"
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _chain(shape, layers, seed):
    """Convolutions in a row: ``layers`` = [(out_c, k, stride, dilation, same, act, depthwise, multiplier)]."""
    m = ModelBuilder(seed=seed)
    s = 0.03
    y = x = m.act((1, *shape), s, 5)
    for out_c, k, stride, dilation, same, act, depthwise, mult in layers:
        y, s = m.conv(y, s, out_c, k, stride=stride, dilation=dilation, same=same, act=act, depthwise=depthwise,
                      multiplier=mult)
    return m.build([x], [y])


def _residual(shape, seed):
    """ResNet basic block: conv3x3-ReLU-conv3x3, ADD with the block input, ReLU."""
    m = ModelBuilder(seed=seed)
    s = 0.03
    x = m.act((1, *shape), s, 0)
    a, sa = m.conv(x, s, shape[2], 3, act=RELU)
    b, sb = m.conv(a, sa, shape[2], 3)
    out = m.act((1, *shape), max(s, sb) * 2, -128)
    m.op("ADD", [x, b], [out], fusedActivationFunction=RELU)
    return m.build([x], [out])


def _conv(out_c, k, stride=1, dilation=1, same=True, act=0):
    return (out_c, k, stride, dilation, same, act, False, 1)


def _dw(k, stride=1, mult=1, act=RELU):
    return (0, k, stride, 1, True, act, True, mult)


MATRIX = {
    "conv3x3 s1 SAME 16->16 @32x32": lambda: _chain((32, 32, 16), [_conv(16, 3, act=RELU)], 1),
    "conv3x3 s2 SAME 16->32 @32x32": lambda: _chain((32, 32, 16), [_conv(32, 3, stride=2)], 2),
    "conv1x1 32->64 @16x16": lambda: _chain((16, 16, 32), [_conv(64, 1, same=False, act=RELU)], 3),
    "conv5x5 VALID 8->8 @24x24": lambda: _chain((24, 24, 8), [_conv(8, 5, same=False)], 4),
    "conv3x3 dilation 2 SAME 8->12 @20x20": lambda: _chain((20, 20, 8), [_conv(12, 3, dilation=2)], 5),
    "conv4x4 s4 VALID 16->8 @32x32": lambda: _chain((32, 32, 16), [_conv(8, 4, stride=4, same=False)], 6),
    "stem conv7x7 s2 3->16 @32x32": lambda: _chain((32, 32, 3), [_conv(16, 7, stride=2, act=RELU)], 7),
    "depthwise3x3 x1 + pointwise 16->32 @16x16": lambda: _chain((16, 16, 16), [_dw(3), _conv(32, 1)], 8),
    "depthwise3x3 s2 x2 8->16 @16x16": lambda: _chain((16, 16, 8), [_dw(3, stride=2, mult=2)], 9),
    "residual block 16ch @16x16": lambda: _residual((16, 16, 16), 10),
    "ResNet-18 stem (litert-torch)": lambda: (ROOT / "tests/fixtures/tflite/resnet18_stem.tflite").read_bytes(),
    "MobileNetV2 stem (litert-torch)": lambda: (ROOT / "tests/fixtures/tflite/mobilenet_v2_stem.tflite").read_bytes(),
}


def bench_model(name, source, work):
    """Export ``source`` (a .tflite or checkpoint path) for qemu-m7, bench it, return its row."""
    project = work / "project"
    # Raw int8 outputs of a few KB: large packets keep them within the header's 64 packets a frame.
    mtu = RAW_OUTPUT_MTU if source.suffix == ".tflite" else DEFAULT_MTU
    manifest = export_encoder(source, TARGET, project, mtu=mtu)
    report = run_bench(project, samples=SAMPLES, strict=True)
    layers = report.get("layers", [])
    macs = sum(row["macs"] for row in layers)
    instructions = report["latency"]["median"]
    convs = [row for row in layers if row["op"] in CONV_OPS]
    return {
        "model": name,
        "bit_exact": f"{report['bit_exact']}/{report['samples']}",
        "instructions": instructions,
        "macs": macs,
        "instructions_per_mac": round(instructions / macs, 3) if macs else None,
        "worst_conv_instructions_per_mac": max((r["latency_per_mac"] for r in convs), default=None),
        "activation_bytes": manifest["activation_bytes"],
        "tflm_arena_bytes": manifest["tflm_arena_bytes"],
        "flash_bytes": report["memory"]["flash_bytes"],
        "layers": layers,
    }


def render_markdown(rows):
    """The matrix as a Markdown table with a paragraph saying how it was measured."""
    head = ("| model | bit-exact | instructions | MACs | instr/MAC | worst conv instr/MAC | activation RAM (B) "
            "| TFLM arena (B) | flash (B) |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        worst = "" if r["worst_conv_instructions_per_mac"] is None else f"{r['worst_conv_instructions_per_mac']:.2f}"
        per_mac = "" if r["instructions_per_mac"] is None else f"{r['instructions_per_mac']:.2f}"
        lines.append(f"| {r['model']} | {r['bit_exact']} | {r['instructions']:,} | {r['macs']:,} | {per_mac} | "
                     f"{worst} | {r['activation_bytes']:,} | {r['tflm_arena_bytes']:,} | {r['flash_bytes']:,} |")
    intro = (f"Engine matrix on `{TARGET}` (QEMU mps2-an500, `-icount shift=0`: instructions), {SAMPLES} seeded "
             "inputs a model (all -128 and all 127 first), each bit-exact with tflite_micro. Activation RAM "
             "includes the input and im2col scratch; the TFLM arena is `arena_used_bytes()` of the tflite_micro "
             "Python interpreter (host, reference kernels). Generated by `make bench-engine` "
             "(scripts/bench_engine.py).\n\n")
    return intro + "\n".join(lines) + "\n"


def plot(rows, path):
    """Instructions per MAC and activation RAM against TFLM's arena, one bar pair a model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["model"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 0.45 * len(rows) + 1.5), sharey=True)
    a.barh(names, [r["instructions_per_mac"] or 0 for r in rows], color="tab:blue")
    a.axvline(2.5, color="grey", linestyle="--", linewidth=1)
    a.set_xlabel("instructions per MAC (QEMU Cortex-M7)")
    a.invert_yaxis()
    y = range(len(rows))
    b.barh([i - 0.2 for i in y], [r["activation_bytes"] / 1024 for r in rows], height=0.4, label="ours")
    b.barh([i + 0.2 for i in y], [r["tflm_arena_bytes"] / 1024 for r in rows], height=0.4, label="TFLM arena")
    b.set_xlabel("activation RAM incl. input (KiB)")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    """Run the matrix (or ``--only`` part of it) and write the three result files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for engine-matrix.{json,md,png}")
    parser.add_argument("--only", default=None, help="run only models whose name contains this text")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="snn-engine-") as tmp:
        models = {"shipped encoder (models/encoder.pt)": ROOT / "models" / "encoder.pt",
                  "48 B encoder, 3x3 blocks + depthwise residual (c6-l2-blk1-ds1)":
                      ROOT / "models" / "runs" / "c6-l2-blk1-ds1" / "encoder.pt",
                  "48 B encoder, 6 depthwise residual blocks (c6-l2-ds6)":
                      ROOT / "models" / "runs" / "c6-l2-ds6" / "encoder.pt"}
        for name, make in MATRIX.items():
            path = Path(tmp) / f"{len(models)}.tflite"
            path.write_bytes(make())
            models[name] = path
        for i, (name, source) in enumerate(models.items()):
            if args.only and args.only not in name:
                continue
            work = Path(tmp) / f"m{i}"
            work.mkdir()
            rows.append(bench_model(name, source, work))
            print(f"{name}: {rows[-1]['instructions']:,} instructions, {rows[-1]['instructions_per_mac']} / MAC, "
                  f"RAM {rows[-1]['activation_bytes']:,} B vs TFLM {rows[-1]['tflm_arena_bytes']:,} B", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "engine-matrix.json", json.dumps({"target": TARGET, "models": rows}, indent=2) + "\n")
    write_atomic(args.out / "engine-matrix.md", render_markdown(rows))
    plot(rows, args.out / "engine-matrix.png")


if __name__ == "__main__":
    main()
