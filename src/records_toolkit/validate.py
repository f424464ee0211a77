"""Stage 2, validate: schema checks per record, then rules across the whole collection.

Records stream through :class:`Checker` one at a time; only small indexes (ids, references,
quotes) are kept for the collection rules (:mod:`.rules`), plus the records themselves when a
caller (the exporters) asks for them. Schema errors are put in plain words by :mod:`.messages`.
Problems are collected as values; their line and column are looked up at the end, and only for
files that have problems.
"""

from __future__ import annotations

import itertools
import os
import typing as t
from pathlib import Path

from . import rules
from .loader import (
    MAX_FILE_BYTES,
    Document,
    Names,
    Positions,
    Signature,
    Stats,
    Walked,
    iter_record_names,
    load_bytes,
    load_file,
    out_of_memory,
    read_regular,
)
from .problems import Problem, Report, Value
from .rules import Collection, Pending
from .schemas import Model, compile_template, load_model

if t.TYPE_CHECKING:
    from . import dates
    from .cache import Hashes, Store
    from .collection import Layout
    from .progress import Progress

__all__ = ["Checker", "Result", "check_paths", "describe"]

if t.TYPE_CHECKING:
    from .messages import describe, describe_all, did_you_mean, first_repeat, pointer_of
    from .provenance import Budget, check_sources
_RECORD_CHECKS = False


def _load_record_checks() -> None:
    """Import what checking a record needs, once, when the first record is checked: a run the
    result cache answers checks none and so never imports dates, messages or provenance (and
    calendar, datetime, unicodedata with them): start-up."""
    global _RECORD_CHECKS
    from . import dates, messages, provenance

    globals().update(
        dates=dates,
        describe=messages.describe,
        describe_all=messages.describe_all,
        did_you_mean=messages.did_you_mean,
        first_repeat=messages.first_repeat,
        pointer_of=messages.pointer_of,
        Budget=provenance.Budget,
        check_sources=provenance.check_sources,
    )
    _RECORD_CHECKS = True


def __getattr__(name: str) -> t.Any:  # `validate.describe` (PEP 562), for callers of the old import
    if name == "describe":
        _load_record_checks()
        return globals()[name]
    raise AttributeError(name)


#: Problems reported per file at most; one last `problems-truncated` says how many more there were.
MAX_PROBLEMS_PER_FILE = 1000


class Result(Value):
    """A validation run: the report, and the valid collection when it was asked for."""

    __slots__ = ("records", "report")
    _fields = __match_args__ = ("report", "records")

    report: Report
    records: list[Document]

    def __init__(self, report: Report, records: list[Document]) -> None:
        self.report = report
        self.records = records


class Checker:
    """Feeds documents through schema checks and hands the valid ones to the collection rules."""

    def __init__(
        self,
        model: Model | None = None,
        *,
        keep: bool = False,
        in_files: bool = True,
        layout: Layout | None = None,
        spill: bool = False,
        snapshot: bool = False,
        on_valid: t.Callable[[Document], None] | None = None,
    ) -> None:
        """``on_valid``: each record that passes its own checks is handed to it as soon as they pass
        (instead of being held in :attr:`records` with ``keep``). ``in_files=False``: the documents were never read from files (records held in memory), so
        no problem is looked up on disk; each keeps its JSON pointer and no line. ``layout``: the
        collection's one-record-per-file layout, when it applies (``misplaced-record``). ``spill``:
        a large collection's indexes may move to disk (:data:`.rules.SPILL_FROM`): for a run's own
        checker, never one whose :meth:`state` is sent on. ``snapshot``: the result cache's
        snapshot is made from its indexes after :meth:`finish` (then its caller closes them:
        :meth:`.rules.Collection.close`)."""
        self.model = model or load_model()
        self.keep = keep
        self.on_valid = on_valid
        self.in_files = in_files
        self.layout = layout
        self.records: list[Document] = []
        self.report = Report()
        self._pending: list[Pending] = []
        self._stored: dict[str, int] = {}  # problems kept per file (see _flag)
        self._overflow: dict[str, int] = {}  # problems past the cap, counted only
        self._collection = Collection(spill_from=rules.SPILL_FROM if spill else None, for_snapshot=snapshot)
        self._explaining: dict[str, t.Any] = {}
        self._budget: tuple[str, Budget | None] = ("", None)
        self.progress: Progress | None = None  # shown on a terminal during a long run
        self._files = 0  # files added here (for the progress of merged chunks)
        # for the result cache: each file's SHA-256 (of the very bytes checked) and record count
        self.hashes: Hashes | None = None

    def expect(self, records: int) -> None:
        """About ``records`` will come (see :meth:`.rules.Collection.expect`)."""
        self._collection.expect(records)

    # -- per record ------------------------------------------------------------------------------

    def add_problem(self, problem: Problem) -> None:
        self.report.problems.append(problem)

    def _flag(self, doc: Document, pointer: str, code: str, message: str, *, at_key: bool = False) -> None:
        # Past the per-file cap a problem is only counted: a file of 400,000 wrong keys must not
        # hold 400,000 problems in memory (_truncate reports how many were left out).
        stored = self._stored.get(doc.file, 0)
        if stored > MAX_PROBLEMS_PER_FILE:
            self._overflow[doc.file] = self._overflow.get(doc.file, 0) + 1
            return
        self._stored[doc.file] = stored + 1
        self._pending.append(Pending(doc.file, doc.index, pointer, code, message, at_key))

    def add(self, doc: Document) -> None:
        """Check one record on its own and index it for the collection rules."""
        if not _RECORD_CHECKS:
            _load_record_checks()
        self.report.records += 1
        data = doc.data
        assert isinstance(data, dict)
        type_name = data.get("type")
        info = self.model.types.get(type_name) if isinstance(type_name, str) else None
        if info is None:
            known = ", ".join(sorted(self.model.types))
            if "type" not in data:
                self._flag(doc, "", "unknown-type", f"missing key 'type' (one of: {known})")
            else:
                hint = did_you_mean(str(type_name), self.model.types)
                self._flag(doc, "/type", "unknown-type", f"unknown record type {type_name!r}{hint} (one of: {known})")
            return
        wrong: set[str] = set()  # JSON pointers of the values the schema refused
        if not self.model.fast_is_valid(info.name, data):  # None (no fast path) or False: look closely
            errors = 0

            def counted(found: t.Iterable[t.Any]) -> t.Iterator[t.Any]:
                """Each error is described and dropped: a record with 100,000 wrong values keeps no error object."""
                nonlocal errors
                for error in found:
                    errors += 1
                    yield error

            for pointer, code, message, at_key in describe_all(
                counted(self._explainer(info.name).iter_errors(data)), data
            ):
                self._flag(doc, pointer, code, message, at_key=at_key)
                wrong.add(pointer)
            fallback = [] if errors else self.model.fast_errors(info.name, data)
            for path, message in fallback:  # the validators disagree: never let a refusal pass unreported
                self._flag(doc, pointer_of(path), "schema-other", message)
                wrong.add(pointer_of(path))
            if not (errors or fallback):
                wrong.clear()
        # Every problem at once, none invented: a record with schema errors still takes part in the
        # collection rules with the values the schema accepted (its id is indexed, so references to
        # it never dangle; its own valid references and quotes are checked).
        if self.layout is not None:
            record_id = data.get("id")
            usable_id = record_id if isinstance(record_id, str) and "/id" not in wrong else None
            misplaced = self.layout.misplaced(doc.file, doc.index, info.name, usable_id)
            if misplaced is not None:
                self._flag(doc, misplaced[0], "misplaced-record", misplaced[1], at_key=bool(misplaced[0]))
        duplicate = self._collection.index(doc, info, wrong)
        if duplicate is not None:
            self._pending.append(duplicate)
        for template in info.dates:
            for pointer, value in compile_template(template)(data):
                if not isinstance(value, str) or "/" not in value or pointer in wrong:
                    continue  # (only an interval, A/B, can end before it starts)
                parsed = dates.parse(value)
                if not parsed.ordered:
                    self._flag(doc, pointer, "date-order", f"interval {value!r} ends before it starts")
        budget = self._budget[1]
        if budget is None or self._budget[0] != doc.file:  # the attestation budget is per file
            budget = Budget()
            self._budget = (doc.file, budget)
        for pointer, code, message, at_key in check_sources(data, info.attested, wrong, budget):
            self._flag(doc, pointer, code, message, at_key=at_key)
        if wrong:
            return
        if self.on_valid is not None:
            self.on_valid(doc)
        elif self.keep:
            self.records.append(doc)

    def add_files(self, files: t.Iterable[str | Path], max_bytes: int) -> None:
        """Load each file and add its records (or its loading problems).

        Running out of memory on one file is a problem of that file (``out-of-memory``), never a
        traceback; the records of the file checked before it keep their problems.
        """
        for path in files:  # a name as the walk gave it is kept as it is (one string per file)
            self.add_file(path if isinstance(path, str) else path.as_posix(), max_bytes)

    def add_file(self, file: str, max_bytes: int) -> None:
        """Load one file and add its records. The file is read once; with :attr:`hashes` on, the
        hash is of the very bytes checked. No Path object is made (pathlib interns every part of
        every name it parses: memory that grows with the tree). A URL's file (:mod:`.remote`) is
        read through fsspec, with the same limit and refusals."""
        if "://" in file:
            from .loader import is_url

            if is_url(file):
                from .remote import read_url, refusal

                try:
                    raw = read_url(file, max_bytes)
                except OSError as exc:
                    self.add_loaded(file, [refusal(file, exc)])
                    return
                self.add_loaded(file, load_bytes(raw, file))
                return
        try:
            raw = read_regular(file, max_bytes)
        except OSError:  # a refusal (too large, a link, unreadable): the loader words it; no hash
            self.add_loaded(file, load_file(Path(file), max_bytes=max_bytes))
            return
        before = self.report.records
        self.add_loaded(file, load_bytes(raw, file))
        if self.hashes is not None:
            from .cache import content_hash

            self.hashes.note(file, content_hash(raw), self.report.records - before)

    def add_loaded(self, file: str, loaded_items: t.Iterable[Document | Problem]) -> None:
        """Add what the loader made of one file (see :meth:`add_files`)."""
        self._files += 1
        before = self.report.records
        document = 0
        try:
            for loaded in loaded_items:
                document = loaded.document if isinstance(loaded, Problem) else loaded.index
                if isinstance(loaded, Problem):
                    self.add_problem(loaded)
                else:
                    self.add(loaded)
        except MemoryError:
            self.add_problem(out_of_memory(file, document))
        if self.progress is not None:
            self.progress.add(1, self.report.records - before)

    def _explainer(self, type_name: str) -> t.Any:
        """The model's explaining validator, with ``uniqueItems`` checked in linear time.

        jsonschema compares every pair of items when they do not sort (mixed types, mappings):
        quadratic in a list's length. The same class with that one keyword replaced is used.
        """
        if type_name not in self._explaining:
            base = self.model.validator(type_name)
            self._explaining[type_name] = base
            if hasattr(type(base), "VALIDATORS"):
                try:
                    linear = _linear_unique_class(type(base))
                    self._explaining[type_name] = linear(
                        base.schema, registry=self.model.registry, format_checker=base.format_checker
                    )
                except TypeError:  # pragma: no cover - a validator class of another kind: keep it
                    pass
        return self._explaining[type_name]

    # -- parallel chunks -------------------------------------------------------------------------

    def state(self) -> dict[str, t.Any]:
        """Everything :meth:`merge` needs, as plain picklable values."""
        return {
            "problems": self.report.problems,
            "records": self.report.records,
            "pending": self._pending,
            "overflow": self._overflow,
            **self._collection.state(),
            "kept": self.records,
            "files": self._files,
            "hashes": self.hashes,
        }

    def merge(self, state: dict[str, t.Any]) -> None:
        """Take in a later chunk's results, as if its records had been added here in order.

        Associative: chunks' states merged into a new checker, whose :meth:`state` is then merged
        here, leave this checker as merging them here one by one does (the tree reduction on a
        Dask cluster, :func:`_in_dask`). ``state["order"]``, when there: the state's files in the
        order they were read (see :meth:`.rules.Collection.merge`).
        """
        self.report.problems.extend(state["problems"])
        self.report.records += state["records"]
        self._pending.extend(state["pending"])
        for file, count in state["overflow"].items():  # a file is in one chunk only
            self._overflow[file] = self._overflow.get(file, 0) + count
        self._pending.extend(self._collection.merge(state))
        self.records.extend(state["kept"])
        if self.hashes is not None and state["hashes"] is not None:
            self.hashes.extend(state["hashes"])
        files = state.get("files", 1)
        self._files += files  # a merged state counts the files of all its chunks
        if self.progress is not None:
            self.progress.add(files, state["records"])

    # -- across the collection -------------------------------------------------------------------

    def finish(self) -> Result:
        """Run the collection rules, then place every problem at its line and column.

        At most :data:`MAX_PROBLEMS_PER_FILE` problems are kept per file (see :meth:`_truncate`);
        each file is then re-composed once for all its positions.
        """
        self._pending.extend(self._collection.check())
        self._truncate()
        self.report.problems.extend(place(self._pending, in_files=self.in_files))
        self._pending.clear()
        return Result(self.report, self.records)

    def _truncate(self) -> None:
        """Keep the first :data:`MAX_PROBLEMS_PER_FILE` problems of each file (by document, then as found).

        The rest of a file's problems are dropped before any is placed (placing them is most of
        their cost), and one ``problems-truncated`` problem, where the first dropped one is, says
        how many there were.
        """
        counts: dict[str, int] = dict(self._overflow)
        for file in [p.file for p in self.report.problems] + [p.file for p in self._pending]:
            counts[file] = counts.get(file, 0) + 1
        over = {file for file, count in counts.items() if count > MAX_PROBLEMS_PER_FILE}
        if not over:
            return
        # (file, rank, document, placed first, position in its list): a problem that ended the
        # loading of the file (a syntax error, a size limit) is always kept; then by document.
        ranked: list[tuple[str, int, int, int, int]] = [
            (p.file, int(p.code == "yaml-not-mapping"), p.document, 0, n)
            for n, p in enumerate(self.report.problems)
            if p.file in over
        ]
        ranked += [(p.file, 1, p.document, 1, n) for n, p in enumerate(self._pending) if p.file in over]
        ranked.sort()
        dropped: tuple[set[int], set[int]] = (set(), set())
        kept: dict[str, int] = {}
        first_dropped: dict[str, tuple[int, int]] = {}
        for file, _rank, _document, kind, number in ranked:
            kept[file] = kept.get(file, 0) + 1
            if kept[file] > MAX_PROBLEMS_PER_FILE:
                dropped[kind].add(number)
                first_dropped.setdefault(file, (kind, number))
        notices = []
        for file, (kind, number) in first_dropped.items():
            more = counts[file] - MAX_PROBLEMS_PER_FILE
            message = (
                f"{more:,} more problem{'s' if more != 1 else ''} in this file not reported: at most "
                f"{MAX_PROBLEMS_PER_FILE:,} are reported per file (fix these and run again); the first of them is here"
            )
            if kind == 0:
                first = self.report.problems[number]
                notices.append(first.replace(code="problems-truncated", message=message, severity="error"))
            else:
                pending = self._pending[number]
                self._pending.append(
                    Pending(file, pending.document, pending.pointer, "problems-truncated", message, pending.at_key)
                )
        self.report.problems = [p for n, p in enumerate(self.report.problems) if n not in dropped[0]] + notices
        self._pending = [p for n, p in enumerate(self._pending) if n not in dropped[1]]


def place(pending: t.Sequence[Pending], *, in_files: bool = True) -> list[Problem]:
    """Problems at their lines and columns, each file re-composed once for all its positions
    (``in_files=False``: records held in memory, which keep their pointers and no line)."""
    places: list[tuple[int, int] | None] = [None] * len(pending)
    if in_files:
        by_file: dict[str, list[int]] = {}
        for number, item in enumerate(pending):
            by_file.setdefault(item.file, []).append(number)
        positions = Positions()
        for file, numbers in by_file.items():
            wanted = [(pending[n].document, pending[n].pointer, pending[n].at_key) for n in numbers]
            for number, where in zip(numbers, positions.locate_many(file, wanted), strict=True):
                places[number] = where
    placed = []
    for item, where in zip(pending, places, strict=True):
        line, column = where if where else (None, None)
        placed.append(
            Problem(
                file=item.file,
                line=line,
                column=column,
                pointer=item.pointer,
                code=item.code,
                message=item.message,
                document=item.document,
            )
        )
    return placed


def _linear_unique_class(base: type) -> t.Any:
    """``base`` (a jsonschema validator class) with ``uniqueItems`` in linear time; one class per base."""
    if base not in _LINEAR_UNIQUE:
        from jsonschema import validators
        from jsonschema.exceptions import ValidationError

        def unique_items(validator: t.Any, unique: t.Any, instance: t.Any, schema: t.Any) -> t.Iterator[t.Any]:
            if unique and validator.is_type(instance, "array") and first_repeat(instance) is not None:
                yield ValidationError("the list has non-unique elements")

        _LINEAR_UNIQUE[base] = validators.extend(base, {"uniqueItems": unique_items})
    return _LINEAR_UNIQUE[base]


_LINEAR_UNIQUE: dict[type, t.Any] = {}


PARALLEL_FROM = 1000  # files; below this a second process costs more than it saves
#: Files per worker task at most: each task's result is held until it is merged, in order.
MAX_CHUNK = 2500


def check_paths(
    paths: t.Sequence[str | os.PathLike[str]],
    *,
    keep: bool = False,
    model: Model | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    jobs: int | None = None,
    collection: t.Sequence[str | os.PathLike[str]] | None = None,
    layout: Layout | None = None,
    cache_root: str | None = None,
    progress: Progress | None = None,
    dask: DaskRun | None = None,
) -> Result:
    """Validate every record under ``paths``; with ``keep`` the valid records come back too.

    Large trees are loaded and schema-checked by ``jobs`` processes (default: one per core)
    in contiguous chunks; the collection rules then run once over the merged indexes, so the
    result is the same as with one process.

    ``collection``: the rest of the collection ``paths`` belong to. Its records take part in the
    collection rules (references, ids and quotes resolve against them) but only the problems of
    the files under ``paths`` are reported and counted; a file both named and in the collection
    is read once, as named. The rest of the collection is read first, so an id the named files
    repeat is reported at the named file. ``layout``: the one-record-per-file layout to check.

    ``cache_root``: the collection folder whose result cache (:mod:`.cache`) this run reads and
    writes (only without ``keep``: exports need the records themselves).

    ``dask``: check the files on a Dask cluster (:class:`DaskRun`) instead of local processes;
    the collection rules still run here, once, on the merged result (the same report).

    ``paths`` may be fsspec URLs (:mod:`.remote`): ``file://`` ones are local paths; with any other,
    the run reads no result cache and writes none, and reads the files in this process (or on the
    Dask workers, which must reach the URL: never ``memory://``, a UsageError).
    """
    if any(isinstance(path, str) and "://" in path for path in paths):
        from .remote import check_remote_run, remote_layout, remote_urls

        urls = remote_urls(paths)
        if urls:  # fsspec URLs (:mod:`.remote`): no result cache (local trees only), read in this process
            check_remote_run(urls, dask=dask is not None)
            cache_root, layout = None, remote_layout(layout)
            jobs = 1 if dask is None else jobs
    cached = cache_root is not None and not keep
    checker = Checker(model, keep=keep, layout=layout, spill=True, snapshot=cached)
    checker.progress = progress
    if not cached and collection is None and model is None and dask is None and Streamed.fits(paths, jobs):
        work = Streamed(paths, jobs)  # the checks start while the tree is still walked
        states = work.states(keep, max_bytes, layout, _check_chunk, checker)
        try:
            for state in states:
                checker.merge(state)
        finally:
            states.close()  # (the pool stopped now when left early, not when the collector finds it)
        if not work.pooled:
            checker.add_files(work.files, max_bytes)
        work.into(checker)
        return checker.finish()
    stats = Walked() if cached else None
    files = walk_into(checker, paths, stats, jobs, shared=collection is None)  # (_others adds to stats)
    others = _others(collection, files, stats, jobs) if collection is not None else []
    checker.expect(len(files) + len(others))  # (files: about as many records, in most collections)
    if cached:
        assert cache_root is not None and stats is not None
        order = files
        if others:  # (walked after the named files, checked before them)
            order = Names(itertools.chain(others, files))
            stats = stats.moved(len(stats) - len(others))
        elif stats.aligned(files):  # one copy of the names, not two (5 MB at 100,000 files)
            order = files = stats.names
        counts = _cached_run(checker, order, stats, cache_root, max_bytes, jobs, model, layout, dask)
        result = Result(checker.report, [])
        result.report.records = sum(counts[len(others) :])  # the named files come last
    else:
        if others:
            _add_files(checker, others, keep, max_bytes, jobs, model, layout, dask)
        before = checker.report.records
        _add_files(checker, files, keep, max_bytes, jobs, model, layout, dask)
        named_records = checker.report.records - before
        result = checker.finish()
        result.report.records = named_records
    if others:
        hidden = set(others)
        result.report.problems = [p for p in result.report.problems if p.file not in hidden]
        result.records = [doc for doc in result.records if doc.file not in hidden]
    return result


def walk_into(
    checker: Checker,
    paths: t.Sequence[str | os.PathLike[str]],
    stats: Stats | None = None,
    jobs: int | None = None,
    *,
    shared: bool = False,
) -> Names:
    """The record files under ``paths`` (packed names, not Path objects nor even text: a
    100,000-file tree would hold 100,000 of them); the walk's own problems go to ``checker``'s
    report, and every file counts.
    ``jobs=1``: the walk stays in this process too. ``shared``: with an empty :class:`Walked`
    ``stats``, the names returned are its own (the walk adds each file there as it gives it: not
    packed twice, 0.6 µs and 54 bytes a file); for a caller that adds nothing to ``stats`` after."""
    files = Names()
    items: t.Iterable[str | Problem]
    remote = any(isinstance(path, str) and "://" in path for path in paths)  # fsspec URLs among them
    if remote:
        from .remote import iter_names

        items = iter_names(paths, stats)
    else:
        items = iter_record_names(paths, stats, processes=jobs)
    own = shared and not remote and isinstance(stats, Walked) and not len(stats)
    given = 0
    for item in items:
        if isinstance(item, Problem):
            checker.add_problem(item)
            checker.report.files += 1
        elif own:
            given += 1
        else:
            files.append(item)
    if own:
        assert isinstance(stats, Walked) and len(stats) == given, "the walk adds each file it gives"
        files = stats.names
    checker.report.files += len(files)
    return files


def _cached_run(
    checker: Checker,
    order: Names,
    stats: Walked,
    root: str,
    max_bytes: int,
    jobs: int | None,
    model: Model | None,
    layout: Layout | None,
    dask: DaskRun | None = None,
) -> list[int]:
    """Check the files of ``order`` (the rest of the collection first, then the named ones)
    through the collection's snapshot (:mod:`.incremental`): after a change only the changed
    files are parsed. The problems go to ``checker``'s report; the records per file come back (in order)."""
    from . import incremental
    from .errors import IndexesFailed

    store = _open_cache(root, checker.model, max_bytes, layout, len(order))
    if store is not None and not store.empty:
        try:
            outcome = incremental.update(store, order, stats, checker, max_bytes)
        except incremental.Fallback:
            pass
        else:
            checker.report.problems.extend(outcome.problems)
            return outcome.records
    from .cache import Hashes

    checker.hashes = Hashes(order)
    checker._collection.for_snapshot = store is not None  # (no snapshot to make: no texts kept for it)
    walked = checker.report.problems  # the walk's own problems are not the snapshot's
    checker.report.problems = []
    try:
        _add_files(checker, order, False, max_bytes, jobs, model, layout, dask)
        found = checker.finish().report.problems
        checker.report.problems = walked + found
        counts = [records for _sha, records in checker.hashes.each(order)]
        if store is not None:
            hashes = checker.hashes

            def written() -> None:  # (the snapshot's table is written: what it was made of goes)
                hashes.clear()
                stats.clear()

            try:
                snapshot = incremental.snapshot(order, stats, checker, found, store.started, written)
                store.save(snapshot, keep_rest=False)
            except IndexesFailed:  # (read back for the snapshot: no snapshot, the report stands)
                pass
    finally:
        checker._collection.close()  # (the indexes on disk, kept open for the snapshot)
    return counts


def _open_cache(
    root: str, model: Model, max_bytes: int, layout: Layout | None, files: int, *, make_key: bool = True
) -> Store | None:
    from .cache import Store, fingerprint

    return Store.open(root, fingerprint(model, max_bytes=max_bytes, layout=layout), files, make_key=make_key)


def _others(
    collection: t.Sequence[str | os.PathLike[str]],
    named: t.Sequence[str],
    stats: Stats | None,
    jobs: int | None = None,
) -> list[str]:
    """The record files of ``collection`` that are not among the ``named`` ones (same file, any spelling).

    The collection is walked as any tree is (links never followed, special files never read);
    its own walk problems (a link, a leftover temporary file) are not the named files' and are
    left out.
    """
    seen: set[tuple[int, int]] = set()
    for path in named:
        try:
            info = os.stat(path, follow_symlinks=False)
        except OSError:
            continue
        seen.add((info.st_dev, info.st_ino))
    others: list[str] = []
    walked: dict[str, Signature] = {}
    for item in iter_record_names(collection, walked, processes=jobs):
        if isinstance(item, Problem):
            continue
        sig = walked[item]
        if (sig[4], sig[3]) not in seen:  # (device, inode)
            others.append(item)
            if stats is not None:
                stats[item] = sig
    return others


def _add_files(
    checker: Checker,
    files: t.Sequence[str],
    keep: bool,
    max_bytes: int,
    jobs: int | None,
    model: Model | None,
    layout: Layout | None,
    dask: DaskRun | None = None,
) -> None:
    """Load and check ``files`` into ``checker``: on the Dask cluster when one is given (the
    chunks' states merged there in groups, each group's state merged here, in order), in worker
    processes for a large tree (each chunk's state merged here, in order), else here."""
    from .workers import count

    workers = count(jobs)
    work = _check_chunk_hashed if checker.hashes is not None else _check_chunk
    # A caller's own `model` stays in this process; workers use the cached default model.
    if dask is not None and files and model is None:
        shown = checker.progress
        for merged in _in_dask(files, keep, max_bytes, layout, dask, work, shown):
            checker.progress = None  # its chunks were counted as they were checked
            try:
                checker.merge(merged)
            finally:
                checker.progress = shown
    elif workers > 1 and len(files) >= pool_from(jobs) and model is None and _can_fork():
        for state in _in_workers(files, keep, max_bytes, layout, workers, work):
            checker.merge(state)
    else:
        checker.add_files(files, max_bytes)


def pool_from(jobs: int | None) -> int:
    """The files from which a validation uses worker processes: :data:`PARALLEL_FROM`, or two
    when ``--jobs`` asks for them."""
    return PARALLEL_FROM if jobs is None else 2


Chunked = t.TypeVar("Chunked")


def _in_workers(
    files: t.Sequence[str],
    keep: bool,
    max_bytes: int,
    layout: Layout | None,
    workers: int,
    work: t.Callable[[list[str], bool, int, Layout | None], Chunked],
) -> t.Iterator[Chunked]:
    """``work`` over contiguous chunks of ``files`` in ``workers`` processes; the results in order."""
    from .workers import in_order

    load_model()  # read and check the schemas once; each worker compiles its own validators
    workers = min(workers, len(files))  # (a process per file at most)
    # each chunk made when sent
    chunks = ((list(files[a:b]), keep, max_bytes, layout) for a, b in chunk_bounds(len(files), workers))
    return in_order(work, chunks, workers, "validation")


#: Files per worker task at least (a task's own cost, a checker and a result sent back, is then small).
MIN_CHUNK = 100

#: Files walked at a time while this process waits for a worker (see :class:`Streamed`).
WALK_STEP = 256


class Streamed:
    """A tree checked by worker processes while it is still walked (issue 11: at 10,000 files
    the walk and the pool's start took a tenth of ``validate``, one core idle).

    The walk (:func:`.loader.iter_record_names`, ``streamed``) gives the files in their final
    order as it finds them. The first :attr:`least` decide whether the pool is worth it; they
    are shared among the first tasks; then this process walks on whenever it waits for a
    worker (:func:`.workers.in_order`'s ``idle``), and each task takes a contiguous chunk of
    the files walked and not yet sent, a share of them as :func:`chunk_bounds` shares a whole
    tree; once the walk is done, :func:`chunk_bounds`' chunks of the rest. The chunks' states
    are merged in order, as for a tree walked first: the same report. The walk's problems are
    kept apart and go first (:meth:`into`), where :func:`walk_into` puts them."""

    def __init__(self, paths: t.Sequence[str | os.PathLike[str]], jobs: int | None, least: int | None = None) -> None:
        """``least``: the files from which a pool is used (default: :func:`pool_from`)."""
        from .workers import count

        self._items = iter_record_names(paths, processes=1, streamed=True)
        self.workers = count(jobs)
        self.least = least if least is not None else pool_from(jobs)
        self.files = Names()
        self.problems: list[Problem] = []
        self.done = False
        self.pooled = False  # (see states)
        self._sent = 0
        self._checker: Checker | None = None

    @staticmethod
    def fits(paths: t.Sequence[str | os.PathLike[str]], jobs: int | None) -> bool:
        """Whether a walk of ``paths`` may feed a pool as it goes: local paths, a pool allowed."""
        from .workers import count

        if any(isinstance(path, str) and "://" in path for path in paths):
            return False  # (fsspec URLs: see check_paths)
        return count(jobs) > 1  # (whether this system can fork: asked once the tree proves large, see states)

    def walk(self, files: int) -> bool:
        """Walk until ``files`` more files are found (-1: all), or to the end (then :attr:`done`);
        whether there is more to walk."""
        append, problems = self.files.append, self.problems
        for item in self._items if files else ():
            if isinstance(item, Problem):
                problems.append(item)
                continue
            append(item)
            files -= 1
            if not files:
                break
        else:
            if files:  # (not walk(0): nothing asked, nothing known)
                self.done = True
        if self._checker is not None:
            self._checker.expect(len(self.files))  # (past rules.SPILL_FROM its indexes go to disk at once)
        return not self.done

    def states(
        self,
        keep: bool,
        max_bytes: int,
        layout: Layout | None,
        work: t.Callable[[list[str], bool, int, Layout | None], dict[str, t.Any]],
        checker: Checker,
    ) -> t.Generator[dict[str, t.Any], None, None]:
        """``work``'s state of each chunk of the files, in order, from the pool; nothing for a
        tree of fewer than :attr:`least` files (then :attr:`pooled` stays False: the caller
        checks :attr:`files` itself). ``checker`` is told how many records to expect as the
        count grows."""
        self._checker = checker
        self.walk(self.least)
        if (self.done and len(self.files) < self.least) or not _can_fork():
            self.walk(-1)  # (to the end)
            return
        self.pooled = True
        from .workers import in_order

        load_model()  # read and check the schemas once; each worker compiles its own validators
        tasks = ((chunk, keep, max_bytes, layout) for chunk in self._chunks())
        yield from in_order(work, tasks, self.workers, "validation", idle=lambda: self.walk(WALK_STEP))

    def _chunks(self) -> t.Iterator[list[str]]:
        files, workers = self.files, self.workers
        first = 2 * workers  # the first tasks, sent together, share what was walked before
        even = max(MIN_CHUNK, len(files) // first)
        while not self.done:
            left = len(files) - self._sent
            if left < MIN_CHUNK:  # (a worker asks for more than was walked meanwhile)
                self.walk(4 * MIN_CHUNK)
                continue
            size = even if first > 0 else max(MIN_CHUNK, min(MAX_CHUNK, left // (2 * workers)))
            first -= 1
            start, self._sent = self._sent, self._sent + min(size, left)
            yield files[start : self._sent]
        start = self._sent
        for a, b in chunk_bounds(len(files) - start, workers):
            yield files[start + a : start + b]
        self._sent = len(files)

    def into(self, checker: Checker) -> None:
        """The walk's problems first in ``checker``'s report, and every file counted, as :func:`walk_into` does."""
        checker.report.problems[:0] = self.problems
        checker.report.files += len(self.problems) + len(self.files)


def chunk_bounds(total: int, workers: int) -> t.Iterator[tuple[int, int]]:
    """Contiguous chunks of ``total`` files, each a share of what is left (guided scheduling):
    large first (at most :data:`MAX_CHUNK`), small at the end (at least :data:`MIN_CHUNK`), so
    that no worker waits long, once the others are done, for one finishing a large last chunk."""
    start = 0
    least = min(MIN_CHUNK, -(-total // (4 * workers)))  # (a small tree still gives each worker chunks)
    while start < total:
        size = max(least, min(MAX_CHUNK, -(-(total - start) // (2 * workers))))
        yield start, min(total, start + size)
        start += size


#: Files per task on a Dask cluster at most: a task of a few seconds, cheap to retry elsewhere.
DASK_CHUNK = 1000

_ADDRESS = r"local|[A-Za-z][A-Za-z0-9+.-]*://\S+|[^\s/:]+:\d+"


class DaskRun:
    """A Dask (``dask.distributed``) cluster to check files on: a scheduler's address
    (``tcp://HOST:8786``, any address Dask takes), ``local`` (a ``LocalCluster`` of ``workers``
    processes, default 2, started when first needed and ended by :meth:`close`) or a
    ``distributed.Client`` of the caller's (used as it is, never closed here).

    Made before the run, so that a missing Dask or a malformed address is a
    :class:`~records_toolkit.errors.UsageError` at once; it connects when files are first sent
    (a run the result cache answers sends none). The workers must run the same toolkit (version
    and code) with the same schemas, and see the files under the names given (a shared file
    system; the same working directory for relative names): checked on connecting, else
    :class:`~records_toolkit.errors.CouldNotRun`.
    """

    def __init__(self, scheduler: t.Any, workers: int | None = None) -> None:
        import re

        from .errors import UsageError

        try:
            import distributed
        except ImportError:
            raise UsageError(
                "the scheduler needs Dask (dask.distributed), which is not installed: "
                "pip install 'records-toolkit[dask]'"
            ) from None
        self._client: t.Any = None
        self._cluster: t.Any = None
        self._own = True
        self.workers = workers
        self.facts: dict[str, dict[str, str]] = {}
        if isinstance(scheduler, distributed.Client):
            self._client, self._own, self.address = scheduler, False, str(t.cast(t.Any, scheduler).scheduler.address)
        elif isinstance(scheduler, str) and re.fullmatch(_ADDRESS, scheduler):
            self.address = scheduler
        else:
            raise UsageError(
                f"scheduler: {scheduler!r} is not a Dask scheduler's address: give tcp://HOST:PORT, "
                "or local for a local cluster"
            )

    def client(self) -> t.Any:
        """The connected client, the workers' environment checked."""
        if self.facts:
            return self._client
        import logging

        import distributed as typed

        from .errors import CouldNotRun

        distributed: t.Any = typed  # (its constructors are untyped)

        try:
            if self._client is None and self.address == "local":
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers or 2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,  # no dashboard; the scheduler's HTTP server (health) on any free port:
                    scheduler_kwargs={"dashboard_address": ":0"},  # not 8787, which another cluster may hold
                    silence_logs=logging.ERROR,  # (a Ctrl-C is ours to tell, not Dask's warnings)
                )
                self._client = distributed.Client(self._cluster)
            elif self._client is None:
                self._client = distributed.Client(self.address)
        except (OSError, ValueError) as exc:  # (TimeoutError is an OSError)
            self.close()
            raise CouldNotRun(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        try:
            facts = self._client.run(_worker_facts)
        except Exception as exc:
            raise CouldNotRun(
                f"the Dask workers at {self.address} cannot run the toolkit (install records-toolkit "
                f"{_worker_facts()['version']} there): {type(exc).__name__}: {exc}"
            ) from None
        if not facts:
            raise CouldNotRun(f"the Dask scheduler at {self.address} has no workers")
        ours = _worker_facts()
        for worker, theirs in sorted(facts.items()):
            differ = [key for key in ("version", "code", "schemas") if theirs.get(key) != ours[key]]
            if differ:
                raise CouldNotRun(
                    f"the Dask worker {worker} runs another toolkit or schemas ({', '.join(differ)} differ: "
                    f"records-toolkit {theirs.get('version')} there, {ours['version']} here): the report "
                    "could differ from a local run; install the same records-toolkit and schemas on the workers"
                )
        self.facts = facts
        return self._client

    def check_names(self, files: t.Sequence[str]) -> None:
        """Relative names are read in each worker's working directory: it must be this one (a URL
        names the same file anywhere)."""
        from .errors import CouldNotRun
        from .loader import is_url

        here = os.getcwd()
        elsewhere = sorted(w for w, facts in self.facts.items() if facts.get("cwd") != here)
        if elsewhere and not all(os.path.isabs(file) or is_url(file) for file in files):
            raise CouldNotRun(
                f"the Dask worker {elsewhere[0]} runs in {self.facts[elsewhere[0]].get('cwd')}, not in {here}: "
                "give the paths as absolute names on a file system the workers share"
            )

    def close(self) -> None:
        """End the client and the local cluster this started (a caller's client is left open)."""
        import contextlib

        if self._own:
            for part in (self._client, self._cluster):
                if part is not None:
                    with contextlib.suppress(Exception):
                        part.close()
            self._client = self._cluster = None
        self.facts = {}


def _worker_facts() -> dict[str, str]:
    """What a worker's results depend on besides the files: the toolkit's version and code, the schemas."""
    import hashlib

    import records_toolkit

    from .cache import _code_hash
    from .schemas import schema_dir

    digest = hashlib.sha256()
    for path in sorted(schema_dir().glob("*.schema.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {
        "version": records_toolkit.__version__,
        "code": _code_hash(),
        "schemas": digest.hexdigest(),
        "cwd": os.getcwd(),
    }


#: Chunks' states merged by one task of the tree reduction on a Dask cluster (adjacent ones, so the
#: file order holds): a run of 10^5 chunks is merged in 6 rounds, each state sent over once a round.
DASK_FAN_IN = 8


def _in_dask(
    files: t.Sequence[str],
    keep: bool,
    max_bytes: int,
    layout: Layout | None,
    dask: DaskRun,
    work: t.Callable[[list[str], bool, int, Layout | None], dict[str, t.Any]],
    progress: Progress | None = None,
) -> t.Iterator[dict[str, t.Any]]:
    """``work`` over contiguous chunks of ``files`` on the Dask cluster; the states, in file order,
    for the caller to merge (:meth:`Checker.merge`), as merging every chunk's state in order would.

    Each task on the cluster merges :data:`DASK_FAN_IN` adjacent chunks' states
    (:func:`_merge_states`) as soon as they are in, before the chunks still waiting (a higher
    priority), and the chunks' states are then released; the merged states come here one at a
    time, in order, each released on the cluster once taken. Neither a worker nor this process
    ever holds the whole collection's state: here it goes where the caller's checker keeps its
    indexes (on disk for a large collection, see :class:`~.rules.Collection`).

    Beside each chunk a small task (:func:`_chunk_outcome`) sends here what is needed before the
    end: with ``progress`` its files and records, counted as it is checked; with ``keep`` its
    valid records, which so come here once, straight from the chunk, and never go through the
    merges. A worker lost mid-run: Dask runs its tasks again elsewhere, from the chunks when a
    state it held is lost too. Each outcome is fetched with its future's own ``result()``, which
    raises a failed fetch (a connection closed under load); ``as_completed(with_results=True)``
    logs such a failure and never hands the future on, so the run would wait for ever.
    """
    from concurrent.futures import CancelledError

    from .output import SignalGuard

    client = dask.client()
    dask.check_names(files)
    threads = sum(client.nthreads().values()) or 1
    size = max(1, min(-(-len(files) // (threads * 4)), DASK_CHUNK))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    merged: list[t.Any] = []
    outcomes: t.Any = None  # the chunks' outcomes, as they come (distributed.as_completed)
    try:
        with SignalGuard(defer=False):  # SIGTERM too ends the wait; the caller closes the client
            leaves = client.map(work, chunks, keep=keep, max_bytes=max_bytes, layout=layout, pure=False)
            number: dict[str, int] = {}
            if progress is not None or keep:
                import distributed

                beside = client.map(_chunk_outcome, leaves, kept=keep, pure=False, priority=2)
                number = {future.key: n for n, future in enumerate(beside)}
                as_completed: t.Any = distributed.as_completed  # (untyped)
                outcomes = as_completed(beside)  # (not with_results: a fetch failing there is never handed on)
                del beside
            merged = _merge_groups(client, leaves, without_kept=keep)  # only the merged states' futures held here
            kept: dict[int, list[Document]] = {}
            arrived: set[int] = set()  # the chunks whose outcome is in (they come as they are done)
            for group in range(len(merged)):
                its = range(group * DASK_FAN_IN, min((group + 1) * DASK_FAN_IN, len(chunks)))
                while outcomes is not None and not arrived.issuperset(its):  # (each released once taken)
                    future = next(outcomes)
                    outcome = future.result()  # raises what went wrong: cancelled, a closed connection, a lost worker
                    arrived.add(number[future.key])
                    if progress is not None:
                        progress.add(outcome[0], outcome[1])
                    if keep:
                        kept[number[future.key]] = outcome[2]
                state = t.cast(dict[str, t.Any], merged[group].result())
                merged[group] = None  # released on the cluster
                if keep:
                    state["kept"] = [doc for n in its for doc in kept.pop(n)]
                yield state
                del state
    except (OSError, CancelledError, Exception) as exc:
        raise cluster_failure(exc, dask, "validation", "files") from None
    finally:
        if outcomes is not None:
            outcomes.clear()  # those not taken (a failed run): released
        if any(future is not None for future in merged):
            client.cancel([future for future in merged if future is not None])  # released on the cluster


def _merge_groups(client: t.Any, leaves: list[t.Any], *, without_kept: bool = False) -> list[t.Any]:
    """The futures of the states of :data:`DASK_FAN_IN` adjacent ``leaves`` (futures of chunks'
    states, in file order) merged on the cluster, in order; ``leaves`` is emptied, so that each
    chunk's state is released as soon as its group is merged. ``without_kept``: the merges leave
    the states' kept records out (they come to the client apart)."""
    groups = [leaves[i : i + DASK_FAN_IN] for i in range(0, len(leaves), DASK_FAN_IN)]
    leaves.clear()
    sent = [group for group in groups if len(group) > 1]
    done = iter(client.map(_merge_states, sent, without_kept=without_kept, pure=False, priority=1))
    return [next(done) if len(group) > 1 else group[0] for group in groups]  # (a chunk alone: as it is)


def _merge_states(states: list[dict[str, t.Any]], without_kept: bool = False) -> dict[str, t.Any]:
    """On a worker: adjacent chunks' states, in file order, as one (:meth:`Checker.merge` into a
    new checker, as the client would merge them; its repeated ids and pending problems in order)."""
    merged = Checker()
    if states[0]["hashes"] is not None:  # chunks for the result cache: each file's hash and records
        from .cache import Hashes

        merged.hashes = Hashes()
    order: list[str] = []
    for state in states:
        merged.merge(state | {"kept": ()} if without_kept else state)
        order += state["order"]
    combined = merged.state()
    combined["order"] = order
    return combined


def _chunk_outcome(state: dict[str, t.Any], kept: bool = False) -> tuple[int, int, list[t.Any]]:
    """On a worker: a chunk's files and records (the progress while the run goes on) and, when
    ``kept``, its kept records (for the client, apart from the merges)."""
    return state["files"], state["records"], state["kept"] if kept else []


def cluster_failure(exc: BaseException, dask: DaskRun, doing: str, same: str) -> BaseException:
    """What a failure while waiting on the cluster is: the scheduler lost or the run cancelled,
    or workers dying on the same task more often than Dask retries (``KilledWorker``), is a
    :class:`~.errors.CouldNotRun` saying so; anything else is raised as it is."""
    from concurrent.futures import CancelledError

    from .errors import CouldNotRun

    if isinstance(exc, (OSError, CancelledError)):
        return CouldNotRun(f"{doing} could not run on the Dask cluster at {dask.address}: {exc}")
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        return CouldNotRun(
            f"{doing} could not run on the Dask cluster at {dask.address}: workers ended unexpectedly "
            f"on the same {same}, more times than Dask retries ({exc})"
        )
    return exc


def _can_fork() -> bool:
    from .workers import can_fork

    return can_fork()


def _check_chunk(
    files: list[str], keep: bool, max_bytes: int, layout: Layout | None = None, *, hashed: bool = False
) -> dict[str, t.Any]:
    """In a worker: load and check some files; hand back the indexes, not the checker (``hashed``:
    with each file's hash and record count, for the result cache)."""
    checker = Checker(keep=keep, layout=layout)
    if hashed:
        from .cache import Hashes

        checker.hashes = Hashes()
    checker.add_files(files, max_bytes)
    state = checker.state()
    state["order"] = files  # (the very names of its records: pickled once)
    return state


def _check_chunk_hashed(files: list[str], keep: bool, max_bytes: int, layout: Layout | None = None) -> dict[str, t.Any]:
    return _check_chunk(files, keep, max_bytes, layout, hashed=True)
