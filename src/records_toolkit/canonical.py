"""The one canonical YAML form of a record, so that diffs show only real edits.

Canonical means: UTF-8, LF line ends, no BOM, 2-space block style with indented lists, keys in
the order the record type's schema lists them (unknown keys after, sorted), every string in
double quotes (so no YAML 1.1 or 1.2 reader can type it: ``"NO"``, ``"2022-01-21"``), text with
line breaks as a literal block, no anchors, aliases or tags, one final newline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
import typing as t
from pathlib import Path

import yaml

from .errors import Terminated
from .loader import MAX_FILE_BYTES, Document, implicit_tag, iter_record_files, load_bytes, load_file, read_regular
from .output import atomic_write
from .problems import Problem, Report
from .schema_view import Ranks, ordered_by_ranks, ranks_of
from .schemas import Model, load_model

if t.TYPE_CHECKING:
    from .cache import CanonicalSet


class _CanonicalDumper(yaml.SafeDumper):
    """Indented block sequences (``key:\\n  - item``); never aliases; characters beyond U+FFFF
    as themselves in double quotes (see :func:`_astral`)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: t.Any) -> bool:
        return True

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        """PyYAML's double-quoted scalar, its ``\\U...`` escapes turned back into the characters,
        in this scalar alone: a literal block holds such text as it is (applied to the whole
        output, this turned an article's ``\\U0001F600`` into the emoji)."""
        import io

        stream = self.stream
        self.stream = io.StringIO()
        try:
            super().write_double_quoted(text, split)
            written = self.stream.getvalue()
        finally:
            self.stream = stream
        stream.write(_ASTRAL_ESCAPE.sub(_astral, written))


_OTHER_BREAKS = frozenset("\r\x85\u2028\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # A literal block only for plain LF text: YAML readers also break lines at CR, NEL, LS and
    # PS (YAML 1.1), which would change the text on the way back in.
    style = "|" if _block(value) else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _represent_mapping(dumper: yaml.SafeDumper, value: dict[str, t.Any]) -> yaml.MappingNode:
    """Keys plain when they are simple names the Core schema reads as text; values as usual."""
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key, item in value.items():
        key_node: yaml.Node
        if isinstance(key, str) and _PLAIN_KEY.match(key) and implicit_tag(key) == "tag:yaml.org,2002:str":
            key_node = yaml.ScalarNode("tag:yaml.org,2002:str", key, style=None)
        else:
            key_node = dumper.represent_data(key)
        pairs.append((key_node, dumper.represent_data(item)))
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs, flow_style=False)


_CanonicalDumper.add_representer(str, _represent_str)
_CanonicalDumper.add_representer(dict, _represent_mapping)


_UNKNOWN_TYPE_RANKS = ranks_of({(): ("id", "type")})
# Each type's key order as ranks, made once per model (``fmt`` of 10,000 records made them anew
# for each of their 130,000 mappings); the model is kept with them, so its id is never another's.
_TYPE_RANKS: dict[int, tuple[Model, dict[str, Ranks]]] = {}


def canonical_record(data: dict[str, t.Any], model: Model | None = None) -> dict[str, t.Any]:
    """``data`` with keys in canonical order (values unchanged)."""
    model = model or load_model()
    known = _TYPE_RANKS.get(id(model))
    if known is None or known[0] is not model:
        known = (model, {name: ranks_of(info.key_order) for name, info in model.types.items()})
        if len(_TYPE_RANKS) < 8:
            _TYPE_RANKS[id(model)] = known
    type_name = data.get("type")
    ranks = known[1].get(type_name, _UNKNOWN_TYPE_RANKS) if isinstance(type_name, str) else _UNKNOWN_TYPE_RANKS
    return t.cast(dict[str, t.Any], ordered_by_ranks(data, ranks))


# PyYAML escapes every character beyond U+FFFF (emoji, flags) in double quotes even with
# allow_unicode; YAML 1.2 §5.1 lets them stand as themselves. An escape preceded by an even number
# of backslashes is a real escape (``\\U...`` is a backslash and the letter U).
_ASTRAL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\U([0-9A-Fa-f]{8})")


def _astral(match: re.Match[str]) -> str:
    code = int(match.group(2), 16)
    if code < 0x10000 or code > 0x10FFFF:
        return match.group(0)
    return match.group(1) + chr(code)


def dumps(documents: t.Sequence[dict[str, t.Any]], model: Model | None = None) -> str:
    """The canonical text of one file holding ``documents`` (``---`` between them).

    Non-ASCII text is written as itself, emoji included (never as ``\\U...`` escapes). A record
    is written by :func:`_written` when it can be, else by PyYAML's emitter (same bytes).
    """
    parts = []
    for data in documents:
        record = canonical_record(data, model)
        fast = _written(record)
        parts.append(fast if fast is not None else _emitted(record))
    return "---\n".join(parts)


def _emitted(record: dict[str, t.Any]) -> str:
    """The canonical text of one record by PyYAML's emitter (:class:`_CanonicalDumper`): the
    reference, and the writer of what :func:`_written` leaves to it."""
    return yaml.dump(
        record,
        Dumper=_CanonicalDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
        indent=2,
    )


# -- the canonical text without the emitter ----------------------------------------------------------
#
# PyYAML's emitter takes 1.4 ms a record (``toolkit fmt --check`` of 10,000 records: 14 s, against
# 0.9 s for ``validate``); most of it goes to analysing every scalar for styles the canonical form
# never uses. A record of plain shape is written here directly, as the emitter writes it with
# :class:`_CanonicalDumper`'s settings: block mappings and indented block sequences two spaces a
# level, keys plain, strings double-quoted with the emitter's escapes (YAML 1.2 §5.7: its
# printable set with ``allow_unicode``, and ``\\U`` never: characters beyond U+FFFF as themselves),
# numbers, booleans and null as SafeRepresenter spells them, empty collections as ``{}`` and ``[]``,
# a mapping's text of several lines as a literal block. Anything else is left to the emitter: a
# literal block in a list or ending with two line breaks, a key that is not a plain name (or is
# long), a list in a list, a very long string (the emitter may fold it), any other type.
# tests/test_canonical_writer.py holds the two to the same bytes over generated records and values.

# What the emitter escapes in double quotes: all but its printable set with ``allow_unicode``
# (``\\x20-\\x7E``, ``\\xA0-\\uD7FF``, ``\\uE000-\\uFFFD``; beyond U+FFFF as themselves, see
# :func:`_astral`), and ``"`` ``\\`` NEL LS PS BOM. (Spelled as the few ranges escaped: a class of
# the wide ranges kept took 8 ms to compile.)
_DOUBLE_QUOTED_ESCAPED = re.compile(r"[\x00-\x1F\x22\x5C\x7F-\x9F\u2028\u2029\uD800-\uDFFF\uFEFF\uFFFE\uFFFF]")
_ESCAPES = {
    "\0": "\\0",
    "\x07": "\\a",
    "\x08": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
# Characters of a double-quoted string written here at most: the emitter folds a line whose column
# passes its width (1,000,000), counting each escape as written (up to 10 columns: a character
# beyond U+FFFF is counted as ``\\U0001F600`` before it is turned back), after at most 200 columns
# of indentation (100 levels) and a key of 100: 90,000 characters never get there.
_LONGEST_STRING = 90_000
_LONGEST_KEY = 100  # the emitter writes a key of 128 characters or more as a complex key (``? ``)


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    escaped = _ESCAPES.get(character)
    if escaped is not None:
        return escaped
    code = ord(character)
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}"


class _NotPlain(Exception):
    """Internal: a value :func:`_written` leaves to the emitter."""


def _block(value: str) -> bool:
    """Whether :func:`_represent_str` asks for a literal block: a text of several lines that
    ends in no space and holds no line break but LF."""
    return "\n" in value.strip("\n") and value == value.rstrip(" ") and not _OTHER_BREAKS.intersection(value)


def _scalar(value: t.Any) -> str:
    kind = type(value)
    if kind is str:
        if len(value) > _LONGEST_STRING or ("\n" in value and _literal_block(value)):
            raise _NotPlain  # long enough to be folded, or a literal block (a mapping's value: see _literal)
        return '"' + _DOUBLE_QUOTED_ESCAPED.sub(_escape, value) + '"'
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is float:
        if value != value:
            return ".nan"
        if value in (math.inf, -math.inf):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text
    raise _NotPlain


_KEYS: dict[str, bool] = {}  # key -> written plain (the few names of the schemas, asked for again and again)
_RESOLVER = yaml.resolver.Resolver()


def _key(key: t.Any) -> str:
    """A key the emitter writes plain: a simple name that both our reader (YAML 1.2 core) and
    PyYAML's resolver (YAML 1.1: ``No``, ``on``, ``y`` are not text there) read as text."""
    plain = _KEYS.get(key) if type(key) is str else False
    if plain is None:
        plain = (
            len(key) <= _LONGEST_KEY
            and _PLAIN_KEY.fullmatch(key) is not None
            and implicit_tag(key) == "tag:yaml.org,2002:str"
            and _RESOLVER.resolve(yaml.ScalarNode, key, (True, False)) == "tag:yaml.org,2002:str"  # type: ignore[no-untyped-call]
        )
        if len(_KEYS) < 4096:
            _KEYS[key] = plain
    if not plain:
        raise _NotPlain
    return t.cast(str, key)


# What keeps the emitter from writing a text as a literal block (then it is double-quoted): a
# character outside its printable set there (LF, ``\\x20-\\x7E``, ``\\xA0-\\uD7FF``,
# ``\\uE000-\\uFFFD`` but BOM, ``\\U00010000`` up to but not U+10FFFF: a TAB, a control, a
# surrogate), or a space before a line break.
_NOT_IN_A_BLOCK = re.compile(r"[\x00-\x09\x0B-\x1F\x7F-\x9F\uD800-\uDFFF\uFEFF\uFFFE\uFFFF\U0010FFFF]| \n")


def _literal_block(value: str) -> bool:
    """Whether the emitter writes ``value`` as a literal block (else double-quoted)."""
    return _block(value) and not _NOT_IN_A_BLOCK.search(value)


def _literal(value: str, indent: str) -> str:
    """A literal block (YAML 1.2 §8.1.2) as the emitter writes a mapping's value: the header with
    an indentation indicator when the text starts with a space or a line break, ``-`` when it
    does not end with one (clip when it ends with one); each line at ``indent``, an empty line
    empty. A text ending with two line breaks (``+``: the emitter may then end the document
    with ``...``) is left to it."""
    if value.endswith("\n\n") or value == "\n":
        raise _NotPlain
    header = "|" + ("2" if value[0] in " \n" else "") + ("" if value.endswith("\n") else "-")
    lines = value.split("\n")
    if value.endswith("\n"):
        lines.pop()
    return header + "\n" + "".join(f"{indent}{line}\n" if line else "\n" for line in lines)


def _mapping(value: dict[str, t.Any], indent: str, out: list[str], first: str) -> None:
    """``value``'s lines at ``indent``; the first line starts with ``first`` instead (a list's ``- ``)."""
    lead = first
    for key, item in value.items():
        name = _key(key)
        kind = type(item)
        if kind is dict and item:
            out.append(f"{lead}{name}:\n")
            _mapping(item, indent + "  ", out, indent + "  ")
        elif kind is list and item:
            out.append(f"{lead}{name}:\n")
            _sequence(item, indent + "  ", out)
        elif (kind is dict or kind is list) and not item:
            out.append(f"{lead}{name}: {{}}\n" if kind is dict else f"{lead}{name}: []\n")
        elif kind is str and "\n" in item and _literal_block(item):
            out.append(f"{lead}{name}: {_literal(item, indent + '  ')}")
        else:
            out.append(f"{lead}{name}: {_scalar(item)}\n")
        lead = indent


def _sequence(value: list[t.Any], indent: str, out: list[str]) -> None:
    for item in value:
        kind = type(item)
        if kind is dict and item:
            _mapping(item, indent + "  ", out, indent + "- ")
        elif kind is list and item:
            raise _NotPlain  # (``- - item``: left to the emitter)
        elif (kind is dict or kind is list) and not item:
            out.append(f"{indent}- {{}}\n" if kind is dict else f"{indent}- []\n")
        else:
            out.append(f"{indent}- {_scalar(item)}\n")


def _written(record: dict[str, t.Any]) -> str | None:
    """The canonical text of ``record`` as :func:`_emitted` writes it, or None: then ask it."""
    if type(record) is not dict or not record:
        return None
    out: list[str] = []
    try:
        _mapping(record, "", out, "")
    except (_NotPlain, RecursionError):
        return None
    return "".join(out)


def record_path(record: dict[str, t.Any]) -> str:
    """Where a record lives in a records tree: ``<type>s/<id>.yaml`` (one record per file)."""
    return f"{record.get('type', 'unknown')}s/{record.get('id', 'unknown')}.yaml"


# -- the fmt stage ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Formatted:
    """What ``fmt`` did: the report (files and records read, problems) and the files not canonical."""

    report: Report
    changed: list[str]
    check: bool
    skipped: list[str] = dataclasses.field(default_factory=list)
    """Paths named that are not records of the collection (a workflow, a pre-commit config): left alone."""


def format_paths(
    paths: t.Iterable[str | os.PathLike[str]],
    *,
    check: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    model: Model | None = None,
    jobs: int | None = None,
    cache_root: str | None = None,
    whole: bool = False,
) -> Formatted:
    """Rewrite every record file under ``paths`` into canonical form (with ``check``: only report).

    A file that does not load is left untouched and its problems reported; every other file is
    replaced atomically, and only if its bytes change. With ``check``, each file that is not
    canonical is a ``not-canonical`` problem at the first line that differs; a large tree is then
    checked by ``jobs`` worker processes (as ``validate``'s: default one per core, 1 none), in
    contiguous chunks merged in order: the same report.

    ``cache_root``: the collection whose result cache folder holds the contents found canonical
    (:class:`~.cache.CanonicalSet`): those are not parsed again (nor rewritten: they need not be).
    ``whole``: the paths are the whole collection, so the set is written anew from what this run
    found (a file rewritten: its new bytes).
    """
    report = Report()
    changed: list[str] = []
    replaced: list[str] = []
    canonical_set = _canonical_set(cache_root, max_bytes) if model is None else None
    known: Known | None = (canonical_set.known, {}) if canonical_set is not None else None
    if check:
        if not _checked_apart(paths, max_bytes, model, jobs, report, changed, known):
            _format_items(iter_record_files(paths), max_bytes, True, model, report, changed, [], known)
    else:
        try:
            _format_items(iter_record_files(paths), max_bytes, False, model, report, changed, replaced, known)
        except BaseException as exc:  # Ctrl-C, SIGTERM: the files rewritten so far stay so (each whole)
            # (a signal held through a file's write is raised after it: that file was rewritten too)
            rewritten = len(replaced) + bool(getattr(exc, "after_write", False))
            if rewritten and isinstance(exc, KeyboardInterrupt | Terminated):
                exc.rewritten = rewritten  # type: ignore[union-attr]
            raise
    if canonical_set is not None and known is not None and whole:
        canonical_set.save(known[1])
    return Formatted(report, changed, check)


#: What forked workers of ``fmt --check`` inherit: the walk's items, the size limit, the model.
_CHECKING: tuple[list[Path | Problem], int, Model | None, t.Mapping[bytes, int] | None] | None = None


def _checked_apart(
    paths: t.Iterable[str | os.PathLike[str]],
    max_bytes: int,
    model: Model | None,
    jobs: int | None,
    report: Report,
    changed: list[str],
    known: Known | None = None,
) -> bool:
    """``fmt --check`` of a large tree by worker processes; False (nothing done) when the tree is
    small (:data:`~.validate.PARALLEL_FROM` files), one process is asked for or none can be forked.
    The tree is walked first; each worker checks a contiguous run of the walk's items (its
    problems among them, in place) and the reports are joined in order."""
    global _CHECKING
    from .validate import PARALLEL_FROM, chunk_bounds
    from .workers import can_fork, count, in_order

    workers = count(jobs)
    if workers < 2:
        return False
    items = list(iter_record_files(paths))
    if sum(not isinstance(item, Problem) for item in items) < PARALLEL_FROM or not can_fork():
        _format_items(items, max_bytes, True, model, report, changed, [], known)
        return True
    if model is None:
        from .errors import CouldNotRun

        try:
            load_model()  # (read and checked once, before the fork)
        except CouldNotRun:
            pass  # (schemas missing or broken: the workers say so where a file needs them, as one process does)
    _CHECKING = (items, max_bytes, model, None if known is None else known[0])
    try:
        for files, records, problems, not_canonical, found in in_order(
            _check_run, ((a, b) for a, b in chunk_bounds(len(items), workers)), workers, "fmt --check"
        ):
            report.files += files
            report.records += records
            report.problems.extend(problems)
            changed.extend(not_canonical)
            if known is not None and found is not None:
                known[1].update(found)
    finally:
        _CHECKING = None
    return True


def _check_run(start: int, stop: int) -> tuple[int, int, list[Problem], list[str], dict[bytes, int] | None]:
    """In a worker: ``fmt --check`` of the walk's items ``start:stop``."""
    assert _CHECKING is not None
    items, max_bytes, model, canonical = _CHECKING
    report = Report()
    changed: list[str] = []
    known: Known | None = None if canonical is None else (canonical, {})
    _format_items(items[start:stop], max_bytes, True, model, report, changed, [], known)
    return report.files, report.records, report.problems, changed, None if known is None else known[1]


def _canonical_set(root: str | None, max_bytes: int) -> CanonicalSet | None:
    """The contents known canonical in the collection at ``root`` (None: no cache to use)."""
    if root is None:
        return None
    from .cache import CanonicalSet, fingerprint
    from .errors import CouldNotRun

    try:
        model = load_model()
    except CouldNotRun:  # (schemas missing or broken: said where a file needs them, as without the cache)
        return None
    return CanonicalSet.open(root, fingerprint(model, max_bytes=max_bytes, layout=None), _MOST_FILES)


_MOST_FILES = 1 << 20  # files a canonical set is read for at most (the walk comes after: its count is not known)


Known = tuple[t.Mapping[bytes, int], dict[bytes, int]]
"""For ``fmt --check`` with the cache: the contents known canonical (SHA-256 -> records), and
those found so in this run (:class:`~.cache.CanonicalSet`)."""


def _format_items(
    items: t.Iterable[Path | Problem],
    max_bytes: int,
    check: bool,
    model: Model | None,
    report: Report,
    changed: list[str],
    replaced: list[str],
    known: Known | None = None,
) -> None:
    for item in items:
        if isinstance(item, Problem):
            report.problems.append(item)
            continue
        report.files += 1
        documents: list[dict[str, t.Any]] = []
        problems: list[Problem] = []
        try:  # never through a link, never a FIFO (the walker refused them; this refuses a swap since)
            original = read_regular(item, max_bytes)
        except OSError:
            original = b""
        digest = b""
        if known is not None and original:
            digest = hashlib.sha256(original).digest()
            records = known[0].get(digest)
            if records is not None:  # checked before, these very bytes: canonical, nothing to say
                report.records += records
                known[1][digest] = records
                continue
        said = len(report.problems)
        loads = load_bytes(original, item.as_posix()) if original else load_file(item, max_bytes=max_bytes)
        for loaded in loads:
            if isinstance(loaded, Document):
                documents.append(t.cast(dict[str, t.Any], loaded.data))
            else:
                problems.append(loaded)
        if problems:
            report.problems.extend(problems)
            continue
        report.records += len(documents)
        for index, document in enumerate(documents):
            report.problems.extend(_quoted_texts(item.as_posix(), index, document))
        canonical = dumps(documents, model).encode("utf-8")
        if original == canonical:
            if digest and len(report.problems) == said:
                t.cast(Known, known)[1][digest] = len(documents)
            continue
        changed.append(item.as_posix())
        if check:
            report.problems.append(_first_difference(item.as_posix(), original, canonical))
        elif os.path.islink(item):  # swapped for a link since it was read: never write outside the tree
            report.problems.append(
                Problem(
                    file=item.as_posix(),
                    line=None,
                    column=None,
                    pointer="",
                    code="file-symlink",
                    message="became a symbolic link: not rewritten",
                )
            )
        else:
            atomic_write(item, canonical)
            replaced.append(item.as_posix())
            if known is not None and len(report.problems) == said:  # (its bytes now: canonical)
                known[1][hashlib.sha256(canonical).digest()] = len(documents)


def _unblocked(data: t.Any) -> bool:
    """Whether ``data`` holds a multi-line text the emitter cannot write as a literal block (most
    records hold none: then no pointer is made)."""
    kind = type(data)
    if kind is str:
        return "\n" in data and "\n" in data.strip("\n") and not _literal_block(data)
    if kind is dict:
        return any(_unblocked(value) for value in data.values())
    if kind is list:
        return any(_unblocked(value) for value in data)
    return False


def _quoted_texts(file: str, document: int, data: t.Any, pointer: str = "") -> t.Iterator[Problem]:
    """A warning for each multi-line text ``fmt`` cannot write as a literal block (it says so, rather
    than silently turning an article into one escaped line)."""
    from .problems import pointer_join

    if not _unblocked(data):
        return
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _quoted_texts(file, document, value, pointer_join(pointer, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _quoted_texts(file, document, value, pointer_join(pointer, index))
    elif isinstance(data, str):
        lines = data.split("\n")
        where = next((n for n, line in enumerate(lines, 1) if line != line.rstrip(" \t")), None)
        if where is not None:
            why = f"its line {where} ends in white space"
        elif _OTHER_BREAKS.intersection(data):
            why = "it holds a CR, NEL, LS or PS line break"
        else:
            why = "YAML cannot hold this text in a block"
        yield Problem(
            file=file,
            line=None,
            column=None,
            pointer=pointer,
            code="text-not-block",
            severity="warning",
            document=document,
            message=f"multi-line text written as one quoted line: {why}; remove that to keep it a readable block",
        )


def _first_difference(file: str, original: bytes, canonical: bytes) -> Problem:
    old_lines, new_lines = original.splitlines(), canonical.splitlines()
    line = next(
        (i for i, (a, b) in enumerate(zip(old_lines, new_lines), 1) if a != b), min(len(old_lines), len(new_lines)) + 1
    )
    line = min(line, max(len(old_lines), 1))
    found = old_lines[line - 1].decode("utf-8", "replace") if line <= len(old_lines) else ""
    expected = new_lines[line - 1].decode("utf-8", "replace") if line <= len(new_lines) else ""
    column = next((i for i, (a, b) in enumerate(zip(found, expected), 1) if a != b), min(len(found), len(expected)) + 1)
    return Problem(
        file=file,
        line=line,
        column=column,
        pointer="",
        code="not-canonical",
        message=f"not in canonical form from here on: {_why(found, expected)} (`toolkit fmt` rewrites it)",
    )


def _shown(line: str) -> str:
    """A line with the white space that matters made visible: tabs as →, spaces at its ends as ·."""
    core = line.strip(" ")
    left = len(line) - len(line.lstrip(" "))
    right = len(line) - len(line.rstrip(" ")) if core else 0
    return repr("·" * left + core.replace("\t", "→") + "·" * right)


def _why(found: str, expected: str) -> str:
    if found.rstrip(" \t") == expected.rstrip(" \t") and found != expected:
        return f"trailing white space: found {_shown(found)}, expected {_shown(expected)}"
    if "\t" in found and found.replace("\t", "") != expected.replace("\t", ""):
        return f"a tab: found {_shown(found)}, expected {_shown(expected)}"
    if not expected:
        return f"found {_shown(found)} past the end of the canonical text"
    if not found:
        return f"expected {_shown(expected)} here (missing, or no final newline)"
    return f"found {_shown(found)}, expected {_shown(expected)}"
