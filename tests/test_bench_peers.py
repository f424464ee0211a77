"""The benchmark's export peers do the toolkit's job (issue 11: "the obvious library doing the same job").

``bench/exports.py`` times each format's step against icalendar, ``json.dumps(indent=2)`` and
``csv.DictWriter`` producing the same export: a ratio means something only if they do. Checked
with the libraries themselves: the CSV tables and the JSON-LD document byte for byte, the
calendar property by property as icalendar reads both files, on the shipped records, on a corpus
of copies (the benchmark's own) and on generated collections.
"""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import icalendar
from hypothesis import HealthCheck, assume, given, settings
from strategies import collections

from records_toolkit import api
from records_toolkit.streaming import of_records

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402  (bench/, on the path above)
import exports  # noqa: E402


def _ours(fmt: str, records: list[dict[str, t.Any]]) -> t.Mapping[str, bytes]:
    spooled = of_records(records)
    try:
        return dict(exports._ours(fmt, spooled)().files)  # type: ignore[attr-defined]
    finally:
        spooled.close()


def _properties(component: icalendar.cal.Component) -> list[tuple[str, bytes]]:
    return sorted((name, value.to_ical()) for name, value in component.items())


def _assert_same_calendar(ours: bytes, theirs: bytes) -> int:
    mine, peer = icalendar.Calendar.from_ical(ours), icalendar.Calendar.from_ical(theirs)
    assert _properties(mine) == _properties(peer)
    events = [_properties(event) for event in mine.walk("VEVENT")]
    assert events == [_properties(event) for event in peer.walk("VEVENT")]
    return len(events)


def _assert_same_exports(records: list[dict[str, t.Any]], *, exact: bool = True) -> int:
    """``exact``: the JSON-LD byte for byte (else as JSON reads it: the export writes ``-0.0`` as
    ``0.0``, the format's rule, which json.dumps does not know)."""
    jsonld = _ours("jsonld", records)
    assert list(jsonld) == ["records.jsonld"]
    if exact:
        assert jsonld["records.jsonld"] == exports._json(records)
    else:
        assert json.loads(jsonld["records.jsonld"]) == json.loads(exports._json(records))
    assert _ours("csv", records) == exports._dictwriter(records)
    return _assert_same_calendar(_ours("ics", records)["calendar.ics"], exports._icalendar(records))


def test_the_peers_write_the_shipped_records_export() -> None:
    records = api.validate([ROOT / "records"]).valid
    events = _assert_same_exports(records)
    assert events == 7  # the day-known events: located, with GEO, URLs and revisions
    calendar = icalendar.Calendar.from_ical(exports._icalendar(records))
    assert any("GEO" in event for event in calendar.walk("VEVENT"))
    assert any("LOCATION" in event for event in calendar.walk("VEVENT"))


def test_the_peers_write_the_benchmark_corpus_export(tmp_path: Path) -> None:
    corpus.make(tmp_path / "corpus", 3)
    records = api.validate([tmp_path / "corpus"]).valid
    assert len(records) == 3 * len(api.validate([ROOT / "records"]).valid)
    assert _assert_same_exports(records) == 21


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collections(max_per_type=2))
def test_the_peers_write_a_generated_collection_export(records: list[dict[str, t.Any]]) -> None:
    report = api.validate_records(records)
    assume(report.ok)  # (the strategy's collections are valid: a drift would fail the health check)
    _assert_same_exports(report.valid, exact=False)


def test_a_different_job_is_seen() -> None:
    """The comparison fails when a peer drops a property or a row (it is not vacuous)."""
    records = api.validate([ROOT / "records"]).valid
    calendar = icalendar.Calendar.from_ical(exports._icalendar(records))
    for event in calendar.walk("VEVENT"):
        event.pop("LOCATION", None)
    try:
        _assert_same_calendar(_ours("ics", records)["calendar.ics"], calendar.to_ical())
    except AssertionError:
        pass
    else:
        raise AssertionError("a calendar without LOCATION passed as the same")
    tables = exports._dictwriter(records)
    assert any(data.count(b"\r\n") > 1 for data in tables.values())
    shorter = {
        name: data.rsplit(b"\r\n", 2)[0] + b"\r\n" if data.count(b"\r\n") > 1 else data for name, data in tables.items()
    }
    assert _ours("csv", records) != shorter
