"""Writing files so that nothing is lost: a reader sees the old file or the new one, never half.

Each file is written to a temporary file in the same directory, flushed to disk, then renamed
over the target (``os.replace`` is atomic on POSIX and Windows within one file system).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import typing as t
from pathlib import Path

from .errors import OutputError


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step; on any error the old file is untouched.

    A symbolic link is written through (its target is replaced, the link stays), and a
    device or pipe (``/dev/stdout``) is written to directly: renaming over it would replace it.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a directory")
        try:
            with open(path, "wb") as stream:
                stream.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                shutil.copymode(path, temp)
        else:
            os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_tree(directory: Path, files: t.Mapping[str, bytes]) -> None:
    """Write several files into ``directory``, all or nothing.

    The files are first written into a sibling staging directory. Every target is checked
    before anything moves; then each file is moved into place by an atomic rename, the file it
    replaces kept aside, and if any move fails the ones already made are undone.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"cannot write into {directory}: it is a file, not a directory")
    for name in files:
        final = directory / name
        if final.is_dir() or (final.exists() and not final.is_file()):
            raise OutputError(f"cannot write {final}: something other than a file is in the way")
    parent = directory.parent if str(directory.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write into {directory}: {exc.strerror or exc}") from exc
    moved: list[tuple[Path, Path | None]] = []  # (final, where its old version was kept)
    try:
        for name, data in files.items():
            target = staging / "new" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            os.chmod(target, 0o666 & ~_umask())
        directory.mkdir(parents=True, exist_ok=True)
        for name in files:
            final = directory / name
            final.parent.mkdir(parents=True, exist_ok=True)
            kept: Path | None = None
            if final.exists():
                kept = staging / "old" / name
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.replace(final, kept)
            moved.append((final, kept))
            os.replace(staging / "new" / name, final)
    except OSError as exc:
        for final, kept in reversed(moved):  # undo, newest first
            with contextlib.suppress(OSError):
                if kept is not None:
                    os.replace(kept, final)
                else:
                    final.unlink()
        where = exc.filename or directory
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}; nothing was changed") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
