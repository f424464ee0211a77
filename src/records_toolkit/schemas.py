"""The record model: JSON Schemas (draft 2020-12) loaded from disk, never from the network.

Each record type has one schema file, ``<type>.schema.json``; shared pieces live in
``defs.schema.json``. ``$ref`` between files resolves through a local ``referencing``
registry (JSON Schema Core §8.2.3.1); a reference to anything else is an error, not a fetch.

Besides validation, the schemas are read for what the core needs to know about a type
without knowing the type: which values are references to other records (``x-refers-to``),
which are EDTF dates (``format: edtf``), and the canonical key order (``properties`` order).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import typing as t
import urllib.parse
from pathlib import Path

from .errors import SchemaBroken
from .problems import pointer_join, pointer_tokens

if t.TYPE_CHECKING:
    from jsonschema.protocols import Validator

SCHEMA_BASE = "https://records-toolkit.example/schemas/"
Template = tuple[str, ...]  # a path through a record; "*" stands for any list index


def schema_dir() -> Path:
    """Where the schemas are: ``$TOOLKIT_SCHEMAS``, the installed package, or the source tree."""
    override = os.environ.get("TOOLKIT_SCHEMAS")
    if override:
        return Path(override)
    packaged = Path(__file__).with_name("schemas")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas"


@dataclasses.dataclass(frozen=True)
class TypeInfo:
    """What the core knows about one record type, read from its schema."""

    name: str
    schema: dict[str, t.Any]
    references: tuple[tuple[Template, tuple[str, ...]], ...]  # (where, allowed target types)
    dates: tuple[Template, ...]
    key_order: dict[Template, tuple[str, ...]]
    required: tuple[str, ...]
    properties: tuple[str, ...]


class Model:
    """All schemas of a directory, checked against the metaschema, with one validator per type."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or schema_dir()
        documents: dict[str, dict[str, t.Any]] = {}
        try:
            paths = sorted(self.directory.glob("*.schema.json"))
        except OSError as exc:
            raise SchemaBroken(f"cannot read schemas in {self.directory}: {exc}") from exc
        if not paths:
            raise SchemaBroken(f"no *.schema.json files in {self.directory}")
        for path in paths:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SchemaBroken(f"{path}: {exc}") from exc
            _check_schema(path, doc)
            if "$id" not in doc:
                raise SchemaBroken(f"{path}: a schema needs an absolute $id")
            documents[path.name.removesuffix(".schema.json")] = doc

        self.documents = documents
        self._by_id = {doc["$id"]: doc for doc in documents.values()}
        for name, doc in documents.items():
            self._check_refs(name, doc)
        record_types = [name for name, doc in documents.items() if _record_type(doc) == name]
        self.types: dict[str, TypeInfo] = {}
        for name in sorted(record_types):
            self.types[name] = self._type_info(name, documents[name])
        self._validators: dict[str, Validator] = {}
        self._fast: dict[str, t.Any] = {}

    @functools.cached_property
    def format_checker(self) -> t.Any:
        """jsonschema's checker plus ``edtf``; built only when jsonschema itself is needed."""
        return _format_checker()

    @functools.cached_property
    def registry(self) -> t.Any:
        """The ``referencing`` registry jsonschema validates with; never retrieves anything."""
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        def refuse(uri: str) -> t.NoReturn:
            from referencing.exceptions import NoSuchResource

            raise NoSuchResource(ref=uri)  # type: ignore[call-arg]

        return Registry(retrieve=refuse).with_resources(  # type: ignore[call-arg]
            (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012))
            for doc in self.documents.values()
        )

    def lookup(self, ref: str, base: str) -> tuple[t.Any, str]:
        """The schema a ``$ref`` names (Core §8.2.3.1: resolved against ``base``), and its document's URI.

        A plain local resolver (``$id`` plus JSON pointer) for reading the schemas, so that a
        clean run never imports ``referencing``; anything else falls back to it.
        """
        uri = urllib.parse.urljoin(base, ref)
        address, _, fragment = uri.partition("#")
        node = self._by_id.get(address)
        if node is not None and (not fragment or fragment.startswith("/")):
            try:
                for token in pointer_tokens(fragment):
                    node = node[int(token)] if isinstance(node, list) else node[token]
                return node, address
            except (KeyError, IndexError, ValueError, TypeError):
                pass
        from referencing.exceptions import Unresolvable

        try:
            resolved = self.registry.resolver(base_uri=base).lookup(ref)
        except Unresolvable as exc:
            raise LookupError(uri) from exc
        return resolved.contents, address

    def _check_refs(self, name: str, doc: dict[str, t.Any]) -> None:
        """Resolve every ``$ref`` now, so a broken one stops the run (exit 3) instead of a record."""
        stack: list[t.Any] = [doc]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    try:
                        self.lookup(ref, doc["$id"])
                    except LookupError as exc:
                        raise SchemaBroken(
                            f"{name}.schema.json: $ref {ref!r} does not resolve to a local schema "
                            "(schemas are never fetched over the network)"
                        ) from exc
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)

    def fast_is_valid(self, type_name: str, data: t.Any) -> bool | None:
        """A yes/no from jsonschema-rs (compiled, ~50x faster), or None when it is not installed.

        Valid records, the common case, pay only this; an invalid one is validated again by
        jsonschema for the full, plain-words list of errors.
        """
        if type_name not in self._fast:
            self._fast[type_name] = self._build_fast(type_name)
        fast = self._fast[type_name]
        return None if fast is None else bool(fast.is_valid(data))

    def _build_fast(self, type_name: str) -> t.Any:
        try:
            import jsonschema_rs
        except ImportError:  # pragma: no cover - an optional speed-up
            return None
        from . import dates

        def refuse(uri: str) -> t.NoReturn:
            raise ValueError(f"schemas are never fetched: {uri}")

        registry = jsonschema_rs.Registry([(doc["$id"], doc) for doc in self.documents.values()], retriever=refuse)
        return jsonschema_rs.validator_for(
            self.types[type_name].schema,
            registry=registry,
            validate_formats=True,
            formats={"edtf": dates.is_valid},
            retriever=refuse,
        )

    def fast_errors(self, type_name: str, data: t.Any) -> list[tuple[list[str | int], str]]:
        """jsonschema-rs's own errors: a fallback should the two validators ever disagree."""
        fast = self._fast.get(type_name)
        return [] if fast is None else [(list(e.instance_path), e.message) for e in fast.iter_errors(data)]

    def validator(self, type_name: str) -> Validator:
        """A validator for one record type, with format assertion on (2020-12 §7.2.2 is opt-in)."""
        if type_name not in self._validators:
            from jsonschema import Draft202012Validator

            self._validators[type_name] = Draft202012Validator(
                self.types[type_name].schema, registry=self.registry, format_checker=self.format_checker
            )
        return self._validators[type_name]

    # -- reading the schemas for what the core needs -------------------------------------------

    def resolve(self, schema: dict[str, t.Any], base: str) -> tuple[dict[str, t.Any], str]:
        """Follow ``$ref`` chains from ``schema``; keywords beside a ``$ref`` are kept."""
        for _ in range(20):
            if "$ref" not in schema:
                break
            target, base = self.lookup(schema["$ref"], base)
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **extra}
        return schema, base

    def _type_info(self, name: str, schema: dict[str, t.Any]) -> TypeInfo:
        references: list[tuple[Template, tuple[str, ...]]] = []
        dates: list[Template] = []
        order: dict[Template, tuple[str, ...]] = {}

        def walk(node: dict[str, t.Any], base: str, at: Template, depth: int) -> None:
            if depth > 12:
                return
            node, base = self.resolve(node, base)
            if "x-refers-to" in node:
                references.append((at, tuple(node["x-refers-to"])))
            if node.get("format") == "edtf":
                dates.append(at)
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
            key_order=order,
            required=tuple(schema.get("required", ())),
            properties=tuple(schema.get("properties", {})),
        )


def _check_schema(path: Path, doc: t.Any) -> None:
    """Against the 2020-12 metaschema: the compiled check first, jsonschema for the message."""
    try:
        import jsonschema_rs

        if jsonschema_rs.meta.is_valid(doc):
            return
    except ImportError:  # pragma: no cover - an optional speed-up
        pass
    except Exception:
        pass
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(doc)
    except SchemaError as exc:
        raise SchemaBroken(f"{path}: not a valid draft 2020-12 schema: {exc.message}") from exc


def _record_type(doc: dict[str, t.Any]) -> str | None:
    """The record type a schema describes: the ``const`` of its ``type`` property."""
    prop = doc.get("properties", {}).get("type")
    if isinstance(prop, dict) and isinstance(prop.get("const"), str):
        return prop["const"]
    return None


def _format_checker() -> t.Any:
    from jsonschema import FormatChecker

    from . import dates

    checker = FormatChecker()
    checker.checks("edtf", raises=())(dates.is_valid)
    return checker


REQUIRED_FORMATS = ("edtf", "uri", "date")


@functools.lru_cache(maxsize=4)
def load_model(directory: str | None = None) -> Model:
    """The model of a schema directory, built once per process."""
    return Model(Path(directory) if directory else None)


def values_at(data: t.Any, template: Template, pointer: str = "") -> t.Iterator[tuple[str, t.Any]]:
    """Every ``(pointer, value)`` in ``data`` matching ``template`` (``"*"`` = each list item)."""
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
