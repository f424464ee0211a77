"""fsspec URLs as paths: ``toolkit validate memory://records/``, ``s3://bucket/records/``.

A path that starts with ``scheme://`` (a scheme of two characters or more: ``C://`` stays a
Windows drive; chained URLs such as ``simplecache::s3://...`` too) is a URL (:func:`.loader.is_url`).
fsspec (``pip install fsspec``; it comes with the ``dask`` extra) gives its file system, and is
imported only when a URL is given.

* ``file://`` and ``local://`` URLs are turned into local paths (:func:`local_path`) and walked
  and read as any local path: links never followed, special files never read. Their names are
  then the local paths.
* Any other URL is walked here (:func:`iter_names`) with the local walk's rules: record files are
  ``*.yaml``/``*.yml``, the toolkit's temporary files (``.toolkit-tmp-*``) are ``leftover-temp``
  problems and never read, a directory holding no record file is ``no-records``, a missing URL is
  ``file-unreadable``, and the same order (walk problems sorted by name, then the files sorted by
  name). A tree copied into memory:// so gives the report of the same tree on disk, with the
  names as URLs (``memory://records/events/a.yaml``).
* Each file is read through fsspec (:func:`read_url`) with the size limit of local files: a file
  whose size is known to be over it is refused before it is read; one of unknown size is read
  only up to the limit and one byte. The bytes are then loaded and checked as a local file's.

A scheme fsspec does not know, a backend that is not installed, or fsspec missing is a
:class:`~.errors.UsageError` (exit 2) saying what to install. The result cache works only on local
trees (a run with a URL neither reads nor writes it) and URL files are read in this process, not
by the worker pool. memory:// is a file system of this process only: a Dask cluster cannot read it.
"""

from __future__ import annotations

import errno
import os
import re
import typing as t

from .collection import Layout
from .errors import CouldNotRun, UsageError
from .loader import TEMP_PREFIX, YAML_SUFFIXES, NotRegular, Stats, is_url, iter_record_names
from .problems import Problem

if t.TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["iter_names", "local_path", "read_url", "refusal", "remote_layout", "remote_urls"]

_LOCAL = re.compile(r"(?:file|local)://", re.IGNORECASE)
_MEMORY = re.compile(r"(?:^|::)memory://", re.IGNORECASE)

#: What the last walk learnt of each URL file: its file system, path there and size (the read
#: then needs no second request for the size). Entries are dropped as the files are read.
_WALKED: dict[str, tuple[AbstractFileSystem, str, int | None]] = {}


def local_path(url: str) -> str | None:
    """The local path of a ``file://`` or ``local://`` URL (RFC 8089: ``file:///srv/records`` is
    ``/srv/records``, ``file://localhost/srv`` too, ``%20`` is a space); None for any other URL.
    One that names another host is no path here: a :class:`UsageError`."""
    from urllib.parse import unquote

    match = _LOCAL.match(url)
    if match is None or "::" in url:
        return None
    authority, _, path = url[match.end() :].partition("/")
    if authority.lower() not in ("", "localhost"):
        raise UsageError(
            f"{url}: this file:// URL names the host {authority!r}, not a path on this machine "
            "(file:///path, or file://localhost/path)"
        )
    return unquote("/" + path, errors="surrogateescape")


def remote_urls(paths: t.Iterable[t.Any]) -> list[str]:
    """The URLs among ``paths`` that are not local paths (see :func:`local_path`)."""
    return [p for p in paths if is_url(p) and local_path(p) is None]


def check_remote_run(urls: t.Sequence[str], *, dask: bool) -> None:
    """Refuse what cannot work before any work: memory:// on a Dask cluster (the workers are other
    processes, which do not see this process's memory file system)."""
    if dask:
        for url in urls:
            if _MEMORY.search(url):
                raise UsageError(
                    f"{url}: memory:// is a file system of this process only, which the Dask workers "
                    "cannot read: give a URL they reach (file:// on a shared file system, s3://, ...) "
                    "or run without --scheduler"
                )


def _scheme(url: str) -> str:
    return url.split("://", 1)[0]


def filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec file system of ``url`` and the path in it; what cannot be had is a UsageError."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise UsageError(
            f"{url}: a URL as a path needs fsspec, which is not installed: pip install fsspec "
            "(it comes with records-toolkit[dask]), and the package of the URL's file system (s3fs for s3://, ...)"
        ) from None
    scheme = _scheme(url)
    try:
        fs, path = url_to_fs(url)
    except ImportError as exc:  # fsspec knows the scheme, its backend is not installed
        raise UsageError(f"{url}: reading {scheme}:// URLs needs a package that is not installed: {exc}") from None
    except ValueError as exc:
        if "protocol not known" in str(exc).lower():
            raise UsageError(
                f"{url}: no file system is known for {scheme}:// (fsspec.available_protocols() lists the "
                "schemes fsspec knows; a scheme of another package needs that package installed)"
            ) from None
        raise UsageError(f"{url}: not a URL fsspec can open: {exc}") from None
    except TypeError as exc:
        raise UsageError(f"{url}: not a URL fsspec can open: {exc}") from None
    except Exception as exc:  # a backend failing to start: the machine or its set-up, not the records
        raise CouldNotRun(f"{url}: cannot open its file system: {type(exc).__name__}: {exc}") from None
    return t.cast("AbstractFileSystem", fs), t.cast(str, path)


def _problem(file: str, code: str, message: str) -> Problem:
    return Problem(file=file, line=None, column=None, pointer="", code=code, message=message)


def _reason(exc: BaseException) -> str:
    """What went wrong, as a local walk or read words it (``no such file or directory``)."""
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, OSError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _shown(url: str) -> str:
    """A URL as names show it: without trailing slashes (``memory://records/`` is ``memory://records``)."""
    stripped = url.rstrip("/")
    return stripped if not stripped.endswith(":") else url  # (``memory://`` stays itself)


def _join(shown: str, relative: str) -> str:
    return shown + relative if shown.endswith("/") else f"{shown}/{relative}"


def walk_url(url: str, seen: set[tuple[int, str]]) -> list[str | Problem]:
    """The record files under ``url`` (a file, or a directory walked recursively), after the
    walk's own problems, as the local walk gives them (see :func:`.loader.iter_record_names`).
    ``seen``: the files already given (a file reached twice is read once)."""
    fs, root = filesystem(url)
    shown = _shown(url)
    try:
        info = fs.info(root)
    except MemoryError:
        raise
    except Exception as exc:  # (a missing URL, a bucket without access, the network)
        return [_problem(shown, "file-unreadable", f"cannot read: {_reason(exc)}")]
    kind = info.get("type")
    if kind != "directory":
        if kind != "file":
            return [_problem(shown, "file-special", f"a {kind or 'special file'}, not a regular file: not read")]
        key = (id(fs), root)
        if key in seen:
            return []
        seen.add(key)
        _WALKED[shown] = (fs, root, _size(info))
        return [shown]
    try:
        found = t.cast(dict[str, dict[str, t.Any]], fs.find(root, detail=True, withdirs=True))
    except MemoryError:
        raise
    except Exception as exc:
        return [_problem(shown, "file-unreadable", f"cannot read: {_reason(exc)}")]
    base = root.rstrip("/")
    files: list[tuple[str, str, int | None]] = []
    problems: dict[str, Problem] = {}
    named_like_records = 0
    entries: list[tuple[str, str, dict[str, t.Any]]] = []
    for path, entry in found.items():
        if base and path.startswith(base + "/"):
            relative = path[len(base) + 1 :]
        elif not base:
            relative = path.lstrip("/")
        else:
            continue  # the root itself
        if relative:
            entries.append((relative, path, entry))
    # Symbolic links are never followed (a local file system behind a chained URL reports them):
    # nothing under a linked folder is read.
    linked = {
        relative for relative, _path, entry in entries if entry.get("islink") and entry.get("type") == "directory"
    }
    for relative, path, entry in entries:
        parts = relative.split("/")
        temp = next((n for n, part in enumerate(parts) if part.startswith(TEMP_PREFIX)), None)
        if temp is not None:  # never read as records; never silently either (the topmost one, once)
            name = _join(shown, "/".join(parts[: temp + 1]))
            if name not in problems:
                named_like_records += 1
                problems[name] = _problem(
                    name,
                    "leftover-temp",
                    "a temporary file or staging directory of an interrupted (or running) toolkit write: "
                    "not read; the next write into this directory clears it, or check it and remove it",
                )
            continue
        if linked and any("/".join(parts[:n]) in linked for n in range(1, len(parts))):
            continue  # below a linked folder
        kind = entry.get("type")
        name = _join(shown, relative)
        if relative in linked:
            named_like_records += 1
            problems[name] = _problem(
                name, "file-symlink", "a symbolic link to a directory: not followed (it could lead outside the tree)"
            )
            continue
        if kind == "directory" or not parts[-1].endswith(YAML_SUFFIXES):
            continue
        named_like_records += 1
        if entry.get("islink"):
            problems[name] = _problem(
                name, "file-symlink", "a symbolic link to a file: not followed (it could lead outside the tree)"
            )
            continue
        if kind != "file":
            problems[name] = _problem(name, "file-special", f"a {kind or 'special file'}, not a regular file: not read")
            continue
        key = (id(fs), path)
        if key in seen:
            continue
        seen.add(key)
        files.append((relative, path, _size(entry)))
    out: list[str | Problem] = [*sorted(problems.values(), key=lambda problem: problem.file)]
    if not named_like_records and not problems:
        out.append(_problem(shown, "no-records", "no *.yaml or *.yml file in this directory"))
    files.sort()  # by name under one root: the order of the local walk's full names
    for relative, path, size in files:
        name = _join(shown, relative)
        _WALKED[name] = (fs, path, size)
        out.append(name)
    return out


def _size(info: t.Mapping[str, t.Any]) -> int | None:
    size = info.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def iter_names(paths: t.Iterable[str | os.PathLike[str]], stats: Stats | None = None) -> t.Iterator[str | Problem]:
    """:func:`.loader.iter_record_names` for paths that may be URLs, in the order given.

    ``file://`` URLs become local paths. The local paths go through one local walk (a file named
    twice is read once, whatever lies between); the URLs named between two local paths are walked
    when the local walk asks for the next path, and their names given before that path's.
    """
    _WALKED.clear()
    seen: set[tuple[int, str]] = set()
    waiting: list[str | Problem] = []

    def local_paths() -> t.Iterator[str | os.PathLike[str]]:
        for given in paths:
            if is_url(given):
                assert isinstance(given, str)
                local = local_path(given)
                if local is None:
                    waiting.extend(walk_url(given, seen))
                    continue
                given = local
            yield given

    for item in iter_record_names(local_paths(), stats):
        if waiting:
            yield from waiting
            waiting.clear()
        yield item
    yield from waiting
    waiting.clear()


def read_url(name: str, max_bytes: int | None = None) -> bytes:
    """The bytes of the file at URL ``name``, never more than ``max_bytes`` (:class:`~.loader.NotRegular`
    ``file-too-large``, as a local file's); every failure an ``OSError`` (never a backend's own error)."""
    walked = _WALKED.pop(name, None)
    try:
        if walked is None:
            fs, path = filesystem(name)
            info = fs.info(path)
            if info.get("type") == "directory":
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            size = _size(info)
        else:
            fs, path, size = walked
        if max_bytes is not None and size is not None and size > max_bytes:
            raise NotRegular(
                "file-too-large",
                f"file is {size} bytes; the limit is {max_bytes} (--max-file-size)",
                size=size,
                limit=max_bytes,
            )
        data = fs.cat_file(path, start=0, end=None if max_bytes is None else max_bytes + 1)
    except NotRegular:
        raise
    except (UsageError, CouldNotRun) as exc:  # (a worker without the backend)
        raise OSError(exc.message) from None
    except MemoryError:
        raise
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name) from None
    except Exception as exc:  # a backend's own errors: a file that cannot be read, never a crash
        raise OSError(_reason(exc)) from None
    if not isinstance(data, bytes):  # pragma: no cover - a backend's bytes-like value
        data = bytes(data)
    if max_bytes is not None and len(data) > max_bytes:
        raise NotRegular(
            "file-too-large", f"file is larger than the limit of {max_bytes} bytes (--max-file-size)", limit=max_bytes
        )
    return data


def refusal(name: str, exc: OSError) -> Problem:
    """The problem of a file that could not be read (as :func:`.loader.load_file` words it)."""
    if isinstance(exc, NotRegular):
        line = 1 if exc.code == "file-too-large" else None
        return Problem(file=name, line=line, column=line, pointer="", code=exc.code, message=exc.message)
    return _problem(name, "file-unreadable", f"cannot read: {exc.strerror or exc}")


class _LocalLayout(Layout):
    """A collection's layout that leaves URL names alone: a URL is never inside a local collection
    (``os.path.abspath`` would make ``memory://records`` a folder ``memory:`` of the working directory)."""

    __slots__ = ()

    def misplaced(self, file: str, document: int, type_name: str, record_id: str | None) -> tuple[str, str] | None:
        if is_url(file):
            return None
        return Layout.misplaced(self, file, document, type_name, record_id)


def remote_layout(layout: Layout | None) -> Layout | None:
    """``layout`` for a run that names URLs (see :class:`_LocalLayout`)."""
    return None if layout is None else _LocalLayout(layout.root, layout.shown)
