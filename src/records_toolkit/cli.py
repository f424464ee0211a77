"""The ``toolkit`` command: parse the options, call one function of :mod:`records_toolkit.api`, render.

Commands end by returning (exit 0) or by raising a :class:`~records_toolkit.errors.ToolkitError`;
:class:`ToolkitGroup` is the one exit path that renders the error and exits with its code:
0 valid, 1 invalid data, 2 wrong usage, 3 could not run. Heavy modules are imported inside the
commands so that start-up stays light.

Options mean the same in every command: ``-f/--format`` is a data format (``toolkit formats``),
``--output-format`` the form of the problem report, ``-o/--output`` where to write, ``-O`` a
format option, ``-q`` quiet.
"""

from __future__ import annotations

import contextlib
import io
import sys
import typing as t

import click

from . import __version__
from .errors import InvalidRecords, OutputError, Terminated, ToolkitError, UsageError, stop_on_sigterm
from .launcher import OUTPUT_FORMATS, render_error

if t.TYPE_CHECKING:
    from .problems import Report

_META_FORM = "records_toolkit.output_format"
_META_QUIET = "records_toolkit.quiet"


class ToolkitGroup(click.Group):
    """The one exit path: a :class:`ToolkitError` is rendered here and exits with its own code."""

    def invoke(self, ctx: click.Context) -> t.Any:
        try:
            return super().invoke(ctx)
        except ToolkitError as exc:
            try:
                _render_error(ctx, exc)
            except KeyboardInterrupt as stop:  # Ctrl-C amid the message (a long one, a slow terminal): still 130
                # (what had changed, said as the error said it)
                for said in ("partly_sent", "after_write", "rewritten"):
                    if hasattr(exc, said) and not hasattr(stop, said):
                        setattr(stop, said, getattr(exc, said))
                self._stopped(stop)
            raise click.exceptions.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:  # Ctrl-C: every write is all or nothing, so nothing was half-written
            self._stopped(exc)

    @staticmethod
    def _stopped(exc: KeyboardInterrupt) -> t.NoReturn:
        from .output import stopped_message

        click.echo(stopped_message(exc), err=True)
        raise click.exceptions.Exit(130) from None


class _Reported(InvalidRecords):
    """Invalid records whose report the command has already rendered (on stdout): exit 1, nothing more."""


def _render_error(ctx: click.Context, exc: ToolkitError) -> None:
    if isinstance(exc, _Reported):
        return
    form = ctx.meta.get(_META_FORM, "text")
    quiet = ctx.meta.get(_META_QUIET, False)
    render_error(exc, form, quiet, ctx.invoked_subcommand, click.echo)  # (shared with the launcher's validate)


def _visible(text: str) -> str:
    """Untrusted text (file names, values in messages) with control and bidi characters escaped."""
    from .render import visible

    return visible(text)


def _emit(report: Report, form: str, *, err: bool = False) -> None:
    from .render import RENDERERS

    text = RENDERERS[form](report)
    if text:
        click.echo(text, nl=False, err=err)


def _settings(ctx: click.Context, output_format: str, quiet: bool) -> None:
    ctx.find_root().meta[_META_FORM] = output_format
    ctx.find_root().meta[_META_QUIET] = quiet


class _OutputForm(click.Choice):  # type: ignore[type-arg]
    """``--output-format``: the report's form; a data format given here gets a hint."""

    def __init__(self) -> None:
        super().__init__(OUTPUT_FORMATS)

    def convert(self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None) -> t.Any:
        if isinstance(value, str) and value not in OUTPUT_FORMATS:
            from .plugins import discover

            command = ctx.command.name if ctx is not None else None
            if value in discover() and command in ("export", "import"):
                self.fail(
                    f"{value!r} is a data format: use --format {value} (--output-format is the form of "
                    f"the problem report: {', '.join(OUTPUT_FORMATS)})",
                    param,
                    ctx,
                )
        return super().convert(value, param, ctx)


class _DataFormat(click.ParamType):  # type: ignore[type-arg]
    """``-f/--format``: an installed format, read from the entry points when the option is used."""

    name = "format"

    def convert(self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from .plugins import discover

        names = sorted(discover())
        if value in names:
            return str(value)
        hint = f" (--output-format {value} is the form of the problem report)" if value in OUTPUT_FORMATS else ""
        self.fail(f"{value!r} is not an installed format; use one of: {', '.join(names)}{hint}", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "FORMAT"


def _misplaced_format(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        raise click.UsageError(
            f"`{ctx.info_name}` has no data format. For the form of its report use --output-format "
            f"({', '.join(OUTPUT_FORMATS)}); formats are for `toolkit export` and `toolkit import`.",
            ctx=ctx,
        )


F = t.TypeVar("F", bound=t.Callable[..., t.Any])


def _paths(func: F) -> F:
    return click.argument("paths", nargs=-1, type=click.Path(path_type=str, readable=False))(func)  # the loader reports


def _report_options(func: F) -> F:
    func = click.option("--quiet", "-q", is_flag=True, help="Print no report; only the exit code tells.")(func)
    return click.option(
        "--output-format",
        type=_OutputForm(),
        default="text",
        show_default=True,
        help="Form of the problem report: text for people, json for scripts, github for "
        "pull-request annotations, sarif for code scanning.",
    )(func)


def _jobs_with(text: str) -> t.Callable[[F], F]:
    """The ``--jobs`` option, with the help of the command it is on."""

    def option(func: F) -> F:
        return click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help=text)(func)

    return option


_jobs_option = _jobs_with(
    "Worker processes for large trees, to check them and to write an export, besides this one "
    "(default: one per core; at most four per core; 1: this process alone); with --scheduler local, "
    "the cluster's workers (default 2)."
)
_fmt_jobs_option = _jobs_with(
    "With --check, worker processes for a large tree (1,000 files or more), besides this one "
    "(default: one per core; at most four per core; 1: this process alone)."
)


def _max_size_with(help: str) -> t.Callable[[F], F]:
    def option(func: F) -> F:
        return click.option(
            "--max-file-size",
            "max_bytes",
            type=click.IntRange(min=1),
            default=16 * 1024 * 1024,
            show_default=True,
            help=help,
        )(func)

    return option


_max_size = _max_size_with("Refuse YAML files larger than this many bytes.")
_max_import_size = _max_size_with(
    "Refuse export files larger than this many bytes (each is read whole: an export in --parts keeps each file small)."
)


def _no_data_format(func: F) -> F:
    return click.option(
        "-f", "-F", "--format", "stray_format", hidden=True, expose_value=False, callback=_misplaced_format
    )(func)


class _ImporterOption(click.Option):
    """``import --format``: its help lists the installed formats that can import (read when shown)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        from . import api

        names = [info.name for info in api.formats().available if info.can_import]
        listed = ", ".join(names) or "none installed"
        return record[0], record[1].replace("can import.", f"can import: {listed}.", 1)


def _format_option(help: str, *, importers: bool = False) -> t.Callable[[F], F]:
    return click.option(
        "--format",
        "-f",
        "-F",
        "format_name",
        type=_DataFormat(),
        required=True,
        help=help,
        cls=_ImporterOption if importers else click.Option,
    )


def _format_options(func: F) -> F:
    return click.option(
        "--option",
        "-O",
        "option_values",
        multiple=True,
        metavar="NAME=VALUE",
        help="A format option (`toolkit formats` lists them); repeat for several.",
    )(func)


def _parse_options(given: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"-O {item!r}: write NAME=VALUE (`toolkit formats` lists each format's options)")
        values[name] = value
    return values


@click.group(cls=ToolkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="toolkit", message="%(prog)s %(version)s")
def main() -> None:
    """Keep the facts of news articles as reviewed YAML records: validate, format, export, import."""


@main.command(
    epilog="""\b
Examples:
  toolkit validate                                 # the records/ tree
  toolkit validate records/events/efes-2022.yaml   # some files
  toolkit validate --output-format github records  # pull-request annotations in CI
  toolkit validate --no-collection draft.yaml      # one file on its own"""
)
@_paths
@_report_options
@_max_size
@_jobs_option
@click.option(
    "--collection",
    "collection_path",
    type=click.Path(path_type=str, file_okay=False),
    default=None,
    help="The collection the PATHs belong to (default: from records-toolkit.toml, else records/): "
    "references and ids resolve against all of it; only the PATHs' problems are reported.",
)
@click.option("--no-collection", is_flag=True, help="Check only the PATHs named, on their own.")
@click.option(
    "--no-cache",
    is_flag=True,
    envvar="RECORDS_TOOLKIT_NO_CACHE",
    help="Neither read nor write the collection's result cache (.records-toolkit-cache/; the "
    "report is the same either way, only slower or faster). Also RECORDS_TOOLKIT_NO_CACHE=1.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    envvar="RECORDS_TOOLKIT_SCHEDULER",
    default=None,
    help="Check the files on a Dask cluster: tcp://HOST:8786, or local for a local cluster of --jobs "
    "(default 2) worker processes; the report is the same as a local run's. Needs "
    "records-toolkit[dask]. Also RECORDS_TOOLKIT_SCHEDULER.",
)
@_no_data_format
@click.pass_context
def validate(
    ctx: click.Context,
    paths: tuple[str, ...],
    output_format: str,
    quiet: bool,
    max_bytes: int,
    jobs: int | None,
    collection_path: str | None,
    no_collection: bool,
    no_cache: bool,
    scheduler: str | None,
) -> None:
    """Check records against the schemas and the collection rules (default PATH: the collection, else records).

    Files named inside a collection are checked against the whole collection, and only their
    own problems are reported."""
    from . import api

    _settings(ctx, output_format, quiet)
    if no_collection and collection_path is not None:
        raise UsageError("--collection and --no-collection: give one or the other")
    collection: str | bool = False if no_collection else collection_path if collection_path is not None else True
    report = api.validate(
        paths or None,
        max_file_size=max_bytes,
        jobs=jobs,
        collect=False,
        collection=collection,
        cache=not no_cache,
        progress=True,
        scheduler=scheduler,
    )
    if not quiet:
        _emit(report, output_format)
    if not report.ok:
        raise _Reported(report)


@main.command(
    epilog="""\b
Examples:
  toolkit fmt                    # rewrite the collection (records-toolkit.toml, else records/)
  toolkit fmt --check records    # CI: exit 1 naming each file that is not canonical"""
)
@_paths
@click.option("--check", is_flag=True, help="Change nothing; exit 1 naming each file that is not canonical.")
@_report_options
@_max_size
@_fmt_jobs_option
@click.option(
    "--no-cache",
    is_flag=True,
    envvar="RECORDS_TOOLKIT_NO_CACHE",
    help="Parse every file again even when the collection's result cache (the folder `toolkit "
    "validate` makes) knows its very bytes to be canonical; the report and the files are the same "
    "either way. Also RECORDS_TOOLKIT_NO_CACHE=1.",
)
@_no_data_format
@click.pass_context
def fmt(
    ctx: click.Context,
    paths: tuple[str, ...],
    check: bool,
    output_format: str,
    quiet: bool,
    max_bytes: int,
    jobs: int | None,
    no_cache: bool,
) -> None:
    """Rewrite records into the one canonical form (idempotent).

    PATHS: record files and folders (default: the collection of records-toolkit.toml, else records).
    """
    from . import api

    _settings(ctx, output_format, quiet)
    result = api.fmt(paths or None, check=check, max_file_size=max_bytes, jobs=jobs, cache=not no_cache)
    report = result.report
    if not report.ok:
        if not quiet:
            _emit(report, output_format)
        raise _Reported(report)
    if quiet:
        return
    if report.problems:  # warnings only (e.g. text-not-block)
        _emit(report, output_format, err=True)
    for name in result.skipped:
        click.echo(f"left alone {_visible(name)}: not a record of the collection", err=True)
    verb = "would reformat" if check else "reformatted"
    for name in result.changed:
        click.echo(f"{verb} {_visible(name)}", err=True)
    click.echo(
        f"{len(result.changed)} of {report.files} files {verb}"
        if result.changed
        else f"{report.files} files already canonical",
        err=True,
    )


@main.command(
    name="export",
    epilog="""\b
Examples:
  toolkit export -f ics records -o article.ics        # the dated events, for calendars
  toolkit export -f ics -O imprecise=span records     # to stdout; years shown as spans
  toolkit export -f csv records -o tables/            # a directory format
  toolkit export -f jsonld -O base=https://example.org/ records -o article.jsonld
  toolkit export -f csv --parts 16 records -o tables/ # tables in parts, for large archives
  toolkit export -f jsonld --parts 64 --scheduler tcp://HOST:8786 archive -o graph/""",
)
@_format_option("An installed format (`toolkit formats`).")
@_paths
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=str),  # text: `-o ''` must stay empty (a usage error), not become "."
    help="File (directory, for directory formats) to write; default (or -): stdout.",
)
@_format_options
@click.option(
    "--parts",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Write the export in N parts plus an index, into the directory -o DIR (csv: each table in "
    "parts listed in datapackage.json; jsonld: part-*.jsonld listed in index.jsonld); the same "
    "files whatever writes them. Other formats are written whole.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    envvar="RECORDS_TOOLKIT_SCHEDULER",
    default=None,
    help="Check the files on a Dask cluster (tcp://HOST:8786, or local), and with --parts write each "
    "part there; the workers must see -o's directory under the same name. The files are the same "
    "as a local export's. Needs records-toolkit[dask]. Also RECORDS_TOOLKIT_SCHEDULER.",
)
@_jobs_option
@click.option(
    "--no-cache",
    is_flag=True,
    envvar="RECORDS_TOOLKIT_NO_CACHE",
    help="Check every record again even when the collection's result cache (written by `toolkit "
    "validate`) vouches that the files, unchanged since, were found without a problem. The export "
    "reads the cache, never writes it (nor with --scheduler); the files written are the same. Also "
    "RECORDS_TOOLKIT_NO_CACHE=1.",
)
@_report_options
@_max_size
@click.pass_context
def export_(
    ctx: click.Context,
    format_name: str,
    paths: tuple[str, ...],
    output: str | None,
    option_values: tuple[str, ...],
    parts: int | None,
    scheduler: str | None,
    jobs: int | None,
    no_cache: bool,
    output_format: str,
    quiet: bool,
    max_bytes: int,
) -> None:
    """Validate, then write the records in a format. Invalid records write nothing.

    PATHS: record files and folders (default: the collection of records-toolkit.toml, else
    records). After a clean `toolkit validate` of the same collection, unchanged since, the
    records are loaded without being checked again (the result cache vouches; see --no-cache).
    """
    from . import api
    from .collection import default_folder
    from .plugins import Partitioned, load, resolve_options

    _settings(ctx, output_format, quiet)
    if output == "-":  # the usual spelling of standard output
        output = None
    plugin = load(format_name)  # (entry points are read once; api.export finds the module loaded)
    directory = plugin.directory or (parts is not None and isinstance(plugin, Partitioned))
    if output is None and directory:
        what = "in parts" if parts is not None and not plugin.directory else "several files"
        raise UsageError(f"format {format_name!r} writes {what}: give a directory with -o DIR")
    options = _parse_options(option_values)
    resolve_options(plugin, options)  # an unknown name (`-O to=x` too) said as one, not passed on
    if output is None:
        if sys.stdout is None or sys.stdout.closed:
            raise OutputError("cannot write the export to standard output: it is closed (give -o FILE)")
        sys.stdout.flush()
    try:
        exported = api.export(
            list(paths or [default_folder()]),
            format_name,
            to=output if output is not None else _stdout_bytes(),  # (streamed into it as it is made)
            max_file_size=max_bytes,
            parts=parts,
            scheduler=scheduler,
            jobs=jobs,
            cache=not no_cache,
            progress=output is not None or not _is_terminal(sys.stdout),  # (none amid an export on the screen)
            **options,
        )
    except OutputError as exc:
        if isinstance(exc.__cause__, BrokenPipeError):  # (standard output, -o /dev/stdout, a FIFO)
            raise exc.__cause__ from None  # a reader that went away (`| head`): ended quietly, as click ends it
        raise
    from .output import SignalGuard

    try:  # the export is in place, or went out: a signal now must say so, not "nothing was changed"
        with SignalGuard(defer=False):
            _said(exported.notices, quiet)
            if output is not None and not quiet:
                click.echo(
                    f"wrote {len(exported.files)} files to {output}" if directory else f"wrote {output}", err=True
                )
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) or _terminated(exc) is not None:
            if output is not None:
                exc.after_write = True  # type: ignore[attr-defined]
            else:
                exc.partly_sent = "standard output"  # type: ignore[attr-defined]
        raise


@main.command(
    name="import",
    epilog="""\b
Examples:
  toolkit import -f csv tables/ -o records/            # CSV tables back to YAML records
  toolkit import -f jsonld article.jsonld -o records/""",
)
@_format_option("A format that can import.", importers=True)
@click.argument("source", type=click.Path(path_type=str, readable=False))  # text: a URL stays a URL
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=str),  # text: `-o ''` must stay empty (a usage error), not become "."
    required=True,
    help="Directory for the YAML records (one file each).",
)
@click.option(
    "--force", is_flag=True, help="Replace the records already in -o DIR (those not in the import are removed)."
)
@_format_options
@_max_import_size
@_report_options
@click.pass_context
def import_(
    ctx: click.Context,
    format_name: str,
    source: str,
    output: str,
    force: bool,
    option_values: tuple[str, ...],
    max_bytes: int,
    output_format: str,
    quiet: bool,
) -> None:
    """Read records back from an export and write them as canonical YAML (one file each)."""
    from . import api

    _settings(ctx, output_format, quiet)
    options = _parse_options(option_values)
    records = api.import_records(source, format_name, to=output, force=force, max_file_size=max_bytes, **options)
    if not quiet:
        click.echo(f"wrote {len(records)} records to {output}", err=True)


@main.command(
    epilog="""\b
Examples:
  toolkit init my-records                # a new repository in ./my-records
  cd my-records && git init && toolkit validate
  toolkit init . --force                 # add what is missing here; never replaces a file
  toolkit init my-records --toolkit-source https://github.com/OWNER/records-toolkit"""
)
@click.argument("directory", metavar="DIR", type=click.Path(path_type=str))
@click.option(
    "--toolkit-source",
    metavar="URL",
    default=None,
    help="The toolkit's git repository for the install lines (a URL or a local clone; default: the one "
    "this toolkit was installed from). The tag v<version> must exist there (`make release`).",
)
@click.option(
    "--force",
    is_flag=True,
    help="DIR may hold other files: add the missing ones, keep identical ones; a file with other "
    "content is never replaced (exit 2, nothing written).",
)
def init(directory: str, toolkit_source: str | None, force: bool) -> None:
    """Start a records repository in DIR, ready to use.

    Writes records-toolkit.toml, records/ with two example records to replace (an article and an
    event quoting it), a .pre-commit-config.yaml with this toolkit's hooks, an example CI workflow
    (.github/workflows/records.yml) and a README.md, all or nothing. `toolkit validate` and every
    export work there at once. The install lines take the toolkit from its git repository at the
    tag v<version>; when it cannot be told where this toolkit came from, give --toolkit-source
    (exit 2 and nothing written otherwise). DIR must be new or empty (a .git alone is fine)
    unless --force; a symbolic link at DIR or inside it is refused.
    """
    from . import api

    done = api.init(directory, toolkit_source=toolkit_source, force=force)
    shown = _visible(done.directory.as_posix())
    for name in done.written:
        click.echo(f"wrote {shown}/{_visible(name)}", err=True)
    for name in done.kept:
        click.echo(f"kept {shown}/{_visible(name)}: already there, the same", err=True)
    for notice in done.notices:
        click.echo(f"notice: {_visible(notice)}", err=True)
    click.echo(f"toolkit {done.source.version} from {_visible(done.source.url)} at {done.source.rev}", err=True)
    import shlex

    where = shlex.quote(_visible(done.directory.as_posix()))
    click.echo(f"next: cd -- {where} && git init && toolkit validate; then replace the example records", err=True)


def _records_option(func: F) -> F:
    return click.option(
        "--records",
        "records_dir",
        type=click.Path(path_type=str),
        default=None,
        help="The records directory of the collection (default: from records-toolkit.toml, else records).",
    )(func)


@main.command(
    epilog="""\b
Examples:
  toolkit new event efes-2024           # writes records/events/efes-2024.yaml
  toolkit new person jane-doe --records my-records
  toolkit schema event                  # what each field of an event means"""
)
@click.argument("type_name", metavar="TYPE")
@click.argument("record_id", metavar="ID")
@_records_option
def new(type_name: str, record_id: str, records_dir: str | None) -> None:
    """Write a skeleton record with every required field, at RECORDS/<TYPE>s/<ID>.yaml
    (RECORDS: the collection of records-toolkit.toml, else records).

    Texts are "TODO: ..." placeholders; allowed values (a kind, a status) are set to the first
    one, listed in `notes` for review; a required date (an article's date_published) is "TODO",
    which `toolkit validate` refuses until the real date is written: a skeleton never invents
    one. One outside source (url and title to replace) supports the fact fields. Apart from
    that date the skeleton validates as written, so `toolkit validate` cannot tell a
    placeholder from a fact: replace every TODO (grep -rn TODO RECORDS) before committing. An id
    that is not a lowercase slug, is already used, or whose file exists is refused (exit 1,
    nothing written).
    """
    from . import api

    path = api.new_record(type_name, record_id, records=records_dir)
    click.echo(f"wrote {_visible(path.as_posix())}: replace each TODO, then run `toolkit validate`", err=True)


@main.command(
    epilog="""\b
Examples:
  toolkit quote azernews-2022-01-21-servicemen-parachute-course Kayseri 113th
  toolkit quote my-article "memorandum of alliance" --records my-records"""
)
@click.argument("article")
@click.argument("words", nargs=-1, required=True)
@_records_option
def quote(article: str, words: tuple[str, ...], records_dir: str | None) -> None:
    """Print a ready source block for each sentence of ARTICLE holding all WORDS.

    Words match case-insensitively, anywhere in a sentence (quote a phrase to keep it whole).
    Each quote is the sentence exactly as in the article's text, so the verbatim check passes;
    the block is indented to paste under `sources:` in a record; fill in `supports`. No
    matching sentence, or no such article: exit 1.
    """
    from . import api

    quotes = api.find_quotes(article, list(words), records=records_dir)
    click.echo(api.source_block(article, quotes), nl=False)


@main.command(
    epilog="""\b
Examples:
  toolkit show kayseri          # the record, what refers to it, what it cites
  toolkit show efes-2022 --records my-records"""
)
@click.argument("record_id", metavar="ID")
@_records_option
def show(record_id: str, records_dir: str | None) -> None:
    """Show a record: its canonical YAML, the records referring to it, the articles it cites."""
    from . import api

    shown = api.show(record_id, records=records_dir)
    click.echo(_visible_block(shown.yaml), nl=False)
    click.echo("")
    if shown.referrers:
        click.echo(f"referred to by {len(shown.referrers)}:")
        width = max(len(r.id) for r in shown.referrers)
        for ref in shown.referrers:
            click.echo(f"  {_visible(ref.id).ljust(width)}  {ref.type:<12}  {_visible(ref.pointer)}")
    else:
        click.echo("referred to by no record")
    if shown.cites:
        click.echo("cites the articles:")
        for article in shown.cites:
            click.echo(f"  {_visible(article)}")
    else:
        click.echo("cites no article of the collection")


def _visible_block(text: str) -> str:
    """Multi-line text with control characters escaped line by line (line breaks kept)."""
    return "".join(_visible(line) + "\n" for line in text.splitlines())


@main.command(
    epilog="""\b
Examples:
  toolkit schema            # the record types
  toolkit schema event      # the fields of an event, with allowed values"""
)
@click.argument("type_name", metavar="[TYPE]", required=False)
def schema(type_name: str | None) -> None:
    """List the record types, or the fields of TYPE: required or not, kind, meaning, allowed values."""
    from . import api

    if type_name is None:
        every = api.describe_schema()
        width = max(len(info.name) for info in every)
        for info in every:
            click.echo(f"{info.name.ljust(width)}  {info.description}")
        return
    info = api.describe_schema(type_name)
    click.echo(f"{info.name}: {info.description}" if info.description else info.name)
    click.echo("")
    width = max(len(field.name) for field in info.fields)
    for field in info.fields:
        click.echo(f"  {field.name.ljust(width)}  {'required' if field.required else 'optional'}  {field.kind}")
        pad = " " * (width + 4)
        if field.description:
            click.echo(f"{pad}{field.description}")
        if field.allowed:
            click.echo(f"{pad}allowed: {', '.join(field.allowed)}")
        if field.refers_to:
            click.echo(f"{pad}refers to: {', '.join(field.refers_to)}")


@main.command(
    epilog="""\b
Example:
  toolkit formats      # then: toolkit export -f NAME -O OPTION=VALUE ..."""
)
def formats() -> None:
    """List the installed formats, what each can do, and their options."""
    from . import api

    found = api.formats()
    rows = [("NAME", "SUFFIX", "MEDIA TYPE", "EXPORT", "IMPORT", "FROM")]
    details = []
    for info in found.available:
        rows.append(
            (
                info.name,
                info.suffix,
                info.media_type,
                "directory" if info.directory else "file",
                "yes" if info.can_import else "no",
                f"{info.package} {info.version}",
            )
        )
        details.append(f"{info.name}: {info.summary}")
        for option in info.options:
            choices = f" ({'|'.join(option.choices)})" if option.choices else ""
            details.append(f"    -O {option.name}={option.default}{choices}  {option.help}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    click.echo("")
    for line in details:
        click.echo(line)
    for error in found.broken[1:]:
        click.echo(f"error: {_visible(error.message)}", err=True)
    if found.broken:  # the others were listed; the broken ones are named and the exit code says so
        raise found.broken[0]


@main.command(
    epilog="""\b
Example:
  toolkit codes | grep schema-"""
)
def codes() -> None:
    """List every problem code with what it means (stable: CI may filter on them)."""
    from .problems import CODES

    width = max(map(len, CODES))
    for code, meaning in CODES.items():
        click.echo(f"{code.ljust(width)}  {meaning}")


def run() -> None:
    """The console entry: ``main``, plus a clean end when the output itself cannot be written."""
    from .launcher import cannot_write, tolerant_streams

    tolerant_streams()
    stop_on_sigterm()
    try:
        main(prog_name="toolkit")
    except OSError as exc:  # stdout or stderr full or closed (click handles a broken pipe itself)
        cannot_write(exc)
    except BaseException as exc:
        terminated = _terminated(exc)
        if terminated is None:
            raise
        # SIGTERM: whatever was being written undone, workers ended
        from .output import stopped_message

        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(stopped_message(terminated) + "\n")
            sys.stderr.flush()
        sys.exit(terminated.exit_code)


def _stdout_bytes() -> t.BinaryIO:
    """Standard output's descriptor itself, under its buffer (which the caller flushed): a write
    then says exactly how much went, and a non-blocking pipe left by a parent is waited on, where
    a buffered writer raised from its last flush, and again at the interpreter's exit."""
    buffer = sys.stdout.buffer
    raw = getattr(buffer, "raw", None)
    return t.cast(t.BinaryIO, raw) if isinstance(raw, io.FileIO) and not raw.closed else buffer


def _is_terminal(stream: t.Any) -> bool:
    """Whether ``stream`` is a terminal (an export written there streams: a progress line on the
    same screen would be drawn amid it)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _said(notices: t.Sequence[str], quiet: bool) -> None:
    """The notices on standard error, a thousand lines a write (a calendar of 100,000 records may
    say 15,000 things: one write each took 0.26 s)."""
    if not quiet:
        for start in range(0, len(notices), 1000):
            click.echo("\n".join(f"notice: {_visible(notice)}" for notice in notices[start : start + 1000]), err=True)


def _terminated(exc: BaseException) -> Terminated | None:
    """``exc`` if it is :class:`~records_toolkit.errors.Terminated` (SIGTERM), else None."""
    return exc if isinstance(exc, Terminated) else None


if __name__ == "__main__":  # python -m records_toolkit.cli, as python -m records_toolkit
    run()
