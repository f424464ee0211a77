"""Validators of the record types: a compiled yes/no, and jsonschema to explain a no.

Valid records, the common case, pay only for jsonschema-rs (compiled, ~50x faster); an
invalid one is validated again by jsonschema, whose errors carry what the plain-words messages
need. Format assertion is on in both (draft 2020-12 §7.2.2 makes it opt-in), ``edtf`` included.
"""

from __future__ import annotations

import functools
import typing as t

from .schema_files import SchemaSet

if t.TYPE_CHECKING:
    from jsonschema.protocols import Validator

REQUIRED_FORMATS = ("edtf", "uri", "date")
"""Formats the schemas use; the format checker must know each (a test makes sure)."""


class Validators:
    """One compiled and one explaining validator per record type, each built when first needed."""

    def __init__(self, schemas: SchemaSet, roots: t.Mapping[str, dict[str, t.Any]]) -> None:
        self.schemas = schemas
        self.roots = roots  # record type -> its schema
        self._explaining: dict[str, Validator] = {}
        self._fast: dict[str, t.Any] = {}

    @functools.cached_property
    def format_checker(self) -> t.Any:
        """jsonschema's checker plus ``edtf``; built only when jsonschema itself is needed."""
        from jsonschema import FormatChecker

        from . import dates

        checker = FormatChecker()
        checker.checks("edtf", raises=())(dates.is_valid)
        return checker

    def fast_is_valid(self, type_name: str, data: t.Any) -> bool | None:
        """A yes/no from jsonschema-rs, or None when it is not installed."""
        if type_name not in self._fast:
            self._fast[type_name] = self._build_fast(type_name)
        fast = self._fast[type_name]
        return None if fast is None else bool(fast.is_valid(data))

    def fast_errors(self, type_name: str, data: t.Any) -> list[tuple[list[str | int], str]]:
        """jsonschema-rs's own errors: a fallback should the two validators ever disagree."""
        fast = self._fast.get(type_name)
        return [] if fast is None else [(list(e.instance_path), e.message) for e in fast.iter_errors(data)]

    def validator(self, type_name: str) -> Validator:
        """The explaining validator of one record type."""
        if type_name not in self._explaining:
            from jsonschema import Draft202012Validator

            self._explaining[type_name] = Draft202012Validator(
                self.roots[type_name], registry=self.schemas.registry, format_checker=self.format_checker
            )
        return self._explaining[type_name]

    def _build_fast(self, type_name: str) -> t.Any:
        try:
            import jsonschema_rs
        except ImportError:  # pragma: no cover - an optional speed-up
            return None
        from . import dates

        return jsonschema_rs.validator_for(
            self.roots[type_name],
            registry=self._fast_registry,
            validate_formats=True,
            formats={"edtf": dates.is_valid},
            retriever=_refuse,
        )

    @functools.cached_property
    def _fast_registry(self) -> t.Any:
        """jsonschema-rs's registry of the schema documents: built once, shared by every type's validator."""
        import jsonschema_rs

        documents = self.schemas.documents.values()
        return jsonschema_rs.Registry([(doc["$id"], doc) for doc in documents], retriever=_refuse)


def _refuse(uri: str) -> t.NoReturn:
    raise ValueError(f"schemas are never fetched: {uri}")
