"""A run after some files changed: the last run's snapshot, updated where the change reaches.

A full run ends by writing a snapshot (:mod:`.cache`): per file its signature, content hash,
record count and problems, and the collection's indexes keyed by what they are about: every
definition of each id, every reference to each id, every quote of each article, every text of
each article, and per file what it contributed. A later run walks the tree, finds the files
whose content changed (or that came or went), parses only those, and then re-decides only what
the change can reach:

- the problems of the changed files, found afresh;
- references to an id whose definitions changed (it came, went, or changed type or place), and
  every dangling reference when the set of ids changed (its did-you-mean hint may differ);
- duplicate-id problems of those ids;
- quotes of an article whose text changed, and the quotes in the changed files.

Finding the changed files costs little per file: the walk's signatures are packed into one
run of bytes and compared with the snapshot's (a few blocks of bytes at a time; only a block
that differs is looked at file by file), the names compared as one text; a save writes only the
parts of the table that changed (see :class:`_Table` and :meth:`.cache.Store.save`).

Everything else is the last run's, problem for problem. Whatever this module cannot decide
exactly (a file past the per-file problem cap, more unfound quotes than get a hint, a section
that does not read back) raises :class:`Fallback`, and the run is made in full: a cached run
always reports exactly what a run without the cache reports (tests/test_cache.py checks this
over random edit sequences).
"""

from __future__ import annotations

import array
import bisect
import collections
import hashlib
import itertools
import marshal
import operator
import os
import struct
import typing as t
import zlib

from . import cache, rules
from .cache import _PASSING, SHARDS, Store, Unusable, content_hash, shard
from .loader import Names, Signature, Walked, read_regular, signature
from .problems import Problem
from .rules import NEAR_MISS_HINTS, Pending, _duplicate, _s

if t.TYPE_CHECKING:
    from .validate import Checker

REFERENCE_CODES = frozenset({"dangling-reference", "reference-type"})
COLLECTION_CODES = REFERENCE_CODES | {"duplicate-id", "quote-not-found"}

Where = tuple[int, int, str]  # (file number, document, JSON pointer)
StoredProblem = tuple[int, int | None, int | None, str, str, str, str, int]  # fid + Problem fields


FULL_FROM = 2000
"""A run with more changed files than this and than a quarter of the collection is made in full:
the changed files are checked here, in this process alone, at about 0.3 ms each at 100,000 files,
and what they bring is held in memory (4 to 7 KB each), where a full run checks in worker
processes and keeps its indexes on disk. After 5,000 of 100,012 files changed the run through
the snapshot took 2.5 s at 112 MiB; after all changed, 25 s at 490 MiB against 17.6 s at 55 MiB
in full."""


class Fallback(Exception):
    """The snapshot cannot give the exact answer: the run is made in full."""


class Outcome(t.NamedTuple):
    problems: list[Problem]  # of the files in the run (not the walk's own problems)
    records: list[int]  # records per file, in the run's order


# -- the table of files ---------------------------------------------------------------------------

#: The snapshot's table of files is packed: per file a signature of five 64-bit numbers (see
#: :data:`~.loader.Signature`), a SHA-256, a byte of flags, its number (file id) and its record
#: count, in the run's order; its names are one text (``names``, joined by NUL). The rows are
#: stored in sections of :data:`CHUNK` files, so a save after a change writes the few that changed.
CHUNK = 4096
_SIG = 40  # bytes per signature
_ROW = struct.Struct("5q")  # (the layout of array("q"))
_SHA = 32
_SIGNED = 1  # flag: the signature is kept (not changed a moment ago)
_HASHED = 2  # flag: the SHA-256 is kept
_BOTH = _SIGNED | _HASHED
_NOT_BOTH = bytes(0 if n == _BOTH else 1 for n in range(256))  # bytes.translate: 1 where a flag is missing
_WIDE = 1 << 64
_HALF = 1 << 63


def _pack(sig: Signature | None) -> bytes | None:
    """One signature's row: five signed 64-bit numbers (an inode or device past 2**63 wraps, and
    stays apart from any other, never negative); None when there is no signature or a size or
    time does not fit (such a file keeps none: it is compared by content each time)."""
    if sig is None or not all(-_HALF <= n < _HALF for n in sig[:3]) or not all(0 <= n < _WIDE for n in sig[3:]):
        return None
    return array.array("q", [n - _WIDE if n >= _HALF else n for n in sig]).tobytes()


def _pack_all(
    order: t.Sequence[str], stats: t.Mapping[str, Signature]
) -> tuple[bytes | bytearray, dict[int, tuple[Signature | None, bool]]]:
    """The rows of the signatures the walk took of ``order``; and the files whose row is zeros,
    with their signature (taken now when the walk has none; None when it cannot be had) and
    whether it is one a row can hold."""
    if isinstance(stats, Walked) and stats.aligned(order):  # the walk's own rows, as they are
        as_walked = stats.packed()
        if as_walked is not None:
            return as_walked, {}
    try:
        if len(stats) == len(order) and all(map(operator.eq, stats, order)):  # the walk's own order: no lookups
            rows: t.Iterable[Signature] = stats.values()
        else:
            rows = map(stats.__getitem__, order)
        return b"".join(itertools.starmap(_ROW.pack, rows)), {}
    except (KeyError, struct.error, TypeError):
        pass
    packed: list[bytes] = []
    odd: dict[int, tuple[Signature | None, bool]] = {}
    for number, name in enumerate(order):
        info = stats.get(name)
        if info is None:
            try:
                info = signature(os.stat(name, follow_symlinks=False))
            except OSError:
                info = None
        row = _pack(info)
        if row is None:
            odd[number] = (info, False)
            row = bytes(_SIG)
        elif name not in stats:
            odd[number] = (info, True)
        packed.append(row)
    return b"".join(packed), odd


def _walked(order: t.Sequence[str], stats: t.Mapping[str, Signature]) -> t.Callable[[int, str], Signature]:
    """The signature of the file at a number of ``order`` (and of that name): by position when
    the walk gave the files in this order (no index of 100,000 names built), else by name."""
    if isinstance(stats, Walked) and stats.aligned(order):
        return lambda number, _name: stats.row(number)
    return lambda _number, name: stats[name]


def _joined(order: t.Sequence[str]) -> bytes | memoryview:
    """The names of ``order`` joined by NUL, in UTF-8 (lone surrogates kept), as the snapshot
    keeps them: of packed names, a view of their own bytes (no copy: 5 MB at 100,000 files).
    While a view is held the names cannot grow (BufferError): a run's order is complete before."""
    if isinstance(order, Names) and order.listed is None:
        return memoryview(order.data)[:-1]
    return "\0".join(order).encode("utf-8", "surrogatepass")


class _Table:
    """The table of files of a snapshot (or of the run that writes the next one), as packed columns."""

    def __init__(
        self,
        names: bytes | memoryview,
        count: int,
        next_fid: int,
        exact: bool,
        sigs: bytes | bytearray,
        shas: bytearray,
        flags: bytearray,
        fids: array.array[int],
        records: array.array[int],
    ) -> None:
        if not (
            len(sigs) == _SIG * count
            and len(shas) == _SHA * count
            and len(flags) == len(fids) == len(records) == count
            and (count or not names)
        ):  # (the number of names: when they are split, see _update)
            raise Unusable("files")
        self.names, self.count, self.next, self.exact = names, count, next_fid, exact
        self.sigs, self.shas, self.flags, self.fids, self.records = sigs, shas, flags, fids, records
        self.parts = -(-count // CHUNK)  # (of a table read: its parts, which a save compares with its own)
        self.digests: list[bytes] = []  # (of a table read: each part's, see _digest)

    @classmethod
    def read(cls, store: Store, names: bytes | memoryview | None = None) -> _Table:
        """The snapshot's table; its names are ``names`` when the snapshot holds those (then not read)."""
        meta = store.section("files")
        count, chunks = int(meta["count"]), int(meta["chunks"])
        if chunks != -(-count // CHUNK):
            raise Unusable("files")
        sigs, shas, flags = bytearray(), bytearray(), bytearray()
        fids, records = array.array("q"), array.array("q")
        digests = []
        for number in range(chunks):  # (a part at a time: the parts and the columns never both held)
            part = store.section(f"rows{number}")
            if type(part) is not tuple or len(part) != 5 or not all(type(x) is bytes for x in part):
                raise Unusable("files")
            digests.append(_digest(part))
            sigs += part[0]
            shas += part[1]
            flags += part[2]
            fids.frombytes(part[3])
            records.frombytes(part[4])
            del part
        if names is None or not store.holds("names", names):
            names = store.section("names")
            if type(names) is not bytes:
                raise Unusable("names")
        table = cls(names, count, int(meta["next"]), bool(meta["exact"]), sigs, shas, flags, fids, records)
        table.digests = digests
        return table

    def sections(self, old: _Table | None = None) -> t.Iterator[tuple[str, t.Any]]:
        """The sections of this table; given the ``old`` one, only those that differ from it."""
        chunks = -(-self.count // CHUNK)
        meta = {"count": self.count, "chunks": chunks, "next": self.next, "exact": self.exact}
        if old is None or meta != {"count": old.count, "chunks": old.parts, "next": old.next, "exact": old.exact}:
            yield "files", meta
        if old is None or self.names != old.names:
            yield "names", self.names
        for number in range(chunks):
            part = self.part(number)
            if old is None or number >= len(old.digests) or old.digests[number] != _digest(part):
                yield f"rows{number}", part

    def release(self) -> None:
        """Let go of the columns (a table read, once the new one is made of it: a save compares
        the new parts with :attr:`digests`)."""
        self.sigs, self.shas, self.flags = b"", bytearray(), bytearray()
        self.fids, self.records = array.array("q"), array.array("q")

    def part(self, number: int) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        """Part ``number`` of the table, as the snapshot keeps it: the rows of :data:`CHUNK` files."""
        a, b = number * CHUNK, (number + 1) * CHUNK
        return (
            bytes(self.sigs[a * _SIG : b * _SIG]),
            bytes(self.shas[a * _SHA : b * _SHA]),
            bytes(self.flags[a:b]),
            self.fids[a:b].tobytes(),
            self.records[a:b].tobytes(),
        )

    def signature(self, number: int) -> Signature | None:
        """The signature kept of the file at ``number`` (None: compared by content next time)."""
        if not self.flags[number] & _SIGNED:
            return None
        values = array.array("q", self.sigs[number * _SIG : (number + 1) * _SIG])
        return t.cast(Signature, tuple(n + _WIDE if n < 0 and k >= 3 else n for k, n in enumerate(values)))

    def sha(self, number: int) -> bytes | None:
        return bytes(self.shas[number * _SHA : (number + 1) * _SHA]) if self.flags[number] & _HASHED else None


class _Positions:
    """Where each file number is in the run's order, found when asked: a scan of the numbers for
    a few, one dict of them all once many are asked for (100,000 entries otherwise unneeded)."""

    SCANS = 32

    def __init__(self, fids: array.array[int], order: t.Sequence[str]) -> None:
        self.fids, self.order = fids, order
        self.found: dict[int, int] = {}
        self.fid_of: dict[str, int] = {}  # the files named so far, by name
        self.scans = 0
        self.whole = False  # `found` holds every file

    def __getitem__(self, fid: int) -> int:
        """The position of file ``fid`` (:class:`KeyError` or :class:`ValueError` when it is not in the run)."""
        number = self.found.get(fid)
        if number is None:
            if self.whole:
                raise KeyError(fid)
            if self.scans < self.SCANS:
                self.scans += 1
                number = self.found[fid] = self.fids.index(fid)
            else:
                self.found = dict(zip(self.fids, range(len(self.fids))))
                self.whole = True
                number = self.found[fid]
        return number

    def name(self, fid: int) -> str:
        name = self.order[self[fid]]
        self.fid_of[name] = fid
        return name


def _digest(part: tuple[bytes, ...]) -> bytes:
    """What a part of the table holds, told apart (each column's length, then its bytes)."""
    digest = hashlib.sha256()
    for column in part:
        digest.update(len(column).to_bytes(8, "little"))
        digest.update(column)
    return digest.digest()


Runs = list[range | list[int]]  # this run's files' numbers in the last run: ranges, and lists (-1: new)


def _new_rows(table: _Table, names: bytes | memoryview, runs: Runs | None, sigs: bytes | bytearray) -> _Table:
    """The table of this run before its changes are looked at: its ``names`` (joined), the
    signatures the walk took (``sigs``), the rest of each row the last run's, placed in this run's
    order (``runs``: see :func:`_old_numbers`; None: the same files in the same order: then the
    last run's very columns, changed in place, which ``table`` no longer reads; its parts'
    digests tell a save what changed). A new file's row has no flags, so it is looked at."""
    if runs is None:
        return _Table(
            table.names, table.count, table.next, True, sigs, table.shas, table.flags, table.fids, table.records
        )
    return _Table(
        names,
        sum(map(len, runs)),
        table.next,
        True,
        sigs,
        _gathered(table.shas, _SHA, runs),
        _gathered(table.flags, 1, runs),
        _gathered_numbers(table.fids, runs, -1),
        _gathered_numbers(table.records, runs, 0),
    )


def _gathered(column: bytes | bytearray, width: int, runs: Runs) -> bytearray:
    """The rows of ``column`` (``width`` bytes each) at the numbers of ``runs``, zeros for -1."""
    out = bytearray()
    blank = bytes(width)
    for run in runs:
        if isinstance(run, range):
            out += column[run.start * width : run.stop * width]
        else:
            for n in run:
                out += column[n * width : (n + 1) * width] if n >= 0 else blank
    return out


def _gathered_numbers(column: array.array[int], runs: Runs, blank: int) -> array.array[int]:
    out = array.array("q")
    for run in runs:
        if isinstance(run, range):
            out += column[run.start : run.stop]
        else:
            out.extend(column[n] if n >= 0 else blank for n in run)
    return out


def _same_from(
    a: bytes | bytearray | memoryview, b: bytes | bytearray | memoryview, length: int, *, back: bool = False
) -> int:
    """How many bytes ``a`` and ``b`` have in common at their start (``back``: at their end),
    at most ``length``: a block at a time, then halves of the block that differs."""
    la, lb = len(a), len(b)

    def same(lo: int, hi: int) -> bool:  # bytes lo..hi from the start (or from the end) alike
        if back:
            return memoryview(a)[la - hi : la - lo] == memoryview(b)[lb - hi : lb - lo]
        return memoryview(a)[lo:hi] == memoryview(b)[lo:hi]

    lo, step = 0, 1 << 16
    while lo < length and same(lo, min(lo + step, length)):
        lo += step
    if lo >= length:
        return length
    hi = min(lo + step, length)  # (the first difference is in lo..hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if same(lo, mid):
            lo = mid
        else:
            hi = mid
    return lo


def _old_numbers(table: _Table, order: t.Sequence[str]) -> Runs:
    """Each file's number in the last run (-1: a new file), in this run's order, as runs: the
    files both runs begin with and end with are found by comparing their names as bytes; only
    the names between them are looked up (after a file is added to 100,000, a few names, not a
    dict of them all)."""
    old, count = bytes(table.names), table.count
    la = len(old)
    p = q = 0  # files in common at the start, at the end
    start = end = 0  # the bytes of the names between them in `old`: start..la - end
    if isinstance(order, Names) and order.listed is None and count and len(order):
        new, starts, n = order.data, order.starts, len(order)
        lb = len(new) - 1  # (the last name's NUL aside)
        i = _same_from(old, new, min(la, lb))
        p = bisect.bisect_right(starts, i) - 1  # the names of `new` that end before byte i
        if (starts[p + 1] - 1 if p + 1 < n else lb) == i and (i == la or old[i] == 0):
            p += 1  # the next ends at i in both
        start = starts[p] if p < n else lb + 1
        if start <= min(la, lb):
            j = _same_from(old, memoryview(new)[:lb], min(la, lb) - start, back=True)
            k = bisect.bisect_left(starts, lb - j)  # the first name of `new` within the common end
            if k < n and starts[k] == lb - j and la - j > 0 and old[la - j - 1] != 0:
                k += 1  # (it begins inside a name of `old`)
            q = n - k
            end = lb - starts[k] + 1 if q else 0  # (with the NUL before it)
    middle = old[start : la - end]
    names = middle.decode("utf-8", "surrogatepass").split("\0") if count - p - q else []
    if len(names) != count - p - q:
        raise Unusable("names")
    position = dict(zip(names, range(p, count - q)))
    return [range(p), [position.get(name, -1) for name in order[p : len(order) - q]], range(count - q, count)]


def _differing(new: bytes | bytearray, old: bytes | bytearray, flags: bytes | bytearray) -> list[int]:
    """The rows whose signature differs between ``new`` and ``old`` or whose ``flags`` lack one
    (compared a block at a time: after one change, one block is looked at row by row)."""
    found: set[int] = set()
    if new != old:
        block = 512 * _SIG
        for start in range(0, len(new), block):
            if new[start : start + block] != old[start : start + block]:
                for at in range(start, min(start + block, len(new)), _SIG):
                    if new[at : at + _SIG] != old[at : at + _SIG]:
                        found.add(at // _SIG)
    missing = flags.translate(_NOT_BOTH)
    number = missing.find(1)
    while number >= 0:
        found.add(number)
        number = missing.find(1, number + 1)
    return sorted(found)


# -- the snapshot of a full run -------------------------------------------------------------------


def snapshot(
    order: t.Sequence[str],
    stats: t.Mapping[str, Signature],
    checker: Checker,
    problems: t.Iterable[Problem],
    started: int,
    written: t.Callable[[], None] | None = None,
) -> t.Iterator[tuple[str, t.Any]]:
    """Every section of the snapshot of a full run over ``order`` (its files in run order), one
    index at a time: each is built, handed to the writer and let go before the next (memory).
    The collection's indexes are read where the run kept them: in memory, or on disk for a large
    collection (:meth:`.rules.Collection.disk`), then a shard at a time, never all in memory.
    ``written``: called once the table of files is written, before the indexes are sorted (the
    caller lets go of the hashes and signatures the table was made of: 8 MB at 100,000 files)."""
    coll = checker._collection
    disk = coll.disk
    problems = list(problems)
    if disk is None:
        fid_of = {name: number for number, name in enumerate(order)}
    else:  # (only the files with problems looked up here; the indexes' rows are numbered on disk)
        named = {p.file for p in problems}
        fid_of = {name: number for number, name in enumerate(order) if name in named}
        disk.number_files(order)
        disk.define("shard", _shard_of_bytes)
    stored = [_stored(fid_of[p.file], p) for p in problems if p.file in fid_of]
    unstable = {p[0] for p in stored if p[4] in _PASSING}
    hashed = checker.hashes if checker.hashes is not None else cache.Hashes()
    sigs, odd = _pack_all(order, stats)
    shas = bytearray()
    flags = bytearray()
    walked = _walked(order, stats)
    if disk is None:
        dangling = [(fid_of[f], d, p, target, a) for f, d, p, target, a in coll.each_ref() if target not in coll.ids]
    else:
        dangling = [
            (fid, d, _s(p), _s(target), disk.allowed[a])
            for fid, d, p, target, a in disk.rows(
                "SELECT f.fid, r.doc, r.pointer, r.target, r.allowed FROM refs r JOIN fids f ON f.name = r.file"
                " WHERE NOT EXISTS (SELECT 1 FROM ids i WHERE i.id = r.target) ORDER BY r.rowid"
            )
        ]
    exact = _exact(stored, checker) and len({entry[3] for entry in dangling}) <= rules.DANGLING_HINTS
    counts = array.array("q")
    own = not odd and len(hashed) == len(order) and hashed.noted() is order
    if own and isinstance(stats, Walked) and stats.aligned(order):
        # every file of the run hashed, in its order (as a run over a walked tree is): the run's
        # own columns, handed over (not copied: 4 MB at 100,000 files)
        shas, counts = hashed.shas, hashed.records
        flags = bytearray(
            _HASHED | (_SIGNED if _settled(stats.row(number), started) is not None else 0)
            for number in range(len(order))
        )
        for number in unstable:
            shas[number * _SHA : (number + 1) * _SHA] = bytes(_SHA)
            flags[number] &= ~_HASHED
    else:
        for number, (name, (sha, records)) in enumerate(zip(order, hashed.each(order), strict=True)):
            # (not walked, or too odd: no signature kept)
            sig = None if number in odd else _settled(walked(number, name), started)
            if number in unstable:
                sha = None
            shas += sha if sha is not None else bytes(_SHA)
            flags.append((_SIGNED if sig is not None else 0) | (_HASHED if sha is not None else 0))
            counts.append(records)
    table = _Table(
        _joined(order),
        len(order),
        len(order),
        exact,
        sigs,
        shas,
        flags,
        array.array("q", range(len(order))),
        counts,
    )
    yield from table.sections()
    del table, sigs, shas, flags, counts
    if written is not None:
        written()
    yield "problems", stored
    del stored
    yield "dangling", dangling
    del dangling
    if disk is None:
        yield from _indexes_in_memory(coll, fid_of)
    else:
        del fid_of
        yield from _indexes_on_disk(disk)


def _indexes_in_memory(coll: rules.Collection, fid_of: dict[str, int]) -> t.Iterator[tuple[str, t.Any]]:
    """The snapshot's indexes (``multi``, then the shards of ``d``, ``r``, ``q``, ``t`` and ``f``)
    of a collection held in memory."""
    # what each file contributed (its ids, the ids it refers to, the articles it quotes, the
    # article texts it holds): a tuple per kind, the empty one shared
    forward: dict[int, list[tuple[str, ...]]] = {}

    def note(fid: int, kind: int, keys: tuple[str, ...]) -> None:
        entry = forward.get(fid)
        if entry is None:
            entry = forward[fid] = [(), (), (), ()]
        entry[kind] = entry[kind] + keys

    defs: dict[str, list[tuple[int, int, str]]] = {}
    for record_id, (file, document, type_name) in coll.ids.items():
        defs[record_id] = [(fid_of[file], document, type_name)]
    for record_id, file, document, type_name in coll.repeats:
        defs[record_id].append((fid_of[file], document, type_name))
    for record_id, found in defs.items():
        for fid, _document, _type in found:
            note(fid, 0, (record_id,))
    yield "multi", sorted(record_id for record_id, found in defs.items() if len(found) > 1)
    yield from _sharded("d", defs)
    del defs

    def keyed(flat: list[tuple[t.Any, ...]], kind: int) -> dict[str, list[tuple[t.Any, ...]]]:
        """References (or quotes) by the id they name: (file, doc, pointer, its third value) each;
        ``flat`` holds a tuple per record (see :class:`~.rules.Collection`)."""
        grouped: dict[str, list[tuple[t.Any, ...]]] = {}
        for entry in flat:
            fid, document = fid_of[entry[0]], entry[1]
            note(fid, kind, entry[3::3])
            for n in range(2, len(entry), 3):
                grouped.setdefault(entry[n + 1], []).append((fid, document, entry[n], entry[n + 2]))
        return grouped

    yield from _sharded("r", keyed(coll.refs, 1))  # (fid, doc, pointer, types allowed) by target
    yield from _sharded("q", keyed(coll.quotes, 2))  # (fid, doc, pointer, quote) by article
    texts: dict[str, list[tuple[int, int, str]]] = {}
    for article, file, document, text in coll.texts:
        texts.setdefault(article, []).append((fid_of[file], document, text))
        note(fid_of[file], 3, (article,))
    yield from _sharded("t", texts)
    del texts
    by_file: list[dict[int, list[tuple[str, ...]]]] = [{} for _ in range(SHARDS)]
    for fid, contributed in forward.items():
        by_file[fid % SHARDS][fid] = contributed
    forward.clear()
    for number, part in enumerate(by_file):
        yield f"f{number}", part


def _shard_of_bytes(raw: bytes) -> int:
    """:func:`~.cache.shard` of a text the disk indexes hold as UTF-8 (lone surrogates kept): the same number."""
    return zlib.crc32(raw) % SHARDS


def _indexes_on_disk(disk: rules._OnDisk) -> t.Iterator[tuple[str, t.Any]]:
    """The snapshot's indexes, as :func:`_indexes_in_memory` makes them, from the indexes on disk
    (files numbered by :meth:`~.rules._OnDisk.number_files`): each index's rows come sorted by
    shard, and each shard is handed on as soon as it is whole, so what is held is one shard."""
    allowed = disk.allowed
    text = _Decoded()
    yield "multi", sorted(_s(raw) for (raw,) in disk.rows("SELECT DISTINCT id FROM repeats"))
    # every definition of each id: its first (ids), then its repeats in the order they came
    yield from _shards_of(
        "d",
        disk.rows(
            "SELECT shard(d.id) AS s, d.id, f.fid, d.doc, d.type FROM"
            " (SELECT id, file, doc, type, 0 AS seq FROM ids UNION ALL SELECT id, file, doc, type, rowid FROM repeats) d"
            " JOIN fids f ON f.name = d.file ORDER BY s, d.id, d.seq"
        ),
        lambda row: (row[2], row[3], row[4]),
        text,
    )
    yield from _shards_of(  # (fid, doc, pointer, types allowed) by target
        "r",
        disk.rows(
            "SELECT shard(r.target) AS s, r.target, f.fid, r.doc, r.pointer, r.allowed FROM refs r"
            " JOIN fids f ON f.name = r.file ORDER BY s, r.rowid"
        ),
        lambda row: (row[2], row[3], text(row[4]), allowed[row[5]]),
        text,
    )
    yield from _shards_of(  # (fid, doc, pointer, quote) by article
        "q",
        disk.rows(
            "SELECT shard(q.article) AS s, q.article, f.fid, q.doc, q.pointer, q.quote FROM quotes q"
            " JOIN fids f ON f.name = q.file ORDER BY s, q.rowid"
        ),
        lambda row: (row[2], row[3], text(row[4]), text(row[5])),
        text,
    )
    yield from _shards_of(  # (fid, doc, text) of every article with that id, in run order
        "t",
        disk.rows(
            "SELECT shard(x.article) AS s, x.article, f.fid, x.doc, x.text FROM texts x"
            " JOIN fids f ON f.name = x.file ORDER BY s, x.rowid"
        ),
        lambda row: (row[2], row[3], text(row[4])),
        text,
    )
    # what each file contributed, by file number: each kind's keys in the order they came
    forward = disk.rows(
        f"SELECT f.fid % {SHARDS} AS s, f.fid, c.kind, c.key FROM ("
        " SELECT file, 0 AS kind, id AS key, 0 AS seq FROM ids"
        " UNION ALL SELECT file, 0, id, rowid FROM repeats"
        " UNION ALL SELECT file, 1, target, rowid FROM refs"
        " UNION ALL SELECT file, 2, article, rowid FROM quotes"
        " UNION ALL SELECT file, 3, article, rowid FROM texts"
        ") c JOIN fids f ON f.name = c.file ORDER BY s, f.fid, c.kind, c.seq"
    )

    def contributed() -> t.Iterator[tuple[int, dict[int, list[tuple[str, ...]]]]]:
        for number, rows in itertools.groupby(forward, key=operator.itemgetter(0)):
            part: dict[int, list[tuple[str, ...]]] = {}
            for fid, entries in itertools.groupby(rows, key=operator.itemgetter(1)):
                kinds: list[list[str]] = [[], [], [], []]
                for _number, _fid, kind, key in entries:
                    kinds[kind].append(text(key))
                part[fid] = [tuple(keys) for keys in kinds]
            yield number, part
            text.clear()

    yield from _every_shard("f", contributed())


class _Decoded(dict[bytes, str]):
    """Texts of the disk indexes decoded once a shard: the same target, pointer or article named
    by many rows is one string (decoded once, and marshalled once, as a reference)."""

    def __call__(self, raw: bytes) -> str:
        found = self.get(raw)
        if found is None:
            found = self[raw] = _s(raw)
        return found


def _shards_of(
    prefix: str,
    rows: t.Iterable[tuple[t.Any, ...]],
    entry: t.Callable[[tuple[t.Any, ...]], tuple[t.Any, ...]],
    text: _Decoded,
) -> t.Iterator[tuple[str, t.Any]]:
    """The :data:`~.cache.SHARDS` sections of one index from ``rows`` ``(shard, key, ...)``
    sorted by shard: per key (decoded by ``text``), the ``entry`` of each of its rows, in their order."""

    def parts() -> t.Iterator[tuple[int, dict[str, list[tuple[t.Any, ...]]]]]:
        for number, group in itertools.groupby(rows, key=operator.itemgetter(0)):
            part: dict[str, list[tuple[t.Any, ...]]] = {}
            for row in group:
                key = text(row[1])
                found = part.get(key)
                if found is None:
                    found = part[key] = []
                found.append(entry(row))
            yield number, part
            text.clear()  # (once the writer has taken the part)

    return _every_shard(prefix, parts())


def _every_shard(prefix: str, parts: t.Iterable[tuple[int, dict[t.Any, t.Any]]]) -> t.Iterator[tuple[str, t.Any]]:
    """The :data:`~.cache.SHARDS` sections of one index, from its ``(number, part)`` in shard order:
    an empty part for every shard between them (no row of the index falls there)."""
    at = 0
    for number, part in parts:
        for empty in range(at, number):
            yield f"{prefix}{empty}", {}
        yield f"{prefix}{number}", part
        at = number + 1
    for empty in range(at, SHARDS):
        yield f"{prefix}{empty}", {}


def _sharded(prefix: str, index: dict[str, t.Any]) -> t.Iterator[tuple[str, t.Any]]:
    """The sections of one index keyed by text: its entries split by :func:`~.cache.shard`."""
    shards: list[dict[str, t.Any]] = [{} for _ in range(SHARDS)]
    for key, value in index.items():
        shards[shard(key)][key] = value
    for number, part in enumerate(shards):
        yield f"{prefix}{number}", part


def _stored(fid: int, p: Problem) -> StoredProblem:
    return (fid, p.line, p.column, p.pointer, p.code, p.message, p.severity, p.document)


def _problem(name: str, p: t.Sequence[t.Any]) -> Problem:
    return Problem(
        file=name, line=p[1], column=p[2], pointer=p[3], code=p[4], message=p[5], severity=p[6], document=p[7]
    )


def _settled(sig: Signature | None, started: int) -> Signature | None:
    """The signature to keep, or None for a file changed a moment ago (a second change in the
    same clock tick would go unseen: it is hashed again next time)."""
    racy = started - cache.RACY_NS
    return None if sig is None or sig[1] >= racy or sig[2] >= racy else sig


def _exact(stored: list[StoredProblem], checker: Checker) -> bool:
    """Whether a later run can update this one exactly (no cap was reached)."""
    if checker._overflow:
        return False
    unfound = sum(1 for p in stored if p[4] == "quote-not-found")
    return unfound <= NEAR_MISS_HINTS and not any(p[4] == "problems-truncated" for p in stored)


def _contributions(
    *kinds: t.Iterable[tuple[int, str]],
) -> dict[int, tuple[list[str], list[str], list[str], list[str]]]:
    """Per file: the ids it defines, the ids it refers to, the articles it quotes, the articles whose text it holds."""
    found: dict[int, tuple[set[str], ...]] = {}
    for number, pairs in enumerate(kinds):
        for fid, key in pairs:
            found.setdefault(fid, (set(), set(), set(), set()))[number].add(key)
    return {fid: (sorted(a), sorted(b), sorted(c), sorted(d)) for fid, (a, b, c, d) in found.items()}


# -- a later run ----------------------------------------------------------------------------------


class _Shards:
    """One sharded index of the snapshot, decoded shard by shard as keys are asked for.

    At most :data:`DECODED` shards are held decoded: a shard let go that changed is kept as its
    encoded section (marshal's bytes, a few times smaller than the objects), and decoded again if
    asked for. A run after a change touching files all over the tree asks for every shard of
    each index; holding them all decoded took 190 MiB at 100,000 files after 1,000 files changed
    (490 MiB after all did), where the run that fills the cache takes 55. The callers ask for
    keys in the order of their shards (:meth:`ordered`), so that each shard is decoded once."""

    DECODED = 4

    def __init__(self, store: Store, prefix: str) -> None:
        self.store = store
        self.prefix = prefix
        self.loaded: dict[int, dict[t.Any, t.Any]] = {}  # (in the order last asked for: the oldest first)
        self.encoded: dict[int, cache.Encoded] = {}  # shards that changed, let go
        self.dirty: set[int] = set()

    def _part(self, number: int) -> dict[t.Any, t.Any]:
        part = self.loaded.pop(number, None)
        if part is None:
            held = self.encoded.pop(number, None)
            part = self.store.section(f"{self.prefix}{number}") if held is None else marshal.loads(held.data)
            if not isinstance(part, dict):
                raise Unusable(self.prefix)
            if len(self.loaded) >= self.DECODED:
                oldest = next(iter(self.loaded))
                let_go = self.loaded.pop(oldest)
                if oldest in self.dirty:
                    self.encoded[oldest] = cache.Encoded(marshal.dumps(let_go))
        self.loaded[number] = part
        return part

    def _number(self, key: t.Any) -> int:
        return key % SHARDS if isinstance(key, int) else shard(key)

    def ordered(self, keys: t.Iterable[t.Any]) -> list[t.Any]:
        """``keys`` in the order of their shards (and of themselves within one)."""
        return sorted(keys, key=lambda key: (self._number(key), key))

    def get(self, key: t.Any) -> t.Any:
        return self._part(self._number(key)).get(key)

    def found(self, keys: t.Iterable[t.Any]) -> dict[t.Any, t.Any]:
        """The entries of ``keys`` (the key's value, None when absent), asked for in shard order."""
        return {key: self.get(key) for key in self.ordered(set(keys))}

    def put(self, key: t.Any, value: t.Any) -> None:
        number = self._number(key)
        part = self._part(number)
        if value:
            part[key] = value
        else:
            part.pop(key, None)
        self.dirty.add(number)

    def keys(self) -> list[t.Any]:
        return [key for number in range(SHARDS) for key in self._part(number)]

    def changed(self) -> t.Iterator[tuple[str, t.Any]]:
        """The sections of the shards that changed, in order, each encoded as it is asked for."""
        for number in sorted(self.dirty):
            part = self.loaded.get(number)
            yield f"{self.prefix}{number}", self.encoded[number] if part is None else part


def vouched(store: Store, order: t.Sequence[str], stats: t.Mapping[str, Signature]) -> bytes | None:
    """Each file's SHA-256 (32 bytes each, in the order of ``order``) when the snapshot vouches that
    a run over ``order`` finds no problem: it is of these very files in this order, none changed
    since (each signature the same, and kept: not one taken a moment before the run that wrote
    it), and that run found none. Else None. Reads only (an export asks; see :mod:`.streaming`),
    the table of files a section at a time (a run's memory, not the snapshot's).
    """
    try:
        meta = store.section("files")
        count, chunks = int(meta["count"]), int(meta["chunks"])
        if not meta["exact"] or count != len(order) or chunks != -(-count // CHUNK) or store.section("problems"):
            return None
        if not store.holds("names", _joined(order)):
            return None
        sigs, odd = _pack_all(order, stats)
        if odd:
            return None
        shas = bytearray()
        for number in range(chunks):
            part = store.section(f"rows{number}")
            if type(part) is not tuple or len(part) != 5 or not all(type(x) is bytes for x in part):
                return None
            rows = min(CHUNK, count - number * CHUNK)
            at = number * CHUNK * _SIG
            if part[0] != sigs[at : at + rows * _SIG] or len(part[1]) != rows * _SHA or len(part[2]) != rows:
                return None
            if part[2].translate(_NOT_BOTH).find(1) >= 0:
                return None
            shas += part[1]
        return bytes(shas)
    except (Unusable, TypeError, ValueError, KeyError, IndexError, AttributeError):  # a snapshot of another shape
        return None


def update(
    store: Store,
    order: t.Sequence[str],
    stats: t.Mapping[str, Signature],
    checker: Checker,
    max_bytes: int,
) -> Outcome:
    """The problems and record counts of a run over ``order``, from the snapshot plus the files
    that changed; the snapshot is updated. :class:`Fallback` when it cannot be done exactly."""
    try:
        return _update(store, order, stats, checker, max_bytes)
    except Unusable as exc:
        raise Fallback(f"the snapshot's {exc} does not read back") from exc
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # a snapshot of another shape
        raise Fallback(str(exc)) from exc


def _update(
    store: Store, order: t.Sequence[str], stats: t.Mapping[str, Signature], checker: Checker, max_bytes: int
) -> Outcome:
    joined = _joined(order)
    table = _Table.read(store, joined)
    if not table.exact:
        raise Fallback("the last run reached a cap")
    sigs, odd = _pack_all(order, stats)
    runs: Runs | None = None  # each file's number in the last run (None: the same files, in order)
    old_at = array.array("q")  # (the same, number by number)
    gone: set[int] = set()  # files whose old contributions go: changed or removed
    reordered = False
    if len(order) != table.count or joined != table.names:
        runs = _old_numbers(table, order)
        between, after = runs[1], runs[2]
        assert isinstance(between, list) and isinstance(after, range)
        kept = [number for number in between if number >= 0]
        reordered = kept != sorted(kept)
        gone.update(table.fids[number] for number in set(range(len(runs[0]), after.start)).difference(kept))
        old_sigs: bytes | bytearray = _gathered(table.sigs, _SIG, runs)
        old_at = array.array("q", itertools.chain.from_iterable(runs))
        del kept, between, after
    else:
        old_sigs = table.sigs
    new = _new_rows(table, joined, runs, sigs)
    if runs is not None:
        table.release()  # (its rows are now the new table's, placed in this run's order)
    changed: list[tuple[str, int]] = []  # (name, number in this run) of the files to parse
    racy = store.started - cache.RACY_NS
    walked = _walked(order, stats)
    for number in _differing(sigs, old_sigs, new.flags):  # the rows of files changed, touched or new
        name = order[number]
        info, fits = odd[number] if number in odd else (walked(number, name), True)
        sig = None if info is None or not fits or info[1] >= racy or info[2] >= racy else info
        sha = None if runs is not None and old_at[number] < 0 else new.sha(number)
        if runs is not None and old_at[number] < 0:
            new.fids[number] = new.next
            new.next += 1
            same = False
        else:
            at = number * _SIG
            same = sha is not None and sig is not None and bool(new.flags[number] & _SIGNED)
            same = same and sigs[at : at + _SIG] == old_sigs[at : at + _SIG]
            if not same and sha is not None and info is not None:
                try:  # unchanged content after a checkout or `touch`: read and hashed, not parsed
                    same = content_hash(read_regular(name, max_bytes)) == sha
                except OSError:
                    same = False
            if not same:
                gone.add(new.fids[number])
        new.flags[number] = (_SIGNED if sig is not None else 0) | (_HASHED if same else 0)
        if not same:
            new.shas[number * _SHA : (number + 1) * _SHA] = bytes(_SHA)
            new.records[number] = 0
            changed.append((name, number))
    if len(changed) > max(FULL_FROM, len(order) // 4):
        raise Fallback("a quarter of the files changed")
    if not changed and not gone and not reordered:
        where = _Positions(new.fids, order)
        outcome = Outcome([_problem(where.name(p[0]), p) for p in store.section("problems")], new.records.tolist())
        store.save(new.sections(table), keep_rest=True)  # (signatures that changed: a file touched or settled)
        return outcome
    return _Update(store, table, new, order, checker, max_bytes).run(changed, gone, reordered)


class _Update:
    """The work of a run after a change (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        old: _Table,
        new: _Table,
        order: t.Sequence[str],
        checker: Checker,
        max_bytes: int,
    ) -> None:
        self.store = store
        self.old = old
        self.new = new
        self.order = order
        self.fids = new.fids
        self.where = _Positions(new.fids, order)
        self.checker = checker
        self.max_bytes = max_bytes
        self._all_ids: list[str] | None = None

    def run(self, changed: list[tuple[str, int]], gone: set[int], reordered: bool) -> Outcome:
        from .validate import Checker

        store = self.store
        sub = Checker(self.checker.model, layout=self.checker.layout)
        sub._explaining = self.checker._explaining
        sub.hashes = cache.Hashes()
        for name, _index in changed:
            sub.add_file(name, self.max_bytes)
        if sub._overflow:
            raise Fallback("a changed file reached the problem cap")
        fid_of = {name: self.fids[index] for name, index in changed}
        coll = sub._collection
        # what the changed files contribute now
        new_defs: dict[str, list[tuple[int, int, str]]] = {}
        for record_id, (file, document, type_name) in coll.ids.items():
            new_defs.setdefault(record_id, []).append((fid_of[file], document, type_name))
        for record_id, file, document, type_name in coll.repeats:
            new_defs.setdefault(record_id, []).append((fid_of[file], document, type_name))
        new_refs = [(fid_of[f], d, p, target, allowed) for f, d, p, target, allowed in coll.each_ref()]
        new_quotes = [(fid_of[f], d, p, article, quote) for f, d, p, article, quote in coll.each_quote()]
        new_texts = [(article, fid_of[f], d, text) for article, f, d, text in coll.texts]
        # what the changed and removed files contributed before
        forward = _Shards(store, "f")
        old: tuple[set[str], ...] = (set(), set(), set(), set())
        for fid in forward.ordered(gone):
            entry = forward.get(fid)
            if entry:
                for known, keys in zip(old, entry, strict=True):
                    known.update(keys)
                forward.put(fid, None)
        contributed = _contributions(
            ((f, rid) for rid, found in new_defs.items() for f, _d, _t in found),
            ((f, target) for f, _d, _p, target, _a in new_refs),
            ((f, article) for f, _d, _p, article, _q in new_quotes),
            ((f, article) for article, f, _d, _t in new_texts),
        )
        for fid in forward.ordered(contributed):
            forward.put(fid, contributed[fid])
        del contributed
        multi: set[str] = set(store.section("multi"))
        ids = old[0] | set(new_defs)  # ids whose definitions may have changed
        if reordered:
            ids |= multi  # the first definition of a repeated id may now be another
        defs = _Shards(store, "d")
        at_before: set[tuple[int, int]] = set()  # where ids of `ids` were defined, before and after
        id_set_changed = False
        for record_id in defs.ordered(ids):
            before = defs.get(record_id) or []
            at_before.update((f, d) for f, d, _t in before)
            after = self._ordered([e for e in before if e[0] not in gone] + new_defs.get(record_id, []))
            defs.put(record_id, after)
            id_set_changed = id_set_changed or bool(before) != bool(after)
            if len(after) > 1:
                multi.add(record_id)
            else:
                multi.discard(record_id)
        # the indexes keyed by what they point at
        refs = self._rekey(_Shards(store, "r"), old[1], gone, [(t_, (f, d, p, a)) for f, d, p, t_, a in new_refs])
        quotes = self._rekey(_Shards(store, "q"), old[2], gone, [(a, (f, d, p, q)) for f, d, p, a, q in new_quotes])
        articles = old[3] | {article for article, *_ in new_texts}
        if reordered:
            articles |= multi  # the last text of a repeated article id may now be another
        texts = self._rekey(_Shards(store, "t"), articles, gone, [(a, (f, d, x)) for a, f, d, x in new_texts], True)
        # what must be decided again
        ref_checks: dict[Where, tuple[str, tuple[str, ...]]] = {}
        for target in refs.ordered(ids):
            for f, d, p, allowed in refs.get(target) or []:
                ref_checks[(f, d, p)] = (target, allowed)
        for f, d, p, target, allowed in new_refs:
            ref_checks[(f, d, p)] = (target, allowed)
        dangling = [e for e in store.section("dangling") if e[0] not in gone]
        if id_set_changed:
            for f, d, p, target, allowed in dangling:
                ref_checks[(f, d, p)] = (target, tuple(allowed))
        dangling = [e for e in dangling if (e[0], e[1], e[2]) not in ref_checks]
        quote_checks: dict[Where, tuple[str, str]] = {}
        for article in quotes.ordered(articles):
            for f, d, p, quote in quotes.get(article) or []:
                quote_checks[(f, d, p)] = (article, quote)
        for f, d, p, article, quote in new_quotes:
            quote_checks[(f, d, p)] = (article, quote)
        # (the definitions asked for below, each shard decoded once: a dict of them, not the shards)
        defined = defs.found(itertools.chain(ids, (target for target, _a in ref_checks.values())))
        at_after = {(f, d) for record_id in ids for f, d, _t in defined[record_id] or []}
        duplicate_at = at_before | at_after
        kept: list[StoredProblem] = [
            p
            for p in store.section("problems")
            if p[0] not in gone
            and not (p[4] in REFERENCE_CODES and (p[0], p[7], p[3]) in ref_checks)
            and not (p[4] == "duplicate-id" and (p[0], p[7]) in duplicate_at)
            and not (p[4] == "quote-not-found" and (p[0], p[7], p[3]) in quote_checks)
        ]
        missing = {e[3] for e in dangling} | {target for target, _a in ref_checks.values() if not defined[target]}
        if len(missing) > rules.DANGLING_HINTS:  # (which get a hint depends on them all: see rules.hinted_targets)
            raise Fallback("more unknown ids than get a hint")
        # decided again
        pending: list[Pending] = list(sub._pending)
        hints: dict[str, str] = {}
        for (f, d, p), (target, allowed) in sorted(ref_checks.items()):
            found = defined[target]
            if not found:
                pending.append(rules.dangling(self.where.name(f), d, p, target, self._ids(defs), hints))
                dangling.append((f, d, p, target, allowed))
            elif found[0][2] not in allowed:
                pending.append(rules.mistyped(self.where.name(f), d, p, target, found[0][2], allowed))
        for record_id in sorted(ids):
            found = defined[record_id] or []
            if len(found) > 1:
                first = (self.where.name(found[0][0]), found[0][1], found[0][2])
                pending.extend(_duplicate(record_id, self.where.name(f), d, first) for f, d, _t in found[1:])
        held_texts = texts.found(article for article, _q in quote_checks.values())
        for (f, d, p), (article, quote) in sorted(quote_checks.items()):
            held = held_texts[article]
            if held and quote not in held[-1][2]:
                pending.append(rules.not_verbatim(self.where.name(f), d, p, article, quote, held[-1][2]))
        from .validate import place

        fresh = list(sub.report.problems) + place(pending)
        fid_by_name = {**self.where.fid_of, **fid_of}  # (fresh problems are of the files named so far)
        result = kept + [_stored(fid_by_name[p.file], p) for p in fresh]
        per_file = collections.Counter(p[0] for p in result)
        if per_file and max(per_file.values()) > _cap():
            raise Fallback("a file reached the problem cap")
        if sum(1 for p in result if p[4] == "quote-not-found") > NEAR_MISS_HINTS:
            raise Fallback("more quotes not found than get a hint")
        unstable = {p.file for p in fresh if p.code in _PASSING}
        table = self.new
        for name, number in changed:
            sha, records = sub.hashes.get(name)
            if name in unstable:
                sha = None
            if sha is not None:
                table.shas[number * _SHA : (number + 1) * _SHA] = sha
                table.flags[number] |= _HASHED
            table.records[number] = records
        rest: list[tuple[str, t.Any]] = [("problems", result), ("dangling", dangling), ("multi", sorted(multi))]
        for sharded in (forward, defs, refs, quotes, texts):
            rest.extend(sharded.changed())
        stale = [f"rows{number}" for number in range(-(-table.count // CHUNK), self.old.parts)]
        # (the table's parts made as they are written: each let go once encoded)
        store.save(itertools.chain(table.sections(self.old), rest), keep_rest=True, drop=stale)
        return Outcome([_problem(self.where.name(p[0]), p) for p in result], table.records.tolist())

    def _ordered(self, found: list[t.Any]) -> list[t.Any]:
        """Entries ``(fid, document, ...)`` in the order of this run."""
        if len(found) < 2:
            return found
        where = self.where
        return sorted(found, key=lambda e: (where[e[0]], e[1]))

    def _rekey(
        self,
        index: _Shards,
        keys: set[str],
        gone: set[int],
        new: list[tuple[str, tuple[t.Any, ...]]],
        ordered: bool = False,
    ) -> _Shards:
        """``index`` with the entries of the ``gone`` files dropped under ``keys`` and ``new`` added."""
        added: dict[str, list[tuple[t.Any, ...]]] = {}
        for key, entry in new:
            added.setdefault(key, []).append(entry)
        for key in index.ordered(keys | set(added)):
            entries = [e for e in index.get(key) or [] if e[0] not in gone] + added.get(key, [])
            index.put(key, self._ordered(entries) if ordered else entries)
        return index

    def _ids(self, defs: _Shards) -> list[str]:
        if self._all_ids is None:
            self._all_ids = defs.keys()
        return self._all_ids


def _cap() -> int:
    from .validate import MAX_PROBLEMS_PER_FILE

    return MAX_PROBLEMS_PER_FILE
