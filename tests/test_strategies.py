"""The strategies are tested too: what they draw is valid, varied and as hostile as promised."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import collections, edtf

from records_toolkit import dates
from records_toolkit.loader import Document
from records_toolkit.validate import Checker


def texts(value: object) -> list[str]:
    """Every string inside a record, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *texts(v)]]
    if isinstance(value, list):
        return [s for item in value for s in texts(item)]
    return []


def check(records: list[dict]) -> list[str]:
    checker = Checker()
    for index, record in enumerate(records):
        checker.add(Document(f"<generated {index}>", 0, record))
    return [f"{p.file} {p.pointer} {p.code}: {p.message}" for p in checker.finish().report.problems]


@given(collections())
def test_generated_collections_are_valid(records: list[dict]) -> None:
    assert check(records) == []


@given(edtf())
def test_generated_dates_parse_and_are_ordered(text: str) -> None:
    parsed = dates.parse(text)
    assert parsed.ordered


def test_strategies_reach_the_hard_cases() -> None:
    """Over a modest sample, every hard case shows up at least once (no shrinking: just counting)."""
    seen: set[str] = set()

    @settings(max_examples=120, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(collections(), st.lists(edtf(), min_size=5, max_size=5))
    def sample(records: list[dict], date_texts: list[str]) -> None:
        strings = texts(records)
        for needle in ("=", ",", ";", "\n", "NO", "[..", "/..", "?", "~"):
            if any(needle in text for text in strings + date_texts):
                seen.add(needle)
        if any(ord(c) > 0xFFFF for text in strings for c in text):
            seen.add("astral")
        seen.update(f"type {r['type']}" for r in records)
        if len({r["type"] for r in records}) >= 5:
            seen.add("five types at once")
        if any(len(source["supports"]) > 1 for r in records for source in r["sources"]):
            seen.add("several supports")
        if any("article" in source for r in records for source in r["sources"] if r["type"] != "article"):
            seen.add("quote source")
        if any(": " in entry for r in records for source in r["sources"] for entry in source["supports"]):
            seen.add("per-value support")
        if any("url" in source and "quote" in source for r in records for source in r["sources"]):
            seen.add("quoted outside source")

    sample()
    expected = {
        "=",
        ",",
        ";",
        "\n",
        "NO",
        "[..",
        "/..",
        "?",
        "~",
        "astral",
        "five types at once",
        "several supports",
        "quote source",
        "per-value support",
        "quoted outside source",
        *(f"type {t}" for t in ("article", "person", "organization", "place", "agreement", "event")),
    }
    assert expected <= seen, expected - seen
