"""Checks on where a command will write, run before its long work starts.

A command that writes a report or a project directory calls these first, so a path
it cannot write, or a directory that holds someone else's files, stops it with one
line before minutes of work rather than after. Writability is probed by creating a
file, since permission bits do not tell (root, read-only mounts, sysfs).
"""

import os
import tempfile
from pathlib import Path

from semanticnn.errors import ConfigError

__all__ = ["check_output_file", "check_project_dir", "probe_writable"]


def _existing_folder(directory, path):
    """The nearest existing folder at or above ``directory``; a file on the way is a ConfigError."""
    directory = Path(directory).absolute()
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise ConfigError(f"cannot write {path}: {candidate} is a file, not a directory; pick another path")
            return candidate
    return Path("/")


def probe_writable(directory, path):
    """Raise ConfigError unless a file can be created in ``directory`` (on the way to ``path``)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".snn-probe-", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {directory} is not writable ({exc.strerror}); "
                          "pick a writable directory") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(path):
    """Raise ConfigError unless ``path`` can be written as a file (its folders made as needed)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"cannot write {path}: it is a directory; give a file name")
    probe_writable(_existing_folder(path.parent, path), path)


def check_project_dir(dest, marker=None, force=False):
    """Raise ConfigError unless ``dest`` may be written (or replaced) as a whole directory.

    ``dest`` may be missing, empty, or an earlier output recognised by the file ``marker``
    in it; anything else holds files that are not ours and is refused unless ``force``.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest} is a file, not a directory: give -o a directory path")
    if dest.is_dir():
        if Path.cwd().resolve().is_relative_to(dest.resolve()):
            raise ConfigError(f"cannot replace {dest}: it holds the current directory; pick a directory inside it")
        earlier = marker is not None and (dest / marker).is_file()
        if not force and not earlier and any(dest.iterdir()):
            what = f"holds no {marker}, so it is not an earlier export" if marker else "is not empty"
            raise ConfigError(f"{dest} {what}: refusing to replace its files; "
                              "pick a new or empty directory, or pass --force")
    probe_writable(_existing_folder(dest.parent, dest), dest)
