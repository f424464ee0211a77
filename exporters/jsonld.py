"""JSON-LD 1.1 with the schema.org vocabulary: one document, every record a node of ``@graph``.

The document is written for two readers: search engines and other schema.org consumers (Google's
NewsArticle and Event profiles), and our own importer, which reads it back into the very same
records (``import(export(c)) == c``). So every record field is carried, in a schema.org term where
one says it honestly, else in an ``additionalProperty`` PropertyValue named after the field.

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
  ``EventCancelled``; the exact status is kept in the PropertyValue ``status``. The enumeration is
  written as an IRI ``{"@id": "http://schema.org/EventScheduled"}``, not as a string literal.
* Dates keep their precision (formats.md §3, §5): ``2022``, ``2022-01``, ``2022-01-21`` are
  ISO 8601 reduced precision and go to ``datePublished``/``startDate`` as they are; an interval
  gives ``startDate``/``endDate`` for the ends it has. EDTF-only parts never become dates: a
  qualifier (``?~%``) is dropped from the ISO value, open/unknown ends give no value, and
  ``[..D]``/``[D..]`` give none at all. Whenever the ISO values do not say exactly the EDTF, the
  EDTF string is kept in the PropertyValue ``edtf``.
* Sources are ``citation``: a Quotation (``text``, ``isPartOf`` the article) for a quote, a
  CreativeWork (``url``, ``name``) for an outside source, and for an outside page's own words a
  Quotation whose ``isPartOf`` is that CreativeWork; ``note`` is its ``description``;
  ``supports`` and ``confidence`` are PropertyValues. ``identifiers.wikidata`` is ``sameAs``
  ``https://www.wikidata.org/wiki/Q…``; ``identifiers.url`` is ``url``, or ``mainEntityOfPage`` for
  articles and agreements, whose ``url`` is their own. ``notes``, ``kind`` (but for agreements)
  and the fields above are PropertyValues. schema.org lists ``additionalProperty`` for Place,
  Product and a few more only; its domains are advisory, and this is the property it offers for
  "a characteristic for which there is no matching property in schema.org".
* Participants are ``attendee``: a Role with ``roleName`` when the record gives a role, else the
  node reference itself. The other references are in ``_FIELDS`` below (organizers ``organizer``,
  part_of ``superEvent``, within ``containedInPlace``, ...). Where a record names a state by its
  place record (a country as organizer, attendee or party), the value is a Place where schema.org
  expects an Organization or Person: the data says no more, and we do not invent a government node.
* Lists stay JSON arrays in record order (the importer reads the JSON); RDF consumers see sets.
* Bytes: UTF-8, keys sorted, two-space indent, graph sorted by ``@id``, a final newline; ``<`` is
  written ``\\u003c`` so the document can be pasted into an HTML ``<script>`` (JSON-LD 1.1 §7.2).
"""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

from records_toolkit import dates
from records_toolkit.errors import OptionError
from records_toolkit.exporters import Unreadable, brief, parse_json, read_source
from records_toolkit.plugins import Context, Exported, Option, Record, invalid_source

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
    "additionalProperty",
    "affiliation",
    "alternateName",
    "articleBody",
    "attendee",
    "author",
    "citation",
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
    "inLanguage",
    "isPartOf",
    "jobTitle",
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
    "superEvent",
    "text",
    "url",
    "value",
    "workFeatured",
)
_TYPES = (
    "AdministrativeArea",
    "City",
    "Country",
    "CreativeWork",
    "Date",
    "EducationEvent",
    "Event",
    "GeoCoordinates",
    "GovernmentOrganization",
    "NewsArticle",
    "NewsMediaOrganization",
    "Organization",
    "Person",
    "Place",
    "PropertyValue",
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
# strings; "ref"/"refs": one or a list of references to other records.
Shape = t.Literal["text", "texts", "ref", "refs"]
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
        ("parties", "sourceOrganization", "refs"),
        ("signatories", "accountablePerson", "refs"),
        ("text_url", "url", "text"),
    ),
    "event": (("locations", "location", "refs"), ("organizers", "organizer", "refs"), ("part_of", "superEvent", "ref")),
}
_OWN_URL = frozenset({"article", "agreement"})  # their `url` is their own; identifiers.url -> mainEntityOfPage
_KIND_PROPERTY = frozenset({"organization", "place", "event"})  # kind as a PropertyValue (agreement: genre)
_PROPERTY_ORDER = ("kind", "status", "edtf", "notes")
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


def _property(name: str, value: t.Any) -> dict[str, t.Any]:
    return {"@type": "PropertyValue", "name": name, "value": value}


class _Writer:
    """Builds the nodes of one collection; knows every record's type to write references."""

    def __init__(self, records: t.Sequence[Record], base: str) -> None:
        self.base = base
        self.types = {record["id"]: record["type"] for record in records}

    def iri(self, record_id: str) -> str:
        if record_id not in self.types:
            raise ValueError(f"reference to {record_id!r}, which is not among the exported records")
        return f"{self.base}{self.types[record_id]}/{record_id}"

    def ref(self, record_id: str) -> dict[str, str]:
        return {"@id": self.iri(record_id)}

    def node(self, record: Record) -> dict[str, t.Any]:
        kind = record["type"]
        node: dict[str, t.Any] = {
            "@id": self.iri(record["id"]),
            "@type": self.type_of(record),
            "identifier": record["id"],
        }
        extra: dict[str, t.Any] = {}
        for field, term, shape in (*_COMMON, *_FIELDS.get(kind, ())):
            if field in record:
                value = record[field]
                node[term] = (
                    self.ref(value)
                    if shape == "ref"
                    else [self.ref(v) for v in value]
                    if shape == "refs"
                    else list(value)
                    if shape == "texts"
                    else value
                )
        if kind in _KIND_PROPERTY:
            extra["kind"] = record["kind"]
        if kind == "article":
            self._date(node, extra, record["date_published"], interval=False)
        if kind == "event":
            if "date" in record:
                self._date(node, extra, record["date"], interval=True)
            node["eventStatus"] = {"@id": SCHEMA + _EVENT_STATUS[record["status"]]}
            extra["status"] = record["status"]
            if "participants" in record:
                node["attendee"] = [self._participant(p) for p in record["participants"]]
            about = ([record["agreement"]] if "agreement" in record else []) + list(record.get("about", []))
            if about:
                node["about"] = [self.ref(v) for v in about]
            if "agreement" in record:
                node["workFeatured"] = self.ref(record["agreement"])
        if kind == "place" and "coordinates" in record:
            node["geo"] = {"@type": "GeoCoordinates", **record["coordinates"]}
        if kind == "agreement" and "provisions" in record:
            node["hasPart"] = [{"@type": "CreativeWork", "description": p} for p in record["provisions"]]
        identifiers = record.get("identifiers", {})
        if "wikidata" in identifiers:
            node["sameAs"] = WIKIDATA + identifiers["wikidata"]
        if "url" in identifiers:
            node["mainEntityOfPage" if kind in _OWN_URL else "url"] = identifiers["url"]
        if "notes" in record:
            extra["notes"] = record["notes"]
        node["citation"] = [self._source(s) for s in record["sources"]]
        if extra:
            node["additionalProperty"] = [_property(name, extra[name]) for name in _PROPERTY_ORDER if name in extra]
        return node

    @staticmethod
    def type_of(record: Record) -> str:
        """The schema.org type of a record: the most specific that is true of its kind."""
        kind = record["type"]
        table = {"organization": _ORGANIZATION_TYPES, "place": _PLACE_TYPES, "event": _EVENT_TYPES}.get(kind, {})
        return table.get(record.get("kind", ""), _GENERIC_TYPE[kind])

    @staticmethod
    def _date(node: dict[str, t.Any], extra: dict[str, t.Any], text: str, *, interval: bool) -> None:
        iso = iso_dates(text, interval=interval)
        node.update(iso)
        if _date_from_iso(iso, interval=interval) != text:
            extra["edtf"] = text  # ISO 8601 cannot say it all: keep the exact EDTF

    def _participant(self, participant: Record) -> dict[str, t.Any]:
        if "role" not in participant:
            return self.ref(participant["ref"])
        # schema.org Role: the role node carries the property it qualifies (schema.org/Role).
        return {"@type": "Role", "attendee": self.ref(participant["ref"]), "roleName": participant["role"]}

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
        extra = [_property("supports", list(source["supports"]))]
        if "confidence" in source:
            extra.append(_property("confidence", source["confidence"]))
        node["additionalProperty"] = extra
        return node


def check_base(base: str) -> str:
    """The base IRI must be absolute http(s) and end with '/' or '#', so ids append cleanly."""
    if not _BASE_RE.match(base):
        raise OptionError(f"-O base={base!r}: give an absolute http(s) IRI ending with '/' or '#'")
    return base


def document(records: t.Sequence[Record], *, base: str = DEFAULT_BASE, context: str = "embedded") -> dict[str, t.Any]:
    """The JSON-LD document of ``records`` (any order: the graph is sorted by ``@id``)."""
    writer = _Writer(records, check_base(base))
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
    """Deterministic bytes: sorted keys, UTF-8, newline at the end, ``<`` escaped (JSON-LD 1.1 §7.2)."""
    text = json.dumps(_no_negative_zero(doc), sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False)
    return (text.replace("<", "\\u003c") + "\n").encode("utf-8")


# -- import -----------------------------------------------------------------------------------------


class _Reader:
    """Reads the nodes of one document back into records; refuses what it cannot carry exactly."""

    def __init__(self, graph: list[t.Any]) -> None:
        self.ids: dict[str, str] = {}
        for node in graph:
            if not isinstance(node, dict) or not isinstance(node.get("@id"), str):
                raise ValueError("every node of @graph needs an @id")
            if not isinstance(node.get("identifier"), str):
                raise ValueError(f"node {node['@id']}: no record id in `identifier`")
            if node["@id"] in self.ids:
                raise ValueError(f"two nodes have the @id {node['@id']}")
            self.ids[node["@id"]] = node["identifier"]

    def ref(self, value: t.Any, where: str) -> str:
        iri = value.get("@id") if isinstance(value, dict) and set(value) == {"@id"} else value
        if not isinstance(iri, str) or iri not in self.ids:
            raise ValueError(f"{where}: {value!r} is not a reference to a node of the graph")
        return self.ids[iri]

    def record(self, node: dict[str, t.Any]) -> Record:
        where = f"node {node['@id']}"
        node = dict(node)
        node.pop("@id")
        type_name = node.pop("@type", None)
        if type_name not in RECORD_TYPE:
            raise ValueError(f"{where}: @type {type_name!r} is not one the export writes")
        kind = RECORD_TYPE[type_name]
        record: Record = {"id": node.pop("identifier"), "type": kind}
        extra = _properties(node.pop("additionalProperty", []), where)
        for field, term, shape in (*_COMMON, *_FIELDS.get(kind, ())):
            if term in node:
                value = node.pop(term)
                record[field] = (
                    self.ref(value, where)
                    if shape == "ref"
                    else [self.ref(v, where) for v in _list(value)]
                    if shape == "refs"
                    else list(_list(value))
                    if shape == "texts"
                    else _text(value, where)
                )
        if kind in _KIND_PROPERTY:
            record["kind"] = extra.pop("kind", None)
        if kind == "article":
            self._date(record, "date_published", node, extra, interval=False, where=where)
        if kind == "event":
            self._date(record, "date", node, extra, interval=True, where=where)
            record["status"] = extra.pop("status", None)
            if node.pop("eventStatus", None) != {"@id": SCHEMA + _EVENT_STATUS.get(record["status"], "?")}:
                raise ValueError(f"{where}: eventStatus does not agree with the status {record['status']!r}")
            if "attendee" in node:
                record["participants"] = [self._participant(p, where) for p in _list(node.pop("attendee"))]
            about = [self.ref(v, where) for v in _list(node.pop("about", []))]
            if "workFeatured" in node:
                record["agreement"] = self.ref(node.pop("workFeatured"), where)
                if not about or about[0] != record["agreement"]:
                    raise ValueError(f"{where}: the agreement in workFeatured must come first in about")
                about = about[1:]
            if about:
                record["about"] = about
        if kind == "place" and "geo" in node:
            geo = dict(node.pop("geo"))
            if geo.pop("@type", None) != "GeoCoordinates":
                raise ValueError(f"{where}: geo must be GeoCoordinates")
            record["coordinates"] = geo
        if kind == "agreement" and "hasPart" in node:
            record["provisions"] = [_part(p, where) for p in _list(node.pop("hasPart"))]
        identifiers: Record = {}
        if "sameAs" in node:
            for value in _list(node.pop("sameAs")):
                match = _WIKIDATA_RE.match(value) if isinstance(value, str) else None
                if not match:
                    raise ValueError(f"{where}: sameAs {value!r} is not a Wikidata item page")
                identifiers["wikidata"] = match.group(1)
        url_term = "mainEntityOfPage" if kind in _OWN_URL else "url"
        if url_term in node:
            identifiers["url"] = _text(node.pop(url_term), where)
        if identifiers:
            record["identifiers"] = identifiers
        if "notes" in extra:
            record["notes"] = extra.pop("notes")
        record["sources"] = [self._source(s, where) for s in _list(node.pop("citation", []))]
        if node or extra:
            raise ValueError(f"{where}: cannot read {', '.join(sorted([*node, *extra]))}")
        record = {key: value for key, value in record.items() if value is not None}
        if _Writer.type_of(record) != type_name:
            raise ValueError(f"{where}: @type {type_name} does not agree with the kind {record.get('kind')!r}")
        return record

    @staticmethod
    def _date(
        record: Record, field: str, node: dict[str, t.Any], extra: dict[str, t.Any], *, interval: bool, where: str
    ) -> None:
        iso: dict[str, t.Any] = {key: node.pop(key) for key in ("datePublished", "startDate", "endDate") if key in node}
        text = extra.pop("edtf", None) or _date_from_iso(iso, interval=interval)
        if text is not None:
            if iso_dates(text, interval=interval) != iso:
                raise ValueError(f"{where}: {iso} does not agree with the EDTF date {text!r}")
            record[field] = text
        elif iso:
            raise ValueError(f"{where}: {iso} is not a date the export writes")

    def _participant(self, value: t.Any, where: str) -> Record:
        if isinstance(value, dict) and value.get("@type") == "Role":
            if set(value) != {"@type", "attendee", "roleName"}:
                raise ValueError(f"{where}: a Role needs exactly attendee and roleName")
            return {"ref": self.ref(value["attendee"], where), "role": _text(value["roleName"], where)}
        return {"ref": self.ref(value, where)}

    def _source(self, value: t.Any, where: str) -> Record:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: a citation must be a node, not {value!r}")
        node = dict(value)
        kind = node.pop("@type", None)
        source: Record = {}
        page_node = node.get("isPartOf")
        if kind == "Quotation" and isinstance(page_node, dict) and page_node.get("@type") == "CreativeWork":
            # the words of an outside page (an article is named by its IRI, or {"@id": IRI})
            page = dict(node.pop("isPartOf"))
            if page.pop("@type", None) != "CreativeWork" or set(page) != {"url", "name"}:
                raise ValueError(f"{where}: a quoted page must be a CreativeWork with exactly url and name")
            source["url"] = _text(page["url"], where)
            source["title"] = _text(page["name"], where)
            source["quote"] = _text(node.pop("text", None), where)
        elif kind == "Quotation":
            source["article"] = self.ref(node.pop("isPartOf", None), where)
            source["quote"] = _text(node.pop("text", None), where)
        elif kind == "CreativeWork":
            source["url"] = _text(node.pop("url", None), where)
            source["title"] = _text(node.pop("name", None), where)
        else:
            raise ValueError(f"{where}: a citation must be a Quotation or a CreativeWork, not {kind!r}")
        if "description" in node:
            source["note"] = _text(node.pop("description"), where)
        extra = _properties(node.pop("additionalProperty", []), where)
        if "confidence" in extra:
            source["confidence"] = extra.pop("confidence")
        source["supports"] = list(_list(extra.pop("supports", [])))
        if node or extra:
            raise ValueError(f"{where}: cannot read {', '.join(sorted([*node, *extra]))} in a citation")
        return source


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else [value]


def _text(value: t.Any, where: str) -> t.Any:
    if isinstance(value, (dict, list)) or value is None:
        raise ValueError(f"{where}: expected a plain value, not {value!r}")
    return value


def _part(value: t.Any, where: str) -> str:
    if not isinstance(value, dict) or set(value) != {"@type", "description"} or value["@type"] != "CreativeWork":
        raise ValueError(f"{where}: a provision is a CreativeWork with a description, not {value!r}")
    return t.cast(str, value["description"])


def _properties(values: t.Any, where: str) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {}
    for value in _list(values):
        if (
            not isinstance(value, dict)
            or set(value) != {"@type", "name", "value"}
            or value["@type"] != "PropertyValue"
            or value["name"] in out
        ):
            raise ValueError(f"{where}: {value!r} is not a PropertyValue with a name and a value")
        out[value["name"]] = value["value"]
    return out


def read(data: bytes | str) -> list[Record]:
    """Records from the bytes of a document this format wrote (either context form).

    Input this format cannot read raises ``ValueError``: ``UnicodeDecodeError`` (bytes are
    decoded strictly, in the UTF-8/16/32 that JSON allows), ``json.JSONDecodeError``, or
    :class:`Unreadable` with the place of values nested deeper than the loader allows or of a
    lone surrogate.
    """
    text = data if isinstance(data, str) else data.decode(json.detect_encoding(data))
    doc = parse_json(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("@graph"), list):
        raise ValueError("not a JSON-LD document with a @graph")
    context = doc.get("@context")
    if isinstance(context, str):
        if context not in SCHEMA_ORG_CONTEXTS:
            raise ValueError(f"@context {context!r} is not the schema.org context (it is never fetched)")
    elif context != CONTEXT:
        raise ValueError("@context is neither the schema.org URL nor the context this format embeds")
    if set(doc) != {"@context", "@graph"}:
        raise ValueError(f"unexpected keys at the top: {', '.join(sorted(set(doc) - {'@context', '@graph'}))}")
    reader = _Reader(doc["@graph"])
    return [reader.record(node) for node in doc["@graph"]]


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
        doc = document(
            records, base=context.options.get("base", DEFAULT_BASE), context=context.options.get("context", "embedded")
        )
        return Exported(files={FILE_NAME: dumps(doc)})

    def import_records(self, source: Path, context: Context) -> list[Record]:
        """``source``: a document this format wrote; anything else is an :class:`InvalidSource` at its place."""
        path = Path(source)
        data = read_source(path)  # never through a link, never a FIFO or device, never past 16 MiB
        try:
            return read(data)
        except json.JSONDecodeError as exc:
            raise invalid_source(path, f"not JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from exc
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise invalid_source(path, f"not UTF-8 ({exc.reason})", line=line) from exc
        except Unreadable as exc:
            raise invalid_source(path, str(exc), line=exc.line, column=exc.column) from exc
        except ValueError as exc:
            raise invalid_source(path, brief(str(exc))) from exc
        except (TypeError, KeyError, AttributeError, IndexError) as exc:
            # The document is untrusted input; a shape the reader did not foresee is still the input's fault.
            raise invalid_source(
                path, brief(f"not a document this format writes ({type(exc).__name__}: {exc})")
            ) from exc
