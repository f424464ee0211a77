"""What a format plugin may know of the schemas: a documented, read-only view.

Plugins never see the internal model (its registry, validators or caches can change from one
release to the next). They get :class:`SchemaView`: per record type, its fields in canonical
order, which values are references to other records and which are EDTF dates, the canonical
key order at every level, and the type's JSON Schema with every ``$ref`` inlined, as nested
read-only mappings and tuples (a plugin cannot change what validation uses).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing as t

from .errors import SchemaBroken

if t.TYPE_CHECKING:
    from .schemas import Model

Path = tuple[str, ...]
"""A path through a record: keys, with ``"*"`` standing for every item of a list."""


@dataclasses.dataclass(frozen=True, slots=True)
class Reference:
    """Values at ``path`` are ids of records of one of the ``targets`` types."""

    path: Path
    targets: tuple[str, ...]


@dataclasses.dataclass(frozen=True, eq=False)
class TypeView:
    """One record type, as read from its schema."""

    name: str
    fields: tuple[str, ...]
    """Top-level keys the type allows, in canonical order (``id`` and ``type`` first)."""
    required: tuple[str, ...]
    references: tuple[Reference, ...]
    dates: tuple[Path, ...]
    """Where the EDTF date values are (``format: edtf``)."""
    key_order: t.Mapping[Path, tuple[str, ...]]
    """The canonical key order of the mapping at each path (``()`` is the record itself)."""
    schema: t.Mapping[str, t.Any]
    """The type's JSON Schema with every ``$ref`` inlined (siblings of a ``$ref`` win); read-only."""
    floats: bool = True
    """Whether a valid record of the type may hold a float anywhere (:func:`admits_float`; False
    only where the schema plainly refuses one: a format may then skip what floats alone need)."""

    def ordered(self, record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """A copy of ``record`` with keys in canonical order at every level (unknown keys last, sorted)."""
        return t.cast(dict[str, t.Any], ordered(record, self.key_order, ()))


@dataclasses.dataclass(frozen=True, eq=False)
class SchemaView:
    """Every record type of the schemas, by name (sorted). Hashable by identity (formats may cache on it)."""

    types: t.Mapping[str, TypeView]

    @classmethod
    def of(cls, model: Model) -> SchemaView:
        """The view of a model, built once per model."""
        return _view_of(model)


@functools.lru_cache(maxsize=8)
def _view_of(model: Model) -> SchemaView:
    views = {name: _type_view(model, info.name) for name, info in sorted(model.types.items())}
    return SchemaView(types=types.MappingProxyType(views))


def _type_view(model: Model, name: str) -> TypeView:
    info = model.types[name]
    return TypeView(
        name=info.name,
        fields=tuple(info.properties),
        required=tuple(info.required),
        references=tuple(Reference(tuple(path), tuple(targets)) for path, targets in info.references),
        dates=tuple(tuple(path) for path in info.dates),
        key_order=types.MappingProxyType({tuple(k): tuple(v) for k, v in info.key_order.items()}),
        schema=t.cast(t.Mapping[str, t.Any], _inline(model, info.schema, info.schema["$id"], 0)),
        floats=admits_float(info.schema, model, info.schema["$id"]),
    )


_NOT_FLOATS = frozenset({"string", "boolean", "null", "object", "array"})  # ("integer" takes 1.0 and -0.0)


def admits_float(schema: t.Any, model: Model | None = None, base: str = "") -> bool:
    """Whether a value valid against the JSON Schema ``schema`` may be, or hold, a float.

    A value must pass the schema's own keywords, the target of its ``$ref`` (``model`` resolves
    it against ``base``), every ``allOf`` branch and one ``anyOf``/``oneOf`` branch: any one of
    them that refuses floats refuses them. Each is read generously: True wherever that is not
    plain from the keywords read here (no type said, ``integer``, which 1.0 and -0.0 pass, an
    ``enum`` or ``const`` holding anything but strings and null, as 0 == -0.0; a property or an
    item left open; a cycle or a ``$ref`` that cannot be followed), so never False by mistake.
    The keywords not read (``not``, ``if``, ``dependentSchemas``, ...) only narrow what passes.
    """
    return _admits_float(schema, model, base, 0, {})


def _admits_float(node: t.Any, model: Model | None, base: str, depth: int, seen: dict[int, bool]) -> bool:
    if node is False:
        return False
    if not isinstance(node, t.Mapping) or depth > _MAX_DEPTH:
        return True
    known = seen.get(id(node))
    if known is not None:
        return known  # (True while it is being read: a cycle admits)
    seen[id(node)] = True
    seen[id(node)] = answer = _reads_float(node, model, base, depth, seen)
    return answer


def _reads_float(
    node: t.Mapping[str, t.Any], model: Model | None, base: str, depth: int, seen: dict[int, bool]
) -> bool:
    def admits(value: t.Any, at: str = base) -> bool:
        return _admits_float(value, model, at, depth + 1, seen)

    ref = node.get("$ref")
    if isinstance(ref, str):
        if model is None:
            return True
        try:
            target, target_base = model.lookup(ref, base)
        except SchemaBroken:
            return True
        if not admits(target, target_base):
            return False
    if any(not admits(branch) for branch in _branches(node.get("allOf"))):
        return False
    for choices in ("anyOf", "oneOf"):
        branches = _branches(node.get(choices))
        if branches and not any(admits(branch) for branch in branches):
            return False
    for values in ([node["const"]] if "const" in node else [], node.get("enum")):
        if isinstance(values, (list, tuple)) and values and all(type(v) is str or v is None for v in values):
            return False
    kinds = node.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not isinstance(kinds, (list, tuple)) or not kinds or not set(kinds) <= _NOT_FLOATS:
        return True  # (no type said, a number or an integer, or something unread)
    if "object" in kinds:
        for keyword in ("properties", "patternProperties"):
            named = node.get(keyword, {})
            if not isinstance(named, t.Mapping) or any(admits(value) for value in named.values()):
                return True
        if admits(node.get("additionalProperties", True)):
            return True
    if "array" in kinds:
        prefix = node.get("prefixItems", ())
        if not isinstance(prefix, (list, tuple)) or any(admits(item) for item in prefix):
            return True
        if admits(node.get("items", True)):
            return True
    return False


def _branches(value: t.Any) -> t.Sequence[t.Any]:
    """The branches of ``allOf``/``anyOf``/``oneOf`` (none when it is not a list: no valid schema)."""
    return value if isinstance(value, (list, tuple)) else ()


_MAX_DEPTH = 64


def _inline(model: Model, node: t.Any, base: str, depth: int) -> t.Any:
    """``node`` with its ``$ref`` s replaced by their targets (Core §8.2.3.1), frozen."""
    if depth > _MAX_DEPTH:
        raise SchemaBroken(f"{base}: $ref chains nest deeper than {_MAX_DEPTH} (a recursive schema cannot be inlined)")
    if isinstance(node, dict):
        out: dict[str, t.Any] = {}
        if isinstance(node.get("$ref"), str):
            target, target_base = model.lookup(node["$ref"], base)
            inlined = _inline(model, target, target_base, depth + 1)
            if isinstance(inlined, t.Mapping):
                out.update(inlined)
        for key, value in node.items():
            if key in ("$ref", "$defs", "$id", "$schema"):
                continue
            out[key] = _inline(model, value, base, depth + 1)
        return types.MappingProxyType(out)
    if isinstance(node, list):
        return tuple(_inline(model, item, base, depth + 1) for item in node)
    return node


def ordered(value: t.Any, order: t.Mapping[Path, tuple[str, ...]], at: Path = ()) -> t.Any:
    """``value`` with the keys of every mapping in ``order`` (by path; unknown keys last, sorted)."""
    return ordered_by_ranks(value, ranks_of(order), at)


Ranks = dict[Path, dict[t.Any, int]]
"""An order as each key's position, by path (:func:`ranks_of`): made once, used for many records."""
_NO_RANK: dict[t.Any, int] = {}


def ranks_of(order: t.Mapping[Path, tuple[str, ...]]) -> Ranks:
    return {path: {key: i for i, key in enumerate(keys)} for path, keys in order.items()}


def ordered_by_ranks(value: t.Any, ranks: Ranks, at: Path = ()) -> t.Any:
    """:func:`ordered` with the order's ranks made already (a mapping whose keys are in order
    is not sorted again; a plain scalar is taken as it is, with no call and no path made for it)."""
    if type(value) is dict or (type(value) is not list and isinstance(value, t.Mapping)):
        rank = ranks.get(at, _NO_RANK)
        keys = list(value)
        positions = [rank.get(k, -1) for k in keys]
        if -1 in positions or positions != sorted(positions):  # (known keys rank apart)
            keys.sort(key=lambda k: (0, rank[k], "") if k in rank else (1, 0, str(k)))
        out = {}
        for k in keys:
            item = value[k]
            out[k] = item if type(item) in _PLAIN_SCALARS else ordered_by_ranks(item, ranks, (*at, k))
        return out
    if isinstance(value, list):
        inner = (*at, "*")
        return [item if type(item) in _PLAIN_SCALARS else ordered_by_ranks(item, ranks, inner) for item in value]
    return value


_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})  # (returned as they are: see ordered_by_ranks)
