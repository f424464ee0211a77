"""Progress on a terminal during a long run; nothing in pipes, files and CI."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from records_toolkit.cli import main
from records_toolkit.progress import Progress

ROOT = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def not_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("NO_PROGRESS", raising=False)


def test_a_short_run_shows_nothing_a_long_one_a_line_rewritten_then_wiped() -> None:
    stream, clock = Terminal(), Clock()
    shown = Progress(stream, clock=clock)
    shown.add(10, 10)
    clock.now += 1.0
    shown.add(10, 10)
    assert stream.getvalue() == ""  # under two seconds: silent
    clock.now += 1.5
    shown.add(10, 30)
    line = "validate: 30 files read, 50 records checked (20/s)"
    assert stream.getvalue() == "\r" + line
    clock.now += 0.1
    shown.add(1, 1)
    assert stream.getvalue() == "\r" + line  # at most every half second
    clock.now += 1.0
    shown.add(1, 1)
    shown.close()
    assert stream.getvalue().endswith("\r" + " " * len("validate: 32 files read, 52 records checked (15/s)") + "\r")


@pytest.mark.parametrize("env", ["CI", "NO_PROGRESS"])
def test_ci_or_no_progress_or_a_pipe_shows_nothing(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    clock = Clock()
    monkeypatch.setenv(env, "1")
    quiet = [Progress(Terminal(), clock=clock), Progress(io.StringIO(), clock=clock)]
    monkeypatch.delenv(env)
    quiet.append(Progress(io.StringIO(), clock=clock))  # not a terminal
    for shown in quiet:
        clock.now += 5
        shown.add(100, 100)
        shown.close()
        assert t_value(shown) == ""


def t_value(shown: Progress) -> str:
    stream = shown.stream
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def _progresses(monkeypatch: pytest.MonkeyPatch) -> list[Progress]:
    seen: list[Progress] = []
    real_init = Progress.__init__

    def keep(self: Progress, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        seen.append(self)

    monkeypatch.setattr(Progress, "__init__", keep)
    return seen


def _drain(leader: int) -> str:
    """What a pseudo-terminal's other end received, read until it closes."""
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return b"".join(chunks).decode()


def test_the_cli_counts_every_file_and_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through click's runner (not a terminal: nothing shown), the counts still add up."""
    seen = _progresses(monkeypatch)
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", str(ROOT / "records")])
    assert result.exit_code == 0 and "validate:" not in result.output
    assert [(p.files, p.records) for p in seen] == [(44, 44)]


def _on_a_terminal(tmp_path: Path, code: str, *args: str, stdout: str = "file") -> tuple[int, str, str]:
    """Runs ``python -c code TREE *args`` (TREE: the shipped records 20 times, 880 records) with
    standard error on a pseudo-terminal, and standard output on it too (``stdout="terminal"``)
    or in a file; progress shown at once. Its exit code, what the terminal showed, the file."""
    sys.path.insert(0, str(ROOT / "bench"))
    from corpus import make

    make(tmp_path / "tree", 20)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_PROGRESS")}
    code = "import sys; from records_toolkit import progress; progress.DELAY = 0.0; progress.EVERY = 0.0; " + code
    leader, follower = pty.openpty()
    with open(tmp_path / "stdout", "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "tree"), *args],
            stdout=follower if stdout == "terminal" else out,
            stderr=follower,
            env=env,
        )
        os.close(follower)
        shown = _drain(leader)  # (read as it runs: a terminal's buffer is small)
        exit_code = process.wait(timeout=300)
    return exit_code, shown, (tmp_path / "stdout").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_long_run_on_a_real_terminal_shows_progress_and_leaves_the_report_clean(tmp_path: Path) -> None:
    code, err, out = _on_a_terminal(
        tmp_path,
        "from records_toolkit.cli import run; "
        "sys.argv = ['toolkit', 'validate', '--no-collection', '--jobs', '1', sys.argv[1]]; run()",
    )
    assert code == 0 and out.startswith("ok: 880 records"), out
    assert "validate: " in err and "records checked" in err and err.endswith("\r")


@pytest.mark.slow
def test_a_long_export_on_a_real_terminal_shows_the_checks_then_the_writing(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonld"
    code, err, _ = _on_a_terminal(
        tmp_path,
        "from records_toolkit import slices; slices.MIN_RECORDS = 100; from records_toolkit.cli import run; "
        "sys.argv = ['toolkit', 'export', '-f', 'jsonld', '--jobs', '2', sys.argv[1], '-o', sys.argv[2]]; run()",
        str(target),
    )
    assert code == 0
    checks, writing = err.find("records checked"), err.find("export: writing jsonld, ")
    assert 0 < checks < writing, err[-500:]
    read = [
        int(line.split(", ")[1].split()[0].replace(",", "")) for line in err.split("\r") if "writing jsonld" in line
    ]
    assert max(read) >= 880  # (every record read, the workers' counted too: this process writes an eighth)
    last = err.rstrip("\r\n").rsplit("\r", 1)[-1]
    assert last.strip() == f"wrote {target}", repr(err[-300:])  # (the line wiped first)
    assert target.stat().st_size > 0


def test_an_export_streamed_onto_the_terminal_draws_no_progress_amid_it(tmp_path: Path) -> None:
    """Standard output is the terminal too: the export streams there, and a progress line drawn on
    the same screen came out amid the JSON. None is shown; with -o FILE it is (the test above)."""
    code, shown, _ = _on_a_terminal(
        tmp_path,
        "from records_toolkit.cli import run; sys.argv = ['toolkit', 'export', '-f', 'jsonld', sys.argv[1]]; run()",
        stdout="terminal",
    )
    assert code == 0
    assert '"@context"' in shown and "records checked" not in shown and "export: " not in shown, shown[:300]


# -- exports: the checks, then the format's reading ------------------------------------------------


def test_an_export_shows_its_checks_then_the_records_its_format_reads() -> None:
    stream, clock = Terminal(), Clock()
    shown = Progress(stream, clock=clock, verb="export")
    clock.now += 2.5
    shown.add(100, 100)
    assert stream.getvalue() == "\rexport: 100 files read, 100 records checked (40/s)"
    shown.writing("jsonld")
    shown.record_read()
    assert stream.getvalue().count("\r") == 1  # (no rate yet: the first line waits half a second)
    clock.now += 0.5
    shown.elsewhere = [30, 20]  # what the workers writing slices read
    shown.record_read()
    assert stream.getvalue().rstrip(" ").endswith("\rexport: writing jsonld, 52 records read (104/s)")
    shown.close()
    assert stream.getvalue().endswith("\r" + " " * len("export: writing jsonld, 52 records read (104/s)") + "\r")


@pytest.mark.parametrize("name", ["csv", "jsonld", "ics", "markdown"])
def test_the_export_command_counts_every_file_and_every_record_read(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _progresses(monkeypatch)
    args = ["export", "-f", name, str(ROOT / "records"), "-o", str(tmp_path / "out")]
    result = CliRunner(catch_exceptions=False).invoke(main, args)
    assert result.exit_code == 0 and "export:" not in result.output
    [shown] = seen
    assert (shown.verb, shown.files, shown.records, shown.format) == ("export", 44, 44, name)
    assert shown.read >= (44 if name != "ics" else 20)  # (a calendar reads the events, articles and places)


def test_the_workers_writing_slices_count_what_they_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from records_toolkit import api, slices

    monkeypatch.setattr(slices, "MIN_RECORDS", 2)
    monkeypatch.setattr(sys, "stderr", Terminal())  # (a terminal: the workers' counts are shared)
    seen = _progresses(monkeypatch)
    api.export([ROOT / "records"], "csv", jobs=3, progress=True)
    [shown] = seen
    assert len(shown.elsewhere) == 11  # (12 slices: four a worker, the first one here; a count each)
    assert all(count > 0 for count in shown.elsewhere)
    assert shown.read + sum(shown.elsewhere) == 44  # each record read once, here or by a worker
