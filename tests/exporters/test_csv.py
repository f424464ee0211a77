"""The CSV export and import, checked as a user meets them: the bytes (RFC 4180), Python's csv
module and Frictionless (parsers we did not write), the CLI round trip, the formula guard, and a
golden directory of the shipped records' export."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import tempfile
import typing as t
from pathlib import Path

import frictionless
import pytest
import yaml
from click.testing import CliRunner
from helpers import SHIPPED, assert_valid, by_key, shipped
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import collections, edtf

from records_toolkit import dates
from records_toolkit.cli import main
from records_toolkit.errors import InvalidSource
from records_toolkit.exporters.csv_ import EDTF_PATTERN, GUARD_TRIGGERS, PACKAGE, CsvFormat, guard, layout, unguard
from records_toolkit.plugins import Context, Format, Importer, load
from records_toolkit.schema_view import SchemaView
from records_toolkit.schemas import load_model, values_at

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "records"
GOLDEN = ROOT / "tests" / "golden" / "csv"
MODEL = load_model()
SCHEMA = SchemaView.of(MODEL)
RISKY = tuple(GUARD_TRIGGERS[:-1])  # = + - @ TAB CR: what a spreadsheet would execute

Record = dict[str, t.Any]


# -- helpers ---------------------------------------------------------------------------------------


def export(records: list[Record], cells: str = "guarded") -> dict[str, bytes]:
    return CsvFormat().export(records, Context.create({"cells": cells})).files


def write(files: dict[str, bytes], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def import_dir(directory: Path) -> list[Record]:
    return CsvFormat().import_records(directory, Context.create({"cells": "guarded"}))


def round_trip(records: list[Record], cells: str = "guarded") -> list[Record]:
    with tempfile.TemporaryDirectory() as tmp:
        return import_dir(write(export(records, cells), Path(tmp)))


def rows(data: bytes) -> list[list[str]]:
    """Read CSV bytes with the standard library, as RFC 4180 says (newline="" keeps CR LF in fields)."""
    assert not data.startswith(b"\xef\xbb\xbf"), "no BOM"
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def dicts(data: bytes) -> list[dict[str, str]]:
    header, *body = rows(data)
    return [dict(zip(header, row)) for row in body]


def package(files: dict[str, bytes]) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads(files[PACKAGE]))


def resource(files: dict[str, bytes], name: str) -> dict[str, t.Any]:
    (found,) = [r for r in package(files)["resources"] if r["name"] == name]
    return t.cast(dict[str, t.Any], found)


def field(files: dict[str, bytes], table: str, name: str) -> dict[str, t.Any]:
    (found,) = [f for f in resource(files, table)["schema"]["fields"] if f["name"] == name]
    return t.cast(dict[str, t.Any], found)


def frictionless_errors(directory: Path) -> list[str]:
    report = frictionless.validate(str(directory / PACKAGE))
    return [f"{task.name}: {error.type}: {error.note}" for task in report.tasks for error in task.errors] + [
        f"package: {error.type}: {error.note}" for error in report.errors
    ]


def source(article: str, quote: str, *supports: str) -> Record:
    return {"article": article, "quote": quote, "supports": list(supports)}


HOSTILE_TEXT = '=HYPERLINK("http://x","click"), then "quotes";\r\nCR LF\rCR alone\nLF alone'


def hostile() -> list[Record]:
    """A small valid collection with every cell hazard this format knows of."""
    quote = '-5 troops, said "someone"; +380 44 000'
    records: list[Record] = [
        {
            "id": "a1",
            "type": "article",
            "name": "=SUM(A1:A2)",
            "date_published": "2022-01-21?",
            "text": f"{quote}\n\n@handle Erdoğan 🪂",
            "notes": HOSTILE_TEXT,
            "sources": [source("a1", quote, "name", "date_published", "text")],
        },
        {
            "id": "p1",
            "type": "place",
            "name": "'quoted'",
            "kind": "city",
            "aliases": ["+1", "-", "@x", "Шуша"],
            "coordinates": {"latitude": -0.5, "longitude": 40},
            "sources": [
                {
                    "url": "https://x.example/a?q=1,2",
                    "title": "-title",
                    "supports": ["name", "kind", "aliases", "coordinates"],
                }
            ],
        },
        {
            "id": "e1",
            "type": "event",
            "name": "e",
            "kind": "other",
            "status": "planned",
            "date": "../2022-05",
            "participants": [{"ref": "p1"}, {"ref": "p1", "role": "=role"}],
            "sources": [
                source("a1", quote, "kind", "name", "status"),
                source("a1", "@handle Erdoğan 🪂", "date", "participants"),
            ],
        },
    ]
    assert_valid(records)
    return records


# -- the plugin as the CLI finds it -----------------------------------------------------------------


def test_registered_as_a_directory_format_that_imports() -> None:
    plugin = load("csv")
    assert isinstance(plugin, Format) and isinstance(plugin, Importer)
    assert (plugin.name, plugin.suffix, plugin.media_type, plugin.directory) == ("csv", ".csv", "text/csv", True)
    (option,) = plugin.options
    assert (option.name, option.default, option.choices) == ("cells", "guarded", ("guarded", "raw"))


def test_layout_has_one_main_table_per_type_and_link_tables_for_lists() -> None:
    names = {table.name for table in layout(SCHEMA)}
    assert {"articles", "persons", "organizations", "places", "events", "agreements"} <= names
    assert {
        "event_locations",
        "event_participants",
        "event_sources",
        "event_sources_supports",
        "person_aliases",
        "person_roles",
        "agreement_provisions",
        "article_authors",
    } <= names
    files = export(shipped())
    assert set(files) == {f"{name}.csv" for name in names} | {PACKAGE}


# -- golden directory ---------------------------------------------------------------------------------


def test_golden_directory_of_the_shipped_records(update_golden: bool) -> None:
    files = export(shipped())
    if update_golden:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for stale in GOLDEN.iterdir():
            if stale.name not in files:
                stale.unlink()
        write(files, GOLDEN)
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(files), "run pytest --update-golden and review the diff"
    for name, data in files.items():
        assert (GOLDEN / name).read_bytes() == data, f"{name} differs from the golden file"


# -- RFC 4180 bytes ---------------------------------------------------------------------------------


def test_rfc4180_crlf_quoting_and_doubled_quotes() -> None:
    files = export(hostile())
    data = files["articles.csv"]
    assert data.startswith(b"id,name,headline,date_published,publisher,url,language,text,")  # §2.3: a header
    assert data.endswith(b"\r\n")
    # §2.6-2.7: the field holding , " CR LF is quoted and its quotes doubled; CR and LF stay as they are.
    escaped = HOSTILE_TEXT.replace('"', '""')
    assert f'"\'{escaped}"'.encode() in data
    # §2.1: every record ends with CRLF; outside quoted fields there is no bare CR or LF.
    outside = re.sub(rb'"(?:[^"]|"")*"', b"", data)
    assert outside.count(b"\r\n") == 2 and outside.replace(b"\r\n", b"").count(b"\n") == 0
    assert b"\r" not in outside.replace(b"\r\n", b"")
    (row,) = dicts(data)
    assert row["notes"] == "'" + HOSTILE_TEXT
    assert data.decode("utf-8").count("🪂") == 1  # UTF-8, 4-byte characters written as they are


def test_header_row_follows_the_schemas_property_order() -> None:
    files = export(shipped())
    for table in layout(SCHEMA):
        header = rows(files[table.path])[0]
        assert header == [c.name for c in table.columns]
    info = MODEL.types["place"]
    main = rows(files["places.csv"])[0]
    order = [p for p in info.properties if p not in ("type", "aliases", "sources")]
    assert [next(p for p in order if column == p or column.startswith(p + "_")) for column in main] == sorted(
        [next(p for p in order if column == p or column.startswith(p + "_")) for column in main], key=order.index
    )


# -- round trip -----------------------------------------------------------------------------------------


@given(collections(), st.randoms(use_true_random=False))
def test_generated_collections_round_trip_exactly_in_rfc4180_guarded_deterministic_bytes(
    records: list[Record], random: t.Any
) -> None:
    """One property test draws the (costly) collections once and checks every promise on them."""
    guarded, raw = export(records, "guarded"), export(records, "raw")
    for table in layout(SCHEMA):
        # RFC 4180: every row has the header's field count, and re-writing what the csv module read with
        # an RFC 4180 writer gives the same bytes, so nothing else is in the file
        for files in (guarded, raw):
            parsed = rows(files[table.path])
            assert all(len(row) == len(parsed[0]) for row in parsed), table.name
            buffer = io.StringIO(newline="")
            csv.writer(buffer, lineterminator="\r\n").writerows(parsed)
            assert buffer.getvalue().encode("utf-8") == files[table.path], table.name
        # the guard: no text cell starts with = + - @ TAB CR unless guarded; unguard gives the raw cell
        text_columns = {c.name for c in table.columns if c.type == "string"}
        for safe, plain in zip(dicts(guarded[table.path]), dicts(raw[table.path]), strict=True):
            for name, cell in safe.items():
                if name in text_columns:
                    assert not cell.startswith(RISKY), (table.name, name, cell)
                    assert cell == guard(plain[name]) and unguard(cell) == plain[name]
                else:
                    assert cell == plain[name]  # numbers are left alone
    # import(export(c)) == c, whichever way the cells were written
    for files in (guarded, raw):
        with tempfile.TemporaryDirectory() as tmp:
            assert import_dir(write(files, Path(tmp))) == by_key(records)
    # deterministic: same bytes and file order for the same records in any order
    shuffled = copy.deepcopy(records)
    random.shuffle(shuffled)
    again = export(shuffled)
    assert again == guarded and list(again) == list(guarded)


def test_round_trip_keeps_hostile_text_float_bits_and_integers() -> None:
    records = hostile()
    records[1]["coordinates"] = {"latitude": 0.1 + 0.2, "longitude": 5e-324}
    back = round_trip(records)
    assert back == by_key(records)
    (place,) = [r for r in back if r["id"] == "p1"]
    assert place["coordinates"]["latitude"] == 0.30000000000000004
    assert type(round_trip(hostile())[2]["coordinates"]["longitude"]) is int  # a YAML 40 stays 40, not 40.0


def test_empty_cell_means_the_key_is_absent() -> None:
    records = hostile()
    files = export(records)
    (place,) = dicts(files["places.csv"])
    assert place["within"] == "" and place["description"] == ""  # absent keys: empty cells
    participants = dicts(files["event_participants.csv"])
    assert [p["role"] for p in participants] == ["", "'=role"]
    back = {r["id"]: r for r in round_trip(records)}
    assert "within" not in back["p1"] and "description" not in back["p1"] and "identifiers" not in back["p1"]
    assert back["e1"]["participants"] == [{"ref": "p1"}, {"ref": "p1", "role": "=role"}]
    # an absent list has no rows at all
    assert rows(files["event_locations.csv"]) == [["event_id", "position", "value"]]


def test_list_order_comes_from_position_not_from_row_order(tmp_path: Path) -> None:
    files = export(hostile())
    header, *body = files["place_aliases.csv"].split(b"\r\n")[:-1]
    files["place_aliases.csv"] = b"\r\n".join([header, *reversed(body)]) + b"\r\n"
    (place,) = [r for r in import_dir(write(files, tmp_path)) if r["id"] == "p1"]
    assert place["aliases"] == ["+1", "-", "@x", "Шуша"]


# -- the formula guard ---------------------------------------------------------------------------------


@given(st.text())
def test_guard_is_reversible_and_leaves_no_risky_first_character(text: str) -> None:
    guarded = guard(text)
    assert unguard(guarded) == text
    assert not guarded.startswith(RISKY)
    assert guarded == text or guarded == "'" + text


def test_guard_examples_and_numbers_left_alone() -> None:
    files = export(hostile())
    (article,) = dicts(files["articles.csv"])
    assert article["name"] == "'=SUM(A1:A2)"
    (place,) = dicts(files["places.csv"])
    assert place["name"] == "''quoted'"  # a leading ' is guarded too, so unguarding is exact
    assert (place["coordinates_latitude"], place["coordinates_longitude"]) == ("-0.5", "40")
    assert [a["value"] for a in dicts(files["place_aliases.csv"])] == ["'+1", "'-", "'@x", "Шуша"]
    raw = export(hostile(), "raw")
    assert dicts(raw["articles.csv"])[0]["name"] == "=SUM(A1:A2)"
    assert [a["value"] for a in dicts(raw["place_aliases.csv"])] == ["+1", "-", "@x", "Шуша"]


def test_the_guard_is_declared_in_the_data_package() -> None:
    guarded, raw = export(hostile()), export(hostile(), "raw")
    for table in layout(SCHEMA):
        declared = resource(guarded, table.name)
        assert declared["x-cells"] == "guarded"
        assert declared["x-cell-guard"]["prefix"] == "'"
        assert set(declared["x-cell-guard"]["triggers"]) == {"=", "+", "-", "@", "\t", "\r", "'"}
        assert set(declared["x-cell-guard"]["fields"]) == {c.name for c in table.columns if c.type == "string"}
        assert "formula-injection guard" in declared["description"]
        assert resource(raw, table.name)["x-cells"] == "raw" and "x-cell-guard" not in resource(raw, table.name)


# What spreadsheets still read as a formula after normalising the cell (issue 7): full-width and small
# forms (NFKC), U+2212, and any of them after leading white space or invisible format characters.
NORMALISED_FORMULAS = [
    "\uff1d1+1",  # ＝ FULLWIDTH EQUALS SIGN
    "\uff0b1",  # ＋
    "\uff0d1",  # －
    "\uff20SUM(A1)",  # ＠
    "\ufe661",  # ﹦ SMALL EQUALS SIGN
    "\u22121",  # − MINUS SIGN
    "\u200b=1+1",  # ZERO WIDTH SPACE
    "\u200d+1",  # ZERO WIDTH JOINER
    "\u200c-1",  # ZERO WIDTH NON-JOINER
    "\ufeff=1",  # BOM
    "\u2060\u200b\uff1d1",  # WORD JOINER, ZWSP, then full-width
    "\u00ad@x",  # SOFT HYPHEN (Cf)
    " =1",
    "\u00a0=1",
    "\u3000+1",
    "\n=1",
    "\x1c-1",
]
NOT_FORMULAS = ["a=1", "\u200bx", "\u200b", "1-2", "\uff41=", "Ｓ", "x\u2212"]


@pytest.mark.parametrize("text", NORMALISED_FORMULAS, ids=[ascii(t) for t in NORMALISED_FORMULAS])
def test_the_guard_covers_formulas_after_normalisation(text: str) -> None:
    assert guard(text) == "'" + text and unguard(guard(text)) == text


@pytest.mark.parametrize("text", NOT_FORMULAS, ids=[ascii(t) for t in NOT_FORMULAS])
def test_the_guard_leaves_other_text_alone(text: str) -> None:
    assert guard(text) == text


invisible = st.text(
    alphabet=st.sampled_from([" ", "\t", "\n", "\xa0", "\u3000", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]),
    max_size=4,
)


@given(invisible, st.sampled_from("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u2212"), st.text(max_size=8))
def test_any_invisible_start_before_a_formula_character_is_guarded(lead: str, sign: str, rest: str) -> None:
    text = lead + sign + rest
    assert guard(text).startswith("'") and unguard(guard(text)) == text


def test_normalised_formulas_round_trip_exactly_through_csv() -> None:
    """The records keep their exact text: the guard goes on in the export and comes off in the import."""
    records = hostile()
    valid = [t for t in NORMALISED_FORMULAS if t[0] not in " \n\xa0\u3000\x1c\ufeff"]  # a line has no leading space
    records[1]["aliases"] = [*records[1]["aliases"], *valid]
    files = export(records)
    cells = [a["value"] for a in dicts(files["place_aliases.csv"])]
    assert cells[4:] == ["'" + t for t in valid]
    assert round_trip(records) == by_key(records)
    declared = resource(files, "place_aliases")["x-cell-guard"]
    assert "NFKC" in declared["rule"] and "format" in declared["rule"]


def test_importer_follows_the_declaration_not_the_option(tmp_path: Path) -> None:
    directory = write(export(hostile(), "raw"), tmp_path)
    assert import_dir(directory) == by_key(hostile())  # options say guarded; the package says raw


# -- the data package, read by Frictionless ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(export(shipped()), tmp_path_factory.mktemp("csv"))


def test_frictionless_validates_the_shipped_export(shipped_export: Path) -> None:
    assert frictionless_errors(shipped_export) == []


def test_frictionless_reads_typed_values(shipped_export: Path) -> None:
    pkg = frictionless.Package(str(shipped_export / PACKAGE))
    places = {row["id"]: row for row in pkg.get_resource("places").read_rows()}
    assert float(places["kayseri"]["coordinates_latitude"]) == 38.7225
    assert places["algeria"]["coordinates_latitude"] is None  # empty cell: null, not 0 or ""
    events = {row["id"]: row for row in pkg.get_resource("events").read_rows()}
    assert events["eternity-2022"]["date"] == "2022"  # a year stays a year: not 2022-01-01
    positions = [row["position"] for row in pkg.get_resource("event_sources_supports").read_rows()]
    assert all(isinstance(p, int) for p in positions)


def test_frictionless_catches_a_broken_reference_and_a_non_edtf_date(shipped_export: Path, tmp_path: Path) -> None:
    files = {p.name: p.read_bytes() for p in shipped_export.iterdir()}
    files["event_locations.csv"] = files["event_locations.csv"].replace(b"efes-2022,1,izmir", b"efes-2022,1,nowhere")
    files["events.csv"] = files["events.csv"].replace(b"2022-05-09/2022-06-09", b"May 2022")
    errors = frictionless_errors(write(files, tmp_path))
    assert any(e.startswith("event_locations: foreign-key") for e in errors), errors
    assert any(e.startswith("events: constraint-error") and "pattern" in e for e in errors), errors


@settings(max_examples=min(settings().max_examples, 3))  # ~2 s per validation
@given(collections())
def test_frictionless_validates_generated_exports(records: list[Record]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assert frictionless_errors(write(export(records), Path(tmp))) == []


def test_package_declares_types_keys_and_foreign_keys() -> None:
    files = export(shipped())
    assert field(files, "places", "coordinates_latitude")["type"] == "number"
    assert field(files, "places", "coordinates_longitude")["constraints"] == {"minimum": -180, "maximum": 180}
    assert resource(files, "places")["schema"]["primaryKey"] == ["id"]
    supports = resource(files, "event_sources_supports")["schema"]
    assert supports["primaryKey"] == ["event_id", "sources_position", "position"]
    assert {
        "fields": ["event_id", "sources_position"],
        "reference": {"resource": "event_sources", "fields": ["event_id", "position"]},
    } in supports["foreignKeys"]
    locations = resource(files, "event_locations")["schema"]["foreignKeys"]
    assert {"fields": ["event_id"], "reference": {"resource": "events", "fields": ["id"]}} in locations
    assert {"fields": ["value"], "reference": {"resource": "places", "fields": ["id"]}} in locations
    sources = resource(files, "event_sources")["schema"]["foreignKeys"]
    assert {"fields": ["article"], "reference": {"resource": "articles", "fields": ["id"]}} in sources
    # a reference that may point to several types has no foreign key; its description says so
    participants = resource(files, "event_participants")["schema"]
    assert [fk["fields"] for fk in participants["foreignKeys"]] == [["event_id"]]
    ref = field(files, "event_participants", "ref")
    assert "person, organization or place" in ref["description"] and "no foreign key" in ref["description"]
    assert package(files)["resources"][0]["encoding"] == "utf-8"


def test_every_edtf_column_is_a_string_with_a_pattern() -> None:
    files = export(shipped())
    found = 0
    for table in layout(SCHEMA):
        for column in table.columns:
            declared = field(files, table.name, column.name)
            is_date = any(
                tuple(p for p in template if p != "*") == (*table.lists, *column.path)
                for template in MODEL.types[table.record_type].dates
            )
            if is_date:
                found += 1
                assert declared["type"] == "string" and declared["constraints"]["pattern"] == EDTF_PATTERN
                assert "EDTF" in declared["description"] and "a year stays a year" in declared["description"]
            assert declared["type"] != "date"
    assert found == 2  # article.date_published, event.date


@given(edtf())
def test_the_edtf_pattern_accepts_every_date_form(text: str) -> None:
    assert re.fullmatch(EDTF_PATTERN, text)


@given(st.text(alphabet="0123456789-/.?~%[]X ", max_size=24))
def test_the_edtf_pattern_accepts_only_what_looks_like_the_subset(text: str) -> None:
    if re.fullmatch(EDTF_PATTERN, text):
        try:
            dates.parse(text)
        except dates.EdtfError as exc:  # the pattern is the syntax; the calendar is checked by the toolkit
            assert "does not exist" in str(exc) or "has no day" in str(exc), text


@pytest.mark.parametrize("text", ["May 2022", "2022-1", "../..", "/", "22", "2022-01-21T10:00", "[2022,2023]"])
def test_the_edtf_pattern_rejects(text: str) -> None:
    assert not re.fullmatch(EDTF_PATTERN, text)


# -- bad input names file and line --------------------------------------------------------------------------


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    return write(export(hostile()), tmp_path / "in")


def expect_error(directory: Path, pattern: str) -> None:
    """The importer refuses, naming the file by the path the user can open (shown here relative)."""
    with pytest.raises(InvalidSource) as caught:
        import_dir(directory)
    message = str(caught.value)
    assert message.startswith(directory.as_posix() + "/"), message
    assert re.search(pattern, message.removeprefix(directory.as_posix() + "/")), (pattern, message)
    (problem,) = caught.value.problems
    assert problem.file.startswith(directory.as_posix() + "/") and message.startswith(problem.file)


def test_missing_file(exported: Path) -> None:
    (exported / "event_locations.csv").unlink()
    expect_error(exported, r"^event_locations\.csv: cannot read")


def test_a_cell_guard_that_is_not_a_list_of_names(exported: Path) -> None:
    package = json.loads((exported / PACKAGE).read_text("utf-8"))
    guarded = next(r for r in package["resources"] if r.get("x-cell-guard"))
    guarded["x-cell-guard"]["fields"] = [{}]
    (exported / PACKAGE).write_text(json.dumps(package), "utf-8")
    expect_error(exported, r"^datapackage\.json: resource '\w+': x-cell-guard\.fields must be a list of field names")


def test_missing_package(exported: Path) -> None:
    (exported / PACKAGE).unlink()
    expect_error(exported, r"datapackage\.json: cannot read: No such file")


def test_wrong_header(exported: Path) -> None:
    path = exported / "places.csv"
    path.write_bytes(path.read_bytes().replace(b"id,name,kind", b"id,kind,name", 1))
    expect_error(exported, r"^places\.csv:1: the header is \['id', 'kind', 'name'")


def test_bad_number_names_file_and_line(exported: Path) -> None:
    path = exported / "places.csv"
    path.write_bytes(path.read_bytes().replace(b",-0.5,40,", b",-0.5,forty,"))
    expect_error(exported, r"^places\.csv:2: coordinates_longitude: 'forty' is not a number")


def test_line_numbers_count_the_physical_lines_of_multi_line_fields(exported: Path) -> None:
    path = exported / "articles.csv"
    data = path.read_bytes()
    assert b"\r\n" in data.split(b"\r\n", 1)[1][:-2]  # row 2 spans several lines (the hostile notes)
    data += b"a2,x,,2022,,,,t,,,,,\r\n"  # 13 fields
    path.write_bytes(data)
    rest = data.replace(b"\r\n", b"")
    line = data.count(b"\r\n") + rest.count(b"\n") + rest.count(b"\r")
    assert line > 3
    expect_error(exported, rf"^articles\.csv:{line}: 13 fields; the header has 12")


def test_a_link_row_without_its_record(exported: Path) -> None:
    path = exported / "place_aliases.csv"
    path.write_bytes(path.read_bytes() + b"nowhere,1,x\r\n")
    expect_error(exported, r"^place_aliases\.csv:6: nowhere matches no row of places\.csv")


def test_duplicate_position(exported: Path) -> None:
    path = exported / "place_aliases.csv"
    path.write_bytes(path.read_bytes() + b"p1,2,again\r\n")
    expect_error(exported, r"^place_aliases\.csv:6: position 2 appears twice")


def test_not_utf8(exported: Path) -> None:
    path = exported / "persons.csv"
    path.write_bytes(path.read_bytes() + b"x,\xff\r\n")
    expect_error(exported, r"^persons\.csv:2: not UTF-8")


def test_unknown_resource(exported: Path) -> None:
    pkg = json.loads((exported / PACKAGE).read_text("utf-8"))
    pkg["resources"].append({"name": "extra", "path": "extra.csv"})
    (exported / PACKAGE).write_text(json.dumps(pkg), "utf-8")
    expect_error(exported, r"resources extra are not tables")


# -- the CLI, as a user runs it -----------------------------------------------------------------------------


def load_yaml_dir(directory: Path) -> list[Record]:
    found = [yaml.safe_load(p.read_text("utf-8")) for p in sorted(directory.rglob("*.yaml"))]
    return by_key(found)


def test_cli_export_import_validate_round_trip(runner: CliRunner, tmp_path: Path) -> None:
    out, back = tmp_path / "csv", tmp_path / "back"
    result = runner.invoke(main, ["export", "--format", "csv", str(RECORDS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(export(shipped()))
    assert (out / "events.csv").read_bytes() == export(shipped())["events.csv"]
    result = runner.invoke(main, ["import", "--format", "csv", str(out), "-o", str(back)])
    assert result.exit_code == 0, result.output
    assert f"wrote {SHIPPED} records" in result.output
    assert runner.invoke(main, ["validate", str(back)]).exit_code == 0
    assert load_yaml_dir(back) == load_yaml_dir(RECORDS)
    # the datapackage.json file works as SOURCE too
    again = tmp_path / "again"
    result = runner.invoke(main, ["import", "--format", "csv", str(out / PACKAGE), "-o", str(again)])
    assert result.exit_code == 0, result.output
    assert load_yaml_dir(again) == load_yaml_dir(RECORDS)


def test_cli_raw_cells(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    result = runner.invoke(main, ["export", "-F", "csv", str(RECORDS), "-o", str(out), "-O", "cells=raw"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / PACKAGE).read_text("utf-8"))["resources"][0]["x-cells"] == "raw"
    result = runner.invoke(main, ["export", "-F", "csv", str(RECORDS), "-o", str(out), "-O", "cells=maybe"])
    assert result.exit_code == 2 and "guarded, raw" in result.output


def test_cli_invalid_records_write_nothing(runner: CliRunner, tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    (records / "bad.yaml").write_text('id: "x"\ntype: "place"\nname: "X"\nkind: "planet"\nsources: []\n', "utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "places.csv").write_bytes(b"old\r\n")
    result = runner.invoke(main, ["export", "--format", "csv", str(records), "-o", str(out)])
    assert result.exit_code == 1
    assert "nothing written" in result.output
    assert [p.name for p in out.iterdir()] == ["places.csv"] and (out / "places.csv").read_bytes() == b"old\r\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_cli_directory_format_needs_an_output_directory(runner: CliRunner) -> None:
    result = runner.invoke(main, ["export", "--format", "csv", str(RECORDS)])
    assert result.exit_code == 2 and "-o DIR" in result.output


def test_cli_import_of_a_bad_file_names_file_and_line(runner: CliRunner, exported: Path, tmp_path: Path) -> None:
    path = exported / "places.csv"
    path.write_bytes(path.read_bytes().replace(b",-0.5,40,", b",-0.5,1e,"))
    back = tmp_path / "back"
    result = runner.invoke(main, ["import", "--format", "csv", str(exported), "-o", str(back)])
    assert result.exit_code == 1
    assert "places.csv:2: coordinates_longitude: '1e' is not a number" in result.output
    assert not back.exists()


def test_cli_import_of_invalid_records_writes_nothing(runner: CliRunner, exported: Path, tmp_path: Path) -> None:
    path = exported / "events.csv"
    path.write_bytes(path.read_bytes().replace(b",planned,", b",,"))  # status is required
    back = tmp_path / "back"
    result = runner.invoke(main, ["import", "--format", "csv", str(exported), "-o", str(back)])
    assert result.exit_code == 1 and "status" in result.output
    assert not back.exists()


def test_golden_imports_back_to_the_shipped_records() -> None:
    assert import_dir(GOLDEN) == shipped()
    for record in shipped():  # and the imported values are those of the YAML, date strings untouched
        for template in MODEL.types[record["type"]].dates:
            for _, value in values_at(record, template):
                assert isinstance(value, str)


# -- a schema's own shapes: booleans, values of no one type, lists with prefixItems ------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    # (text the YAML loader and the guard care about: formulas, quotes, commas, line breaks, non-ASCII)
    | st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("=+-@,\"'\n"), max_size=8
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("abcxyz", min_size=1, max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def own_schemas(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped schemas, the place's with a boolean, a property of any value and a list whose
    items are typed by place (``prefixItems``, then ``items: false``: a boolean schema)."""
    schemas = tmp_path_factory.mktemp("own") / "schemas"
    import shutil

    shutil.copytree(ROOT / "schemas", schemas)
    place = json.loads((schemas / "place.schema.json").read_text(encoding="utf-8"))
    place["properties"]["verified"] = {"type": "boolean", "description": "checked on a map"}
    place["properties"]["extra"] = {"description": "anything"}
    place["properties"]["pair"] = {
        "type": "array",
        "prefixItems": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "string"}],
        "items": False,
    }
    place["properties"]["maps"] = {"type": "array", "items": {"type": "object"}}  # (open: any keys)
    place["properties"]["meta"] = {"type": "object", "properties": {"a": {"type": "string"}}}  # (open too)
    place["properties"]["grid"] = {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}
    (schemas / "place.schema.json").write_text(json.dumps(place), encoding="utf-8")
    return str(schemas)


def _own_place(**values: t.Any) -> Record:
    return {"id": "kayseri", "type": "place", "name": "Kayseri", "kind": "city", **values}


def test_a_boolean_is_a_table_schema_boolean_and_a_value_of_no_one_type_is_its_json_text(
    own_schemas: str, tmp_path: Path
) -> None:
    """Never a Python spelling in a cell (``True``, ``{'a': 'b'}``: a hostile tester's finding with
    a schema of his own): a boolean column of ``true``/``false``, and a value the schema gives no
    one scalar type (no ``type``; each item of a ``prefixItems`` list) as its JSON text, declared
    so; frictionless reads them typed, and the import gives back the very values."""
    context = Context.create({"cells": "guarded"}, schema_dir=own_schemas)
    record = _own_place(verified=True, extra={"x": 1, "y": [1.5, None, "=1+1"]}, pair=[{"a": "b"}, "c"])
    files = CsvFormat().export([record, _own_place(id="izmir", verified=False)], context).files
    places = rows(files["places.csv"])
    header = places[0]
    assert places[2][header.index("verified")] == "true" and places[1][header.index("verified")] == "false"
    assert places[2][header.index("extra")] == '{"x":1,"y":[1.5,null,"=1+1"]}'
    assert places[1][header.index("extra")] == ""  # (absent)
    assert rows(files["place_pair.csv"])[1:] == [["kayseri", "1", '{"a":"b"}'], ["kayseri", "2", '"c"']]
    fields = {f["name"]: f for r in json.loads(files[PACKAGE])["resources"] for f in r["schema"]["fields"]}
    assert fields["verified"]["type"] == "boolean" and fields["extra"]["type"] == "any"
    assert "JSON text" in fields["extra"]["description"]
    out = write(files, tmp_path / "csv")
    package = frictionless.Package(str(out / PACKAGE))
    assert frictionless.validate(str(out / PACKAGE)).valid
    read = {row["id"]: row for row in package.get_resource("places").read_rows()}
    assert read["kayseri"]["verified"] is True and read["izmir"]["verified"] is False
    assert json.loads(read["kayseri"]["extra"]) == record["extra"]
    back = CsvFormat().import_records(out, context)
    assert [r for r in back if r["id"] in ("kayseri", "izmir")] == [
        _own_place(id="izmir", verified=False),
        record,
    ]


@settings(max_examples=40, deadline=None)
@given(
    extra=json_values,
    items=st.lists(json_values, min_size=1, max_size=3),  # (an empty list is no rows: absent)
    maps=st.lists(
        st.dictionaries(st.text("abc", min_size=1, max_size=2), json_values, max_size=3), min_size=1, max_size=2
    ),
    meta=st.dictionaries(st.text("abz", min_size=1, max_size=2), json_values, max_size=3),
    grid=st.lists(st.lists(st.integers(-5, 5), max_size=3), min_size=1, max_size=3),
)
def test_any_json_value_of_a_column_of_no_one_type_round_trips(
    own_schemas: str,
    extra: t.Any,
    items: list[t.Any],
    maps: list[dict[str, t.Any]],
    meta: dict[str, t.Any],
    grid: t.Any,
) -> None:
    """Null, booleans, numbers, text (formulas, quotes, line breaks), lists and mappings: each
    comes back as it was, a null as null (not as an absent key), through the CSV bytes; so do
    open mappings (keys no column names: a hostile tester's items of ``{"type": "object"}`` came
    back empty) and lists of lists, as JSON text."""
    context = Context.create({"cells": "guarded"}, schema_dir=own_schemas)
    record = context.schema.types["place"].ordered(  # (canonical: keys in order)
        _own_place(extra=extra, pair=items, maps=maps, meta=meta, grid=grid)
    )
    files = CsvFormat().export([record], context).files
    with tempfile.TemporaryDirectory() as tmp:
        back = CsvFormat().import_records(write(files, Path(tmp)), context)
    assert back == [record]
    assert json.dumps(back, allow_nan=False) == json.dumps([record], allow_nan=False)  # (1 stays 1, not 1.0)


def test_a_bad_cell_of_a_boolean_or_json_column_names_file_and_line(own_schemas: str, tmp_path: Path) -> None:
    context = Context.create({"cells": "guarded"}, schema_dir=own_schemas)
    files = CsvFormat().export([_own_place(verified=True, extra=[1])], context).files
    for bad, said in (("True,[1]", "verified: 'True' is not true or false"), ("true,[1", "extra: '[1' is not JSON")):
        out = write({**files, "places.csv": files["places.csv"].replace(b"true,[1]", bad.encode())}, tmp_path / bad)
        with pytest.raises(InvalidSource) as caught:
            CsvFormat().import_records(out, context)
        (problem,) = caught.value.problems
        assert problem.file == f"{out.as_posix()}/places.csv" and problem.line == 2 and said in problem.message
