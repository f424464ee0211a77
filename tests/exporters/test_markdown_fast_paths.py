"""The Markdown report's fast paths and compact indexes give the bytes of the plain code they replaced.

* :func:`markdown_._escape` returns text as it is when two scans find nothing it would change
  (``_MARKUP``, and ``_AUTOLINK`` for the ``. / : @`` that matter only where they would autolink):
  those scans must find every character the per-character loop changes. The loop itself is
  checked against its reference in ``test_fast_paths.py``; here, the scans' character classes
  against the string methods the loop uses, over every code point, and the fast path against the
  loop's reference there (``_escape_reference``).
* :func:`markdown_.url_destination` keeps a URL as it is when one regular expression matches it.
* The report's indexes (:class:`markdown_._Collection`) read the order of a streaming
  ``Records`` (sorted by type and id) and break ties by position there; any other sequence, in
  any order, must give the report of the same records sorted.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sys
import typing as t
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import collections, edtf
from test_fast_paths import _escape_reference

from records_toolkit import dates
from records_toolkit.exporters import markdown_ as md
from records_toolkit.streaming import of_records

# -- the scans before the escaping loop ---------------------------------------------------------


def test_a_letter_after_a_dot_is_a_word_character_but_no_digit() -> None:
    """``_AUTOLINK`` finds a domain's dot by ``[^\\W\\d_]{2}`` after it: every character
    :meth:`str.isalpha` takes (which the loop asks) must match that class."""
    letter = re.compile(r"[^\W\d_]")
    missed = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF and chr(code).isalpha() and letter.match(chr(code)) is None
    ]
    assert missed == []


def test_only_ascii_letters_lower_case_to_those_of_www_and_mailto() -> None:
    """The loop compares ``.lower()`` of the characters before a ``.`` or ``:`` with ``www`` and
    ``mailto``; the scan looks for ASCII letters of either case: no other character lower-cases
    to those letters (alone or several)."""
    letters = set("wmailto")
    others = [
        hex(code) for code in range(0x80, sys.maxunicode + 1) if (lower := chr(code).lower()) and set(lower) <= letters
    ]
    assert others == []


_around = st.sampled_from("\\`*_[]{}<>&~./:#@|-+ \t\u00a0wWmMaAiIlLtToO1x;é²Ⅻ_１٣७𝟙)")


@settings(max_examples=2000, deadline=None)
@given(st.text(_around, max_size=16), st.sampled_from(["inline", "block", "heading", "link"]))
def test_text_the_scans_pass_is_what_the_loop_gives(text: str, context: str) -> None:
    """Where both scans find nothing (the fast path), the loop writes the text unchanged too."""
    value = md.clean(text)
    reference = _escape_reference(text, context)
    if md._MARKUP.search(value) is None and (context == "link" or md._AUTOLINK.search(value) is None):
        if not (context == "block" and value and (value[0] in "#>-+:|" or value[0].isdigit())):
            assert reference == value
    assert md._escape(text, context) == reference  # type: ignore[arg-type]


@pytest.mark.parametrize("digit", ["1", "１", "٣", "۱", "७", "𝟙"])
def test_a_paragraph_starting_with_any_digits_and_a_dot_is_no_list(digit: str) -> None:
    """Python-Markdown takes any decimal digits before ``.`` or ``)`` at a block's start for an
    ordered list (the number then lost): the dot is escaped, whatever script the digits are in."""
    for mark in (".", ")"):
        text = f"{digit}{mark} Joint efforts by the two armies."
        assert (
            md._escape(text, "block")
            == _escape_reference(text, "block")
            == f"{digit}\\{mark} Joint efforts by the two armies."
        )


def test_sentences_and_addresses() -> None:
    for text in (
        "He said so. Then he left.",
        "Report.az and www.x and 1.5 and a.b",
        "e.g. U.S.",
        "mailto:a mailto:@www.example. MailTo:x",
        "a@b x @ y a@ @b :@x",
        "http://x.az//y ///",
        "38.7225° N, 35.4875° E",
    ):
        for context in ("inline", "block", "heading", "link"):
            assert md._escape(text, context) == _escape_reference(text, context), (text, context)  # type: ignore[arg-type]


# -- link destinations --------------------------------------------------------------------------


def _url_destination_reference(url: str) -> str:
    out: list[str] = []
    for i, char in enumerate(url):
        if char in md._URL_UNSAFE or char.isspace() or unicodedata.category(char) in ("Cc", "Cs"):
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "replace"))
        elif char == "&" and md._ENTITY_LIKE.match(url, i + 1):
            out.append("&amp;")
        else:
            out.append(char)
    return "<" + "".join(out) + ">"


@settings(max_examples=1000, deadline=None)
@given(st.text(st.sampled_from('&#;aZ09=?/:%<> ()|`\\"\x00\x7féx') | st.characters(), max_size=24))
def test_url_destination_is_the_per_character_loop(url: str) -> None:
    assert md.url_destination(url) == _url_destination_reference(url)


def test_url_destinations_with_ampersands() -> None:
    for url in (
        "https://www.openstreetmap.org/?mlat=38.7225&mlon=35.4875#map=10/38.7225/35.4875",
        "https://x.example/?a=1&amp;b=2",
        "https://x.example/?a=1&#38;b",
        "https://x.example/&",
        "https://x.example/&&&;",
        "&" * 50 + " ",
    ):
        assert md.url_destination(url) == _url_destination_reference(url), url


# -- the sort keys of dates ----------------------------------------------------------------------


def _timeline_key(event: dict[str, t.Any]) -> tuple[int, dt.date, dt.date, str]:
    """The timeline's order as the report first wrote it (the reference the packed ints are held
    to): events by lower bound (the upper bound when the start is open or unknown); undated last."""
    if not isinstance(event.get("date"), str):
        return (1, dt.date.max, dt.date.max, str(event.get("id", "")))
    value = dates.parse(event["date"])
    first = value.lower or value.upper or dt.date.max
    return (0, first, value.upper or dt.date.max, str(event.get("id", "")))


def _article_key(article: dict[str, t.Any]) -> tuple[dt.date, str]:
    try:
        value = dates.parse(article.get("date_published", ""))
        when = value.lower or value.upper or dt.date.max
    except dates.EdtfError:
        when = dt.date.max
    return (when, str(article.get("id", "")))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(edtf(), st.none()), min_size=2, max_size=12))
def test_dates_as_ints_sort_as_the_timeline_keys(values: list[str | None]) -> None:
    """An event's date as one int (``_event_date``, ``_UNDATED``) and an article's
    (``_published``) sort as the keys the report first used (:func:`_timeline_key`,
    :func:`_article_key`, but the id) do."""
    events = [{"id": "", "type": "event"} | ({} if v is None else {"date": v}) for v in values]
    packed = [md._event_date(v)[0] if v is not None else md._UNDATED for v in values]
    keys = [_timeline_key(e)[:3] for e in events]
    for i in range(len(values)):
        for j in range(len(values)):
            assert (packed[i] < packed[j]) == (keys[i] < keys[j]), (values[i], values[j])
    published = [md._published(v) if v is not None else md._NO_DAY for v in values]
    article_keys = [_article_key({"date_published": v} if v is not None else {})[0] for v in values]
    assert [p == d.toordinal() for p, d in zip(published, article_keys, strict=True)] == [True] * len(values)


# -- the indexes: any order of the same records, the same report --------------------------------


def _reports(records: list[dict[str, t.Any]], seed: int) -> list[str]:
    ordered = sorted(records, key=lambda r: (r["type"], r["id"]))
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    spooled = of_records(records)
    try:
        return [md.render(ordered), md.render(shuffled), md.render(spooled), md.render(list(reversed(ordered)))]
    finally:
        spooled.close()


@settings(max_examples=150, deadline=None)
@given(collections(max_per_type=4), st.integers(0, 2**32))
def test_the_report_is_the_same_in_any_order_and_from_a_spool(records: list[dict[str, t.Any]], seed: int) -> None:
    """Ids are unique here: then the report orders every table by its key, then the id, whatever the
    order of the sequence it is given (a plain list compares ids; a spool's order has them)."""
    reports = _reports(records, seed)
    assert reports[1:] == reports[:1] * 3


def test_equal_keys_are_ordered_by_id() -> None:
    """Places of one name and events of one date (and undated ones), given in reverse: by id."""
    records: list[dict[str, t.Any]] = [{"id": "a1", "type": "article", "name": "A", "date_published": "2022"}]
    for n in range(12):
        records.append({"id": f"p{n:02d}", "type": "place", "name": "Same", "kind": "city"})
        event: dict[str, t.Any] = {"id": f"e{n:02d}", "type": "event", "name": f"E{n}", "kind": "meeting"}
        if n % 3:
            event["date"] = "2022-05"
        records.append(event)
    records.reverse()
    reports = _reports(records, 7)
    assert reports[1:] == reports[:1] * 3
    text = reports[0]
    assert text.index("| E1 (") < text.index("| E2 (") < text.index("| E0 (")  # dated first, then by id


def test_a_report_written_in_tiny_pieces_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report is written in pieces of about ``_PIECE`` characters, the events' details (read
    again after the table) too: with a tiny piece, every line is a write of its own."""
    records: list[dict[str, t.Any]] = [{"id": "a1", "type": "article", "name": "A", "date_published": "2022"}]
    for n in range(40):
        records.append(
            {
                "id": f"e{n:02d}",
                "type": "event",
                "name": f"Event {n}",
                "kind": "meeting",
                "date": f"2022-05-{n % 28 + 1:02d}",
                "description": f"Paragraph {n} — é😀 *x*.\n\nSecond\u2028part.",
            }
        )
    whole = md.render(records)
    monkeypatch.setattr(md, "_PIECE", 50)
    assert md.render(records) == whole
    assert whole.count("\n- **Event ") == 40
