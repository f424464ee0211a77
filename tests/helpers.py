"""Small helpers the test modules share: the shipped records, and checking hand-made records."""

from __future__ import annotations

import typing as t
from pathlib import Path

from records_toolkit.loader import Document
from records_toolkit.validate import Checker, check_paths

RECORDS = Path(__file__).resolve().parents[1] / "records"
SHIPPED = 44  # the shipped records, one per file (`toolkit validate records` must say so, tests/test_cli.py)
Record = dict[str, t.Any]


def by_key(records: t.Iterable[Record]) -> list[Record]:
    """Records in the order `toolkit export` hands them to a format: by type, then id."""
    return sorted(records, key=lambda r: (r["type"], r["id"]))


def shipped() -> list[Record]:
    """The shipped records, validated, in export order."""
    result = check_paths([RECORDS], keep=True)
    assert result.report.ok
    return by_key(t.cast(Record, d.data) for d in result.records)


def problems(records: list[Record]) -> list[str]:
    """What validation says of records that never touched a file (`pointer: message` each)."""
    checker = Checker()
    for index, record in enumerate(records):
        checker.add(Document(f"<test {index}>", 0, record))
    return [f"{p.pointer}: {p.message}" for p in checker.finish().report.problems]


def assert_valid(records: list[Record]) -> None:
    """Hand-made test records must be records the CLI would accept, or the test proves little."""
    found = problems(records)
    assert not found, found


def files_checked_here(monkeypatch: t.Any) -> list[str]:
    """The files :class:`Checker` checks in this process from now on (a run the result cache
    answers checks none), in order; ``monkeypatch`` undoes the count."""
    seen: list[str] = []
    real = Checker.add_file

    def counting(self: Checker, file: str, max_bytes: int) -> t.Any:
        seen.append(file)
        return real(self, file, max_bytes)

    monkeypatch.setattr(Checker, "add_file", counting)
    return seen
