"""The package outside the checkout: a wheel in a fresh virtualenv exports and builds a project.

The virtualenv reuses this environment's installed packages (torch and the rest) through a
``.pth`` line added after the wheel is in, so the install sees an empty environment and
nothing here is touched. Everything runs from an empty directory outside the checkout.
"""

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from semanticnn import __version__
from semanticnn.provenance import file_sha256

ROOT = Path(__file__).resolve().parents[1]
ENCODER = ROOT / "models" / "encoder.pt"
EXPORT_LINE = re.compile(
    r"wrote out/ for qemu-m7.*: \d+ int8 layers, \d+ B payload .*; bit-exact C vs TFLM 32/32.*"
)


def _run(command, cwd, **kwargs):
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _build_wheel(tmp_path):
    src = tmp_path / "src"  # a copy, so the build's build/ and egg-info stay out of the checkout
    shutil.copytree(ROOT / "toolchain", src / "toolchain", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", src)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist",
          src], tmp_path)
    (wheel,) = (tmp_path / "dist").glob("semanticnn-*.whl")
    return wheel


def _venv_with_wheel(tmp_path, wheel):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel],
         tmp_path)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path).stdout.strip())
    (site / "reuse_installed_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def _clean_env(wheel_bin, home):
    """No PYTHONPATH or checkout on the path: only what the virtualenv installed."""
    return {"PATH": f"{wheel_bin}:/usr/bin:/bin", "HOME": str(home)}


@pytest.fixture(scope="module")
def wheel_bin(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("wheel")
    return _venv_with_wheel(tmp_path, _build_wheel(tmp_path))


def test_wheel_exports_and_builds_from_an_empty_directory(wheel_bin, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    env = _clean_env(wheel_bin, tmp_path)
    where = _run([wheel_bin / "python", "-c", "import semanticnn; print(semanticnn.__file__)"], work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(wheel_bin.parent)

    export = subprocess.run([wheel_bin / "snn-export", ENCODER, "--target", "qemu-m7", "-o", "out"], cwd=work,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert export.returncode == 0, export.stdout
    lines = export.stdout.splitlines()
    assert len(lines) == 1, export.stdout  # quiet: no third-party log line
    assert EXPORT_LINE.fullmatch(lines[0]), lines[0]

    manifest = json.loads((work / "out" / "export.json").read_text())
    assert manifest["provenance"] == {
        "toolchain_version": __version__, "git_commit": None, "git_dirty": None,
        "checkpoints": {"encoder": {"file": "encoder.pt", "sha256": file_sha256(ENCODER)}},
    }
    _run(["make", "-C", "out", "-j1"], work, env=env, timeout=600)
    assert (work / "out" / "build" / "firmware.elf").is_file()


def test_wheel_version_has_no_git_commit(wheel_bin, tmp_path):
    for prog in ("snn", "snn-export", "snn-bench"):
        result = _run([wheel_bin / prog, "--version"], tmp_path, env=_clean_env(wheel_bin, tmp_path))
        assert result.stdout == f"{prog} {__version__}\n"
