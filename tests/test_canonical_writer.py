"""The canonical text written without PyYAML's emitter is the emitter's, byte for byte (issue 11).

``canonical._written`` writes a record of plain shape directly (26 times as fast); anything it
does not know to write the same way it leaves to the emitter (``canonical._emitted``). The law:
for any value, it writes nothing or exactly the emitter's text. Checked over generated valid
collections, over arbitrary nested values whose strings hold every kind of character the emitter
escapes or keeps, and on the shipped records (where it must not leave much to the emitter, or
``fmt`` stays slow).
"""

from __future__ import annotations

import math
import typing as t
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from records_toolkit import api
from records_toolkit.canonical import _emitted, _written, canonical_record, dumps
from records_toolkit.loader import Document, load_text
from records_toolkit.testing.strategies import NASTY, collections

ROOT = Path(__file__).resolve().parents[1]

#: Characters the emitter treats each in its own way: escaped by name, by code, kept, or never
#: written in double quotes (LF, NEL, LS, PS, BOM, surrogates, the private use area, the last ones
#: of the planes, beyond U+FFFF).
EDGES = (
    "\x00\x07\x08\t\n\x0b\x0c\r\x1b\x1f \"#'\\[]{}:,-?|>&*!%@`~\x7f\x80\x84\x85\x9f\xa0\xad"
    "\u2027\u2028\u2029\u202a\ud7ff\ud800\udfff\ue000\ufeff\ufefe\uff00\ufffd\ufffe\uffff"
    "\U00010000\U0001f600\U0010ffff"
)

texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.sampled_from(EDGES), max_size=8),
    st.text(st.characters(codec=None), max_size=12),
    st.text(st.sampled_from("ab \n"), max_size=8),  # line breaks inside, at the ends, trailing spaces
    st.text(st.sampled_from("a \n\t\ufeff\U0010ffff\U0001f600\\#"), max_size=12),  # literal blocks, or not
)
keys = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True),  # plain names (some YAML reads as other types)
    st.sampled_from(["true", "null", "No", "on", "x" * 99, "y" * 101, "z" * 130, "a b", "1st", "é"]),
    texts,
)
scalars = st.one_of(
    texts,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-5, 1.5e-7, 1e16, 1e300, 5e-324, 123456789.125, math.pi]),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=12,
)


# Values of the shape records have (plain names as keys, no text of several lines, no list in a
# list): the writer writes nearly all of them itself, so their characters are all checked.
names = st.from_regex(r"[a-z_][a-z0-9_-]{0,10}", fullmatch=True)
lines = texts.filter(lambda text: "\n" not in text.strip("\n"))
plain_scalars = st.one_of(lines, st.integers(), st.floats(), st.booleans(), st.none())
plain_values = st.recursive(
    plain_scalars,
    lambda inner: st.one_of(
        st.lists(st.one_of(plain_scalars, st.dictionaries(names, inner, max_size=3)), max_size=3),
        st.dictionaries(names, inner, max_size=3),
    ),
    max_leaves=12,
)


def _agrees(record: dict[str, t.Any]) -> bool:
    """Whether the direct writer wrote ``record`` (True) or left it to the emitter (False); it
    must never write anything else than the emitter."""
    written = _written(record)
    if written is not None:
        assert written == _emitted(record)
    return written is not None


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=6))
@example({"id": "x", "text": "a\nb", "t2": "\n a\n\n b\n", "t3": "a \nb", "t4": "a\tb\nc", "t5": "a\n\n"})
@example({"id": "x", "list": [["nested"]]})  # a list in a list: the emitter's
@example({"id": "x", "long": "x" * 100_001})  # long enough to be folded: the emitter's
@example({"k" * 100: "\U0001f600" * 99_999})  # folded: the emitter counts each as its 10-character escape
@example({"k" * 100: {"k" * 100: "\U0001f600" * 90_000 + "\x00" * 10}})  # the longest written here, not folded
@example({"A\n": [], "b\n": 1})  # not a plain name (`$` matches before a final line break)
@example({"x" * 100: 1, "y": {"z": [{}, [], {"a": []}, None, True, -0.0, float("nan"), 1e16]}})
def test_any_value_is_written_as_the_emitter_writes_it_or_left_to_it(record: dict[str, t.Any]) -> None:
    _agrees(record)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, plain_values, min_size=1, max_size=6))
def test_values_of_a_records_shape_are_written_as_the_emitter_writes_them(record: dict[str, t.Any]) -> None:
    _agrees(record)


@settings(max_examples=100, deadline=None)
@given(collections(max_per_type=2))
def test_generated_collections_are_written_as_the_emitter_writes_them(records: list[dict[str, t.Any]]) -> None:
    for record in records:
        _agrees(canonical_record(record))
        text = dumps([record])
        (doc,) = load_text(text, "r.yaml")
        assert isinstance(doc, Document) and doc.data == record


def test_the_shipped_records_are_all_written_directly() -> None:
    """Every shipped record, the articles' texts (literal blocks) included: none goes to the emitter."""
    records = [canonical_record(record) for record in api.load(ROOT / "records")]
    assert [record["id"] for record in records if not _agrees(record)] == []


@pytest.mark.parametrize(
    "record",
    [
        {"true": 1},  # a key a YAML reader types: quoted by the emitter
        {"k": ["a\nb"]},  # a literal block in a list
        {"k": "a\nb\n\n"},  # a literal block kept whole (``|+``)
        {"k": [[1]]},
        {"k": "x" * 100_001},
        {"k": b"bytes"},
        {"k": ("a", "tuple")},
        {"k": 1 + 2j},
        {1: "an int key"},
        {},
    ],
)
def test_what_the_writer_does_not_know_is_left_to_the_emitter(record: dict[t.Any, t.Any]) -> None:
    assert _written(record) is None


def test_escapes_and_kept_characters_read_back_as_the_text() -> None:
    text = EDGES.replace("\n", "")  # (a line break inside would make it a literal block)
    record = {"id": "x", "text": text, "u": "\ud800"}
    written = _written(record)
    assert written is not None and written == _emitted(record)
    assert yaml.load(written, Loader=yaml.SafeLoader) == record
    assert "\U0001f600" in written and "\\U" not in written  # beyond U+FFFF: as themselves


@settings(max_examples=300, deadline=None)
@given(st.one_of(texts, st.text(st.sampled_from("a \n\t\r\x85\ufeff\U0001f600"), max_size=10)))
@example("line one \nline two")  # a line ending in white space
@example("a\r\nb")  # a CR
@example("a\nb")  # a block: no warning
def test_a_warning_names_exactly_the_multi_line_texts_the_emitter_writes_quoted(text: str) -> None:
    """``text-not-block``: said for a text of several lines that the emitter writes as one quoted
    line, never for one it writes as a literal block (as its own output shows)."""
    from records_toolkit.canonical import _quoted_texts

    warned = [problem.pointer for problem in _quoted_texts("f.yaml", 0, {"k": [text], "text": text})]
    quoted = "\n" in text.strip("\n") and not _emitted({"text": text}).startswith("text: |")
    assert warned == (["/k/0", "/text"] if quoted else [])
