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

TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: `import records_toolkit` need not import typing)
if TYPE_CHECKING:
    import typing as t

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

__version__ = "0.2.0"
"""The version of pyproject.toml, written here so that ``toolkit --version`` need not read the
installed metadata (importlib.metadata costs more than the rest of that command); a test keeps the
two equal."""

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
    """Names are imported when first asked for, so that ``toolkit`` starts fast."""
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
