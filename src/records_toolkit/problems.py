"""Problems are values: one per thing wrong, collected and rendered once at the edge.

Every problem has a stable ``code``; the catalogue :data:`CODES` is the single source for
the README's table and for ``toolkit codes``.
"""

from __future__ import annotations

import sys
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


class Value:
    """The base of the toolkit's small value classes, which behave as the dataclasses they were.

    Not dataclasses (issue 11): importing :mod:`dataclasses` (and :mod:`inspect` with it) and
    making a dataclass cost more than a one-file ``toolkit validate`` may spend on them. Each
    class lists its fields in ``_fields`` and writes its own ``__init__`` (its constructor is on
    hot paths); this gives what the dataclass generated from them: the repr
    (``Name(field=value, ...)``), equality (same class, equal fields), pickling (field values; the
    values go to worker processes and Dask), :meth:`replace` (:func:`dataclasses.replace`) and, in
    :class:`FrozenValue`, the hash and the refusal of changes. The functions of :mod:`dataclasses`
    (``fields``, ``asdict``, ``replace``) do not take them: use :meth:`replace`.
    """

    __slots__ = ()
    _fields: t.ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[t.Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __repr__(self) -> str:
        key = (id(self), _thread_id())
        if key in _REPRS:
            return "..."  # (the dataclass repr of a value that holds itself)
        _REPRS.add(key)
        try:
            fields = ", ".join([f"{name}={getattr(self, name)!r}" for name in self._fields])
        finally:
            _REPRS.discard(key)
        return f"{self.__class__.__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    # (__eq__ without __hash__: unhashable, as a dataclass that is not frozen; FrozenValue hashes)

    def __getstate__(self) -> tuple[t.Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[t.Any, ...]) -> None:
        for name, value in zip(self._fields, state):
            object.__setattr__(self, name, value)

    def replace(self, **changes: t.Any) -> t.Self:
        """A copy with ``changes`` (field names and their new values), as :func:`dataclasses.replace`."""
        values = dict(zip(self._fields, self._values()))
        values.update(changes)
        return t.cast(t.Any, self.__class__)(**values)  # type: ignore[no-any-return]

    __replace__ = replace  # (copy.replace, Python 3.13)


class FrozenValue(Value):
    """A :class:`Value` whose fields are set once: hashable (by its fields), and any change refused
    with the error a frozen dataclass raises."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._values())

    if not t.TYPE_CHECKING:  # (to the type checker, fields keep their declared types)

        def __setattr__(self, name, value):
            raise _frozen(f"cannot assign to field {name!r}")

        def __delattr__(self, name):
            raise _frozen(f"cannot delete field {name!r}")


def _frozen(text: str) -> AttributeError:
    """:class:`dataclasses.FrozenInstanceError` (an AttributeError) when :mod:`dataclasses` is loaded
    (code that catches it has imported it); a plain AttributeError otherwise."""
    dataclasses = sys.modules.get("dataclasses")
    return (dataclasses.FrozenInstanceError if dataclasses is not None else AttributeError)(text)


class _Factory:
    """The default of a field whose default is a new value (shown as a dataclass shows it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


FACTORY: t.Any = _Factory()
"""A new value each time: ``def __init__(self, items: list[X] = FACTORY)`` then ``[] if items is FACTORY``."""

_REPRS: set[tuple[int, int]] = set()  # the values whose repr is being made, with their threads
set_field = object.__setattr__  # (how a FrozenValue's __init__ sets its fields)


def _thread_id() -> int:
    import _thread  # (built in: free)

    return _thread.get_ident()


class Problem(FrozenValue):
    """One thing wrong at one place. Renderers consume only this."""

    __slots__ = ("code", "column", "document", "file", "line", "message", "pointer", "severity")
    _fields = ("file", "line", "column", "pointer", "code", "message", "severity", "document")
    __match_args__ = ()  # (keyword-only)

    file: str
    line: int | None
    column: int | None
    pointer: str  # RFC 6901 JSON Pointer inside the document; "" is the whole document
    code: str
    message: str
    severity: Severity
    document: int  # index of the YAML document inside a multi-document file

    def __init__(
        self,
        *,
        file: str,
        line: int | None,
        column: int | None,
        pointer: str,
        code: str,
        message: str,
        severity: Severity = "error",
        document: int = 0,
    ) -> None:
        set_field(self, "file", file)
        set_field(self, "line", line)
        set_field(self, "column", column)
        set_field(self, "pointer", pointer)
        set_field(self, "code", code)
        set_field(self, "message", message)
        set_field(self, "severity", severity)
        set_field(self, "document", document)

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


class Report(Value):
    """What one run found: every problem, how many files and records it read, and the valid records.

    ``valid`` holds the records in which no error was found, as plain dicts sorted by type and
    id (the order formats receive them in); it is filled by :func:`records_toolkit.validate`
    when asked, and stays empty otherwise.
    """

    __slots__ = ("files", "problems", "records", "valid")
    _fields = __match_args__ = ("problems", "files", "records", "valid")

    problems: list[Problem]
    files: int
    records: int
    valid: list[dict[str, t.Any]]

    def __init__(
        self,
        problems: list[Problem] = FACTORY,
        files: int = 0,
        records: int = 0,
        valid: list[dict[str, t.Any]] = FACTORY,
    ) -> None:
        self.problems = [] if problems is FACTORY else problems
        self.files = files
        self.records = records
        self.valid = [] if valid is FACTORY else valid

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
