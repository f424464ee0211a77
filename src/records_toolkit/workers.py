"""Forked worker processes: the validation's chunks and the export's slices run in them.

Forked (not spawned): a worker inherits what this process has loaded and made (the schemas, the
export's spool, a format's plan), so only small arguments and results travel. A worker ends with
this process whatever ends it (``kill -9`` included), ignores Ctrl-C (this process, which the
terminal signals too, stops the workers itself) and is killed at once on an interrupt, a signal
or an error here.
"""

from __future__ import annotations

import functools
import itertools
import os
import typing as t

__all__ = ["can_fork", "cores", "count", "in_order", "libc", "stop_workers", "worker_start"]

Result = t.TypeVar("Result")

_LIBC: list[t.Any] = []


def libc() -> t.Any:
    """The C library through :mod:`ctypes` (``prctl``, ``syncfs``), or None where it cannot be loaded.

    Loaded once, here, before any fork: a forked process then has it, where importing ctypes
    anew took 3 to 8 ms in each of the workers, the walk's helper and the export's end."""
    if not _LIBC:
        import sys

        try:
            if not sys.platform.startswith("linux"):  # (prctl and syncfs are Linux's)
                raise ImportError
            import ctypes

            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except (OSError, AttributeError, ImportError):
            _LIBC.append(None)
    return _LIBC[0]


def set_death_signal() -> bool:
    """Linux: ask the kernel to send this process SIGKILL when its parent ends
    (``prctl(PR_SET_PDEATHSIG)``); whether it took."""
    import signal

    c = libc()
    try:
        return c is not None and c.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


def in_order(
    work: t.Callable[..., Result],
    tasks: t.Iterable[tuple[t.Any, ...]],
    workers: int,
    what: str,
    meanwhile: t.Callable[[], None] | None = None,
    ahead: int | None = None,
    waiting: t.Callable[[], None] | None = None,
    idle: t.Callable[[], bool] | None = None,
) -> t.Iterator[Result]:
    """``work(*task)`` for each of ``tasks`` in ``workers`` forked processes; the results in order.

    At most ``ahead`` tasks (default: two per worker) are sent ahead of the results taken
    (results that wait are memory). ``waiting``: called now and then while a result is awaited
    (a progress shown). ``meanwhile``: this process's own share of the work, run once the first tasks are
    sent. ``idle``: more of this process's own work, in small steps, done while it waits for the
    next result, until it returns False (the walk that finds the tasks: see
    :class:`.validate.Streamed`); meanwhile a worker about to run out of tasks is sent the next
    one at once (at most four times ``ahead`` are then held). A worker that dies is a
    :class:`~.errors.CouldNotRun` naming ``what`` ("validation").
    """
    import collections
    import concurrent.futures
    import multiprocessing
    import signal
    from concurrent.futures.process import BrokenProcessPool

    from .errors import CouldNotRun
    from .output import SignalGuard

    pending = iter(tasks)
    libc()  # (loaded before the workers are forked: they inherit it)
    context = multiprocessing.get_context("fork")
    begun = None
    if meanwhile is not None:  # (a count the workers share, inherited: see _wait_begun)
        token = next(_TOKENS)
        begun = _BEGUN[token] = context.RawValue("i", 0)  # (no lock: see _begin)
        work = t.cast(t.Callable[..., Result], functools.partial(_begin, token, work))
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=worker_start, initargs=(os.getpid(),)
    )
    try:
        with SignalGuard(defer=False):  # SIGTERM too ends the wait here, and so the workers
            # submit, not map: map's clean-up cancels futures the pool then fails (InvalidStateError)
            # The first submit forks the workers: a signal handled meanwhile would be raised inside
            # the fork hooks (logging's), where Python prints it and goes on. It waits until then.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                sent = itertools.islice(pending, 2 * workers if ahead is None else max(1, ahead))
                futures = collections.deque(pool.submit(work, *task) for task in sent)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            if meanwhile is not None:
                if begun is not None:
                    _wait_begun(begun, min(workers, len(futures)))
                meanwhile()
            held = 4 * (2 * workers if ahead is None else max(1, ahead))
            while futures:  # each result let go once handed on (a done future keeps its result)
                while idle is not None and not futures[0].done():
                    if len(futures) < held and sum(not future.done() for future in futures) <= workers:
                        task = next(pending, None)  # (a worker would wait for the first result)
                        if task is not None:
                            futures.append(pool.submit(work, *task))
                            continue
                    if not idle():
                        idle = None
                result = _result(futures.popleft(), waiting)
                task = next(pending, None)
                if task is not None:
                    futures.append(pool.submit(work, *task))
                yield result
                del result
    except BaseException as exc:
        stop_workers(pool)
        if isinstance(exc, BrokenProcessPool):
            SignalGuard.raise_pending()  # (a SIGTERM sent to the whole process group ended the workers first)
            raise CouldNotRun(f"{what} could not run: a worker process ended unexpectedly ({exc})") from None
        raise
    else:
        pool.shutdown()
    finally:
        if begun is not None:
            _BEGUN.pop(token, None)


_BEGUN: dict[int, t.Any] = {}  # token of an in_order() call -> the tasks its workers have begun (shared)
_TOKENS = itertools.count()
BEGIN_WAIT = 0.05
"""Seconds this process waits at most for its workers to begin their first tasks before it runs
its own share (``meanwhile``), see :func:`_wait_begun`."""


def _begin(token: int, work: t.Callable[..., Result], *task: t.Any) -> Result:
    """In a worker: count the task as begun (:data:`_BEGUN`, inherited), then do it.

    The count is shared memory without a lock: a worker killed while it held one (the pool
    terminates the others when one dies, and :func:`stop_workers` kills them) would keep it held
    for ever, and this process's next read of the count would wait for it for ever (seen: 1 export
    in 50 with a slice's worker killed, on a busy machine). Two workers adding at the same instant
    may lose one: this process then waits out :data:`BEGIN_WAIT`, no more."""
    begun = _BEGUN.get(token)
    if begun is not None:
        begun.value += 1
    return work(*task)


def _wait_begun(begun: t.Any, least: int) -> None:
    """Sleep until the workers have begun ``least`` tasks, :data:`BEGIN_WAIT` at most. The tasks
    reach them through the pool's threads here, which wait for this one's turn (a switch every
    5 ms): run at once, this process's own share (the collection rules, in pure Python) kept the
    workers of an export's slices idle 15 to 25 ms, a core unused."""
    import time

    deadline = time.monotonic() + BEGIN_WAIT
    while begun.value < least and time.monotonic() < deadline:
        time.sleep(0.0005)


def _result(future: t.Any, waiting: t.Callable[[], None] | None = None) -> t.Any:
    """The result of ``future``; meanwhile a signal a write inside which this runs only noted
    (:class:`~.output.SignalGuard` deferring) is raised: a wait on a worker is no piece written."""
    from .output import SignalGuard

    while True:
        try:
            return future.result(timeout=0.2)
        except TimeoutError:
            SignalGuard.raise_pending()
            if waiting is not None:
                waiting()


PER_CORE = 4
"""Worker processes per core at most, whatever ``--jobs`` asks (``--jobs 100000`` is a typo, not 100,000 processes)."""


def cores() -> int:
    """The cores this process may use (its CPU affinity, where the system tells)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # (not on every system)
        return os.cpu_count() or 1


def count(jobs: int | None) -> int:
    """The worker processes for ``jobs``: one per core this process may use, or the number given
    up to :data:`PER_CORE` per core."""
    return cores() if jobs is None else min(jobs, PER_CORE * cores())


def can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def worker_start(parent: int) -> None:
    """In a new worker: end with the main process, whatever ends it (SIGKILL included).

    Linux: the kernel sends SIGKILL to the worker when its parent dies (``PR_SET_PDEATHSIG``);
    elsewhere a thread polls the parent. SIGINT is ignored: a Ctrl-C reaches the whole process
    group, and the main process, which stops the workers itself, answers it. SIGTERM ends a worker.

    What the worker inherits is frozen (:func:`gc.freeze`): never searched by its collections,
    which would write to every inherited object and so copy the pages it shares with the main
    process (a slice of an export took 1.8 times as long in a worker as here).
    """
    import gc
    import signal
    import threading
    import time

    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the main process's handler, inherited by fork
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # (blocked while it was forked)
    watched = set_death_signal()
    if os.getppid() != parent:  # it died before the watch began
        os._exit(1)
    if not watched:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="records-toolkit-parent-watch", daemon=True).start()


def stop_workers(pool: t.Any) -> None:
    """End the workers now (an interrupt, a signal, an error): running tasks are killed, queued ones dropped.

    The pool sees its workers die and fails the futures left; no future is cancelled here, as
    the pool would then fail on setting the exception of a cancelled one. A worker killed while
    it sent its result leaves the pool's reader waiting for the rest of the message: once the
    workers are gone this process holds the only other end of that pipe, and closing it ends the
    read (end of file), so the pool can shut down instead of waiting forever.
    """
    import contextlib

    workers = list((getattr(pool, "_processes", None) or {}).values())
    for process in workers:
        with contextlib.suppress(Exception):
            process.kill()
    for process in workers:
        with contextlib.suppress(Exception):
            process.join(timeout=5)
    if not any(process.is_alive() for process in workers):
        with contextlib.suppress(Exception):
            pool._result_queue._writer.close()  # (the workers' copies closed with them)
    pool.shutdown(wait=True)
