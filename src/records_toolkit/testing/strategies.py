"""Hypothesis strategies: whole record collections that are valid by construction.

`collections()` draws a list of records (one or two articles plus people, organisations,
places, agreements and events) whose references resolve, whose quotes appear verbatim in their
article, and whose every fact names a source. Text is hostile on purpose: unicode (4-byte
emoji, RTL, combining marks), quotes, commas, semicolons, backslashes, newlines in free text,
leading ``=``/``+``/``-``/``@``, and strings a YAML 1.1 reader would mistype (``NO``, ``2022-01-21``).
`tests/test_strategies.py` proves these strategies produce what they promise.
"""

from __future__ import annotations

import datetime as dt
import string
import typing as t

from hypothesis import strategies as st

Record = dict[str, t.Any]

NASTY = [
    "=SUM(A1:A2)",
    "+380 44 000",
    "-5 troops",
    "@handle",
    "'quoted'",
    '"double"',
    "a,b;c\\d",
    "NO",
    "yes",
    "on",
    "2022-01-21",
    "010",
    "1e3",
    "12:30",
    "~",
    "null",
    "Türkiye",
    "Erdoğan",
    "Шуша",
    "שלום עולם",
    "🪂 parachute 🇦🇿",
    "e\u0301te\u0301",
    "<script>alert(1)</script>",
    "*bold* _x_ [link](http://x) | pipe # hash",
    "&amp; &lt;",
    "a" * 90,
    "Ş" * 50,
    "tab\there",
    "%0A%25",
    "::error::",
    "x=1",
    "{}[]",
    "-",
    "#",
    "line\u2028sep",
    "next\x85line",
    "para\u2029sep",
    "٢٠٢٢",
]

_letters = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff\u0085")


def _clean(text: str) -> str:
    return text.strip()


line = st.one_of(st.sampled_from(NASTY), st.text(_letters, min_size=1, max_size=16)).map(_clean).filter(bool)
"""One line of text: no leading/trailing white space, no line breaks (the schema's `line`)."""

paragraph = st.lists(line, min_size=1, max_size=2).map(" ".join)
free_text = st.lists(paragraph, min_size=1, max_size=2).map("\n\n".join)
"""Multi-line text (the schema's `text`), for descriptions, notes and article bodies."""

slug_part = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)
slug = st.lists(slug_part, min_size=1, max_size=3).map("-".join)

url = st.builds(
    lambda host, path, query: f"https://{host}.example/{path}" + (f"?q={query}" if query else ""),
    slug,
    slug,
    st.one_of(st.none(), st.sampled_from(["1,2", "a;b", "x=y", "%C3%BC", "a+b"])),
)

_day = st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(2999, 12, 31))


@st.composite
def edtf_date(draw: st.DrawFn, *, qualifiers: bool = True) -> tuple[str, dt.date, dt.date]:
    """One EDTF date of any precision, with its lower and upper bound."""
    day = draw(_day)
    precision = draw(st.sampled_from(["year", "month", "day"]))
    text = {"year": f"{day.year:04d}", "month": f"{day.year:04d}-{day.month:02d}", "day": day.isoformat()}[precision]
    if qualifiers:
        text += draw(st.sampled_from(["", "", "", "?", "~", "%"]))
    lower = {"year": day.replace(month=1, day=1), "month": day.replace(day=1), "day": day}[precision]
    upper = {"year": day.replace(month=12, day=31), "month": _month_end(day), "day": day}[precision]
    return text, lower, upper


def _month_end(day: dt.date) -> dt.date:
    nxt = day.replace(day=28) + dt.timedelta(days=4)
    return nxt - dt.timedelta(days=nxt.day)


@st.composite
def edtf(draw: st.DrawFn) -> str:
    """Every accepted form: dates, ordered intervals, open and unknown ends, on-or-before/after."""
    form = draw(
        st.sampled_from(
            ["date", "date", "interval", "open-end", "open-start", "unknown-end", "unknown-start", "before", "after"]
        )
    )
    first, _, first_upper = draw(edtf_date(qualifiers=form not in ("before", "after")))
    if form == "date":
        return first
    if form == "interval":
        second, second_lower, second_upper = draw(edtf_date())
        if second_upper < first_upper:
            return f"{second}/{first}" if second_upper <= first_upper and second_lower <= first_upper else f"{first}/.."
        return f"{first}/{second}"
    return {
        "open-end": f"{first}/..",
        "open-start": f"../{first}",
        "unknown-end": f"{first}/",
        "unknown-start": f"/{first}",
        "before": f"[..{first}]",
        "after": f"[{first}..]",
    }[form]


def _maybe(draw: st.DrawFn, record: Record, key: str, strategy: st.SearchStrategy[t.Any]) -> None:
    if draw(st.booleans()):
        record[key] = draw(strategy)


def _coin(draw: st.DrawFn) -> bool:
    """One yes/no draw (a helper, so that type checkers do not take the `and` operand's type for it)."""
    return draw(st.booleans())


def _some(draw: st.DrawFn, record: Record, key: str, ids: list[str], *, exclude: str | None = None) -> None:
    choices = [i for i in ids if i != exclude]
    if choices and _coin(draw):
        record[key] = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))


def _one(draw: st.DrawFn, record: Record, key: str, ids: list[str], *, exclude: str | None = None) -> None:
    choices = [i for i in ids if i != exclude]
    if choices and _coin(draw):
        record[key] = draw(st.sampled_from(choices))


_FACTLESS = {"id", "type", "sources", "notes", "description"}


def _sources(draw: st.DrawFn, record: Record, articles: dict[str, list[str]]) -> None:
    """Sources whose `supports` together cover every fact of ``record``, whole or value by value.

    Aliases are attested text (``unattested-text``): they get an outside source of their own,
    without a quote (taken at its word) or with a quote that holds them.
    """
    facts = [k for k in record if k not in _FACTLESS and k != "aliases"]
    sources = []
    count = draw(st.integers(min_value=1, max_value=2))
    for index in range(count):
        covered = (
            facts if index == 0 else draw(st.lists(st.sampled_from(facts), min_size=1, unique=True)) if facts else []
        )
        supports = _entries(draw, record, covered) or ["name"]
        if articles and _coin(draw):
            article = draw(st.sampled_from(sorted(articles)))
            source: Record = {"article": article, "quote": draw(st.sampled_from(articles[article]))}
        else:
            source = {"url": draw(url), "title": draw(line)}
            _maybe(draw, source, "confidence", st.sampled_from(["high", "medium", "low"]))
        source["supports"] = supports
        _maybe(draw, source, "note", free_text)
        sources.append(source)
    if "aliases" in record:
        source = {"url": draw(url), "title": draw(line)}
        if _coin(draw):
            source["quote"] = " | ".join(record["aliases"])
        source["supports"] = _entries(draw, record, ["aliases"])
        sources.append(source)
    record["sources"] = sources


def _entries(draw: st.DrawFn, record: Record, fields: list[str]) -> list[str]:
    """``supports`` entries for ``fields``: each named whole, or (a list of texts or references) value by value."""
    entries: list[str] = []
    for field in fields:
        value = record[field]
        keys = [v.get("ref") if isinstance(v, dict) else v for v in value] if isinstance(value, list) else []
        if keys and all(isinstance(k, str) for k in keys) and len(set(keys)) == len(keys) and _coin(draw):
            entries.extend(f"{field}: {key}" for key in keys)
        else:
            entries.append(field)
    return entries


def _common(draw: st.DrawFn, record: Record) -> None:
    _maybe(draw, record, "aliases", st.lists(line, min_size=1, max_size=3, unique=True))


def _tail(draw: st.DrawFn, record: Record, articles: dict[str, list[str]], *, wikidata: bool = True) -> None:
    if draw(st.booleans()):
        identifiers: Record = {}
        if wikidata and _coin(draw):
            identifiers["wikidata"] = f"Q{draw(st.integers(min_value=1, max_value=10**8))}"
        if not identifiers or draw(st.booleans()):
            identifiers["url"] = draw(url)
        record["identifiers"] = identifiers
    _maybe(draw, record, "description", free_text)
    _sources(draw, record, articles)
    _maybe(draw, record, "notes", free_text)


@st.composite
def collections(draw: st.DrawFn, max_per_type: int = 1) -> list[Record]:
    """A whole valid collection: every reference resolves to a record of an allowed type."""
    counts = {
        "article": draw(st.integers(1, 2)),
        "person": draw(st.integers(0, max_per_type)),
        "organization": draw(st.integers(0, max_per_type)),
        "place": draw(st.integers(0, max_per_type)),
        "agreement": draw(st.integers(0, max_per_type)),
        "event": draw(st.integers(0, max_per_type + 1)),
    }
    all_ids = draw(st.lists(slug, min_size=sum(counts.values()), max_size=sum(counts.values()), unique=True))
    ids: dict[str, list[str]] = {}
    for kind, count in counts.items():
        ids[kind], all_ids = all_ids[:count], all_ids[count:]

    records: list[Record] = []
    articles: dict[str, list[str]] = {}
    for article_id in ids["article"]:
        sentences = draw(st.lists(line, min_size=1, max_size=3))
        articles[article_id] = sorted(set(sentences))
    for article_id in ids["article"]:
        record: Record = {"id": article_id, "type": "article", "name": draw(line)}
        _maybe(draw, record, "headline", line)
        record["date_published"] = draw(edtf())
        _some(draw, record, "authors", ids["person"] + ids["organization"])
        _one(draw, record, "publisher", ids["organization"])
        _maybe(draw, record, "url", url)
        _maybe(draw, record, "language", st.sampled_from(["en", "az", "tr", "pt-BR"]))
        record["text"] = "\n\n".join(articles[article_id])
        _tail(draw, record, articles)
        records.append(record)
    for person_id in ids["person"]:
        record = {"id": person_id, "type": "person", "name": draw(line)}
        _common(draw, record)
        _maybe(draw, record, "roles", st.lists(line, min_size=1, max_size=2, unique=True))
        _one(draw, record, "nationality", ids["place"])
        _some(draw, record, "affiliations", ids["organization"])
        _tail(draw, record, articles)
        records.append(record)
    for org_id in ids["organization"]:
        record = {"id": org_id, "type": "organization", "name": draw(line)}
        _common(draw, record)
        record["kind"] = draw(
            st.sampled_from(
                ["ministry", "military-unit", "armed-forces", "news-outlet", "news-agency", "government", "other"]
            )
        )
        _one(draw, record, "country", ids["place"])
        _one(draw, record, "parent", ids["organization"], exclude=org_id)
        _tail(draw, record, articles)
        records.append(record)
    for place_id in ids["place"]:
        record = {"id": place_id, "type": "place", "name": draw(line)}
        _common(draw, record)
        record["kind"] = draw(st.sampled_from(["country", "region", "city", "district", "site"]))
        _one(draw, record, "within", ids["place"], exclude=place_id)
        if draw(st.booleans()):
            record["coordinates"] = {
                "latitude": draw(st.floats(-90, 90, allow_nan=False, allow_infinity=False)),
                "longitude": draw(st.floats(-180, 180, allow_nan=False, allow_infinity=False)),
            }
        _tail(draw, record, articles)
        records.append(record)
    for agreement_id in ids["agreement"]:
        record = {"id": agreement_id, "type": "agreement", "name": draw(line)}
        _common(draw, record)
        record["kind"] = draw(st.sampled_from(["agreement", "declaration", "memorandum", "treaty", "protocol"]))
        _some(draw, record, "parties", ids["place"] + ids["organization"])
        _some(draw, record, "signatories", ids["person"])
        _maybe(draw, record, "provisions", st.lists(line, min_size=1, max_size=3, unique=True))
        _maybe(draw, record, "text_url", url)
        _tail(draw, record, articles, wikidata=False)
        records.append(record)
    agents = ids["person"] + ids["organization"] + ids["place"]
    for event_id in ids["event"]:
        record = {"id": event_id, "type": "event", "name": draw(line)}
        _common(draw, record)
        record["kind"] = draw(
            st.sampled_from(
                [
                    "training-course",
                    "exercise",
                    "competition",
                    "signing",
                    "interview",
                    "announcement",
                    "report",
                    "visit",
                    "war",
                    "meeting",
                    "ceremony",
                    "deployment",
                    "award",
                    "other",
                ]
            )
        )
        _maybe(draw, record, "date", edtf())
        record["status"] = draw(st.sampled_from(["planned", "under-way", "took-place", "cancelled"]))
        _some(draw, record, "locations", ids["place"])
        _some(draw, record, "organizers", ids["organization"] + ids["person"] + ids["place"])
        if agents and _coin(draw):
            chosen = draw(st.lists(st.sampled_from(agents), min_size=1, max_size=3))
            participants = []
            for ref in chosen:
                participant: Record = {"ref": ref}
                _maybe(draw, participant, "role", line)
                participants.append(participant)
            record["participants"] = participants
        _one(draw, record, "agreement", ids["agreement"])
        _some(draw, record, "about", ids["event"] + ids["agreement"] + ids["article"] + agents, exclude=event_id)
        _one(draw, record, "part_of", ids["event"], exclude=event_id)
        _tail(draw, record, articles, wikidata=False)
        records.append(record)
    return records
