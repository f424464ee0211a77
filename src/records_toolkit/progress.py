"""Progress of a long run on a terminal: files read, records checked, rate; nothing in pipes and CI.

A run shorter than :data:`DELAY` seconds shows nothing. After that one line on standard error is
rewritten in place at most every :data:`EVERY` seconds, and wiped when the run ends, so the
report that follows starts on a clean line. Standard error that is not a terminal (a pipe, a
file, CI logs) or ``CI``/``NO_PROGRESS`` set in the environment: nothing is ever written.
"""

from __future__ import annotations

import os
import sys
import time
import typing as t

DELAY = 2.0
EVERY = 0.5


class Progress:
    """Counts files and records; shows them on ``stream`` when it is a terminal and the run is long.

    ``verb``: the command shown (``validate``, ``export``). An export checks the records first
    (:meth:`add`, as ``validate``), then its format reads them (:meth:`writing`, then
    :meth:`record_read` for each read, here or, counted in :attr:`elsewhere`, by the workers that
    write its slices).
    """

    def __init__(
        self, stream: t.TextIO | None = None, *, clock: t.Callable[[], float] = time.monotonic, verb: str = "validate"
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.verb = verb
        self.did = "checked"  # what :meth:`add` says of the records ("loaded": the result cache vouched)
        self.started = clock()
        self.shown_at = self.started + DELAY - EVERY
        self.files = 0
        self.records = 0
        self.width = 0
        self.format: str | None = None  # the format writing, once the records are checked
        self.read = 0  # records the format read in this process
        self.elsewhere: t.Sequence[int] = ()  # records read by each worker writing a slice
        self.writing_since = self.started
        try:
            terminal = self.stream.isatty()
        except (AttributeError, ValueError, OSError):
            terminal = False
        self.enabled = terminal and not os.environ.get("CI") and not os.environ.get("NO_PROGRESS")

    def add(self, files: int, records: int) -> None:
        self.files += files
        self.records += records
        now = self._due()
        if now is None:
            return
        elapsed = max(now - self.started, 1e-9)
        rate = self.records / elapsed
        self._show(f"{self.verb}: {self.files:,} files read, {self.records:,} records {self.did} ({rate:,.0f}/s)")

    def writing(self, format: str) -> None:
        """The records are checked; from now on the format ``format`` reads them."""
        now = self.clock()
        self.format, self.read, self.writing_since = format, 0, now
        self.shown_at = max(self.shown_at, now)  # (its first line once there is a rate to show)

    def record_read(self) -> None:
        """The format read one record (decoded from the export's spool) in this process."""
        self.read += 1
        self.tick()

    def tick(self) -> None:
        """Show the records read so far, when a line is due (also while this process waits for
        the workers writing the slices)."""
        now = self._due() if self.format is not None else None
        if now is None:
            return
        read = self.read + sum(self.elsewhere)
        rate = read / max(now - self.writing_since, 1e-9)
        self._show(f"{self.verb}: writing {self.format}, {read:,} records read ({rate:,.0f}/s)")

    def _due(self) -> float | None:
        """The time, when a line is to be shown now (a terminal, :data:`EVERY` since the last); else None."""
        if not self.enabled:
            return None
        now = self.clock()
        if now - self.shown_at < EVERY:
            return None
        self.shown_at = now
        return now

    def _show(self, line: str) -> None:
        self._write("\r" + line.ljust(self.width))
        self.width = len(line)

    def close(self) -> None:
        """Wipe the line (when one was shown)."""
        if self.enabled and self.width:
            self._write("\r" + " " * self.width + "\r")
            self.width = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
