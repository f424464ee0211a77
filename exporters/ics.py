"""iCalendar (RFC 5545, with RFC 7986's calendar properties): one VEVENT per dated event record.

The writer is our own, a few exact rules each citing its section, rather than ``icalendar``'s:
``icalendar`` writes NUL/VT raw into TEXT and rewrites ``\\r`` silently, and its property order and
line folding are its own to change between releases. Here every byte is decided in this file, so
the same records give the same bytes (golden-file tested) and the tests check the result with
``icalendar``, ``ical`` and a CalDAV server (Radicale), none of them ours.

Choices (and why; the long form, with the clients' quirks, is in the research notes on formats):

* Revisions reach calendars (§3.8.7.4 SEQUENCE, §3.8.7.3 LAST-MODIFIED, §3.8.7.2 DTSTAMP). A client
  that already holds an event (imported, or subscribed) replaces it only by a copy with the same
  UID and a higher SEQUENCE (Outlook and Google ignore a changed copy with the same SEQUENCE).
  The revision state is the previous export itself, named with ``-O previous=FILE`` (usually the
  ``-o`` file being replaced; a missing file is a first export): each of its VEVENTs gives
  (UID -> content, SEQUENCE, LAST-MODIFIED). An event whose content lines (every line but
  SEQUENCE, DTSTAMP and LAST-MODIFIED) are unchanged keeps its SEQUENCE and times, byte for
  byte; a changed one gets SEQUENCE + 1 and a new LAST-MODIFIED = DTSTAMP. No clock is read:
  the new time is the revision time of the data (SOURCE_DATE_EPOCH, else 00:00:00Z of the
  latest ``date_published`` of the collection's articles, else the Unix epoch), raised to one
  second after the previous LAST-MODIFIED when it would not be later. Without a previous export
  every event is SEQUENCE 0 at that time. Same records and same previous file: same bytes.
  DTSTAMP equals LAST-MODIFIED: without METHOD, §3.8.7.2 gives them the same meaning.
* Imprecise dates (calendars have none) are never put on the 1st of a month or year:

  - an uncertain or approximate day (``2022-05-09?``, ``~``, ``%``) is shown on that day, its
    SUMMARY marked ``[date uncertain]`` / ``[date approximate]`` / ``[date uncertain, approximate]``;
  - a known start day and no day-precise end (``2022-06-21/..``, ``2022-06-21/``,
    ``2022-06-21/2022-07``) is shown on its start day as ``Start: NAME``; a known end day and no
    day-precise start, on its end day as ``End: NAME``;
  - anything else not known to the day (a year, a month, ``[..2022-01-21]``) is left out with a
    notice by default; ``-O imprecise=span`` writes a bounded one as an all-day span over its EDTF
    bounds, its SUMMARY saying so (``Winter Training-2022 [sometime in 2022]``): a year is never a
    silent 365-day banner. ``[..D]``/``[D..]`` and open or unknown values with no day-known side
    stay out even then.

  STATUS says what the record's ``status`` says (planned: TENTATIVE; under way or took place:
  CONFIRMED; cancelled: CANCELLED), never the precision of the date: an exercise that took place
  in 2022 is not tentative. The EDTF is in DESCRIPTION and in X-EDTF.
* Subscriptions: REFRESH-INTERVAL (RFC 7986 §5.7) and X-PUBLISHED-TTL (Outlook's) from
  ``-O refresh`` (default one day); the calendar's NAME (RFC 7986 §5.1) and X-WR-CALNAME from
  ``-O calname``, by default from the collection (the article's name, or how many articles).
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

import dataclasses
import datetime as dt
import hashlib
import itertools
import os
import re
import stat
import typing as t

from records_toolkit import dates
from records_toolkit.errors import OptionError
from records_toolkit.plugins import Context, Exported, Option, Record, Slice, Writable

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
    Each character is replaced on its own, so whole-string replaces give the same text
    (``\\`` first: the escapes added after it are not escaped again).
    """
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
    return _CONTROL.sub("\ufffd", value) if _CONTROL.search(value) else value


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # CONTROL but HTAB (LF and CR are escaped before)


def fold(line: str) -> bytes:
    """One content line as UTF-8, folded at 75 octets (§3.1) between characters, never inside one.

    A continuation line starts with one SPACE, which counts towards its 75 octets; every
    physical line ends with CRLF. Each piece is the longest that fits and ends before a
    character's first byte (never at a UTF-8 continuation byte, 10xxxxxx).
    """
    data = line.encode("utf-8")
    if len(data) <= _LINE_OCTETS:  # most lines
        return data + b"\r\n"
    chunks: list[bytes] = []
    start, limit = 0, _LINE_OCTETS
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:
            end -= 1
        chunks.append(data[start:end])
        start, limit = end, _LINE_OCTETS - 1  # the SPACE that starts the next line counts
    chunks.append(data[start:])
    return b"\r\n ".join(chunks) + b"\r\n"


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


# -- where an event goes, and what its SUMMARY says about its date ----------------------------------

_QUALIFIED = {"?": "uncertain", "~": "approximate", "%": "uncertain, approximate"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _point(value: dates.EdtfDate) -> str:
    """``2022``, ``Jun 2022``, ``9 Jun 2022`` (the Markdown report's words)."""
    if value.month is None:
        return f"{value.year:04d}"
    month = f"{_MONTHS[value.month - 1]} {value.year:04d}"
    return month if value.day is None else f"{value.day} {month}"


def _vague(value: dates.EdtfDate) -> str:
    """One end in words, never more precise than it is: "sometime in Jun 2022", "on 9 Jun 2022 (uncertain)"."""
    words = ("on " if value.day is not None else "sometime in ") + _point(value)
    return words + (f" ({_QUALIFIED[value.qualifier]})" if value.qualifier else "")


@dataclasses.dataclass(frozen=True, slots=True)
class Placement:
    """Where an event is shown: all-day from ``start`` to the exclusive ``end``, and what it says about it."""

    start: dt.date
    end: dt.date
    prefix: str = ""  # of the SUMMARY: "Start: ", "End: "
    suffix: str = ""  # of the SUMMARY: " [date uncertain]", " [sometime in 2022]"
    how: str = ""  # for DESCRIPTION: how the date was turned into days ("" when it is days)


Placed = Placement | t.Literal["imprecise", "open", "unwritable"]
"""A placement, or why there is none: not known to the day (``span`` would show it), no bounded
side a calendar can hold (nothing can show it), or days beyond 9999-12-31."""


def _days(first: dt.date, last: dt.date, **said: str) -> Placed:
    if last < first or last == dt.date.max:
        return "unwritable"
    return Placement(first, last + dt.timedelta(days=1), **said)


def place(value: dates.Edtf, span: bool) -> Placed:
    """Where ``value`` goes in a calendar (see the module docstring); ``span``: ``-O imprecise=span``."""
    if value.day_precise:
        bounds = _span(value)
        return "unwritable" if bounds is None else Placement(*bounds)
    first, last = value.start, value.end
    if value.kind in ("before", "after"):  # one day, somewhere in an unbounded set: no day to show
        return "open"
    if value.kind == "date":
        assert first is not None
        if first.precision == "day":  # qualified: shown on that day, marked
            words = _QUALIFIED[first.qualifier]
            return _days(first.lower, first.upper, suffix=f" [date {words}]", how=f"{words}: shown on that day")
        if not span:
            return "imprecise"
        return _days(first.lower, first.upper, suffix=f" [{_vague(first)}]", how=_SPANNED)
    # an interval: one end may be missing (open or unknown), imprecise or qualified
    first_day = first is not None and first.precision == "day"
    last_day = last is not None and last.precision == "day"
    if first_day and last_day:  # days, one or both qualified
        assert first is not None and last is not None
        marks = [f"{side} {_QUALIFIED[d.qualifier]}" for side, d in (("start", first), ("end", last)) if d.qualifier]
        return _days(
            first.lower, last.upper, suffix=f" [{', '.join(marks)}]", how=f"{'; '.join(marks)}: shown over those days"
        )
    if span and first is not None and last is not None:  # bounded: the whole possible span, said in words
        marks = [
            f"{verb} {_vague(d)}"
            for verb, d in (("starts", first), ("ends", last))
            if d.precision != "day" or d.qualifier
        ]
        return _days(first.lower, last.upper, suffix=f" [{', '.join(marks)}]", how=_SPANNED)
    if first_day:
        assert first is not None
        suffix = f" [date {_QUALIFIED[first.qualifier]}]" if first.qualifier else ""
        how = "the end is not known to the day: shown on its first day only"
        return _days(first.lower, first.upper, prefix="Start: ", suffix=suffix, how=how)
    if last_day:
        assert last is not None
        suffix = f" [date {_QUALIFIED[last.qualifier]}]" if last.qualifier else ""
        how = "the start is not known to the day: shown on its last day only"
        return _days(last.lower, last.upper, prefix="End: ", suffix=suffix, how=how)
    return "imprecise" if first is not None and last is not None else "open"


_SPANNED = "not known to the day: shown over its whole possible span"


# -- revisions: the previous export as the manifest --------------------------------------------------

_REVISION = frozenset({b"SEQUENCE", b"DTSTAMP", b"LAST-MODIFIED"})  # not content: what a revision sets
_MAX_SEQUENCE = 2**31 - 1  # §3.3.8: INTEGER is 32-bit signed
_PROPERTY_NAME = re.compile(rb"[A-Za-z0-9-]+")


@dataclasses.dataclass(frozen=True, slots=True)
class Revision:
    """One VEVENT of a previous export: a digest of its content, its SEQUENCE and its LAST-MODIFIED."""

    digest: bytes
    sequence: int
    modified: dt.datetime | None


def _name_of(line: bytes) -> bytes:
    match = _PROPERTY_NAME.match(line)
    return match.group(0).upper() if match else b""


def content_digest(lines: t.Iterable[bytes]) -> bytes:
    """SHA-256 of the content lines of one VEVENT, unfolded, each then LF; the lines of its
    revision (:data:`_REVISION`: SEQUENCE, DTSTAMP, LAST-MODIFIED) are not given.

    Sorted first: the order of properties carries no meaning (§3.6), so a previous export that
    another tool wrote back in its own order is not taken for a change.
    """
    kept = sorted(lines)
    return hashlib.sha256(b"\n".join(kept) + b"\n" if kept else b"").digest()


def parse_utc(value: str) -> dt.datetime | None:
    """A DATE-TIME in UTC (§3.3.5 form #2, ``YYYYMMDDTHHMMSSZ``); None for anything else.

    ASCII digits are read directly (``strptime`` took 5 µs of each event of a previous export);
    anything else as ``strptime`` reads it."""
    if len(value) != 16:
        return None
    try:
        if _UTC_DIGITS(value):
            return dt.datetime(
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[9:11]),
                int(value[11:13]),
                int(value[13:15]),
                tzinfo=dt.UTC,
            )
        return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


_UTC_DIGITS = re.compile(r"[0-9]{8}T[0-9]{6}Z\Z").match


_LONGEST = 1 << 24  # bytes of one unfolded content line at most (a 75-octet line folded 200,000 times)


def _logical_lines(stream: t.BinaryIO, shown: str) -> t.Iterator[bytes]:
    """Unfolded content lines (§3.1), read a mebibyte at a time; CRLF or a bare LF ends a line.

    The pieces of a folded line are joined once it ends (joining as they come is quadratic: an
    indented JSON file is one line folded a million times), and a line past :data:`_LONGEST`
    bytes (its LF counted) is an :class:`OptionError`, not a calendar; no longer one is held."""
    too_long = f"{shown}: not an iCalendar file (a content line longer than {_LONGEST:,} bytes)"
    pieces: list[bytes] = []
    size = 0
    carry = b""  # (the start of a line the last read ended in)
    while True:
        chunk = stream.read(_READ)
        if chunk:
            physical = (carry + chunk if carry else chunk).split(b"\n")
            carry = physical.pop()
            if len(carry) > _LONGEST:
                raise OptionError(too_long)
        else:
            physical = [carry] if carry else []
        ended = 1 if chunk else 0  # (each line but the file's last one had its LF, which counts)
        for raw in physical:
            if len(raw) + ended > _LONGEST:
                raise OptionError(too_long)
            line = raw.rstrip(b"\r")
            if line[:1] in (b" ", b"\t") and pieces:
                pieces.append(line[1:])
                size += len(line) - 1
                if size > _LONGEST:
                    raise OptionError(too_long)
                continue
            if pieces:
                yield b"".join(pieces)
            pieces, size = [line], len(line)
        if not chunk:
            break
    if pieces:
        yield b"".join(pieces)


_READ = 1 << 20  # bytes of a previous export read at once


def read_previous(path: str) -> dict[str, Revision] | None:
    """The revisions of the VEVENTs of a previous export, by UID; None when there is no such file.

    Only what a revision needs is kept (a digest and two numbers per event, never the events).
    A file that is not an iCalendar object is an :class:`OptionError`: sequences are never
    restarted from a wrong file without saying so.
    """
    shown = f"-O previous={path}"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a directory, or a FIFO that would block the open
            raise OptionError(f"{shown}: not a regular file")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise OptionError(
            f"{shown}: cannot read the previous export: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    revisions: dict[str, Revision] = {}
    try:
        with open(path, "rb") as stream:
            start = b"\n"
            while start and not start.strip():  # the first line that is not blank, before any unfolding
                start = stream.readline(64)  # (a file of one huge line is refused at its first bytes)
            if start.strip().upper() != b"BEGIN:VCALENDAR":
                raise OptionError(f"{shown}: not an iCalendar file (it does not begin with BEGIN:VCALENDAR)")
            lines = _logical_lines(stream, shown)
            event: list[bytes] | None = None
            for line in lines:
                upper = line.strip().upper()
                if event is None:
                    if upper == b"BEGIN:VEVENT":
                        event = []
                    continue
                if upper == b"END:VEVENT":
                    _remember(revisions, event, shown)
                    event = None
                else:
                    event.append(line)
    except OSError as exc:
        raise OptionError(f"{shown}: cannot read the previous export: {exc.strerror or exc}") from None
    return revisions


def _remember(revisions: dict[str, Revision], lines: list[bytes], shown: str) -> None:
    values: dict[bytes, str] = {}
    content: list[bytes] = []  # (the lines the digest reads: all but the revision's)
    for line in lines:
        name = _name_of(line)
        if name == b"GEO":
            line = _geo_as_written(line)
        if name not in _REVISION:
            content.append(line)
        if name in (b"UID", b"SEQUENCE", b"DTSTAMP", b"LAST-MODIFIED") and name not in values:
            values[name] = line.partition(b":")[2].decode("utf-8", "replace").strip()
    uid = values.get(b"UID")
    if not uid:
        return  # not one of ours, nor anyone's: nothing to continue
    text = values.get(b"SEQUENCE", "0")
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_SEQUENCE:
        raise OptionError(f"{shown}: event {uid}: SEQUENCE {text!r} is not a whole number from 0 to {_MAX_SEQUENCE}")
    modified = parse_utc(values.get(b"LAST-MODIFIED", "")) or parse_utc(values.get(b"DTSTAMP", ""))
    revision = Revision(content_digest(content), int(text), modified)
    known = revisions.get(uid)
    if known is None or (revision.sequence, revision.modified or _EPOCH) > (known.sequence, known.modified or _EPOCH):
        revisions[uid] = revision


_GEO = re.compile(rb"(?i:GEO):([+-]?[0-9]+(?:\.[0-9]+)?);([+-]?[0-9]+(?:\.[0-9]+)?)\Z")  # §3.8.1.6, FLOAT §3.3.7


def _geo_as_written(line: bytes) -> bytes:
    """A GEO line of a previous export as this exporter writes the same two FLOATs (six decimals,
    :func:`format_float`): another tool writing them back shorter (``38.41885`` for ``38.418850``:
    icalendar does) changed nothing. Anything else (parameters, another form) as it is."""
    match = _GEO.match(line)
    if match is None:
        return line
    latitude, longitude = (format_float(float(number)) for number in match.groups())
    return f"GEO:{latitude};{longitude}".encode("ascii")


def revise(lines: list[str], previous: Revision | None, now: dt.datetime) -> tuple[int, dt.datetime]:
    """SEQUENCE and LAST-MODIFIED of an event with these content lines (none of them a revision's:
    see :data:`_REVISION`), after ``previous`` (§3.8.7.3-4). Without a previous event no digest is
    made (a first export's, or one to standard output: a sixth of the calendar's time)."""
    if previous is None:
        return 0, now
    digest = content_digest(line.encode("utf-8") for line in lines)
    if previous.digest == digest:
        return previous.sequence, previous.modified or now
    if previous.sequence >= _MAX_SEQUENCE:
        raise OptionError(f"SEQUENCE {previous.sequence} of the previous export cannot grow (§3.3.8: 32-bit INTEGER)")
    modified = now
    if previous.modified is not None and modified <= previous.modified:
        try:  # later than what calendars hold, whatever the data says
            modified = previous.modified + dt.timedelta(seconds=1)
        except OverflowError:
            raise OptionError(
                f"LAST-MODIFIED {previous.modified:%Y-%m-%dT%H:%M:%SZ} of the previous export cannot grow "
                "(the last second of year 9999): a revision would not be later than it"
            ) from None
    return previous.sequence + 1, modified


# -- the calendar ------------------------------------------------------------------------------------

_DURATION = re.compile(
    r"P(?:[0-9]+W|[0-9]+D(?:T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S))?"
    r"|T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S))\Z"
)  # §3.3.6 dur-value, positive


def refresh_interval(text: str) -> str | None:
    """The ``refresh`` option as a §3.3.6 duration (RFC 7986 §5.7 wants one of more than zero); "" for none."""
    if text == "":
        return None
    if not _DURATION.match(text) or not any(c in "123456789" for c in text):
        raise OptionError(
            f"-O refresh={text!r}: give a positive iCalendar duration (RFC 5545 §3.3.6) such as P1D, PT12H or P1W, "
            "or nothing for none"
        )
    return text


def calendar_name(articles: t.Sequence[Record]) -> str:
    """The calendar's name from the collection: its article's name, or how many articles and when."""
    named = [a for a in articles if isinstance(a.get("name"), str) and a["name"].strip()]
    if len(named) == 1:
        return f"Events from {named[0]['name']}"
    if not articles:
        return "Events of the records"
    published = sorted(str(a["date_published"]) for a in articles if isinstance(a.get("date_published"), str))
    when = (
        ""
        if not published
        else f", {published[0]}"
        if published[0] == published[-1]
        else f", {published[0]} to {published[-1]}"
    )
    return f"Events from {len(articles)} articles{when}"


_ABSENT: t.Final = object()  # (a key the record does not hold)


class _Shown:
    """What an event's lines show of an article or a place: its name, URL and coordinates. A
    slotted value, the coordinates as two numbers, not a dict of the record's keys: at 100,000
    records the plan holds some 43,000 of them (19 MiB as dicts, the ICS export's largest part)."""

    __slots__ = ("coordinates", "id", "name", "url")

    def __init__(self, record_id: t.Any, record: t.Mapping[str, t.Any] | None = None) -> None:
        record = record or {}
        self.id = record_id
        self.name = record.get("name", _ABSENT)
        self.url = record.get("url")
        coordinates = record.get("coordinates")
        if isinstance(coordinates, dict):
            latitude, longitude = coordinates.get("latitude"), coordinates.get("longitude")
            numbers = all(type(n) in (int, float) for n in (latitude, longitude))
            self.coordinates: t.Any = (latitude, longitude) if numbers else coordinates
        else:
            self.coordinates = None

    @property
    def shown(self) -> str:
        """Its name, or its id for a record without one (or not in the collection)."""
        return str(self.id if self.name is _ABSENT else self.name)

    def geo(self) -> tuple[t.Any, t.Any] | None:
        """``(latitude, longitude)``, or None without coordinates."""
        if isinstance(self.coordinates, dict):
            return self.coordinates["latitude"], self.coordinates["longitude"]
        return t.cast("tuple[t.Any, t.Any] | None", self.coordinates)


class _Calendar(t.NamedTuple):
    """What every event of a calendar needs of the whole (the plan of its slices)."""

    head: bytes  # the folded lines before the first VEVENT
    span: bool  # -O imprecise=span
    previous: dict[str, Revision]  # the previous export's events, by UID
    by_id: dict[t.Any, _Shown]  # what events show of the articles and places, by id
    now: dt.datetime  # DTSTAMP of what changed
    notices: tuple[str, ...]  # said before any event's


def _events_of(records: t.Sequence[Record]) -> t.Iterable[Record]:
    """The events of ``records`` by id: a :class:`~records_toolkit.streaming.Records` is sorted already."""
    of_type = getattr(records, "of_type", None)
    if callable(of_type):
        return t.cast(t.Iterable[Record], of_type("event"))
    return sorted((r for r in records if r.get("type") == "event"), key=lambda r: str(r["id"]))


SHOWN_LEFT_OUT = 20
"""Events left out of the calendar named one by one, each with why; past them, the rest are
counted by reason in one notice (a calendar of 100,000 records left 15,912 out: a line each)."""

_REASONS = (  # (what a notice of each reason says, in its words; the last takes the rest)
    (": no date; ", "without a date"),
    ("(-O imprecise=span shows it", "known to a year, a month or a span of days only (-O imprecise=span shows them)"),
    ("(not even -O imprecise=span", "with an open or unknown side"),
    ("", "with a date a calendar cannot hold"),
)


def _summarized(left_out: list[str]) -> list[str]:
    """The notices of the events left out, the first :data:`SHOWN_LEFT_OUT` as they are, the rest
    counted by reason in one notice (the same whatever wrote the slices: made from them all, in order)."""
    if len(left_out) <= SHOWN_LEFT_OUT:
        return left_out
    rest = left_out[SHOWN_LEFT_OUT:]
    counts = dict.fromkeys((reason for _, reason in _REASONS), 0)
    for notice in rest:
        counts[next(reason for mark, reason in _REASONS if mark in notice)] += 1
    said = ", ".join(f"{count:,} {reason}" for reason, count in counts.items() if count)
    return [*left_out[:SHOWN_LEFT_OUT], f"{len(rest):,} more events left out of the calendar: {said}"]


class IcsFormat:
    """Events as an RFC 5545 calendar; only as precise as the records (see the module docstring)."""

    name = "ics"
    suffix = ".ics"
    media_type = "text/calendar"
    summary = (
        "iCalendar (RFC 5545): one all-day VEVENT per dated event, revised (SEQUENCE) against the previous "
        "export; days marked when uncertain or only a start; other imprecise dates skipped or spanned"
    )
    directory = False
    options: t.Sequence[Option] = (
        Option(
            "imprecise",
            "events not known to the day (a year, a month; an uncertain day or a known start is always shown): "
            "leave out with a notice (skip), or show as an all-day span over the EDTF bounds, "
            "its summary saying so (span)",
            "skip",
            ("skip", "span"),
        ),
        Option(
            "calname",
            "calendar name (RFC 7986 NAME and X-WR-CALNAME); empty: from the collection (its article's name)",
            "",
        ),
        Option(
            "previous",
            "the previous export (by default the -o file, when it exists): events that changed since get "
            "a higher SEQUENCE and a new LAST-MODIFIED, unchanged ones keep theirs, so calendars see "
            "corrections; a missing file is a first export",
            "",
            from_output=True,
        ),
        Option(
            "refresh",
            "how often subscribers should fetch the calendar again (REFRESH-INTERVAL, X-PUBLISHED-TTL), "
            "an iCalendar duration such as P1D or PT6H; empty: not said",
            "P1D",
        ),
    )

    def export(self, records: t.Sequence[Record], context: Context) -> Exported:
        parts: list[bytes] = []

        class _Parts:
            write = parts.append

        notices = self.stream(records, context, lambda name: _Parts())
        return Exported(files={FILE_NAME: b"".join(parts)}, notices=notices)

    def stream(self, records: t.Sequence[Record], context: Context, open: t.Callable[[str], Writable]) -> list[str]:
        """The calendar written event by event; of the other records only what events show is kept
        (name, url, coordinates of the articles and places), in a first pass over those types."""
        calendar = self._calendar(records, context)
        notices = list(calendar.notices)
        out = open(FILE_NAME)
        out.write(calendar.head)
        said: list[str] = []
        written = self._write_events(_events_of(records), calendar, out, said)
        out.write(fold("END:VCALENDAR"))
        return (
            notices + _summarized(said) + self._ending(calendar, set(written) & calendar.previous.keys(), bool(written))
        )

    # -- written in slices by several processes (records_toolkit.plugins.Sliced) -------------------

    slice_types: t.Sequence[str] = ("event",)  # (only events are written)

    def slice_plan(self, records: t.Sequence[Record], context: Context) -> _Calendar:
        """The calendar's head, the previous export and what events show of the other records."""
        return self._calendar(records, context)

    def stream_slice(
        self,
        records: t.Sequence[Record],
        context: Context,
        plan: _Calendar,
        piece: Slice,
        open: t.Callable[[str], Writable],
    ) -> tuple[list[str], list[str], bool]:
        """The slice's events (the first slice: the calendar's head before them); ``(notices, the
        UIDs written that the previous export has, whether any event was written)``."""
        out = open(FILE_NAME)
        if piece.first:
            out.write(plan.head)
        notices: list[str] = []
        written = self._write_events(_events_of(records), plan, out, notices)
        return notices, [uid for uid in written if uid in plan.previous], bool(written)

    def stream_end(
        self, context: Context, plan: _Calendar, summaries: list[t.Any], open: t.Callable[[str], Writable]
    ) -> list[str]:
        """``END:VCALENDAR``; the notices in the order a single process gives them."""
        open(FILE_NAME).write(fold("END:VCALENDAR"))
        left_out: list[str] = []
        kept: set[str] = set()
        for said, uids, _ in summaries:
            left_out += said
            kept.update(uids)
        return list(plan.notices) + _summarized(left_out) + self._ending(plan, kept, any(w for _, _, w in summaries))

    # -- the steps -----------------------------------------------------------------------------------

    def _calendar(self, records: t.Sequence[Record], context: Context) -> _Calendar:
        """Everything but the events: the options checked, the previous export read, the head."""
        imprecise = context.options.get("imprecise", "skip")
        refresh = refresh_interval(context.options.get("refresh", "P1D"))
        if context.source_date_epoch_error:
            raise OptionError(context.source_date_epoch_error)
        notices: list[str] = []
        previous_path = context.options.get("previous", "")
        previous: dict[str, Revision] = {}
        if previous_path:
            try:
                found = read_previous(previous_path)
            except OptionError as exc:
                if "previous" not in context.implied:
                    raise
                # the file -o replaces is no export of ours (or unreadable): a first export, said so
                reason = str(exc).removeprefix(f"-O previous={previous_path}: ")
                notices.append(
                    f"{previous_path}, the file being replaced, is no earlier export ({reason}): every event starts at SEQUENCE 0"
                )
                found = {}
            if found is None:
                notices.append(f"no previous export at {previous_path}: every event starts at SEQUENCE 0")
            else:
                previous = found
        of_type = getattr(records, "of_type", None)
        if callable(of_type):  # streaming.Records, sorted by (type, id): read only what is needed
            referable: t.Iterable[Record] = itertools.chain(of_type("article"), of_type("place"))
        else:
            referable = records
        by_id: dict[t.Any, _Shown] = {}
        articles: list[Record] = []
        for record in referable:
            by_id[record.get("id")] = _Shown(record.get("id"), record)
            if record.get("type") == "article":
                articles.append(
                    {"type": "article", "date_published": record.get("date_published"), "name": record.get("name")}
                )
        now = dtstamp(articles, context.source_date_epoch)
        calname = context.options.get("calname", "") or calendar_name(articles)
        del articles
        head = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]  # §3.7
        head += [f"NAME:{escape_text(calname)}", f"X-WR-CALNAME:{escape_text(calname)}"]  # RFC 7986 §5.1
        if refresh:  # RFC 7986 §5.7; X-PUBLISHED-TTL: Outlook's ([MS-OXCICAL] 2.1.3.1.1.15)
            head += [f"REFRESH-INTERVAL;VALUE=DURATION:{refresh}", f"X-PUBLISHED-TTL:{refresh}"]
        return _Calendar(
            b"".join(fold(line) for line in head), imprecise == "span", previous, by_id, now, tuple(notices)
        )

    def _write_events(
        self, events: t.Iterable[Record], calendar: _Calendar, out: Writable, notices: list[str]
    ) -> list[str]:
        """The VEVENTs of ``events`` into ``out`` (a notice for each left out); the UIDs written."""
        written: list[str] = []
        pending: list[bytes] = []
        previous, now = calendar.previous, calendar.now
        for record in events:
            lines = self._event(record, calendar.by_id, calendar.span, notices)
            if lines:
                uid = lines[0].removeprefix("UID:")
                sequence, modified = revise(lines, previous.get(uid), now)
                stamp = format_utc(modified)
                revision = [f"DTSTAMP:{stamp}", f"LAST-MODIFIED:{stamp}", f"SEQUENCE:{sequence}"]  # §3.8.7
                written.append(uid)
                pending.extend(fold(line) for line in ["BEGIN:VEVENT", lines[0], *revision, *lines[1:], "END:VEVENT"])
                if len(pending) >= 2048:
                    out.write(b"".join(pending))
                    pending.clear()
        if pending:
            out.write(b"".join(pending))
        return written

    @staticmethod
    def _ending(calendar: _Calendar, kept: set[str], wrote: bool) -> list[str]:
        """The notices of the whole calendar: none written (``wrote``), and the previous export's
        events it lost (those of its UIDs not in ``kept``)."""
        notices: list[str] = []
        if not wrote:
            notices.append(
                "no event could be written: the calendar has no VEVENT "
                "(RFC 5545 §3.6 wants at least one component; most clients accept an empty one)"
            )
        for uid in sorted(set(calendar.previous) - kept):
            if uid.endswith(UID_SUFFIX):
                notices.append(
                    f"event {uid.removesuffix(UID_SUFFIX)}: in the previous export, not in this one: subscribers "
                    "lose it at their next refresh; a copy imported from the old file stays until removed by hand"
                )
        return notices

    def _event(self, record: Record, by_id: dict[t.Any, _Shown], span: bool, notices: list[str]) -> list[str] | None:
        """The content lines of one VEVENT (§3.6.1), UID first, without BEGIN/END and the revision
        (DTSTAMP, LAST-MODIFIED, SEQUENCE); or None with a notice when it is left out."""
        event_id = record["id"]
        text = record.get("date")
        if not isinstance(text, str):
            notices.append(f"event {event_id}: no date; left out of the calendar")
            return None
        try:
            value = dates.parse(text)
            placed = place(value, span)
        except ValueError as exc:  # EdtfError, or a year the calendar cannot hold (0000)
            notices.append(f"event {event_id}: date {text!r} cannot be written ({exc}); left out")
            return None
        if placed == "open":
            notices.append(
                f"event {event_id}: date {text!r} means {_in_words(text)}, with an open or unknown side; "
                "left out (not even -O imprecise=span can show it)"
            )
            return None
        if placed == "imprecise":
            notices.append(
                f"event {event_id}: date {text!r} means {_in_words(text)}, not a day; "
                "left out (-O imprecise=span shows it as a span over the days it may fall on)"
            )
            return None
        if placed == "unwritable":  # ends on 9999-12-31, or out of order
            notices.append(f"event {event_id}: date {text!r} has no exclusive end a calendar can hold; left out")
            return None
        status = _STATUS.get(record.get("status", ""), "TENTATIVE")  # the record's status, never the date's precision
        summary = f"{placed.prefix}{record['name']}{placed.suffix}"
        lines = [
            f"UID:{event_id}{UID_SUFFIX}",  # §3.8.4.7
            f"DTSTART;VALUE=DATE:{format_date(placed.start)}",  # §3.8.2.4
            f"DTEND;VALUE=DATE:{format_date(placed.end)}",  # §3.8.2.2: exclusive
            f"SUMMARY:{escape_text(summary)}",  # §3.8.1.12
            f"DESCRIPTION:{escape_text(self._description(record, by_id, value, placed.how))}",  # §3.8.1.5
        ]
        places = [by_id.get(ref) or _Shown(ref) for ref in record.get("locations", [])]
        if places:  # §3.8.1.7: one TEXT; the names joined (their commas escaped)
            lines.append(f"LOCATION:{escape_text(', '.join(p.shown for p in places))}")
        geo = next((p.geo() for p in places if p.coordinates is not None), None)
        if geo is not None:  # §3.8.1.6: "lat;lon", FLOAT
            lines.append(f"GEO:{format_float(geo[0])};{format_float(geo[1])}")
        url = self._url(record, by_id)
        if url:  # §3.8.4.6: a URI value, not TEXT-escaped
            lines.append(f"URL:{url}")
        lines += [
            f"CATEGORIES:{escape_text(str(record['kind']))}",  # §3.8.1.2
            f"STATUS:{status}",  # §3.8.1.11
            "TRANSP:TRANSPARENT",  # §3.8.2.7
            f"X-EDTF:{escape_text(text)}",  # §3.8.8.2
        ]
        return lines

    @staticmethod
    def _description(record: Record, by_id: dict[t.Any, _Shown], value: dates.Edtf, how: str) -> str:
        """What happened, the date as the sources give it, and where each fact comes from."""
        parts: list[str] = []
        for key in ("description", "notes"):
            if isinstance(record.get(key), str):
                parts.append(record[key])
        when = f"Date (EDTF): {value.text}"
        if how:
            when += f" ({how})"
        parts.append(when)
        cited: list[str] = []
        for source in record.get("sources", []):
            if "url" in source:
                line = f"- {source.get('title', source['url'])} <{source['url']}>"
            else:
                article = by_id.get(source.get("article")) or _Shown(source.get("article"))
                line = f'- {article.shown}: "{source.get("quote", "")}"'
            if line not in cited:
                cited.append(line)
        if cited:
            parts.append("Sources:\n" + "\n".join(cited))
        return "\n\n".join(parts)

    @staticmethod
    def _url(record: Record, by_id: dict[t.Any, _Shown]) -> str | None:
        """The first web source's URL; failing that, the URL of the first cited article that has one."""
        sources = record.get("sources", [])
        for source in sources:
            if isinstance(source.get("url"), str):
                return str(source["url"])
        for source in sources:
            article = by_id.get(source.get("article"))
            if article is not None and isinstance(article.url, str):
                return article.url
        return None
