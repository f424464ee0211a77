"""The CSV export as a data engineer loads it: pandas and DuckDB, no glue code but the README's recipe.

What the libraries do *by default* with these files (pandas 3.1, DuckDB 2.0), pinned by the
``test_defaults_*`` tests below:

* pandas guesses every column from its cells: a column that is empty in every row becomes float64,
  an EDTF column holding only years becomes int64 (``2022``), an alias ``007`` becomes ``7``, and
  the text ``NA``, ``N/A``, ``null``, ``None``, ``nan`` ... becomes NaN (``na_values``).
* DuckDB sniffs the dialect and the types: an EDTF column of days becomes DATE, one of years
  BIGINT, a longitude written ``17`` BIGINT; and with ``-O cells=raw`` a cell ``'quoted'`` in a
  file without ``"``-quoted cells makes the sniffer take ``'`` as the quote character and drop the
  apostrophes. (The default guarded export writes such a cell ``''quoted'``, which the sniffer
  rejects as a quote: the guard happens to protect it.)

So the recipe reads the types from ``datapackage.json`` (the only input besides the CSV files),
takes only an empty cell as missing (Table Schema ``missingValues: [""]``) and, for DuckDB, pins
the dialect the package declares. :func:`read_with_pandas` and :func:`read_with_duckdb` are the
README's code, line for line. The formula guard is a value matter, not a type matter: export with
``-O cells=raw`` for pipelines, or strip one leading ``'`` from the fields ``x-cell-guard`` lists
(:func:`unguard_pandas`).
"""

from __future__ import annotations

import csv
import json
import tempfile
import typing as t
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from helpers import assert_valid, shipped
from hypothesis import given, settings
from strategies import collections

from records_toolkit.cli import main
from records_toolkit.exporters.csv_ import CsvFormat
from records_toolkit.plugins import Context

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "records"

Record = dict[str, t.Any]


# -- the recipe (README) ----------------------------------------------------------------------------

PANDAS_TYPES = {"string": "string", "integer": "Int64", "number": "float64"}
DUCKDB_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE"}


def files(directory: Path, resource: dict[str, t.Any]) -> list[str]:
    """A table's files: one, or its parts in order (``--parts N``: each part has the header row)."""
    paths = resource["path"] if isinstance(resource["path"], list) else [resource["path"]]
    return [str(directory / path) for path in paths]


def read_with_pandas(directory: Path) -> dict[str, t.Any]:
    import pandas as pd

    package = json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))
    return {
        r["name"]: pd.concat(
            [
                pd.read_csv(
                    path,
                    keep_default_na=False,
                    na_values=[""],
                    dtype={f["name"]: PANDAS_TYPES[f["type"]] for f in r["schema"]["fields"]},
                )
                for path in files(directory, r)
            ],
            ignore_index=True,
        )
        for r in package["resources"]
    }


def read_with_duckdb(directory: Path, con: t.Any) -> None:
    package = json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))
    for r in package["resources"]:
        types = {f["name"]: DUCKDB_TYPES[f["type"]] for f in r["schema"]["fields"]}
        con.execute(
            f"""CREATE TABLE "{r["name"]}" AS SELECT * FROM read_csv(?, header = true,
                        delim = ',', quote = '"', escape = '"', types = ?)""",
            [files(directory, r), types],
        )


def unguard_pandas(frames: dict[str, t.Any], directory: Path) -> None:
    package = json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))
    for r in package["resources"]:
        if r.get("x-cells") == "guarded":
            for name in r["x-cell-guard"]["fields"]:
                frames[r["name"]][name] = frames[r["name"]][name].str.removeprefix(r["x-cell-guard"]["prefix"])


# -- helpers ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pd() -> t.Any:
    return pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def duckdb() -> t.Any:
    return pytest.importorskip("duckdb")


def cli_export(records: Path, out: Path, *options: str) -> Path:
    result = CliRunner(catch_exceptions=False).invoke(
        main, ["export", "--format", "csv", *options, str(records), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def write_records(records: list[Record], directory: Path) -> Path:
    for record in records:
        path = directory / f"{record['type']}s" / f"{record['id']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(record, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return directory


def package(directory: Path) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads((directory / "datapackage.json").read_text(encoding="utf-8")))


def declared(directory: Path) -> dict[str, dict[str, str]]:
    """{table: {column: Table Schema type}}."""
    return {r["name"]: {f["name"]: f["type"] for f in r["schema"]["fields"]} for r in package(directory)["resources"]}


def cells(directory: Path) -> dict[str, list[tuple[t.Any, ...]]]:
    """Every table as Python's csv module reads it, typed by the package: the oracle."""
    convert = {"string": str, "integer": int, "number": float}
    result = {}
    for r in package(directory)["resources"]:
        kinds = [convert[f["type"]] for f in r["schema"]["fields"]]
        with open(directory / r["path"], encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        result[r["name"]] = [tuple(None if c == "" else k(c) for k, c in zip(kinds, row)) for row in rows]
    return result


def pandas_rows(pd: t.Any, frame: t.Any) -> list[tuple[t.Any, ...]]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False, name=None)]


def assert_pandas_types(pd: t.Any, frames: dict[str, t.Any], types: dict[str, dict[str, str]]) -> None:
    assert frames.keys() == types.keys()
    for table, columns in types.items():
        frame = frames[table]
        assert list(frame.columns) == list(columns), table
        for column, kind in columns.items():
            dtype = frame[column].dtype
            ok = {
                "string": pd.api.types.is_string_dtype,
                "integer": pd.api.types.is_integer_dtype,
                "number": pd.api.types.is_float_dtype,
            }[kind](dtype)
            assert ok and not (kind == "string" and dtype is object), (table, column, kind, dtype)


def assert_duckdb_types(con: t.Any, types: dict[str, dict[str, str]]) -> None:
    for table, columns in types.items():
        got = {name: kind for name, kind, *_ in con.execute(f'DESCRIBE "{table}"').fetchall()}
        assert got == {c: DUCKDB_TYPES[k] for c, k in columns.items()}, table


# -- the shipped records ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cli_export(RECORDS, tmp_path_factory.mktemp("csv"))


def test_pandas_recipe_reads_the_shipped_export_with_the_declared_types(pd: t.Any, shipped_export: Path) -> None:
    frames = read_with_pandas(shipped_export)
    assert_pandas_types(pd, frames, declared(shipped_export))
    places = frames["places"].set_index("id")
    assert places.loc["kayseri", "coordinates_latitude"] == 38.7225
    assert isinstance(places.loc["kayseri", "coordinates_latitude"], float)
    assert pd.isna(places.loc["algeria", "coordinates_latitude"])  # empty cell: missing, not 0
    assert pd.isna(places.loc["algeria", "identifiers_url"])
    assert places.loc["armenia", "identifiers_wikidata"] == "Q399"
    events = frames["events"].set_index("id")
    assert events.loc["eternity-2022", "date"] == "2022"  # a year stays a string, not 2022 or 2022-01-01
    assert events.loc["efes-2022", "date"] == "2022-05-09/2022-06-09"
    assert events.loc["parachute-course-113-kayseri", "date"] == "[..2022-01-21]"
    assert frames["articles"]["date_published"].tolist() == ["2022-01-21"]
    assert frames["article_aliases"].empty and pd.api.types.is_integer_dtype(frames["article_aliases"]["position"])
    joined = (
        frames["event_locations"][frames["event_locations"]["event_id"] == "efes-2022"]
        .merge(frames["places"], left_on="value", right_on="id")
        .sort_values("position")
    )
    assert joined["name"].tolist() == ["İzmir", "Seferihisar"]
    assert pandas_rows(pd, frames["events"]) == cells(shipped_export)["events"]


def test_duckdb_recipe_reads_the_shipped_export_with_the_declared_types(duckdb: t.Any, shipped_export: Path) -> None:
    con = duckdb.connect()
    read_with_duckdb(shipped_export, con)
    assert_duckdb_types(con, declared(shipped_export))
    (lat,) = con.execute("SELECT coordinates_latitude FROM places WHERE id = 'kayseri'").fetchone()
    assert lat == 38.7225 and isinstance(lat, float)
    assert con.execute("SELECT coordinates_latitude, identifiers_url FROM places WHERE id = 'algeria'").fetchone() == (
        None,
        None,
    )
    assert con.execute("SELECT date FROM events WHERE id = 'eternity-2022'").fetchone() == ("2022",)
    assert con.execute("SELECT date FROM events WHERE id = 'parachute-course-113-kayseri'").fetchone() == (
        "[..2022-01-21]",
    )
    assert con.execute("SELECT date_published FROM articles").fetchall() == [("2022-01-21",)]  # not a DATE
    names = con.execute("""SELECT p.name FROM events e JOIN event_locations l ON l.event_id = e.id
                           JOIN places p ON p.id = l.value WHERE e.id = 'efes-2022' ORDER BY l.position""").fetchall()
    assert names == [("İzmir",), ("Seferihisar",)]
    supports = sum(len(s["supports"]) for r in shipped() if r["type"] == "event" for s in r["sources"])
    assert supports > 100 and con.execute("SELECT count(*) FROM event_sources_supports").fetchone() == (supports,)
    expected = cells(shipped_export)
    for table in expected:
        assert con.execute(f'SELECT * FROM "{table}"').fetchall() == expected[table], table


# -- what the defaults do, on records that trip them ------------------------------------------------


def _source(record: Record) -> list[Record]:
    facts = sorted(k for k in record if k not in ("id", "type", "sources", "description", "notes"))
    return [{"url": "https://x.example/", "title": "t", "supports": facts}]


def tricky() -> list[Record]:
    """Valid records whose cells a guessing reader gets wrong."""
    records: list[Record] = [
        {"id": "a1", "type": "article", "name": "=SUM(A1:A2)", "date_published": "2022-01-21", "text": "it's"},
        {
            "id": "namibia",
            "type": "place",
            "name": "Namibia",
            "kind": "country",
            "aliases": ["NA"],
            "coordinates": {"latitude": -22.0, "longitude": 17},
            "description": "None",
        },
        {"id": "nowhere", "type": "place", "name": "null", "kind": "city", "aliases": ["'quoted'", "N/A"]},
        {
            "id": "e1",
            "type": "event",
            "name": "e",
            "kind": "other",
            "status": "planned",
            "date": "2022",
            "aliases": ["1992"],
            "locations": ["namibia"],
        },
        {
            "id": "e2",
            "type": "event",
            "name": "-5 troops",
            "kind": "other",
            "status": "planned",
            "date": "2021",
            "aliases": ["007"],
            "locations": ["nowhere", "namibia"],
        },
    ]
    for record in records:
        record["sources"] = _source(record)
    assert_valid(records)
    return records


@pytest.fixture(scope="module")
def tricky_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    source = write_records(tricky(), tmp_path_factory.mktemp("records"))
    return {
        cells: cli_export(source, tmp_path_factory.mktemp(cells), "-O", f"cells={cells}")
        for cells in ("guarded", "raw")
    }


def test_defaults_pandas_guesses_types_and_missing_values(pd: t.Any, tricky_exports: dict[str, Path]) -> None:
    """Why the recipe exists; if a pandas release stops guessing, the recipe is still right."""
    directory = tricky_exports["raw"]
    events = pd.read_csv(directory / "events.csv")
    assert events["date"].tolist() == [2022, 2021] and pd.api.types.is_integer_dtype(events["date"])
    assert pd.api.types.is_float_dtype(events["agreement"])  # empty in every row
    assert pd.read_csv(directory / "event_aliases.csv")["value"].tolist() == [1992, 7]  # "007"
    places = pd.read_csv(directory / "places.csv").set_index("id")
    assert pd.isna(places.loc["nowhere", "name"]) and pd.isna(places.loc["namibia", "description"])  # "null", "None"
    assert pd.read_csv(directory / "place_aliases.csv")["value"].isna().sum() == 2  # "NA", "N/A"


def test_defaults_duckdb_sniffs_dates_integers_and_the_quote(duckdb: t.Any, tricky_exports: dict[str, Path]) -> None:
    directory = tricky_exports["raw"]

    def types(name: str) -> dict[str, str]:
        rel = duckdb.read_csv(str(directory / name))
        return dict(zip(rel.columns, map(str, rel.types)))

    assert types("articles.csv")["date_published"] == "DATE"
    assert types("events.csv")["date"] == "BIGINT"
    assert types("places.csv")["coordinates_longitude"] == "BIGINT"
    aliases = duckdb.sql(f"SELECT value FROM '{directory / 'place_aliases.csv'}' ORDER BY place_id, position")
    assert ("quoted",) in aliases.fetchall()  # the sniffer took ' for the quote character: data lost


@pytest.mark.parametrize("mode", ["guarded", "raw"])
def test_recipes_read_tricky_cells_exactly(
    pd: t.Any, duckdb: t.Any, tricky_exports: dict[str, Path], mode: str
) -> None:
    directory = tricky_exports[mode]
    expected = cells(directory)
    frames = read_with_pandas(directory)
    con = duckdb.connect()
    read_with_duckdb(directory, con)
    assert_pandas_types(pd, frames, declared(directory))
    assert_duckdb_types(con, declared(directory))
    for table in expected:
        assert pandas_rows(pd, frames[table]) == expected[table], table
        assert con.execute(f'SELECT * FROM "{table}"').fetchall() == expected[table], table
    guard = "'" if mode == "guarded" else ""
    assert con.execute("SELECT value FROM place_aliases ORDER BY place_id, position").fetchall() == [
        ("NA",),
        (guard + "'quoted'",),
        ("N/A",),
    ]
    assert con.execute("SELECT name, description FROM places ORDER BY id").fetchall() == [
        ("Namibia", "None"),
        ("null", None),
    ]
    assert con.execute("SELECT date FROM events ORDER BY id").fetchall() == [("2022",), ("2021",)]
    assert frames["event_aliases"]["value"].tolist() == ["1992", "007"]
    assert frames["places"]["coordinates_longitude"].tolist()[0] == 17.0
    unguard_pandas(frames, directory)
    raw = read_with_pandas(tricky_exports["raw"])
    for table in raw:
        assert pandas_rows(pd, frames[table]) == pandas_rows(pd, raw[table]), table
    assert frames["articles"]["name"].tolist() == ["=SUM(A1:A2)"]


# -- generated collections --------------------------------------------------------------------------


@settings(max_examples=min(settings().max_examples, 5))
@given(collections())
def test_recipes_read_generated_raw_exports_exactly(records: list[Record]) -> None:
    pd = pytest.importorskip("pandas")
    duckdb = pytest.importorskip("duckdb")
    files = CsvFormat().export(records, Context.create({"cells": "raw"})).files
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name, data in files.items():
            (directory / name).write_bytes(data)
        expected = cells(directory)
        frames = read_with_pandas(directory)
        con = duckdb.connect()
        read_with_duckdb(directory, con)
        assert_duckdb_types(con, declared(directory))
        assert_pandas_types(pd, frames, declared(directory))
        for table in expected:
            assert pandas_rows(pd, frames[table]) == expected[table], table
            assert con.execute(f'SELECT * FROM "{table}"').fetchall() == expected[table], table
        con.close()


def test_the_recipes_read_a_partitioned_export_as_the_single_one(pd: t.Any, duckdb: t.Any, tmp_path: Path) -> None:
    single = cli_export(RECORDS, tmp_path / "single")
    parted = cli_export(RECORDS, tmp_path / "parted", "--parts", "4")
    assert any(isinstance(r["path"], list) and len(r["path"]) == 4 for r in package(parted)["resources"])
    one, four = read_with_pandas(single), read_with_pandas(parted)
    assert one.keys() == four.keys()
    for name in one:
        pd.testing.assert_frame_equal(one[name], four[name])
    a, b = duckdb.connect(), duckdb.connect()
    read_with_duckdb(single, a)
    read_with_duckdb(parted, b)
    for name in one:
        assert a.execute(f'SELECT * FROM "{name}"').fetchall() == b.execute(f'SELECT * FROM "{name}"').fetchall()
