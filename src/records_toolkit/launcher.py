"""The `toolkit` console script: ``toolkit --version`` answers without importing the command line.

Importing click alone costs several times Python's own start-up; a version check (a pre-commit
hook, a CI step, a shell prompt) should not pay it. Every other call goes to :func:`cli.run`.
"""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from . import __version__

        sys.stdout.write(f"toolkit {__version__}\n")
        return
    try:
        from .cli import run as cli_run
    except KeyboardInterrupt:  # Ctrl-C while the command line loads: nothing has run, nothing to undo
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    cli_run()
