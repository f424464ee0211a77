"""Formats come in through the entry-point door: built-ins and an outside package alike."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from records_toolkit.cli import main
from records_toolkit.plugins import GROUP, Format, Importer, discover, load

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"

TINY = '''
"""A tiny outside format: one line per record, `type id name`."""
from records_toolkit.plugins import Exported, Option


class TinyFormat:
    name = "tiny"
    suffix = ".txt"
    media_type = "text/plain"
    summary = "one line per record"
    directory = False
    options = [Option("sep", "column separator", " ")]

    def export(self, records, context):
        sep = context.options["sep"]
        lines = [sep.join((r["type"], r["id"], r["name"])) for r in records]
        return Exported({"records.txt": ("\\n".join(lines) + "\\n").encode()}, ["tiny says hello"])
'''


@pytest.fixture(autouse=True)
def forget_tinyfmt() -> t.Iterator[None]:
    """Each test installs its own `tinyfmt`; none may see another's module."""
    sys.modules.pop("tinyfmt", None)
    importlib.invalidate_caches()
    yield
    sys.modules.pop("tinyfmt", None)


def install_outside_format(site: Path, module: str = TINY, target: str = "tinyfmt:TinyFormat") -> Path:
    """Lay out a package the way pip would install it: a module and its dist-info with entry points."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "tinyfmt.py").write_text(textwrap.dedent(module), encoding="utf-8")
    info = site / "tinyfmt-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyfmt\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\ntiny = {target}\n", encoding="utf-8")
    return site


def test_built_in_formats_come_through_the_entry_points() -> None:
    entries = discover()
    assert {"csv", "ics", "jsonld", "markdown"} <= set(entries)
    assert all(entry.package == "records-toolkit" for name, entry in entries.items() if name != "tiny")
    for name in ("csv", "ics", "jsonld", "markdown"):
        plugin = load(name)
        assert isinstance(plugin, Format) and plugin.name == name
    assert isinstance(load("csv"), Importer) and isinstance(load("jsonld"), Importer)
    assert not isinstance(load("ics"), Importer) and not isinstance(load("markdown"), Importer)


def test_formats_table(runner: CliRunner) -> None:
    result = runner.invoke(main, ["formats"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:5]}
    assert rows["csv"][1:5] == [".csv", "text/csv", "directory", "yes"]
    assert rows["ics"][1:5] == [".ics", "text/calendar", "file", "no"]
    assert rows["jsonld"][1:5] == [".jsonld", "application/ld+json", "file", "yes"]
    assert rows["markdown"][1:5] == [".md", "text/markdown", "file", "no"]
    assert "-O imprecise=skip (skip|span)" in result.stdout


def test_an_outside_format_is_listed_and_used(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site")))
    result = runner.invoke(main, ["formats"])
    assert result.exit_code == 0 and "tinyfmt 0.1" in result.stdout and "tiny: one line per record" in result.stdout
    result = runner.invoke(main, ["export", "--format", "tiny", "-O", "sep=|", str(RECORDS)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        len(lines) == 43
        and lines[0]
        == "agreement|military-education-cooperation-agreement-1992|Military Education Cooperation Agreement"
    )
    assert "notice: tiny says hello" in result.stderr
    result = runner.invoke(main, ["import", "--format", "tiny", str(RECORDS), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "cannot import" in result.output


def test_an_outside_format_in_a_real_subprocess(tmp_path: Path) -> None:
    site = install_outside_format(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(site)}
    toolkit = Path(sys.executable).with_name("toolkit")
    done = subprocess.run(
        [str(toolkit), "export", "-F", "tiny", str(RECORDS), "-o", str(tmp_path / "x.txt")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x.txt").read_text().count("\n") == 43


def test_a_broken_plugin_is_a_could_not_run_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", "raise ImportError('no numpy here')\n")))
    result = runner.invoke(main, ["export", "--format", "tiny", str(RECORDS)])
    assert result.exit_code == 3
    assert "format plugin 'tiny' from tinyfmt failed to load: ImportError: no numpy here" in result.output


def test_a_plugin_that_is_not_a_format_is_refused(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(
        str(install_outside_format(tmp_path / "site", "class TinyFormat:\n    name = 'tiny'\n"))
    )
    result = runner.invoke(main, ["formats"])
    assert result.exit_code == 3 and "not a format (missing suffix" in result.output


def test_a_plugin_crash_during_export_is_not_blamed_on_the_data(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashing = TINY.replace("sep = context.options", "1 / 0\n        sep = context.options")
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", crashing)))
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    result = runner.invoke(main, ["export", "--format", "tiny", str(RECORDS), "-o", str(out)])
    assert result.exit_code == 3 and "ZeroDivisionError" in result.output
    assert out.read_text() == "keep me"
