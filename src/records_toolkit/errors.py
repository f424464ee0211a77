"""One error root for everything that stops the toolkit; the exit code lives on the error.

Problems found *in records* are values (see :mod:`records_toolkit.problems`). These
exceptions are for the cases where an operation cannot give what was asked; the API raises
nothing else, and the command line maps each to its exit code at the edge:

====================  ====  =========================================================
class                 exit  meaning
====================  ====  =========================================================
``InvalidData``        1    the user's data is wrong (records, a YAML file, an import)
``InvalidRecords``     1    validation found problems; ``.report`` holds them all
``InvalidSource``      1    an import source cannot be read as its format
``UsageError``         2    wrong usage: an unknown format or option, a bad value
``OptionError``        2    a format option (``-O name=value``) the format cannot use
``CouldNotRun``        3    not the user's data: a broken schema or plugin, an output
``SchemaBroken``       3    a schema file does not load or is not valid 2020-12
``IndexesFailed``      3    the collection's indexes on disk failed (SQLite's folder full)
``PluginError``        3    a format plugin failed to load, clashes, or broke its contract
``OutputError``        3    an output could not be written; nothing was changed
====================  ====  =========================================================
"""

from __future__ import annotations

import sys
import typing as t

if t.TYPE_CHECKING:
    import types

    from .problems import Problem, Report


class ToolkitError(Exception):
    """Root of the toolkit's errors: a message for people and the exit code of the command line.

    ``problems`` are the :class:`~records_toolkit.problems.Problem` values behind the error, when
    it has some (a refused import names its file, line and column there).
    """

    exit_code: t.ClassVar[int] = 1

    def __init__(self, message: str, *, problems: t.Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: tuple[Problem, ...] = tuple(problems)

    def __str__(self) -> str:
        return self.message


class InvalidData(ToolkitError):
    """The user's data is wrong (exit 1): records, a YAML file, an import source."""

    exit_code = 1


class InvalidRecords(InvalidData):
    """Validation found problems; nothing was written. ``report`` holds every problem."""

    def __init__(self, report: Report, message: str | None = None) -> None:
        errors = len(report.errors)
        super().__init__(
            message or f"{errors} problem{'' if errors == 1 else 's'} in the records (nothing written)",
            problems=report.errors,
        )
        self.report = report


class InvalidSource(InvalidData):
    """An importer was given something it cannot read as its format (exit 1).

    Importers raise this for every fault of their input, at the file (and line, where known)
    that has it; see :func:`records_toolkit.plugins.invalid_source`.
    """


class UsageError(ToolkitError):
    """Wrong usage (exit 2): an unknown format or option, a value the command cannot take."""

    exit_code = 2


class OptionError(UsageError):
    """A format option (``-O name=value``, or a keyword argument of the API) is wrong (exit 2)."""


class CouldNotRun(ToolkitError):
    """A broken schema, plugin or environment: not the user's data (exit 3)."""

    exit_code = 3


class IndexesFailed(CouldNotRun):
    """A large collection's indexes could not be kept on disk (SQLite's temporary folder full or
    not writable, or out of memory): exit 3. The run that fills the result cache, failing so
    while its snapshot is read back, keeps its report and writes no snapshot."""


class SchemaBroken(CouldNotRun):
    """A schema file does not load or is not a valid draft 2020-12 schema."""


class PluginError(CouldNotRun):
    """A format plugin failed: to load, to agree with another of the same name, or to keep its contract."""

    def __init__(self, name: str, package: str, cause: str) -> None:
        self.name, self.package, self.cause = name, package, cause
        super().__init__(f"format plugin {name!r} from {package} {cause}")


class PluginLoadError(PluginError):
    """A format plugin could not be loaded from its entry point (or two share a name)."""

    def __init__(self, name: str, package: str, cause: BaseException | str) -> None:
        super().__init__(name, package, f"failed to load: {cause}")
        self.cause = str(cause)


class OutputError(CouldNotRun):
    """An output file or directory could not be written; nothing was changed (exit 3)."""


class Terminated(BaseException):
    """SIGTERM arrived; a write in progress was undone. The command exits 143, saying what was
    changed, if anything (files ``fmt`` had rewritten, bytes already sent into a stream).

    A :class:`BaseException`, as :class:`KeyboardInterrupt` is: no ``except Exception`` may
    swallow it. The command line raises it wherever SIGTERM arrives (:func:`stop_on_sigterm`), as
    Python raises :class:`KeyboardInterrupt` for Ctrl-C; a write holds either until its files are
    in a known state (:class:`~records_toolkit.output.SignalGuard`).
    """

    exit_code = 143  # 128 + SIGTERM


def _on_sigterm(signum: int, frame: types.FrameType | None) -> None:
    output = sys.modules.get(f"{__package__}.output")
    guard = getattr(output, "SignalGuard", None)
    if guard is not None:
        guard.last = signum  # (for a SQLite statement that swallows it: see SignalGuard.interruption)
    raise Terminated()


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises :class:`Terminated` in this process, as Ctrl-C raises
    :class:`KeyboardInterrupt`: a command ends saying "terminated: ..." and what was changed, if
    anything (exit 143), wherever it stops, not by the signal with nothing said. For the command line only (a program
    that uses the API keeps its own handling); a disposition the program was started with (an
    ignored SIGTERM) is kept, and so is any set in a thread that is not the main one. Forked
    workers set SIGTERM back to its default (:func:`~records_toolkit.workers.worker_start`)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (OSError, ValueError):  # (no signals here)
        pass


def is_sigterm_handler(handler: object) -> bool:
    """Whether ``handler`` is the one :func:`stop_on_sigterm` sets (a guard may take its place)."""
    return handler is _on_sigterm
