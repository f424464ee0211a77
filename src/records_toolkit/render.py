"""The edge: a :class:`Report` rendered once, as text, JSON, GitHub workflow commands or SARIF."""

from __future__ import annotations

import json
import typing as t
import urllib.parse

from .problems import CODES, Problem, Report

Renderer = t.Callable[[Report], str]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(report: Report) -> str:
    """The last line in text mode."""
    errors = len(report.errors)
    files_with = len({p.file for p in report.errors})
    checked = f"{_plural(report.records, 'record')} in {_plural(report.files, 'file')}"
    warnings = len(report.problems) - errors
    if not errors:
        return f"ok: {checked}, no problems" + (f" ({_plural(warnings, 'warning')})" if warnings else "")
    return f"{_plural(errors, 'problem')} in {_plural(files_with, 'file')} ({checked} checked)"


# C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional controls that can
# make a terminal show text in another order than it is ("Trojan Source", CVE-2021-42574).
_HIDDEN = frozenset(
    [
        *range(0x00, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0xFEFF,
        *range(0xD800, 0xE000),  # lone surrogates: the bytes of a file name that is not UTF-8
    ]
)


_LINE_BREAKS = "\n\r"


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control or bidi character written as an escape (``\\x1b``, ``\\u202e``).

    Everything the text renderer prints comes from untrusted files: an escape sequence in a
    record or in a file name must show, not act on the terminal.
    """
    if not any(ord(char) in _HIDDEN for char in text):
        return text
    return "".join(_escaped(char) if ord(char) in _HIDDEN and char not in keep else char for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape: show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _where(problem: Problem) -> str:
    """``FILE:LINE:COL``; with no line (a record held in memory), ``FILE#POINTER`` (RFC 6901 §6)."""
    if problem.line is not None:
        return f"{problem.file}:{problem.line}:{problem.column or 1}"
    if problem.pointer:
        return f"{problem.file}#{urllib.parse.quote(problem.pointer, safe='/~')}"
    return problem.file


def text(report: Report) -> str:
    """``FILE:LINE:COL: error: MESSAGE [code]``, the source line, and a caret, as compilers do."""
    from .loader import Positions  # (not at the top: an error message alone need not load the YAML stack)

    positions = Positions()
    out: list[str] = []
    for problem in report.sorted():
        where = visible(_where(problem))
        out.append(f"{where}: {problem.severity}: {visible(problem.message)} [{problem.code}]")
        if problem.line is not None:
            source = positions.source_line(problem.file, problem.line)
            if source is not None and source.strip():
                shown = source.expandtabs(1)
                column = max(1, min(problem.column or 1, len(shown) + 1))
                if len(shown) > 120:  # a long line: show the part around the column
                    start = max(0, column - 60)
                    shown = (
                        ("…" if start else "") + shown[start : start + 120] + ("…" if start + 120 < len(shown) else "")
                    )
                    column = column - start + (1 if start else 0)
                before = visible(shown[: column - 1])  # the caret moves with the escapes before it
                out.append(f"    {visible(shown)}")
                out.append(f"    {' ' * len(before)}^")
    out.append(summary(report))
    return "\n".join(out) + "\n"


def _utf8(value: str) -> str:
    """``value`` as UTF-8 can carry it: a file name that is not UTF-8 (its bytes kept as lone
    surrogates) shows those bytes as ``\\xe9`` escapes, never as text no UTF-8 output can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def json_(report: Report) -> str:
    """A JSON list of problems (file, line, column, pointer, code, message, ...), stable keys."""
    problems = [p.to_json() | {"file": _utf8(p.file), "message": _utf8(p.message)} for p in report.sorted()]
    return json.dumps(problems, indent=2, ensure_ascii=False) + "\n"


def _gh_data(value: str) -> str:
    # actions/toolkit core command escaping: data part
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(value: str) -> str:
    return _gh_data(value).replace(":", "%3A").replace(",", "%2C")


def github(report: Report) -> str:
    """``::error file=F,line=L,col=C,title=CODE::MESSAGE`` workflow commands (PR annotations)."""
    out = []
    for problem in report.sorted():
        props = [f"file={_gh_property(visible(problem.file))}"]
        if problem.line is not None:
            props.append(f"line={problem.line}")
            props.append(f"col={problem.column or 1}")
        props.append(f"title={_gh_property(problem.code)}")
        message = f"{problem.pointer}: {problem.message}" if problem.pointer else problem.message
        shown = visible(message, keep=_LINE_BREAKS)  # GitHub shows multi-line annotations (%0A)
        out.append(f"::{problem.severity} {','.join(props)}::{_gh_data(shown)}")
    return "\n".join(out) + ("\n" if out else "")


def sarif(report: Report) -> str:
    """SARIF 2.1.0 (OASIS) for code-scanning dashboards; one rule per problem code."""
    from . import __version__

    used = sorted({p.code for p in report.problems})
    results = []
    for problem in report.sorted():
        # SARIF §3.10: a URI reference, not a raw path; a name's bytes as they are (RFC 3986 §2.1)
        uri = urllib.parse.quote(problem.file.encode("utf-8", "surrogateescape"), safe="/:")
        location: dict[str, t.Any] = {"physicalLocation": {"artifactLocation": {"uri": uri}}}
        if problem.line is not None:
            location["physicalLocation"]["region"] = {"startLine": problem.line, "startColumn": problem.column or 1}
        results.append(
            {
                "ruleId": problem.code,
                "level": problem.severity,
                "message": {"text": _utf8(problem.message)},
                "locations": [location],
                "properties": {"pointer": problem.pointer},
            }
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "toolkit",
                        "version": __version__,
                        "rules": [{"id": code, "shortDescription": {"text": CODES.get(code, code)}} for code in used],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Renderer] = {"text": text, "json": json_, "github": github, "sarif": sarif}


def problem_line(problem: Problem) -> str:
    """One problem as one line (for stderr notices of other commands)."""
    where = visible(_where(problem))
    return f"{where}: {problem.severity}: {visible(problem.message)} [{problem.code}]"
