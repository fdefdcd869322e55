"""Inference runtimes a project can be built on, keyed by ``snn-export --runtime``.

- ``codegen``: our generated C (``model.c.j2``, ``src/kernels.c``), the default.
- ``cmsis-nn``: our kernel plan and memory plan, each layer run by a CMSIS-NN kernel
  where one exists (``semanticnn.firmware.runtime_cmsis_nn``).
- ``tflm``: the TFLite Micro interpreter over ``tflm/model_data.cc``, reference kernels
  (``semanticnn.firmware.runtime_tflm``).
- ``tflm-cmsis-nn``: the same interpreter with TFLite Micro's CMSIS-NN kernels.

All but codegen compile third-party source trees that no package registry ships: the
user names each with an option or an environment variable, and the rendered Makefile
keeps that path as an overridable default.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from semanticnn.errors import ConfigError
from semanticnn.firmware import runtime_cmsis_nn, runtime_tflm

__all__ = ["SourceTree", "CMSIS_NN", "TFLM", "Runtime", "RUNTIMES", "DEFAULT_RUNTIME", "get_runtime", "find_trees"]


@dataclass(frozen=True)
class SourceTree:
    """A third-party source tree a runtime compiles."""

    label: str  # what it is, in messages
    option: str  # snn-export option that names it
    env: str  # environment variable that names it
    repository: str  # where to get it
    markers: tuple  # files (relative to the tree) that must exist


CMSIS_NN = SourceTree("CMSIS-NN", "--cmsis-nn", "CMSIS_NN_DIR", "ARM-software/CMSIS-NN",
                      runtime_cmsis_nn.TREE_MARKERS)
TFLM = SourceTree("TFLite Micro", "--tflm", "TFLM_DIR", "tensorflow/tflite-micro", runtime_tflm.TREE_MARKERS)


@dataclass(frozen=True)
class Runtime:
    """One runtime: ``render(plan, manifest, trees, codegen_files) -> {path: text}``, its model files.

    ``trees`` maps each of ``sources`` to its checked path (``find_trees``);
    ``codegen_files`` are codegen's model files, which the exporter has already
    rendered and checked on the host. The others add a ``runtime.mk`` for the Makefile.
    """

    name: str
    description: str
    render: Callable
    sources: tuple = ()
    folds_pads: bool = False  # its plan may leave a PAD to the conv that reads it (ops_spatial.fold_conv_pads)


def _codegen(plan, manifest, trees, codegen_files):
    return dict(codegen_files)


def _cmsis_nn(plan, manifest, trees, codegen_files):
    return runtime_cmsis_nn.render(plan, manifest, trees[CMSIS_NN])


def _tflm(plan, manifest, trees, codegen_files):
    return runtime_tflm.render(plan, manifest, trees[TFLM])


def _tflm_cmsis_nn(plan, manifest, trees, codegen_files):
    return runtime_tflm.render(plan, manifest, trees[TFLM], cmsis_nn=trees[CMSIS_NN])


RUNTIMES = {
    runtime.name: runtime
    for runtime in (
        Runtime("codegen", "our generated C kernels", _codegen, folds_pads=True),
        Runtime("cmsis-nn", "our plan and memory plan, layers run by CMSIS-NN", _cmsis_nn, (CMSIS_NN,)),
        Runtime("tflm", "TFLite Micro interpreter, reference kernels", _tflm, (TFLM,)),
        Runtime("tflm-cmsis-nn", "TFLite Micro interpreter, its CMSIS-NN kernels", _tflm_cmsis_nn, (TFLM, CMSIS_NN)),
    )
}
DEFAULT_RUNTIME = "codegen"


def get_runtime(name: str) -> Runtime:
    """The runtime called ``name``, or a ConfigError listing the known ones."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise ConfigError(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIMES)}") from None


def find_trees(runtime: Runtime, given=None) -> dict:
    """``{SourceTree: absolute path}`` of every tree ``runtime`` compiles.

    Each comes from ``given`` (``{option: path or None}``: the CLI's ``--cmsis-nn`` and
    ``--tflm``), else from its environment variable; a ConfigError names both when a
    tree is absent or incomplete.
    """
    given = given or {}
    return {tree: _find_tree(runtime, tree, given.get(tree.option)) for tree in runtime.sources}


def _find_tree(runtime, tree, given):
    path = given or os.environ.get(tree.env)
    if not path:
        raise ConfigError(
            f"--runtime {runtime.name} needs the {tree.label} source tree: pass {tree.option} DIR or set "
            f"{tree.env} (a checkout of {tree.repository})"
        )
    path = Path(path).expanduser().resolve()
    missing = [m for m in tree.markers if not (path / m).is_file()]
    if missing:
        raise ConfigError(
            f"{path} is not a usable {tree.label} tree ({missing[0]} is missing): point {tree.option} or "
            f"{tree.env} at a checkout of {tree.repository}"
        )
    return path
