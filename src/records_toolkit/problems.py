"""Problems are values: one per thing wrong, collected and rendered once at the edge.

Every problem has a stable ``code``; the catalogue :data:`CODES` is the single source for
the README's table and for ``toolkit codes``.
"""

from __future__ import annotations

import dataclasses
import typing as t

Severity = t.Literal["error", "warning"]

#: Stable problem codes, grouped by the stage that finds them. CI may filter on these.
CODES: dict[str, str] = {
    # loading (YAML and files)
    "file-unreadable": "the file or directory cannot be read (missing, permission, not a file)",
    "file-symlink": "a symbolic link in the tree: never followed (it could lead outside the tree)",
    "leftover-temp": "a .toolkit-tmp-* file or folder in the tree: left by an interrupted write (or planted); never read",
    "file-special": "a FIFO, socket or device named like a record file: never read",
    "no-records": "a directory given holds no *.yaml or *.yml file (a wrong path must not pass as valid)",
    "file-too-large": "the file is larger than the configured limit (default 16 MiB)",
    "encoding": "the file is not valid UTF-8 (reported at the first bad byte)",
    "yaml-syntax": "the YAML does not parse",
    "yaml-duplicate-key": "a mapping repeats a key (YAML 1.2.2 §3.2.1.1 forbids it)",
    "yaml-alias": "anchors, aliases and merge keys are refused (they hide content and allow expansion bombs)",
    "yaml-tag": "explicit tags (!!python/..., !!binary, !custom, ...) are refused",
    "yaml-not-mapping": "a document is not a mapping (every record is a mapping)",
    "yaml-key-type": "a mapping key is not a string",
    "yaml-too-deep": "values are nested deeper than the limit",
    "yaml-number": "a number JSON cannot hold exactly (infinite, or hundreds of digits long)",
    "yaml-too-many-items": "a list of more than 10,000 items or a mapping of more than 10,000 keys",
    "yaml-too-many-values": "a record of more than 100,000 values (keys, items and scalars counted together)",
    "yaml-too-many-documents": "a file of more than 10,000 documents (split it)",
    "out-of-memory": "the file could not be checked in the memory available (reported, never a traceback)",
    # schema
    "unknown-type": "the record's `type` is missing or not a known record type",
    "schema-required": "a required key is missing",
    "schema-unknown-key": "a key the schema does not allow (a typo must not pass silently)",
    "schema-type": "a value has the wrong JSON type",
    "schema-enum": "a value is not one of the allowed values",
    "schema-pattern": "a string does not have the required form",
    "schema-format": "a string is not a valid date, URL or other format",
    "schema-length": "a string, list or mapping is too short or too long",
    "schema-range": "a number is outside its allowed range",
    "schema-unique": "a list repeats an item",
    "schema-other": "any other schema rule",
    # collection rules
    "duplicate-id": "two records share an id (ids are unique across the collection)",
    "dangling-reference": "a reference names no record",
    "reference-type": "a reference names a record of a type that is not allowed there",
    "quote-not-found": "a quote does not appear verbatim in the cited article's text",
    "unsourced-fact": "a fact-bearing field (or, for a field supported value by value, one of its values) is not covered by any source's `supports`",
    "unknown-supported-field": "a source `supports` a field the record does not have",
    "unknown-supported-value": "a source `supports` one value of a field (`aliases: X`) that the field does not hold",
    "unattested-text": "an attested text value (an alias) whose every source has a quote, and no quote holds it",
    "date-order": "a date interval ends before it starts",
    "misplaced-record": "in a one-record-per-file collection, a record not at <type>s/<id>.yaml, or not alone in its file",
    # reporting
    "problems-truncated": "more than 1,000 problems in one file: the rest are counted, not reported",
    # formatting
    "text-not-block": "a warning of fmt: a multi-line text it must write as one quoted line (a line ends in white space)",
    "not-canonical": "the file is not in canonical form (`toolkit fmt` rewrites it)",
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong at one place. Renderers consume only this."""

    file: str
    line: int | None
    column: int | None
    pointer: str  # RFC 6901 JSON Pointer inside the document; "" is the whole document
    code: str
    message: str
    severity: Severity = "error"
    document: int = 0  # index of the YAML document inside a multi-document file

    def sort_key(self) -> tuple[str, int, int, int, str, str]:
        return (self.file, self.document, self.line or 0, self.column or 0, self.pointer, self.code)

    def to_json(self) -> dict[str, t.Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "pointer": self.pointer,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "document": self.document,
        }


@dataclasses.dataclass(slots=True)
class Report:
    """What one run found: every problem, how many files and records it read, and the valid records.

    ``valid`` holds the records in which no error was found, as plain dicts sorted by type and
    id (the order formats receive them in); it is filled by :func:`records_toolkit.validate`
    when asked, and stays empty otherwise.
    """

    problems: list[Problem] = dataclasses.field(default_factory=list)
    files: int = 0
    records: int = 0
    valid: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def sorted(self) -> list[Problem]:
        return sorted(self.problems, key=Problem.sort_key)

    def raise_for_problems(self) -> None:
        """Raise :class:`~records_toolkit.errors.InvalidRecords` (carrying this report) unless ok."""
        if not self.ok:
            from .errors import InvalidRecords

            raise InvalidRecords(self)


def pointer_join(pointer: str, token: str | int) -> str:
    """Append one reference token, escaped per RFC 6901 §3 (``~`` -> ``~0``, ``/`` -> ``~1``)."""
    if type(token) is str:
        if "~" not in token and "/" not in token:
            return f"{pointer}/{token}"  # nothing to escape: most keys
    elif type(token) is int:
        return f"{pointer}/{token}"  # a list index
    text = str(token).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{text}"


def pointer_tokens(pointer: str) -> list[str]:
    """Split an RFC 6901 pointer into unescaped tokens (§4: ``~1`` before ``~0``)."""
    if not pointer:
        return []
    return [tok.replace("~1", "/").replace("~0", "~") for tok in pointer.split("/")[1:]]
