"""evaluate stage: accuracy of the split model and its baselines over a bit-error channel."""

from semanticnn.evaluate.baselines import RAW_SCHEMES, ByteQuantizer, calibrate
from semanticnn.evaluate.link import known_channels, send_symbols
from semanticnn.evaluate.report import render_markdown, render_png, to_json, write_report
from semanticnn.evaluate.sweep import METHODS, parse_bers, run_eval

__all__ = [
    "RAW_SCHEMES", "ByteQuantizer", "calibrate", "known_channels", "send_symbols",
    "render_markdown", "render_png", "to_json", "write_report", "METHODS", "parse_bers", "run_eval",
]
