"""Stage 2, validate: schema checks per record, then rules across the whole collection.

Records stream through :class:`Checker` one at a time; only small indexes (ids, references,
quotes) are kept for the collection rules (:mod:`.rules`), plus the records themselves when a
caller (the exporters) asks for them. Schema errors are put in plain words by :mod:`.messages`.
Problems are collected as values; their line and column are looked up at the end, and only for
files that have problems.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t
from pathlib import Path

from . import dates
from .loader import MAX_FILE_BYTES, Document, Positions, iter_record_files, load_file
from .messages import describe, describe_all, did_you_mean, pointer_of
from .problems import Problem, Report, pointer_join
from .rules import Collection, Pending
from .schemas import Model, load_model, values_at

__all__ = ["Checker", "Result", "check_paths", "describe"]

#: Top-level fields that are bookkeeping or editorial, not facts, and so need no source.
NOT_FACTS = frozenset({"id", "type", "sources", "notes", "description"})


@dataclasses.dataclass(slots=True)
class Result:
    """A validation run: the report, and the valid collection when it was asked for."""

    report: Report
    records: list[Document]


class Checker:
    """Feeds documents through schema checks and hands the valid ones to the collection rules."""

    def __init__(self, model: Model | None = None, *, keep: bool = False, in_files: bool = True) -> None:
        """``in_files=False``: the documents were never read from files (records held in memory), so
        no problem is looked up on disk; each keeps its JSON pointer and no line."""
        self.model = model or load_model()
        self.keep = keep
        self.in_files = in_files
        self.records: list[Document] = []
        self.report = Report()
        self._pending: list[Pending] = []
        self._collection = Collection()

    # -- per record ------------------------------------------------------------------------------

    def add_problem(self, problem: Problem) -> None:
        self.report.problems.append(problem)

    def _flag(self, doc: Document, pointer: str, code: str, message: str, *, at_key: bool = False) -> None:
        self._pending.append(Pending(doc.file, doc.index, pointer, code, message, at_key))

    def add(self, doc: Document) -> None:
        """Check one record on its own and index it for the collection rules."""
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
        if not self.model.fast_is_valid(info.name, data):  # None (no fast path) or False: look closely
            errors = list(self.model.validator(info.name).iter_errors(data))
            for pointer, code, message, at_key in describe_all(errors, data):
                self._flag(doc, pointer, code, message, at_key=at_key)
            fallback = [] if errors else self.model.fast_errors(info.name, data)
            for path, message in fallback:  # the validators disagree: never let a refusal pass unreported
                self._flag(doc, pointer_of(path), "schema-other", message)
            if errors or fallback:
                return  # collection rules assume schema-valid records
        duplicate = self._collection.index(doc, info)
        if duplicate is not None:
            self._pending.append(duplicate)
        for template in info.dates:
            for pointer, value in values_at(data, template):
                parsed = dates.parse(t.cast(str, value))
                if not parsed.ordered:
                    self._flag(doc, pointer, "date-order", f"interval {value!r} ends before it starts")
        self._check_sources(doc, data)
        if self.keep:
            self.records.append(doc)

    def add_files(self, files: t.Iterable[Path], max_bytes: int) -> None:
        """Load each file and add its records (or its loading problems)."""
        for path in files:
            for loaded in load_file(path, max_bytes=max_bytes):
                if isinstance(loaded, Problem):
                    self.add_problem(loaded)
                else:
                    self.add(loaded)

    def _check_sources(self, doc: Document, data: dict[str, t.Any]) -> None:
        supported: set[str] = set()
        for index, source in enumerate(data["sources"]):
            for position, field in enumerate(source["supports"]):
                supported.add(field)
                if field not in data:
                    self._flag(
                        doc,
                        f"/sources/{index}/supports/{position}",
                        "unknown-supported-field",
                        f"this source supports {field!r}, but the record has no {field!r}",
                    )
        for field in data:
            if field not in NOT_FACTS and field not in supported:
                self._flag(
                    doc,
                    pointer_join("", field),
                    "unsourced-fact",
                    f"{field!r} has no source: name it in the `supports` list of a source",
                    at_key=True,
                )

    # -- parallel chunks -------------------------------------------------------------------------

    def state(self) -> dict[str, t.Any]:
        """Everything :meth:`merge` needs, as plain picklable values."""
        return {
            "problems": self.report.problems,
            "records": self.report.records,
            "pending": self._pending,
            **self._collection.state(),
            "kept": self.records,
        }

    def merge(self, state: dict[str, t.Any]) -> None:
        """Take in a later chunk's results, as if its records had been added here in order."""
        self.report.problems.extend(state["problems"])
        self.report.records += state["records"]
        self._pending.extend(state["pending"])
        self._pending.extend(self._collection.merge(state))
        self.records.extend(state["kept"])

    # -- across the collection -------------------------------------------------------------------

    def finish(self) -> Result:
        """Run the collection rules, then place every problem at its line and column."""
        self._pending.extend(self._collection.check())
        positions = Positions()
        for pending in self._pending:
            where = (
                positions.locate(pending.file, pending.document, pending.pointer, key=pending.at_key)
                if self.in_files
                else None
            )
            line, column = where if where else (None, None)
            self.report.problems.append(
                Problem(
                    file=pending.file,
                    line=line,
                    column=column,
                    pointer=pending.pointer,
                    code=pending.code,
                    message=pending.message,
                    document=pending.document,
                )
            )
        self._pending.clear()
        return Result(self.report, self.records)


PARALLEL_FROM = 1000  # files; below this a second process costs more than it saves


def check_paths(
    paths: t.Sequence[str | os.PathLike[str]],
    *,
    keep: bool = False,
    model: Model | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    jobs: int | None = None,
) -> Result:
    """Validate every record under ``paths``; with ``keep`` the valid records come back too.

    Large trees are loaded and schema-checked by ``jobs`` processes (default: one per core)
    in contiguous chunks; the collection rules then run once over the merged indexes, so the
    result is the same as with one process.
    """
    checker = Checker(model, keep=keep)
    files: list[Path] = []
    for item in iter_record_files(paths):
        if isinstance(item, Problem):
            checker.add_problem(item)
            checker.report.files += 1
        else:
            files.append(item)
    checker.report.files += len(files)
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    # A caller's own `model` stays in this process; workers use the cached default model.
    if workers > 1 and len(files) >= (PARALLEL_FROM if jobs is None else 2) and model is None and _can_fork():
        import concurrent.futures
        import multiprocessing

        load_model()  # read and check the schemas once; each worker compiles its own validators
        size = -(-len(files) // (workers * 4))
        chunks = [files[i : i + size] for i in range(0, len(files), size)]
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for state in pool.map(_check_chunk, chunks, [keep] * len(chunks), [max_bytes] * len(chunks)):
                checker.merge(state)
    else:
        checker.add_files(files, max_bytes)
    return checker.finish()


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _check_chunk(files: list[Path], keep: bool, max_bytes: int) -> dict[str, t.Any]:
    """In a worker: load and check some files; hand back the indexes, not the checker."""
    checker = Checker(keep=keep)
    checker.add_files(files, max_bytes)
    return checker.state()
