"""Stage 2, validate: schema checks per record, then rules across the whole collection.

Records stream through :class:`Checker` one at a time; only small indexes (ids, references,
quotes) are kept for the collection rules, plus the records themselves when a caller (the
exporters) asks for them. Problems are collected as values; their line and column are looked
up at the end, and only for files that have problems.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t
from pathlib import Path

from . import dates
from .loader import MAX_FILE_BYTES, Document, Positions, iter_record_files, load_file
from .problems import Problem, Report, pointer_join
from .schemas import Model, load_model, values_at

if t.TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

#: Top-level fields that are bookkeeping or editorial, not facts, and so need no source.
NOT_FACTS = frozenset({"id", "type", "sources", "notes", "description"})

_JSON_TYPE = {
    dict: "a mapping",
    list: "a list",
    str: "text",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null (empty)",
}
_SCHEMA_TYPE = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "null": "null",
}


@dataclasses.dataclass(slots=True)
class _Pending:
    """A problem whose line and column are looked up once all records are read."""

    file: str
    document: int
    pointer: str
    code: str
    message: str
    at_key: bool = False


def _duplicate(record_id: str, file: str, index: int, first: tuple[str, int, str]) -> _Pending:
    where = first[0] + (f" (document {first[1] + 1})" if first[1] else "")
    return _Pending(file, index, "/id", "duplicate-id", f"id {record_id!r} is already used by a {first[2]} in {where}")


@dataclasses.dataclass(slots=True)
class Result:
    """A validation run: the report, and the valid collection when it was asked for."""

    report: Report
    records: list[Document]


class Checker:
    """Feeds documents through schema checks and gathers what the collection rules need."""

    def __init__(self, model: Model | None = None, *, keep: bool = False) -> None:
        self.model = model or load_model()
        self.keep = keep
        self.records: list[Document] = []
        self.report = Report()
        self._pending: list[_Pending] = []
        self._ids: dict[str, tuple[str, int, str]] = {}
        self._refs: list[tuple[str, int, str, str, tuple[str, ...]]] = []
        self._quotes: list[tuple[str, int, str, str, str]] = []
        self._article_texts: dict[str, str] = {}

    # -- per record ------------------------------------------------------------------------------

    def add_problem(self, problem: Problem) -> None:
        self.report.problems.append(problem)

    def _flag(self, doc: Document, pointer: str, code: str, message: str, *, at_key: bool = False) -> None:
        self._pending.append(_Pending(doc.file, doc.index, pointer, code, message, at_key))

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
                hint = _did_you_mean(str(type_name), self.model.types)
                self._flag(doc, "/type", "unknown-type", f"unknown record type {type_name!r}{hint} (one of: {known})")
            return
        if not self.model.fast_is_valid(info.name, data):  # None (no fast path) or False: look closely
            errors = list(self.model.validator(info.name).iter_errors(data))
            for error in errors:
                for pointer, code, message, at_key in describe(error, data):
                    self._flag(doc, pointer, code, message, at_key=at_key)
            fallback = [] if errors else self.model.fast_errors(info.name, data)
            for path, message in fallback:  # the validators disagree: never let a refusal pass unreported
                self._flag(doc, _pointer(path), "schema-other", message)
            if errors or fallback:
                return  # collection rules assume schema-valid records
        record_id = t.cast(str, data["id"])
        previous = self._ids.get(record_id)
        if previous is not None:
            self._pending.append(_duplicate(record_id, doc.file, doc.index, previous))
        else:
            self._ids[record_id] = (doc.file, doc.index, info.name)
        for template, allowed in info.references:
            for pointer, target in values_at(data, template):
                self._refs.append((doc.file, doc.index, pointer, t.cast(str, target), allowed))
        for index, source in enumerate(t.cast(list[dict[str, t.Any]], data["sources"])):
            if "article" in source:
                self._quotes.append(
                    (doc.file, doc.index, f"/sources/{index}/quote", source["article"], source["quote"])
                )
        if info.name == "article":
            self._article_texts[record_id] = t.cast(str, data["text"])
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
            "ids": self._ids,
            "refs": self._refs,
            "quotes": self._quotes,
            "articles": self._article_texts,
            "kept": self.records,
        }

    def merge(self, state: dict[str, t.Any]) -> None:
        """Take in a later chunk's results, as if its records had been added here in order."""
        self.report.problems.extend(state["problems"])
        self.report.records += state["records"]
        self._pending.extend(state["pending"])
        for record_id, (file, index, type_name) in state["ids"].items():
            previous = self._ids.get(record_id)
            if previous is None:
                self._ids[record_id] = (file, index, type_name)
            else:
                self._pending.append(_duplicate(record_id, file, index, previous))
        self._refs.extend(state["refs"])
        self._quotes.extend(state["quotes"])
        self._article_texts.update(state["articles"])
        self.records.extend(state["kept"])

    # -- across the collection -------------------------------------------------------------------

    def finish(self) -> Result:
        """Run the collection rules, then place every problem at its line and column."""
        for file, index, pointer, target, allowed in self._refs:
            found = self._ids.get(target)
            if found is None:
                hint = _did_you_mean(target, self._ids)
                self._pending.append(
                    _Pending(
                        file, index, pointer, "dangling-reference", f"{target!r} is not the id of any record{hint}"
                    )
                )
            elif found[2] not in allowed:
                self._pending.append(
                    _Pending(
                        file,
                        index,
                        pointer,
                        "reference-type",
                        f"{target!r} is a {found[2]}; here it must be {_either(allowed)}",
                    )
                )
        for file, index, pointer, article, quote in self._quotes:
            text = self._article_texts.get(article)
            if text is None:
                continue  # a dangling or mistyped article reference was reported above
            if quote not in text:
                self._pending.append(
                    _Pending(
                        file,
                        index,
                        pointer,
                        "quote-not-found",
                        f"quote not found verbatim in article {article!r}{_near_miss(quote, text)}",
                    )
                )
        positions = Positions()
        for pending in self._pending:
            where = positions.locate(pending.file, pending.document, pending.pointer, key=pending.at_key)
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


# -- schema errors in plain words -------------------------------------------------------------------


def _did_you_mean(word: str, choices: t.Iterable[str]) -> str:
    import difflib  # only when there is a problem to explain

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _either(names: t.Sequence[str]) -> str:
    words = [f"a {n}" if n[0] not in "aeiou" else f"an {n}" for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _near_miss(quote: str, text: str) -> str:
    """Point at the closest passage, so a curly quote or a typo is easy to spot."""
    import difflib

    matcher = difflib.SequenceMatcher(None, text, quote, autojunk=False)
    match = matcher.find_longest_match(0, len(text), 0, len(quote))
    if match.size >= 12:
        start = max(0, match.a - match.b)
        excerpt = " ".join(text[start : start + min(len(quote), 80)].split())
        return f"; the closest passage reads {excerpt!r}"
    return ""


def _pointer(path: t.Iterable[t.Any]) -> str:
    pointer = ""
    for token in path:
        pointer = pointer_join(pointer, token)
    return pointer


def _shown(value: t.Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(error: ValidationError, root: t.Any = None) -> list[tuple[str, str, str, bool]]:
    """Turn one jsonschema error into ``(pointer, code, message, at_key)`` items in plain words."""
    pointer = _pointer(error.absolute_path)
    keyword = error.validator
    instance: t.Any = error.instance
    value: t.Any = error.validator_value
    schema: t.Any = error.schema
    hint = schema.get("errorMessage") if isinstance(schema, dict) else None
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        out = []
        for key in instance:
            if key not in allowed:
                out.append(
                    (
                        pointer_join(pointer, key),
                        "schema-unknown-key",
                        f"unknown key {key!r}{_did_you_mean(key, allowed)}; allowed here: {', '.join(allowed)}",
                        True,
                    )
                )
        return out or [(pointer, "schema-unknown-key", error.message, False)]
    if schema is False:  # a `false` subschema under `properties`: that key may not be here
        parent: t.Any = root
        for token in error.absolute_path:
            parent = parent[token]
        keys = [k for k, v in parent.items() if v is instance] if isinstance(parent, dict) else []
        return [
            (pointer_join(pointer, key), "schema-unknown-key", f"key {key!r} is not allowed here", True) for key in keys
        ] or [(pointer, "schema-unknown-key", error.message, False)]
    if keyword == "not" and isinstance(value, dict) and "pattern" in value:
        return [
            (
                pointer,
                "schema-pattern",
                f"{_shown(instance)} is not valid here: {hint or 'must not match ' + value['pattern']}",
                False,
            )
        ]
    if keyword == "required":  # jsonschema reports each missing key as its own error
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        named = [k for k in missing if error.message.startswith(repr(k))] or missing
        return [(pointer, "schema-required", f"missing required key {k!r}", False) for k in named[:1]]
    if keyword == "dependentRequired":  # like `required`: one error per missing companion
        pairs = [
            (key, need) for key, needs in value.items() if key in instance for need in needs if need not in instance
        ]
        named = [(k, n) for k, n in pairs if error.message == f"{n!r} is a dependency of {k!r}"] or pairs
        return [(pointer, "schema-required", f"{k!r} needs {n!r} beside it", False) for k, n in named[:1]] or [
            (pointer, "schema-required", error.message, False)
        ]
    if keyword == "type":
        wanted = value if isinstance(value, list) else [value]
        got = _JSON_TYPE.get(type(instance), type(instance).__name__)
        message = f"expected {' or '.join(_SCHEMA_TYPE.get(w, str(w)) for w in wanted)}, got {got} {_shown(instance)}"
        if "string" in wanted and isinstance(instance, (bool, int, float)):
            message += " (put it in quotes to keep it as text)"
        return [(pointer, "schema-type", message, False)]
    if keyword in ("enum", "const"):
        options = value if keyword == "enum" else [value]
        close = _did_you_mean(str(instance), [str(o) for o in options])
        return [
            (
                pointer,
                "schema-enum",
                f"{_shown(instance)} is not allowed{close}; use one of: " + ", ".join(str(o) for o in options),
                False,
            )
        ]
    if keyword == "pattern":
        return [
            (pointer, "schema-pattern", f"{_shown(instance)} is not valid here: {hint or 'must match ' + value}", False)
        ]
    if keyword == "format":
        if value == "edtf":
            try:
                dates.parse(instance)
                detail = "not a date"
            except dates.EdtfError as exc:
                detail = str(exc)
            return [(pointer, "schema-format", detail, False)]
        label = {"uri": "an absolute URL", "date": "a date (YYYY-MM-DD)"}.get(value, value)
        return [(pointer, "schema-format", f"{_shown(instance)} is not {label}", False)]
    if keyword in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        if keyword == "minItems" and value == 1:
            message = "an empty list says nothing: remove the key, or add an item"
        elif keyword == "minLength" and value == 1:
            message = "empty text: remove the key, or write the value"
        elif keyword == "minProperties":
            message = "an empty mapping says nothing: remove the key, or add an entry"
        else:
            message = error.message
        return [(pointer, "schema-length", message, False)]
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [(pointer, "schema-range", f"{_shown(instance)} is out of range ({keyword} {value})", False)]
    if keyword == "uniqueItems":
        seen: list[t.Any] = []
        for index, item in enumerate(instance):
            if item in seen:
                return [(pointer_join(pointer, index), "schema-unique", f"{_shown(item)} is listed twice", False)]
            seen.append(item)
        return [(pointer, "schema-unique", "a list repeats an item", False)]
    if keyword in ("anyOf", "oneOf") and hint:
        return [(pointer, "schema-other", hint, False)]
    return [(pointer, "schema-other", error.message, False)]
