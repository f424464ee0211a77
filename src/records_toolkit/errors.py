"""One error root for everything that stops the toolkit; the exit code lives on the error.

Problems found *in records* are values (see :mod:`records_toolkit.problems`), not
exceptions. These classes are for the cases where the toolkit cannot go on.
"""

from __future__ import annotations

import typing as t

import click


class ToolkitError(click.ClickException):
    """Root of the toolkit's errors. click prints ``Error: message`` and exits with ``exit_code``."""

    exit_code: t.ClassVar[int] = 1  # type: ignore[misc]


class InvalidRecords(ToolkitError):
    """The records are invalid; the problems have already been reported."""

    exit_code = 1


class CouldNotRun(ToolkitError):
    """A broken schema, plugin or environment: not the user's data (exit 3)."""

    exit_code = 3


class SchemaBroken(CouldNotRun):
    """A schema file does not load or is not a valid draft 2020-12 schema."""


class PluginLoadError(CouldNotRun):
    """A format plugin could not be loaded from its entry point."""

    def __init__(self, name: str, package: str, cause: BaseException | str) -> None:
        self.name, self.package, self.cause = name, package, cause
        super().__init__(f"format plugin {name!r} from {package} failed to load: {cause}")


class OutputError(ToolkitError):
    """An output file or directory could not be written; nothing was changed (exit 3)."""

    exit_code = 3


class OptionError(ToolkitError):
    """A format option (``-O name=value``) has a value the format cannot use: wrong usage (exit 2)."""

    exit_code = 2
