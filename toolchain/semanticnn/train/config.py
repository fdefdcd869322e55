"""``snn train`` configuration: one flat dataclass, read from TOML or YAML, checked once.

Every key of the file is a field of ``TrainConfig``, and every field is also a CLI
flag with ``_`` spelled ``-`` (``epochs_base`` <-> ``--epochs-base``). Precedence:
dataclass defaults < config file < CLI flags. Example (TOML)::

    backbone = "resnet50"         # resnet8 | resnet50 | mobilenetv2
    dataset = "cifar100"          # cifar10-jpeg | cifar10 | cifar100 | imagefolder
    data = "~/datasets"           # zip / download root / ImageFolder root
    epochs_base = 200
    xai_weight = 0.05

Checks raise ``ConfigError`` with one line (unknown key, unknown backbone, L not a
power of two, dataset path missing, ...).
"""

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, fields
from pathlib import Path, PurePath

import yaml

from semanticnn.channel.payload import PAYLOAD_CODES
from semanticnn.errors import ConfigError

__all__ = ["TrainConfig", "DATASETS", "field_kind", "load_config_file", "make_config", "validate"]

DATASETS = ("cifar10-jpeg", "cifar10", "cifar100", "imagefolder")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (the run's identity for ``--resume``)."""

    backbone: str = "resnet8"
    dataset: str = "cifar10-jpeg"
    data: str | None = None          # path; None = the shared zip (cifar10-jpeg) or ./data
    limit: int | None = None         # class-balanced subset of N training images
    code_channels: int = 4
    levels: int = 8
    mapping: str = "gray"
    payload_code: str = "plain"      # plain | golay-msb: each symbol's MSB protected by Golay(24, 12)
    hidden: int = 64                 # decoder width
    epochs_base: int = 20
    epochs_stage1: int = 4
    epochs_stage2: int = 4
    stage1: bool = True              # False: skip the denoising stage (ablation)
    ber_max: float = 0.1
    batch_size: int = 128            # global batch (split across ranks)
    lr_base: float = 0.1
    lr_stage1: float = 2e-3
    lr_stage2: float = 1e-3
    seed: int = 0
    xai_weight: float = 0.0          # 0 = no XAI term
    xai_steps: int = 4               # Integrated-Gradients steps
    xai_samples: int = 32            # sub-batch the XAI term is computed on
    train_tail: bool = False         # fine-tune the tail in stage 2 (False = paper)
    encoder_hidden: int = 0          # 0: conv k4 s4 to the code; N: two k2 s2 convs, N channels between
    encoder_context: int = 0         # 3x3 convs (dilations 1, 2, 4..) at 8x8 on the device; needs encoder_hidden
    encoder_blocks: int = 0          # 3x3 s2 conv to 8x8 at 2x encoder_hidden, then N 3x3 convs there
    encoder_ds_blocks: int = 0       # the same layout, then N depthwise-separable residual blocks
    kd_weight: float = 0.0           # stage 2 distillation from the unsplit logits (0 = off)
    kd_temperature: float = 4.0
    feature_weight: float = 0.5      # stage 2: weight of MSE(rebuilt, clean split feature); 0 = the task alone
    balance_weight: float = 0.0      # dead-channel penalty on the code (train.engine.code_balance); 0 = off
    ber_jitter: float = 0.0          # decoder told BER * 2^U(-j, j): robust to a wrong estimate
    erasure_max: float = 0.0         # packet loss rate up to this in training; > 0 adds the mask input
    posterior_input: bool = False    # decoder also sees each symbol's posterior P(sent | received, BER)
    refine_blocks: int = 0           # decoder: residual 3x3 blocks at the code's 8x8 resolution
    base: str | None = None          # reuse this semanticnn-base checkpoint
    out: str = "models"
    device: str = "auto"             # auto | cpu | cuda | cuda:N
    threads: int = 2                 # torch CPU threads
    time_limit: float = 0.0          # minutes for this leg; stop at the epoch that would pass it (0: none)

    def run_identity(self):
        """The fields that must match for ``--resume`` (not where or how it runs)."""
        skip = {"out", "device", "threads", "time_limit"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}

    @classmethod
    def with_defaults(cls, saved_identity):
        """A ``run_identity`` a run saved, with every key it lacks at its default.

        A key added since the run started was not a choice yet: the run had the default.
        """
        return {**cls().run_identity(), **saved_identity}


_FIELDS = {f.name: f for f in fields(TrainConfig)}


def load_config_file(path):
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file into a flat dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(path.read_text()) or {}
        else:
            raise ConfigError(f"config file {path} must end in .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid: {first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table of keys, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in {path} (known: {', '.join(_FIELDS)})")
    return data


def field_kind(name):
    """The field's value type (``str | None`` -> ``str``)."""
    ftype = _FIELDS[name].type
    return next(a for a in (typing.get_args(ftype) or (ftype,)) if a is not type(None))


def _coerce(name, value):
    kind = field_kind(name)
    if value is None:
        if type(None) in typing.get_args(_FIELDS[name].type):
            return None
        raise ConfigError(f"{name} must not be empty")
    if kind is str and isinstance(value, PurePath):
        return str(value)
    ok = isinstance(value, bool) if kind is bool else (
        not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else kind))
    if not ok:
        raise ConfigError(f"{name} must be a {kind.__name__}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value) if kind is float else value


def make_config(file=None, **overrides):
    """``TrainConfig`` from defaults, then ``file``, then the non-None ``overrides``; validated."""
    values = load_config_file(file) if file is not None else {}
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = TrainConfig(**{k: _coerce(k, v) for k, v in values.items()})
    validate(config)
    return config


def validate(config):
    """Raise ConfigError (one line) on the first bad value of ``config``."""
    from semanticnn.model.backbone import BACKBONES

    if config.backbone not in BACKBONES:
        raise ConfigError(f"unknown backbone {config.backbone!r} (known: {', '.join(BACKBONES)})")
    if config.dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {config.dataset!r} (known: {', '.join(DATASETS)})")
    if config.dataset == "imagefolder" and config.data is None:
        raise ConfigError("dataset 'imagefolder' needs a data path (data = \"DIR\" or --data DIR)")
    if config.dataset in ("cifar10-jpeg", "imagefolder") and config.data is not None \
            and not Path(config.data).expanduser().exists():
        hint = "pass --data or set SNN_CIFAR10_ZIP" if config.dataset == "cifar10-jpeg" else "pass --data DIR"
        raise ConfigError(f"dataset not found: {config.data} ({hint})")
    if config.levels < 2 or config.levels & (config.levels - 1):
        raise ConfigError(f"--levels must be a power of two >= 2, got {config.levels}")
    if config.mapping not in ("gray", "natural"):
        raise ConfigError(f"--mapping must be 'gray' or 'natural', got {config.mapping!r}")
    if config.payload_code not in PAYLOAD_CODES:
        known = " or ".join(map(repr, PAYLOAD_CODES))
        raise ConfigError(f"--payload-code must be {known}, got {config.payload_code!r}")
    for name in ("code_channels", "hidden", "batch_size", "xai_steps", "xai_samples", "threads"):
        if getattr(config, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(config, name)}")
    if not 0.0 <= config.ber_max <= 0.5:
        raise ConfigError(f"--ber-max must be in [0, 0.5], got {config.ber_max}")
    if min(config.epochs_base, config.epochs_stage1, config.epochs_stage2) < 0:
        raise ConfigError("epoch counts must be >= 0")
    for name in ("xai_weight", "kd_weight", "feature_weight", "balance_weight", "ber_jitter", "encoder_hidden",
                 "encoder_context", "encoder_blocks", "encoder_ds_blocks", "refine_blocks"):
        if getattr(config, name) < 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(config, name)}")
    if config.encoder_context and not config.encoder_hidden:
        raise ConfigError("--encoder-context needs --encoder-hidden N (the context convs' width)")
    for name in ("encoder_blocks", "encoder_ds_blocks"):
        flag = "--" + name.replace("_", "-")
        if getattr(config, name) and not config.encoder_hidden:
            raise ConfigError(f"{flag} needs --encoder-hidden N (half the blocks' width)")
        if getattr(config, name) and config.encoder_context:
            raise ConfigError(f"{flag} and --encoder-context are two device layouts: pass one")
    for name in ("lr_base", "lr_stage1", "lr_stage2"):
        if getattr(config, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be > 0, got {getattr(config, name)}")
    if config.time_limit < 0:
        raise ConfigError(f"--time-limit must be >= 0 minutes, got {config.time_limit}")
    if config.kd_temperature <= 0:
        raise ConfigError(f"--kd-temperature must be > 0, got {config.kd_temperature}")
    if not 0.0 <= config.erasure_max <= 1.0:
        raise ConfigError(f"--erasure-max must be in [0, 1], got {config.erasure_max}")
    if config.limit is not None and config.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {config.limit}")
    if config.base is not None and not Path(config.base).expanduser().is_file():
        raise ConfigError(f"base checkpoint not found: {config.base} (pass a semanticnn-base file)")
    if config.device != "auto" and config.device != "cpu" and not config.device.startswith("cuda"):
        raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {config.device!r}")
