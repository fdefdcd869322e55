"""Per-layer figures the firmware reports next to its timings: multiply-accumulates."""

__all__ = ["layer_macs"]


def layer_macs(layer) -> int:
    """Multiply-accumulates of one layer; 0 for layers without a weight product."""
    p = layer.params
    if layer.kind == "conv2d":
        return p["out_h"] * p["out_w"] * p["out_c"] * p["k_h"] * p["k_w"] * p["in_c"]
    if layer.kind.startswith("depthwise"):
        return p["out_h"] * p["out_w"] * p["out_c"] * p["k_h"] * p["k_w"]
    if layer.kind.startswith("fully_connected"):
        return p["in_size"] * p["out_size"] if "in_size" in p else 0
    return 0
