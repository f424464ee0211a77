"""The fast paths of an import's value checks agree with the careful ones they stand in for (issue 11).

An import of 10,032 records spent most of its time in three walks over every value: the copy of
each record as plain JSON values (``api._json_value``), the check of each parsed JSON file for
lone surrogates and depth (``exporters._check_values``), and the canonical key order
(``schema_view.ordered_by_ranks``). Each now has a fast path; the laws here hold it to the
careful path over generated values, refusals included (the limits lowered so that a small value
reaches them): the same copy, or the same refusal at the same place with the same words.
"""

from __future__ import annotations

import contextlib
import enum
import json
import math
import typing as t

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import records_toolkit.exporters as exporters
from records_toolkit import api, loader
from records_toolkit.schema_view import ordered_by_ranks, ranks_of


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 7


# Text with the characters each check looks at: lone surrogates, escapes, the rest of Unicode.
TEXTS = st.one_of(
    st.text(max_size=6),
    st.text(st.sampled_from('a\ud800\udbff\udc00\udfff\ud7ff\ue000\U0001f600é\\u"<'), max_size=6),
)
SCALARS = st.one_of(
    TEXTS,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**101), max_value=10**101),
    st.sampled_from([10**100 - 1, -(10**100) + 1, 10**100, -(10**100), 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([Colour.RED, Size.BIG, b"x", (1, 2), frozenset({1})]),
)
KEYS = st.one_of(TEXTS, st.sampled_from([1, None, Colour.RED, b"k", ("a",)]))


def nested(leaves: st.SearchStrategy[t.Any]) -> st.SearchStrategy[t.Any]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(KEYS, inner, max_size=4),
            st.lists(inner, max_size=3).map(tuple),
        ),
        max_leaves=24,
    )


def chain(depth: int, leaf: t.Any) -> t.Any:
    """``leaf`` inside ``depth`` levels of alternating mappings and lists."""
    value = leaf
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


def outcome(job: t.Callable[[], t.Any]) -> tuple[t.Any, ...]:
    """What a check gave: the value (with the exact type of every part), or its refusal's fields."""
    try:
        value = job()
    except api._NotJson as exc:
        return ("refused", exc.pointer, exc.code, exc.message)
    return ("copied", value, shape(value))


def shape(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return ("dict", type(value), [(type(k), shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", type(value), [shape(v) for v in value])
    return type(value)


@contextlib.contextmanager
def low_limits() -> t.Iterator[None]:
    """Limits a generated record reaches: 5 items, 30 values, 6 levels (a JSON file: 6 levels)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader, "MAX_ITEMS", 5)
        patch.setattr(loader, "MAX_VALUES", 30)
        patch.setattr(api, "_MAX_DEPTH", 6)
        patch.setattr(exporters, "MAX_DEPTH", 6)
        patch.setattr(exporters, "_TOO_DEEP", "values nested deeper than 6 levels")
        yield


@settings(max_examples=600, deadline=None)
@given(record=st.dictionaries(KEYS, nested(SCALARS), max_size=5))
@example(record={"a": chain(5, "x")})  # at the depth limit: kept
@example(record={"a": chain(6, "x")})  # one level below it: refused
@example(record={"a": chain(5, [])})
@example(record={"a": chain(5, {})})
@example(record={"a": [1, 2, 3, 4, 5]})
@example(record={"a": [1, 2, 3, 4, 5, 6]})
@example(record={str(n): n for n in range(5)})
@example(record={"a": float("nan"), "b": "\ud800"})  # two refusals: the first in order is told
@example(record={"a": [[[[1, 2, 3, 4, 5]]] * 3] * 2})  # past 30 values
@example(record={key: {str(n): n for n in range(4)} for key in "abc"})  # 31 values, keys counted
@example(record={**{key: [1] * 5 for key in "abcd"}, "e": 1})  # 31 values, items counted
@example(record={"a": 10**100, "b": -(10**100)})  # 101 digits: refused
@example(record={"a": 10**100 - 1, "b": -(10**100) + 1})  # 100 digits: kept
@example(record={"a": float("inf")})
@example(record={"a": -float("inf")})
def test_the_plain_copy_is_the_careful_one(record: dict[t.Any, t.Any]) -> None:
    with low_limits():
        fast = outcome(lambda: api._plain_json(record))
        careful = outcome(lambda: api._json_value(record, "", 0))
    assert fast == careful
    if fast[0] == "copied":
        assert fast[1] is not record  # a copy: later edits of the caller's record do not leak in


@settings(max_examples=200, deadline=None)
@given(value=nested(SCALARS))
def test_what_is_not_a_mapping_is_refused_as_before(value: t.Any) -> None:
    with low_limits():
        assert outcome(lambda: api._plain_json(value)) == outcome(lambda: api._json_value(value, "", 0))


def test_the_plain_copy_holds_the_real_limits() -> None:
    """At the shipped limits: 10,000 items kept, one more refused; 100 levels kept, one more refused."""
    assert api._plain_json({"a": list(range(loader.MAX_ITEMS))})["a"][-1] == loader.MAX_ITEMS - 1
    for record in ({"a": list(range(loader.MAX_ITEMS + 1))}, {"a": chain(api._MAX_DEPTH, "x")}):
        fast = outcome(lambda record=record: api._plain_json(record))
        assert fast == outcome(lambda record=record: api._json_value(record, "", 0))
        assert fast[0] == "refused"
    assert api._plain_json({"a": chain(api._MAX_DEPTH - 1, "x")}) == {"a": chain(api._MAX_DEPTH - 1, "x")}


# -- a parsed JSON file: lone surrogates and depth ------------------------------------------------


def careful_check(doc: object, text: str) -> None:
    """The check as it was: every value looked at (strings for surrogates, containers for depth)."""
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if exporters._HAS_SURROGATE.search(value):
                raise exporters.Unreadable(exporters._SURROGATE, text, exporters._lone_surrogate_at(text))
        elif isinstance(value, (dict, list)):
            if depth >= exporters.MAX_DEPTH:
                raise exporters.Unreadable(exporters._TOO_DEEP, text, exporters._too_deep_at(text))
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


def checked(job: t.Callable[[], t.Any]) -> tuple[t.Any, ...]:
    try:
        job()
    except exporters.Unreadable as exc:
        return ("refused", str(exc), exc.line, exc.column, exc.pointer)
    return ("read",)


JSON_TEXTS = st.one_of(
    st.text(max_size=5),
    st.sampled_from(["\\ud83d\\ude00", "\\ud800", "\\uDC00x", "\\u0041", "\\\\ud800", "<", "\\u003c", "é"]),
)


def json_documents() -> st.SearchStrategy[str]:
    """JSON texts whose strings may hold surrogate escapes (paired, lone, escaped backslashes),
    nested up to past the (lowered) depth limit."""
    values = st.recursive(
        st.one_of(JSON_TEXTS.map(lambda text: ("s", text)), st.integers(-5, 5).map(lambda n: ("n", n))),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda items: ("l", items)),
            st.lists(st.tuples(JSON_TEXTS, inner), max_size=3).map(lambda pairs: ("d", pairs)),
        ),
        max_leaves=16,
    )

    def spell(node: tuple[str, t.Any]) -> str:
        kind, body = node
        if kind == "s":
            return '"' + body + '"' if "\\u" in body else json.dumps(body, ensure_ascii=False)
        if kind == "n":
            return str(body)
        if kind == "l":
            return "[" + ", ".join(spell(item) for item in body) + "]"
        keys = {}
        for key, value in body:  # (a repeated key is refused before the check: kept apart)
            keys.setdefault(key, value)
        return "{" + ", ".join(f"{json.dumps(k)}: {spell(v)}" for k, v in keys.items()) + "}"

    return st.one_of(values.map(spell), st.integers(0, 9).map(lambda depth: "[" * depth + '"\\ud800"' + "]" * depth))


@settings(max_examples=500, deadline=None)
@given(text=json_documents())
@example(text='{"a": "\\ud83d\\ude00"}')
@example(text='{"a": "\\ud83d"}')
@example(text='{"\\udc00": 1}')
@example(text='["\\\\ud800"]')
@example(text="[[[[[[[1]]]]]]]")
@example(text="[[[[[[[]]]]]]]")
@example(text='[[[[[[["\\ud800"]]]]]]]')
def test_a_parsed_file_is_refused_as_the_careful_check_refuses_it(text: str) -> None:
    try:
        doc = json.loads(text)
    except ValueError:
        return  # (not JSON: parse_json's own refusal, before the check)
    with low_limits():
        assert checked(lambda: exporters._check_values(doc, text)) == checked(lambda: careful_check(doc, text))


# -- the canonical key order -------------------------------------------------------------------------


def careful_order(value: t.Any, ranks: dict[t.Any, dict[t.Any, int]], at: tuple[t.Any, ...] = ()) -> t.Any:
    """``ordered_by_ranks`` as it was: a call and a path for every value."""
    if type(value) is dict or (type(value) is not list and isinstance(value, t.Mapping)):
        rank = ranks.get(at, {})
        keys = list(value)
        positions = [rank.get(k, -1) for k in keys]
        if -1 in positions or positions != sorted(positions):
            keys.sort(key=lambda k: (0, rank[k], "") if k in rank else (1, 0, str(k)))
        return {k: careful_order(value[k], ranks, (*at, k)) for k in keys}
    if isinstance(value, list):
        return [careful_order(item, ranks, (*at, "*")) for item in value]
    return value


ORDER = {(): ("id", "type", "a", "b"), ("a",): ("y", "x"), ("a", "*"): ("q", "p"), ("b", "*", "x"): ("z", "y")}
ORDER_KEYS = st.sampled_from(["id", "type", "a", "b", "x", "y", "z", "p", "q", "other", "Other"])


@settings(max_examples=400, deadline=None)
@given(
    value=st.recursive(
        st.one_of(TEXTS, st.integers(), st.floats(), st.booleans(), st.none(), st.sampled_from([Colour.RED, Size.BIG])),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(ORDER_KEYS, inner, max_size=4)),
        max_leaves=20,
    )
)
def test_the_canonical_order_is_as_before(value: t.Any) -> None:
    ranks = ranks_of(ORDER)
    fast, careful = ordered_by_ranks(value, ranks), careful_order(value, ranks)
    assert fast == careful or (isinstance(value, float) and math.isnan(value))
    assert shape(fast) == shape(careful)
    assert json.dumps(fast, default=str) == json.dumps(careful, default=str)  # the same key order throughout
