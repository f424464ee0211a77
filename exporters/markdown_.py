"""Markdown: a report people read, one document for the whole export.

The document is CommonMark 0.31.2 with GFM tables (GitHub Flavored Markdown spec §4.10). It is a
view, not a carrier: there is no importer and no front matter. It renders the same visible text
in cmark-gfm (GitHub), markdown-it-py (with or without linkify) and Python-Markdown (MkDocs,
Pelican: ``tables``, ``extra``), and it reads like prose before it is rendered.

Every piece of text that comes from a record goes through :func:`escape` (and, in a table, through
:func:`cell`), so that a headline like ``*Sea* | [x](y) <script>`` shows literally and never becomes
emphasis, a link or raw HTML. Only what is active *where it stands* is escaped, and only with the
escapes every one of those renderers decodes:

* controls are dropped, and line breaks/tabs collapse to one space (a record's text never starts
  a block of its own);
* backslash escapes (CommonMark §2.4) only for the characters Python-Markdown can escape too
  (``\\ ` * _ { } [ ] ( ) > # + - . ! |``): ``\\`` before punctuation or at the end, ``` ` ```,
  ``[``, ``]``, ``{`` (Python-Markdown's ``attr_list``) always, ``*`` and ``_`` unless they cannot
  open or close emphasis (``*`` between spaces, ``_`` inside a word: ``snake_case``);
* the others by a character reference (§2.5), which every renderer decodes: ``<`` before anything
  but white space is ``&lt;`` (raw HTML, autolinks), an ``&`` that would start an entity is
  ``&amp;``, a ``~`` that could open or close GFM strikethrough is ``&#126;``;
* at the start of a block (a description's paragraph, a list item): ``#``, ``>``, a list marker
  (``-``, ``+``, ``1.``, ``1)``), and ``:`` + space (a definition in Python-Markdown's
  ``def_list``); in a heading, a closing run of ``#``;
* what cmark-gfm's autolink extension and linkify-it would link (GFM §6.9): the ``.`` of ``www.`` and
  the ``.`` before a top-level domain (``Report\\.az``: an escape ends linkify's text token and
  cmark-gfm's match), the second ``/`` of ``//`` (``&#47;``), the ``:`` of ``mailto:``
  (``&#58;``). An e-mail address is not disarmed by escapes: cmark-gfm finds
  ``foo@evil.example`` in the *rendered* text of a paragraph. So an ``@`` between two characters
  an address may hold gets an invisible U+2060 WORD JOINER after it: the text reads the same, but
  no address (nor ``mailto:``/``xmpp:`` link, nor GitHub ``@mention``) starts there. Inside a
  link's text nothing is autolinked, so nothing of this is done there;
* in table cells an unescaped ``|`` is ``\\|`` (GFM §4.10; Python-Markdown's ``tables`` escapes it
  the same way).

Python-Markdown differs from CommonMark where the report never goes: it decodes backslash escapes
of only the characters above (``\\,`` shows a backslash; hence the references), links ``<a@b>``
(so ``<`` is a reference before any non-space), and strips any closing ``#`` run of a heading
(escaped here); nested lists take four spaces of indentation (used for the provisions).

Only http(s) URLs become links, always as ``[text](<destination>)`` (§6.3): characters that could
end or bend the destination are percent-encoded (RFC 3986 §2.1), and an ``&`` that would start an
entity is written ``&amp;`` (decoded in destinations, §6.3, and by a browser in Python-Markdown's
``href``), so that ``&amp;`` in a query stays itself.

Dates are shown as precisely as the record has them (:mod:`records_toolkit.dates`): a year stays
"2022 (year only)", never "1 Jan 2022".

An article's section opens with the article's own lead, its first paragraph, quoted (news writing
puts the summary there); the record's ``description`` follows its facts.
"""

from __future__ import annotations

import array
import bisect
import dataclasses
import datetime as dt
import functools
import re
import string
import sys
import typing as t
import unicodedata
from collections import Counter

from records_toolkit import dates
from records_toolkit.loader import Names
from records_toolkit.plugins import Context, Exported, Option, Record, Slice, Writable

__all__ = ["MarkdownFormat", "cell", "clean", "describe_date", "escape", "render"]

_PUNCTUATION = frozenset(string.punctuation)  # the ASCII punctuation characters of CommonMark §2.1
# The characters _escape may write otherwise (or follow with a word joiner). A class alone, which
# ``re`` scans fast (no alternation).
_ACTIVE = re.compile(r"[\\`\[\]{*_<&~./:#@]")
# Text with none of these needs no escape but at a block's start: those active anywhere, and
# (outside a link's text) the ``. / : @`` that _escape changes, where it does: a ``.`` before two
# letters (a top-level domain) or after ``www``; the second ``/`` of ``//``; ``:`` after ``mailto``
# (only these ASCII letters lower-case to its letters); an ``@`` between characters of an address.
# Each alternative starts with its character, so that ``re`` skips to those. (A sentence's full
# stops need no escape: most text with a ``.`` in it has none.)
_MARKUP = re.compile(r"[\\`\[\]{*_<&~#]")
_AUTOLINK = re.compile(
    r"\.(?:(?=[^\W\d_]{2})|(?<=[wW]{3}\.))|/(?<=//)|:(?<=[mM][aA][iI][lL][tT][oO]:)"
    r"|@(?<=[A-Za-z0-9.+\-_:]@)(?=[A-Za-z0-9.\-_])"
)
_ENTITY_LIKE = re.compile(r"#?[A-Za-z0-9]+;")  # what CommonMark (§2.5) or Python-Markdown takes for an entity
_ORDERED = re.compile(r"\d+(?=[.)](?:[ \t]|$))")  # an ordered list marker (§5.2; Python-Markdown: any digits)
Where = t.Literal["inline", "block", "heading", "link"]
# GFM §6.9 extended email autolink: the characters on either side of an ``@`` that cmark-gfm links.
_ADDRESS_BEFORE = frozenset(string.ascii_letters + string.digits + ".+-_")
_ADDRESS_BEFORE_OR_SCHEME = _ADDRESS_BEFORE | frozenset(":")
_ADDRESS_AFTER = frozenset(string.ascii_letters + string.digits + ".-_")
WORD_JOINER = "\u2060"
# Line endings (CommonMark §2.1), tabs and the Unicode line/paragraph separators: one space each run.
_BREAKS = re.compile("[\t\n\v\f\r \x85\u2028\u2029]+")
_PARAGRAPH_BREAK = re.compile(r"(?:\r\n?|\n)[ \t]*(?:\r\n?|\n)\s*")  # a blank line: paragraphs of free text
# The Unicode controls (category Cc: U+0000-001F, U+007F-009F) and lone surrogates (Cs) but the
# line breaks and tabs above, which become spaces: one regular expression, not a call per character.
_DROPPED = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # not locale-bound
_QUALIFIERS = {"?": "uncertain", "~": "approximate", "%": "uncertain, approximate"}
_STATUS = {"planned": "planned", "under-way": "under way", "took-place": "took place", "cancelled": "cancelled"}
_PLURALS = {
    "article": "articles",
    "event": "events",
    "person": "people",
    "organization": "organisations",
    "place": "places",
    "agreement": "agreements",
}
_SINGULARS = {"organization": "organisation"}
_DATED = frozenset({"event", "article"})  # the types sorted by a date (then id), the others by name
_QUOTE_LENGTH = 90  # characters of an article quote shown in the timeline
_LEAD_LENGTH = 600  # characters of an article's first paragraph shown under its title


# -- text ----------------------------------------------------------------------------------------


def clean(text: object) -> str:
    """Text for one line: controls dropped, line breaks and tabs collapsed, ends stripped.

    Markdown parsers strip Unicode white space at the ends of headings and cells (markdown-it-py
    does), so the ends are stripped here too; white space inside (e.g. U+00A0) is kept.
    """
    value = str(text)
    if value.isprintable():  # no control, line break, tab or lone surrogate (most text): only spaces to join
        return (_BREAKS.sub(" ", value) if "  " in value else value).strip()
    value = _DROPPED.sub("", value)
    return _BREAKS.sub(" ", value).strip()


def _escape(text: object, context: Where) -> str:
    """Inline Markdown that renders as exactly ``clean(text)`` in every renderer named in the module
    docstring, with only what is active where it stands escaped (and an invisible
    :data:`WORD_JOINER` after an ``@`` that could join an e-mail autolink).

    ``context``: ``"inline"`` after other text on its line; ``"block"`` at the start of a block
    (a paragraph, a list item's text); ``"heading"`` the text of an ATX heading; ``"link"`` the text
    of a link, where nothing is autolinked.
    """
    return _escape_clean(clean(text), context)


def _escape_clean(value: str, context: Where) -> str:
    """:func:`_escape` of text that :func:`clean` gives back as it is (text it made)."""
    autolinks = context != "link"
    if (
        _MARKUP.search(value) is None
        and (not autolinks or _AUTOLINK.search(value) is None)
        and not (
            (context == "heading" and "#" in value)
            or (context == "block" and value and (value[0] in "#>-+:|" or value[0].isdigit()))  # (any digits: _ORDERED)
        )
    ):
        return value
    last = len(value) - 1
    out: list[str] = []
    done = 0  # value[:done] is in out
    for found in _ACTIVE.finditer(value):  # one pass, the text between active characters copied whole
        i = found.start()
        char = value[i]
        before = value[i - 1] if i else ""
        after = value[i + 1] if i < last else ""
        out.append(value[done:i])
        done = i + 1
        if char == "\\":
            out.append("\\\\" if not after or after in _PUNCTUATION else "\\")
        elif char == "]" and context == "link" and after == ":":
            out.append("&#93;")  # ``[x]:`` at a line's start is a reference definition to Python-Markdown
        elif char in "`[]{":
            out.append("\\" + char)
        elif char == "*":  # between two spaces it can neither open nor close (§6.2; Python-Markdown too)
            out.append("*" if before.isspace() and after.isspace() else "\\*")
        elif char == "_":  # inside a word it can neither open nor close (§6.2; Python-Markdown's smart emphasis)
            out.append("_" if before.isalnum() and after.isalnum() else "\\_")
        elif char == "<":  # a tag, a comment or an autolink starts with a non-space (§6.5, §6.6)
            out.append("<" if after.isspace() else "&lt;")
        elif char == "&":
            out.append("&amp;" if _ENTITY_LIKE.match(value, i + 1) else "&")
        elif char == "~":  # GFM strikethrough; Python-Markdown cannot backslash-escape a tilde
            out.append("~" if before.isspace() and after.isspace() else "&#126;")
        elif char == "." and autolinks and _domain_dot(value, i):
            out.append("\\.")
        elif char == "/" and autolinks and before == "/":
            out.append("&#47;")  # ``//``: linkify's protocol-relative links, and ``http://``
        elif char == ":" and autolinks and value[max(0, i - 6) : i].lower() == "mailto":
            out.append("&#58;")  # linkify's ``mailto:`` link needs no domain
        elif char == "#" and context == "heading" and (i == 0 or not value[i:].strip("#")):
            out.append("\\#")  # a closing sequence (§4.2; Python-Markdown strips any trailing run)
        else:
            out.append(char)
        # (after a ":" too: cmark-gfm links "mailto:@www.example." with an empty local part)
        if (
            char == "@"
            and autolinks
            and 0 < i < last
            and before in _ADDRESS_BEFORE_OR_SCHEME
            and after in _ADDRESS_AFTER
        ):
            out.append(WORD_JOINER)
    out.append(value[done:])
    escaped = "".join(out)
    return _block_start(value, escaped) if context == "block" else escaped


def escape(text: object, context: Where = "inline") -> str:
    """Record text as Markdown that shows it literally, at ``context`` (see :func:`_escape`)."""
    return _escape(text, context)


def _domain_dot(value: str, i: int) -> bool:
    """Whether the ``.`` at ``i`` could join a domain name that cmark-gfm or linkify-it links: the dot
    of ``www.``, or a dot inside a word before two letters (a top-level domain: ``Report.az``)."""
    if value[max(0, i - 3) : i].lower() == "www":
        return True
    return i > 0 and not value[i - 1].isspace() and value[i + 1 : i + 2].isalpha() and value[i + 2 : i + 3].isalpha()


def _block_start(value: str, escaped: str) -> str:
    """``escaped`` (:func:`_escape` of ``value``) with the marker its first characters would make
    escaped. The characters such a marker is made of are copied by :func:`_escape` as they are
    (``#`` outside a heading, ``> - + :`` at the start, the digits and ``.`` or ``)`` of an ordered
    list item), so each stands at its own index in ``escaped``."""
    first = value[0]
    if first in "#>":  # an ATX heading (Python-Markdown needs no space after ``#``), a block quote
        escaped = "\\" + escaped
    elif first in "-+" and (len(value) == 1 or value[1] in " \t-"):  # a bullet list item, a thematic break
        escaped = "\\" + escaped
    elif first == ":" and (len(value) == 1 or value[1] in " \t"):  # Python-Markdown's def_list
        escaped = "&#58;" + escaped[1:]
    elif (number := _ORDERED.match(value)) is not None:  # an ordered list item: escape its ``.`` or ``)``
        escaped = escaped[: number.end()] + "\\" + escaped[number.end() :]
    if "|" in value and not value.strip("|:- \t\\"):  # Python-Markdown's tables: a delimiter row
        escaped = escaped.replace("|", "&#124;")
    return escaped


def cell(text: str) -> str:
    """A GFM table cell of already-built inline Markdown: one line (§4.10), and every ``|`` that is
    not escaped yet escaped, so that it stays inside its cell (cmark-gfm, markdown-it-py,
    Python-Markdown's ``tables``). The other escapes are kept as they are."""
    text = text.replace("\n", " ").strip()
    if "|" not in text:
        return text
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        else:
            out.append("\\|" if char == "|" else char)
    return "".join(out)


_URL_UNSAFE = frozenset(' <>()\\"`|')
# printable ASCII but for " ( ) < > \ ` |, and & but before what reads as an entity
_URL_PLAIN = re.compile(r"[!#-%'*-;=?-\[\]-_a-{}~]*(?:&(?!#?[A-Za-z0-9]+;)[!#-%'*-;=?-\[\]-_a-{}~]*)*")


def url_destination(url: str) -> str:
    """A link destination for ``<...>`` (§6.3) that reads back as ``url`` (percent-encoded where needed)."""
    if _URL_PLAIN.fullmatch(url):  # nothing to encode or escape: the loop would keep it as it is
        return "<" + url + ">"
    out: list[str] = []
    for i, char in enumerate(url):
        if char in _URL_UNSAFE or char.isspace() or unicodedata.category(char) in ("Cc", "Cs"):
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "replace"))
        elif char == "&" and _ENTITY_LIKE.match(url, i + 1):
            # an entity is decoded in a destination (§6.3), and by the browser in Python-Markdown's href
            out.append("&amp;")
        else:
            out.append(char)
    return "<" + "".join(out) + ">"


def is_web_url(url: object) -> bool:
    """Only http(s) URLs become links (a ``javascript:`` URL must never be clickable)."""
    return isinstance(url, str) and _WEB_URL.match(url) is not None


_WEB_URL = re.compile(r"(?i)^https?://[^\s/?#]+")


def link(label_markdown: str, url: object) -> str:
    """``[label](<url>)`` for http(s) URLs; anything else shows as text, not as a link."""
    if not is_web_url(url):
        return label_markdown if url is None else f"{label_markdown} ({escape(url)})"
    return f"[{label_markdown}]({url_destination(t.cast(str, url))})"


def labelled(text: object, url: object) -> str:
    """``text`` as the link's text (where nothing autolinks) when ``url`` becomes a link; else as text."""
    if is_web_url(url):
        return f"[{_escape(text, 'link')}]({url_destination(t.cast(str, url))})"  # link(), its URL checked once
    return link(_escape(text, "inline"), url)


def url_link(url: object) -> str:
    """The URL itself as the link's text."""
    return labelled(url, url)


def _join_words(parts: t.Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``: for prose."""
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _abbreviate(text: str, limit: int = _QUOTE_LENGTH) -> str:
    """At most ``limit`` characters, cut at a word boundary, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "…"


def _degrees(value: float | int) -> float:
    """A coordinate to 6 decimals (about 0.1 m; more is noise for a reader), never ``-0``."""
    rounded = round(float(value), 6)
    return rounded if rounded != 0 else 0.0


def _number(value: float) -> str:
    """``38.7225``, ``-0.5``, ``12``: fixed-point digits, no exponent, no trailing zeros."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


# -- dates ---------------------------------------------------------------------------------------


def _point(value: dates.EdtfDate) -> str:
    """One date at its own precision: ``21 Jan 2022``, ``Jan 2022``, ``2022``."""
    year = f"{value.year:04d}"
    if value.month is None:
        return year
    if value.day is None:
        return f"{_MONTHS[value.month - 1]} {year}"
    return f"{value.day} {_MONTHS[value.month - 1]} {year}"


def _notes(value: dates.EdtfDate, *, plural: bool = False) -> list[str]:
    notes = []
    if value.precision != "day":
        notes.append(f"{value.precision}{'s' if plural else ''} only")
    if value.qualifier:
        notes.append(_QUALIFIERS[value.qualifier])
    return notes


def _single(value: dates.EdtfDate) -> str:
    notes = _notes(value)
    return _point(value) + (f" ({', '.join(notes)})" if notes else "")


def _range(start: dates.EdtfDate, end: dates.EdtfDate) -> str:
    """``9 May – 9 Jun 2022``, ``13–27 Aug 2022``, ``2020 – 2022 (years only)``: shared parts once."""
    same_form = start.precision == end.precision and not start.qualifier and not end.qualifier
    if same_form and start.precision == "day" and start.year == end.year:
        assert start.month is not None and end.month is not None
        if start.month == end.month:
            return f"{start.day}–{_point(end)}"
        return f"{start.day} {_MONTHS[start.month - 1]} – {_point(end)}"
    if same_form and start.precision == "month" and start.year == end.year:
        assert start.month is not None
        return f"{_MONTHS[start.month - 1]} – {_point(end)} (months only)"
    if same_form:
        notes = _notes(start, plural=True)
        return f"{_point(start)} – {_point(end)}" + (f" ({', '.join(notes)})" if notes else "")
    return f"{_single(start)} – {_single(end)}"


def describe_date(text: str) -> str:
    """An EDTF value in words, with its precision; never more precise than the value.

    ``2022`` -> "2022 (year only)"; ``[..2022-01-21]`` -> "on or before 21 Jan 2022";
    ``2022-05-09/2022-06-09`` -> "9 May – 9 Jun 2022"; ``2022-01/..`` -> "from Jan 2022 (month only), open end".
    """
    value = dates.parse(text)
    if value.kind == "date":
        assert value.start is not None
        return _single(value.start)
    if value.kind == "before":
        assert value.end is not None
        return f"on or before {_single(value.end)}"
    if value.kind == "after":
        assert value.start is not None
        return f"on or after {_single(value.start)}"
    if value.start is not None and value.end is not None:
        return _range(value.start, value.end)
    if value.start is not None:
        return f"from {_single(value.start)}, " + ("open end" if value.open_end else "end unknown")
    assert value.end is not None
    return f"until {_single(value.end)}, " + ("open start" if value.open_start else "start unknown")


def _when(value: t.Any) -> str:
    """``escape(describe_date(value))``, once per date (in a bounded cache)."""
    return _escaped_date(value) if type(value) is str else escape(describe_date(value))


@functools.lru_cache(maxsize=2048)  # a collection's dates repeat (one day, many events)
def _escaped_date(text: str) -> str:
    return escape(describe_date(text))


@functools.lru_cache(maxsize=1024)
def _escaped_label(text: str) -> str:
    return escape(text)


def _label(value: object) -> str:
    """``escape(value)`` for a word of a small vocabulary (a kind, a status, a role, a language):
    once per word, in a bounded cache. Free text (names, descriptions, quotes) is escaped each time."""
    return _escaped_label(value) if type(value) is str else escape(value)


# -- the document --------------------------------------------------------------------------------


_DAY_BITS = 22  # bits of a date's ordinal (dt.date.max's is 3,652,059 < 2**22)
_NO_DAY = dt.date.max.toordinal()


@functools.lru_cache(maxsize=2048)  # bounded: a collection's dates repeat (one day, many events)
def _event_date(text: str) -> tuple[int, bool]:
    """An event dated ``text`` as one int that sorts events by lower bound (the upper bound when
    the start is open or unknown), then by upper bound; and whether the date is known to the day."""
    value = dates.parse(text)
    first = value.lower or value.upper or dt.date.max
    return first.toordinal() << _DAY_BITS | (value.upper or dt.date.max).toordinal(), value.day_precise


@functools.lru_cache(maxsize=2048)
def _published(text: str) -> int:
    """An article published ``text`` as a date's ordinal (its lower bound, else its upper one; an
    unknown or unreadable date last)."""
    try:
        value = dates.parse(text)
    except dates.EdtfError:
        return _NO_DAY
    return (value.lower or value.upper or dt.date.max).toordinal()


_UNDATED = (1 << 2 * _DAY_BITS) | _NO_DAY << _DAY_BITS | _NO_DAY  # undated events: after every dated one


@dataclasses.dataclass
class _Collection:
    """Compact indexes of the records (never the records themselves), built in one pass over them.

    A record is known by its *position* in the sequence given to the report; it is read again
    (``records[position]``: decoded anew from the export's spool when streaming) when its part of
    the report is written. What is kept: each record's type and escaped title, the first position
    of each id (for names), the positions of each type in report order, which records cite each
    article, the agreements' events, and the counts and outside sources the report sums up.
    Each index is made in one pass, so that the report takes time linear in the collection.

    Kept compact, since it grows with the collection (about 130 bytes a record, half of what the
    dicts, lists and tuples took): positions in ``array`` s, the titles packed as UTF-8
    (:class:`~records_toolkit.loader.Names`), the types and ids of a :class:`~records_toolkit.streaming.Records` (which
    has them, in the order of its records) used as they are, not copied; dates sort as ints, and
    ties by position where the ids rise with it (as in a ``Records``), else by id.
    """

    records: t.Sequence[Record]
    kinds: t.Sequence[str]  # position -> str(type)
    titles: Names  # position -> escape(_title(record)), packed
    first: dict[str, int]  # id -> position of the first record with it
    by_type: dict[str, t.Sequence[int]]  # type -> positions, in report order
    # article id -> positions of the other records whose sources cite it, in report order
    reports: dict[str, t.Sequence[int]] = dataclasses.field(default_factory=dict)
    # agreement id -> positions of its events, in timeline order
    agreement_events: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    status: Counter[str] = dataclasses.field(default_factory=Counter)  # the events' statuses
    details: bool = False  # whether any event has a line after the timeline (:func:`_event_detail`)
    precise: int = 0  # events dated to the day
    undated: int = 0  # events without a date
    url_titles: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # outside source URL -> titles
    url_citing: Counter[str] = dataclasses.field(default_factory=Counter)  # URL -> records citing it

    @classmethod
    def of(cls, records: t.Sequence[Record]) -> _Collection:
        # A streaming.Records has every record's type and id (str(record["type"]), str(record["id"]))
        # in order, sorted by (type, id): used as they are (each checked against its record).
        given_ids, given_types = getattr(records, "ids", None), getattr(records, "types", None)
        keyed = isinstance(given_ids, list) and isinstance(given_types, list)
        keyed = keyed and len(t.cast(list[str], given_ids)) == len(t.cast(list[str], given_types)) == len(records)
        ids: list[str] = t.cast(list[str], given_ids) if keyed else []
        kinds: list[str] = t.cast(list[str], given_types) if keyed else []
        collection = cls(records, kinds, Names(), {}, {})
        first = collection.first
        titles = collection.titles
        url_titles, url_citing, status = collection.url_titles, collection.url_citing, collection.status
        # per type: positions (in the records' order) and their sort keys (ints for dates, else names)
        positions: dict[str, array.array[int]] = {kind: array.array("q") for kind in _PLURALS}
        keys: dict[str, t.Any] = {kind: array.array("q") if kind in _DATED else [] for kind in _PLURALS}
        last_id: dict[str, str] = {}  # per type: the id of its latest record
        unordered: set[str] = set()  # types whose ids do not rise with the position: the ids break ties
        no_id: set[int] = set()  # positions of records without an id (sorted as "")
        cites: dict[str, array.array[int]] = {}
        agreement_of: dict[int, str] = {}
        for position, record in enumerate(records):
            kind = str(record.get("type"))
            record_id = str(record.get("id"))
            if keyed and (kind != kinds[position] or record_id != ids[position]):  # never so: copy them
                keyed, ids, kinds = False, ids[:position], kinds[:position]
                collection.kinds = kinds
            if not keyed:
                kind = sys.intern(kind)
                kinds.append(kind)
                ids.append(record_id)
            record_id = ids[position]  # (the Records' own: one string for the index, not a second)
            titles.append(_escape_clean(_clean_title(record), "inline"))  # escape(_title(record))
            sources = _sources_of(record)
            if record_id not in first:  # the record a reference to this id names
                first[record_id] = position
                urls: set[str] = set()
                for source in sources:
                    url = source.get("url")
                    if url:
                        url = str(url)
                        named = url_titles.get(url)
                        if named is None:
                            named = url_titles[url] = set()
                        named.add(str(source.get("title") or url))
                        urls.add(url)
                if urls:
                    url_citing.update(urls)
            if "id" in record:
                sort_id = record_id
            else:
                sort_id = ""
                no_id.add(position)
            of_kind = positions.get(kind)
            if of_kind is None:
                of_kind = positions[kind] = array.array("q")
                keys[kind] = []
            if sort_id < last_id.get(kind, "") and kind not in unordered:
                unordered.add(kind)
            last_id[kind] = sort_id
            of_kind.append(position)
            if kind == "event":
                date = record.get("date")
                if isinstance(date, str):
                    key, day_precise = _event_date(date)
                    collection.precise += day_precise
                else:
                    key = _UNDATED
                    collection.undated += 1
                keys[kind].append(key)
                status[str(record.get("status"))] += 1
                if not collection.details:  # (read until the first event that has one)
                    has_part = record.get("part_of") is not None
                    collection.details = has_part or bool(_paragraphs(record.get("description", ""), "inline"))
                if record.get("agreement") is not None:
                    agreement_of[position] = str(record["agreement"])
            elif kind == "article":
                published = record.get("date_published", "")
                keys[kind].append(_published(published) if isinstance(published, str) else _NO_DAY)
            else:
                keys[kind].append(clean(record.get("name", "")).casefold())
            own = record.get("id")
            for article_id in {str(a) for s in sources if (a := s.get("article")) is not None and a != own}:
                if article_id not in cites:
                    cites[article_id] = array.array("q")
                cites[article_id].append(position)
        for kind, items in positions.items():
            key_of = keys.pop(kind)
            if kind in unordered:  # ties broken by the id, then the position

                def with_id(i: int, key_of: t.Any = key_of, items: array.array[int] = items) -> tuple[t.Any, str]:
                    return (key_of[i], "" if items[i] in no_id else ids[items[i]])

                order = sorted(range(len(items)), key=with_id)
            else:  # the ids rise with the positions: equal keys stay in the records' order
                order = sorted(range(len(items)), key=key_of.__getitem__)
            collection.by_type[kind] = array.array("q", [items[i] for i in order])
            del key_of, order
        positions.clear()
        rank = array.array("q", bytes(8 * len(kinds)))
        known = [
            *_PLURALS,
            *sorted(kind for kind in collection.by_type if kind not in _PLURALS),
        ]  # not the input's order
        number = 0
        for kind in known:
            for position in collection.by_type[kind]:
                rank[position] = number
                number += 1
        for article_id, citing in cites.items():
            collection.reports[article_id] = array.array("q", sorted(citing, key=rank.__getitem__))
        del rank, cites
        for position in collection.by_type["event"]:
            if position in agreement_of:
                collection.agreement_events.setdefault(agreement_of[position], []).append(position)
        return collection

    def each(self, kind: str) -> t.Iterator[Record]:
        """The records of ``kind`` in report order, each read again as it is needed."""
        for position in self.by_type.get(kind, ()):
            yield self.records[position]

    def each_at(self, kind: str) -> t.Iterator[tuple[int, Record]]:
        """:meth:`each` with each record's position."""
        for position in self.by_type.get(kind, ()):
            yield position, self.records[position]

    def count(self, kind: str) -> int:
        return len(self.by_type.get(kind, ()))

    def name(self, ref: object) -> str:
        """Escaped name of the record ``ref`` points to (headline for articles); the id if unknown."""
        position = self.first.get(str(ref))
        if position is None:
            return escape(ref)
        return self.titles[position]

    def names(self, refs: object) -> list[str]:
        return [self.name(ref) for ref in refs] if isinstance(refs, list) else []


def _sources_of(record: Record) -> list[dict[str, t.Any]]:
    """The record's sources that are objects (anything else is the validator's business)."""
    sources = record.get("sources")
    return [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []


def _title(record: Record) -> str:
    """What a record is called: an article's headline if it has one, else its name (else its id)."""
    for key in ("headline", "name", "id"):
        if clean(record.get(key) or ""):
            return str(record[key])
    return "(untitled)"


def _clean_title(record: Record) -> str:
    """``clean(_title(record))``, each field cleaned once."""
    for key in ("headline", "name", "id"):
        value = clean(record.get(key) or "")
        if value:
            return value
    return "(untitled)"


def _table(header: t.Sequence[str], rows: t.Iterable[t.Sequence[str]]) -> t.Iterator[str]:
    """A GFM table (§4.10): header, delimiter row, one line per row, same column count everywhere."""
    yield "| " + " | ".join(header) + " |"
    yield "|" + "|".join(" --- " for _ in header) + "|"
    for row in rows:
        yield _row(row, header)


def _row(row: t.Sequence[str], header: t.Sequence[str]) -> str:
    assert len(row) == len(header)
    return "| " + " | ".join(map(cell, row)) + " |"


def _paragraphs(text: object, context: Where = "block") -> list[str]:
    """Free text as paragraphs: blank lines separate them, other line breaks become spaces.
    ``context``: ``"block"`` when each starts a paragraph of its own, ``"inline"`` when they are joined
    after other text."""
    parts = _PARAGRAPH_BREAK.split(str(text))
    return [escaped for escaped in (_escape(p, context) for p in parts) if escaped]


_QID = re.compile(r"Q[1-9][0-9]*")


def _links(record: Record) -> list[str]:
    identifiers = record.get("identifiers") or {}
    links = []
    if isinstance(identifiers.get("wikidata"), str) and _QID.fullmatch(identifiers["wikidata"]):
        qid = identifiers["wikidata"]
        links.append(link(f"Wikidata {qid}", f"https://www.wikidata.org/wiki/{qid}"))
    if identifiers.get("url"):
        links.append(link("website", identifiers["url"]))
    return links


def _aliases(record: Record) -> str:
    return "; ".join(escape(a) for a in record.get("aliases") or [])


def _count(number: int, kind: str) -> str:
    return f"{number} {_SINGULARS.get(kind, kind) if number == 1 else _PLURALS[kind]}"


def lead(article: Record) -> str | None:
    """The article's own first paragraph (its lead: the summary news writing puts first), as one
    line cut at :data:`_LEAD_LENGTH` characters; None if the article has no text."""
    text = article.get("text")
    if not isinstance(text, str):
        return None
    for part in _PARAGRAPH_BREAK.split(text):
        if clean(part):
            return _abbreviate(clean(part), _LEAD_LENGTH)
    return None


def _article_block(collection: _Collection, article: Record, level: int) -> list[str]:
    out = [f"{'#' * level} {_escape(_title(article), 'heading')}", ""]
    opening = lead(article)
    if opening is not None:  # the article's words, quoted: never a summary written here
        out += ["The article opens:", "", f"> {_escape(opening, 'block')}", ""]
    facts = []
    if article.get("authors"):
        facts.append(f"**By:** {_join_words(collection.names(article['authors']))}")
    if article.get("date_published"):
        facts.append(f"**Published:** {_when(article['date_published'])}")
    if article.get("publisher"):
        facts.append(f"**Publisher:** {collection.name(article['publisher'])}")
    if article.get("url"):
        facts.append(f"**Link:** {url_link(article['url'])}")
    if article.get("language"):
        facts.append(f"**Language:** {_label(article['language'])}")
    if article.get("headline") and clean(article["headline"]) != clean(article.get("name", "")):
        facts.append(f"**Record name:** {escape(article.get('name', ''))}")
    reported = collection.reports.get(str(article.get("id")), [])
    facts.append(f"**Cited by:** {len(reported)} record{'' if len(reported) == 1 else 's'} of this collection")
    out += [f"- {fact}" for fact in facts] + [""]
    for paragraph in _paragraphs(article.get("description", "")):
        out += [paragraph, ""]
    return out + _reported(collection, reported)


def _reported(collection: _Collection, positions: t.Sequence[int]) -> list[str]:
    """What an article reports: the records citing it, by type, each type in report order."""
    if not positions:
        return ["This article is cited by no record of this collection.", ""]
    by_type: dict[str, list[str]] = {}
    for position in positions:
        by_type.setdefault(collection.kinds[position], []).append(collection.titles[position])
    out = ["What it reports:", ""]
    for kind, names in by_type.items():
        label = _PLURALS.get(kind, kind).capitalize()
        out.append(f"- **{escape(label)} ({len(names)}):** {'; '.join(names)}")
    return out + [""]


def _counts(collection: _Collection) -> list[str]:
    """One sentence of counts: what the collection holds, and how well its events are dated."""
    present = [_count(collection.count(k), k) for k in _PLURALS if collection.count(k)]
    sentence = f"This collection holds {_join_words(present)}." if present else "This collection is empty."
    events = collection.count("event")
    if events:
        status = collection.status
        verbs = {
            "took-place": ("took place", "took place"),
            "planned": ("is planned", "are planned"),
            "under-way": ("was under way when reported", "were under way when reported"),
            "cancelled": ("was cancelled", "were cancelled"),
        }
        said = [f"{status[s]} {one if status[s] == 1 else many}" for s, (one, many) in verbs.items() if status[s]]
        precise, undated = collection.precise, collection.undated
        vague = events - precise - undated
        when = [
            f"{label}: {n}"
            for label, n in (("dated to the day", precise), ("dated less precisely", vague), ("undated", undated))
            if n
        ]
        sentence += f" Of the {_count(events, 'event')}, {_join_words(said)}; {', '.join(when)}."
    return [sentence, ""]


def _source_cell(collection: _Collection, event: Record) -> str:
    """The event's evidence in brief: one quote per citing article (preferring one that dates the
    event), attributed to its article; then the outside sources, one link per URL."""
    sources = _sources_of(event)
    quotes = [s for s in sources if s.get("quote") and s.get("article") is not None]  # an outside page: its link
    quotes.sort(key=lambda s: "date" not in (s.get("supports") or []))  # stable: the record's order otherwise
    parts = []
    quoted: set[str] = set()
    for source in quotes:
        article = str(source.get("article", ""))
        if article in quoted:
            continue
        quoted.add(article)
        said = f"“{escape(_abbreviate(clean(source['quote'])))}”"
        parts.append(f"{said} ({collection.name(article)})")
    seen = set()
    for source in sources:
        if source.get("url") and str(source["url"]) not in seen:
            seen.add(str(source["url"]))
            parts.append(labelled(source.get("title") or source["url"], source["url"]))
    return "; ".join(parts)


def _who(collection: _Collection, event: Record) -> str:
    parts = []
    if event.get("organizers"):
        parts.append("organised by " + ", ".join(collection.names(event["organizers"])))
    participants = [p for p in event.get("participants") or [] if isinstance(p, dict)]
    if participants:
        named = [
            collection.name(p.get("ref")) + (f" ({_label(p['role'])})" if clean(p.get("role") or "") else "")
            for p in participants
        ]
        parts.append("with " + ", ".join(named))
    return "; ".join(parts)


_TIMELINE = ["When", "What", "Where", "Who", "Status", "Source"]


def _timeline_head(collection: _Collection) -> list[str]:
    if not collection.count("event"):
        return ["## Timeline", "", "No events are recorded.", ""]
    head = ["## Timeline", "", "Events by date; imprecise dates are shown as precisely as the sources give them.", ""]
    return head + list(_table(_TIMELINE, ()))


def _event_row(collection: _Collection, position: int, event: Record) -> str:
    """The event's line of the timeline table."""
    return _row(
        [
            _when(event["date"]) if isinstance(event.get("date"), str) else "undated",
            f"{collection.titles[position]} ({_label(str(event.get('kind', 'event')).replace('-', ' '))})",
            "; ".join(collection.names(event.get("locations"))),
            _who(collection, event),
            _label(_STATUS.get(str(event.get("status")), str(event.get("status", "")))),
            _source_cell(collection, event),
        ],
        _TIMELINE,
    )


def _event_detail(collection: _Collection, position: int, event: Record) -> str | None:
    """The event's line of "About the events" (after the table), if it has one."""
    said = []
    if event.get("part_of") is not None:
        said.append(f"Part of {collection.name(event['part_of'])}.")
    said += _paragraphs(event.get("description", ""), "inline")
    return f"- **{collection.titles[position]}:** {' '.join(said)}" if said else None


_PEOPLE = ["Name", "Roles", "Nationality", "Affiliations", "Also called", "Links"]


def _person_row(collection: _Collection, position: int, p: Record) -> list[str]:
    return [
        collection.titles[position],
        "; ".join(_label(r) for r in p.get("roles") or []),
        collection.name(p["nationality"]) if p.get("nationality") else "",
        "; ".join(collection.names(p.get("affiliations"))),
        _aliases(p),
        " · ".join(_links(p)),
    ]


_ORGANISATIONS = ["Name", "Kind", "Country", "Part of", "Also called", "Links"]


def _organisation_row(collection: _Collection, position: int, o: Record) -> list[str]:
    return [
        collection.titles[position],
        _label(str(o.get("kind", "")).replace("-", " ")),
        collection.name(o["country"]) if o.get("country") else "",
        collection.name(o["parent"]) if o.get("parent") else "",
        _aliases(o),
        " · ".join(_links(o)),
    ]


def _coordinates(place: Record) -> str:
    """``38.7225° N, 35.4875° E``, linked to the map (WGS84 decimal degrees)."""
    coordinates = place.get("coordinates")
    if not isinstance(coordinates, dict) or "latitude" not in coordinates or "longitude" not in coordinates:
        return ""
    lat, lon = _degrees(coordinates["latitude"]), _degrees(coordinates["longitude"])
    text = f"{_number(abs(lat))}° {'S' if lat < 0 else 'N'}, {_number(abs(lon))}° {'W' if lon < 0 else 'E'}"
    url = f"https://www.openstreetmap.org/?mlat={_number(lat)}&mlon={_number(lon)}#map=10/{_number(lat)}/{_number(lon)}"
    return labelled(text, url)


_PLACES = ["Name", "Kind", "Within", "Coordinates", "Also called", "Links"]


def _place_row(collection: _Collection, position: int, p: Record) -> list[str]:
    return [
        collection.titles[position],
        _label(str(p.get("kind", ""))),
        collection.name(p["within"]) if p.get("within") else "",
        _coordinates(p),
        _aliases(p),
        " · ".join(_links(p)),
    ]


def _agreement_block(collection: _Collection, agreement: Record) -> list[str]:
    out = [f"### {_escape(_title(agreement), 'heading')}", ""]
    facts = [f"**Kind:** {_label(agreement.get('kind', 'agreement'))}"]
    if agreement.get("parties"):
        facts.append(f"**Parties:** {_join_words(collection.names(agreement['parties']))}")
    if agreement.get("signatories"):
        facts.append(f"**Signed by:** {_join_words(collection.names(agreement['signatories']))}")
    for position in collection.agreement_events.get(str(agreement.get("id")), []):
        event = collection.records[position]
        when = _when(event["date"]) if isinstance(event.get("date"), str) else "undated"
        facts.append(
            f"**{'Signing' if event.get('kind') == 'signing' else 'Event'}:** {collection.titles[position]}, {when}"
        )
    if agreement.get("aliases"):
        facts.append("**Also called:** " + "; ".join(f"“{escape(a)}”" for a in agreement["aliases"]))
    if agreement.get("text_url"):
        facts.append(f"**Text:** {url_link(agreement['text_url'])}")
    facts += [f"**Links:** {' · '.join(_links(agreement))}"] if _links(agreement) else []
    out += [f"- {fact}" for fact in facts]
    if agreement.get("provisions"):
        # four spaces: Python-Markdown nests a list only at four (CommonMark at two or more)
        out += ["- **Provisions:**"] + [f"    - {_escape(p, 'block')}" for p in agreement["provisions"]]
    out.append("")
    for paragraph in _paragraphs(agreement.get("description", "")):
        out += [paragraph, ""]
    return out


def _sources(collection: _Collection) -> t.Iterator[str]:
    """The articles, then every outside source once per URL: its titles, and how many records cite it.

    A URL cited under several titles is one entry (the first title, the others after it); a URL
    that is an article's own (a mirror cited as an outside source) is listed with that article.
    """
    titles = collection.url_titles
    citing = collection.url_citing

    def by_reading(title: str) -> tuple[str, str]:
        return (clean(title).casefold(), title)

    def cited(url: str) -> str:
        count = citing[url]
        return f"cited by {count} record{'' if count == 1 else 's'}"

    yield from ["## Sources", ""]
    articles = collection.count("article")
    own_urls: set[str] = set()
    if articles:
        yield from [f"The {'article' if articles == 1 else 'articles'}:", ""]
        for article in collection.each("article"):
            title = _escape(_title(article), "block")  # a list item starts with it
            line = labelled(_title(article), article["url"]) if article.get("url") else title
            if article.get("date_published"):
                line += f", {_when(article['date_published'])}"
            own = str(article["url"]) if article.get("url") else None
            if own is not None and own in titles and own not in own_urls:  # a mirror cited as an outside source
                also = "; ".join(f"“{escape(x)}”" for x in sorted(titles[own], key=by_reading))
                line += f" ({cited(own)} at this URL, as {also})"
            if own is not None:
                own_urls.add(own)
            yield f"- {line}"
        yield ""
    outside = sorted(
        ((sorted(names, key=by_reading), url) for url, names in titles.items() if url not in own_urls),
        key=lambda item: (by_reading(item[0][0]), item[1]),
    )
    if outside:
        yield from ["Outside sources:", ""]
        for names, url in outside:
            line = labelled(names[0], url)
            if len(names) > 1:
                line += " (also titled " + "; ".join(f"“{escape(x)}”" for x in names[1:]) + ")"
            yield f"- {line} ({cited(url)})"
        yield ""


class _Part(t.NamedTuple):
    """A run of the report: ``pieces`` pieces, ``lines(i)`` the lines of piece ``i``. ``reads``:
    the position of the record each piece reads (its weight, to share the pieces out evenly:
    :data:`_READ` and the record's spooled bytes, divided by ``bytes_per`` for a piece that shows
    a small part of them); empty: pieces of weight ``fixed``."""

    pieces: int
    lines: t.Callable[[int], list[str]]
    reads: t.Sequence[int] = ()
    bytes_per: int = 4
    fixed: int = 1


_READ = 1024  # what a piece of the report weighs besides the spooled bytes of the record it reads


def _parts(collection: _Collection) -> list[_Part]:
    """The report, in order, as runs of pieces: an article, a row of a table, an agreement... Each
    piece is made from the compact indexes and the records it reads (each read when its piece is
    made), so any run of pieces can be written apart from the others (:meth:`MarkdownFormat.stream_slice`)."""
    records = collection.records
    parts: list[_Part] = []
    articles = collection.by_type.get("article", ())
    if len(articles) == 1:
        parts.append(
            _Part(1, lambda _: _article_block(collection, records[articles[0]], 1) + _counts(collection), articles)
        )
    else:
        parts.append(_Part(1, lambda _: [f"# Facts from {_count(len(articles), 'article')}", ""] + _counts(collection)))
        parts.append(_Part(len(articles), lambda i: _article_block(collection, records[articles[i]], 2), articles))
    parts.append(_Part(1, lambda _: _timeline_head(collection)))
    events = collection.by_type.get("event", ())
    if events:
        parts.append(_Part(len(events), lambda i: [_event_row(collection, events[i], records[events[i]])], events))
        # "About the events": a line for each event that has more to say, after the whole table
        parts.append(_Part(1, lambda _: [""] + (["About the events:", ""] if collection.details else [])))
        if collection.details:

            def detail(i: int) -> list[str]:
                line = _event_detail(collection, events[i], records[events[i]])
                return [] if line is None else [line]

            parts += [_Part(len(events), detail, events, bytes_per=1), _Part(1, lambda _: [""])]  # (the descriptions)
    tables = (
        ("person", "People", _PEOPLE, _person_row),
        ("organization", "Organisations", _ORGANISATIONS, _organisation_row),
        ("place", "Places", _PLACES, _place_row),
    )
    for kind, heading, header, row in tables:
        positions = collection.by_type.get(kind, ())
        if positions:
            parts += _table_parts(collection, heading, header, row, positions)
    agreements = collection.by_type.get("agreement", ())
    if agreements:
        parts.append(_Part(1, lambda _: ["## Agreements", ""]))
        parts.append(_Part(len(agreements), lambda i: _agreement_block(collection, records[agreements[i]]), agreements))
    # the end: its trailing line breaks cut to one (the report's last piece, whoever writes it)
    lines = 1 + len(articles) + len(collection.url_titles)
    parts.append(_Part(1, lambda _: ["\n".join(_sources(collection)).rstrip("\n")], fixed=lines * _READ // 8))
    return parts


def _table_parts(
    collection: _Collection,
    heading: str,
    header: list[str],
    row: t.Callable[[_Collection, int, Record], list[str]],
    positions: t.Sequence[int],
) -> list[_Part]:
    """A section that is one table, a row for each of the records at ``positions``."""
    records = collection.records

    def rows(i: int) -> list[str]:
        return [_row(row(collection, positions[i], records[positions[i]]), header)]

    return [
        _Part(1, lambda _: [f"## {heading}", "", *_table(header, ())]),
        _Part(len(positions), rows, positions),
        _Part(1, lambda _: [""]),
    ]


_PIECE = 1 << 16  # characters of the report written at once


def _write(parts: t.Sequence[_Part], start: int, stop: int, write: t.Callable[[str], object]) -> None:
    """The lines of pieces ``start:stop`` of the report (counted over all its parts), each after a
    line break but the report's first: the pieces of two runs written one after the other are
    the pieces of both, written at once. Written in pieces of about :data:`_PIECE` characters."""
    out: list[str] = []
    size = 0
    first = start == 0  # (the report's first line is its first piece's)
    at = 0  # (the first piece of the part)
    for part in parts:
        for i in range(max(start - at, 0), min(stop - at, part.pieces)):
            for line in part.lines(i):
                if first:
                    first = False
                else:
                    out.append("\n")
                out.append(line)
                size += len(line) + 1
                if size >= _PIECE:
                    write("".join(out))
                    out.clear()
                    size = 0
        at += part.pieces
    if out:
        write("".join(out))


class _Plan(t.NamedTuple):
    """The report's pieces, and where each begins in their weight (:meth:`MarkdownFormat.slice_plan`)."""

    parts: list[_Part]
    starts: array.array[int]  # the weight of the pieces before each
    total: int  # the weight of them all


def _plan(records: t.Sequence[Record]) -> _Plan:
    parts = _parts(_Collection.of(records))
    sized = getattr(records, "sizes", None)  # (a streaming.Records: each record's spooled bytes, decoding none)
    sizes: t.Sequence[int] | None = sized(0, len(records)) if callable(sized) else None
    starts: array.array[int] = array.array("q")
    done = 0
    for part in parts:
        for i in range(part.pieces):
            starts.append(done)
            size = sizes[part.reads[i]] // part.bytes_per if sizes is not None and part.reads else 0
            done += part.fixed if not part.reads else _READ + size
    return _Plan(parts, starts, done)


def _share(plan: _Plan, number: int, of: int) -> tuple[int, int]:
    """The pieces ``(start, stop)`` of slice ``number`` of ``of``: contiguous, of even weight
    (each piece in the slice its start falls in)."""
    starts, total = plan.starts, plan.total
    return bisect.bisect_left(starts, total * (number - 1) // of), bisect.bisect_left(starts, total * number // of)


def render(records: t.Sequence[Record]) -> str:
    """The whole report as text: one article -> its headline is the title; several -> one section each."""
    text: list[str] = []
    parts = _parts(_Collection.of(records))
    _write(parts, 0, sum(part.pieces for part in parts), text.append)
    return "".join(text) + "\n"


class MarkdownFormat:
    """A readable report of the collection (CommonMark + GFM tables); every record text escaped."""

    name = "markdown"
    suffix = ".md"
    media_type = "text/markdown"  # RFC 7763; charset UTF-8, variant CommonMark/GFM
    summary = "a readable report: article, timeline of events, people, organisations, places, agreements, sources"
    directory = False
    options: t.Sequence[Option] = ()

    def export(self, records: t.Sequence[Record], context: Context) -> Exported:
        """One UTF-8 document with LF line ends and one final newline; same records, same bytes."""
        return Exported(files={"records.md": render(records).encode("utf-8")})

    def stream(self, records: t.Sequence[Record], context: Context, open: t.Callable[[str], Writable]) -> list[str]:
        """As :meth:`export`, written in pieces. The report keeps compact indexes of the collection
        (names by id, which records cite each article, the order of each type), never its records:
        each is read again from ``records`` (decoded from the export's spool) when its piece of the
        report is written (an event twice: its row, and its line after the table; and once more
        for its agreement)."""
        out = open("records.md")
        parts = _parts(_Collection.of(records))
        _write(parts, 0, sum(part.pieces for part in parts), lambda text: out.write(text.encode("utf-8")))
        out.write(b"\n")
        return []

    # -- written in slices by several processes (records_toolkit.plugins.Sliced) -------------------

    slice_types: t.Sequence[str] = ()  # (the slices are the report's own pieces: see stream_slice)

    def slice_plan(self, records: t.Sequence[Record], context: Context) -> _Plan:
        """The compact indexes of the whole collection (one pass over it, here), as the report's
        pieces, each weighed by the bytes of the record it reads."""
        return _plan(records)

    def stream_slice(
        self,
        records: t.Sequence[Record],
        context: Context,
        plan: _Plan,
        piece: Slice,
        open: t.Callable[[str], Writable],
    ) -> None:
        """The report's pieces of even weight numbered ``piece.number`` of ``piece.of``, whatever
        ``records`` the slice was given: the report is in the order of its dates and names, not of
        the records, and its pieces read what they show of the whole collection."""
        out = open("records.md")
        start, stop = _share(plan, piece.number, piece.of)
        _write(plan.parts, start, stop, lambda text: out.write(text.encode("utf-8")))

    def stream_end(
        self, context: Context, plan: _Plan, summaries: list[t.Any], open: t.Callable[[str], Writable]
    ) -> list[str]:
        """The final line break."""
        open("records.md").write(b"\n")
        return []
