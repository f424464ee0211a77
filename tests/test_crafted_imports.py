"""Crafted import sources (issue 7): invalid data at its place, exit 1, nothing written, no traceback.

Each case is an export of the shipped records with one hostile change: a lone surrogate, a NUL in
an id, values nested hundreds or thousands of levels deep, a file over the 16 MiB limit, a
symbolic link (to a file that holds a secret), a FIFO (which would block a reader forever), a huge
number. The refusal names the file (and its line and column where the importer can know them),
and never prints what lies behind a link.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from records_toolkit import api
from records_toolkit.cli import main
from records_toolkit.errors import InvalidData, InvalidSource, UsageError
from records_toolkit.loader import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[1]
SECRET = "TOP-SECRET-TOKEN-4711"
FIRST_PLACE = "algeria"  # the first row of places.csv in the shipped export

pytestmark = pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="POSIX file semantics")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the CSV directory, the JSON-LD file) of the shipped records, made once."""
    base = tmp_path_factory.mktemp("exported")
    api.export([ROOT / "records"], "csv", to=base / "tables")
    api.export([ROOT / "records"], "jsonld", to=base / "records.jsonld")
    return base / "tables", base / "records.jsonld"


@pytest.fixture
def tables(exported: tuple[Path, Path], tmp_path: Path) -> Path:
    target = tmp_path / "tables"
    target.mkdir()
    for file in exported[0].iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


@pytest.fixture
def jsonld(exported: tuple[Path, Path], tmp_path: Path) -> Path:
    target = tmp_path / "records.jsonld"
    target.write_bytes(exported[1].read_bytes())
    return target


@pytest.fixture
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file outside every source directory that must never be read through a link."""
    path = tmp_path_factory.mktemp("outside") / "secret.csv"
    path.write_text(f"{SECRET}\n{SECRET}\n", encoding="utf-8")
    return path


def refused(source: Path, fmt: str, *where: str) -> str:
    """Import through the command line: exit 1, nothing written, the message names ``where``; the report."""
    out = source.parent / "imported"
    result = CliRunner(catch_exceptions=False).invoke(main, ["import", "-f", fmt, str(source), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not out.exists(), "an import that fails writes nothing"
    for part in where:
        assert part in result.output, (part, result.output)
    assert SECRET not in result.output
    return result.output


def edit_json(path: Path, change: str, to: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert change in text
    path.write_text(text.replace(change, to, 1), encoding="utf-8")


def position(path: Path, needle: str, after: int = 0) -> str:
    """``FILE:LINE:COL`` of the first ``needle`` in the file (plus ``after`` characters), as JSON decoders count."""
    text = path.read_text(encoding="utf-8")
    index = text.index(needle) + after
    line = text.count("\n", 0, index) + 1
    return f"{path.as_posix()}:{line}:{index - text.rfind(chr(10), 0, index)}"


#: A record's value sits three levels down: the document, its @graph, the node. The refusal points
#: at the bracket that opens level 101.
FIRST_TOO_DEEP = 100 - 3


def append_row(table: Path, cells: list[str]) -> None:
    with table.open("a", encoding="utf-8", newline="") as stream:
        stream.write(",".join(cells) + "\r\n")


def place_row(tables: Path, **cells: str) -> list[str]:
    header = (tables / "places.csv").read_bytes().decode("utf-8").split("\r\n")[0].split(",")
    row = {"id": "x", "name": "X", "kind": "city", **cells}
    return [row.get(name, "") for name in header]


# -- JSON-LD ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "to"),
    [
        ('"identifier": "', '"identifier": "\\ud800'),  # an id
        ('"name": "', '"name": "x\\udfff'),  # a low half alone
        ('"name": "', '"name": "x\\ud83d\\u0041'),  # a high half before a non-surrogate
        ('"@graph"', '"@graph\\udbff"'),  # a key
    ],
)
def test_jsonld_lone_surrogate_is_refused_at_its_place(jsonld: Path, change: str, to: str) -> None:
    edit_json(jsonld, change, to)
    bad = to.split("\\u")[1][:4]
    report = refused(jsonld, "jsonld", "lone surrogate")
    assert position(jsonld, "\\u" + bad) in report


def test_jsonld_surrogate_pairs_are_text(jsonld: Path) -> None:
    """A proper pair (an emoji written as two escapes) is not a lone surrogate. (The place is
    renamed wherever the export writes its name: its address too, or the import refuses it.)"""
    text = jsonld.read_text(encoding="utf-8")
    assert text.count('"Algeria"') == 2  # the place's name and its address's addressCountry
    jsonld.write_text(text.replace('"Algeria"', '"\\ud83e\\ude82 Algeria"'), encoding="utf-8")
    records = api.import_records(jsonld, "jsonld")
    assert any(r["name"] == "\U0001fa82 Algeria" for r in records)


def test_jsonld_nul_in_an_id_is_invalid_data(jsonld: Path) -> None:
    edit_json(jsonld, '"identifier": "', '"identifier": "a\\u0000')
    refused(jsonld, "jsonld", "/id", "lowercase letters")


@pytest.mark.parametrize("depth", [150, 900, 5000, 100_000])
def test_jsonld_deep_nesting_is_refused_at_its_place(jsonld: Path, depth: int) -> None:
    edit_json(jsonld, '"name": "Algeria"', '"name": ' + "[" * depth + "]" * depth)
    refused(jsonld, "jsonld", "nested deeper than 100 levels", position(jsonld, "[" * depth, FIRST_TOO_DEEP) + ":")


def test_jsonld_over_the_size_limit_is_refused_before_reading(jsonld: Path) -> None:
    with jsonld.open("r+b") as stream:
        stream.truncate(MAX_FILE_BYTES + 1)  # sparse: the size says it all, nothing is read
    refused(jsonld, "jsonld", jsonld.as_posix(), "the limit for an import is 16777216 bytes")


@pytest.mark.parametrize("fmt", ["jsonld", "csv"])
def test_an_export_larger_than_the_limit_imports_with_the_limit_raised(
    fmt: str, jsonld: Path, tables: Path, tmp_path: Path
) -> None:
    """The limit is the user's to raise: an export over it (the JSON-LD of 10,000 records is 39 MB,
    over the 16 MiB default) is refused with how to go on, and imports with ``--max-file-size``."""
    source = jsonld if fmt == "jsonld" else tables
    largest = max(p.stat().st_size for p in ([source] if source.is_file() else source.iterdir()))
    runner = CliRunner(catch_exceptions=False)
    small = runner.invoke(
        main, ["import", "-f", fmt, str(source), "-o", str(tmp_path / "a"), "--max-file-size", "1000"]
    )
    assert small.exit_code == 1 and not (tmp_path / "a").exists() and "Traceback" not in small.output
    assert "the limit for an import is 1000 bytes: raise it (toolkit import --max-file-size N)" in small.output
    assert "(toolkit export --parts N)" in small.output
    done = runner.invoke(
        main, ["import", "-f", fmt, str(source), "-o", str(tmp_path / "b"), "--max-file-size", str(largest)]
    )
    assert done.exit_code == 0, done.output
    assert api.import_records(source, fmt, max_file_size=largest) == api.import_records(source, fmt)
    with pytest.raises(InvalidSource, match="the limit for an import is 1000 bytes"):
        api.import_records(source, fmt, max_file_size=1000)
    with pytest.raises(UsageError, match="max_file_size=0"):
        api.import_records(source, fmt, max_file_size=0)


def test_jsonld_a_50_mb_text_is_refused(jsonld: Path) -> None:
    edit_json(jsonld, '"name": "', '"name": "' + "x" * (17 * 1024 * 1024))
    refused(jsonld, "jsonld", "the limit for an import")


def test_jsonld_source_that_is_a_symlink_is_not_read(jsonld: Path, secret: Path) -> None:
    link = jsonld.with_name("link.jsonld")
    link.symlink_to(secret)
    refused(link, "jsonld", link.as_posix(), "symbolic link")


def run_with_timeout(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A real process: a FIFO that blocks must fail the test by timing out, not hang the suite."""
    code = "from records_toolkit.cli import run; import sys; sys.argv = ['toolkit', *sys.argv[1:]]; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_jsonld_source_that_is_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "records.jsonld"
    os.mkfifo(fifo)
    done = run_with_timeout(["import", "-f", "jsonld", str(fifo), "-o", str(tmp_path / "out")], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "FIFO" in done.stderr and fifo.as_posix() in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


# -- CSV ----------------------------------------------------------------------------------------------


def test_csv_nul_in_an_id_is_invalid_data(tables: Path) -> None:
    append_row(tables / "places.csv", place_row(tables, id="a\x00b"))
    refused(tables, "csv", "/id")


def test_csv_nul_in_a_text_cell_is_invalid_data(tables: Path) -> None:
    append_row(tables / "places.csv", place_row(tables, name="a\x00b"))
    refused(tables, "csv")


@pytest.mark.parametrize("depth", [150, 5000, 100_000])
def test_csv_deep_nesting_in_the_data_package_is_refused_at_its_place(tables: Path, depth: int) -> None:
    package = tables / "datapackage.json"
    edit_json(package, '"name": "records"', '"name": "records", "x": ' + "[" * depth + "]" * depth)
    refused(tables, "csv", f"{package.as_posix()}:2:", "nested deeper than 100 levels")


@pytest.mark.parametrize("escape", ["\\ud800", "\\udcff", "\\u0000"])
def test_csv_resource_path_that_is_no_file_name_is_refused(tables: Path, escape: str) -> None:
    edit_json(tables / "datapackage.json", '"path": "places.csv"', f'"path": "pl{escape}aces.csv"')
    refused(tables, "csv", tables.as_posix())


def test_csv_lone_surrogate_anywhere_in_the_package_is_refused(tables: Path) -> None:
    package = tables / "datapackage.json"
    edit_json(package, '"title": "', '"title": "\\ud800')
    refused(tables, "csv", position(package, "\\ud800"), "lone surrogate")


def test_csv_table_over_the_size_limit_is_refused_before_reading(tables: Path) -> None:
    with (tables / "places.csv").open("r+b") as stream:
        stream.truncate(MAX_FILE_BYTES + 1)
    refused(tables, "csv", (tables / "places.csv").as_posix(), "the limit for an import is 16777216 bytes")


def test_csv_a_17_mib_text_cell_is_refused(tables: Path) -> None:
    append_row(tables / "places.csv", place_row(tables, name="x" * (17 * 1024 * 1024)))
    refused(tables, "csv", (tables / "places.csv").as_posix(), "the limit for an import")


def test_csv_data_package_over_the_size_limit_is_refused(tables: Path) -> None:
    with (tables / "datapackage.json").open("r+b") as stream:
        stream.truncate(MAX_FILE_BYTES + 1)
    refused(tables, "csv", (tables / "datapackage.json").as_posix(), "the limit for an import")


def test_csv_huge_number_is_refused_at_its_line(tables: Path) -> None:
    append_row(tables / "places.csv", place_row(tables, coordinates_latitude="9" * 5000))
    lines = (tables / "places.csv").read_bytes().count(b"\r\n")
    refused(tables, "csv", f"{(tables / 'places.csv').as_posix()}:{lines}", "coordinates_latitude")


def test_csv_table_that_is_a_symlink_is_not_read(tables: Path, secret: Path) -> None:
    (tables / "places.csv").unlink()
    (tables / "places.csv").symlink_to(secret)
    refused(tables, "csv", (tables / "places.csv").as_posix(), "symbolic link")


def test_csv_table_linked_inside_the_directory_is_not_read_either(tables: Path) -> None:
    """Simplest policy, as for records trees: no link is followed, wherever it leads."""
    (tables / "copy.csv").write_bytes((tables / "places.csv").read_bytes())
    (tables / "places.csv").unlink()
    (tables / "places.csv").symlink_to("copy.csv")
    refused(tables, "csv", "symbolic link")


def test_csv_data_package_that_is_a_symlink_is_not_read(tables: Path, secret: Path) -> None:
    package = tables / "datapackage.json"
    package.unlink()
    package.symlink_to(secret)
    refused(tables, "csv", package.as_posix(), "symbolic link")
    refused(package, "csv", package.as_posix(), "symbolic link")  # named directly too


def test_csv_resource_path_through_a_linked_directory_is_not_read(tables: Path, secret: Path) -> None:
    (tables / "sub").symlink_to(secret.parent, target_is_directory=True)
    edit_json(tables / "datapackage.json", '"path": "places.csv"', '"path": "sub/secret.csv"')
    refused(tables, "csv", "sub/secret.csv", "symbolic link")


def test_csv_resource_path_into_a_real_subdirectory_still_works(tables: Path) -> None:
    (tables / "sub").mkdir()
    (tables / "places.csv").rename(tables / "sub" / "places.csv")
    edit_json(tables / "datapackage.json", '"path": "places.csv"', '"path": "sub/places.csv"')
    assert any(r["id"] == FIRST_PLACE for r in api.import_records(tables, "csv"))


def test_csv_source_directory_given_as_a_link_is_the_users_choice(tables: Path, tmp_path: Path) -> None:
    link = tmp_path / "chosen"
    link.symlink_to(tables, target_is_directory=True)
    assert api.import_records(link, "csv") == api.import_records(tables, "csv")


def test_csv_table_that_is_a_fifo_is_not_read(tables: Path) -> None:
    (tables / "places.csv").unlink()
    os.mkfifo(tables / "places.csv")
    done = run_with_timeout(["import", "-f", "csv", str(tables), "-o", str(tables.parent / "out")], tables.parent)
    assert done.returncode == 1, done.stderr
    assert "FIFO" in done.stderr and (tables / "places.csv").as_posix() in done.stderr
    assert "Traceback" not in done.stderr and not (tables.parent / "out").exists()


def test_csv_table_that_is_a_directory_is_refused(tables: Path) -> None:
    (tables / "places.csv").unlink()
    (tables / "places.csv").mkdir()
    refused(tables, "csv", (tables / "places.csv").as_posix())


# -- the API raises only the toolkit's errors -----------------------------------------------------------


def test_api_raises_only_invalid_data_for_crafted_sources(jsonld: Path, tables: Path) -> None:
    edit_json(jsonld, '"name": "Algeria"', '"name": ' + "[" * 3000 + "]" * 3000)
    with pytest.raises(InvalidSource) as caught:
        api.import_records(jsonld, "jsonld")
    (problem,) = caught.value.problems
    assert f"{problem.file}:{problem.line}:{problem.column}" == position(jsonld, "[" * 3000, FIRST_TOO_DEEP)
    package = tables / "datapackage.json"
    doc = json.loads(package.read_text(encoding="utf-8"))
    doc["resources"][0]["path"] = ["a.csv", "b.csv"]  # Frictionless multipart paths: not this format's
    package.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InvalidData):
        api.import_records(tables, "csv")
