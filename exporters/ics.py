"""iCalendar (RFC 5545, with the calendar NAME of RFC 7986): one VEVENT per dated event record.

The writer is our own, a few exact rules each citing its section, rather than ``icalendar``'s:
``icalendar`` writes NUL/VT raw into TEXT and rewrites ``\\r`` silently, and its property order and
line folding are its own to change between releases. Here every byte is decided in this file, so
the same records give the same bytes (golden-file tested) and the tests check the result with
``icalendar`` and ``ical``, parsers we did not write.

Choices (and why):

* Calendars have no imprecise dates. An event whose EDTF date is not day-precise (year, month,
  qualified ``?~%``, open/unknown intervals, ``[..D]``/``[D..]``) is never put on the 1st of a
  month or year: by default it is left out with a notice; ``-O imprecise=span`` writes it as an
  all-day span over its EDTF bounds, TENTATIVE (CANCELLED stays CANCELLED), with the EDTF in
  DESCRIPTION. Values without a lower or upper bound cannot be spanned and stay out.
* DTSTAMP (§3.8.7.2: without METHOD, when the information was last revised) comes from the data,
  never the clock: SOURCE_DATE_EPOCH when set, else 00:00:00Z of the latest ``date_published`` of the
  collection's articles (its upper bound if imprecise), else the Unix epoch.
* No METHOD: this is a published file, not an iTIP message. METHOD:PUBLISH (RFC 5546 §3.2.1) would
  require an ORGANIZER we do not have, and change DTSTAMP's meaning to "when the message was sent".
* UID = ``<record id>@records-toolkit``: stable across exports (§3.8.4.7; a changing UID duplicates
  events in subscribed calendars), readable, and no host name (RFC 7986 §5.3).
* DTEND is always written and always exclusive (§3.8.2.2): Google applies it strictly, and Outlook
  mishandles DTSTART = DTEND, which this never writes.
* TRANSP:TRANSPARENT on every event (§3.8.2.7): these are facts from the news, not the
  subscriber's appointments, and must not block their free/busy time.
* X-EDTF (an x-prop, §3.8.8.2) carries the date exactly as written, for every event.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from records_toolkit import dates
from records_toolkit.errors import OptionError
from records_toolkit.plugins import Context, Exported, Option, Record

PRODID = "-//records-toolkit//toolkit ics export//EN"
UID_SUFFIX = "@records-toolkit"
FILE_NAME = "calendar.ics"
_LINE_OCTETS = 75  # §3.1: lines SHOULD NOT be longer than 75 octets, excluding the line break
_STATUS = {
    "planned": "TENTATIVE",
    "under-way": "CONFIRMED",
    "took-place": "CONFIRMED",
    "cancelled": "CANCELLED",
}  # §3.8.1.11
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def escape_text(value: str) -> str:
    """TEXT value (§3.3.11): escape ``\\ ; ,`` and line breaks; no CONTROL characters survive.

    CR LF and lone CR count as one line break (written ``\\n``); other controls (U+0000-0008,
    U+000B-001F, U+007F; HTAB is allowed) become U+FFFD so no text is silently lost.
    """
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char in ";,":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char != "\t" and (ord(char) < 0x20 or ord(char) == 0x7F):
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def fold(line: str) -> bytes:
    """One content line as UTF-8, folded at 75 octets (§3.1) between characters, never inside one.

    A continuation line starts with one SPACE, which counts towards its 75 octets; every
    physical line ends with CRLF.
    """
    chunks: list[bytes] = []
    current = b""
    limit = _LINE_OCTETS
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            chunks.append(current)
            current = b" "
            limit = _LINE_OCTETS
        current += encoded
    chunks.append(current)
    return b"".join(chunk + b"\r\n" for chunk in chunks)


def format_date(day: dt.date) -> str:
    """DATE value (§3.3.4): ``YYYYMMDD``, year zero-padded (strftime does not pad on every OS)."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def format_utc(moment: dt.datetime) -> str:
    """DATE-TIME in UTC, form #2 of §3.3.5: ``YYYYMMDDTHHMMSSZ``."""
    moment = moment.astimezone(dt.UTC)
    return f"{format_date(moment.date())}T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}Z"


def format_float(value: float) -> str:
    """FLOAT (§3.3.7) with six decimals, as GEO (§3.8.1.6) asks: no exponent, no ``-0``."""
    text = f"{float(value):.6f}"
    return text[1:] if text == "-0.000000" else text


def dtstamp(records: t.Sequence[Record], source_date_epoch: int | None) -> dt.datetime:
    """The DTSTAMP of every event: SOURCE_DATE_EPOCH, else the latest article publication day."""
    if source_date_epoch is not None:
        try:
            return _EPOCH + dt.timedelta(seconds=source_date_epoch)
        except OverflowError:
            raise OptionError(f"SOURCE_DATE_EPOCH={source_date_epoch} is outside the years 1-9999") from None
    latest: dt.date | None = None
    for record in records:
        if record.get("type") != "article" or not isinstance(record.get("date_published"), str):
            continue
        try:
            value = dates.parse(record["date_published"])
            day = value.upper or value.lower
        except ValueError:  # EdtfError, or a year the calendar cannot hold (0000)
            continue
        if day is not None and (latest is None or day > latest):
            latest = day
    if latest is None:
        return _EPOCH
    return dt.datetime(latest.year, latest.month, latest.day, tzinfo=dt.UTC)


def _span(value: dates.Edtf) -> tuple[dt.date, dt.date] | None:
    """(first day, exclusive end) over the EDTF bounds, or None when a side is unbounded/unknown."""
    lower, upper = value.lower, value.upper
    if lower is None or upper is None or upper < lower or upper == dt.date.max:
        return None
    return lower, upper + dt.timedelta(days=1)


def _in_words(text: str) -> str:
    """The date as the README and the Markdown report say it ("on or before 21 Jan 2022", "2022 (year only)")."""
    from records_toolkit.exporters.markdown_ import describe_date  # one wording for every format

    return describe_date(text)


class IcsFormat:
    """Events as an RFC 5545 calendar; only as precise as the records (see the module docstring)."""

    name = "ics"
    suffix = ".ics"
    media_type = "text/calendar"
    summary = "iCalendar (RFC 5545): one all-day VEVENT per day-precise event; imprecise dates skipped or spanned"
    directory = False
    options: t.Sequence[Option] = (
        Option(
            "imprecise",
            "events not known to the day: leave out with a notice (skip), "
            "or show as a tentative all-day span over the EDTF bounds (span)",
            "skip",
            ("skip", "span"),
        ),
        Option("calname", "calendar name (RFC 7986 NAME and X-WR-CALNAME); empty: none", "toolkit records"),
    )

    def export(self, records: t.Sequence[Record], context: Context) -> Exported:
        imprecise = context.options.get("imprecise", "skip")
        calname = context.options.get("calname", "toolkit records")
        by_id = {r.get("id"): r for r in records}
        if context.source_date_epoch_error:
            raise OptionError(context.source_date_epoch_error)
        stamp = format_utc(dtstamp(records, context.source_date_epoch))
        notices: list[str] = []
        events: list[list[str]] = []
        for record in sorted((r for r in records if r.get("type") == "event"), key=lambda r: str(r["id"])):
            lines = self._event(record, by_id, stamp, imprecise == "span", notices)
            if lines:
                events.append(lines)
        head = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]  # §3.7
        if calname:
            head += [f"NAME:{escape_text(calname)}", f"X-WR-CALNAME:{escape_text(calname)}"]  # RFC 7986 §5.1
        if not events:
            notices.append(
                "no event could be written: the calendar has no VEVENT "
                "(RFC 5545 §3.6 wants at least one component; most clients accept an empty one)"
            )
        lines = head + [line for event in events for line in event] + ["END:VCALENDAR"]
        return Exported(files={FILE_NAME: b"".join(fold(line) for line in lines)}, notices=notices)

    def _event(
        self, record: Record, by_id: dict[t.Any, Record], stamp: str, span: bool, notices: list[str]
    ) -> list[str] | None:
        """The content lines of one VEVENT (§3.6.1), or None with a notice when it is left out."""
        event_id = record["id"]
        text = record.get("date")
        if not isinstance(text, str):
            notices.append(f"event {event_id}: no date; left out of the calendar")
            return None
        try:
            value = dates.parse(text)
            bounds = _span(value)
        except ValueError as exc:  # EdtfError, or a year the calendar cannot hold (0000)
            notices.append(f"event {event_id}: date {text!r} cannot be written ({exc}); left out")
            return None
        tentative = False
        if not value.day_precise:
            words = _in_words(text)
            if bounds is None:
                notices.append(
                    f"event {event_id}: date {text!r} means {words}, with an open or unknown side; "
                    "left out (not even -O imprecise=span can show it)"
                )
                return None
            if not span:
                notices.append(
                    f"event {event_id}: date {text!r} means {words}, not a day; "
                    "left out (-O imprecise=span shows it as a tentative span)"
                )
                return None
            tentative = True
        elif bounds is None:  # day-precise but not writable: ends on 9999-12-31, or out of order
            notices.append(f"event {event_id}: date {text!r} has no exclusive end a calendar can hold; left out")
            return None
        start, end = bounds
        status = _STATUS.get(record.get("status", ""), "TENTATIVE")
        if tentative and status != "CANCELLED":
            status = "TENTATIVE"

        lines = [
            "BEGIN:VEVENT",
            f"UID:{event_id}{UID_SUFFIX}",  # §3.8.4.7
            f"DTSTAMP:{stamp}",  # §3.8.7.2
            f"DTSTART;VALUE=DATE:{format_date(start)}",  # §3.8.2.4
            f"DTEND;VALUE=DATE:{format_date(end)}",  # §3.8.2.2: exclusive
            f"SUMMARY:{escape_text(str(record['name']))}",  # §3.8.1.12
            f"DESCRIPTION:{escape_text(self._description(record, by_id, value, tentative))}",  # §3.8.1.5
        ]
        places = [by_id.get(ref) or {"id": ref} for ref in record.get("locations", [])]
        if places:  # §3.8.1.7: one TEXT; the names joined (their commas escaped)
            lines.append(f"LOCATION:{escape_text(', '.join(str(p.get('name', p['id'])) for p in places))}")
        geo = next((p["coordinates"] for p in places if isinstance(p.get("coordinates"), dict)), None)
        if geo is not None:  # §3.8.1.6: "lat;lon", FLOAT
            lines.append(f"GEO:{format_float(geo['latitude'])};{format_float(geo['longitude'])}")
        url = self._url(record, by_id)
        if url:  # §3.8.4.6: a URI value, not TEXT-escaped
            lines.append(f"URL:{url}")
        lines += [
            f"CATEGORIES:{escape_text(str(record['kind']))}",  # §3.8.1.2
            f"STATUS:{status}",  # §3.8.1.11
            "TRANSP:TRANSPARENT",  # §3.8.2.7
            f"X-EDTF:{escape_text(text)}",  # §3.8.8.2
            "END:VEVENT",
        ]
        return lines

    @staticmethod
    def _description(record: Record, by_id: dict[t.Any, Record], value: dates.Edtf, tentative: bool) -> str:
        """What happened, the date as the sources give it, and where each fact comes from."""
        parts: list[str] = []
        for key in ("description", "notes"):
            if isinstance(record.get(key), str):
                parts.append(record[key])
        when = f"Date (EDTF): {value.text}"
        if tentative:
            when += " (not known to the day: shown over its whole possible span)"
        parts.append(when)
        cited: list[str] = []
        for source in record.get("sources", []):
            if "url" in source:
                line = f"- {source.get('title', source['url'])} <{source['url']}>"
            else:
                article = by_id.get(source.get("article")) or {}
                line = f'- {article.get("name", source.get("article"))}: "{source.get("quote", "")}"'
            if line not in cited:
                cited.append(line)
        if cited:
            parts.append("Sources:\n" + "\n".join(cited))
        return "\n\n".join(parts)

    @staticmethod
    def _url(record: Record, by_id: dict[t.Any, Record]) -> str | None:
        """The first web source's URL; failing that, the URL of the first cited article that has one."""
        sources = record.get("sources", [])
        for source in sources:
            if isinstance(source.get("url"), str):
                return str(source["url"])
        for source in sources:
            article = by_id.get(source.get("article")) or {}
            if isinstance(article.get("url"), str):
                return str(article["url"])
        return None
