"""What the core knows about a record type without knowing the type, read from its schema.

Which values are references to other records (``x-refers-to``), which are EDTF dates
(``format: edtf``), which text must be attested by a quote (``x-attested``), the canonical key order (``properties`` order), the required keys.
A schema describes a record type when its ``type`` property is a ``const``; that is its name.
"""

from __future__ import annotations

import typing as t

from .problems import FrozenValue, pointer_join, set_field
from .schema_files import SchemaSet

Template = tuple[str, ...]  # a path through a record; "*" stands for any list index


class TypeInfo(FrozenValue):
    """What the core knows about one record type, read from its schema."""

    # (no __slots__: a __dict__ and weak references, as the dataclass it was)
    _fields = __match_args__ = (
        "name",
        "schema",
        "references",
        "dates",
        "attested",
        "key_order",
        "required",
        "properties",
    )

    name: str
    schema: dict[str, t.Any]
    references: tuple[tuple[Template, tuple[str, ...]], ...]  # (where, allowed target types)
    dates: tuple[Template, ...]
    attested: tuple[Template, ...]  # text values a quote supporting them must contain (``unattested-text``)
    key_order: dict[Template, tuple[str, ...]]
    required: tuple[str, ...]
    properties: tuple[str, ...]

    def __init__(
        self,
        name: str,
        schema: dict[str, t.Any],
        references: tuple[tuple[Template, tuple[str, ...]], ...],
        dates: tuple[Template, ...],
        attested: tuple[Template, ...],
        key_order: dict[Template, tuple[str, ...]],
        required: tuple[str, ...],
        properties: tuple[str, ...],
    ) -> None:
        set_field(self, "name", name)
        set_field(self, "schema", schema)
        set_field(self, "references", references)
        set_field(self, "dates", dates)
        set_field(self, "attested", attested)
        set_field(self, "key_order", key_order)
        set_field(self, "required", required)
        set_field(self, "properties", properties)


def read_types(schemas: SchemaSet) -> dict[str, TypeInfo]:
    """Every record type of the schemas, by name (sorted)."""
    names = [name for name, doc in schemas.documents.items() if record_type(doc) == name]
    return {name: type_info(schemas, name) for name in sorted(names)}


def type_info(schemas: SchemaSet, name: str) -> TypeInfo:
    """Walk one type's schema (through ``$ref`` s) for its references, dates and key order."""
    schema = schemas.documents[name]
    references: list[tuple[Template, tuple[str, ...]]] = []
    dates: list[Template] = []
    attested: list[Template] = []
    order: dict[Template, tuple[str, ...]] = {}

    def walk(node: dict[str, t.Any], base: str, at: Template, depth: int) -> None:
        if depth > 12:
            return
        node, base = schemas.resolve(node, base)
        if "x-refers-to" in node:
            references.append((at, tuple(node["x-refers-to"])))
        if node.get("format") == "edtf":
            dates.append(at)
        if node.get("x-attested") is True:
            attested.append(at)
        props = node.get("properties")
        if isinstance(props, dict):
            order[at] = tuple(props)
            for key, sub in props.items():
                if isinstance(sub, dict):
                    walk(sub, base, (*at, key), depth + 1)
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, base, (*at, "*"), depth + 1)

    walk(schema, schema["$id"], (), 0)
    return TypeInfo(
        name=name,
        schema=schema,
        references=tuple(references),
        dates=tuple(dates),
        attested=tuple(attested),
        key_order=order,
        required=tuple(schema.get("required", ())),
        properties=tuple(schema.get("properties", {})),
    )


_SCALAR_TYPES = frozenset({"string", "number", "integer", "boolean", "null"})


def scalar_paths(schemas: SchemaSet, name: str) -> frozenset[Template]:
    """The places in a ``name`` record that its schema proves hold a scalar, or a list of
    scalars, in every valid record: where a check of its key order need not look (no mapping can
    be there). Proven by a ``type`` of JSON scalars only (or an array whose ``items`` and
    ``prefixItems`` are all so proven), an ``enum`` or ``const`` of scalars, an ``anyOf`` or
    ``oneOf`` whose every branch is proven, or an ``allOf`` with one that is; anything else (an
    object, no ``type``, an array with no ``items``) is not."""
    schema = schemas.documents[name]
    plain = (str, int, float, bool, type(None))
    found: set[Template] = set()

    def proven(node: dict[str, t.Any], base: str, depth: int) -> bool:
        if depth > 12:
            return False
        node, base = schemas.resolve(node, base)
        kinds = node.get("type")
        if isinstance(kinds, str):
            kinds = [kinds]
        if isinstance(kinds, list):
            if all(kind in _SCALAR_TYPES for kind in kinds):
                return True
            items, prefix = node.get("items"), node.get("prefixItems", [])  # (2020-12: items only after the prefix)
            if all(kind in _SCALAR_TYPES or kind == "array" for kind in kinds) and isinstance(prefix, list):
                every = [*prefix, items]
                return all(isinstance(item, dict) and proven(item, base, depth + 1) for item in every)
            return False
        enum = node.get("enum")
        if isinstance(enum, list) and all(isinstance(value, plain) for value in enum):
            return True
        if "const" in node and isinstance(node["const"], plain):
            return True
        for keyword in ("anyOf", "oneOf"):
            branches = node.get(keyword)
            if isinstance(branches, list) and branches:
                return all(isinstance(branch, dict) and proven(branch, base, depth + 1) for branch in branches)
        branches = node.get("allOf")
        if isinstance(branches, list):
            return any(isinstance(branch, dict) and proven(branch, base, depth + 1) for branch in branches)
        return False

    def walk(node: dict[str, t.Any], base: str, at: Template, depth: int) -> None:
        if depth > 12:
            return
        node, base = schemas.resolve(node, base)
        props = node.get("properties")
        if isinstance(props, dict):
            for key, sub in props.items():
                if isinstance(sub, dict):
                    if proven(sub, base, depth + 1):
                        found.add((*at, key))
                    else:
                        walk(sub, base, (*at, key), depth + 1)
        items = node.get("items")
        if isinstance(items, dict) and not node.get("prefixItems"):  # (a prefix: items may differ there)
            walk(items, base, (*at, "*"), depth + 1)

    walk(schema, schema["$id"], (), 0)
    return frozenset(found)


def record_type(doc: dict[str, t.Any]) -> str | None:
    """The record type a schema describes: the ``const`` of its ``type`` property."""
    prop = doc.get("properties", {}).get("type")
    const = prop.get("const") if isinstance(prop, dict) else None
    return const if isinstance(const, str) else None


def values_at(data: t.Any, template: Template, pointer: str = "") -> t.Iterator[tuple[str, t.Any]]:
    """Every ``(pointer, value)`` in ``data`` matching ``template`` (``"*"`` = each list item).

    :func:`compile_template` gives the same pairs, in the same order, at a fraction of the cost:
    the form for code that walks every record.
    """
    if not template:
        yield pointer, data
        return
    head, rest = template[0], template[1:]
    if head == "*":
        if isinstance(data, list):
            for index, item in enumerate(data):
                yield from values_at(item, rest, pointer_join(pointer, index))
    elif isinstance(data, dict) and head in data:
        yield from values_at(data[head], rest, pointer_join(pointer, head))


Found = list[tuple[str, t.Any]]
_Step = t.Callable[[t.Any, str, Found], None]  # (value, its pointer, where the matches go)

_COMPILED: dict[Template, t.Callable[[t.Any], Found]] = {}


def compile_template(template: Template) -> t.Callable[[t.Any], Found]:
    """``template`` made into a function of a record: ``compile_template(template)(data)`` is
    ``list(values_at(data, template))``, the same pointers in the same order.

    Each key's escaped token (RFC 6901) is made once, when the template is compiled, and a list
    index needs no escaping; one function is kept per template (the model has a few dozen).
    """
    found = _COMPILED.get(template)
    if found is None:
        found = _COMPILED[template] = _compile(template)
    return found


def _compile(template: Template) -> t.Callable[[t.Any], Found]:
    if not template:
        return lambda data: [("", data)]
    if len(template) == 1 and template[0] != "*":  # a top-level field: most templates
        key, token = template[0], pointer_join("", template[0])

        def field(data: t.Any) -> Found:
            if isinstance(data, dict) and key in data:
                return [(token, data[key])]
            return []

        return field
    step = _steps(template)

    def run(data: t.Any) -> Found:
        out: Found = []
        step(data, "", out)
        return out

    return run


def _steps(template: Template) -> _Step:
    """The walk of ``template``, one closure per part; the last part appends the value itself."""
    head, rest = template[0], template[1:]
    if head == "*":
        if not rest:

            def items(data: t.Any, pointer: str, out: Found) -> None:
                if isinstance(data, list):
                    out += [(f"{pointer}/{index}", item) for index, item in enumerate(data)]

            return items
        each = _steps(rest)

        def every(data: t.Any, pointer: str, out: Found) -> None:
            if isinstance(data, list):
                for index, item in enumerate(data):
                    each(item, f"{pointer}/{index}", out)

        return every
    token = pointer_join("", head)
    if not rest:

        def last(data: t.Any, pointer: str, out: Found) -> None:
            if isinstance(data, dict) and head in data:
                out.append((pointer + token, data[head]))

        return last
    below = _steps(rest)

    def key(data: t.Any, pointer: str, out: Found) -> None:
        if isinstance(data, dict) and head in data:
            below(data[head], pointer + token, out)

    return key
