"""Writing files so that nothing is lost: a reader sees the old files or the new ones, never a mix.

Every temporary file and staging directory the toolkit makes is named
``.toolkit-tmp-<pid>-<random>`` and made *inside* the directory it writes into, so that it is on
the same file system as the target (``os.replace`` is atomic only within one; ``-o`` on a mount
point or a container volume works) and so that the record walker, which skips every name starting
with ``.toolkit-tmp-``, never reads one as a record.

- :func:`atomic_write` (one file): a temporary file, flushed to disk, renamed over the target.
  The content is bytes, or a :data:`Producer` that writes it in pieces as it is made (a streaming
  export never holds a whole file in memory); the same for :func:`atomic_write_tree`.
- :func:`atomic_write_tree` (several files in a directory): every file is first written into a
  staging directory, and each old file kept there too (a hard link); a journal listing the files
  is written before anything moves; then each new file is renamed over its old one, so every name
  always holds a whole file. Any failure, SIGINT or SIGTERM puts the old files back and removes
  the staging directory. From the keeping of the old files on, each folder is reached by its
  descriptor, opened from the one above it without following a link (``openat``): a folder
  swapped for a link after the checks is refused, never written through.
- After SIGKILL the journal stays: the next write into that directory (see :func:`recover`)
  undoes the interrupted swap, so the tree is again all old, then removes what the dead process
  left. So does a write into a folder below it, or one whose files pass through a folder where a
  killed write left its journal (its undo would otherwise put older files back over theirs). Only a staging directory this toolkit can show it made on this machine since it last
  started is undone (a tree from someone else may hold a planted one, see :func:`recover`), and
  the undo never renames, writes or deletes through a symbolic link.

SIGINT and SIGTERM are held while files are in flux (:class:`SignalGuard`) and raised at the next
point where the files are in a known state: SIGINT as :class:`KeyboardInterrupt` (the command
exits 130), SIGTERM as :class:`Terminated` (exit 143). Writers into one directory take a lock on it
(``flock``), so two toolkit processes never mix their files and a leftover is never taken for the
work of a live process.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import stat
import sys
import threading
import time
import types
import typing as t
from pathlib import Path

from .errors import OutputError, Terminated, ToolkitError, is_sigterm_handler

__all__ = [
    "TEMP_PREFIX",
    "Producer",
    "SignalGuard",
    "Sink",
    "Terminated",
    "atomic_write",
    "atomic_write_tree",
    "recover",
]

#: Every temporary name starts with this; the record walker skips such names.
TEMP_PREFIX = ".toolkit-tmp-"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-([0-9a-f]{16})\Z")
_JOURNAL = "journal.json"
_JOURNAL_MAX = 256 << 20  # bytes; a journal lists names only
_BOOT_ID = "/proc/sys/kernel/random/boot_id"
_WARNED: set[str] = set()  # leftovers this process has already said it leaves alone
_OURS: set[str] = set()  # the temporary paths this process is using now (never "leftovers")
_RECOVERED: set[str] = set()  # directories this process has cleaned of leftovers under their lock


def _as_exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


class SignalGuard:
    """SIGINT and SIGTERM as exceptions for the time of a ``with`` block.

    ``defer=True``: a signal is only noted; :meth:`check` raises it where the caller knows the
    state of its files, and leaving the block raises it if nothing else did. ``defer=False``: it is
    raised at once. SIGINT becomes :class:`KeyboardInterrupt`, SIGTERM :class:`Terminated`.
    Only the default dispositions are replaced (and the command line's SIGTERM handler, which
    raises at once: :func:`~.errors.stop_on_sigterm`; a handler the program set, or an ignored signal,
    is kept), only in the main thread (Python runs handlers nowhere else), and they are restored
    on leaving.
    """

    _deferring: t.ClassVar[list[SignalGuard]] = []  # the deferring guards in force, outermost first
    last: t.ClassVar[int | None] = None  # the signal a guard raised last (see interruption)

    def __init__(self, *, defer: bool = True) -> None:
        self.defer = defer
        self.pending: int | None = None
        self._saved: dict[int, t.Any] = {}

    @classmethod
    def interruption(cls) -> BaseException:
        """The exception of the signal a guard raised last, for code that saw it swallowed (a
        SQLite progress handler that raised ends its statement as "interrupted"); Ctrl-C if none."""
        signum, cls.last = cls.last, None
        return _as_exception(signal.SIGINT if signum is None else signum)

    @classmethod
    def held(cls) -> bool:
        """Whether a deferring guard of the main thread holds a signal (asked from the main
        thread: another thread's work is not the one the signal is for)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        return any(guard.pending is not None for guard in cls._deferring)

    @classmethod
    def raise_pending(cls) -> None:
        """Raise a signal a deferring guard in force holds: for a wait (on worker processes)
        inside a write, where no piece is written that would raise it."""
        if threading.current_thread() is not threading.main_thread():
            return  # (the guards are the main thread's: its signals are its own to raise)
        for guard in list(cls._deferring):
            guard.check()

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        defaults: tuple[tuple[int, t.Any], ...] = (
            (signal.SIGINT, signal.default_int_handler),
            (signal.SIGTERM, signal.SIG_DFL),
        )
        for signum, default in defaults:
            with contextlib.suppress(OSError, ValueError):
                now = signal.getsignal(signum)
                if now == default or (signum == signal.SIGTERM and is_sigterm_handler(now)):
                    self._saved[signum] = signal.signal(signum, self._handle)
        if self.defer and self._saved:
            SignalGuard._deferring.append(self)
        return self

    def _handle(self, signum: int, frame: types.FrameType | None) -> None:
        if not self.defer:
            SignalGuard.last = signum
            raise _as_exception(signum)
        if self.pending is None:
            self.pending = signum

    def check(self) -> None:
        """Raise the signal that arrived, if one did."""
        if self.pending is not None:
            signum, self.pending = self.pending, None
            raise _as_exception(signum)

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        if self in SignalGuard._deferring:
            SignalGuard._deferring.remove(self)
        for signum, old in self._saved.items():
            signal.signal(signum, old)
        self._saved.clear()
        if kind is None and self.pending is not None:
            # The block's work is done (the write committed): the signal still ends the program,
            # but what it says must be that the new files are in place.
            signum, self.pending = self.pending, None
            late = _as_exception(signum)
            late.after_write = True  # type: ignore[attr-defined]
            raise late


def stopped_message(exc: BaseException) -> str:
    """What Ctrl-C or SIGTERM ended: nothing, a write that had already finished, files of
    ``toolkit fmt`` already rewritten, or a write into a stream (a pipe, a device, a descriptor,
    standard output) that had already received part of the export."""
    verb = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
    rewritten = getattr(exc, "rewritten", 0)
    if rewritten:  # (toolkit fmt: each file is replaced whole, one after the other)
        return f"{verb} after {rewritten} file{'s' * (rewritten != 1)} had been rewritten, each whole; the others are unchanged"
    if getattr(exc, "after_write", False):
        return f"{verb} after the write had finished: the new files are in place"
    sent = getattr(exc, "partly_sent", None)
    if sent is not None:
        return f"{verb}: {_gone_to(sent)}"
    return f"{verb}: nothing was changed"


# -- helpers ---------------------------------------------------------------------------------------


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links (a link loop?)"
    return exc.strerror or str(exc)


def _temp_path(directory: Path) -> Path:
    path = directory / f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(8).hex()}"  # (secrets.token_hex(8), without secrets)
    _OURS.add(str(path))
    return path


def _write_file(path: str | os.PathLike[str], data: bytes, *, sync: bool = True) -> None:
    """Create ``path`` (it must not exist), write ``data``, flush it to disk. Mode 0o666 less the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


_PIECE = 1 << 20  # bytes gathered before one os.write
_COPY_STEP = 1 << 24  # bytes Sink.copy_from copies between two looks at a held signal
_COPY_RANGE = hasattr(os, "copy_file_range")  # (Linux, Python 3.8+)


_BEHIND = 1 << 22  # bytes written between two writebacks begun (Sink._write_behind)
_BEHIND_LAST = 1 << 16  # the last bytes of a file of a tree, handed on when it is closed (a tiny file's are not:
# an import writes thousands, for one syncfs)
_WRITEBACK: list[t.Any] = []


def _writeback() -> t.Any:
    """``sync_file_range`` through :mod:`ctypes` (Linux), or None."""
    if not _WRITEBACK:
        from .workers import libc

        call = None
        c = libc()
        if c is not None:
            try:
                import ctypes

                call = c.sync_file_range
                call.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
                call.restype = ctypes.c_int
            except (AttributeError, OSError):
                call = None
        _WRITEBACK.append(call)
    return _WRITEBACK[0]


class Sink:
    """One file being written in pieces: gathered up to about 1 MiB, then one ``os.write``.

    A signal held by the write's :class:`SignalGuard` is raised at the next piece, so a long
    streaming export stops at once on Ctrl-C (the staging is then removed, nothing changed).
    """

    def __init__(self, fd: int, guard: SignalGuard | None) -> None:
        self._fd = fd
        self._guard = guard
        self._parts: list[bytes] = []
        self._size = 0
        self.written = 0
        self.begun = False  # whether a write into the file has begun (what a stream may have received)
        self._system_copy = True
        self._handed = 0  # bytes already handed to the disk's writeback (see _write_behind)

    def write(self, data: bytes) -> None:
        if self._guard is not None and self._guard.pending is not None:
            self._guard.check()
        self._parts.append(data)
        self._size += len(data)
        if self._size >= _PIECE:
            self.flush()

    def copy_from(self, fd: int, offset: int, length: int) -> None:
        """Append ``length`` bytes of the file ``fd`` from ``offset``, copied by the system
        (``copy_file_range``: never through this process's memory), in steps of
        :data:`_COPY_STEP` with a held signal raised between them; read and written here where
        the system cannot."""
        self.flush()
        end = offset + length
        while offset < end:
            step = min(_COPY_STEP, end - offset)
            done = 0
            if _COPY_RANGE and self._system_copy:
                try:
                    done = self._taken(os.copy_file_range, fd, self._fd, step, offset)
                except OSError:  # (not between these files, or not on this system: copied here)
                    self._system_copy = False
            if done <= 0:
                data = os.pread(fd, min(step, _PIECE), offset)
                if not data:
                    raise OSError(errno.EIO, "the spool ended before its pieces did")
                self._write_all(memoryview(data))
                done = len(data)
            offset += done
            self.written += done
            self._write_behind()
            if self._guard is not None:
                self._guard.check()

    def _write_behind(self, least: int = _BEHIND) -> None:
        """Once ``least`` bytes are written since the last time, have the system start writing
        them to disk without waiting (Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, as git's
        batched fsync does): the ``fsync`` (or ``syncfs``) that ends the write then waits for the
        last of them only, where it waited for them all (17 ms of a 39 MB JSON-LD export's 0.7 s,
        the disk idle until then). Durability still rests on that ``fsync`` alone."""
        if self.written - self._handed < max(least, 1):
            return
        start, self._handed = self._handed, self.written
        c = _writeback()
        if c is not None:
            try:
                c(self._fd, start, self.written - start, 2)  # SYNC_FILE_RANGE_WRITE
            except (OSError, AttributeError):
                pass

    def _write_all(self, view: memoryview) -> None:
        while view:
            view = view[self._taken(os.write, self._fd, view) :]

    def _taken(self, call: t.Callable[..., int], *args: t.Any) -> int:
        """``call(*args)``, a write into the file, and what it took; :attr:`begun` once it took
        bytes, or when an interrupt came amid it (a pipe may have taken some). A write that
        failed took nothing (/dev/full): then "nothing was changed" is still true."""
        try:
            done = call(*args)
            if done > 0:
                self.begun = True
        except OSError:
            raise
        except BaseException:
            self.begun = True
            raise
        return done

    def flush(self) -> None:
        if self._size:
            data = b"".join(self._parts)
            self._parts.clear()
            self._size = 0
            self._write_all(memoryview(data))
            self.written += len(data)
            self._write_behind()
        elif self._parts:
            self._parts.clear()
        if self._guard is not None:
            self._guard.check()


Producer = t.Callable[[t.Callable[[str], Sink]], None]
"""Writes the content of a write: called with ``open(name)``, which gives the :class:`Sink` of the
file ``name`` (relative, ``/``-separated; for :func:`atomic_write` the one file, whatever its name)."""


def _produce_file(path: Path, produce: Producer, guard: SignalGuard | None, *, sync: bool = True) -> None:
    """Create ``path`` (it must not exist) and let ``produce`` write it; flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        sink = Sink(fd, guard)
        opened: list[str] = []

        def open_one(name: str) -> Sink:
            if opened:
                raise OutputError(f"cannot write {path}: a second file ({name!r}) for a one-file output")
            opened.append(name)
            return sink

        produce(open_one)
        sink.flush()
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _sync_all(directory: Path, paths: t.Iterable[Path]) -> None:
    """Flush ``paths`` to disk: one ``syncfs`` of their file system on Linux (thousands of ``fsync``
    calls cost seconds), else each file's ``fsync``."""
    if sys.platform.startswith("linux"):
        from .workers import libc

        try:
            c = libc()
            if c is not None:
                fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                try:
                    if c.syncfs(fd) == 0:
                        return
                finally:
                    os.close(fd)
        except (OSError, AttributeError):
            pass
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(directory: str | os.PathLike[str]) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _make_dirs(directory: Path) -> list[Path]:
    """``mkdir -p``; the directories it created, outermost first (to remove them again on failure)."""
    missing: list[Path] = []
    probe = directory
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    missing.reverse()
    for folder in missing:
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        except OSError:
            _remove_dirs(missing[: missing.index(folder)])
            raise
    return missing


def _remove_dirs(created: t.Sequence[Path]) -> None:
    for folder in reversed(created):  # innermost first; only if empty
        with contextlib.suppress(OSError):
            os.rmdir(folder)


class _Lock:
    """An exclusive ``flock`` on a directory while writing into it; ``held`` is False where the
    file system has no locks (then :func:`recover` asks whether the writing process is alive)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.fd: int | None = None

    @property
    def held(self) -> bool:
        return self.fd is not None

    def __enter__(self) -> _Lock:
        try:
            import fcntl
        except ImportError:  # no flock (Windows)
            return self
        try:
            fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(
                f"cannot write into {self.directory}: another toolkit process is writing there now "
                "(try again when it has finished); nothing was changed"
            ) from None
        except OSError:  # ENOLCK, EOPNOTSUPP: a file system without locks
            os.close(fd)
            return self
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the lock
            self.fd = None


# -- leftovers of killed processes -----------------------------------------------------------------


def _owner_alive(pid: int) -> bool:
    if pid == os.getpid():  # our own pid, but not in _OURS: a dead process had it (a container's pid 1)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a process of another user has it
        return True
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def recover(directory: Path) -> list[Path]:
    """Finish what killed toolkit processes left in ``directory``; the leftovers removed, and returned.

    An interrupted directory write whose journal exists is undone (its old files put back, its
    new ones taken out), so the tree is all old again. Every write into a directory does this
    first. Raises :class:`OutputError` if another toolkit process is writing there now, or if an
    interrupted write cannot be undone (the message names the leftover, to check and remove by hand).

    A staging directory is found by its name alone, and a name can be made by anyone: a pull
    request, a tarball or a copied tree may hold a ``.toolkit-tmp-*`` directory with a journal, an
    ``old/`` folder of the author's choosing and a link out of the tree, and the next ``fmt`` would
    "put back" the author's files, delete others, or write through the link. So a journal is obeyed
    only when its staging directory is plausibly this toolkit's own, made on this machine since it
    last started:

    - the journal carries the random token and the pid of the directory's name (it was written
      for this name, not copied from another);
    - it carries the machine's boot id (``/proc/sys/kernel/random/boot_id``, 128 random bits) as
      it was when the directory was made: no one outside the machine knows it, and it changes
      at every start;
    - it carries the device and inode number the staging directory had when it was made, and the
      directory still has them: a directory made by a checkout, an unpacked archive or a copy
      gets an inode number nobody could have predicted when the journal was written.

    A leftover that fails a check is left in place untouched (nothing in it is read as an
    instruction, nothing is moved or removed) with a warning on standard error, and the write goes
    on: it never needed the leftover. The price: a genuine leftover from before a restart (a power
    cut) or copied elsewhere is not undone automatically; the warning says to check it and remove
    it by hand. Even a trusted journal is undone only through plain directories: every name must be
    a plain relative name, every folder on the way a real directory (not a link), every kept file a
    plain file, and a target that has become a link (or anything else than a plain file) is left
    alone and reported.
    """
    directory = Path(directory)
    with SignalGuard(), _Lock(directory) as lock:
        return _recover(directory, locked=lock.held)


def _recover(directory: Path, *, locked: bool) -> list[Path]:
    """:func:`recover`, the lock taken or not. ``locked``: every leftover is a dead process's;
    otherwise only those whose process is gone are touched."""
    removed: list[Path] = []
    try:
        with os.scandir(directory) as entries:
            found = [entry.name for entry in entries]
    except OSError:
        return removed
    for name in sorted(found):
        match = _TEMP_NAME.match(name)
        path = directory / name
        if match is None or str(path) in _OURS:
            continue
        if not locked and _owner_alive(int(match.group(1))):
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            try:
                journal = _read_journal(path, info, int(match.group(1)), match.group(2))
            except _Untrusted as exc:
                _warn_left(path, str(exc))
                continue
            if journal is not None:
                try:
                    _undo(directory, path, journal)
                except OSError as exc:
                    raise OutputError(
                        f"cannot write into {directory}: an interrupted write left {path}, and undoing it "
                        f"failed: {_reason(exc)}; nothing was written. Check the files it names (the old "
                        f"versions are in {path / 'old'}, the new ones in {path / 'new'}), put back what you "
                        f"want to keep, then remove {path} by hand"
                    ) from exc
            shutil.rmtree(path, ignore_errors=True)  # never follows a link
        elif stat.S_ISREG(info.st_mode):  # a temporary file of atomic_write
            with contextlib.suppress(OSError):
                os.unlink(path)
        else:  # a link, a pipe...: nothing this toolkit makes
            _warn_left(path, "it is not a file or directory this toolkit makes")
            continue
        removed.append(path)
    return removed


def _staged_in(directory: str) -> bool | None:
    """Whether ``directory`` holds a staging directory a tree write leaves behind when killed (one
    scan; a temporary file of :func:`atomic_write` undoes nothing and is not counted); None when it
    cannot be read (then nothing in it can be finished by this process either)."""
    try:
        with os.scandir(directory) as entries:
            return any(_TEMP_NAME.match(entry.name) and entry.is_dir(follow_symlinks=False) for entry in entries)
    except OSError:
        return None


_SETTLED: dict[str, int] = {}
"""Folders found with nothing left to finish, by path: the modification time (ns) they had then.
A staging directory made in one since changes that time, and it is looked at again; one changed in
the last :data:`_SETTLE` seconds is not remembered (a file system's clock may be coarse)."""
_SETTLE = 2_000_000_000


def _settled(folder: str) -> bool:
    """Whether ``folder`` holds nothing a killed write left (looked at again only if it changed)."""
    try:
        changed = os.stat(folder).st_mtime_ns
    except OSError:
        return True  # (not there, or not to be looked at: nothing of ours to finish)
    if _SETTLED.get(folder) == changed:
        return True
    found = _staged_in(folder)
    if found is None:
        return True
    if not found and time.time_ns() - changed > _SETTLE:
        _SETTLED[folder] = changed
    return not found


def _recover_above(directory: Path) -> None:
    """Finish the killed writes left in the folders above ``directory`` (nearest first) before a
    write into it: a write into ``D`` killed after its journal, naming ``sub/x``, would otherwise
    be undone by the next write into ``D`` *after* a write into ``D/sub``, and put the older
    ``sub/x`` back over the newer one (helper-76's finding). Each is finished under its folder's
    lock, as a write into that folder would; one another process holds (a write into it, or the
    finishing of one) refuses this write, since what it does there may name this write's files.
    One this process cannot finish (another user's, in a folder it may not change) is left with a
    warning. Called before the write makes or locks its own folder (an undo above may remove it).
    """
    try:
        real = Path(os.path.realpath(directory))
    except (OSError, ValueError):
        return
    for above in real.parents:
        if _settled(str(above)):
            continue
        try:
            with _Lock(above) as lock:
                _recover(above, locked=lock.held)
        except OutputError as exc:
            if "another toolkit process is writing there now" in str(exc):
                raise OutputError(
                    f"cannot write into {directory}: another toolkit process is writing into {above}, which holds "
                    "it (try again when it has finished); nothing was changed"
                ) from None
            _warn_left(above, f"an interrupted write there could not be finished ({exc})")


def _recover_below(directory: Path, names: t.Iterable[str]) -> None:
    """Finish the killed writes left in the folders under ``directory`` that ``names`` pass
    through, before a write of ``names`` keeps their old files: a killed write into ``D/sub``,
    undone only later, would otherwise put its older ``x`` back over the ``sub/x`` this write
    makes. Raises :class:`OutputError` when another process is writing into one of them now."""
    folders = {name.rpartition("/")[0] for name in names} - {""}
    below = sorted({"/".join(f.split("/")[: depth + 1]) for f in folders for depth in range(f.count("/") + 1)})
    for folder in below:
        here = directory / folder
        if _settled(str(here)):
            continue
        with _Lock(here) as lock:
            _recover(here, locked=lock.held)


class _Untrusted(Exception):
    """A staging directory this toolkit cannot show it made: it is left alone."""


class _UnsafeUndo(OSError):
    """A step of an undo refused: it would have gone through a link, or replaced something else than
    a plain file. ``strerror`` says which."""


class _Journal(t.NamedTuple):
    names: list[str]
    kept: list[str]
    created: list[str]


def _boot_id() -> str:
    """The machine's boot id (random, new at every start); empty where there is none."""
    try:
        with open(_BOOT_ID, encoding="ascii") as stream:
            return stream.read(200).strip()
    except (OSError, ValueError):
        return ""


def _origin(staging: Path) -> dict[str, t.Any]:
    """What the journal records of its staging directory, just made: see :func:`recover`."""
    match = _TEMP_NAME.match(staging.name)
    assert match is not None
    info = os.lstat(staging)
    return {
        "pid": int(match.group(1)),
        "token": match.group(2),
        "boot_id": _boot_id(),
        "dev": info.st_dev,
        "ino": info.st_ino,
    }


def _warn_left(path: Path, why: str) -> None:
    if str(path) in _WARNED:
        return
    _WARNED.add(str(path))
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(
            f"toolkit: warning: {path} was left alone: {why}; nothing in it was used or changed. If an "
            "interrupted write of yours left it, check the files it names (old versions in old/, new ones "
            "in new/), put back what you want to keep, then remove it by hand\n"
        )
        sys.stderr.flush()


def _read_journal(staging: Path, info: os.stat_result, pid: int, token: str) -> _Journal | None:
    """The journal of the staging directory ``staging`` (``info``: its ``lstat``), checked.

    None: there is no journal (nothing had moved yet, or the write was committed), so the directory
    can simply be removed. Raises :class:`_Untrusted` if there is one, but it is not plausibly this
    toolkit's own on this machine, or names anything else than plain relative names.
    """
    if not stat.S_ISDIR(info.st_mode):
        raise _Untrusted("it is not a directory")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(staging / _JOURNAL, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _Untrusted(f"its journal cannot be read ({_reason(exc)})") from exc
    try:
        held = os.fstat(fd)
        if not stat.S_ISREG(held.st_mode) or held.st_size > _JOURNAL_MAX:
            raise _Untrusted("its journal is not a plain file")
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            if sum(map(len, chunks)) > _JOURNAL_MAX:
                raise _Untrusted("its journal is too large")
    except OSError as exc:
        raise _Untrusted(f"its journal cannot be read ({_reason(exc)})") from exc
    finally:
        os.close(fd)
    try:
        data = json.loads(b"".join(chunks).decode("utf-8"))
    except ValueError as exc:
        raise _Untrusted("its journal is not one this toolkit writes") from exc
    origin = data.get("origin") if isinstance(data, dict) else None
    if not isinstance(origin, dict) or origin.get("pid") != pid or origin.get("token") != token:
        raise _Untrusted("its journal was not written for it by this toolkit")
    if origin.get("boot_id") != _boot_id():
        raise _Untrusted("it was not made on this machine since it last started")
    if origin.get("dev") != info.st_dev or origin.get("ino") != info.st_ino:
        raise _Untrusted("it is not the directory its journal was written in (copied, unpacked or checked out?)")
    lists = [data.get(key) for key in _Journal._fields]
    for values in lists:
        if not isinstance(values, list) or not all(isinstance(v, str) and _safe_name(v) for v in values):
            raise _Untrusted("its journal names something else than plain relative names")
    journal = _Journal(*t.cast("list[list[str]]", lists))
    names = set(journal.names)
    parents = {name.rsplit("/", 1)[0] for name in names if "/" in name}
    folders = {"/".join(parent.split("/")[:depth]) for parent in parents for depth in range(1, parent.count("/") + 2)}
    if (
        len(names) != len(journal.names)
        or not names.issuperset(journal.kept)
        or not folders.issuperset(journal.created)
    ):
        raise _Untrusted("its journal does not hold together")
    return journal


def _write_journal(staging: Path, journal: _Journal, origin: dict[str, t.Any]) -> None:
    temp = staging / f"{_JOURNAL}.tmp"
    _write_file(temp, json.dumps({**journal._asdict(), "origin": origin}, ensure_ascii=True).encode("ascii"))
    os.replace(temp, staging / _JOURNAL)
    _fsync_dir(staging)


def _probe(root: Path, parts: t.Sequence[str]) -> os.stat_result | None:
    """``lstat`` of ``root/parts...``, or None if it (or a folder on the way) is missing.

    Raises :class:`_UnsafeUndo` if a folder on the way is a link or not a directory: nothing under it
    may be touched.
    """
    here = root
    info: os.stat_result | None = None
    for depth, part in enumerate(parts, 1):
        here = here / part
        try:
            info = os.lstat(here)
        except FileNotFoundError:
            return None
        if depth < len(parts) and not stat.S_ISDIR(info.st_mode):  # lstat: a link is no directory
            what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a directory"
            raise _UnsafeUndo(errno.EPERM, f"{here} is {what}")
    return info


def _undo(directory: Path, staging: Path, journal: _Journal) -> None:
    """Put every old file back in place, and take out every new file that had no old one.

    Each step is one rename and leaves a state this function can start from again, so an undo
    cut short (by another SIGKILL) is finished by the next one. Nothing is done through a link:
    every folder on the way must be a real directory, every kept file and every target a plain
    file; a step that would break this is left undone, and reported (:class:`_UnsafeUndo`) once the
    others are done.
    """
    if not stat.S_ISDIR(os.lstat(staging).st_mode):
        raise _UnsafeUndo(errno.EPERM, f"{staging} is not a directory")
    kept = set(journal.kept)
    refused: list[str] = []
    for name in reversed(journal.names):
        parts = name.split("/")
        final, new, old = directory / name, staging / "new" / name, staging / "old" / name
        try:
            if _probe(staging / "new", parts) is not None:
                continue  # never moved in: the old file (or none) is still in place
            now = _probe(directory, parts)
            if now is not None and not stat.S_ISREG(now.st_mode):
                what = "a symbolic link" if stat.S_ISLNK(now.st_mode) else "not a plain file"
                raise _UnsafeUndo(errno.EPERM, f"{final} is {what} now; it was left alone")
            if name in kept:
                before = _probe(staging / "old", parts)
                if before is None:
                    continue  # gone once put back
                if not stat.S_ISREG(before.st_mode):
                    raise _UnsafeUndo(errno.EPERM, f"{old} is not a plain file")
                os.replace(old, final)
            elif now is not None:
                os.replace(final, new)
        except _UnsafeUndo as exc:
            refused.append(str(exc.strerror))
    for folder in reversed(journal.created):  # innermost first; only if empty
        with contextlib.suppress(OSError):
            there = _probe(directory, folder.split("/"))
            if there is not None and stat.S_ISDIR(there.st_mode):
                os.rmdir(directory / folder)
    _fsync_dir(directory)
    if refused:
        raise _UnsafeUndo(errno.EPERM, "; ".join(refused))


# -- one file --------------------------------------------------------------------------------------


def _stat_target(path: Path, cannot: str) -> os.stat_result | None:
    """The target's stat (following a link given), None if it does not exist yet; else an OutputError."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        reason = _reason(exc) if isinstance(exc, OSError) else "the path holds a NUL character"
        raise OutputError(f"{cannot}: {reason}") from exc


def written_directly(path: Path) -> bool:
    """Whether :func:`atomic_write` writes ``path`` in place (a device, a pipe, a descriptor
    such as ``/dev/stdout``): opened (and so emptied, but a descriptor of this process, written
    through as it is) before anything is written."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return False
    return not stat.S_ISDIR(info.st_mode) and _in_place(path, info, os.path.islink(path))


def _in_place(path: Path, info: os.stat_result, link: bool) -> bool:
    """Whether ``path`` (``info``: its target's stat; ``link``: a symbolic link) is written in
    place, not replaced: renaming over a device, a pipe or a descriptor's link would replace it."""
    return not stat.S_ISREG(info.st_mode) or (link and os.path.abspath(path).startswith(("/dev/", "/proc/")))


def atomic_write(path: Path, data: bytes | Producer) -> None:
    """Replace ``path`` with ``data`` in one step; on any error or signal the old file is untouched.

    ``data``: the bytes, or a :data:`Producer` writing them in pieces into the temporary file.

    A symbolic link given is written through (its target is replaced, the link stays); a device
    or pipe (``/dev/stdout``, ``/dev/null``) is written to directly, since renaming over it would
    replace it; a directory, a link loop or an unwritable place is an :class:`OutputError`.
    """
    path = Path(path)
    info = _stat_target(path, f"cannot write {path}")
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError(f"cannot write {path}: it is a directory (give a file name)")
    link = os.path.islink(path)
    if info is not None and _in_place(path, info, link):
        _write_directly(path, data)  # a device, a pipe, a socket, or a descriptor (/dev/stdout, /dev/fd/N)
        return
    target = Path(os.path.realpath(path)) if link else path
    directory = target.parent
    with SignalGuard() as guard:
        _recover_above(directory)
        try:
            created = _make_dirs(directory)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {_reason(exc)}") from exc
        temp: Path | None = None
        try:
            with _Lock(directory) as lock:
                if not lock.held or str(directory) not in _RECOVERED:  # once per directory (fmt writes many)
                    _recover(directory, locked=lock.held)
                    if lock.held:
                        _RECOVERED.add(str(directory))
                temp = _temp_path(directory)
                if isinstance(data, bytes):
                    _write_file(temp, data)
                else:
                    _produce_file(temp, data, guard)
                if info is not None:
                    with contextlib.suppress(OSError):
                        shutil.copymode(target, temp)
                guard.check()
                os.replace(temp, target)
        except BaseException as exc:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            _remove_dirs(created)
            if isinstance(exc, OSError):
                raise OutputError(f"cannot write {path}: {_reason(exc)}") from exc
            raise
        finally:
            if temp is not None:
                _OURS.discard(str(temp))


def _write_directly(path: Path, data: bytes | Producer) -> None:
    """Write into a device, pipe or descriptor. The open does not block: a FIFO with no process
    reading it is an error at once (ENXIO), not a wait forever; the write itself then blocks as usual.

    A descriptor of this process (``/dev/stdout``, ``/dev/fd/N``) is written through as it is,
    not opened anew: ``-o /dev/stdout >> log`` appends, as ``-o -`` does (opened anew, the file
    behind it was emptied). Bytes that went out before an interruption cannot be taken back: the
    interruption says so (:func:`stopped_message`)."""
    fd = _descriptor(path)
    if fd is None:
        nonblock = getattr(os, "O_NONBLOCK", 0)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | nonblock | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o666)
        except OSError as exc:
            with contextlib.suppress(OSError):
                if exc.errno == errno.ENXIO and stat.S_ISFIFO(os.stat(path).st_mode):
                    raise OutputError(
                        f"cannot write {path}: no process is reading FIFO {path} (start the reader first)"
                    ) from exc
            raise OutputError(f"cannot write {path}: {_reason(exc)}") from exc
        if nonblock:
            os.set_blocking(fd, True)
    sink = Sink(fd, None)
    try:
        if isinstance(data, bytes):
            sink.write(data)
        else:
            data(lambda name: sink)
        sink.flush()
    except OSError as exc:
        gone = f"; {_gone_to(str(path))}" if sink.begun else ""
        raise OutputError(f"cannot write {path}: {_reason(exc)}{gone}") from exc
    except BaseException as exc:  # Ctrl-C, SIGTERM, or the export failing (a worker's slice)
        if sink.begun:
            partly_sent(exc, str(path))
        raise
    finally:
        os.close(fd)


def partly_sent(exc: BaseException, where: str) -> None:
    """Mark ``exc``, which ended an export after part of it had gone to the stream ``where``: an
    interruption says so (:func:`stopped_message`), and an error's message says it instead of
    "nothing was changed"."""
    exc.partly_sent = where  # type: ignore[attr-defined]
    if isinstance(exc, ToolkitError):
        gone = _gone_to(where)
        exc.message = (
            exc.message.replace("nothing was changed", gone)
            if "nothing was changed" in exc.message
            else f"{exc.message}; {gone}"
        )


def _gone_to(where: str) -> str:
    """What was changed once part of an export had gone to ``where``, a stream or a descriptor
    (what is behind it, a pipe or a file the shell opened, has those bytes for good)."""
    return f"part of the export had gone to {where}, which cannot be taken back; no other file was changed"


def _descriptor(path: Path) -> int | None:
    """A duplicate of the descriptor of this process that ``path`` names (``/dev/stdout``,
    ``/dev/fd/N``, ``/proc/self/fd/N``) when it is open for writing in blocking mode; else None."""
    import fcntl

    name = os.path.abspath(path)
    number = {"/dev/stdout": 1, "/dev/stderr": 2}.get(name)
    if number is None:
        found = re.fullmatch(rf"/(?:dev/fd|proc/self/fd|proc/{os.getpid()}/fd)/([0-9]{{1,9}})", name)
        if found is None:
            return None
        number = int(found.group(1))
    try:
        fd = os.dup(number)
    except OSError:
        return None
    try:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR) and os.get_blocking(fd):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None  # (read-only, or non-blocking: opened anew, as any other path)


# -- a directory -----------------------------------------------------------------------------------


_CONTROL = re.compile("[\x00-\x1f\x7f]")  # NUL and the control characters


def _safe_name(name: str) -> bool:
    parts = name.split("/")
    return (
        bool(name)
        and _CONTROL.search(name) is None
        and not name.startswith("/")
        and not any(part in ("", ".", "..") for part in parts)
        and not parts[0].startswith(TEMP_PREFIX)
    )


def _check_target(directory: Path, name: str) -> None:
    """Refuse a target that is not a plain file under plain directories: never write through a link.

    Each folder on the way is looked at again for each file (a folder swapped for a link while
    the targets are checked is caught at the next file; 18 ms for 10,000 files)."""
    parts = name.split("/")
    for depth in range(1, len(parts) + 1):
        here = directory.joinpath(*parts[:depth])
        try:
            info = os.lstat(here)
        except FileNotFoundError:
            return  # created by this write, like everything under it
        last = depth == len(parts)
        if stat.S_ISLNK(info.st_mode):
            what = "it" if last else str(here)
            raise OutputError(
                f"cannot write {directory / name}: {what} is a symbolic link, and the toolkit never writes "
                "through a link inside the output directory (remove it); nothing was changed"
            )
        if last and not stat.S_ISREG(info.st_mode):
            raise OutputError(f"cannot write {here}: something other than a file is in the way; nothing was changed")
        if not last and not stat.S_ISDIR(info.st_mode):
            raise OutputError(f"cannot write {directory / name}: {here} is not a directory; nothing was changed")


def atomic_write_tree(
    directory: Path, files: t.Mapping[str, bytes], remove: t.Iterable[str] = (), *, produce: Producer | None = None
) -> list[str]:
    """Write several files (relative ``/`` names) into ``directory``, all or nothing; their names.

    ``produce``: a :data:`Producer` writing more files in pieces, each opened by name (checked as
    the names of ``files`` are, when it is opened), all open at once if it likes.

    ``remove`` names files to take out in the same step (a replaced tree leaves no stale file):
    each is kept in the staging directory like a replaced file, so an undo puts it back.

    Every target is checked first (a link inside ``directory`` is refused, never written
    through); every file is written into a staging directory inside ``directory``, and each old
    file kept there; a journal of the names is written; then each new file is renamed over its old
    one. On an error, SIGINT or SIGTERM the old files are put back and the staging directory
    removed; after SIGKILL the journal lets the next write do it (:func:`recover`).
    """
    directory = Path(directory)
    removed = sorted(set(remove) - set(files))
    for name in [*files, *removed]:
        if not isinstance(name, str) or not _safe_name(name):
            raise OutputError(f"cannot write {name!r} into {directory}: not a plain relative file name")
    info = _stat_target(directory, f"cannot write into {directory}")
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise OutputError(f"cannot write into {directory}: it is a file, not a directory")
    with SignalGuard() as guard:
        _recover_above(directory)
        try:
            created = _make_dirs(directory)
        except OSError as exc:
            raise OutputError(f"cannot write into {directory}: {_reason(exc)}; nothing was changed") from exc
        try:
            with _Lock(directory) as lock:
                _recover(directory, locked=lock.held)
                for name in [*files, *removed]:
                    _check_target(directory, name)
                return _swap(directory, files, guard, removed, produce)
        except BaseException as exc:
            _remove_dirs(created)
            if isinstance(exc, OSError):
                where = exc.filename if exc.filename and TEMP_PREFIX not in str(exc.filename) else directory
                raise OutputError(f"cannot write {where}: {_reason(exc)}; nothing was changed") from exc
            raise


def _swap(
    directory: Path,
    given: t.Mapping[str, bytes],
    guard: SignalGuard,
    removed: t.Sequence[str] = (),
    produce: Producer | None = None,
) -> list[str]:
    """Stage, keep, journal, move; undo on any exception. Raises OSError, OutputError or a signal's exception.

    The old files are kept by a hard link (a copy where links are not possible) in the staging
    directory, and each new file is renamed over its old one: every name always holds a whole
    file, the old or the new one, even after SIGKILL.
    """
    staging = _temp_path(directory)
    try:
        os.mkdir(staging)
        origin = _origin(staging)  # recorded before anything can move: see recover()
        journal: _Journal | None = None
        folders: _Folders | None = None
        try:
            files: list[str] = list(given)
            # (names joined as text: Path objects for each of 10,000 files cost an import a second;
            # inside ".", a name stays as it is, as Path(".") / name spells it in messages)
            new, old, into = os.path.join(staging, "new"), os.path.join(staging, "old"), str(directory)
            inside = (lambda name: name) if into == "." else (lambda name: os.path.join(into, name))
            made: set[str] = set()
            for name, data in given.items():
                guard.check()
                target = os.path.join(new, name)
                folder = os.path.dirname(target)
                if folder not in made:
                    os.makedirs(folder, exist_ok=True)
                    made.add(folder)
                try:
                    _write_file(target, data, sync=False)
                except OSError as exc:
                    exc.filename = str(directory / name)
                    raise
            if produce is not None:
                _stage(directory, staging, files, produce, guard)
            removed = [name for name in removed if name not in files]
            _recover_below(directory, [*files, *removed])
            # From here on each folder is reached by its descriptor, opened from the one above it
            # without following a link: a folder swapped for a link after the checks (during a long
            # produce) is refused, never kept from, created through or written through.
            folders = _Folders(directory)
            kept: list[str] = []
            for name in [*files, *removed]:
                guard.check()
                folder, _, leaf = name.rpartition("/")
                at = folders.existing(folder)
                if at is not None and _lexists_at(at, leaf):
                    _keep_at(at, leaf, Path(old, name))
                    kept.append(name)
            removed = [name for name in removed if name in kept]
            _sync_all(staging, (Path(new, name) for name in files))
            # every folder on the way, outermost first: each one this write makes is journaled (and
            # removed by an undo, innermost first), not only the innermost
            on_the_way = sorted(
                {
                    "/".join(parts[:depth])
                    for parts in (name.split("/")[:-1] for name in files)
                    for depth in range(1, len(parts) + 1)
                },
                key=lambda f: (f.count("/"), f),
            )
            missing = [f for f in on_the_way if folders.existing(f) is None]
            guard.check()
            journal = _Journal([*files, *removed], kept, missing)  # a removed name: kept, with no new file
            _write_journal(staging, journal, origin)  # from here on, a killed run is undone by the next write
            for folder in missing:
                folders.make(folder)
            touched: set[str] = set()
            for name, removing in [*((name, False) for name in files), *((name, True) for name in removed)]:
                guard.check()
                folder, _, leaf = name.rpartition("/")
                try:
                    if removing:
                        os.unlink(leaf, dir_fd=folders.of(folder))
                    else:
                        os.replace(os.path.join(new, name), leaf, dst_dir_fd=folders.of(folder))
                except OSError as exc:
                    exc.filename, exc.filename2 = inside(name), None  # (told as the user knows it)
                    raise
                touched.add(folder)
            guard.check()
            for folder in sorted(touched):
                with contextlib.suppress(OSError):
                    os.fsync(folders.of(folder))
            os.unlink(staging / _JOURNAL)  # the commit: the new files stay
            journal = None
            folders.close()
            folders = None
            _fsync_dir(staging)
        except BaseException:
            if folders is not None:
                folders.close()
                folders = None
            if journal is not None:
                try:
                    _undo(directory, staging, journal)
                except OSError as undo_exc:
                    _OURS.discard(str(staging))  # the next write into the directory finishes the undo
                    raise OutputError(
                        f"cannot write into {directory}: the write failed, and undoing it failed too "
                        f"({_reason(undo_exc)}); the old files are kept in {staging}, and the next write into "
                        f"{directory} tries again to put them back (if it cannot either, check the files in "
                        f"{staging / 'old'} and {staging / 'new'}, put back what you want to keep, then remove "
                        f"{staging} by hand)"
                    ) from undo_exc
            raise
        shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        if str(staging) in _OURS:
            _discard(staging)
        raise
    finally:
        _OURS.discard(str(staging))
    return files


def _discard(staging: Path) -> None:
    """Remove a staging directory of a write that failed: renamed first, so that a process still
    writing into it (a worker of a cluster finishing a part) can no longer create anything there."""
    moved = _temp_path(staging.parent)
    try:
        os.rename(staging, moved)
    except OSError:
        moved = staging
    shutil.rmtree(moved, ignore_errors=True)
    _OURS.discard(str(moved))


class Opener:
    """``open(name)`` of a tree write's producer (see :func:`atomic_write_tree`): each name checked
    as it is opened, its :class:`Sink` in the staging directory.

    Files another process writes (a worker of a cluster, on a file system both see) go straight
    into :attr:`staging` under their name, and are then taken into the write by :meth:`adopt`:
    no copy, and still all or nothing.
    """

    def __init__(self, directory: Path, staging: Path, files: list[str], guard: SignalGuard) -> None:
        self._directory, self._files, self._guard = directory, files, guard
        self.staging = os.path.abspath(staging / "new")
        """Where the new files are staged (absolute: other processes run elsewhere); a file
        ``name`` written there is taken in by :meth:`adopt`."""
        self.open_fds: list[tuple[int, Sink, str]] = []

    def close_files(self) -> None:
        """Flush and close the files opened so far (a producer writing many files in turns, such
        as the parts of a partitioned export, keeps only one turn's open)."""
        try:
            for _fd, sink, name in self.open_fds:
                try:
                    sink.flush()
                    sink._write_behind(_BEHIND_LAST)
                except OSError as exc:
                    exc.filename = str(self._directory / name)
                    raise
        finally:
            for fd, _sink, _name in self.open_fds:
                os.close(fd)
            self.open_fds.clear()

    def _check(self, name: str) -> Path:
        if not isinstance(name, str) or not _safe_name(name):
            raise OutputError(f"cannot write {name!r} into {self._directory}: not a plain relative file name")
        if name in self._files:
            raise OutputError(f"cannot write {self._directory / name}: the file is written twice")
        _check_target(self._directory, name)
        return Path(self.staging) / name

    def __call__(self, name: str) -> Sink:
        target = self._check(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(target, flags, 0o666)
        except OSError as exc:
            exc.filename = str(self._directory / name)
            raise
        sink = Sink(fd, self._guard)
        self._files.append(name)
        self.open_fds.append((fd, sink, name))
        return sink

    def adopt(self, name: str) -> None:
        """Take into the write the file ``name`` that another process wrote in :attr:`staging`."""
        self._guard.check()
        target = self._check(name)
        info = os.lstat(target)
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"cannot write {self._directory / name}: what was staged for it is not a file")
        self._files.append(name)


def _stage(directory: Path, staging: Path, files: list[str], produce: Producer, guard: SignalGuard) -> None:
    """Let ``produce`` write its files into ``staging/new``; each name checked as it is opened, added to ``files``."""
    opener = Opener(directory, staging, files, guard)
    os.makedirs(opener.staging, exist_ok=True)  # (there before any other process writes into it)
    try:
        produce(opener)
    finally:
        opener.close_files()


class _Folders:
    """Descriptors of the folders of one tree write, each opened from the one above it with
    ``O_NOFOLLOW`` (POSIX ``openat``): what is kept, made, moved or removed goes into the very
    folder that was checked, or the write fails. A folder that has become a link (or anything but a
    directory) since the checks is an :class:`OutputError`; the write is then undone."""

    _FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._fds: dict[str, int] = {"": os.open(directory, self._FLAGS)}  # (the directory itself as given)

    def of(self, folder: str) -> int:
        """The descriptor of ``folder`` (``a/b``, relative; ``""``: the directory), opened now if need be."""
        fd = self._fds.get(folder)
        if fd is None:
            if len(self._fds) >= _OPEN_FOLDERS:  # (a tree of many folders: opened again when met again)
                self.close(keep_root=True)
            above, _, leaf = folder.rpartition("/")
            at = self.of(above)
            try:
                fd = os.open(leaf, self._FLAGS | getattr(os, "O_NOFOLLOW", 0), dir_fd=at)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise OutputError(
                        f"cannot write into {self._directory / folder}: it is no longer a directory (a symbolic "
                        "link or something else was put in its place while the files were written), and the "
                        "toolkit never writes through a link inside the output directory; nothing was changed"
                    ) from None
                raise
            self._fds[folder] = fd
        return fd

    def existing(self, folder: str) -> int | None:
        """:meth:`of`, or None when ``folder`` (or one above it) does not exist."""
        try:
            return self.of(folder)
        except FileNotFoundError:
            return None

    def make(self, folder: str) -> None:
        above, _, leaf = folder.rpartition("/")
        with contextlib.suppress(FileExistsError):
            os.mkdir(leaf, dir_fd=self.of(above))

    def close(self, *, keep_root: bool = False) -> None:
        root = self._fds.pop("") if keep_root else None
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if root is not None:
            self._fds[""] = root


_OPEN_FOLDERS = 64
"""Folder descriptors one tree write holds at most (the process's limit is often 1,024)."""


def _lexists_at(folder: int, leaf: str) -> bool:
    try:
        os.lstat(leaf, dir_fd=folder)
    except FileNotFoundError:
        return False
    return True


def _keep_at(folder: int, leaf: str, kept: Path) -> None:
    """A second name for the old file ``leaf`` of the folder of descriptor ``folder`` in the
    staging directory (a regular file: :func:`_check_target` refused links); a copy where hard
    links are refused."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(leaf, kept, src_dir_fd=folder, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS):
            raise
        source = os.open(leaf, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), dir_fd=folder)
        with open(source, "rb") as reading, open(kept, "xb") as writing:
            shutil.copyfileobj(reading, writing)
            info = os.fstat(reading.fileno())
        os.chmod(kept, stat.S_IMODE(info.st_mode))
        os.utime(kept, ns=(info.st_atime_ns, info.st_mtime_ns))
