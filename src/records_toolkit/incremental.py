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

Everything else is the last run's, problem for problem. Whatever this module cannot decide
exactly (a file past the per-file problem cap, more unfound quotes than get a hint, a section
that does not read back) raises :class:`Fallback`, and the run is made in full: a cached run
always reports exactly what a run without the cache reports (tests/test_cache.py checks this
over random edit sequences).
"""

from __future__ import annotations

import collections
import os
import typing as t

from . import cache
from .cache import _PASSING, SHARDS, Store, Unusable, content_hash, shard
from .loader import Signature, read_regular, signature
from .problems import Problem
from .rules import NEAR_MISS_HINTS, Pending, _duplicate, _either, _near_miss

if t.TYPE_CHECKING:
    from .validate import Checker

REFERENCE_CODES = frozenset({"dangling-reference", "reference-type"})
COLLECTION_CODES = REFERENCE_CODES | {"duplicate-id", "quote-not-found"}

Where = tuple[int, int, str]  # (file number, document, JSON pointer)
StoredProblem = tuple[int, int | None, int | None, str, str, str, str, int]  # fid + Problem fields


class Fallback(Exception):
    """The snapshot cannot give the exact answer: the run is made in full."""


class Outcome(t.NamedTuple):
    problems: list[Problem]  # of the files in the run (not the walk's own problems)
    records: list[int]  # records per file, in the run's order


# -- the snapshot of a full run -------------------------------------------------------------------


def snapshot(
    order: t.Sequence[str],
    stats: t.Mapping[str, Signature],
    checker: Checker,
    problems: t.Iterable[Problem],
    started: int,
) -> t.Iterator[tuple[str, t.Any]]:
    """Every section of the snapshot of a full run over ``order`` (its files in run order), one
    index at a time: each is built, handed to the writer and let go before the next (memory)."""
    fid_of = {name: number for number, name in enumerate(order)}
    stored = [_stored(fid_of[p.file], p) for p in problems if p.file in fid_of]
    unstable = {p[0] for p in stored if p[4] in _PASSING}
    hashes = checker.hashes or {}
    counts = checker.file_records
    coll = checker._collection
    yield (
        "files",
        {
            "names": list(order),
            "fids": list(range(len(order))),
            "sigs": [_settled(stats.get(name), started) for name in order],
            "shas": [None if n in unstable else hashes.get(name) for n, name in enumerate(order)],
            "records": [counts.get(name, 0) for name in order],
            "next": len(order),
            "exact": _exact(stored, checker),
        },
    )
    yield "problems", stored
    del stored
    yield "dangling", [(fid_of[f], d, p, target, a) for f, d, p, target, a in coll.each_ref() if target not in coll.ids]
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
    """One sharded index of the snapshot, decoded shard by shard as keys are asked for."""

    def __init__(self, store: Store, prefix: str) -> None:
        self.store = store
        self.prefix = prefix
        self.loaded: dict[int, dict[t.Any, t.Any]] = {}
        self.dirty: set[int] = set()

    def _part(self, number: int) -> dict[t.Any, t.Any]:
        if number not in self.loaded:
            part = self.store.section(f"{self.prefix}{number}")
            if not isinstance(part, dict):
                raise Unusable(self.prefix)
            self.loaded[number] = part
        return self.loaded[number]

    def _number(self, key: t.Any) -> int:
        return key % SHARDS if isinstance(key, int) else shard(key)

    def get(self, key: t.Any) -> t.Any:
        return self._part(self._number(key)).get(key)

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

    def changed(self) -> dict[str, t.Any]:
        return {f"{self.prefix}{number}": self.loaded[number] for number in self.dirty}


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
    files = store.section("files")
    if not files["exact"]:
        raise Fallback("the last run reached a cap")
    names, fids, sigs, shas, records = files["names"], files["fids"], files["sigs"], files["shas"], files["records"]
    next_fid: int = files["next"]
    position = {name: number for number, name in enumerate(names)}
    new_fids: list[int] = []
    new_sigs: list[Signature | None] = []
    new_shas: list[bytes | None] = []
    new_records: list[int] = []
    changed: list[tuple[str, int]] = []  # (name, index in the new lists) of the files to parse
    gone: set[int] = set()  # files whose old contributions go: changed or removed
    last, reordered, touched = -1, False, False
    racy = store.started - cache.RACY_NS
    for name in order:
        number = position.pop(name, None)
        info = stats.get(name)
        if info is None:
            try:
                info = signature(os.stat(name, follow_symlinks=False))
            except OSError:
                info = None
        # _settled, inline: this loop runs once per file of the collection
        sig = None if info is None or info[1] >= racy or info[2] >= racy else info
        if number is None:
            new_fids.append(next_fid)
            next_fid += 1
            same = False
        else:
            if number < last:
                reordered = True
            last = number
            new_fids.append(fids[number])
            sha = shas[number]
            same = sha is not None and sig is not None and sigs[number] == sig
            if not same and sha is not None and info is not None:
                try:  # unchanged content after a checkout or `touch`: read and hashed, not parsed
                    same = content_hash(read_regular(name, max_bytes)) == sha
                except OSError:
                    same = False
                touched = touched or same
            if not same:
                gone.add(fids[number])
        new_sigs.append(sig)
        new_shas.append(shas[number] if same and number is not None else None)
        new_records.append(records[number] if same and number is not None else 0)
        if not same:
            changed.append((name, len(new_fids) - 1))
    gone.update(fids[number] for number in position.values())  # files no longer in the run
    touched = touched or new_sigs != sigs
    if not changed and not gone and not reordered:
        stored = store.section("problems")
        name_of = dict(zip(new_fids, order, strict=True)) if stored else {}
        outcome = Outcome([_problem(name_of[p[0]], p) for p in stored], new_records)
        if touched:
            store.save([("files", {**files, "sigs": new_sigs})], keep_rest=True)
        return outcome
    return _Update(store, files, order, new_fids, checker, max_bytes).run(
        changed, gone, reordered, new_sigs, new_shas, new_records, next_fid
    )


class _Update:
    """The work of a run after a change (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        files: dict[str, t.Any],
        order: t.Sequence[str],
        fids: list[int],
        checker: Checker,
        max_bytes: int,
    ) -> None:
        self.store = store
        self.files = files
        self.order = order
        self.fids = fids
        self.checker = checker
        self.max_bytes = max_bytes
        self._name_of: dict[int, str] | None = None
        self._rank: dict[int, int] | None = None
        self._all_ids: list[str] | None = None

    def run(
        self,
        changed: list[tuple[str, int]],
        gone: set[int],
        reordered: bool,
        sigs: list[Signature | None],
        shas: list[bytes | None],
        records: list[int],
        next_fid: int,
    ) -> Outcome:
        from .validate import Checker

        store = self.store
        sub = Checker(self.checker.model, layout=self.checker.layout)
        sub._explaining = self.checker._explaining
        sub.hashes = {}
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
        for fid in gone:
            entry = forward.get(fid)
            if entry:
                for known, keys in zip(old, entry, strict=True):
                    known.update(keys)
                forward.put(fid, None)
        for fid, entry in _contributions(
            ((f, rid) for rid, found in new_defs.items() for f, _d, _t in found),
            ((f, target) for f, _d, _p, target, _a in new_refs),
            ((f, article) for f, _d, _p, article, _q in new_quotes),
            ((f, article) for article, f, _d, _t in new_texts),
        ).items():
            forward.put(fid, entry)
        multi: set[str] = set(store.section("multi"))
        ids = old[0] | set(new_defs)  # ids whose definitions may have changed
        if reordered:
            ids |= multi  # the first definition of a repeated id may now be another
        defs = _Shards(store, "d")
        at_before: set[tuple[int, int]] = set()  # where ids of `ids` were defined, before and after
        id_set_changed = False
        for record_id in ids:
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
        for target in ids:
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
        for article in articles:
            for f, d, p, quote in quotes.get(article) or []:
                quote_checks[(f, d, p)] = (article, quote)
        for f, d, p, article, quote in new_quotes:
            quote_checks[(f, d, p)] = (article, quote)
        at_after = {(f, d) for record_id in ids for f, d, _t in defs.get(record_id) or []}
        duplicate_at = at_before | at_after
        kept: list[StoredProblem] = [
            p
            for p in store.section("problems")
            if p[0] not in gone
            and not (p[4] in REFERENCE_CODES and (p[0], p[7], p[3]) in ref_checks)
            and not (p[4] == "duplicate-id" and (p[0], p[7]) in duplicate_at)
            and not (p[4] == "quote-not-found" and (p[0], p[7], p[3]) in quote_checks)
        ]
        # decided again
        pending: list[Pending] = list(sub._pending)
        for (f, d, p), (target, allowed) in sorted(ref_checks.items()):
            found = defs.get(target)
            if not found:
                from .messages import did_you_mean

                hint = did_you_mean(target, self._ids(defs))
                message = f"{target!r} is not the id of any record{hint}"
                pending.append(Pending(self.name_of[f], d, p, "dangling-reference", message))
                dangling.append((f, d, p, target, allowed))
            elif found[0][2] not in allowed:
                message = f"{target!r} is a {found[0][2]}; here it must be {_either(allowed)}"
                pending.append(Pending(self.name_of[f], d, p, "reference-type", message))
        for record_id in sorted(ids):
            found = defs.get(record_id) or []
            if len(found) > 1:
                first = (self.name_of[found[0][0]], found[0][1], found[0][2])
                pending.extend(_duplicate(record_id, self.name_of[f], d, first) for f, d, _t in found[1:])
        for (f, d, p), (article, quote) in sorted(quote_checks.items()):
            held = texts.get(article)
            if held and quote not in held[-1][2]:
                message = f"quote not found verbatim in article {article!r}{_near_miss(quote, held[-1][2])}"
                pending.append(Pending(self.name_of[f], d, p, "quote-not-found", message))
        from .validate import place

        fresh = list(sub.report.problems) + place(pending)
        fid_by_name = {name: fid for fid, name in self.name_of.items()} if fresh else {}
        result = kept + [_stored(fid_by_name[p.file], p) for p in fresh]
        per_file = collections.Counter(p[0] for p in result)
        if per_file and max(per_file.values()) > _cap():
            raise Fallback("a file reached the problem cap")
        if sum(1 for p in result if p[4] == "quote-not-found") > NEAR_MISS_HINTS:
            raise Fallback("more quotes not found than get a hint")
        unstable = {p.file for p in fresh if p.code in _PASSING}
        for name, index in changed:
            sha = sub.hashes.get(name)
            shas[index] = None if name in unstable else sha
            records[index] = sub.file_records.get(name, 0)
        sections: dict[str, t.Any] = {
            "files": {
                "names": list(self.order),
                "fids": self.fids,
                "sigs": sigs,
                "shas": shas,
                "records": records,
                "next": next_fid,
                "exact": True,
            },
            "problems": result,
            "dangling": dangling,
            "multi": sorted(multi),
        }
        for sharded in (forward, defs, refs, quotes, texts):
            sections.update(sharded.changed())
        store.save(sections.items(), keep_rest=True)
        return Outcome([_problem(self.name_of[p[0]], p) for p in result], records)

    def _ordered(self, found: list[t.Any]) -> list[t.Any]:
        """Entries ``(fid, document, ...)`` in the order of this run."""
        if len(found) < 2:
            return found
        if self._rank is None:
            self._rank = {fid: number for number, fid in enumerate(self.fids)}
        rank = self._rank
        return sorted(found, key=lambda e: (rank[e[0]], e[1]))

    @property
    def name_of(self) -> dict[int, str]:
        """File names by number (made when a problem needs one: 100,000 entries otherwise unneeded)."""
        if self._name_of is None:
            self._name_of = dict(zip(self.fids, self.order, strict=True))
        return self._name_of

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
        for key in keys | set(added):
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
