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

import contextlib
import functools
import os
import typing as t
from pathlib import Path

from .errors import SchemaBroken
from .schema_files import SchemaSet
from .schema_types import Template, TypeInfo, compile_template, read_types, values_at
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
    "compile_template",
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
    """All schemas of a directory, checked against the metaschema, with validators per type.

    ``check=False`` leaves the metaschema check (and so the types and validators) to their first
    use, or to :meth:`check`: :func:`load_model` does so within :func:`deferred_check`.
    """

    def __init__(self, directory: Path | None = None, *, check: bool = True) -> None:
        self.schemas = SchemaSet(directory or schema_dir(), check=check)
        self.directory = self.schemas.directory
        self.documents = self.schemas.documents
        if check:
            self.check()

    def check(self) -> None:
        """The schemas checked against the metaschema, their types read and validators set up:
        :class:`~records_toolkit.errors.SchemaBroken` here if they cannot be."""
        self.schemas.check()
        self.validators  # noqa: B018 - (reads the types first)

    @functools.cached_property
    def types(self) -> dict[str, TypeInfo]:
        """What the core knows of each record type, by name."""
        self.schemas.check()
        return read_types(self.schemas)

    @functools.cached_property
    def validators(self) -> Validators:
        """The compiled and the explaining validator of each type (each built when first needed)."""
        types = self.types
        return Validators(self.schemas, {name: info.schema for name, info in types.items()})

    # -- the files and their references ------------------------------------------------------------

    @property
    def registry(self) -> t.Any:
        """The ``referencing`` registry jsonschema validates with; never retrieves anything."""
        self.schemas.check()
        return self.schemas.registry

    def lookup(self, ref: str, base: str) -> tuple[t.Any, str]:
        """The schema a ``$ref`` names (resolved against ``base``), and its document's URI."""
        self.schemas.check()
        return self.schemas.lookup(ref, base)

    def resolve(self, schema: dict[str, t.Any], base: str) -> tuple[dict[str, t.Any], str]:
        """Follow ``$ref`` chains from ``schema``; keywords beside a ``$ref`` are kept."""
        self.schemas.check()
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


_DEFERRED = [False]  # within deferred_check(): load_model() leaves the metaschema check to first use


@contextlib.contextmanager
def deferred_check(defer: bool = True) -> t.Iterator[None]:
    """Within it, :func:`load_model` does not check the schemas against the metaschema (nor read
    their types): that waits for the first record to validate (:meth:`Model.check`).

    For ``toolkit validate`` over a collection with its result cache: a run answered wholly from
    the cache validates nothing, and checking the schemas would import jsonschema-rs (some 10 ms,
    most of what such a run costs). The cache's key holds the schema texts and jsonschema-rs's
    installation, and a result is kept only from a run that validated its records, so it was
    made with these schemas checked; a run that met no record at all checks them at its end
    (:func:`records_toolkit.api.validate`).
    """
    before = _DEFERRED[0]
    _DEFERRED[0] = defer or before
    try:
        yield
    except SchemaBroken:
        _loaded.cache_clear()  # as a model that fails is never kept: the files are read again
        raise
    finally:
        _DEFERRED[0] = before


@functools.lru_cache(maxsize=4)
def _loaded(directory: str | None) -> Model:
    return Model(Path(directory) if directory else None, check=False)


def _load_model(directory: str | None = None) -> Model:
    """The model of a schema directory, built once per process (checked: see :func:`deferred_check`)."""
    model = _loaded(directory)
    if not _DEFERRED[0]:
        try:
            model.check()
        except BaseException:
            _loaded.cache_clear()  # as a model that fails is never kept: the files are read again
            raise
    return model


class _ModelCache:
    """:func:`load_model`: called as the function, with ``cache_clear()`` as an ``lru_cache`` has."""

    __doc__ = _load_model.__doc__

    def __call__(self, directory: str | None = None) -> Model:
        return _load_model(directory)

    def cache_clear(self) -> None:
        _loaded.cache_clear()


load_model = _ModelCache()
