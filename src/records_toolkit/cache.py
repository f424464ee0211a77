"""An incremental cache of per-file results, so a run after one change re-reads one file.

What one file contributes to a run (its problems, the ids it defines, the references and quotes
it needs checked, an article's text: :meth:`Checker.state` of that file alone) is a small value.
The cache keeps it per file, keyed by the file's content (SHA-256), and the collection rules
always run again on the merged whole, so a cached run reports exactly what a full run reports.
A file whose size, times and inode are unchanged is not even read (git's index does the same);
one whose content is unchanged after a checkout or ``touch`` is read and hashed, not parsed. A
file changed in the last seconds is not cached (its time stamp could hide a second change).

Everything that could change a result is in the cache's fingerprint: the toolkit's version,
the schema texts, the file size limit and the collection's layout; any change empties the cache.

The cache lives in the tree (``<collection>/.records-toolkit-cache/``, ignored by git through
its own ``.gitignore``), and the tree is untrusted: a pull request can add a cache claiming a
bad file is valid. So the index is signed (HMAC-SHA256) with a key that never leaves this
user's own cache folder (``$XDG_CACHE_HOME/records-toolkit/key``, mode 0600): a cache written
elsewhere, edited, truncated or corrupt is ignored, never trusted. Links are never followed, in
reading or in writing. ``toolkit validate --no-cache`` neither reads nor writes it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import typing as t

from .loader import NotRegular, read_regular

CACHE_DIR = ".records-toolkit-cache"
INDEX = "results.json"
FORMAT = 1
#: The index read at most: 16 MiB plus 16 KiB per file of the run (a record's result is about
#: 1 KB; article texts are kept too). A larger index, planted or not, is ignored unread.
MAX_INDEX_BASE = 16 << 20
MAX_INDEX_PER_FILE = 16 << 10
RACY_NS = 2_000_000_000  # a file changed this recently (ns) is not cached
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)

Signature = list[int]  # size, mtime_ns, ctime_ns, inode, device


def signature(info: os.stat_result) -> Signature:
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev]


def secret_key() -> bytes | None:
    """This user's signing key, made on first use; None when it cannot be had (then no cache)."""
    given = os.environ.get("XDG_CACHE_HOME", "")
    # a relative XDG_CACHE_HOME is to be ignored (XDG Base Directory spec): it could put the key
    # in the very tree the key is there to distrust
    base = given if os.path.isabs(given) else os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "records-toolkit")
    path = os.path.join(folder, "key")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        try:
            key = read_regular(path, 64)
        except FileNotFoundError:
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


def fingerprint(*, version: str, schemas: t.Mapping[str, t.Any], max_bytes: int, layout: t.Any) -> str:
    """What a cached result depends on besides the file itself: the toolkit (its version and the
    bytes of its own modules, so an edited or patched install counts), the libraries that read
    and judge a record, the schemas, the size limit and the layout."""
    parts = {
        "format": FORMAT,
        "version": version,
        "code": _code_hash(),
        "libraries": _library_files(),
        "schemas": schemas,
        "max_bytes": max_bytes,
        "layout": None if layout is None else [layout.root, layout.shown],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ResultCache:
    """The per-file results of the last run over one collection, read once and written once."""

    def __init__(self, folder: str, fingerprint: str, key: bytes, entries: dict[str, t.Any]) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self._key = key
        self._old = entries  # file -> [signature, sha256, state]
        self._new: dict[str, t.Any] = {}
        self._started = time.time_ns()
        self.hits = 0
        self.misses = 0

    @classmethod
    def open(cls, root: str, fingerprint: str, files: int = 0) -> ResultCache | None:
        """The cache of the collection at ``root``: empty when missing, foreign, stale or corrupt."""
        key = secret_key()
        if key is None:
            return None
        folder = os.path.join(root, CACHE_DIR)
        entries: dict[str, t.Any] = {}
        try:
            fd = os.open(folder, os.O_RDONLY | _DIRECTORY | _NO_FOLLOW)
        except OSError:
            fd = None
        if fd is not None:
            try:
                raw = read_regular(INDEX, MAX_INDEX_BASE + MAX_INDEX_PER_FILE * files, dir_fd=fd)
                mac, _, body = raw.partition(b"\n")
                del raw
                expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
                if hmac.compare_digest(mac, expected):
                    document = json.loads(body)
                    if document.get("fingerprint") == fingerprint and isinstance(document.get("files"), dict):
                        entries = document["files"]
            except (OSError, NotRegular, ValueError, MemoryError, AttributeError):
                entries = {}
            finally:
                os.close(fd)
        return cls(folder, fingerprint, key, entries)

    def lookup(self, file: str, sig: Signature) -> dict[str, t.Any] | None:
        """The cached state of ``file`` when its signature is unchanged (no read at all)."""
        entry = self._old.get(file)
        if isinstance(entry, list) and len(entry) == 3 and entry[0] == sig:
            state = _thaw_or_none(entry[2])
            if state is not None:
                self._new[file] = entry
                self.hits += 1
            return state
        return None

    def known(self, file: str) -> bool:
        """Whether the last run cached ``file`` (then its content is worth hashing)."""
        return file in self._old

    def lookup_content(self, file: str, sig: Signature, sha: str) -> dict[str, t.Any] | None:
        """The cached state of ``file`` when its content is unchanged (read and hashed, not parsed)."""
        entry = self._old.get(file)
        if isinstance(entry, list) and len(entry) == 3 and entry[1] == sha:
            state = _thaw_or_none(entry[2])
            if state is not None:
                self._store(file, sig, sha, entry[2])
                self.hits += 1
            return state
        return None

    def put(self, file: str, sig: Signature, sha: str, state: dict[str, t.Any]) -> None:
        self.misses += 1
        if any(problem.code in _PASSING for problem in state["problems"]):
            return  # the machine's state, not the file's: next time it may load
        self._store(file, sig, sha, freeze(state))

    def _store(self, file: str, sig: Signature, sha: str, frozen: t.Any) -> None:
        if sig[1] >= self._started - RACY_NS or sig[2] >= self._started - RACY_NS:
            return  # changed a moment ago: a second change in the same tick would go unseen
        self._new[file] = [sig, sha, frozen]

    def save(self) -> None:
        """Write the results of this run (only the files it read), all or nothing; errors are ignored."""
        if self._new == self._old:
            return
        try:  # ASCII: a file name that is not UTF-8 (a lone surrogate) is kept as an escape
            body = json.dumps({"fingerprint": self.fingerprint, "files": self._new}, separators=(",", ":")).encode()
        except (ValueError, TypeError, MemoryError):
            return  # the cache is an optimisation: it never fails the run
        mac = hmac.new(self._key, body, hashlib.sha256).hexdigest().encode()
        try:
            try:
                os.mkdir(self.folder, 0o700)
            except FileExistsError:
                pass
            fd = os.open(self.folder, os.O_RDONLY | _DIRECTORY | _NO_FOLLOW)  # a planted link is refused
        except OSError:
            return
        try:
            _write_in(fd, ".gitignore", b"# the toolkit's cache of validation results: never commit it\n*\n")
            _write_in(fd, INDEX, mac + b"\n" + body)
        except OSError:
            pass
        finally:
            os.close(fd)


def _write_in(folder_fd: int, name: str, data: bytes) -> None:
    """Write ``name`` in the folder ``folder_fd`` through a new temporary file and a rename."""
    temp = f".tmp-{os.getpid()}-{name}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NO_FOLLOW, 0o600, dir_fd=folder_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        os.unlink(temp, dir_fd=folder_fd)
        raise
    os.close(fd)
    os.replace(temp, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)


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


def _library_files() -> dict[str, list[t.Any]]:
    """Where the libraries that read and judge a record are installed, with the size and time of
    their package file: an upgrade or reinstall rewrites it. Found without importing them, and
    without ``importlib.metadata`` (40 ms: most of a warm run's overhead)."""
    import importlib.util

    found: dict[str, list[t.Any]] = {}
    for name in ("yaml", "yaml_rs", "jsonschema", "jsonschema_rs", "referencing", "rfc3986_validator"):
        try:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
            info = os.stat(origin) if origin else None
        except (ImportError, ValueError, OSError):
            origin, info = None, None
        found[name] = [origin, info.st_size, info.st_mtime_ns] if info is not None else [origin]
    return found


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# -- a file's state as JSON, and back -----------------------------------------------------------

_PROBLEM_FIELDS = ("file", "line", "column", "pointer", "code", "message", "severity", "document")


def freeze(state: dict[str, t.Any]) -> dict[str, t.Any]:
    """A per-file :meth:`Checker.state` (without kept records) as JSON values."""
    return {
        "problems": [[getattr(p, name) for name in _PROBLEM_FIELDS] for p in state["problems"]],
        "records": state["records"],
        "pending": [[p.file, p.document, p.pointer, p.code, p.message, p.at_key] for p in state["pending"]],
        "overflow": state["overflow"],
        "ids": state["ids"],
        "repeats": state["repeats"],
        "refs": state["refs"],
        "quotes": state["quotes"],
        "articles": state["articles"],
    }


def _thaw_or_none(frozen: t.Any) -> dict[str, t.Any] | None:
    """A cached state, or None when it does not read back (then the file is checked again)."""
    try:
        return thaw(frozen)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def thaw(frozen: dict[str, t.Any]) -> dict[str, t.Any]:
    """:func:`freeze` undone: the state :meth:`Checker.merge` takes."""
    from .problems import Problem
    from .rules import Pending

    # The indexes stay as JSON gave them (lists for tuples: the rules only unpack and compare
    # them); the signature vouches that this toolkit wrote them, so only the shape is checked.
    refs, quotes, ids = frozen["refs"], frozen["quotes"], frozen["ids"]
    if not (isinstance(refs, list) and isinstance(quotes, list) and isinstance(ids, dict)):
        raise TypeError("not a cached state")
    return {
        "problems": [Problem(**dict(zip(_PROBLEM_FIELDS, p, strict=True))) for p in frozen["problems"]],
        "records": int(frozen["records"]),
        "pending": [Pending(*p) for p in frozen["pending"]],
        "overflow": dict(frozen["overflow"]),
        "ids": ids,
        "repeats": frozen["repeats"],
        "refs": refs,
        "quotes": quotes,
        "articles": dict(frozen["articles"]),
        "kept": [],
    }
