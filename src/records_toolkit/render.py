"""The edge: a :class:`Report` rendered once, as text, JSON, GitHub workflow commands or SARIF."""

from __future__ import annotations

import functools
import json
import os
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
    if text.isascii() and text.isprintable():  # (the usual text, told in C: none of them is there)
        return text
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


#: GitHub shows at most 10 error and 10 warning annotations of one step (and 50 of a job); the rest
#: are in the job log only. The last line of ``-f github`` says so, with the count of them all.
GITHUB_ANNOTATIONS_SHOWN = 10


def github_summary(report: Report) -> str:
    """The ``::notice`` that ends the GitHub form: every problem counted, where to find them all."""
    errors = len(report.errors)
    warnings = len(report.problems) - errors
    checked = f"{_plural(report.records, 'record')} in {_plural(report.files, 'file')} checked"
    if not report.problems:
        text = f"no problems ({checked})"
    else:
        counted = _plural(errors, "problem") + (f" and {_plural(warnings, 'warning')}" if warnings else "")
        files = _plural(len({p.file for p in report.problems}), "file")
        text = (
            f"{counted} in {files} ({checked}). GitHub shows at most {GITHUB_ANNOTATIONS_SHOWN} annotations "
            "per type per step; see the job log or SARIF (--output-format sarif) for them all"
        )
    return f"::notice title={_gh_property('records-toolkit')}::{_gh_data(visible(text))}"


def github(report: Report) -> str:
    """``::error file=F,line=L,col=C,title=CODE::MESSAGE`` workflow commands (PR annotations), then a
    ``::notice`` with the count of every problem (GitHub shows only the first ten of a type per step)."""
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
    out.append(github_summary(report))
    return "\n".join(out) + "\n"


SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: Where the problem codes are documented: the README's table, at the heading "Problem codes".
CODES_ANCHOR = "problem-codes"


@functools.cache
def documentation() -> tuple[str, str] | None:
    """``(informationUri, the README's URL)`` of this toolkit, from where it was installed (PEP 610):
    a GitHub repository gives its README at the tag of this version; a local clone gives the
    README's ``file:`` URL. None when neither is known (installed from a wheel or an index)."""
    from . import __version__
    from .scaffold import _installed_url

    url, _ = _installed_url()
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname == "github.com":
        home = url.removesuffix("/").removesuffix(".git")
        return home, f"{home}/blob/v{__version__}/README.md"
    if parts.scheme == "file":
        folder = urllib.parse.unquote(parts.path)
        readme = os.path.join(folder, "README.md")
        if os.path.isfile(readme):
            return _file_uri(folder), _file_uri(readme)
    return None


def _file_uri(path: str) -> str:
    return "file://" + urllib.parse.quote(path.encode("utf-8", "surrogateescape"), safe="/")


def _short(meaning: str) -> str:
    """The first clause of a code's meaning: the title code scanning shows above an alert."""
    for stop in (" (", ": ", "; ", ", "):
        if stop in meaning:
            meaning = meaning.split(stop, 1)[0]
    return meaning[:1].upper() + meaning[1:]


def _markdown(text: str) -> str:
    """A code's meaning as Markdown: the `code` spans kept, ``* _ [ ] <`` outside them escaped."""
    pieces = text.split("`")
    for i in range(0, len(pieces), 2):
        for char in "\\*_[]<":
            pieces[i] = pieces[i].replace(char, "\\" + char)
    return "`".join(pieces)


def sarif_rule(code: str, level: str, docs: tuple[str, str] | None) -> dict[str, t.Any]:
    """The reportingDescriptor of one problem code, as GitHub code scanning wants it: a short and a
    full description, help as text and Markdown, and (when known) a link to the documented code."""
    meaning = CODES.get(code, code)
    where = f"{docs[1]}#{CODES_ANCHOR}" if docs else None
    seen = f" Every code is documented at {where}." if where else " `toolkit codes` lists every code."
    seen_md = f"\n\nEvery code: [the problem codes of records-toolkit]({where})." if where else ""
    rule: dict[str, t.Any] = {
        "id": code,
        "name": "".join(word.capitalize() for word in code.split("-")),
        "shortDescription": {"text": _short(meaning)},
        "fullDescription": {"text": f"{code}: {meaning}"},
        "help": {
            "text": f"{code}: {meaning}.{seen} `toolkit codes` prints the same list.",
            "markdown": f"**`{code}`**: {_markdown(meaning)}.{seen_md}\n\n`toolkit codes` prints the same list.",
        },
        "defaultConfiguration": {"level": level},
    }
    if where:
        rule["helpUri"] = where
    return rule


def _sarif_uri(file: str) -> str:
    """SARIF §3.10: a URI reference, not a raw path; a name's bytes as they are (RFC 3986 §2.1). A
    relative path stays relative (to the checkout: what code scanning matches), ``:`` encoded so
    that no first segment reads as a scheme; an absolute one is a ``file:`` URI."""
    if os.path.isabs(file):
        return _file_uri(file)
    return urllib.parse.quote(file.encode("utf-8", "surrogateescape"), safe="/")


def sarif(report: Report) -> str:
    """SARIF 2.1.0 (OASIS) for code-scanning dashboards, in the profile GitHub code scanning takes:
    one rule per problem code (descriptions, help, link to its documentation), every result with a
    region (a problem of a whole file at its line 1) and a fingerprint that survives moved lines."""
    from . import __version__

    docs = documentation()
    ordered = report.sorted()
    levels: dict[str, str] = {}
    for problem in ordered:
        levels.setdefault(problem.code, problem.severity)
    import hashlib  # (SARIF only: not at start-up)

    used = sorted(levels)
    index = {code: i for i, code in enumerate(used)}
    results = []
    for problem in ordered:
        region: dict[str, t.Any] = {"startLine": problem.line or 1}
        if problem.line is not None:
            region["startColumn"] = problem.column or 1
        identity = "\0".join((problem.code, problem.file, str(problem.document), problem.pointer, problem.message))
        fingerprint = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        results.append(
            {
                "ruleId": problem.code,
                "ruleIndex": index[problem.code],
                "level": problem.severity,
                "message": {"text": _utf8(problem.message)},
                "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": _sarif_uri(problem.file)}, "region": region}}
                ],
                "partialFingerprints": {"recordsToolkitProblem/v1": fingerprint},
                "properties": {"pointer": _utf8(problem.pointer)},
            }
        )
    driver: dict[str, t.Any] = {"name": "toolkit", "version": __version__, "semanticVersion": __version__}
    if docs:
        driver["informationUri"] = docs[0]
    driver["rules"] = [sarif_rule(code, levels[code], docs) for code in used]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Renderer] = {"text": text, "json": json_, "github": github, "sarif": sarif}


def problem_line(problem: Problem) -> str:
    """One problem as one line (for stderr notices of other commands)."""
    where = visible(_where(problem))
    return f"{where}: {problem.severity}: {visible(problem.message)} [{problem.code}]"
