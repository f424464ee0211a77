"""records_toolkit: news facts as reviewed YAML records, validated and exported.

The public surface: :func:`records_toolkit.validate.check_paths` (validate),
:func:`records_toolkit.canonical.dumps` (canonical YAML), :mod:`records_toolkit.plugins` (the
format contract), :mod:`records_toolkit.dates` (EDTF).
"""

from __future__ import annotations

import typing as t

__all__ = ["__version__"]


def __getattr__(name: str) -> t.Any:
    """``__version__`` is read from the installed metadata only when asked (importlib.metadata
    costs ~70 ms of start-up, which every `toolkit validate` in a pre-commit hook would pay)."""
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("records-toolkit")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
            return "0+unknown"
    raise AttributeError(name)
