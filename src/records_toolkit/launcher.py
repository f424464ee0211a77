"""The `toolkit` console script: ``toolkit --version`` and a plain ``toolkit validate`` without click.

Importing click alone costs several times Python's own start-up; a version check (a pre-commit
hook, a CI step, a shell prompt) should not pay it, nor should validating the files of a commit.
``toolkit validate`` with options of the plain forms read here (:func:`validate_options`) runs
directly, with the same output, messages and exit codes as through click; anything else (help,
an unknown or misspelled option, a value click would refuse, ``--collection``, shell completion,
``RECORDS_TOOLKIT_NO_CACHE`` set to what is not a boolean, ``--scheduler`` or
``RECORDS_TOOLKIT_SCHEDULER``: a Dask cluster) goes to :func:`cli.run`, which says
what is wrong.
"""

from __future__ import annotations

import io  # (loaded before any script: the standard streams are its objects)
import sys

TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: the launcher need not import typing)
if TYPE_CHECKING:
    import typing as t

    from .errors import ToolkitError
    from .problems import Report

    Echo = t.Callable[..., None]

OUTPUT_FORMATS = ("text", "json", "github", "sarif")
"""The forms of the problem report (``--output-format``); :mod:`.cli` uses this same tuple."""

_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--no-collection": "no_collection", "--no-cache": "no_cache"}
_VALUED = {"--output-format": "output_format", "--max-file-size": "max_bytes", "--jobs": "jobs", "-j": "jobs"}
_MAX_FILE_BYTES = 16 * 1024 * 1024  # records_toolkit.loader.MAX_FILE_BYTES, the option's default
_NO_CACHE = "RECORDS_TOOLKIT_NO_CACHE"  # --no-cache's variable, read as click reads a boolean
_SCHEDULER = "RECORDS_TOOLKIT_SCHEDULER"  # --scheduler's variable: set, click reads the options
_BOOLEAN = {"1": True, "yes": True, "true": True, "on": True, "t": True, "y": True, "": False}
_BOOLEAN.update({"0": False, "no": False, "false": False, "off": False, "f": False, "n": False})


def tolerant_streams() -> None:
    """Characters the terminal's encoding cannot show (a file name in `PYTHONIOENCODING=latin-1`)
    come out as backslash escapes, never as a UnicodeEncodeError traceback. A standard stream
    that a parent process left non-blocking (``O_NONBLOCK`` on a pipe) is written as a blocking
    one (:class:`_Waiting`): a report larger than the pipe's 64 KiB stopped there, exit 3."""
    import os

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
        try:
            buffered = not isinstance(stream.buffer, io.FileIO)  # (python -u, PYTHONUNBUFFERED: the raw file itself)
            raw = stream.buffer.raw if buffered else stream.buffer
            if not isinstance(raw, io.FileIO) or raw.closed or os.get_blocking(raw.fileno()):
                continue
        except (AttributeError, ValueError, OSError):
            continue
        stream.flush()
        waiting = io.TextIOWrapper(
            io.BufferedWriter(_Waiting(raw.fileno()), io.DEFAULT_BUFFER_SIZE if buffered else 1),
            encoding=stream.encoding,
            errors=stream.errors,
            line_buffering=stream.line_buffering,
            write_through=getattr(stream, "write_through", False),
        )
        setattr(sys, name, waiting)


class _Waiting(io.RawIOBase):
    """A standard stream's descriptor that is non-blocking, written as if it were not: a write that
    would block waits until the descriptor can take more (``poll``), as an export's does. The
    descriptor stays open when this is closed (it is the process's)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        import os

        return os.isatty(self._fd)

    def write(self, data: t.Any) -> int:
        import os

        while True:
            try:
                return os.write(self._fd, data)
            except BlockingIOError:
                wait_writable(self._fd)


def wait_writable(fd: int) -> None:
    """Until the non-blocking descriptor ``fd`` can take more bytes (a pipe's reader read some)."""
    import select

    if hasattr(select, "poll"):
        waiting = select.poll()
        waiting.register(fd, select.POLLOUT)
        waiting.poll()
    else:  # pragma: no cover - (no poll: Windows)
        select.select([], [fd], [])


def run() -> None:
    tolerant_streams()
    args = sys.argv[1:]
    if args == ["--version"]:
        from . import __version__

        if sys.stdout is None:  # (closed when Python started, `>&-`: nothing said, as click says nothing then)
            return
        try:
            sys.stdout.write(f"toolkit {__version__}\n")
            sys.stdout.flush()
        except OSError as exc:
            cannot_write(exc)
        return
    last = _called_last(sys._getframe(1))
    if args[:1] == ["validate"]:
        options = validate_options(args[1:])
        if options is not None:
            _validate(options, last=last)
    try:
        from .cli import run as cli_run
    except KeyboardInterrupt:  # Ctrl-C while the command line loads: nothing has run, nothing to undo
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    if not last:
        cli_run()
        return
    try:
        cli_run()
    except SystemExit as exc:  # (click ends every command so: its code, or None for 0)
        if exc.code is None or type(exc.code) is int:
            _end(exc.code or 0)
        raise
    _end(0)


def validate_options(args: list[str]) -> dict[str, t.Any] | None:
    """The options of ``toolkit validate ARGS`` as the command receives them, when every argument is
    of a plain form (``-q``, ``--quiet``, ``--no-collection``, ``--no-cache``, ``--output-format F``
    with F one of :data:`OUTPUT_FORMATS`, ``--jobs N``/``-j N``/``--max-file-size N`` with N digits
    from 1, each ``--name=value`` too, paths, ``--``); None for anything else: click then reads them.
    """
    import os

    if os.name == "nt" or os.environ.get("_TOOLKIT_COMPLETE"):
        return None  # (click expands Windows wildcards; shell completion)
    if os.environ.get(_SCHEDULER):
        return None  # a Dask cluster: click's --scheduler (and Dask) only when asked for
    no_cache = _BOOLEAN.get(os.environ.get(_NO_CACHE, "").strip().lower())
    if no_cache is None:
        return None  # click says it is not a boolean
    if not (_plain_text_stream(sys.stdout) and _plain_text_stream(sys.stderr)):
        return None  # click re-wraps a stream it finds misconfigured
    values: dict[str, t.Any] = {
        "paths": [],
        "output_format": "text",
        "quiet": False,
        "max_bytes": _MAX_FILE_BYTES,
        "jobs": None,
        "no_collection": False,
        "no_cache": no_cache,
    }
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            values["paths"].extend(rest)
            break
        if not arg.startswith("-"):
            values["paths"].append(arg)
            continue
        name, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if not equals and name in _FLAGS:
            values[_FLAGS[name]] = True
            continue
        if name not in _VALUED:
            return None
        if not equals:
            given = next(rest, None)
            if given is None:
                return None
            value = given
        key = _VALUED[name]
        if key == "output_format":
            if value not in OUTPUT_FORMATS:
                return None
            values[key] = value
        elif value.isascii() and value.isdigit() and int(value) >= 1:
            values[key] = int(value)
        else:
            return None
    return values


def _plain_text_stream(stream: t.Any) -> bool:
    """A text stream click writes to as it is: an encoding (not ASCII) and an error handler."""
    encoding = getattr(stream, "encoding", None)
    if stream is None or not encoding or getattr(stream, "errors", None) is None:
        return False
    import codecs

    try:
        return codecs.lookup(encoding).name != "ascii"
    except LookupError:
        return True


def _validate(options: dict[str, t.Any], *, last: bool = False) -> t.NoReturn:
    """``toolkit validate`` with ``options`` (see :func:`validate_options`): what click would do with them.

    ``last``: this exit ends the process (the console script called :func:`run`): the run ends
    in :func:`_end`, without the interpreter's clean-up. A run over named files alone
    (:func:`_bounded`; issue 11: a file checked from an editor or a hook) then also spends nothing
    on the garbage collector: its first generation waits for :data:`_GC_YOUNG` new objects, not
    700 (some 30 collections while the modules load, none of whose objects is garbage).
    """
    form, quiet = options["output_format"], options["quiet"]
    code = 0
    bounded = last and _bounded(options)
    if bounded:
        import gc

        gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])
    written = True  # the report and messages went out whole (no OSError)
    try:
        try:
            from .errors import stop_on_sigterm  # (a Ctrl-C while they load: interrupted, below, as any other)

            stop_on_sigterm()
            from . import api

            report = api.validate(
                tuple(options["paths"]) or None,
                max_file_size=options["max_bytes"],
                jobs=options["jobs"],
                collect=False,
                collection=not options["no_collection"],
                cache=not options["no_cache"],
                progress=True,
            )
            if not quiet:
                emit(report, form, echo)
            if not report.ok:
                code = 1
        except KeyboardInterrupt as exc:  # every write is all or nothing, so nothing was half-written
            echo(_stopped("interrupted", exc), err=True)
            code = 130
        except Exception as exc:
            from .errors import ToolkitError

            if not isinstance(exc, ToolkitError):
                raise
            render_error(exc, form, quiet, "validate", echo)
            code = exc.exit_code
    except OSError as exc:
        import errno

        written = False
        if exc.errno != errno.EPIPE:
            cannot_write(exc)
        from click.utils import _PacifyFlushWrapper  # (click's own answer to a closed pipe)

        sys.stdout = _PacifyFlushWrapper(sys.stdout)
        sys.stderr = _PacifyFlushWrapper(sys.stderr)
        code = 1
    except BaseException as exc:
        errors = sys.modules.get(f"{__package__}.errors")
        if errors is None or not isinstance(exc, errors.Terminated):
            raise
        try:  # SIGTERM (see errors.stop_on_sigterm): as Ctrl-C, workers ended
            sys.stderr.write(_stopped("terminated", exc) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        sys.exit(exc.exit_code)
    if last and written:
        _end(code)
    sys.exit(code)


def _stopped(verb: str, exc: BaseException) -> str:
    if getattr(exc, "after_write", False):
        return f"{verb} after the write had finished: the new files are in place"
    return f"{verb}: nothing was changed"


_GC_YOUNG = 100_000
"""The first generation's threshold in a :func:`_bounded` run: more new objects than a one-file run
makes (~25,000), and a bound on the cyclic garbage a longer one keeps waiting."""


def _end(code: int) -> None:
    """End the process with ``code`` now, as the console script's ``sys.exit`` would, minus the
    interpreter's clean-up (module by module, each object freed; a last search for cycles).

    That clean-up costs about as much as starting Python (~10 ms after a one-file run, ~20 ms
    after a run over 10,000 files or an export of them), and there is nothing for it to do: every
    file the toolkit writes is closed and in place before it ends, its temporary files have no
    name. So, when no other thread runs (their ends are the interpreter's to wait for) and no
    other package's format was loaded (a plugin may hold a file it leaves to the interpreter's
    clean-up to flush and close, or a temporary file its finalizer removes), what the
    interpreter's exit runs first (:mod:`atexit`: the worker pool's finalizers, a profiler's
    file) runs now, both streams are flushed, and ``os._exit`` ends the process (as mypy does).
    Otherwise, or when a stream cannot be flushed (the ordinary exit says what it says about it),
    the ordinary exit, with the objects frozen (:func:`gc.freeze`: never searched again) unless
    another package's format was loaded.
    Returns only then.
    """
    import atexit
    import gc
    import os

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)  # (CPython's own, as at exit; run once)
    threading = sys.modules.get("threading")
    plugins = sys.modules.get(f"{__package__}.plugins")
    foreign = plugins is not None and plugins.foreign_code_loaded()  # (a plugin's files: its own to finish)
    alone = threading is None or threading.active_count() == 1
    if run_exitfuncs is not None and alone and not sys.flags.dev_mode and not foreign:
        run_exitfuncs()
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # (None: closed when Python started, `>&-`)
                    stream.flush()
        except (OSError, ValueError):
            pass
        else:
            os._exit(code)
    if not foreign:  # (frozen, another package's objects in a cycle would never be finalized: a file unflushed)
        gc.freeze()


def _called_last(caller: t.Any) -> bool:
    """Whether the frame that called :func:`run` is a console script's top level run by the
    interpreter itself, nothing after it: not under runpy, a profiler (``python -m cProfile``),
    a tracer or a debugger, nor ``python -i``, and no ``try`` or ``with`` around the call (a
    wrapper's ``finally``)."""
    return (
        caller.f_code.co_name == "<module>"
        and caller.f_globals.get("__name__") == "__main__"
        and caller.f_back is None
        and not getattr(caller.f_code, "co_exceptiontable", b"")
        and sys.gettrace() is None
        and sys.getprofile() is None
        and not sys.flags.inspect  # (python -i: the prompt comes after the script)
    )


def _bounded(options: dict[str, t.Any]) -> bool:
    """A run that reads the named files and nothing else, and writes nothing but its report:
    ``--no-collection`` (no collection, no result cache) with every path a file."""
    import os

    return bool(options["no_collection"] and options["paths"]) and all(os.path.isfile(p) for p in options["paths"])


def cannot_write(exc: OSError) -> t.NoReturn:
    """stdout or stderr full or closed: said once, exit 3 (as :func:`cli.run`)."""
    import contextlib
    import os

    with contextlib.suppress(OSError):
        sys.stderr.write(f"toolkit: cannot write the output: {exc.strerror or exc}\n")
        sys.stderr.flush()
    with contextlib.suppress(OSError, ValueError, AttributeError):  # (AttributeError: no stdout at all)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
    sys.exit(3)


def echo(text: str, *, nl: bool = True, err: bool = False) -> None:
    """``click.echo`` of text on a plain stream (:func:`_plain_text_stream`): written and flushed.

    Text holding an escape character goes to click itself, which strips styles off a non-terminal.
    """
    if nl:
        text += "\n"
    if "\x1b" in text:
        import click

        click.echo(text, nl=False, err=err)
        return
    stream = sys.stderr if err else sys.stdout
    if text:
        stream.write(text)
    stream.flush()


def emit(report: Report, form: str, echo: Echo, *, err: bool = False) -> None:
    """The report in ``form`` (one of :data:`OUTPUT_FORMATS`), written with ``echo``."""
    from .render import RENDERERS

    text = RENDERERS[form](report)
    if text:
        echo(text, nl=False, err=err)


def render_error(exc: ToolkitError, form: str, quiet: bool, command: str | None, echo: Echo) -> None:
    """How every command shows the :class:`ToolkitError` it ended with (the exit code is the error's)."""
    from .errors import InvalidRecords, UsageError
    from .problems import Report
    from .render import visible

    if isinstance(exc, InvalidRecords):
        if not quiet:
            emit(exc.report, form, echo, err=True)
            if form == "text":
                echo(f"error: {visible(exc.message)}", err=True)
        return
    if exc.problems and form != "text" and not quiet:
        emit(Report(problems=list(exc.problems)), form, echo, err=True)
        return
    echo(f"error: {visible(exc.message)}", err=True)
    if isinstance(exc, UsageError) and command:
        echo(f"Try 'toolkit {command} --help' for help.", err=True)
