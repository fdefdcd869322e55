"""Which toolchain wrote a file, and from which checkpoints: the ``provenance`` block of every JSON we write.

``{"toolchain_version": "0.1.0", "git_commit": "<sha>" | None, "git_dirty": bool | None,
"checkpoints": {role: {"file": name, "sha256": hex}}}``. The git fields are set when the
package runs from a source checkout and ``None`` when it runs from an installed wheel.
"""

import functools
import hashlib
import subprocess
from pathlib import Path

from semanticnn import __version__

__all__ = ["provenance", "file_sha256", "git_state", "version_text"]

_CHECKOUT = Path(__file__).resolve().parents[2]  # toolchain/semanticnn/provenance.py -> the repository
_GIT_TIMEOUT_S = 10
_CHUNK_BYTES = 1 << 20


def file_sha256(path) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _git(*args):
    result = subprocess.run(["git", "-C", str(_CHECKOUT), *args], capture_output=True, text=True,
                            timeout=_GIT_TIMEOUT_S, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


@functools.cache
def git_state():
    """``(commit, dirty)`` of the checkout this package runs from; ``(None, None)`` when installed."""
    if not (_CHECKOUT / ".git").exists():
        return None, None
    try:
        commit = _git("rev-parse", "HEAD")
        changes = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None, None
    if commit is None:
        return None, None
    return commit, None if changes is None else changes != ""


def version_text(prog):
    """``snn 0.1.0 (git 1a2b3c4d, modified)`` in a checkout, ``snn 0.1.0`` from a wheel."""
    commit, dirty = git_state()
    if commit is None:
        return f"{prog} {__version__}"
    return f"{prog} {__version__} (git {commit[:8]}{', modified' if dirty else ''})"


def _checkpoint_entry(source):
    if isinstance(source, dict):  # already recorded upstream, e.g. export.json's entry in a bench report
        return {"file": source["file"], "sha256": source["sha256"]}
    return {"file": Path(source).name, "sha256": file_sha256(source)}


def provenance(**checkpoints):
    """The block for a JSON written from ``checkpoints`` (role -> path, recorded entry, or ``None``: unused)."""
    commit, dirty = git_state()
    return {
        "toolchain_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "checkpoints": {role: _checkpoint_entry(src) for role, src in checkpoints.items() if src is not None},
    }
