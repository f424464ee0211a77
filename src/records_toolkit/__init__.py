"""records_toolkit: news facts as reviewed YAML records, validated and exported.

The public surface: :func:`check_paths` (validate), :func:`records_toolkit.canonical.dumps`
(canonical YAML), :mod:`records_toolkit.plugins` (the format contract), :mod:`records_toolkit.dates`.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("records-toolkit")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
