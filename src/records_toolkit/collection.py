"""Which collection a run belongs to: the config file, the default ``records/`` tree, the layout.

``toolkit validate FILE...`` on a subset (an editor, a pre-commit hook passing changed files)
checks those files against the whole collection: the collection rules (ids, references, quotes)
see every record of it, and only the problems of the files named are reported.

The collection is named by ``records-toolkit.toml`` at the repository root, found by walking up
from the working directory (the walk stops at a directory holding ``.git``, or at the root)::

    [collection]
    path = "records"                  # relative to the config file
    layout = "one-record-per-file"    # the default; "any" puts no rule on file places

With no config, ``records/`` in the working directory is the collection, with the
one-record-per-file layout. A collection found either way is used only when every path named
lies inside it; ``--collection PATH`` names one explicitly (used whatever the paths named).

In the one-record-per-file layout each record is at ``<collection>/<type>s/<id>.yaml``, alone in
its file; a record elsewhere is a ``misplaced-record`` (:meth:`Layout.misplaced`).
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

from .errors import UsageError
from .problems import FrozenValue, set_field

__all__ = ["CONFIG_NAME", "LAYOUTS", "Config", "Layout", "Scope", "find_config", "read_config", "resolve"]

CONFIG_NAME = "records-toolkit.toml"
DEFAULT_PATH = "records"
ONE_RECORD_PER_FILE = "one-record-per-file"
#: Known layouts: one record per file at ``<type>s/<id>.yaml``, or files anywhere in the collection.
LAYOUTS = (ONE_RECORD_PER_FILE, "any")
_KEYS = ("path", "layout")

PathLike = t.Union[str, "os.PathLike[str]"]


class Config(FrozenValue):
    """A collection: its root folder (absolute), its layout, and the config file that named it (if any)."""

    __slots__ = ("config", "layout", "root")
    _fields = __match_args__ = ("root", "layout", "config")

    root: str
    layout: str
    config: str | None

    def __init__(self, root: str, layout: str = ONE_RECORD_PER_FILE, config: str | None = None) -> None:
        set_field(self, "root", root)
        set_field(self, "layout", layout)
        set_field(self, "config", config)


class Layout(FrozenValue):
    """The one-record-per-file layout of a collection (plain values: it goes to worker processes)."""

    __slots__ = ("root", "shown")
    _fields = __match_args__ = ("root", "shown")

    root: str  # absolute, lexically normalised (links are not resolved)
    shown: str  # the root as messages show it (relative to the working directory when possible)

    def __init__(self, root: str, shown: str) -> None:
        set_field(self, "root", root)
        set_field(self, "shown", shown)

    def misplaced(self, file: str, document: int, type_name: str, record_id: str | None) -> tuple[str, str] | None:
        """``(pointer, message)`` when this record is not where the layout puts it; None otherwise.

        Files outside the collection are not concerned. ``record_id`` is None when the id is not
        usable (missing or refused by the schema, reported as such): only the document count is
        checked then.
        """
        relative = relative_within(self.root, os.path.abspath(file))
        if relative is None:
            return None
        folder = f"{type_name}s"
        target = f"{self.shown}/{folder}/{record_id}.yaml" if record_id is not None else None
        if document > 0:
            where = f": this record belongs at {target}" if target else ""
            return "", f"one record per file, but this file holds several documents{where}"
        if target is None:
            return None
        parts = relative.split("/")
        if parts[:-1] != [folder]:
            under = f"{self.shown}/{'/'.join(parts[:-1])}/" if len(parts) > 1 else f"{self.shown}/"
            article = "an" if type_name[:1] in "aeiou" else "a"
            return "/type", f"{article} {type_name} under {under}: it belongs at {target}"
        if parts[-1] != f"{record_id}.yaml":
            return "/id", f"the file is not named after the record's id: it belongs at {target}"
        return None


class Scope(FrozenValue):
    """What one validation run reads: the paths named (whose problems are reported), the rest of
    their collection (``context``: read for the collection rules only; None when there is none or
    the named paths cover it) and the layout that applies (None: no place rule)."""

    __slots__ = ("context", "layout", "named", "root")
    _fields = __match_args__ = ("named", "context", "layout", "root")

    named: list[PathLike]
    context: list[str] | None
    layout: Layout | None
    root: str | None  # the collection's folder (absolute), when the run is over a collection

    def __init__(
        self,
        named: list[PathLike],
        context: list[str] | None = None,
        layout: Layout | None = None,
        root: str | None = None,
    ) -> None:
        set_field(self, "named", named)
        set_field(self, "context", context)
        set_field(self, "layout", layout)
        set_field(self, "root", root)


def relative_within(root: str, path: str) -> str | None:
    """``path`` relative to ``root`` (both absolute), with ``/``; ``""`` for the root; None when outside."""
    try:
        if os.path.commonpath([root, path]) != root:
            return None
    except ValueError:  # another drive
        return None
    relative = os.path.relpath(path, root)
    return "" if relative == "." else Path(relative).as_posix()


def _shown(path: str) -> str:
    """An absolute path as messages show it: relative to the working directory when that is shorter to read."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return Path(path).as_posix()
    return Path(relative).as_posix()


def find_config(start: PathLike | None = None) -> Path | None:
    """``records-toolkit.toml`` in ``start`` (default: the working directory) or the nearest folder above.

    The walk stops at a folder holding ``.git`` (the repository root, checked too) or at the
    filesystem root.
    """
    try:
        folder = Path(os.path.abspath(start if start is not None else os.getcwd()))
    except FileNotFoundError:  # (getcwd: the working folder was removed; not a write that failed)
        raise UsageError("the working folder no longer exists: run the command from one that does") from None
    while True:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists() or folder.parent == folder:
            return None
        folder = folder.parent


def read_config(path: PathLike) -> Config:
    """Read a config file; a config that cannot be read or says something unknown is a :class:`UsageError`."""
    import tomllib  # only when there is a config to read

    file = Path(path)
    try:
        with open(file, "rb") as stream:
            data = tomllib.load(stream)
    except OSError as exc:
        raise UsageError(f"{file.as_posix()}: cannot read the config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file.as_posix()}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{file.as_posix()}: not valid TOML: the file is not UTF-8") from None
    table = data.get("collection", {})
    if not isinstance(table, dict):
        raise UsageError(f"{file.as_posix()}: [collection] must be a table")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise UsageError(f"{file.as_posix()}: unknown key {unknown[0]!r} in [collection] (allowed: {', '.join(_KEYS)})")
    where = table.get("path", DEFAULT_PATH)
    if not isinstance(where, str) or not where or "\x00" in where:
        raise UsageError(f'{file.as_posix()}: [collection] path must be a folder, as text (such as "records")')
    layout = table.get("layout", ONE_RECORD_PER_FILE)
    if layout not in LAYOUTS:
        raise UsageError(
            f"{file.as_posix()}: [collection] layout {layout!r} is not one of: {', '.join(map(repr, LAYOUTS))}"
        )
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(file)), where))
    return Config(root=root, layout=layout, config=file.as_posix())


def discover(start: PathLike | None = None) -> Config | None:
    """The collection of the working directory: from the config file, else ``records/`` when it exists."""
    config = find_config(start)
    if config is not None:
        return read_config(config)
    default = os.path.abspath(os.path.join(start if start is not None else os.getcwd(), DEFAULT_PATH))
    if os.path.isdir(default) and not os.path.islink(default):
        return Config(root=default)
    return None


def default_folder() -> str:
    """The folder a command given no path works on: the collection named by ``records-toolkit.toml``
    (as messages show it), else ``records``. A broken config is a :class:`UsageError`, as for
    ``validate``."""
    config = find_config()
    return DEFAULT_PATH if config is None else _shown(read_config(config).root)


def resolve(paths: t.Sequence[PathLike] | None, collection: PathLike | bool) -> Scope:
    """The scope of a run over ``paths`` (None: none named, so the collection itself or ``records``).

    ``collection``: False checks only the paths named (no collection, no place rule); True finds
    the collection (:func:`discover`) and uses it when every path named lies inside it; a path
    names the collection (its layout is the config's when the config names the same folder).
    """
    if collection is False or (paths is not None and not paths):
        return Scope(list(paths) if paths is not None else [DEFAULT_PATH])
    if collection is True:
        found = discover()
        if found is None:
            return Scope(list(paths) if paths is not None else [DEFAULT_PATH])
    else:
        root = os.path.abspath(os.fspath(collection))
        if not os.path.isdir(root):
            raise UsageError(f"collection {os.fspath(collection)!r}: no such directory")
        config = find_config()
        configured = read_config(config) if config is not None else None
        found = configured if configured is not None and configured.root == root else Config(root=root)
    shown = _shown(found.root)
    named: list[PathLike] = list(paths) if paths else [shown]
    inside = [relative_within(found.root, os.path.abspath(os.fspath(p))) for p in named]
    if collection is True and any(r is None for r in inside):
        return Scope(named)  # a path outside the collection: checked on its own, as named
    layout = Layout(found.root, shown) if found.layout == ONE_RECORD_PER_FILE else None
    context = None if "" in inside else [shown]  # the root itself named: nothing else to read
    return Scope(named, context, layout, found.root)
