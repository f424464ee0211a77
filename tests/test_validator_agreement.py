"""The two schema engines give every string the same verdict (issue 7, "Crafted imports").

The fast path (jsonschema-rs, ECMA 262 regular expressions) answers yes or no; jsonschema (Python's
``re``) explains a no. Where the two read a ``pattern`` differently (``\\s`` is not the same set of
characters, ``$`` matches before a final newline in Python only), a record's verdict would depend
on which engine looked at it, and a record with an unrelated error would be judged by the other one.
These tests put hostile strings (control characters, U+0085, U+2028/2029, NBSP, zero-width and
other unusual white space, BOM) into every string field of valid records and require
``fast_is_valid == (no jsonschema error)`` for each.
"""

from __future__ import annotations

import copy
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import collections

from records_toolkit.schemas import load_model

#: Characters on which regular-expression engines and Unicode tables disagree, or that are easy to miss.
ODD = (
    [chr(c) for c in range(0x00, 0x20)]  # C0 controls, \x1c-\x1f (Python: white space; ECMA: not) included
    + ["\x7f", "\x85", "\xa0", "\xad"]  # DEL, NEL (Python: white space; ECMA: not), NBSP, soft hyphen
    + ["\u1680", "\u180e", "\u2000", "\u2007", "\u200a", "\u200b", "\u200c", "\u200d", "\u2060"]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\ufffe", "\U000e0001"]  # BOM: ECMA white space
)
PLAIN = "aZ0-./:"

odd_char = st.sampled_from(ODD)
hostile = st.lists(st.one_of(odd_char, odd_char, st.sampled_from(PLAIN)), min_size=0, max_size=6).map("".join)
"""Short strings made mostly of odd characters (empty included)."""


@st.composite
def hostile_value(draw: st.DrawFn, original: str) -> str:
    """An odd string, or the original value with odd characters at its start, end or middle."""
    odd = draw(hostile)
    where = draw(st.sampled_from(["alone", "start", "end", "middle", "both"]))
    if where == "alone":
        return odd
    if where == "start":
        return odd + original
    if where == "end":
        return original + odd
    if where == "middle":
        cut = draw(st.integers(0, len(original)))
        return original[:cut] + odd + original[cut:]
    return odd + original + draw(hostile)


def string_paths(value: t.Any, path: tuple[str | int, ...] = ()) -> t.Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string leaf of a record (keys ``type`` aside: it selects the schema) with its path."""
    if isinstance(value, str):
        if path != ("type",):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_paths(item, (*path, index))


def replaced(record: dict[str, t.Any], path: tuple[str | int, ...], new: str) -> dict[str, t.Any]:
    changed = copy.deepcopy(record)
    target: t.Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return changed


def verdicts(record: dict[str, t.Any]) -> tuple[bool | None, bool]:
    model = load_model()
    type_name = record["type"]
    slow = not any(True for _ in model.validator(type_name).iter_errors(record))
    return model.fast_is_valid(type_name, record), slow


needs_fast = pytest.mark.skipif(
    load_model().fast_is_valid("place", {}) is None, reason="jsonschema-rs is not installed (no fast path to compare)"
)


@needs_fast
@given(collections(), st.data())
def test_engines_agree_on_hostile_strings_in_every_string_field(records: list[dict], data: st.DataObject) -> None:
    """One field at a time: each string leaf of each record replaced by a hostile variant of itself."""
    for record in records:
        for path, original in string_paths(record):
            candidate = replaced(record, path, data.draw(hostile_value(original), label=repr(path)))
            fast, slow = verdicts(candidate)
            assert fast == slow, (path, candidate)


@needs_fast
@given(collections(), st.data())
def test_engines_agree_with_every_string_field_hostile_at_once(records: list[dict], data: st.DataObject) -> None:
    """All string leaves of a record changed together: the verdict must not depend on the other errors."""
    for record in records:
        candidate = record
        for path, original in list(string_paths(record)):
            candidate = replaced(candidate, path, data.draw(hostile_value(original)))
        fast, slow = verdicts(candidate)
        assert fast == slow, candidate


BASE = {
    "id": "p1",
    "type": "place",
    "name": "P",
    "kind": "city",
    "identifiers": {"url": "https://example.org/p"},
    "notes": "Two\nlines.",
    "sources": [{"url": "https://example.org/a", "title": "A", "supports": ["name", "kind"]}],
}


@needs_fast
@pytest.mark.parametrize("char", ODD, ids=[f"U+{ord(c):04X}" for c in ODD])
@pytest.mark.parametrize(
    ("path", "form"),
    [
        (("name",), "{c}P"),
        (("name",), "P{c}"),
        (("name",), "P{c}Q"),
        (("notes",), "Two\nlines.{c}"),
        (("notes",), "{c}Two"),
        (("notes",), "a{c}\n"),
        (("identifiers", "url"), "https://example.org/{c}"),
        (("identifiers", "url"), "https://example.org/p{c}"),
        (("sources", 0, "title"), "A{c}"),
        (("id",), "p1{c}"),
    ],
)
def test_engines_agree_on_each_odd_character(path: tuple[str | int, ...], form: str, char: str) -> None:
    """Every odd character at the ends and inside of a line, a text, a URL and an id, exhaustively."""
    fast, slow = verdicts(replaced(BASE, path, form.format(c=char)))
    assert fast == slow


def test_the_base_record_is_valid() -> None:
    """The exhaustive test above starts from a valid record, so each refusal is the odd character's."""
    assert verdicts(BASE)[1]
