"""Test a format plugin on itself: the laws every format keeps, over generated valid collections.

Needs hypothesis (``pip install records-toolkit[testing]``). In an outside format's test suite::

    from records_toolkit.testing import check_format

    def test_tiny_keeps_the_format_laws() -> None:
        check_format("tiny")                    # or check_format(TinyFormat(), options={"sep": ";"})

The laws, checked on collections drawn by :func:`records_toolkit.testing.strategies.collections`
(valid by construction, with hostile text: formula prefixes, RTL, emoji, YAML 1.1 traps):

* the contract: the export returns :class:`~records_toolkit.plugins.Exported`, exactly one file
  for a single-file format, file names inside the output directory;
* determinism: the same records and options give byte-identical files and the same notices, in
  this process and in two fresh ones with different hash seeds (set and dict-of-set order);
* round trip, for a format that imports: ``import(export(x)) == x``, through real files;
* for a format written in slices (:class:`~records_toolkit.plugins.Sliced`): its slices joined,
  one to five of them, are what its ``stream`` writes, file for file, with the same notices.

A broken law raises ``AssertionError`` with hypothesis's smallest failing collection.
"""

from __future__ import annotations

import tempfile
import typing as t
from pathlib import Path

from ..plugins import (
    Context,
    Format,
    Importer,
    Record,
    Sliced,
    _malformed,
    load,
    resolve_options,
    run_export,
    run_import,
)

__all__ = ["check_format", "collections"]


def __getattr__(name: str) -> t.Any:
    if name == "collections":
        from .strategies import collections

        return collections
    raise AttributeError(name)


def check_format(
    format: Format | str,
    *,
    options: t.Mapping[str, str] | None = None,
    max_examples: int = 25,
    derandomize: bool = True,
) -> None:
    """Check the format laws (see the module docstring) on ``max_examples`` generated collections."""
    from hypothesis import HealthCheck, given, settings

    from ..api import validate_records
    from .strategies import collections

    plugin = load(format) if isinstance(format, str) else format
    wrong = _malformed(plugin)  # (a format given as an object has not been through load)
    assert wrong is None, f"format {plugin.name!r} is malformed: {wrong}"
    values = resolve_options(plugin, dict(options or {}))
    context = Context.create(values, source_date_epoch=0)
    drawn_first: list[list[Record]] = []

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(collections())
    def laws(drawn: list[Record]) -> None:
        report = validate_records(drawn)
        assert report.ok, f"the strategy drew an invalid collection: {report.problems[:3]}"
        records = report.valid
        if not drawn_first:
            drawn_first.append(records)
        first = run_export(plugin, records, context)
        second = run_export(plugin, records, context)
        assert first.files == second.files, f"format {plugin.name!r}: the same records gave different bytes"
        assert first.notices == second.notices, f"format {plugin.name!r}: the same records gave different notices"
        if isinstance(plugin, Importer):
            back = _round_trip(plugin, first.files, context)
            assert back == records, f"format {plugin.name!r}: import(export(x)) != x"
        if isinstance(plugin, Sliced):
            _slices_join_to_the_stream(plugin, records, context)

    laws()
    if drawn_first:
        _same_bytes_in_other_processes(plugin, format if isinstance(format, str) else None, values, drawn_first[0])


_CHILD = """
import base64, importlib, json, sys
from records_toolkit.plugins import Context, load, run_export
spec, options, records = json.load(sys.stdin)
if spec["name"] is not None:
    plugin = load(spec["name"])
else:
    plugin = getattr(importlib.import_module(spec["module"]), spec["qualname"])()
exported = run_export(plugin, records, Context.create(options, source_date_epoch=0))
json.dump({k: base64.b64encode(v).decode() for k, v in exported.files.items()}, sys.stdout)
"""


def _same_bytes_in_other_processes(
    plugin: Format, name: str | None, options: dict[str, str], records: list[Record]
) -> None:
    """Export ``records`` in two fresh interpreters with different hash seeds; the bytes must agree.

    The plugin is re-created there by its entry-point name, or from its class when that is
    importable at module level and takes no arguments; otherwise this law cannot be checked.
    """
    import json
    import os
    import subprocess
    import sys

    cls = type(plugin)
    if name is None and ("<" in cls.__qualname__ or "." in cls.__qualname__):
        return  # a local class cannot be re-created in another process
    spec = {"name": name, "module": cls.__module__, "qualname": cls.__qualname__}
    payload = json.dumps([spec, options, records])
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        done = subprocess.run(
            [sys.executable, "-c", _CHILD], input=payload, capture_output=True, text=True, env=env, timeout=300
        )
        assert done.returncode == 0, f"format {plugin.name!r}: export in a fresh process failed: {done.stderr[-2000:]}"
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1], (
        f"format {plugin.name!r}: the same records gave different bytes in two processes (hash seeds 1 and 2): "
        "iterate sets and dicts in a sorted order"
    )


def _slices_join_to_the_stream(plugin: Sliced, records: list[Record], context: Context) -> None:
    """The law of a sliced format: 1 to 5 slices, joined as ``toolkit export`` joins them, are its stream."""
    from ..plugins import run_slice_plan, run_stream
    from ..slices import cut, join
    from ..streaming import of_records

    def into(files: dict[str, list[bytes]]) -> t.Callable[[str], t.Any]:
        class _File:
            def __init__(self, name: str) -> None:
                self.write = files.setdefault(name, []).append

        return _File

    format = t.cast(Format, plugin)
    spooled = of_records(records)
    try:
        whole: dict[str, list[bytes]] = {}
        notices, names = run_stream(format, spooled, context, into(whole))
        for count in range(1, 6):
            plan = run_slice_plan(format, spooled, context)
            if plan is None:
                return  # (written whole: nothing to join)
            ranges = cut(spooled, count, plugin.slice_types)
            joined: dict[str, list[bytes]] = {}
            said, named = join(format, spooled, context, plan, ranges, into(joined), parallel=False)
            assert named == names, (
                f"format {format.name!r}: {len(ranges)} slices joined name {named}, its stream {names}"
            )
            for name in names:
                assert b"".join(joined[name]) == b"".join(whole[name]), (
                    f"format {format.name!r}: {len(ranges)} slices joined are not what its stream writes in {name!r}"
                )
            assert said == notices, (
                f"format {format.name!r}: {len(ranges)} slices joined gave other notices than its stream"
            )
    finally:
        spooled.close()


def _round_trip(plugin: Format, files: t.Mapping[str, bytes], context: Context) -> list[Record]:
    from ..api import validate_records

    with tempfile.TemporaryDirectory(prefix="records-toolkit-laws-") as temp:
        root = Path(temp) / "export"
        for name, data in files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        source = root if plugin.directory else root / next(iter(files))
        imported = run_import(plugin, source, context)
    report = validate_records(imported)
    assert report.ok, f"format {plugin.name!r}: the imported records are not valid: {report.problems[:3]}"
    return report.valid
