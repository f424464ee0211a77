"""Where a JSON pointer's value starts in a plain block-style YAML record, without PyYAML.

A problem is placed at its line and column by re-composing its file (:class:`.loader.Positions`),
and PyYAML's composer costs its import: some 10 ms, a fifth of ``toolkit validate FILE`` when the
file has a problem (issue 11: start-up within 5x ``python -c pass``). Most record files are of
one simple kind, the kind ``toolkit fmt`` writes: one document of block mappings and sequences,
plain keys, one-line scalars (double-quoted, single-quoted or plain) and literal or folded block
scalars. :func:`marks` reads that kind line by line and gives each node's start (a character
index), as PyYAML's composer marks it: a mapping at its first key, a sequence at its first
``-``, a scalar at its first character (a quote, a block indicator). Anything else (a flow
collection, an anchor, a tag, a quoted key, a value spread over lines, an empty value, a tab, a
CR or another character that breaks lines for libyaml (NEL, LS, PS), a second document, a line it
cannot place) is None: the caller composes the file as before.
tests/test_block_marks.py compares the two on every example and on generated records.
"""

from __future__ import annotations

import re
import typing as t

from .problems import pointer_tokens

__all__ = ["Node", "mark_at", "marks"]

_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]*):(?: +|$)")
_DOUBLE = re.compile(r'"(?:[^"\\]|\\.)*"')
_SINGLE = re.compile(r"'(?:[^']|'')*'")
_AFTER = re.compile(r" *(?:#.*)?")  # what may follow a scalar on its line: spaces, a comment
_BLOCK = re.compile(r"[|>][+-]?")  # (an explicit indentation indicator: composed)
# Any character but LF and the printable ones: NEL, LS and PS also end lines for libyaml (and so
# for the composer's marks), TAB and CR are left to it, and a control character is refused there.
# Written as the characters it finds, not as the complement of the printable ones: the negated
# class of astral ranges took 6-7 ms to compile, a twelfth of the start-up of a file with problems.
_ODD = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_PLAIN_START = re.compile(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`]|[-?:][^\s,\[\]{}]")  # (YAML 1.2 §7.3.3)


def _is_item(text: str) -> bool:
    """Whether a line's text (after its indent) begins a block sequence's item: ``-`` alone or ``- ``."""
    return text == "-" or text.startswith("- ")


class Node(t.NamedTuple):
    """A node's start and, for a mapping, its ``(key, key start, value)`` entries or, for a
    sequence, its items (a scalar has neither)."""

    start: int
    entries: tuple[tuple[str, int, Node], ...] = ()
    items: tuple[Node, ...] = ()
    kind: str = "scalar"


class _Unsure(Exception):
    """The text is not of the simple kind: it is composed as before."""


class _Lines:
    """The lines that hold something: ``(start index, indent, text after the indent)``."""

    def __init__(self, text: str) -> None:
        self.rows: list[tuple[int, int, str]] = []
        at = 0
        for line in text.split("\n"):
            stripped = line.lstrip(" ")
            if stripped and not stripped.startswith("#"):
                self.rows.append((at, len(line) - len(stripped), stripped))
            at += len(line) + 1
        self.at = 0

    def peek(self) -> tuple[int, int, str] | None:
        return self.rows[self.at] if self.at < len(self.rows) else None


def marks(text: str) -> Node | None:
    """The node tree of ``text``'s one document with each node's start, or None when the text is
    not of the simple kind (see the module's docstring)."""
    if _ODD.search(text) or "\ufeff" in text or not text.strip():
        return None
    lines = _Lines(text)
    first = lines.peek()
    if first is None or first[1] != 0 or first[2].startswith(("---", "...", "%")):
        return None
    try:
        root = _block(lines, 0)
    except _Unsure:
        return None
    if lines.peek() is not None or root.kind != "mapping":
        return None
    return root


def mark_at(root: Node, pointer: str, key: bool) -> int:
    """The start of the value at ``pointer`` (of its key when ``key``), or of its deepest existing
    parent, as :func:`.loader._mark_at` finds it in the composed document."""
    node, mark = root, root.start
    for token in pointer_tokens(pointer):
        if node.kind == "mapping":
            for name, key_start, value in node.entries:
                if name == token:
                    node, mark = value, key_start if key else value.start
                    break
            else:
                break
        elif node.kind == "sequence" and token.isdigit() and int(token) < len(node.items):
            node = node.items[int(token)]
            mark = node.start
        else:
            break
    return mark


def _block(lines: _Lines, indent: int) -> Node:
    """The block node whose first line is the next one, at ``indent``."""
    row = lines.peek()
    if row is None or row[1] != indent:
        raise _Unsure
    if _is_item(row[2]):
        return _sequence(lines, indent)
    return _mapping(lines, indent, row[0] + indent, row[2])


def _sequence(lines: _Lines, indent: int) -> Node:
    items: list[Node] = []
    start = -1
    while True:
        row = lines.peek()
        if row is None or row[1] != indent or not _is_item(row[2]):
            break
        at, _, rest = row
        dash = at + indent
        start = dash if start < 0 else start
        after = rest[1:]
        gap = len(after) - len(after.lstrip(" "))
        after = after[gap:]
        column = indent + 1 + gap  # (where the item's own text starts on the line)
        if not after or after.startswith("#"):
            lines.at += 1
            following = lines.peek()
            if following is None or following[1] <= indent:
                raise _Unsure  # an empty item (null)
            items.append(_block(lines, following[1]))
        elif _is_item(after):
            raise _Unsure  # a sequence in a sequence on one line
        elif _KEY.match(after):
            items.append(_mapping(lines, column, at + column, after))
        else:
            items.append(_scalar_line(lines, indent, at + column, after))
    return Node(start, items=tuple(items), kind="sequence")


def _mapping(lines: _Lines, indent: int, first: int, text: str) -> Node:
    """A block mapping whose first key starts at index ``first`` with ``text`` (maybe after a
    ``- `` on its line); its other keys are the lines at ``indent``."""
    entries: list[tuple[str, int, Node]] = []
    start, rest = first, text
    while True:
        found = _KEY.match(rest)
        if found is None:
            raise _Unsure
        name, after = found.group(1), rest[found.end() :]
        key_start = start
        if not after or after.startswith("#"):
            lines.at += 1
            following = lines.peek()
            if following is None or following[1] < indent:
                raise _Unsure  # an empty value (null)
            if following[1] == indent:
                if not _is_item(following[2]):
                    raise _Unsure  # an empty value (null)
                value = _sequence(lines, indent)  # (a sequence at the key's own indent, as YAML allows)
            else:
                value = _block(lines, following[1])
        else:
            value = _scalar_line(lines, indent, start + found.end(), after)
        entries.append((name, key_start, value))
        row = lines.peek()
        if row is None or row[1] != indent or _is_item(row[2]):
            break
        start, rest = row[0] + indent, row[2]
    return Node(first, entries=tuple(entries), kind="mapping")


def _scalar_line(lines: _Lines, indent: int, start: int, text: str) -> Node:
    """A scalar at index ``start`` that is the rest of its line (``text``); the lines of a block
    scalar's body are passed over. ``indent``: the indent of the node that holds it."""
    stop = -1
    if text[0] == '"' or text[0] == "'" or text[0] in "|>":
        found = (_DOUBLE if text[0] == '"' else _SINGLE if text[0] == "'" else _BLOCK).match(text)
        stop = -1 if found is None else found.end()
    elif _PLAIN_START.match(text):
        comment = text.find(" #")
        plain = (text if comment < 0 else text[:comment]).rstrip(" ")
        if ": " in plain or plain.endswith(":") or any(c in plain for c in "[]{},"):
            raise _Unsure  # (a mapping or a flow collection in a plain scalar: not this kind)
        stop = len(plain)
    if stop < 0 or not _AFTER.fullmatch(text, stop):
        raise _Unsure  # not a scalar this reads, unclosed on its line, or more after it
    lines.at += 1
    if text[0] in "|>":  # its body: the lines indented further than the node that holds the key
        body = -1
        while (row := lines.peek()) is not None and row[1] > indent:
            if body < 0:
                body = row[1]
            elif row[1] < body:
                raise _Unsure  # (a line of the body indented less than its first: refused by the parser)
            lines.at += 1
    else:
        row = lines.peek()
        if row is not None and row[1] > indent:
            raise _Unsure  # the scalar goes on over more lines
    return Node(start)
