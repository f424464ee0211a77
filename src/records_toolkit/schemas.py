"""The record model: JSON Schemas (draft 2020-12) loaded from disk, never from the network.

Each record type has one schema file, ``<type>.schema.json``; shared pieces live in
``defs.schema.json``. ``$ref`` between files resolves through a local ``referencing``
registry (JSON Schema Core §8.2.3.1); a reference to anything else is an error, not a fetch.

:class:`Model` puts together three jobs, each in its own module:

- :mod:`.schema_files`: loading the files and resolving ``$ref`` (:class:`SchemaSet`);
- :mod:`.schema_validators`: the compiled yes/no and the explaining validator (:class:`Validators`);
- :mod:`.schema_types`: what the core needs to know about a type without knowing the type:
  references to other records, EDTF dates, key order (:class:`TypeInfo`).
"""

from __future__ import annotations

import functools
import os
import typing as t
from pathlib import Path

from .schema_files import SchemaSet
from .schema_types import Template, TypeInfo, read_types, values_at
from .schema_validators import REQUIRED_FORMATS, Validators

if t.TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = [
    "REQUIRED_FORMATS",
    "SCHEMA_BASE",
    "Model",
    "SchemaSet",
    "Template",
    "TypeInfo",
    "Validators",
    "load_model",
    "schema_dir",
    "values_at",
]

SCHEMA_BASE = "https://records-toolkit.example/schemas/"


def schema_dir() -> Path:
    """Where the schemas are: ``$TOOLKIT_SCHEMAS``, the installed package, or the source tree."""
    override = os.environ.get("TOOLKIT_SCHEMAS")
    if override:
        return Path(override)
    packaged = Path(__file__).with_name("schemas")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas"


class Model:
    """All schemas of a directory, checked against the metaschema, with validators per type."""

    def __init__(self, directory: Path | None = None) -> None:
        self.schemas = SchemaSet(directory or schema_dir())
        self.directory = self.schemas.directory
        self.documents = self.schemas.documents
        self.types: dict[str, TypeInfo] = read_types(self.schemas)
        self.validators = Validators(self.schemas, {name: info.schema for name, info in self.types.items()})

    # -- the files and their references ------------------------------------------------------------

    @property
    def registry(self) -> t.Any:
        """The ``referencing`` registry jsonschema validates with; never retrieves anything."""
        return self.schemas.registry

    def lookup(self, ref: str, base: str) -> tuple[t.Any, str]:
        """The schema a ``$ref`` names (resolved against ``base``), and its document's URI."""
        return self.schemas.lookup(ref, base)

    def resolve(self, schema: dict[str, t.Any], base: str) -> tuple[dict[str, t.Any], str]:
        """Follow ``$ref`` chains from ``schema``; keywords beside a ``$ref`` are kept."""
        return self.schemas.resolve(schema, base)

    # -- validation ------------------------------------------------------------------------------

    @property
    def format_checker(self) -> t.Any:
        """jsonschema's checker plus ``edtf``; built only when jsonschema itself is needed."""
        return self.validators.format_checker

    def fast_is_valid(self, type_name: str, data: t.Any) -> bool | None:
        """A yes/no from jsonschema-rs, or None when it is not installed (see :mod:`.schema_validators`)."""
        return self.validators.fast_is_valid(type_name, data)

    def fast_errors(self, type_name: str, data: t.Any) -> list[tuple[list[str | int], str]]:
        """jsonschema-rs's own errors: a fallback should the two validators ever disagree."""
        return self.validators.fast_errors(type_name, data)

    def validator(self, type_name: str) -> Validator:
        """A validator for one record type, with format assertion on (2020-12 §7.2.2 is opt-in)."""
        return self.validators.validator(type_name)


@functools.lru_cache(maxsize=4)
def load_model(directory: str | None = None) -> Model:
    """The model of a schema directory, built once per process."""
    return Model(Path(directory) if directory else None)
