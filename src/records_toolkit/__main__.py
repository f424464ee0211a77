"""``python -m records_toolkit``: the console script's entry (a Ctrl-C while the command line loads
ends quietly there, where importing the command line here first gave a traceback)."""

from .launcher import run

run()
