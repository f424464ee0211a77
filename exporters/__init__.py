"""Built-in formats: registered through the records_toolkit.formats entry points like any plugin.

:func:`read_source` is what their importers read every file with (issue 7): a source is
untrusted, so it is never read through a symbolic link, never from a FIFO, socket or device
(which could block forever), and never past the size limit ``validate`` applies.
:func:`parse_json` reads JSON that way too: nothing nested deeper than the YAML loader allows,
no lone surrogate, no object that repeats a key, each refused at its line and column before
any reader walks the values; :func:`json_position` finds where a value of a parsed document
stands, so an importer refuses a value it cannot read at its line and column too.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import typing as t
from pathlib import Path

from records_toolkit.errors import InvalidSource
from records_toolkit.loader import MAX_DEPTH, MAX_FILE_BYTES, NotRegular, read_regular
from records_toolkit.loader import SURROGATE as _HAS_SURROGATE
from records_toolkit.plugins import invalid_source
from records_toolkit.problems import pointer_join

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_LINK = "a symbolic link: not read (it could lead outside the source directory)"


def _limit(max_bytes: int) -> str:
    same = " (16 MiB), as for validate" if max_bytes == MAX_FILE_BYTES else ""
    return (
        f"the limit for an import is {max_bytes} bytes{same}: raise it (toolkit import --max-file-size N), "
        "or export in parts (toolkit export --parts N) to keep each file small"
    )


def _open(name: str | Path, flags: int, dir_fd: int | None, shown: str) -> int:
    """``os.open`` with every refusal an :class:`InvalidSource` at ``shown``."""
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and flags & os.O_DIRECTORY):
            try:
                link = stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
            except OSError:
                link = False
            if link:
                raise invalid_source(shown, _LINK) from exc
        raise invalid_source(shown, f"cannot read: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeError) as exc:  # a NUL, or a lone surrogate that is no file name
        raise invalid_source(
            shown, "cannot read: the path is not a file name (it holds a NUL or a lone surrogate)"
        ) from exc


def read_source(
    path: str | Path,
    *,
    shown: str | None = None,
    directory: int | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> bytes:
    """The bytes of one regular file of an import source; anything else an :class:`InvalidSource`.

    ``path`` is opened with ``O_NOFOLLOW | O_NONBLOCK`` (relative to the open directory
    ``directory`` if given, each of its parts refused if it is a link), its type and size are
    checked on the open descriptor, and it is read up to ``max_bytes`` (16 MiB by default, as
    ``validate``): a symbolic link, a FIFO, socket, device or directory, or a file over the limit
    is refused by name before its content is read. ``shown`` names the file in the refusal.
    """
    where = shown if shown is not None else Path(path).as_posix()
    parts = Path(path).parts if directory is not None else ()
    opened: list[int] = []
    try:
        if len(parts) > 1:  # a path inside the directory: no part of it may be a link either
            for part in parts[:-1]:
                flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
                directory = _open(part, flags, directory, where)
                opened.append(directory)
            path = parts[-1]
        try:
            return read_regular(path, max_bytes, dir_fd=directory)
        except NotRegular as exc:
            if exc.code == "file-symlink":
                raise invalid_source(where, _LINK) from exc
            if exc.code == "file-too-large":
                size = f"the file is {exc.size} bytes" if exc.size is not None else "the file is larger than allowed"
                raise invalid_source(where, f"{size}; {_limit(max_bytes)}") from exc
            raise invalid_source(where, exc.message) from exc
        except (ValueError, UnicodeError) as exc:  # a NUL, or a lone surrogate that is no file name
            raise invalid_source(
                where, "cannot read: the path is not a file name (it holds a NUL or a lone surrogate)"
            ) from exc
    except InvalidSource:
        raise
    except OSError as exc:
        raise invalid_source(where, f"cannot read: {exc.strerror or exc}") from exc
    finally:
        for fd in reversed(opened):
            os.close(fd)


def open_directory(path: str | Path, *, shown: str | None = None) -> int:
    """An open descriptor of the source directory the user gave (it may itself be a link: their choice)."""
    where = shown if shown is not None else Path(path).as_posix()
    return _open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0), None, where)


# -- JSON sources -----------------------------------------------------------------------------------


class Unreadable(ValueError):
    """A document that parses as JSON but holds what no record can, at ``line`` and ``column`` if found."""

    def __init__(self, message: str, text: str, index: int | None, *, pointer: str = "") -> None:
        super().__init__(message)
        place: tuple[int | None, int | None] = _line_column(text, index) if index is not None else (None, None)
        self.line, self.column = place
        self.pointer = pointer  # RFC 6901, of the value in the document ("" : the whole document)


_TOO_DEEP = f"values nested deeper than {MAX_DEPTH} levels"
_SURROGATE = "a \\u escape gives a lone surrogate (half of a UTF-16 pair): not Unicode text"
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]|[\]}]', re.DOTALL)
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def _too_deep_at(text: str) -> int | None:
    """Where the first ``[`` or ``{`` deeper than :data:`MAX_DEPTH` opens (strings skipped); stops there."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif char in "]}":
            depth -= 1
    return None


def _lone_surrogate_at(text: str) -> int | None:
    """Where the first ``\\uD800``-``\\uDFFF`` escape that is not half of a pair stands."""
    for token in _JSON_TOKEN.finditer(text):
        if token.group()[0] != '"' or "\\" not in token.group():
            continue
        pending: int | None = None  # the index of a high surrogate waiting for its low half
        for escape in _JSON_ESCAPE.finditer(token.group()):
            code = int(escape.group(1), 16) if escape.group(1) else None
            at = token.start() + escape.start()
            if pending is not None:
                if code is not None and 0xDC00 <= code <= 0xDFFF and at == pending + 6:
                    pending = None
                    continue
                return pending
            if code is not None and 0xD800 <= code <= 0xDBFF:
                pending = at
            elif code is not None and 0xDC00 <= code <= 0xDFFF:
                return at
        if pending is not None:
            return pending
    return None


#: A ``\\u`` escape of a surrogate (``\\uD83D``, maybe half of a pair): where there is none, and no
#: surrogate in the text itself, no value of the parsed text holds one. (An escaped backslash
#: before ``u`` matches too: then the values are looked at one by one, as always.) Two searches,
#: each starting from what it looks for, take an eighth of the time of one with both.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _check_values(doc: object, text: str) -> None:
    """Refuse what no record can hold before anything reads the values: deep nesting, lone surrogates.

    Iterative (no recursion to exhaust); the place is looked up in the text only for a refusal.
    A text that holds no surrogate and no escape that could make one (most JSON) has none in its
    values: only the containers are then visited, for their depth (an import of 39 MB spent 1.5
    of its 20 profiled seconds looking at every string).
    """
    if (text.isascii() or _HAS_SURROGATE.search(text) is None) and _SURROGATE_ESCAPE.search(text) is None:
        containers: list[tuple[object, int]] = [(doc, 0)] if type(doc) is dict or type(doc) is list else []
        while containers:
            value, depth = containers.pop()
            if depth >= MAX_DEPTH:
                raise Unreadable(_TOO_DEEP, text, _too_deep_at(text))
            for item in value.values() if type(value) is dict else value:  # type: ignore[attr-defined]
                if type(item) is dict or type(item) is list:
                    containers.append((item, depth + 1))
        return
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _HAS_SURROGATE.search(value):
                raise Unreadable(_SURROGATE, text, _lone_surrogate_at(text))
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise Unreadable(_TOO_DEEP, text, _too_deep_at(text))
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


class _Repeated(Exception):
    """An object repeats a key (raised inside ``json.loads``; placed afterwards by :func:`_repeated_key_at`)."""


def _unique_keys(pairs: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Repeated
    return obj


def parse_json(text: str) -> t.Any:
    """``json.loads`` for an import source: NaN and Infinity refused, an object that repeats a key
    refused (RFC 8259 §4 leaves the meaning open; the YAML loader refuses repeats too), and never a
    value no record can hold (nested deeper than the loader allows, a lone surrogate), each an
    :class:`Unreadable` at its line and column. Raises ``ValueError`` (``json.JSONDecodeError``
    for bad JSON)."""
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:  # the C parser's own limit (about 1,000 levels)
        raise Unreadable(_TOO_DEEP, text, _too_deep_at(text)) from None
    except _Repeated:
        index, key, at = _repeated_key_at(text)
        message = (
            f"a JSON object repeats the key {key!r} (RFC 8259 §4: names should be unique; this import refuses repeats)"
        )
        raise Unreadable(brief(message), text, index, pointer=json_pointer(at)) from None
    _check_values(doc, text)
    return doc


# -- where a value stands -----------------------------------------------------------------------------

Path_ = tuple[str | int, ...]
_SCAN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]|[^\s\[\]{}:,"]+', re.DOTALL)


def _key_of(token: str) -> str:
    if "\\" not in token:
        return token[1:-1]
    try:
        return t.cast(str, json.loads(token))
    except ValueError:
        return token[1:-1]


def _scan(text: str) -> t.Iterator[tuple[int, Path_, bool, set[str] | None]]:
    """Every key and value of JSON ``text`` in text order, as ``(index, path, is_key, keys)``:
    ``path`` the JSON path of the value (of the value the key names, for a key), ``keys`` (for a
    key) the keys its object had before it. One pass, linear; for text that parsed (stops quietly
    on anything else)."""
    path: list[str | int] = []  # the path of the innermost open container
    frames: list[list[t.Any]] = []  # per open container: [is_object, key or index, expecting a key, keys seen]
    for match in _SCAN.finditer(text):
        token = match.group()
        char = token[0]
        if char == ",":
            if frames:
                frame = frames[-1]
                if frame[0]:
                    frame[2] = True
                else:
                    frame[1] += 1
            continue
        if char == ":":
            continue
        if char in "]}":
            if not frames:
                return
            frames.pop()
            if frames:
                path.pop()
            continue
        if frames and frames[-1][0] and frames[-1][2]:  # a key
            frame = frames[-1]
            key = _key_of(token)
            yield match.start(), (*path, key), True, frame[3]
            frame[3].add(key)
            frame[1], frame[2] = key, False
            continue
        if frames:
            path.append(frames[-1][1])
        yield match.start(), tuple(path), False, None
        if char == "{":
            frames.append([True, None, True, set()])
        elif char == "[":
            frames.append([False, 0, False, None])
        elif frames:
            path.pop()


def json_position(text: str, at: Path_, *, key: bool = False) -> int | None:
    """Where the value at path ``at`` of JSON ``text`` starts (``key``: where the key that names it
    stands); None if the text has no such value. One linear pass, stopping there: for refusals."""
    target = tuple(at)
    for index, path, is_key, _keys in _scan(text):
        if path == target and (is_key == key or not target):
            return index
    return None


def json_pointer(at: Path_) -> str:
    """The RFC 6901 JSON Pointer of path ``at``."""
    pointer = ""
    for token in at:
        pointer = pointer_join(pointer, token)
    return pointer


def _repeated_key_at(text: str) -> tuple[int | None, str, Path_]:
    """The first key in ``text`` its object already has: (index, key, path of the object)."""
    for index, path, is_key, keys in _scan(text):
        if is_key and keys is not None and path[-1] in keys:
            return index, str(path[-1]), path[:-1]
    return None, "?", ()


def _reject_constant(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not a JSON number (RFC 8259 §6)")


def _line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]`` (as json.JSONDecodeError counts them)."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


_MESSAGE_LIMIT = 300


def brief(message: str) -> str:
    """A message quoting the input is cut: a 16 MiB value must not come back as a 16 MiB message."""
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"
