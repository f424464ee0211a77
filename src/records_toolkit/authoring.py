"""Authoring helpers behind ``toolkit new``, ``quote``, ``show`` and ``schema``.

Everything is read from the model (:func:`records_toolkit.schemas.load_model`): required fields,
allowed values, reference targets and descriptions, so that a new type or a new ``kind`` in the
schemas needs no change here. Records are read with :func:`records_toolkit.api.load`; the public
entry points are the functions of :mod:`records_toolkit.api` that call these.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from pathlib import Path

from .errors import InvalidData, UsageError
from .messages import did_you_mean
from .provenance import NOT_FACTS  # the fields no source has to support (the ``unsourced-fact`` rule)

if t.TYPE_CHECKING:
    from .problems import Problem
    from .schema_view import SchemaView, TypeView

TODO_URL = "https://example.org/TODO"


def _view() -> SchemaView:
    from .schema_view import SchemaView
    from .schemas import load_model

    return SchemaView.of(load_model())


def _type_view(type_name: t.Any) -> TypeView:
    view = _view()
    if not isinstance(type_name, str) or type_name not in view.types:
        names = ", ".join(view.types)
        hint = did_you_mean(type_name, view.types) if isinstance(type_name, str) else ""
        raise UsageError(f"{type_name!r} is not a record type{hint}; the types are: {names}")
    return view.types[type_name]


# -- records of the collection ---------------------------------------------------------------------


def _records(records: t.Any, holding: str) -> tuple[list[dict[str, t.Any]], list[Problem]]:
    """The records under ``records`` (loaded, not validated) that hold the text ``holding`` as a
    value (the record with that id, the records referring to it), and the problems of the files
    parsed and of the walk.

    Only the files whose bytes may hold it are parsed (:func:`_may_hold`); every other is read but
    not parsed: ``show``, ``quote`` and ``new`` look for one id, and parsing the whole collection
    for it took 12 s and 536 MiB at 100,000 records. Records of those files that do not hold it
    are let go as they come (an id that is part of 36,000 others' kept them all: 265 MiB)."""
    from functools import partial

    from . import api
    from .loader import MAX_FILE_BYTES, iter_record_files, load_file

    problems: list[Problem] = []
    given = api._paths(records)
    found = api._load(given, MAX_FILE_BYTES, problems, iter_record_files, partial(load_file, wanted=_may_hold(holding)))
    loaded = [dict(r) for r in found if isinstance(r, t.Mapping) and _holds(r, holding)]
    return loaded, problems


def _holds(value: t.Any, text: str) -> bool:
    """Whether ``text`` is ``value`` or one of the values in it, at any depth."""
    if type(value) is str:
        return value == text
    if isinstance(value, t.Mapping):
        return any(_holds(item, text) for item in value.values())
    if isinstance(value, list):
        return any(_holds(item, text) for item in value)
    return False


# Text that YAML can only spell as itself: no white space or line break (a folded line makes a
# space of one), no quote mark (two single quotes make one), no backslash, nothing unprintable.
_SPELLED_AS_ITSELF = re.compile(r"[^\s\"'\\]+")
_ESCAPE = re.compile(rb'\\[^"]')  # (an escape in a double-quoted scalar, but \" which makes a quote mark)


def _may_hold(text: str) -> t.Callable[[bytes], bool]:
    """A test of a file's bytes (strict UTF-8, as the loader reads them): False only when no
    scalar of it can be ``text``. Such text that YAML spells only as itself (YAML 1.2, §7.3 and
    §7.4: escapes are the only other way) is in the bytes of every scalar equal to it, or the file
    holds an escape; other text may be any file's."""
    if not (_SPELLED_AS_ITSELF.fullmatch(text) and text.isprintable()):
        return lambda raw: True
    needle = text.encode("utf-8")
    return lambda raw: needle in raw or (b"\\" in raw and _ESCAPE.search(raw) is not None)


def _unreadable(problems: t.Sequence[Problem]) -> str:
    files = sorted({p.file for p in problems})
    if not files:
        return ""
    return f" ({len(files)} file{'' if len(files) == 1 else 's'} could not be read: run `toolkit validate`)"


def _find(records: t.Any, record_id: t.Any, what: str = "record") -> tuple[dict[str, t.Any], list[dict[str, t.Any]]]:
    """The record ``record_id`` (the first, in the walk's order) and the records of the files that
    may hold its id (every record referring to it is one). No such record: the collection is read
    whole for a did-you-mean, and the message counts every file that could not be read."""
    from . import api

    if not isinstance(record_id, str) or not record_id:
        raise UsageError(f"give the id of {'an' if what[0] in 'aeiou' else 'a'} {what} as text")
    paths = api._paths(records)  # (read twice: an iterator of paths, once)
    loaded, _ = _records(paths, holding=record_id)
    for record in loaded:
        if record.get("id") == record_id:
            return record, loaded
    problems: list[Problem] = []
    ids = [
        r["id"]
        for r in api.load(paths, problems=problems)
        if isinstance(r, t.Mapping) and isinstance(r.get("id"), str) and (what == "record" or r.get("type") == what)
    ]
    where = Path(records if isinstance(records, str) else str(records)).as_posix()
    hint = did_you_mean(record_id, ids) or _starting_with(record_id, ids)
    raise InvalidData(f"no {what} has the id {record_id!r} in {where}{hint}{_unreadable(problems)}")


def _starting_with(given: str, ids: t.Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the only id that starts with ``given``; a few of them when several do."""
    found = sorted(i for i in ids if i.startswith(given))
    if not found:
        return ""
    shown = ", ".join(repr(i) for i in found[:3]) + (", ..." if len(found) > 3 else "")
    return f" (did you mean {shown}?)" if len(found) == 1 else f" (ids starting so: {shown})"


# -- new -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Placeholders:
    review: list[str] = dataclasses.field(default_factory=list)


def skeleton(type_name: str, record_id: str) -> dict[str, t.Any]:
    """A record of ``type_name`` with every required field as an obvious placeholder (``TODO: ...``).

    Enumerations get their first allowed value (listed in ``notes`` for review). A required date
    is ``"TODO"``, which ``validate`` refuses until the real date is written: a skeleton never
    carries an invented date (nor the clock's). One outside source (``url`` and ``title`` to
    replace) supports every required fact field.
    """
    view = _type_view(type_name)
    schema = view.schema
    properties = t.cast(t.Mapping[str, t.Any], schema.get("properties", {}))
    marks = _Placeholders()
    record: dict[str, t.Any] = {}
    for name in view.required:
        if name == "id":
            record[name] = record_id
        elif name == "sources":
            continue
        else:
            record[name] = _placeholder(name, properties.get(name, {}), marks)
    facts = [name for name in view.fields if name in record and name not in NOT_FACTS]
    if "sources" in properties:
        record["sources"] = [{"url": TODO_URL, "title": "TODO: title of the source", "supports": facts}]
    if "notes" in properties:
        review = f" Review {'; '.join(marks.review)}." if marks.review else ""
        record["notes"] = (
            f"TODO: replace every TODO placeholder (texts, the source's url and title).{review} "
            "Then delete or rewrite this note."
        )
    return view.ordered(record)


def _placeholder(name: str, schema: t.Mapping[str, t.Any], marks: _Placeholders, at: str = "") -> t.Any:
    at = at or name
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        options = list(schema["enum"])
        marks.review.append(f"{at} (set to {options[0]!r}; allowed: {', '.join(map(str, options))})")
        return options[0]
    if schema.get("format") == "edtf":
        marks.review.append(f"{at} (write the date, as precise as the sources: 2022, 2022-01 or 2022-01-21)")
        return "TODO"
    if "x-refers-to" in schema:
        return "todo"  # no valid placeholder exists: `validate` reports it as a dangling reference
    kind = schema.get("type")
    if kind == "array":
        items = t.cast(t.Mapping[str, t.Any], schema.get("items", {}))
        return [_placeholder(name, items, marks, f"{at}[0]")]
    if kind == "object":
        props = t.cast(t.Mapping[str, t.Any], schema.get("properties", {}))
        return {key: _placeholder(key, props.get(key, {}), marks, f"{at}.{key}") for key in schema.get("required", ())}
    if kind in ("number", "integer"):
        marks.review.append(f"{at} (set to 0)")
        return 0
    if kind == "boolean":
        marks.review.append(f"{at} (set to false)")
        return False
    if schema.get("format") == "uri" or str(schema.get("pattern", "")).startswith("^https?"):
        return TODO_URL
    return f"TODO: {name.replace('_', ' ')}"


def check_id(type_name: str, record_id: t.Any) -> str:
    """``record_id`` if it is a valid id (the schema's slug pattern), else :class:`InvalidData`."""
    view = _type_view(type_name)
    rule = t.cast(t.Mapping[str, t.Any], view.schema.get("properties", {})).get("id", {})
    if not isinstance(record_id, str):
        raise UsageError(f"give the id as text, not {type(record_id).__name__}")
    pattern = rule.get("pattern")
    longest = rule.get("maxLength")
    form = rule.get("errorMessage") or (f"it must match {pattern}" if pattern else "")
    bad = (
        not record_id
        or "\n" in record_id
        or "\r" in record_id
        or (isinstance(pattern, str) and re.search(pattern, record_id) is None)
    )
    if bad:
        raise InvalidData(f"{record_id!r} is not a valid id: {form} (nothing written)")
    if isinstance(longest, int) and len(record_id) > longest:
        raise InvalidData(f"{record_id!r} is not a valid id: at most {longest} characters (nothing written)")
    return record_id


def new_record(type_name: str, record_id: str, records: t.Any) -> Path:
    from . import api
    from .canonical import dumps
    from .output import atomic_write

    base = api._path(records, "records")
    check_id(type_name, record_id)
    path = base / f"{type_name}s" / f"{record_id}.yaml"
    if path.exists() or path.is_symlink():
        raise InvalidData(f"{path.as_posix()} already exists (nothing written)")
    if base.is_dir():
        loaded, _problems = _records(base, holding=record_id)
        for other in loaded:
            if other.get("id") == record_id:
                raise InvalidData(
                    f"the id {record_id!r} is already used by a {other.get('type', 'record')} of {base.as_posix()}: "
                    "ids are unique across the collection (nothing written)"
                )
    atomic_write(path, dumps([skeleton(type_name, record_id)]).encode("utf-8"))
    return path


# -- quote -----------------------------------------------------------------------------------------

# A sentence ends at . ! or ? (and any closing quote marks or brackets) before white space, unless
# the next word starts with a lowercase letter ("approx. five"); a blank line (paragraph) ends one too.
_END = re.compile(r"[.!?][\"'”’»)\]]*(?=\s+(?![a-z]))|\n[ \t]*\n")


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, each exactly as it stands in the text (outer white space left out)."""
    found: list[str] = []
    start = 0
    for match in _END.finditer(text):
        end = match.end() if match.group().strip() else match.start()
        piece = text[start:end].strip()
        if piece:
            found.append(piece)
        start = end
    rest = text[start:].strip()
    if rest:
        found.append(rest)
    return found


def find_quotes(article_id: str, words: t.Sequence[str], records: t.Any) -> list[str]:
    if isinstance(words, str) or not all(isinstance(w, str) for w in words):
        raise UsageError("words: give a list of words (text)")
    wanted = [w.strip() for w in words if w.strip()]
    if not wanted:
        raise UsageError("give one or more words to look for")
    article, _loaded = _find(records, article_id, "article")
    if article.get("type") != "article":
        raise InvalidData(f"{article_id!r} is a {article.get('type')}, not an article: quotes come from articles")
    text = article.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidData(f"article {article_id!r} has no text to quote")
    folded = [w.casefold() for w in wanted]
    matches: list[str] = []
    for sentence in sentences(text):
        if all(w in sentence.casefold() for w in folded) and sentence not in matches:
            matches.append(sentence)
    if not matches:
        absent = [w for w, f in zip(wanted, folded) if f not in text.casefold()]
        why = (
            f"; not in its text at all: {', '.join(repr(w) for w in absent)}"
            if absent
            else "; each word is in the text, but no one sentence holds them all"
        )
        raise InvalidData(f"no sentence of article {article_id!r} holds all of {', '.join(map(repr, wanted))}{why}")
    return matches


def source_blocks(article_id: str, quotes: t.Sequence[str]) -> str:
    """One source per quote as canonical YAML, indented as under ``sources:`` in a record."""
    from .canonical import dumps

    holder = {"sources": [{"article": article_id, "quote": q, "supports": []} for q in quotes]}
    text = dumps([holder])
    return text.split("\n", 1)[1]  # without the "sources:" line


# -- show ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Referrer:
    """A record that refers to another: its id, its type, and where (a JSON pointer)."""

    id: str
    type: str
    pointer: str


@dataclasses.dataclass(frozen=True)
class Shown:
    """What ``toolkit show`` tells of a record."""

    record: dict[str, t.Any]
    yaml: str
    referrers: tuple[Referrer, ...]
    cites: tuple[str, ...]
    """The articles its sources quote (ids, in order of first citation)."""


def show(record_id: str, records: t.Any) -> Shown:
    from .canonical import canonical_record, dumps
    from .schema_types import values_at

    record, loaded = _find(records, record_id)
    view = _view()
    referrers: list[Referrer] = []
    for other in loaded:
        info = view.types.get(other.get("type")) if isinstance(other.get("type"), str) else None  # type: ignore[arg-type]
        if info is None:
            continue
        for reference in info.references:
            for pointer, value in values_at(other, reference.path):
                if value == record_id:
                    referrers.append(Referrer(str(other.get("id", "?")), info.name, pointer))
    sources = record.get("sources")
    cites: list[str] = []
    for source in sources if isinstance(sources, list) else []:
        article = source.get("article") if isinstance(source, dict) else None
        if isinstance(article, str) and article not in cites:
            cites.append(article)
    return Shown(canonical_record(record), dumps([record]), tuple(referrers), tuple(cites))


# -- schema ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a record type, as ``toolkit schema TYPE`` lists it."""

    name: str
    required: bool
    kind: str
    """What the value is: "text", "EDTF date", "one of the allowed values", "list of ...", ..."""
    description: str
    allowed: tuple[str, ...] = ()
    refers_to: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class TypeSchema:
    """A record type: its name, its one-line description, its fields in canonical order."""

    name: str
    description: str
    fields: tuple[Field, ...]


def describe(type_name: str) -> TypeSchema:
    view = _type_view(type_name)
    schema = view.schema
    properties = t.cast(t.Mapping[str, t.Any], schema.get("properties", {}))
    fields = []
    for name in view.fields:
        sub = t.cast(t.Mapping[str, t.Any], properties.get(name, {}))
        inner = _items(sub)
        fields.append(
            Field(
                name=name,
                required=name in view.required,
                kind=_kind(sub),
                description=_one_line(sub.get("description") or inner.get("description") or ""),
                allowed=tuple(str(v) for v in inner.get("enum", ())),
                refers_to=tuple(inner.get("x-refers-to", ())),
            )
        )
    return TypeSchema(view.name, _one_line(str(schema.get("description") or schema.get("title") or "")), tuple(fields))


def describe_all() -> tuple[TypeSchema, ...]:
    return tuple(describe(name) for name in _view().types)


def _items(schema: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    while schema.get("type") == "array" and isinstance(schema.get("items"), t.Mapping):
        schema = schema["items"]
    return schema


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _kind(schema: t.Mapping[str, t.Any]) -> str:
    if "const" in schema:
        return f"always {schema['const']!r}"
    if "enum" in schema:
        return "one of the allowed values"
    if schema.get("format") == "edtf":
        return "EDTF date"
    if "x-refers-to" in schema:
        targets = list(schema["x-refers-to"])
        either = targets[0] if len(targets) == 1 else ", ".join(targets[:-1]) + " or " + targets[-1]
        return f"the id of {'an' if either[0] in 'aeiou' else 'a'} {either}"
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return "list, each: " + (_kind(items) if isinstance(items, t.Mapping) else "a value")
    if kind == "object":
        keys = list(t.cast(t.Mapping[str, t.Any], schema.get("properties", {})))
        required = set(schema.get("required", ()))
        shown = ", ".join(f"{k}{'' if k in required else '?'}" for k in keys)
        return f"mapping ({shown})" if shown else "mapping"
    if kind == "string":
        if schema.get("format") == "uri":
            return "URL"
        form = schema.get("errorMessage")
        return f"text: {form}" if isinstance(form, str) else "text"
    if kind in ("number", "integer", "boolean"):
        return str(kind)
    return "value"
