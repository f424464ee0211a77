"""The Markdown report reads the same in every renderer people use, and like prose before it.

Renderers: cmark-gfm (GitHub, with its extensions), markdown-it-py (CommonMark + tables, and
``gfm-like`` with linkify) and Python-Markdown (MkDocs: ``tables``; Pelican: ``extra``). The visible
text (HTML to text, entities decoded, white space folded) must be the same in all of them, with no
backslash left over, and every link must go to the URL its record gives.

Python-Markdown is not CommonMark: it backslash-escapes only ``\\ ` * _ { } [ ] ( ) > # + - . ! |``,
links ``<a@b>``, strips any closing ``#`` of a heading and nests lists at four spaces. The report
avoids all of these (see exporters/markdown_.py); the property test below is where a new
difference would show.
"""

from __future__ import annotations

import html
import html.parser
import re
import typing as t
import urllib.parse

import cmarkgfm
import markdown
from hypothesis import assume, example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from test_markdown import SHIPPED, _urls, export, normalise

from records_toolkit.exporters.markdown_ import WORD_JOINER, cell, clean, escape

RENDERERS: dict[str, t.Callable[[str], str]] = {
    "cmark-gfm": cmarkgfm.github_flavored_markdown_to_html,
    "markdown-it": MarkdownIt("commonmark").enable("table").render,
    "markdown-it+linkify": MarkdownIt("gfm-like", {"linkify": True}).render,
    "python-markdown (MkDocs)": lambda text: markdown.markdown(text, extensions=["tables"]),
    "python-markdown (Pelican)": lambda text: markdown.markdown(text, extensions=["extra"]),
}
BLOCKS = {"p", "li", "h1", "h2", "h3", "td", "th", "tr", "blockquote", "ul", "ol", "table", "thead", "tbody"}


class _Text(html.parser.HTMLParser):
    """What a reader sees: the text of the HTML, one space between blocks; and every link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._label: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS:
            self.parts.append(" ")
        if tag == "a":
            self._href, self._label = dict(attrs).get("href") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS:
            self.parts.append(" ")
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._label).split())))
            self._href = None

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        if self._href is not None:
            self._label.append(data)


def seen(rendered: str) -> tuple[str, list[tuple[str, str]]]:
    parser = _Text()
    parser.feed(rendered)
    parser.close()
    return " ".join("".join(parser.parts).split()), parser.links


def every(text: str) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    return {name: seen(render(text)) for name, render in RENDERERS.items()}


def test_the_shipped_report_reads_the_same_everywhere_with_no_stray_backslash() -> None:
    text = export(SHIPPED)
    views = every(text)
    first = views["cmark-gfm"]
    for name, (shown, links) in views.items():
        assert "\\" not in shown, (name, shown[max(0, shown.index("\\") - 60) : shown.index("\\") + 60])
        assert shown == first[0], name
        assert links == first[1], name
    # the links work: each goes exactly where a record (or an id, or coordinates) says, in every renderer
    allowed = set().union(*(_urls(r) for r in SHIPPED))
    for href, _ in first[1]:
        target = html.unescape(href)
        if target.startswith(("https://www.wikidata.org/wiki/Q", "https://www.openstreetmap.org/?mlat=")):
            assert "\\" not in target and "&mlon=" in target if "openstreetmap" in target else True
            continue
        assert urllib.parse.unquote(target) in allowed, target


def test_the_raw_report_reads_like_prose() -> None:
    """Escapes only where something is active: the shipped report has a handful, no more."""
    text = export(SHIPPED)
    assert text.count("\\") <= 10, re.findall(r".{20}\\.{20}", text)
    assert "Azernews, 2022-01-21: Azerbaijani servicemen at a parachute course in Kayseri" in text
    assert "&mlon=" in text  # a URL's query as it is


def test_the_lead_is_the_articles_own_first_paragraph() -> None:
    text = export(SHIPPED)
    (article,) = [r for r in SHIPPED if r["type"] == "article"]
    first = article["text"].split("\n\n")[0].strip()
    lead = text.split("\n\n")[1:3]
    assert lead == ["The article opens:", f"> {first}"]
    # the record's description (a note on the record) comes after the article's facts, not as the lead
    assert text.index("The published headline is not known") > text.index("- **Cited by:**")


# -- any text, in every place the report puts record text ---------------------------------------------

ALPHABET = st.sampled_from(
    list("\\`*_{}[]()<>#+-.!|&~:/@;=\"'%$^?,") + list("aAzZ09 ") + ["www.", "http://", "a.com", "&amp;", "é", "Ж", "€"]
)
TEXT = st.lists(ALPHABET | st.text(max_size=3), max_size=14).map("".join)


def document(text: str) -> tuple[str, str]:
    """``text`` in a heading, a paragraph, a list item after a label, a list item of its own, a table
    cell and a link's text: the Markdown, and what a reader must see."""
    inline, block = escape(text), escape(text, "block")
    shown = normalise(text)
    plain = clean(text)  # a link's text gets no joiner: nothing autolinks there
    markdown_text = "\n".join(
        [
            f"# {escape(text, 'heading')}",
            "",
            block,
            "",
            f"- **Label:** {inline}",
            f"- {block}",
            "",
            "| A | B |",
            "| --- | --- |",
            f"| x | {cell(inline) or ' '} |",
            "",
            f"[{escape(text, 'link')}](<https://example.com/>)",
            "",
        ]
    )
    expected = " ".join(part for part in (shown, shown, "Label:", shown, shown, "A B x", shown, plain) if part)
    return markdown_text, " ".join(expected.split())


@example("# a #")
@example("1. list")
@example(": definition")
@example("C:\\dir\\ & R&D &amp; <b> *x* _y_ snake_case ~~s~~ [r]: x {: .c} www.x.com Report.az foo@bar.com")
@example("mailto:a@b.c http://localhost //x.org")
@example("\\")
@given(TEXT)
def test_any_text_reads_the_same_in_every_renderer(text: str) -> None:
    assume(normalise(text).replace(WORD_JOINER, "").strip())
    markdown_text, expected = document(text)
    for name, (shown, links) in every(markdown_text).items():
        assert shown == expected, (name, markdown_text)
        assert [href for href, _ in links] == ["https://example.com/"], (name, links)
