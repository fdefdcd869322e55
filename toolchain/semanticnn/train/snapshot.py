"""``snn snapshot``: a run's encoder and decoder as they stand after its last epoch.

``snn train`` writes ``encoder.pt`` and ``decoder.pt`` when a codec stage ends, and
``train_state.pt`` after every epoch. ``snapshot(run_dir, out)`` rebuilds the codec from
that state and writes both checkpoints to ``out``, so that ``snn eval`` measures a long
run mid-way while it goes on. The checkpoints' metadata name the stage and epoch.
"""

from pathlib import Path

from semanticnn.errors import ConfigError
from semanticnn.output_paths import check_output_file
from semanticnn.train.config import TrainConfig
from semanticnn.train.state import STATE_NAME, read_state

__all__ = ["snapshot"]


def _classes(decoder_state):
    """Classes of the tail: the length of its last bias, the classifier's, in every backbone."""
    return [t for k, t in decoder_state.items() if k.startswith("tail.") and k.endswith("bias")][-1].shape[0]


def snapshot(run_dir, out):
    """Write ``out/encoder.pt`` and ``out/decoder.pt`` from ``run_dir/train_state.pt``; returns the metadata."""
    from semanticnn.train.pipeline import codec_modules, save_codec

    state = read_state(run_dir, f"no {STATE_NAME} in {run_dir}: pass the --out folder of a run of snn train")
    if state["stage"] not in ("stage1", "stage2"):
        raise ConfigError(f"{run_dir} is still training its base model (epoch {state['epoch']}): "
                          "the codec starts with stage 1, take the snapshot then")
    out = Path(out)
    if out.resolve() == Path(run_dir).resolve():
        raise ConfigError(f"{out} is the run's own folder, where its stages write encoder.pt and decoder.pt: "
                          "pick another folder for the snapshot")
    for name in ("encoder.pt", "decoder.pt"):
        check_output_file(out / name)
    config = TrainConfig(**TrainConfig.with_defaults(state["config"]))
    modules = state["modules"]
    encoder, decoder = codec_modules(config, _classes(modules["decoder"]))
    encoder.load_state_dict(modules["encoder"])
    decoder.load_state_dict(modules["decoder"])
    metadata = {"stage": state["stage"], "epoch": state["epoch"], "snapshot_of": str(run_dir),
                "dataset": state["record"].get("dataset"), "seed": config.seed}
    save_codec(out, encoder.eval(), decoder.eval(), metadata)
    return metadata
