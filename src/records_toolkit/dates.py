"""Dates as the sources give them: a documented subset of EDTF (ISO 8601-2:2019).

Accepted forms (and nothing else, so every exporter knows what it must handle):

====================  =======================================  ======
form                  meaning                                  level
====================  =======================================  ======
``2022``              some time in 2022                        0
``2022-01``           some time in January 2022                0
``2022-01-21``        that day                                 0
``2022-01-21?``       uncertain (``?``), approximate (``~``),  1
                      both (``%``): on any of the above
``A/B``               an interval from A to B (A, B as above)  0/1
``A/..``, ``../B``    open end / open start                    1
``A/``, ``/B``        unknown end / unknown start              1
``[..B]``, ``[A..]``  one date, on or before B / on or after A 2
                      (unqualified dates only)
====================  =======================================  ======

A date known to the year stays a year: bounds (:attr:`Edtf.lower`, :attr:`Edtf.upper`) are
computed for comparisons, never written back as if they were the date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import typing as t

from .problems import FrozenValue, set_field

Precision = t.Literal["year", "month", "day"]

_DATE_RE = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?([?~%]?)\Z")  # ASCII digits only


class EdtfError(ValueError):
    """The text is not a date of the accepted EDTF subset."""


class EdtfDate(FrozenValue):
    """One calendar date at year, month or day precision, perhaps qualified."""

    __slots__ = ("day", "month", "qualifier", "year")
    _fields = __match_args__ = ("year", "month", "day", "qualifier")

    year: int
    month: int | None
    day: int | None
    qualifier: str  # "", "?", "~" or "%"

    def __init__(self, year: int, month: int | None, day: int | None, qualifier: str) -> None:
        set_field(self, "year", year)
        set_field(self, "month", month)
        set_field(self, "day", day)
        set_field(self, "qualifier", qualifier)

    @property
    def precision(self) -> Precision:
        return "day" if self.day is not None else "month" if self.month is not None else "year"

    @property
    def lower(self) -> dt.date:
        return dt.date(self.year, self.month or 1, self.day or 1)

    @property
    def upper(self) -> dt.date:
        if self.day is not None:
            return dt.date(self.year, self.month or 1, self.day)
        month = self.month or 12
        return dt.date(self.year, month, calendar.monthrange(self.year, month)[1])

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        return text + self.qualifier


class Edtf(FrozenValue):
    """A parsed EDTF value of the subset: a date, an interval, or an on-or-before/after set."""

    __slots__ = ("end", "kind", "open_end", "open_start", "start", "text")
    _fields = __match_args__ = ("text", "kind", "start", "end", "open_start", "open_end")

    text: str
    kind: t.Literal["date", "interval", "before", "after"]
    start: EdtfDate | None
    end: EdtfDate | None
    open_start: bool  # ``..`` (interval) or ``[..B]``
    open_end: bool

    def __init__(
        self,
        text: str,
        kind: t.Literal["date", "interval", "before", "after"],
        start: EdtfDate | None,
        end: EdtfDate | None,
        open_start: bool = False,
        open_end: bool = False,
    ) -> None:
        set_field(self, "text", text)
        set_field(self, "kind", kind)
        set_field(self, "start", start)
        set_field(self, "end", end)
        set_field(self, "open_start", open_start)
        set_field(self, "open_end", open_end)

    @property
    def lower(self) -> dt.date | None:
        """Earliest day the value allows (None: unbounded or unknown)."""
        return self.start.lower if self.start is not None else None

    @property
    def upper(self) -> dt.date | None:
        """Latest day the value allows (None: unbounded or unknown)."""
        return self.end.upper if self.end is not None else None

    @property
    def day_precise(self) -> bool:
        """A day, or an interval between two days, with no qualifier: safe for a calendar."""
        ends = [self.start, self.end]
        if self.kind == "date":
            ends = [self.start]
        elif self.kind != "interval":
            return False
        return all(d is not None and d.precision == "day" and not d.qualifier for d in ends)

    @property
    def precision(self) -> str:
        """Human label of the precision: ``day``, ``month``, ``year``, or ``interval``/``bound``."""
        if self.kind == "date":
            assert self.start is not None
            return self.start.precision
        return "interval" if self.kind == "interval" else "bound"

    @property
    def ordered(self) -> bool:
        """False when an interval ends before it starts (compared by bounds)."""
        if self.kind != "interval" or self.start is None or self.end is None:
            return True
        return self.start.lower <= self.end.upper


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in(year: int, month: int) -> int:
    """calendar.monthrange(year, month)[1] (proleptic Gregorian), without the weekday it works out too."""
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return _DAYS[month - 1] + leap


def _date(text: str, whole: str) -> EdtfDate:
    return EdtfDate(*_fields(_DATE_RE.match(text), whole))


def _fields(match: re.Match[str] | None, whole: str) -> tuple[int, int | None, int | None, str]:
    """The year, month, day and qualifier of a date that ``_DATE_RE`` matched; raises :class:`EdtfError`."""
    if not match:
        raise EdtfError(f"{whole!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD (EDTF)")
    year_s, month_s, day_s, qualifier = match.groups()
    year = int(year_s)
    if year == 0:
        raise EdtfError(f"{whole!r}: there is no year 0000 in the calendar the bounds use")
    month = int(month_s) if month_s else None
    day = int(day_s) if day_s else None
    if month is not None and not 1 <= month <= 12:
        raise EdtfError(f"{whole!r}: month {month_s} does not exist")
    if day is not None:
        assert month is not None
        last = _days_in(year, month)
        if not 1 <= day <= last:
            raise EdtfError(f"{whole!r}: {calendar.month_name[month]} {year} has no day {day_s}")
    return year, month, day, qualifier


def parse(text: str) -> Edtf:
    """Parse ``text`` as a date of the accepted subset; raise :class:`EdtfError` otherwise."""
    if not isinstance(text, str) or text != text.strip() or not text:
        raise EdtfError(f"{text!r} is not a date")
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1]
        if inner[-1:] in ("?", "~", "%") or inner.endswith(("?..", "~..", "%..")):
            raise EdtfError(f"{text!r}: a date inside [..] takes no qualifier")
        if inner.startswith("..") and ".." not in inner[2:]:
            end = _date(inner[2:], text)
            return Edtf(text, "before", None, end, open_start=True)
        if inner.endswith("..") and ".." not in inner[:-2]:
            start = _date(inner[:-2], text)
            return Edtf(text, "after", start, None, open_end=True)
        raise EdtfError(f"{text!r}: only the sets [..DATE] and [DATE..] are accepted")
    if "/" in text:
        first, _, second = text.partition("/")
        if "/" in second:
            raise EdtfError(f"{text!r}: an interval has one '/'")
        if not first and not second:
            raise EdtfError(f"{text!r}: an interval needs at least one end")
        if first == ".." and second == "..":
            raise EdtfError(f"{text!r}: an interval cannot be open at both ends")
        start_date = None if first in ("", "..") else _date(first, text)
        end_date = None if second in ("", "..") else _date(second, text)
        return Edtf(text, "interval", start_date, end_date, open_start=first == "..", open_end=second == "..")
    day = _date(text, text)
    return Edtf(text, "date", day, day)


def is_valid(text: object) -> bool:
    """Format check used by the schemas' ``"format": "edtf"``; ordering is a separate rule."""
    if not isinstance(text, str):
        return True  # JSON Schema formats apply to strings only
    try:
        plain = _DATE_RE.match(text)
        if plain is not None:  # one date, as most are: what parse() checks of it, without building it
            _fields(plain, text)
        else:
            parse(text)
    except EdtfError:
        return False
    return True
