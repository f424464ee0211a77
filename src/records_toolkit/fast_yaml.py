"""A fast path for loading the common record file, giving exactly what the strict loader gives.

The strict loader (:mod:`records_toolkit.loader`) composes every file with libyaml and builds its
values in Python: positioned and strict, but it is where most of the time of ``validate`` goes.
Most record files are plain: one mapping, double-quoted strings, block lists and literal blocks.
For those, yaml-rs (a YAML 1.2 parser in Rust, https://github.com/lava-sh/yaml-rs) builds the same
values several times faster. :func:`load` returns the one record of such a file, or ``None``:
"load it strictly". The fast path never reports a problem itself; every file with a problem goes
through the strict path, so problems, messages, lines and columns are always the strict path's
(and :class:`records_toolkit.loader.Positions` re-composes strictly whenever a later stage needs a
position).

``RECORDS_TOOLKIT_FAST_YAML=0`` (or ``false``, ``no``, ``off``) turns the fast path off, for a
comparison or to rule it out; without yaml-rs installed it is off. yaml-rs is imported by the first
file loaded, not at start-up.

**When the fast path answers.** Anything else falls back to the strict path:

1. The text has none of: ``&`` ``*`` ``!`` (anchors, aliases, tags; so also no ``!!binary``,
   ``!!set``, ``!!str``), ``<<`` (merge keys), a line starting with ``%`` (directives) or with
   ``---``/``...`` (document markers), a tab, a byte order mark, a CR that is not part of a CRLF,
   and any character that YAML 1.1 (libyaml) and YAML 1.2 (yaml-rs) do not both read as plain
   text: C0 controls, DEL, C1 controls, NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR (line breaks
   to libyaml, text to YAML 1.2), non-characters. yaml-rs accepts control characters that libyaml
   refuses; these rules keep it from seeing them.
2. No flow collection at all: a ``[ ] { }`` is only allowed inside a one-line double-quoted
   scalar (no escape, ``'``, ``:`` or ``#`` in it) that is alone on its line after at most ``- ``
   indicators and a simple key (``date: "[..2022-01-21]"``, ``- "[sic]"``). yaml-rs accepts implicit keys that
   span lines in flow collections (``{a\\n: b}``), which libyaml rightly refuses. Why this is
   enough: the first real flow indicator would be on such a line; at the line's start the scanner
   is either in block context (then the bracket is inside the quoted scalar), in a block scalar or
   a plain scalar's continuation (then it is text), or in a quoted scalar begun on an earlier line:
   that scalar closes at the line's first quote, and the non-space, non-``:``, non-``#`` text after
   it is an error to both parsers (``tests/test_fast_yaml.py`` pins yaml-rs's refusal).
3. A text holding a block scalar (``|`` or ``>``) ends with a line break, and its last line that
   is not blank or a comment does not end with a block scalar header: yaml-rs reads a block scalar
   ending the text without a line break with one, and an empty one at the end as ``"\\n"``;
   libyaml (and YAML 1.2) read neither.
4. yaml-rs parses the text without an error (``DuplicateKeyPolicy.Error``: a repeated key is an
   error; ``parse_datetime=False``: dates stay text) into one document that is a mapping. One
   document gives its value, several a list and none ``None``; only a ``dict`` is unambiguous.
5. The values pass the strict loader's checks: every key is text (of at most 100 characters:
   libyaml refuses implicit keys over 1,024), every float finite (no ``.inf``/``.nan``, no
   ``1e400``), nesting within ``MAX_DEPTH``, no list or mapping of more than ``MAX_ITEMS``, at most
   ``MAX_VALUES`` values counted as the strict composer counts them (the limits are the loader's,
   passed by it), and the loader's ``MAX_DOCUMENTS`` allows one document.
6. If a value is a number: no token (a maximal run of ``[0-9A-Za-z_.+-]``; a plain scalar yaml-rs
   types as a number is one) is a number of yaml-rs's grammar that the strict loader reads as
   text: with a ``_`` (``1_000``, ``_.5``), a ``0X``/``0O``/``0b``/``0B`` prefix or a signed prefix
   (``+0x1F``); and no number of more than 100 characters (refused by the strict loader; it has a
   run of at least 33 digits, or is a prefixed token that long).

No line starts with 64 or more spaces and block indicators (``- ? :``). yaml-rs recurses once per
nesting level (some 700 bytes of stack each: a deep input crashes the process, it raises nothing);
without flow collections, a block collection nested ``d`` deep has its first entry at column
``d / 2`` at least, with only spaces and indicators before it on its line, so this keeps every
text yaml-rs sees within 128 levels.

**Why the values are the same.** Null, bool, int and float: yaml-rs resolves plain scalars with
the YAML 1.2 Core schema as the strict loader does (``null Null NULL ~`` and empty; ``true True
TRUE false False FALSE``), and its number grammar is the strict one's plus what rules 5 and 6
refuse; it reads decimal, ``0o`` and ``0x`` integers exactly (big ones too) and floats correctly
rounded. So a plain scalar the strict loader reads as text (``yes``, ``NO``, ``2022-01-21``,
``12:30``, ``0b11``) is text to yaml-rs too, a quoted or block scalar is text to both, and a value
without any number needs no check of rule 6. Strings: both parsers follow YAML's quoting, escaping,
folding and chomping rules; where they did not (rules 2 and 3), the text is refused, and the
agreement on everything else is tested differentially in ``tests/test_fast_yaml.py`` (hypothesis:
generated records in the canonical form and PyYAML's styles, YAML mutated with the characters that
matter, grids of scalars, limits), which also checks that ``toolkit validate`` prints the same for
every example folder with the fast path on and off.
"""

from __future__ import annotations

import os
import re
import typing as t

_yaml_rs: t.Any = None  # the module, imported by the first load (some 3 ms); False: not installed

ENVIRONMENT = "RECORDS_TOOLKIT_FAST_YAML"
_OFF = frozenset({"0", "false", "no", "off"})

# The strict loader's limits, the defaults of load()'s (records_toolkit.loader imports this module
# and passes its own, so a changed limit holds on both paths; tests/test_fast_yaml.py checks them).
MAX_DEPTH = 100
MAX_ITEMS = 10_000
MAX_VALUES = 100_000

_MAX_KEY = 100
#: Larger texts take the strict path: a record file is a few KB, and yaml-rs, as Rust code, ends
#: the whole process when an allocation fails (under a memory limit, a 16 MiB file could): the
#: strict loader reports that as ``out-of-memory`` instead.
MAX_CHARS = 1 << 20
_MAX_INDENT = 64

_ALLOWED_BYTES = bytes(
    [0x0A, 0x0D, 0x20, 0x22, 0x23, 0x24, 0x25, 0x27, 0x28, 0x29, *range(0x2B, 0x7F), *range(0x80, 0x100)]
)
"""UTF-8 bytes deleted before looking for refused ASCII: what is left is a control, DEL, ``! & *``."""
_MARKERS = ("%", "---", "...")
# Every text is searched for these: compiled when the module is imported.
_DEEP_START = re.compile(rf"[ \-?:]{{{_MAX_INDENT}}}")
# A line that starts a directive or a document marker, or nests very deep: one search for both.
_REFUSED_LINE = re.compile(rf"\n(?:%|---|\.\.\.|[ \-?:]{{{_MAX_INDENT}}})")
# The patterns below that only some texts need are kept as their sources and compiled where they
# are used, the first time: start-up.
_REFUSED_MULTIBYTE = (  # (the byte that leads each, looked for first: a search for a byte is the fastest)
    (b"\xc2", rb"\xc2[\x80-\x9f]"),  # C1 controls, NEL among them
    (b"\xe2", rb"\xe2\x80[\xa8\xa9]"),  # LINE SEPARATOR, PARAGRAPH SEPARATOR
    (b"\xef", rb"\xef[\xbb\xbf][\xbe\xbf]"),  # BYTE ORDER MARK, U+FFFE, U+FFFF (and U+FEFE, harmless)
    (b"\xed", rb"\xed[\xa0-\xbf]"),  # surrogates (never decoded from a file; refused by yaml-rs too)
)
# each searched alone (an alternation of the four has no prefix to look for: 1.5 times as slow),
# compiled by the first text that is not ASCII, and called as methods (re.search looks in its cache)
_refused_multibyte: tuple[tuple[bytes, re.Pattern[bytes]], ...] = ()
_FLOW = r"[][{}]"
_QUOTED_LINE = r" *(?:- )*(?:[A-Za-z_][A-Za-z0-9_-]*: )?\"[^\"\\\r\n':#]*\" *\r?"
_BLOCK_HEADER_AT_END = r"[|>][-+0-9]*[ ]*(?:#.*)?\Z"
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 30
_PREFIX = r"0[xXoObB]"
_TOKEN = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.+-")
_TOKEN_REST = r"[0-9A-Za-z_.+\-]*"
_NUMBER_CHARACTERS = frozenset("0123456789_.+-abcdefABCDEFxXoO")


# os.environ's own mapping and the key as it is stored there: asked once per file loaded, a lookup
# there takes 0.06 µs where os.environ.get takes 1.2 (a KeyError raised and caught inside when the
# variable is not set, the common case). os.environ.get where these are not to be had (None).
_ENVIRON_DATA: dict[t.Any, t.Any] | None = getattr(os.environ, "_data", None)
_ENVIRON_KEY: t.Any = getattr(os.environ, "encodekey", lambda key: None)(ENVIRONMENT)
if type(_ENVIRON_DATA) is not dict or _ENVIRON_KEY is None:  # pragma: no cover - another os.environ
    _ENVIRON_DATA = None


def enabled() -> bool:
    """Whether the fast path is on: ``RECORDS_TOOLKIT_FAST_YAML`` is not off (yaml-rs is looked for by :func:`load`)."""
    if _ENVIRON_DATA is not None:
        value = _ENVIRON_DATA.get(_ENVIRON_KEY)
        if value is None:
            return True
        text = os.fsdecode(value) if isinstance(value, bytes) else str(value)
    else:  # pragma: no cover - an os.environ without its mapping
        text = os.environ.get(ENVIRONMENT, "1")
    return text.strip().lower() not in _OFF


def parser() -> t.Any:
    """The yaml-rs module, or None when it is not installed (then every file is loaded strictly)."""
    global _yaml_rs
    if _yaml_rs is None:
        try:
            import yaml_rs
        except ImportError:  # pragma: no cover - a dependency
            _yaml_rs = False
        else:
            _yaml_rs = yaml_rs
    return _yaml_rs or None


def load(
    text: str,
    *,
    max_depth: int = MAX_DEPTH,
    max_items: int = MAX_ITEMS,
    max_values: int = MAX_VALUES,
    encoded: bytes | None = None,
) -> dict[str, t.Any] | None:
    """The one record of ``text`` exactly as the strict loader builds it, or None: load it strictly.

    ``text`` is decoded already (strict UTF-8, a leading BOM removed), as the strict loader gets it;
    the limits are the strict loader's. ``encoded``: ``text`` in UTF-8, when the caller has it
    (the file's bytes): a text that is not ASCII is then not encoded again here.
    """
    if len(text) > MAX_CHARS:
        return None
    yaml_rs = parser()
    if yaml_rs is None:
        return None
    raw = text.encode("utf-8", "surrogatepass") if encoded is None else encoded
    if _unusual(text, raw):
        return None
    try:
        data = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # any refusal: the strict path finds it, with its line and column
        return None
    if type(data) is not dict:
        return None
    numbers: list[bool] = []
    try:
        if _accepted(data, (max_depth, max_items), 0, numbers) > max_values:
            return None
    except _Refused:
        return None
    if numbers and _odd_number(text, raw):
        return None
    return data


def _unusual(text: str, raw: bytes) -> bool:
    """Whether ``text`` (``raw`` in UTF-8) breaks rule 1, 2 or 3 of the module docstring, or may nest very deep."""
    if raw.translate(None, _ALLOWED_BYTES):
        return True
    if not text.isascii():
        global _refused_multibyte
        if not _refused_multibyte:
            _refused_multibyte = tuple((lead, re.compile(pattern)) for lead, pattern in _REFUSED_MULTIBYTE)
        for lead, refused in _refused_multibyte:
            if lead in raw and refused.search(raw):
                return True
    # markers and directives; a line nested very deep, maybe deeper than yaml-rs's stack
    if "<<" in text or text.startswith(_MARKERS) or _DEEP_START.match(text) or _REFUSED_LINE.search(text):
        return True
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return True  # a CR alone is a line break that the line rules here do not see
    if ("[" in text or "]" in text or "{" in text or "}" in text) and _flow_outside_quotes(text):
        return True
    if "|" in text or ">" in text:
        return not text.endswith("\n") or _empty_block_at_end(text)
    return False


def _flow_outside_quotes(text: str) -> bool:
    """Whether a ``[ ] { }`` may be a flow indicator: it is not inside a one-line double-quoted
    scalar alone on its line after at most block indicators and a simple key (rule 2)."""
    quoted_line = re.compile(_QUOTED_LINE)
    for match in re.finditer(_FLOW, text):
        start = text.rfind("\n", 0, match.start()) + 1
        stop = text.find("\n", match.start())
        if not quoted_line.fullmatch(text, start, len(text) if stop < 0 else stop):
            return True
    return False


def _empty_block_at_end(text: str) -> bool:
    """Whether the last line that is not blank or a comment ends with a block scalar header (rule 3)."""
    tail = text.rstrip()
    while tail:
        start = tail.rfind("\n") + 1
        line = tail[start:]
        if not line.lstrip().startswith("#"):
            return re.search(_BLOCK_HEADER_AT_END, line) is not None
        tail = tail[:start].rstrip()
    return False


def _odd_number(text: str, raw: bytes) -> bool:
    """Whether a token is a number yaml-rs reads and the strict loader does not, or refuses (rule 6)."""
    if _LONG_DIGITS in raw.translate(_DIGITS_AS_ZERO):
        return True
    token_rest = re.compile(_TOKEN_REST)
    for match in re.finditer(_PREFIX, text):
        start = match.start()
        if start and text[start - 1] in "+-":
            start -= 1  # a signed prefix
        if start and text[start - 1] in _TOKEN:
            continue  # inside a longer token: not a number
        stop = token_rest.match(text, match.end()).end()  # type: ignore[union-attr]
        if start != match.start() or text[start + 1] in "XObB" or stop - start > 100:
            return True
    at = text.find("_")
    while at >= 0:
        start = at
        while start and text[start - 1] in _TOKEN:
            start -= 1
        stop = token_rest.match(text, at).end()  # type: ignore[union-attr]
        if _NUMBER_CHARACTERS.issuperset(text[start:stop]):
            return True
        at = text.find("_", stop)
    return False


class _Refused(Exception):
    """Internal: the values hold something the strict loader refuses (it says what, and where)."""


def _accepted(value: dict[str, t.Any] | list[t.Any], limits: tuple[int, int], depth: int, numbers: list[bool]) -> int:
    """The number of values below ``value`` (keys, items, scalars), as the strict composer counts them.

    Raises :class:`_Refused` for a key that is not text (or is too long), a non-finite float,
    nesting deeper than ``limits[0]`` or a collection of more than ``limits[1]`` items. Appends to
    ``numbers`` when it meets an int or a float.
    """
    if (value and depth >= limits[0]) or len(value) > limits[1]:
        raise _Refused
    if type(value) is dict:
        count = 2 * len(value)
        for key in value:
            if type(key) is not str or len(key) > _MAX_KEY:
                raise _Refused
        items: t.Iterable[t.Any] = value.values()
    else:
        count = len(value)
        items = value
    for item in items:
        kind = type(item)
        if kind is str:
            continue
        if kind is dict or kind is list:
            count += _accepted(item, limits, depth + 1, numbers)
        elif kind is int:
            numbers.append(True)
        elif kind is float:
            numbers.append(True)
            if item - item != 0.0:  # inf or nan
                raise _Refused
        elif kind is not bool and item is not None:
            raise _Refused
    return count
