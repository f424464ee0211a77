"""No link from record text in the Markdown report, on the renderers that link bare text (issue 7).

GitHub renders Markdown with cmark-gfm and its autolink extension (GFM §6.9): ``www.x.com``,
``https://x.com`` and ``foo@x.com`` in plain text become links there, and markdown-it-py with
linkify-it-py does the like for its fuzzy links. Record text is untrusted: a name must never
become a clickable link. The only links of the report are the ones it makes on purpose, to a URL
a record gives (or Wikidata and OpenStreetMap pages built from ids and coordinates).
"""

from __future__ import annotations

import copy
import re
import urllib.parse

import cmarkgfm
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from strategies import collections
from test_markdown import SHIPPED, _urls, export, normalise

from records_toolkit.exporters.markdown_ import WORD_JOINER, escape

LINKISH = [
    "foo@evil.example",
    "a.b-c_d+e@evil.com",
    "mailto:foo@evil.com",
    "xmpp:foo@evil.com/resource",
    "www.evil.com",
    "WWW.EVIL.COM/path?q=1",
    "https://evil.com",
    "http://evil.com/x",
    "HTTPS://EVIL.COM",
    "ftp://evil.com",
    "evil.com",
    "see www.evil.com.",
    "(foo@evil.com)",
    "<https://evil.com>",
    "<foo@evil.com>",
    "[x](https://evil.com)",
    "javascript:alert(1)",
    "foo@evil.com@again.com",
    "foo@@evil.com",
    "foo @evil.com",
    "@handle",
    "x@y",
    "www。evil。com",
    "foo＠evil．com",
    "ｗｗｗ.evil.com",
]


def linkify() -> MarkdownIt:
    return MarkdownIt("gfm-like", {"linkify": True})


def gfm_hrefs(markdown: str) -> list[str]:
    """Every link target in GitHub's rendering (cmark-gfm, with the autolink extension)."""
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    return [urllib.parse.unquote(href) for href in re.findall(r'<a href="([^"]*)"', html)]


def linkify_hrefs(markdown: str) -> list[str]:
    tokens = linkify().parse(markdown)
    return [
        urllib.parse.unquote(str(child.attrs["href"]))
        for token in tokens
        for child in token.children or []
        if child.type == "link_open"
    ]


def test_the_renderers_do_autolink_bare_text() -> None:
    """The check means something: both renderers link these when they are not escaped."""
    assert gfm_hrefs("foo@evil.com www.evil.com https://evil.com") == [
        "mailto:foo@evil.com",
        "http://www.evil.com",
        "https://evil.com",
    ]
    assert linkify_hrefs("foo@evil.com www.evil.com https://evil.com") == [
        "mailto:foo@evil.com",
        "http://www.evil.com",
        "https://evil.com",
    ]


@pytest.mark.parametrize("text", LINKISH)
def test_escaped_text_makes_no_link_and_reads_the_same(text: str) -> None:
    markdown = escape(text)
    assert gfm_hrefs(markdown) == []
    assert linkify_hrefs(markdown) == []
    shown = "".join(
        child.content for token in linkify().parse(markdown) for child in token.children or [] if child.type == "text"
    )
    assert shown == normalise(text)
    assert shown.replace(WORD_JOINER, "") == text  # only an invisible joiner is added, never a visible change


link_text = st.lists(
    st.one_of(
        st.sampled_from(["www.", "http://", "https://", "mailto:", "xmpp:", "@", ".", ":", "/", "com", "<", ">"]),
        st.text(alphabet="abwWz09.-_+@:/ \u2060\u200b\uff20\uff0e", min_size=1, max_size=6),
    ),
    max_size=10,
).map("".join)


@example("mailto:@www.www.")  # an empty local part after mailto: (found by hypothesis)
@given(link_text)
def test_no_link_from_any_text_made_of_link_parts(text: str) -> None:
    markdown = escape(text)
    assert gfm_hrefs(markdown) == [], markdown
    assert linkify_hrefs(markdown) == [], markdown


def allowed(records: list[dict]) -> set[str]:
    urls: set[str] = set()
    for record in records:
        urls |= _urls(record)
    return urls


def check_links(records: list[dict]) -> None:
    """Every link of the report, on both renderers, goes where the report means it to."""
    text = export(records)
    urls = allowed(records)
    for href in gfm_hrefs(text) + linkify_hrefs(text):
        if href.startswith(("https://www.wikidata.org/wiki/Q", "https://www.openstreetmap.org/?mlat=")):
            continue
        assert href in urls, href


def test_the_shipped_report_links_only_what_the_records_say() -> None:
    check_links(SHIPPED)
    assert gfm_hrefs(export(SHIPPED))  # it does have links: the check ran on something


@given(collections(), st.lists(st.sampled_from(LINKISH), min_size=1, max_size=4))
def test_no_link_from_record_text_anywhere_in_a_report(records: list[dict], texts: list[str]) -> None:
    """Link bait in every name, headline, alias, role and free text of a collection."""
    records = copy.deepcopy(records)
    bait = " ".join(texts)
    for record in records:
        for key in ("name", "headline", "description", "notes"):
            if key in record:
                record[key] = f"{record[key]} {bait}"
        if "aliases" in record:
            record["aliases"] = [*record["aliases"], bait]
        for participant in record.get("participants", []):
            if "role" in participant:
                participant["role"] = bait
        for source in record.get("sources", []):
            if "title" in source:
                source["title"] = bait
    check_links(records)
