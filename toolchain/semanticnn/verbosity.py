"""How much the toolchain prints: our own lines by default, ``-v`` adds third-party logs, ``-q`` only errors.

The converter's native libraries (LiteRT/TensorFlow C++ under absl) read their log
settings from the environment once, when they load. So :func:`silence_third_party`
runs when ``semanticnn`` is imported, before any of them can load, and ``-v`` undoes
it before a command imports them. What each setting hides:

- ``TF_CPP_MIN_LOG_LEVEL=2``: C++ INFO and WARNING lines, e.g. the converter's
  "Estimated count of arithmetic ops"; errors still print;
- ``TF_ENABLE_ONEDNN_OPTS=0``: oneDNN's "custom operations are on" notice, and with
  it absl's "All log messages before absl::InitializeLog()" (printed before the first
  log line). The converter's CPU kernels then skip oneDNN: the exported model is
  byte-identical either way (checked on the shipped encoder);
- the ``torch.utils._pytree`` logger: torchao registers an Enum with pytree on
  import and torch warns that this is deprecated.

Variables the user already set are left alone.
"""

import contextlib
import logging
import os
import sys

__all__ = ["QUIET", "NORMAL", "VERBOSE", "QUIET_ENVIRONMENT", "NOISY_LOGGERS", "silence_third_party",
           "unsilence_third_party", "level", "verbosity", "restored"]

QUIET, NORMAL, VERBOSE = "quiet", "normal", "verbose"
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
NOISY_LOGGERS = ("torch.utils._pytree", "litert_torch", "absl")

_state = {"level": NORMAL, "silenced": False, "env_set_here": {}}


def silence_third_party():
    """Turn the third-party logs above off (idempotent)."""
    for name, value in QUIET_ENVIRONMENT.items():
        if name not in os.environ:
            os.environ[name] = value
            _state["env_set_here"][name] = value
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    _state["silenced"] = True


def unsilence_third_party():
    """Undo :func:`silence_third_party`: only what it set, and only native libraries not loaded yet see it."""
    for name, value in _state["env_set_here"].items():
        if os.environ.get(name) == value:
            del os.environ[name]
    _state["env_set_here"].clear()
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    _state["silenced"] = False


def level():
    """The current level: :data:`QUIET`, :data:`NORMAL` or :data:`VERBOSE`."""
    return _state["level"]


@contextlib.contextmanager
def restored():
    """Run a block; afterwards the level, ``sys.stdout``/``sys.stderr`` and the silencing are as before."""
    saved_level, saved_silenced = _state["level"], _state["silenced"]
    saved_streams = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved_streams
        _state["level"] = saved_level
        if saved_silenced and not _state["silenced"]:
            silence_third_party()


@contextlib.contextmanager
def verbosity(new_level):
    """Run a block at ``new_level``. :data:`QUIET` sends Python-level stdout and stderr to /dev/null."""
    with restored():
        _state["level"] = new_level
        if new_level == VERBOSE:
            unsilence_third_party()
        if new_level != QUIET:
            yield
            return
        with open(os.devnull, "w") as null:
            sys.stdout = sys.stderr = null
            yield
