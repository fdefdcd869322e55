"""``snn serve``: a thin wrapper over :func:`semanticnn.edge.serve.serve`."""

import json
from pathlib import Path

import click

from semanticnn.cli_options import toolchain_options

__all__ = ["serve_cmd"]


def parse_broker(text):
    """``"host:port"`` or ``"host"`` -> ``(host, port)``; port 1883 by default."""
    from semanticnn.errors import ConfigError

    host, _, port = str(text).rpartition(":") if ":" in str(text) else (text, "", "1883")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--broker {text!r} is not HOST:PORT (for example 127.0.0.1:1883)")
    return host, int(port)


def read_devices(path):
    """Device ids of a file, one a line (blank lines and ``#`` comments skipped)."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return frozenset(line for line in lines if line)


@click.command("serve")
@toolchain_options
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder from `snn export-decoder` (decoder.onnx, decoder.json).")
@click.option("--broker", default="127.0.0.1:1883", show_default=True, help="MQTT broker HOST:PORT.")
@click.option("--group", default="snn", show_default=True, help="Shared-subscription group of the services.")
@click.option("--prefix", default="snn", show_default=True, help="Prefix of the raw, result and health topics.")
@click.option("--id", "service_id", default="", help="This service's name in the group (default: random).")
@click.option("--ber", type=click.FloatRange(0.0, 0.5), default=None,
              help="Fixed BER estimate (default: from each uplink's SNR and spreading factor).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.01), default=2.0, show_default=True,
              help="Seconds a frame waits for its missing packets.")
@click.option("--max-batch", type=click.IntRange(min=1), default=64, show_default=True,
              help="Frames decoded in one onnxruntime call.")
@click.option("--health-interval", "health_s", type=click.FloatRange(min=0.05), default=5.0, show_default=True,
              help="Seconds between two health messages.")
@click.option("--devices", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Known device ids, one a line; packets of others are counted and dropped.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="onnxruntime threads of this process.")
def serve_cmd(model_dir, broker, group, prefix, service_id, ber, timeout_s, max_batch, health_s, devices, threads):
    """Decode device uplinks from an MQTT broker and publish the predictions, until SIGTERM."""
    from semanticnn.edge.model import load_edge_model
    from semanticnn.edge.serve import ServeConfig, serve

    host, port = parse_broker(broker)
    config = ServeConfig(host, port, group, prefix, service_id, ber, timeout_s, max_batch, health_s,
                         read_devices(devices) if devices else None, threads)
    model = load_edge_model(model_dir, threads)

    def ready(service):
        click.echo(f"serving {model_dir} as {service.id} on {host}:{port} (group {group})", err=True)

    click.echo(json.dumps(serve(model, config, ready)))
