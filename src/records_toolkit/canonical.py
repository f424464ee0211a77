"""The one canonical YAML form of a record, so that diffs show only real edits.

Canonical means: UTF-8, LF line ends, no BOM, 2-space block style with indented lists, keys in
the order the record type's schema lists them (unknown keys after, sorted), every string in
double quotes (so no YAML 1.1 or 1.2 reader can type it: ``"NO"``, ``"2022-01-21"``), text with
line breaks as a literal block, no anchors, aliases or tags, one final newline.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing as t

import yaml

from .errors import Terminated
from .loader import MAX_FILE_BYTES, Document, implicit_tag, iter_record_files, load_bytes, load_file, read_regular
from .output import atomic_write
from .problems import Problem, Report
from .schema_view import ordered
from .schemas import Model, Template, load_model


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
    block = "\n" in value.strip("\n") and value == value.rstrip(" ") and not _OTHER_BREAKS.intersection(value)
    style = "|" if block else '"'
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


def canonical_record(data: dict[str, t.Any], model: Model | None = None) -> dict[str, t.Any]:
    """``data`` with keys in canonical order (values unchanged)."""
    model = model or load_model()
    info = model.types.get(data.get("type")) if isinstance(data.get("type"), str) else None  # type: ignore[arg-type]
    order: dict[Template, tuple[str, ...]] = dict(info.key_order) if info else {(): ("id", "type")}
    return t.cast(dict[str, t.Any], ordered(data, order))


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

    Non-ASCII text is written as itself, emoji included (never as ``\\U...`` escapes).
    """
    parts = []
    for data in documents:
        parts.append(
            yaml.dump(
                canonical_record(data, model),
                Dumper=_CanonicalDumper,
                allow_unicode=True,
                sort_keys=False,
                default_flow_style=False,
                width=1_000_000,
                indent=2,
            )
        )
    return "---\n".join(parts)


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
) -> Formatted:
    """Rewrite every record file under ``paths`` into canonical form (with ``check``: only report).

    A file that does not load is left untouched and its problems reported; every other file is
    replaced atomically, and only if its bytes change. With ``check``, each file that is not
    canonical is a ``not-canonical`` problem at the first line that differs.
    """
    report = Report()
    changed: list[str] = []
    replaced: list[str] = []
    try:
        _format_each(paths, max_bytes, check, model, report, changed, replaced)
    except BaseException as exc:  # Ctrl-C, SIGTERM: the files rewritten so far stay so (each whole)
        # (a signal held through a file's write is raised after it: that file was rewritten too)
        rewritten = len(replaced) + bool(getattr(exc, "after_write", False))
        if rewritten and isinstance(exc, KeyboardInterrupt | Terminated):
            exc.rewritten = rewritten  # type: ignore[union-attr]
        raise
    return Formatted(report, changed, check)


def _format_each(
    paths: t.Iterable[str | os.PathLike[str]],
    max_bytes: int,
    check: bool,
    model: Model | None,
    report: Report,
    changed: list[str],
    replaced: list[str],
) -> None:
    for item in iter_record_files(paths):
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


def _quoted_texts(file: str, document: int, data: t.Any, pointer: str = "") -> t.Iterator[Problem]:
    """A warning for each multi-line text ``fmt`` cannot write as a literal block (it says so, rather
    than silently turning an article into one escaped line)."""
    from .problems import pointer_join

    if isinstance(data, dict):
        for key, value in data.items():
            yield from _quoted_texts(file, document, value, pointer_join(pointer, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _quoted_texts(file, document, value, pointer_join(pointer, index))
    elif isinstance(data, str) and "\n" in data.strip("\n"):
        shown = yaml.dump(data, Dumper=_CanonicalDumper, allow_unicode=True, width=1_000_000)
        if shown.startswith("|"):
            return
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
