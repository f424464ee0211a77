"""Schema errors in plain words: built from the error's structure, never from jsonschema's wording."""

from __future__ import annotations

import copy
import json
import typing as t
from pathlib import Path

from jsonschema import Draft202012Validator
from test_validate import BASE, MUTATIONS, mutate

from records_toolkit.loader import Document
from records_toolkit.messages import MESSAGES, describe, describe_all
from records_toolkit.schemas import load_model
from records_toolkit.validate import Checker

ROOT = Path(__file__).resolve().parents[1]


def messages(records: list[dict[str, t.Any]]) -> list[tuple[str, str, str]]:
    checker = Checker()
    for index, record in enumerate(records):
        checker.add(Document(f"r{index}.yaml", 0, record))
    return [(p.pointer, p.code, p.message) for p in checker.finish().report.problems]


def explain(schema: dict[str, t.Any], instance: t.Any) -> list[tuple[str, str, str, bool]]:
    return describe_all(Draft202012Validator(schema).iter_errors(instance), instance)


def test_a_source_of_neither_form_names_the_closest_form() -> None:
    """defs.schema.json: a source is `article` + `quote` or `url` + `title` (an anyOf with a hint)."""
    place = copy.deepcopy(BASE[1])
    place["sources"] = [{"confidence": "high", "supports": ["name", "kind"]}]
    ((pointer, code, message),) = messages([BASE[0], place])
    assert (pointer, code) == ("/sources/0", "schema-other")
    assert message.startswith("a source needs either `article` with `quote`, or `url` with `title`")  # the hint
    assert message.endswith("none of the allowed forms fits; the closest: missing required key 'article')")


def test_the_closest_branch_is_the_one_that_got_furthest() -> None:
    schema = {
        "anyOf": [
            {"type": "string"},
            {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
        ]
    }
    ((pointer, code, message, at_key),) = explain(schema, {"url": 5})
    assert (pointer, code, at_key) == ("", "schema-type", False)  # the inner error's code, at the anyOf
    assert message == (
        "none of the allowed forms fits; the closest: expected text, got a number 5 "
        "(put it in quotes to keep it as text) (at /url)"
    )
    ((_, code, message, _),) = explain(schema, {})  # the object form matches the type: closer than text
    assert (code, message) == (
        "schema-required",
        "none of the allowed forms fits; the closest: missing required key 'url'",
    )


def test_one_of_says_when_more_than_one_form_fits() -> None:
    schema = {"oneOf": [{"type": "string"}, {"type": "string", "minLength": 1}], "errorMessage": "a name, or an id"}
    ((_, code, message, _),) = explain(schema, "x")
    assert (code, message) == (
        "schema-other",
        "a name, or an id (more than one of the allowed forms fits; exactly one must)",
    )
    ((_, code, message, _),) = explain(schema, 5)
    assert code == "schema-other" and "the closest: expected text, got a number 5" in message


def test_each_missing_key_once_in_schema_order() -> None:
    schema = {"type": "object", "required": ["a", "b", "c"], "dependentRequired": {"a": ["x", "y"]}}
    assert [m for _, _, m, _ in explain(schema, {"a": 1})] == [
        "missing required key 'b'",
        "missing required key 'c'",
        "'a' needs 'x' beside it",
        "'a' needs 'y' beside it",
    ]
    errors = list(Draft202012Validator(schema).iter_errors({"a": 1}))
    assert [e.validator for e in errors] == ["required", "required", "dependentRequired", "dependentRequired"]
    assert len(describe(errors[0], {"a": 1})) == 2  # one error names every key missing there


def test_one_mistake_that_two_keywords_refuse_is_one_problem() -> None:
    """``defs.text`` refuses a trailing space twice (its ``pattern`` and its ``not``), in the
    rule's one wording: said once (a hostile tester counted "2 problems in 1 file")."""
    place = copy.deepcopy(BASE[1])
    place["description"] = "Trailing space "
    assert messages([BASE[0], place]) == [
        (
            "/description",
            "schema-pattern",
            "'Trailing space ' is not valid here: text with no leading or trailing white space",
        )
    ]


def test_lengths_in_plain_words() -> None:
    assert explain({"maxLength": 3}, "abcdef") == [
        ("", "schema-length", "too long: at most 3 characters, not 6", False)
    ]
    assert explain({"minItems": 2}, [1])[0][2] == "too few items: at least 2, not 1"
    assert explain({"minItems": 1}, [])[0][2] == "an empty list says nothing: remove the key, or add an item"


def test_no_message_reads_jsonschema_wording() -> None:
    """Blank every error's English message: every record's problems read exactly the same."""
    model = load_model()
    records = list(BASE)
    for record in BASE:
        for key in record:
            for how, value in MUTATIONS:
                records.append(mutate(record, key, how, value))
    records.append({**BASE[1], "sources": [{"supports": ["name"]}]})
    records.append({**BASE[1], "sources": [{"article": "a1", "url": "https://example.org/", "supports": ["name"]}]})
    seen: set[str] = set()
    for record in records:
        if not isinstance(record.get("type"), str) or record["type"] not in model.types:
            continue
        errors = list(model.validator(record["type"]).iter_errors(record))
        want = describe_all(errors, record)
        for error in errors:
            seen.add(str(error.validator))
            for inner in error.context or ():
                seen.add(str(inner.validator))
        blank = list(model.validator(record["type"]).iter_errors(record))
        for error in blank:
            for each in [error, *(error.context or ())]:
                each.message = "<jsonschema's wording>"
        assert describe_all(blank, record) == want, record
    assert seen - {"None"} <= set(MESSAGES), seen - set(MESSAGES)
    assert {"required", "dependentRequired", "anyOf", "type", "pattern", "not", "enum"} <= seen


def test_every_failing_keyword_of_the_shipped_schemas_has_words() -> None:
    """A keyword the schemas use and jsonschema reports has its own entry in the table."""
    used: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            used.update(node)
            for key, value in node.items():
                if key not in ("properties", "$defs", "dependentRequired", "dependentSchemas"):
                    walk(value)
                elif isinstance(value, dict):
                    for sub in value.values():
                        walk(sub)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in (ROOT / "schemas").glob("*.schema.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    applicators = {"properties", "items", "$ref", "allOf", "if", "then", "else", "dependentSchemas", "$defs"}
    annotations = {
        "$schema",
        "$id",
        "title",
        "description",
        "errorMessage",
        "x-refers-to",
        "$comment",
        "examples",
        "x-attested",
    }
    assert used - applicators - annotations <= set(MESSAGES), used - applicators - annotations - set(MESSAGES)
