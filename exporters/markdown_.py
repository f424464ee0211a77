"""Markdown: a report people read, one document for the whole export.

The document is CommonMark 0.31.2 with GFM tables (GitHub Flavored Markdown spec §4.10). It is a
view, not a carrier: there is no importer and no front matter.

Every piece of text that comes from a record goes through :func:`escape` (or :func:`cell` in a
table), so that a headline like ``*Sea* | [x](y) <script>`` shows literally and never becomes
emphasis, a link or raw HTML:

* control characters are dropped, and line breaks/tabs collapse to one space (a record's text
  never starts a block of its own);
* every ASCII punctuation character is backslash-escaped (CommonMark §2.4, "Any ASCII punctuation
  character may be backslash-escaped"), which also disarms entities (§2.5), raw HTML (§6.6),
  autolinks (§6.5), code spans (§6.1) and emphasis (§6.2), and the GFM extended autolinks
  (§6.9) that start at ``www.`` or ``http://`` (cmark-gfm matches them in the source, where the
  ``.`` and ``:`` are escaped) as well as linkify-it's fuzzy links (markdown-it-py links each text
  token on its own, and every escape ends one);
* an e-mail address is not disarmed by escapes: cmark-gfm (GitHub) finds ``foo@evil.example``
  in the *rendered* text of a paragraph (GFM §6.9, extended email autolink), escapes decoded. So an
  ``@`` between two characters an address may hold gets an invisible U+2060 WORD JOINER after
  it: the text reads the same, but no address (nor ``mailto:``/``xmpp:`` link, nor GitHub
  ``@mention``) starts there;
* in table cells the escaped ``\\|`` keeps a pipe inside its cell (GFM §4.10).

Only http(s) URLs become links, always as ``[text](<destination>)`` (§6.3): characters that could
end or bend the destination are percent-encoded (RFC 3986 §2.1) and ``&`` is backslash-escaped so
that an entity-like ``&amp;`` in a query is not decoded.

Dates are shown as precisely as the record has them (:mod:`records_toolkit.dates`): a year stays
"2022 (year only)", never "1 Jan 2022".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import string
import typing as t
import unicodedata
from collections import Counter

from records_toolkit import dates
from records_toolkit.plugins import Context, Exported, Option, Record

__all__ = ["MarkdownFormat", "cell", "clean", "describe_date", "escape", "render"]

_PUNCTUATION = frozenset(string.punctuation)  # the ASCII punctuation characters of CommonMark §2.1
# GFM §6.9 extended email autolink: the characters on either side of an ``@`` that cmark-gfm links.
_ADDRESS_BEFORE = frozenset(string.ascii_letters + string.digits + ".+-_")
_ADDRESS_BEFORE_OR_SCHEME = _ADDRESS_BEFORE | frozenset(":")
_ADDRESS_AFTER = frozenset(string.ascii_letters + string.digits + ".-_")
WORD_JOINER = "\u2060"
# Line endings (CommonMark §2.1), tabs and the Unicode line/paragraph separators: one space each run.
_BREAKS = re.compile("[\t\n\v\f\r \x85\u2028\u2029]+")
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
_QUOTE_LENGTH = 90  # characters of an article quote shown in the timeline


# -- text ----------------------------------------------------------------------------------------


def clean(text: object) -> str:
    """Text for one line: controls dropped, line breaks and tabs collapsed, ends stripped.

    Markdown parsers strip Unicode white space at the ends of headings and cells (markdown-it-py
    does), so the ends are stripped here too; white space inside (e.g. U+00A0) is kept.
    """
    value = str(text)
    value = _DROPPED.sub("", value)
    return _BREAKS.sub(" ", value).strip()


def escape(text: object) -> str:
    """Inline Markdown that renders as exactly ``clean(text)``: all ASCII punctuation escaped (§2.4),
    and an invisible :data:`WORD_JOINER` after an ``@`` that could join an e-mail autolink."""
    value = clean(text)
    last = len(value) - 1
    out: list[str] = []
    for i, char in enumerate(value):  # one pass: no insertion into the list (that was quadratic)
        out.append("\\" + char if char in _PUNCTUATION else char)
        # (after a ":" too: cmark-gfm links "mailto:@www.example." with an empty local part)
        if (
            char == "@"
            and 0 < i < last
            and value[i - 1] in _ADDRESS_BEFORE_OR_SCHEME
            and value[i + 1] in _ADDRESS_AFTER
        ):
            out.append(WORD_JOINER)
    return "".join(out)


def cell(text: str) -> str:
    """A GFM table cell of already-built inline Markdown: it must stay on one line (§4.10)."""
    return text.replace("\n", " ").strip()


_URL_UNSAFE = frozenset(' <>()\\"`')


def url_destination(url: str) -> str:
    """A link destination for ``<...>`` (§6.3) that reads back as ``url`` (percent-encoded where needed)."""
    out: list[str] = []
    for char in url:
        if char in _URL_UNSAFE or char.isspace() or unicodedata.category(char) in ("Cc", "Cs"):
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "replace"))
        elif char == "&":
            out.append("\\&")  # entity references are decoded in destinations (§6.3); escape, not encode
        else:
            out.append(char)
    return "<" + "".join(out) + ">"


def is_web_url(url: object) -> bool:
    """Only http(s) URLs become links (a ``javascript:`` URL must never be clickable)."""
    return isinstance(url, str) and re.match(r"(?i)^https?://[^\s/?#]+", url) is not None


def link(label_markdown: str, url: object) -> str:
    """``[label](<url>)`` for http(s) URLs; anything else shows as text, not as a link."""
    if not is_web_url(url):
        return label_markdown if url is None else f"{label_markdown} ({escape(url)})"
    return f"[{label_markdown}]({url_destination(t.cast(str, url))})"


def url_link(url: object) -> str:
    """The URL itself as the link's text."""
    return link(escape(url), url)


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


def timeline_key(event: Record) -> tuple[int, dt.date, dt.date, str]:
    """Events by lower bound (the upper bound when the start is open or unknown); undated last."""
    if not isinstance(event.get("date"), str):
        return (1, dt.date.max, dt.date.max, str(event.get("id", "")))
    value = dates.parse(event["date"])
    first = value.lower or value.upper or dt.date.max
    return (0, first, value.upper or dt.date.max, str(event.get("id", "")))


def _article_key(article: Record) -> tuple[dt.date, str]:
    try:
        value = dates.parse(article.get("date_published", ""))
        when = value.lower or value.upper or dt.date.max
    except dates.EdtfError:
        when = dt.date.max
    return (when, str(article.get("id", "")))


# -- the document --------------------------------------------------------------------------------


@dataclasses.dataclass
class _Collection:
    """The records by type, names for references, and every index the report needs, built once.

    Each index is made in one pass over the records, so that the report takes time linear in the
    collection: no section scans the whole collection again for each record it shows.
    """

    by_type: dict[str, list[Record]]
    by_id: dict[str, Record]
    # article id -> the other records whose sources cite it, in report order (by type, then sorted)
    reports: dict[str, list[Record]] = dataclasses.field(default_factory=dict)
    # agreement id -> its events, in timeline order
    agreement_events: dict[str, list[Record]] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, records: t.Sequence[Record]) -> _Collection:
        by_type: dict[str, list[Record]] = {kind: [] for kind in _PLURALS}
        by_id: dict[str, Record] = {}
        for record in records:
            by_type.setdefault(str(record.get("type")), []).append(record)
            by_id.setdefault(str(record.get("id")), record)
        for kind, items in by_type.items():
            if kind == "event":
                items.sort(key=timeline_key)
            elif kind == "article":
                items.sort(key=_article_key)
            else:
                items.sort(key=lambda r: (clean(r.get("name", "")).casefold(), str(r.get("id", ""))))
        collection = cls(by_type, by_id)
        known = [*_PLURALS, *sorted(kind for kind in by_type if kind not in _PLURALS)]  # not the input's order
        for kind in known:
            for record in by_type[kind]:
                own = record.get("id")
                cited = {str(a) for s in _sources_of(record) if (a := s.get("article")) is not None and a != own}
                for article_id in sorted(cited):
                    collection.reports.setdefault(article_id, []).append(record)
        for event in by_type["event"]:
            if event.get("agreement") is not None:
                collection.agreement_events.setdefault(str(event["agreement"]), []).append(event)
        return collection

    def name(self, ref: object) -> str:
        """Escaped name of the record ``ref`` points to (headline for articles); the id if unknown."""
        record = self.by_id.get(str(ref))
        if record is None:
            return escape(ref)
        return escape(_title(record))

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


def _table(header: t.Sequence[str], rows: t.Sequence[t.Sequence[str]]) -> list[str]:
    """A GFM table (§4.10): header, delimiter row, one line per row, same column count everywhere."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in rows:
        assert len(row) == len(header)
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return lines


def _paragraphs(text: object) -> list[str]:
    """Free text as paragraphs: blank lines separate them, other line breaks become spaces."""
    parts = re.split(r"(?:\r\n?|\n)[ \t]*(?:\r\n?|\n)\s*", str(text))
    return [escaped for escaped in (escape(p) for p in parts) if escaped]


def _links(record: Record) -> list[str]:
    identifiers = record.get("identifiers") or {}
    links = []
    if isinstance(identifiers.get("wikidata"), str) and re.fullmatch(r"Q[1-9][0-9]*", identifiers["wikidata"]):
        qid = identifiers["wikidata"]
        links.append(link(f"Wikidata {qid}", f"https://www.wikidata.org/wiki/{qid}"))
    if identifiers.get("url"):
        links.append(link("website", identifiers["url"]))
    return links


def _aliases(record: Record) -> str:
    return "; ".join(escape(a) for a in record.get("aliases") or [])


def _count(number: int, kind: str) -> str:
    return f"{number} {_SINGULARS.get(kind, kind) if number == 1 else _PLURALS[kind]}"


def _article_block(collection: _Collection, article: Record, level: int) -> list[str]:
    out = [f"{'#' * level} {escape(_title(article))}", ""]
    facts = []
    if article.get("authors"):
        facts.append(f"**By:** {_join_words(collection.names(article['authors']))}")
    if article.get("date_published"):
        facts.append(f"**Published:** {escape(describe_date(article['date_published']))}")
    if article.get("publisher"):
        facts.append(f"**Publisher:** {collection.name(article['publisher'])}")
    if article.get("url"):
        facts.append(f"**Link:** {url_link(article['url'])}")
    if article.get("language"):
        facts.append(f"**Language:** {escape(article['language'])}")
    if article.get("headline") and clean(article["headline"]) != clean(article.get("name", "")):
        facts.append(f"**Record name:** {escape(article.get('name', ''))}")
    reported = collection.reports.get(str(article.get("id")), [])
    facts.append(f"**Cited by:** {len(reported)} record{'' if len(reported) == 1 else 's'} of this collection")
    out += [f"- {fact}" for fact in facts] + [""]
    for paragraph in _paragraphs(article.get("description", "")):
        out += [paragraph, ""]
    return out + _reported(reported)


def _reported(records: t.Sequence[Record]) -> list[str]:
    """What an article reports: the records citing it, by type, each type in report order."""
    if not records:
        return ["This article is cited by no record of this collection.", ""]
    by_type: dict[str, list[str]] = {}
    for record in records:
        by_type.setdefault(str(record.get("type")), []).append(escape(_title(record)))
    out = ["What it reports:", ""]
    for kind, names in by_type.items():
        label = _PLURALS.get(kind, kind).capitalize()
        out.append(f"- **{escape(label)} \\({len(names)}\\):** {'; '.join(names)}")
    return out + [""]


def _counts(collection: _Collection) -> list[str]:
    """One sentence of counts: what the collection holds, and how well its events are dated."""
    present = [_count(len(collection.by_type[k]), k) for k in _PLURALS if collection.by_type.get(k)]
    sentence = f"This collection holds {_join_words(present)}." if present else "This collection is empty."
    events = collection.by_type["event"]
    if events:
        status = Counter(str(e.get("status")) for e in events)
        verbs = {
            "took-place": ("took place", "took place"),
            "planned": ("is planned", "are planned"),
            "under-way": ("was under way when reported", "were under way when reported"),
            "cancelled": ("was cancelled", "were cancelled"),
        }
        said = [f"{status[s]} {one if status[s] == 1 else many}" for s, (one, many) in verbs.items() if status[s]]
        precise = sum(1 for e in events if isinstance(e.get("date"), str) and dates.parse(e["date"]).day_precise)
        undated = sum(1 for e in events if not isinstance(e.get("date"), str))
        vague = len(events) - precise - undated
        when = [
            f"{label}: {n}"
            for label, n in (("dated to the day", precise), ("dated less precisely", vague), ("undated", undated))
            if n
        ]
        sentence += f" Of the {_count(len(events), 'event')}, {_join_words(said)}; {', '.join(when)}."
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
        parts.append(f"{said} \\({collection.name(article)}\\)")
    seen = set()
    for source in sources:
        if source.get("url") and str(source["url"]) not in seen:
            seen.add(str(source["url"]))
            parts.append(link(escape(source.get("title") or source["url"]), source["url"]))
    return "; ".join(parts)


def _who(collection: _Collection, event: Record) -> str:
    parts = []
    if event.get("organizers"):
        parts.append("organised by " + ", ".join(collection.names(event["organizers"])))
    participants = [p for p in event.get("participants") or [] if isinstance(p, dict)]
    if participants:
        named = [
            collection.name(p.get("ref")) + (f" ({escape(p['role'])})" if clean(p.get("role") or "") else "")
            for p in participants
        ]
        parts.append("with " + ", ".join(named))
    return "; ".join(parts)


def _timeline(collection: _Collection) -> list[str]:
    events = collection.by_type["event"]
    out = ["## Timeline", ""]
    if not events:
        return out + ["No events are recorded.", ""]
    out += ["Events by date; imprecise dates are shown as precisely as the sources give them.", ""]
    rows = []
    for event in events:
        when = escape(describe_date(event["date"])) if isinstance(event.get("date"), str) else "undated"
        what = f"{escape(_title(event))} \\({escape(str(event.get('kind', 'event')).replace('-', ' '))}\\)"
        where = "; ".join(collection.names(event.get("locations")))
        status = escape(_STATUS.get(str(event.get("status")), str(event.get("status", ""))))
        rows.append([when, what, where, _who(collection, event), status, _source_cell(collection, event)])
    out += _table(["When", "What", "Where", "Who", "Status", "Source"], rows) + [""]
    details = []
    for event in events:
        said = []
        if event.get("part_of") is not None:
            said.append(f"Part of {collection.name(event['part_of'])}\\.")
        said += _paragraphs(event.get("description", ""))
        if said:
            details.append(f"- **{escape(_title(event))}:** {' '.join(said)}")
    if details:
        out += ["About the events:", ""] + details + [""]
    return out


def _people(collection: _Collection) -> list[str]:
    rows = [
        [
            escape(_title(p)),
            "; ".join(escape(r) for r in p.get("roles") or []),
            collection.name(p["nationality"]) if p.get("nationality") else "",
            "; ".join(collection.names(p.get("affiliations"))),
            _aliases(p),
            " · ".join(_links(p)),
        ]
        for p in collection.by_type["person"]
    ]
    return (
        ["## People", ""]
        + _table(["Name", "Roles", "Nationality", "Affiliations", "Also called", "Links"], rows)
        + [""]
    )


def _organisations(collection: _Collection) -> list[str]:
    rows = [
        [
            escape(_title(o)),
            escape(str(o.get("kind", "")).replace("-", " ")),
            collection.name(o["country"]) if o.get("country") else "",
            collection.name(o["parent"]) if o.get("parent") else "",
            _aliases(o),
            " · ".join(_links(o)),
        ]
        for o in collection.by_type["organization"]
    ]
    header = ["Name", "Kind", "Country", "Part of", "Also called", "Links"]
    return ["## Organisations", ""] + _table(header, rows) + [""]


def _coordinates(place: Record) -> str:
    """``38.7225° N, 35.4875° E``, linked to the map (WGS84 decimal degrees)."""
    coordinates = place.get("coordinates")
    if not isinstance(coordinates, dict) or "latitude" not in coordinates or "longitude" not in coordinates:
        return ""
    lat, lon = _degrees(coordinates["latitude"]), _degrees(coordinates["longitude"])
    text = f"{_number(abs(lat))}° {'S' if lat < 0 else 'N'}, {_number(abs(lon))}° {'W' if lon < 0 else 'E'}"
    url = f"https://www.openstreetmap.org/?mlat={_number(lat)}&mlon={_number(lon)}#map=10/{_number(lat)}/{_number(lon)}"
    return link(escape(text), url)


def _places(collection: _Collection) -> list[str]:
    rows = [
        [
            escape(_title(p)),
            escape(str(p.get("kind", ""))),
            collection.name(p["within"]) if p.get("within") else "",
            _coordinates(p),
            _aliases(p),
            " · ".join(_links(p)),
        ]
        for p in collection.by_type["place"]
    ]
    return ["## Places", ""] + _table(["Name", "Kind", "Within", "Coordinates", "Also called", "Links"], rows) + [""]


def _agreements(collection: _Collection) -> list[str]:
    out = ["## Agreements", ""]
    for agreement in collection.by_type["agreement"]:
        out += [f"### {escape(_title(agreement))}", ""]
        facts = [f"**Kind:** {escape(agreement.get('kind', 'agreement'))}"]
        if agreement.get("parties"):
            facts.append(f"**Parties:** {_join_words(collection.names(agreement['parties']))}")
        if agreement.get("signatories"):
            facts.append(f"**Signed by:** {_join_words(collection.names(agreement['signatories']))}")
        for event in collection.agreement_events.get(str(agreement.get("id")), []):
            when = escape(describe_date(event["date"])) if isinstance(event.get("date"), str) else "undated"
            facts.append(
                f"**{'Signing' if event.get('kind') == 'signing' else 'Event'}:** {escape(_title(event))}, {when}"
            )
        if agreement.get("aliases"):
            facts.append("**Also called:** " + "; ".join(f"“{escape(a)}”" for a in agreement["aliases"]))
        if agreement.get("text_url"):
            facts.append(f"**Text:** {url_link(agreement['text_url'])}")
        facts += [f"**Links:** {' · '.join(_links(agreement))}"] if _links(agreement) else []
        out += [f"- {fact}" for fact in facts]
        if agreement.get("provisions"):
            out += ["- **Provisions:**"] + [f"  - {escape(p)}" for p in agreement["provisions"]]
        out.append("")
        for paragraph in _paragraphs(agreement.get("description", "")):
            out += [paragraph, ""]
    return out


def _sources(collection: _Collection) -> list[str]:
    """The articles, then every outside source once per URL: its titles, and how many records cite it.

    A URL cited under several titles is one entry (the first title, the others after it); a URL
    that is an article's own (a mirror cited as an outside source) is listed with that article.
    """
    titles: dict[str, set[str]] = {}
    citing: dict[str, set[int]] = {}
    for number, record in enumerate(collection.by_id.values()):
        for source in _sources_of(record):
            if source.get("url"):
                url = str(source["url"])
                titles.setdefault(url, set()).add(str(source.get("title") or url))
                citing.setdefault(url, set()).add(number)

    def by_reading(title: str) -> tuple[str, str]:
        return (clean(title).casefold(), title)

    def cited(url: str) -> str:
        count = len(citing[url])
        return f"cited by {count} record{'' if count == 1 else 's'}"

    out = ["## Sources", ""]
    articles = collection.by_type["article"]
    own_urls: set[str] = set()
    if articles:
        out += [f"The {'article' if len(articles) == 1 else 'articles'}:", ""]
        for article in articles:
            title = escape(_title(article))
            line = link(title, article["url"]) if article.get("url") else title
            if article.get("date_published"):
                line += f", {escape(describe_date(article['date_published']))}"
            own = str(article["url"]) if article.get("url") else None
            if own is not None and own in titles and own not in own_urls:  # a mirror cited as an outside source
                also = "; ".join(f"“{escape(x)}”" for x in sorted(titles[own], key=by_reading))
                line += f" ({cited(own)} at this URL, as {also})"
            if own is not None:
                own_urls.add(own)
            out.append(f"- {line}")
        out.append("")
    outside = sorted(
        ((sorted(names, key=by_reading), url) for url, names in titles.items() if url not in own_urls),
        key=lambda item: (by_reading(item[0][0]), item[1]),
    )
    if outside:
        out += ["Outside sources:", ""]
        for names, url in outside:
            line = link(escape(names[0]), url)
            if len(names) > 1:
                line += " (also titled " + "; ".join(f"“{escape(x)}”" for x in names[1:]) + ")"
            out.append(f"- {line} ({cited(url)})")
        out.append("")
    return out


def render(records: t.Sequence[Record]) -> str:
    """The whole report as text: one article -> its headline is the title; several -> one section each."""
    collection = _Collection.of(records)
    articles = collection.by_type["article"]
    out: list[str] = []
    if len(articles) == 1:
        out += _article_block(collection, articles[0], 1) + _counts(collection)
    else:
        out += [f"# Facts from {_count(len(articles), 'article')}", ""] + _counts(collection)
        for article in articles:
            out += _article_block(collection, article, 2)
    out += _timeline(collection)
    if collection.by_type["person"]:
        out += _people(collection)
    if collection.by_type["organization"]:
        out += _organisations(collection)
    if collection.by_type["place"]:
        out += _places(collection)
    if collection.by_type["agreement"]:
        out += _agreements(collection)
    out += _sources(collection)
    return "\n".join(out).rstrip("\n") + "\n"


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
