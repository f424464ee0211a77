"""Stage 1, load: YAML files -> plain JSON-like values, safely and strictly.

Why our own construction instead of ``yaml.safe_load``:

* PyYAML resolves YAML 1.1 types (``NO`` -> False, ``2022-01-21`` -> date, ``010`` -> 8). We
  resolve the YAML 1.2 Core schema (YAML 1.2.2 §10.3.2) without ``.inf``/``.nan``, so values
  keep their text form and the result is exactly what JSON could hold.
* Duplicate keys (§3.2.1.1), aliases/anchors (expansion bombs) and explicit tags are refused,
  each with file:line:column.
* Valid records pay nothing for positions: the node tree is dropped after construction, and
  :class:`Positions` re-composes a file only when a problem in it needs a line and column.

The C parser (libyaml) is used when PyYAML was built with it; the pure-Python one otherwise.
PyYAML is imported only when a file needs the strict loader (see :func:`_yaml`): a plain file
taken by the fast path (:mod:`.fast_yaml`) never imports it, nor does an unchanged cached one.
"""

from __future__ import annotations

import bisect
import errno
import itertools
import operator
import os
import re
import stat
import struct
import sys
import typing as t
from pathlib import Path

from .problems import FrozenValue, Problem, pointer_join, pointer_tokens, set_field

if t.TYPE_CHECKING:  # bound at run time by _yaml(), when a file first needs the strict loader
    import yaml
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

    CoreLoader = t.Any  # (a SafeLoader, or libyaml's CSafeLoader: its base is chosen at run time)

JSON = t.Union[None, bool, int, float, str, list["JSON"], dict[str, "JSON"]]  # noqa: UP007 - a recursive alias needs Union at run time

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
#: A lone surrogate in text (a UTF-16 half: no record holds one; strict UTF-8 never decodes to one).
SURROGATE = re.compile("[\ud800-\udfff]")
#: Limits that keep the cost of any file under ``MAX_FILE_BYTES`` bounded (a record has dozens of
#: keys, aliases and sources; an article's text is one value, of any length).
MAX_ITEMS = 10_000  # items in one list, keys in one mapping
MAX_VALUES = 100_000  # values in one document (each key, item and scalar counts)
MAX_DOCUMENTS = 10_000  # documents in one file
YAML_SUFFIXES = (".yaml", ".yml")

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + n for n in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _TAG + "seq", _TAG + "map"

# YAML 1.2.2 §10.3.2 Core schema, minus .inf/.nan (JSON cannot hold them; NaN slips past ranges).
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")


_TYPED_FIRST = frozenset("~nNtTfF-+.0123456789")


def _resolve(self: t.Any, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
    """The same answers as the resolvers registered above, without PyYAML's path-resolver walk.

    libyaml calls this for every node; it is on the hot path of every valid record.
    """
    if kind is ScalarNode:
        return implicit_tag(value) if implicit[0] else _STR
    return _SEQ if kind is SequenceNode else _MAP


def _no_path_resolvers(self: t.Any, *args: t.Any) -> None:
    """Path resolvers are not used; PyYAML would still walk them for every node."""


def _count_node(self: t.Any, parent: Node | None, index: t.Any) -> None:
    """The composer's hook before every node (libyaml's and PyYAML's): the size limits.

    A list, a mapping or a whole document over its limit stops the composer at once, so a huge
    flow list costs the limit, not a node object per item of a 16 MiB file. ``index`` is the
    item's position in a list, None before a mapping key, the key node before its value.
    """
    if parent is None:  # the root of a new document
        self.nodes_composed = 0
        return
    self.nodes_composed += 1
    if self.nodes_composed > MAX_VALUES:
        raise LoadProblem(
            "yaml-too-many-values",
            f"a record of more than {MAX_VALUES:,} values (keys, items and scalars); "
            f"the limit is {MAX_VALUES:,} values per record",
            parent.start_mark,
        )
    if (index is None or type(index) is int) and len(parent.value) >= MAX_ITEMS:
        what = "a list of more than {:,} items" if index is not None else "a mapping of more than {:,} keys"
        raise LoadProblem(
            "yaml-too-many-items",
            what.format(MAX_ITEMS) + f"; the limit is {MAX_ITEMS:,} items per list and keys per mapping",
            parent.start_mark,
        )


_STRICT_READY = False  # set by the first _yaml()


def _yaml() -> None:
    """PyYAML, imported on first need, and :class:`CoreLoader` made (once) with it.

    Importing PyYAML and its C loader costs about as much as the rest of validating one file, and
    a plain file taken by the fast path never needs it. The first call also binds this module's
    ``yaml``, ``Node``, ``ScalarNode``, ``SequenceNode`` and ``MappingNode``, which the functions
    that read nodes (all reached only through this one) use.
    """
    global _STRICT_READY
    if _STRICT_READY:
        return
    import yaml
    import yaml.reader
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

    base: type[yaml.SafeLoader] = (
        yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader  # type: ignore[assignment]
    )

    class CoreLoader(base):  # type: ignore[misc,valid-type]
        """A SafeLoader whose implicit types are the YAML 1.2 Core schema's (no timestamps)."""

        yaml_implicit_resolvers: t.ClassVar[dict[str | None, list[tuple[str, re.Pattern[str]]]]] = {}

    CoreLoader.__qualname__ = "CoreLoader"
    CoreLoader.add_implicit_resolver(_NULL, _NULL_RE, ["~", "n", "N", ""])
    CoreLoader.add_implicit_resolver(_BOOL, _BOOL_RE, list("tTfF"))
    CoreLoader.add_implicit_resolver(_INT, _INT_RE, list("-+0123456789"))
    CoreLoader.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+.0123456789"))
    CoreLoader.resolve = _resolve
    CoreLoader.descend_resolver = _count_node
    CoreLoader.ascend_resolver = _no_path_resolvers
    globals().update(
        yaml=yaml,
        Node=Node,
        ScalarNode=ScalarNode,
        SequenceNode=SequenceNode,
        MappingNode=MappingNode,
        CoreLoader=CoreLoader,
    )
    _STRICT_READY = True


def __getattr__(name: str) -> t.Any:
    """``CoreLoader`` (and PyYAML's node classes) made on first use: see :func:`_yaml`."""
    if name in ("CoreLoader", "yaml", "Node", "ScalarNode", "SequenceNode", "MappingNode"):
        _yaml()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def implicit_tag(value: str) -> str:
    """The tag a plain scalar ``value`` gets under the Core schema (what ``fmt`` must quote)."""
    if value and value[0] not in _TYPED_FIRST:
        return _STR
    if _NULL_RE.match(value):
        return _NULL
    if _BOOL_RE.match(value):
        return _BOOL
    if _INT_RE.match(value):
        return _INT
    if _FLOAT_RE.match(value):
        return _FLOAT
    return _STR


class LoadProblem(Exception):
    """Internal: construction stopped at a problem (converted to a :class:`Problem`)."""

    def __init__(self, code: str, message: str, mark: t.Any, *, path: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.mark = code, message, mark
        self.path: list[str | int] = path if path is not None else []

    @property
    def pointer(self) -> str:
        pointer = ""
        for token in self.path:
            pointer = pointer_join(pointer, token)
        return pointer


class Document(FrozenValue):
    """One record as loaded: where it came from and its JSON-like value."""

    __slots__ = ("data", "file", "index")
    _fields = __match_args__ = ("file", "index", "data")

    file: str  # path as the user gave it (POSIX separators)
    index: int  # position of the document in a multi-document file
    data: JSON

    def __init__(self, file: str, index: int, data: JSON) -> None:
        set_field(self, "file", file)
        set_field(self, "index", index)
        set_field(self, "data", data)


def _scalar(node: ScalarNode) -> JSON:
    tag, value = node.tag, node.value
    plain = not node.style  # None from the Python parser, '' from libyaml
    if tag == _STR:
        # A plain scalar tagged str that the Core schema would type otherwise carries an
        # explicit tag (``!!str 5`` or ``! 5``).
        if plain and implicit_tag(value) != _STR:
            raise LoadProblem("yaml-tag", "explicit tags are not allowed (quote the value instead)", node.start_mark)
        return t.cast(str, value)
    if not plain:
        raise LoadProblem("yaml-tag", f"explicit tag {tag!r} is not allowed", node.start_mark)
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value in ("true", "True", "TRUE")
    if tag in (_INT, _FLOAT):
        return _number(node, tag, value)
    raise LoadProblem("yaml-tag", f"explicit tag {tag!r} is not allowed", node.start_mark)


def _number(node: ScalarNode, tag: str, value: str) -> int | float:
    """A JSON-safe number: finite, and short enough to read (Python refuses > 4300 digits)."""
    if len(value) > 100:
        raise LoadProblem(
            "yaml-number", f"a number of {len(value)} characters is refused; quote it if it is text", node.start_mark
        )
    if tag == _INT:
        base = 8 if value.startswith("0o") else 16 if value.startswith("0x") else 10
        return int(value[2:] if base != 10 else value, base)
    number = float(value)
    if number in (float("inf"), float("-inf")):
        raise LoadProblem("yaml-number", f"{value} is too large for a number (JSON has no infinity)", node.start_mark)
    return number


def construct(node: Node) -> JSON:
    """Build the JSON-like value of a composed document, refusing what YAML should not smuggle in.

    The path to a refused node is collected only as the refusal travels up (each level adds
    its key), so valid documents pay nothing for JSON pointers.
    """
    _yaml()
    seen: set[int] = set()

    def build(node: Node, depth: int) -> JSON:
        if depth > MAX_DEPTH:
            raise LoadProblem("yaml-too-deep", f"values nested deeper than {MAX_DEPTH} levels", node.start_mark)
        ident = id(node)
        if ident in seen:  # the composer shares one node between an anchor and its aliases
            raise LoadProblem("yaml-alias", "aliases are not allowed (write the value out)", node.start_mark)
        seen.add(ident)
        if type(node) is ScalarNode:
            return _scalar(node)
        if type(node) is SequenceNode:
            if node.tag != _SEQ:
                raise LoadProblem("yaml-tag", f"explicit tag {node.tag!r} is not allowed", node.start_mark)
            items: list[JSON] = []
            for index, item in enumerate(node.value):
                try:
                    items.append(build(item, depth + 1))
                except LoadProblem as exc:
                    exc.path.insert(0, index)
                    raise
            return items
        if type(node) is MappingNode:
            if node.tag != _MAP:
                raise LoadProblem("yaml-tag", f"explicit tag {node.tag!r} is not allowed", node.start_mark)
            out: dict[str, JSON] = {}
            for key_node, value_node in node.value:
                if type(key_node) is not ScalarNode or key_node.tag != _STR:
                    if isinstance(key_node, ScalarNode) and key_node.tag not in (_INT, _FLOAT, _BOOL, _NULL):
                        raise LoadProblem(
                            "yaml-tag", f"explicit tag {key_node.tag!r} is not allowed", key_node.start_mark
                        )
                    shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                    raise LoadProblem("yaml-key-type", f"mapping keys must be text, not {shown!r}", key_node.start_mark)
                key = key_node.value
                if key in out:
                    raise LoadProblem("yaml-duplicate-key", f"duplicate key {key!r}", key_node.start_mark, path=[key])
                try:
                    out[key] = build(value_node, depth + 1)
                except LoadProblem as exc:
                    exc.path.insert(0, key)
                    raise
            return out
        raise LoadProblem("yaml-syntax", "unexpected node", node.start_mark)  # pragma: no cover

    return build(node, 0)


def position(text: str, mark: yaml.Mark | None, fallback: yaml.Mark | None = None) -> tuple[int, int]:
    """1-based (line, column) of a mark, counting only LF, CR and CRLF as line breaks (YAML 1.2 §5.4).

    libyaml also breaks lines at U+0085, U+2028 and U+2029 (YAML 1.1), which would put every
    later line off by one, so the position is recomputed from the mark's character index. A
    mark past the end of the text (an error found at end of stream) falls back to
    ``fallback`` (where the unclosed construct began) or to the last line.

    The :class:`LineIndex` of the text is built once and kept for the next call on the same
    text, so a file with a problem in each of its many documents is not re-counted each time.
    """
    if mark is None:
        return 1, 1
    return line_index(text).position(mark, fallback)


class LineIndex:
    """Line and column of any character index of one text, without counting from its start.

    One pass builds a checkpoint every :attr:`BLOCK` characters (line breaks before it, the start
    of its line); a lookup bisects to its block and counts within it: O(log n + BLOCK), so n
    lookups in a text of n lines cost n log n, not n².
    """

    BLOCK = 4096
    __slots__ = ("_cr", "_line_starts", "_lines", "_starts", "last_line", "stripped", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._cr = "\r" in text  # CR and CRLF end lines too; LF alone is the fast case
        starts, lines, line_starts = [0], [0], [0]  # per block: its first index, breaks before it, its line's start
        size, begin, count, line_start = len(text), 0, 0, 0
        while begin < size:
            end = min(begin + self.BLOCK, size)
            if self._cr and end < size and text[end - 1] == "\r" and text[end] == "\n":
                end += 1  # never split a CRLF between two blocks
            count += self._breaks(begin, end)
            line_start = max(line_start, self._after_last_break(begin, end))
            begin = end
            starts.append(end)
            lines.append(count)
            line_starts.append(line_start)
        self._starts, self._lines, self._line_starts = starts, lines, line_starts
        self.stripped = len(text.rstrip())  # where trailing white space begins
        # the start of the last line that has text (a mark at the very end goes there)
        self.last_line = text.rfind("\n", 0, len(text.rstrip("\n"))) + 1

    def _breaks(self, begin: int, end: int) -> int:
        text = self.text
        found = text.count("\n", begin, end)
        if self._cr:
            found += text.count("\r", begin, end) - text.count("\r\n", begin, end)
        return found

    def _after_last_break(self, begin: int, end: int) -> int:
        """The index after the last line break in ``text[begin:end]``, or 0 when there is none."""
        after = self.text.rfind("\n", begin, end) + 1
        if self._cr:
            after = max(after, self.text.rfind("\r", begin, end) + 1)
        return after

    def locate(self, index: int) -> tuple[int, int]:
        """1-based (line, column) of the character at ``index``."""
        block = bisect.bisect_right(self._starts, index) - 1
        begin = self._starts[block]
        line = self._lines[block] + self._breaks(begin, index) + 1
        line_start = max(self._line_starts[block], self._after_last_break(begin, index))
        return line, index - line_start + 1

    def position(self, mark: yaml.Mark, fallback: yaml.Mark | None = None) -> tuple[int, int]:
        """What :func:`position` says of ``mark`` in this text."""
        index = mark.index
        if index >= self.stripped and fallback is not None and fallback.index < index:
            index = fallback.index
        if index >= len(self.text) and self.text.endswith("\n"):
            index = self.last_line  # the last line that has text, not a line that does not exist
        return self.locate(index)


_LAST_INDEX: LineIndex | None = None


def line_index(text: str) -> LineIndex:
    """The :class:`LineIndex` of ``text``; the last one built is kept for the next call on the same text."""
    global _LAST_INDEX
    last = _LAST_INDEX
    if last is None or last.text is not text:
        last = _LAST_INDEX = LineIndex(text)
    return last


def _forget_line_index(text: str) -> None:
    """Drop the kept index (and so the text it holds) once its file is loaded."""
    global _LAST_INDEX
    if _LAST_INDEX is not None and _LAST_INDEX.text is text:
        _LAST_INDEX = None


def _problem(
    text: str,
    file: str,
    code: str,
    message: str,
    mark: yaml.Mark | None,
    pointer: str = "",
    document: int = 0,
    fallback: yaml.Mark | None = None,
) -> Problem:
    line, column = position(text, mark, fallback)
    return Problem(file=file, line=line, column=column, pointer=pointer, code=code, message=message, document=document)


def decode(raw: bytes, file: str) -> str | Problem:
    """Strict UTF-8; an error names the line and column of the first bad byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", "replace")) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        hint = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        return Problem(
            file=file,
            line=line,
            column=column,
            pointer="",
            code="encoding",
            message=f"not valid UTF-8: byte 0x{bad} ({exc.reason}){hint}; save the file as UTF-8",
        )
    return text[1:] if text.startswith("\ufeff") else text


def _yaml_error(text: str, file: str, exc: yaml.YAMLError, document: int) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses: at its own place, shown escaped
        mark = yaml.Mark(file, exc.position, 0, 0, "", 0)
        problem = f"unacceptable character {chr(exc.character)!r} (U+{exc.character:04X}): {exc.reason}"
    context = getattr(exc, "context", None)
    message = f"{problem} ({context})" if context and context not in problem else problem
    message = " ".join(str(message).split())
    return _problem(
        text, file, "yaml-syntax", message, mark, document=document, fallback=getattr(exc, "context_mark", None)
    )


_KIND = {list: "a list", str: "text", int: "a number", float: "a number", bool: "true or false"}


def load_text(text: str, file: str, *, encoded: bytes | None = None) -> t.Iterator[Document | Problem]:
    """Yield each document of ``text`` as a :class:`Document`, or the problem that stopped it.

    A problem inside one document ends the file: after a syntax error nothing after it can
    be trusted, and a refused construct (alias, tag, duplicate key) is reported once. A file
    with no document at all is refused too: in a records tree it is a mistake, not a record.

    A plain file (the common case) is loaded by :mod:`records_toolkit.fast_yaml` when that is on;
    anything it does not answer for, every problem included, is loaded here strictly.
    ``encoded``: ``text`` in UTF-8 when the caller has it (the bytes it was decoded from), so that
    the fast path need not encode it again.
    """
    fast_yaml = _FAST_YAML or _import_fast_yaml()
    if fast_yaml.enabled() and MAX_DOCUMENTS >= 1:
        data = fast_yaml.load(text, max_depth=MAX_DEPTH, max_items=MAX_ITEMS, max_values=MAX_VALUES, encoded=encoded)
        if data is not None:
            yield Document(file, 0, data)
            return
    if "&" not in text and "!" not in text:  # no anchor or tag can hide in this text: the fast case
        yield from _load_documents(text, file)
        return
    results = list(_load_documents(text, file))
    if not any(isinstance(r, Problem) and r.code in ("yaml-alias", "yaml-tag") for r in results):
        # Nodes do not show an anchor nobody uses, nor a tag that agrees with the value (`!!str x`,
        # `! 5`): the events do.
        refused = _first_anchor_or_tag(text)
        if refused is not None:
            code, message, mark, document = refused
            yield _problem(text, file, code, message, mark, document=document)
            return
    yield from results


_FAST_YAML: t.Any = None  # records_toolkit.fast_yaml, once the first text is loaded


def _import_fast_yaml() -> t.Any:
    """:mod:`.fast_yaml`, imported by the first text loaded (its expressions take a millisecond to
    compile, and a run the result cache answers loads no text)."""
    global _FAST_YAML
    from . import fast_yaml

    _FAST_YAML = fast_yaml
    return fast_yaml


def _load_documents(text: str, file: str) -> t.Iterator[Document | Problem]:
    _yaml()
    loader = CoreLoader(text)
    index = 0
    try:
        while loader.check_node():
            try:
                if index >= MAX_DOCUMENTS:
                    raise LoadProblem(
                        "yaml-too-many-documents",
                        f"more than {MAX_DOCUMENTS:,} documents in one file; the limit is {MAX_DOCUMENTS:,} "
                        "(split the file)",
                        _next_document_mark(loader),
                    )
                node = loader.get_node()  # the size limits stop the composer early (_count_node)
                data = construct(node)
            except LoadProblem as exc:
                mark = (_first_alias_mark(text) or exc.mark) if exc.code == "yaml-alias" else exc.mark
                yield _problem(text, file, exc.code, exc.message, mark, exc.pointer, index)
                return
            if not isinstance(data, dict):
                kind = "an empty document" if data is None else _KIND.get(type(data), type(data).__name__)
                yield _problem(
                    text,
                    file,
                    "yaml-not-mapping",
                    f"a record must be a mapping of keys to values, not {kind}",
                    node.start_mark,
                    document=index,
                )
            else:
                yield Document(file, index, data)
            index += 1
        if index == 0:
            yield Problem(
                file=file,
                line=1,
                column=1,
                pointer="",
                code="yaml-not-mapping",
                message="the file holds no record (it is empty or only comments)",
            )
    except yaml.YAMLError as exc:
        yield _yaml_error(text, file, exc, index)
    except RecursionError:
        yield _problem(
            text, file, "yaml-too-deep", f"values nested deeper than {MAX_DEPTH} levels", None, document=index
        )
    except MemoryError:
        yield out_of_memory(file, index)
    finally:
        loader.dispose()
        _forget_line_index(text)


def _next_document_mark(loader: CoreLoader) -> t.Any:
    """Where the next document starts (composed only to say so; its size limits still hold)."""
    try:
        return loader.get_node().start_mark
    except LoadProblem as exc:
        return exc.mark


def out_of_memory(file: str, document: int = 0) -> Problem:
    """A ``MemoryError`` while checking one file: a problem of that file, never a traceback."""
    return Problem(
        file=file,
        line=None,
        column=None,
        pointer="",
        code="out-of-memory",
        message="ran out of memory checking this file (the machine's or the process's memory limit); "
        "split it into smaller files",
        document=document,
    )


def _first_alias_mark(text: str) -> t.Any:
    """Where the first alias is written (only computed when construction found one)."""
    _yaml()
    try:
        for event in yaml.parse(text, Loader=CoreLoader):
            if isinstance(event, yaml.AliasEvent):
                return event.start_mark
    except yaml.YAMLError:
        return None
    return None


def _first_anchor_or_tag(text: str) -> tuple[str, str, t.Any, int] | None:
    """The first anchor or explicit tag, as (code, message, mark, document); syntax errors are left to the composer."""
    document = -1
    _yaml()
    try:
        for event in yaml.parse(text, Loader=CoreLoader):
            if isinstance(event, yaml.DocumentStartEvent):
                document += 1
            elif getattr(event, "anchor", None) is not None:
                return (
                    "yaml-alias",
                    "anchors are not allowed (write the value out; anchors and aliases hide "
                    "content and allow expansion bombs)",
                    event.start_mark,
                    max(document, 0),
                )
            elif (tag := getattr(event, "tag", None)) is not None:
                return (
                    "yaml-tag",
                    f"explicit tag {tag!r} is not allowed (write the value plainly or quote it)",
                    event.start_mark,
                    max(document, 0),
                )
    except yaml.YAMLError:
        return None
    return None


def _mark_at(node: Node, pointer: str, key: bool) -> t.Any:
    """The mark of the value at ``pointer`` (of its key when ``key``), or of its deepest existing parent."""
    mark = node.start_mark
    for token in pointer_tokens(pointer):
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == token:
                    node = value_node
                    mark = key_node.start_mark if key else value_node.start_mark
                    break
            else:
                break
        elif isinstance(node, SequenceNode) and token.isdigit() and int(token) < len(node.value):
            node = node.value[int(token)]
            mark = node.start_mark
        else:
            break
    return mark


def display_path(path: Path) -> str:
    return path.as_posix()


class NotRegular(OSError):
    """The path is a symbolic link, or not a regular file: nothing was read through it."""

    def __init__(self, code: str, message: str, *, size: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.size, self.limit = size, limit  # for file-too-large: the size on fstat (None: it grew) and the limit


def read_regular(path: Path | str, max_bytes: int | None = None, *, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file, never through a symbolic link, never from a FIFO or device.

    ``O_NOFOLLOW`` refuses a link at the last component and ``O_NONBLOCK`` keeps a FIFO from
    blocking the open; the type is then checked on the open descriptor (``fstat``), so a file
    swapped for a link or a FIFO after the walk is still refused. ``path`` is relative to the
    open directory ``dir_fd`` if given. Raises :class:`NotRegular`
    (``file-symlink``/``file-special``/``file-too-large``) or ``OSError``. The one reader of
    untrusted files: records, ``fmt``, the caret display and the importers all use it.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP and _is_link(path, dir_fd):
            raise NotRegular("file-symlink", "a symbolic link: not followed (it could lead outside the tree)") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular("file-special", f"{kind_of(info.st_mode)}, not a regular file: not read")
        if max_bytes is not None and info.st_size > max_bytes:
            raise NotRegular(
                "file-too-large",
                f"file is {info.st_size} bytes; the limit is {max_bytes} (--max-file-size)",
                size=info.st_size,
                limit=max_bytes,
            )
        chunks: list[bytes] = []
        total = 0
        # A file in one read of its size, and no 1 MiB buffer made, then cut; one that says it has
        # no size (/proc, /sys) is read as before: some answer a 1-byte read with only that byte.
        size = min(info.st_size + 1, 1 << 20) if info.st_size else 1 << 20
        while chunk := os.read(fd, size):  # to the end (the file may have grown), never past the limit
            size = 1 << 20
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise NotRegular(
                    "file-too-large",
                    f"file is larger than the limit of {max_bytes} bytes (--max-file-size)",
                    limit=max_bytes,
                )
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _link_target_kind(path: str) -> str:
    """What a link points at, for the message (never read): a directory, a file, nothing, or itself."""
    try:
        return "a directory" if stat.S_ISDIR(os.stat(path).st_mode) else "a file"
    except FileNotFoundError:
        return "nothing (it dangles)"
    except OSError:
        return "itself (a loop)"


def _is_link(path: Path | str, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def kind_of(mode: int) -> str:
    """What a file of this mode is, in words ("a FIFO (named pipe)", "a device", ...)."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a special file"


def load_file(
    path: Path, *, max_bytes: int = MAX_FILE_BYTES, wanted: t.Callable[[bytes], bool] | None = None
) -> t.Iterator[Document | Problem]:
    """Load every document of one file; refusals come back as problems, never exceptions.

    ``wanted``: a test of the file's bytes; a file it refuses is read but not parsed (nothing
    comes of it, not even a problem of its text)."""
    file = display_path(path)
    try:
        raw = read_regular(path, max_bytes)
    except NotRegular as exc:
        line = 1 if exc.code == "file-too-large" else None
        yield Problem(file=file, line=line, column=line, pointer="", code=exc.code, message=exc.message)
        return
    except OSError as exc:
        yield Problem(
            file=file,
            line=None,
            column=None,
            pointer="",
            code="file-unreadable",
            message=f"cannot read: {exc.strerror or exc}",
        )
        return
    if wanted is None or wanted(raw):
        yield from load_bytes(raw, file)


def load_bytes(raw: bytes, file: str) -> t.Iterator[Document | Problem]:
    """Decode (strict UTF-8) and load; every refusal is a :class:`Problem`, never an exception."""
    text = decode(raw, file)
    if isinstance(text, Problem):
        yield text
        return
    # (raw is the text in UTF-8, but for a byte order mark that decode() took off)
    yield from load_text(text, file, encoded=raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw)


_POSIX = os.sep == "/" and os.altsep is None  # a scandir path is then already its posix name

TEMP_PREFIX = ".toolkit-tmp-"
"""Names the toolkit gives its own temporary files and staging directories: never records."""


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+(?:::[A-Za-z][A-Za-z0-9+.-]+)*://")


def is_url(path: object) -> bool:
    """``path`` is an fsspec URL (``memory://records``, ``s3://bucket/records``, ``file:///srv/records``):
    text starting with ``scheme://``, the scheme two characters or more (``C://`` is a Windows drive).
    A path object is never one (pathlib has already folded its ``//``). See :mod:`.remote`."""
    return isinstance(path, str) and _URL.match(path) is not None


def read_named(file: str, max_bytes: int | None = None) -> bytes:
    """:func:`read_regular` of a name the walk gave: a local file, or a URL's file read through fsspec
    (:func:`.remote.read_url`, the same limit and refusals)."""
    if _URL.match(file) is not None:
        from .remote import read_url

        return read_url(file, max_bytes)
    return read_regular(file, max_bytes)


def _problem_at(path: Path | str, code: str, message: str) -> Problem:
    return Problem(file=Path(path).as_posix(), line=None, column=None, pointer="", code=code, message=message)


#: What the walk keeps of a file's ``lstat`` for the result cache: (size, mtime_ns, ctime_ns,
#: inode, device). A whole ``os.stat_result`` costs about 650 bytes (every field an object).
Signature = tuple[int, int, int, int, int]
#: Where a walk notes its files' signatures: a dict of them (by name), or packed (:class:`Walked`).
Stats = t.Union[dict[str, Signature], "Walked"]


def signature(info: os.stat_result) -> Signature:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def iter_record_files(
    paths: t.Iterable[str | os.PathLike[str]], stats: Stats | None = None
) -> t.Iterator[Path | Problem]:
    """:func:`iter_record_names`, each file as a :class:`~pathlib.Path`."""
    for item in iter_record_names(paths, stats):
        yield item if isinstance(item, Problem) else Path(item)


def iter_record_names(
    paths: t.Iterable[str | os.PathLike[str]],
    stats: Stats | None = None,
    *,
    processes: int | None = None,
    streamed: bool = False,
) -> t.Iterator[str | Problem]:
    """Expand files and directories (recursively, ``*.yaml``/``*.yml``) in a stable order.

    The tree is untrusted (pull requests): symbolic links inside it are never followed and
    special files never read. A link named like a record, or leading to a directory, is a
    ``file-symlink`` problem at the link; a FIFO, socket or device named like a record is
    ``file-special``. A directory given on the command line may itself be a link (the user
    chose it); a *file* given that is a link is refused like any other (pre-commit passes the
    files of a pull request). The toolkit's own temporary files (``.toolkit-tmp-*``) are not
    records. Nothing is skipped silently: a directory that cannot be read, or that holds no
    record file, is a problem. A file reached twice is read once.

    ``stats``: filled with each file's ``lstat`` as the walk took it, by its posix name (the
    result cache needs no second ``stat`` per file).

    ``processes``: 1 walks in this process only; by default a large tree is walked by two (see
    :func:`_walk`), with the same result.

    ``streamed``: a directory's files are given as they are found (:func:`_walk_streamed`), in this
    process; the same files in the same order, but each directory's problems come after its
    files instead of before them (a caller that keeps the two apart sees no difference).
    """
    seen: dict[int, set[int]] = {}  # device -> inodes (not a (device, inode) tuple per file: memory)
    known = len(paths) if isinstance(paths, (list, tuple)) else -1  # (a generator is never read ahead)

    def first_time(info: os.stat_result) -> bool:
        inodes = seen.setdefault(info.st_dev, set())
        if info.st_ino in inodes:
            return False
        inodes.add(info.st_ino)
        return True

    for number, given in enumerate(paths, 1):
        path = Path(given)
        if str(given) == "":
            yield _problem_at(".", "file-unreadable", "cannot read: an empty path was given")
            continue
        try:
            through = _linked_parent(path)
            if through is not None:
                yield _problem_at(
                    through,
                    "file-symlink",
                    f"a symbolic link on the way to {path.as_posix()}: not followed (it could lead outside the tree)",
                )
                continue
            link = path.is_symlink()
            info = path.stat() if not link or path.is_dir() else path.lstat()
        except OSError as exc:
            reason = "no such file or directory" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
            yield _problem_at(path, "file-unreadable", f"cannot read: {reason}")
            continue
        except ValueError:  # a NUL in the path
            yield _problem_at(path, "file-unreadable", "cannot read: the path holds a NUL character")
            continue
        if stat.S_ISDIR(info.st_mode):
            last = number == known  # no file named after it: only the files met twice in it matter
            every = not last or _mounted_below(path)
            if streamed and _POSIX:
                yield from _walk_streamed(path, seen, stats, every)
            else:
                yield from _walk(path, seen, stats, processes, every)
        elif link:
            yield _problem_at(path, "file-symlink", "a symbolic link: not followed (it could lead outside the tree)")
        elif stat.S_ISREG(info.st_mode):
            if first_time(info):
                if stats is not None:
                    stats[path.as_posix()] = signature(info)
                yield path.as_posix()
        else:
            yield _problem_at(path, "file-special", f"{kind_of(info.st_mode)}, not a regular file: not read")


def _mounted_below(root: Path) -> bool:
    """Whether a file system is mounted somewhere below ``root``, or this cannot be told (no
    ``/proc/self/mountinfo``: not Linux). A bind mount shows a folder or a file a second time
    under the same inode, however many links it has: then every file's inode must be noted."""
    try:
        with open("/proc/self/mountinfo", "rb") as stream:
            table = stream.read()
        below = os.fsencode(os.path.realpath(root)).rstrip(b"/") + b"/"
    except (OSError, ValueError):
        return True
    for line in table.splitlines():
        fields = line.split(b" ")
        if len(fields) > 4:  # (the mount point is the fifth field, with octal escapes: proc(5))
            point = re.sub(rb"\\([0-7]{3})", lambda octal: bytes([int(octal.group(1), 8) & 0xFF]), fields[4])
            if point.startswith(below):
                return True
    return False


def _linked_parent(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that is a symbolic link, or None.

    A relative path is checked from its first part; an absolute one from the working directory
    down, when it lies below it (links above the working directory, such as a system's /tmp, are
    the machine's, not the tree's).
    """
    parts = path.parts[:-1]
    start = 0
    if path.is_absolute():
        here = Path.cwd().parts
        if path.parts[: len(here)] != here:
            return None
        start = len(here)
    for depth in range(max(start, 1), len(parts) + 1):
        prefix = Path(*path.parts[:depth])
        if prefix.is_symlink():
            return prefix
    return None


_BY_NAME = operator.attrgetter("name")


def _below(folder: str) -> str:
    """How the names of the files in ``folder`` sort among its siblings: the folder's own name
    and a ``/`` (``a-b/x.yaml`` < ``a/x.yaml``, while ``a`` < ``a-b``)."""
    return folder + "/"


_INODE = operator.itemgetter(3)
_DEVICE = operator.itemgetter(4)
_ROW = "qqqQQ"  # a signature as the helper sends it (struct)

#: A walk that has met this many record files and still has two folders or more to list shares
#: them with a second process (see :class:`_Helper`); a smaller tree is walked in one.
SPLIT_FROM = 2000
_GROUPS = 1024  # the shared folders go in at most this many groups (their numbers fill one pipe page)

_PACK = struct.Struct(_ROW)


def _read_into(fd: int, buffer: bytearray) -> bytearray | None:
    """``buffer`` filled from ``fd``; None when it ends first."""
    view, at = memoryview(buffer), 0
    with view:
        while at < len(buffer):
            count = os.readv(fd, [view[at:]])
            if not count:
                return None
            at += count
    return buffer


class _Rows:
    """The signatures of a walk's files, in walk order, packed 40 bytes each: 100,000 tuples of
    five ints would cost some 23 MB, all alive at once at the end of a walk. Once a value does
    not fit 64 bits (a clock set centuries ahead), a plain list of tuples instead. It holds only
    what a walk's part does with it: append, extend, iterate, slice, cut the end."""

    __slots__ = ("listed", "packed")

    def __init__(self, packed: bytes | bytearray = b"", listed: list[Signature] | None = None) -> None:
        self.packed = bytearray(packed)
        self.listed = listed

    def append(self, row: Signature) -> None:
        if self.listed is None:
            try:
                self.packed += _PACK.pack(*row)
                return
            except struct.error:
                self.listed = list(self)
        self.listed.append(row)

    def extend(self, rows: _Rows) -> None:
        if self.listed is None and rows.listed is None:
            self.packed += rows.packed
        else:
            for row in rows:
                self.append(row)

    def sent(self) -> bytes | list[Signature]:
        """As the helper sends them (see :meth:`_Helper.result`)."""
        return bytes(self.packed) if self.listed is None else self.listed

    def __len__(self) -> int:
        return len(self.packed) // _PACK.size if self.listed is None else len(self.listed)

    def __iter__(self) -> t.Iterator[Signature]:
        if self.listed is not None:
            return iter(self.listed)
        return t.cast(t.Iterator[Signature], _PACK.iter_unpack(bytes(self.packed)))

    def __getitem__(self, span: slice) -> _Rows:
        start, stop, _step = span.indices(len(self))
        if self.listed is not None:
            return _Rows(listed=self.listed[start:stop])
        return _Rows(self.packed[start * _PACK.size : stop * _PACK.size])

    def row(self, index: int) -> Signature:
        if self.listed is not None:
            return self.listed[index]
        return t.cast(Signature, _PACK.unpack_from(self.packed, index * _PACK.size))

    def take(self, order: t.Sequence[int]) -> _Rows:
        """The rows at ``order``'s positions, in that order."""
        if self.listed is not None:
            return _Rows(listed=[self.listed[n] for n in order])
        size, packed = _PACK.size, self.packed
        taken = bytearray(len(order) * size)  # (row by row: no object per row held at once)
        for at, n in enumerate(order):
            taken[at * size : at * size + size] = packed[n * size : n * size + size]
        return _Rows(taken)

    def __delitem__(self, span: slice) -> None:
        start, stop, _step = span.indices(len(self))
        if self.listed is not None:
            del self.listed[start:stop]
        else:
            del self.packed[start * _PACK.size : stop * _PACK.size]


class Names(t.Sequence[str]):
    """File names in order, packed: each name's UTF-8 bytes (lone surrogates kept, as
    ``surrogatepass`` writes them) and a NUL, and where each starts. A walk's 100,000 names cost
    some 9.5 MB as ``str`` objects and about half as much here, for the whole run; a slice comes
    back as a list (a chunk of work), decoded at once. A name holding a NUL (no file system
    allows one; an object store's key might) turns it into a plain list."""

    __slots__ = ("data", "listed", "starts")

    def __init__(self, names: t.Iterable[str] = ()) -> None:
        import array

        self.data = bytearray()
        self.starts = array.array("Q")
        self.listed: list[str] | None = None
        for name in names:
            self.append(name)

    def append(self, name: str) -> None:
        if self.listed is None:
            if "\0" not in name:
                self.starts.append(len(self.data))
                self.data += name.encode("utf-8", "surrogatepass")
                self.data.append(0)
                return
            self.listed = list(self)
            self.data, self.starts = bytearray(), self.starts[:0]
        self.listed.append(name)

    def extend(self, other: Names) -> None:
        """``other``'s names after these: its packed bytes joined as they are, not decoded and encoded again."""
        if self.listed is None and other.listed is None:
            base = len(self.data)
            self.starts.extend([start + base for start in other.starts])
            self.data += other.data
            return
        for name in other:
            self.append(name)

    def __len__(self) -> int:
        return len(self.starts) if self.listed is None else len(self.listed)

    @t.overload
    def __getitem__(self, index: int) -> str: ...

    @t.overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if self.listed is not None:
            return self.listed[index]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self.starts))
            if step != 1:
                return list(self)[index]
            if start >= stop:
                return []
            end = self.starts[stop] - 1 if stop < len(self.starts) else len(self.data) - 1
            return self.data[self.starts[start] : end].decode("utf-8", "surrogatepass").split("\0")
        count = len(self.starts)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("name index out of range")
        end = self.starts[index + 1] - 1 if index + 1 < count else len(self.data) - 1
        return self.data[self.starts[index] : end].decode("utf-8", "surrogatepass")

    def __iter__(self) -> t.Iterator[str]:
        if self.listed is not None:
            yield from self.listed
            return
        for start in range(0, len(self.starts), 4096):  # (a block decoded at a time)
            yield from self[start : start + 4096]

    def head(self, count: int) -> Names:
        """The first ``count`` names, as they are packed here."""
        made = Names()
        if self.listed is not None:
            made.listed = self.listed[:count]
        elif count < len(self.starts):
            made.starts, made.data = self.starts[:count], self.data[: self.starts[count]]
        else:
            made.starts, made.data = self.starts[:], self.data[:]
        return made

    def joined(self) -> str:
        """The names joined by NUL (``"\\0".join(self)``), decoded at once."""
        if self.listed is not None:
            return "\0".join(self.listed)
        return self.data[:-1].decode("utf-8", "surrogatepass")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Names, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Names({list(self)!r})"


class Walked(t.Mapping[str, Signature]):
    """The signatures a walk took (``lstat``), by file name, in the order the walk gives its
    files: the names packed (:class:`Names`) and the rows packed (:class:`_Rows`), some 90 bytes
    a file where a dict of tuples costs 400. A run in the walk's own order reads them by
    position (:meth:`aligned`, :meth:`row`); looking a name up builds an index the first time.
    The walk gives each file once; a name given twice is looked up as a dict would (the last)."""

    __slots__ = ("_at", "names", "rows")

    def __init__(self) -> None:
        self.names = Names()
        self.rows = _Rows()
        self._at: dict[str, int] | None = None

    def __setitem__(self, name: str, sig: Signature) -> None:
        self.names.append(name)
        self.rows.append(sig)
        self._at = None

    def update(self, pairs: t.Iterable[tuple[str, Signature]]) -> None:
        for name, sig in pairs:
            self[name] = sig

    def extend(self, names: t.Iterable[str], rows: _Rows) -> None:
        for name in names:
            self.names.append(name)
        self.rows.extend(rows)
        self._at = None

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.names)

    def __getitem__(self, name: str) -> Signature:
        if self._at is None:
            self._at = {known: number for number, known in enumerate(self.names)}
        return self.rows.row(self._at[name])

    def row(self, number: int) -> Signature:
        """The signature of the ``number``-th file given."""
        return self.rows.row(number)

    def aligned(self, order: t.Sequence[str]) -> bool:
        """Whether ``order`` names the files in the very order they were given here."""
        if order is self.names:  # (a walk's own names: see validate.walk_into)
            return True
        if isinstance(order, Names) and order.listed is None and self.names.listed is None:
            return order.data == self.names.data
        return len(order) == len(self.names) and all(map(str.__eq__, self.names, order))

    def packed(self) -> bytearray | None:
        """The rows as five 64-bit numbers each (native order), or None when one does not fit:
        the walk's own buffer, not a copy (4 MB at 100,000 files), to be read, never changed."""
        return self.rows.packed if self.rows.listed is None else None

    def clear(self) -> None:
        """Let go of every signature (their room is given back at once; another holder of the
        names keeps them)."""
        self.names, self.rows, self._at = Names(), _Rows(), None

    def moved(self, start: int) -> Walked:
        """The same, the files from ``start`` on first (the rest of a collection, walked after the
        named files, is checked before them)."""
        moved = Walked()
        moved.extend(itertools.chain(self.names[start:], self.names[:start]), self.rows[start:])
        moved.rows.extend(self.rows[:start])
        return moved


_Found = tuple[list[str], _Rows, list[tuple[str, str, str]], int, list[tuple[int, int, int, int]]]


class _Part:
    """What a walk (or its helper process) found: the record files in walk order with their
    signatures, the problems, and how many entries were named like records."""

    __slots__ = ("every", "files", "helper", "named", "problems", "rows", "seen")

    def __init__(self, seen: dict[int, set[int]], every: bool = True) -> None:
        self.seen = seen  # the inodes already walked, by device
        # ``every``: note every file's inode, not only a hard link's (see :func:`_walk`)
        self.every = every
        self.files: list[str] = []  # as text: a Path object per file would cost several times its name
        self.rows = _Rows()  # each file's signature, in the same order
        self.problems: list[Problem] = []
        self.named = 0
        self.helper: _Helper | None = None  # the process sharing the walk (one at most)

    def walk(self, stack: list[str], processes: int | None = None) -> None:
        """List the folders of ``stack`` (the next on top) and all below them, depth first; once
        the walk is large enough, the folders still to list are shared with a helper process
        (:attr:`helper`), unless there is one already or ``processes`` forbids it. An interrupt
        ends the helper: it is never left behind."""
        try:
            while stack:
                if self.helper is None and self.named >= SPLIT_FROM and len(stack) > 1 and _may_split(processes):
                    helper = _Helper.start(self, stack)
                    if helper is not None:
                        stack.clear()
                        helper.take(self)  # (this walk's share)
                        return
                self.folder(stack.pop(), stack)
        except BaseException:
            if self.helper is not None:
                self.helper.stop()
            raise

    def _lstat(self, entry: os.DirEntry[str]) -> os.stat_result | None:
        """The entry's own ``lstat``; None, its failure a problem, when it cannot be had."""
        try:
            return entry.stat(follow_symlinks=False)
        except OSError as exc:
            self.problems.append(
                _problem_at(Path(entry.path), "file-unreadable", f"cannot read: {exc.strerror or exc}")
            )
            return None

    def folder(self, folder: str, stack: list[str]) -> None:
        """One folder's entries (sorted): its record files, problems and subfolders (pushed on
        ``stack``). The loop runs once per entry of the tree: the common case (a regular record
        file) comes first and costs one ``lstat``; other entries are told apart by the listing's
        file type where it can."""
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=_BY_NAME)
        except OSError as exc:
            self.problems.append(
                _problem_at(exc.filename or folder, "file-unreadable", f"cannot read: {exc.strerror or exc}")
            )
            return
        here = folder == "."  # then a name is spelled as Path spells it: "a.yaml", not "./a.yaml"
        files, rows, seen, every = self.files, self.rows, self.seen, self.every
        subfolders: list[str] = []
        device, inodes = -1, set()
        for entry in listed:
            name = entry.name
            record_like = name.endswith(YAML_SUFFIXES)
            if record_like and not name.startswith(TEMP_PREFIX):  # the common case first
                info = self._lstat(entry)
                if info is None:
                    continue
                if stat.S_ISREG(info.st_mode):
                    self.named += 1
                    if info.st_dev != device:
                        device = info.st_dev
                        inodes = seen.setdefault(device, set())
                    inode = info.st_ino
                    if inode in inodes:
                        continue
                    if every or info.st_nlink > 1:
                        inodes.add(inode)
                    files.append((name if here else entry.path) if _POSIX else Path(entry.path).as_posix())
                    rows.append((info.st_size, info.st_mtime_ns, info.st_ctime_ns, inode, device))
                    continue
            elif name.startswith(TEMP_PREFIX):  # never read as records; never silently either
                self.named += 1
                self.problems.append(
                    _problem_at(
                        Path(entry.path),
                        "leftover-temp",
                        "a temporary file or staging directory of an interrupted (or running) "
                        "toolkit write: not read; the next write into this directory clears it, "
                        "or check it and remove it",
                    )
                )
                continue
            else:  # not named like a record: the entry's type from the directory listing, no stat (d_type)
                try:
                    if entry.is_dir(follow_symlinks=False):
                        subfolders.append(name if here else entry.path)
                        continue
                    if not entry.is_symlink():
                        continue  # a file that is no record (a README): nothing to say about it
                except OSError:
                    pass  # the stat below says what is wrong
                info = self._lstat(entry)
                if info is None:
                    continue
            mode = info.st_mode
            if stat.S_ISLNK(mode):
                target = _link_target_kind(entry.path)
                if record_like or target == "a directory":
                    self.named += 1
                    self.problems.append(
                        _problem_at(
                            Path(entry.path),
                            "file-symlink",
                            f"a symbolic link to {target}: not followed (it could lead outside the tree)",
                        )
                    )
            elif stat.S_ISDIR(mode):
                subfolders.append(name if here else entry.path)
            elif record_like:
                self.named += 1
                self.problems.append(
                    _problem_at(Path(entry.path), "file-special", f"{kind_of(mode)}, not a regular file: not read")
                )
        if len(subfolders) > 1:  # "a-b/" sorts before "a/": the order of the names of the files below
            subfolders.sort(key=_below)
        stack.extend(reversed(subfolders))

    def mark(self, group: int) -> tuple[int, int, int, int]:
        """Where this part stands after ``group``: its counts of files, problems and named entries."""
        return group, len(self.files), len(self.problems), self.named


def _may_split(processes: int | None) -> bool:
    """Whether a walk may fork a helper: asked to (``processes`` None or more than 1), on Linux,
    with two cores or more, and no other thread running (a fork copies only the calling one)."""
    if (processes is not None and processes < 2) or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    try:  # every thread of the process, those of C libraries and `_thread` too (a fork copies only this one)
        if len(os.listdir("/proc/self/task")) > 1:
            return False
    except OSError:
        threading = sys.modules.get("threading")
        if threading is None or threading.active_count() > 1:
            return False
    from .workers import cores

    return cores() > 1


class _Helper:
    """A forked process sharing the rest of a walk. The folders still to list, in walk order,
    go in groups (at most :data:`_GROUPS`, each a run of neighbours); their numbers are written
    to a pipe both processes read, a group at a time, so the one that goes faster lists more.
    Each walks its groups as the walk would (depth first) and notes where each ends
    (:meth:`_Part.mark`). The helper sends back what it found: its record files, their
    signatures, its problems (each as file, code and message), its count of entries named like
    records and its marks, as :mod:`marshal` data behind its length. The walk then puts the
    groups back in walk order (:meth:`merge`). If the helper fails (killed, out of memory), the
    walk lists all the shared folders itself: the same result either way."""

    def __init__(self, pid: int, read: int, queue: int, groups: list[list[str]], at: tuple[int, int, int]) -> None:
        self.pid, self.read, self.queue = pid, read, queue  # (pid 0, fds -1: waited for, closed)
        self.groups = groups
        self.at = at  # the walk's counts of files, problems and named entries when it shared the rest
        self.marks: list[tuple[int, int, int, int]] = []  # the walk's own groups, as each ended

    @classmethod
    def start(cls, part: _Part, stack: list[str]) -> _Helper | None:
        """Fork a helper sharing the folders of ``stack`` (the next on top) with ``part``, which
        holds it from then on; None when none can be had. Signals wait while it forks: the
        helper's own code runs in a ``try`` that always ends in ``os._exit``, and the walk holds
        the helper before an interrupt can reach it."""
        import signal

        pending = stack[::-1]  # walk order
        size = -(-len(pending) // _GROUPS)
        groups = [pending[n : n + size] for n in range(0, len(pending), size)]
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        fds: list[int] = []
        try:
            try:
                queue, numbers = os.pipe()
                fds += (queue, numbers)
                os.write(numbers, b"".join(n.to_bytes(4, "little") for n in range(len(groups))))  # (one page)
                read, write = os.pipe()
                fds += (read, write)
                parent = os.getpid()
                from .workers import libc

                libc()  # (loaded before the fork: the helper has it)
                pid = os.fork()
            except OSError:
                for fd in fds:
                    os.close(fd)
                return None
            if pid == 0:  # the helper: never returns (no cleanup of the parent's, no buffered output flushed)
                code = 1
                try:
                    _die_with(parent)  # SIGTERM or SIGKILL to the walk alone must not leave the helper behind
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    import gc
                    import marshal

                    gc.disable()  # (a collection would touch, and so copy, the pages shared with the walk)
                    os.close(read)
                    os.close(numbers)
                    # the inodes the walk met so far come along (copied by the fork)
                    helped = _Part(part.seen, part.every)
                    marks = _take(helped, queue, groups)
                    problems = [(p.file, p.code, p.message) for p in helped.problems]
                    files = "\0".join(helped.files)
                    data = marshal.dumps((files, helped.rows.sent(), problems, helped.named, marks))
                    view = memoryview(len(data).to_bytes(8, "little") + data)
                    while view:
                        view = view[os.write(write, view) :]
                    code = 0
                finally:
                    os._exit(code)
            os.close(numbers)  # (both ends of the queue's writing closed: it ends when it is empty)
            os.close(write)
            helper = part.helper = cls(pid, read, queue, groups, (len(part.files), len(part.problems), part.named))
            return helper
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def take(self, part: _Part) -> None:
        """The walk's share: groups taken from the pipe until none is left."""
        self.marks = _take(part, self.queue, self.groups)

    def result(self) -> _Found | None:
        """What the helper found (None when it failed); the process is waited for either way."""
        import marshal

        data = bytearray()
        try:
            head = _read_into(self.read, bytearray(8))
            if head is not None:  # the length, then as much as it says, read in place (no second copy)
                data = _read_into(self.read, bytearray(int.from_bytes(head, "little"))) or bytearray()
                if os.read(self.read, 1):
                    data = bytearray()
        except (OSError, MemoryError):  # (a length no helper of ours would send)
            data = bytearray()
        except BaseException:  # an interrupt while it runs: it is ended, not waited for
            self.stop()
            raise
        self.close()
        status = self.wait()
        if status != 0 or not data:
            return None
        try:
            names, sent, problems, named, marks = marshal.loads(data)
            del data
            files = names.split("\0") if names else []
            del names
            rows = _Rows(sent) if isinstance(sent, bytes) else _Rows(listed=list(sent))
            if len(sent) % _PACK.size if isinstance(sent, bytes) else not all(len(row) == 5 for row in sent):
                return None
        except (EOFError, ValueError, TypeError, AttributeError):
            return None
        return files, rows, problems, named, marks

    def merge(self, part: _Part, found: _Found | None) -> None:
        """What the walk and its helper found, in ``part`` in walk order: each group where the
        walk would have met it, and a file met twice (a hard link) kept at its first name in walk
        order. When the helper failed, the walk lists all the shared folders itself."""
        files_at, problems_at, _named = self.at
        mine = _segments(self.marks, files_at, problems_at)
        theirs = _segments(found[4], 0, 0) if found is not None else {}
        every = len(mine) + len(theirs) == len(self.groups) and mine.keys() | theirs.keys() == set(
            range(len(self.groups))
        )
        if found is None or len(found[0]) != len(found[1]) or not every:
            _undo(part, self.at)  # (the helper failed): all the shared folders, walked here
            for folders in self.groups:
                part.walk(folders[::-1], processes=1)
            return
        files, rows, problems, named, _marks = found
        post_files: list[str] = []
        post_rows = _Rows()
        post_problems: list[Problem] = []
        for group in range(len(self.groups)):
            if group in mine:
                a, b, c, d = mine[group]
                post_files += part.files[a:b]
                post_rows.extend(part.rows[a:b])
                post_problems += part.problems[c:d]
            else:
                a, b, c, d = theirs[group]
                post_files += files[a:b]
                post_rows.extend(rows[a:b])
                post_problems.extend(
                    Problem(file=file, line=None, column=None, pointer="", code=code, message=message)
                    for file, code, message in problems[c:d]
                )
        named += part.named
        devices = set(map(_DEVICE, rows))
        inodes = part.seen.setdefault(devices.pop(), set()) if len(devices) == 1 else None
        if not devices and (inodes is None or inodes.isdisjoint(map(_INODE, rows))):  # no file met by both
            if inodes is not None and part.every:
                inodes.update(map(_INODE, rows))
            _undo(part, self.at, forget=False)
            part.files += post_files
            part.rows.extend(post_rows)
        else:  # (a hard link across the groups) the walk's share forgotten; each file met again in walk order
            _undo(part, self.at)
            for file, row in zip(post_files, post_rows, strict=True):
                inodes = part.seen.setdefault(row[4], set())
                if row[3] not in inodes:
                    inodes.add(row[3])
                    part.files.append(file)
                    part.rows.append(row)
        part.problems += post_problems
        part.named = named

    def close(self) -> None:
        for fd in (self.read, self.queue):
            if fd >= 0:
                os.close(fd)
        self.read = self.queue = -1

    def wait(self) -> int:
        """The helper's exit status, once it has ended (-1 when it cannot be had)."""
        if not self.pid:
            return -1
        try:
            status = os.waitpid(self.pid, 0)[1]  # (retried by Python when a signal interrupts it)
        except ChildProcessError:
            status = -1
        self.pid = 0  # waited for: its number may be another process's now, never signalled
        return status

    def stop(self) -> None:
        """End the helper (the walk was interrupted) and wait for it."""
        import signal

        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self.close()
        self.wait()


def _die_with(parent: int) -> None:
    """In the helper: be ended by the kernel when the walk's process ends (``PR_SET_PDEATHSIG``),
    however it ends; if it already has, end now."""
    from .workers import set_death_signal

    set_death_signal()
    if os.getppid() != parent:
        os._exit(1)


def _take(part: _Part, queue: int, groups: list[list[str]]) -> list[tuple[int, int, int, int]]:
    """Walk the groups whose numbers ``part`` reads from the pipe ``queue`` (4 bytes each), each
    depth first; the marks where each ends."""
    marks = []
    while number := os.read(queue, 4):
        group = int.from_bytes(number, "little")
        part.walk(groups[group][::-1], processes=1)
        marks.append(part.mark(group))
    return marks


def _segments(
    marks: list[tuple[int, int, int, int]], files: int, problems: int
) -> dict[int, tuple[int, int, int, int]]:
    """Each group's files and problems (from, to) in a part, from its marks (starting at ``files`` and ``problems``)."""
    found = {}
    for group, files_end, problems_end, _named in marks:
        found[group] = (files, files_end, problems, problems_end)
        files, problems = files_end, problems_end
    return found


def _undo(part: _Part, at: tuple[int, int, int], *, forget: bool = True) -> None:
    """``part`` as it was when it shared the rest of its walk (``at``: its counts then); with
    ``forget``, the inodes of the files it met since are forgotten too."""
    files_at, problems_at, named_at = at
    if forget:
        for row in part.rows[files_at:]:
            part.seen[row[4]].discard(row[3])
    del part.files[files_at:], part.rows[files_at:], part.problems[problems_at:]
    part.named = named_at


def _walk(
    root: Path,
    seen: dict[int, set[int]],
    stats: Stats | None = None,
    processes: int | None = None,
    every: bool = True,
) -> t.Iterator[str | Problem]:
    """Every record file under ``root`` (sorted), and a problem for each link, special file or
    unreadable folder. ``seen``: the inodes already walked, by device (a file reached twice is
    read once: its first name in walk order, each folder's files before its subfolders, these in
    the order of their files' names, :func:`_below`). A
    large tree is walked by two processes (:data:`SPLIT_FROM`, ``processes``), with the same
    result.

    Without ``every`` (the last tree of a walk, no file named after it) only hard links' inodes
    are noted: within one tree only a file with more than one link can be met twice (symbolic
    links are not followed), and 100,000 inodes in a set cost some 7 MB."""
    import gc

    collecting = gc.isenabled()
    gc.disable()  # the walk makes no cycles: a collection would only look at its many tuples
    try:
        part = _Part(seen, every)
        part.walk([str(root)], processes)  # (folders as text: a Path each costs a parse, 16,000 at 100k files)
        helper = part.helper
        if helper is not None:
            try:
                helper.merge(part, helper.result())
            except BaseException:
                helper.stop()
                raise
    finally:
        if collecting:
            gc.enable()
    problems = part.problems
    yield from sorted(problems, key=lambda p: p.file)
    if not part.named and not problems:
        yield _problem_at(root, "no-records", "no *.yaml or *.yml file in this directory")
    files, rows = part.files, part.rows
    del part
    if stats is None:
        files.sort()
    else:  # the signatures in the order the files are given in: a run reads them by position
        order = sorted(range(len(files)), key=files.__getitem__)
        if any(map(int.__ne__, order, range(len(order)))):  # (a tree walked in sorted order: as it is)
            files = list(map(files.__getitem__, order))
            rows = rows.take(order)
        del order
        if isinstance(stats, Walked):
            stats.extend(files, rows)
        else:
            stats.update(zip(files, rows))
    del rows  # (the signatures: not kept here while the files are handed out)
    yield from files


def _walk_streamed(
    root: Path, seen: dict[int, set[int]], stats: Stats | None, every: bool
) -> t.Iterator[str | Problem]:
    """:func:`_walk` in this process, each file given as soon as its folder is listed: the
    validation's workers check the first files while the rest is walked (issue 11).

    The walk's files sort as their posix names do when each folder's entries are taken in
    order, a subfolder as its name and a ``/`` (:func:`_below`): ``a/b.yaml``, ``a/b/c.yaml``,
    ``a/ba.yaml``. The folders are listed in the order :func:`_walk` lists them, so a file
    reached twice keeps the same name. The problems (sorted as :func:`_walk` sorts them) come after the files."""
    part = _Part(seen, every)

    def listed(folder: str) -> tuple[list[str], _Rows, list[str]]:
        part.files, part.rows = [], _Rows()
        subfolders: list[str] = []
        part.folder(folder, subfolders)
        subfolders.reverse()  # (pushed on a stack: last first)
        return part.files, part.rows, subfolders

    levels = [(*listed(str(root)), [0, 0])]
    while levels:
        files, rows, subfolders, at = levels[-1]
        file, folder = at
        if file < len(files) and (folder == len(subfolders) or files[file] < _below(subfolders[folder])):
            at[0] = file + 1
            name = files[file]
            if stats is not None:
                stats[name] = rows.row(file)
            yield name
        elif folder < len(subfolders):
            at[1] = folder + 1
            levels.append((*listed(subfolders[folder]), [0, 0]))
        else:
            levels.pop()
    problems = part.problems
    yield from sorted(problems, key=lambda p: p.file)
    if not part.named and not problems:
        yield _problem_at(root, "no-records", "no *.yaml or *.yml file in this directory")


def load_paths(
    paths: t.Iterable[str | os.PathLike[str]], *, max_bytes: int = MAX_FILE_BYTES
) -> t.Iterator[tuple[Path | None, Document | Problem]]:
    """Stream ``(file, document-or-problem)`` for every record under ``paths``."""
    for item in iter_record_files(paths):
        if isinstance(item, Problem):
            yield None, item
            continue
        for loaded in load_file(item, max_bytes=max_bytes):
            yield item, loaded


class Positions:
    """Line and column of any JSON pointer, computed on demand by re-composing the file.

    Only files with problems are re-read, once each; valid records pay nothing. Re-composing
    obeys the loader's size limits, and :meth:`locate_many` keeps one document's nodes at a time.
    """

    def __init__(self) -> None:
        self._trees: dict[str, tuple[LineIndex, list[Node]]] = {}
        self._lines: dict[str, list[str]] = {}

    @staticmethod
    def _text(file: str) -> str | None:
        try:
            text = decode(read_named(file, MAX_FILE_BYTES * 4), file)  # never through a link, as source_line
        except (OSError, MemoryError):
            return None
        return text if isinstance(text, str) else None

    @staticmethod
    def _compose(text: str) -> t.Generator[Node, None, None]:
        """The documents of a text, as far as they compose (all before a syntax error or a limit)."""
        _yaml()
        loader = CoreLoader(text)
        try:
            count = 0
            while count < MAX_DOCUMENTS and loader.check_node():
                node = loader.get_node()
                count += 1
                yield node
        except (yaml.YAMLError, RecursionError, LoadProblem, MemoryError):
            return  # keep the documents composed so far
        finally:
            loader.dispose()

    def _documents(self, file: str) -> tuple[LineIndex, list[Node]]:
        """The line index and the documents of a file, kept for the next :meth:`locate`."""
        if file not in self._trees:
            text = self._text(file)
            nodes = list(self._compose(text)) if text is not None else []
            self._trees[file] = (LineIndex(text or ""), nodes)
        return self._trees[file]

    def locate(self, file: str, document: int, pointer: str, *, key: bool = False) -> tuple[int, int] | None:
        """(line, column), 1-based, of the value at ``pointer`` (of its key when ``key``).

        For a pointer that does not exist (a missing key), the deepest existing parent is used.
        """
        lines, docs = self._documents(file)
        if document >= len(docs):
            return None
        return lines.position(_mark_at(docs[document], pointer, key))

    def locate_many(self, file: str, wanted: t.Sequence[tuple[int, str, bool]]) -> list[tuple[int, int] | None]:
        """:meth:`locate` for each ``(document, pointer, key)`` of one file, in order.

        The file is read and composed once, and only up to the last document asked for; each
        document's nodes are dropped once its pointers are placed, so memory stays that of one
        document however many the file holds.
        """
        found: list[tuple[int, int] | None] = [None] * len(wanted)
        by_document: dict[int, list[int]] = {}
        for number, (document, _pointer, _key) in enumerate(wanted):
            by_document.setdefault(document, []).append(number)
        text = self._text(file) if by_document else None
        if text is None:
            return found
        lines, last = LineIndex(text), max(by_document)
        if last == 0:  # one document of the plain block kind: placed without composing it (no PyYAML)
            from .block_marks import mark_at, marks

            root = marks(text)
            if root is not None:
                return [lines.locate(mark_at(root, pointer, key)) for _document, pointer, key in wanted]
        documents = self._compose(text)
        try:
            for document, node in enumerate(documents):
                for number in by_document.get(document, ()):
                    _document, pointer, key = wanted[number]
                    found[number] = lines.position(_mark_at(node, pointer, key))
                if document >= last:
                    break
        finally:
            documents.close()
        return found

    def source_line(self, file: str, line: int) -> str | None:
        """The text of one line, for the caret display (each file read once)."""
        if file not in self._lines:
            import io

            try:  # never through a link, never from a FIFO: what is echoed is the record's own text
                raw = read_named(file, MAX_FILE_BYTES * 4)
                handle = io.StringIO(raw.decode("utf-8", errors="replace"), newline="")
                self._lines[file] = [text.rstrip("\r\n") for text in handle]
            except (OSError, ValueError):
                self._lines[file] = []
            if self._lines[file]:
                self._lines[file][0] = self._lines[file][0].removeprefix("\ufeff")
        lines = self._lines[file]
        return lines[line - 1] if 0 < line <= len(lines) else None
