"""EDTF subset: real calendar checks, honest bounds, and agreement with an independent parser."""

from __future__ import annotations

import datetime as dt

import edtf as edtf_lib
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import edtf, edtf_date

from records_toolkit import dates


@pytest.mark.parametrize(
    ("text", "lower", "upper", "precision", "day_precise"),
    [
        ("2022", dt.date(2022, 1, 1), dt.date(2022, 12, 31), "year", False),
        ("2022-02", dt.date(2022, 2, 1), dt.date(2022, 2, 28), "month", False),
        ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29), "month", False),
        ("2022-01-21", dt.date(2022, 1, 21), dt.date(2022, 1, 21), "day", True),
        ("2022-01-21?", dt.date(2022, 1, 21), dt.date(2022, 1, 21), "day", False),
        ("2022-05-09/2022-06-09", dt.date(2022, 5, 9), dt.date(2022, 6, 9), "interval", True),
        ("2022/2023-03", dt.date(2022, 1, 1), dt.date(2023, 3, 31), "interval", False),
        ("2022-01/..", dt.date(2022, 1, 1), None, "interval", False),
        ("../2022-01-21", None, dt.date(2022, 1, 21), "interval", False),
        ("/2022", None, dt.date(2022, 12, 31), "interval", False),
        ("[..2022-01-21]", None, dt.date(2022, 1, 21), "bound", False),
        ("[2022..]", dt.date(2022, 1, 1), None, "bound", False),
    ],
)
def test_accepted_forms(
    text: str, lower: dt.date | None, upper: dt.date | None, precision: str, day_precise: bool
) -> None:
    value = dates.parse(text)
    assert (value.lower, value.upper, value.precision, value.day_precise) == (lower, upper, precision, day_precise)
    assert dates.is_valid(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2022-13-45", "month 13"),
        ("2022-02-30", "no day 30"),
        ("2023-02-29", "no day 29"),
        ("2022-1-5", "not a date"),
        ("tomorrow", "not a date"),
        ("20220121", "not a date"),
        ("../..", "both ends"),
        ("/", "at least one end"),
        ("2022/2023/2024", "one '/'"),
        ("[2022]", "only the sets"),
        (" 2022", "not a date"),
        ("2022-00", "month 00"),
        ("2022-01-21T10:00", "not a date"),
        ("", "not a date"),
        ("[..2022?]", "no qualifier"),
    ],
)
def test_refused_forms_say_why(text: str, says: str) -> None:
    with pytest.raises(dates.EdtfError, match=says):
        dates.parse(text)
    assert not dates.is_valid(text)


def test_order_is_a_separate_question() -> None:
    assert not dates.parse("2022-06-09/2022-05-09").ordered
    assert dates.parse("2022-05/2022-05-09").ordered  # May 2022 may well start before the 9th
    assert dates.parse("2022/2022-01").ordered


@given(edtf())
def test_independent_parser_accepts_what_we_accept(text: str) -> None:
    parsed = edtf_lib.parse_edtf(text)
    assert parsed is not None


@given(edtf_date(qualifiers=False))
def test_bounds_agree_with_the_independent_parser(drawn: tuple[str, dt.date, dt.date]) -> None:
    text, lower, upper = drawn
    ours = dates.parse(text)
    theirs = edtf_lib.parse_edtf(text)
    assert ours.lower == lower == dt.date(*theirs.lower_strict()[:3])
    assert ours.upper == upper == dt.date(*theirs.upper_strict()[:3])


def test_year_stays_a_year() -> None:
    value = dates.parse("2022")
    assert str(value.start) == "2022" and value.start.precision == "year"  # type: ignore[union-attr]
    assert value.text == "2022"  # bounds are for comparing, never written back as the date


def test_days_in_a_month_are_the_calendars() -> None:
    import calendar

    assert all(dates._days_in(y, m) == calendar.monthrange(y, m)[1] for y in range(1, 10_000) for m in range(1, 13))


_DATE_PIECES = ["0000", "2022", "2024", "1900", "2000", "-", "01", "02", "12", "13", "00", "28", "29", "30", "31", "32"]
_DATE_PIECES += ["/", "..", "[", "]", "?", "~", "%", " ", "1", "x"]


@given(st.lists(st.sampled_from(_DATE_PIECES), max_size=8).map("".join))
def test_is_valid_answers_as_parse_does(text: str) -> None:
    """is_valid takes a short cut for one plain date (no object built): the same answer as parse."""
    try:
        dates.parse(text)
    except dates.EdtfError:
        parsed = False
    else:
        parsed = True
    assert dates.is_valid(text) is parsed
