"""Revisions a calendar sees (SEQUENCE, LAST-MODIFIED), the calendar's subscription properties
(REFRESH-INTERVAL, X-PUBLISHED-TTL) and its name from the collection.

A client that already holds an event replaces it only by a copy with the same UID and a higher
SEQUENCE (RFC 5545 §3.8.7.4; Outlook and Google keep the stale copy otherwise): so a changed event
must come out with a higher SEQUENCE and a later LAST-MODIFIED, and an unchanged one exactly as it
was. ``test_ics_caldav.py`` checks the same with a CalDAV server.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import tempfile
import typing as t
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner
from helpers import shipped
from hypothesis import given
from hypothesis import strategies as st
from test_ics import (
    RECORDS,
    calendar_bytes,
    calendar_collections,
    check_bytes,
    check_structure,
    event_record,
    export,
    parse_both,
)

from records_toolkit import api, errors
from records_toolkit.cli import main
from records_toolkit.exporters.ics import read_previous

Record = dict[str, t.Any]
EFES = "efes-2022@records-toolkit"


def vevents(data: bytes) -> dict[str, bytes]:
    """Each VEVENT's bytes (folded, as written), by UID."""
    blocks = data.split(b"BEGIN:VEVENT\r\n")[1:]
    found: dict[str, bytes] = {}
    for block in blocks:
        block = block.split(b"END:VEVENT\r\n")[0]
        uid = block.split(b"UID:", 1)[1].split(b"\r\n", 1)[0].decode()
        found[uid] = block
    return found


def parsed(data: bytes) -> dict[str, icalendar.Event]:
    cal, _ = parse_both(data)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def changed_efes(records: list[Record], date: str = "2022-05-10/2022-06-09") -> list[Record]:
    records = copy.deepcopy(records)
    next(r for r in records if r["id"] == "efes-2022")["date"] = date
    return records


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


# -- SEQUENCE and LAST-MODIFIED ---------------------------------------------------------------------


def test_a_changed_event_is_an_update_and_the_others_are_untouched(tmp_path: Path) -> None:
    records = shipped()
    first = calendar_bytes(records)
    previous = write(tmp_path / "calendar.ics", first)
    second = calendar_bytes(changed_efes(records), previous=previous)
    check_structure(check_bytes(second))

    old, new = parsed(first), parsed(second)
    assert set(old) == set(new)  # same UIDs: the same events, nothing duplicated
    assert (old[EFES]["SEQUENCE"], new[EFES]["SEQUENCE"]) == (0, 1)  # §3.8.7.4: an update, not a new event
    assert new[EFES]["DTSTART"].dt == dt.date(2022, 5, 10)
    # LAST-MODIFIED grows (§3.8.7.3); no clock: the data's revision time (the article's day) is not later
    # than what calendars hold, so one second after it; DTSTAMP is the same time (§3.8.7.2, no METHOD)
    assert old[EFES]["LAST-MODIFIED"].dt == dt.datetime(2022, 1, 21, tzinfo=dt.UTC)
    assert new[EFES]["LAST-MODIFIED"].dt == new[EFES]["DTSTAMP"].dt == dt.datetime(2022, 1, 21, 0, 0, 1, tzinfo=dt.UTC)
    # every other event byte for byte as it was: a subscriber sees exactly one change
    before, after = vevents(first), vevents(second)
    assert [uid for uid in after if after[uid] != before[uid]] == [EFES]

    # byte-identical for identical input, and re-exporting over the new file changes nothing more
    assert calendar_bytes(changed_efes(records), previous=previous) == second
    again = write(tmp_path / "again.ics", second)
    assert calendar_bytes(changed_efes(records), previous=again) == second


def test_each_change_bumps_again_and_a_change_back_is_a_change(tmp_path: Path) -> None:
    records = shipped()
    data = calendar_bytes(records)
    sequences = []
    for date in ("2022-05-10/2022-06-09", "2022-05-11/2022-06-09", "2022-05-09/2022-06-09"):
        data = calendar_bytes(changed_efes(records, date), previous=write(tmp_path / "c.ics", data))
        sequences.append(parsed(data)[EFES]["SEQUENCE"])
    assert sequences == [1, 2, 3]  # back to the first date: still a newer revision than what calendars hold
    assert b"LAST-MODIFIED:20220121T000003Z\r\n" in vevents(data)[EFES]  # one second per revision, no clock


def test_source_date_epoch_is_the_revision_time_and_never_goes_back(tmp_path: Path) -> None:
    records = shipped()
    first = export(records, epoch=1_700_000_000).files["calendar.ics"]
    previous = write(tmp_path / "c.ics", first)
    later = export(changed_efes(records), epoch=1_700_086_400, previous=previous).files["calendar.ics"]
    event = parsed(later)[EFES]
    assert event["SEQUENCE"] == 1 and event["LAST-MODIFIED"].dt == dt.datetime(2023, 11, 15, 22, 13, 20, tzinfo=dt.UTC)
    # a SOURCE_DATE_EPOCH before what calendars hold (a rebuilt old commit): still later than that
    earlier = export(changed_efes(records), epoch=0, previous=previous).files["calendar.ics"]
    event = parsed(earlier)[EFES]
    assert event["SEQUENCE"] == 1 and event["LAST-MODIFIED"].dt == dt.datetime(2023, 11, 14, 22, 13, 21, tzinfo=dt.UTC)
    # the unchanged ones keep their own time, whatever SOURCE_DATE_EPOCH says now
    others = [e for uid, e in parsed(earlier).items() if uid != EFES]
    assert {e["DTSTAMP"].dt for e in others} == {dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)}


def test_any_content_counts_even_what_another_record_lends_it(tmp_path: Path) -> None:
    """Any change a subscriber would see bumps SEQUENCE (§3.8.7.4 allows it beyond the dates and
    STATUS it requires): a description, a source, or the name of a place in LOCATION."""
    place = {"id": "camp", "type": "place", "name": "Camp North", "kind": "site"}
    place["sources"] = [{"url": "https://example.org/camp", "title": "Example", "supports": ["name", "kind"]}]
    records = [place, event_record("drill", "2022-03-04", locations=["camp"]), event_record("other", "2022-03-05")]
    previous = write(tmp_path / "c.ics", calendar_bytes(records))
    renamed = copy.deepcopy(records)
    renamed[0]["name"] = "Camp South"
    described = copy.deepcopy(records)
    described[1]["description"] = "Corrected."
    for changed in (renamed, described):
        events = parsed(calendar_bytes(changed, previous=previous))
        assert (events["drill@records-toolkit"]["SEQUENCE"], events["other@records-toolkit"]["SEQUENCE"]) == (1, 0)


@given(
    records=calendar_collections(), policy=st.sampled_from(["skip", "span"]), epoch=st.sampled_from([None, 0, 2**33])
)
def test_any_export_read_back_as_the_previous_one_is_unchanged(
    records: list[Record], policy: str, epoch: int | None
) -> None:
    first = export(records, imprecise=policy, epoch=epoch).files["calendar.ics"]
    with tempfile.TemporaryDirectory() as folder:
        previous = write(Path(folder) / "c.ics", first)
        again = export(records, imprecise=policy, epoch=epoch, previous=previous)
    assert again.files["calendar.ics"] == first
    assert not any("previous export" in n for n in again.notices)


def test_a_previous_export_without_revisions_continues_at_zero(tmp_path: Path) -> None:
    """An export made before SEQUENCE and LAST-MODIFIED were written: its DTSTAMP is the revision time."""
    records = [event_record("a", "2022-03-04"), event_record("b", "2022-03-05")]
    current = calendar_bytes(records, epoch=1_600_000_000)
    old = b"".join(
        line + b"\r\n" for line in current.split(b"\r\n")[:-1] if not line.startswith((b"SEQUENCE:", b"LAST-MODIFIED:"))
    )
    records[1]["name"] = "Renamed"
    events = parsed(calendar_bytes(records, previous=write(tmp_path / "old.ics", old)))
    assert events["a@records-toolkit"]["SEQUENCE"] == 0
    assert events["a@records-toolkit"]["LAST-MODIFIED"].dt == dt.datetime(2020, 9, 13, 12, 26, 40, tzinfo=dt.UTC)
    assert events["b@records-toolkit"]["SEQUENCE"] == 1


def test_a_previous_export_rewritten_by_another_tool(tmp_path: Path) -> None:
    """Property order and folding carry no meaning (§3.6, §3.1): a previous file another tool wrote
    back (icalendar, here) is no change. Any other difference in bytes is taken for one: a needless
    update is harmless, a missed one leaves a stale event in someone's calendar."""
    records = [event_record("a", "2022-03-04")]
    data = calendar_bytes(records)
    rewritten = icalendar.Calendar.from_ical(data).to_ical()
    assert rewritten != data  # its own property order and folds
    assert calendar_bytes(records, previous=write(tmp_path / "x.ics", rewritten)) == data
    lowered = data.replace(b"SUMMARY:Event a", b"SUMMARY:event a")
    events = parsed(calendar_bytes(records, previous=write(tmp_path / "y.ics", lowered)))
    assert events["a@records-toolkit"]["SEQUENCE"] == 1


def test_a_missing_previous_export_is_a_first_export(tmp_path: Path) -> None:
    records = [event_record("a", "2022-03-04")]
    missing = str(tmp_path / "none.ics")
    exported = export(records, previous=missing)
    assert exported.notices == [f"no previous export at {missing}: every event starts at SEQUENCE 0"]
    assert exported.files["calendar.ics"] == calendar_bytes(records)


def test_an_event_no_longer_exported_is_named(tmp_path: Path) -> None:
    records = [event_record("a", "2022-03-04"), event_record("b", "2022-03-05")]
    previous = write(tmp_path / "c.ics", calendar_bytes(records))
    exported = export(records[:1], previous=previous)
    assert exported.notices == [
        "event b: in the previous export, not in this one: subscribers lose it at their next refresh; "
        "a copy imported from the old file stays until removed by hand"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,name\r\na,b\r\n", "not an iCalendar file"),
        (b"", "not an iCalendar file"),
        (b"\xff\xfe junk", "not an iCalendar file"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a@records-toolkit\r\nSEQUENCE:-1\r\nEND:VEVENT\r\n", "SEQUENCE '-1'"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a@records-toolkit\r\nSEQUENCE:2147483648\r\n", ""),
    ],
)
def test_a_previous_export_that_is_not_one_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path / "prev.ics", content)
    if not message:  # an unfinished VEVENT is not remembered: nothing to refuse
        assert read_previous(path) == {}
        return
    with pytest.raises(errors.OptionError, match=message):
        export([event_record("a", "2022-03-04")], previous=path)


def test_a_previous_export_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.OptionError, match="not a regular file"):
        export([event_record("a", "2022-03-04")], previous=str(tmp_path))
    fifo = tmp_path / "fifo.ics"
    os.mkfifo(fifo)
    with pytest.raises(errors.OptionError, match="not a regular file"):  # never opened: it would block
        export([event_record("a", "2022-03-04")], previous=str(fifo))


def test_the_cli_reads_the_file_it_replaces_all_or_nothing(runner: CliRunner, tmp_path: Path) -> None:
    """The weekly job: ``-o calendar.ics -O previous=calendar.ics``. The old file is read before the
    new one replaces it (a streamed, all-or-nothing write), and an invalid run leaves it as it was."""
    records = tmp_path / "records"
    shutil.copytree(RECORDS, records)
    out = tmp_path / "site" / "calendar.ics"
    args = ["export", "-f", "ics", str(records), "-o", str(out), "-O", f"previous={out}"]
    env = {"SOURCE_DATE_EPOCH": None}
    first = runner.invoke(main, args, env=env)
    assert first.exit_code == 0, first.output
    assert f"notice: no previous export at {out}: every event starts at SEQUENCE 0" in first.stderr
    week1 = out.read_bytes()
    efes = records / "events" / "efes-2022.yaml"
    efes.write_text(efes.read_text("utf-8").replace('date: "2022-05-09/2022-06-09"', 'date: "2022-05-10/2022-06-09"'))
    second = runner.invoke(main, args, env=env)
    assert second.exit_code == 0, second.output
    assert "no previous export" not in second.stderr
    week2 = out.read_bytes()
    assert parsed(week2)[EFES]["SEQUENCE"] == 1
    assert [uid for uid, block in vevents(week2).items() if block != vevents(week1)[uid]] == [EFES]
    assert api.export([records], "ics", previous=str(out), source_date_epoch=None).data == week2  # stable

    efes.write_text(efes.read_text("utf-8").replace('date: "2022-05-10/2022-06-09"', 'date: "2022-05-10/2022-02-30"'))
    broken = runner.invoke(main, args, env=env)
    assert broken.exit_code == 1 and out.read_bytes() == week2  # nothing written, the old file kept
    assert [p.name for p in out.parent.iterdir()] == ["calendar.ics"]  # no temporary file left

    efes.write_text(efes.read_text("utf-8").replace("2022-02-30", "2022-06-09"))
    not_a_calendar = runner.invoke(main, [*args[:-1], f"previous={records / 'events' / 'efes-2022.yaml'}"], env=env)
    assert not_a_calendar.exit_code == 2 and "not an iCalendar file" in not_a_calendar.stderr
    assert out.read_bytes() == week2


def test_exporting_over_last_weeks_calendar_revises_it_without_asking(runner: CliRunner, tmp_path: Path) -> None:
    """``toolkit export -f ics records -o calendar.ics`` run every week: the file it replaces is its
    previous export (the option's default), so a correction reaches subscribers with no extra flag."""
    records = tmp_path / "records"
    shutil.copytree(RECORDS, records)
    out = tmp_path / "calendar.ics"
    args = ["export", "-f", "ics", str(records), "-o", str(out)]
    first = runner.invoke(main, args, env={"SOURCE_DATE_EPOCH": None})
    assert first.exit_code == 0 and "previous" not in first.stderr  # a first export says nothing about it
    efes = records / "events" / "efes-2022.yaml"
    efes.write_text(efes.read_text("utf-8").replace('date: "2022-05-09/2022-06-09"', 'date: "2022-05-10/2022-06-09"'))
    week1 = out.read_bytes()
    assert runner.invoke(main, args, env={"SOURCE_DATE_EPOCH": None}).exit_code == 0
    week2 = out.read_bytes()
    assert parsed(week2)[EFES]["SEQUENCE"] == 1
    assert [uid for uid, block in vevents(week2).items() if block != vevents(week1)[uid]] == [EFES]
    stray = tmp_path / "notes.ics"  # the file replaced is no calendar: a first export, said so, not a refusal
    stray.write_text("my notes", encoding="utf-8")
    replaced = runner.invoke(main, [*args[:-1], str(stray)], env={"SOURCE_DATE_EPOCH": None})
    assert replaced.exit_code == 0 and "is no earlier export (not an iCalendar file" in replaced.stderr
    assert parsed(stray.read_bytes())[EFES]["SEQUENCE"] == 0
    explicit = runner.invoke(main, [*args[:-1], str(tmp_path / "x.ics"), "-O", f"previous={out.parent / 'nope.txt'}"])
    assert explicit.exit_code == 0 and "no previous export at" in explicit.stderr  # named, missing: first export
    (tmp_path / "nope.txt").write_text("not a calendar", encoding="utf-8")
    explicit = runner.invoke(main, [*args[:-1], str(tmp_path / "x.ics"), "-O", f"previous={tmp_path / 'nope.txt'}"])
    assert explicit.exit_code == 2  # named by the user: a mistake, refused
    elsewhere = tmp_path / "fresh.ics"  # another file: a first export, every event at SEQUENCE 0
    assert runner.invoke(main, [*args[:-1], str(elsewhere)], env={"SOURCE_DATE_EPOCH": None}).exit_code == 0
    assert parsed(elsewhere.read_bytes())[EFES]["SEQUENCE"] == 0


# -- the calendar: refresh and name ------------------------------------------------------------------


def test_subscribers_are_told_how_often_to_refresh() -> None:
    records = [event_record("a", "2022-03-04")]
    lines = check_bytes(calendar_bytes(records))
    assert lines[4:8] == [lines[4], lines[5], "REFRESH-INTERVAL;VALUE=DURATION:P1D", "X-PUBLISHED-TTL:P1D"]
    data = calendar_bytes(records, refresh="PT6H")
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT6H\r\nX-PUBLISHED-TTL:PT6H\r\n" in data
    _, strict = parse_both(data)
    assert strict.refresh_interval == dt.timedelta(hours=6)
    none = calendar_bytes(records, refresh="")
    assert b"REFRESH-INTERVAL" not in none and b"X-PUBLISHED-TTL" not in none


@pytest.mark.parametrize("value", ["P1W", "P2D", "PT1H30M", "PT45M", "PT30S", "P1DT12H", "PT1H0M10S"])
def test_refresh_takes_any_positive_duration(value: str) -> None:
    assert f"REFRESH-INTERVAL;VALUE=DURATION:{value}".encode() in calendar_bytes(
        [event_record("a", "2022-03-04")], refresh=value
    )


@pytest.mark.parametrize(
    "value", ["1D", "P", "PT", "P0D", "PT0S", "-P1D", "+P1D", "P1DT", "PT1H5S", "P1W2D", "p1d", "P１D", " P1D"]
)
def test_refresh_refuses_what_is_not_a_positive_duration(value: str) -> None:
    with pytest.raises(errors.OptionError, match="positive iCalendar duration"):
        export([event_record("a", "2022-03-04")], refresh=value)


def article(article_id: str, name: str, published: str) -> Record:
    record = {"id": article_id, "type": "article", "name": name, "date_published": published, "language": "en"}
    record["sources"] = [
        {
            "url": f"https://example.org/{article_id}",
            "title": "Example",
            "supports": ["name", "date_published", "language"],
        }
    ]
    return record


def test_the_calendar_is_named_after_the_collection() -> None:
    event = event_record("a", "2022-03-04")
    one = [article("x", "Daily, 2022-03-05: Drills", "2022-03-05"), event]
    two = [*one, article("y", "Weekly: More drills", "2022-03-01")]
    for records, name in [
        (one, "Events from Daily, 2022-03-05: Drills"),
        (two, "Events from 2 articles, 2022-03-01 to 2022-03-05"),
        ([event], "Events of the records"),
    ]:
        _, strict = parse_both(calendar_bytes(records))
        assert strict.name == [name]
    _, strict = parse_both(calendar_bytes(two, calname="Newsroom: drills 2022"))
    assert strict.name == ["Newsroom: drills 2022"]


def test_through_a_link_the_file_replaced_is_still_the_previous_export(runner: CliRunner, tmp_path: Path) -> None:
    """``-o`` may be a symbolic link (a site's `calendar.ics -> releases/…`): the file written is its
    target, so the target is what is read as the previous export."""
    records = tmp_path / "records"
    shutil.copytree(RECORDS, records)
    (tmp_path / "site").mkdir()
    real = tmp_path / "site" / "real.ics"
    link = tmp_path / "calendar.ics"
    link.symlink_to(real)
    args = ["export", "-f", "ics", str(records), "-o", str(link)]
    assert runner.invoke(main, args, env={"SOURCE_DATE_EPOCH": None}).exit_code == 0
    efes = records / "events" / "efes-2022.yaml"
    efes.write_text(efes.read_text("utf-8").replace('date: "2022-05-09/2022-06-09"', 'date: "2022-05-10/2022-06-09"'))
    assert runner.invoke(main, args, env={"SOURCE_DATE_EPOCH": None}).exit_code == 0
    assert link.is_symlink() and parsed(real.read_bytes())[EFES]["SEQUENCE"] == 1


def test_a_previous_revision_at_the_end_of_time_is_refused_not_a_crash(tmp_path: Path) -> None:
    records = shipped()
    first = calendar_bytes(records).replace(b"LAST-MODIFIED:20220121T000000Z", b"LAST-MODIFIED:99991231T235959Z")
    previous = write(tmp_path / "c.ics", first)
    with pytest.raises(errors.OptionError, match="cannot grow"):
        calendar_bytes(changed_efes(records), previous=previous)


def test_a_previous_file_of_indented_lines_costs_what_its_bytes_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An indented JSON export replaced by a calendar: every line after the first begins with a
    space, a fold in iCalendar. Joined as they came, 8 MB took four minutes and no signal ended it."""
    import time

    from records_toolkit.exporters import ics

    lines = b"{\n" + b'    "name": "a value of the graph",\n' * 250_000 + b"}\n"  # 9 MB
    path = write(tmp_path / "prev.ics", lines)
    started = time.monotonic()
    with pytest.raises(errors.OptionError, match="does not begin with BEGIN:VCALENDAR"):
        read_previous(path)
    path = write(tmp_path / "prev.ics", b"BEGIN:VCALENDAR\r\n" + lines)  # (a calendar's head on it)
    assert read_previous(path) == {}
    assert time.monotonic() - started < 5  # (linear: about 0.1 s; quadratic it was minutes)
    monkeypatch.setattr(ics, "_LONGEST", 1000)
    with pytest.raises(errors.OptionError, match="a content line longer than 1,000 bytes"):
        read_previous(path)
    one = write(tmp_path / "one.ics", b"BEGIN:VCALENDAR\r\n" + b"x" * 5000)  # one line, no end
    with pytest.raises(errors.OptionError, match="a content line longer than 1,000 bytes"):
        read_previous(one)


def _lines_as_read_line_by_line(data: bytes, longest: int) -> list[bytes] | str:
    """The unfolded lines as the reader took them before it read a mebibyte at a time: readline
    by readline, each line's CRs and LF stripped, a line starting with a space or tab a fold.
    A line past ``longest`` bytes (its LF counted): "too long"."""
    import io

    stream = io.BytesIO(data)
    out: list[bytes] = []
    pieces: list[bytes] = []
    size = 0
    for raw in iter(lambda: stream.readline(longest + 1), b""):
        if len(raw) > longest:
            return "too long"
        line = raw.rstrip(b"\r\n")
        if line[:1] in (b" ", b"\t") and pieces:
            pieces.append(line[1:])
            size += len(line) - 1
            if size > longest:
                return "too long"
            continue
        if pieces:
            out.append(b"".join(pieces))
        pieces, size = [line], len(line)
    if pieces:
        out.append(b"".join(pieces))
    return out


@given(
    st.lists(st.sampled_from([b"A", b"BC:d", b"\r\n", b"\n", b"\r", b" ", b"\t", b"\r\n ", b"xyz"]), max_size=40),
    st.integers(1, 9),
    st.integers(3, 30),
)
def test_the_lines_read_in_blocks_are_the_lines_read_one_by_one(parts: list[bytes], block: int, longest: int) -> None:
    """Folds, CRs and the length limit across the edges of the blocks read (a few bytes here)."""
    import io

    from records_toolkit.exporters import ics

    data = b"".join(parts)
    expected = _lines_as_read_line_by_line(data, longest)
    real = (ics._READ, ics._LONGEST)
    ics._READ, ics._LONGEST = block, longest
    try:
        got: list[bytes] | str = list(ics._logical_lines(io.BytesIO(data), "x"))
    except errors.OptionError as exc:
        assert "a content line longer than" in str(exc)
        got = "too long"
    finally:
        ics._READ, ics._LONGEST = real
    assert got == expected


@given(
    st.text(st.sampled_from("0123456789TZ٣ ") | st.characters(), min_size=14, max_size=18)
    | st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%Y%m%dT%H%M%SZ").rjust(16, "0")
    )
    | st.from_regex(r"[0-9]{8}T[0-9]{6}Z", fullmatch=True)
)
def test_a_utc_time_is_read_as_strptime_reads_it(value: str) -> None:
    from records_toolkit.exporters import ics

    try:
        expected = dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC) if len(value) == 16 else None
    except ValueError:
        expected = None
    assert ics.parse_utc(value) == expected


def test_a_digest_is_of_each_line_then_a_line_feed() -> None:
    """The digest kept for each event of a previous export: each content line sorted, then LF; its
    revision's lines (DTSTAMP, SEQUENCE, LAST-MODIFIED) left out, unchanged by its reading at once."""
    import hashlib

    from records_toolkit.exporters import ics

    lines = [b"SUMMARY:b", b"DTSTAMP:20220121T000000Z", b"UID:a", b"X:", b"SEQUENCE:2"]
    expected = hashlib.sha256()
    for line in sorted(line for line in lines if not line.startswith((b"DTSTAMP", b"SEQUENCE"))):
        expected.update(line + b"\n")
    revisions: dict[str, ics.Revision] = {}
    ics._remember(revisions, lines, "x")
    assert revisions["a"].digest == expected.digest()
    assert revisions["a"].sequence == 2
    assert ics.content_digest([]) == hashlib.sha256().digest()
    only_revision: dict[str, ics.Revision] = {}
    ics._remember(only_revision, [b"UID:a", b"DTSTAMP:20220121T000000Z"], "x")
    assert only_revision["a"].digest == hashlib.sha256(b"UID:a\n").digest()


@pytest.mark.parametrize("size", [8, 9, 10, 11])
@pytest.mark.parametrize("end", [b"\n", b"\r\n", b""])
@pytest.mark.parametrize("block", [1, 4, 10, 64])
def test_the_longest_line_is_where_it_was(size: int, end: bytes, block: int) -> None:
    """A line of the limit's length is refused with its LF, taken without (the last line)."""
    import io

    from records_toolkit.exporters import ics

    data = b"x" * size + end + b"y\n"
    expected = _lines_as_read_line_by_line(data, 10) if end else _lines_as_read_line_by_line(b"x" * size, 10)
    if not end:
        data = b"x" * size
    real = (ics._READ, ics._LONGEST)
    ics._READ, ics._LONGEST = block, 10
    try:
        got: list[bytes] | str = list(ics._logical_lines(io.BytesIO(data), "x"))
    except errors.OptionError:
        got = "too long"
    finally:
        ics._READ, ics._LONGEST = real
    assert got == expected


def test_coordinates_another_tool_writes_shorter_are_no_change(tmp_path: Path) -> None:
    """icalendar writes GEO:38.41885;27.12872 where the export wrote 38.418850;27.128720: the same
    FLOATs (§3.3.7), so no event is taken for changed (helper-80: two of seven were, SEQUENCE 1).
    Other coordinates are a change."""
    records = shipped()
    data = calendar_bytes(records)
    assert b"GEO:38.418850;27.128720" in data
    rewritten = icalendar.Calendar.from_ical(data).to_ical()
    assert b"GEO:38.41885;27.12872" in rewritten
    assert calendar_bytes(records, previous=write(tmp_path / "x.ics", rewritten)) == data
    moved = data.replace(b"GEO:38.418850;27.128720", b"GEO:38.418851;27.128720")
    bumped = [
        uid
        for uid, event in parsed(calendar_bytes(records, previous=write(tmp_path / "y.ics", moved))).items()
        if event["SEQUENCE"] == 1
    ]
    assert len(bumped) >= 1


@pytest.mark.parametrize(
    ("line", "as_written"),
    [
        (b"GEO:38.41885;27.12872", b"GEO:38.418850;27.128720"),
        (b"geo:-0.0;1", b"GEO:0.000000;1.000000"),
        (b"GEO:+40;-3.5", b"GEO:40.000000;-3.500000"),
        (b"GEO;X-A=1:38.41885;27.12872", b"GEO;X-A=1:38.41885;27.12872"),  # (a parameter: as it is)
        (b"GEO:1e5;2", b"GEO:1e5;2"),  # (no FLOAT of §3.3.7)
        (b"GEO:1.5", b"GEO:1.5"),
    ],
)
def test_a_geo_line_is_read_as_the_export_writes_its_floats(line: bytes, as_written: bytes) -> None:
    from records_toolkit.exporters import ics

    assert ics._geo_as_written(line) == as_written
