"""Whole exports written by several processes at once: a :class:`~.plugins.Sliced` format.

The validation runs in worker processes; the format's step after it ran in this one alone (at
100,000 records a third of the export's time, and on a machine with more cores a larger share).
Here the records, sorted, are cut into contiguous slices of even weight, up to
:data:`PER_WORKER` a worker (:func:`cut`); forked workers take them as they are free, each
writing into an unnamed temporary file (:class:`~.streaming.Spool`, gone however the
process ends) as pieces of each file, while this process runs the collection rules and then
writes the first slice straight into the export's files; the pieces are then copied after it,
in order, and the format ends the files. The files are the ones a single process writes (the
format's law, tested for every built-in format and number of slices); still all or nothing,
since only this process writes the export.
"""

from __future__ import annotations

import bisect
import itertools
import pickle
import threading
import typing as t

from .plugins import Context, Format, Slice, Sliced, Writable, run_slice, run_slice_end, run_slice_plan
from .streaming import Records, Spool

__all__ = ["MIN_RECORDS", "cut", "join", "stream_sliced"]

MIN_RECORDS = 1000
"""Records of the format's ``slice_types`` for each slice made (a process for fewer costs more
than it saves): a collection of fewer than twice as many is written by this process alone. The
slices are of even weight, not of even count (see :func:`cut`)."""

RECORD_WEIGHT = 1024
"""What a format's work on one record weighs besides its spooled bytes, in bytes (measured at
100,000 records: CSV about 500, JSON-LD about 1,800)."""

PER_WORKER = 4
"""Slices per worker at most. Small slices go to whichever worker is free, so the workers end
together however unevenly the work lies along the records (cut in two, one half of 100,000
records took 1.8 to 2.4 times as long as the other, cut by bytes or by count); this process
writes the first, after the end of the checks (see :func:`stream_sliced`)."""

_PIECE = 1 << 22  # bytes of one file a worker gathers before it appends them to the spool
_COPY = 1 << 20  # bytes copied from the spool in one read (the sink gathers 1 MiB: no more held)

_JOB: tuple[Format, Records, Context, t.Any, Spool, t.Any] | None = None  # what the workers inherit


def stream_sliced(
    plugin: Format,
    records: t.Sequence[t.Any],
    context: Context,
    open: t.Callable[[str], Writable],
    workers: int,
    before: t.Callable[[], None] | None = None,
) -> tuple[list[str], list[str]] | None:
    """The export of ``records`` written through ``open`` in slices by ``workers`` forked
    processes and this one; ``(notices, names)`` as :func:`~.plugins.run_stream` gives. None,
    with nothing written and ``before`` not called, when it is better written whole: a format
    that is not sliced, fewer than twice :data:`MIN_RECORDS` records of its ``slice_types`` (or
    in all), one worker, no ``fork`` here, or a plan the format declines.

    ``before``: this process's work before anything is written (the collection rules of the
    checks: :meth:`.streaming.Records.settle`), done while the workers write their slices; if it
    raises, the workers are stopped and nothing is written."""
    from .workers import can_fork

    if workers < 2 or not isinstance(plugin, Sliced) or not isinstance(records, Records):
        return None
    shared = [records.span(name) for name in set(plugin.slice_types)]
    weighed = sum(stop - start for start, stop in shared) or len(records)  # (what cut() shares out)
    slices = min(PER_WORKER * workers, weighed // MIN_RECORDS)
    if slices < 2 or not can_fork():
        return None
    plan = run_slice_plan(plugin, records, context)
    if plan is None:
        return None
    ranges = cut(records, slices, plugin.slice_types)
    if len(ranges) < 2:
        return None
    return join(plugin, records, context, plan, ranges, open, parallel=True, workers=workers, before=before)


def cut(records: Records, slices: int, types: t.Sequence[str] = ()) -> list[tuple[int, int]]:
    """``records`` cut into at most ``slices`` contiguous ``(start, stop)`` ranges, none empty
    (but the one range of no records), that share out evenly the weight of the records of
    ``types`` (of every record when none is given or present): its spooled bytes plus
    :data:`RECORD_WEIGHT`. A format's work follows the size of what it reads more than the count
    of records: cut by count, the first of two slices of 100,000 records took all 31,822 events,
    each with its sources, and 2.4 times as long as the second; cut by bytes alone, a slice of
    places (383 bytes each) took 1.8 times as long as one of events (1,917 bytes)."""
    runs = sorted(span for span in map(records.span, set(types)) if span[0] < span[1])
    if not runs:
        runs = [(0, len(records))]
    slices = max(1, min(slices, sum(stop - start for start, stop in runs)))
    weights = [0] * len(records)
    for start, stop in runs:
        weights[start:stop] = [size + RECORD_WEIGHT for size in records.sizes(start, stop)]
    ends = list(itertools.accumulate(weights))  # (the weight of the records up to each)
    bounds, done = [0], 0
    for left in range(slices, 1, -1):  # (the rest shared again after each cut: one heavy record takes one slice)
        end = done + (ends[-1] - done) // left if ends else 0
        bound = max(bisect.bisect_right(ends, end, bounds[-1]), bounds[-1] + 1)  # (the first record past it)
        if bound >= len(records):
            break
        bounds.append(bound)
        done = ends[bound - 1]
    bounds.append(len(records))
    return [(a, b) for a, b in itertools.pairwise(bounds) if a < b] or [(0, 0)]


def join(
    plugin: Format,
    records: Records,
    context: Context,
    plan: t.Any,
    ranges: t.Sequence[tuple[int, int]],
    open: t.Callable[[str], Writable],
    *,
    parallel: bool,
    workers: int = 0,
    before: t.Callable[[], None] | None = None,
) -> tuple[list[str], list[str]]:
    """Write the slices ``ranges`` of ``records`` and join them through ``open``; ``(notices, names)``.

    The first slice is written here, straight into the files, after ``before``; the others by
    ``workers`` forked processes (``parallel``; default one per slice) or here after it, into a
    spool, then copied in order.
    """
    from .plugins import _broke

    opened: dict[str, Writable] = {}
    names: list[str] = []

    def open_joined(name: str) -> Writable:
        sink = opened.get(name)
        if sink is None:
            if names and not plugin.directory:  # (a later slice naming another file: the format's fault)
                _broke(plugin, f"a single-file format must write exactly one file, not {names[0]!r} and {name!r}")
            sink = opened[name] = open(name)
            names.append(name)
        return sink

    of = len(ranges)
    first, rest = ranges[0], ranges[1:]
    tasks = [(number, of, start, stop) for number, (start, stop) in enumerate(rest, start=2)]
    summaries: list[t.Any] = []

    def own() -> None:
        if before is not None:
            before()
        summary, _ = run_slice(plugin, records[first[0] : first[1]], context, plan, Slice(1, of), open_joined)
        summaries.append(_travels(plugin, summary))

    from .output import SignalGuard

    # (the workers inherit _JOB when forked: one export's at a time, whatever the threads; a
    # signal while waiting for another thread's is raised as while waiting for a worker)
    while not _ONE_AT_A_TIME.acquire(timeout=0.2):
        SignalGuard.raise_pending()
    try:
        _join_rest(plugin, records, context, plan, tasks, own, open_joined, summaries, parallel, workers)
    finally:
        _ONE_AT_A_TIME.release()
    notices, _ = run_slice_end(plugin, context, plan, summaries, open_joined)
    if not plugin.directory and len(names) != 1:
        _broke(plugin, f"a single-file format must write exactly one file, not {len(names)}")
    return notices, names


def _join_rest(
    plugin: Format,
    records: Records,
    context: Context,
    plan: t.Any,
    tasks: list[tuple[int, int, int, int]],
    own: t.Callable[[], None],
    open_joined: t.Callable[[str], Writable],
    summaries: list[t.Any],
    parallel: bool,
    workers: int = 0,
) -> None:
    """Slice 1 (``own``) here; the ``tasks`` in workers (or here after it), copied in order."""
    from .parts import _raise
    from .workers import in_order

    global _JOB
    spool = Spool()
    results: t.Iterator[tuple[t.Any, ...]] | None = None
    outer = _JOB  # (an export a format starts while writing its own slice: its job comes back after)
    tick = getattr(records.counter, "tick", None)  # (the workers' counts shown while they write)
    try:
        _JOB = (plugin, records, context, plan, spool, _counts(records, len(tasks)))
        if parallel:
            pool = min(workers or len(tasks), len(tasks))
            # (every slice sent at once: a result is its pieces' places in the spool, and a worker
            # never waits for this process to take one)
            results = in_order(
                _write_slice,
                tasks,
                pool,
                "the export",
                meanwhile=own,
                ahead=len(tasks),
                waiting=tick,
            )
        else:
            own()
            results = (_write_slice(*task) for task in tasks)
        for outcome in results:
            if outcome[0] != "ok":
                _raise(plugin, outcome, "a worker could not write its slice of the export", same=True)
            _, summary, written, pieces = outcome
            for name in written:
                _copy(spool, pieces[name], open_joined(name))
            summaries.append(summary)
            if tick is not None:
                tick()
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # (the workers stopped, when left early)
        _JOB = outer
        spool.close()


_ONE_AT_A_TIME = threading.RLock()


def _copy(spool: Spool, pieces: t.Sequence[tuple[int, int]], sink: Writable) -> None:
    copy_from = getattr(sink, "copy_from", None)  # (an export's file: copied by the system)
    for offset, length in pieces:
        if copy_from is not None:
            copy_from(spool.fd, offset, length)
            continue
        for at in range(offset, offset + length, _COPY):
            sink.write(spool.read(at, min(_COPY, offset + length - at)))


class _Pieces:
    """One file's bytes of a slice, in the spool: ``(offset, length)`` of each piece appended.

    The files of a slice share one budget of about 4 MiB (a CSV slice writes some thirty tables
    at once): past it, every file's bytes held go to the spool.
    """

    def __init__(self, spool: Spool, pieces: list[tuple[int, int]], held: list[_Pieces]) -> None:
        self._spool, self.pieces, self._held = spool, pieces, held
        self._parts: list[bytes] = []
        self.size = 0
        held.append(self)

    def write(self, data: bytes) -> None:
        self._parts.append(data)
        self.size += len(data)
        if self.size >= _PIECE or sum(file.size for file in self._held) >= _PIECE:
            for file in self._held:
                file.flush()

    def flush(self) -> None:
        if self.size:
            data = b"".join(self._parts)
            try:
                self.pieces.append((self._spool.append(data), len(data)))
            except OSError as exc:
                raise self._spool.refused(
                    "a worker's slice", exc, hint="free room there, set TMPDIR, or use --jobs 1"
                ) from exc
        self._parts.clear()
        self.size = 0


def _write_slice(number: int, of: int, start: int, stop: int) -> tuple[t.Any, ...]:
    """In a worker (or here): write slice ``number`` (records ``start:stop``) into the spool;
    ``("ok", summary, names, pieces of each name)`` or a failure (:func:`.parts.failure`)."""
    from .errors import ToolkitError
    from .parts import failure

    assert _JOB is not None
    plugin, records, context, plan, spool, counts = _JOB
    piece = records[start:stop]
    piece.counter = None if counts is None else _Count(counts, number - 2)  # (never the terminal's, here)
    pieces: dict[str, list[tuple[int, int]]] = {}
    files: list[_Pieces] = []

    def open_pieces(name: str) -> _Pieces:
        return _Pieces(spool, pieces.setdefault(name, []), files)

    # (a plan may hold the whole collection, and a slice read records beyond its own: counted as its own)
    counter, records.counter = records.counter, piece.counter
    try:
        summary, names = run_slice(plugin, piece, context, plan, Slice(number, of), open_pieces)
        for file in files:
            file.flush()
        return ("ok", _travels(plugin, summary), names, pieces)
    except (ToolkitError, OSError) as exc:
        return failure(exc)
    finally:
        records.counter = counter


def _travels(plugin: Format, summary: t.Any) -> t.Any:
    """``summary``, which a worker sends back pickled: whichever slice made it, it must pickle."""
    from .plugins import _broke

    try:
        pickle.dumps(summary)
    except Exception as exc:
        _broke(plugin, f"stream_slice must return a summary that can be pickled, not {type(summary).__name__} ({exc})")
    return summary


def _counts(records: Records, workers: int) -> t.Any:
    """Counts of the records each worker reads, in memory this process shares with them, when
    ``records`` are counted for a progress shown on a terminal (added to what it shows); else None."""
    from .progress import Progress

    progress = records.counter
    if not isinstance(progress, Progress) or not progress.enabled or not workers:
        return None
    import multiprocessing

    try:
        counts = multiprocessing.get_context("fork").RawArray("q", workers)
    except OSError:  # (no shared memory here: the progress shows what this process reads)
        return None
    progress.elsewhere = counts
    return counts


class _Count:
    """A worker's count of the records it reads, in its place of the shared counts."""

    def __init__(self, counts: t.Any, place: int) -> None:
        self._counts, self._place = counts, place

    def record_read(self) -> None:
        self._counts[self._place] += 1
