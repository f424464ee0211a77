"""Each export step against the obvious library doing the same job, on records already loaded.

``compare(records)`` times, in interleaved rounds (medians), the toolkit's format step (records in
memory to bytes, as ``toolkit export`` runs it) and a plain rendition of the same output by the
obvious tool: icalendar for ics, ``json.dumps(indent=2, sort_keys=True)`` for jsonld,
``csv.DictWriter`` for csv, ``str.format`` templates for markdown. It returns rows
``(name, seconds, ratio)``, ratio = the library's time / the toolkit's (3 means 3x faster).

    python bench/exports.py [COPIES]     # the shipped records copied COPIES times (default 228: ~10k)
"""

from __future__ import annotations

import csv
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


def _icalendar(records: list[dict[str, t.Any]]) -> object:
    import icalendar

    from records_toolkit import dates

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//bench//EN")
    calendar.add("version", "2.0")
    names = {r["id"]: r.get("name", r["id"]) for r in records if r["type"] in ("place", "article")}
    for record in records:
        if record["type"] != "event" or not isinstance(record.get("date"), str):
            continue
        value = dates.parse(record["date"])
        if not value.day_precise or value.lower is None or value.upper is None:
            continue
        event = icalendar.Event()
        event.add("uid", f"{record['id']}@bench")
        event.add("dtstart", value.lower)
        event.add("dtend", value.upper)
        event.add("summary", record["name"])
        event.add("description", record.get("description", ""))
        event.add("location", ", ".join(names.get(p, p) for p in record.get("locations", [])))
        calendar.add_component(event)
    return calendar.to_ical()


def _json(records: list[dict[str, t.Any]]) -> object:
    graph = [{"@id": f"https://x.example/{r['type']}/{r['id']}", **r} for r in records]
    return json.dumps({"@context": "https://schema.org", "@graph": graph}, indent=2, sort_keys=True, ensure_ascii=False)


def _dictwriter(records: list[dict[str, t.Any]]) -> object:
    by_type: dict[str, list[dict[str, t.Any]]] = {}
    for record in records:
        by_type.setdefault(record["type"], []).append(record)
    out = {}
    for type_name, items in by_type.items():
        fields = sorted({k for r in items for k in r})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\r\n")
        writer.writeheader()
        for record in items:
            writer.writerow({k: v if isinstance(v, (str, int, float)) else json.dumps(v) for k, v in record.items()})
        out[type_name] = buffer.getvalue().encode()
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
    "markdown": ("str.format templates", _templates),
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
