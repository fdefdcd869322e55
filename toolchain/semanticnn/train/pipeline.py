"""``run_training``: base model -> stage 1 -> stage 2 -> checkpoints + train_log.json.

Writes ``encoder.pt`` and ``decoder.pt`` (docs/design.md format) after each codec
stage, so an interrupted run still leaves usable files, and ``train_log.json``.
"""

import datetime
import json
import os
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from semanticnn.errors import ConfigError
from semanticnn.model.backbone import build_backbone
from semanticnn.model.checkpoint import save_decoder, save_encoder
from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config
from semanticnn.train import loops
from semanticnn.train.data import default_cifar10_zip
from semanticnn.train.tensors import load_split

__all__ = ["run_training", "check_options", "EVAL_BERS"]

EVAL_BERS = (0.0, 1e-2, 5e-2, 1e-1)


def check_options(data, levels, mapping, code_channels, ber_max, epochs):
    """Raise ConfigError (one line) on bad options."""
    if not Path(data).is_file():
        raise ConfigError(f"dataset not found: {data} (pass --data or set SNN_CIFAR10_ZIP)")
    if levels < 2 or levels & (levels - 1):
        raise ConfigError(f"--levels must be a power of two >= 2, got {levels}")
    if mapping not in ("gray", "natural"):
        raise ConfigError(f"--mapping must be 'gray' or 'natural', got {mapping!r}")
    if code_channels < 1:
        raise ConfigError(f"--code-channels must be >= 1, got {code_channels}")
    if not 0.0 <= ber_max <= 0.5:
        raise ConfigError(f"--ber-max must be in [0, 0.5], got {ber_max}")
    if min(epochs) < 0:
        raise ConfigError("epoch counts must be >= 0")


def _build_codec(base, code_channels, levels, mapping):
    enc_cfg = encoder_config(code_channels, levels, mapping)
    encoder = SplitEncoder(enc_cfg)
    encoder.stem.load_state_dict(base.stem.state_dict())
    loops.freeze_(encoder.stem)
    decoder = SplitDecoder(decoder_config(code_channels, levels, mapping))
    decoder.tail.load_state_dict(base.tail.state_dict())
    loops.freeze_(decoder.tail)
    return encoder, decoder


def _save_codec(out, encoder, decoder, metadata):
    decoder.centres.copy_(encoder.quantizer.centres().detach())
    save_encoder(out / "encoder.pt", encoder, metadata)
    save_decoder(out / "decoder.pt", decoder, metadata)


def _evaluate(encoder, decoder, test, seed):
    decoder.centres.copy_(encoder.quantizer.centres().detach())
    return {str(b): loops.evaluate_split(encoder, decoder, test, b, seed) for b in EVAL_BERS}


def run_training(data=None, out="models", epochs_base=20, epochs_stage1=4, epochs_stage2=4,
                 limit=None, code_channels=4, levels=8, mapping="gray", seed=0, ber_max=0.1,
                 batch_size=128, progress=None, log=print, extra_loss=None):
    """Train everything; returns the train_log dict (also written to ``out``)."""
    data = Path(data) if data is not None else default_cifar10_zip()
    check_options(data, levels, mapping, code_channels, ber_max,
                  (epochs_base, epochs_stage1, epochs_stage2))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    torch.set_flush_denormal(True)  # softmax tails at small sigma are slow as denormals
    gen = torch.Generator().manual_seed(seed)
    t_start = time.time()
    train = load_split(data, "train", limit, seed)
    test = load_split(data, "test", None if limit is None else max(limit // 4, 10), seed)
    log(f"data: {len(train[0])} train, {len(test[0])} test ({time.time() - t_start:.1f}s)")
    record = {"config": {"code_channels": code_channels, "levels": levels, "mapping": mapping,
                         "seed": seed, "ber_max": ber_max, "batch_size": batch_size, "limit": limit,
                         "epochs": [epochs_base, epochs_stage1, epochs_stage2]},
              "dataset": str(data.name), "n_train": len(train[0]), "n_test": len(test[0])}
    ctx = progress if progress is not None else nullcontext()
    with ctx:
        base = build_backbone("resnet8")
        record["base_history"] = loops.train_base(base, train, epochs_base, gen, batch_size,
                                                  progress=progress, log=log)
        record["base_test_acc"] = loops.evaluate_base(base, test)
        log(f"base test accuracy {record['base_test_acc']:.4f}")
        torch.save(base.state_dict(), out / "base_state.pt")
        encoder, decoder = _build_codec(base, code_channels, levels, mapping)
        meta = _metadata(record, seed)
        record["stage1_history"] = loops.train_stage1(encoder, decoder, train, epochs_stage1, gen,
                                                      ber_max, batch_size, progress=progress, log=log)
        record["stage1_split_acc"] = _evaluate(encoder, decoder, test, seed)
        log(f"after stage 1: split accuracy {record['stage1_split_acc']}")
        _save_codec(out, encoder, decoder, {**meta, "stage": 1, "split_acc": record["stage1_split_acc"]})
        record["stage2_history"] = loops.train_stage2(encoder, decoder, train, epochs_stage2, gen,
                                                      ber_max, batch_size, extra_loss=extra_loss,
                                                      progress=progress, log=log)
    record["split_acc"] = _evaluate(encoder, decoder, test, seed)
    log(f"final split accuracy {record['split_acc']}")
    record["centres"] = encoder.centres().tolist()
    record["prelu_slopes"] = encoder.prelu_slopes().tolist()
    record["train_seconds"] = time.time() - t_start
    _save_codec(out, encoder, decoder, {**meta, "stage": 2, "split_acc": record["split_acc"]})
    _write_json(out / "train_log.json", record)
    return record


def _metadata(record, seed):
    return {"dataset": record["dataset"], "seed": seed, "base_test_acc": record["base_test_acc"],
            "n_test": record["n_test"], "date": datetime.datetime.now().isoformat(timespec="seconds")}


def _write_json(path, obj):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)
