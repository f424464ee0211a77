"""The exporters' fast paths give the bytes of the plain code they replaced.

Each fast helper is checked against a reference written as the obvious per-character (or
per-row) code, the way the exporters did it before: on hostile text (formula starts, quotes,
separators, line breaks, controls, non-ASCII of every UTF-8 length) and on generated values.
"""

from __future__ import annotations

import csv
import io
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records_toolkit.errors import CouldNotRun
from records_toolkit.exporters import csv_
from records_toolkit.exporters.ics import _LINE_OCTETS, escape_text, fold
from records_toolkit.streaming import of_records
from records_toolkit.testing.strategies import collections

# -- iCalendar (RFC 5545 §3.1 folding, §3.3.11 TEXT) --------------------------------------------------


def _escape_text_reference(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char in ";,":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char != "\t" and (ord(char) < 0x20 or ord(char) == 0x7F):
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def _fold_reference(line: str) -> bytes:
    chunks: list[bytes] = []
    current = b""
    limit = _LINE_OCTETS
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            chunks.append(current)
            current = b" "
            limit = _LINE_OCTETS
        current += encoded
    chunks.append(current)
    return b"".join(chunk + b"\r\n" for chunk in chunks)


_HOSTILE = "\\;,\r\n\t\x00\x0b\x1f\x7f\"'=+-@ aé€😀\u200b\u2028"
_text = st.text(st.sampled_from(_HOSTILE) | st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=500, deadline=None)
@given(_text)
def test_escape_text_replaces_each_character_as_before(value: str) -> None:
    assert escape_text(value) == _escape_text_reference(value)


@settings(max_examples=500, deadline=None)
@given(_text)
def test_fold_cuts_where_it_did(value: str) -> None:
    assert fold(value) == _fold_reference(value)
    assert fold("SUMMARY:" + value) == _fold_reference("SUMMARY:" + value)


def test_fold_at_the_edges() -> None:
    for width in (1, 2, 3, 4):  # a character of each UTF-8 length across every fold position
        char = {1: "a", 2: "é", 3: "€", 4: "😀"}[width]
        for head in range(0, 80):
            for length in (0, 1, 74, 75, 76, 149, 150, 151, 300):
                line = "x" * head + char * length
                assert fold(line) == _fold_reference(line), (width, head, length)


# -- CSV (RFC 4180 §2, the formula guard) -------------------------------------------------------------


def _csv_line_reference(row: t.Sequence[str]) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerow(row)
    return buffer.getvalue().removesuffix("\r\n")


_cell = st.text(st.sampled_from(",\"\r\n \t=+-@'aé") | st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=500, deadline=None)
@given(st.lists(_cell, min_size=1, max_size=6))
def test_quoted_line_is_what_the_csv_module_writes(row: list[str]) -> None:
    assert csv_._quoted_line(row) == _csv_line_reference(row)


def test_the_row_builders_give_the_cells_of_the_plain_walk() -> None:
    """Every kind of table (main, list of text, list of objects, a list in a list item; number
    columns), with awkward values, guarded and raw: the cells :func:`csv_._cell` gives."""
    from records_toolkit.schema_view import SchemaView
    from records_toolkit.schemas import load_model

    schema = SchemaView.of(load_model())
    awkward = [
        "=1+2",
        "@x",
        "\tlead",
        " lead",
        "'q",
        'say "hi", then',
        "two\nlines",
        "İstanbul",
        "＝1",
        "\u200b=1",
        "-3",
    ]
    records: list[dict[str, t.Any]] = []
    for number, text in enumerate(awkward):
        records.append(
            {
                "id": f"p{number}",
                "type": "place",
                "name": text,
                "kind": "city",
                "aliases": [text, "plain"],
                "coordinates": {"latitude": -1.5e-7 if number % 2 else 40.25, "longitude": number},
                "identifiers": {"url": text},
                "sources": [
                    {"article": "a", "quote": text, "supports": [text, "name"]},
                    {"url": "u", "title": text, "supports": []},
                ],
            }
        )
    tables = csv_.layout(schema)
    for guarded in (True, False):
        for table in (table for table in tables if table.record_type == "place"):
            rows_of = csv_._rows_builder(table, guarded)
            for record in records:
                key = csv_._cell(table.keys[0], record["id"], guarded)
                expected = [
                    [
                        key,
                        *map(str, positions),
                        *[csv_._cell(c, csv_._get(item, c.path), guarded) for c in table.values],
                    ]
                    for positions, item in csv_._walk(record, table.lists)
                ]
                assert rows_of(record, key) == expected, (table.name, guarded, record["name"])
                lines: list[str] = []
                size = csv_._fill_builder(table, guarded)(record, key, lines.append)
                assert lines == [csv_._quoted_line(row) for row in expected], (table.name, guarded, record["name"])
                assert size == sum(map(len, lines))


def test_the_written_fill_functions_take_odd_shapes_as_the_plain_walk_does() -> None:
    """What no valid record holds still gives the plain walk's cells: a list item that is not an
    object, an object where text is expected, a number where an object is; and a table whose
    lists go three deep takes the row builder."""
    from records_toolkit.schema_view import SchemaView
    from records_toolkit.schemas import load_model

    odd = {
        "id": "=odd",
        "type": "event",
        "name": {"not": "text"},
        "identifiers": 7,
        "aliases": [1, None, "=x", 'a "b", c'],
        "participants": ["not an object", {"id": "p", "role": ["x"]}],
        "sources": [3, {"article": "a", "supports": ["name", 5]}, {"url": "u\r\nv", "supports": [9.5]}],
    }
    for guarded in (True, False):
        for table in (x for x in csv_.layout(SchemaView.of(load_model())) if x.record_type == "event"):
            key = csv_._cell(table.keys[0], odd["id"], guarded)
            expected = [
                csv_._quoted_line(
                    [key, *map(str, at), *[csv_._cell(c, csv_._get(item, c.path), guarded) for c in table.values]]
                )
                for at, item in csv_._walk(odd, table.lists)
            ]
            lines: list[str] = []
            csv_._fill_builder(table, guarded)(odd, key, lines.append)
            assert lines == expected, (table.name, guarded)
    text = csv_.Column("value", (), "string", {})
    deep = csv_.Table(
        "deep",
        "event",
        ("a", "b", "c"),
        (
            csv_.Column("event_id", ("id",), "string", {}),
            *(csv_.Column(f"{n}_position", (), "integer", {}) for n in "abc"),
        ),
        (text,),
        True,
        "",
        (),
    )
    odd_key = csv_.Table("odd", "event", (), deep.keys[:1], (csv_.Column("x", (7,), "string", {}),), False, "", ())  # type: ignore[arg-type]
    with pytest.raises(CouldNotRun, match="not text"):
        csv_._fill_builder(odd_key, True)
    record = {"id": "e", "a": [{"b": [{"c": ["x", "=y", "p,q"]}]}, {"b": []}]}
    lines = []
    csv_._fill_builder(deep, True)(record, "e", lines.append)
    assert lines == ["e,1,1,1,x", "e,1,1,2,'=y", 'e,1,1,3,"p,q"']


# -- JSON-LD (the graph encoded in batches by orjson, json's spelling) -------------------------------

_json_floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [1e-05, -0.0, 0.0, 1e16, 1.5e-7, 2.5e300]
)
_json_text = st.text(
    st.sampled_from('<>&"\\\n\u2028e-10.0000null') | st.characters(blacklist_categories=("Cs",)), max_size=12
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | _json_floats | _json_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_json_text, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_json_text, _json_values, max_size=4), min_size=1, max_size=9))
def test_graph_items_are_the_nodes_as_json_writes_them(nodes: list[dict[str, t.Any]]) -> None:
    from records_toolkit.exporters import jsonld

    expected = b",".join(
        b"\n    " + jsonld._reference(node).replace(b"\n", b"\n    ").replace(b"<", b"\\u003c") for node in nodes
    )
    assert jsonld._graph_items(nodes) == expected


_floatless_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | _json_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_json_text, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_json_text, _floatless_values, max_size=4), min_size=1, max_size=9))
def test_nodes_without_floats_are_json_s_bytes_without_a_look(nodes: list[dict[str, t.Any]]) -> None:
    """What the look for orjson's other spellings (:func:`_fast`) finds is a float's alone: nodes
    known to hold none are encoded unlooked-at, byte for byte as json writes them (texts that
    read as those spellings, null and big integers included)."""
    from records_toolkit.exporters import jsonld

    assert jsonld._graph_items(nodes, True) == jsonld._graph_items(nodes, False)


@pytest.mark.parametrize(
    ("schema", "admits"),
    [
        (True, True),
        (False, False),
        ({}, True),
        ({"type": "number"}, True),
        ({"type": "integer"}, True),  # (1.0 and -0.0 pass as integers)
        ({"type": ["string", "null"]}, False),
        ({"enum": ["a", None]}, False),
        ({"enum": ["a", 1, None, True]}, True),  # (-0.0 and 1.0 pass an enum of 0 and 1: 0 == -0.0)
        ({"const": 0}, True),
        ({"type": "string", "enum": ["a", 0]}, False),  # (the type refuses them)
        ({"enum": ["a", 1.5]}, True),
        ({"const": 0.0}, True),
        ({"type": "object"}, True),  # (any other property)
        ({"type": "object", "additionalProperties": False}, False),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}, False),
        ({"type": "object", "properties": {"a": {}}, "additionalProperties": False}, True),
        ({"type": "object", "patternProperties": {"^x": {"type": "number"}}, "additionalProperties": False}, True),
        ({"type": "object", "additionalProperties": {"type": "boolean"}}, False),
        ({"type": "array"}, True),
        ({"type": "array", "items": {"type": "string"}}, False),
        ({"type": "array", "prefixItems": [{"type": "number"}], "items": {"type": "string"}}, True),
        ({"anyOf": [{"type": "string"}, {"type": "number"}]}, True),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, False),
        ({"type": "string", "anyOf": [{"minLength": 1}, {"maxLength": 0}]}, False),  # (own keywords refuse)
        ({"oneOf": [{"type": "boolean"}, {"type": "integer"}]}, True),
        ({"allOf": [{}, {"type": "string"}]}, False),
        ({"allOf": [{}, {"minimum": 0}]}, True),
        ({"not": {"type": "number"}}, True),  # (not read: generously True)
    ],
)
def test_a_schema_admits_a_float_unless_its_keywords_plainly_refuse_one(schema: t.Any, admits: bool) -> None:
    from records_toolkit.schema_view import admits_float

    assert admits_float(schema) is admits


def test_a_schema_nested_past_the_depth_read_admits_a_float() -> None:
    from records_toolkit.schema_view import admits_float

    schema: dict[str, t.Any] = {"type": "string"}
    for _ in range(70):
        schema = {"type": "array", "items": schema}
    assert admits_float(schema)
    for _ in range(10):
        schema = schema["items"]
    assert not admits_float(schema)


def _schemas_with(tmp_path: t.Any, change: t.Callable[[dict[str, t.Any]], None]) -> t.Any:
    """The shipped schemas copied, ``person.schema.json`` changed by ``change``; their view."""
    import json
    import shutil
    from pathlib import Path

    from records_toolkit.schema_view import SchemaView
    from records_toolkit.schemas import load_model

    folder = tmp_path / "schemas"
    shutil.copytree(Path(__file__).resolve().parents[2] / "schemas", folder)
    person = folder / "person.schema.json"
    document = json.loads(person.read_text(encoding="utf-8"))
    change(document)
    person.write_text(json.dumps(document), encoding="utf-8")
    return SchemaView.of(load_model(str(folder)))


def test_a_ref_and_the_keywords_beside_it_both_apply(tmp_path: t.Any) -> None:
    """The inlined view lets the keywords beside a ``$ref`` win (prefixItems of one, items of the
    other); a value must pass both, so a number the target allows is allowed (helper-80)."""

    def mixed(document: dict[str, t.Any]) -> None:
        document.setdefault("$defs", {})["mixed"] = {
            "type": "array",
            "prefixItems": [{"type": "string"}, {"type": "number"}],
            "items": {"type": "string"},
        }
        document["properties"]["aliases"] = {"$ref": "#/$defs/mixed", "prefixItems": [{"type": "string"}]}

    assert _schemas_with(tmp_path, mixed).types["person"].floats


def test_an_enum_of_integers_admits_a_float(tmp_path: t.Any) -> None:
    """-0.0 passes ``enum: ["none", 0]`` (0 == -0.0) and is written 0.0 (helper-80)."""

    def numbered(document: dict[str, t.Any]) -> None:
        document["properties"]["description"] = {"enum": ["none", 0]}

    view = _schemas_with(tmp_path, numbered)
    assert view.types["person"].floats and not view.types["event"].floats


def test_a_ref_that_refuses_floats_keeps_a_type_floatless(tmp_path: t.Any) -> None:
    def referenced(document: dict[str, t.Any]) -> None:
        document.setdefault("$defs", {})["label"] = {"type": "string"}
        document["properties"]["description"] = {"$ref": "#/$defs/label"}  # (no type of its own)

    assert not _schemas_with(tmp_path, referenced).types["person"].floats


def test_a_cycle_admits_a_float() -> None:
    """Read generously: a schema that is being read when it is met again admits (never loops)."""
    from records_toolkit.schema_view import _admits_float

    tree: dict[str, t.Any] = {"type": "object", "additionalProperties": False}
    tree["properties"] = {"label": {"type": "string"}, "below": {"type": "array", "items": tree}}
    assert _admits_float(tree, None, "", 0, {})


def test_the_shipped_types_but_places_are_proven_floatless() -> None:
    """A place's coordinates are numbers; nothing else in the shipped schemas is."""
    from records_toolkit.exporters import jsonld
    from records_toolkit.plugins import Context

    assert jsonld.floatless(Context.create().schema) == {"agreement", "article", "event", "organization", "person"}


@settings(max_examples=40, deadline=None)
@given(collections(max_per_type=3))
def test_a_document_written_knowing_the_schema_is_the_one_written_looking_at_every_batch(
    records: list[dict[str, t.Any]],
) -> None:
    from records_toolkit.exporters import jsonld
    from records_toolkit.plugins import Context

    looked: list[bytes] = []
    known: list[bytes] = []
    spooled = of_records(records)  # (sorted as an export's records are: the nodes made batch by batch)
    try:
        jsonld.write(spooled, looked.append)
        jsonld.write(spooled, known.append, schema=Context.create().schema)
    finally:
        spooled.close()
    assert b"".join(known) == b"".join(looked)


def test_a_place_s_coordinates_are_still_looked_at() -> None:
    """orjson spells 1e-05 ``0.00001``: a batch holding a place is looked at, and json writes it."""
    from records_toolkit.exporters import jsonld
    from records_toolkit.plugins import Context

    place = {"id": "somewhere", "type": "place", "name": "Somewhere", "kind": "site"}
    place["coordinates"] = {"latitude": 1e-05, "longitude": 1.5e-07}
    place["sources"] = [{"url": "https://example.org/a", "title": "A", "supports": ["name"]}]
    out: list[bytes] = []
    spooled = of_records([place])
    try:
        jsonld.write(spooled, out.append, schema=Context.create().schema)
    finally:
        spooled.close()
    assert b'"latitude": 1e-05' in b"".join(out) and b'"longitude": 1.5e-07' in b"".join(out)


# -- Markdown (clean, and the escapes written between the active characters) ------------------------


def _clean_reference(text: object) -> str:
    from records_toolkit.exporters import markdown_ as md

    return md._BREAKS.sub(" ", md._DROPPED.sub("", str(text))).strip()


def _escape_reference(text: object, context: str) -> str:
    from records_toolkit.exporters import markdown_ as md

    value = _clean_reference(text)
    autolinks = context != "link"
    last = len(value) - 1
    out: list[str] = []
    for i, char in enumerate(value):
        before = value[i - 1] if i else ""
        after = value[i + 1] if i < last else ""
        if char == "\\":
            out.append("\\\\" if not after or after in md._PUNCTUATION else "\\")
        elif char == "]" and context == "link" and after == ":":
            out.append("&#93;")
        elif char in "`[]{":
            out.append("\\" + char)
        elif char == "*":
            out.append("*" if before.isspace() and after.isspace() else "\\*")
        elif char == "_":
            out.append("_" if before.isalnum() and after.isalnum() else "\\_")
        elif char == "<":
            out.append("<" if after.isspace() else "&lt;")
        elif char == "&":
            out.append("&amp;" if md._ENTITY_LIKE.match(value, i + 1) else "&")
        elif char == "~":
            out.append("~" if before.isspace() and after.isspace() else "&#126;")
        elif char == "." and autolinks and md._domain_dot(value, i):
            out.append("\\.")
        elif char == "/" and autolinks and before == "/":
            out.append("&#47;")
        elif char == ":" and autolinks and value[max(0, i - 6) : i].lower() == "mailto":
            out.append("&#58;")
        elif char == "#" and context == "heading" and (i == 0 or not value[i:].strip("#")):
            out.append("\\#")
        else:
            out.append(char)
        if (
            char == "@"
            and autolinks
            and 0 < i < last
            and before in md._ADDRESS_BEFORE_OR_SCHEME
            and after in md._ADDRESS_AFTER
        ):
            out.append(md.WORD_JOINER)
    if context == "block" and value:
        first = value[0]
        if first in "#>":
            out[0] = "\\" + first
        elif first in "-+" and (len(value) == 1 or value[1] in " \t-"):
            out[0] = "\\" + first
        elif first == ":" and (len(value) == 1 or value[1] in " \t"):
            out[0] = "&#58;"
        elif (number := md._ORDERED.match(value)) is not None:
            out[number.end()] = "\\" + value[number.end()]
        if "|" in value and not value.strip("|:- \t\\"):
            out[:] = ["&#124;" if char == "|" else char for char in out]
    return "".join(out)


_markdown_text = st.text(
    st.sampled_from("\\`*_[]{}<>&~./:#@|-+ \t\n\r\x00\x85\u2028\u00a0wW1.)mailto;x")
    | st.characters(blacklist_categories=("Cs",)),
    max_size=40,
)
_MARKDOWN_CASES = [
    "# x",
    "#",
    "> q",
    "- a",
    "-",
    "+-",
    ": d",
    ":",
    "1. one",
    "12) x",
    "3.",
    "|:-|",
    "| - |",
    "\\|",
    "a@b.c",
    "mailto:x@www.example.",
    "MAILTO:a",
    "www.x.az",
    "http://x//y",
    "see [x]: y",
    "a_b _c_ *d* * e",
    "&amp; &x; & y",
    "~a~ ~ b",
    "<a> < b",
    "##x##",
    "x ##",
]


@settings(max_examples=1000, deadline=None)
@given(_markdown_text, st.sampled_from(["inline", "block", "heading", "link"]))
def test_escape_writes_what_the_per_character_loop_wrote(text: str, context: str) -> None:
    from records_toolkit.exporters import markdown_ as md

    assert md.clean(text) == _clean_reference(text)
    assert md._escape(text, context) == _escape_reference(text, context)  # type: ignore[arg-type]


def test_escape_at_block_starts_and_autolinks() -> None:
    from records_toolkit.exporters import markdown_ as md

    for text in _MARKDOWN_CASES:
        for context in ("inline", "block", "heading", "link"):
            assert md._escape(text, context) == _escape_reference(text, context), (text, context)  # type: ignore[arg-type]
