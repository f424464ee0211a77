"""The toolkit from Python: one function per job, the same ones the ``toolkit`` command calls.

Records are plain dicts (keys in canonical order), handed out sorted by ``(type, id)``; no
wrapper type leaks. Every function raises only the errors of :mod:`records_toolkit.errors`
(``ToolkitError`` and its subclasses, each with its ``exit_code``).

>>> from records_toolkit import api
>>> report = api.validate(["records"])            # doctest: +SKIP
>>> report.ok, len(report.valid)                  # doctest: +SKIP
(True, 43)
>>> api.export(report, "ics", imprecise="span").data[:15]   # doctest: +SKIP
b'BEGIN:VCALENDAR'
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from pathlib import Path

from .errors import CouldNotRun, InvalidData, InvalidRecords, PluginError, Terminated, ToolkitError, UsageError
from .loader import MAX_FILE_BYTES
from .loader import SURROGATE as _SURROGATE
from .problems import FrozenValue, Problem, Report, set_field

if t.TYPE_CHECKING:
    from .canonical import Formatted
    from .plugins import Context, Exported, Format, Option, Record
    from .progress import Progress
    from .streaming import Records

PathLike = t.Union[str, "os.PathLike[str]"]
Paths = t.Union[PathLike, t.Sequence[PathLike]]  # noqa: UP007
DEFAULT_PATHS: tuple[str, ...] = ("records",)

__all__ = [
    "DEFAULT_PATHS",
    "FormatInfo",
    "Formats",
    "canonical_yaml",
    "describe_schema",
    "export",
    "find_quotes",
    "fmt",
    "formats",
    "import_records",
    "init",
    "load",
    "new_record",
    "show",
    "source_block",
    "validate",
    "validate_records",
]


def _paths(paths: Paths | None) -> list[PathLike]:
    """The paths as a list, each checked: text or a path object, without NUL (no OS call takes one)."""
    if paths is None:
        return list(DEFAULT_PATHS)
    given: list[t.Any] = (
        [paths] if isinstance(paths, (str, os.PathLike)) else list(paths) if _iterable_not_text(paths) else [paths]
    )
    for path in given:
        _path(path, "paths")
    return given


def _local(path: PathLike) -> PathLike:
    """A ``file://`` URL as the local path it names (else the path as given)."""
    if isinstance(path, str) and "://" in path:
        from .remote import local_path

        return local_path(path) or path
    return path


def _iterable_not_text(value: t.Any) -> bool:
    return not isinstance(value, (str, bytes, bytearray, t.Mapping)) and isinstance(value, t.Iterable)


def _path(value: t.Any, what: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise UsageError(f"{what}: give a path (text or pathlib.Path), not {type(value).__name__}")
    text = os.fspath(value)
    if not isinstance(text, str):
        raise UsageError(f"{what}: give a path as text, not {type(text).__name__}")
    if "\x00" in text:
        raise UsageError(f"{what}: {text!r} holds a NUL character, which no file name can")
    return Path(text)


def _whole(value: t.Any, what: str, *, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UsageError(f"{what}={value!r}: give a whole number, {least} or more")
    return value


def _format_name(value: t.Any) -> str:
    if not isinstance(value, str):
        raise UsageError(f"format: give the name of a format as text (`toolkit formats`), not {type(value).__name__}")
    return value


def _sort_key(record: t.Mapping[str, t.Any]) -> tuple[str, str]:
    return (str(record.get("type", "")), str(record.get("id", "")))


# -- load ------------------------------------------------------------------------------------------


def load(
    paths: Paths | None = None, *, max_file_size: int = MAX_FILE_BYTES, problems: list[Problem] | None = None
) -> t.Iterator[Record]:
    """Stream the records under ``paths`` (files and directories; default ``records``), file by file.

    Records are loaded, not validated. A file that cannot be loaded raises
    :class:`~records_toolkit.errors.InvalidData` naming its file, line and column, unless a
    ``problems`` list is given: then its problems are appended there and loading goes on.
    """
    from .loader import iter_record_files, load_file

    if problems is not None and not isinstance(problems, list):
        raise UsageError(f"problems: give a list to collect them in, not {type(problems).__name__}")
    given = _paths(paths)
    _whole(max_file_size, "max_file_size")
    return _load(given, max_file_size, problems, iter_record_files, load_file)


def _load(
    given: list[PathLike], max_file_size: int, problems: list[Problem] | None, walk: t.Any, load_file: t.Any
) -> t.Iterator[Record]:
    for item in walk(given):
        loaded_items: t.Iterable[t.Any] = (
            [item] if isinstance(item, Problem) else load_file(item, max_bytes=max_file_size)
        )
        for loaded in loaded_items:
            if isinstance(loaded, Problem):
                if problems is None:
                    where = loaded.file + (f":{loaded.line}:{loaded.column or 1}" if loaded.line is not None else "")
                    raise InvalidData(f"{where}: {loaded.message} [{loaded.code}]", problems=[loaded])
                problems.append(loaded)
            else:
                yield t.cast("Record", loaded.data)


# -- validate --------------------------------------------------------------------------------------


def validate(
    paths: Paths | None = None,
    *,
    max_file_size: int = MAX_FILE_BYTES,
    jobs: int | None = None,
    collect: bool = True,
    collection: PathLike | bool = False,
    cache: bool = False,
    progress: bool = False,
    scheduler: str | t.Any = None,
) -> Report:
    """Check every record under ``paths`` against the schemas and the collection rules.

    The :class:`~records_toolkit.problems.Report` holds every problem (none is raised; call
    ``report.raise_for_problems()`` to turn them into an error) and, with ``collect``, the
    records in which no error was found as ``report.valid``, sorted by ``(type, id)``.
    Large trees are split over ``jobs`` processes (default: one per core).

    ``collection`` (what ``toolkit validate`` does with ``True``): False checks the records under
    ``paths`` on their own; True finds their collection (``records-toolkit.toml`` up to the
    repository root, else ``records/`` here) and, when every path lies inside it, checks them
    against all of its records, reporting only their own problems (and, in the one-record-per-file
    layout, ``misplaced-record``); a path names the collection. See :mod:`records_toolkit.collection`.

    ``cache`` (what ``toolkit validate`` does unless ``--no-cache``): with a collection and without
    ``collect``, reuse the results of unchanged files from the collection's signed cache and
    update it; the report is the same as without it. See :mod:`records_toolkit.cache`.
    ``progress``: on a terminal, a run longer than two seconds shows its progress on standard
    error (see :mod:`records_toolkit.progress`).

    ``scheduler`` (``toolkit validate --scheduler``): load and check the files on a Dask cluster,
    then run the collection rules here, once, on the merged result: the same report as a local
    run. A scheduler's address (``"tcp://HOST:8786"``), ``"local"`` (a local cluster of ``jobs``
    worker processes, default 2, ended when the run ends) or a ``distributed.Client``. Needs the
    ``dask`` extra (``pip install 'records-toolkit[dask]'``, else :class:`UsageError`); the workers
    need the same records-toolkit and schemas, and the files under the same names (a shared file
    system); a scheduler that cannot be reached is :class:`CouldNotRun`. Only the checks' results
    travel back, and with ``collect`` the valid records (``collect=False`` for a report alone).
    """
    from .collection import resolve
    from .schemas import deferred_check, load_model
    from .validate import check_paths

    given = [_local(path) for path in _paths(paths)]  # a file:// URL is its path, in the collection or not
    _whole(max_file_size, "max_file_size")
    if jobs is not None:
        _whole(jobs, "jobs")
    if not isinstance(collection, bool):
        collection = _path(collection, "collection")
    scope = resolve(None if paths is None else given, collection)
    from .progress import Progress

    shown = Progress() if progress else None
    cached = bool(cache) and scope.root is not None and not collect
    dask = None
    if scheduler is not None:
        from .validate import DaskRun

        dask = DaskRun(scheduler, jobs)  # a missing Dask or a malformed address: said before any work
    try:
        with deferred_check(cached):  # a run answered from the cache need not import jsonschema-rs
            result = check_paths(
                scope.named,
                keep=bool(collect),
                max_bytes=max_file_size,
                jobs=jobs,
                collection=scope.context,
                layout=scope.layout,
                cache_root=scope.root if cache else None,
                progress=shown,
                dask=dask,
            )
            if cached and not result.report.records:  # no record vouches for the schemas: check them now
                load_model().check()
    except OSError as exc:  # the worker pool or the machine, not the records
        raise CouldNotRun(f"validation could not run: {exc.strerror or exc}") from exc
    finally:
        if dask is not None:
            dask.close()
        if shown is not None:
            shown.close()
    report = result.report
    if collect:
        report.valid = _valid_records(report, ((d.file, d.index, d.data) for d in result.records))
    return report


def validate_records(records: t.Iterable[t.Mapping[str, t.Any]], *, names: t.Sequence[str] | None = None) -> Report:
    """Validate records held in memory (built by a pipeline, read from an API) as one collection.

    Problems name the record as ``<record N>`` (or ``names[N]``) with the JSON pointer inside
    it, and no line: nothing is read from disk. A value JSON cannot hold (a ``datetime.date``,
    bytes, a set, NaN, a key that is not text) is a problem of its record, not an exception;
    text, number and boolean subclasses (``StrEnum``, ``IntEnum``) are read as their plain values.
    ``report.valid`` holds the records without errors, sorted by ``(type, id)``.
    """
    from .loader import Document
    from .validate import Checker

    if not _iterable_not_text(records):
        raise UsageError(f"records: give an iterable of records (mappings), not {type(records).__name__}")
    if names is not None and (
        isinstance(names, str) or not isinstance(names, t.Sequence) or not all(isinstance(n, str) for n in names)
    ):
        raise UsageError("names: give a list of text, one name per record")
    checker = Checker(keep=True, in_files=False)
    count = 0
    for index, record in enumerate(records):
        count += 1
        if names is not None and index >= len(names):
            raise UsageError(f"names: {len(names)} names for more records")
        name = names[index] if names is not None else f"<record {index + 1}>"
        checker.report.files += 1
        try:
            data = _plain_json(record)
        except _NotJson as exc:
            refused = (exc.pointer, exc.code, exc.message)
        else:
            if isinstance(data, dict):
                checker.add(Document(name, 0, data))
                continue
            refused = ("", "yaml-not-mapping", f"a record must be a mapping, not {type(record).__name__}")
        pointer, code, message = refused
        checker.add_problem(Problem(file=name, line=None, column=None, pointer=pointer, code=code, message=message))
        checker.report.records += 1
    if names is not None and count != len(names):
        raise UsageError(f"names: {len(names)} names for {count} records")
    result = checker.finish()
    report = result.report
    report.valid = _valid_records(report, ((d.file, d.index, d.data) for d in result.records))
    return report


class _NotJson(Exception):
    def __init__(self, pointer: str, code: str, message: str) -> None:
        super().__init__(message)
        self.pointer, self.code, self.message = pointer, code, message


_MAX_DEPTH = 100  # as the YAML loader's limit
_BIG = 10**100  # numbers of more digits are refused (as the YAML loader refuses them)


class _Unusual(Exception):
    """Internal: :func:`_plain_json` met a value it leaves to :func:`_json_value` (a refusal, or
    a type other than the plain JSON ones)."""


def _plain_json(record: t.Any) -> t.Any:
    """:func:`_json_value` of a whole record: the same copy, or the same :class:`_NotJson`.

    A record of plain ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None`` (what
    every importer and most pipelines give) is copied by :func:`_plain_container`, which builds no
    JSON pointer and checks the scalars in its loop (an import of 10,032 records spent 7 of its
    20 profiled seconds in ``_json_value``); anything else, and every refusal, goes to
    :func:`_json_value`, which says what and where.
    """
    if type(record) is dict:
        from .loader import MAX_ITEMS, MAX_VALUES

        try:
            return _plain_container(record, 0, [1], MAX_ITEMS, MAX_VALUES)
        except _Unusual:
            pass
    return _json_value(record, "", 0)


def _plain_container(
    value: dict[str, t.Any] | list[t.Any], depth: int, count: list[int], items_at_most: int, values_at_most: int
) -> t.Any:
    """A copy of ``value`` (a plain dict or list at ``depth``, counted), or :class:`_Unusual`
    wherever :func:`_json_value` would refuse or look closer: the same limits (values counted,
    keys included; items per container; nothing below depth :data:`_MAX_DEPTH`), text with no
    surrogate, integers of at most 100 digits, finite floats."""
    size = len(value)
    if size > items_at_most or (size and depth >= _MAX_DEPTH):  # (its items would stand below the limit)
        raise _Unusual
    inner = depth + 1
    if type(value) is dict:
        count[0] += 2 * size  # its keys and its values
        items: t.Iterable[t.Any] = value.values()
        for key in value:
            if type(key) is not str or not (key.isascii() or _SURROGATE.search(key) is None):
                raise _Unusual
    else:
        count[0] += size
        items = value
    if count[0] > values_at_most:
        raise _Unusual
    copied: list[t.Any] = []
    append = copied.append
    for item in items:
        kind = type(item)
        if kind is str:
            if not (item.isascii() or _SURROGATE.search(item) is None):
                raise _Unusual
        elif kind is dict or kind is list:
            item = _plain_container(item, inner, count, items_at_most, values_at_most)
        elif kind is int:
            if not -_BIG < item < _BIG:
                raise _Unusual
        elif kind is float:
            if item - item != 0.0:  # inf or nan
                raise _Unusual
        elif item is not None and kind is not bool:
            raise _Unusual
        append(item)
    return dict(zip(value, copied)) if type(value) is dict else copied


def _json_value(value: t.Any, pointer: str, depth: int, count: list[int] | None = None) -> t.Any:
    """A deep copy as plain JSON values (a caller's types and later edits do not leak in), or _NotJson.

    The loader's limits hold here too: items per list, keys per mapping, values per record, depth.
    """
    from .loader import MAX_ITEMS, MAX_VALUES
    from .problems import pointer_join

    count = [0] if count is None else count
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise _NotJson(pointer, "yaml-too-many-values", f"more than {MAX_VALUES:,} values in one record")
    if isinstance(value, (t.Mapping, list, tuple)) and len(value) > MAX_ITEMS:
        raise _NotJson(pointer, "yaml-too-many-items", f"more than {MAX_ITEMS:,} items in one list or mapping")
    if depth > _MAX_DEPTH:
        raise _NotJson(pointer, "yaml-too-deep", f"values nested deeper than {_MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        text = str.__str__(value)  # a StrEnum's value, not its name
        if not text.isascii() and _SURROGATE.search(text):
            raise _NotJson(pointer, "encoding", "the text holds a lone surrogate (not Unicode text)")
        return text
    if isinstance(value, int):
        number = int(value)
        if abs(number) >= _BIG:
            raise _NotJson(pointer, "yaml-number", "a number of more than 100 digits is refused; give it as text")
        return number
    if isinstance(value, float):
        real = float(value)
        if real != real or real in (float("inf"), float("-inf")):
            raise _NotJson(pointer, "yaml-number", f"{real} is not a number JSON can hold")
        return real
    if isinstance(value, t.Mapping):
        out: dict[str, t.Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJson(pointer, "yaml-key-type", f"mapping keys must be text, not {key!r}")
            plain_key = _json_value(key, pointer, depth + 1, count)
            out[plain_key] = _json_value(item, pointer_join(pointer, plain_key), depth + 1, count)
        return out
    if isinstance(value, (list, tuple)):
        return [_json_value(item, pointer_join(pointer, i), depth + 1, count) for i, item in enumerate(value)]
    kind = type(value).__name__
    hint = ' (write dates as EDTF text: "2022-01-21")' if kind in ("date", "datetime") else ""
    raise _NotJson(pointer, "schema-type", f"a {kind} is not a JSON value{hint}")


def _valid_records(report: Report, kept: t.Iterable[tuple[str, int, t.Any]]) -> list[Record]:
    from .canonical import canonical_record

    bad = {(p.file, p.document) for p in report.errors}
    records = [t.cast("Record", data) for file, index, data in kept if (file, index) not in bad]
    return sorted((canonical_record(r) for r in records), key=_sort_key)


# -- export ----------------------------------------------------------------------------------------

Source = t.Union[Report, t.Iterable[t.Mapping[str, t.Any]], PathLike, t.Sequence[PathLike]]  # noqa: UP007


def _is_paths(source: t.Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return True
    return isinstance(source, (list, tuple)) and bool(source) and all(isinstance(s, (str, os.PathLike)) for s in source)


def _collection(
    source: Source,
    max_file_size: int,
    dask: t.Any = None,
    beside: str = ".",
    jobs: int | None = None,
    cache: bool = False,
    progress: Progress | None = None,
    later: bool = False,
) -> Records:
    """Validated records sorted by ``(type, id)``, from a report, records or paths; else InvalidRecords.

    ``later``: records read from paths may come with their collection rules still to run
    (:meth:`~.streaming.Records.settle`, before anything is written: see :func:`_stream`).

    A report's records are validated again (in memory): they are the caller's dicts, and may
    have been edited since. Records read from paths are validated and spooled in one pass
    (:mod:`records_toolkit.streaming`): they are never all held in memory.
    """
    from .streaming import collect, of_records

    if isinstance(source, Report):
        source.raise_for_problems()
        if source.records and not source.valid:
            raise UsageError("this report holds no records: validate with collect=True")
        report = validate_records(source.valid)
        if not report.ok:
            raise InvalidRecords(
                report,
                f"the records of this report were changed after validation: "
                f"{len(report.errors)} problems (nothing written)",
            )
    elif _is_paths(source):
        given = _paths(t.cast(Paths, source))
        try:
            if dask is not None:
                from .parts import collect_on_cluster

                return collect_on_cluster(given, max_bytes=max_file_size, dask=dask, beside=beside)
            return collect(given, max_bytes=max_file_size, jobs=jobs, cache=cache, progress=progress, later=later)
        except OSError as exc:
            raise CouldNotRun(f"validation could not run: {exc.strerror or exc}") from exc
    elif _iterable_not_text(source):
        report = validate_records(t.cast(t.Iterable[t.Mapping[str, t.Any]], source))
    else:
        raise UsageError(f"source: give a Report, records or paths, not {type(source).__name__}")
    report.raise_for_problems()
    return of_records(report.valid)


def export(
    source: Source,
    format: str,
    *,
    to: PathLike | t.BinaryIO | None = None,
    source_date_epoch: int | str | None = None,
    max_file_size: int = MAX_FILE_BYTES,
    parts: int | None = None,
    scheduler: str | t.Any = None,
    jobs: int | None = None,
    cache: bool = False,
    progress: bool = False,
    **options: str,
) -> Exported:
    """Validate, then export in ``format`` with the format's ``options`` as keyword arguments.

    ``source``: a :class:`Report` from :func:`validate`, records (dicts), or paths. Invalid
    records raise :class:`~records_toolkit.errors.InvalidRecords` and nothing is written.
    ``to``: nothing (the :class:`~records_toolkit.plugins.Exported` files are returned), a
    binary file object (single-file formats), or a path: the file, or for directory formats
    the directory, replaced all or nothing. ``source_date_epoch`` defaults to the environment's
    ``SOURCE_DATE_EPOCH``.

    Written to a path, a format that streams (every built-in one) writes as it reads the
    records, and the returned ``files`` are read back from disk when asked for: an export of a
    large collection holds neither all its records nor all its output in memory. Into a file
    object, such a format writes as it goes too, and ``files`` names the file without keeping it.

    ``parts``: a format that can (:class:`~records_toolkit.plugins.Partitioned`: CSV, JSON-LD)
    writes its export in this many parts plus an index, into the directory ``to`` (byte-identical
    files for the same records and ``parts``); the part files of an earlier export there that are
    not written again are removed. Another format is written whole, with a notice.
    ``jobs``: processes for a large tree (default: one per core). ``scheduler`` (for a ``source``
    of paths; records and reports are checked here, where they are) (as for
    :func:`validate`; ``jobs``: the workers of ``"local"``): the files are
    checked on a Dask cluster, and with ``parts`` each part is written by a worker; the workers
    must see the directory of ``to`` (else the current one) under the same name, where the valid
    records are spooled meanwhile. The files are the same as a local export's.
    ``cache`` (what ``toolkit export`` does unless ``--no-cache``): when ``source`` names a
    collection whose result cache, written by :func:`validate` with ``cache``, vouches that these
    very files were checked and found without a problem, unchanged since, they are loaded without
    being checked again (each file's SHA-256 compared with what was checked); the cache is read,
    never written, and not on a Dask cluster (``scheduler``). The files written are the same either way.
    ``progress``: on a terminal, a run longer than two seconds shows its progress on standard
    error, the checks and then the format's reading (see :mod:`records_toolkit.progress`).
    """
    from .plugins import Context, load, resolve_options
    from .schema_view import SchemaView
    from .schemas import load_model

    plugin = load(_format_name(format))
    values = resolve_options(plugin, options)
    _whole(max_file_size, "max_file_size")
    if isinstance(to, (str, os.PathLike)):
        to = _output_path(to)
    if to is not None and not _is_writable(to):
        raise UsageError(f"to={to!r}: give a path or a binary file object")
    from .plugins import Partitioned

    if parts is not None:
        _whole(parts, "parts")
    partitioned = parts is not None and isinstance(plugin, Partitioned)
    if (plugin.directory or partitioned) and to is not None and not isinstance(to, (str, os.PathLike)):
        raise UsageError(f"format {plugin.name!r} writes several files: give a directory path, not a file object")
    if (plugin.directory or partitioned) and isinstance(to, Path) and os.path.exists(to) and not os.path.isdir(to):
        raise UsageError(f"format {plugin.name!r} writes several files: {to} is not a directory (give one with -o DIR)")
    dask = None
    if scheduler is not None:
        from .validate import DaskRun

        dask = DaskRun(scheduler, jobs)  # a missing Dask or a malformed address: said before any work
    implied: set[str] = set()
    from .output import written_directly

    # (a link -o writes through: its target is replaced; a descriptor such as /dev/stdout replaces nothing)
    if isinstance(to, Path) and os.path.isfile(to) and not written_directly(to):
        for option in plugin.options:  # what the format reads of the file it replaces
            if option.from_output and values.get(option.name, option.default) == option.default:
                values = {**values, option.name: os.path.realpath(to)}
                implied.add(option.name)
    from .progress import Progress

    shown = Progress(verb="export") if progress else None
    from .plugins import Streaming

    # (streamed, in slices maybe: the collection rules run while the workers write, see _stream)
    later = dask is None and not partitioned and isinstance(plugin, Streaming)
    written = False
    try:
        records = _collection(source, max_file_size, dask, _beside(to), jobs, bool(cache), shown, later)
    except BaseException:
        if dask is not None:
            dask.close()
        if shown is not None:
            shown.close()
        raise
    try:
        if shown is not None:
            shown.writing(plugin.name)
            records.counter = shown
        epoch = source_date_epoch if source_date_epoch is not None else os.environ.get("SOURCE_DATE_EPOCH")
        from .plugins import parse_source_date_epoch

        seconds, problem = parse_source_date_epoch(epoch)
        context = Context(
            schema=SchemaView.of(load_model()),
            options=values,
            source_date_epoch=seconds,
            source_date_epoch_error=problem,
            implied=frozenset(implied),
        )
        if parts is not None and not partitioned:
            exported = _export(plugin, records, context, to, jobs if dask is None else 1)
            exported.notices.insert(
                0, f"format {plugin.name!r} is not written in parts: written whole, as without parts={parts}"
            )
        elif partitioned:
            assert parts is not None
            exported = _export_parts(plugin, records, context, t.cast("PathLike | None", to), parts, dask)
        else:
            exported = _export(plugin, records, context, to, jobs if dask is None else 1)
        if getattr(records, "vouched", False):
            exported.notices.insert(
                0,
                f"{len(records)} records loaded, not checked again: the result cache vouches for them "
                "(a validate found no problem in these files, unchanged since; --no-cache checks them)",
            )
        written = to is not None  # (the export's files are in place: a signal from now on must say so)
        return exported
    except BaseException as exc:
        if written and isinstance(exc, (KeyboardInterrupt, Terminated)):
            exc.after_write = True  # type: ignore[union-attr]
        raise
    finally:
        try:
            records.close()
            if dask is not None:
                dask.close()  # (a cluster this export started: seconds, after the write)
            if shown is not None:
                shown.close()
        except (KeyboardInterrupt, Terminated) as exc:
            if written:
                exc.after_write = True  # type: ignore[union-attr]
            raise


def _beside(to: t.Any) -> str:
    """Where an export on a cluster spools its records: the directory of its output when that exists."""
    if isinstance(to, (str, os.PathLike)):
        parent = os.path.dirname(os.path.abspath(to))
        if os.path.isdir(parent):
            return parent
    return os.getcwd()


def _export_parts(
    plugin: Format, records: Records, context: Context, to: PathLike | None, parts: int, dask: t.Any
) -> Exported:
    """A partitioned export (:mod:`records_toolkit.parts`): into the directory ``to``, all or nothing, or in memory."""
    from .parts import write_parts
    from .plugins import Exported, Partitioned

    records.settle()  # (none are left for later here: see export)
    notices: list[str] = []
    names: list[str] = []
    if isinstance(to, (str, os.PathLike)):
        from .output import Sink, atomic_write_tree

        path = Path(to)

        def produce(open_file: t.Callable[[str], Sink]) -> None:
            said, opened = write_parts(plugin, records, context, parts, open_file, dask)
            notices.extend(said)
            names.extend(opened)

        atomic_write_tree(path, {}, remove=t.cast(Partitioned, plugin).earlier_parts(path), produce=produce)
        return Exported(files=_Written(path, names, True), notices=notices)
    buffers: dict[str, _Buffer] = {}

    def open_buffer(name: str) -> _Buffer:
        buffers[name] = _Buffer()
        return buffers[name]

    said, _ = write_parts(plugin, records, context, parts, open_buffer)
    return Exported(files={name: b"".join(b.parts) for name, b in buffers.items()}, notices=said)


class _Written(t.Mapping[str, bytes]):
    """The files an export wrote, by name; each read from disk when asked for."""

    def __init__(self, root: Path, names: t.Sequence[str], directory: bool) -> None:
        self._root, self._names, self._directory = root, list(names), directory

    def __getitem__(self, name: str) -> bytes:
        if name not in self._names:
            raise KeyError(name)
        return (self._root / name if self._directory else self._root).read_bytes()

    def __iter__(self) -> t.Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _export_into(plugin: Format, records: Records, context: Context, to: t.BinaryIO, jobs: int | None) -> Exported:
    """The export streamed into the binary file object ``to`` (standard output, for the CLI), as
    it is made: held whole in memory first, a JSON-LD export of 100,000 records to standard output
    took 813 MiB. Nothing is written before the collection rules pass (see :func:`_stream`), but
    what went out cannot be taken back: an interrupt after the first byte says so."""
    import io

    from .plugins import Exported

    if isinstance(to, io.TextIOBase):
        raise UsageError(f"to: a binary file object is needed for {plugin.name} (a text stream was given)")
    into = _Into(to, plugin.name)
    names: list[str] = []

    def open_into(name: str) -> _Into:
        names.append(name)  # (one file: the format is a single-file one, and a second is its fault)
        return into

    try:
        said, _ = _stream(plugin, records, context, open_into, jobs)
        into.flush()
    except BaseException as exc:
        if into.sent:
            from .output import partly_sent

            partly_sent(exc, into.where)
        raise
    return Exported(files=_Sent(names[:1]), notices=said)


class _Into:
    """Writes into a file object, a mebibyte at a time (a format writes in small pieces).

    What ``write`` returns is taken as :class:`io.RawIOBase` defines it: the bytes taken (a raw
    stream may take fewer, and the rest is given again), or ``None``: it would block. Any other
    writer returning ``None`` took them all (many do: a web framework's response, a hash). A
    descriptor left non-blocking (``O_NONBLOCK``, set by a parent process on a pipe) is waited on
    until it takes more. Anything else, a bool or a count out of range, is refused: taken as a
    count it repeated bytes or looped for ever."""

    def __init__(self, to: t.BinaryIO, format_name: str) -> None:
        import io

        self._to, self._format = to, format_name
        self._raw = isinstance(to, io.RawIOBase)
        name = getattr(to, "name", None)
        self.where = (
            "standard output"
            if name == "<stdout>"
            else f"descriptor {name}"
            if isinstance(name, int) and not isinstance(name, bool)
            else str(name or "the file object given")
        )
        self._parts: list[bytes] = []
        self._size = 0
        self.sent = False  # (some bytes taken: what went out cannot be taken back)
        self._nones = 0  # (write returned None this many times in a row: see _wait)

    def write(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        import io

        data, self._parts, self._size = b"".join(self._parts), [], 0
        at = 0  # (the bytes taken so far; after a short write the rest is given as a view, not copied)
        try:
            while at < len(data):
                try:
                    done = self._to.write(memoryview(data)[at:] if at else data)
                except BlockingIOError as exc:  # a non-blocking descriptor, full for now
                    if exc.characters_written:
                        self.sent, at = True, at + exc.characters_written
                    self._wait()
                    continue
                except (OSError, ValueError, TypeError):
                    raise  # (a failed write took nothing: /dev/full, a closed or read-only file)
                except BaseException:
                    self.sent = True  # an interrupt amid a write: part of it may have gone (a pipe takes 64 KiB)
                    raise
                if done is None:
                    if self._raw:  # (RawIOBase: it would block)
                        self._wait(would_block=True)
                        continue
                    done = len(data) - at
                self.sent, at, self._nones = True, at + self._count(done, len(data) - at), 0
            flush = getattr(self._to, "flush", None)
            if callable(flush):
                while True:
                    try:
                        flush()
                        break
                    except BlockingIOError:  # (a buffered writer on a non-blocking descriptor: it keeps the rest)
                        self._wait()
        except io.UnsupportedOperation as exc:
            raise UsageError(f"to: a binary file object open for writing is needed for {self._format} ({exc})") from exc
        except TypeError as exc:
            raise UsageError(f"to: a binary file object is needed for {self._format} ({exc})") from exc
        except (OSError, ValueError) as exc:
            from .errors import OutputError

            where = " to standard output" if self.where == "standard output" else ""
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise OutputError(f"cannot write the {self._format} export{where}: {reason}") from exc

    @staticmethod
    def _count(done: t.Any, given: int) -> int:
        """The bytes a ``write`` says it took, an integer of 1 to ``given`` (``operator.index``, as a
        buffered writer reads a raw stream's count: an int subclass or NumPy's too, a bool not)."""
        import operator

        try:
            taken = operator.index(done) if not isinstance(done, bool) else -1
        except TypeError:
            taken = -1
        if not 0 < taken <= given:
            raise OSError(
                0,
                "the file object took none of the bytes given"
                if taken == 0
                else f"its write returned {done!r}, not the number of bytes it took (1 to {given})",
            )
        return taken

    def _wait(self, *, would_block: bool = False) -> None:
        """Until the descriptor behind the file object can take more (it is non-blocking).

        ``would_block``: a raw stream's ``write`` returned None. That is believed of a descriptor
        that is non-blocking, a limited number of times in a row; else it is a writer's mistake
        (a ``write`` that forgot its ``return``), which waiting would repeat for ever."""
        import errno

        try:
            fd = self._to.fileno()
        except (AttributeError, OSError, ValueError):
            raise OSError(errno.EAGAIN, "the file object would block, and has no descriptor to wait on") from None
        if would_block:
            self._nones += 1
            if self._nones > 100_000 or os.get_blocking(fd):
                raise OSError(0, "its write returned None (it would block), but its descriptor does not block")
        from .launcher import wait_writable

        wait_writable(fd)


class _Sent(t.Mapping[str, bytes]):
    """The file an export streamed into a file object: named, not kept."""

    def __init__(self, names: t.Sequence[str]) -> None:
        self._names = list(names)

    def __getitem__(self, name: str) -> bytes:
        if name not in self._names:
            raise KeyError(name)
        raise UsageError(f"{name} was written into the file object given, as it was made, and not kept")

    def __iter__(self) -> t.Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class _Buffer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)


def _stream(
    plugin: Format, records: Records, context: Context, open: t.Callable[[str], t.Any], jobs: int | None
) -> tuple[list[str], list[str]]:
    """``run_stream``; for a large collection in a :class:`~records_toolkit.plugins.Sliced`
    format, in slices by ``jobs`` forked workers (default: one per core) and this process, the same files. The
    collection rules left for later (:meth:`~.streaming.Records.settle`) run first, or while the
    workers write their slices: nothing is written before they pass."""
    from .plugins import run_stream
    from .slices import stream_sliced
    from .workers import count

    settle = getattr(records, "settle", None)
    with _problems_first(records):
        done = stream_sliced(plugin, records, context, open, count(jobs), before=settle)
    if done is not None:
        return done
    if settle is not None:
        settle()
    return run_stream(plugin, records, context, open)


@contextlib.contextmanager
def _problems_first(records: Records) -> t.Iterator[None]:
    """An error met before the collection rules left for later ran (an output that cannot be
    written, a format's plan, a worker that could not start): the rules run then, and the
    records' own problems are what is said, as when the checks ran before anything else."""
    try:
        yield
    except ToolkitError as exc:
        if not isinstance(exc, InvalidRecords) and getattr(records, "unsettled", None) is not None:
            records.settle()
        raise


def _export(
    plugin: Format, records: Records, context: Context, to: PathLike | t.BinaryIO | None, jobs: int | None = None
) -> Exported:
    from .plugins import Exported, Streaming, run_export

    if not isinstance(plugin, Streaming):
        records.settle()
        exported = run_export(plugin, records, context)
        if to is not None:
            _write(plugin, exported, to)
        return exported
    if isinstance(to, (str, os.PathLike)):
        from .output import Producer, Sink, atomic_write, atomic_write_tree

        path = Path(to)
        notices: list[str] = []
        names: list[str] = []

        def produce(open_file: t.Callable[[str], Sink]) -> None:
            said, opened = _stream(plugin, records, context, open_file, jobs)
            notices.extend(said)
            names.extend(opened)

        writer: Producer = produce
        with _problems_first(records):
            if plugin.directory:
                from .plugins import Partitioned

                # the parts of an earlier export in parts, listed by its index: stale once this is written
                earlier = plugin.earlier_parts(path) if isinstance(plugin, Partitioned) else []
                atomic_write_tree(path, {}, remove=earlier, produce=writer)
            else:
                from .output import written_directly

                if written_directly(path):
                    records.settle()  # (a device or pipe is opened, maybe emptied, before any write)
                atomic_write(path, writer)
        return Exported(files=_Written(path, names, plugin.directory), notices=notices)
    if to is not None:
        return _export_into(plugin, records, context, to, jobs)
    buffers: dict[str, _Buffer] = {}

    def open_buffer(name: str) -> _Buffer:
        buffers[name] = _Buffer()
        return buffers[name]

    said, _ = _stream(plugin, records, context, open_buffer, jobs)
    return Exported(files={name: b"".join(b.parts) for name, b in buffers.items()}, notices=said)


def _output_path(to: t.Any) -> Path:
    """``to`` as a path; an empty one is a usage error (``Path("")`` would be the current directory),
    and so is a URL but a ``file://`` one (which is its path): what is written stays on this machine."""
    path = _path(to, "to")
    if os.fspath(to) == "":
        raise UsageError("to='' (-o ''): give a file or directory to write; an empty path is not the current directory")
    if isinstance(to, str) and "://" in to:
        from .loader import is_url

        if is_url(to):
            local = _local(to)
            if local is to:
                raise UsageError(
                    f"to={to!r} (-o): the toolkit writes local files only (a file:// URL is taken as its path); "
                    "copy the result to the file system the URL names afterwards"
                )
            return Path(local)
    return path


def _is_writable(to: t.Any) -> bool:
    return isinstance(to, (str, os.PathLike)) or callable(getattr(to, "write", None))


def _write(plugin: Format, exported: Exported, to: PathLike | t.BinaryIO) -> None:
    from .output import atomic_write, atomic_write_tree

    if plugin.directory:
        atomic_write_tree(Path(t.cast(PathLike, to)), exported.files)
    elif isinstance(to, (str, os.PathLike)):
        atomic_write(Path(to), exported.data)
    else:
        into = _Into(to, plugin.name)
        into.write(exported.data)
        into.flush()


# -- import ----------------------------------------------------------------------------------------


def import_records(
    source: PathLike,
    format: str,
    *,
    to: PathLike | None = None,
    force: bool = False,
    max_file_size: int = MAX_FILE_BYTES,
    **options: str,
) -> list[Record]:
    """Read records back from an export of ``format``; validated, sorted by ``(type, id)``.
    ``max_file_size``: the largest file of the export read, in bytes (each is read whole).

    With ``to``, they are also written as canonical YAML, one file each
    (``<to>/<type>s/<id>.yaml``), all or nothing. A ``to`` that already holds records is refused
    (:class:`~records_toolkit.errors.UsageError`) unless ``force``: then it becomes exactly the
    import, the records not in it removed in the same all-or-nothing step. Input the format cannot read raises
    :class:`~records_toolkit.errors.InvalidSource`; records that are not valid raise
    :class:`~records_toolkit.errors.InvalidRecords` (problems name ``<type>s/<id>.yaml``).
    """
    from .canonical import dumps, record_path
    from .plugins import Context, load, resolve_options, run_import
    from .schema_view import SchemaView
    from .schemas import load_model

    plugin = load(_format_name(format))
    values = resolve_options(plugin, options)
    _whole(max_file_size, "max_file_size")
    if isinstance(source, str) and "://" in source:
        from .loader import is_url

        if is_url(source) and _local(source) is source:
            raise UsageError(f"source={source!r}: imports read local files only (a file:// URL is taken as its path)")
        source = _local(source)
    path = _path(source, "source")
    target = _output_path(to) if to is not None else None
    model = load_model()
    context = Context(schema=SchemaView.of(model), options=values, max_bytes=max_file_size)
    if not path.exists():
        raise InvalidData(f"{path.as_posix()}: no such file or directory")
    records = run_import(plugin, path, context)
    names = [record_path(r) for r in records]
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise InvalidData(f"cannot import {path.as_posix()}: two records would be written to {name}")
        seen[name] = index
    shown = [f"<{name}>" for name in names]
    report = validate_records(records, names=shown)
    report.raise_for_problems()
    files = {record_path(r): dumps([r], model).encode("utf-8") for r in report.valid}
    _as_validate_reads_them(files)
    if target is not None:
        from .output import atomic_write_tree

        existing = _records_in(target)
        if existing and not force:
            raise UsageError(
                f"{target.as_posix()} already holds {len(existing)} record files: give --force (from Python: force=True) to "
                "replace them with the import (files not in it are removed), or choose an empty directory"
            )
        atomic_write_tree(target, files, remove=[name for name in existing if name not in files])
    return report.valid


def _records_in(directory: Path) -> list[str]:
    """The record files already under ``directory`` (relative POSIX names), as the walk finds them."""
    from .loader import iter_record_files

    if not directory.is_dir():
        return []
    # links, special files and leftovers are not records: the write itself refuses to go through a
    # link (OutputError), and clears its own leftovers
    return [item.relative_to(directory).as_posix() for item in iter_record_files([directory]) if isinstance(item, Path)]


def _as_validate_reads_them(files: t.Mapping[str, bytes]) -> None:
    """Every file an import would write loads as ``validate`` will load it: the same size, item,
    value and depth limits (an import never writes a record that ``validate`` then refuses)."""
    from .loader import MAX_FILE_BYTES, load_bytes

    problems: list[Problem] = []
    for name, data in files.items():
        shown = f"<{name}>"
        if len(data) > MAX_FILE_BYTES:
            problems.append(
                Problem(
                    file=shown,
                    line=None,
                    column=None,
                    pointer="",
                    code="file-too-large",
                    message=f"would be {len(data)} bytes as YAML; the limit is {MAX_FILE_BYTES}",
                )
            )
            continue
        problems.extend(p for p in load_bytes(data, shown) if isinstance(p, Problem))
    if problems:
        report = Report(problems=problems, files=len(files), records=len(files))
        raise InvalidRecords(
            report, f"{len(problems)} imported records are beyond the limits of validate (nothing written)"
        )


# -- canonical YAML --------------------------------------------------------------------------------


def canonical_yaml(records: t.Mapping[str, t.Any] | t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """The canonical YAML text of one record, or of several as one multi-document file."""
    from .canonical import dumps

    if isinstance(records, t.Mapping):
        documents: list[t.Any] = [records]
    elif _iterable_not_text(records):
        documents = list(records)
    else:
        raise UsageError(f"canonical_yaml takes a record or a list of records, not {type(records).__name__}")
    plain = []
    for index, document in enumerate(documents):
        if not isinstance(document, t.Mapping):
            raise UsageError(f"record {index + 1}: a record is a mapping, not {type(document).__name__}")
        try:
            plain.append(_plain_json(document))
        except _NotJson as exc:
            raise UsageError(f"record {index + 1}, {exc.pointer or 'the record'}: {exc.message} [{exc.code}]") from exc
    return dumps(plain)


def fmt(
    paths: Paths | None = None,
    *,
    check: bool = False,
    max_file_size: int = MAX_FILE_BYTES,
    collection: bool = True,
    jobs: int | None = None,
    cache: bool = True,
) -> Formatted:
    """Rewrite the record files under ``paths`` into canonical form; with ``check``, only report.

    ``result.report`` holds the problems (files that do not load; with ``check``, each file
    not canonical as ``not-canonical``); ``result.changed`` the files rewritten (or to be).
    With ``collection`` (the default) and a collection found (``records-toolkit.toml`` or
    ``records/``), only paths inside it are touched: a GitHub workflow or a pre-commit config
    handed over by a hook is not a record, and is listed in ``result.skipped``, never rewritten.
    No ``paths``: the collection's folder (``records-toolkit.toml``), else ``records``.
    ``jobs``: the worker processes that check a large tree (``check`` only; default one per core).
    ``cache``: the collection's result cache folder (made by ``validate``) keeps the contents
    found canonical; a file with these very bytes is not parsed again.
    """
    from .canonical import format_paths

    everything = paths is None
    if paths is None and collection:
        paths = [_records_folder(None)]  # the collection of records-toolkit.toml, as `validate` checks it
    given = _paths(paths)
    _whole(max_file_size, "max_file_size")
    skipped: list[str] = []
    found = None
    if collection:
        from .collection import discover, relative_within

        found = discover()
        if found is not None:
            everything = everything or [os.path.abspath(os.fspath(p)) for p in given] == [found.root]
            # the repository: the config's folder, or the working directory that holds records/
            repository = os.path.dirname(os.path.abspath(found.config)) if found.config else os.getcwd()

            def other_yaml(path: PathLike) -> bool:
                """A file of the repository outside the collection: a workflow, a config, not a record."""
                where = os.path.abspath(os.fspath(path))
                inside = relative_within(repository, where) is not None and relative_within(found.root, where) is None
                return os.path.isfile(where) and inside

            skipped = [Path(os.fspath(p)).as_posix() for p in given if other_yaml(p)]
            given = [p for p in given if not other_yaml(p)]
            if not given:
                result = format_paths([], check=bool(check), max_bytes=max_file_size)
                result.skipped = skipped
                return result
    cache_root = found.root if cache and found is not None else None
    result = format_paths(
        given, check=bool(check), max_bytes=max_file_size, jobs=jobs, cache_root=cache_root, whole=everything
    )
    result.skipped = skipped
    return result


# -- formats ---------------------------------------------------------------------------------------


class FormatInfo(FrozenValue):
    """One installed format, for listings."""

    # (no __slots__: a __dict__ and weak references, as the dataclass it was)
    _fields = __match_args__ = (
        "name",
        "suffix",
        "media_type",
        "summary",
        "directory",
        "can_import",
        "package",
        "version",
        "options",
    )

    name: str
    suffix: str
    media_type: str
    summary: str
    directory: bool
    can_import: bool
    package: str
    version: str
    options: tuple[Option, ...]

    def __init__(
        self,
        name: str,
        suffix: str,
        media_type: str,
        summary: str,
        directory: bool,
        can_import: bool,
        package: str,
        version: str,
        options: tuple[Option, ...],
    ) -> None:
        set_field(self, "name", name)
        set_field(self, "suffix", suffix)
        set_field(self, "media_type", media_type)
        set_field(self, "summary", summary)
        set_field(self, "directory", directory)
        set_field(self, "can_import", can_import)
        set_field(self, "package", package)
        set_field(self, "version", version)
        set_field(self, "options", options)


class Formats(FrozenValue):
    """The installed formats that load, and the errors of those that do not (they hide no other)."""

    # (no __slots__: a __dict__ and weak references, as the dataclass it was)
    _fields = __match_args__ = ("available", "broken")

    available: tuple[FormatInfo, ...]
    broken: tuple[PluginError, ...]

    def __init__(self, available: tuple[FormatInfo, ...], broken: tuple[PluginError, ...]) -> None:
        set_field(self, "available", available)
        set_field(self, "broken", broken)


def formats() -> Formats:
    """Every installed format, loaded; a broken or clashing plugin is listed in ``broken``."""
    from .plugins import Importer, discover

    available: list[FormatInfo] = []
    broken: list[PluginError] = []
    for name, entry in discover().items():
        try:
            plugin = entry.load()
        except PluginError as exc:
            broken.append(exc)
            continue
        available.append(
            FormatInfo(
                name,
                plugin.suffix,
                plugin.media_type,
                plugin.summary,
                bool(plugin.directory),
                isinstance(plugin, Importer),
                entry.package,
                entry.version,
                tuple(plugin.options),
            )
        )
    return Formats(tuple(available), tuple(broken))


# -- authoring -------------------------------------------------------------------------------------

if t.TYPE_CHECKING:
    from .authoring import Shown, TypeSchema


def new_record(type: str, id: str, *, records: PathLike | None = None) -> Path:
    """Write a canonical skeleton of a ``type`` record at ``<records>/<type>s/<id>.yaml``; its path.
    ``records``: default the collection of ``records-toolkit.toml``, else ``records``.

    Every required field is there as an obvious placeholder (``"TODO: name"``; enumerations
    get their first allowed value, listed in ``notes`` for review; a required date is ``"TODO"``,
    refused by validation until written), with one outside source (``url`` and ``title`` to
    replace) supporting the fact fields: replace every ``TODO`` before committing. An id that is
    not a valid slug, already used in the collection, or whose file exists raises
    :class:`~records_toolkit.errors.InvalidData` and nothing is written; an unknown type is a
    :class:`~records_toolkit.errors.UsageError`. Written atomically.
    """
    from .authoring import new_record as write

    return write(type, id, _records_folder(records))


def find_quotes(article: str, words: t.Sequence[str], *, records: PathLike | None = None) -> list[str]:
    """The sentences of article ``article``'s ``text`` holding every one of ``words`` (case-insensitive).
    ``records``: default the collection of ``records-toolkit.toml``, else ``records``.

    Each sentence is exactly as it stands in the text (a verbatim quote). Sentences end at
    ``.``, ``!`` or ``?`` before white space (not before a lowercase word) and at blank lines.
    No match, or no such article, raises :class:`~records_toolkit.errors.InvalidData`.
    """
    from .authoring import find_quotes as find

    return find(article, words, _records_folder(records))


def source_block(article: str, quotes: t.Sequence[str]) -> str:
    """Sources citing ``article`` with each of ``quotes`` (``supports: []`` to fill in), as
    canonical YAML indented as under ``sources:`` in a record."""
    from .authoring import source_blocks

    if not isinstance(article, str) or isinstance(quotes, str) or not all(isinstance(q, str) for q in quotes):
        raise UsageError("source_block takes an article id and a list of quotes (text)")
    return source_blocks(article, quotes)


def show(id: str, *, records: PathLike | None = None) -> Shown:
    """What the record ``id`` says (``.record``, ``.yaml``), the records referring to it
    (``.referrers``: id, type, JSON pointer) and the articles its sources cite (``.cites``).
    ``records``: default the collection of ``records-toolkit.toml``, else ``records``.

    Records are loaded, not validated. No record with that id raises
    :class:`~records_toolkit.errors.InvalidData` (with a did-you-mean).
    """
    from .authoring import show as shown

    return shown(id, _records_folder(records))


def _records_folder(records: PathLike | None) -> PathLike:
    from .collection import default_folder

    return default_folder() if records is None else records


@t.overload
def describe_schema(type: None = None) -> tuple[TypeSchema, ...]: ...
@t.overload
def describe_schema(type: str) -> TypeSchema: ...
def describe_schema(type: str | None = None) -> TypeSchema | tuple[TypeSchema, ...]:
    """A record type's fields in canonical order (required or not, kind, description, allowed
    values, reference targets); without ``type``, every type. An unknown type is a
    :class:`~records_toolkit.errors.UsageError`."""
    from .authoring import describe, describe_all

    return describe_all() if type is None else describe(type)


# -- a new repository ------------------------------------------------------------------------------

if t.TYPE_CHECKING:
    from .scaffold import Initialized


def init(directory: PathLike, *, toolkit_source: str | None = None, force: bool = False) -> Initialized:
    """Make a records repository in ``directory`` (``toolkit init``); what was done as ``Initialized``.

    Writes ``records-toolkit.toml``, ``records/`` with two example records (an article and an event
    quoting it, valid: ``validate`` and every export work at once), a ``.pre-commit-config.yaml``
    with this toolkit's hooks, an example CI workflow (``.github/workflows/records.yml``) and a
    ``README.md``, all or nothing. The install lines name the toolkit's git repository at the tag
    ``v<version>``: ``toolkit_source`` (a git URL or a local clone), else the repository this
    toolkit was installed from (its PEP 610 ``direct_url.json``); when neither tells one, a
    :class:`~records_toolkit.errors.UsageError` and nothing written.

    ``directory`` must not exist or be empty (a ``.git`` alone is allowed), else a
    :class:`~records_toolkit.errors.UsageError`. With ``force`` it may hold other files: the
    missing files are added, identical ones kept (``.kept``), and a file with other content is
    never replaced (``UsageError``, nothing written). ``directory`` being a symbolic link, or a
    link on the way to a file to write, is refused.
    """
    from .scaffold import init as make

    if isinstance(directory, (str, os.PathLike)) and os.fspath(directory) == "":
        raise UsageError("directory='': give a directory to make the repository in (`toolkit init .` for this one)")
    return make(_path(directory, "directory"), toolkit_source=toolkit_source, force=bool(force))
