"""The resumable training state ``OUT/train_state.pt``, rewritten after every epoch.

    {"format": "semanticnn-train-state", "version": 1,
     "config": TrainConfig.run_identity(),       # must match on --resume
     "stage": "base" | "stage1" | "stage2", "epoch": epochs done in that stage,
     "modules": {"base" | "encoder" | "decoder": state_dict},
     "optimizer": state_dict, "scheduler": state_dict,
     "rng": {"generator": ByteTensor, "torch": ByteTensor, "cuda": [ByteTensor] | []},
     "record": {...}}                           # train_log so far (histories, accuracies)

Written through a temp file + ``os.replace`` (never half-written) and read with
``torch.load(weights_only=True)``.
"""

import math
from pathlib import Path

import torch

from semanticnn.errors import CheckpointError, ConfigError, TrainingError
from semanticnn.model.checkpoint import atomic_save
from semanticnn.provenance import file_sha256

__all__ = ["STATE_FORMAT", "STATE_NAME", "check_finite", "save_state", "load_state", "read_state", "rng_state",
           "set_rng_state"]

STATE_FORMAT = "semanticnn-train-state"
STATE_NAME = "train_state.pt"
VERSION = 1


def rng_state(gen):
    """States of the trainer's generator, the global CPU RNG and every CUDA RNG."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"generator": gen.get_state(), "torch": torch.get_rng_state(), "cuda": cuda}


def set_rng_state(gen, state):
    """Restore what ``rng_state`` returned."""
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_finite(stage, epoch, loss, modules):
    """Raise TrainingError if ``loss`` or a weight of ``modules`` ({name: module}) is NaN or infinite.

    Called after every epoch, before anything is saved, so no checkpoint or log holds NaN.
    """
    bad = None if math.isfinite(loss) else f"loss is {loss}"
    for key, module in modules.items():
        for name, tensor in module.state_dict().items():
            if bad is None and tensor.is_floating_point() and not torch.isfinite(tensor).all():
                bad = f"{key} weight {name} is not finite"
    if bad is not None:
        raise TrainingError(f"{stage} diverged in epoch {epoch} ({bad}): lower lr_{stage} and train again; "
                            "nothing of this stage was saved")


def save_state(out, config, stage, epoch, modules, optimizer, scheduler, gen, record):
    """Write ``out/train_state.pt`` atomically; returns its path."""
    return atomic_save({
        "format": STATE_FORMAT, "version": VERSION, "config": config.run_identity(),
        "stage": stage, "epoch": epoch,
        "modules": {k: {n: t.detach().cpu() for n, t in m.state_dict().items()} for k, m in modules.items()},
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "rng": rng_state(gen), "record": record,
    }, Path(out) / STATE_NAME)


def _same_base(key, saved, now):
    """True for a base given by two paths (relative and absolute, say) to files of the same content."""
    if key != "base" or not saved or not now:
        return False
    return Path(saved).is_file() and Path(now).is_file() and file_sha256(saved) == file_sha256(now)


def read_state(out, missing):
    """The state saved in ``out``; ConfigError(``missing``) if there is none."""
    path = Path(out) / STATE_NAME
    if not path.is_file():
        raise ConfigError(missing)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise CheckpointError(f"{path} is not a readable torch checkpoint (delete it and start again)") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or state.get("version") != VERSION:
        raise CheckpointError(f"{path} is not a {STATE_FORMAT} v{VERSION} file (delete it and start again)")
    return state


def load_state(out, config):
    """The saved state of ``out`` for ``--resume``; ConfigError if absent or for another config."""
    state = read_state(out, f"--resume: no {STATE_NAME} in {out} (start without --resume)")
    now = config.run_identity()
    saved = type(config).with_defaults(state["config"])
    diff = sorted(k for k in set(saved) | set(now)
                  if saved.get(k) != now.get(k) and not _same_base(k, saved.get(k), now.get(k)))
    if diff:
        k = diff[0]
        raise ConfigError(f"--resume: {k} is {now.get(k)!r} but the saved run used {saved.get(k)!r}")
    return state
