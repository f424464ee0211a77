"""Interrupted and unusual writes: all or nothing under SIGINT, SIGTERM and SIGKILL; workers end with the main process.

The signal tests run the real command in a subprocess. A small wrapper (``WRAPPER``) wraps one
``os`` function (``write``: staging each new file; ``link``: keeping each old one; ``replace``: the
journal, then the moves; ``fsync``: a single file) so that after its N-th call the process writes
a marker and blocks on a FIFO. The test waits for the marker, sends a real signal from outside,
then opens the FIFO to let the process go on: the signal arrives at a known point of the write,
every time, with no sleep. A first run in ``count`` mode tells how many calls a whole write makes,
so the points chosen cover the first move, the middle and the last (nothing in production code
knows about tests).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest
from helpers import SHIPPED

from records_toolkit import output
from records_toolkit.errors import OutputError
from records_toolkit.output import TEMP_PREFIX, atomic_write, atomic_write_tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import corpus  # (bench/, on the path above)

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
TOOLKIT = Path(sys.executable).with_name("toolkit")

WRAPPER = r"""
import os, sys, time
mode, name, n, marker, fifo = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
real = getattr(os, name)
calls = 0

def wrapped(*args, **kwargs):
    global calls
    result = real(*args, **kwargs)
    calls += 1
    if mode == "count":
        with open(marker, "w") as stream:
            stream.write(str(calls))
    elif calls == n:
        with open(marker, "w") as stream:
            stream.write(str(os.getpid()))
        with open(fifo) as stream:  # blocks until the test opens the other end (after its signal)
            stream.read()
    return result

setattr(os, name, wrapped)
if mode == "block-workers":  # every worker of a parallel validate says who it is, then waits forever
    import records_toolkit.validate as validate

    def add_files(self, files, max_bytes):
        with open(os.path.join(marker, str(os.getpid())), "w"):
            pass
        time.sleep(600)

    validate.Checker.add_files = add_files
if mode == "half-sent":  # one worker sends the start of a long result, and no more, then waits forever
    import struct
    import records_toolkit.validate as validate

    def add_files(self, files, max_bytes):
        frame = sys._getframe()
        while "result_queue" not in frame.f_locals:  # the pool's own worker loop
            frame = frame.f_back
        with open(os.path.join(marker, str(os.getpid())), "w"):
            pass
        while len(os.listdir(marker)) < 2:  # both busy (the pool hands out no task while it reads)
            time.sleep(0.01)
        try:
            os.close(os.open(os.path.join(marker, "half"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os.write(frame.f_locals["result_queue"]._writer.fileno(), struct.pack("!i", 10_000_000) + b"x" * 10)
        time.sleep(600)

    validate.Checker.add_files = add_files
sys.argv = ["toolkit", *sys.argv[6:]]
from records_toolkit.cli import run

run()
"""


def wrapped(mode: str, name: str, n: int, marker: Path, fifo: Path, *args: str | Path) -> list[str]:
    return [sys.executable, "-c", WRAPPER, mode, name, str(n), str(marker), str(fifo), *map(str, args)]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative name: bytes), the toolkit's own temporary names included."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def leftovers(directory: Path) -> list[str]:
    return [p.as_posix() for p in directory.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def wait_for(condition: t.Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def release(fifo: Path, process: subprocess.Popen[t.Any]) -> None:
    """Open the FIFO the process blocks on, so that it goes on; or nothing, if the signal ended it
    first (where no guard holds a signal, it is raised at once): never a wait forever."""
    while True:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            return
        except OSError as exc:  # ENXIO: no reader yet
            if exc.errno != errno.ENXIO:
                raise
        if process.poll() is not None:
            return
        time.sleep(0.01)


def run_until(
    tmp_path: Path, args: list[str | Path], name: str, n: int, signum: int
) -> subprocess.CompletedProcess[str]:
    """Run the command; after the n-th call of os.<name> send ``signum``, then let it go on."""
    marker, fifo = tmp_path / "marker", tmp_path / "fifo"
    marker.unlink(missing_ok=True)
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    process = subprocess.Popen(
        wrapped("stop", name, n, marker, fifo, *args),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (marker.exists() and marker.read_text() != "") or process.poll() is not None, "the marker")
        assert process.poll() is None, process.communicate()
        os.kill(process.pid, signum)
        if signum != signal.SIGKILL:
            release(fifo, process)  # the process, blocked reading, goes on: it finds the signal noted
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def count_calls(tmp_path: Path, args: list[str | Path], name: str) -> int:
    marker = tmp_path / "count"
    done = subprocess.run(
        wrapped("count", name, 0, marker, tmp_path / "unused", *args), cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return int(marker.read_text())


@pytest.fixture(scope="module")
def new_csv(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """What `toolkit export -f csv records -o DIR` writes, undisturbed."""
    out = tmp_path_factory.mktemp("reference") / "csv"
    done = subprocess.run([TOOLKIT, "export", "-f", "csv", RECORDS, "-o", out], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return snapshot(out)


def old_csv(directory: Path, new: dict[str, bytes]) -> dict[str, bytes]:
    """A previous export in ``directory``: every file different, two missing, and a file of the user's."""
    directory.mkdir(parents=True, exist_ok=True)
    names = sorted(new)
    for name in names[2:]:
        (directory / name).write_bytes(b"old " + name.encode())
    (directory / "notes.txt").write_bytes(b"the user's own file")
    return snapshot(directory)


def export_csv(directory: Path) -> list[str | Path]:
    return ["export", "-f", "csv", RECORDS, "-o", directory]


# -- SIGINT and SIGTERM: undone, temporary files removed, 130 / 143 --------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_directory_export_leaves_the_old_files(
    tmp_path: Path, new_csv: dict[str, bytes], signum: int
) -> None:
    out = tmp_path / "csv"
    old = old_csv(out, new_csv)
    moves = count_calls(tmp_path, export_csv(tmp_path / "counted"), "replace")
    writes = count_calls(tmp_path, export_csv(tmp_path / "counted-too"), "write")
    assert moves >= len(new_csv) and writes >= len(new_csv)
    points = [("write", 1), ("write", writes // 2), ("link", 1), ("link", 5)]  # staging the new, keeping the old
    points += [("replace", 1), ("replace", 2), ("replace", moves // 2)]  # the journal in place, then the moves
    points.append(("replace", moves - 1))  # the last move but one, and the last: all moved, not yet committed
    points.append(("replace", moves))
    for name, n in points:
        done = run_until(tmp_path, export_csv(out), name, n, signum)
        where = f"{signal.Signals(signum).name} after os.{name} #{n}"
        assert done.returncode == 128 + signum, (where, done.stderr)
        assert "nothing was changed" in done.stderr and "Traceback" not in done.stderr, where
        assert snapshot(out) == old, where  # exactly the old files, byte for byte; nothing left behind
        assert not leftovers(tmp_path), where


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_import_into_a_new_directory_leaves_nothing(
    tmp_path: Path, new_csv: dict[str, bytes], signum: int
) -> None:
    tables = tmp_path / "tables"
    for name, data in new_csv.items():
        (tables / name).parent.mkdir(parents=True, exist_ok=True)
        (tables / name).write_bytes(data)
    moves = count_calls(tmp_path, ["import", "-f", "csv", tables, "-o", tmp_path / "counted"], "replace")
    out = tmp_path / "new" / "records"
    done = run_until(tmp_path, ["import", "-f", "csv", tables, "-o", out], "replace", moves // 2, signum)
    assert done.returncode == 128 + signum, done.stderr
    assert not (tmp_path / "new").exists()  # the folders it made are gone too


def test_an_interrupted_single_file_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "article.ics"
    target.write_bytes(b"old calendar")
    for signum in (signal.SIGINT, signal.SIGTERM):
        done = run_until(tmp_path, ["export", "-f", "ics", RECORDS, "-o", target], "fsync", 1, signum)
        assert done.returncode == 128 + signum, done.stderr
        assert target.read_bytes() == b"old calendar"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["article.ics", "fifo", "marker"]


# -- SIGKILL: the next write finds the journal and undoes the swap ---------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", ["validate", "export"])
def test_a_signal_while_the_records_are_checked_in_this_process_says_so(
    tmp_path: Path, command: str, signum: int
) -> None:
    """With ``--jobs 1`` the checks run outside any write and outside the workers' wait: SIGTERM
    there used to end the process by the signal itself, nothing said (the shell saw 143, a CI log
    nothing). Now it is said as Ctrl-C is, and nothing is changed: the signal comes after the
    10th record file is opened, and the process is held there until it has arrived."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.csv").write_text("the previous export\n", encoding="utf-8")
    before = snapshot(out)
    args: list[str | Path] = [command, "--no-cache", "--jobs", "1", RECORDS]
    if command == "export":
        args += ["-f", "csv", "-o", out]
    done = run_until(tmp_path, args, "open", 10, signum)
    verb, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
    assert (done.returncode, done.stderr.strip().splitlines()[-1:]) == (code, [f"{verb}: nothing was changed"])
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert snapshot(out) == before and not leftovers(tmp_path)


@pytest.mark.parametrize("at", ["first-move", "second-move", "middle"])
def test_after_sigkill_the_next_write_restores_then_writes(tmp_path: Path, new_csv: dict[str, bytes], at: str) -> None:
    out = tmp_path / "csv"
    old = old_csv(out, new_csv)
    moves = count_calls(tmp_path, export_csv(tmp_path / "counted"), "replace")
    # call 1 puts the journal in place; then one call moves each new file in
    n = {"first-move": 2, "second-move": 3, "middle": moves // 2}[at]
    done = run_until(tmp_path, export_csv(out), "replace", n, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    left = leftovers(out)
    assert len([p for p in left if Path(p).parent == out]) == 1  # the staging directory, journal inside
    mixed = {k: v for k, v in snapshot(out).items() if not k.startswith(TEMP_PREFIX)}
    assert mixed != old  # the kill really came half-way
    assert mixed != {**new_csv, "notes.txt": old["notes.txt"]}

    # Any write into the directory first puts the old files back: here a single file.
    done = subprocess.run(
        [TOOLKIT, "export", "-f", "ics", RECORDS, "-o", out / "calendar.ics"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    after = snapshot(out)
    assert after.pop("calendar.ics").startswith(b"BEGIN:VCALENDAR")
    assert after == old and not leftovers(out)

    # Killed again, then the same export: all new, the user's file kept, nothing left.
    (out / "calendar.ics").unlink()
    assert run_until(tmp_path, export_csv(out), "replace", n, signal.SIGKILL).returncode == -signal.SIGKILL
    done = subprocess.run([TOOLKIT, *export_csv(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert snapshot(out) == {**new_csv, "notes.txt": b"the user's own file"} and not leftovers(out)


def test_after_sigkill_of_an_import_validate_reads_no_leftover_and_the_next_import_recovers(
    tmp_path: Path, new_csv: dict[str, bytes]
) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    for name, data in new_csv.items():
        (tables / name).write_bytes(data)
    out = tmp_path / "records"
    shutil.copytree(RECORDS, out)
    for path in out.rglob("*.yaml"):
        path.write_bytes(b"# the old version\n" + path.read_bytes())
    old = snapshot(out)
    moves = count_calls(tmp_path, ["import", "-f", "csv", tables, "-o", tmp_path / "counted"], "replace")
    done = run_until(
        tmp_path, ["import", "-f", "csv", tables, "-o", out, "--force"], "replace", moves // 2, signal.SIGKILL
    )
    assert done.returncode == -signal.SIGKILL and leftovers(out)

    checked = subprocess.run([TOOLKIT, "validate", out], capture_output=True, text=True)
    # the staging copy of every record is not read (no duplicate id), and the leftover is reported, not hidden
    assert checked.returncode == 1, checked.stdout
    assert (
        "duplicate-id" not in checked.stdout and f"{SHIPPED} records in {SHIPPED + 1} files checked" in checked.stdout
    )
    assert [line.rsplit(" [", 1)[1] for line in checked.stdout.splitlines() if " error: " in line] == ["leftover-temp]"]

    done = subprocess.run(
        [TOOLKIT, "import", "-f", "csv", tables, "-o", out, "--force"], capture_output=True, text=True
    )  # records are there (the old ones, put back): replacing them needs --force
    assert done.returncode == 0, done.stderr
    assert not leftovers(out)
    now = snapshot(out)
    assert sorted(now) == sorted(old) and all(not data.startswith(b"# the old version") for data in now.values())


def test_a_leftover_of_a_live_writer_is_left_alone_and_the_directory_is_busy(
    tmp_path: Path, new_csv: dict[str, bytes]
) -> None:
    out = tmp_path / "csv"
    old = old_csv(out, new_csv)
    marker, fifo = tmp_path / "marker", tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(wrapped("stop", "replace", 3, marker, fifo, *export_csv(out)), cwd=ROOT)
    try:
        wait_for(marker.exists, "the writer")
        second = subprocess.run([TOOLKIT, *export_csv(out)], capture_output=True, text=True)
        assert second.returncode == 3 and "another toolkit process is writing there now" in second.stderr
        with open(fifo, "w"):
            pass
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert snapshot(out) == {**new_csv, "notes.txt": old["notes.txt"]} and not leftovers(out)


# -- the workers of a parallel validate end with the main process ----------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rpartition(b")")[2].split()[0] != b"Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as stream:
        return int(stream.read().rpartition(b")")[2].split()[1])


@contextlib.contextmanager
def _parallel_validate(tmp_path: Path, mode: str, busy: int = 2) -> t.Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """A ``validate -j 2`` whose workers are held (``mode``: see WRAPPER) once ``busy`` markers
    are written; the process and its workers' ids. Whatever the test did, nothing is left running."""
    tree = tmp_path / "tree"
    shutil.copytree(RECORDS / "places", tree)  # enough files for two chunks each
    ready = tmp_path / "ready"
    ready.mkdir()
    process = subprocess.Popen(
        wrapped(mode, "getpid", 0, ready, tmp_path / "unused", "validate", "-j", "2", tree),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers: list[int] = []
    try:
        wait_for(lambda: len(list(ready.iterdir())) == busy or process.poll() is not None, "two busy workers")
        workers += [int(p.name) for p in ready.iterdir() if p.name.isdigit()]
        yield process, workers
    finally:
        if process.poll() is None:
            process.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    "signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["SIGKILL", "SIGTERM", "SIGINT"]
)
def test_killing_a_parallel_validate_ends_its_workers(tmp_path: Path, signum: int) -> None:
    with _parallel_validate(tmp_path, "block-workers") as (process, workers):
        assert all(_parent_of(pid) == process.pid for pid in workers)
        os.kill(process.pid, signum)
        _out, err = process.communicate(timeout=30)
        assert process.returncode == (-signum if signum == signal.SIGKILL else 128 + signum), err
        assert "Traceback" not in err
        wait_for(lambda: not any(_alive(pid) for pid in workers), "the workers to end", seconds=10)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_worker_killed_is_a_clean_exit_3_and_ends_the_other(tmp_path: Path) -> None:
    with _parallel_validate(tmp_path, "block-workers") as (process, workers):
        os.kill(workers[0], signal.SIGKILL)  # the out-of-memory killer, say
        _, err = process.communicate(timeout=30)
        assert process.returncode == 3 and "a worker process ended unexpectedly" in err and "Traceback" not in err
        wait_for(lambda: not any(_alive(pid) for pid in workers), "the other worker to end", seconds=10)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_while_a_worker_sends_its_result_ends_the_run(tmp_path: Path, signum: int) -> None:
    """A worker killed halfway through sending its result must not leave the pool's reader
    waiting for the rest: the run ends at once, 130 or 143, no traceback, no worker left."""
    with _parallel_validate(tmp_path, "half-sent", busy=3) as (process, workers):  # (two workers, and "half")
        time.sleep(0.2)  # the pool's reader has the start of the message and waits for the rest
        os.kill(process.pid, signum)
        _out, err = process.communicate(timeout=30)
        assert process.returncode == 128 + signum, err
        assert "Traceback" not in err
        wait_for(lambda: not any(_alive(pid) for pid in workers), "the workers to end", seconds=10)


# -- unusual outputs: no traceback, the right exit code --------------------------------------------


def toolkit(*args: str | Path, **kwargs: t.Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([TOOLKIT, *map(str, args)], capture_output=True, text=True, **kwargs)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_an_empty_output_path_is_a_usage_error(tmp_path: Path) -> None:
    for args in (["export", "-f", "csv", RECORDS], ["export", "-f", "ics", RECORDS], ["import", "-f", "csv", RECORDS]):
        done = toolkit(*args, "-o", "", cwd=tmp_path)
        assert done.returncode == 2 and "empty path" in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_symlink_loop_as_output(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    for fmt in ("ics", "csv"):
        done = toolkit("export", "-f", fmt, RECORDS, "-o", tmp_path / "loop")
        assert done.returncode == 3 and "symbolic links" in done.stderr


def test_dev_stdout_into_a_pipe_is_written_directly(tmp_path: Path) -> None:
    plain = toolkit("export", "-f", "jsonld", RECORDS)
    done = toolkit("export", "-f", "jsonld", RECORDS, "-o", "/dev/stdout")
    assert done.returncode == 0 and done.stdout == plain.stdout and plain.stdout.startswith("{")


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1"])
def test_a_descriptor_appended_to_is_appended_to(tmp_path: Path, name: str) -> None:
    """``-o /dev/stdout >> log`` appends, as ``-o -`` does: the descriptor is written through,
    not opened anew (which emptied the file behind it); nor is that file read as the export it
    replaces (the calendar's earlier revisions: nothing is replaced)."""
    log = tmp_path / "log"
    plain = toolkit("export", "-f", "ics", RECORDS).stdout
    for _ in range(2):
        with log.open("a", encoding="utf-8") as stream:
            stream.write("KEEP\n")
            stream.flush()
            done = subprocess.run(
                [TOOLKIT, "export", "-f", "ics", RECORDS, "-o", name], stdout=stream, stderr=subprocess.PIPE, text=True
            )
        assert done.returncode == 0 and "replaced" not in done.stderr, done.stderr
    assert log.read_text(encoding="utf-8") == ("KEEP\n" + plain) * 2


def test_a_stream_interrupted_after_its_first_bytes_says_they_went_out(tmp_path: Path) -> None:
    """Bytes that went into a stream (here the file behind ``/dev/stdout``) cannot be taken back:
    Ctrl-C after the first megabyte of a JSON-LD export says so, not "nothing was changed"."""
    corpus.make(tmp_path / "many", 8)  # (352 records: some 1.4 MB of JSON-LD, written 1 MiB at a time)
    marker, fifo = tmp_path / "marker", tmp_path / "fifo"
    os.mkfifo(fifo)
    args = ["export", "--no-cache", "-f", "jsonld", tmp_path / "many", "-o", "/dev/stdout"]
    with (tmp_path / "out").open("wb") as stdout:
        process = subprocess.Popen(
            wrapped("stop", "write", 1, marker, fifo, *args), cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_for(lambda: (marker.exists() and marker.read_text() != "") or process.poll() is not None, "the marker")
            os.kill(process.pid, signal.SIGINT)
            release(fifo, process)
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        "interrupted: part of the export had gone to /dev/stdout, which cannot be taken back; no other file was changed"
    )
    sent = (tmp_path / "out").read_bytes()
    assert len(sent) >= 1 << 20 and sent.startswith(b"{")  # (the first piece went out; the export did not end)
    with pytest.raises(json.JSONDecodeError):
        json.loads(sent)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_fmt_interrupted_says_how_many_files_it_had_rewritten(tmp_path: Path, signum: int) -> None:
    """Each file ``fmt`` rewrites is replaced whole, one after the other: a signal after the 3rd
    says so ("nothing was changed" was false), and every file is either as it was or canonical."""
    tree = tmp_path / "tree"
    shutil.copytree(RECORDS, tree)
    for path in sorted(tree.rglob("*.yaml")):  # (every file out of canonical form: a blank line at the end)
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    before = snapshot(tree)
    done = run_until(tmp_path, ["fmt", tree], "replace", 3, signum)
    verb, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
    assert done.returncode == code, done.stderr
    assert (
        done.stderr.strip().splitlines()[-1]
        == f"{verb} after 3 files had been rewritten, each whole; the others are unchanged"
    )
    after = snapshot(tree)
    rewritten = [name for name in before if after[name] != before[name]]
    assert len(rewritten) == 3 and all(after[name] == before[name][:-1] for name in rewritten)


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs /proc")
def test_an_export_to_standard_output_interrupted_while_it_writes_says_what_went_out(tmp_path: Path) -> None:
    """Standard output cannot be taken back: SIGTERM while the export waits for a reader that
    reads nothing (the pipe holds 64 KiB of it) says so, not "nothing was changed"."""
    corpus.make(tmp_path / "many", 8)
    process = subprocess.Popen(
        [TOOLKIT, "export", "--no-cache", "-f", "jsonld", tmp_path / "many"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wchan = Path(f"/proc/{process.pid}/wchan")
        wait_for(lambda: process.poll() is not None or "pipe" in wchan.read_text(), "a write into the full pipe")
        os.kill(process.pid, signal.SIGTERM)
        _, said = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    err = said.decode()
    assert process.returncode == 143, err
    assert err.strip().splitlines()[-1] == (
        "terminated: part of the export had gone to standard output, which cannot be taken back; no other file was changed"
    )


def test_a_directory_given_for_a_single_file_format(tmp_path: Path) -> None:
    done = toolkit("export", "-f", "ics", RECORDS, "-o", tmp_path)
    assert done.returncode == 3 and "is a directory" in done.stderr and not list(tmp_path.iterdir())


def test_a_link_inside_the_output_directory_is_never_written_through(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "records"
    (out / "places").parent.mkdir()
    (out / "places").symlink_to(elsewhere)
    jsonld = tmp_path / "export.jsonld"
    assert toolkit("export", "-f", "jsonld", RECORDS, "-o", jsonld).returncode == 0
    done = toolkit("import", "-f", "jsonld", jsonld, "-o", out)
    assert done.returncode == 3 and f"{out / 'places'} is a symbolic link" in done.stderr
    assert not list(elsewhere.iterdir()) and sorted(p.name for p in out.iterdir()) == ["places"]
    with pytest.raises(OutputError, match="is a symbolic link"):
        (tmp_path / "csv").mkdir()
        (tmp_path / "csv" / "a.csv").symlink_to(elsewhere / "a.csv")
        atomic_write_tree(tmp_path / "csv", {"a.csv": b"a"})
    assert not list(elsewhere.iterdir())


def test_a_full_disk_during_a_directory_write_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from records_toolkit import output

    out = tmp_path / "tables"
    atomic_write_tree(out, {"a.csv": b"old a", "b.csv": b"old b"})
    real = output._write_file
    calls = 0

    def fill(path: Path, data: bytes, **options: bool) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        real(path, data, **options)

    monkeypatch.setattr(output, "_write_file", fill)
    with pytest.raises(OutputError, match=r"b\.csv: No space left on device; nothing was changed"):
        atomic_write_tree(out, {"a.csv": b"new a", "b.csv": b"new b", "c.csv": b"new c"})
    assert snapshot(out) == {"a.csv": b"old a", "b.csv": b"old b"}
    calls = 1
    with pytest.raises(OutputError, match="No space left on device"):
        atomic_write(out / "a.csv", b"new a")
    assert snapshot(out) == {"a.csv": b"old a", "b.csv": b"old b"}


def test_temporary_names_are_the_ones_the_walker_skips(tmp_path: Path) -> None:
    from records_toolkit import loader

    assert loader.TEMP_PREFIX == TEMP_PREFIX
    (tmp_path / f"{TEMP_PREFIX}1-0123456789abcdef").write_text("id: x\n")  # what a killed run could leave
    atomic_write(tmp_path / "a.yaml", b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]  # cleaned by the next write


# -- other file systems, a full one, a read-only one (a tmpfs in a private mount namespace) --------


def _unshare(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def can_mount(tmp_path_factory: pytest.TempPathFactory) -> None:
    point = tmp_path_factory.mktemp("probe")
    if shutil.which("unshare") is None or _unshare(f"mount -t tmpfs tmpfs {point}").returncode != 0:
        pytest.skip("cannot mount a tmpfs here (no unshare, or no user namespaces)")


@pytest.mark.usefixtures("can_mount")
def test_output_on_a_mount_point_a_full_disk_and_a_read_only_one(tmp_path: Path, new_csv: dict[str, bytes]) -> None:
    for name in ("volume", "small", "readonly"):
        (tmp_path / name).mkdir()
    script = f"""
    mount -t tmpfs tmpfs {tmp_path}/volume || exit 9
    {TOOLKIT} export -f csv {RECORDS} -o {tmp_path}/volume; echo "volume $?"
    cp -r {tmp_path}/volume {tmp_path}/volume-copy
    mount -t tmpfs -o size=64k tmpfs {tmp_path}/small || exit 9
    {TOOLKIT} export -f csv {RECORDS} -o {tmp_path}/small/csv || echo "small $?"
    ls -A {tmp_path}/small | sed 's/^/small-left /'
    mount -t tmpfs tmpfs {tmp_path}/readonly || exit 9
    {TOOLKIT} export -f csv {RECORDS} -o {tmp_path}/readonly/csv 2>/dev/null
    mount -o remount,ro {tmp_path}/readonly || exit 9
    {TOOLKIT} export -f csv {RECORDS} -o {tmp_path}/readonly/csv || echo "readonly-dir $?"
    {TOOLKIT} export -f ics {RECORDS} -o {tmp_path}/readonly/a.ics || echo "readonly-file $?"
    """
    done = _unshare(script)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.split("\n")
    assert "volume 0" in lines, done.stderr  # staged inside the target: no "Invalid cross-device link"
    assert snapshot(tmp_path / "volume-copy") == new_csv
    assert "small 3" in lines and not [line for line in lines if line.startswith("small-left")]
    assert "No space left on device; nothing was changed" in done.stderr
    assert "readonly-dir 3" in lines and "readonly-file 3" in lines
    assert "Read-only file system" in done.stderr


# -- a planted or damaged leftover: never obeyed, never a way out of the directory -----------------

PLANTED = f"{TEMP_PREFIX}1-0123456789abcdef"


def everything(directory: Path) -> dict[str, bytes | str]:
    """Every file under ``directory`` (bytes) and every link (its target), links never followed."""
    found: dict[str, bytes | str] = {}
    for folder, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(folder, name)
            if path.is_symlink():
                found[path.relative_to(directory).as_posix()] = f"-> {os.readlink(path)}"
            elif path.is_file():
                found[path.relative_to(directory).as_posix()] = path.read_bytes()
    return found


def plant(
    directory: Path, names: list[str], kept: dict[str, bytes], *, name: str = PLANTED, origin: t.Any = None
) -> Path:
    """A staging directory as a killed write leaves it (or as someone forges one): old/, new/, a journal.

    ``origin``: "genuine" records what this toolkit records when it makes a staging directory (as if
    this machine had made it); a dict is written as given; None leaves it out.
    """
    staging = directory / name
    (staging / "new").mkdir(parents=True)
    for rel, data in kept.items():
        (staging / "old" / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / "old" / rel).write_bytes(data)
    journal: dict[str, t.Any] = {"names": names, "kept": list(kept), "created": []}
    if origin == "genuine":
        journal["origin"] = output._origin(staging)
    elif origin is not None:
        journal["origin"] = origin
    (staging / "journal.json").write_text(json.dumps(journal))
    return staging


def test_a_planted_journal_is_left_alone_and_fmt_goes_on(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "target.txt").write_text("original")
    tree = tmp_path / "tree"
    shutil.copytree(RECORDS, tree)
    iran = (tree / "places" / "iran.yaml").read_text()
    (tree / "z.yaml").write_text(iran.replace('"Iran"', "Iran").replace('id: "iran"', 'id: "iran-z"'))
    (tree / "l").symlink_to(victim)
    names = ["l/target.txt", "places/iran.yaml", "persons/ilham-aliyev.yaml"]
    kept = {"l/target.txt": b"PWNED", "places/iran.yaml": iran.replace('"Iran"', '"Evil"').encode()}
    plant(tree, names, kept)  # as a pull request can: no origin at all
    forged = {"pid": 1, "token": "fedcba9876543210", "boot_id": output._boot_id()}  # even knowing the boot id,
    forged.update(dev=tree.lstat().st_dev, ino=tree.lstat().st_ino)  # an inode is a guess
    plant(tree, names, kept, name=f"{TEMP_PREFIX}1-fedcba9876543210", origin=forged)  # but not the inode
    before = everything(tree)

    done = toolkit("fmt", tree)
    assert done.returncode in (0, 1), done.stderr  # 1: the link is a problem of the tree; not 3
    assert (victim / "target.txt").read_text() == "original" and sorted(os.listdir(victim)) == ["target.txt"]
    after = everything(tree)
    assert after.pop("z.yaml") != before.pop("z.yaml")  # the write went on
    assert after == before  # records, the link and both leftovers untouched
    assert done.stderr.count("was left alone") == 2 and str(tree / PLANTED) in done.stderr
    assert "remove it by hand" in done.stderr


@pytest.mark.parametrize("bad", ["../outside.txt", "/ABS/outside.txt", "a/./b.txt", "a//b.txt", "a\nb.txt", ""])
def test_a_journal_naming_anything_but_plain_relative_names_is_not_obeyed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "outside.txt").write_text("outside")
    bad = bad.replace("/ABS", str(tmp_path))
    staging = plant(out, [bad, "a.txt"], {"a.txt": b"evil a"}, origin="genuine")  # bad: to take out
    (out / "a.txt").write_text("mine")
    before = everything(out)
    atomic_write(out / "b.txt", b"new b")
    assert (tmp_path / "outside.txt").read_text() == "outside"
    after = everything(out)
    assert after.pop("b.txt") == b"new b" and after == before and staging.is_dir()
    assert f"{staging} was left alone" in capsys.readouterr().err


def test_a_staging_directory_that_is_a_link_is_not_followed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    staging = plant(elsewhere, ["a.txt"], {"a.txt": b"evil a"}, origin="genuine")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("mine")
    (out / PLANTED).symlink_to(staging)
    before, there = everything(out), everything(elsewhere)
    atomic_write_tree(out, {"b.txt": b"new b"})
    after = everything(out)
    assert after.pop("b.txt") == b"new b" and after == before and everything(elsewhere) == there
    assert "was left alone" in capsys.readouterr().err


def test_a_trusted_journal_is_never_undone_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "target.txt").write_text("original")
    out = tmp_path / "out"
    out.mkdir()
    (out / "l").symlink_to(victim)  # a folder on the way became a link
    (out / "m.txt").symlink_to(victim / "target.txt")  # a target became a link
    (out / "ok.txt").write_text("new ok")
    staging = plant(
        out,
        ["l/target.txt", "m.txt", "ok.txt"],
        {"l/target.txt": b"old through l", "m.txt": b"old m", "ok.txt": b"old ok"},
        origin="genuine",  # a real leftover of this machine: undone, but not through the links
    )
    for _ in range(2):  # every write says what to do until someone does it
        with pytest.raises(OutputError) as caught:
            atomic_write_tree(out, {"b.txt": b"new b"})
        message = str(caught.value)
        assert f"left {staging}" in message and f"remove {staging} by hand" in message
        assert f"{out / 'l'} is a symbolic link" in message and f"{out / 'm.txt'} is a symbolic link" in message
        assert (victim / "target.txt").read_text() == "original" and sorted(os.listdir(victim)) == ["target.txt"]
        assert (out / "ok.txt").read_text() == "old ok"  # what could be undone safely was
        assert not (out / "b.txt").exists() and staging.is_dir()
    shutil.rmtree(staging)  # resolved by hand
    atomic_write_tree(out, {"b.txt": b"new b"})
    assert (out / "b.txt").read_bytes() == b"new b"


def test_after_sigkill_the_leftover_is_recovered_but_a_copy_of_it_is_not(
    tmp_path: Path, new_csv: dict[str, bytes]
) -> None:
    out = tmp_path / "csv"
    old = old_csv(out, new_csv)
    moves = count_calls(tmp_path, export_csv(tmp_path / "counted"), "replace")
    assert run_until(tmp_path, export_csv(out), "replace", moves // 2, signal.SIGKILL).returncode == -signal.SIGKILL
    (staging,) = [Path(p) for p in leftovers(out) if Path(p).parent == out]
    journal = json.loads((staging / "journal.json").read_text())
    assert journal["origin"]["ino"] == staging.stat().st_ino
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)  # new inodes: as a tree from elsewhere
    mixed = everything(copy)

    done = toolkit("export", "-f", "ics", RECORDS, "-o", copy / "calendar.ics")
    assert done.returncode == 0 and f"{copy / staging.name} was left alone" in done.stderr
    after = everything(copy)
    assert after.pop("calendar.ics").startswith(b"BEGIN:VCALENDAR") and after == mixed  # not undone

    done = toolkit("export", "-f", "ics", RECORDS, "-o", out / "calendar.ics")
    assert done.returncode == 0 and "left alone" not in done.stderr, done.stderr
    after = snapshot(out)
    assert after.pop("calendar.ics").startswith(b"BEGIN:VCALENDAR")
    assert after == old and not leftovers(out)  # the genuine leftover: undone and removed


def test_a_fifo_without_a_reader_is_an_error_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    done = toolkit("export", "-f", "ics", RECORDS, "-o", fifo, timeout=60)
    assert done.returncode == 3 and "no process is reading FIFO" in done.stderr, done.stderr
    assert time.monotonic() - started < 30
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # with a reader, it is written as usual
    chunks: list[bytes] = []
    try:
        writer = subprocess.Popen(
            [TOOLKIT, "export", "-f", "ics", RECORDS, "-o", fifo], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                chunk = os.read(reader, 1 << 16)
            except BlockingIOError:
                chunk = None
            if chunk:
                chunks.append(chunk)
            elif writer.poll() is not None:
                break  # end of file, and the writer has gone: all read
            else:
                time.sleep(0.01)
        _, err = writer.communicate(timeout=60)
    finally:
        os.close(reader)
    assert writer.returncode == 0, err
    assert b"".join(chunks).startswith(b"BEGIN:VCALENDAR")


_MASKS = r"""
import os, signal, sys
from records_toolkit import validate

seen = []
os.register_at_fork(before=lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])))

def work(files, keep, max_bytes, layout):
    return sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))

if __name__ == "__main__":
    results = list(validate._in_workers([str(n) for n in range(8)], False, 1, None, 2, work))
    after = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    print(len(seen), all({signal.SIGINT, signal.SIGTERM} <= mask for mask in seen))
    print(results[0], sorted(int(s) for s in after))
"""


def test_the_workers_are_forked_with_signals_held_and_run_with_them_free(tmp_path: Path) -> None:
    """A Ctrl-C or SIGTERM that lands while the pool forks its workers waits until the forks are
    done (handled in the middle of a fork hook, Python would print it and go on: exit 0); the
    workers themselves run with neither held (SIGTERM must end a worker)."""
    script = tmp_path / "masks.py"
    script.write_text(_MASKS, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    forks, held = done.stdout.split("\n")[0].split()
    assert int(forks) >= 2 and held == "True"
    assert done.stdout.split("\n")[1] == "[] []"  # free in the workers, and here again after the forks


@pytest.mark.parametrize(
    ("signum", "code", "verb"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_a_signal_while_the_notices_are_said_says_the_export_is_in_place(
    tmp_path: Path, signum: int, code: int, verb: str
) -> None:
    """The calendar is written, then its notices are printed (thousands for a large archive): a
    signal then must not say that nothing was changed, and SIGTERM must not end it silently."""
    target = tmp_path / "out.ics"
    target.write_bytes(b"the previous export\n")
    script = f"""
import os, signal, sys
from records_toolkit import cli
real = cli._said
def said(notices, quiet):
    os.kill(os.getpid(), {int(signum)})
    return real(notices, quiet)
cli._said = said
sys.argv = ["toolkit", "export", "-f", "ics", {str(RECORDS)!r}, "-o", {str(target)!r}]
cli.run()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == code, done.stderr
    assert f"{verb} after the write had finished: the new files are in place" in done.stderr
    assert "Traceback" not in done.stderr and target.read_bytes().startswith(b"BEGIN:VCALENDAR")

    streamed = subprocess.run(  # without -o the calendar has gone out before its notices: said so
        [sys.executable, "-c", script.replace(f', "-o", {str(target)!r}', "")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert streamed.returncode == code, streamed.stderr
    assert streamed.stdout.startswith("BEGIN:VCALENDAR") and "Traceback" not in streamed.stderr
    assert f"{verb}: part of the export had gone to standard output" in streamed.stderr
    assert "nothing was changed" not in streamed.stderr


def test_a_ctrl_c_while_an_error_is_said_still_exits_130(tmp_path: Path) -> None:
    """A long problem report on a slow terminal: Ctrl-C while it prints ended with click's
    "Aborted!" and exit 1, which a script reads as invalid data. It is an interruption: 130."""
    tree = tmp_path / "records"
    shutil.copytree(RECORDS, tree)
    kayseri = tree / "places" / "kayseri.yaml"
    kayseri.write_text(kayseri.read_text(encoding="utf-8").replace('kind: "city"', 'kind: "planet"'), encoding="utf-8")
    script = f"""
import sys
from records_toolkit import cli
def render_error(*args):
    raise KeyboardInterrupt
cli.render_error = render_error
sys.argv = ["toolkit", "export", "--no-cache", "-f", "jsonld", {str(tree)!r}, "-o", {str(tmp_path / "out.jsonld")!r}]
cli.run()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "interrupted: nothing was changed"
    assert "Aborted!" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonld").exists()
