"""The per-layer table of an inference: latency, MACs and latency per MAC, from the LAYERS command."""

from rich.table import Table

from semanticnn.errors import BoardError

__all__ = ["read_layers", "layer_rows", "render_layers_markdown", "print_layers"]


def read_layers(board):
    """``[(latency, macs)]`` of the board's last inference, or None if its runtime keeps no table."""
    try:
        return board.layers()
    except BoardError as exc:
        if "status UNKNOWN_COMMAND" in str(exc):
            return None
        raise


def layer_rows(ops, pairs):
    """One dict per layer: index, op (from export.json's ``layers``), latency, macs, latency per MAC."""
    if len(ops) != len(pairs):
        raise BoardError(f"board times {len(pairs)} layers, export.json lists {len(ops)}: flash this project's build")
    return [
        {"index": i, "op": op, "latency": latency, "macs": macs,
         "latency_per_mac": round(latency / macs, 3) if macs else None}
        for i, (op, (latency, macs)) in enumerate(zip(ops, pairs, strict=True))
    ]


def _cells(row):
    per_mac = "" if row["latency_per_mac"] is None else f"{row['latency_per_mac']:.2f}"
    return [str(row["index"]), row["op"], f"{row['latency']:,}", f"{row['macs']:,}", per_mac]


def _header(unit):
    return ["layer", "op", unit, "MACs", f"{unit} / MAC"]


def render_layers_markdown(rows, unit):
    """The table in Markdown."""
    lines = ["| " + " | ".join(_header(unit)) + " |", "|---|---|---:|---:|---:|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def print_layers(rows, unit, console):
    """The table on ``console``."""
    table = Table(title="per layer (last sample)")
    for i, name in enumerate(_header(unit)):
        table.add_column(name, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*_cells(row))
    console.print(table)
