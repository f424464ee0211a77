"""Schema errors in plain words: one small function per JSON Schema keyword.

Each function builds ``(pointer, code, message, at_key)`` items from the structured parts of a
jsonschema error only: the failing instance, the keyword's value, the schema around it and
the path. None reads jsonschema's English message, which is worded for programmers and may
change in any release; only a keyword missing from :data:`MESSAGES` falls back to it.
"""

from __future__ import annotations

import typing as t

from . import dates
from .problems import pointer_join

if t.TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Item = tuple[str, str, str, bool]
"""``(pointer, code, message, at_key)``: one problem, before it is placed in its file."""

_JSON_TYPE = {
    dict: "a mapping",
    list: "a list",
    str: "text",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null (empty)",
}
_SCHEMA_TYPE = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "null": "null",
}


class Failure:
    """What a message may use of one jsonschema error (never its English ``message``).

    A plain class, not a dataclass: this module is imported when the first record is checked,
    valid or not, and making a dataclass (its generated methods compiled) costs more than the
    rest of the module; nothing compares, copies or prints a failure.
    """

    __slots__ = ("error", "instance", "path", "pointer", "root", "schema", "value")

    def __init__(
        self,
        pointer: str,
        path: tuple[str | int, ...],
        instance: t.Any,
        value: t.Any,  # the keyword's value in the schema (``validator_value``)
        schema: t.Any,
        root: t.Any,  # the whole record
        error: ValidationError,  # for ``anyOf``/``oneOf``: the errors of each branch (``context``)
    ) -> None:
        self.pointer = pointer
        self.path = path
        self.instance = instance
        self.value = value
        self.schema = schema
        self.root = root
        self.error = error

    @property
    def hint(self) -> str | None:
        """The schema's own wording (``errorMessage``), when it gives one."""
        hint = self.schema.get("errorMessage") if isinstance(self.schema, dict) else None
        return hint if isinstance(hint, str) else None

    def item(self, code: str, message: str) -> list[Item]:
        return [(self.pointer, code, message, False)]


Describer = t.Callable[[Failure], list[Item]]


def describe(error: ValidationError, root: t.Any = None) -> list[Item]:
    """Turn one jsonschema error into ``(pointer, code, message, at_key)`` items in plain words.

    A ``required`` (or ``dependentRequired``) error names every key missing there: jsonschema
    reports one error per key, so :func:`describe_all` keeps each item once.
    """
    path = tuple(error.absolute_path)
    failure = Failure(pointer_of(path), path, error.instance, error.validator_value, error.schema, root, error)
    if error.schema is False:  # a `false` subschema, not a keyword
        return _false_schema(failure)
    build = MESSAGES.get(str(error.validator))
    items = build(failure) if build else []
    return items or failure.item("schema-other", error.message)  # a keyword with no words of ours


def describe_all(errors: t.Iterable[ValidationError], root: t.Any = None) -> list[Item]:
    """The items of all of one record's errors, in order; each said once. jsonschema reports
    ``required`` once per missing key while :func:`describe` names them all, and two keywords
    of one rule may fail together with the rule's one ``errorMessage`` (``defs.text``: a
    ``pattern`` and a ``not``, both refusing a trailing space): one mistake, one problem."""
    seen: set[Item] = set()
    out: list[Item] = []
    for error in errors:
        for item in describe(error, root):
            if item not in seen:
                seen.add(item)
                out.append(item)
    return out


# -- one function per keyword -----------------------------------------------------------------------


HINTED_KEYS = 100


def _unknown_keys(f: Failure) -> list[Item]:  # additionalProperties, unevaluatedProperties
    if not isinstance(f.instance, dict):
        return []
    allowed = list(f.schema.get("properties", {}))
    unknown = [key for key in f.instance if key not in allowed]
    return [
        (
            pointer_join(f.pointer, key),
            "schema-unknown-key",
            # "did you mean" (difflib) for the first keys only: a mapping of thousands of unknown keys
            # is not a typo, and the hint would cost time per key
            f"unknown key {key!r}{did_you_mean(key, allowed) if n < HINTED_KEYS else ''}; allowed here: "
            f"{', '.join(allowed)}",
            True,
        )
        for n, key in enumerate(unknown)
    ] or f.item("schema-unknown-key", f"a key here is not allowed; allowed here: {', '.join(allowed)}")


def _false_schema(f: Failure) -> list[Item]:
    """A `false` subschema under `properties`: that key may not be here."""
    parent: t.Any = f.root
    for token in f.path:  # jsonschema reports it at the mapping that holds the key
        if isinstance(parent, dict):
            parent = parent.get(token)
        else:
            parent = parent[token] if isinstance(parent, list) and isinstance(token, int) else None
    keys = [k for k, v in parent.items() if v is f.instance] if isinstance(parent, dict) else []
    return [
        (pointer_join(f.pointer, key), "schema-unknown-key", f"key {key!r} is not allowed here", True) for key in keys
    ] or f.item("schema-unknown-key", f"{_shown(f.instance)} is not allowed here")


def _not(f: Failure) -> list[Item]:
    if isinstance(f.value, dict) and "pattern" in f.value:
        return f.item(
            "schema-pattern",
            f"{_shown(f.instance)} is not valid here: {f.hint or 'must not match ' + f.value['pattern']}",
        )
    return f.item(
        "schema-other", f"{_shown(f.instance)} is not valid here: {f.hint or 'it has a form not allowed here'}"
    )


def _required(f: Failure) -> list[Item]:
    if not isinstance(f.instance, dict):
        return []
    return [
        (f.pointer, "schema-required", f"missing required key {k!r}", False) for k in f.value if k not in f.instance
    ]


def _dependent_required(f: Failure) -> list[Item]:
    if not isinstance(f.instance, dict):
        return []
    pairs = [
        (key, need) for key, needs in f.value.items() if key in f.instance for need in needs if need not in f.instance
    ]
    return [(f.pointer, "schema-required", f"{k!r} needs {n!r} beside it", False) for k, n in pairs]


def _type(f: Failure) -> list[Item]:
    wanted = f.value if isinstance(f.value, list) else [f.value]
    got = _JSON_TYPE.get(type(f.instance), type(f.instance).__name__)
    message = f"expected {' or '.join(_SCHEMA_TYPE.get(w, str(w)) for w in wanted)}, got {got} {_shown(f.instance)}"
    if "string" in wanted and isinstance(f.instance, (bool, int, float)):
        message += " (put it in quotes to keep it as text)"
    elif "string" in wanted and isinstance(f.instance, dict) and len(f.instance) == 1:
        # `- aliases: EFES` is a mapping in YAML (": " makes a key); the text was meant
        ((key, value),) = f.instance.items()
        if isinstance(key, str) and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            message += f' (": " makes a mapping in YAML: put the whole entry in quotes, "{key}: {value}")'
    return f.item("schema-type", message)


def _one_of_values(options: list[t.Any], f: Failure) -> list[Item]:
    close = did_you_mean(str(f.instance), [str(o) for o in options])
    words = ", ".join(str(o) for o in options)
    return f.item("schema-enum", f"{_shown(f.instance)} is not allowed{close}; use one of: {words}")


def _pattern(f: Failure) -> list[Item]:
    return f.item("schema-pattern", f"{_shown(f.instance)} is not valid here: {f.hint or 'must match ' + f.value}")


def _format(f: Failure) -> list[Item]:
    if f.value == "edtf":
        try:
            dates.parse(f.instance)
            detail = "not a date"
        except dates.EdtfError as exc:
            detail = str(exc)
        return f.item("schema-format", detail)
    label = {"uri": "an absolute URL", "date": "a date (YYYY-MM-DD)"}.get(f.value, f.value)
    return f.item("schema-format", f"{_shown(f.instance)} is not {label}")


def _length(f: Failure) -> list[Item]:  # min/max Length, Items, Properties
    keyword, bound, size = str(f.error.validator), f.value, len(f.instance)
    if keyword == "minItems" and bound == 1:
        message = "an empty list says nothing: remove the key, or add an item"
    elif keyword == "minLength" and bound == 1:
        message = "empty text: remove the key, or write the value"
    elif keyword == "minProperties" and (bound == 1 or not size):
        message = "an empty mapping says nothing: remove the key, or add an entry"
    else:
        message = _LENGTH[keyword].format(bound=bound, size=size)
    return f.item("schema-length", message)


_LENGTH = {
    "minLength": "too short: at least {bound} characters, not {size}",
    "maxLength": "too long: at most {bound} characters, not {size}",
    "minItems": "too few items: at least {bound}, not {size}",
    "maxItems": "too many items: at most {bound}, not {size}",
    "minProperties": "too few entries: at least {bound}, not {size}",
    "maxProperties": "too many entries: at most {bound}, not {size}",
}


def _range(f: Failure) -> list[Item]:
    return f.item("schema-range", f"{_shown(f.instance)} is out of range ({f.error.validator} {f.value})")


def _unique(f: Failure) -> list[Item]:
    index = first_repeat(f.instance) if isinstance(f.instance, list) else None
    if index is not None:
        item = f.instance[index]
        return [(pointer_join(f.pointer, index), "schema-unique", f"{_shown(item)} is listed twice", False)]
    return f.item("schema-unique", "a list repeats an item")


def first_repeat(items: t.Sequence[t.Any]) -> int | None:
    """The index of the first item equal (as JSON values) to an earlier one, in linear time."""
    seen: set[t.Any] = set()
    for index, item in enumerate(items):
        key = json_key(item)
        if key in seen:
            return index
        seen.add(key)
    return None


def json_key(value: t.Any) -> t.Any:
    """A hashable form of a JSON value, equal for values JSON Schema calls equal.

    ``1`` and ``1.0`` are one number (their keys compare and hash alike); ``true`` is not ``1``;
    mapping order does not count.
    """
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, list):
        return (4, tuple(json_key(item) for item in value))
    if isinstance(value, dict):
        return (5, frozenset((key, json_key(item)) for key, item in value.items()))
    if value is None:
        return (0,)
    return (6, repr(value))  # not a JSON value: equal only to its own kind


def _branches(f: Failure) -> list[Item]:  # anyOf, oneOf
    """Name the allowed form the value comes closest to, and what is wrong with it."""
    if not f.error.context:  # oneOf only: more than one form fits
        detail = "more than one of the allowed forms fits; exactly one must"
        return f.item("schema-other", f"{f.hint} ({detail})" if f.hint else detail)
    from jsonschema.exceptions import best_match, relevance

    # best_match descends into the branches while one error is the most relevant (the deepest,
    # at least matching the instance's type); when branches tie, the first of them wins.
    closest = best_match([f.error])
    if closest is f.error:
        closest = min(f.error.context, key=relevance)
    pointer, code, message, _ = describe(closest, f.root)[0]
    where = "" if pointer == f.pointer else f" (at {pointer})"
    detail = f"none of the allowed forms fits; the closest: {message}{where}"
    if f.hint:  # the schema's words say what the forms are; the code stays the rule's own
        return f.item("schema-other", f"{f.hint} ({detail})")
    return f.item(code, detail)


MESSAGES: dict[str, Describer] = {
    "additionalProperties": _unknown_keys,
    "unevaluatedProperties": _unknown_keys,
    "not": _not,
    "required": _required,
    "dependentRequired": _dependent_required,
    "type": _type,
    "enum": lambda f: _one_of_values(list(f.value), f),
    "const": lambda f: _one_of_values([f.value], f),
    "pattern": _pattern,
    "format": _format,
    "minLength": _length,
    "maxLength": _length,
    "minItems": _length,
    "maxItems": _length,
    "minProperties": _length,
    "maxProperties": _length,
    "minimum": _range,
    "maximum": _range,
    "exclusiveMinimum": _range,
    "exclusiveMaximum": _range,
    "uniqueItems": _unique,
    "anyOf": _branches,
    "oneOf": _branches,
}
"""JSON Schema keyword -> the function that says what is wrong, in plain words."""


# -- helpers ----------------------------------------------------------------------------------------


def did_you_mean(word: str, choices: t.Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else nothing."""
    import difflib  # only when there is a problem to explain

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)  # (one pass: a stream will do)
    return f" (did you mean {close[0]!r}?)" if close else ""


def pointer_of(path: t.Iterable[t.Any]) -> str:
    """The JSON pointer of a path of keys and indexes."""
    pointer = ""
    for token in path:
        pointer = pointer_join(pointer, token)
    return pointer


def _shown(value: t.Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
