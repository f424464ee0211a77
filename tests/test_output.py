"""Nothing is lost: outputs are replaced whole or not at all, links and devices respected."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from records_toolkit.cli import main
from records_toolkit.errors import OutputError
from records_toolkit.output import atomic_write, atomic_write_tree

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
TOOLKIT = Path(sys.executable).with_name("toolkit")


def test_atomic_write_replaces_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.ics"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.ics"]  # no temporary file left behind


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "target.ics").write_bytes(b"old")
    (tmp_path / "link.ics").symlink_to("target.ics")
    atomic_write(tmp_path / "link.ics", b"new")
    assert (tmp_path / "link.ics").is_symlink() and (tmp_path / "target.ics").read_bytes() == b"new"


def test_a_directory_in_the_way_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        atomic_write(tmp_path, b"x")
    out = tmp_path / "tables"
    atomic_write_tree(out, {"a.csv": b"old a", "b.csv": b"old b"})
    (out / "c.csv").mkdir()
    with pytest.raises(OutputError, match=r"c\.csv"):
        atomic_write_tree(out, {"a.csv": b"new a", "b.csv": b"new b", "c.csv": b"new c"})
    assert (out / "a.csv").read_bytes() == b"old a" and (out / "b.csv").read_bytes() == b"old b"


def test_a_failure_half_way_is_undone(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    atomic_write_tree(out, {"a.csv": b"old a"})
    (out / "sub").write_bytes(b"a file where a folder is needed")
    with pytest.raises(OutputError, match="nothing was changed"):
        atomic_write_tree(out, {"a.csv": b"new a", "b.csv": b"new b", "sub/c.csv": b"new c"})
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "sub"]
    assert (out / "a.csv").read_bytes() == b"old a"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # staging removed


def _failing(monkeypatch: pytest.MonkeyPatch, name: str, at: str) -> None:
    """``os.<name>`` fails (permission denied) for a path ending in ``at``, once, as a file system may."""
    real = getattr(os, name)
    failed: list[str] = []

    def fail_once(path: t.Any, *rest: t.Any, **options: t.Any) -> t.Any:
        target = os.fspath(rest[0] if name == "replace" else path)
        if target.endswith(at) and not failed:
            failed.append(target)
            raise PermissionError(errno.EACCES, "Permission denied", target)
        return real(path, *rest, **options)

    monkeypatch.setattr(os, name, fail_once)


def test_an_undone_write_leaves_no_folder_it_made_on_the_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    atomic_write_tree(out, {"a.csv": b"old a"})
    _failing(monkeypatch, "replace", "a.csv")  # after g/h/x.csv is in place, g and g/h made for it
    with pytest.raises(OutputError, match="nothing was changed"):
        atomic_write_tree(out, {"g/h/x.csv": b"new x", "a.csv": b"new a"})
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["a.csv"]  # no empty g/ left
    assert (out / "a.csv").read_bytes() == b"old a"


def test_inside_the_working_folder_names_are_told_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    atomic_write_tree(Path("."), {"q/3.csv": b"old", "p/1.csv": b"old"})
    _failing(monkeypatch, "unlink", "3.csv")
    with pytest.raises(OutputError) as caught:
        atomic_write_tree(Path("."), {"p/1.csv": b"new"}, remove=["q/3.csv"])
    assert str(caught.value).startswith("cannot write q/3.csv: Permission denied; nothing was changed")
    assert (tmp_path / "q" / "3.csv").read_bytes() == b"old" and (tmp_path / "p" / "1.csv").read_bytes() == b"old"


def test_a_folder_swapped_for_a_link_while_the_targets_are_checked_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file's folders are looked at for that file: a folder another process swaps for a link
    just after the first file's look is caught at the second file (helper-75's race)."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "a").mkdir(parents=True)
    elsewhere.mkdir()
    real = os.lstat
    swapped: list[str] = []

    def lstat(path: t.Any, *rest: t.Any, **options: t.Any) -> os.stat_result:
        info = real(path, *rest, **options)
        if os.fspath(path) == os.fspath(out / "a") and not swapped:
            swapped.append("a")
            os.rmdir(out / "a")
            os.symlink(elsewhere, out / "a")
        return info

    monkeypatch.setattr(os, "lstat", lstat)
    with pytest.raises(OutputError, match="symbolic link"):
        atomic_write_tree(out, {"a/x.csv": b"1", "a/y.csv": b"2"})
    assert swapped and not list(elsewhere.iterdir())


def test_an_unwritable_output_is_exit_3_and_keeps_the_old_file(tmp_path: Path) -> None:
    result = CliRunner(catch_exceptions=False).invoke(main, ["export", "-F", "ics", str(RECORDS), "-o", str(tmp_path)])
    assert result.exit_code == 3 and "is a directory" in result.output


def test_a_full_disk_on_stdout_is_a_clean_exit_3() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [str(TOOLKIT), "export", "-F", "jsonld", str(RECORDS)], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert done.returncode == 3
    said = "cannot write the jsonld export to standard output: No space left on device"
    assert said in done.stderr and "Traceback" not in done.stderr


def test_source_date_epoch_matters_only_to_formats_that_use_it() -> None:
    runner = CliRunner(catch_exceptions=False)
    env = {"SOURCE_DATE_EPOCH": "yesterday"}
    assert runner.invoke(main, ["export", "-F", "jsonld", str(RECORDS)], env=env).exit_code == 0
    result = runner.invoke(main, ["export", "-F", "ics", str(RECORDS)], env=env)
    assert result.exit_code == 2 and "SOURCE_DATE_EPOCH='yesterday'" in result.output
    result = runner.invoke(main, ["export", "-F", "ics", str(RECORDS)], env={"SOURCE_DATE_EPOCH": "253402300800"})
    assert result.exit_code == 2 and "outside the years" in result.output


def test_nothing_is_skipped_silently(tmp_path: Path) -> None:
    runner = CliRunner(catch_exceptions=False)
    (tmp_path / "empty").mkdir()
    result = runner.invoke(main, ["validate", "--output-format", "json", str(tmp_path / "empty"), ""])
    assert result.exit_code == 1
    assert '"code": "no-records"' in result.stdout and '"code": "file-unreadable"' in result.stdout


def test_a_removal_is_part_of_the_all_or_nothing_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from records_toolkit import output

    target = tmp_path / "out"
    target.mkdir()
    (target / "a.txt").write_bytes(b"old a")
    (target / "stale.txt").write_bytes(b"stale")
    real_unlink = os.unlink
    failed: list[str] = []

    def failing_unlink(path: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        # the removal itself, in its folder's descriptor (not the clean-up of the staging copy, after it)
        if str(path) == "stale.txt" and "dir_fd" in kwargs and not failed:
            failed.append(path)
            raise OSError(28, "No space left on device", str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", failing_unlink)
    with pytest.raises(OutputError):
        output.atomic_write_tree(target, {"a.txt": b"new a"}, remove=["stale.txt"])
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "stale.txt"]
    assert (target / "a.txt").read_bytes() == b"old a" and (target / "stale.txt").read_bytes() == b"stale"
    output.atomic_write_tree(target, {"a.txt": b"new a"}, remove=["stale.txt"])
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"] and (target / "a.txt").read_bytes() == b"new a"


@pytest.mark.parametrize("how", ["system", "refused", "absent"])
def test_a_sink_copies_a_range_of_another_file_after_what_it_gathered(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export's slices are copied from its spool by the system (copy_file_range), or read and
    written here when the system cannot: the same bytes, in order after the pieces written before."""
    from records_toolkit import output

    source = tmp_path / "spool"
    blob = bytes(range(256)) * 40_000  # 10 MB: several steps of 4 MiB
    source.write_bytes(b"head" + blob + b"tail")
    monkeypatch.setattr(output, "_COPY_STEP", 1 << 22)
    if how == "absent":
        monkeypatch.setattr(output, "_COPY_RANGE", False)
    copied: list[int] = []
    if how == "system":
        real = os.copy_file_range

        def spied(*args: t.Any) -> int:
            copied.append(real(*args))
            return copied[-1]

        monkeypatch.setattr(os, "copy_file_range", spied)
    if how == "refused":

        def refused(*args: t.Any) -> int:
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refused)
    target = tmp_path / "out"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    spool = os.open(source, os.O_RDONLY)
    try:
        sink = output.Sink(fd, None)
        sink.write(b"before ")
        sink.copy_from(spool, 4, len(blob))
        sink.write(b" after")
        sink.flush()
        with pytest.raises(OSError, match="spool ended"):
            sink.copy_from(spool, len(blob) + 4, 100)  # (past its end: 4 bytes there, then nothing)
    finally:
        os.close(spool)
        os.close(fd)
    assert target.read_bytes() == b"before " + blob + b" after" + b"tail"
    assert (sum(copied) >= len(blob)) == (how == "system")  # (copied by the system when it can)


def test_a_sink_into_a_pipe_copies_a_range_through_this_process(tmp_path: Path) -> None:
    import threading

    from records_toolkit import output

    source = tmp_path / "spool"
    source.write_bytes(b"x" * 3_000_000)
    read_end, write_end = os.pipe()
    got: list[bytes] = []

    def drain() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            got.append(pipe.read())

    reader = threading.Thread(target=drain)
    reader.start()
    spool = os.open(source, os.O_RDONLY)
    try:
        sink = output.Sink(write_end, None)
        sink.copy_from(spool, 1, 2_999_998)
    finally:
        os.close(spool)
        os.close(write_end)
        reader.join()
    assert got == [b"x" * 2_999_998]


def _handed(monkeypatch: pytest.MonkeyPatch, result: t.Any = 0) -> list[tuple[int, int, int, int]]:
    """What the writes hand to the disk's writeback from now on (``sync_file_range`` calls);
    ``result``: what each call gives back, or an exception it raises."""
    from records_toolkit import output

    calls: list[tuple[int, int, int, int]] = []

    def handed(fd: int, start: int, length: int, flags: int) -> int:
        calls.append((fd, start, length, flags))
        if isinstance(result, BaseException):
            raise result
        return t.cast(int, result)

    monkeypatch.setattr(output, "_WRITEBACK", [handed])
    return calls


@pytest.mark.parametrize("result", [0, -1, OSError(22, "Invalid argument")])
def test_a_long_file_is_handed_to_the_disk_as_it_is_written(
    result: t.Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each 4 MiB written is handed to the disk's writeback at once (not waited for): the fsync at
    the end waits for the last of them only. A writeback refused changes nothing written."""
    from records_toolkit import output

    calls = _handed(monkeypatch, result)
    source = tmp_path / "spool"
    source.write_bytes(bytes(range(256)) * 20_000)  # (5,120,000 bytes)
    target = tmp_path / "out"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    spool = os.open(source, os.O_RDONLY)
    try:
        sink = output.Sink(fd, None)
        for _ in range(9):
            sink.write(b"a" * 700_000)
        sink.copy_from(spool, 0, 5_120_000)
        sink.write(b"end")
        sink.flush()
    finally:
        os.close(spool)
        os.close(fd)
    assert target.read_bytes() == b"a" * 6_300_000 + source.read_bytes() + b"end"
    assert [call[0] for call in calls] == [fd] * len(calls) and {call[3] for call in calls} == {2}
    assert len(calls) == 2, calls  # (11,420,003 bytes: two steps of 4 MiB or more; the rest is the fsync's)
    at = 0
    for _, start, length, _ in calls:  # contiguous from the start, each at least 4 MiB
        assert start == at and length >= 1 << 22
        at += length
    assert at <= 11_420_003


def test_the_end_of_each_file_of_a_tree_is_handed_on_unless_tiny(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tree's files are handed on as they are closed (a CSV export's tables), but for those of
    a few bytes (an import writes thousands: one syncfs at the end does better)."""
    from records_toolkit import output

    calls = _handed(monkeypatch)

    def produce(open: t.Callable[[str], output.Sink]) -> None:
        open("large.csv").write(b"x" * 100_000)
        open("small.csv").write(b"y" * 100)

    output.atomic_write_tree(tmp_path / "out", {}, produce=produce)
    assert (tmp_path / "out" / "large.csv").read_bytes() == b"x" * 100_000
    assert (tmp_path / "out" / "small.csv").read_bytes() == b"y" * 100
    assert [(start, length) for _, start, length, _ in calls] == [(0, 100_000)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_the_system_takes_the_writeback_asked(tmp_path: Path) -> None:
    from records_toolkit import output

    call = output._writeback()
    assert call is not None
    target = tmp_path / "file"
    target.write_bytes(b"z" * 10_000)
    fd = os.open(target, os.O_WRONLY)
    try:
        assert call(fd, 0, 10_000, 2) == 0
    finally:
        os.close(fd)


# A tree write killed (as by SIGKILL: no undo, the journal left) at its second move: the first
# file is in place, the second not. argv: directory, then name=text pairs.
_KILLED_AT_THE_SECOND_MOVE = """
import os, sys
from pathlib import Path
from records_toolkit.output import atomic_write_tree
moves = []
real_replace = os.replace
def replace(source, target, *rest, **options):
    if "journal" not in str(target):
        moves.append(target)
        if len(moves) == 2:
            os._exit(9)
    return real_replace(source, target, *rest, **options)
os.replace = replace
files = dict(pair.split("=", 1) for pair in sys.argv[2:])
atomic_write_tree(Path(sys.argv[1]), {name: text.encode() for name, text in files.items()})
"""


def _killed_write(directory: Path, **files: str) -> None:
    pairs = [f"{name.replace('__', '/')}={text}" for name, text in files.items()]
    done = subprocess.run([sys.executable, "-c", _KILLED_AT_THE_SECOND_MOVE, str(directory), *pairs], check=False)
    assert done.returncode == 9
    assert any(p.name.startswith(".toolkit-tmp-") for p in directory.iterdir())  # its journal is left


def _tree(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("second", ["tree", "file"])
def test_a_killed_write_above_is_finished_before_a_write_below(tmp_path: Path, second: str) -> None:
    """A write into ``d`` killed after its journal, naming ``sub/x``; then a write into
    ``d/sub``: it first undoes the killed one (its folder's leftovers are looked at too), so the
    next write into ``d`` has nothing to undo and leaves the newer ``sub/x`` alone (it used to put
    the old one back over it: helper-76's finding)."""
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "x").write_text("old")
    (d / "y").write_text("old")
    _killed_write(d, sub__x="killed", y="killed")
    if second == "tree":
        atomic_write_tree(d / "sub", {"x": b"newer"})
    else:
        atomic_write(d / "sub" / "x", b"newer")
    assert _tree(d) == {"sub/x": "newer", "y": "old"}  # the killed write undone whole, then this one
    atomic_write_tree(d, {"z": b"later"})
    assert _tree(d) == {"sub/x": "newer", "y": "old", "z": "later"}


def test_a_killed_write_below_is_finished_before_a_write_above_passes_through(tmp_path: Path) -> None:
    """A write into ``d/sub`` killed after its journal; then a write into ``d`` naming ``sub/x``:
    it first undoes the killed one, so that a later write into ``d/sub`` does not put the old
    ``x`` back over the one it wrote."""
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "x").write_text("old")
    (d / "sub" / "w").write_text("old")
    _killed_write(d / "sub", w="killed", x="killed")
    atomic_write_tree(d, {"sub/x": b"newer"})
    assert _tree(d) == {"sub/w": "old", "sub/x": "newer"}
    atomic_write_tree(d / "sub", {"v": b"later"})
    assert _tree(d) == {"sub/v": "later", "sub/w": "old", "sub/x": "newer"}


def _swap_for_link(folder: Path, outside: Path) -> None:
    """What a hostile process does between the checks and the moves: the folder aside, a link in its place."""
    folder.rename(folder.with_name(folder.name + ".real"))
    folder.symlink_to(outside, target_is_directory=True)


def test_a_folder_swapped_for_a_link_while_the_files_are_produced_is_refused(tmp_path: Path) -> None:
    """The targets are checked when each file is opened; a folder swapped for a link after that
    (a long export) is met when the old files are kept: refused, nothing written anywhere (it
    used to be written through: helper-76)."""
    out, outside = tmp_path / "out", tmp_path / "outside"
    atomic_write_tree(out, {"g/x.csv": b"old x", "a.csv": b"old a"})
    outside.mkdir()
    (outside / "x.csv").write_bytes(b"not the toolkit's")

    def produce(open: t.Callable[[str], t.Any]) -> None:
        open("a.csv").write(b"new a")
        open("g/x.csv").write(b"new x")
        _swap_for_link(out / "g", outside)

    with pytest.raises(OutputError, match=r"no longer a directory.*nothing was changed"):
        atomic_write_tree(out, {}, produce=produce)
    assert (outside / "x.csv").read_bytes() == b"not the toolkit's" and sorted(os.listdir(outside)) == ["x.csv"]
    assert (out / "g.real" / "x.csv").read_bytes() == b"old x" and (out / "a.csv").read_bytes() == b"old a"
    assert sorted(os.listdir(out)) == ["a.csv", "g", "g.real"]  # (no staging directory left)


def test_a_folder_swapped_for_a_link_after_the_journal_is_not_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swapped later still, once the journal is written: the moves go into the folder that was
    checked (by its descriptor), never through the link."""
    from records_toolkit import output

    out, outside = tmp_path / "out", tmp_path / "outside"
    atomic_write_tree(out, {"g/x.csv": b"old x"})
    outside.mkdir()
    real_write_journal = output._write_journal

    def write_journal_then_swap(*args: t.Any) -> None:
        real_write_journal(*args)
        _swap_for_link(out / "g", outside)

    monkeypatch.setattr(output, "_write_journal", write_journal_then_swap)
    atomic_write_tree(out, {"g/x.csv": b"new x"})
    assert os.listdir(outside) == []
    assert (out / "g.real" / "x.csv").read_bytes() == b"new x"


@pytest.mark.parametrize("limit", [3, 64])
def test_a_tree_of_many_folders_is_written_with_few_descriptors_and_none_left_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Each folder is reached by its descriptor, at most ``_OPEN_FOLDERS`` held at once (a tree of
    thousands of folders would pass the process's limit), all closed at the end."""
    from records_toolkit import output

    monkeypatch.setattr(output, "_OPEN_FOLDERS", limit)
    out = tmp_path / "out"
    names = [f"d{i % 7}/e{i}/f{i % 3}/x{i}.txt" for i in range(150)]
    open_before = len(os.listdir("/proc/self/fd"))
    atomic_write_tree(out, {name: b"old " + name.encode() for name in names})
    atomic_write_tree(out, {name: b"new " + name.encode() for name in names[::2]}, remove=names[1::2][:10])
    assert len(os.listdir("/proc/self/fd")) == open_before
    expected = {name: ("new " + name) for name in names[::2]} | {name: ("old " + name) for name in names[1::2][10:]}
    assert _tree(out) == expected


def test_a_long_lived_process_finishes_a_journal_left_above_after_its_first_write(tmp_path: Path) -> None:
    """A folder found with nothing to finish is remembered by its modification time, not for the
    life of the process: a write killed there afterwards is finished before the next write below
    it (it used to be skipped, and the next write into ``p`` put ``d/x`` back to v1: helper-78)."""
    p = tmp_path / "p"
    atomic_write_tree(p / "d", {"x": b"v1"})
    (p / "y").write_text("old")
    past = time.time() - 60
    os.utime(p, (past, past))  # (settled long ago: remembered by this first write)
    atomic_write_tree(p / "d", {"x": b"v1"})
    _killed_write(p, d__x="killed", y="killed")
    atomic_write_tree(p / "d", {"x": b"v2"})
    atomic_write_tree(p, {"z": b"z"})
    assert _tree(p) == {"d/x": "v2", "y": "old", "z": "z"}


def test_a_write_below_a_folder_another_process_is_writing_into_is_refused(tmp_path: Path) -> None:
    """That process may be finishing a killed write that names this write's files (helper-78):
    wait for it, rather than be undone by it."""
    import fcntl

    p = tmp_path / "p"
    (p / "d").mkdir(parents=True)
    (p / ".toolkit-tmp-1-0123456789abcdef").mkdir()  # its staging directory
    held = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputError, match=r"another toolkit process is writing into .*p, which holds it"):
            atomic_write_tree(p / "d", {"x": b"new"})
        with pytest.raises(OutputError, match="another toolkit process is writing into"):
            atomic_write(p / "d" / "x", b"new")
    finally:
        os.close(held)
    assert not (p / "d" / "x").exists()


def test_a_killed_write_that_made_the_folder_is_finished_before_the_folder_is_made_again(tmp_path: Path) -> None:
    """The killed write into ``p`` made ``d``; its undo removes it; the write into ``d`` then makes
    it again (it used to fail: the undo removed the folder it had just made and locked)."""
    p = tmp_path / "p"
    p.mkdir()
    (p / "keep").write_text("old")
    _killed_write(p, d__x="killed", keep="killed")
    atomic_write_tree(p / "d", {"y": b"new"})
    assert _tree(p) == {"d/y": "new", "keep": "old"}
    _killed_write(p, d__x="killed", keep="killed")
    atomic_write(p / "d" / "y", b"newer")
    assert _tree(p) == {"d/y": "newer", "keep": "old"}
