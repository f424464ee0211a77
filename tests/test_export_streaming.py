"""Exports stream (issue 11): the records pass once, memory does not grow with the collection, bytes stay the same.

Memory is measured with tracemalloc in this process (allocations, not RSS: robust on a busy
machine); speed is for ``bench/exports.py``, never for a unit test.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import sys
import tracemalloc
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records_toolkit import api
from records_toolkit.canonical import canonical_record
from records_toolkit.errors import UsageError
from records_toolkit.exporters import jsonld
from records_toolkit.schema_types import values_at
from records_toolkit.streaming import _orderer, collect, of_records
from records_toolkit.testing.strategies import collections

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from corpus import make  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The shipped records copied 3 and 12 times (132 and 528 records, one per file)."""
    base = tmp_path_factory.mktemp("corpora")
    make(base / "small", 3)
    make(base / "large", 12)
    return base / "small", base / "large"


def _peak(corpus: Path, fmt: str, out: Path, warm: Path) -> int:
    """tracemalloc's peak of one in-process export to disk, after the export's modules are loaded.

    The warm-up exports ``warm`` (the larger corpus): imports, schemas, caches, and tables the
    interpreter grows once and keeps are then outside the measure. What the export leaves
    allocated is taken off too: the table of interned strings may still grow once, in the
    measured run, when other test modules (rdflib, frictionless) interned enough to bring it to
    its next resize (a 1.9 MiB table seen in one test order); the export's own memory is gone
    by then, so its peak is still all counted."""
    api.export([warm], fmt, to=out / f"warm-{fmt}")
    tracemalloc.start()
    try:
        api.export([corpus], fmt, to=out / fmt)
        kept, peak = tracemalloc.get_traced_memory()
        assert kept < 3 * 2**20, (fmt, kept)  # (what stays: at most such a table, never the records)
        return peak - kept
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["csv", "jsonld", "ics", "markdown"])
def test_an_export_to_disk_keeps_memory_bounded(corpora: tuple[Path, Path], tmp_path: Path, fmt: str) -> None:
    """Four times the records: the peak grows far less than fourfold. What still grows is compact
    (the validation's indexes, a key per record: about 2.3x at this small size, where they weigh
    most); the whole collection or the whole output held in memory grew it fourfold and more."""
    small, large = corpora
    one = _peak(small, fmt, tmp_path / "small", large)
    four = _peak(large, fmt, tmp_path / "large", large)
    assert four < 3.0 * one, (fmt, one, four)


def test_an_export_into_a_file_object_goes_in_pieces_as_it_is_made(corpora: tuple[Path, Path]) -> None:
    """Into a file object (standard output, for the CLI) an export streams as into a file, a
    mebibyte at a time; it was held whole first, then written at once (813 MiB for the JSON-LD
    of 100,000 records to standard output, 83 MiB since). The bytes are the export's."""
    _, large = corpora

    class Sink(io.RawIOBase):
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def writable(self) -> bool:
            return True

        def write(self, data: t.Any) -> int:
            self.writes.append(bytes(data))
            return len(data)

    sink = Sink()
    exported = api.export([large], "jsonld", to=sink, source_date_epoch=0)
    whole = api.export([large], "jsonld", source_date_epoch=0).data
    assert b"".join(sink.writes) == whole and len(whole) > 3 << 19
    assert len(sink.writes) >= 2 and max(map(len, sink.writes)) < (1 << 20) + (1 << 16)
    assert list(exported.files) == ["records.jsonld"]
    with pytest.raises(UsageError, match="written into the file object given"):
        _ = exported.data


def test_a_file_object_that_takes_nothing_or_fails_midway_is_said(
    corpora: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``write`` returns is read as io.RawIOBase defines it. A count out of range (0, a bool,
    negative, more than given) is an error, not a loop for ever, bytes repeated or silently
    dropped; None from a raw stream (it would block) with no descriptor to wait on is one too,
    while None from any other writer took everything. An error after part of the export went out
    says so instead of "nothing was changed"; one before the first byte went does not."""
    from records_toolkit import plugins
    from records_toolkit.errors import CouldNotRun, OutputError

    small, large = corpora
    expected = io.BytesIO()
    api.export([small], "jsonld", to=expected)
    for took, said in (
        (0, "took none of the bytes"),
        (None, "would block, and has no descriptor to wait on"),
        (True, "its write returned True, not the number of bytes it took"),
        (-1, "its write returned -1"),
        (1 << 30, "its write returned 1073741824"),
    ):

        class Odd(io.RawIOBase):
            def writable(self) -> bool:
                return True

            def write(self, data: t.Any, took: t.Any = took) -> t.Any:
                return took

        with pytest.raises(OutputError, match=said) as refused:
            api.export([large], "jsonld", to=Odd())
        assert "part of the export" not in str(refused.value)  # (nothing was taken)

    class Response:  # (a web framework's response: write returns None, having taken it all)
        def __init__(self) -> None:
            self.content = b""

        def write(self, data: bytes) -> None:
            self.content += bytes(data)

    response = Response()
    api.export([small], "jsonld", to=response)  # type: ignore[arg-type]
    assert response.content == expected.getvalue()

    class Closed(io.RawIOBase):
        name = "<stdout>"  # (even named as standard output: the API's error, never a bare BrokenPipeError)

        def writable(self) -> bool:
            return True

        def write(self, data: t.Any) -> int:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    with pytest.raises(OutputError, match="cannot write the jsonld export to standard output: Broken pipe"):
        api.export([large], "jsonld", to=Closed())
    with open(ROOT / "README.md", "rb") as read_only, pytest.raises(UsageError, match="open for writing"):
        api.export([small], "jsonld", to=read_only)  # type: ignore[arg-type]

    written = io.BytesIO()

    def failing(plugin: t.Any, records: t.Any, context: t.Any, open: t.Any) -> list[str]:
        open("records.jsonld").write(b" " * (2 << 20))  # (gone out: past the mebibyte gathered)
        raise CouldNotRun("the export's temporary file could not take a worker's slice; nothing was changed")

    monkeypatch.setattr(plugins, "run_stream", failing)
    with pytest.raises(CouldNotRun) as caught:
        api.export([large], "jsonld", to=written, jobs=1)
    assert written.getvalue() and "nothing was changed" not in str(caught.value)
    assert "part of the export had gone to the file object given, which cannot be taken back" in str(caught.value)


@contextlib.contextmanager
def _slow_non_blocking_pipe(*, pause: float, between: float) -> t.Iterator[tuple[int, list[bytes]]]:
    """A pipe whose writing end is non-blocking (O_NONBLOCK, as a parent process may leave it),
    read by a thread that starts after ``pause`` seconds and takes 4 KiB every ``between``:
    ``(the writing end, the chunks read)``. The caller closes the writing end; the chunks are all
    there once the block ends."""
    import fcntl
    import threading
    import time

    reader, writer = os.pipe()
    fcntl.fcntl(writer, fcntl.F_SETFL, fcntl.fcntl(writer, fcntl.F_GETFL) | os.O_NONBLOCK)
    chunks: list[bytes] = []

    def read_slowly() -> None:
        time.sleep(pause)  # (the writer fills the pipe first)
        while data := os.read(reader, 4096):
            chunks.append(data)
            time.sleep(between)

    thread = threading.Thread(target=read_slowly)
    thread.start()
    try:
        yield writer, chunks
    finally:
        thread.join(timeout=60)
        os.close(reader)


@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_non_blocking_pipe_on_standard_output_takes_the_whole_export(
    corpora: tuple[Path, Path], unbuffered: bool
) -> None:
    """A parent process may leave the pipe it gives as standard output non-blocking (O_NONBLOCK),
    and its reader may be slow: a full pipe is waited on, not an error after 64 KiB, nor bytes
    lost, nor a buffered writer's last flush failing (standard output buffered, as it is outside
    this project's machines, or not: PYTHONUNBUFFERED)."""
    import subprocess

    _, large = corpora
    expected = io.BytesIO()
    api.export([large], "jsonld", to=expected)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | (
        {"PYTHONUNBUFFERED": "1"} if unbuffered else {}
    )
    command = [sys.executable, "-m", "records_toolkit", "export", "-f", "jsonld", str(large)]
    # (slow: the pipe stays full, up to the last flush)
    with _slow_non_blocking_pipe(pause=0.5, between=0.002) as (writer, chunks):
        with subprocess.Popen(command, stdout=writer, stderr=subprocess.PIPE, env=env) as process:
            os.close(writer)
            assert process.stderr is not None
            said = process.stderr.read().decode()
            code = process.wait(timeout=300)
    assert code == 0 and not said, said
    assert b"".join(chunks) == expected.getvalue()


def test_writers_of_every_kind_the_api_is_given(corpora: tuple[Path, Path], tmp_path: Path) -> None:
    """A buffered file on a non-blocking pipe with a slow reader takes it all; a raw stream that
    takes a byte at a time, or says so with an int subclass, takes the same bytes; a raw stream
    whose write forgot its ``return`` (None) on a blocking descriptor is an error, not the same
    bytes written again for ever."""
    from records_toolkit.errors import OutputError

    small, large = corpora
    expected = io.BytesIO()
    api.export([large], "jsonld", to=expected)
    with _slow_non_blocking_pipe(pause=0.3, between=0.0) as (writer, chunks):
        with open(writer, "wb") as buffered:
            api.export([large], "jsonld", to=buffered)
    assert b"".join(chunks) == expected.getvalue()

    class Counted(int):
        pass

    class Trickle(io.RawIOBase):
        def __init__(self, step: int, counted: bool = False) -> None:
            self.taken, self.step, self.counted = bytearray(), step, counted

        def writable(self) -> bool:
            return True

        def write(self, data: t.Any) -> int:
            self.taken += bytes(data[: self.step])
            n = min(self.step, len(data))
            return Counted(n) if self.counted else n

    small_expected = io.BytesIO()
    api.export([small], "jsonld", to=small_expected)
    for trickle in (Trickle(1), Trickle(1000, counted=True)):
        api.export([small], "jsonld", to=trickle)
        assert bytes(trickle.taken) == small_expected.getvalue()

    class Forgetful(io.RawIOBase):
        def __init__(self, fd: int) -> None:
            self.fd = fd

        def writable(self) -> bool:
            return True

        def fileno(self) -> int:
            return self.fd

        def write(self, data: t.Any) -> None:
            os.write(self.fd, data)  # (and no return)

    with open(tmp_path / "forgot", "wb") as target:
        with pytest.raises(OutputError, match="returned None"):
            api.export([small], "jsonld", to=Forgetful(target.fileno()))
    assert (tmp_path / "forgot").stat().st_size == small_expected.getbuffer().nbytes  # (once, not for ever)


def test_exports_stream_byte_identical_to_the_golden_files(tmp_path: Path) -> None:
    records = ROOT / "records"
    api.export([records], "jsonld", to=tmp_path / "a.jsonld")
    assert (tmp_path / "a.jsonld").read_bytes() == (GOLDEN / "article.jsonld").read_bytes()
    api.export([records], "markdown", to=tmp_path / "a.md")
    assert (tmp_path / "a.md").read_bytes() == (GOLDEN / "article.md").read_bytes()
    os.environ.pop("SOURCE_DATE_EPOCH", None)
    api.export([records], "ics", to=tmp_path / "a.ics")
    assert (tmp_path / "a.ics").read_bytes() == (GOLDEN / "article.ics").read_bytes()
    written = api.export([records], "csv", to=tmp_path / "csv")
    for name in written.files:
        assert written.files[name] == (GOLDEN / "csv" / name).read_bytes(), name
    assert sorted(written.files) == sorted(p.name for p in (GOLDEN / "csv").iterdir())


def test_streamed_and_in_memory_exports_agree(corpora: tuple[Path, Path], tmp_path: Path) -> None:
    small, _ = corpora
    for fmt in ("csv", "jsonld", "ics", "markdown"):
        in_memory = api.export([small], fmt, source_date_epoch=0)
        on_disk = api.export([small], fmt, to=tmp_path / fmt, source_date_epoch=0)
        assert dict(in_memory.files) == {name: on_disk.files[name] for name in on_disk.files}, fmt


def test_an_export_checked_while_walked_writes_what_one_walked_first_writes(
    corpora: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export's workers check and spool the first files while the rest is walked (issue 11):
    with chunks of a few files sent while the walk goes on, every format writes the same bytes
    and says the same notices as an export in one process, and a broken tree is refused with
    the same problems (the walk's own among them)."""
    from records_toolkit import validate
    from records_toolkit.errors import InvalidRecords

    small, _ = corpora
    alone = {fmt: api.export([small], fmt, source_date_epoch=0, jobs=1) for fmt in ("csv", "jsonld", "ics", "markdown")}
    sent: list[bool] = []
    real = validate.Streamed._chunks

    def chunks(self: validate.Streamed) -> t.Iterator[list[str]]:
        for chunk in real(self):
            sent.append(self.done)
            yield chunk

    monkeypatch.setattr(validate.Streamed, "_chunks", chunks)
    monkeypatch.setattr(validate, "WALK_STEP", 3)
    monkeypatch.setattr(validate, "MIN_CHUNK", 2)
    monkeypatch.setattr(validate, "MAX_CHUNK", 9)
    monkeypatch.setattr(validate, "PARALLEL_FROM", 2)  # (132 files: in the pool)
    for fmt, expected in alone.items():
        sent.clear()
        streamed = api.export([small], fmt, to=tmp_path / fmt, source_date_epoch=0, jobs=2)
        assert {name: streamed.files[name] for name in streamed.files} == dict(expected.files), fmt
        assert streamed.notices == expected.notices, fmt
        assert sent.count(False) >= 2, fmt  # (chunks sent before the walk was done)
    broken = tmp_path / "broken"
    shutil.copytree(small, broken)
    first = sorted(broken.rglob("*.yaml"))[0]
    (broken / "c00002" / "dup.yaml").write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    (broken / "c00001" / "link.yaml").symlink_to(first)
    refused = []
    for jobs in (1, 2):
        with pytest.raises(InvalidRecords) as caught:
            api.export([broken], "csv", to=tmp_path / f"broken-{jobs}", jobs=jobs)
        refused.append(caught.value.report.sorted())
        assert not (tmp_path / f"broken-{jobs}").exists()
    assert refused[0] == refused[1] and {p.code for p in refused[0]} == {"duplicate-id", "file-symlink"}


@pytest.mark.parametrize("job", ["export", "validate"])
def test_an_error_while_a_chunk_is_taken_in_stops_the_workers_at_once(
    corpora: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, job: str
) -> None:
    """An exception (or SIGTERM's) raised while a chunk's result is merged ends the worker pool
    there and then, while the caller still holds the exception: the pool was left to the garbage
    collector, which shut it down later from whatever thread it ran on (the pool's own: a
    traceback, "cannot join current thread")."""
    import multiprocessing

    from records_toolkit import validate

    small, _ = corpora
    monkeypatch.setattr(validate, "PARALLEL_FROM", 2)
    monkeypatch.setattr(validate, "MAX_CHUNK", 10)
    real = validate.Checker.merge
    merged: list[int] = []

    def merge(self: validate.Checker, state: dict[str, t.Any]) -> None:
        merged.append(1)
        if len(merged) == 3:
            raise RuntimeError("stop")
        real(self, state)

    monkeypatch.setattr(validate.Checker, "merge", merge)
    with pytest.raises(RuntimeError) as caught:
        if job == "export":
            api.export([small], "jsonld", to=tmp_path / "out.jsonld", jobs=2)
        else:
            api.validate([small], jobs=2)
    assert multiprocessing.active_children() == [] and caught.value.__traceback__ is not None
    assert not (tmp_path / "out.jsonld").exists()


def test_the_spooled_collection_is_the_validated_one(corpora: tuple[Path, Path]) -> None:
    small, _ = corpora
    records = collect([small], max_bytes=1 << 24)
    try:
        valid = api.validate([small]).valid
        assert len(records) == len(valid)
        assert list(records) == valid
        assert [list(r) for r in records] == [list(r) for r in valid]  # canonical key order too
        assert [r["id"] for r in records.of_type("place")] == [r["id"] for r in valid if r["type"] == "place"]
        first = records[0]
        first["id"] = "changed"
        assert records[0]["id"] != "changed"  # each read is a fresh record
    finally:
        records.close()


def test_the_fast_key_order_is_the_canonical_one() -> None:
    from records_toolkit.schemas import load_model

    order = _orderer(load_model())
    for record in api.validate(["records"]).valid:
        shuffled = {k: record[k] for k in reversed(list(record))}
        shuffled["zz-unknown"] = {"b": 1, "a": [{"y": 1, "x": 2}]}
        assert list(order(shuffled)) == list(canonical_record(shuffled))
        assert json.dumps(order(shuffled)) == json.dumps(canonical_record(shuffled))
        deep = _reversed_everywhere(record)  # every mapping, at every depth, out of order
        assert json.dumps(order(deep)) == json.dumps(canonical_record(deep)) == json.dumps(record)
        assert order(record) is record  # (a canonical record: kept as it is, not copied)


@settings(max_examples=60, deadline=None)
@given(collection=collections(max_per_type=2), seed=st.randoms(use_true_random=False))
def test_the_fast_key_order_is_the_canonical_one_for_any_valid_record(
    collection: list[dict[str, t.Any]], seed: t.Any
) -> None:
    """Any valid record, its mappings shuffled at any depth (a record as a hand-written file holds
    it): ``canonical_record``, key for key; a canonical one kept as it is. Each shape is asked
    twice (the second answer comes from what the first remembered)."""
    from records_toolkit.schemas import load_model

    order = _orderer(load_model())
    assert _orderer(load_model()) is order  # (worked out once per model)
    for record in collection:
        canonical = canonical_record(record)
        shuffled = _shuffled_everywhere(record, seed)
        for _ in range(2):
            assert json.dumps(order(shuffled)) == json.dumps(canonical)
            assert order(canonical) is canonical


def test_the_schema_proves_scalar_what_a_valid_record_holds_as_scalars() -> None:
    """What the key-order check skips: places a valid record holds scalars (or lists of them)
    at, never a mapping; and the places of mappings (sources, participants, coordinates,
    identifiers) are not among them."""
    from records_toolkit.schema_types import scalar_paths
    from records_toolkit.schemas import load_model

    model = load_model()
    event = scalar_paths(model.schemas, "event")
    assert {("id",), ("date",), ("locations",), ("sources", "*", "supports"), ("participants", "*", "ref")} <= event
    assert not {("sources",), ("participants",), ("identifiers",)} & event
    assert ("coordinates",) not in scalar_paths(model.schemas, "place")
    assert ("coordinates", "latitude") in scalar_paths(model.schemas, "place")
    for record in api.validate(["records"]).valid:
        for path in scalar_paths(model.schemas, record["type"]):
            for _, value in values_at(record, path):
                values = value if isinstance(value, list) else [value]
                assert all(isinstance(v, (str, int, float, bool, type(None))) for v in values), (path, value)


@pytest.mark.parametrize("first", [{"type": "object"}, {"type": "string"}])
def test_an_array_proven_scalar_is_proven_in_its_prefix_too(tmp_path: Path, first: dict[str, str]) -> None:
    """JSON Schema 2020-12: ``items`` holds only after ``prefixItems``. A list whose first item may
    be a mapping is looked into (a hostile tester found one spooled out of canonical order)."""
    from records_toolkit.schema_types import scalar_paths
    from records_toolkit.schemas import Model

    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    place = json.loads((schemas / "place.schema.json").read_text(encoding="utf-8"))
    place["properties"]["extra"] = {"type": "array", "prefixItems": [first], "items": {"type": "string"}}
    (schemas / "place.schema.json").write_text(json.dumps(place), encoding="utf-8")
    model = Model(schemas)
    scalar = first["type"] == "string"
    assert (("extra",) in scalar_paths(model.schemas, "place")) is scalar
    if not scalar:
        record = {"id": "p", "type": "place", "name": "P", "kind": "city", "extra": [{"beta": "2", "alpha": "1"}, "x"]}
        assert json.dumps(_orderer(model)(record)) == json.dumps(canonical_record(record, model))
        assert list(_orderer(model)(record)["extra"][0]) == ["alpha", "beta"]


def test_below_a_prefix_nothing_is_proven_scalar_by_the_items_after_it(tmp_path: Path) -> None:
    """A key the items after the prefix make a string may be a mapping in a prefix item (a
    reviewer's finding: the walk went on into ``items``); and a list of lists in a canonical
    record is looked into, not copied."""
    from records_toolkit.schema_types import scalar_paths
    from records_toolkit.schemas import Model

    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    place = json.loads((schemas / "place.schema.json").read_text(encoding="utf-8"))
    place["properties"]["extra"] = {
        "type": "array",
        "prefixItems": [{"type": "object", "properties": {"k": {"type": "object"}}}],
        "items": {"type": "object", "properties": {"k": {"type": "string"}}},
    }
    cells = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
    place["properties"]["grid"] = {"type": "array", "items": {"type": "array", "items": cells}}
    (schemas / "place.schema.json").write_text(json.dumps(place), encoding="utf-8")
    model = Model(schemas)
    assert not {path for path in scalar_paths(model.schemas, "place") if path[0] == "extra"}
    record = {
        "id": "p",
        "type": "place",
        "name": "P",
        "kind": "city",
        "extra": [{"k": {"beta": "2", "alpha": "1"}}, {"k": "x"}],
    }
    assert json.dumps(_orderer(model)(record)) == json.dumps(canonical_record(record, model))
    canonical = canonical_record(
        {"id": "p", "type": "place", "name": "P", "kind": "city", "grid": [[{"b": 1, "a": 2}], []]}, model
    )
    assert _orderer(model)(canonical) is canonical
    shuffled = {**canonical, "grid": [[{"b": 1, "a": 2}][::-1], []]}
    assert json.dumps(_orderer(model)(dict(reversed(list(shuffled.items()))))) == json.dumps(canonical)


@pytest.mark.parametrize("raised", [KeyboardInterrupt, "Terminated"])
def test_a_signal_while_an_export_cleans_up_after_its_write_says_the_files_are_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: t.Any
) -> None:
    """The export's files are in place before its clean-up (closing the spool; a Dask cluster it
    started: seconds): a signal then is 'after the write had finished', not 'nothing was changed'
    (a reviewer sent SIGTERM while a local cluster closed)."""
    from records_toolkit import streaming
    from records_toolkit.errors import Terminated
    from records_toolkit.output import stopped_message

    kind = Terminated if raised == "Terminated" else raised
    real = streaming.Records.close

    def close(self: streaming.Records) -> None:
        real(self)
        raise kind()

    monkeypatch.setattr(streaming.Records, "close", close)
    target = tmp_path / "out.jsonld"
    with pytest.raises(kind) as caught:
        api.export(["records"], "jsonld", to=target, cache=False)
    assert target.read_bytes().startswith(b"{")
    assert stopped_message(caught.value).endswith("after the write had finished: the new files are in place")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["event", "place", "article"]), st.sampled_from(["a", "b", "c", "a-1"]), st.integers(0, 50)
        ),
        max_size=40,
    )
)
def test_keys_gathered_as_columns_sort_as_records_sort_their_tuples(drawn: list[tuple[str, str, int]]) -> None:
    """What an export gathers through its checks (columns, chunk by chunk) gives the records in
    the order ``Records`` gives its ``(type, id, offset, length)`` tuples: duplicates by offset."""
    from records_toolkit.streaming import Records, Spool, _KeyColumns

    keys = [(type_name, record_id, offset * 10 + n, n + 1) for n, (type_name, record_id, offset) in enumerate(drawn)]
    columns = _KeyColumns()
    for start in range(0, len(keys), 7):  # (in chunks, as the workers send them)
        columns.extend(keys[start : start + 7])
    spool = Spool()
    try:
        gathered, plain = columns.records(spool), Records(spool, list(keys))
        assert gathered.key_arrays()[:2] == plain.key_arrays()[:2]
        assert list(gathered.key_arrays()[2]) == list(plain.key_arrays()[2])
        assert list(gathered.sizes(0, len(gathered))) == list(plain.sizes(0, len(plain)))
        assert len(columns) == 0  # (emptied)
    finally:
        spool.close()


def _shuffled_everywhere(value: t.Any, random: t.Any) -> t.Any:
    if isinstance(value, dict):
        keys = list(value)
        if random.random() < 0.5:
            random.shuffle(keys)
        return {k: _shuffled_everywhere(value[k], random) for k in keys}
    if isinstance(value, list):
        return [_shuffled_everywhere(item, random) for item in value]
    return value


def _reversed_everywhere(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {k: _reversed_everywhere(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_everywhere(item) for item in value]
    return value


def test_a_records_view_decodes_nothing_for_keys_and_types() -> None:
    records = of_records([{"id": "b", "type": "place"}, {"id": "a", "type": "event"}, {"id": "c", "type": "place"}])
    try:
        assert list(records.keys()) == [("event", "a"), ("place", "b"), ("place", "c")]
        assert [r["id"] for r in records.of_type("place")] == ["b", "c"]
        assert len(records.of_type("person")) == 0
        assert [r["id"] for r in records[1:]] == ["b", "c"]
    finally:
        records.close()


def test_the_markdown_report_grows_linearly(tmp_path: Path) -> None:
    """The work of the report, counted in calls to escape() (the text of every cell goes through
    it): four times the records, four times the calls, give or take (a quadratic report: 16 times)."""
    from records_toolkit.exporters import markdown_

    counts = []
    for copies in (2, 8):
        make(tmp_path / f"c{copies}", copies)
        valid = api.validate([tmp_path / f"c{copies}"]).valid
        calls = 0
        real = markdown_.escape

        def counted(text: object, real: t.Callable[[object], str] = real) -> str:
            nonlocal calls
            calls += 1
            return real(text)

        markdown_.escape = counted  # type: ignore[assignment]
        try:
            markdown_.render(valid)
        finally:
            markdown_.escape = real  # type: ignore[assignment]
        counts.append(calls)
    assert counts[1] <= 4.5 * counts[0], counts


_floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e-05, -0.0, 0.0, 1e16, 1.5e-7, 2.5e300])
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | _floats | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_the_fast_json_encoder_spells_everything_as_json_dumps(value: t.Any) -> None:
    try:
        expected: bytes | None = jsonld._reference(value)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            jsonld.encode(value)
    else:
        assert jsonld.encode(value) == expected


def test_with_standard_output_closed_the_spool_is_never_the_output() -> None:
    """``-o /dev/stdout`` with standard output closed must not reopen the export's own spool (which
    would take the lowest free descriptor, 1): a clean exit 3 naming the output."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "records_toolkit", "export", "-f", "jsonld", str(ROOT / "records"), "-o", "/dev/stdout"],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 3 and "cannot write /dev/stdout" in done.stderr and "plugin" not in done.stderr


@pytest.mark.parametrize(("fmt", "to"), [("jsonld", []), ("ics", []), ("jsonld", ["-o", "/dev/stdout"])])
def test_a_reader_that_goes_away_ends_the_export_quietly(corpora: tuple[Path, Path], fmt: str, to: list[str]) -> None:
    """``toolkit export | head -c 100``: the reader takes a little and closes the pipe. The export
    ends with exit 1 (as click ends a command then) and says nothing: no traceback, no "cannot
    write", no notices about a calendar the reader never saw whole; the same through
    ``-o /dev/stdout``, which the export writes as a file it opened."""
    import subprocess

    _, large = corpora
    command = [sys.executable, "-m", "records_toolkit", "export", "-f", fmt, str(large), *to]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        head = process.stdout.read(100)
        process.stdout.close()
        said = process.stderr.read().decode()
        code = process.wait(timeout=300)
    assert head.startswith(b"{" if fmt == "jsonld" else b"BEGIN:VCALENDAR")
    assert code == 1, said
    assert "Traceback" not in said and "cannot write" not in said and "notice:" not in said


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("to", [["-o", "/dev/full"], []])
def test_an_output_that_takes_nothing_says_nothing_went(to: list[str]) -> None:
    """/dev/full takes no byte: the export says it cannot write, and not that part of it had gone
    (it said so for -o /dev/full: the write was counted as begun before it was made)."""
    import subprocess

    command = [sys.executable, "-m", "records_toolkit", "export", "-f", "jsonld", str(ROOT / "records"), *to]
    with open("/dev/full", "wb") as full:
        done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "No space left on device" in done.stderr and "part of the export" not in done.stderr
    assert "Traceback" not in done.stderr
