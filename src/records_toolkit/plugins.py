"""The door every format comes through, built-ins included: the ``records_toolkit.formats`` entry points.

The contract
============

A format is any object with the attributes and methods of :class:`Format` (and of
:class:`Importer` if it reads records back), registered in its package's metadata::

    [project.entry-points."records_toolkit.formats"]
    tiny = "tinyfmt:TinyFormat"

The entry point names a class (instantiated with no arguments) or an instance. Its ``name``
must equal the entry point's name. Two installed packages registering the same name are
refused, each named, whenever that name is used; the other formats keep working.

``export(records, context) -> Exported``
    ``records`` are *validated* records (schema and collection rules passed), plain dicts with
    keys in canonical order, sorted by ``(type, id)``; the plugin must not change them.
    ``context`` is a :class:`Context`: the read-only :class:`~records_toolkit.schema_view.SchemaView`,
    the options (every declared option, its default filled in; values are text), and
    ``SOURCE_DATE_EPOCH``. The same records and options must give byte-identical files (no
    clock time, no random ids). A format with ``directory = False`` returns exactly one file;
    a directory format returns any number, named by relative POSIX paths inside the
    directory. Both are checked, and a breach is the plugin's failure (exit 3).

``import_records(source, context) -> list[Record]``
    ``source`` is the path the user gave (a file or a directory). Return plain dicts; the core
    validates them before anything is written or returned.

What an exception means
    * :class:`~records_toolkit.errors.InvalidSource` (use :func:`invalid_source`) from an
      importer: the input is not a valid instance of the format. The user's data: exit 1.
    * :class:`~records_toolkit.errors.OptionError`: an option value (or ``SOURCE_DATE_EPOCH``)
      the format cannot use: wrong usage, exit 2.
    * :class:`~records_toolkit.errors.CouldNotRun`: the plugin cannot work here (a schema
      shape it cannot lay out): exit 3.
    * Anything else is a bug in the plugin, reported as a :class:`~records_toolkit.errors.PluginError`
      naming the plugin and its package: exit 3, never blamed on the data, never a traceback.

Discovery reads only the entry points' metadata, so listing the names costs no import; a
format's module is imported when it is used.
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t
from pathlib import Path, PurePosixPath

from .errors import (
    CouldNotRun,
    InvalidSource,
    OptionError,
    PluginError,
    PluginLoadError,
    Terminated,
    ToolkitError,
    UsageError,
)

if t.TYPE_CHECKING:
    from importlib import metadata

    from .problems import Problem
    from .schema_view import SchemaView

GROUP = "records_toolkit.formats"

Record = dict[str, t.Any]
"""A record: a plain JSON-like mapping with at least ``id`` and ``type``."""


@dataclasses.dataclass(frozen=True)
class Option:
    """One option a format understands (``-O name=value`` on the command line, ``name=value`` in the API)."""

    name: str
    help: str
    default: str
    choices: tuple[str, ...] | None = None  # None: free text
    from_output: bool = False
    """Left at its default, the option takes the export's own output file when that file exists
    (``-o FILE``): for a format that reads what it replaces (a calendar's earlier revisions)."""


@dataclasses.dataclass(frozen=True)
class Context:
    """What an exporter or importer may use besides the records."""

    schema: SchemaView
    options: t.Mapping[str, str]
    source_date_epoch: int | None = None
    """``SOURCE_DATE_EPOCH`` (reproducible-builds.org), for formats that must write a timestamp."""
    source_date_epoch_error: str | None = None
    """Why ``SOURCE_DATE_EPOCH`` could not be read, if it was set but malformed. Only a format
    that uses the timestamp should fail on it (raise :class:`~records_toolkit.errors.OptionError`)."""
    implied: frozenset[str] = frozenset()
    """The options the toolkit filled in from the output file (``Option.from_output``), not the
    user: a format may take a file it cannot use there as a first export, with a notice."""
    max_bytes: int = 16 * 1024 * 1024
    """The largest file an importer reads (``toolkit import --max-file-size``; by default 16 MiB,
    as for a record: :data:`records_toolkit.loader.MAX_FILE_BYTES`)."""

    @classmethod
    def create(
        cls,
        options: t.Mapping[str, str] | None = None,
        *,
        source_date_epoch: int | str | None = None,
        schema_dir: str | None = None,
    ) -> Context:
        """A context over the installed schemas (or ``schema_dir``); for tests of a format and for the API.

        ``source_date_epoch`` may be given as the text of the environment variable; a malformed
        one is kept as ``source_date_epoch_error``.
        """
        from .schema_view import SchemaView
        from .schemas import load_model

        epoch, problem = parse_source_date_epoch(source_date_epoch)
        return cls(
            schema=SchemaView.of(load_model(schema_dir)),
            options=dict(options or {}),
            source_date_epoch=epoch,
            source_date_epoch_error=problem,
        )


def parse_source_date_epoch(value: int | str | None) -> tuple[int | None, str | None]:
    """``(seconds, None)``, or ``(None, why)`` for a value that is not a whole number of seconds."""
    if value is None or value == "":
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    try:
        return int(str(value).strip()), None
    except ValueError:
        return None, f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds"


@dataclasses.dataclass
class Exported:
    """What an export produced: files by relative POSIX name, and notices for the user (stderr)."""

    files: t.Mapping[str, bytes]
    """By name; after a write to a path, the files as written (read from disk when asked for)."""
    notices: list[str] = dataclasses.field(default_factory=list)

    @property
    def data(self) -> bytes:
        """The one file of a single-file format."""
        if len(self.files) != 1:
            raise UsageError(f"this export has {len(self.files)} files, not one: write it to a directory")
        return next(iter(self.files.values()))


@t.runtime_checkable
class Format(t.Protocol):
    """The plugin contract (see the module docstring). ``directory`` formats write several files."""

    name: str
    suffix: str
    """``".ics"``; for directory formats, the suffix of the files inside."""
    media_type: str
    summary: str
    """One line for ``toolkit formats``."""
    directory: bool
    options: t.Sequence[Option]

    def export(self, records: t.Sequence[Record], context: Context) -> Exported:
        """Validated records sorted by ``(type, id)`` in; the files (exactly one unless ``directory``) out."""
        ...


class Writable(t.Protocol):
    """Where a streaming format writes one file: ``write(bytes)`` as often as it likes."""

    def write(self, data: bytes) -> None: ...


@t.runtime_checkable
class Streaming(t.Protocol):
    """A format that writes its files in pieces as it reads the records (the built-in ones do).

    ``stream(records, context, open)``: ``records`` as for ``export`` (each read of an item gives a
    fresh dict; the built-in ``toolkit export`` hands a :class:`~records_toolkit.streaming.Records`,
    decoded from disk as read, with ``of_type``); ``open(name)`` starts the file ``name`` and gives
    its :class:`Writable`. Returns the notices. The same rules as ``export``: exactly one file
    unless ``directory``, the same bytes for the same records. The toolkit uses ``stream`` when a
    format has it, so neither the records nor the output need to fit in memory.
    """

    def stream(self, records: t.Sequence[Record], context: Context, open: t.Callable[[str], Writable]) -> list[str]: ...


@dataclasses.dataclass(frozen=True)
class Part:
    """One part of a partitioned export (``toolkit export --parts N``): number ``number`` of ``of``."""

    number: int
    of: int

    @property
    def label(self) -> str:
        """The number zero-padded to one width for every part of the export (``00003``), so that
        the parts' files sort in order by name."""
        return f"{self.number:0{max(5, len(str(self.of)))}d}"


@t.runtime_checkable
class Partitioned(t.Protocol):
    """A format whose export splits into parts written independently: ``toolkit export --parts N``,
    each part written by a worker of a Dask cluster with ``--scheduler``.

    The toolkit splits the records: part *k* of *N* holds, of each record type with *n* records,
    the *k*-th of ``min(N, n)`` near-equal runs of them (sorted by id), so no part is empty of
    every type and the parts of one type, in order, are its records in order. Then:

    ``plan(records, context)``
        Once, over all the records: what every part needs of the whole collection (names of
        the records a part refers to, ...). Small and picklable: it travels to every worker.
    ``stream_part(records, context, plan, part, open)``
        The files of one :class:`Part` (its records, sorted by ``(type, id)``), each started
        with ``open(name)`` as in :class:`Streaming`; returns a picklable summary of them.
    ``stream_index(context, plan, summaries, open)``
        The files that list the parts (a data package, an index), from the summaries in part
        order; returns the notices.
    ``earlier_parts(directory)``
        The part files that an earlier export of this format in ``directory`` lists in its
        index (relative names; none when there is no index it can read): an export into that
        directory removes those it does not write again (a stale part would be read as data),
        and never any other file.

    The same records, options and *N* give byte-identical files, whoever writes which part.
    """

    def plan(self, records: t.Sequence[Record], context: Context) -> t.Any: ...

    def stream_part(
        self, records: t.Sequence[Record], context: Context, plan: t.Any, part: Part, open: t.Callable[[str], Writable]
    ) -> t.Any: ...

    def stream_index(
        self, context: Context, plan: t.Any, summaries: list[t.Any], open: t.Callable[[str], Writable]
    ) -> list[str]: ...

    def earlier_parts(self, directory: Path) -> list[str]: ...


@dataclasses.dataclass(frozen=True)
class Slice:
    """One slice of a whole export written by several processes (:class:`Sliced`): ``number`` of ``of``."""

    number: int
    of: int

    @property
    def first(self) -> bool:
        """Whether this slice begins the files (it writes their heads)."""
        return self.number == 1


@t.runtime_checkable
class Sliced(t.Protocol):
    """A streaming format whose whole export several processes can write at once, each a slice.

    For a large collection the toolkit cuts the records (sorted by ``(type, id)``) into contiguous
    slices, never empty (but the one slice of no records), one per worker, and joins what they write: each file is what slices 1, 2,
    ... wrote to it, in order, then what ``stream_end`` wrote to it; the files are named in the
    order they were first opened. The format's law: that is exactly what ``stream`` writes, file
    for file and byte for byte, with the same notices, however many the slices.

    ``slice_plan(records, context)``
        Once, here, over all the records, before the workers start (they inherit it): what each
        slice needs of the whole collection; or None to have this export written whole by ``stream``.
    ``slice_types``
        The record types whose records the slices share out evenly (the format's work is theirs:
        the other records cost it little); empty: every type.
    ``stream_slice(records, context, plan, piece, open)``
        The slice's bytes of each file it opens (``piece.first``: the heads too); returns a small
        summary that can be pickled (it travels back from the worker).
    ``stream_end(context, plan, summaries, open)``
        What ends the files, from the slices' summaries in order; returns the notices.
    """

    slice_types: t.Sequence[str]

    def slice_plan(self, records: t.Sequence[Record], context: Context) -> t.Any: ...

    def stream_slice(
        self,
        records: t.Sequence[Record],
        context: Context,
        plan: t.Any,
        piece: Slice,
        open: t.Callable[[str], Writable],
    ) -> t.Any: ...

    def stream_end(
        self, context: Context, plan: t.Any, summaries: list[t.Any], open: t.Callable[[str], Writable]
    ) -> list[str]: ...


@t.runtime_checkable
class Importer(t.Protocol):
    """A format that can carry records back implements this too."""

    def import_records(self, source: Path, context: Context) -> list[Record]:
        """Records read from ``source``; raise :class:`~records_toolkit.errors.InvalidSource` for bad input."""
        ...


def invalid_source(
    file: str | Path,
    message: str,
    *,
    line: int | None = None,
    column: int | None = None,
    pointer: str = "",
    code: str = "import-invalid",
) -> InvalidSource:
    """The error an importer raises for bad input, with the :class:`Problem` that places it."""
    from .problems import Problem

    where = Path(file).as_posix() if isinstance(file, Path) else str(file)
    shown = where + (f":{line}" if line is not None else "") + (f":{column}" if line is not None and column else "")
    problem = Problem(
        file=where, line=line, column=column if line is not None else None, pointer=pointer, code=code, message=message
    )
    return InvalidSource(f"{shown}: {message}", problems=[problem])


# -- discovery -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered format before it is loaded."""

    name: str
    entry_point: metadata.EntryPoint | Registered
    clashes: tuple[str, ...] = ()
    """Other packages registering the same name: the name is refused while they are installed."""

    # The package's name and version are read from its METADATA (an email message to parse:
    # 1 to 2 ms each, a third of an export's fixed cost when read for every format): only when
    # asked, for a listing or a message.
    @functools.cached_property
    def package(self) -> str:
        dist = self.entry_point.dist
        return str(dist.name) if dist else "?"

    @functools.cached_property
    def version(self) -> str:
        dist = self.entry_point.dist
        return str(dist.version) if dist else "?"

    @property
    def origin(self) -> str:
        return f"{self.package} {self.version}"

    def load(self) -> Format:
        if self.clashes:
            others = ", ".join(self.clashes)
            raise PluginLoadError(
                self.name, self.package, f"{others} also registers a format named {self.name!r}; uninstall one of them"
            )
        module = str(getattr(self.entry_point, "value", "")).partition(":")[0].strip()
        if module != __package__ and not module.startswith(f"{__package__}."):
            _FOREIGN.append(module)  # (before it runs: a failed load may have opened files too)
        try:
            loaded = self.entry_point.load()
            plugin = loaded() if isinstance(loaded, type) else loaded
        except (KeyboardInterrupt, GeneratorExit, Terminated):
            raise
        except BaseException as exc:  # any failure of third-party code, SystemExit included, is a load failure
            raise PluginLoadError(self.name, self.package, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(plugin, Format):
            missing = [
                a
                for a in ("name", "suffix", "media_type", "summary", "directory", "options", "export")
                if not hasattr(plugin, a)
            ]
            raise PluginLoadError(self.name, self.package, f"not a format (missing {', '.join(missing)})")
        if plugin.name != self.name:
            raise PluginLoadError(self.name, self.package, f"it calls itself {plugin.name!r}")
        wrong = _malformed(plugin)
        if wrong:
            raise PluginLoadError(self.name, self.package, f"not a format ({wrong})")
        return plugin


_FOREIGN: list[str] = []  # the modules of the formats loaded from other packages, in this process


def foreign_code_loaded() -> bool:
    """Whether a format of another package was loaded in this process: then the console script
    ends through the interpreter's clean-up, which flushes and closes what that code left open."""
    return bool(_FOREIGN)


RESERVED_OPTION_NAMES = frozenset(
    {"source", "format", "to", "source_date_epoch", "max_file_size", "parts", "scheduler", "jobs", "cache", "progress"}
)
"""The keyword arguments of :func:`records_toolkit.api.export` itself, which takes a format's options
as the other keyword arguments: no format may name an option so."""


def _malformed(plugin: Format) -> str | None:
    """What is wrong with a format's attributes, or None: checked once, so no listing crashes on them."""
    for attribute in ("name", "suffix", "media_type", "summary"):
        if not isinstance(getattr(plugin, attribute), str):
            return f"{attribute} must be text, not {type(getattr(plugin, attribute)).__name__}"
    if not isinstance(plugin.directory, bool):
        return f"directory must be True or False, not {plugin.directory!r}"
    if not callable(plugin.export):
        return "export must be a method"
    if hasattr(plugin, "import_records") and not callable(plugin.import_records):
        return "import_records must be a method"
    if isinstance(plugin, Sliced):
        types: t.Any = plugin.slice_types
        if (
            isinstance(types, (str, bytes))
            or not isinstance(types, t.Sequence)
            or not all(isinstance(n, str) for n in types)
        ):
            return f"slice_types must be a list of type names, not {types!r}"
        if not isinstance(plugin, Streaming):
            return "a sliced format must stream too (its stream writes what the slices write together)"
    options: t.Any = plugin.options
    if isinstance(options, (str, bytes)) or not isinstance(options, t.Sequence):
        return f"options must be a list of Option, not {type(options).__name__}"
    names: set[str] = set()
    for option in options:
        if not isinstance(option, Option):
            return f"options must be a list of Option, not of {type(option).__name__}"
        if not isinstance(option.name, str) or not option.name or option.name in names:
            return f"option name {option.name!r} must be text, given once"
        if option.name in RESERVED_OPTION_NAMES:
            return f"option name {option.name!r} is taken by an argument of the export itself"
        names.add(option.name)
        if not isinstance(option.default, str) or not isinstance(option.help, str):
            return f"option {option.name!r}: its default and help must be text"
        if option.choices is not None and (
            not all(isinstance(c, str) for c in option.choices) or option.default not in option.choices
        ):
            return f"option {option.name!r}: choices must be text and include the default {option.default!r}"
    return None


# The last discovery, and what it depended on (see _installed): an export asks three times (its
# option's check, the command, the API), and each reading of the entry points took 5 to 9 ms.
_DISCOVERED: tuple[tuple[t.Any, ...], dict[str, Entry]] | None = None


def _installed() -> tuple[t.Any, ...]:
    """What the entry points depend on, at the cost of a ``stat`` per folder of the path: the path,
    each folder's modification time (pip adds and removes a package's ``.dist-info`` folder there;
    importlib.metadata's own listings are kept by it too) and the finders asked for distributions."""
    import os
    import sys

    places: list[tuple[str, int | None]] = []
    for place in sys.path:
        try:
            places.append((place, os.stat(place or ".").st_mtime_ns))
        except (OSError, TypeError, ValueError):
            places.append((place, None))
    return tuple(places), tuple(map(id, sys.meta_path))


class Registered:
    """An entry point of a distribution installed in a folder of the path, read from its
    ``entry_points.txt`` without :mod:`importlib.metadata` (importing it took 40 to 50 ms of every
    export on the project's machines: email, zipfile, csv come with it). What :class:`Entry` asks
    of an ``importlib.metadata.EntryPoint``: ``name``, ``value``, ``group``, ``load()``, and
    ``dist``, read only when asked (for a listing or a message)."""

    __slots__ = ("_info", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, info: str) -> None:
        self.name, self.value, self.group, self._info = name, value, group, info

    @property
    def dist(self) -> metadata.Distribution:
        from importlib import metadata

        return metadata.PathDistribution(Path(self._info))

    def load(self) -> t.Any:
        """The object named, as ``importlib.metadata.EntryPoint.load`` finds it."""
        import importlib
        import re

        match = re.match(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$", self.value)
        if match is None:
            raise ValueError(f"{self.value!r} names no object (module:attribute)")
        found = importlib.import_module(match.group("module"))
        for attribute in filter(None, (match.group("attr") or "").split(".")):
            found = getattr(found, attribute)
        return found

    def _key(self) -> tuple[str, str, str, str]:
        return (self.name, self.value, self.group, self._info)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Registered) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Registered(name={self.name!r}, value={self.value!r}, group={self.group!r})"


def _entry_points(group: str) -> t.Sequence[metadata.EntryPoint | Registered]:
    """The entry points of ``group``, in the order ``importlib.metadata.entry_points(group=...)``
    gives them; read by :func:`_entry_points_here` when it can, else by importlib.metadata."""
    try:
        here = _entry_points_here(group)
    except CouldNotRun:
        raise
    except Exception:  # (anything unforeseen: importlib.metadata reads it, and says what it says)
        here = None
    if here is not None:
        return here
    from importlib import metadata

    try:
        return list(metadata.entry_points(group=group))
    except Exception as exc:  # (a package's metadata it cannot read: said, not a traceback)
        raise CouldNotRun(f"cannot read the installed packages' entry points: {type(exc).__name__}: {exc}") from exc


def _entry_points_here(group: str) -> list[Registered] | None:
    """The entry points of ``group`` as importlib.metadata (Python 3.11's ``MetadataPathFinder``)
    finds them: each folder of ``sys.path`` in turn (``""``: the working folder), its
    ``*.dist-info`` and ``*.egg-info`` folders in the order the folder lists them, grouped by
    normalized name, the first distribution of a name on the path hiding the others; in each
    ``entry_points.txt``, lines stripped, ``#`` lines and blank ones skipped, ``[group]`` headers,
    ``name = value``. None when the path holds what this does not read (a zip file, an egg, a
    distribution with no name before its version) or a finder other than the path's lists
    distributions. A file importlib.metadata would fail on (a line with no ``=``, not UTF-8, a
    link loop) is a :class:`~records_toolkit.errors.CouldNotRun` naming it."""
    import os
    import re
    import sys
    from importlib.machinery import PathFinder

    if any(f is not PathFinder and hasattr(f, "find_distributions") for f in sys.meta_path):
        return None
    found: list[Registered] = []
    seen: set[str] = set()
    for place in sys.path:
        if not isinstance(place, str):
            return None
        folder = place or "."
        if place.lower().endswith(".egg") or os.path.isfile(folder):
            return None
        try:
            children = os.listdir(folder)
        except OSError:
            continue  # (a folder that is not there: python311.zip, often)
        first: dict[str, str] = {}  # normalized name -> its first distribution in the folder's listing
        for child in children:
            if child.lower().endswith((".dist-info", ".egg-info")):
                stem, ext = os.path.splitext(child)
                name = stem.partition("-")[0]
                if ext not in (".dist-info", ".egg-info") or not name:
                    return None  # (a suffix in capitals, or no name: importlib.metadata names it otherwise)
                first.setdefault(re.sub(r"[-_.]+", "_", name).lower(), child)
        for normalized, child in first.items():
            if normalized in seen:
                continue  # (hidden by a distribution of that name earlier on the path)
            seen.add(normalized)
            info = os.path.join(folder, child)
            found += _registered(os.path.join(info, "entry_points.txt"), group, info)
    return found


def _registered(listing: str, group: str, info: str) -> list[Registered]:
    """The entry points of ``group`` in the ``entry_points.txt`` file ``listing`` of the distribution
    at ``info``, read as importlib.metadata reads it (see :func:`_entry_points_here`)."""
    try:
        with open(listing, encoding="utf-8") as file:
            text = file.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise _broken(listing, str(exc)) from None
    found: list[Registered] = []
    section = None
    for number, line in enumerate(map(str.strip, text.splitlines()), 1):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section is not None:
            if "=" not in line:
                raise _broken(listing, f"line {number}: no '=' in {line!r}")
            key, value = map(str.strip, line.split("=", 1))
            if section == group:
                found.append(Registered(key, value, section, info))
    return found


def _broken(listing: str, why: str) -> CouldNotRun:
    return CouldNotRun(
        f"cannot read the installed formats: {listing}: {why} (an installed package's metadata is broken: "
        "reinstall or remove that package)"
    )


def discover() -> dict[str, Entry]:
    """Every registered format by name, sorted. A name two packages register carries ``clashes``.

    Read again only when the path, a folder on it or the finders changed since the last time."""
    global _DISCOVERED
    installed = _installed()
    if _DISCOVERED is not None and _DISCOVERED[0] == installed:
        return dict(_DISCOVERED[1])
    found: dict[str, Entry] = {}
    others: dict[str, list[str]] = {}
    for ep in _entry_points(GROUP):
        if ep.name in found:
            again = Entry(ep.name, ep)
            if found[ep.name].package != again.package:
                others.setdefault(ep.name, []).append(again.origin)
            continue
        found[ep.name] = Entry(ep.name, ep)
    for name, clashing in others.items():
        first = found[name]
        found[name] = dataclasses.replace(first, clashes=tuple(clashing))
    entries = dict(sorted(found.items()))
    _DISCOVERED = (installed, entries)
    return dict(entries)


def load(name: str) -> Format:
    """The format registered as ``name``; an unknown name is a usage error (exit 2)."""
    entries = discover()
    if name not in entries:
        known = ", ".join(entries) or "none"
        raise UsageError(f"no format named {name!r} is installed (installed: {known}; see `toolkit formats`)")
    return entries[name].load()


def _origin(plugin: Format) -> str:
    """The distribution that ships the plugin's class (or its module's name, if none is installed)."""
    from importlib import metadata

    module = type(plugin).__module__
    try:
        names = metadata.packages_distributions().get(module.split(".")[0], [])
    except Exception:  # only for a message
        names = []
    return names[0] if len(set(names)) == 1 else module


# -- calling a plugin under the contract -----------------------------------------------------------


def resolve_options(plugin: Format, given: t.Mapping[str, t.Any]) -> dict[str, str]:
    """Every declared option of ``plugin``: the given value, else its default; checked against ``choices``."""
    declared = {o.name: o for o in plugin.options}
    values = {o.name: o.default for o in plugin.options}
    for name, value in given.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise OptionError(f"format {plugin.name!r} has no option {name!r} (its options: {known})")
        if not isinstance(value, str):
            raise OptionError(f"option {name}={value!r} of format {plugin.name!r}: give the value as text")
        option = declared[name]
        if option.choices is not None and value not in option.choices:
            raise OptionError(
                f"option {name}={value!r} of format {plugin.name!r}: use one of {', '.join(option.choices)}"
            )
        values[name] = value
    return values


def run_export(plugin: Format, records: t.Sequence[Record], context: Context) -> Exported:
    """``plugin.export`` with its exceptions mapped and its result checked against the contract."""
    import copy

    try:
        exported = plugin.export(copy.deepcopy(list(records)), context)  # the caller's records stay the caller's
    except ToolkitError:
        raise
    except (KeyboardInterrupt, GeneratorExit, Terminated):
        raise
    except BaseException as exc:  # a plugin's bug (SystemExit included) must not look like bad data
        raise PluginError(plugin.name, _origin(plugin), f"failed during export: {type(exc).__name__}: {exc}") from exc
    _check_exported(plugin, exported)
    return exported


def run_stream(
    plugin: Format, records: t.Sequence[Record], context: Context, open: t.Callable[[str], Writable]
) -> tuple[list[str], list[str]]:
    """``plugin.stream`` with its exceptions mapped as :func:`run_export` does; ``(notices, names)``.

    The names are checked as each file is opened (a bad name or a second file of a single-file
    format is the plugin's failure, raised before anything is committed). Errors of the writing
    itself (a full disk, a signal) are not the plugin's: they pass through as they are.
    """
    streaming = t.cast(Streaming, plugin)
    notices, names = run_writing(
        plugin, lambda checked: streaming.stream(records, context, checked), open, one_file=not plugin.directory
    )
    _check_notices(plugin, notices)
    if not plugin.directory and len(names) != 1:
        _broke(plugin, f"a single-file format must write exactly one file, not {len(names)}")
    return notices, names


def run_part(
    plugin: Format,
    records: t.Sequence[Record],
    context: Context,
    plan: t.Any,
    part: Part,
    open: t.Callable[[str], Writable],
) -> tuple[t.Any, list[str]]:
    """``plugin.stream_part`` (see :class:`Partitioned`), checked as :func:`run_stream`; ``(summary, names)``."""
    partitioned = t.cast(Partitioned, plugin)
    return run_writing(
        plugin, lambda checked: partitioned.stream_part(records, context, plan, part, checked), open, one_file=False
    )


def run_index(
    plugin: Format, context: Context, plan: t.Any, summaries: list[t.Any], open: t.Callable[[str], Writable]
) -> tuple[list[str], list[str]]:
    """``plugin.stream_index`` (see :class:`Partitioned`), checked as :func:`run_stream`; ``(notices, names)``."""
    partitioned = t.cast(Partitioned, plugin)
    notices, names = run_writing(
        plugin, lambda checked: partitioned.stream_index(context, plan, summaries, checked), open, one_file=False
    )
    _check_notices(plugin, notices)
    return notices, names


def run_plan(plugin: Format, records: t.Sequence[Record], context: Context) -> t.Any:
    """``plugin.plan`` (see :class:`Partitioned`) with its exceptions mapped as :func:`run_export` does."""
    return _run_planning(plugin, "plan", lambda: t.cast(Partitioned, plugin).plan(records, context))


def run_slice_plan(plugin: Format, records: t.Sequence[Record], context: Context) -> t.Any:
    """``plugin.slice_plan`` (see :class:`Sliced`) with its exceptions mapped as :func:`run_export` does."""
    return _run_planning(plugin, "slice_plan", lambda: t.cast(Sliced, plugin).slice_plan(records, context))


def _run_planning(plugin: Format, method: str, call: t.Callable[[], t.Any]) -> t.Any:
    def no_file(name: str) -> Writable:
        _broke(plugin, f"{method} writes no file, but it opened {name!r}")

    return run_writing(plugin, lambda _open: call(), no_file, one_file=True)[0]


def run_slice(
    plugin: Format,
    records: t.Sequence[Record],
    context: Context,
    plan: t.Any,
    piece: Slice,
    open: t.Callable[[str], Writable],
) -> tuple[t.Any, list[str]]:
    """``plugin.stream_slice`` (see :class:`Sliced`), checked as :func:`run_stream`; ``(summary, names)``."""
    sliced = t.cast(Sliced, plugin)
    return run_writing(
        plugin,
        lambda checked: sliced.stream_slice(records, context, plan, piece, checked),
        open,
        one_file=not plugin.directory,
    )


def run_slice_end(
    plugin: Format, context: Context, plan: t.Any, summaries: list[t.Any], open: t.Callable[[str], Writable]
) -> tuple[list[str], list[str]]:
    """``plugin.stream_end`` (see :class:`Sliced`), checked as :func:`run_stream`; ``(notices, names)``."""
    sliced = t.cast(Sliced, plugin)
    notices, names = run_writing(
        plugin,
        lambda checked: sliced.stream_end(context, plan, summaries, checked),
        open,
        one_file=not plugin.directory,
    )
    _check_notices(plugin, notices)
    return notices, names


def _broke(plugin: Format, why: str) -> t.NoReturn:
    raise PluginError(plugin.name, _origin(plugin), f"broke the format contract: {why}")


def _check_notices(plugin: Format, notices: t.Any) -> None:
    if not isinstance(notices, list) or not all(isinstance(n, str) for n in notices):
        _broke(plugin, "stream must return the notices, a list of text")


Called = t.TypeVar("Called")


def run_writing(
    plugin: Format,
    call: t.Callable[[t.Callable[[str], Writable]], Called],
    open: t.Callable[[str], Writable],
    *,
    one_file: bool,
) -> tuple[Called, list[str]]:
    """``call(checked_open)``: a plugin writing files through ``open``, each name checked as it is
    opened, its exceptions mapped (a bug is a :class:`PluginError`; the disk's or a signal's pass
    through as they are); ``(what it returned, the names it opened)``."""
    names: list[str] = []
    ours: list[BaseException] = []

    def broke(why: str) -> t.NoReturn:
        _broke(plugin, why)

    class _Checked:
        def __init__(self, sink: Writable) -> None:
            self._sink = sink

        def write(self, data: bytes) -> None:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                broke(f"wrote {type(data).__name__}, not bytes")
            try:
                self._sink.write(bytes(data))
            except BaseException as exc:  # the disk's or a signal's, never the plugin's
                ours.append(exc)
                raise

    def checked_open(name: str) -> _Checked:
        if not isinstance(name, str):
            broke(f"file name {name!r} is not text")
        why = _bad_file_name(name)
        if why:
            broke(f"file name {name!r} {why}")
        if name in names:
            broke(f"file {name!r} opened twice")
        if names and one_file:
            broke(f"a single-file format must write exactly one file, not {len(names) + 1}")
        for other in names:
            if other.startswith(name + "/") or name.startswith(other + "/"):
                broke(f"file name {name!r} and {other!r}: one would have to be a directory")
        try:
            sink = open(name)
        except BaseException as exc:
            ours.append(exc)
            raise
        names.append(name)
        return _Checked(sink)

    try:
        result = call(checked_open)
    except ToolkitError:
        raise
    except (KeyboardInterrupt, GeneratorExit, Terminated):
        raise
    except BaseException as exc:
        if any(exc is mine for mine in ours):
            raise
        raise PluginError(plugin.name, _origin(plugin), f"failed during export: {type(exc).__name__}: {exc}") from exc
    return result, names


def _check_exported(plugin: Format, exported: t.Any) -> None:
    def broke(why: str) -> t.NoReturn:
        raise PluginError(plugin.name, _origin(plugin), f"broke the format contract: {why}")

    if not isinstance(exported, Exported):
        broke(f"export returned {type(exported).__name__}, not Exported")
    if not isinstance(exported.files, dict) or not all(
        isinstance(k, str) and isinstance(v, bytes) for k, v in exported.files.items()
    ):
        broke("Exported.files must map file names (text) to bytes")
    if not isinstance(exported.notices, list) or not all(isinstance(n, str) for n in exported.notices):
        broke("Exported.notices must be a list of text")
    if not plugin.directory and len(exported.files) != 1:
        broke(f"a single-file format must return exactly one file, not {len(exported.files)}")
    for name in exported.files:
        why = _bad_file_name(name)
        if why:
            broke(f"file name {name!r} {why}")
    for name in sorted(exported.files):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in exported.files:
                broke(f"file name {name!r} needs {'/'.join(parts[:depth])!r} to be a directory, but it is a file too")


def _bad_file_name(name: str) -> str | None:
    """Why ``name`` is not a plain relative POSIX path inside the output directory, or None."""
    import unicodedata

    if not name:
        return "is empty"
    if PurePosixPath(name).is_absolute():
        return "must be a relative path inside the output directory"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "must be a relative path inside the output directory (no empty, '.' or '..' parts)"
    if any(unicodedata.category(char) in ("Cc", "Cs") or char == "\\" for char in name):
        return "holds a control character, a lone surrogate or a backslash"
    return None


def run_import(plugin: Format, source: Path, context: Context) -> list[Record]:
    """``plugin.import_records`` with its exceptions mapped: bad input exit 1, the plugin's bug exit 3."""
    if not isinstance(plugin, Importer):
        raise UsageError(f"format {plugin.name!r} cannot import (see `toolkit formats`)")
    try:
        records = plugin.import_records(source, context)
    except ToolkitError:
        raise
    except (KeyboardInterrupt, GeneratorExit, Terminated):
        raise
    except RecursionError as exc:  # nesting deeper than the reader can follow: the input's fault
        raise invalid_source(source, "nested too deeply to read") from exc
    except MemoryError as exc:
        raise CouldNotRun(f"not enough memory to import {source}") from exc
    except BaseException as exc:  # SystemExit included
        raise PluginError(plugin.name, _origin(plugin), f"failed during import: {type(exc).__name__}: {exc}") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise PluginError(
            plugin.name, _origin(plugin), "broke the format contract: import_records must return a list of dicts"
        )
    return records


__all__ = [
    "GROUP",
    "Context",
    "Entry",
    "Exported",
    "Format",
    "Importer",
    "Option",
    "Part",
    "Partitioned",
    "Problem",
    "Record",
    "Slice",
    "Sliced",
    "Streaming",
    "Writable",
    "discover",
    "invalid_source",
    "load",
    "parse_source_date_epoch",
    "resolve_options",
    "run_export",
    "run_import",
    "run_index",
    "run_part",
    "run_plan",
    "run_slice",
    "run_slice_end",
    "run_slice_plan",
    "run_stream",
    "run_writing",
]
