"""records_toolkit: news facts as reviewed YAML records, validated and exported.

The public API (documented in the README, typed, tested by running the README's example)::

    from records_toolkit import api

    report = api.validate(["records"])          # a Report: .ok, .problems, .valid (plain dicts)
    api.export(report, "ics", to="out/article.ics", imprecise="span")
    records = api.import_records("tables/", "csv")
    text = api.canonical_yaml(records[0])

Functions, in :mod:`records_toolkit.api`: ``load``, ``validate``, ``validate_records``,
``export``, ``import_records``, ``canonical_yaml``, ``fmt``, ``formats``. (They live in ``api``,
not at the top, because ``records_toolkit.validate`` is the checker's module.) Values here:
:class:`Report`, :class:`Problem`. Errors: the classes of :mod:`records_toolkit.errors`, all
under :class:`ToolkitError`, also here. The format contract: :mod:`records_toolkit.plugins`.
Names are imported on first use, so ``toolkit`` starts fast.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from . import api
    from .errors import (
        CouldNotRun,
        InvalidData,
        InvalidRecords,
        InvalidSource,
        OptionError,
        OutputError,
        PluginError,
        SchemaBroken,
        ToolkitError,
        UsageError,
    )
    from .problems import Problem, Report

    __version__: str

_VALUES = ("Problem", "Report")

__all__ = [
    "CouldNotRun",
    "InvalidData",
    "InvalidRecords",
    "InvalidSource",
    "OptionError",
    "OutputError",
    "PluginError",
    "Problem",
    "Report",
    "SchemaBroken",
    "ToolkitError",
    "UsageError",
    "__version__",
    "api",
]


def __getattr__(name: str) -> t.Any:
    """Names are imported when first asked for: importlib.metadata alone costs ~70 ms of start-up,
    which every `toolkit validate` in a pre-commit hook would pay."""
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("records-toolkit")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
            return "0+unknown"
    if name == "api":
        import importlib

        return importlib.import_module(f"{__name__}.api")
    if name in _VALUES:
        from . import problems

        return getattr(problems, name)
    if name in __all__:  # the error classes
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'records_toolkit' has no attribute {name!r}")
