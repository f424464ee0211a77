"""The iCalendar export, checked as a user would meet it: the bytes, two parsers we did not write
(``icalendar`` and the stricter ``ical``), the CLI, and a golden file of the shipped records."""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner
from helpers import assert_valid, shipped
from hypothesis import given
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream
from strategies import collections

from records_toolkit import dates
from records_toolkit.cli import main
from records_toolkit.exporters.ics import IcsFormat, escape_text, fold
from records_toolkit.exporters.markdown_ import describe_date
from records_toolkit.plugins import Context, Format, Importer, load
from records_toolkit.schemas import load_model

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "records"
GOLDEN = ROOT / "tests" / "golden" / "article.ics"
MODEL = load_model()
NO_EPOCH = {"SOURCE_DATE_EPOCH": None}  # CliRunner: None unsets the variable

Record = dict[str, t.Any]
TEXT_PROPERTIES = {"SUMMARY", "DESCRIPTION", "LOCATION", "NAME", "X-WR-CALNAME", "X-EDTF"}  # CATEGORIES: one value
ESCAPED_TEXT = re.compile(r"(?:[^\\;,]|\\[\\;,nN])*")  # §3.3.11 ESCAPED-CHAR / TSAFE-CHAR


# -- helpers ---------------------------------------------------------------------------------------


def export(records: list[Record], *, epoch: int | None = None, **options: str):
    values = {"imprecise": "skip", "calname": "", "previous": "", "refresh": "P1D"} | options
    return IcsFormat().export(records, Context.create(values, source_date_epoch=epoch))


def calendar_bytes(records: list[Record], **options: str) -> bytes:
    (data,) = export(records, **options).files.values()
    return data


def check_bytes(data: bytes) -> list[str]:
    """RFC 5545 §3.1 at the byte level (no parser checks these); returns the unfolded lines."""
    assert data.endswith(b"\r\n")
    physical = data.split(b"\r\n")
    assert physical[-1] == b""
    for raw in physical[:-1]:
        assert b"\r" not in raw and b"\n" not in raw, raw  # every line break is CRLF
        assert 0 < len(raw) <= 75, raw  # folded at 75 octets
        raw.decode("utf-8")  # no UTF-8 sequence split by a fold
    unfolded = data.replace(b"\r\n ", b"").decode("utf-8").split("\r\n")[:-1]
    for content in unfolded:
        # §3.3.11: no CONTROL characters (HTAB is allowed); \n in text is the two characters "\n"
        assert not any(c != "\t" and (ord(c) < 0x20 or ord(c) == 0x7F) for c in content), content
        name, _, value = content.partition(":")
        if name in TEXT_PROPERTIES:  # parsers forgive a bare , or ; in TEXT: check it here
            assert ESCAPED_TEXT.fullmatch(value), content
    return unfolded


def check_structure(lines: list[str]) -> None:
    """§3.6 / §3.6.1: one VCALENDAR with VERSION and PRODID once; each VEVENT's required properties."""
    names = [line.split(":", 1)[0].split(";", 1)[0] for line in lines]
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert names.count("BEGIN") == names.count("END")
    assert lines.count("VERSION:2.0") == 1 and names.count("PRODID") == 1
    assert "METHOD" not in names
    events: list[list[str]] = []
    for line, name in zip(lines, names):
        if line == "BEGIN:VEVENT":
            events.append([])
        elif events and line != "END:VEVENT":
            events[-1].append(name)
    for props in events:
        for required in ("UID", "DTSTAMP", "LAST-MODIFIED", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "STATUS"):
            assert props.count(required) == 1, (required, props)
        assert "DURATION" not in props
    for line in lines:
        if line.startswith(("DTSTAMP:", "LAST-MODIFIED:")):  # §3.8.7.2-3: UTC
            assert re.fullmatch(r"[0-9]{8}T[0-9]{6}Z", line.split(":")[1]), line
        if line.startswith("SEQUENCE:"):  # §3.8.7.4, §3.3.8
            assert re.fullmatch(r"0|[1-9][0-9]{0,9}", line[9:]) and int(line[9:]) < 2**31, line
        if line.startswith("STATUS:"):
            assert line[7:] in ("TENTATIVE", "CONFIRMED", "CANCELLED")
    # without METHOD, DTSTAMP means what LAST-MODIFIED means (§3.8.7.2): one time, written twice
    stamps = [line.split(":")[1] for line in lines if line.startswith("DTSTAMP:")]
    assert stamps == [line.split(":")[1] for line in lines if line.startswith("LAST-MODIFIED:")]


def parse_both(data: bytes) -> tuple[icalendar.Calendar, t.Any]:
    """Parse with icalendar (no component errors) and with ical (raises on what it rejects)."""
    cal = icalendar.Calendar.from_ical(data)
    for component in cal.walk():
        assert component.errors == [], component.errors
    strict = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    for event in strict.events:  # same type for start and end, end later (§3.8.2.2)
        assert type(event.dtstart) is dt.date and type(event.dtend) is dt.date
        assert event.dtend > event.dtstart
    return cal, strict


def events_of(cal: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e["UID"]).removesuffix("@records-toolkit"): e for e in cal.walk("VEVENT")}


def event_record(event_id: str, date: str | None, *, status: str = "took-place", **extra: t.Any) -> Record:
    record: Record = {"id": event_id, "type": "event", "name": f"Event {event_id}", "kind": "exercise"}
    if date is not None:
        record["date"] = date
    record |= {"status": status, **extra}
    return sourced(record, f"https://example.org/{event_id}?a=1,2;b")


def sourced(record: Record, url: str) -> Record:
    """Give the record one web source supporting every fact (the validator wants each one sourced)."""
    facts = [k for k in record if k not in ("id", "type", "description", "notes")]
    record["sources"] = [{"url": url, "title": "Example, a source", "supports": facts}]
    return record


# -- the plugin ------------------------------------------------------------------------------------


def test_registered_as_a_format_without_importer() -> None:
    plugin = load("ics")
    assert isinstance(plugin, Format) and not isinstance(plugin, Importer)
    assert (plugin.name, plugin.suffix, plugin.media_type, plugin.directory) == ("ics", ".ics", "text/calendar", False)
    assert {o.name: (o.default, o.choices) for o in plugin.options} == {
        "imprecise": ("skip", ("skip", "span")),
        "calname": ("", None),
        "previous": ("", None),
        "refresh": ("P1D", None),
    }


# -- the shipped records ---------------------------------------------------------------------------

SHIPPED_DAYS = {  # event id: (DTSTART, DTEND), DTEND exclusive (§3.8.2.2)
    "shusha-declaration-signing": ("20210615", "20210616"),
    "aliyev-anadolu-agency-interview-2021": ("20210927", "20210928"),
    "azerbaijan-mod-announces-2022-drills": ("20220106", "20220107"),
    "efes-2022": ("20220509", "20220610"),
    "international-army-games-2022": ("20220813", "20220828"),
    "military-education-agreement-1992-signing": ("19920811", "19920812"),
    "second-nagorno-karabakh-war": ("20200927", "20201111"),
}
SHIPPED_IMPRECISE = {
    "eternity-2022": ("20220101", "20230101"),
    "indestructible-brotherhood-2022": ("20220101", "20230101"),
    "winter-training-2022": ("20220101", "20230101"),
    "azerbaijani-servicemen-international-seminars-2022": ("20220101", "20230101"),
}
SHIPPED_UNBOUNDED = {"parachute-course-113-kayseri", "turkey-mond-reports-parachute-course"}  # [..2022-01-21]
SHIPPED_UNDATED = {"azerbaijan-turkey-periodic-joint-drills"}  # "periodically": no date at all


def test_golden_file_of_the_shipped_records(runner: CliRunner, update_golden: bool) -> None:
    result = runner.invoke(main, ["export", "--format", "ics", str(RECORDS)], env=NO_EPOCH)
    assert result.exit_code == 0, result.output
    if update_golden:
        GOLDEN.write_bytes(result.stdout_bytes)
    assert result.stdout_bytes == GOLDEN.read_bytes()


def test_shipped_day_precise_events_and_nothing_invented() -> None:
    exported = export(shipped())
    (data,) = exported.files.values()
    check_structure(check_bytes(data))
    cal, strict = parse_both(data)
    events = events_of(cal)
    assert set(events) == set(SHIPPED_DAYS)
    for event_id, (start, end) in SHIPPED_DAYS.items():
        assert f"{events[event_id]['DTSTART'].to_ical().decode()}" == start
        assert f"{events[event_id]['DTEND'].to_ical().decode()}" == end
        assert events[event_id]["DTSTART"].params["VALUE"] == "DATE"
        assert events[event_id]["STATUS"] == "CONFIRMED"
    assert len(strict.events) == len(SHIPPED_DAYS)
    # the skipped ones are named, each with its date as written
    assert len(exported.notices) == len(SHIPPED_IMPRECISE) + len(SHIPPED_UNBOUNDED) + len(SHIPPED_UNDATED)
    for event_id in SHIPPED_UNDATED:
        assert f"event {event_id}: no date; left out of the calendar" in exported.notices
    for event_id in SHIPPED_IMPRECISE:
        assert any(f"event {event_id}: date '2022'" in n for n in exported.notices)
    for event_id in SHIPPED_UNBOUNDED:
        assert any(f"event {event_id}: date '[..2022-01-21]'" in n for n in exported.notices)
    # DTSTAMP from the data: the article's date_published, at midnight UTC; a first export: SEQUENCE 0
    assert all(str(e["DTSTAMP"].to_ical().decode()) == "20220121T000000Z" for e in events.values())
    assert all(e["LAST-MODIFIED"].dt == e["DTSTAMP"].dt and e["SEQUENCE"] == 0 for e in events.values())


DEFENCE_TURKEY = (
    "https://www.defenceturkey.com/en/content/efes-2022-combined-joint-live-fire-exercise-successfully-completed-5190"
)


def test_shipped_event_properties() -> None:
    cal, strict = parse_both(calendar_bytes(shipped()))
    efes = events_of(cal)["efes-2022"]
    assert str(efes["SUMMARY"]) == "EFES-2022 Combined Joint Live-Fire Field Exercise"
    assert str(efes["LOCATION"]) == "İzmir, Seferihisar"
    assert (efes["GEO"].latitude, efes["GEO"].longitude) == (38.41885, 27.12872)  # İzmir, the first with coordinates
    assert str(efes["URL"]) == DEFENCE_TURKEY  # the first outside source: the page that states the dates
    assert efes["CATEGORIES"].cats == ["exercise"]
    assert str(efes["TRANSP"]) == "TRANSPARENT" and str(efes["X-EDTF"]) == "2022-05-09/2022-06-09"
    description = str(efes["DESCRIPTION"])
    assert description.startswith("Hosted by Türkiye at the Doğanbey firing area (Seferihisar, İzmir).")
    assert "Date (EDTF): 2022-05-09/2022-06-09" in description
    assert f"EFES-2022 Combined Joint Live-Fire Exercise Successfully Completed <{DEFENCE_TURKEY}>" in description
    assert (
        "TRT World, 2022-06-10: Türkiye successfully completes its largest military exercise in Aegean <https://www.trtworld.com/article/12787850>"
        in description
    )
    assert "EFES - 2022" in description  # the article's quote
    interview = next(e for e in strict.events if e.uid == "aliyev-anadolu-agency-interview-2021@records-toolkit")
    assert interview.url == "https://president.az/en/articles/view/53249/print"  # first url source, not the article
    assert interview.location is None and interview.geo is None
    name = "Events from Azernews, 2022-01-21: Azerbaijani servicemen at a parachute course in Kayseri"
    assert strict.name == [name]  # from the collection (icalendar 7.3 leaves NAME's TEXT escapes in: not checked)
    assert (strict.extras[0].name, strict.extras[0].value) == ("x-wr-calname", name.replace(",", "\\,"))
    assert strict.refresh_interval == dt.timedelta(days=1) and cal["X-PUBLISHED-TTL"] == "P1D"  # subscribers


def test_shipped_imprecise_events_as_spans() -> None:
    exported = export(shipped(), imprecise="span")
    (data,) = exported.files.values()
    check_structure(check_bytes(data))
    cal, _strict = parse_both(data)
    events = events_of(cal)
    assert set(events) == set(SHIPPED_DAYS) | set(SHIPPED_IMPRECISE)
    statuses = {r["id"]: r["status"] for r in shipped() if r["type"] == "event"}
    for event_id, (start, end) in SHIPPED_IMPRECISE.items():
        event = events[event_id]
        assert (event["DTSTART"].to_ical().decode(), event["DTEND"].to_ical().decode()) == (start, end)
        assert str(event["SUMMARY"]).endswith(" [sometime in 2022]")  # a 365-day banner says so
        # TENTATIVE only when planned: Eternity-2022 took place, known to the year
        expected = {"planned": "TENTATIVE", "took-place": "CONFIRMED"}[statuses[event_id]]
        assert str(event["STATUS"]) == expected and str(event["TRANSP"]) == "TRANSPARENT"
        assert str(event["X-EDTF"]) == "2022" and "Date (EDTF): 2022 " in str(event["DESCRIPTION"])
    assert str(events["eternity-2022"]["STATUS"]) == "CONFIRMED"
    assert [n for n in exported.notices if "open or unknown side" in n] == [
        f"event {i}: date '[..2022-01-21]' means on or before 21 Jan 2022, with an open or unknown side; left out "
        "(not even -O imprecise=span can show it)"
        for i in sorted(SHIPPED_UNBOUNDED)
    ]
    assert len(exported.notices) == len(SHIPPED_UNBOUNDED) + len(SHIPPED_UNDATED)


# -- the CLI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [1, 2])
def test_past_twenty_events_left_out_the_rest_are_counted_by_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """A large calendar left thousands of events out, a notice each (15,912 lines at 100,000
    records): the first twenty are named with why, the rest counted by reason in one notice,
    the same whether one process writes the calendar or several write its slices."""
    import sys

    from records_toolkit import api
    from records_toolkit.exporters import ics

    sys.path.insert(0, str(ROOT / "bench"))
    from corpus import make  # (the shipped records copied: 7 events left out in each copy)

    make(tmp_path / "many", 300)
    monkeypatch.setattr("records_toolkit.slices.MIN_RECORDS", 100)  # (slices from a few hundred events)
    said = api.export([tmp_path / "many"], "ics", jobs=jobs, source_date_epoch=0).notices
    monkeypatch.setattr(ics, "SHOWN_LEFT_OUT", 10**9)
    every = api.export([tmp_path / "many"], "ics", jobs=1, source_date_epoch=0).notices
    assert len(every) == 7 * 300 and len(said) == 21 and said[:20] == every[:20]
    rest = every[20:]
    undated = sum(": no date; " in n for n in rest)
    imprecise = sum("(-O imprecise=span shows it" in n for n in rest)
    open_sided = sum("(not even -O imprecise=span" in n for n in rest)
    assert undated + imprecise + open_sided == len(rest) and min(undated, imprecise, open_sided) > 0
    assert said[20] == (
        f"{len(rest):,} more events left out of the calendar: {undated:,} without a date, {imprecise:,} known to a "
        f"year, a month or a span of days only (-O imprecise=span shows them), {open_sided:,} with an open or "
        "unknown side"
    )


def test_cli_writes_the_calendar_to_stdout_and_notices_to_stderr(runner: CliRunner) -> None:
    result = runner.invoke(main, ["export", "--format", "ics", str(RECORDS)], env=NO_EPOCH)
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert b"notice" not in result.stdout_bytes
    cal, _ = parse_both(result.stdout_bytes)
    assert len(cal.walk("VEVENT")) == len(SHIPPED_DAYS)
    notices = [line for line in result.stderr.splitlines() if line.startswith("notice: ")]
    assert len(notices) == len(SHIPPED_IMPRECISE) + len(SHIPPED_UNBOUNDED) + len(SHIPPED_UNDATED)
    assert "notice: event eternity-2022: date '2022' means 2022 (year only), not a day; left out" in result.stderr


def test_cli_writes_a_file_with_options_and_source_date_epoch(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "feed.ics"
    args = [
        "export",
        "--format",
        "ics",
        str(RECORDS),
        "-o",
        str(out),
        "-O",
        "imprecise=span",
        "-O",
        "calname=Drills; 2022, AZ",
    ]
    result = runner.invoke(main, args, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"" and f"wrote {out}" in result.stderr
    data = out.read_bytes()
    lines = check_bytes(data)
    assert "NAME:Drills\\; 2022\\, AZ" in lines and "X-WR-CALNAME:Drills\\; 2022\\, AZ" in lines
    cal, strict = parse_both(data)
    assert strict.name == ["Drills; 2022, AZ"]
    stamps = {e["DTSTAMP"].dt for e in cal.walk("VEVENT")}
    assert stamps == {dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)}
    assert len(cal.walk("VEVENT")) == len(SHIPPED_DAYS) + len(SHIPPED_IMPRECISE)


def test_cli_refuses_an_unknown_imprecise_policy(runner: CliRunner) -> None:
    result = runner.invoke(main, ["export", "--format", "ics", str(RECORDS), "-O", "imprecise=guess"])
    assert result.exit_code == 2 and "use one of skip, span" in result.stderr


# -- precision, one level at a time ----------------------------------------------------------------

SPANS = [  # (EDTF, DTSTART, DTEND, what the SUMMARY adds) for what is bounded but not known to the day
    ("2022", "20220101", "20230101", " [sometime in 2022]"),
    ("2024-02", "20240201", "20240301", " [sometime in Feb 2024]"),
    ("2022-12", "20221201", "20230101", " [sometime in Dec 2022]"),
    ("2022~", "20220101", "20230101", " [sometime in 2022 (approximate)]"),
    ("2022-06%", "20220601", "20220701", " [sometime in Jun 2022 (uncertain, approximate)]"),
    ("2022-01/2022-03", "20220101", "20220401", " [starts sometime in Jan 2022, ends sometime in Mar 2022]"),
]
SHOWN = [  # (EDTF, DTSTART, DTEND, SUMMARY of "Event drill") shown whatever the policy: a day is known
    ("2022-05-09?", "20220509", "20220510", "Event drill [date uncertain]"),
    ("2022-05-09~", "20220509", "20220510", "Event drill [date approximate]"),
    ("2022-05-09%", "20220509", "20220510", "Event drill [date uncertain, approximate]"),
    ("2022-01-21~/2022-02-02", "20220121", "20220203", "Event drill [start approximate]"),
    ("2022-01-21/2022-02-02?", "20220121", "20220203", "Event drill [end uncertain]"),
    ("2022-06-21/..", "20220621", "20220622", "Start: Event drill"),  # "starts June 21"
    ("2022-06-21/", "20220621", "20220622", "Start: Event drill"),
    ("2022-06-21?/..", "20220621", "20220622", "Start: Event drill [date uncertain]"),
    ("../2022-01-21", "20220121", "20220122", "End: Event drill"),
    ("/2022-01-21~", "20220121", "20220122", "End: Event drill [date approximate]"),
]
UNBOUNDED = ["2022/", "/2022-03", "2022-01/..", "../2022", "[..2022-01-21]", "[2022..]"]


@pytest.mark.parametrize(("date", "start", "end", "marks"), SPANS)
def test_imprecise_date_is_skipped_by_default_and_spanned_on_request(
    date: str, start: str, end: str, marks: str
) -> None:
    records = [event_record("drill", date), event_record("anchor", "2022-03-04")]
    assert_valid(records)
    skipped = export(records)
    assert skipped.notices == [
        f"event drill: date {date!r} means {describe_date(date)}, not a day; "
        "left out (-O imprecise=span shows it as a span over the days it may fall on)"
    ]
    cal, _ = parse_both(calendar_bytes(records))
    assert set(events_of(cal)) == {"anchor"}  # never put on the 1st of the month or year

    spanned = export(records, imprecise="span")
    assert spanned.notices == []
    (data,) = spanned.files.values()
    check_structure(check_bytes(data))
    cal, strict = parse_both(data)
    event = events_of(cal)["drill"]
    assert (event["DTSTART"].to_ical().decode(), event["DTEND"].to_ical().decode()) == (start, end)
    assert str(event["SUMMARY"]) == "Event drill" + marks  # the banner says it is not known to the day
    assert str(event["STATUS"]) == "CONFIRMED" and str(event["TRANSP"]) == "TRANSPARENT"  # it took place
    assert str(event["X-EDTF"]) == date and f"Date (EDTF): {date} (not known to the day" in str(event["DESCRIPTION"])
    drill = next(e for e in strict.events if e.uid == "drill@records-toolkit")
    assert drill.summary == "Event drill" + marks and [(x.name, x.value) for x in drill.extras] == [("x-edtf", date)]


@pytest.mark.parametrize(("date", "start", "end", "summary"), SHOWN)
@pytest.mark.parametrize("policy", ["skip", "span"])
def test_a_known_day_is_shown_on_that_day_and_marked(
    date: str, start: str, end: str, summary: str, policy: str
) -> None:
    records = [event_record("drill", date, status="planned"), event_record("anchor", "2022-03-04")]
    assert_valid(records)
    exported = export(records, imprecise=policy)
    assert exported.notices == []  # shown, not left out
    (data,) = exported.files.values()
    check_structure(check_bytes(data))
    cal, strict = parse_both(data)
    event = events_of(cal)["drill"]
    assert (event["DTSTART"].to_ical().decode(), event["DTEND"].to_ical().decode()) == (start, end)
    drill = next(e for e in strict.events if e.uid == "drill@records-toolkit")
    assert str(event["SUMMARY"]) == drill.summary == summary
    assert str(event["STATUS"]) == "TENTATIVE"  # planned
    assert f"Date (EDTF): {date} (" in str(event["DESCRIPTION"])  # how the date became a day, in words
    assert str(event["X-EDTF"]) == date


def test_a_known_start_with_an_imprecise_end_is_a_start_or_a_span() -> None:
    records = [event_record("drill", "2022-05-09/2022-06")]
    assert_valid(records)
    cal, _ = parse_both(calendar_bytes(records))
    event = events_of(cal)["drill"]
    assert (event["DTSTART"].dt, event["DTEND"].dt) == (dt.date(2022, 5, 9), dt.date(2022, 5, 10))
    assert str(event["SUMMARY"]) == "Start: Event drill"
    cal, _ = parse_both(calendar_bytes(records, imprecise="span"))
    event = events_of(cal)["drill"]
    assert (event["DTSTART"].dt, event["DTEND"].dt) == (dt.date(2022, 5, 9), dt.date(2022, 7, 1))
    assert str(event["SUMMARY"]) == "Event drill [ends sometime in Jun 2022]"


@pytest.mark.parametrize("date", UNBOUNDED)
@pytest.mark.parametrize("policy", ["skip", "span"])
def test_unbounded_date_is_left_out_even_as_a_span(date: str, policy: str) -> None:
    records = [event_record("drill", date), event_record("anchor", "2022-03-04")]
    assert_valid(records)
    exported = export(records, imprecise=policy)
    assert exported.notices == [
        f"event drill: date {date!r} means {describe_date(date)}, with an open or unknown side; left out "
        "(not even -O imprecise=span can show it)"
    ]
    cal, _ = parse_both(calendar_bytes(records, imprecise=policy))
    assert set(events_of(cal)) == {"anchor"}


def test_undated_event_is_left_out_with_a_notice_and_an_empty_calendar_still_parses() -> None:
    records = [event_record("someday", None)]
    assert_valid(records)
    exported = export(records, imprecise="span")
    assert exported.notices[0] == "event someday: no date; left out of the calendar"
    assert "no event could be written" in exported.notices[1]
    (data,) = exported.files.values()
    check_structure(check_bytes(data))
    cal, strict = parse_both(data)
    assert cal.walk("VEVENT") == [] and strict.events == []


def test_status_is_the_records_never_the_dates_precision() -> None:
    records = [
        event_record("a", "2022-01-01", status="planned"),
        event_record("b", "2022-01-02", status="took-place"),
        event_record("c", "2022-01-03", status="cancelled"),
        event_record("d", "2022-02", status="cancelled"),
        event_record("e", "2022-01-04", status="under-way"),
        event_record("f", "2022", status="took-place"),  # known to the year, spanned: still not tentative
        event_record("g", "2022-05-09?", status="took-place"),  # an uncertain day: the date is marked, not the status
    ]
    assert_valid(records)
    _, strict = parse_both(calendar_bytes(records, imprecise="span"))
    assert {e.uid.split("@")[0]: e.status.value for e in strict.events} == {
        "a": "TENTATIVE",
        "b": "CONFIRMED",
        "c": "CANCELLED",
        "d": "CANCELLED",
        "e": "CONFIRMED",  # under way when reported: it is happening
        "f": "CONFIRMED",
        "g": "CONFIRMED",
    }


def test_dates_a_calendar_cannot_hold_are_left_out_not_crashed_on() -> None:
    # 9999-12-31 has no exclusive end (§3.3.4 years stop at 9999); year 0000 passes the EDTF check
    records = [event_record("last", "9999-12-31"), event_record("year", "9999"), event_record("zero", "0000-03-01")]
    exported = export(records, imprecise="span")
    assert len(exported.notices) == 4 and "no event could be written" in exported.notices[3]
    assert [n.split(":")[0] for n in exported.notices[:3]] == ["event last", "event year", "event zero"]


# -- text, escaping and folding --------------------------------------------------------------------

LONG_NAME = "Шуша 🪂🇦🇿 учения «Вечность» " * 4  # Cyrillic (2 octets) and emoji (4 octets), far over 75 octets


def hostile_records() -> list[Record]:
    place = sourced(
        {
            "id": "camp",
            "type": "place",
            "name": "Camp; North, \\ East",
            "kind": "site",
            "coordinates": {"latitude": -0.0000001, "longitude": 179.9999996},
        },
        "https://example.org/camp",
    )
    event = event_record("hostile", "2022-02-28", locations=["camp"])
    event["name"] = LONG_NAME.strip()
    event["description"] = "a,b;c\\d: e\nnext line\n\n\tindented \u2028 separator"
    return [place, event]


def test_hostile_text_is_escaped_folded_and_survives_both_parsers() -> None:
    records = hostile_records()
    assert_valid(records)
    data = calendar_bytes(records)
    lines = check_bytes(data)
    check_structure(lines)
    assert len(LONG_NAME.encode()) > 2 * 75  # folds at least twice
    assert (
        "DESCRIPTION:a\\,b\\;c\\\\d: e\\nnext line\\n\\n\tindented \u2028 separator\\n\\nDate (EDTF): 2022-02-28"
        in "\n".join(lines)
    )
    assert "LOCATION:Camp\\; North\\, \\\\ East" in lines
    assert "GEO:0.000000;180.000000" in lines  # six decimals (§3.8.1.6), no "-0"
    assert "URL:https://example.org/hostile?a=1,2;b" in lines  # a URI is not TEXT-escaped (§3.8.4.6)
    cal, strict = parse_both(data)
    event = events_of(cal)["hostile"]
    (strict_event,) = strict.events
    for summary in (str(event["SUMMARY"]), strict_event.summary):
        assert summary == LONG_NAME.strip()
    for description in (str(event["DESCRIPTION"]), strict_event.description):
        assert description.startswith(records[1]["description"] + "\n\nDate (EDTF): 2022-02-28\n\nSources:\n")
        assert "- Example, a source <https://example.org/hostile?a=1,2;b>" in description
    assert str(event["LOCATION"]) == strict_event.location == "Camp; North, \\ East"
    assert str(event["URL"]) == strict_event.url == "https://example.org/hostile?a=1,2;b"


def test_control_characters_and_carriage_returns_never_reach_the_file() -> None:
    assert escape_text("a\r\nb\rc\nd") == "a\\nb\\nc\\nd"
    assert escape_text("nul\x00 vt\x0b del\x7f tab\t") == "nul\ufffd vt\ufffd del\ufffd tab\t"
    records = [event_record("ctl", "2022-01-01")]
    records[0]["name"] = "bell\x07 here"
    data = calendar_bytes(records)
    check_bytes(data)
    _, strict = parse_both(data)
    assert strict.events[0].summary == "bell\ufffd here"


@pytest.mark.parametrize("text", ["x" * 200, "Ş" * 100, "🪂" * 60, "a" + "🇦🇿" * 40, "ab" + "é" * 80])
def test_fold_never_splits_a_character_and_unfolds_to_the_line(text: str) -> None:
    folded = fold("SUMMARY:" + text)
    physical = folded.split(b"\r\n")[:-1]
    assert all(len(p) <= 75 and p.decode("utf-8") for p in physical)
    assert all(p.startswith(b" ") for p in physical[1:])
    assert max(len(p) for p in physical) >= 72  # filled, not folded early
    assert folded.replace(b"\r\n ", b"") == ("SUMMARY:" + text).encode() + b"\r\n"


# -- properties over whole collections -------------------------------------------------------------


def expected_bounds(date: str, span: bool) -> tuple[dt.date, dt.date] | None:
    """The first and last day shown, from the rules as the docs state them (not from the exporter)."""
    value = dates.parse(date)
    first, last = value.start, value.end
    is_day = [d is not None and d.precision == "day" for d in (first, last)]
    if value.kind == "date":
        assert first is not None
        return (first.lower, first.upper) if is_day[0] or span else None
    if value.kind != "interval":  # [..D], [D..]: one day, somewhere unbounded
        return None
    if all(is_day) or (span and first is not None and last is not None):
        assert first is not None and last is not None
        return first.lower, last.upper
    if is_day[0]:  # a known start: its day
        assert first is not None
        return first.lower, first.lower
    if is_day[1]:  # a known end: its day
        assert last is not None
        return last.upper, last.upper
    return None


_days = st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(2999, 12, 31))


@st.composite
def calendar_collections(draw: st.DrawFn) -> list[Record]:
    """collections(), with most events moved to a day or a span of days (drawn as they come,
    few events are day-precise, and a calendar of nothing tests nothing). Still valid."""
    records = draw(collections())
    for record in records:
        if record["type"] != "event":
            continue
        form = draw(st.sampled_from(["as drawn", "day", "days", "days"]))
        if form == "as drawn":
            continue
        first, second = sorted(draw(st.lists(_days, min_size=2, max_size=2)))
        record["date"] = first.isoformat() if form == "day" else f"{first.isoformat()}/{second.isoformat()}"
        if not any("date" in source["supports"] for source in record["sources"]):
            record["sources"][0]["supports"].append("date")
    return records


@given(records=calendar_collections(), policy=st.sampled_from(["skip", "span"]))
def test_any_collection_round_trips_through_both_parsers(records: list[Record], policy: str) -> None:
    assert_valid(records)
    first = export(records, imprecise=policy)
    second = export([dict(r) for r in reversed(records)], imprecise=policy)
    assert first.files == second.files and first.notices == second.notices  # deterministic, order-proof
    (data,) = first.files.values()
    lines = check_bytes(data)
    check_structure(lines)
    cal, strict = parse_both(data)
    parsed = events_of(cal)
    assert len(parsed) == len(cal.walk("VEVENT")) == len(strict.events)  # UIDs unique
    by_id = {r["id"]: r for r in records}
    strict_by_id = {e.uid.removesuffix("@records-toolkit"): e for e in strict.events}
    for record in (r for r in records if r["type"] == "event"):
        bounds = expected_bounds(record["date"], policy == "span") if "date" in record else None
        if bounds is None:
            assert record["id"] not in parsed
            assert sum(n.startswith(f"event {record['id']}: ") for n in first.notices) == 1
            continue
        event, strict_event = parsed[record["id"]], strict_by_id[record["id"]]
        lower, upper = bounds
        assert event["DTSTART"].dt == strict_event.dtstart == lower
        assert event["DTEND"].dt - dt.timedelta(days=1) == strict_event.dtend - dt.timedelta(days=1) == upper
        summary = str(event["SUMMARY"])
        assert summary == strict_event.summary
        if dates.parse(record["date"]).day_precise:
            assert summary == record["name"]
        else:  # marked: "Start: NAME", "NAME [date uncertain]", "NAME [sometime in 2022]"
            assert record["name"] in summary and summary != record["name"]
        assert str(event["X-EDTF"]) == record["date"]
        assert f"Date (EDTF): {record['date']}" in strict_event.description
        description = str(event["DESCRIPTION"])
        assert description == strict_event.description
        if "description" in record:
            assert description.startswith(record["description"] + "\n\n")
        for source in record["sources"]:  # long enough to cross folds: a fold error would show here
            assert (f"{source['title']} <{source['url']}>" if "url" in source else source["quote"]) in description
        assert event["CATEGORIES"].cats == [record["kind"]]
        places = [by_id[p] for p in record.get("locations", [])]
        if places:
            assert str(event["LOCATION"]) == strict_event.location == ", ".join(p["name"] for p in places)
        coords = next((p["coordinates"] for p in places if "coordinates" in p), None)
        if coords is None:
            assert "GEO" not in event
        else:
            assert abs(event["GEO"].latitude - coords["latitude"]) <= 5e-7
            assert abs(strict_event.geo.lng - coords["longitude"]) <= 5e-7
        urls = [s["url"] for s in record["sources"] if "url" in s]
        if urls:
            assert str(event["URL"]) == strict_event.url == urls[0]


def test_the_plan_of_the_slices_keeps_only_what_events_show_of_articles_and_places() -> None:
    """At 100,000 records the plan holds some 43,000 articles and places: each is a slotted value
    of its name, URL and coordinates (two numbers), not a dict of the record's keys (19 MiB of
    the ICS export's peak then, 10 now); the calendar is the same bytes (the golden file)."""
    from records_toolkit.streaming import of_records

    records = of_records(shipped())
    try:
        plan = IcsFormat().slice_plan(records, Context.create({}))
    finally:
        records.close()
    expected = {r["id"]: r for r in shipped() if r["type"] in ("article", "place")}
    assert set(plan.by_id) == set(expected)
    for record_id, shown in plan.by_id.items():
        record = expected[record_id]
        assert not hasattr(shown, "__dict__")
        assert (shown.id, shown.shown, shown.url) == (record_id, record["name"], record.get("url"))
        coordinates = record.get("coordinates")
        assert shown.geo() == (None if coordinates is None else (coordinates["latitude"], coordinates["longitude"]))
    assert plan.by_id["kayseri"].coordinates == (38.7225, 35.4875)
