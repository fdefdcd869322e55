"""``snn-bench --accuracy N``: accuracy from the board's own packets.

The board encodes ``N`` test images (never seen by calibration: those are train
images). Its packets go, at each BER and channel seed, through the bit channel
(``channel.link.transmit``: headers flipped like any bits) and into the onnxruntime
receiver (``semanticnn.edge``: up to 3 errors corrected in each Golay word of a header,
a header beyond that rescued or its packet lost, ``channel.packets.rescue_header``),
told that BER. A frame none of whose packets arrives counts as wrong. The board's
output is deterministic, so the channel is drawn again on the host for each of
``seeds`` seeds (``seed, seed + 1, ...``); accuracy is the mean over seeds. Next to
it, on the same images and the same error patterns (``evaluate.link.frame_seed``
with the split stream's key, same packet lengths):

* ``float_packets``: the float PyTorch encoder's symbols through the same packets,
  channel and receiver; the gap to the board is what int8 costs;
* ``float_eval``: ``snn eval``'s split row (``evaluate.sweep.run_eval``), the float
  model over the same packets, headers and seeds in PyTorch.
"""

import statistics
import tempfile
from pathlib import Path

import torch

from semanticnn.bench.reference import HostReference
from semanticnn.channel.link import transmit
from semanticnn.channel.models import make_channel
from semanticnn.channel.packets import FRAME_ID_MODULO, RESCUE_WORD_BITS
from semanticnn.errors import ConfigError
from semanticnn.evaluate.link import frame_seed, stream_key
from semanticnn.provenance import provenance

__all__ = ["ROWS", "accuracy_from_packets", "float_frames", "board_frames", "run_accuracy", "render_markdown"]

ROWS = {
    "board": "board (int8) packets -> channel -> onnxruntime receiver",
    "float_packets": "float encoder packets -> same channel -> same receiver",
    "float_eval": "snn eval: float model, same packets and channel in PyTorch",
}
_DEVICE = "board"


def accuracy_from_packets(model, frames, labels, ber, channel="iid", seed=0):
    """``(accuracy, counters)`` of ``frames`` (packet lists, frame id = index) sent at ``ber``.

    Frame ``i`` meets the errors ``snn eval``'s split row draws for image ``i`` at this seed.
    The counters are the receiver's (every packet reaches it, headers as they arrived,
    unless ``transmit`` erased it), plus ``sent`` (packets on air).
    """
    from semanticnn.edge import Receiver

    rx = Receiver(model, timeout_s=float("inf"), max_batch=256, default_ber=ber)
    link = make_channel(channel, float(ber))
    key = stream_key("split", ber)
    sent = 0
    for i, packets in enumerate(frames):
        for packet in transmit(packets, link, frame_seed(seed, *key, i)):
            sent += 1
            if packet is not None:
                rx.receive(_DEVICE, packet, ber)
    got = {p.frame_id: p.label for p in rx.poll(flush=True)}
    correct = sum(got.get(i % FRAME_ID_MODULO) == int(label) for i, label in enumerate(labels))
    return correct / len(labels), {**rx.counters.as_dict(), "sent": sent}


def float_frames(encoder, images, manifest):
    """Packets of the float encoder's symbols for uint8 NHWC ``images``, packed as the firmware packs them."""
    from semanticnn.channel.bits import to_codewords
    from semanticnn.channel.packets import packetize
    from semanticnn.channel.payload import PayloadLayout
    from semanticnn.train.tensors import to_float

    with torch.no_grad():
        idx = encoder(to_float(torch.from_numpy(images).permute(0, 3, 1, 2))).indices.numpy()
    gray, layout = manifest["sq"]["mapping"] == "gray", PayloadLayout.from_manifest(manifest)
    return [packetize(layout.pack(to_codewords(s.transpose(1, 2, 0).ravel(), gray)), i, manifest["mtu"])
            for i, s in enumerate(idx)]


def board_frames(board, reference, images, on_sample=None):
    """``(packets of each image, bit-exact count)``: the board's packets, checked against the host."""
    frames, exact = [], 0
    for i, image in enumerate(images):
        expected = reference.run(image, i & 0xFFFF)
        _, packets, _ = board.run_sample(expected.input.tobytes(), i & 0xFFFF)
        frames.append(packets)
        exact += packets == expected.packets
        if on_sample is not None:
            on_sample()
    return frames, exact


def _float_eval(encoder, decoder, images, labels, bers, channel, seed, seeds, mtu):
    """``snn eval``'s split row on ``images``: accuracy per BER and per seed."""
    from semanticnn.evaluate.sweep import run_eval

    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    report = run_eval(encoder, decoder, (x, torch.from_numpy(labels)), bers, channel, seed, methods=("split",),
                      seeds=seeds, mtu=mtu)
    return [[c / len(images) for c in per_seed] for per_seed in report["methods"][0]["correct"]]


def _sum_counters(counters):
    return {k: sum(c[k] for c in counters) for k in counters[0]}


def _check_models(manifest, encoder, decoder):
    from semanticnn.evaluate.sweep import check_pair

    check_pair(encoder, decoder)
    sq = manifest["sq"]
    if (sq["levels"], sq["mapping"]) != (encoder.config["levels"], encoder.config["mapping"]):
        raise ConfigError(f"the project sends {sq['levels']} levels ({sq['mapping']}), the decoder expects "
                          f"{encoder.config['levels']} ({encoder.config['mapping']}): pass the project's pair")


def run_accuracy(board, reference, manifest, images, labels, bers, decoder_path, encoder_path=None,
                 channel="iid", seed=0, on_sample=None, seeds=1):
    """The accuracy report: one row per ``ROWS`` entry, accuracy at each BER of ``bers`` (mean over ``seeds``)."""
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: pass at least 1 channel seed")
    from semanticnn.edge import load_edge_model
    from semanticnn.export.decoder import export_decoder
    from semanticnn.model.checkpoint import load_decoder, load_encoder

    encoder_path = Path(encoder_path) if encoder_path else Path(decoder_path).with_name("encoder.pt")
    encoder, decoder = load_encoder(encoder_path), load_decoder(decoder_path)
    _check_models(manifest, encoder, decoder)
    frames, exact = board_frames(board, reference, images, on_sample)
    with tempfile.TemporaryDirectory() as tmp:
        export_decoder(decoder_path, Path(tmp) / "edge", encoder=encoder_path, mtu=manifest["mtu"], samples=100)
        model = load_edge_model(Path(tmp) / "edge")
    floats = float_frames(encoder, images, manifest)
    channel_seeds = [seed + s for s in range(seeds)]
    per_seed = {"board": [], "float_packets": []}
    counters = []
    for ber in bers:
        runs = [accuracy_from_packets(model, frames, labels, ber, channel, s) for s in channel_seeds]
        per_seed["board"].append([acc for acc, _ in runs])
        counters.append(_sum_counters([count for _, count in runs]))
        per_seed["float_packets"].append([accuracy_from_packets(model, floats, labels, ber, channel, s)[0]
                                          for s in channel_seeds])
    per_seed["float_eval"] = _float_eval(encoder, decoder, images, labels, bers, channel, seed, seeds,
                                         manifest["mtu"])
    return {
        "format": "semanticnn-board-accuracy", "version": 2, "target": manifest["target"], "samples": len(images),
        "bit_exact": exact, "channel": channel, "seed": seed, "seeds": channel_seeds, "bers": [float(b) for b in bers],
        "rows": [{"name": k, "label": ROWS[k], "accuracy": [statistics.fmean(a) for a in v], "per_seed": v}
                 for k, v in per_seed.items()],
        "receiver": counters, "encoder": str(encoder_path), "decoder": str(decoder_path),
        "provenance": provenance(**manifest.get("provenance", {}).get("checkpoints", {}), decoder=decoder_path,
                                 float_encoder=encoder_path),
    }


def render_markdown(report):
    """The accuracy report as a Markdown table (accuracy in percent)."""
    head = "| path | " + " | ".join(f"BER {b:g}" for b in report["bers"]) + " |"
    lines = [head, "|---|" + "---|" * len(report["bers"])]
    for row in report["rows"]:
        lines.append(f"| {row['label']} | " + " | ".join(f"{100 * a:.1f}%" for a in row["accuracy"]) + " |")
    shares = (("board packets lost (header neither decoded nor rescued)", ("bad_header", "out_of_range"), 2),
              ("board packets kept after header correction (up to 3 bit errors a word)", ("header_corrected",), 1),
              ("board packets kept by header rescue (nearest expected header)", ("header_rescued",), 1))
    for label, keys, digits in shares:
        cells = [f"{100 * sum(c[k] for k in keys) / c['sent']:.{digits}f}%" for c in report["receiver"]]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    seeds = ", ".join(map(str, report.get("seeds", [report["seed"]])))
    lines.append(f"{report['samples']} test images on {report['target']} ({report['bit_exact']} bit-exact with the "
                 f"host), {report['channel']} channel, mean over channel seeds {seeds} (every row meets the same bit "
                 "errors for the same image and seed). A packet header is two extended Golay(24, 12) words; the "
                 "receiver corrects up to 3 bit errors in each. A packet whose word has more is matched against "
                 "the headers the receiver expects (the newest frame id, the next and the previous, each fragment "
                 f"of that length) and kept if one is nearest and within {RESCUE_WORD_BITS} bits in each word; else "
                 "it is dropped (its fragment index cannot be trusted) and its symbols reach the decoder as erasures.")
    return "\n".join(lines) + "\n"


def accuracy_bench(project_dir, samples, bers, decoder_path, encoder_path=None, port=None, data=None, baud=None,
                   json_out=None, markdown_out=None, console=None, channel="iid", seeds=1):
    """``snn-bench --accuracy``: boot (or open) the board, run :func:`run_accuracy`, print and write the report."""
    from rich.console import Console
    from rich.table import Table

    from semanticnn.atomic_file import write_atomic
    from semanticnn.bench import run
    from semanticnn.data import default_cifar10_zip, read_split

    if data is None and not default_cifar10_zip().is_file():
        raise ConfigError("--accuracy needs test images: pass --data (a cifar10-jpeg.zip, a cifar-10-batches-py "
                          "folder or an ImageFolder tree)")
    console = console or Console(stderr=True)
    project_dir = Path(project_dir)
    manifest = run.load_manifest(project_dir)
    reference = HostReference(manifest, run.read_model(project_dir, manifest))
    images, labels = read_split(data, "test", samples)
    elf = run.ensure_built(project_dir) if port is None else None
    with run._open_board(elf, manifest["target"], port, baud) as board:
        run.check_info(board.info(), manifest, project_dir)
        report = run_accuracy(board, reference, manifest, images, labels, bers, decoder_path, encoder_path, channel,
                              seeds=seeds)
    if json_out is not None:
        run.write_json(report, json_out)
    if markdown_out is not None:
        write_atomic(markdown_out, render_markdown(report))
    table = Table(title=f"snn-bench --accuracy {samples}")
    table.add_column("path")
    for ber in report["bers"]:
        table.add_column(f"BER {ber:g}", justify="right")
    for row in report["rows"]:
        table.add_row(row["label"], *(f"{100 * a:.1f}%" for a in row["accuracy"]))
    console.print(table)
    return report
