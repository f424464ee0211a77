"""The Markdown report, checked with a parser we did not write (markdown-it-py, CommonMark + GFM tables).

What a reader and a web page that renders the report rely on: each article's headline is one
heading that shows its text literally; tables keep their columns whatever the records say; no
record text turns into HTML, emphasis or a link; dates are never more precise than the records;
and the same records give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from strategies import NASTY, collections

from records_toolkit import dates
from records_toolkit.cli import main
from records_toolkit.exporters.markdown_ import MarkdownFormat, describe_date
from records_toolkit.loader import Document, iter_record_files, load_file
from records_toolkit.plugins import Context

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "article.md"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LIVE = {"em_open", "strong_open", "link_open", "html_inline", "image", "code_inline", "s_open"}


# -- helpers: the parser's view -----------------------------------------------------------------


def parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def export(records: list[dict]) -> str:
    files = MarkdownFormat().export(records, Context.create({})).files
    (data,) = files.values()
    return data.decode("utf-8")


def normalise(text: str) -> str:
    """The promised rendering of record text on one line: controls dropped, breaks and tabs collapsed,
    and an invisible WORD JOINER after an ``@`` inside what GFM would autolink as an e-mail address."""
    kept = "".join(c for c in text if c in "\t\n\v\f\r\x85" or unicodedata.category(c) not in ("Cc", "Cs"))
    one_line = re.sub("[\t\n\v\f\r \x85\u2028\u2029]+", " ", kept).strip()
    return re.sub(r"(?<=[A-Za-z0-9.+_:-])@(?=[A-Za-z0-9._-])", "@\u2060", one_line)  # (":": "mailto:@x")


def plain(inline: Token) -> str:
    """What a reader sees of an inline token: its text, without link or emphasis markup."""
    out = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
    return "".join(out)


def headings(tokens: list[Token]) -> list[tuple[int, Token]]:
    return [(int(tok.tag[1]), tokens[i + 1]) for i, tok in enumerate(tokens) if tok.type == "heading_open"]


def tables(tokens: list[Token]) -> list[tuple[tuple[int, int], list[list[Token]]]]:
    """Each table as (source line range, rows of cell inline tokens); the first row is the header."""
    found = []
    rows: list[list[Token]] = []
    span = (0, 0)
    for tok in tokens:
        if tok.type == "table_open":
            rows, span = [], tuple(tok.map or (0, 0))  # type: ignore[assignment]
        elif tok.type == "tr_open":
            rows.append([])
        elif tok.type == "inline" and rows and span != (0, 0):
            rows[-1].append(tok)
        elif tok.type == "table_close":
            found.append((span, rows))
            span = (0, 0)
    return found


TIMELINE = ("When", "What", "Where", "Who", "Status", "Source")
PEOPLE = ("Name", "Roles", "Nationality", "Affiliations", "Also called", "Links")
ORGANISATIONS = ("Name", "Kind", "Country", "Part of", "Also called", "Links")
PLACES = ("Name", "Kind", "Within", "Coordinates", "Also called", "Links")


def table(tokens: list[Token], header: tuple[str, ...]) -> list[list[str]]:
    """The body rows (as plain text) of the first table with this header."""
    for _, rows in tables(tokens):
        if rows and tuple(plain(c) for c in rows[0]) == header:
            return [[plain(c) for c in row] for row in rows[1:]]
    return []


def links(tokens: list[Token]) -> list[tuple[str, str]]:
    """Every link as (href, the text a reader sees)."""
    found = []
    for tok in tokens:
        children = tok.children or []
        for i, child in enumerate(children):
            if child.type == "link_open":
                end = next(j for j in range(i, len(children)) if children[j].type == "link_close")
                found.append((str(child.attrs["href"]), plain(Token("inline", "", 0, children=children[i + 1 : end]))))
    return found


def unescaped_pipes_markdown_it(line: str) -> int:
    """Pipes that split cells for markdown-it: any pipe not right after a backslash."""
    return sum(1 for i, c in enumerate(line) if c == "|" and (i == 0 or line[i - 1] != "\\"))


def unescaped_pipes_cmark(line: str) -> int:
    """Pipes that split cells for cmark-gfm (GitHub): a backslash escapes the character after it."""
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        count += line[i] == "|"
        i += 1
    return count


def key(event: dict) -> tuple:
    """Timeline order as documented: lower bound (upper when the start is open), undated last, then id."""
    if "date" not in event:
        return (1, dt.date.max, dt.date.max, event["id"])
    value = dates.parse(event["date"])
    return (0, value.lower or value.upper, value.upper or dt.date.max, event["id"])


def title(record: dict) -> str:
    return record.get("headline") or record["name"]


def shipped() -> list[dict]:
    records = []
    for path in iter_record_files([ROOT / "records"]):
        assert isinstance(path, Path)
        for loaded in load_file(path):
            assert isinstance(loaded, Document)
            records.append(loaded.data)
    return sorted(records, key=lambda r: (r["type"], r["id"]))


SHIPPED = shipped()


# -- what must hold for any collection ----------------------------------------------------------


def check_document(records: list[dict], text: str) -> list[Token]:
    """Every promise of the format that does not depend on the data set; returns the parse."""
    raw = text.encode("utf-8")
    assert raw.decode("utf-8") == text
    assert "\r" not in text and text.endswith("\n") and not text.endswith("\n\n")
    assert not any(unicodedata.category(c) == "Cc" and c != "\n" for c in text)

    tokens = parser().parse(text)
    html = parser().render(text)
    assert "<script" not in html.lower()
    every = [c for tok in tokens for c in [tok, *(tok.children or [])]]
    assert not [t for t in every if t.type in ("html_inline", "html_block")], "record text became raw HTML"
    assert not [t for t in every if t.type in ("code_inline", "code_block", "fence", "image")]

    # Headings: the articles' headlines, each shown literally (CommonMark §4.2 + §2.4 escapes).
    articles = sorted((r for r in records if r["type"] == "article"), key=lambda a: (_published(a), a["id"]))
    found = headings(tokens)
    if len(articles) == 1:
        assert next(h for h in found if h[0] == 1)[1] is found[0][1]
        assert [lvl for lvl, _ in found].count(1) == 1
        article_headings = [found[0][1]]
    else:
        assert found[0][0] == 1 and plain(found[0][1]) == f"Facts from {len(articles)} articles"
        article_headings = [inline for _, inline in found[1 : 1 + len(articles)]]
        assert all(lvl == 2 for lvl, _ in found[1 : 1 + len(articles)])
    assert [plain(h) for h in article_headings] == [normalise(title(a)) for a in articles]
    for _, inline in found:
        assert not [c.type for c in inline.children or [] if c.type in LIVE], plain(inline)

    # Tables (GFM §4.10): every source row splits into the header's column count, for both parsers.
    lines = text.split("\n")
    for (start, end), rows in tables(tokens):
        width = len(rows[0])
        assert all(len(row) == width for row in rows)
        for line in lines[start:end]:
            assert unescaped_pipes_markdown_it(line) == width + 1, line
            assert unescaped_pipes_cmark(line) == width + 1, line

    # Links: only http(s), each pointing exactly where a record (or a Wikidata id, or coordinates) says.
    allowed = set()
    for record in records:
        allowed.update(_urls(record))
    for child in every:
        if child.type == "link_open":
            href = str(child.attrs["href"])
            assert href.startswith(("https://", "http://"))
            if href.startswith(("https://www.wikidata.org/wiki/", "https://www.openstreetmap.org/")):
                continue
            assert urllib.parse.unquote(href) in allowed, href

    by_id = {r["id"]: r for r in records}

    # The timeline, sorted, names shown literally, dates never more precise than recorded.
    events = sorted((r for r in records if r["type"] == "event"), key=key)
    rows = table(tokens, TIMELINE)
    assert len(rows) == len(events)
    for row, event in zip(rows, events):
        when, what, where = row[0], row[1], row[2]
        assert what == f"{normalise(event['name'])} ({event['kind'].replace('-', ' ')})"
        assert where == "; ".join(normalise(title(by_id[ref])) for ref in event.get("locations", []))
        assert (
            row[4]
            == {"planned": "planned", "under-way": "under way", "took-place": "took place", "cancelled": "cancelled"}[
                event["status"]
            ]
        )
        check_when(event.get("date"), when)

    for kind, header in (("person", PEOPLE), ("organization", ORGANISATIONS), ("place", PLACES)):
        items = sorted(
            (r for r in records if r["type"] == kind), key=lambda r: (normalise(r["name"]).casefold(), r["id"])
        )
        if not items:
            continue
        body = table(tokens, header)
        assert [r[0] for r in body] == [normalise(i["name"]) for i in items]
        assert [r[4] for r in body] == ["; ".join(normalise(a) for a in i.get("aliases", [])) for i in items]
    return tokens


def _published(article: dict) -> dt.date:
    value = dates.parse(article["date_published"])
    return value.lower or value.upper or dt.date.max


def _urls(record: object) -> set[str]:
    found: set[str] = set()
    if isinstance(record, dict):
        for value in record.values():
            found |= _urls(value)
    elif isinstance(record, list):
        for value in record:
            found |= _urls(value)
    elif isinstance(record, str) and record.startswith(("http://", "https://")):
        found.add(urllib.parse.unquote(record))
    return found


def check_when(text: str | None, when: str) -> None:
    """The words for a date name no month or day the value does not have."""
    if text is None:
        assert when == "undated"
        return
    value = dates.parse(text)
    ends = [d for d in (value.start, value.end) if d is not None]
    if not any(d.month for d in ends):
        assert not any(m in when for m in MONTHS), when
    if not any(d.day for d in ends):
        assert not re.search(r"\b\d{1,2} (?:" + "|".join(MONTHS) + r")\b", when), when
    if value.kind == "date":
        assert value.start is not None
        if value.start.precision == "year":
            assert when.startswith(f"{value.start.year:04d} (year only"), when
        elif value.start.precision == "month":
            assert f"{MONTHS[value.start.month - 1]} {value.start.year:04d} (month only" in when, when
    if value.kind == "before":
        assert when.startswith("on or before ")
    if value.kind == "after":
        assert when.startswith("on or after ")
    for end in ends:
        if end.qualifier:
            assert {"?": "uncertain", "~": "approximate", "%": "uncertain, approximate"}[end.qualifier] in when


# -- the shipped records ------------------------------------------------------------------------


def test_golden_file_of_the_shipped_records(update_golden: bool) -> None:
    text = export(SHIPPED)
    if update_golden:
        GOLDEN.write_bytes(text.encode("utf-8"))
    assert GOLDEN.read_bytes() == text.encode("utf-8"), "run pytest --update-golden and read the diff"


def test_shipped_report_keeps_every_promise() -> None:
    tokens = check_document(SHIPPED, export(SHIPPED))
    html = parser().render(export(SHIPPED))
    assert "<script" not in html
    assert (
        plain(headings(tokens)[0][1]) == "Azernews, 2022-01-21: Azerbaijani servicemen at a parachute course in Kayseri"
    )
    sections = [plain(inline) for lvl, inline in headings(tokens) if lvl == 2]
    assert sections == ["Timeline", "People", "Organisations", "Places", "Agreements", "Sources"]


def test_shipped_timeline_shows_imprecise_dates_honestly() -> None:
    rows = {row[1]: row for row in table(parser().parse(export(SHIPPED)), TIMELINE)}
    assert rows["Eternity-2022 (exercise)"][0] == "2022 (year only)"
    assert rows["Winter Training-2022 (exercise)"][0] == "2022 (year only)"
    assert rows["113th Term Static Parachute Basic Course (training course)"][0] == "on or before 21 Jan 2022"
    assert rows["EFES-2022 Combined Joint Live-Fire Field Exercise (exercise)"][0] == "9 May – 9 Jun 2022"
    assert rows["International Army Games 2022 (competition)"][0] == "13–27 Aug 2022"
    assert rows["Second Nagorno-Karabakh War (war)"][0] == "27 Sep – 10 Nov 2020"
    assert not re.search(r"(?<!\d)1 Jan 2022", export(SHIPPED))
    course = rows["113th Term Static Parachute Basic Course (training course)"]
    assert course[2] == "Kayseri" and course[4] == "took place"
    assert course[5].startswith("“A group of Azerbaijani servicemen has attended")
    # the quote is abbreviated, then attributed to its article
    assert course[5].endswith("…” (Azernews, 2022-01-21: Azerbaijani servicemen at a parachute course in Kayseri)")


def test_shipped_entities_agreements_and_sources_use_names_not_ids() -> None:
    text = export(SHIPPED)
    tokens = parser().parse(text)
    places = {row[0]: row for row in table(tokens, PLACES)}
    assert places["Kayseri"][2] == "Türkiye" and places["Kayseri"][3] == "38.7225° N, 35.4875° E"
    html = parser().render(text)
    assert 'href="https://www.wikidata.org/wiki/Q227"' in html
    assert "<li><strong>Signed by:</strong> Ilham Aliyev and Recep Tayyip Erdoğan</li>" in html
    assert "“memorandum of alliance”" in html
    assert "<li>Joint efforts by the two armies in the face of foreign threats.</li>" in html
    # every outside source is linked once per URL (in the Sources section); each title it is cited under is shown
    sources_at = text.index("\n## Sources\n")
    source_links = [href for href, _ in links(parser().parse(text[sources_at:]))]
    outside = {(s["url"], s["title"]) for r in SHIPPED for s in r["sources"] if "url" in s}
    assert sorted(source_links) == sorted({url for url, _ in outside})
    shown = "".join(plain(tok) for tok in parser().parse(text[sources_at:]) if tok.type == "inline")
    assert all(normalise(title) in shown for _, title in outside)
    for ref in ("ilham-aliyev", "turkey", "kayseri", "first-commando-brigade"):
        assert not re.search(rf"(?<![\w-]){ref}(?![\w-])", html.replace("shusha-declaration-signing", "")), ref


# -- any valid collection (hypothesis) ----------------------------------------------------------


@given(collections(), st.randoms(use_true_random=False))
def test_any_collection_renders_safely_literally_and_deterministically(records: list[dict], rnd: random.Random) -> None:
    text = export(records)
    check_document(records, text)
    shuffled = list(records)
    rnd.shuffle(shuffled)
    assert export(shuffled) == text  # same records, same bytes, whatever the order they come in
    assert export(records) == text


NASTY_HEADLINES = NASTY + [
    "*Sea* | [x](y) <script>alert(1)</script> & #1 _x_",
    "Ukraine & NATO: *Sea Breeze* [2022] <b>drill</b> | #1 _x_",
    "a\r\nb\rc\nd",
    "\\",
    "x \\",
    "# not a heading",
    "1. not a list",
    "- not a list",
    "> not a quote",
    "===",
    "`code`",
    "<http://example.com>",
    "&amp; &#65; &copy",
    "\u00a0padded\u00a0",
    "x\u0000y\u001f\u007f",
    "![img](http://x/y.png)",
    "~~strike~~",
    "[ref]: http://x",
    "<!-- comment -->",
    "\u2028line\u2029sep",
]


@given(
    st.one_of(
        st.sampled_from(NASTY_HEADLINES),
        st.text(min_size=1),
        st.text(st.sampled_from("\\*_[]()<>|&#`!-=\n\r\t !x"), min_size=1),
    )
)
def test_any_headline_is_one_literal_heading(headline: str) -> None:
    assume(normalise(headline))
    article = {
        "id": "a",
        "type": "article",
        "name": "Label",
        "headline": headline,
        "date_published": "2022",
        "text": "Body.",
        "sources": [{"url": "https://example.com/", "title": headline, "supports": ["name"]}],
    }
    event = {
        "id": "e",
        "type": "event",
        "name": headline,
        "kind": "other",
        "status": "planned",
        "date": "2022",
        "sources": [{"article": "a", "quote": "Body.", "supports": ["name"]}],
    }
    text = export([article, event])
    tokens = check_document([article, event], text)
    heading = headings(tokens)[0][1]
    assert plain(heading) == normalise(headline)
    assert [c.type for c in heading.children or []] == ["text"] * len(heading.children or [])


# -- details ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edtf", "words"),
    [
        ("2022", "2022 (year only)"),
        ("2022-01", "Jan 2022 (month only)"),
        ("2022-01-21", "21 Jan 2022"),
        ("2022?", "2022 (year only, uncertain)"),
        ("2022-06~", "Jun 2022 (month only, approximate)"),
        ("2022-06-15%", "15 Jun 2022 (uncertain, approximate)"),
        ("[..2022-01-21]", "on or before 21 Jan 2022"),
        ("[2022..]", "on or after 2022 (year only)"),
        ("2022-05-09/2022-06-09", "9 May – 9 Jun 2022"),
        ("2022-08-13/2022-08-27", "13–27 Aug 2022"),
        ("2021-12-30/2022-01-02", "30 Dec 2021 – 2 Jan 2022"),
        ("2022-05/2022-06", "May – Jun 2022 (months only)"),
        ("2020/2022", "2020 – 2022 (years only)"),
        ("2020/2022-06-09", "2020 (year only) – 9 Jun 2022"),
        ("2022-05-09?/2022-06-09", "9 May 2022 (uncertain) – 9 Jun 2022"),
        ("2022-01/..", "from Jan 2022 (month only), open end"),
        ("2022-01-21/", "from 21 Jan 2022, end unknown"),
        ("../2022", "until 2022 (year only), open start"),
        ("/2022-01-21", "until 21 Jan 2022, start unknown"),
    ],
)
def test_dates_in_words_keep_their_precision(edtf: str, words: str) -> None:
    assert describe_date(edtf) == words


def test_urls_cannot_break_out_of_their_link_and_only_http_links() -> None:
    article = {
        "id": "a",
        "type": "article",
        "name": "A",
        "date_published": "2022",
        "text": "T",
        "url": "https://example.com/a(b)<c>\\d e&amp;f",
        "sources": [
            {"url": "javascript:alert(1)", "title": "evil", "supports": ["name"]},
            {"url": "https://example.com/x)](y", "title": "odd", "supports": ["name"]},
        ],
    }
    text = export([article])
    tokens = parser().parse(text)
    found = {(urllib.parse.unquote(href), text) for href, text in links(tokens)}
    assert ("https://example.com/a(b)<c>\\d e&amp;f", "https://example.com/a(b)<c>\\d e&amp;f") in found
    assert ("https://example.com/x)](y", "odd") in found
    assert not any("javascript" in href for href, _ in found)
    assert "javascript:alert(1)" in parser().render(text)  # shown as text, not as a link


# -- the command line ---------------------------------------------------------------------------


def test_cli_writes_the_report_to_stdout_and_to_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    runner = CliRunner(catch_exceptions=False)
    result = runner.invoke(main, ["export", "--format", "markdown", "records"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == GOLDEN.read_bytes()

    out = tmp_path / "report.md"
    result = runner.invoke(main, ["export", "--format", "markdown", "records", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == GOLDEN.read_bytes()
    assert f"wrote {out}" in result.stderr

    result = runner.invoke(main, ["formats"])
    assert re.search(r"^markdown\s+\.md\s+text/markdown\s+file\s+no", result.output, re.M)


def test_coordinates_read_as_degrees_without_exponents_or_minus_zero() -> None:
    place = {
        "id": "p",
        "type": "place",
        "name": "P",
        "kind": "site",
        "coordinates": {"latitude": -33.8688, "longitude": -5e-324},
        "sources": [],
    }
    article = {"id": "a", "type": "article", "name": "A", "date_published": "2022", "text": "T", "sources": []}
    rows = table(parser().parse(export([article, place])), PLACES)
    assert rows == [["P", "site", "", "33.8688° S, 0° E", "", ""]]
