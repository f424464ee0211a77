"""The ``toolkit`` command: parse options, hand off to a stage, render once.

Exit codes: 0 valid, 1 invalid data, 2 wrong usage (click), 3 could not run (broken schema,
plugin or environment). Heavy modules are imported inside the commands so start-up stays light.
"""

from __future__ import annotations

import contextlib
import os
import sys
import typing as t
from pathlib import Path

import click

from .errors import CouldNotRun, InvalidRecords, ToolkitError

if t.TYPE_CHECKING:
    from .plugins import Format
    from .problems import Report

DEFAULT_PATHS = ("records",)
_paths = click.argument("paths", nargs=-1, type=click.Path(path_type=str, readable=False))  # the loader reports
_max_size = click.option(
    "--max-file-size",
    "max_bytes",
    type=click.IntRange(min=1),
    default=16 * 1024 * 1024,
    show_default=True,
    help="Refuse YAML files larger than this many bytes.",
)


def _version() -> str:
    from . import __version__

    return __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=None, package_name="records-toolkit", prog_name="toolkit", message="%(prog)s %(version)s")
def main() -> None:
    """Keep the facts of news articles as reviewed YAML records: validate, format, export."""


def _render_report(report: Report, output_format: str, *, err: bool = False) -> None:
    from .render import RENDERERS

    text = RENDERERS[output_format](report)
    if text:
        click.echo(text, nl=False, err=err)


def _check(paths: t.Sequence[str], *, keep: bool, max_bytes: int) -> t.Any:
    from .validate import check_paths

    return check_paths(paths or DEFAULT_PATHS, keep=keep, max_bytes=max_bytes)


@main.command()
@_paths
@click.option(
    "--output-format",
    "-f",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts, github for PR annotations, sarif for code scanning.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing; only the exit code tells.")
@_max_size
def validate(paths: tuple[str, ...], output_format: str, quiet: bool, max_bytes: int) -> None:
    """Check records against the schemas and the collection rules (default PATH: records)."""
    result = _check(paths, keep=False, max_bytes=max_bytes)
    if not quiet:
        _render_report(result.report, output_format)
    if not result.report.ok:
        sys.exit(InvalidRecords.exit_code)


@main.command()
@_paths
@click.option("--check", is_flag=True, help="Change nothing; exit 1 naming each file that is not canonical.")
@_max_size
def fmt(paths: tuple[str, ...], check: bool, max_bytes: int) -> None:
    """Rewrite records into the one canonical form (idempotent)."""
    from .canonical import dumps
    from .loader import Document, iter_record_files, load_bytes, load_file
    from .output import atomic_write
    from .problems import Problem, Report
    from .render import text

    report = Report()
    changed: list[str] = []
    for item in iter_record_files(paths or DEFAULT_PATHS):
        if isinstance(item, Problem):
            report.problems.append(item)
            continue
        report.files += 1
        documents: list[dict[str, t.Any]] = []
        problems = []
        try:
            original = item.read_bytes() if item.stat().st_size <= max_bytes else b""
        except OSError:
            original = b""
        loads = load_bytes(original, item.as_posix()) if original else load_file(item, max_bytes=max_bytes)
        for loaded in loads:
            if isinstance(loaded, Document):
                documents.append(t.cast(dict[str, t.Any], loaded.data))
            else:
                problems.append(loaded)
        if problems:
            report.problems.extend(problems)
            continue
        report.records += len(documents)
        canonical = dumps(documents).encode("utf-8")
        if original != canonical:
            changed.append(item.as_posix())
            if check:
                old_lines, new_lines = original.splitlines(), canonical.splitlines()
                line = next(
                    (i for i, (a, b) in enumerate(zip(old_lines, new_lines), 1) if a != b),
                    min(len(old_lines), len(new_lines)) + 1,
                )
                line = min(line, max(len(old_lines), 1))
                report.problems.append(
                    Problem(
                        file=item.as_posix(),
                        line=line,
                        column=1,
                        pointer="",
                        code="not-canonical",
                        message="not in canonical form from here on (run `toolkit fmt`)",
                    )
                )
            else:
                atomic_write(item, canonical)
    if report.problems:
        click.echo(text(report), nl=False)
        sys.exit(InvalidRecords.exit_code)
    verb = "would reformat" if check else "reformatted"
    for name in changed:
        click.echo(f"{verb} {name}", err=True)
    click.echo(
        f"{len(changed)} of {report.files} files {verb}" if changed else f"{report.files} files already canonical",
        err=True,
    )


def _format_choice() -> click.Choice:
    from .plugins import discover

    return click.Choice(sorted(discover()))


class _LazyChoice(click.ParamType):
    """``--format`` choices come from the installed plugins, read when the option is used."""

    name = "format"

    def convert(self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return str(_format_choice().convert(value, param, ctx))

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:  # type: ignore[override]
        return "[" + "|".join(sorted(_format_choice().choices)) + "]"


def _options(plugin: Format, given: tuple[str, ...]) -> dict[str, str]:
    """Parse ``-O name=value`` against the options the format declares."""
    declared = {o.name: o for o in plugin.options}
    values = {o.name: o.default for o in plugin.options}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise click.UsageError(f"-O {item!r}: format {plugin.name!r} takes NAME=VALUE with NAME one of: {known}")
        option = declared[name]
        if option.choices is not None and value not in option.choices:
            raise click.UsageError(f"-O {name}={value!r}: use one of {', '.join(option.choices)}")
        values[name] = value
    return values


def _context(plugin: Format, given: tuple[str, ...]) -> t.Any:
    from .plugins import Context
    from .schemas import load_model

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    source_date_epoch, problem = None, None
    try:
        source_date_epoch = int(epoch) if epoch else None
    except ValueError:
        problem = f"SOURCE_DATE_EPOCH={epoch!r} is not a whole number of seconds"
    return Context(
        model=load_model(),
        options=_options(plugin, given),
        source_date_epoch=source_date_epoch,
        source_date_epoch_error=problem,
    )


@main.command(name="export")
@click.option(
    "--format",
    "-F",
    "format_name",
    type=_LazyChoice(),
    required=True,
    help="An installed format (see `toolkit formats`).",
)
@_paths
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="File (or directory, for directory formats) to write."
)
@click.option(
    "--option",
    "-O",
    "option_values",
    multiple=True,
    metavar="NAME=VALUE",
    help="A format option (see `toolkit formats`).",
)
@_max_size
def export_(
    format_name: str, paths: tuple[str, ...], output: Path | None, option_values: tuple[str, ...], max_bytes: int
) -> None:
    """Validate, then write the records in a format. Invalid records write nothing."""
    from .output import atomic_write, atomic_write_tree
    from .plugins import load

    plugin = load(format_name)
    context = _context(plugin, option_values)
    result = _check(paths, keep=True, max_bytes=max_bytes)
    if not result.report.ok:
        _render_report(result.report, "text", err=True)
        click.echo("nothing written: fix the records first", err=True)
        sys.exit(InvalidRecords.exit_code)
    records = sorted((t.cast(dict[str, t.Any], d.data) for d in result.records), key=lambda r: (r["type"], r["id"]))
    try:
        exported = plugin.export(records, context)
    except ToolkitError:
        raise
    except Exception as exc:  # a plugin's bug must not look like bad data
        raise CouldNotRun(f"format {format_name!r} failed: {type(exc).__name__}: {exc}") from exc
    for notice in exported.notices:
        click.echo(f"notice: {notice}", err=True)
    if plugin.directory:
        if output is None:
            raise click.UsageError(f"format {format_name!r} writes several files: give a directory with -o DIR")
        atomic_write_tree(output, exported.files)
        click.echo(f"wrote {len(exported.files)} files to {output}", err=True)
        return
    (data,) = exported.files.values()
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        atomic_write(output, data)
        click.echo(f"wrote {output}", err=True)


@main.command(name="import")
@click.option("--format", "-F", "format_name", type=_LazyChoice(), required=True, help="A format that can import.")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True, help="Directory for the YAML records.")
@click.option("--option", "-O", "option_values", multiple=True, metavar="NAME=VALUE", help="A format option.")
def import_(format_name: str, source: Path, output: Path, option_values: tuple[str, ...]) -> None:
    """Read records back from an export and write them as canonical YAML (one file each)."""
    from .canonical import dumps, record_path
    from .loader import Document
    from .output import atomic_write_tree
    from .plugins import Importer, load
    from .validate import Checker

    plugin = load(format_name)
    if not isinstance(plugin, Importer):
        raise click.UsageError(f"format {format_name!r} cannot import (see `toolkit formats`)")
    context = _context(plugin, option_values)
    try:
        records = plugin.import_records(source, context)
    except ToolkitError:
        raise
    except Exception as exc:
        raise InvalidRecords(f"cannot import {source} as {format_name}: {type(exc).__name__}: {exc}") from exc
    files: dict[str, bytes] = {}
    checker = Checker(context.model)
    for record in records:
        name = record_path(record)
        if name in files:
            raise InvalidRecords(f"cannot import {source}: two records would be written to {name}")
        files[name] = dumps([record], context.model).encode("utf-8")
        checker.add(Document(str(output / name), 0, record))
    report = checker.finish().report
    report.files = len(files)
    if not report.ok:
        for problem in report.sorted():
            click.echo(f"{problem.file}: {problem.pointer}: {problem.message} [{problem.code}]", err=True)
        click.echo("nothing written: the imported records are not valid", err=True)
        sys.exit(InvalidRecords.exit_code)
    atomic_write_tree(output, files)
    click.echo(f"wrote {len(files)} records to {output}", err=True)


@main.command()
def formats() -> None:
    """List the installed formats, what each can do, and their options."""
    from .plugins import Importer, discover

    entries = discover()
    rows = [("NAME", "SUFFIX", "MEDIA TYPE", "EXPORT", "IMPORT", "FROM")]
    details = []
    for name, entry in entries.items():
        plugin = entry.load()
        output = "directory" if plugin.directory else "file"
        rows.append(
            (
                name,
                plugin.suffix,
                plugin.media_type,
                output,
                "yes" if isinstance(plugin, Importer) else "no",
                f"{entry.package} {entry.version}",
            )
        )
        details.append(f"{name}: {plugin.summary}")
        for option in plugin.options:
            choices = f" ({'|'.join(option.choices)})" if option.choices else ""
            details.append(f"    -O {option.name}={option.default}{choices}  {option.help}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    click.echo("")
    for line in details:
        click.echo(line)


@main.command()
def codes() -> None:
    """List every problem code with what it means (stable: CI may filter on them)."""
    from .problems import CODES

    width = max(map(len, CODES))
    for code, meaning in CODES.items():
        click.echo(f"{code.ljust(width)}  {meaning}")


def run() -> None:
    """The console entry: ``main``, plus a clean end when the output itself cannot be written."""
    try:
        main(prog_name="toolkit")
    except OSError as exc:  # stdout or stderr full or closed (click handles a broken pipe itself)
        with contextlib.suppress(OSError):
            sys.stderr.write(f"toolkit: cannot write the output: {exc.strerror or exc}\n")
            sys.stderr.flush()
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        sys.exit(CouldNotRun.exit_code)
