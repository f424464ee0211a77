"""The schema model: files and references, validators, type information, behind one facade."""

from __future__ import annotations

import subprocess
import sys
import typing as t
import urllib.parse
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from records_toolkit.loader import load_file
from records_toolkit.problems import pointer_join, pointer_tokens
from records_toolkit.schema_files import SchemaSet
from records_toolkit.schema_types import compile_template, read_types, values_at
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


# Keys that need escaping in a pointer (RFC 6901), the wildcard itself as a key, and plain ones.
_KEYS = st.sampled_from(["a", "b", "ref", "*", "~", "/", "a/b", "~0", "~1", "x~/y", ""])
_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=30,
)
_TEMPLATES = st.lists(st.one_of(_KEYS, st.just("*")), max_size=4).map(tuple)


def _found(pairs: t.Iterable[tuple[str, t.Any]]) -> list[tuple[str, int]]:
    return [(pointer, id(value)) for pointer, value in pairs]  # the very values, not equal ones


@settings(max_examples=300)
@given(_DATA, _TEMPLATES)
def test_a_compiled_template_finds_what_values_at_finds(data: t.Any, template: tuple[str, ...]) -> None:
    """The same pointers, in the same order, of the very same values, whatever the data."""
    assert _found(compile_template(template)(data)) == _found(values_at(data, template))
    assert compile_template(template) is compile_template(template)  # compiled once


def test_compiled_templates_find_what_values_at_finds_in_the_shipped_records() -> None:
    model = load_model()
    templates = {
        template
        for info in model.types.values()
        for template in (*[where for where, _ in info.references], *info.dates, *info.attested, *info.key_order)
    }
    checked = 0
    for path in sorted((ROOT / "records").rglob("*.yaml")):
        for doc in load_file(path):
            data = getattr(doc, "data", None)
            for template in templates:
                expected = _found(values_at(data, template))
                assert _found(compile_template(template)(data)) == expected, (path, template)
                checked += len(expected)
    assert checked > 100


@settings(max_examples=300)
@given(st.text(max_size=8), st.one_of(st.text(), st.text(alphabet="ab~/01"), st.integers()))
def test_pointer_join_escapes_per_rfc_6901(pointer: str, token: str | int) -> None:
    assert pointer_join(pointer, token) == pointer + "/" + str(token).replace("~", "~0").replace("/", "~1")
    assert pointer_tokens(pointer_join("", token)) == [str(token)]


def test_threads_checking_the_schemas_at_once_each_see_them_checked(monkeypatch: t.Any) -> None:
    """Exports started from several threads of one program share the schemas: their first check
    (each document against the metaschema, once) raced, and one thread took another's document
    off the list (IndexError, helper-80)."""
    import threading
    import time

    from records_toolkit import schema_files

    real = schema_files._check_schema
    checked: list[Path] = []

    def slow(path: Path, doc: t.Any) -> None:
        time.sleep(0.01)  # (each check long enough for the threads to meet in it)
        real(path, doc)
        checked.append(path)

    monkeypatch.setattr(schema_files, "_check_schema", slow)
    schemas = schema_files.SchemaSet(Path(__file__).resolve().parents[1] / "schemas", check=False)
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def check() -> None:
        start.wait()
        try:
            schemas.check()
        except BaseException as exc:  # (any: the test says which)
            failures.append(exc)

    threads = [threading.Thread(target=check) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert not schemas._unchecked and schemas._refs_checked
    assert sorted(checked) == sorted(Path(__file__).resolve().parents[1].glob("schemas/*.schema.json"))  # each once
