"""Write a file or a directory so that readers see the old content or the new one, never half of it."""

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["write_atomic", "write_tree_atomic"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths in one step


def write_atomic(path, data):
    """Write ``data`` (bytes or str) to ``path`` through a temp file beside it + ``os.replace``.

    Creates the parent folder; the file ends up with mode 0644; the temp file is
    removed if anything fails. Returns the Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _exchange(a, b):
    """Swap the paths ``a`` and ``b`` atomically (Linux ``renameat2``); False where unsupported."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(tmp, dest):
    """Put the directory ``tmp`` at ``dest``; an old ``dest`` ends up at ``tmp`` or is removed."""
    if not dest.exists():
        os.rename(tmp, dest)
        return
    if _exchange(tmp, dest):
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        os.rename(dest, aside / "old")
        try:
            os.rename(tmp, dest)
        except BaseException:
            os.rename(aside / "old", dest)
            raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def write_tree_atomic(files, dest):
    """Write ``files`` ({relative path: str or bytes}) as the directory ``dest``, replacing it whole.

    Everything is written into a sibling temporary directory, which then takes the place
    of ``dest`` in one rename (the old tree is removed after). A failure leaves ``dest`` as
    it was and nothing beside it. Folders get mode 0777 and files 0666, less the umask.
    """
    dest = Path(dest).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        for rel, content in sorted(files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        _swap_in(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
