"""Each export step against the obvious library doing the same job, on records already loaded.

``compare(records)`` times, in interleaved rounds (medians), the toolkit's format step (records in
memory to bytes, as ``toolkit export`` runs it) and the same export written by the obvious tool:
icalendar for ics, ``json.dumps(indent=2, sort_keys=True)`` of the same document for jsonld,
``csv.DictWriter`` for the same tables and data package for csv (tests/test_bench_peers.py holds
them to the toolkit's output: byte for byte, and the calendar as icalendar reads both). The
markdown peer, ``str.format`` rows of a four-column table, does a smaller job than the report
(there is no obvious library for it). It returns rows ``(name, seconds, ratio)``, ratio = the
library's time / the toolkit's (3 means 3x faster).

    python bench/exports.py [COPIES]     # the shipped records copied COPIES times (default 228: ~10k)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
import sys
import tempfile
import time
import typing as t
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _ours(fmt: str, records: t.Any) -> t.Callable[[], object]:
    from records_toolkit.api import _export
    from records_toolkit.plugins import Context, load, resolve_options

    plugin = load(fmt)
    context = Context.create(resolve_options(plugin, {}), source_date_epoch=0)
    return lambda: _export(plugin, records, context, None)


def _icalendar(records: list[dict[str, t.Any]]) -> bytes:
    """The calendar ``toolkit export -f ics`` writes (default options, SOURCE_DATE_EPOCH=0, no
    previous export), built and serialised by icalendar: the same events, properties and values;
    which events are shown, their days and texts decided by the format's own rules (not the job
    compared: the serialisation is)."""
    import icalendar

    from records_toolkit import dates
    from records_toolkit.exporters import ics

    by_id = {r["id"]: r for r in records if r["type"] in ("article", "place")}
    shown = {record_id: ics._Shown(record_id, record) for record_id, record in by_id.items()}  # (for its texts)
    articles = [r for r in records if r["type"] == "article"]
    now = ics.dtstamp(articles, 0)
    name = ics.calendar_name(articles)
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", ics.PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", icalendar.vText(name))  # (RFC 7986 NAME is TEXT; icalendar 7 does not know it)
    calendar.add("x-wr-calname", icalendar.vText(name))
    calendar.add("refresh-interval", dt.timedelta(days=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "P1D")
    for record in sorted((r for r in records if r["type"] == "event"), key=lambda r: r["id"]):
        text = record.get("date")
        if not isinstance(text, str):
            continue
        try:
            value = dates.parse(text)
            placed = ics.place(value, False)
        except ValueError:
            continue
        if isinstance(placed, str):  # left out (open, imprecise, unwritable)
            continue
        event = icalendar.Event()
        event.add("uid", f"{record['id']}{ics.UID_SUFFIX}")
        event.add("dtstamp", now)
        event.add("last-modified", now)
        event.add("sequence", 0)
        event.add("dtstart", placed.start)
        event.add("dtend", placed.end)
        event.add("summary", f"{placed.prefix}{record['name']}{placed.suffix}")
        event.add("description", ics.IcsFormat._description(record, shown, value, placed.how))
        places = [by_id.get(ref) or {"id": ref} for ref in record.get("locations", [])]
        if places:
            event.add("location", ", ".join(str(p.get("name", p["id"])) for p in places))
        geo = next((p["coordinates"] for p in places if isinstance(p.get("coordinates"), dict)), None)
        if geo is not None:
            # (icalendar writes a float as str() does, 1e-05 included: FLOAT has no exponent, §3.3.7)
            lat, lon = ics.format_float(geo["latitude"]), ics.format_float(geo["longitude"])
            event.add("geo", icalendar.prop.vInline(f"{lat};{lon}"))
        url = ics.IcsFormat._url(record, shown)
        if url:
            event.add("url", url)
        event.add("categories", [str(record["kind"])])
        event.add("status", ics._STATUS.get(record.get("status", ""), "TENTATIVE"))
        event.add("transp", "TRANSPARENT")
        event.add("x-edtf", text)
        calendar.add_component(event)
    return t.cast(bytes, calendar.to_ical())


def _json(records: list[dict[str, t.Any]]) -> bytes:
    """The document ``toolkit export -f jsonld`` writes (default options), built as one dict
    (``jsonld.document``: the same nodes) and written by ``json.dumps(indent=2)``."""
    from records_toolkit.exporters import jsonld

    text = json.dumps(jsonld.document(records), indent=2, sort_keys=True, ensure_ascii=False)
    return (text.replace("<", "\\u003c") + "\n").encode()


def _dictwriter(records: list[dict[str, t.Any]]) -> dict[str, bytes]:
    """The tables ``toolkit export -f csv`` writes (default options: cells guarded) and their data
    package, each table by ``csv.DictWriter``: one row dict per record or list item, its cells by
    the format's rules (the layout read from the schemas, the formula guard)."""
    from records_toolkit.exporters import csv_
    from records_toolkit.schema_view import SchemaView
    from records_toolkit.schemas import load_model

    tables = csv_.layout(SchemaView.of(load_model()))
    by_type: dict[str, list[dict[str, t.Any]]] = {}
    for record in sorted(records, key=lambda r: r["id"]):
        by_type.setdefault(record["type"], []).append(record)
    out: dict[str, bytes] = {}
    for table in tables:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[c.name for c in table.columns], lineterminator="\r\n")
        writer.writeheader()
        owner, positions = table.keys[0], table.keys[1:]
        for record in by_type.get(table.record_type, []):
            key = csv_._cell(owner, record["id"], True)
            for at, item in csv_._walk(record, table.lists):
                row = {owner.name: key}
                row.update((column.name, str(p)) for column, p in zip(positions, at))
                row.update((c.name, csv_._cell(c, csv_._get(item, c.path), True)) for c in table.values)
                writer.writerow(row)
        out[table.path] = buffer.getvalue().encode()
    out[csv_.PACKAGE] = csv_._package(tables, True)
    return out


_ROW = "| {name} | {kind} | {date} | {description} |"


def _templates(records: list[dict[str, t.Any]]) -> object:
    lines = ["# Records", "", "| Name | Kind | Date | Description |", "| --- | --- | --- | --- |"]
    for record in records:
        lines.append(
            _ROW.format(
                name=record.get("name", record["id"]),
                kind=record.get("kind", record["type"]),
                date=record.get("date", record.get("date_published", "")),
                description=str(record.get("description", "")).replace("\n", " "),
            )
        )
    return "\n".join(lines).encode()


PEERS: dict[str, tuple[str, t.Callable[[list[dict[str, t.Any]]], object]]] = {
    "ics": ("icalendar", _icalendar),
    "jsonld": ("json.dumps(indent=2)", _json),
    "csv": ("csv.DictWriter", _dictwriter),
    "markdown": ("str.format rows, a smaller job", _templates),
}


def _seconds(job: t.Callable[[], object]) -> float:
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def compare(records: t.Sequence[dict[str, t.Any]], rounds: int = 3) -> list[tuple[str, float, float]]:
    """``(name, median seconds, ratio)`` for each format's step and its peer, interleaved rounds.

    ``records``: validated records (e.g. ``api.validate([...]).valid``). The toolkit's step reads
    them as ``toolkit export`` does (spooled, decoded as read); the peers get the plain list.
    """
    from records_toolkit.streaming import of_records

    plain = list(records)
    spooled = of_records(plain)
    try:
        times: dict[str, list[float]] = {}
        for _ in range(rounds):
            for fmt, (peer, job) in PEERS.items():
                times.setdefault(f"toolkit {fmt}", []).append(_seconds(_ours(fmt, spooled)))
                times.setdefault(f"{peer} ({fmt})", []).append(_seconds(lambda job=job: job(plain)))
    finally:
        spooled.close()
    rows: list[tuple[str, float, float]] = []
    for fmt, (peer, _job) in PEERS.items():
        ours = statistics.median(times[f"toolkit {fmt}"])
        theirs = statistics.median(times[f"{peer} ({fmt})"])
        rows.append((f"toolkit {fmt}", ours, 1.0))
        rows.append((f"{peer} ({fmt})", theirs, theirs / ours if ours else float("inf")))
    return rows


def main(argv: list[str]) -> None:
    from corpus import make

    from records_toolkit import api

    copies = int(argv[0]) if argv else 228
    with tempfile.TemporaryDirectory() as work:
        count = make(Path(work) / "corpus", copies)
        records = api.validate([Path(work) / "corpus"]).valid
        print(f"{count:,} records")
        print("| step | median s | peer time / toolkit time |\n|---|---:|---:|")
        for name, seconds, ratio in compare(records):
            print(f"| {name} | {seconds:.3f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main(sys.argv[1:])
