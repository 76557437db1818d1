"""Atomic file writing: a reader finds the old file or the new one, never half of one.

The file is written to a temporary file in the target's own directory (so the
final rename stays on one file system), flushed and ``fsync``-ed, moved onto the
target with ``os.replace`` (atomic on POSIX and Windows), and the directory is
``fsync``-ed so the rename itself survives a power cut. If anything fails (an
exception, Ctrl-C) the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import os
import tempfile


def atomic_write(path, write, overwrite=True, check=None):
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then move it onto ``path``.

    ``check(temporary_path)``, if given, runs on the complete, synced file before
    the rename; an exception from it (or from ``write``) leaves ``path`` untouched.
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(
            f"{path} already exists and overwrite=False. Pass overwrite=True to replace it. "
            f"Received: filepath={path}"
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Cannot save {path}: the directory {directory} does not exist. "
            f"Create it first (os.makedirs). Received: filepath={path}"
        )
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        os.chmod(tmp, _final_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def atomic_write_bytes(path, data, overwrite=True):
    """``atomic_write`` for bytes already in memory."""
    atomic_write(path, lambda f: f.write(data), overwrite)


def _final_mode(path):
    """Keep the permissions of the file being replaced; a new file gets the usual ``0o666 & ~umask``
    (``mkstemp`` creates its file readable by the owner only)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its rename is already durable
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
