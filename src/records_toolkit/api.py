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

import dataclasses
import os
import typing as t
from pathlib import Path

from .errors import CouldNotRun, InvalidData, PluginError, UsageError
from .loader import MAX_FILE_BYTES
from .problems import Problem, Report

if t.TYPE_CHECKING:
    from .canonical import Formatted
    from .plugins import Exported, Format, Option, Record

PathLike = t.Union[str, "os.PathLike[str]"]
Paths = t.Union[PathLike, t.Sequence[PathLike]]  # noqa: UP007
DEFAULT_PATHS: tuple[str, ...] = ("records",)

__all__ = [
    "DEFAULT_PATHS",
    "FormatInfo",
    "Formats",
    "canonical_yaml",
    "export",
    "fmt",
    "formats",
    "import_records",
    "load",
    "validate",
    "validate_records",
]


def _paths(paths: Paths | None) -> list[PathLike]:
    if paths is None:
        return list(DEFAULT_PATHS)
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)


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

    for item in iter_record_files(_paths(paths)):
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
) -> Report:
    """Check every record under ``paths`` against the schemas and the collection rules.

    The :class:`~records_toolkit.problems.Report` holds every problem (none is raised; call
    ``report.raise_for_problems()`` to turn them into an error) and, with ``collect``, the
    records in which no error was found as ``report.valid``, sorted by ``(type, id)``.
    Large trees are split over ``jobs`` processes (default: one per core).
    """
    from .validate import check_paths

    if jobs is not None and jobs < 1:
        raise UsageError(f"jobs={jobs}: give 1 or more")
    try:
        result = check_paths(_paths(paths), keep=collect, max_bytes=max_file_size, jobs=jobs)
    except OSError as exc:  # the worker pool or the machine, not the records
        raise CouldNotRun(f"validation could not run: {exc.strerror or exc}") from exc
    report = result.report
    if collect:
        report.valid = _valid_records(report, ((d.file, d.index, d.data) for d in result.records))
    return report


def validate_records(records: t.Iterable[t.Mapping[str, t.Any]], *, names: t.Sequence[str] | None = None) -> Report:
    """Validate records held in memory (built by a pipeline, read from an API) as one collection.

    Problems name the record as ``<record N>`` (or ``names[N]``) with the JSON pointer inside
    it; ``report.valid`` holds the records without errors, sorted by ``(type, id)``.
    """
    from .loader import Document
    from .validate import Checker

    checker = Checker(keep=True)
    for index, record in enumerate(records):
        name = names[index] if names is not None else f"<record {index + 1}>"
        data = _plain(record)
        if not isinstance(data, dict):
            checker.add_problem(
                Problem(
                    file=name,
                    line=None,
                    column=None,
                    pointer="",
                    code="yaml-not-mapping",
                    message=f"a record must be a mapping, not {type(record).__name__}",
                )
            )
            continue
        checker.add(Document(name, 0, data))
        checker.report.files += 1
    result = checker.finish()
    report = result.report
    report.valid = _valid_records(report, ((d.file, d.index, d.data) for d in result.records))
    return report


def _plain(value: t.Any) -> t.Any:
    """A deep copy as JSON-like builtins (a caller's mapping types and later edits do not leak in)."""
    if isinstance(value, t.Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


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


def _collection(source: Source, max_file_size: int) -> list[Record]:
    """Validated records sorted by ``(type, id)``, from a report, records or paths; else InvalidRecords."""
    if isinstance(source, Report):
        report = source
        if report.ok and report.records and not report.valid:
            raise UsageError("this report holds no records: validate with collect=True")
    elif _is_paths(source):
        report = validate(t.cast(Paths, source), max_file_size=max_file_size)
    else:
        report = validate_records(t.cast(t.Iterable[t.Mapping[str, t.Any]], source))
    report.raise_for_problems()
    return report.valid


def export(
    source: Source,
    format: str,
    *,
    to: PathLike | t.BinaryIO | None = None,
    source_date_epoch: int | str | None = None,
    max_file_size: int = MAX_FILE_BYTES,
    **options: str,
) -> Exported:
    """Validate, then export in ``format`` with the format's ``options`` as keyword arguments.

    ``source``: a :class:`Report` from :func:`validate`, records (dicts), or paths. Invalid
    records raise :class:`~records_toolkit.errors.InvalidRecords` and nothing is written.
    ``to``: nothing (the :class:`~records_toolkit.plugins.Exported` files are returned), a
    binary file object (single-file formats), or a path: the file, or for directory formats
    the directory, replaced all or nothing. ``source_date_epoch`` defaults to the environment's
    ``SOURCE_DATE_EPOCH``.
    """
    from .plugins import Context, load, resolve_options, run_export
    from .schema_view import SchemaView
    from .schemas import load_model

    plugin = load(format)
    values = resolve_options(plugin, options)
    if to is not None and not _is_writable(to):
        raise UsageError(f"to={to!r}: give a path or a binary file object")
    if plugin.directory and to is not None and not isinstance(to, (str, os.PathLike)):
        raise UsageError(f"format {plugin.name!r} writes several files: give a directory path, not a file object")
    records = _collection(source, max_file_size)
    epoch = source_date_epoch if source_date_epoch is not None else os.environ.get("SOURCE_DATE_EPOCH")
    from .plugins import parse_source_date_epoch

    seconds, problem = parse_source_date_epoch(epoch)
    context = Context(
        schema=SchemaView.of(load_model()), options=values, source_date_epoch=seconds, source_date_epoch_error=problem
    )
    exported = run_export(plugin, records, context)
    if to is not None:
        _write(plugin, exported, to)
    return exported


def _is_writable(to: t.Any) -> bool:
    return isinstance(to, (str, os.PathLike)) or callable(getattr(to, "write", None))


def _write(plugin: Format, exported: Exported, to: PathLike | t.BinaryIO) -> None:
    from .output import atomic_write, atomic_write_tree

    if plugin.directory:
        atomic_write_tree(Path(t.cast(PathLike, to)), exported.files)
    elif isinstance(to, (str, os.PathLike)):
        atomic_write(Path(to), exported.data)
    else:
        try:
            to.write(exported.data)
            to.flush()
        except (OSError, ValueError) as exc:
            from .errors import OutputError

            raise OutputError(f"cannot write the {plugin.name} export: {exc}") from exc
        except TypeError as exc:
            raise UsageError(f"to: a binary file object is needed for {plugin.name} ({exc})") from exc


# -- import ----------------------------------------------------------------------------------------


def import_records(source: PathLike, format: str, *, to: PathLike | None = None, **options: str) -> list[Record]:
    """Read records back from an export of ``format``; validated, sorted by ``(type, id)``.

    With ``to``, they are also written as canonical YAML, one file each
    (``<to>/<type>s/<id>.yaml``), all or nothing. Input the format cannot read raises
    :class:`~records_toolkit.errors.InvalidSource`; records that are not valid raise
    :class:`~records_toolkit.errors.InvalidRecords` (problems name ``<type>s/<id>.yaml``).
    """
    from .canonical import dumps, record_path
    from .plugins import Context, load, resolve_options, run_import
    from .schema_view import SchemaView
    from .schemas import load_model

    plugin = load(format)
    values = resolve_options(plugin, options)
    model = load_model()
    context = Context(schema=SchemaView.of(model), options=values)
    path = Path(source)
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
    if to is not None:
        from .output import atomic_write_tree

        files = {record_path(r): dumps([r], model).encode("utf-8") for r in report.valid}
        atomic_write_tree(Path(to), files)
    return report.valid


# -- canonical YAML --------------------------------------------------------------------------------


def canonical_yaml(records: t.Mapping[str, t.Any] | t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """The canonical YAML text of one record, or of several as one multi-document file."""
    from .canonical import dumps

    documents = [records] if isinstance(records, t.Mapping) else list(records)
    plain = [_plain(d) for d in documents]
    if not all(isinstance(d, dict) for d in plain):
        raise UsageError("canonical_yaml takes records (mappings)")
    return dumps(plain)


def fmt(paths: Paths | None = None, *, check: bool = False, max_file_size: int = MAX_FILE_BYTES) -> Formatted:
    """Rewrite the record files under ``paths`` into canonical form; with ``check``, only report.

    ``result.report`` holds the problems (files that do not load; with ``check``, each file
    not canonical as ``not-canonical``); ``result.changed`` the files rewritten (or to be).
    """
    from .canonical import format_paths

    return format_paths(_paths(paths), check=check, max_bytes=max_file_size)


# -- formats ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FormatInfo:
    """One installed format, for listings."""

    name: str
    suffix: str
    media_type: str
    summary: str
    directory: bool
    can_import: bool
    package: str
    version: str
    options: tuple[Option, ...]


@dataclasses.dataclass(frozen=True)
class Formats:
    """The installed formats that load, and the errors of those that do not (they hide no other)."""

    available: tuple[FormatInfo, ...]
    broken: tuple[PluginError, ...]


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
