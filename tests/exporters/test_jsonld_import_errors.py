"""The JSON-LD importer refuses bad input at its place: file:line:column and a JSON Pointer.

Three faults a hostile review found: refusals of a node's content came without a place (and
quoted Python dict reprs), hand edits of derived values (addresses, a state's name as an actor)
imported and were silently lost, and a repeated JSON key was read (the last one won).
"""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from records_toolkit import api
from records_toolkit.cli import main
from records_toolkit.errors import InvalidSource
from records_toolkit.exporters import Unreadable, json_pointer, json_position, parse_json

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The export of the shipped records, made once."""
    path = tmp_path_factory.mktemp("exported") / "records.jsonld"
    api.export([ROOT / "records"], "jsonld", to=path)
    return path.read_text(encoding="utf-8")


def place_of(text: str, needle: str, after: int = 0, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the ``nth`` ``needle`` in ``text`` (plus ``after`` characters)."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += after
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


def refusal(tmp_path: Path, text: str) -> t.Any:
    """The one Problem of the import of ``text`` (it must be refused)."""
    path = tmp_path / "records.jsonld"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidSource) as caught:
        api.import_records(path, "jsonld")
    (problem,) = caught.value.problems
    assert problem.file == path.as_posix()
    assert f"{path.as_posix()}:{problem.line}:{problem.column}: " in str(caught.value)
    assert "{'" not in problem.message and "['" not in problem.message, "no Python repr in a message"
    return problem


def edited(text: str, old: str, new: str, nth: int = 0) -> str:
    index = -1
    for _ in range(nth + 1):
        index = text.index(old, index + 1)
    return text[:index] + new + text[index + len(old) :]


# -- 1. node-level refusals are placed -------------------------------------------------------------


def test_an_event_status_that_disagrees_is_refused_at_the_event_status(shipped_text: str, tmp_path: Path) -> None:
    old = '"eventStatus": {\n        "@id": "http://schema.org/EventScheduled"'
    text = edited(shipped_text, old, old.replace("EventScheduled", "EventCancelled"))
    problem = refusal(tmp_path, text)
    assert "eventStatus does not agree with the status 'took-place'" in problem.message
    assert (problem.line, problem.column) == place_of(
        text, old.replace("Scheduled", "Cancelled"), len('"eventStatus": ')
    )
    assert re.fullmatch(r"/@graph/\d+/eventStatus", problem.pointer)


def test_a_missing_record_id_is_refused_at_the_identifier(shipped_text: str, tmp_path: Path) -> None:
    text = re.sub(r'"identifier": "[^"]*"', '"identifier": 7', shipped_text, count=1)
    problem = refusal(tmp_path, text)
    assert "no record id in `identifier`" in problem.message
    assert (problem.line, problem.column) == place_of(text, '"identifier": 7', len('"identifier": '))
    assert problem.pointer == "/@graph/0/identifier"


def test_an_address_of_another_type_is_refused_in_plain_words(shipped_text: str, tmp_path: Path) -> None:
    text = edited(shipped_text, '"@type": "PostalAddress"', '"@type": "PostalAdress"')
    problem = refusal(tmp_path, text)
    assert "the address has @type 'PostalAdress': not a PostalAddress this format writes" in problem.message
    assert (problem.line, problem.column) == place_of(text, '"PostalAdress"')
    assert problem.pointer.endswith("/address/@type")


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ('"@type": "NewsArticle"', '"@type": "BlogPosting"', '"BlogPosting"', "BlogPosting"),
        ('"@type": "NewsArticle"', '"@type": ["NewsArticle"]', '["NewsArticle"]', "@type a list of 1 value is not one"),
        ('"inLanguage": "en"', '"inLanguage": "en", "mentions": "x"', '"mentions"', "cannot read mentions"),
        ('"termCode": "high"', '"termCode": {"x": 1}', '{"x": 1}', "expected a plain value, not an object with x"),
        (
            '"sameAs": "https://www.wikidata.org/wiki/Q',
            '"sameAs": "https://example.org/Q',
            '"https://example.org/Q',
            "Wikidata",
        ),
        ('"@type": "GeoCoordinates"', '"@type": "Place"', "{", "geo must be GeoCoordinates, not a Place object with"),
    ],
)
def test_every_refusal_of_a_node_names_its_line_and_column(
    shipped_text: str, tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = edited(shipped_text, old, new)
    problem = refusal(tmp_path, text)
    assert message in problem.message
    assert problem.line is not None and problem.column is not None and problem.pointer.startswith("/@graph/")
    if needle != "{":
        assert (problem.line, problem.column) == place_of(text, needle)


def test_a_reference_to_no_node_is_placed_at_the_reference(shipped_text: str, tmp_path: Path) -> None:
    text = edited(
        shipped_text, '"author": [\n        {\n          "@id": "', '"author": [\n        {\n          "@id": "x'
    )
    problem = refusal(tmp_path, text)
    assert "an object with @id is not a reference to a node of the graph" in problem.message
    assert re.fullmatch(r"/@graph/\d+/author/0", problem.pointer)
    assert (problem.line, problem.column) == place_of(text, '"author": [\n        {', len('"author": [\n        '))


def test_the_command_line_names_file_line_and_column(shipped_text: str, tmp_path: Path) -> None:
    text = re.sub(r'"identifier": "[^"]*"', '"identifier": 7', shipped_text, count=1)
    source = tmp_path / "records.jsonld"
    source.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "-f", "jsonld", str(source), "-o", str(tmp_path / "out")])
    line, column = place_of(text, '"identifier": 7', len('"identifier": '))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{source.as_posix()}:{line}:{column}: " in result.output and "no record id" in result.output
    assert not (tmp_path / "out").exists()


# -- 2. derived values: an edit that would be lost is refused --------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"addressLocality": "İzmir"',
            '"addressLocality": "Ankara"',
            "addressLocality 'Ankara' does not agree with the place's within chain, which gives 'İzmir': "
            "the export writes it from the place records: edit the place records, not the address",
        ),
        (
            '"addressCountry": "Algeria"',
            '"addressCountry": "Algérie"',
            "addressCountry 'Algérie' does not agree with the place's within chain, which gives 'Algeria'",
        ),
        (
            '"addressCountry": "Algeria"',
            '"addressCountry": "Algeria", "addressRegion": "Maghreb"',
            "addressRegion 'Maghreb' is not in the place's within chain, which names no region",
        ),
    ],
)
def test_an_edited_address_is_refused_at_the_edited_value(
    shipped_text: str, tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = edited(shipped_text, old, new)
    problem = refusal(tmp_path, text)
    assert message in problem.message
    value = new.rsplit(": ", 1)[1]
    assert (problem.line, problem.column) == place_of(text, value)
    assert re.fullmatch(r"/@graph/\d+/address/address(Locality|Country|Region)", problem.pointer)


def test_a_removed_address_part_or_address_is_refused(shipped_text: str, tmp_path: Path) -> None:
    old = '"addressCountry": "Türkiye",\n        "addressLocality": "İzmir"'
    text = edited(shipped_text, old, '"addressLocality": "İzmir"')
    problem = refusal(tmp_path, text)
    assert "the address has no addressCountry, but the place's within chain gives 'Türkiye'" in problem.message
    assert problem.pointer.endswith("/address")
    node = json.loads(shipped_text)["@graph"]
    index = next(i for i, n in enumerate(node) if n.get("address", {}).get("addressLocality") == "İzmir")
    assert problem.pointer == f"/@graph/{index}/address"
    document = json.loads(shipped_text)
    del document["@graph"][index]["address"]
    problem = refusal(tmp_path, json.dumps(document, indent=2, ensure_ascii=False))
    assert "no address, but the place's within chain gives" in problem.message
    assert problem.pointer == f"/@graph/{index}"


def test_an_edited_name_of_a_state_as_an_actor_is_refused(shipped_text: str, tmp_path: Path) -> None:
    old = '"name": "Türkiye"\n'  # a GovernmentOrganization (its last key: no comma)
    text = edited(shipped_text, old, '"name": "Ankara"\n')
    problem = refusal(tmp_path, text)
    assert (
        "the GovernmentOrganization's name 'Ankara' does not agree with the name of the place turkey" in problem.message
    )
    assert "'Türkiye'" in problem.message and "edit the place records" in problem.message
    assert (problem.line, problem.column) == place_of(text, '"name": "Ankara"', len('"name": '))
    assert re.fullmatch(r"/@graph/\d+/\w+/\d+(/attendee)?/name", problem.pointer)


def test_an_edited_area_served_country_is_refused_too(shipped_text: str, tmp_path: Path) -> None:
    """The wrapper points at another place than it names: that place's name is what it should say."""
    document = json.loads(shipped_text)
    ids = {node["identifier"]: node["@id"] for node in document["@graph"]}
    for node in document["@graph"]:
        for agent in node.get("organizer", []):
            if agent.get("@type") == "GovernmentOrganization" and agent["name"] == "Türkiye":
                agent["areaServed"] = {"@id": ids["azerbaijan"]}
                break
        else:
            continue
        break
    problem = refusal(tmp_path, json.dumps(document, indent=2, ensure_ascii=False))
    assert "name 'Türkiye' does not agree with the name of the place azerbaijan" in problem.message


# -- 3. repeated keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key", "needle", "nth"),
    [
        ('"name": "İzmir"', '"name": "İzmir", "name": "Ankara"', "name", '"name": "Ankara"', 0),
        ('"name": "İzmir"', '"name": "İzmir", "na\\u006de": "Ankara"', "name", '"na\\u006de"', 0),
        ('"@graph": [', '"@graph": [], "@graph": [', "@graph", '"@graph"', 1),
        ('"@context": {', '"@context": {"@vocab": "x", ', "@vocab", '"@vocab"', 1),
    ],
)
def test_a_repeated_key_is_refused_at_the_repeat(
    shipped_text: str, tmp_path: Path, old: str, new: str, key: str, needle: str, nth: int
) -> None:
    text = edited(shipped_text, old, new)
    problem = refusal(tmp_path, text)
    assert problem.message == (
        f"a JSON object repeats the key {key!r} (RFC 8259 §4: names should be unique; this import refuses repeats)"
    )
    assert (problem.line, problem.column) == place_of(text, needle, nth=nth)


def test_parse_json_refuses_the_first_repeat_in_the_text() -> None:
    text = '{"a": {"x": 1, "y": 2},\n "b": [{"k": 1}, {"k": 2, "q": {"z": 0, "z": 1}, "k": 3}]}'
    with pytest.raises(Unreadable, match="repeats the key 'z'") as caught:
        parse_json(text)
    assert (caught.value.line, caught.value.column, caught.value.pointer) == (
        2,
        *place_of(text, '"z": 1')[1:],
        "/b/1/q",
    )
    assert parse_json('{"a": {"k": 1}, "b": {"k": 1}}') == {"a": {"k": 1}, "b": {"k": 1}}  # one per object


def test_csv_data_package_repeated_key_is_refused(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    api.export([ROOT / "records"], "csv", to=tables)
    package = tables / "datapackage.json"
    text = package.read_text(encoding="utf-8")
    package.write_text(text.replace("{", '{"title": "x", "title": "y", ', 1), encoding="utf-8")
    with pytest.raises(InvalidSource, match="repeats the key 'title'") as caught:
        api.import_records(tables, "csv")
    assert (caught.value.problems[0].line, caught.value.problems[0].column) == (1, 16)


# -- the position finder ----------------------------------------------------------------------------


def test_json_position_finds_keys_and_values() -> None:
    text = '{"a": [1, {"b": "x\\"]}", "c": [true, null]}], "d\\u0041": {}, "e/~": "z"}'
    assert text[json_position(text, ("a", 1, "c", 1)) or 0 :].startswith("null")
    assert text[json_position(text, ("a", 1, "b")) or 0 :].startswith('"x\\"]}"')
    assert text[json_position(text, ("dA",), key=True) or 0 :].startswith('"d\\u0041"')
    assert json_position(text, ()) == 0 and json_position(text, ("zz",)) is None
    assert json_pointer(("@graph", 3, "e/~")) == "/@graph/3/e~1~0"
