"""Partitioned exports (``toolkit export --parts N``) and exports on a Dask cluster (``--scheduler``).

A format that is :class:`~.plugins.Partitioned` (CSV, JSON-LD) writes its export in parts: the
records are split by :meth:`~.streaming.Records.partition` (a rule that depends on the records
and ``N`` only), each part is written on its own, then an index lists them (a Frictionless data
package, a JSON-LD Dataset). The same records and ``N`` give byte-identical files whoever writes
which part: this process (:func:`write_parts` without a cluster) or the cluster's workers.

On a cluster (:func:`collect_on_cluster`), the workers check the files chunk by chunk as
``validate --scheduler`` does and each writes the valid records of its chunk to a spool file in a
directory the workers and this process share (beside the output); only their keys come back.
Then each part is written by a worker straight into the staging directory of the all-or-nothing
write (:class:`~.output.Opener`), read from those spools; this process writes the index and
commits. A format that is not partitioned (ICS, Markdown) is gathered: this process writes it
from the spools, in order, as a local export does.
"""

from __future__ import annotations

import os
import typing as t

from .errors import CouldNotRun, InvalidData, OptionError, OutputError, PluginError, ToolkitError, UsageError
from .plugins import Context, Format, Part, Writable, run_index, run_part, run_plan
from .streaming import Records, SpoolFiles

if t.TYPE_CHECKING:
    from .validate import DaskRun

__all__ = ["collect_on_cluster", "write_parts"]


def write_parts(
    plugin: Format,
    records: Records,
    context: Context,
    parts: int,
    open: t.Callable[[str], Writable],
    dask: DaskRun | None = None,
) -> tuple[list[str], list[str]]:
    """Write ``records`` in ``parts`` parts through ``open``; ``(notices, names)``.

    With ``dask`` (and records spooled by :func:`collect_on_cluster`, and an ``open`` that can
    :meth:`~.output.Opener.adopt`), each part is written by a worker.
    """
    plan = run_plan(plugin, records, context)
    numbered = [(Part(number, parts), piece) for number, piece in enumerate(records.partition(parts), start=1)]
    names: list[str] = []
    summaries: list[t.Any] = []
    staging = getattr(open, "staging", None)
    close_files = getattr(open, "close_files", None)  # (output.Opener: one part's files open at a time)
    if dask is not None and isinstance(records.spool, SpoolFiles) and staging is not None:
        for summary, written in _on_cluster(plugin, numbered, context, plan, records.spool, staging, dask):
            for name in written:
                open.adopt(name)  # type: ignore[attr-defined]
            names += written
            summaries.append(summary)
    else:
        for part, piece in numbered:
            summary, written = run_part(plugin, piece, context, plan, part, open)
            if close_files is not None:
                close_files()
            names += written
            summaries.append(summary)
    notices, written = run_index(plugin, context, plan, summaries, open)
    return notices, names + written


def _on_cluster(
    plugin: Format,
    numbered: list[tuple[Part, Records]],
    context: Context,
    plan: t.Any,
    spool: SpoolFiles,
    staging: str,
    dask: DaskRun,
) -> list[tuple[t.Any, list[str]]]:
    """Each part written by a worker into ``staging``; ``(summary, names)`` of each, in order.

    On any failure or signal, the parts not yet written are cancelled; a part still running on a
    worker then finds the staging folder gone (it is renamed before it is removed, and a worker
    never creates it): nothing is left behind.
    """
    from .output import SignalGuard

    client = dask.client()
    spec = (
        plugin.name,
        dict(context.options),
        context.source_date_epoch,
        context.source_date_epoch_error,
        context.implied,
    )
    shared = client.scatter({"plan": plan}, broadcast=True)["plan"]
    futures = [
        client.submit(
            _write_part, spec, spool.directory, spool.names, piece.key_arrays(), shared, part, staging, pure=False
        )
        for part, piece in numbered
    ]
    done: list[tuple[t.Any, list[str]]] = []
    try:
        with SignalGuard(defer=False):
            for number, future in enumerate(futures):
                outcome = _result(future, dask)
                futures[number] = None
                if outcome[0] != "ok":
                    _raise(plugin, outcome)
                done.append((outcome[1], outcome[2]))
        return done
    except BaseException:
        client.cancel([future for future in futures if future is not None])
        raise


def _result(future: t.Any, dask: DaskRun) -> t.Any:
    from concurrent.futures import CancelledError

    from .validate import cluster_failure

    try:
        return future.result()
    except (CancelledError, Exception) as exc:
        raise cluster_failure(exc, dask, "the export", "part") from None


def _raise(
    plugin: Format, outcome: tuple[str, ...], who: str = "a Dask worker could not write a part", *, same: bool = False
) -> t.NoReturn:
    """A worker's failure (:func:`failure`), raised here as the same kind of error (exceptions do
    not travel well); ``who``: what failed, for any other error. ``same``: a worker of this
    machine, running what this process would (an export's slice): its error keeps its class
    and exit code (on a cluster a worker's own usage error says the machines differ: exit 3)."""
    kind, message = outcome[1], outcome[2]
    if kind == "PluginError":
        name, package, cause = t.cast(tuple[str, str, str], message)
        raise PluginError(name, package, cause)
    if kind == "OptionError":
        raise OptionError(message)
    if kind == "OSError":
        raise OutputError(f"cannot write the {plugin.name} export: {message}; nothing was changed")
    cls, text = t.cast(tuple[str, str], message)
    if same and cls in _SAME:
        raise _SAME[cls](text)
    raise CouldNotRun(f"{who}: {text}")


_SAME: dict[str, type[ToolkitError]] = {
    cls.__name__: cls for cls in (InvalidData, UsageError, OutputError, CouldNotRun)
}


def failure(exc: ToolkitError | OSError) -> tuple[str, str, t.Any]:
    """``("error", kind, message)`` for an error a worker hands back (:func:`_raise` raises it
    again here): a :class:`PluginError`, an :class:`OptionError`, an ``OSError``, or another
    :class:`ToolkitError` as ``(its class's name, its message)``."""
    if isinstance(exc, PluginError):
        return ("error", "PluginError", (exc.name, exc.package, exc.cause))
    if isinstance(exc, OptionError):
        return ("error", "OptionError", str(exc))
    if isinstance(exc, ToolkitError):
        named = next((cls for cls in type(exc).__mro__ if cls.__name__ in _SAME), CouldNotRun)
        return ("error", "ToolkitError", (named.__name__, str(exc)))
    return ("error", "OSError", f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc))


def _write_part(
    spec: tuple[str, dict[str, str], int | None, str | None, frozenset[str]],
    directory: str,
    names: list[str],
    arrays: tuple[list[str], list[str], t.Any, t.Any],
    plan: t.Any,
    part: Part,
    staging: str,
) -> tuple[t.Any, ...]:
    """On a worker: write one part into ``staging``; ``("ok", summary, names)`` or ``("error", kind, message)``."""
    import contextlib

    from .output import Sink
    from .plugins import load
    from .schema_view import SchemaView
    from .schemas import load_model

    opened: list[tuple[int, Sink]] = []
    spool = SpoolFiles(directory, names)
    try:
        name, options, epoch, epoch_error, implied = spec
        plugin = load(name)
        context = Context(
            schema=SchemaView.of(load_model()),
            options=options,
            source_date_epoch=epoch,
            source_date_epoch_error=epoch_error,
            implied=implied,
        )

        def open_file(relative: str) -> Sink:
            target = os.path.join(staging, relative)
            folder = staging
            for part in relative.split("/")[:-1]:  # below the staging folder only: never make it again
                folder = os.path.join(folder, part)
                with contextlib.suppress(FileExistsError):
                    os.mkdir(folder)
            # truncated, not exclusive: a retry after a lost worker writes the part again
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(target, flags, 0o666)
            sink = Sink(fd, None)
            opened.append((fd, sink))
            return sink

        summary, written = run_part(plugin, Records.of_keys(spool, arrays), context, plan, part, open_file)
        for _fd, sink in opened:
            sink.flush()
        return ("ok", summary, written)
    except (ToolkitError, OSError) as exc:
        return failure(exc)
    finally:
        for fd, _sink in opened:
            os.close(fd)
        spool.close()


# -- validation on the cluster, the records spooled on the shared file system ----------------------

SPOOL_PREFIX = ".toolkit-spool-"


def collect_on_cluster(
    paths: t.Sequence[str | os.PathLike[str]], *, max_bytes: int, dask: DaskRun, beside: str
) -> Records:
    """Validate the records under ``paths`` on the cluster (as :func:`~.streaming.collect` does
    here) and spool them into a new directory in ``beside`` (a directory the workers see under the
    same name); the report's problems raise :class:`~.errors.InvalidRecords`, nothing kept."""
    from .output import SignalGuard
    from .remote import check_remote_run, remote_urls

    check_remote_run(remote_urls(paths), dask=True)  # memory:// lives in this process only
    with SignalGuard(defer=False):  # SIGTERM too ends the run through the clean-up below
        return _collect(paths, max_bytes, dask, beside)


def _collect(paths: t.Sequence[str | os.PathLike[str]], max_bytes: int, dask: DaskRun, beside: str) -> Records:
    import functools
    import shutil
    import tempfile

    from . import validate
    from .streaming import scope_of

    scope = scope_of(paths)
    layout = None if scope is None else scope.layout  # (the rule a local export applies)
    checker = validate.Checker(keep=False)
    files = validate.walk_into(checker, paths)
    mine = f"{SPOOL_PREFIX}{_host()}-"
    _sweep(beside, mine)
    try:
        directory = tempfile.mkdtemp(prefix=f"{mine}{os.getpid()}-", dir=beside)
    except OSError as exc:
        raise OutputError(f"cannot make the export's spool directory in {beside}: {exc.strerror or exc}") from exc
    try:
        work = functools.partial(_spool_chunk, directory=directory)
        if files:
            for merged in validate._in_dask(files, False, max_bytes, layout, dask, work):
                checker.merge(merged)
        spooled: list[tuple[str, str, int, int, str]] = checker.records  # type: ignore[assignment]
        checker.records = []
        checker.finish().report.raise_for_problems()
        spool = SpoolFiles(directory, sorted({key[4] for key in spooled}), owned=True)
        number = {name: index << SpoolFiles.SHIFT for index, name in enumerate(spool.names)}
        keys = [(type_name, record_id, number[name] | at, length) for type_name, record_id, at, length, name in spooled]
        spooled.clear()
        return Records(spool, keys)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _host() -> str:
    import socket

    return "".join(c if c.isalnum() else "_" for c in socket.gethostname())


def _sweep(beside: str, mine: str) -> None:
    """Remove the spool directories in ``beside`` that an export on this host left when it was
    killed (``SIGKILL``: no clean-up ran): their process is gone."""
    import shutil

    from .output import _owner_alive

    try:
        entries = list(os.scandir(beside))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(mine) :].partition("-")[0]
        if entry.name.startswith(mine) and pid.isdigit() and entry.is_dir(follow_symlinks=False):
            if not _owner_alive(int(pid)):
                shutil.rmtree(entry.path, ignore_errors=True)


def _spool_chunk(
    files: list[str], keep: bool, max_bytes: int, layout: t.Any = None, *, directory: str
) -> dict[str, t.Any]:
    """On a worker: check some files, write their valid records (canonical key order, ``marshal``)
    to one spool file in ``directory``; the checker's state, its ``kept`` the records' keys
    ``(type, id, offset, length, spool file)``. The file appears whole (written, then renamed):
    a retry after a lost worker writes it again under the same name."""
    import hashlib
    import secrets

    from .schemas import load_model
    from .streaming import Checked
    from .validate import Checker

    checked = Checked(load_model())
    checker = Checker(layout=layout, on_valid=checked.add_valid)
    checker.add_files(files, max_bytes)
    state = checker.state()
    name = hashlib.sha256("\0".join(files).encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".spool"
    keys = [(type_name, record_id, at, length, name) for type_name, record_id, at, length in checked.keys]
    blobs = checked.blobs
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(8)}")
    with open(temporary, "xb") as out:
        out.write(b"".join(blobs))
    os.replace(temporary, os.path.join(directory, name))
    state["kept"] = keys
    state["order"] = files  # the chunk's files, for the merge on the cluster (validate._in_dask)
    return state
