"""CSV: one table per record type, link tables for lists, a Frictionless ``datapackage.json``.

The layout is read from the schemas, so a new property gets a column without code here:

* ``<type>s.csv`` (``articles.csv``, ``persons.csv``, ...): one row per record, one column per
  scalar property in the schema's property order; an object of scalars (``identifiers``,
  ``coordinates``) becomes ``<property>_<key>`` columns. ``type`` is the table, not a column.
* ``<type>_<property>.csv``: one row per item of a list (``event_locations.csv``,
  ``person_aliases.csv``, ``event_participants.csv``, ``article_sources.csv``), keyed by
  ``<type>_id`` and a 1-based ``position`` that keeps the list's order. A list inside a list item
  (a source's ``supports``) gets ``<type>_<list>_<property>.csv`` keyed by the owner's keys plus
  its own ``position``.
* ``datapackage.json`` (Frictionless Data Package / Table Schema v1): types, primary keys, foreign
  keys, the cell guard.

The bytes follow RFC 4180 §2 (CRLF line ends, a header row, fields holding ``,`` ``"`` CR or LF
quoted, ``"`` doubled), in UTF-8 without a BOM. An empty cell means the key is absent: the
schemas forbid empty strings and empty lists, so nothing is lost (Table Schema
``missingValues: [""]``).

Formula injection (OWASP "CSV Injection"; formats.md §6): by default a text cell beginning with
``= + - @`` TAB, CR or ``'`` is written with one extra leading ``'``; so is a cell that a
spreadsheet would still read as a formula once it normalises it: one whose first character after
any leading white space, control or invisible format characters (Unicode Cf: zero-width space and
joiners, BOM, ...) is ``= + - @`` under NFKC (full-width ``＝ ＋ － ＠``, small ``﹦ ﹢ ﹣ ﹫``), or
U+2212 MINUS SIGN. That is reversible (strip exactly one ``'`` from a cell that starts with one:
only a guarded cell does), so :meth:`CsvFormat.import_records` gives back the exact records;
number cells are never touched. ``-O cells=raw`` writes cells as they are. The choice is
declared per table in ``datapackage.json`` (``x-cells``, ``x-cell-guard``), where the importer
reads it.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import os
import re
import string
import typing as t
import unicodedata
from pathlib import Path, PurePosixPath

from records_toolkit.errors import CouldNotRun, InvalidSource
from records_toolkit.exporters import Unreadable, brief, open_directory, parse_json, read_source
from records_toolkit.loader import MAX_FILE_BYTES
from records_toolkit.plugins import Context, Exported, Option, Part, Record, Slice, Writable, invalid_source

if t.TYPE_CHECKING:
    from records_toolkit.schema_view import SchemaView, TypeView

PACKAGE = "datapackage.json"

#: OWASP CSV Injection triggers (TAB, CR included), plus the guard character itself so that
#: the guard is a bijection: guard(s) = "'" + s when s starts with one of these.
GUARD_PREFIX = "'"
GUARD_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")
#: What spreadsheets read as a formula's start after normalising the cell: the first character
#: after leading white space, controls and format (Cf) characters, NFKC-normalised, is one of these.
FORMULA_STARTS = ("=", "+", "-", "@")
_ALSO_FORMULA_STARTS = frozenset("\u2212")  # MINUS SIGN: no NFKC decomposition, still read as a sign
_SKIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
GUARD_RULE = (
    "a text cell is guarded when it begins with one of the triggers, or when its first character after "
    "any leading white space, control or format (Unicode Cf) characters is, under Unicode NFKC, one of "
    "= + - @ (full-width ＝ ＋ － ＠ included) or is U+2212"
)

#: The accepted EDTF subset of records_toolkit.dates as a Table Schema pattern (XML Schema
#: regular expression, implicitly anchored; no non-capturing groups, so other tools read it too).
_EDTF_DATE = r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?[?~%]?"
EDTF_PATTERN = rf"({_EDTF_DATE}(/({_EDTF_DATE}|\.\.)?)?|(\.\.)?/{_EDTF_DATE}|\[(\.\.{_EDTF_DATE}|{_EDTF_DATE}\.\.)\])"
EDTF_DESCRIPTION = (
    "EDTF (ISO 8601-2) date kept as text, as precise as the sources: YYYY, YYYY-MM or YYYY-MM-DD, "
    "optionally qualified ? (uncertain) ~ (approximate) % (both); intervals A/B with open (..) or unknown "
    "(empty) ends; [..D] on or before D, [D..] on or after D. Not a calendar date: a year stays a year."
)

_PLAIN_FIRST = frozenset(string.ascii_letters + string.digits)
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def needs_guard(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula (or it starts with the guard itself)."""
    if text[:1] in _PLAIN_FIRST:  # an ASCII letter or digit first: no trigger, nothing skipped (most cells)
        return False
    if text.startswith(GUARD_TRIGGERS):
        return True
    for char in text:  # only the leading invisible characters are looked at
        if char.isspace() or unicodedata.category(char) in _SKIPPED_CATEGORIES:
            continue
        return char in _ALSO_FORMULA_STARTS or unicodedata.normalize("NFKC", char).startswith(FORMULA_STARTS)
    return False


def guard(text: str) -> str:
    """The reversible formula guard (formats.md §6): one ``'`` before a cell :func:`needs_guard`."""
    return GUARD_PREFIX + text if needs_guard(text) else text


def unguard(cell: str) -> str:
    """Undo :func:`guard`: drop exactly one leading ``'`` (only a guarded cell starts with one)."""
    return cell[len(GUARD_PREFIX) :] if cell.startswith(GUARD_PREFIX) else cell


# -- the layout, read from the schemas ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Column:
    """One CSV column: where its value sits in a row's object, and its Table Schema field."""

    name: str
    path: tuple[str, ...]  # keys into the row's object (record or list item); () = the item itself (or a key column)
    type: t.Literal["string", "number", "integer", "boolean", "json"]  # json: the cell is the value's JSON text
    field: dict[str, t.Any]  # the Table Schema field descriptor


@dataclasses.dataclass(frozen=True)
class Table:
    """One CSV file. ``lists`` is the path of list properties from the record to this table's items."""

    name: str
    record_type: str
    lists: tuple[str, ...]
    keys: tuple[Column, ...]
    values: tuple[Column, ...]
    items_are_scalars: bool
    description: str
    foreign_keys: tuple[dict[str, t.Any], ...]

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.keys + self.values

    @property
    def path(self) -> str:
        return f"{self.name}.csv"


def main_table(type_name: str) -> str:
    """``article`` -> ``articles`` (the name of records/<type>s/ too)."""
    return f"{type_name}s"


class _LayoutBuilder:
    """Walks one type's schema and builds its tables; refuses shapes it cannot lay out."""

    def __init__(self, info: TypeView) -> None:
        self.info = info
        self.tables: list[Table] = []
        self.resolver = None  # the view's schemas have every $ref inlined: nothing to resolve against

    def resolve(self, node: t.Any, resolver: t.Any) -> tuple[t.Mapping[str, t.Any], t.Any]:
        """``node`` as a mapping: a boolean schema (``true``: anything; ``false``: nothing, so never
        a value to write) is the empty one, which pins no type."""
        return (node if isinstance(node, t.Mapping) else {}), resolver

    def build(self) -> list[Table]:
        schema, resolver = self.resolve(self.info.schema, self.resolver)
        owner = f"{self.info.name}_id"
        id_node, _ = self.resolve(schema.get("properties", {}).get("id", {}), resolver)
        id_constraints: dict[str, t.Any] = {"required": True, "unique": True}
        if "pattern" in id_node:
            id_constraints["pattern"] = _xsd(id_node["pattern"])
        id_field = {
            "name": "id",
            "type": "string",
            "description": f"the record's id (records/{main_table(self.info.name)}/<id>.yaml); "
            "ids are unique across all tables",
            "constraints": id_constraints,
        }
        id_column = Column("id", ("id",), "string", id_field)
        values: list[Column] = []
        pending: list[tuple[str, t.Mapping[str, t.Any], t.Any]] = []
        required = set(schema.get("required", ()))
        for key, sub in schema.get("properties", {}).items():
            sub, sub_resolver = self.resolve(sub, resolver)
            if key == "id":
                continue
            if "const" in sub and key in required:
                continue  # ``type``: the table says it
            if sub.get("type") == "array":
                pending.append((key, sub, sub_resolver))
                continue
            values.extend(self.columns(key, (key,), sub, sub_resolver, required=key in required))
        name = main_table(self.info.name)
        fks = tuple(fk for c in values for fk in _reference_fk(c))
        self.tables.append(
            Table(
                name=name,
                record_type=self.info.name,
                lists=(),
                keys=(id_column,),
                values=tuple(values),
                items_are_scalars=False,
                foreign_keys=fks,
                description=f"One row per {self.info.name} record. List-valued properties are in the "
                f"{self.info.name}_* link tables. An empty cell means the property is absent.",
            )
        )
        parent_keys = (
            Column(
                owner,
                (),
                "string",
                {
                    "name": owner,
                    "type": "string",
                    "description": f"id of the {self.info.name} record",
                    "constraints": {"required": True},
                },
            ),
        )
        for key, sub, sub_resolver in pending:
            self.list_table((key,), sub, sub_resolver, parent_keys, (name, ("id",)))
        return self.tables

    def columns(
        self, name: str, path: tuple[str, ...], node: t.Mapping[str, t.Any], resolver: t.Any, *, required: bool
    ) -> list[Column]:
        """Columns for one scalar, or for each key of a closed object (one that allows only the keys
        it names); an open object, which may hold keys no column names, is one JSON text column."""
        if node.get("type") == "object" and _closed(node):
            inner_required = set(node.get("required", ()))
            found: list[Column] = []
            for key, sub in node.get("properties", {}).items():
                sub, _ = self.resolve(sub, resolver)
                column = self.scalar(
                    f"{name}_{key}",
                    (*path, key),
                    sub,
                    required=required and key in inner_required,
                    context=node.get("description"),
                )
                found.append(column)
            return found
        return [self.scalar(name, path, node, required=required)]

    def scalar(
        self,
        name: str,
        path: tuple[str, ...],
        node: t.Mapping[str, t.Any],
        *,
        required: bool,
        context: str | None = None,
    ) -> Column:
        json_type = node.get("type")
        field: dict[str, t.Any] = {"name": name, "type": "string"}
        extra: dict[str, t.Any] = {}
        constraints: dict[str, t.Any] = {}
        descriptions = [d for d in (context, node.get("description")) if d]
        kind: t.Literal["string", "number", "integer", "boolean", "json"] = "string"
        if not _pins_scalar(node):  # (or a list or mapping nested deeper than the tables go, or open)
            kind = "json"
            field["type"] = "any"
            descriptions.append(
                "the value's JSON text (RFC 8259: a text in quotes, true, false, a number, an array or an "
                "object), since the schema does not give it one scalar type a column can hold"
            )
        elif json_type == "boolean":
            kind = "boolean"
            field["type"] = "boolean"
            extra["trueValues"], extra["falseValues"] = ["true"], ["false"]
        elif json_type in ("number", "integer"):
            kind = "number" if json_type == "number" else "integer"
            field["type"] = kind
            for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                if bound in node:
                    constraints[bound] = node[bound]
        elif node.get("format") == "edtf":
            descriptions = [d for d in descriptions if not d.startswith("EDTF subset")] + [EDTF_DESCRIPTION]
            constraints["pattern"] = EDTF_PATTERN
            extra["x-format"] = "edtf"
        elif "x-refers-to" in node:
            targets = list(node["x-refers-to"])
            if "pattern" in node:
                constraints["pattern"] = _xsd(node["pattern"])
            if len(targets) == 1:
                descriptions.append(f"id of a {targets[0]} record")
            else:
                descriptions.append(
                    f"id of a {_either(targets)} record; no foreign key because the target table "
                    "varies (ids are unique across all tables)"
                )
            extra["x-refers-to"] = targets
        elif "enum" in node:
            enum = list(node["enum"])
            if all(isinstance(v, str) and guard(v) == v for v in enum):
                constraints["enum"] = enum
        if required:
            constraints["required"] = True
        if descriptions:
            field["description"] = "; ".join(descriptions)
        if constraints:
            field["constraints"] = constraints
        return Column(name, path, kind, {**field, **extra})

    def list_table(
        self,
        lists: tuple[str, ...],
        node: t.Mapping[str, t.Any],
        resolver: t.Any,
        parent_keys: tuple[Column, ...],
        parent: tuple[str, tuple[str, ...]],
    ) -> None:
        # (prefixItems: items of several shapes by place, each written as its JSON text)
        items, item_resolver = self.resolve({} if "prefixItems" in node else node.get("items", {}), resolver)
        name = f"{self.info.name}_{'_'.join(lists)}"
        position_name = "position"
        position = Column(
            position_name,
            (),
            "integer",
            {
                "name": position_name,
                "type": "integer",
                "description": f"1-based place of the item in the record's {'.'.join(lists)} list (keeps the order)",
                "constraints": {"required": True, "minimum": 1},
            },
        )
        keys = (*parent_keys, position)
        fks: list[dict[str, t.Any]] = [
            {"fields": [k.name for k in parent_keys], "reference": {"resource": parent[0], "fields": list(parent[1])}}
        ]
        pending: list[tuple[str, t.Mapping[str, t.Any], t.Any]] = []
        if items.get("type") == "object" and _closed(items):
            required = set(items.get("required", ()))
            values: list[Column] = []
            for key, sub in items.get("properties", {}).items():
                sub, sub_resolver = self.resolve(sub, item_resolver)
                if sub.get("type") == "array":
                    pending.append((key, sub, sub_resolver))
                    continue
                values.extend(self.columns(key, (key,), sub, sub_resolver, required=key in required))
            scalars = False
            what = f"One row per item of a {self.info.name}'s {'.'.join(lists)}"
        else:
            values = [self.scalar("value", (), items, required=True)]
            scalars = True
            what = f"One row per item of a {self.info.name}'s {'.'.join(lists)} list"
        fks.extend(fk for c in values for fk in _reference_fk(c))
        description = f"{what}, in list order (position). Key: {', '.join(k.name for k in keys)}." + (
            "" if scalars else " An empty cell means the key is absent from the item."
        )
        self.tables.append(
            Table(
                name=name,
                record_type=self.info.name,
                lists=lists,
                keys=keys,
                values=tuple(values),
                items_are_scalars=scalars,
                description=description,
                foreign_keys=tuple(fks),
            )
        )
        renamed = tuple(
            dataclasses.replace(
                k,
                name=f"{lists[-1]}_position",
                field={
                    **k.field,
                    "name": f"{lists[-1]}_position",
                    "description": f"position of the {lists[-1]} item in {name}.csv",
                },
            )
            if k is position
            else k
            for k in keys
        )
        for key, sub, sub_resolver in pending:
            self.list_table((*lists, key), sub, sub_resolver, renamed, (name, tuple(k.name for k in keys)))


def _pins_scalar(node: t.Mapping[str, t.Any]) -> bool:
    """Whether every value ``node`` allows is one kind of scalar a column can type: a ``type`` of
    text, number, integer or boolean, or an ``enum``/``const`` of text alone. Anything else (no
    type, several, ``anyOf``) may hold what a typed cell cannot: its column holds JSON text."""
    json_type = node.get("type")
    if json_type is not None:
        return json_type in ("string", "number", "integer", "boolean")
    if "const" in node:
        return type(node["const"]) is str
    if "enum" in node:
        return isinstance(node["enum"], (list, tuple)) and all(type(value) is str for value in node["enum"])
    return "x-refers-to" in node or node.get("format") == "edtf"


def _closed(node: t.Mapping[str, t.Any]) -> bool:
    """Whether an object allows only the keys it names (``additionalProperties: false``, no
    ``patternProperties``): only then is it laid out as a column per key without losing any."""
    return node.get("additionalProperties") is False and not node.get("patternProperties")


def _xsd(pattern: str) -> str:
    """A JSON Schema (ECMA 262) pattern as a Table Schema one: anchors dropped, plain groups."""
    return pattern.removeprefix("^").removesuffix("$").replace("(?:", "(")


def _either(names: t.Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _reference_fk(column: Column) -> list[dict[str, t.Any]]:
    """A foreign key where the reference has exactly one target type (Table Schema foreignKeys)."""
    targets = column.field.get("x-refers-to", [])
    if len(targets) != 1:
        return []
    return [{"fields": [column.name], "reference": {"resource": main_table(targets[0]), "fields": ["id"]}}]


@functools.lru_cache(maxsize=8)
def layout(schema: SchemaView) -> tuple[Table, ...]:
    """Every table of the export, in a stable order: types sorted, each main table before its lists."""
    tables: list[Table] = []
    for name in sorted(schema.types):
        tables.extend(_LayoutBuilder(schema.types[name]).build())
    return tuple(tables)


# -- export ----------------------------------------------------------------------------------------


def _walk(
    value: t.Any, lists: tuple[str, ...], positions: tuple[int, ...] = ()
) -> t.Iterator[tuple[tuple[int, ...], t.Any]]:
    """Every item at the end of ``lists`` with its 1-based positions along the way."""
    if not lists:
        yield positions, value
        return
    head, rest = lists[0], lists[1:]
    for index, item in enumerate(value.get(head, ()) if isinstance(value, dict) else (), start=1):
        yield from _walk(item, rest, (*positions, index))


ABSENT: t.Final = object()
"""What a JSON-text column is given for a key the record does not hold (its empty cell); a null
value there is ``null``, not absent."""


def _get(value: t.Any, path: tuple[str, ...], absent: t.Any = None) -> t.Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return absent
        value = value[key]
    return value


def _number_cell(value: t.Any) -> str:
    """repr() is the shortest text that reads back as the same float (Python float_repr_style)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CouldNotRun(f"csv: {value!r} is not a number")
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        raise CouldNotRun(f"csv: {value!r} cannot be written as a Table Schema number")
    return repr(value)


def _json_cell(value: t.Any) -> str:
    """A value's JSON text (RFC 8259), compact, characters as they are (what the import parses back)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise CouldNotRun(f"csv: {value!r} cannot be written as JSON text") from None


def _cell(column: Column, value: t.Any, guarded: bool) -> str:
    if column.type == "json":
        return "" if value is ABSENT else _json_cell(value)
    if value is None:
        return ""
    if column.type in ("number", "integer"):
        return _number_cell(value)
    if column.type == "boolean":
        if type(value) is not bool:
            raise CouldNotRun(f"csv: {value!r} is not true or false")
        return "true" if value else "false"
    text = str(value)
    return guard(text) if guarded else text


def _text_cell(guarded: bool) -> t.Callable[[t.Any], str]:
    """:func:`_cell` of a text column, for the values the written line functions' inline test leaves over."""
    if guarded:
        return lambda value: "" if value is None else guard(str(value))
    return lambda value: "" if value is None else str(value)


_Rows = t.Callable[[Record, str], list[list[str]]]


def _rows_builder(table: Table, guarded: bool) -> _Rows:
    """The rows of ``table`` for one record, given the record's key cell, by :func:`_walk` (lists of
    any depth); :func:`_fill_builder` writes the usual tables' lines without it."""
    lists, columns = table.lists, table.values
    return lambda record, key: [
        [
            key,
            *map(str, positions),
            *[_cell(c, _get(item, c.path, ABSENT if c.type == "json" else None), guarded) for c in columns],
        ]
        for positions, item in _walk(record, lists)
    ]


_Fill = t.Callable[[Record, str, t.Callable[[str], None]], int]


def _fill_builder(table: Table, guarded: bool) -> _Fill:
    """``fill(record, key, append)``: the finished lines of ``table`` for one record, each passed to
    ``append`` (no CRLF); returns how many characters they hold.

    The lines are what ``_rows_builder`` gives, joined and quoted as :func:`_quoted_line` quotes
    them. For a table whose lists go at most two deep (every table of the shipped schemas) the
    function is written for the table, as source code compiled once (as attrs and cattrs write
    their classes' methods): each column's lookup and the usual cell (text starting with an ASCII
    letter or digit, or no value) inline, the line an f-string, no row list unless it needs quoting.
    Only string literals of the schema's keys enter the source, as ``repr`` spells them.
    """
    lists, columns = table.lists, table.values
    commas = len(table.columns) - 1
    if len(lists) > 2:
        rows_of = _rows_builder(table, guarded)

        def fill(record: Record, key: str, append: t.Callable[[str], None]) -> int:
            size = 0
            for row in rows_of(record, key):
                line = ",".join(row)
                if line.count(",") != commas or '"' in line or "\n" in line or "\r" in line or not line:
                    line = _quoted_line(row)
                append(line)
                size += len(line)
            return size

        return fill
    if not all(type(key) is str for c in columns for key in (*c.path, *lists)):  # (only text enters the source)
        raise CouldNotRun(f"csv: table {table.name!r}: a key of its columns or lists is not text")
    source = ["def fill(record, key, append):", " size = 0"]
    depth = 1
    item, positions = "record", []
    if lists:
        source.append(f" for p1, item1 in enumerate(record.get({lists[0]!r}, ()), 1):")
        item, positions, depth = "item1", ["p1"], 2
        if len(lists) == 2:
            source.append("  if isinstance(item1, dict):")
            source.append(f"   for p2, item2 in enumerate(item1.get({lists[1]!r}, ()), 1):")
            item, positions, depth = "item2", ["p1", "p2"], 4
    pad = " " * depth
    cells = [f"c{i}" for i in range(len(columns))]
    plain = "type(v) is str and v[:1] in PLAIN"
    if table.items_are_scalars:
        (column,) = columns
        if column.type == "string" and column.path == ():
            source.append(f"{pad}v = {item}; c0 = v if {plain} else TEXT(v)")
        else:
            source.append(f"{pad}c0 = CELL(COLUMNS[0], GET({item}, COLUMNS[0].path), GUARDED)")
    else:
        source.append(f"{pad}if isinstance({item}, dict):")
        source.append(f"{pad} get = {item}.get")
        for i, column in enumerate(columns):
            absent = "ABSENT" if column.type == "json" else "None"  # (a JSON column writes null as null)
            if len(column.path) == 1:
                source.append(f"{pad} v = get({column.path[0]!r}, {absent})")
            elif len(column.path) == 2:
                source.append(
                    f"{pad} v = get({column.path[0]!r}); "
                    f"v = v.get({column.path[1]!r}, {absent}) if isinstance(v, dict) else {absent}"
                )
            else:
                source.append(f"{pad} v = GET({item}, COLUMNS[{i}].path, {absent})")
            if column.type == "string":
                source.append(f"{pad} c{i} = v if {plain} else '' if v is None else TEXT(v)")
            else:
                source.append(f"{pad} c{i} = CELL(COLUMNS[{i}], v, GUARDED)")
        if columns:
            source.append(f"{pad}else:")
            source.append(f"{pad} {' = '.join(cells)} = ''")
    parts = ["key", *[f"str({p})" for p in positions], *cells]
    source.append(f'{pad}line = f"{",".join("{" + part + "}" for part in ["key", *positions, *cells])}"')
    source.append(f"{pad}if line.count(',') != {commas} or '\"' in line or '\\n' in line or '\\r' in line or not line:")
    source.append(f"{pad} line = QUOTED([{', '.join(parts)}])")
    source.append(f"{pad}append(line)")
    source.append(f"{pad}size += len(line)")
    source.append(" return size")
    namespace: dict[str, t.Any] = {
        "PLAIN": _PLAIN_FIRST,
        "TEXT": _text_cell(guarded),
        "CELL": _cell,
        "GET": _get,
        "ABSENT": ABSENT,
        "QUOTED": _quoted_line,
        "COLUMNS": columns,
        "GUARDED": guarded,
    }
    exec(compile("\n".join(source), f"<csv fill of {table.name}>", "exec"), namespace)
    return t.cast(_Fill, namespace["fill"])


_QUOTED = re.compile(r'[",\r\n]')


def _quoted_line(row: t.Sequence[str]) -> str:
    """RFC 4180 §2 (5-7) as ``csv.writer`` (excel dialect, QUOTE_MINIMAL) writes a row, without
    its CRLF: a field holding ``,`` ``"`` CR or LF is enclosed in ``"`` with its ``"`` doubled;
    a row of one empty field is ``""`` (an empty line would be no record)."""
    if len(row) == 1 and not row[0]:
        return '""'
    return ",".join(['"' + cell.replace('"', '""') + '"' if _QUOTED.search(cell) else cell for cell in row])


def _resource(table: Table, guarded: bool) -> dict[str, t.Any]:
    guarded_fields = [c.name for c in table.columns if c.type == "string"]
    if guarded:
        cells = (
            " Cells of text fields that begin with = + - @ TAB CR or ' (also after leading white space or "
            "invisible characters, and in full-width forms) carry one extra leading ' "
            "(formula-injection guard, OWASP CSV Injection): remove exactly one leading ' from such a "
            "cell to get the value. Number cells are never changed."
        )
    else:
        cells = " Cells are written raw (no formula guard): do not open this file in a spreadsheet unreviewed."
    schema: dict[str, t.Any] = {
        "fields": [dict(c.field) for c in table.columns],
        "missingValues": [""],
        "primaryKey": [c.name for c in table.keys],
    }
    if table.foreign_keys:
        schema["foreignKeys"] = [dict(fk) for fk in table.foreign_keys]
    resource: dict[str, t.Any] = {
        "name": table.name,
        "path": table.path,
        "type": "table",
        "scheme": "file",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "description": table.description + cells,
        "dialect": {"header": True, "delimiter": ",", "lineTerminator": "\r\n", "quoteChar": '"', "doubleQuote": True},
        "schema": schema,
        "x-cells": "guarded" if guarded else "raw",
    }
    if guarded:
        resource["x-cell-guard"] = {
            "prefix": GUARD_PREFIX,
            "triggers": list(GUARD_TRIGGERS),
            "rule": GUARD_RULE,
            "fields": guarded_fields,
        }
    return resource


def export(records: t.Sequence[Record], schema: SchemaView, *, guarded: bool = True) -> dict[str, bytes]:
    """All files of the export by name; same records in, same bytes out."""
    files: dict[str, list[bytes]] = {}

    def open_file(name: str) -> _Parts:
        files[name] = []
        return _Parts(files[name])

    write(records, schema, open_file, guarded=guarded)
    return {name: b"".join(parts) for name, parts in files.items()}


class _Parts:
    def __init__(self, parts: list[bytes]) -> None:
        self.write = parts.append


_FLUSH = 1 << 16  # characters of a table gathered before they are written


def _of_type(records: t.Sequence[Record], type_name: str) -> t.Iterable[Record]:
    of_type = getattr(records, "of_type", None)
    if callable(of_type):  # streaming.Records: sorted by (type, id), one contiguous run per type
        return t.cast(t.Iterable[Record], of_type(type_name))
    return sorted((r for r in records if r["type"] == type_name), key=lambda r: r["id"])


def write(
    records: t.Sequence[Record], schema: SchemaView, open: t.Callable[[str], Writable], *, guarded: bool = True
) -> None:
    """The files of :func:`export`, written as the records pass: each type's records once, every
    table of that type filled from the same pass; at most about 64 KiB of a table held."""
    tables = layout(schema)
    _write_tables(records, tables, [open(table.path) for table in tables], guarded)
    open(PACKAGE).write(_package(tables, guarded))


def write_part(
    records: t.Sequence[Record],
    schema: SchemaView,
    part: Part,
    open: t.Callable[[str], Writable],
    *,
    guarded: bool = True,
) -> dict[str, str]:
    """One part of a partitioned export: ``<table>/part-<label>.csv`` for every table of the types
    in the part (header only where the part has no rows for it); part 1, which holds every type
    with records, also the tables of the types without any. Each part file has the header row
    (Frictionless multipart resources skip it after the first file). The file of each table, by name."""
    tables = layout(schema)
    present = _types_in(records)
    mine = [table for table in tables if table.record_type in present or part.number == 1]
    names = {table.name: f"{table.name}/part-{part.label}.csv" for table in mine}
    _write_tables(records, mine, [open(names[table.name]) for table in mine], guarded)
    return names


def write_package(
    schema: SchemaView, parts: t.Sequence[t.Mapping[str, str]], open: t.Callable[[str], Writable], *, guarded: bool
) -> None:
    """The data package of a partitioned export: each table a multipart resource (``path``: its part files in order)."""
    tables = layout(schema)
    paths = {table.name: [names[table.name] for names in parts if table.name in names] for table in tables}
    open(PACKAGE).write(_package(tables, guarded, paths))


_PART_FILE = re.compile(r"[a-z][a-z0-9_]*/part-[0-9]{5,}\.csv")


def listed_parts(directory: Path) -> list[str]:
    """The part files the data package in ``directory`` lists (names of the form this format
    writes only); none when there is no package it can read. Never through a link."""
    try:
        descriptor = open_directory(directory)
    except InvalidSource:
        return []
    try:
        package = json.loads(read_source(PACKAGE, directory=descriptor).decode("utf-8"))
    except (InvalidSource, ValueError):
        return []
    finally:
        os.close(descriptor)
    resources = package.get("resources") if isinstance(package, dict) else None
    names: set[str] = set()
    for resource in resources if isinstance(resources, list) else []:
        paths = resource.get("path") if isinstance(resource, dict) else None
        if isinstance(paths, list):
            names.update(p for p in paths if isinstance(p, str) and _PART_FILE.fullmatch(p))
    return sorted(names)


def _types_in(records: t.Sequence[Record]) -> set[str]:
    keys = getattr(records, "keys", None)
    if callable(keys):  # streaming.Records: nothing decoded
        return {type_name for type_name, _ in keys()}
    return {record["type"] for record in records}


def _guarded(context: Context) -> bool:
    """Whether the cells carry the formula guard (``-O cells``: ``guarded``, the default, or ``raw``)."""
    return context.options.get("cells", "guarded") != "raw"


class _Plan(t.NamedTuple):
    """What every slice of an export writes with: the tables, each one's fill function, and
    whether the cells are guarded (which the functions were made for)."""

    tables: tuple[Table, ...]
    fills: tuple[_Fill, ...]
    guarded: bool


def _write_tables(
    records: t.Sequence[Record],
    tables: t.Sequence[Table],
    sinks: t.Sequence[Writable],
    guarded: bool,
    *,
    header: bool = True,
    made: t.Sequence[_Fill] | None = None,
) -> None:
    """Each type's records once, every table of the type filled from the same pass.

    Each table's lines come from its :func:`_fill_builder` function: a row is joined with ``,``
    first and, when the line has no ``"`` CR or LF and no ``,`` but the separators (most rows),
    it is what :func:`_quoted_line` would give; only the rest are quoted field by field. Lines
    are held as text (no row lists kept alive for the collector to walk) and written, CRLF after
    each (RFC 4180 §2), once a table holds about 64 KiB. ``header``: the header row first.
    ``made``: the tables' fill functions, made once for all the slices of an export (:class:`_Plan`).
    """
    fills_of = [_fill_builder(table, guarded) for table in tables] if made is None else made
    pending = [[_quoted_line([c.name for c in table.columns])] if header else [] for table in tables]
    held = [0] * len(tables)

    def flush(number: int) -> None:
        lines = pending[number]
        lines.append("")  # the CRLF after the last line
        sinks[number].write("\r\n".join(lines).encode("utf-8"))
        lines.clear()
        held[number] = 0

    by_type: dict[str, list[int]] = {}
    for number, table in enumerate(tables):
        by_type.setdefault(table.record_type, []).append(number)
    for type_name, numbers in by_type.items():
        fills = [(number, fills_of[number], pending[number].append) for number in numbers]
        for record in _of_type(records, type_name):
            key = _cell(tables[numbers[0]].keys[0], record["id"], guarded)
            for number, fill, append in fills:
                size = fill(record, key, append)
                if size:
                    size = held[number] = held[number] + size
                    if size >= _FLUSH:
                        flush(number)
        for number in numbers:
            flush(number)


def _package(tables: t.Sequence[Table], guarded: bool, paths: t.Mapping[str, list[str]] | None = None) -> bytes:
    resources = [_resource(table, guarded) for table in tables]
    if paths is not None:
        for resource in resources:
            resource["path"] = paths[resource["name"]]
    package = {
        "name": "records",
        "title": "Records of the records toolkit",
        "description": (
            "Records exported by records-toolkit: one table per record type and link tables for lists "
            "(keyed by the owner's id and a 1-based position). An empty cell means the key is absent. "
            + (
                "Text cells beginning with = + - @ TAB CR or ' (also after leading white space or invisible "
                "characters, and in full-width forms) carry one extra leading ' (see x-cell-guard)."
                if guarded
                else "Cells are raw (no formula guard)."
            )
            + (
                " Each table is in parts (a multipart resource: its files in order, each with the header row)."
                if paths is not None
                else ""
            )
        ),
        "resources": resources,
    }
    return (json.dumps(package, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# -- import ----------------------------------------------------------------------------------------


def _fail(where: str, message: str) -> t.NoReturn:
    """Bad input: an :class:`InvalidSource` at ``FILE`` or ``FILE:LINE`` (the contract's exit 1)."""
    message = brief(message)  # a message quoting the input is cut (a cell may be 16 MiB)
    file, _, line = where.rpartition(":")
    if file and line.isdigit():
        raise invalid_source(file, message, line=int(line))
    raise invalid_source(where, message)


def _read_rows(
    directory: int, relative: str, name: str, header: list[str], max_bytes: int = MAX_FILE_BYTES
) -> t.Iterator[tuple[int, list[str]]]:
    """(line, cells) of each data row, the header checked; line is the row's first physical line.

    The table is read relative to the open source ``directory``, never through a link, never from
    a FIFO or device, never past ``max_bytes`` (:func:`records_toolkit.exporters.read_source`).
    """
    data = read_source(relative, directory=directory, shown=name, max_bytes=max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        _fail(f"{name}:{line}", f"not UTF-8 ({exc.reason})")
    if len(text) >= csv.field_size_limit():  # a long article text is one field; the limit is process-wide
        csv.field_size_limit(len(text) + 1)
    reader = csv.reader(io.StringIO(text, newline=""), dialect="excel", strict=True)
    start = 1
    try:
        found = next(reader, None)
        if found != header:
            _fail(f"{name}:1", f"the header is {found!r}; expected {header!r}")
        start = reader.line_num + 1
        for cells in reader:
            if len(cells) != len(header):
                _fail(f"{name}:{start}", f"{len(cells)} fields; the header has {len(header)}")
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        _fail(f"{name}:{start}", f"not CSV (RFC 4180): {exc}")


_MAX_DIGITS = 100  # as the loader: a number of hundreds of digits is not one JSON holds exactly


def _rows_of(
    descriptor: int, directory: Path, relatives: list[str], header: list[str], max_bytes: int = MAX_FILE_BYTES
) -> t.Iterator[tuple[str, int, list[str]]]:
    """The rows of a table's files in order (every part of a multipart resource has the header row),
    each with its file's name as the user can open it (problems name it)."""
    for relative in relatives:
        shown = (directory / relative).as_posix()
        for line, cells in _read_rows(descriptor, relative, shown, header, max_bytes):
            yield shown, line, cells


def _parse_number(cell: str, column: Column, where: str) -> int | float:
    if column.type == "integer":
        if not _INTEGER.fullmatch(cell):
            _fail(where, f"{column.name}: {cell!r} is not a whole number")
    elif not _NUMBER.fullmatch(cell):
        _fail(where, f"{column.name}: {cell!r} is not a number")
    if len(cell) > _MAX_DIGITS:
        _fail(where, f"{column.name}: a number of {len(cell)} characters is refused (the limit is {_MAX_DIGITS})")
    if _INTEGER.fullmatch(cell):
        return int(cell)  # a YAML integer stays an integer
    return float(cell)


def _parse_json_cell(cell: str, column: Column, where: str) -> t.Any:
    try:
        return parse_json(cell)
    except Unreadable as exc:
        _fail(where, f"{column.name}: {exc}")
    except ValueError as exc:
        _fail(where, f"{column.name}: {cell[:40]!r} is not JSON text ({exc})")


def _load_package(source: Path, directory: int, max_bytes: int = MAX_FILE_BYTES) -> dict[str, t.Any]:
    """The data package, read from the open ``directory`` (or the file the user named)."""
    shown = (source / PACKAGE).as_posix() if source.is_dir() else source.as_posix()
    if source.is_dir():
        data = read_source(PACKAGE, directory=directory, shown=shown, max_bytes=max_bytes)
    else:  # (the user named it; still never a link or a FIFO)
        data = read_source(source, shown=shown, max_bytes=max_bytes)
    try:
        package = parse_json(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        _fail(f"{shown}:{line}", f"not UTF-8 ({exc.reason})")
    except Unreadable as exc:
        raise invalid_source(shown, str(exc), line=exc.line, column=exc.column) from exc
    except ValueError as exc:
        _fail(shown, f"not JSON: {exc}")
    if not isinstance(package, dict) or not isinstance(package.get("resources"), list):
        _fail(shown, "not a data package (no resources list)")
    return package


def _resource_paths(resource: dict[str, t.Any], table: Table, package_file: str) -> list[str]:
    """The resource's path as given, one file or the parts of a multipart resource in order:
    relative, inside the package directory (links are refused on reading)."""
    given = resource.get("path", table.path)
    paths = given if isinstance(given, list) and given else [given]
    for relative in paths:
        if not isinstance(relative, str) or not relative:
            _fail(
                package_file,
                f"resource {table.name!r}: path {relative!r} must be a relative file path (or a list of them)",
            )
        if PurePosixPath(relative).is_absolute() or ".." in PurePosixPath(relative).parts:
            _fail(package_file, f"resource {table.name!r}: path {relative!r} must stay inside the package")
    if len(set(paths)) != len(paths):
        _fail(package_file, f"resource {table.name!r}: a part is listed twice in its path")
    return t.cast(list[str], paths)


def _guarded_fields(resource: dict[str, t.Any], table: Table, package_file: str) -> set[str]:
    """The fields whose cells carry the guard, as the resource declares (no declaration: raw)."""
    cells = resource.get("x-cells", "raw")
    if cells == "raw":
        return set()
    spec = resource.get("x-cell-guard") or {}
    if cells != "guarded" or not isinstance(spec, dict) or spec.get("prefix", GUARD_PREFIX) != GUARD_PREFIX:
        _fail(package_file, f"resource {table.name!r}: unknown cell guard {cells!r} {spec!r}")
    fields = spec.get("fields", [c.name for c in table.columns if c.type == "string"])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        _fail(package_file, f"resource {table.name!r}: x-cell-guard.fields must be a list of field names")
    return set(fields)


def import_records(source: Path, schema: SchemaView, max_bytes: int = MAX_FILE_BYTES) -> list[Record]:
    """Read an export back: ``import_records(export(c)) == c`` for every valid collection ``c``.
    ``max_bytes``: the largest file read (each is read whole)."""
    source = Path(source)
    directory = source if source.is_dir() else source.parent
    descriptor = open_directory(directory)
    try:
        return _import(source, directory, descriptor, schema, max_bytes)
    finally:
        os.close(descriptor)


def _import(
    source: Path, directory: Path, descriptor: int, schema: SchemaView, max_bytes: int = MAX_FILE_BYTES
) -> list[Record]:
    package = _load_package(source, descriptor, max_bytes)
    package_file = (directory / PACKAGE).as_posix() if source.is_dir() else source.as_posix()
    resources = {r.get("name"): r for r in package["resources"] if isinstance(r, dict)}
    records: dict[str, dict[str, Record]] = {}
    nodes: dict[tuple[str, ...], dict[str, t.Any]] = {}  # (type, id, positions...) -> the item's object
    lists: dict[tuple[int, str], tuple[dict[str, t.Any], str, dict[int, t.Any]]] = {}
    tables = layout(schema)
    unknown = sorted(set(map(str, resources)) - {table.name for table in tables})
    if unknown:
        _fail(
            package_file, f"resources {', '.join(unknown)} are not tables of these schemas (their data would be lost)"
        )
    for table in tables:
        resource = resources.get(table.name)
        if resource is None:
            _fail(package_file, f"no resource {table.name!r} (expected {table.path})")
        guard_fields = _guarded_fields(resource, table, package_file)
        header = [c.name for c in table.columns]
        owners = records.setdefault(table.record_type, {})
        for shown, line, cells in _rows_of(
            descriptor, directory, _resource_paths(resource, table, package_file), header, max_bytes
        ):
            where = f"{shown}:{line}"
            values: dict[str, t.Any] = {}
            for column, cell in zip(table.columns, cells):
                if cell == "":
                    continue  # empty cell: key absent (the schemas forbid empty strings)
                if column.type == "json":
                    values[column.name] = _parse_json_cell(cell, column, where)
                elif column.type == "boolean":
                    if cell not in ("true", "false"):
                        _fail(where, f"{column.name}: {cell!r} is not true or false")
                    values[column.name] = cell == "true"
                elif column.type != "string":
                    values[column.name] = _parse_number(cell, column, where)
                else:
                    values[column.name] = unguard(cell) if column.name in guard_fields else cell
            item: t.Any
            if not table.lists:
                record_id = values.get("id")
                if record_id is None:
                    _fail(where, "the id is empty")
                if record_id in owners:
                    _fail(where, f"id {record_id!r} appears twice")
                item = {"id": record_id, "type": table.record_type}
                owners[record_id] = item
                nodes[(table.record_type, record_id)] = item
            else:
                key = [values.get(k.name) for k in table.keys]
                if any(k is None for k in key):
                    _fail(where, f"a key cell is empty ({', '.join(k.name for k in table.keys)})")
                *parent_key, position_cell = key
                position = t.cast(int, position_cell)
                parent = nodes.get((table.record_type, *map(str, parent_key)))
                if parent is None:
                    parent_table = (
                        main_table(table.record_type)
                        if len(table.lists) == 1
                        else f"{table.record_type}_{'_'.join(table.lists[:-1])}"
                    )
                    _fail(where, f"{', '.join(map(str, parent_key))} matches no row of {parent_table}.csv")
                slot = lists.setdefault((id(parent), table.lists[-1]), (parent, table.lists[-1], {}))[2]
                if position in slot:
                    _fail(where, f"position {position} appears twice for {', '.join(map(str, parent_key))}")
                item = {} if not table.items_are_scalars else None
                slot[position] = item
                if table.items_are_scalars:
                    if "value" not in values:
                        _fail(where, "the value is empty")
                    slot[position] = values["value"]
                else:
                    nodes[(table.record_type, *map(str, key))] = item
            if table.items_are_scalars:
                continue
            for column in table.values:
                if column.name in values:
                    target = item
                    for part in column.path[:-1]:
                        target = target.setdefault(part, {})
                    target[column.path[-1]] = values[column.name]
    for parent, list_key, slot in lists.values():
        parent[list_key] = [slot[p] for p in sorted(slot)]
    result: list[Record] = []
    for type_name in sorted(records):
        info = schema.types[type_name]
        for record_id in sorted(records[type_name]):
            result.append(info.ordered(records[type_name][record_id]))
    return result


# -- the plugin ------------------------------------------------------------------------------------


class CsvFormat:
    """CSV tables with a Frictionless data package; imports back exactly."""

    name = "csv"
    suffix = ".csv"
    media_type = "text/csv"
    summary = (
        "one CSV per record type plus link tables for lists, with a Frictionless datapackage.json "
        "(RFC 4180, UTF-8); imports back"
    )
    directory = True
    options = (
        Option(
            "cells",
            "guarded: prefix ' to text cells starting with = + - @ TAB CR ' (also full-width, or after "
            "leading white space or invisible characters; formula injection, reversible); raw: write cells "
            "as they are",
            "guarded",
            ("guarded", "raw"),
        ),
    )

    def export(self, records: t.Sequence[Record], context: Context) -> Exported:
        guarded = _guarded(context)
        return Exported(files=export(records, context.schema, guarded=guarded))

    def stream(self, records: t.Sequence[Record], context: Context, open: t.Callable[[str], Writable]) -> list[str]:
        """As :meth:`export`, each table written as the records pass."""
        write(records, context.schema, open, guarded=_guarded(context))
        return []

    slice_types: t.Sequence[str] = ()  # (every record is a row)

    def slice_plan(self, records: t.Sequence[Record], context: Context) -> _Plan:
        """The tables and their fill functions, compiled here once (the workers inherit them:
        compiled in each slice, they were a tenth of its time); a slice's rows need nothing of the
        other records."""
        tables = layout(context.schema)
        guarded = _guarded(context)
        return _Plan(tables, tuple(_fill_builder(table, guarded) for table in tables), guarded)

    def stream_slice(
        self,
        records: t.Sequence[Record],
        context: Context,
        plan: _Plan,
        piece: Slice,
        open: t.Callable[[str], Writable],
    ) -> None:
        """The slice's rows of every table (the first slice: the header rows before them)."""
        sinks = [open(table.path) for table in plan.tables]
        _write_tables(records, plan.tables, sinks, plan.guarded, header=piece.first, made=plan.fills)

    def stream_end(
        self, context: Context, plan: _Plan, summaries: list[t.Any], open: t.Callable[[str], Writable]
    ) -> list[str]:
        """``datapackage.json``, after the tables."""
        open(PACKAGE).write(_package(plan.tables, plan.guarded))
        return []

    def plan(self, records: t.Sequence[Record], context: Context) -> None:
        """A part's rows need nothing of the other records."""
        return None

    def stream_part(
        self, records: t.Sequence[Record], context: Context, plan: None, part: Part, open: t.Callable[[str], Writable]
    ) -> dict[str, str]:
        """The tables of one part (:class:`~records_toolkit.plugins.Partitioned`), in ``<table>/part-<n>.csv``."""
        return write_part(records, context.schema, part, open, guarded=_guarded(context))

    def stream_index(
        self, context: Context, plan: None, summaries: list[t.Any], open: t.Callable[[str], Writable]
    ) -> list[str]:
        """``datapackage.json``, each table a multipart resource listing its part files in order."""
        write_package(context.schema, summaries, open, guarded=_guarded(context))
        return []

    def earlier_parts(self, directory: Path) -> list[str]:
        """The part files the data package in ``directory`` lists."""
        return listed_parts(directory)

    def import_records(self, source: Path, context: Context) -> list[Record]:
        """``source``: the export directory or its datapackage.json; the guard is read from there."""
        try:
            return import_records(source, context.schema, context.max_bytes)
        except (TypeError, KeyError, AttributeError, IndexError, ValueError) as exc:
            # The package is untrusted input; a shape the reader did not foresee is still the input's fault.
            raise invalid_source(
                source, f"not a data package this format writes ({type(exc).__name__}: {exc})"
            ) from exc
