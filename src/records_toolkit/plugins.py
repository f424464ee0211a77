"""The door every format comes through, built-ins included: an entry-point group.

A format is any object with the attributes of :class:`Format`, registered under the group
``records_toolkit.formats``; the core never imports a format by name. Discovery reads only the
entry points' metadata, so listing the names costs no import; a format's module is imported
when it is used.
"""

from __future__ import annotations

import dataclasses
import typing as t
from importlib import metadata
from pathlib import Path

from .errors import PluginLoadError

if t.TYPE_CHECKING:
    from .schemas import Model

GROUP = "records_toolkit.formats"

Record = dict[str, t.Any]


@dataclasses.dataclass(frozen=True)
class Option:
    """One ``-O name=value`` setting a format understands."""

    name: str
    help: str
    default: str
    choices: tuple[str, ...] | None = None  # None: free text


@dataclasses.dataclass(frozen=True)
class Context:
    """What an exporter or importer may use besides the records."""

    model: Model
    options: t.Mapping[str, str]
    source_date_epoch: int | None = None  # SOURCE_DATE_EPOCH, for formats that demand a timestamp
    #: Why SOURCE_DATE_EPOCH could not be read, if it was set but malformed. Only a format that
    #: uses the timestamp should fail on it (raise ``records_toolkit.errors.OptionError``).
    source_date_epoch_error: str | None = None


@dataclasses.dataclass
class Exported:
    """What an export produced: files by relative name, and notices for the user (stderr)."""

    files: dict[str, bytes]
    notices: list[str] = dataclasses.field(default_factory=list)


@t.runtime_checkable
class Format(t.Protocol):
    """The plugin contract. ``directory`` formats write several files into ``-o DIR``."""

    name: str
    suffix: str  # ".ics"; for directory formats, the suffix of the files inside
    media_type: str
    summary: str
    directory: bool
    options: t.Sequence[Option]

    def export(self, records: t.Sequence[Record], context: Context) -> Exported: ...


@t.runtime_checkable
class Importer(t.Protocol):
    """A format that can carry records back implements this too."""

    def import_records(self, source: Path, context: Context) -> list[Record]: ...


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered format before it is loaded."""

    name: str
    package: str
    version: str
    entry_point: metadata.EntryPoint

    def load(self) -> Format:
        try:
            loaded = self.entry_point.load()
            plugin = loaded() if isinstance(loaded, type) else loaded
        except Exception as exc:  # any failure of third-party code is a load failure
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
        return plugin


def discover() -> dict[str, Entry]:
    """Every registered format by name, sorted for determinism; first registration wins."""
    found: dict[str, Entry] = {}
    for ep in metadata.entry_points(group=GROUP):
        if ep.name not in found:
            dist = ep.dist
            found[ep.name] = Entry(ep.name, dist.name if dist else "?", dist.version if dist else "?", ep)
    return dict(sorted(found.items()))


def load(name: str) -> Format:
    entries = discover()
    if name not in entries:
        raise PluginLoadError(name, "?", "no such format installed")
    return entries[name].load()
