"""JSON-LD 1.1 with the schema.org vocabulary: one document, every record a node of ``@graph``.

The document is written for two readers: search engines and other schema.org consumers (Google's
NewsArticle and Event profiles), and our own importer, which reads it back into the very same
records (``import(export(c)) == c``). So every record field is carried, each in a schema.org term
used within its ``domainIncludes`` and ``rangeIncludes`` (the tests check every triple against the
published vocabulary, release 30.0, with subclass inference: no violation in the shipped records).

Choices (and why):

* ``@context`` is embedded by default: an inline object, so the file expands (pyld) and parses
  (rdflib) with no network at all (JSON-LD 1.1 §3.1). It is a verbatim subset of the official
  schema.org context (release 29.0, ``schemaorgcontext.jsonld``; schema.org is CC BY-SA 3.0):
  the ``http://schema.org/`` vocabulary, ``url``/``sameAs``/``mainEntityOfPage``/``isPartOf``
  coerced to IRIs, ``datePublished``/``startDate``/``endDate`` typed ``schema:Date`` (§4.2.3).
  ``-O context=remote`` writes ``"@context": "https://schema.org"`` instead, the form web pages
  use; since the inline context repeats the official definitions, both forms give the same RDF.
  We use the official ``http://schema.org/`` IRIs for that reason (not ``https://``).
* ``@id`` of a record: ``<base><type>/<id>``, absolute and stable (§4.9 ``@graph``); the default
  base is ``https://records-toolkit.example/records/`` (``.example`` is reserved, RFC 2606, so the
  IRIs never point at anyone's site); set another with ``-O base=https://example.org/records/``.
  References are ``{"@id": ...}`` node references; the record id is also in ``identifier``, so
  the importer does not depend on the base.
* Types: article NewsArticle; person Person; organization GovernmentOrganization (ministry,
  government, armed forces, military unit), NewsMediaOrganization (outlet, agency) or
  Organization; place Country, City, AdministrativeArea (region, district) or Place, with
  GeoCoordinates; event EducationEvent (training course) or Event. schema.org has no Agreement:
  an agreement is a CreativeWork with ``genre`` = its kind, ``sourceOrganization`` = the parties
  (on whose behalf it was made), ``accountablePerson`` = the signatories (who answer for it by
  signing), ``hasPart`` = one CreativeWork per provision (described, not quoted), ``url`` = its
  text. The signing event is ``about`` the agreement (first item) and names it in ``workFeatured``.
* Event status: planned and took-place are both ``EventScheduled`` (schema.org has no "happened";
  EventScheduled is the usual value for an event that was not cancelled or moved), cancelled is
  ``EventCancelled``; the exact status is kept as a coded keyword (below). The enumeration is
  written as an IRI ``{"@id": "http://schema.org/EventScheduled"}``, not as a string literal.
* Coded values schema.org has no property for (``kind`` but for agreements, an event's exact
  ``status``, the exact EDTF date) are ``keywords`` (domain CreativeWork, Event, Organization,
  Place; range DefinedTerm): a DefinedTerm whose ``termCode`` is the value and whose
  ``inDefinedTermSet`` is the JSON Schema property that defines the codes, e.g.
  ``https://records-toolkit.example/schemas/event.schema.json#/properties/status`` (the schemas'
  own ``$id``). ``additionalProperty`` is not used: its domain is Place, Product and a few more.
* Dates keep their precision (formats.md §3, §5): ``2022``, ``2022-01``, ``2022-01-21`` are
  ISO 8601 reduced precision and go to ``datePublished``/``startDate`` as they are; an interval
  gives ``startDate``/``endDate`` for the ends it has. EDTF-only parts never become dates: a
  qualifier (``?~%``) is dropped from the ISO value, open/unknown ends give no value, and
  ``[..D]``/``[D..]`` give none at all. Whenever the ISO values do not say exactly the EDTF, the
  EDTF string is kept as a keyword in the set of the record's date property.
* Sources are works about the record: ``subjectOf`` (domain Thing; the inverse of ``about``, so
  in RDF each source is ``about`` the record it supports). A Quotation (``text``, ``isPartOf``
  the article) for a quote, a CreativeWork (``url``, ``name``) for an outside source, and for an
  outside page's own words a Quotation whose ``isPartOf`` is that CreativeWork; ``note`` is its
  ``description``; each ``supports`` entry, then the ``confidence``, is a DefinedTerm keyword
  (sets ``defs.schema.json#/$defs/source/properties/supports`` and ``.../confidence``). The
  editors' ``notes`` are a Comment (``text``) about the record, after the sources. (``citation``
  is not used: its domain is CreativeWork, and a mirror page is not cited by the article.)
  ``identifiers.wikidata`` is ``sameAs`` ``https://www.wikidata.org/wiki/Q…``; ``identifiers.url``
  is ``url``, or ``mainEntityOfPage`` for articles and agreements, whose ``url`` is their own.
* Participants are ``attendee``: a Role with ``roleName`` when the record gives a role, else the
  value itself. The other references are in ``_FIELDS`` below (organizers ``organizer``,
  part_of ``superEvent``, within ``containedInPlace``, ...). Where a record names a state by its
  place record as an actor (a country as organizer, attendee or party: ranges Person or
  Organization), the value is the state's government: ``{"@type": "GovernmentOrganization",
  "areaServed": <the place>, "name": <the place's name>}``, a blank node that names nothing the
  records do not (a country as a location stays the Place).
* A place has the ``address`` its records give: a PostalAddress whose ``addressLocality`` is the
  first city or district up the ``within`` chain (the place itself first), ``addressRegion`` the
  first region, ``addressCountry`` the first country (its name); none when the chain names none.
  It is derived, so the importer derives it again from the records it read and refuses a
  written one that differs (and so the name of a state as an actor): an edit there would be lost.
  A place is renamed in its node and wherever the export repeats its name, or in the records.
* Google's profiles: a NewsArticle has ``headline`` only when the record carries its published
  ``headline`` (``name`` is a label, never sent as a headline); an Event has ``name``, a
  ``startDate`` as precise as the record, and ``location`` Places with their address.
* Lists stay JSON arrays in record order (the importer reads the JSON); RDF consumers see sets.
* Bytes: UTF-8, keys sorted, two-space indent, graph sorted by ``@id``, a final newline; ``<`` is
  written ``\\u003c`` so the document can be pasted into an HTML ``<script>`` (JSON-LD 1.1 §7.2).
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import re
import typing as t
from pathlib import Path

from records_toolkit import dates
from records_toolkit.errors import InvalidSource, OptionError
from records_toolkit.exporters import (
    Unreadable,
    brief,
    json_pointer,
    json_position,
    open_directory,
    parse_json,
    read_source,
)
from records_toolkit.plugins import Context, Exported, Option, Part, Record, Slice, Writable, invalid_source

if t.TYPE_CHECKING:
    from records_toolkit.schema_view import SchemaView

SCHEMA = "http://schema.org/"
DEFAULT_BASE = "https://records-toolkit.example/records/"
REMOTE_CONTEXT = "https://schema.org"
FILE_NAME = "records.jsonld"
WIKIDATA = "https://www.wikidata.org/wiki/"
# What a document may say for "the schema.org context" (never fetched: recognised by its URL).
SCHEMA_ORG_CONTEXTS = frozenset(
    f"{scheme}://schema.org{path}" for scheme in ("http", "https") for path in ("", "/", "/docs/jsonldcontext.jsonld")
)

# Terms the export uses, each defined exactly as in the official context (release 29.0).
_COERCED = {
    "inDefinedTermSet": "@id",
    "datePublished": "Date",
    "startDate": "Date",
    "endDate": "Date",
    "url": "@id",
    "sameAs": "@id",
    "mainEntityOfPage": "@id",
    "isPartOf": "@id",
}
_PROPERTIES = (
    "about",
    "accountablePerson",
    "address",
    "addressCountry",
    "addressLocality",
    "addressRegion",
    "affiliation",
    "alternateName",
    "areaServed",
    "articleBody",
    "attendee",
    "author",
    "containedInPlace",
    "datePublished",
    "description",
    "endDate",
    "eventStatus",
    "genre",
    "geo",
    "hasPart",
    "headline",
    "identifier",
    "inDefinedTermSet",
    "inLanguage",
    "isPartOf",
    "jobTitle",
    "keywords",
    "latitude",
    "location",
    "longitude",
    "mainEntityOfPage",
    "name",
    "nationality",
    "organizer",
    "parentOrganization",
    "publisher",
    "roleName",
    "sameAs",
    "sourceOrganization",
    "startDate",
    "subjectOf",
    "superEvent",
    "termCode",
    "text",
    "url",
    "workFeatured",
)
_TYPES = (
    "AdministrativeArea",
    "City",
    "Comment",
    "Country",
    "CreativeWork",
    "Date",
    "DefinedTerm",
    "EducationEvent",
    "Event",
    "GeoCoordinates",
    "GovernmentOrganization",
    "NewsArticle",
    "NewsMediaOrganization",
    "Organization",
    "Person",
    "Place",
    "PostalAddress",
    "Quotation",
    "Role",
)
CONTEXT: dict[str, t.Any] = {
    "@vocab": SCHEMA,
    "id": "@id",
    "type": "@type",
    "schema": SCHEMA,
    **{term: {"@id": f"schema:{term}"} for term in _TYPES},
    **{
        term: {"@id": f"schema:{term}", **({"@type": _COERCED[term]} if term in _COERCED else {})}
        for term in _PROPERTIES
    },
}

_ORGANIZATION_TYPES = {
    "ministry": "GovernmentOrganization",
    "government": "GovernmentOrganization",
    "armed-forces": "GovernmentOrganization",
    "military-unit": "GovernmentOrganization",
    "news-outlet": "NewsMediaOrganization",
    "news-agency": "NewsMediaOrganization",
}
_PLACE_TYPES = {"country": "Country", "city": "City", "region": "AdministrativeArea", "district": "AdministrativeArea"}
_EVENT_TYPES = {"training-course": "EducationEvent"}
_GENERIC_TYPE = {
    "article": "NewsArticle",
    "person": "Person",
    "organization": "Organization",
    "place": "Place",
    "event": "Event",
    "agreement": "CreativeWork",
}
RECORD_TYPE = {  # schema.org @type -> record type: one record type each, so the importer can tell
    "NewsArticle": "article",
    "Person": "person",
    "CreativeWork": "agreement",
    **{name: "organization" for name in ("Organization", *_ORGANIZATION_TYPES.values())},
    **{name: "place" for name in ("Place", *_PLACE_TYPES.values())},
    **{name: "event" for name in ("Event", *_EVENT_TYPES.values())},
}
_EVENT_STATUS = {
    "planned": "EventScheduled",
    "under-way": "EventScheduled",
    "took-place": "EventScheduled",
    "cancelled": "EventCancelled",
}

# Plain fields: (record field, schema.org term, shape). "text": a string; "texts": a list of
# strings; "ref"/"refs": one or a list of references to other records; "agents": references where
# schema.org expects a Person or Organization (a place there is written as its government, see agent).
Shape = t.Literal["text", "texts", "ref", "refs", "agents"]
_COMMON: tuple[tuple[str, str, Shape], ...] = (
    ("name", "name", "text"),
    ("aliases", "alternateName", "texts"),
    ("description", "description", "text"),
)
_FIELDS: dict[str, tuple[tuple[str, str, Shape], ...]] = {
    "article": (
        ("headline", "headline", "text"),
        ("authors", "author", "refs"),
        ("publisher", "publisher", "ref"),
        ("url", "url", "text"),
        ("language", "inLanguage", "text"),
        ("text", "articleBody", "text"),
    ),
    "person": (
        ("roles", "jobTitle", "texts"),
        ("nationality", "nationality", "ref"),
        ("affiliations", "affiliation", "refs"),
    ),
    "organization": (("country", "location", "ref"), ("parent", "parentOrganization", "ref")),
    "place": (("within", "containedInPlace", "ref"),),
    "agreement": (
        ("kind", "genre", "text"),
        ("parties", "sourceOrganization", "agents"),
        ("signatories", "accountablePerson", "refs"),
        ("text_url", "url", "text"),
    ),
    "event": (
        ("locations", "location", "refs"),
        ("organizers", "organizer", "agents"),
        ("part_of", "superEvent", "ref"),
    ),
}
_OWN_URL = frozenset({"article", "agreement"})  # their `url` is their own; identifiers.url -> mainEntityOfPage
_KIND_CODE = frozenset({"organization", "place", "event"})  # kind as a DefinedTerm keyword (agreement: genre)
_CODE_ORDER = ("kind", "status", "edtf")
_SOURCE_CODES = ("supports", "confidence")
SCHEMAS = "https://records-toolkit.example/schemas/"  # the JSON Schemas' own $id base: defines the codes
_ADDRESS_PART = {
    "city": "addressLocality",
    "district": "addressLocality",
    "region": "addressRegion",
    "country": "addressCountry",
}
_ADDRESS_RANK = {"addressLocality": 0, "addressRegion": 1, "addressCountry": 2}
_WIKIDATA_RE = re.compile(r"^https://www\.wikidata\.org/wiki/(Q[1-9][0-9]*)$")
_BASE_RE = re.compile(r"^https?://[^\s\"<>\\^`{|}]+[/#]$")


# -- dates ------------------------------------------------------------------------------------------


def _level0(date: dates.EdtfDate) -> str:
    """The ISO 8601-1 part of an EDTF date: the date at its own precision, qualifier dropped."""
    return str(date).rstrip("?~%")


def iso_dates(text: str, *, interval: bool) -> dict[str, str]:
    """What ISO 8601 can say of an EDTF value, as schema.org date properties (formats.md §3).

    ``interval`` True: ``startDate``/``endDate`` (an event); False: ``datePublished`` (a single
    date only). Sets (``[..D]``, ``[D..]``) say no date: their one date is unknown.
    """
    value = dates.parse(text)
    if not interval:
        return {"datePublished": _level0(value.start)} if value.kind == "date" and value.start else {}
    out: dict[str, str] = {}
    if value.kind in ("date", "interval"):
        if value.start is not None:
            out["startDate"] = _level0(value.start)
        if value.kind == "interval" and value.end is not None:
            out["endDate"] = _level0(value.end)
    return out


def _date_from_iso(node: dict[str, t.Any], *, interval: bool) -> str | None:
    """The EDTF string the ISO properties alone stand for (None: they cannot stand for one)."""
    if not interval:
        return node.get("datePublished")
    start, end = node.get("startDate"), node.get("endDate")
    if start is not None and end is not None:
        return f"{start}/{end}"
    return start if end is None else None


# -- export -----------------------------------------------------------------------------------------


def _term(term_set: str, code: t.Any) -> dict[str, t.Any]:
    return {"@type": "DefinedTerm", "inDefinedTermSet": term_set, "termCode": code}


def term_set(type_name: str, code: str) -> str:
    """Where the toolkit defines the coded values of ``code`` (the JSON Schema of the field)."""
    if code in _SOURCE_CODES:
        return f"{SCHEMAS}defs.schema.json#/$defs/source/properties/{code}"
    field = ("date_published" if type_name == "article" else "date") if code == "edtf" else code
    return f"{SCHEMAS}{type_name}.schema.json#/properties/{field}"


Place = tuple[str, str, "str | None"]  # name, kind, within: what the writer keeps of a place record

_PLAIN_FIELDS = {kind: (*_COMMON, *fields) for kind, fields in _FIELDS.items()}
_KIND_TYPES = {"organization": _ORGANIZATION_TYPES, "place": _PLACE_TYPES, "event": _EVENT_TYPES}
_SUPPORTS, _CONFIDENCE = term_set("source", "supports"), term_set("source", "confidence")
_term_set = functools.lru_cache(maxsize=256)(term_set)  # a few types times a few codes


@functools.lru_cache(maxsize=4096)
def _dates_of(text: str, interval: bool) -> tuple[dict[str, str], bool]:
    """:func:`iso_dates` of an EDTF value, and whether they say exactly that value (most records
    share a few hundred dates: each is parsed once). The dict is shared: copy it, never change it."""
    iso = iso_dates(text, interval=interval)
    return iso, _date_from_iso(iso, interval=interval) == text


class _Writer:
    """Builds the nodes of one collection; knows every record's type to write references, and the
    name, kind and ``within`` of every place to write addresses and countries as agents."""

    def __init__(
        self,
        types: t.Mapping[str, str],
        base: str,
        places: t.Mapping[str, Place] | None = None,
        floatless: t.AbstractSet[str] = frozenset(),
    ) -> None:
        self.base = base
        self.types = types  # record id -> type
        self.places = places or {}  # place id -> (name, kind, within)
        self.floatless = floatless  # record types whose schema admits no float anywhere (see floatless)
        self.unproven = False  # whether a node made since the last look may hold a float

    def iri(self, record_id: str) -> str:
        if record_id not in self.types:
            raise ValueError(f"reference to {record_id!r}, which is not among the exported records")
        return f"{self.base}{self.types[record_id]}/{record_id}"

    def ref(self, record_id: str) -> dict[str, str]:
        return {"@id": self.iri(record_id)}

    def agent(self, record_id: str) -> dict[str, t.Any]:
        """A reference where schema.org expects a Person or Organization: a place (a country
        named as an actor) is the government organization of that place, named as the place."""
        if self.types.get(record_id) != "place":
            return self.ref(record_id)
        return {"@type": "GovernmentOrganization", "areaServed": self.ref(record_id), "name": self.places[record_id][0]}

    def address(self, place_id: str) -> dict[str, t.Any] | None:
        """The PostalAddress the place records say: the first city or district up the ``within``
        chain (the place itself first) is the locality, the first region the region, the first
        country the country. None when the chain names none of them."""
        parts: dict[str, str] = {}
        seen: set[str] = set()
        current: str | None = place_id
        while current is not None and current in self.places and current not in seen:
            seen.add(current)
            name, kind, within = self.places[current]
            term = _ADDRESS_PART.get(kind)
            if term is not None and not any(_ADDRESS_RANK[k] >= _ADDRESS_RANK[term] for k in parts):
                parts[term] = name
            if kind == "country":
                break
            current = within
        return {"@type": "PostalAddress", **parts} if parts else None

    def node(self, record: Record) -> dict[str, t.Any]:
        kind = record["type"]
        if kind not in self.floatless:
            self.unproven = True
        node: dict[str, t.Any] = {
            "@id": self.iri(record["id"]),
            "@type": self.type_of(record),
            "identifier": record["id"],
        }
        codes: dict[str, t.Any] = {}
        for field, term, shape in _PLAIN_FIELDS.get(kind, _COMMON):
            if field in record:
                value = record[field]
                node[term] = (
                    value
                    if shape == "text"
                    else self.ref(value)
                    if shape == "ref"
                    else [{"@id": self.iri(v)} for v in value]
                    if shape == "refs"
                    else [self.agent(v) for v in value]
                    if shape == "agents"
                    else list(value)
                )
        if kind in _KIND_CODE:
            codes["kind"] = record["kind"]
        if kind == "article":
            self._date(node, codes, record["date_published"], interval=False)
        if kind == "event":
            if "date" in record:
                self._date(node, codes, record["date"], interval=True)
            node["eventStatus"] = {"@id": SCHEMA + _EVENT_STATUS[record["status"]]}
            codes["status"] = record["status"]
            if "participants" in record:
                node["attendee"] = [self._participant(p) for p in record["participants"]]
            about = ([record["agreement"]] if "agreement" in record else []) + list(record.get("about", []))
            if about:
                node["about"] = [self.ref(v) for v in about]
            if "agreement" in record:
                node["workFeatured"] = self.ref(record["agreement"])
        if kind == "place":
            if "coordinates" in record:
                node["geo"] = {"@type": "GeoCoordinates", **record["coordinates"]}
            address = self.address(record["id"])
            if address is not None:
                node["address"] = address
        if kind == "agreement" and "provisions" in record:
            node["hasPart"] = [{"@type": "CreativeWork", "description": p} for p in record["provisions"]]
        identifiers = record.get("identifiers", {})
        if "wikidata" in identifiers:
            node["sameAs"] = WIKIDATA + identifiers["wikidata"]
        if "url" in identifiers:
            node["mainEntityOfPage" if kind in _OWN_URL else "url"] = identifiers["url"]
        if codes:
            node["keywords"] = [_term(_term_set(kind, code), codes[code]) for code in _CODE_ORDER if code in codes]
        # The sources are works about the record (schema:subjectOf, the inverse of schema:about);
        # the editors' notes a Comment about it.
        node["subjectOf"] = [self._source(s) for s in record["sources"]]
        if "notes" in record:
            node["subjectOf"].append({"@type": "Comment", "text": record["notes"]})
        return node

    @staticmethod
    def type_of(record: Record) -> str:
        """The schema.org type of a record: the most specific that is true of its kind."""
        kind = record["type"]
        return _KIND_TYPES.get(kind, {}).get(record.get("kind", ""), _GENERIC_TYPE[kind])

    @staticmethod
    def _date(node: dict[str, t.Any], codes: dict[str, t.Any], text: str, *, interval: bool) -> None:
        iso, exact = _dates_of(text, interval)
        node.update(iso)
        if not exact:
            codes["edtf"] = text  # ISO 8601 cannot say it all: keep the exact EDTF

    def _participant(self, participant: Record) -> dict[str, t.Any]:
        if "role" not in participant:
            return self.agent(participant["ref"])
        # schema.org Role: the role node carries the property it qualifies (schema.org/Role).
        return {"@type": "Role", "attendee": self.agent(participant["ref"]), "roleName": participant["role"]}

    def _source(self, source: Record) -> dict[str, t.Any]:
        if "article" in source:
            node: dict[str, t.Any] = {
                "@type": "Quotation",
                "isPartOf": self.iri(source["article"]),
                "text": source["quote"],
            }
        else:
            node = {"@type": "CreativeWork", "url": source["url"], "name": source["title"]}
            if "quote" in source:  # the page's own words: a Quotation that is part of the page
                node = {"@type": "Quotation", "isPartOf": node, "text": source["quote"]}
        if "note" in source:
            node["description"] = source["note"]
        node["keywords"] = [
            {"@type": "DefinedTerm", "inDefinedTermSet": _SUPPORTS, "termCode": entry} for entry in source["supports"]
        ]
        if "confidence" in source:
            node["keywords"].append(_term(_CONFIDENCE, source["confidence"]))
        return node


def check_base(base: str) -> str:
    """The base IRI must be absolute http(s) and end with '/' or '#', so ids append cleanly."""
    if not _BASE_RE.match(base):
        raise OptionError(f"-O base={base!r}: give an absolute http(s) IRI ending with '/' or '#'")
    return base


def _types_of(records: t.Sequence[Record]) -> dict[str, str]:
    keys = getattr(records, "keys", None)
    if callable(keys):  # streaming.Records: no record decoded
        return {record_id: type_name for type_name, record_id in keys()}
    return {record["id"]: record["type"] for record in records}


def _places_of(records: t.Iterable[Record]) -> dict[str, Place]:
    of_type = getattr(records, "of_type", None)
    if callable(of_type):  # streaming.Records: only the place records are decoded
        records = of_type("place")
    return {r["id"]: (r["name"], r["kind"], r.get("within")) for r in records if r["type"] == "place"}


def _writer(records: t.Sequence[Record], base: str, floatless: t.AbstractSet[str] = frozenset()) -> _Writer:
    return _Writer(_types_of(records), check_base(base), _places_of(records), floatless)


def document(records: t.Sequence[Record], *, base: str = DEFAULT_BASE, context: str = "embedded") -> dict[str, t.Any]:
    """The JSON-LD document of ``records`` (any order: the graph is sorted by ``@id``)."""
    writer = _writer(records, base)
    graph = sorted((writer.node(record) for record in records), key=lambda node: node["@id"])
    return {"@context": CONTEXT if context == "embedded" else REMOTE_CONTEXT, "@graph": graph}


def _no_negative_zero(value: t.Any) -> t.Any:
    """``-0.0`` written as ``0.0``, as the ICS and Markdown exports do: the same place, one spelling
    (xsd:double has a distinct -0, which would make two graphs of the same data differ)."""
    if isinstance(value, float):
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {k: _no_negative_zero(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_negative_zero(v) for v in value]
    return value


def dumps(doc: dict[str, t.Any]) -> bytes:
    """Deterministic bytes: sorted keys, UTF-8, newline at the end, ``<`` escaped (JSON-LD 1.1 §7.2).

    The reference spelling: :func:`write` gives the same bytes, node by node and much faster.
    """
    text = json.dumps(_no_negative_zero(doc), sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False)
    return (text.replace("<", "\\u003c") + "\n").encode("utf-8")


def _reference(value: t.Any) -> bytes:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2)`` as UTF-8, ``-0.0`` as ``0.0``."""
    return json.dumps(_no_negative_zero(value), sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False).encode()


def encode(value: t.Any) -> bytes:
    """The bytes :func:`_reference` gives, by orjson where it spells them the same (:func:`_fast`)."""
    return _fast(value) or _reference(value)


def _fast(value: t.Any, no_float: bool = False) -> bytes | None:
    """orjson's bytes for ``value`` when they are :func:`_reference`'s, else None.

    orjson writes sorted keys, two-space indents, UTF-8 and escapes exactly as ``json.dumps``
    does; it differs only on floats below 1e-4 (``0.00001`` or ``1.5e-7``, not ``1e-05``/``1.5e-07``), on ``-0.0`` (which
    the export writes ``0.0``), writes NaN and infinities as ``null`` (``json`` refuses them) and
    refuses integers beyond 64 bits. A positive exponent is spelled as ``repr`` spells it (``1e+16``).
    Output holding ``0.0000``, ``-0.0``, ``null`` or a digit, ``e-`` and a digit anywhere (in a
    string too: then only time is lost) and any refusal take the reference path. ``no_float``:
    ``value`` holds no float (the caller knows), so none of that can be in the output: not looked for.
    """
    if _orjson is None:
        return None
    try:
        data: bytes = _orjson.dumps(value, option=_ORJSON_OPTIONS)
    except (TypeError, ValueError):
        return None
    if no_float:
        return data
    if (_ZERO(data) and (b"0.0000" in data or b"-0.0" in data)) or _NULL(data) or _EXPONENT(data):
        return None
    return data


def floatless(schema: SchemaView) -> frozenset[str]:
    """The record types whose schema admits no float anywhere in a record
    (:attr:`~records_toolkit.schema_view.TypeView.floats`): their nodes hold none (every other
    value a node holds is a text, a list or a mapping of them), so orjson's bytes for them need no
    look (:func:`_fast`). Records given to a format are valid."""
    return frozenset(name for name, view in schema.types.items() if not view.floats)


# What orjson may spell otherwise (see _fast). Each pattern starts with a literal, which ``re``
# finds fast (a pattern starting with a class is ten times slower on this text): ``0.0`` is in
# both ``0.0000`` and ``-0.0``, checked where it is found; a digit, ``e-`` and a digit is looked
# for from its ``-`` (``e`` is common in text), the rest checked behind it.
_ZERO = re.compile(rb"0\.0").search
_NULL = re.compile(rb"null").search
_EXPONENT = re.compile(rb"-[0-9](?<=[0-9]e-[0-9])").search

_orjson: t.Any
try:  # a fast encoder, byte-identical where used (see encode); json alone gives the same bytes
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_INDENT_2 | _orjson.OPT_SORT_KEYS
except ImportError:  # pragma: no cover - orjson is a dependency; the reference path still works
    _orjson = None
    _ORJSON_OPTIONS = 0


Plan = tuple[dict[str, str], dict[str, Place]]
"""What every part of a partitioned export needs of the whole collection: the type of each id
(references are ``<base><type>/<id>``) and the places (addresses derive from their chains)."""

INDEX_NAME = "index.jsonld"


def plan(records: t.Sequence[Record]) -> Plan:
    """The :data:`Plan` of ``records``: only the places are decoded from a streaming collection."""
    return _types_of(records), _places_of(records)


def part_name(part: Part) -> str:
    return f"part-{part.label}.jsonld"


def index(parts: t.Sequence[tuple[str, int]], *, base: str = DEFAULT_BASE, context: str = "embedded") -> bytes:
    """The index of a partitioned export: a schema.org Dataset whose ``distribution`` lists the
    parts in order (``contentUrl``: the file's name beside the index; ``description``: its nodes)."""
    doc = {
        "@context": CONTEXT if context == "embedded" else REMOTE_CONTEXT,
        "@id": check_base(base),
        "@type": "Dataset",
        "name": "Records of the records toolkit",
        "description": (
            "The records in parts: each part a JSON-LD document of its own; the nodes of all parts "
            "together are the graph (a reference may name a node of another part)."
        ),
        "distribution": [
            {
                "@type": "DataDownload",
                "contentUrl": name,
                "encodingFormat": "application/ld+json",
                "description": f"{nodes} node{'s' if nodes != 1 else ''}",
            }
            for name, nodes in parts
        ],
    }
    return dumps(doc)


def _graph_order(records: t.Sequence[Record], base: str) -> t.Sequence[Record] | None:
    """``records`` in ``@id`` order without building the nodes first, or None when that needs them.

    A :class:`~records_toolkit.streaming.Records` is sorted by ``(type, id)``, which is ``@id``
    order for every type name not followed in sort order by a longer one it starts (checked).
    """
    keys = getattr(records, "keys", None)
    if not callable(keys):
        return None
    previous: str | None = None
    in_order = True
    for type_name, record_id in keys():
        iri = f"{base}{type_name}/{record_id}"
        if previous is not None and iri <= previous:
            in_order = False
            break
        previous = iri
    if in_order:
        return records
    order = sorted(range(len(records)), key=lambda i: f"{base}{records.types[i]}/{records.ids[i]}")  # type: ignore[attr-defined]
    return _Picked(records, order)


class _Picked(t.Sequence[Record]):
    def __init__(self, records: t.Sequence[Record], order: list[int]) -> None:
        self._records, self._order = records, order

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, index: t.Any) -> t.Any:
        return self._records[self._order[index]]


def write(
    records: t.Sequence[Record],
    out: t.Callable[[bytes], None],
    *,
    base: str = DEFAULT_BASE,
    context: str = "embedded",
    plan: Plan | None = None,
    schema: SchemaView | None = None,
) -> None:
    """The bytes of ``dumps(document(records, ...))``, written node by node: the records pass once.

    ``plan``: the :func:`plan` of the whole collection when ``records`` are one part of it.
    ``schema``: what the records are valid against (then the nodes of types that admit no float
    are encoded without a look for floats: see :func:`floatless`)."""
    base = check_base(base)
    without_floats = frozenset() if schema is None else floatless(schema)
    writer = _writer(records, base, without_floats) if plan is None else _Writer(plan[0], base, plan[1], without_floats)
    ordered = _graph_order(records, base)
    nodes: t.Iterable[dict[str, t.Any]]
    if ordered is None:  # (every node made before the first batch: no batch is known to be floatless)
        nodes = sorted((writer.node(record) for record in records), key=lambda node: node["@id"])
    else:
        nodes = (writer.node(record) for record in ordered)
    out(_head(context))
    out(_tail(_write_nodes(nodes, out, written=False, made_by=writer if ordered is not None else None)))


def _head(context: str) -> bytes:
    """The document up to the first node of ``@graph``."""
    head = encode(CONTEXT if context == "embedded" else REMOTE_CONTEXT).replace(b"\n", b"\n  ")
    return b'{\n  "@context": ' + head.replace(b"<", b"\\u003c") + b',\n  "@graph": ['


def _tail(written: bool) -> bytes:
    """The document after the last node (``written``: whether there was one)."""
    return b"\n  ]\n}\n" if written else b"]\n}\n"


def _write_nodes(
    nodes: t.Iterable[dict[str, t.Any]],
    out: t.Callable[[bytes], None],
    *,
    written: bool,
    made_by: _Writer | None = None,
) -> bool:
    """The nodes as items of ``@graph``, after ``written`` ones (then a comma first); whether any is now.

    ``made_by``: the writer making ``nodes`` as they are asked for (a generator): a batch of nodes
    it made only of records whose schema admits no float is encoded without looking for what
    orjson spells otherwise (:func:`_fast`), which a float alone can be; that look was an eighth of
    the export's time (three passes over each batch's bytes)."""
    for batch in _batches(nodes, _BATCH):
        if written:
            out(b",")
        proven = made_by is not None and not made_by.unproven
        if made_by is not None:
            made_by.unproven = False
        out(_graph_items(batch, proven))
        written = True
    return written


_BATCH = 8  # nodes encoded in one call (more keep more of them alive, and are no faster)


def _batches(items: t.Iterable[dict[str, t.Any]], size: int) -> t.Iterator[list[dict[str, t.Any]]]:
    batch: list[dict[str, t.Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_GRAPH_HEAD, _GRAPH_TAIL = b'{\n  "@graph": [', b"\n  ]\n}"


def _graph_items(nodes: list[dict[str, t.Any]], no_float: bool = False) -> bytes:
    """``\\n    <node>,\\n    <node>...``: the nodes as items of ``@graph``, in the document's indent.

    One orjson call for the batch, as the value of a ``@graph`` key (its items then indented as
    in the document, so nothing is re-indented); a batch :func:`_fast` would not take is encoded
    node by node, each where orjson spells it as json does and by json where not. ``no_float``:
    the nodes hold no float (orjson's bytes are json's unless it refuses them).
    """
    data = _fast({"@graph": nodes}, no_float)
    if data is not None:
        return data[len(_GRAPH_HEAD) : -len(_GRAPH_TAIL)].replace(b"<", b"\\u003c")
    return b",".join(b"\n    " + encode(node).replace(b"\n", b"\n    ").replace(b"<", b"\\u003c") for node in nodes)


# -- import -----------------------------------------------------------------------------------------

At = tuple[str | int, ...]  # the path of a value in the document: keys and list indices


class _Refused(ValueError):
    """What the reader cannot carry exactly, at ``at`` (``key``: at the key that names the value)."""

    def __init__(self, message: str, at: At = (), *, key: bool = False) -> None:
        super().__init__(message)
        self.at, self.key = at, key


def _items(value: t.Any, at: At) -> list[tuple[t.Any, At]]:
    """The items of a value the export writes as a list or alone, each with its path."""
    if isinstance(value, list):
        return [(item, (*at, index)) for index, item in enumerate(value)]
    return [(value, at)]


def _pop(node: dict[str, t.Any], key: str, at: At) -> tuple[t.Any, At]:
    """``node.pop(key, None)`` and the path of that value (of the node, when it has none)."""
    return (node.pop(key), (*at, key)) if key in node else (None, at)


def _said(value: t.Any) -> str:
    """A JSON value in plain words for a message: no Python repr of a dict or a list."""
    if isinstance(value, dict):
        kind = value.get("@type")
        named = f"a {kind} " if isinstance(kind, str) else "an "
        keys = ", ".join(sorted(str(key) for key in value if key != "@type"))
        return f"{named}object with {keys}" if keys else f"{named}object with no properties"
    if isinstance(value, list):
        return f"a list of {len(value)} value{'s' if len(value) != 1 else ''}"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return repr(value)


_PART_NAMES = {"addressLocality": "city or district", "addressRegion": "region", "addressCountry": "country"}
_DERIVED = "the export writes it from the place records: edit the place records, not the address"


class _Reader:
    """Reads the nodes of one document back into records; refuses what it cannot carry exactly."""

    def __init__(self, graph: list[t.Any]) -> None:
        self.ids: dict[str, str] = {}
        self.current: At = ("@graph",)  # the node being read: the place of a fault no check foresaw
        for index, node in enumerate(graph):
            at: At = ("@graph", index)
            self.current = at
            if not isinstance(node, dict) or not isinstance(node.get("@id"), str):
                raise _Refused(
                    "every node of @graph needs an @id",
                    _pop(dict(node), "@id", at)[1] if isinstance(node, dict) else at,
                )
            if not isinstance(node.get("identifier"), str):
                raise _Refused(
                    f"node {node['@id']}: no record id in `identifier`", _pop(dict(node), "identifier", at)[1]
                )
            if node["@id"] in self.ids:
                raise _Refused(f"two nodes have the @id {node['@id']}", (*at, "@id"))
            self.ids[node["@id"]] = node["identifier"]
        # What the export derives from other records, checked once every record is read:
        self.addresses: dict[str, tuple[t.Any, At]] = {}  # place id -> (its address as written or None, its node)
        self.agents: list[
            tuple[str, At, str, t.Any]
        ] = []  # (where, the GovernmentOrganization, place id, name written)

    def ref(self, value: t.Any, where: str, at: At) -> str:
        iri = value.get("@id") if isinstance(value, dict) and set(value) == {"@id"} else value
        if not isinstance(iri, str) or iri not in self.ids:
            raise _Refused(f"{where}: {_said(value)} is not a reference to a node of the graph", at)
        return self.ids[iri]

    def agent(self, value: t.Any, where: str, at: At) -> str:
        if isinstance(value, dict) and value.get("@type") == "GovernmentOrganization":
            if set(value) != {"@type", "areaServed", "name"}:
                raise _Refused(f"{where}: a place as an agent is a GovernmentOrganization with areaServed and name", at)
            place = self.ref(value["areaServed"], where, (*at, "areaServed"))
            self.agents.append((where, at, place, value["name"]))
            return place
        return self.ref(value, where, at)

    def record(self, node: dict[str, t.Any], at: At) -> Record:
        self.current = at
        where = f"node {node['@id']}"
        node = dict(node)
        node.pop("@id")
        type_name, type_at = _pop(node, "@type", at)
        if not isinstance(type_name, str) or type_name not in RECORD_TYPE:
            raise _Refused(f"{where}: @type {_said(type_name)} is not one the export writes", type_at)
        kind = RECORD_TYPE[type_name]
        record: Record = {"id": node.pop("identifier"), "type": kind}
        keywords, keywords_at = _pop(node, "keywords", at)
        codes = _codes(keywords if keywords is not None else [], kind, _CODE_ORDER, where, keywords_at)
        for field, term, shape in (*_COMMON, *_FIELDS.get(kind, ())):
            if term in node:
                value, here = node.pop(term), (*at, term)
                record[field] = (
                    self.ref(value, where, here)
                    if shape == "ref"
                    else [self.ref(v, where, a) for v, a in _items(value, here)]
                    if shape == "refs"
                    else [self.agent(v, where, a) for v, a in _items(value, here)]
                    if shape == "agents"
                    else list(_list(value))
                    if shape == "texts"
                    else _text(value, where, here)
                )
        if kind in _KIND_CODE:
            record["kind"] = codes.pop("kind", None)
        if kind == "article":
            self._date(record, "date_published", node, codes, interval=False, where=where, at=at, keywords=keywords_at)
        if kind == "event":
            self._date(record, "date", node, codes, interval=True, where=where, at=at, keywords=keywords_at)
            record["status"] = codes.pop("status", None)
            status, status_at = _pop(node, "eventStatus", at)
            if status != {"@id": SCHEMA + _EVENT_STATUS.get(record["status"], "?")}:
                raise _Refused(f"{where}: eventStatus does not agree with the status {record['status']!r}", status_at)
            if "attendee" in node:
                record["participants"] = [
                    self._participant(p, where, a) for p, a in _items(node.pop("attendee"), (*at, "attendee"))
                ]
            about = [self.ref(v, where, a) for v, a in _items(node.pop("about", []), (*at, "about"))]
            if "workFeatured" in node:
                record["agreement"] = self.ref(node.pop("workFeatured"), where, (*at, "workFeatured"))
                if not about or about[0] != record["agreement"]:
                    raise _Refused(
                        f"{where}: the agreement in workFeatured must come first in about", (*at, "workFeatured")
                    )
                about = about[1:]
            if about:
                record["about"] = about
        if kind == "place":
            if "geo" in node:
                geo = node.pop("geo")
                if not isinstance(geo, dict) or geo.get("@type") != "GeoCoordinates":
                    raise _Refused(f"{where}: geo must be GeoCoordinates, not {_said(geo)}", (*at, "geo"))
                record["coordinates"] = {key: value for key, value in geo.items() if key != "@type"}
            self.addresses[record["id"]] = (node.pop("address", None), at)
        if kind == "agreement" and "hasPart" in node:
            record["provisions"] = [_part(p, where, a) for p, a in _items(node.pop("hasPart"), (*at, "hasPart"))]
        identifiers: Record = {}
        if "sameAs" in node:
            for value, value_at in _items(node.pop("sameAs"), (*at, "sameAs")):
                match = _WIKIDATA_RE.match(value) if isinstance(value, str) else None
                if not match:
                    raise _Refused(f"{where}: sameAs {_said(value)} is not a Wikidata item page", value_at)
                identifiers["wikidata"] = match.group(1)
        url_term = "mainEntityOfPage" if kind in _OWN_URL else "url"
        if url_term in node:
            identifiers["url"] = _text(node.pop(url_term), where, (*at, url_term))
        if identifiers:
            record["identifiers"] = identifiers
        works = _items(node.pop("subjectOf", []), (*at, "subjectOf"))
        if works and isinstance(works[-1][0], dict) and works[-1][0].get("@type") == "Comment":
            comment, comment_at = works.pop()
            if set(comment) != {"@type", "text"}:
                raise _Refused(f"{where}: the notes are a Comment with exactly a text", comment_at)
            record["notes"] = _text(comment["text"], where, (*comment_at, "text"))
        record["sources"] = [self._source(s, where, a) for s, a in works]
        if node or codes:
            unread = sorted(node)
            raise _Refused(
                f"{where}: cannot read {', '.join(sorted([*node, *codes]))}",
                (*at, unread[0]) if unread else keywords_at,
                key=bool(unread),
            )
        record = {key: value for key, value in record.items() if value is not None}
        if _Writer.type_of(record) != type_name:
            raise _Refused(f"{where}: @type {type_name} does not agree with the kind {record.get('kind')!r}", type_at)
        return record

    def check_derived(self, records: list[Record]) -> None:
        """Addresses and the names of places as actors are derived from the place records: each is
        what the export of the records read writes, or the import is refused (an edit of a derived
        value would be lost: the export derives them again)."""
        places = {r["id"]: (r.get("name"), r.get("kind"), r.get("within")) for r in records if r["type"] == "place"}
        derive = _Writer({}, DEFAULT_BASE, t.cast(t.Mapping[str, Place], places))
        for place, (written, node_at) in self.addresses.items():
            self._check_address(place, written, node_at, derive.address(place))
        for where, at, place, name in self.agents:
            if place not in places:
                raise _Refused(
                    f"{where}: a GovernmentOrganization stands for a place, named as it is", (*at, "areaServed")
                )
            if not isinstance(name, str):
                raise _Refused(
                    f"{where}: a GovernmentOrganization stands for a place, named as it is; its name is {_said(name)}",
                    (*at, "name"),
                )
            if name != places[place][0]:
                raise _Refused(
                    f"{where}: the GovernmentOrganization's name {name!r} does not agree with the name of the place "
                    f"{place} it stands for (areaServed), {places[place][0]!r}: the export writes it from the place "
                    "record: edit the place records, not the name",
                    (*at, "name"),
                )

    @staticmethod
    def _check_address(place: str, written: t.Any, node_at: At, derived: dict[str, t.Any] | None) -> None:
        where, at = f"place {place}", (*node_at, "address")
        if written is None:
            if derived is not None:
                parts = ", ".join(f"{key} {value!r}" for key, value in derived.items() if key != "@type")
                raise _Refused(f"{where}: no address, but the place's within chain gives {parts}: {_DERIVED}", node_at)
            return
        if not isinstance(written, dict):
            raise _Refused(f"{where}: the address is {_said(written)}, not a PostalAddress this format writes", at)
        if written.get("@type") != "PostalAddress":
            raise _Refused(
                f"{where}: the address has @type {_said(written.get('@type'))}: not a PostalAddress this format writes",
                (*at, "@type") if "@type" in written else at,
            )
        for key, value in written.items():
            if key != "@type" and key not in _ADDRESS_RANK:
                raise _Refused(
                    f"{where}: the address has {key}, which no PostalAddress this format writes has "
                    "(addressLocality, addressRegion and addressCountry only)",
                    (*at, key),
                    key=True,
                )
            if not isinstance(value, str):
                raise _Refused(
                    f"{where}: {key} is {_said(value)}, not a name: not a PostalAddress this format writes", (*at, key)
                )
        if set(written) == {"@type"}:
            raise _Refused(f"{where}: the address names no place: not a PostalAddress this format writes", at)
        for key in _ADDRESS_RANK:
            value, should = written.get(key), (derived or {}).get(key)
            if value == should:
                continue
            if value is None:
                message = f"the address has no {key}, but the place's within chain gives {should!r}"
            elif should is None:
                message = f"{key} {value!r} is not in the place's within chain, which names no {_PART_NAMES[key]}"
            else:
                message = f"{key} {value!r} does not agree with the place's within chain, which gives {should!r}"
            raise _Refused(f"{where}: {message}: {_DERIVED}", (*at, key) if value is not None else at)

    @staticmethod
    def _date(
        record: Record,
        field: str,
        node: dict[str, t.Any],
        codes: dict[str, t.Any],
        *,
        interval: bool,
        where: str,
        at: At,
        keywords: At,
    ) -> None:
        iso: dict[str, t.Any] = {key: node.pop(key) for key in ("datePublished", "startDate", "endDate") if key in node}
        said = ", ".join(f"{key} {_said(value)}" for key, value in iso.items())
        text = codes.pop("edtf", None) or _date_from_iso(iso, interval=interval)
        if text is not None:
            should = iso_dates(text, interval=interval) if isinstance(text, str) else {}
            if should != iso:
                wrong = [key for key in iso if iso[key] != should.get(key)]
                place = (*at, wrong[0]) if wrong else keywords
                raise _Refused(f"{where}: {said or 'no date'} does not agree with the EDTF date {text!r}", place)
            record[field] = text
        elif iso:
            raise _Refused(f"{where}: {said} is not a date the export writes", (*at, next(iter(iso))))

    def _participant(self, value: t.Any, where: str, at: At) -> Record:
        if isinstance(value, dict) and value.get("@type") == "Role":
            if set(value) != {"@type", "attendee", "roleName"}:
                raise _Refused(f"{where}: a Role needs exactly attendee and roleName", at)
            return {
                "ref": self.agent(value["attendee"], where, (*at, "attendee")),
                "role": _text(value["roleName"], where, (*at, "roleName")),
            }
        return {"ref": self.agent(value, where, at)}

    def _source(self, value: t.Any, where: str, at: At) -> Record:
        if not isinstance(value, dict):
            raise _Refused(f"{where}: a source must be a node, not {_said(value)}", at)
        node = dict(value)
        kind = node.pop("@type", None)
        source: Record = {}
        page_node = node.get("isPartOf")
        if kind == "Quotation" and isinstance(page_node, dict) and page_node.get("@type") == "CreativeWork":
            # the words of an outside page (an article is named by its IRI, or {"@id": IRI})
            page_at = (*at, "isPartOf")
            page = dict(node.pop("isPartOf"))
            if page.pop("@type", None) != "CreativeWork" or set(page) != {"url", "name"}:
                raise _Refused(f"{where}: a quoted page must be a CreativeWork with exactly url and name", page_at)
            source["url"] = _text(page["url"], where, (*page_at, "url"))
            source["title"] = _text(page["name"], where, (*page_at, "name"))
            source["quote"] = _pop_text(node, "text", where, at)
        elif kind == "Quotation":
            source["article"] = self._ref_at(node, "isPartOf", where, at)
            source["quote"] = _pop_text(node, "text", where, at)
        elif kind == "CreativeWork":
            source["url"] = _pop_text(node, "url", where, at)
            source["title"] = _pop_text(node, "name", where, at)
        else:
            raise _Refused(
                f"{where}: a source must be a Quotation or a CreativeWork, not {_said(kind)}",
                _pop(dict(value), "@type", at)[1],
            )
        if "description" in node:
            source["note"] = _text(node.pop("description"), where, (*at, "description"))
        keywords, keywords_at = _pop(node, "keywords", at)
        codes = _codes(
            keywords if keywords is not None else [], "source", _SOURCE_CODES, where, keywords_at, repeated="supports"
        )
        if "confidence" in codes:
            source["confidence"] = codes.pop("confidence")
        source["supports"] = codes.pop("supports", [])
        if node or codes:
            unread = sorted(node)
            raise _Refused(
                f"{where}: cannot read {', '.join(sorted([*node, *codes]))} in a source",
                (*at, unread[0]) if unread else keywords_at,
                key=bool(unread),
            )
        return source

    def _ref_at(self, node: dict[str, t.Any], key: str, where: str, at: At) -> str:
        value, value_at = _pop(node, key, at)
        return self.ref(value, where, value_at)


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else [value]


def _text(value: t.Any, where: str, at: At) -> t.Any:
    if isinstance(value, (dict, list)) or value is None:
        raise _Refused(f"{where}: expected a plain value, not {_said(value)}", at)
    return value


def _pop_text(node: dict[str, t.Any], key: str, where: str, at: At) -> t.Any:
    if key not in node:
        raise _Refused(f"{where}: no {key}", at)
    return _text(node.pop(key), where, (*at, key))


def _part(value: t.Any, where: str, at: At) -> str:
    if not isinstance(value, dict) or set(value) != {"@type", "description"} or value["@type"] != "CreativeWork":
        raise _Refused(f"{where}: a provision is a CreativeWork with a description, not {_said(value)}", at)
    return t.cast(str, value["description"])


def _codes(
    values: t.Any, type_name: str, names: t.Sequence[str], where: str, at: At, *, repeated: str | None = None
) -> dict[str, t.Any]:
    """The coded values among the DefinedTerm keywords, by name (``repeated``: a list, in order),
    each name once and in the order the writer gives them."""
    sets = {term_set(type_name, name): name for name in names}
    out: dict[str, t.Any] = {}
    last = -1
    for value, value_at in _items(values, at):
        if (
            not isinstance(value, dict)
            or set(value) != {"@type", "inDefinedTermSet", "termCode"}
            or value["@type"] != "DefinedTerm"
            or value["inDefinedTermSet"] not in sets
        ):
            raise _Refused(f"{where}: {_said(value)} is not a DefinedTerm of a set this format writes", value_at)
        name = sets[value["inDefinedTermSet"]]
        position = names.index(name)
        if position < last or (position == last and name != repeated):
            raise _Refused(f"{where}: the keyword {name} is repeated or out of order", value_at)
        last = position
        code = _text(value["termCode"], where, (*value_at, "termCode"))
        if name == repeated:
            out.setdefault(name, []).append(code)
        else:
            out[name] = code
    return out


def read(data: bytes | str) -> list[Record]:
    """Records from the bytes of a document this format wrote (either context form).

    Input this format cannot read raises ``ValueError``: ``UnicodeDecodeError`` (bytes are
    decoded strictly, in the UTF-8/16/32 that JSON allows), ``json.JSONDecodeError``, or
    :class:`Unreadable` at the line and column (and JSON Pointer) of what it cannot read: values
    nested deeper than the loader allows, a lone surrogate, a repeated key, a node or value this
    format does not write, a derived value (an address, a state's name as an actor) that is not
    what the records read give.
    """
    return read_parts([("", data)])


class UnreadablePart(Unreadable):
    """:class:`Unreadable` in one of the documents of a partitioned export, named by ``file``."""

    def __init__(self, file: str, message: str, text: str, index: int | None, *, pointer: str = "") -> None:
        super().__init__(message, text, index, pointer=pointer)
        self.file = file


def _decoded(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode(json.detect_encoding(data))


def read_parts(documents: t.Sequence[tuple[str, bytes | str]]) -> list[Record]:
    """Records from the documents of a partitioned export, in order (``(name, bytes)`` each; one
    document alone is :func:`read`): their graphs together are one graph, where a reference may
    name a node of another part. Errors as :func:`read`, an :class:`UnreadablePart` naming the document."""
    texts = _Texts()
    graph: list[t.Any] = []
    starts: list[int] = []  # where each document's nodes begin in the graph
    reader: _Reader | None = None
    try:
        for name, data in documents:  # a document's own faults: placed in it (the last text read)
            doc = _parsed(name, data, texts)
            _check_top(doc)
            starts.append(len(graph))
            graph += doc["@graph"]
        reader = _Reader(graph)
        records = []
        for index in range(len(graph)):  # each node let go once read (not the graph and its records at once)
            records.append(reader.record(graph[index], ("@graph", index)))
            graph[index] = None
        reader.current = ("@graph",)
        reader.check_derived(records)
        return records
    except _Refused as exc:
        name, text, at = _in_part(documents, texts, starts, exc.at)
        raise _unreadable(name, brief(str(exc)), text, json_position(text, at, key=exc.key), json_pointer(at)) from None
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        # The document is untrusted input; a shape the reader did not foresee is still the input's fault.
        name, text, at = _in_part(documents, texts, starts, reader.current if reader is not None else ())
        message = brief(f"not a document this format writes ({type(exc).__name__}: {exc})")
        raise _unreadable(name, message, text, json_position(text, at), json_pointer(at)) from exc
    except Unreadable as exc:
        name = documents[len(texts) - 1][0] if texts else ""
        if name and not isinstance(exc, UnreadablePart):
            part = UnreadablePart(name, str(exc), "", None, pointer=exc.pointer)
            part.line, part.column = exc.line, exc.column
            raise part from None
        raise


class _Texts:
    """The texts of the documents read so far, each decoded again when asked for (only to place an
    error): held decoded, the texts of an export of 10,032 records took twice the memory of its
    39 MB of bytes, which the caller holds anyway."""

    def __init__(self) -> None:
        self._data: list[bytes | str] = []

    def append(self, data: bytes | str) -> None:
        self._data.append(data)

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: int) -> str:
        return _decoded(self._data[index])


def _parsed(name: str, data: bytes | str, texts: _Texts) -> t.Any:
    """One document of :func:`read_parts`, noted in ``texts`` once it decodes; a part that is not
    JSON or not UTF-8 is an :class:`UnreadablePart` at its own line (one document alone: the error as is)."""
    try:
        text = _decoded(data)
        texts.append(data)
        return parse_json(text)
    except json.JSONDecodeError as exc:
        if not name:
            raise
        part = UnreadablePart(name, f"not JSON: {exc.msg}", "", None)
        part.line, part.column = exc.lineno, exc.colno
        raise part from None
    except UnicodeDecodeError as exc:
        if not name:
            raise
        part = UnreadablePart(name, f"not UTF-8 ({exc.reason})", "", None)
        part.line = data[: exc.start].count(b"\n" if isinstance(data, bytes) else "\n") + 1  # type: ignore[arg-type]
        raise part from None


def _unreadable(name: str, message: str, text: str, index: int | None, pointer: str) -> Unreadable:
    if name:
        return UnreadablePart(name, message, text, index, pointer=pointer)
    return Unreadable(message, text, index, pointer=pointer)


def _in_part(
    documents: t.Sequence[tuple[str, bytes | str]], texts: _Texts, starts: list[int], at: At
) -> tuple[str, str, At]:
    """The document a path into the joined graph falls in, and the path in that document (while
    the documents are still read: the last one read, whose top is at fault)."""
    if len(starts) < len(texts):
        return documents[len(texts) - 1][0], texts[-1], at
    number = 0
    if len(at) >= 2 and at[0] == "@graph" and isinstance(at[1], int):
        number = bisect.bisect_right(starts, at[1]) - 1
        at = ("@graph", at[1] - starts[number], *at[2:])
    return documents[number][0], texts[number], at


def _check_top(doc: t.Any) -> None:
    """A document this format writes: the schema.org context, a @graph, nothing else."""
    if not isinstance(doc, dict) or not isinstance(doc.get("@graph"), list):
        raise _Refused(
            "not a JSON-LD document with a @graph", ("@graph",) if isinstance(doc, dict) and "@graph" in doc else ()
        )
    context = doc.get("@context")
    if isinstance(context, str):
        if context not in SCHEMA_ORG_CONTEXTS:
            raise _Refused(f"@context {context!r} is not the schema.org context (it is never fetched)", ("@context",))
    elif context != CONTEXT:
        raise _Refused(
            "@context is neither the schema.org URL nor the context this format embeds",
            ("@context",) if "@context" in doc else (),
        )
    if set(doc) != {"@context", "@graph"}:
        unexpected = sorted(set(doc) - {"@context", "@graph"})
        raise _Refused(f"unexpected keys at the top: {', '.join(unexpected)}", (unexpected[0],), key=True)


_INDEX_KEYS = {"@context", "@id", "@type", "name", "description", "distribution"}
_PART_RE = re.compile(r"part-[0-9]{5,}\.jsonld")


def index_parts(data: bytes | str) -> list[str] | None:
    """The part files an index (:func:`index`) lists, in order; None when ``data`` is no index
    (a document of records). An index this format would not write raises :class:`Unreadable`."""
    if (b'"Dataset"' if isinstance(data, bytes) else '"Dataset"') not in data:  # type: ignore[operator]
        return None  # a document of records (parsed once, by read); UTF-8 is what the export writes
    text = _decoded(data)
    doc = parse_json(text)
    if not isinstance(doc, dict) or doc.get("@type") != "Dataset" or "@graph" in doc:
        return None
    try:
        if set(doc) != _INDEX_KEYS:
            odd = sorted(set(doc) ^ _INDEX_KEYS)
            raise _Refused(f"an index has exactly {', '.join(sorted(_INDEX_KEYS))} (not so: {', '.join(odd)})")
        if doc["@context"] != CONTEXT and doc["@context"] not in SCHEMA_ORG_CONTEXTS:
            raise _Refused("@context is neither the schema.org URL nor the context this format embeds", ("@context",))
        parts = doc["distribution"]
        if not isinstance(parts, list) or not parts:
            raise _Refused("distribution must list the parts", ("distribution",))
        names: list[str] = []
        seen: set[str] = set()
        for number, part in enumerate(parts):
            at: At = ("distribution", number)
            if not isinstance(part, dict) or part.get("@type") != "DataDownload":
                raise _Refused("each part is a DataDownload", at)
            name = part.get("contentUrl")
            if not isinstance(name, str) or not _PART_RE.fullmatch(name):
                raise _Refused(
                    f"contentUrl {_said(name)} is not the name of a part file beside the index", (*at, "contentUrl")
                )
            if name in seen:
                raise _Refused(f"the part {name} is listed twice", (*at, "contentUrl"))
            seen.add(name)
            names.append(name)
        return names
    except _Refused as exc:
        raise Unreadable(
            brief(str(exc)), text, json_position(text, exc.at, key=exc.key), pointer=json_pointer(exc.at)
        ) from None


class JsonLdFormat:
    """The ``jsonld`` format: schema.org JSON-LD, written and read back."""

    name = "jsonld"
    suffix = ".jsonld"
    media_type = "application/ld+json"
    summary = "schema.org JSON-LD: one @graph of every record (NewsArticle, Event, ...); imports back exactly"
    directory = False
    options = (
        Option(
            "context",
            'embedded: inline @context, readable offline; remote: "https://schema.org" as web pages use',
            "embedded",
            ("embedded", "remote"),
        ),
        Option("base", "base IRI of the nodes' @id (<base><type>/<id>)", DEFAULT_BASE),
    )

    def export(self, records: t.Sequence[Record], context: Context) -> Exported:
        parts: list[bytes] = []
        write(
            records,
            parts.append,
            base=context.options.get("base", DEFAULT_BASE),
            context=context.options.get("context", "embedded"),
        )
        return Exported(files={FILE_NAME: b"".join(parts)})

    def stream(self, records: t.Sequence[Record], context: Context, open: t.Callable[[str], Writable]) -> list[str]:
        """As :meth:`export`, written node by node into ``open(FILE_NAME)``."""
        base = check_base(context.options.get("base", DEFAULT_BASE))  # refused before the file is started
        out = open(FILE_NAME)
        write(records, out.write, base=base, context=context.options.get("context", "embedded"), schema=context.schema)
        return []

    slice_types: t.Sequence[str] = ()  # (every record is a node)

    def slice_plan(self, records: t.Sequence[Record], context: Context) -> Plan | None:
        """What a slice's nodes need of the rest, as for a part; None (written whole) when the
        records' order is not the graph's ``@id`` order (a type name that begins a longer one)."""
        base = check_base(context.options.get("base", DEFAULT_BASE))
        if _graph_order(records, base) is not records:
            return None
        return plan(records)

    def stream_slice(
        self, records: t.Sequence[Record], context: Context, plan: Plan, piece: Slice, open: t.Callable[[str], Writable]
    ) -> int:
        """The slice's nodes (the first slice: the document's head before them); how many."""
        writer = _Writer(
            plan[0], check_base(context.options.get("base", DEFAULT_BASE)), plan[1], floatless(context.schema)
        )
        out = open(FILE_NAME)
        if piece.first:
            out.write(_head(context.options.get("context", "embedded")))
        _write_nodes((writer.node(record) for record in records), out.write, written=not piece.first, made_by=writer)
        return len(records)

    def stream_end(
        self, context: Context, plan: Plan, summaries: list[t.Any], open: t.Callable[[str], Writable]
    ) -> list[str]:
        """The document's end, after the last slice's nodes."""
        open(FILE_NAME).write(_tail(sum(summaries) > 0))
        return []

    def plan(self, records: t.Sequence[Record], context: Context) -> Plan:
        """The ids' types and the places: what a part's nodes need of the rest (see :data:`Plan`)."""
        check_base(context.options.get("base", DEFAULT_BASE))
        return plan(records)

    def stream_part(
        self, records: t.Sequence[Record], context: Context, plan: Plan, part: Part, open: t.Callable[[str], Writable]
    ) -> tuple[str, int]:
        """One part: a document of its own (``part-<n>.jsonld``), its nodes in ``@id`` order."""
        name = part_name(part)
        out = open(name)
        options = context.options
        write(
            records,
            out.write,
            base=options.get("base", DEFAULT_BASE),
            context=options.get("context", "embedded"),
            plan=plan,
            schema=context.schema,
        )
        return name, len(records)

    def stream_index(
        self, context: Context, plan: Plan, summaries: list[t.Any], open: t.Callable[[str], Writable]
    ) -> list[str]:
        """``index.jsonld``: the Dataset listing the parts in order."""
        options = context.options
        data = index(summaries, base=options.get("base", DEFAULT_BASE), context=options.get("context", "embedded"))
        open(INDEX_NAME).write(data)
        return []

    def earlier_parts(self, directory: Path) -> list[str]:
        """The part files the ``index.jsonld`` in ``directory`` lists (none if it is not an index)."""
        try:
            descriptor = open_directory(directory)
        except InvalidSource:
            return []
        try:
            return sorted(set(index_parts(read_source(INDEX_NAME, directory=descriptor)) or []))
        except (InvalidSource, ValueError):
            return []
        finally:
            os.close(descriptor)

    def import_records(self, source: Path, context: Context) -> list[Record]:
        """``source``: a document this format wrote, or a partitioned export (its directory or its
        ``index.jsonld``); anything else is an :class:`InvalidSource` at its place."""
        path = Path(source)
        whole = path.is_dir()
        index_file = path / INDEX_NAME if whole else path
        directory = open_directory(index_file.parent)
        shown = index_file
        data = b""
        try:
            data = read_source(
                index_file.name, directory=directory, shown=index_file.as_posix(), max_bytes=context.max_bytes
            )
            names = index_parts(data)
            if names is None:
                if whole:
                    raise invalid_source(
                        index_file, "not the index of a partitioned export (a schema.org Dataset listing the parts)"
                    )
                return read(data)
            documents: list[tuple[str, bytes | str]] = []
            for name in names:
                shown = index_file.parent / name
                documents.append(
                    (
                        shown.as_posix(),
                        read_source(name, directory=directory, shown=shown.as_posix(), max_bytes=context.max_bytes),
                    )
                )
            shown = index_file
            return read_parts(documents)
        except UnreadablePart as exc:
            raise invalid_source(exc.file, str(exc), line=exc.line, column=exc.column, pointer=exc.pointer) from exc
        except json.JSONDecodeError as exc:
            raise invalid_source(shown, f"not JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from exc
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise invalid_source(shown, f"not UTF-8 ({exc.reason})", line=line) from exc
        except Unreadable as exc:
            raise invalid_source(shown, str(exc), line=exc.line, column=exc.column, pointer=exc.pointer) from exc
        except ValueError as exc:
            raise invalid_source(shown, brief(str(exc))) from exc
        except (TypeError, KeyError, AttributeError, IndexError) as exc:
            # The document is untrusted input; a shape the reader did not foresee is still the input's fault.
            raise invalid_source(
                shown, brief(f"not a document this format writes ({type(exc).__name__}: {exc})")
            ) from exc
        finally:
            os.close(directory)
