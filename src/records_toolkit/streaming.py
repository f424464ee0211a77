"""Exports that stream: the records pass through validation once, are kept on disk, not in memory.

``toolkit export`` validates first and writes nothing unless every record is valid; then the
format sees every record, sorted by ``(type, id)``. Holding the whole collection as Python
objects for that (and the whole output as bytes) made an export of 100,000 records peak at 2 GiB.
Here:

* :func:`collect` validates the files as ``validate`` does (the same :class:`~.validate.Checker`,
  the same worker processes) and each worker writes the valid records, keys in canonical order,
  as ``marshal`` blobs into one unnamed temporary file (:class:`Spool`: it has no name, so it is
  gone however the process ends, ``kill -9`` included). Only ``(type, id, offset, length)`` per
  record comes back to the main process.
* :class:`Records` is the collection sorted by ``(type, id)``: a read-only sequence whose items
  are decoded from the spool when asked for (a fresh dict each time, so a format can never change
  a record another one sees). ``of_type`` gives the records of one type (a contiguous run).
* The formats write their files in pieces (:data:`~.output.Producer`) straight into the
  all-or-nothing staging of :mod:`.output`.

Memory is then the per-record keys (about a hundred bytes each), the collection indexes of the
validation, and what a format keeps about the collection (names for references, never records).
"""

from __future__ import annotations

import bisect
import marshal
import os
import tempfile
import threading
import typing as t
import weakref

from .problems import Problem, Report

if t.TYPE_CHECKING:
    from . import validate
    from .collection import Layout, Scope
    from .errors import CouldNotRun
    from .loader import Document, Names, Walked
    from .plugins import Record
    from .progress import Progress
    from .schemas import Model, Template

__all__ = ["Records", "Spool", "SpoolFiles", "collect", "of_records"]

Key = tuple[str, str, int, int]
"""``(type, id, offset, length)`` of one spooled record."""


class Counter(t.Protocol):
    """Told of each record read (:class:`~.progress.Progress`, or a worker's count of its slice)."""

    def record_read(self) -> None: ...


class Spool:
    """Blobs appended to one unnamed temporary file, read back by offset.

    The file is opened before worker processes are forked, so they inherit it; each append takes
    a POSIX record lock (``lockf``, which holds between processes) to find the end and write
    there with ``pwrite`` (never ``os.write``: nothing else in the file's offset is assumed).
    """

    def __init__(self) -> None:
        self._file: t.IO[bytes] | None = None
        self.fd = -1
        self.directory = ""  # where the file is (its room is the spool's)
        # O_TMPFILE (no name at all) in the temporary directory, opened directly: tempfile's own
        # choice of directory first probes it by writing a file (an os.write before any export write)
        flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_TMPFILE", 0)
        if flags & getattr(os, "O_TMPFILE", 0):
            for directory in (os.environ.get("TMPDIR"), "/tmp", "/var/tmp"):
                if directory:
                    try:
                        self.fd = os.open(directory, flags, 0o600)
                        self.directory = directory
                        break
                    except OSError:
                        continue
        if self.fd < 0:  # no O_TMPFILE here: a named file, removed at once
            self._file = tempfile.TemporaryFile(prefix=".toolkit-spool-")
            self.fd = self._file.fileno()
            self.directory = tempfile.gettempdir()
        elif self.fd < 3:  # a standard stream was closed: never let -o /dev/stdout reopen the spool
            import fcntl

            low, self.fd = self.fd, fcntl.fcntl(self.fd, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(low)

    def append(self, blob: bytes) -> int:
        """Write ``blob`` at the end of the file; its offset."""
        import fcntl

        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            offset = os.fstat(self.fd).st_size
            view, at = memoryview(blob), offset
            while view:
                done = os.pwrite(self.fd, view, at)
                view, at = view[done:], at + done
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        return offset

    def read(self, offset: int, length: int) -> bytes:
        return _read_all(self.fd, offset, length)

    def refused(self, what: str, exc: OSError, *, hint: str = "free room there, or set TMPDIR") -> CouldNotRun:
        """The error of an append that failed (the file system full): where, and what to do."""
        from .errors import CouldNotRun

        return CouldNotRun(
            f"the export's temporary file (in {self.directory}) could not take {what}: {exc.strerror or exc}; "
            f"nothing was changed ({hint})"
        )

    def store(self, records: t.Iterable[tuple[str, str, dict[str, t.Any]]]) -> list[Key]:
        """Append ``(type, id, record)`` items in one write; their keys."""
        blobs = Marshalled()
        for type_name, record_id, record in records:
            blobs.add(type_name, record_id, record)
        return blobs.store(self)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        elif self.fd >= 0:
            os.close(self.fd)
        self.fd = -1


class Marshalled:
    """Records marshalled one by one, appended to a spool in one write (:meth:`store`)."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.keys: list[Key] = []  # (offsets from the first blob's start)
        self._at = 0

    def add(self, type_name: str, record_id: str, record: dict[str, t.Any]) -> None:
        blob = marshal.dumps(record)
        self.blobs.append(blob)
        self.keys.append((type_name, record_id, self._at, len(blob)))
        self._at += len(blob)

    def store(self, spool: Spool) -> list[Key]:
        """Append the blobs to ``spool``; each record's key there."""
        if not self.blobs:
            return []
        start = spool.append(b"".join(self.blobs))
        keys = [(type_name, record_id, start + at, length) for type_name, record_id, at, length in self.keys]
        self.blobs.clear()
        self.keys.clear()
        self._at = 0
        return keys


class Checked(Marshalled):
    """The valid records of some files in canonical key order, each marshalled as soon as its
    checks pass (:class:`~.validate.Checker`'s ``on_valid``), while its values are still in the
    processor's caches. Gathered first and marshalled after, they cost the workers of an export
    a third more than the checks alone; this way, a sixth (issue 11)."""

    def __init__(self, model: Model) -> None:
        super().__init__()
        self._canonical = _orderer(model)

    def add_valid(self, doc: Document) -> None:
        data = t.cast(dict[str, t.Any], doc.data)
        self.add(str(data["type"]), str(data["id"]), self._canonical(data))


def _read_all(fd: int, offset: int, length: int) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:  # a short read (a signal): go on
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise OSError(f"the export's temporary file ended at {offset + len(data)} (expected {offset + length})")
        data += more
    return data


class SpoolFiles:
    """Spools that other processes wrote (the workers of a Dask cluster), files in one directory,
    read by offset as one :class:`Spool`: the bits of an offset above :data:`SHIFT` number the file."""

    SHIFT = 40
    """Each spool file holds less than 1 TiB (a chunk of at most a few thousand files does)."""

    def __init__(self, directory: str, names: t.Sequence[str], *, owned: bool = False) -> None:
        self.directory, self.names, self.owned = directory, list(names), owned
        self._fds: dict[int, int] = {}

    def offset(self, name: str, offset: int) -> int:
        """The offset in this set of ``offset`` in the file ``name`` (one of :attr:`names`)."""
        return (self.names.index(name) << self.SHIFT) | offset

    def read(self, offset: int, length: int) -> bytes:
        number = offset >> self.SHIFT
        fd = self._fds.get(number)
        if fd is None:
            flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            fd = self._fds[number] = os.open(os.path.join(self.directory, self.names[number]), flags)
        return _read_all(fd, offset & ((1 << self.SHIFT) - 1), length)

    def close(self) -> None:
        """Close the files; the directory is removed too when this process made it (``owned``)."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self.owned:
            import shutil

            shutil.rmtree(self.directory, ignore_errors=True)
            self.owned = False


class Records(t.Sequence["Record"]):
    """The records of an export sorted by ``(type, id)``, decoded from a :class:`Spool` when read.

    Each read gives a new dict (plain JSON values, keys in canonical order). ``len``, ``types``,
    ``ids`` and ``of_type`` need no decoding.
    """

    unsettled: t.Callable[[], None] | None = None
    """The collection rules still to run when :func:`collect` left them for later (``later``): see :meth:`settle`."""

    def __init__(self, spool: Spool | SpoolFiles, keys: list[Key]) -> None:
        import array
        import sys

        self._spool = spool
        keys.sort()
        self.vouched = False  # (loaded without checks, the result cache vouching: see collect)
        self.counter: Counter | None = None  # told of each record read (the progress of an export)
        self.types: list[str] = [sys.intern(k[0]) for k in keys]
        self.ids: list[str] = [k[1] for k in keys]
        self._offsets = array.array("q", (k[2] for k in keys))
        self._lengths = array.array("q", (k[3] for k in keys))
        keys.clear()
        self._start, self._stop = 0, len(self.ids)

    @classmethod
    def _view(cls, parent: Records, start: int, stop: int) -> Records:
        view = cls.__new__(cls)
        view._spool = parent._spool
        view.types, view.ids = parent.types, parent.ids
        view._offsets, view._lengths = parent._offsets, parent._lengths
        view._start, view._stop = start, stop
        view.vouched, view.counter = parent.vouched, parent.counter
        return view

    @property
    def spool(self) -> Spool | SpoolFiles:
        """Where the records are read from."""
        return self._spool

    def __len__(self) -> int:
        return self._stop - self._start

    @t.overload
    def __getitem__(self, index: int) -> Record: ...
    @t.overload
    def __getitem__(self, index: slice) -> Records: ...
    def __getitem__(self, index: int | slice) -> Record | Records:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("Records: only contiguous slices")
            return Records._view(self, self._start + start, self._start + max(start, stop))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("record index out of range")
        return self._read(self._start + index)

    def _read(self, position: int) -> Record:
        if self.counter is not None:
            self.counter.record_read()
        return t.cast("Record", marshal.loads(self._spool.read(self._offsets[position], self._lengths[position])))

    def __iter__(self) -> t.Iterator[Record]:
        for position in range(self._start, self._stop):
            yield self._read(position)

    def keys(self) -> t.Iterator[tuple[str, str]]:
        """``(type, id)`` of each record, in order, without decoding any."""
        for position in range(self._start, self._stop):
            yield self.types[position], self.ids[position]

    def sizes(self, start: int, stop: int) -> t.Sequence[int]:
        """The spooled bytes of the records ``start:stop`` (what a format will read of each)."""
        return self._lengths[self._start + start : self._start + stop]

    def of_type(self, type_name: str) -> Records:
        """The records of ``type_name`` (a contiguous run, since they are sorted by type)."""
        start, stop = self.span(type_name)
        return self[start:stop]

    def span(self, type_name: str) -> tuple[int, int]:
        """``(start, stop)``: where the records of ``type_name`` are in this sequence."""
        start = bisect.bisect_left(self.types, type_name, self._start, self._stop)
        stop = bisect.bisect_right(self.types, type_name, start, self._stop)
        return start - self._start, stop - self._start

    def close(self) -> None:
        self._spool.close()

    def settle(self) -> None:
        """Run the collection rules :func:`collect` left for later (once): their problems raise
        :class:`~.errors.InvalidRecords`. Nothing may be written from these records before."""
        pending, self.unsettled = self.unsettled, None
        if pending is not None:
            pending()

    # -- parts (toolkit export --parts N, plugins.Partitioned) -------------------------------------

    def partition(self, parts: int) -> list[Records]:
        """The records in at most ``parts`` parts: part *k* holds, of each type with *n* records,
        the *k*-th of ``min(parts, n)`` near-equal runs (so no part is empty; at least one part)."""
        parts = min(parts, max(1, len(self)))  # (at most one part per record: the cost follows the records)
        ranges: list[list[tuple[int, int]]] = [[] for _ in range(parts)]
        start = self._start
        while start < self._stop:
            stop = bisect.bisect_right(self.types, self.types[start], start, self._stop)
            count = stop - start
            split = min(parts, count)
            for number in range(split):
                ranges[number].append((start + number * count // split, start + (number + 1) * count // split))
            start = stop
        return [self._picked(part) for part in ranges if part] or [self[0:0]]

    def _picked(self, ranges: t.Sequence[tuple[int, int]]) -> Records:
        import array

        types: list[str] = []
        ids: list[str] = []
        offsets, lengths = array.array("q"), array.array("q")
        for start, stop in ranges:
            types += self.types[start:stop]
            ids += self.ids[start:stop]
            offsets += self._offsets[start:stop]
            lengths += self._lengths[start:stop]
        return Records.of_keys(self._spool, (types, ids, offsets, lengths))

    def key_arrays(self) -> tuple[list[str], list[str], t.Any, t.Any]:
        """``(types, ids, offsets, lengths)`` of these records: picklable, for :meth:`of_keys` elsewhere."""
        a, b = self._start, self._stop
        return self.types[a:b], self.ids[a:b], self._offsets[a:b], self._lengths[a:b]

    @classmethod
    def of_keys(cls, spool: Spool | SpoolFiles, arrays: tuple[list[str], list[str], t.Any, t.Any]) -> Records:
        """The records of :meth:`key_arrays` (already sorted) over ``spool``."""
        view = cls.__new__(cls)
        view._spool = spool
        view.types, view.ids, view._offsets, view._lengths = arrays
        view._start, view._stop = 0, len(view.ids)
        view.vouched, view.counter = False, None
        return view


class _KeyColumns:
    """The keys of the records spooled so far, gathered chunk by chunk as columns: about 90 bytes
    a record where a list of ``(type, id, offset, length)`` tuples took some 200 (at 100,000
    records, the main process of an export grew by 20 MB through the checks for them)."""

    def __init__(self) -> None:
        import array

        self.types: list[str] = []
        self.ids: list[str] = []
        self.offsets = array.array("q")
        self.lengths = array.array("q")

    def extend(self, keys: t.Iterable[Key]) -> None:
        import sys

        for type_name, record_id, offset, length in keys:
            self.types.append(sys.intern(type_name))
            self.ids.append(record_id)
            self.offsets.append(offset)
            self.lengths.append(length)

    def __len__(self) -> int:
        return len(self.ids)

    def records(self, spool: Spool | SpoolFiles) -> Records:
        """The :class:`Records` of these keys, sorted as :class:`Records` sorts them (by type, id,
        then offset), a type at a time: no tuple is made for every record at once. The columns
        are emptied."""
        import array

        types, ids, offsets, lengths = self.types, self.ids, self.offsets, self.lengths
        groups: dict[str, list[int]] = {}
        for position, type_name in enumerate(types):
            group = groups.get(type_name)
            if group is None:
                group = groups[type_name] = []
            group.append(position)
        order = array.array("q")
        for type_name in sorted(groups):
            group = groups.pop(type_name)
            group.sort(key=lambda i: (ids[i], offsets[i]))
            order.extend(group)
            del group
        sorted_keys = (
            [types[i] for i in order],
            [ids[i] for i in order],
            array.array("q", (offsets[i] for i in order)),
            array.array("q", (lengths[i] for i in order)),
        )
        self.__init__()  # type: ignore[misc]
        return Records.of_keys(spool, sorted_keys)


def of_records(records: t.Iterable[t.Mapping[str, t.Any]]) -> Records:
    """Validated records held in memory (plain JSON values), as :class:`Records`."""
    spool = Spool()
    keys = spool.store((str(r["type"]), str(r["id"]), dict(r)) for r in records)
    return Records(spool, keys)


# -- the validation pass ---------------------------------------------------------------------------

_SPOOL: Spool | None = None  # the spool of the collect() running now (inherited by forked workers)
_SPOOLING = threading.Lock()  # (one collect() at a time sets it, whatever the threads)
_BATCH = 1000  # files per batch in this process (without workers)


class _Keys:
    """One place of a record type's key order: the ranks of a mapping's keys there, the place of
    each key's value below (``"*"``: a list's items), and the keys whose values the schema proves
    scalar (:func:`~.schema_types.scalar_paths`). ``seen``: for each tuple of keys met here, in
    order, the keys to look into (or False: not in order); the records of a collection share a few
    hundred shapes, so each is worked out once."""

    __slots__ = ("below", "rank", "scalar", "seen")

    def __init__(self) -> None:
        self.rank: dict[str, int] = {}
        self.below: dict[str, _Keys] = {}
        self.scalar: set[str] = set()
        self.seen: dict[tuple[str, ...], tuple[tuple[str, _Keys], ...] | t.Literal[False]] = {}


_SHAPES = 4096  # key tuples remembered at one place at most (a collection of odd shapes grows no further)
_ORDERERS: weakref.WeakKeyDictionary[Model, t.Callable[[dict[str, t.Any]], dict[str, t.Any]]]
_ORDERERS = weakref.WeakKeyDictionary()


def _orderer(model: Model) -> t.Callable[[dict[str, t.Any]], dict[str, t.Any]]:
    """:func:`~.canonical.canonical_record` for the valid records of ``model``, with the ranks
    computed once (per model: each chunk of a validation asks again).

    Same result (keys of every mapping in the schema's order, unknown keys last and sorted), a
    fraction of the time: a record whose keys are already in order (a canonical file) is kept as
    it is, neither sorted nor copied. Telling that is most of the work (7 to 8 µs a record, the
    third of what an export adds to the checks): each mapping's tuple of keys is looked up among
    those already seen at its place, and only values the schema does not prove scalar are looked
    into (1.9 µs). A record must be valid against ``model`` (a scalar where one is proven).
    """
    known = _ORDERERS.get(model)
    if known is not None:
        return known
    from .schema_types import scalar_paths

    plain = (str, int, float, bool, type(None))
    bare = _Keys()  # (a place the schema does not name: its keys sorted by name)

    def plan_of(key_order: t.Mapping[Template, t.Sequence[str]], scalars: t.Iterable[Template]) -> _Keys:
        root = _Keys()
        for path, keys in key_order.items():
            node = root
            for token in path:
                node = node.below.setdefault(token, _Keys())
            node.rank.update({key: i for i, key in enumerate(keys)})
        for path in scalars:
            node = root
            for token in path[:-1]:
                node = node.below.get(token, bare)
            if node is not bare:
                node.scalar.add(path[-1])
        return root

    def shape(keys: tuple[str, ...], plan: _Keys) -> tuple[tuple[str, _Keys], ...] | t.Literal[False]:
        rank, scalar, below = plan.rank, plan.scalar, plan.below
        last = -1
        into: list[tuple[str, _Keys]] = []
        for key in keys:
            position = rank.get(key, -1) if type(key) is str else -1
            if position <= last:  # out of order, or a key the schema does not name
                return False
            last = position
            if key not in scalar:
                into.append((key, below.get(key, bare)))
        return tuple(into)

    def in_order(value: dict[str, t.Any], plan: _Keys) -> bool:
        """Whether every mapping in ``value`` has only known keys, in their order (nothing to do)."""
        keys = tuple(value)
        into = plan.seen.get(keys)
        if into is None:
            into = shape(keys, plan)
            if len(plan.seen) < _SHAPES:
                plan.seen[keys] = into
        if into is False:
            return False
        for key, below in into:
            item = value[key]
            if type(item) not in plain and not fits(item, below):
                return False
        return True

    def fits(value: t.Any, plan: _Keys) -> bool:
        """Whether ``value`` (a mapping, or a list of values, lists included) is in order at ``plan``."""
        kind = type(value)
        if kind is dict:
            return in_order(value, plan)
        if kind is not list:
            return kind in plain
        inner = plan.below.get("*", bare)
        for each in value:
            if type(each) not in plain and not fits(each, inner):
                return False
        return True

    def order(value: t.Any, plan: _Keys) -> t.Any:
        if type(value) in plain:
            return value
        if isinstance(value, dict):
            rank, below = plan.rank, plan.below
            keys = list(value)
            positions = [rank.get(k, -1) for k in keys]
            if -1 in positions or positions != sorted(positions):
                keys.sort(key=lambda k: (0, rank[k], "") if k in rank else (1, 0, str(k)))
            return {k: order(value[k], below.get(k, bare)) for k in keys}
        if isinstance(value, list):
            inner = plan.below.get("*", bare)
            return [order(item, inner) for item in value]
        return value

    plans = {name: plan_of(info.key_order, scalar_paths(model.schemas, name)) for name, info in model.types.items()}
    default = plan_of({(): ("id", "type")}, ())

    def canonical(record: dict[str, t.Any]) -> dict[str, t.Any]:
        type_name = record.get("type")
        plan = plans.get(type_name, default) if isinstance(type_name, str) else default
        if in_order(record, plan):
            return record  # (a canonical file's record: kept as it is, not copied)
        return t.cast(dict[str, t.Any], order(record, plan))

    _ORDERERS[model] = canonical
    return canonical


def _spool_chunk(files: list[str], keep: bool, max_bytes: int, layout: Layout | None = None) -> dict[str, t.Any]:
    """Check some files (in a worker, or here); spool their valid records; the checker's state
    without them. The names are kept as the walk spells them (a URL is no local path)."""
    from .schemas import load_model
    from .validate import Checker

    assert _SPOOL is not None
    checked = Checked(load_model())
    checker = Checker(layout=layout, on_valid=checked.add_valid)
    checker.add_files(files, max_bytes)
    state = checker.state()
    state["spooled"] = checked.store(_SPOOL)
    return state


def _chunks(
    work: t.Callable[..., dict[str, t.Any]], files: Names, max_bytes: int, layout: Layout | None, workers: int
) -> t.Iterable[dict[str, t.Any]]:
    """``work`` over contiguous chunks of ``files``, the results in order: in ``workers`` forked
    processes for a large tree, else here, a batch at a time."""
    from . import validate

    if workers > 1 and len(files) >= validate.PARALLEL_FROM and validate._can_fork():
        return validate._in_workers(files, True, max_bytes, layout, workers, work)
    return (work(files[i : i + _BATCH], True, max_bytes, layout) for i in range(0, len(files), _BATCH))


def scope_of(paths: t.Sequence[str | os.PathLike[str]]) -> Scope | None:
    """The collection ``paths`` lie in, as ``validate`` finds it (its layout rule applies to an
    export too); None for fsspec URLs. A broken config is a UsageError, as for ``validate``."""
    from .collection import resolve

    if any(isinstance(path, str) and "://" in path for path in paths):
        return None
    return resolve(list(paths), True)


def _load_chunk(files: list[str], keep: bool, max_bytes: int, layout: Layout | None = None) -> dict[str, t.Any]:
    """Load some files whose checks the result cache vouches for (see :func:`collect`) and spool
    their records; each file's SHA-256 of the very bytes loaded. ``usable`` False: a file that
    does not load as a run that found no problem would have loaded it (then nothing is kept)."""
    from .cache import content_hash
    from .loader import load_bytes, read_regular
    from .schemas import load_model

    assert _SPOOL is not None
    canonical = _orderer(load_model())
    hashes: list[bytes] = []
    items: list[tuple[str, str, dict[str, t.Any]]] = []
    for name in files:
        try:
            raw = read_regular(name, max_bytes)
        except OSError:
            return {"usable": False}
        hashes.append(content_hash(raw))
        for loaded in load_bytes(raw, name):
            data = None if isinstance(loaded, Problem) else loaded.data
            if not isinstance(data, dict) or type(data.get("type")) is not str or type(data.get("id")) is not str:
                return {"usable": False}  # a problem, or no record: not what the cache vouched for
            items.append((t.cast(str, data["type"]), t.cast(str, data["id"]), canonical(data)))
    return {"usable": True, "hashes": b"".join(hashes), "spooled": _SPOOL.store(items)}


def _has_cache(scope: Scope) -> bool:
    """Whether the collection ``scope`` is of has a result cache folder that :func:`_vouched` may ask."""
    from .cache import CACHE_DIR

    return scope.root is not None and scope.context is None and os.path.isdir(os.path.join(scope.root, CACHE_DIR))


def _vouched(scope: Scope, files: Names, stats: Walked, max_bytes: int) -> bytes | None:
    """Each file's SHA-256 when the result cache of the collection ``scope`` is of (written by
    ``toolkit validate``) vouches that a check of these very files, unchanged since, finds no
    problem (:func:`.incremental.vouched`); else None. Never writes the cache, nor makes a
    signing key (without one the cache is not read), and a collection without a cache folder is
    not asked. The names are compared as the walk spells them: an export from another working
    folder, or naming the collection otherwise (an absolute path), checks everything."""
    from . import incremental, validate
    from .schemas import load_model

    if not _has_cache(scope) or scope.root is None:
        return None
    store = validate._open_cache(scope.root, load_model(), max_bytes, scope.layout, len(files), make_key=False)
    if store is None or store.empty:
        return None
    try:
        return incremental.vouched(store, files, stats)
    finally:
        store.close()


def _load_vouched(
    files: Names, expected: bytes, max_bytes: int, workers: int, progress: Progress | None = None
) -> _KeyColumns | None:
    """The keys of the records of ``files``, loaded and spooled without being checked, when each
    file read now is the one the cache vouched for (its SHA-256 in ``expected``); else None (then
    what was spooled is of no use)."""
    chunks = _chunks(_load_chunk, files, max_bytes, None, workers)
    keys = _KeyColumns()
    at = 0
    try:
        for state in chunks:
            hashes = state.get("hashes", b"")
            if not state["usable"] or hashes != expected[at : at + len(hashes)]:
                return None  # (a file changed since it was checked: the export checks everything)
            at += len(hashes)
            keys.extend(state["spooled"])
            if progress is not None:
                progress.add(len(hashes) // 32, len(state["spooled"]))  # (a SHA-256 a file)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # (the worker pool stopped, when left early)
    return keys if at == len(expected) else None


def collect(
    paths: t.Sequence[str | os.PathLike[str]],
    *,
    max_bytes: int,
    jobs: int | None = None,
    cache: bool = False,
    progress: Progress | None = None,
    later: bool = False,
) -> Records:
    """Validate the records under ``paths`` (as ``validate`` does, the collection's layout rule
    included when they lie in one; their references resolve among themselves) and spool them; the
    report's problems raise :class:`~.errors.InvalidRecords`, nothing kept.

    ``cache``: when ``paths`` name a collection whose result cache vouches for every file as it
    is now (a ``toolkit validate`` of the same files found no problem, none changed since), the
    records are loaded and spooled without being checked again (:func:`_vouched`): about half the
    work. Anything else, and the checks run as without it. ``progress``: counts the files and
    records as they are checked (or loaded), and is told of each record the format reads.

    ``later``: the collection rules (references, duplicates, quotes: once every file is checked)
    are left to :meth:`Records.settle`, which the caller runs before it writes anything: an
    export in slices runs them while its workers write."""
    from . import validate
    from .loader import Walked
    from .workers import count

    global _SPOOL
    scope = scope_of(paths)
    remote, layout = scope is None, None if scope is None else scope.layout
    spool = Spool()
    try:
        checker = validate.Checker(keep=False, spill=True)
        checker.progress = progress
        stats = Walked() if cache and scope is not None and _has_cache(scope) else None
        if stats is None and validate.Streamed.fits(paths, jobs):  # no cache to ask: checked while walked
            walked = validate.Streamed(paths, jobs, least=validate.PARALLEL_FROM)  # (as _chunks decides)
            return _collect_streamed(walked, checker, spool, max_bytes, layout, progress, later)
        files = validate.walk_into(checker, paths, stats, jobs=jobs, shared=True)
        checker.expect(len(files))
        workers = count(jobs)
        expected = None
        if stats is not None and scope is not None and not checker.report.problems:
            expected = _vouched(scope, files, stats, max_bytes)
        del stats  # (the walk's signatures: only the cache compares them)
        if expected is not None:
            if progress is not None:
                progress.did = "loaded"
            with _SPOOLING:
                _SPOOL = spool
                try:
                    vouched = _load_vouched(files, expected, max_bytes, workers, progress)
                finally:
                    _SPOOL = None
            del expected
            if vouched is not None:
                records = vouched.records(spool)
                records.vouched, records.counter = True, progress
                return records
            spool.close()  # (what was spooled before a file proved changed)
            spool = Spool()
            if progress is not None:  # (counted again, as they are checked)
                progress.did, progress.files, progress.records = "checked", 0, 0
        if remote:
            from .remote import remote_urls

            if remote_urls(paths):  # fsspec URLs (:mod:`.remote`): read in this process
                workers = 1
        return _checked(_chunks(_spool_chunk, files, max_bytes, layout, workers), checker, spool, progress, later)
    except BaseException:
        spool.close()
        raise


def _checked(
    states: t.Iterable[dict[str, t.Any]],
    checker: validate.Checker,
    spool: Spool,
    progress: Progress | None,
    later: bool,
    walked: validate.Streamed | None = None,
) -> Records:
    """The records spooled by the chunks' ``states`` (which the workers, forked meanwhile, write
    into ``spool``), each state merged into ``checker``; the collection rules run now, or in
    :meth:`Records.settle` when ``later``. ``walked``: the walk that found the files, whose
    problems go first (:meth:`.validate.Streamed.into`)."""
    from .errors import CouldNotRun

    global _SPOOL
    keys = _KeyColumns()
    with _SPOOLING:
        _SPOOL = spool
        try:
            for state in states:
                keys.extend(state.pop("spooled"))
                checker.merge(state)
        except OSError as exc:  # the worker pool or the machine, not the records
            import errno

            if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                raise spool.refused("its records", exc) from exc
            raise CouldNotRun(f"validation could not run: {exc.strerror or exc}") from exc
        finally:
            _SPOOL = None
            close = getattr(states, "close", None)
            if close is not None:
                close()  # (the worker pool stopped now, here, when left early: never by the collector, on its own thread)
    if walked is not None:
        walked.into(checker)
    records = keys.records(spool)
    records.counter = progress

    def settle() -> None:
        from .output import SignalGuard

        SignalGuard.raise_pending()  # (run inside a write whose guard holds signals: seen here first)
        report: Report = checker.finish().report
        SignalGuard.raise_pending()  # (and before the problems are said)
        report.raise_for_problems()

    if later:
        records.unsettled = settle
    else:
        settle()
    return records


def _collect_streamed(
    walked: validate.Streamed,
    checker: validate.Checker,
    spool: Spool,
    max_bytes: int,
    layout: Layout | None,
    progress: Progress | None,
    later: bool,
) -> Records:
    """:func:`collect` with the files checked by the workers as the walk finds them (a tree of
    fewer than :attr:`~.validate.Streamed.least` files: here, in batches, once walked)."""

    def states() -> t.Iterator[dict[str, t.Any]]:
        yield from walked.states(True, max_bytes, layout, _spool_chunk, checker)
        if not walked.pooled:
            files = walked.files
            for start in range(0, len(files), _BATCH):
                yield _spool_chunk(files[start : start + _BATCH], True, max_bytes, layout)

    return _checked(states(), checker, spool, progress, later, walked)
