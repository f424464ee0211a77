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
    """Counts files and records; shows them on ``stream`` when it is a terminal and the run is long."""

    def __init__(self, stream: t.TextIO | None = None, *, clock: t.Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.started = clock()
        self.shown_at = self.started + DELAY - EVERY
        self.files = 0
        self.records = 0
        self.width = 0
        try:
            terminal = self.stream.isatty()
        except (AttributeError, ValueError, OSError):
            terminal = False
        self.enabled = terminal and not os.environ.get("CI") and not os.environ.get("NO_PROGRESS")

    def add(self, files: int, records: int) -> None:
        self.files += files
        self.records += records
        if not self.enabled:
            return
        now = self.clock()
        if now - self.shown_at < EVERY:
            return
        self.shown_at = now
        elapsed = max(now - self.started, 1e-9)
        line = (
            f"validate: {self.files:,} files read, {self.records:,} records checked ({self.records / elapsed:,.0f}/s)"
        )
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
