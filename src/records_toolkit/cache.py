"""The result cache: a signed snapshot of the last run, so a run after one change reads one file.

A full run over a collection ends by writing what it found (:func:`.incremental.snapshot`): per
file its signature (size, times, inode), the SHA-256 of its content, its record count and its
problems (a packed table, in parts); and the collection's indexes keyed by what they are about
(the definitions of each id, the references to it, the quotes and texts of each article, what
each file contributed), split into shards. The next run walks the tree, compares signatures,
hashes the files whose signature changed (content unchanged after a checkout or ``touch``: not
parsed), parses only the files that really changed, re-decides only what the change reaches
(:mod:`.incremental`) and appends the sections it changed to the snapshot. A cached run
reports exactly what a full run reports; when it cannot be sure (a cap reached, a damaged
section) it is a full run. A file changed in the last seconds keeps no signature (a second change
in the same clock tick could hide behind it): next time it is compared by content.

Everything that could change a result is in the cache's fingerprint: the toolkit's version and
the bytes of its modules, the reading libraries, the Python version (the snapshot is
:mod:`marshal` data), the schema texts, the file size limit and the collection's layout; any
change empties the cache.

The cache lives in the tree (``<collection>/.records-toolkit-cache/``, ignored by git through
its own ``.gitignore``), a snapshot per working folder (:func:`snapshot_name`), and the tree is untrusted: a pull request can add a cache claiming a
bad file is valid. So the snapshot's header, which holds the SHA-256 of every section, is signed
(HMAC-SHA256) with a key that never leaves this user's own cache folder
(``$XDG_CACHE_HOME/records-toolkit/key``, mode 0600), and each section is checked against it
before it is decoded: a cache written elsewhere, edited, truncated or corrupt is ignored, never
trusted. Links are never followed, in reading or in writing. ``toolkit validate --no-cache``
neither reads nor writes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import marshal
import os
import re
import stat
import sys
import time
import typing as t
import zlib

from .loader import NotRegular, read_regular

if t.TYPE_CHECKING:
    import array

    from .loader import Names
    from .schemas import Model

CACHE_DIR = ".records-toolkit-cache"
INDEX = "snapshot"  # (the start of each snapshot's name: one per working folder, see snapshot_name)
KEPT_SNAPSHOTS = 4  # snapshots kept in a cache folder, the latest written (each about 50 MB at 100,000 files)
FORMAT = 5  # (5: the names of the files as bytes, not text)
SHARDS = 256  # index shards: a run after one change decodes a few of them
#: A save after a change appends its sections and a new header to the snapshot; the snapshot is
#: written anew (compacted) once what it holds no longer in use passes what it uses plus this.
COMPACT_SLACK = 8 << 20
#: The index read at most: 16 MiB plus 16 KiB per file of the run (a record's result is about
#: 1 KB; article texts are kept too). A larger index, planted or not, is ignored unread.
MAX_INDEX_BASE = 16 << 20
MAX_INDEX_PER_FILE = 16 << 10
RACY_NS = 2_000_000_000  # a file changed this recently (ns) is not cached
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def secret_key(make: bool = True) -> bytes | None:
    """This user's signing key, made on first use (unless not ``make``: a reader that writes
    nothing); None when it cannot be had (then no cache)."""
    given = os.environ.get("XDG_CACHE_HOME", "")
    # a relative XDG_CACHE_HOME is to be ignored (XDG Base Directory spec): it could put the key
    # in the very tree the key is there to distrust
    base = given if os.path.isabs(given) else os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "records-toolkit")
    path = os.path.join(folder, "key")
    try:
        if make:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        try:
            key = read_regular(path, 64)
        except FileNotFoundError:
            if not make:
                return None
            temp = os.path.join(folder, f".key-{os.getpid()}")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW, 0o600)
            try:
                os.write(fd, os.urandom(32))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(temp, path)  # only one process's key wins; every process then reads that one
            except FileExistsError:
                pass
            finally:
                os.unlink(temp)
            key = read_regular(path, 64)
        info = os.stat(path, follow_symlinks=False)
        if len(key) != 32 or info.st_mode & 0o077 or info.st_uid != os.getuid():
            return None  # someone else's, or readable by others: not a secret
        return key
    except (OSError, NotRegular):
        return None


def fingerprint(model: Model, *, max_bytes: int, layout: t.Any) -> str:
    """What a cached result depends on besides the file itself: the toolkit (its version and the
    bytes of its own modules, so an edited or patched install counts), the libraries that read
    and judge a record (:func:`_library_files`), the schemas, the size limit and the layout (the
    working folder as seen from its root). Nothing in it depends on where the checkout or the
    installed packages are, or when they were made: a CI job that keeps the cache between its
    runs (each a fresh checkout and install) finds it valid."""
    import records_toolkit

    parts = {
        "format": FORMAT,
        "python": [list(sys.version_info), marshal.version, sys.byteorder],  # the snapshot's encoding
        "version": str(records_toolkit.__version__),
        "code": _code_hash(),
        "libraries": _library_files(),
        "schemas": model.schemas.documents,
        "max_bytes": max_bytes,
        "layout": None if layout is None else [_here_from(layout.root), layout.shown],
    }
    # not sort_keys: the order of a schema's keys shows in messages (the keys allowed, in order)
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()


def snapshot_name(root: str) -> str:
    """The name of the snapshot of the runs made from this working folder (see :func:`_here_from`).

    A run's names are spelled from its working folder, and the snapshot is of those names; one
    snapshot for the whole collection was emptied each time a run came from another folder (at
    100,000 files a full run, 20 s, each time a user went between the repository's root and a
    folder of records). Each folder has its own; :data:`KEPT_SNAPSHOTS` are kept."""
    here = _here_from(root).encode("utf-8", "surrogatepass")
    return f"{INDEX}-{hashlib.sha256(here).hexdigest()[:16]}"


def _here_from(root: str) -> str:
    """The working folder as seen from the collection's root. The files' names are relative to
    the working folder and the layout's checks compare where a file is with the root, so this
    decides what a name means there (``a.yaml`` from ``records/articles`` is another file than from
    ``records/events``), and nothing else does: a checkout moved whole, as on a new CI runner,
    keeps its cache. The absolute working folder when there is no such path."""
    try:
        return os.path.relpath(os.getcwd(), root)
    except (OSError, ValueError):  # (no working folder any more; another drive)
        return os.path.abspath(".") if os.path.isabs(root) else root


class Store:
    """The signed snapshot of the last run over one collection: sections read on demand.

    The file is the sections, each a :mod:`marshal` value, then a header (one line of JSON: the
    fingerprint, and each section's offset, length and SHA-256), the header's HMAC-SHA256 and the
    header's length. The header comes last so that a run can write the sections one by one as it
    makes them (a 100,000-record snapshot is never whole in memory). A section is decoded only
    when asked for, after its digest is checked: a run after one change reads a few of the
    hundreds of index shards. :mod:`marshal` is never given bytes this user's key has not
    vouched for (it is not made for untrusted input).

    A save after a change (``keep_rest``) appends the sections it changed and a new header to the
    file: the bytes a header points at are never rewritten, so a run reading the snapshot
    meanwhile still reads what its own header vouched for (one that reads it while a header is
    being appended finds an end that does not verify, and makes a full run). Once the sections
    no longer in use outweigh those in use, the snapshot is written anew (compacted). An append
    interrupted is undone; one killed midway (SIGKILL) leaves an end that does not verify: the
    next run is a full one, and writes the snapshot anew.
    """

    def __init__(self, folder: str, fingerprint: str, key: bytes, name: str = INDEX) -> None:
        self.folder = folder
        self.name = name  # the snapshot's file in the folder
        self.fingerprint = fingerprint
        self._key = key
        self._fd = -1  # the snapshot read (its sections are read from it when asked for)
        self._sections: dict[str, list[t.Any]] = {}  # name -> [offset, length, sha256 hex]
        self._size = 0  # the snapshot's size as read (a save appends there)
        self.cap = MAX_INDEX_BASE  # the largest snapshot a run of this size reads: an append stays under it
        self._identity: tuple[int, int] = (-1, -1)  # its (device, inode)
        self.started = time.time_ns()

    @classmethod
    def open(cls, root: str, fingerprint: str, files: int = 0, *, make_key: bool = True) -> Store | None:
        """The snapshot of the collection at ``root`` (empty when missing, foreign, stale or
        corrupt); None when this user has no signing key (then nothing is cached; ``make_key``
        False: none is made either)."""
        key = secret_key(make_key)
        if key is None:
            return None
        store = cls(os.path.join(root, CACHE_DIR), fingerprint, key, snapshot_name(root))
        store.cap = MAX_INDEX_BASE + MAX_INDEX_PER_FILE * files
        try:
            fd = os.open(store.folder, os.O_RDONLY | _DIRECTORY | _NO_FOLLOW)
        except OSError:
            return store
        snapshot = -1
        try:
            snapshot, total, identity = _open_regular(store.name, store.cap, fd)
            header = _signed_header(snapshot, total, key)  # the header only: sections when asked
            if header is not None:
                document = json.loads(header)
                if document.get("fingerprint") == fingerprint and isinstance(document.get("sections"), dict):
                    store._fd, snapshot = snapshot, -1
                    store._sections = document["sections"]
                    store._size, store._identity = total, identity
        except (OSError, NotRegular, ValueError, MemoryError, AttributeError):
            pass
        finally:
            os.close(fd)
            if snapshot >= 0:
                os.close(snapshot)
        return store

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()

    @property
    def empty(self) -> bool:
        return not self._sections

    def section(self, name: str) -> t.Any:
        """One section's value; :class:`Unusable` when it is missing or its bytes are not the signed ones."""
        try:
            offset, length, digest = self._sections[name]
            data = _pread(self._fd, int(length), int(offset))
            if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), str(digest)):
                raise Unusable(name)
            return marshal.loads(data)
        except (KeyError, TypeError, ValueError, EOFError, OSError) as exc:
            raise Unusable(name) from exc

    def holds(self, name: str, value: t.Any) -> bool:
        """Whether section ``name`` is ``value``, told by the digest the header signs, without
        reading it (the names of 100,000 files are 5 MB)."""
        entry = self._sections.get(name)
        length, digest = _measured(_marshalled(value))
        try:
            return entry is not None and int(entry[1]) == length and hmac.compare_digest(digest, entry[2])
        except (TypeError, ValueError, IndexError):
            return False

    def save(self, fresh: t.Iterable[tuple[str, t.Any]], *, keep_rest: bool, drop: t.Collection[str] = ()) -> None:
        """Write the sections ``fresh`` yields and, with ``keep_rest``, keep every other section of
        the snapshot as it was but those named in ``drop``; all or nothing. With ``keep_rest``
        the new sections and a header are appended to the snapshot read (see the class); else,
        or when that file changed since it was read, or to compact it, a new file is written
        (each section encoded and written as it comes) and renamed over the old. Failing to
        write never fails the run."""
        try:
            try:
                os.mkdir(self.folder, 0o700)
            except FileExistsError:
                pass
            folder = os.open(self.folder, os.O_RDONLY | _DIRECTORY | _NO_FOLLOW)  # a planted link is refused
        except OSError:
            return
        try:
            encoded: list[tuple[str, Pieces]] | None = None
            if keep_rest and self._fd >= 0:
                encoded = [(name, _marshalled(value)) for name, value in fresh]
                if not encoded and self._sections.keys().isdisjoint(drop):
                    return  # nothing to change
                if self._append(folder, encoded, drop):
                    return
            sections = fresh if encoded is None else encoded
            _sweep(folder)
            _write_in(folder, ".gitignore", lambda write: write(GITIGNORE))
            _write_in(
                folder, self.name, lambda write: self._write(write, sections, keep_rest, encoded is not None, drop)
            )
            _prune(folder, self.name, self._key)
        except (OSError, ValueError, TypeError, MemoryError, Unusable):
            pass  # the cache is an optimisation
        finally:
            os.close(folder)

    def _append(self, folder: int, encoded: list[tuple[str, Pieces]], drop: t.Collection[str]) -> bool:
        """Append ``encoded`` sections and a new header to the snapshot this store read; False
        (nothing written) when it is no longer that file at that size, when another run is
        appending to it, or when it is due to be compacted."""
        if _flock is None:
            return False
        table = {name: entry for name, entry in self._sections.items() if name not in drop}
        offset = self._size
        for name, pieces in encoded:
            length, digest = _measured(pieces)
            table[name] = [offset, length, digest]
            offset += length
        live = sum(int(entry[1]) for entry in table.values())
        if offset - live > live + COMPACT_SLACK:
            return False
        trailer = self._trailer(table)
        if offset + len(trailer) > self.cap - self.cap // 4:  # compacted before a next run would refuse to read it
            return False
        flags = os.O_WRONLY | _NO_FOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.name, flags, dir_fd=folder)
        except OSError:
            return False
        try:
            try:
                _flock(fd)  # one appender at a time (another run waits for nothing: it writes anew)
            except OSError:
                return False
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != self._identity or info.st_size != self._size:
                return False  # replaced or grown since it was read: written anew instead
            try:
                at = self._size
                for data in [*(piece for _name, pieces in encoded for piece in pieces), trailer]:
                    view = memoryview(data)
                    while view:
                        written = os.pwrite(fd, view, at)
                        view, at = view[written:], at + written
            except BaseException:  # an error or an interrupt: the snapshot is left as it was
                os.ftruncate(fd, self._size)
                raise
        finally:
            os.close(fd)
        self._sections, self._size = table, at
        try:
            os.lstat(".gitignore", dir_fd=folder)
        except FileNotFoundError:
            _write_in(folder, ".gitignore", lambda write: write(GITIGNORE))
        return True

    def _trailer(self, table: dict[str, list[t.Any]]) -> bytes:
        """What ends the snapshot: the header (the fingerprint and ``table``), its HMAC, its length."""
        header = json.dumps({"format": FORMAT, "fingerprint": self.fingerprint, "sections": table}).encode()
        mac = hmac.new(self._key, header, hashlib.sha256).hexdigest().encode()
        return header + b"\n" + mac + b"\n" + b"%012d\n" % len(header)

    def _write(
        self,
        write: t.Callable[[bytes | memoryview], None],
        fresh: t.Iterable[tuple[str, t.Any]],
        keep: bool,
        encoded: bool = False,
        drop: t.Collection[str] = (),
    ) -> None:
        table: dict[str, list[t.Any]] = {}
        offset = 0
        for name, value in fresh:
            pieces = value if encoded else _marshalled(value)
            for piece in pieces:
                write(piece)
            length, digest = _measured(pieces)
            table[name] = [offset, length, digest]
            offset += length
            del pieces
        if keep:  # copied from the old file as they are (checked: a section that changed meanwhile is refused)
            for name, (old, length, digest) in self._sections.items():
                if name not in table and name not in drop:
                    data = _pread(self._fd, int(length), int(old))
                    if hashlib.sha256(data).hexdigest() != digest:
                        raise ValueError(f"section {name} does not read back")
                    write(data)
                    table[name] = [offset, length, digest]
                    offset += int(length)
        write(self._trailer(table))


Pieces = tuple[bytes | memoryview, ...]  # a section's bytes, in pieces


class Encoded(t.NamedTuple):
    """A section's value already as :mod:`marshal` wrote it (a shard let go while a run goes on)."""

    data: bytes


def _measured(pieces: Pieces) -> tuple[int, str]:
    """The length and the SHA-256 (hex) of a section in pieces."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return sum(map(len, pieces)), digest.hexdigest()


def _marshalled(value: t.Any) -> Pieces:
    """A section as :mod:`marshal` writes it, in pieces. A run of bytes (the names of 100,000
    files: 5 MB) follows marshal's own header for bytes (type ``s``, a 32-bit length) as it is,
    not copied into one value with it."""
    if type(value) is Encoded:
        return (value.data,)
    if type(value) in (bytes, bytearray, memoryview):
        view = memoryview(value)
        if view.format == "B" and view.contiguous and view.nbytes < 1 << 31:
            return b"s" + view.nbytes.to_bytes(4, "little"), view
    return (marshal.dumps(value),)


def _signed_header(snapshot: int, total: int, key: bytes, largest: int = MAX_INDEX_BASE) -> bytes | None:
    """The header of the snapshot open as ``snapshot`` (``total`` bytes), if this user's ``key``
    signed it; else None (foreign, corrupt or planted). Raises :class:`Unusable` or
    :class:`OSError` for a file shorter than it says or unreadable."""
    end = total - _TRAILER
    tail = _pread(snapshot, _TRAILER + 1, end - 1) if end > 0 else b""
    if tail[:1] == b"\n" and tail[-1:] == b"\n" and tail[-13:-1].isdigit():
        size = int(tail[-13:-1])
        if 0 < size < end and size <= largest:  # (a header of 100,000 files: 124 KB)
            header = _pread(snapshot, size, end - 1 - size)
            if hmac.compare_digest(tail[1:65], hmac.new(key, header, hashlib.sha256).hexdigest().encode()):
                return header
    return None


def _open_regular(name: str, limit: int, folder: int) -> tuple[int, int, tuple[int, int]]:
    """The snapshot opened for reading, its size and its (device, inode): never through a link,
    never a special file (a FIFO would block), never past ``limit``."""
    flags = os.O_RDONLY | _NO_FOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(name, flags, dir_fd=folder)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        raise NotRegular("file-special", "not a regular file of a size a snapshot can have")
    return fd, info.st_size, (info.st_dev, info.st_ino)


def _lock_now(fd: int) -> None:
    """An exclusive lock on ``fd``, or :class:`OSError` at once when another process holds one."""
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


_flock: t.Callable[[int], None] | None = _lock_now if os.name == "posix" else None


def _pread(fd: int, length: int, offset: int) -> bytes:
    """Exactly ``length`` bytes at ``offset``; :class:`Unusable` when the file is shorter (it was
    truncated or replaced in place: never trusted)."""
    if fd < 0 or length < 0 or offset < 0:
        raise Unusable("no snapshot")
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise Unusable("the snapshot is shorter than its header says")
        data += more
    return data


_TRAILER = 64 + 1 + 12 + 1  # the header's HMAC (hex), its length (12 digits), two newlines
GITIGNORE = b"# the toolkit's cache of validation results: never commit it\n*\n"


CANONICAL = "canonical"  # fmt --check's contents known canonical (see CanonicalSet)
_CANONICAL_ENTRY = 36  # a content's SHA-256 and its record count (4 bytes, little-endian)


class CanonicalSet:
    """The file contents ``fmt --check`` found canonical, without any problem or warning, by
    SHA-256, each with its record count: a file whose bytes are among them is not parsed again
    (at 100,000 files a check took 7 to 11 s, most of it parsing and writing each record anew).

    The file (``canonical`` in the cache folder) is a header line (JSON: the fingerprint and the
    count), the entries sorted, and the HMAC-SHA256 of both with this user's key: one written
    elsewhere, edited or cut short is ignored. It is read whole (36 bytes a file; a file larger
    than :data:`MAX_INDEX_BASE` plus that for a million files is not read) and written anew, all or nothing, by a
    check of the whole collection. ``fmt`` never makes the cache folder or the key (a
    ``validate`` does)."""

    def __init__(self, folder: str, fingerprint: str, key: bytes, known: dict[bytes, int]) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self._key = key
        self.known = known

    @classmethod
    def open(cls, root: str, fingerprint: str, files: int) -> CanonicalSet | None:
        """The set of the collection at ``root`` (empty when missing, foreign, stale or damaged);
        None when there is no cache folder or no key."""
        key = secret_key(make=False)
        if key is None:
            return None
        folder = os.path.join(root, CACHE_DIR)
        try:
            folder_fd = os.open(folder, os.O_RDONLY | _DIRECTORY | _NO_FOLLOW)
        except OSError:
            return None
        known: dict[bytes, int] = {}
        try:
            fd, size, _identity = _open_regular(CANONICAL, MAX_INDEX_BASE + _CANONICAL_ENTRY * files, folder_fd)
            try:
                data = _pread(fd, size, 0)
            finally:
                os.close(fd)
            signed, mac = data[:-32], data[-32:]
            if len(data) > 32 and hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).digest(), mac):
                header, _, body = signed.partition(b"\n")
                document = json.loads(header)
                count = document.get("count") if document.get("fingerprint") == fingerprint else None
                if isinstance(count, int) and len(body) == count * _CANONICAL_ENTRY:
                    known = {
                        body[at : at + 32]: int.from_bytes(body[at + 32 : at + 36], "little")
                        for at in range(0, len(body), _CANONICAL_ENTRY)
                    }
        except (OSError, NotRegular, Unusable, ValueError, AttributeError):
            known = {}
        finally:
            os.close(folder_fd)
        return cls(folder, fingerprint, key, known)

    def save(self, found: t.Mapping[bytes, int]) -> None:
        """Write ``found`` as the set (nothing when it is the set read); failing to write never
        fails the run."""
        if dict(found) == self.known:
            return
        body = b"".join(digest + records.to_bytes(4, "little") for digest, records in sorted(found.items()))
        header = json.dumps({"fingerprint": self.fingerprint, "count": len(found)}).encode() + b"\n"
        mac = hmac.new(self._key, header + body, hashlib.sha256).digest()
        try:
            folder_fd = os.open(self.folder, os.O_RDONLY | _DIRECTORY | _NO_FOLLOW)
        except OSError:
            return

        def produce(write: t.Callable[[bytes | memoryview], None]) -> None:
            for part in (header, body, mac):
                write(part)

        try:
            _write_in(folder_fd, CANONICAL, produce)
        except (OSError, ValueError):
            pass  # the cache is an optimisation
        finally:
            os.close(folder_fd)


class Unusable(Exception):
    """A section of the snapshot that cannot be trusted or read: the run is made in full."""


def shard(key: str) -> int:
    """The index shard of ``key`` (stable across runs and machines, unlike ``hash``)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % SHARDS


def _write_in(folder_fd: int, name: str, produce: t.Callable[[t.Callable[[bytes | memoryview], None]], None]) -> None:
    """Write ``name`` in the folder ``folder_fd`` through a new temporary file and a rename;
    ``produce`` is given the function that writes each piece. The temporary name is not
    guessable and created exclusively, never through a link, never blocking: the folder is in an
    untrusted tree, where a FIFO or a link could be waiting at a name known in advance."""
    temp = f"{_TEMP}{os.getpid()}-{_token()}-{name}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(temp, flags, 0o600, dir_fd=folder_fd)

    def write(part: bytes | memoryview) -> None:
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]

    try:
        produce(write)
        os.close(fd)
        fd = -1
        os.replace(temp, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except BaseException:  # an error, an interrupt, a planted directory at the name: nothing left behind
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder_fd)
        raise


def _token() -> str:
    """16 random hex digits: a temporary name no one can guess (``secrets.token_hex(8)``, without
    importing :mod:`secrets` and :mod:`random` on every cached run)."""
    return os.urandom(8).hex()


_TEMP = ".tmp-"
STALE_SECONDS = 600  # a temporary file this old is a leftover of a killed run (SIGKILL): removed


def _prune(folder_fd: int, kept: str, key: bytes) -> None:
    """Remove the snapshots past the :data:`KEPT_SNAPSHOTS` written last (``kept`` among them),
    and the one snapshot of the collection that toolkits before 2026-12-02 wrote (``snapshot``).
    Only names spelled as :func:`snapshot_name` spells them count.

    Snapshots this user's ``key`` did not sign go first (planted, or another user's: a checkout
    dates a committed file now, so by date alone they pushed out the ones in use). A snapshot
    dated in the future (a clock put back) counts as the oldest of its kind: else it would be kept
    for ever. Speed only: a snapshot is a hint checked against the files, never trusted."""
    found: list[tuple[bool, int, str]] = []
    soon = time.time_ns() + 60 * 10**9  # (a network file system's clock may be a little ahead)
    for entry in os.scandir(folder_fd):
        if not entry.name.startswith(INDEX) or entry.name == kept:
            continue
        if entry.name == INDEX:
            with contextlib.suppress(OSError):
                os.unlink(entry.name, dir_fd=folder_fd)
            continue
        if not _SNAPSHOT_NAME.fullmatch(entry.name):
            continue  # (not one of ours: never removed, nor counted; the walk may read it as a record)
        try:
            fd, total, _identity = _open_regular(entry.name, 1 << 62, folder_fd)
        except (OSError, NotRegular):
            continue
        try:
            mtime = os.fstat(fd).st_mtime_ns
            # (a header over 4 MiB is taken as unsigned, not read: planted files claiming 16 MiB each cost that much)
            signed = _signed_header(fd, total, key, 1 << 22) is not None
        except (OSError, Unusable, ValueError, MemoryError):
            mtime, signed = 0, False
        finally:
            os.close(fd)
        found.append((signed, mtime if mtime <= soon else 0, entry.name))
    for _signed, _mtime, name in sorted(found, reverse=True)[KEPT_SNAPSHOTS - 1 :]:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=folder_fd)


_SNAPSHOT_NAME = re.compile(rf"{INDEX}-[0-9a-f]{{16}}")


def _sweep(folder_fd: int) -> None:
    """Remove what killed runs left (``.tmp-*`` files older than :data:`STALE_SECONDS`): a run
    killed while writing cannot clean up after itself, and each would leave a snapshot's size."""
    now = time.time()
    for entry in os.scandir(folder_fd):
        if entry.name.startswith(_TEMP):
            try:
                info = entry.stat(follow_symlinks=False)
                if now - info.st_mtime > STALE_SECONDS:
                    os.unlink(entry.name, dir_fd=folder_fd)
            except OSError:
                pass


#: Problems that say more about the machine than the file: such a result is never cached.
_PASSING = frozenset({"out-of-memory", "file-unreadable"})


def _code_hash() -> str:
    """The bytes of the toolkit's own modules (a few hundred KB, read once per cached run)."""
    digest = hashlib.sha256()
    package = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            with open(os.path.join(package, name), "rb") as stream:
                digest.update(name.encode() + b"\0" + stream.read() + b"\0")
    return digest.hexdigest()


#: The libraries that read and judge a record, by the name they are imported as, with the name of
#: their distribution as a wheel's ``.dist-info`` folder spells it (PEP 427: lower case, ``_``).
LIBRARIES = {
    "yaml": "pyyaml",
    "yaml_rs": "yaml_rs",
    "jsonschema": "jsonschema",
    "jsonschema_rs": "jsonschema_rs",
    "referencing": "referencing",
    "rfc3986_validator": "rfc3986_validator",
}
_MAX_RECORD = 1 << 20  # a wheel's RECORD read at most (a few KB; a larger one is not a wheel's)


def _library_files() -> dict[str, list[t.Any]]:
    """What the libraries that read and judge a record are, found without importing them and
    without ``importlib.metadata`` (40 ms: most of a warm run's overhead).

    A library installed from a wheel is known by the SHA-256 of its ``RECORD`` (PEP 376/627:
    the digest of every file the wheel installed, its compiled parts included), where it sits
    below its ``site-packages`` and the SHA-256 of the file imported (an edit in place, as its
    time showed before): the same files give the same fingerprint however often, and
    wherever, they are installed, as a CI job installs them anew on each run (by their times, as
    before, a cache kept between runs was always emptied). An upgrade changes it. Any other
    install (no ``RECORD`` naming the very file imported: a source tree on the path, a system
    package) is known by where its package file is, with its size and time: a reinstall
    rewrites it."""
    import importlib.util

    found: dict[str, list[t.Any]] = {}
    listings: dict[str, list[str]] = {}
    for name, distribution in LIBRARIES.items():
        try:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
            if origin and spec is not None:
                package = spec.submodule_search_locations is not None  # (a folder, not one module)
                site = os.path.dirname(os.path.dirname(origin) if package else origin)
                recorded = _wheel_record(site, os.path.relpath(origin, site), distribution, listings)
                if recorded is not None:
                    found[name] = recorded
                    continue
            info = os.stat(origin) if origin else None
        except (ImportError, ValueError, OSError):
            origin, info = None, None
        found[name] = [origin, info.st_size, info.st_mtime_ns] if info is not None else [origin]
    return found


def _wheel_record(site: str, relative: str, distribution: str, listings: dict[str, list[str]]) -> list[str] | None:
    """``[relative, sha256 of RECORD, sha256 of the file]`` of the one
    ``<distribution>-<version>.dist-info`` in ``site`` whose ``RECORD`` lists ``relative`` (the
    file imported, as a wheel names it; its own bytes too, as its time did before: an edit in
    place); else None."""
    if site not in listings:
        listings[site] = [entry for entry in os.listdir(site) if entry.lower().endswith(".dist-info")]
    folders = [entry for entry in listings[site] if entry.partition("-")[0].lower().replace(".", "_") == distribution]
    if len(folders) != 1:  # none, or several versions side by side: which one is imported is not known here
        return None
    try:
        data = read_regular(os.path.join(site, folders[0], "RECORD"), _MAX_RECORD)
    except (OSError, NotRegular):
        return None
    named = relative.replace(os.sep, "/").encode("utf-8", "surrogateescape")
    if not any(line.partition(b",")[0] == named for line in data.splitlines()):
        return None
    with open(os.path.join(site, relative), "rb") as imported:  # (edited in place: the cache is emptied)
        content = hashlib.sha256(imported.read()).hexdigest()
    return [relative.replace(os.sep, "/"), hashlib.sha256(data).hexdigest(), content]


class Hashes:
    """Each checked file's SHA-256 (of the very bytes checked) and record count, for the snapshot,
    in the order the files were checked: packed (the names as :class:`~.loader.Names`, 32 bytes
    and a number a file), not two dicts keyed by name (some 300 bytes a file: 30 MB of a run
    that fills the cache at 100,000 files). A worker's chunk sends its own; they are joined in
    order (:meth:`extend`).

    ``expected``: the files the run checks, in its order. While the files come in that order
    (as they do, unless one could not be read), their names are not kept a second time (5 MB
    at 100,000 files): they are ``expected``'s first ones."""

    names: Names
    shas: bytearray
    records: array.array[int]
    _at: dict[str, int] | None  # (by name: made only when asked out of order)
    _expected: Names | None

    def __init__(self, expected: Names | None = None) -> None:
        self.clear()
        self._expected = expected if expected is not None and expected.listed is None else None

    def _follows(self, names: Names) -> bool:
        """Whether ``names`` are the next of the expected files (then they need not be kept);
        if not, every name is kept from here on."""
        expected, done = self._expected, len(self.records)
        if expected is None:
            return False
        if not len(names):
            return True
        if names.listed is None and done + len(names) <= len(expected):
            begin = expected.starts[done]
            end = expected.starts[done + len(names)] if done + len(names) < len(expected) else len(expected.data)
            if end - begin == len(names.data) and memoryview(expected.data)[begin:end] == names.data:
                return True
        self.names, self._expected = expected.head(done), None
        return False

    def note(self, name: str, sha: bytes, records: int) -> None:
        expected, done = self._expected, len(self.records)
        if expected is None or done >= len(expected) or expected[done] != name:
            if expected is not None:
                self.names, self._expected = expected.head(done), None
            self.names.append(name)
        self.shas += sha
        self.records.append(records)
        self._at = None

    def extend(self, other: Hashes) -> None:
        """``other``'s files after these (a later chunk's)."""
        if not self._follows(other.noted()):
            self.names.extend(other.noted())
        self.shas += other.shas
        self.records.extend(other.records)
        self._at = None

    def noted(self) -> Names:
        """The names of the files noted, in order."""
        if self._expected is None:
            return self.names
        done = len(self.records)
        return self._expected if done == len(self._expected) else self._expected.head(done)

    def __len__(self) -> int:
        return len(self.records)

    def clear(self) -> None:
        """Let go of every file noted (their room is given back at once)."""
        import array

        from .loader import Names

        self.names = Names()
        self.shas = bytearray()
        self.records = array.array("q")
        self._at = None
        self._expected = None

    def get(self, name: str) -> tuple[bytes | None, int]:
        """``(SHA-256, records)`` of ``name``; ``(None, 0)`` for a file not checked (or not read)."""
        if self._at is None:
            self._at = {noted: number for number, noted in enumerate(self.noted())}
        number = self._at.get(name)
        if number is None:
            return None, 0
        return bytes(self.shas[number * 32 : number * 32 + 32]), self.records[number]

    def each(self, order: t.Iterable[str]) -> t.Iterator[tuple[bytes | None, int]]:
        """:meth:`get` of each name of ``order``, in its order. For the files of the run, checked
        in its order, walked side by side with the files as they were checked (no name looked up);
        by name otherwise."""
        if order is self._expected and len(self.records) == len(order):  # (the run's own files, all noted)
            for number in range(len(self.records)):
                yield bytes(self.shas[number * 32 : number * 32 + 32]), self.records[number]
            return
        if not self._met_in(order):
            yield from map(self.get, order)
            return
        noted = iter(self.noted())
        waiting = next(noted, None)
        number = 0
        for name in order:
            if name == waiting:
                yield bytes(self.shas[number * 32 : number * 32 + 32]), self.records[number]
                number += 1
                waiting = next(noted, None)
            else:
                yield None, 0

    def _met_in(self, order: t.Iterable[str]) -> bool:
        """Whether every file checked comes in ``order``, in the order they were checked."""
        noted = iter(self.noted())
        waiting = next(noted, None)
        for name in order:
            if waiting is None:
                break
            if name == waiting:
                waiting = next(noted, None)
        return waiting is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hashes):
            return NotImplemented
        return self.noted() == other.noted() and self.shas == other.shas and self.records == other.records

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Hashes({len(self)} files)"

    def __reduce__(self) -> tuple[t.Any, ...]:
        return (_hashes, (list(self.noted()), bytes(self.shas), self.records.tobytes()))


def _hashes(names: list[str], shas: bytes, records: bytes) -> Hashes:
    from .loader import Names

    made = Hashes()
    made.names = Names(names)
    made.shas += shas
    made.records.frombytes(records)
    return made


def content_hash(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()
