"""The Markdown report of a collection of several articles, and its cost as the collection grows.

A reader of a repository of many articles needs a section per article (what that article
reports), every quote attributed to the article it comes from, the events' descriptions and what
they are part of, and each source once per URL. The report's work must grow linearly with the
collection: that is checked by counting lookups and formatting calls, never by timing.
"""

from __future__ import annotations

import copy
import typing as t

import pytest
from test_markdown import SHIPPED, check_document, export, headings, links, normalise, parser, plain, table

from records_toolkit.exporters import markdown_

FIRST = "azernews-2022-01-21-servicemen-parachute-course"
FIRST_TITLE = "Azernews, 2022-01-21: Azerbaijani servicemen at a parachute course in Kayseri"
SECOND_TITLE = "World Bulletin, 2022-09-05: TurAz Qartalı 2022 air force exercise"
TIMELINE = ("When", "What", "Where", "Who", "Status", "Source")
SHARED_URL = "https://tass.com/defense/1491939"  # already cited by shipped records, under another title

SECOND_ARTICLE: dict[str, t.Any] = {
    "id": "worldbulletin-2022-09-05-turaz-qartali",
    "type": "article",
    "name": SECOND_TITLE,
    "date_published": "2022-09-05",
    "url": "https://www.worldbulletin.net/turaz-qartali-2022",
    "language": "en",
    "text": "The TurAz Qartalı 2022 exercise of the Azerbaijani and Turkish air forces began in Baku.\n\n"
    "It is one of the periodic joint drills of the two countries.",
}
SECOND_EVENT: dict[str, t.Any] = {
    "id": "turaz-qartali-2022",
    "type": "event",
    "name": "TurAz Qartalı 2022",
    "kind": "exercise",
    "date": "2022-09",
    "status": "took-place",
    "locations": ["baku"],
    "part_of": "efes-2022",  # not true to life: any event will do to show `part_of`
    "description": "Air force exercise *with* [links](x) and <b>tags</b>; shown literally.",
    "sources": [
        {
            "article": SECOND_ARTICLE["id"],
            "quote": "The TurAz Qartalı 2022 exercise of the Azerbaijani and Turkish air forces began in Baku.",
            "supports": ["name", "kind", "locations"],
        },
        {"url": SHARED_URL, "title": "TASS, a second title for the same page", "supports": ["date"]},
        {"url": SHARED_URL, "title": "TASS, a second title for the same page", "supports": ["status"]},
    ],
}


BAKU: dict[str, t.Any] = {
    "id": "baku",
    "type": "place",
    "name": "Baku",
    "kind": "city",
    "within": "azerbaijan",
    "sources": [
        {
            "article": SECOND_ARTICLE["id"],
            "quote": "The TurAz Qartalı 2022 exercise of the Azerbaijani and Turkish air forces began in Baku.",
            "supports": ["name", "kind", "within"],
        }
    ],
}


def two_articles() -> list[dict[str, t.Any]]:
    return [*copy.deepcopy(SHIPPED), copy.deepcopy(SECOND_ARTICLE), copy.deepcopy(SECOND_EVENT), copy.deepcopy(BAKU)]


def section(text: str, start: str, end: str) -> str:
    """The source text from the line ``start`` up to the next line ``end``."""
    begin = text.index(f"\n{start}\n")
    return text[begin : text.index(f"\n{end}\n", begin + 1)]


def test_two_articles_give_a_section_each_with_what_it_reports() -> None:
    records = two_articles()
    text = export(records)
    tokens = check_document(records, text)  # escaping, tables, links, timeline, entity tables
    found = headings(tokens)
    assert plain(found[0][1]) == "Facts from 2 articles"
    assert [(lvl, plain(inline)) for lvl, inline in found[1:3]] == [(2, FIRST_TITLE), (2, SECOND_TITLE)]

    first = section(text, f"## {markdown_.escape(FIRST_TITLE)}", f"## {markdown_.escape(SECOND_TITLE)}")
    second = section(text, f"## {markdown_.escape(SECOND_TITLE)}", "## Timeline")
    cited_first = sum(1 for r in SHIPPED if any(s.get("article") == FIRST for s in r.get("sources", [])))
    assert f"**Cited by:** {cited_first} records of this collection" in first
    assert "**Cited by:** 2 records of this collection" in second
    # what each article reports: the second names its event only, the first never names it
    assert "- **Events (1):** TurAz Qartalı 2022\n" in second
    assert "TurAz" not in first
    assert "Indestructible Brotherhood" in first and "Indestructible Brotherhood" not in second


def test_every_quote_is_attributed_to_its_article() -> None:
    rows = {row[1]: row for row in table(parser().parse(export(two_articles())), TIMELINE)}
    new = rows["TurAz Qartalı 2022 (exercise)"][5]
    assert new.startswith(f"“{SECOND_EVENT['sources'][0]['quote']}” ({SECOND_TITLE})")
    for event in (r for r in SHIPPED if r["type"] == "event"):
        cell = rows[f"{normalise(event['name'])} ({event['kind'].replace('-', ' ')})"][5]
        if any("quote" in s for s in event["sources"]):
            assert f"” ({FIRST_TITLE})" in cell
            assert SECOND_TITLE not in cell


def test_event_descriptions_and_part_of_are_shown_literally() -> None:
    text = export(two_articles())
    html = parser().render(text)
    assert (
        "<li><strong>TurAz Qartalı 2022:</strong> Part of EFES-2022 Combined Joint Live-Fire Field Exercise. "
        "Air force exercise *with* [links](x) and &lt;b&gt;tags&lt;/b&gt;; shown literally.</li>"
    ) in html
    assert "<b>" not in html


def test_sources_are_listed_once_per_url() -> None:
    records = two_articles()
    text = export(records)
    sources = text[text.index("\n## Sources\n") :]
    hrefs = [href for href, _ in links(parser().parse(sources))]
    assert len(hrefs) == len(set(hrefs))
    every_url = {s["url"] for r in records for s in r.get("sources", []) if "url" in s}
    every_url |= {r["url"] for r in records if r["type"] == "article"}
    assert set(hrefs) == every_url
    shared = next(line for line in sources.split("\n") if SHARED_URL in line)
    citing = sum(1 for r in records if any(s.get("url") == SHARED_URL for s in r.get("sources", [])))
    assert shared.endswith(f"(cited by {citing} records)")  # records, not citations: the new event counts once
    assert "TASS, a second title for the same page" in shared
    # in the timeline too, a URL cited twice by one event is one link
    row = next(line for line in text.split("\n") if line.startswith("|") and "TurAz Qartalı 2022 (exercise" in line)
    assert row.count(SHARED_URL) == 1


def test_the_report_is_the_same_bytes_whatever_the_order_of_the_records() -> None:
    records = two_articles()
    assert export(records) == export(list(reversed(records))) == export(records)


# -- cost: linear in the collection, counted, not timed -----------------------------------------


class CountingDict(dict):  # type: ignore[type-arg]
    """A record (or a part of one) that counts every lookup of its fields."""

    lookups = 0

    def get(self, *args: t.Any) -> t.Any:
        CountingDict.lookups += 1
        return super().get(*args)

    def __getitem__(self, key: t.Any) -> t.Any:
        CountingDict.lookups += 1
        return super().__getitem__(key)


def counting(value: t.Any, ids: set[str], suffix: str) -> t.Any:
    """A copy of ``value`` made of counting dicts, with every id (and reference to one) suffixed,
    as bench/corpus.py makes a large collection out of the shipped one."""
    if isinstance(value, dict):
        return CountingDict({k: counting(v, ids, suffix) for k, v in value.items()})
    if isinstance(value, list):
        return [counting(v, ids, suffix) for v in value]
    if isinstance(value, str) and value in ids:
        return value + suffix
    return value


def collection(copies: int) -> list[dict[str, t.Any]]:
    ids = {r["id"] for r in SHIPPED}
    return [counting(record, ids, f"-c{n}") for n in range(copies) for record in SHIPPED]


def cost(monkeypatch: pytest.MonkeyPatch, copies: int) -> int:
    """Record lookups plus calls of the formatting functions, for one report of ``copies`` copies."""
    records = collection(copies)
    calls = 0
    for name in ("clean", "escape", "_title", "_sources_of", "describe_date", "link"):
        original = getattr(markdown_, name)

        def counted(*args: t.Any, _original: t.Any = original, **kwargs: t.Any) -> t.Any:
            nonlocal calls
            calls += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(markdown_, name, counted)
    CountingDict.lookups = 0
    markdown_.render(records)
    monkeypatch.undo()
    return calls + CountingDict.lookups


def test_the_report_costs_linear_work_in_the_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    # 10 and 20 copies: 10 and 20 articles, 430 and 860 records. Work that scans the collection
    # once per article (or the events once per agreement) would give a ratio near 3 here.
    small, large = cost(monkeypatch, 10), cost(monkeypatch, 20)
    assert 1.9 <= large / small <= 2.1, (small, large)
