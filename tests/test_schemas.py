"""The schema model: files and references, validators, type information, behind one facade."""

from __future__ import annotations

import subprocess
import sys
import typing as t
import urllib.parse
from pathlib import Path

from records_toolkit.schema_files import SchemaSet
from records_toolkit.schema_types import read_types
from records_toolkit.schema_validators import Validators
from records_toolkit.schemas import Model, TypeInfo, load_model, schema_dir

ROOT = Path(__file__).resolve().parents[1]


def refs(node: t.Any) -> t.Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_model_is_its_three_parts() -> None:
    model = load_model()
    assert isinstance(model.schemas, SchemaSet) and isinstance(model.validators, Validators)
    assert model.directory == schema_dir() and model.documents is model.schemas.documents
    assert model.types == read_types(SchemaSet(schema_dir()))
    assert all(isinstance(info, TypeInfo) for info in model.types.values())
    assert sorted(model.types) == ["agreement", "article", "event", "organization", "person", "place"]
    assert model.registry is model.schemas.registry
    assert model.validator("place") is model.validators.validator("place")
    assert model.format_checker is model.validators.format_checker


def test_the_local_resolver_agrees_with_referencing() -> None:
    """`lookup` reads `$id` + JSON pointer itself; `referencing` must find the very same schema."""
    model = Model(ROOT / "schemas")
    count = 0
    for doc in model.documents.values():
        for ref in refs(doc):
            contents, address = model.lookup(ref, doc["$id"])
            resolved = model.registry.resolver(base_uri=doc["$id"]).lookup(ref)
            assert contents is resolved.contents, ref
            assert address == urllib.parse.urljoin(doc["$id"], ref).partition("#")[0], ref
            count += 1
    assert count > 50


def test_resolve_keeps_keywords_beside_a_ref() -> None:
    model = load_model()
    base = model.documents["event"]["$id"]
    schema, _ = model.resolve({"$ref": "defs.schema.json#/$defs/slug", "description": "here"}, base)
    assert schema["description"] == "here" and "pattern" in schema


def test_a_clean_run_imports_neither_referencing_nor_jsonschema() -> None:
    code = (
        "import sys\nfrom records_toolkit.validate import check_paths\n"
        f"assert check_paths([{str(ROOT / 'records')!r}]).report.ok\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'referencing', 'jsonschema', 'rpds'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
