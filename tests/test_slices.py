"""A whole export written by several processes (issue 11): CSV, JSON-LD and ICS in slices.

``toolkit export`` of a large collection cuts the sorted records into one slice per worker; this
process writes the first straight into the files, forked workers the others, and the slices
are joined in order. The files must be the ones one process writes: checked here byte for byte
(the format law, ``records_toolkit.testing.check_format``, checks it on generated collections).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from helpers import RECORDS, shipped
from hypothesis import given
from hypothesis import strategies as st

from records_toolkit import api, slices, workers
from records_toolkit.errors import CouldNotRun, PluginError, UsageError
from records_toolkit.plugins import Context, Sliced, load, resolve_options, run_stream
from records_toolkit.streaming import of_records
from records_toolkit.testing import _slices_join_to_the_stream

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402  (bench/, on the path above)

SLICED = ["csv", "jsonld", "ics", "markdown"]


def _context(name: str, **options: str) -> Context:
    return Context.create(resolve_options(load(name), options), source_date_epoch=0)


def _files(into: dict[str, list[bytes]]) -> t.Callable[[str], t.Any]:
    class _File:
        def __init__(self, name: str) -> None:
            self.write = into.setdefault(name, []).append

    return _File


def test_every_built_in_format_is_written_in_slices() -> None:
    assert sorted(name for name in SLICED if isinstance(load(name), Sliced)) == sorted(SLICED)
    assert t.cast(Sliced, load("ics")).slice_types == ("event",)  # (its work is the events: they are shared out)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("csv", {}),
        ("csv", {"cells": "raw"}),
        ("jsonld", {}),
        ("jsonld", {"context": "remote", "base": "https://example.org/r#"}),
        ("ics", {}),
        ("ics", {"imprecise": "span", "calname": "Drills", "refresh": ""}),
        ("markdown", {}),
    ],
)
def test_every_cut_of_the_shipped_records_joins_to_the_stream(name: str, options: dict[str, str]) -> None:
    plugin, context = load(name), _context(name, **options)
    records = shipped()
    _slices_join_to_the_stream(t.cast(Sliced, plugin), records, context)  # 1 to 5 slices
    spooled = of_records(records)
    try:
        whole: dict[str, list[bytes]] = {}
        notices, names = run_stream(plugin, spooled, context, _files(whole))
        plan = t.cast(Sliced, plugin).slice_plan(spooled, context)
        for count in (8, len(records)):  # down to a record a slice
            joined: dict[str, list[bytes]] = {}
            said, named = slices.join(
                plugin, spooled, context, plan, slices.cut(spooled, count), _files(joined), parallel=False
            )
            assert (named, said) == (names, notices)
            assert {n: b"".join(v) for n, v in joined.items()} == {n: b"".join(v) for n, v in whole.items()}
    finally:
        spooled.close()


def test_a_calendar_in_slices_revises_against_the_previous_export_as_a_whole_one(tmp_path: Path) -> None:
    records = shipped()
    previous = tmp_path / "previous.ics"
    previous.write_bytes(api.export(records, "ics", source_date_epoch=0).files["calendar.ics"])
    gone = next(r["id"] for r in records if r["type"] == "event" and "date" in r)
    changed = [dict(r, name=r["name"] + " (corrected)") if r["type"] == "event" else r for r in records]
    kept = [r for r in changed if r["id"] != gone]
    context = Context.create(resolve_options(load("ics"), {"previous": str(previous)}), source_date_epoch=0)
    _slices_join_to_the_stream(t.cast(Sliced, load("ics")), kept, context)
    exported = api.export(kept, "ics", source_date_epoch=0, previous=str(previous))
    assert any(n.startswith(f"event {gone}: in the previous export, not in this one") for n in exported.notices)
    assert b"SEQUENCE:1" in exported.files["calendar.ics"]  # (the corrected events are revised)


def test_the_markdown_slices_weigh_the_records_their_pieces_read() -> None:
    """The report cuts its own pieces (a table row, an event's line after the table...): each
    weighs the bytes of the record it reads, so four events of 100 KB of description at the end of
    the timeline spread over the slices (each weighing one, the lines after the table of a hostile
    tester's 11,500 events fell into 2 slices of 8: 46 of 48 MB, and no faster than one process)."""
    from records_toolkit.plugins import Slice

    records: list[dict[str, t.Any]] = [{"id": "a", "type": "article", "name": "A", "date_published": "2022"}]
    for n in range(40):
        event = {
            "id": f"e{n:02d}",
            "type": "event",
            "name": f"E{n}",
            "kind": "meeting",
            "date": f"2022-05-{n % 28 + 1:02d}",
        }
        records.append({**event, "description": "word " * (20_000 if n >= 36 else 2)})
    spooled = of_records(records)
    try:
        plugin, context = t.cast(Sliced, load("markdown")), _context("markdown")
        plan = plugin.slice_plan(spooled, context)
        written = []
        for number in range(1, 9):
            into: dict[str, list[bytes]] = {}
            plugin.stream_slice(spooled, context, plan, Slice(number, 8), _files(into))
            written.append(sum(map(len, into.get("records.md", []))))
        heaviest = 100_000 + 1_000  # (one event's line after the table: one piece, in one slice)
        assert max(written) <= sum(written) / 8 + heaviest, written
        assert sum(1 for size in written if size > 50_000) >= 4  # (each heavy line in a slice of its own)
    finally:
        spooled.close()


@given(
    st.lists(
        st.tuples(st.sampled_from(["agreement", "article", "event", "place", "person"]), st.integers(0, 6000)),
        max_size=60,
    ),
    st.integers(1, 9),
    st.lists(st.sampled_from(["event", "place", "nothing"]), max_size=2),
)
def test_a_cut_is_contiguous_never_empty_and_shares_the_weight_of_the_given_types_evenly(
    kinds: list[tuple[str, int]], count: int, weighted: list[str]
) -> None:
    records = of_records({"type": name, "id": f"r{n:03d}", "notes": "x" * size} for n, (name, size) in enumerate(kinds))
    try:
        ranges = slices.cut(records, count, weighted)
        if not kinds:
            assert ranges == [(0, 0)]  # (the one slice of no records: it writes the heads)
            return
        assert ranges[0][0] == 0 and ranges[-1][1] == len(records)
        assert all(a < b for a, b in ranges) and all(ranges[n][1] == ranges[n + 1][0] for n in range(len(ranges) - 1))
        assert 1 <= len(ranges) <= count
        counted = [name in weighted for name in records.types]
        if not any(counted):
            counted = [True] * len(records)
        weights = [
            size + slices.RECORD_WEIGHT if weigh else 0 for size, weigh in zip(records.sizes(0, len(records)), counted)
        ]
        total, heaviest, asked = sum(weights), max(weights), min(count, sum(counted))
        # Each slice holds at most its share of what was left to share (one record more heavy than
        # that: that record alone), and a slice takes at least its share less one record; so a
        # share grows by at most one record over the slices left, and the last one, which takes
        # what is left, holds at most the even share and heaviest x (1 + 1/2 + ... + 1/(asked-1)).
        # (Hypothesis found a bound of one record false: six light records, then two heavy ones.)
        drift = sum(1 / n for n in range(1, asked))
        assert all(sum(weights[a:b]) <= max(heaviest, total / asked + heaviest * drift) + 1 for a, b in ranges)
        assert sum(weights[ranges[-1][0] :]) > 0 or len(ranges) == 1  # (the last slice has a share)
    finally:
        records.close()


def test_one_heavy_record_takes_one_slice_and_the_rest_is_shared_again() -> None:
    heavy = [{"type": "event", "id": "e0", "notes": "x" * 1_000_000}]
    light = [{"type": "event", "id": f"e{n:04d}", "notes": "x" * 100} for n in range(1, 3000)]
    records = of_records(heavy + light)
    try:
        ranges = slices.cut(records, 8)
        assert len(ranges) == 8 and ranges[0] == (0, 1)
        sizes = [b - a for a, b in ranges[1:]]
        assert max(sizes) - min(sizes) <= 1  # (2,999 records of one weight in seven slices)
    finally:
        records.close()


def test_a_cut_follows_the_bytes_and_the_count_of_the_records() -> None:
    """Two slices of 1,000 small records and 100 records ten times their size: cut by count, the
    first slice would take all the large ones; by bytes alone, too many of the small ones."""
    large = [{"type": "event", "id": f"e{n:04d}", "notes": "x" * 2000} for n in range(100)]
    small = [{"type": "place", "id": f"p{n:04d}", "notes": "x" * 200} for n in range(1000)]
    records = of_records(large + small)
    try:
        [(_, middle), (_, end)] = slices.cut(records, 2)
        weight = [size + slices.RECORD_WEIGHT for size in records.sizes(0, end)]
        assert abs(sum(weight[:middle]) - sum(weight[middle:])) <= max(weight)
        half_of_the_bytes = sum(records.sizes(0, end)) / 2
        by_bytes = 100 + round((half_of_the_bytes - sum(records.sizes(0, 100))) / records.sizes(100, 101)[0])
        assert by_bytes < middle < 550, (by_bytes, middle)  # (550: by count)
    finally:
        records.close()


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker pools the slices started (the number of workers of each), from now on."""
    started: list[int] = []
    real = workers.in_order

    def counting(work: t.Any, tasks: t.Any, count: int, what: str, **given: t.Any) -> t.Any:
        started.append(count)
        return real(work, tasks, count, what, **given)

    monkeypatch.setattr(workers, "in_order", counting)
    return started


@pytest.mark.parametrize("name", SLICED)
def test_workers_write_the_slices_and_the_files_are_the_ones_one_process_writes(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    started = _calls(monkeypatch)
    alone = api.export([RECORDS], name, to=tmp_path / "alone", jobs=1, source_date_epoch=0)
    assert started == []
    for jobs in (2, 3, 7):
        out = tmp_path / f"jobs{jobs}"
        sliced = api.export([RECORDS], name, to=out, jobs=jobs, source_date_epoch=0)
        # (as many workers as jobs, this process writing the first of up to PER_WORKER slices a
        # worker: fewer when the collection holds fewer slices of MIN_RECORDS)
        assert started[-1] == jobs or (jobs == 7 and 1 < started[-1] < jobs)
        assert list(sliced.files) == list(alone.files) and sliced.notices == alone.notices
        for file in alone.files:
            assert sliced.files[file] == alone.files[file], file
    in_memory = api.export([RECORDS], name, jobs=2, source_date_epoch=0)  # (no path: the files returned)
    assert dict(in_memory.files) == dict(alone.files) and len(started) == 4


def test_csv_compiles_each_tables_fill_function_once_however_many_the_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan holds them and the workers inherit them: compiled in each slice, some thirty
    tables' functions were a tenth of the slice's time (and eight slices compiled them eight times)."""
    from records_toolkit.exporters import csv_

    log = tmp_path / "built"
    real = csv_._fill_builder

    def counting(table: t.Any, guarded: bool) -> t.Any:
        with log.open("a") as file:  # (one line a call, from this process or a worker)
            file.write(f"{os.getpid()} {table.name}\n")
        return real(table, guarded)

    def built() -> list[str]:
        lines = log.read_text().splitlines()
        log.unlink()
        assert {line.split()[0] for line in lines} == {str(os.getpid())}  # (never in a worker)
        return [line.split()[1] for line in lines]

    monkeypatch.setattr(csv_, "_fill_builder", counting)
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    tables = [table.name for table in csv_.layout(_context("csv").schema)]
    started = _calls(monkeypatch)
    sliced = api.export([RECORDS], "csv", to=tmp_path / "sliced", jobs=3, source_date_epoch=0)
    assert started == [3] and built() == tables  # (here, once, before the workers were forked)
    alone = api.export([RECORDS], "csv", to=tmp_path / "alone", jobs=1, source_date_epoch=0)
    assert built() == tables and dict(sliced.files) == dict(alone.files)


def test_ctypes_is_loaded_once_before_the_workers_are_forked(tmp_path: Path) -> None:
    """The workers, the walk's helper and the export's end all use the C library (``prctl``,
    ``syncfs``): loaded once before the forks, where each worker imported ctypes anew (3 to 8 ms)."""
    code = (
        "from records_toolkit import api, slices, workers; slices.MIN_RECORDS = 2; import sys; "
        "real = workers.in_order; "
        "workers.in_order = lambda *a, **k: print('pool', a[2], flush=True) or real(*a, **k); "
        "api.export([sys.argv[1]], 'csv', to=sys.argv[2], jobs=2, source_date_epoch=0)"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, str(RECORDS), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "events.csv").is_file()
    assert "pool 2" in done.stdout.splitlines()  # (the slices were written by two forked workers)
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert imported.count("ctypes") == 1, imported.count("ctypes")  # (every process prints its imports here)


def test_a_small_collection_or_one_job_is_written_by_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    started = _calls(monkeypatch)
    api.export([RECORDS], "jsonld", jobs=4)  # 44 records: not two slices of MIN_RECORDS
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    api.export([RECORDS], "markdown", jobs=1)
    assert started == []


_BROKEN = """
from records_toolkit.exporters.jsonld import JsonLdFormat

class Broken(JsonLdFormat):
    name = "broken"

    def stream_slice(self, records, context, plan, piece, open):
        import os, signal
        if piece.number == 2 and "{how}" == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if piece.number == 2:
            raise ZeroDivisionError("a bug in slice two")
        return super().stream_slice(records, context, plan, piece, open)
"""


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_slice_that_fails_in_a_worker_fails_the_export_and_nothing_is_written(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / f"brokenfmt_{how}.py"
    module.write_text(_BROKEN.replace("{how}", how), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = __import__(f"brokenfmt_{how}").Broken()
    monkeypatch.setattr("records_toolkit.plugins.load", lambda name: plugin)
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    target = tmp_path / "out.jsonld"
    target.write_bytes(b"the previous export\n")
    expected = PluginError if how == "raise" else CouldNotRun
    with pytest.raises(expected) as caught:
        api.export([RECORDS], "broken", to=target, jobs=2)
    said = str(caught.value)
    assert ("ZeroDivisionError: a bug in slice two" in said) if how == "raise" else ("ended unexpectedly" in said)
    assert caught.value.exit_code == 3
    assert target.read_bytes() == b"the previous export\n"
    assert {p.name for p in tmp_path.iterdir()} <= {"out.jsonld", module.name, "__pycache__"}  # (no staging left)


_KILLED_HOLDING = """
import os, signal, time
from records_toolkit import workers
from records_toolkit.errors import CouldNotRun

def shared_count():
    (count,) = workers._BEGUN.values()
    return count

def work(number):
    if number == 0:  # the worst moment to die: holding the shared count's lock, if it has one
        lock = getattr(shared_count(), "get_lock", None)
        if lock is not None:
            lock().acquire()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return number

def meanwhile():  # this process's own share, which reads the count after the worker died
    time.sleep(0.5)
    print("count read:", shared_count().value >= 0, flush=True)

try:
    list(workers.in_order(work, [(n,) for n in range(6)], 2, "the test", meanwhile=meanwhile))
except CouldNotRun as exc:
    print("error:", exc)
"""


def test_a_worker_killed_at_any_moment_is_an_error_never_a_hang() -> None:
    """The count of begun tasks the workers share holds no lock a killed worker could keep: the
    pool terminates the other workers when one dies (and Ctrl-C kills them all), and a lock left
    held made this process wait for ever (1 export in about 50 with a slice's worker killed, on a
    busy machine)."""
    done = subprocess.run([sys.executable, "-c", _KILLED_HOLDING], capture_output=True, text=True, timeout=60)
    assert "count read: True" in done.stdout, done.stderr
    assert "error: the test could not run: a worker process ended unexpectedly" in done.stdout, done.stderr


@pytest.mark.slow
def test_a_real_export_of_two_thousand_records_in_workers_is_byte_identical(tmp_path: Path) -> None:
    corpus.make(tmp_path / "corpus", 46)  # 2,024 records: two slices of MIN_RECORDS
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0"}
    for name in SLICED:
        outputs = []
        for jobs in ("1", "2"):
            target = tmp_path / f"{name}-{jobs}"
            done = subprocess.run(
                [sys.executable, "-m", "records_toolkit", "export", "--no-cache", "-f", name, "--jobs", jobs,
                 str(tmp_path / "corpus"), "-o", str(target)],
                capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            files = sorted(target.rglob("*")) if target.is_dir() else [target]
            outputs.append(([f.relative_to(target).as_posix() for f in files], [f.read_bytes() for f in files if f.is_file()],
                            done.stderr.replace(str(target), "OUT")))  # fmt: skip
        assert outputs[0] == outputs[1], name


_SLOW = """
import builtins, os, sys, time
from records_toolkit import cli, plugins, slices
NOTED = sys.argv[2]
from records_toolkit.exporters.jsonld import JsonLdFormat

class Slow(JsonLdFormat):
    name = "slow"

    def stream_slice(self, records, context, plan, piece, open):
        if piece.number == 2:  # a worker that takes long: the export waits for it
            with builtins.open(NOTED, "w") as noted:
                noted.write(str(os.getpid()))
            time.sleep(30)
        return super().stream_slice(records, context, plan, piece, open)

plugins.load = lambda name: Slow()
slices.MIN_RECORDS = 2
sys.argv = ["toolkit", "export", "--no-cache", "-f", "jsonld", "--jobs", "2", sys.argv[1], "-o", sys.argv[3]]
cli.run()
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_this_process_waits_for_a_worker_stops_the_export_at_once(tmp_path: Path, signum: int) -> None:
    """The write defers signals to the next piece written; a wait on a worker writes none, and
    still ends at the signal (not when the worker is done), the workers stopped, nothing changed."""
    import time

    target, noted = tmp_path / "out.jsonld", tmp_path / "worker.pid"
    target.write_bytes(b"the previous export\n")
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW, str(RECORDS), str(noted), str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while not (noted.exists() and noted.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = int(noted.read_text())
    time.sleep(0.3)  # (this process is waiting for the worker by now)
    sent = time.monotonic()
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert time.monotonic() - sent < 10, "the export waited for the worker"
    assert process.returncode in (130, 143) and "Traceback" not in err, (process.returncode, err)
    assert target.read_bytes() == b"the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonld", "worker.pid"]  # (no staging left)
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)  # (the worker stopped too)


def _sliced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> t.Any:
    """A JSON-LD format whose slices behave as ``body`` says (Python, in ``stream_slice``)."""
    import textwrap

    name = f"sliced_{abs(hash(body)) % 10**8}"
    code = (
        "from records_toolkit.exporters.jsonld import JsonLdFormat\n"
        "from records_toolkit.errors import UsageError\n\n"
        "class Odd(JsonLdFormat):\n"
        "    name = 'odd'\n\n"
        "    def stream_slice(self, records, context, plan, piece, open):\n"
        + textwrap.indent(textwrap.dedent(body), " " * 8)
    )
    (tmp_path / f"{name}.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = __import__(name).Odd()
    monkeypatch.setattr("records_toolkit.plugins.load", lambda _name: plugin)
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    return plugin


@pytest.mark.parametrize(
    ("body", "expected", "said"),
    [
        (  # a summary that cannot travel back from the worker
            "super().stream_slice(records, context, plan, piece, open)\nreturn lambda: None",
            PluginError,
            "a summary that can be pickled",
        ),
        (  # a single-file format whose second slice names another file
            "name = 'records.jsonld' if piece.first else 'other.jsonld'\nopen(name).write(b'x')\nreturn 1",
            PluginError,
            "exactly one file",
        ),
        (  # a usage error keeps its exit code, as in one process
            "if piece.number == 2:\n    raise UsageError('not with these records')\n"
            "return super().stream_slice(records, context, plan, piece, open)",
            UsageError,
            "not with these records",
        ),
    ],
)
def test_a_slice_that_breaks_the_contract_in_a_worker_is_said_as_in_one_process(
    body: str, expected: type[Exception], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = _sliced(tmp_path, monkeypatch, body)
    target = tmp_path / "out.jsonld"
    target.write_bytes(b"the previous export\n")
    with pytest.raises(expected, match=said) as caught:
        api.export([RECORDS], "odd", to=target, jobs=2)
    assert caught.value.exit_code == (2 if expected is UsageError else 3)  # type: ignore[attr-defined]
    assert target.read_bytes() == b"the previous export\n"
    if expected is not UsageError:  # (one process writes it whole, with stream: the law catches it)
        with pytest.raises((PluginError, AssertionError)):
            _slices_join_to_the_stream(plugin, shipped(), _context("jsonld"))


def test_pieces_and_copies_of_any_size_join_to_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    monkeypatch.setattr(slices, "_PIECE", 7)  # (a worker's bytes in pieces of a few bytes, copied 5 at a time)
    monkeypatch.setattr(slices, "_COPY", 5)
    for name in SLICED:
        alone = api.export([RECORDS], name, jobs=1, source_date_epoch=0)
        sliced = api.export([RECORDS], name, jobs=4, source_date_epoch=0)
        assert dict(sliced.files) == dict(alone.files) and sliced.notices == alone.notices, name


def test_exports_in_threads_at_once_each_write_their_own_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    corpus.make(tmp_path / "more", 2)
    sources = {"csv": [RECORDS], "jsonld": [tmp_path / "more"], "ics": [tmp_path / "more"]}
    expected = {
        name: dict(api.export(paths, name, jobs=1, source_date_epoch=0).files) for name, paths in sources.items()
    }
    got: dict[str, t.Any] = {}

    def run(name: str) -> None:
        for _ in range(3):
            got[name] = dict(api.export(sources[name], name, jobs=2, source_date_epoch=0).files)
            if got[name] != expected[name]:
                return

    threads = [threading.Thread(target=run, args=(name,)) for name in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert got == expected


def test_no_more_processes_than_four_a_core_whatever_jobs_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--jobs 100000`` is a typo: it must not start a process per file or per record."""
    cores = len(os.sched_getaffinity(0))
    assert workers.count(None) == cores and workers.count(1) == 1 and workers.count(10**5) == 4 * cores
    started = _calls(monkeypatch)
    monkeypatch.setattr(slices, "MIN_RECORDS", 1)
    api.validate([RECORDS], jobs=10**5, cache=False)
    api.export([RECORDS], "csv", jobs=10**5)
    assert started and all(count <= 4 * cores for count in started), started


def test_a_full_temporary_folder_in_a_worker_says_where_and_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from records_toolkit.streaming import Spool

    def full(self: Spool, blob: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    plugin, context = load("jsonld"), _context("jsonld")
    spooled = of_records(shipped())
    try:
        monkeypatch.setattr(Spool, "append", full)
        plan = t.cast(Sliced, plugin).slice_plan(spooled, context)
        with pytest.raises(
            CouldNotRun, match=r"temporary file \(in .+\).*No space left.*nothing was changed.*--jobs 1"
        ):
            slices.join(plugin, spooled, context, plan, slices.cut(spooled, 3), _files({}), parallel=False)
    finally:
        spooled.close()


def test_a_format_with_few_records_of_its_slice_types_is_written_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """ICS shares out the events: a slice is at least MIN_RECORDS of them, whatever else the collection holds."""
    started = _calls(monkeypatch)
    events = sum(1 for r in shipped() if r["type"] == "event")
    monkeypatch.setattr(slices, "MIN_RECORDS", events)  # (44 records, but one slice's worth of events)
    api.export([RECORDS], "ics", jobs=4)
    assert started == []
    api.export([RECORDS], "csv", jobs=4)  # (a CSV slice counts every record: 44 make several)
    assert started == [2]  # (44 // 14: three slices, two of them in workers)


def _dangling(tmp_path: Path) -> Path:
    """The shipped records with one reference to a record that is not there: every file is
    valid alone, and only the collection rules, run once all are checked, find the problem."""
    import shutil

    tree = tmp_path / "records"
    shutil.copytree(RECORDS, tree)
    event = tree / "events" / "efes-2022.yaml"
    text = event.read_text(encoding="utf-8")
    assert 'organizers:\n  - "turkey"\n' in text
    event.write_text(text.replace('organizers:\n  - "turkey"\n', 'organizers:\n  - "no-such-country"\n', 1), "utf-8")
    return tree


@pytest.mark.parametrize("name", SLICED)
def test_the_collection_rules_run_while_the_workers_write_and_nothing_is_written_when_they_fail(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    from records_toolkit.errors import InvalidRecords

    tree = _dangling(tmp_path)
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    started = _calls(monkeypatch)
    target = tmp_path / "out"
    target.mkdir()
    (target / "earlier.txt").write_text("the previous export\n", encoding="utf-8")
    to = {
        "csv": target,
        "jsonld": target / "records.jsonld",
        "ics": target / "calendar.ics",
        "markdown": target / "records.md",
    }[name]
    said = []
    for jobs in (1, 2):
        with pytest.raises(InvalidRecords) as caught:
            api.export([tree], name, to=to, jobs=jobs)
        said.append([(p.file, p.line, p.code) for p in caught.value.report.problems])
    assert started == [2]  # (the workers were writing slices when the rules failed)
    assert said[0] == said[1] and [code for *_, code in said[0]] == ["dangling-reference"]
    assert sorted(p.name for p in target.iterdir()) == ["earlier.txt"]  # nothing written, no staging left
    assert multiprocessing.active_children() == []  # (the workers stopped)


def test_records_with_problems_are_said_before_an_output_that_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from records_toolkit.errors import InvalidRecords

    tree = _dangling(tmp_path)
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    for name in SLICED:
        for jobs in (1, 2):  # (the rules are left for later in both: the output fails first)
            with pytest.raises(InvalidRecords):
                api.export([tree], name, to=blocker / "out", jobs=jobs)
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"


@pytest.mark.parametrize("jobs", [1, 2])
def test_records_with_problems_leave_a_file_written_in_place_untouched(
    jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device or descriptor (``-o /dev/stdout``, ``/dev/fd/N``) is written in place, opened
    (and so emptied) before the first byte: the collection rules run before it is opened."""
    from records_toolkit.errors import InvalidRecords

    tree = _dangling(tmp_path)
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    kept = tmp_path / "kept.jsonld"
    kept.write_bytes(b"precious line\n")
    fd = os.open(kept, os.O_WRONLY | os.O_APPEND)
    try:
        with pytest.raises(InvalidRecords):
            api.export([tree], "jsonld", to=f"/dev/fd/{fd}", jobs=jobs)
    finally:
        os.close(fd)
    assert kept.read_bytes() == b"precious line\n"


def test_a_format_failing_before_the_rules_ran_lets_the_records_problems_be_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan of a format is read before the collection rules have run (they run while the
    workers write): a format that fails on what the rules would refuse, a dangling reference,
    must not hide it."""
    from records_toolkit.errors import InvalidRecords
    from records_toolkit.exporters.jsonld import JsonLdFormat

    class Fragile(JsonLdFormat):
        name = "fragile"

        def slice_plan(self, records: t.Any, context: t.Any) -> t.Any:
            raise ZeroDivisionError("a reference to nothing")

    tree = _dangling(tmp_path)
    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    monkeypatch.setattr("records_toolkit.plugins.load", lambda name: Fragile())
    for to in (None, tmp_path / "out.jsonld"):
        with pytest.raises(InvalidRecords):
            api.export([tree], "fragile", to=to, jobs=2)
    with pytest.raises(PluginError, match="a reference to nothing"):
        api.export([RECORDS], "fragile", jobs=2)  # (valid records: the format's own failure is said)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_full_temporary_folder_while_the_records_are_checked_says_where_not_validation(
    jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records an export checks are kept in a temporary file: when it is full, that is what
    is said (a hostile tester read "validation could not run", and a validate passed there)."""
    import errno

    from records_toolkit.streaming import Spool

    def full(self: Spool, blob: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Spool, "append", full)
    monkeypatch.setattr("records_toolkit.validate.PARALLEL_FROM", 2)  # (the 44 files in workers too)
    target = tmp_path / "out.jsonld"
    with pytest.raises(CouldNotRun) as caught:
        api.export([RECORDS], "jsonld", to=target, jobs=jobs)
    said = str(caught.value)
    assert "temporary file (in " in said and "No space left" in said and "nothing was changed" in said, said
    assert "validation" not in said and not target.exists()


def test_a_worker_failing_after_the_first_slice_went_to_a_stream_says_it_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first slice is written straight into the output: to a descriptor (``/dev/stdout``,
    ``/dev/fd/N``) its bytes are gone when a worker's slice then fails (its temporary folder
    full), and the error says so instead of "nothing was changed" (a reviewer's finding)."""
    import errno

    from records_toolkit import output

    corpus.make(tmp_path / "many", 2)
    monkeypatch.setattr(slices, "MIN_RECORDS", 10)
    monkeypatch.setattr(output, "_PIECE", 256)  # (the first slice's bytes go out before the others are joined)

    def full(self: slices._Pieces) -> None:
        raise self._spool.refused("a worker's slice", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), hint="--jobs 1")

    monkeypatch.setattr(slices._Pieces, "flush", full)
    with (tmp_path / "log").open("wb") as log:
        stream = f"/dev/fd/{log.fileno()}"
        with pytest.raises(CouldNotRun) as caught:
            api.export([tmp_path / "many"], "jsonld", to=stream, jobs=2, cache=False)
    said = str(caught.value)
    assert "No space left" in said and "nothing was changed" not in said, said
    assert f"part of the export had gone to {stream}, which cannot be taken back; no other file was changed" in said
    assert (tmp_path / "log").read_bytes().startswith(b"{")  # (what went out)
    monkeypatch.setattr(output, "_PIECE", 1 << 30)  # nothing goes out before the failure: nothing was changed
    with (tmp_path / "log2").open("wb") as log:
        with pytest.raises(CouldNotRun, match="nothing was changed"):
            api.export([tmp_path / "many"], "jsonld", to=f"/dev/fd/{log.fileno()}", jobs=2, cache=False)
    assert (tmp_path / "log2").read_bytes() == b""


def _square_after(seconds: float, value: int) -> int:
    import time

    time.sleep(seconds)
    return value * value


def test_this_process_does_its_own_share_once_the_workers_have_begun_theirs() -> None:
    """The pool's threads hand the tasks over only when this process lets them run: its own share
    (``meanwhile``: an export's collection rules, then its first slice) waits until each worker
    has begun a task, so no core idles while the tasks are on their way."""
    seen: list[int] = []

    def own() -> None:
        [begun] = workers._BEGUN.values()  # (the count this call shares with its workers)
        seen.append(begun.value)

    tasks = [(0.05, number) for number in range(6)]
    results = list(workers.in_order(_square_after, tasks, 2, "the test", meanwhile=own, ahead=len(tasks)))
    assert results == [number * number for number in range(6)]
    assert seen and seen[0] >= 2
    assert workers._BEGUN == {}  # (let go at the end)


def test_a_worker_that_never_begins_delays_this_process_a_moment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    class Never:
        value = 0

    monkeypatch.setattr(workers, "BEGIN_WAIT", 0.02)
    started = time.monotonic()
    workers._wait_begun(Never(), 2)
    assert time.monotonic() - started < 1.0


def _fails(value: int) -> int:
    raise ValueError(f"task {value} fails")


def test_the_shared_count_is_let_go_when_a_task_fails() -> None:
    with pytest.raises(ValueError, match="task 0 fails"):
        list(workers.in_order(_fails, [(0,), (1,)], 2, "the test", meanwhile=lambda: None))
    assert workers._BEGUN == {}
