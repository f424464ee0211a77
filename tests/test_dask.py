"""`toolkit validate --scheduler`: the per-file checks on a Dask cluster, the same report as a local run.

One local cluster of two worker processes serves the module (the tests that use it are marked
slow); the missing extra and an unreachable scheduler need none, nor does the tree reduction's
merge order, checked in this process. The worker killed mid-run is on a cluster of its own. No
test waits for ever (:func:`no_test_hangs`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

import records_toolkit
from records_toolkit import api, cache, rules, validate
from records_toolkit.cli import main
from records_toolkit.errors import CouldNotRun
from records_toolkit.launcher import OUTPUT_FORMATS

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = Path(sys.executable).with_name("toolkit")


#: Seconds a test of this module may take at most (they take seconds; a loaded machine, a minute).
TEST_SECONDS = 600


@pytest.fixture(autouse=True)
def no_test_hangs() -> t.Iterator[None]:
    """Fail a test still running after :data:`TEST_SECONDS`, wherever it waits (on a cluster's
    futures, a subprocess, a lock): SIGALRM in the main thread raises pytest's failure, which no
    ``except Exception`` on the way catches."""
    import signal

    def timed_out(signum: int, frame: object) -> None:
        pytest.fail(f"still running after {TEST_SECONDS} s: a wait that never ends?")

    previous = signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def cluster() -> t.Iterator[t.Any]:
    """A client of a local cluster of two worker processes, one thread each, no dashboard."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},  # (its HTTP server: not on 8787)
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three copies of the shipped records, broken where chunks meet: an invalid record, a YAML
    syntax error, a file over the size limit, a place removed that events of other chunks refer
    to, and an id repeated at the far end of the tree (another chunk, the other worker's)."""
    from bench.corpus import make

    root = tmp_path_factory.mktemp("corpus")
    make(root, 3)
    first = sorted(root.rglob("*.yaml"))[0]
    (root / "c00002" / "zz-dup.yaml").write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    event = root / "c00001" / "events" / "efes-2022.yaml"
    event.write_text(event.read_text(encoding="utf-8").replace('"2022-05-09/', '"2022-02-30/'), encoding="utf-8")
    (root / "c00000" / "places" / "izmir.yaml").unlink()  # events in c00000/events still name it
    (root / "c00001" / "places" / "broken.yaml").write_text("id: [\n", encoding="utf-8")
    (root / "c00002" / "places" / "large.yaml").write_text("id: x\nname: " + "a" * 5000 + "\n", encoding="utf-8")
    return root


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner(catch_exceptions=False).invoke(
        main, ["validate", "--no-cache", "--max-file-size", "4000", *args]
    )
    return result.exit_code, result.stdout


@pytest.mark.slow
def test_the_report_on_a_cluster_is_the_local_report_in_every_form(cluster: t.Any, corpus: Path) -> None:
    from distributed import get_task_stream

    address = cluster.scheduler.address
    reports = {}
    for form in OUTPUT_FORMATS:
        local = run(["--output-format", form, str(corpus)])
        with get_task_stream(cluster) as tasks:
            on_cluster = run(["--output-format", form, "--scheduler", address, str(corpus)])
        assert on_cluster == local, form
        assert len({task["worker"] for task in tasks.data}) == 2  # both workers checked files
        reports[form] = local
    exit_code, text = reports["json"]
    found = json.loads(text)
    codes = {problem["code"] for problem in found}
    assert exit_code == 1
    assert {"duplicate-id", "dangling-reference", "schema-format", "yaml-syntax", "file-too-large"} <= codes
    files = [problem["file"] for problem in found if problem["code"] == "duplicate-id"]
    assert any("c00002/zz-dup.yaml" in file for file in files)


@pytest.mark.slow
def test_a_file_gone_before_its_worker_reads_it_is_a_problem(
    cluster: t.Any, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the walk found and a worker cannot read (removed, not on the worker's file system)."""
    walk = validate.iter_record_names

    def with_a_ghost(paths: t.Any, stats: t.Any = None, **options: t.Any) -> t.Iterator[t.Any]:
        yield from walk(paths, stats, **options)
        yield (corpus / "c00002" / "zz-gone.yaml").as_posix()

    monkeypatch.setattr(validate, "iter_record_names", with_a_ghost)
    local = api.validate([corpus], collect=False)
    remote = api.validate([corpus], collect=False, scheduler=cluster)  # a caller's client: left open
    assert remote.problems == local.problems and remote.records == local.records
    assert [p.code for p in local.problems if p.file.endswith("zz-gone.yaml")] == ["file-unreadable"]
    assert cluster.status == "running"


@pytest.mark.slow
@pytest.mark.parametrize("spilled", [False, True], ids=["indexes-in-memory", "indexes-on-disk"])
def test_a_local_cluster_fills_the_result_cache_as_a_local_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spilled: bool
) -> None:
    """`--scheduler local` (its own cluster, ended with the run), through the result cache's full
    run; the merged indexes in this process's memory, or on disk as a large collection's are."""
    pytest.importorskip("distributed")
    from bench.corpus import make

    if spilled:
        monkeypatch.setattr(rules, "SPILL_FROM", 0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    make(tmp_path / "records", 2)
    (tmp_path / "records" / "c00001" / "places" / "izmir.yaml").unlink()
    monkeypatch.chdir(tmp_path)
    expected = api.validate(collect=False, collection=True)
    first = api.validate(collect=False, collection=True, cache=True, scheduler="local", jobs=2)
    again = api.validate(collect=False, collection=True, cache=True)  # answered by the snapshot
    assert first.problems == again.problems == expected.problems and expected.problems
    assert first.records == again.records == expected.records
    assert any((tmp_path / "records" / ".records-toolkit-cache").iterdir())


@pytest.mark.slow
def test_the_environment_variable_names_the_scheduler(cluster: t.Any, corpus: Path) -> None:
    """RECORDS_TOOLKIT_SCHEDULER: the console script leaves the run to click, which sends it to the cluster."""
    args = [str(TOOLKIT), "validate", "--no-cache", "--output-format", "json", str(corpus / "c00001")]
    env = {k: v for k, v in os.environ.items() if k != "RECORDS_TOOLKIT_SCHEDULER"}
    local = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    env["RECORDS_TOOLKIT_SCHEDULER"] = cluster.scheduler.address
    remote = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert (remote.returncode, remote.stdout, remote.stderr) == (local.returncode, local.stdout, local.stderr)
    assert local.returncode == 1


@pytest.mark.slow
def test_workers_with_another_toolkit_are_refused(
    cluster: t.Any, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_toolkit, "__version__", "0.0.1")  # here only: the workers keep theirs
    with pytest.raises(CouldNotRun, match=r"runs another toolkit or schemas \(version differ"):
        api.validate([corpus / "c00000"], collect=False, scheduler=cluster.scheduler.address)


def test_without_dask_the_scheduler_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", "--scheduler", "local", str(ROOT / "records")])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: the scheduler needs Dask (dask.distributed), which is not installed: "
        "pip install 'records-toolkit[dask]'\nTry 'toolkit validate --help' for help.\n"
    )


def test_a_malformed_address_is_wrong_usage() -> None:
    pytest.importorskip("distributed")
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", "--scheduler", "no address", "records"])
    assert result.exit_code == 2
    assert "is not a Dask scheduler's address: give tcp://HOST:PORT, or local" in result.stderr


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    record = tmp_path / "algeria.yaml"
    record.write_bytes((ROOT / "records" / "places" / "algeria.yaml").read_bytes())
    env = os.environ | {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    done = subprocess.run(
        [str(TOOLKIT), "validate", "--no-collection", "--scheduler", f"tcp://127.0.0.1:{port}", str(record)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def _hard_to_merge(root: Path) -> list[Path]:
    """Three copies of the shipped records with all that merging chunks' states must keep in order:
    ids repeated across chunks, within a chunk and within one file (two documents), an article
    repeated with another text walked last (its text is the one quotes are checked against: they
    fail), a file past the per-file problem cap (counted, not kept), a file too large, a place
    removed that events of other chunks name. The copies are named out of order, so the files'
    order is not the order of their names."""
    import re

    from bench.corpus import make

    make(root, 3)
    place = (root / "c00000" / "places" / "izmir.yaml").read_text(encoding="utf-8")
    later = (root / "c00002" / "places" / "izmir.yaml").read_text(encoding="utf-8")  # walked first
    (root / "c00002" / "zz-dup.yaml").write_text(later, encoding="utf-8")
    (root / "c00000" / "places" / "zz-from-c2.yaml").write_text(later, encoding="utf-8")
    (root / "c00000" / "places" / "zz-twice.yaml").write_text(place + "---\n" + place, encoding="utf-8")
    (root / "c00000" / "places" / "zz-many.yaml").write_text(
        place + "".join(f"x{n:04d}: 1\n" for n in range(1200)), encoding="utf-8"
    )
    article = next((root / "c00001" / "articles").glob("*.yaml")).read_text(encoding="utf-8")
    again = re.sub(r"^text: \|-\n(?:(?:  .*)?\n)*", 'text: "Nothing here is quoted."\n', article, flags=re.M)
    assert again != article
    (root / "c00001" / "articles" / "zz-again.yaml").write_text(again, encoding="utf-8")
    (root / "c00002" / "places" / "large.yaml").write_text("id: x\nname: " + "a" * 20_000 + "\n", encoding="utf-8")
    (root / "c00001" / "places" / "izmir.yaml").unlink()
    return [root / "c00002", root / "c00000", root / "c00001"]


_LIMIT = 16_000  # bytes a record file may have (above the file past the problem cap, below the large one)


def _everything(checker: validate.Checker) -> dict[str, t.Any]:
    """A checker's whole state as it is now (finish() changes it), dictionaries as lists (their order counts)."""
    return {
        key: list(value.items()) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
        for key, value in checker.state().items()
        if key != "order"
    }


class _HereAtOnce:
    """A stand-in for a Dask client: each task run here, when it is sent."""

    def map(self, func: t.Callable[..., t.Any], items: list[t.Any], **kwargs: t.Any) -> list[t.Any]:
        given = {key: value for key, value in kwargs.items() if key not in ("pure", "priority")}
        return [func(item, **given) for item in items]


@pytest.mark.parametrize(("keep", "hashed"), [(False, False), (True, False), (False, True)])
def test_chunk_states_merged_in_groups_are_the_states_merged_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: bool, hashed: bool
) -> None:
    """`Checker.merge` is associative: the groups of `_in_dask` (states merged on the workers, each
    group's state merged here in order) leave the checker as one process reading every file does, whatever the chunks,
    the fan-in, and what the checker held before (the rest of a collection)."""
    paths = _hard_to_merge(tmp_path)

    def checker() -> validate.Checker:
        made = validate.Checker(keep=keep)
        if hashed:
            made.hashes = cache.Hashes()
        return made

    def states(files: list[str], size: int) -> list[dict[str, t.Any]]:
        return [
            validate._check_chunk(files[i : i + size], keep, _LIMIT, hashed=hashed) for i in range(0, len(files), size)
        ]

    files = [file for file in validate.iter_record_names(paths) if isinstance(file, str)]
    assert files != sorted(files)
    alone = checker()
    alone.add_files(files, _LIMIT)
    expected = _everything(alone)
    assert expected["overflow"] and expected["repeats"] and (expected["kept"] or not keep)
    assert [entry[1] for entry in expected["repeats"]] != sorted(entry[1] for entry in expected["repeats"])
    report = alone.finish().report
    codes = {problem.code for problem in report.problems}
    assert {"duplicate-id", "dangling-reference", "quote-not-found", "problems-truncated", "file-too-large"} <= codes
    for size in (1, 7, 40):
        for fan_in in (2, 3, 8):
            monkeypatch.setattr(validate, "DASK_FAN_IN", fan_in)
            for rest in (0, 5, len(files) // 2):  # the first files merged here before, as the rest of a collection
                for apart in (False, True) if keep else (False,):  # the kept records through the merges, or apart
                    merged = checker()
                    if rest:
                        merged.merge(validate._check_chunk(files[:rest], keep, _LIMIT, hashed=hashed))
                    leaves = states(files[rest:], size)
                    kept = [[doc for doc in leaf["kept"]] for leaf in leaves]
                    groups = validate._merge_groups(_HereAtOnce(), leaves, without_kept=apart)
                    assert len(groups) == -(-len(kept) // fan_in) and not leaves
                    for number, group in enumerate(groups):
                        if apart:  # as _in_dask puts them back
                            alone = len(kept[number * fan_in : (number + 1) * fan_in]) == 1  # (not merged)
                            assert group["kept"] == [] or alone
                            group["kept"] = [
                                doc for part in kept[number * fan_in : (number + 1) * fan_in] for doc in part
                            ]
                        merged.merge(group)
                    assert _everything(merged) == expected, (size, fan_in, rest, apart)
                    assert merged.finish().report == report


class _Counted:
    """A progress that counts (nothing shown) and notes when the first chunk's counts came in."""

    def __init__(self) -> None:
        import threading

        from records_toolkit.progress import Progress

        self.shown = Progress(stream=_NotATerminal())
        self.first = threading.Event()
        self.calls = 0

    @property
    def files(self) -> int:
        return self.shown.files

    @property
    def records(self) -> int:
        return self.shown.records

    def add(self, files: int, records: int) -> None:
        self.shown.add(files, records)
        self.calls += 1
        self.first.set()


class _NotATerminal:
    def isatty(self) -> bool:
        return False


@pytest.mark.slow
def test_groups_merged_on_a_cluster_give_what_one_process_does(
    cluster: t.Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of three files (dozens of states, merged eight at a time on the workers, each group's
    state merged here in order), the records kept (sent here from each chunk, apart from the
    merges): the same report, records and order as one process; the progress counts each chunk
    once; a collection past the spill size keeps its indexes on disk here, as a local run does
    (the client never holds the whole state). One file: one chunk, nothing to merge."""
    paths = _hard_to_merge(tmp_path)
    local = api.validate(paths, max_file_size=_LIMIT, jobs=1)
    alone = validate.check_paths(paths, keep=True, max_bytes=_LIMIT, jobs=1)
    monkeypatch.setattr(validate, "DASK_CHUNK", 3)
    remote = api.validate(paths, max_file_size=_LIMIT, scheduler=cluster)
    progress = _Counted()
    counted = validate.check_paths(
        paths, keep=True, max_bytes=_LIMIT, dask=validate.DaskRun(cluster), progress=t.cast(t.Any, progress)
    )
    assert remote == local and local.valid and local.problems
    assert counted.report.problems == alone.report.problems == local.problems
    assert counted.records == alone.records and alone.records
    assert (progress.files, progress.records) == (local.files, local.records)
    assert progress.calls == -(-local.files // 3)  # each chunk's counts, as it was checked
    from records_toolkit import rules

    monkeypatch.setattr(rules, "SPILL_FROM", 20)
    on_disk: list[bool] = []
    real_check = rules.Collection.check

    def check(self: rules.Collection) -> list[rules.Pending]:
        on_disk.append(self.on_disk)
        return real_check(self)

    monkeypatch.setattr(rules.Collection, "check", check)
    spilled = validate.check_paths(paths, max_bytes=_LIMIT, dask=validate.DaskRun(cluster))
    assert on_disk == [True] and spilled.report.problems == local.problems
    one = [paths[0] / "places" / "algeria.yaml"]
    assert api.validate(one, scheduler=cluster) == api.validate(one) and api.validate(one).valid


@pytest.mark.slow
@pytest.mark.parametrize("how", ["no permission", "a folder now"])
def test_a_file_a_worker_cannot_read_is_a_problem(
    cluster: t.Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A file the walk found that a worker cannot read: a problem in the report (the same as a
    local run's), never a crashed run. (A file removed meanwhile: see the ghost above.)"""
    from bench.corpus import make

    make(tmp_path, 1)
    unreadable = tmp_path / "c00000" / "places" / "izmir.yaml"
    if how == "no permission":
        if os.geteuid() == 0:
            pytest.skip("root reads a file of mode 000")
        unreadable.chmod(0)
        expected = "file-unreadable"
    else:  # a file the walk found, a folder when read (root too cannot read that as a file)
        unreadable.unlink()
        unreadable.mkdir()
        walk = validate.iter_record_names

        def as_found(paths: t.Any, stats: t.Any = None, **options: t.Any) -> t.Iterator[t.Any]:
            yield from walk(paths, stats, **options)
            yield unreadable.as_posix()

        monkeypatch.setattr(validate, "iter_record_names", as_found)
        expected = "file-special"
    try:
        remote = api.validate([tmp_path], collect=False, scheduler=cluster)
        local = api.validate([tmp_path], collect=False)
    finally:
        if how == "no permission":
            unreadable.chmod(0o644)
    assert remote == local
    assert [p.code for p in local.problems if p.file == unreadable.as_posix()] == [expected]
    assert "dangling-reference" in {p.code for p in local.problems}  # the events naming izmir
    assert cluster.status == "running"


@pytest.mark.slow
def test_a_worker_killed_mid_run_leaves_the_report_complete_and_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process killed (SIGKILL) while a validation runs on a cluster of its own (not the
    module's): Dask runs its tasks again on the other worker or on the one its nanny starts, those
    whose states were lost with it too; the report is the local run's, problem for problem."""
    import signal
    import threading

    distributed = pytest.importorskip("distributed")
    from bench.corpus import make

    files = make(tmp_path, 60)  # 2,640 files
    first = sorted(tmp_path.rglob("*.yaml"))[0]
    (tmp_path / "c00059" / "zz-dup.yaml").write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "c00030" / "places" / "izmir.yaml").unlink()
    local = api.validate([tmp_path], collect=False)
    assert local.files == files and {"duplicate-id", "dangling-reference"} <= {p.code for p in local.problems}
    monkeypatch.setattr(validate, "DASK_CHUNK", 5)  # 528 chunks: the run outlasts the kill
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as own,
        distributed.Client(own) as client,
    ):
        pids: dict[str, int] = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        progress = _Counted()
        killed: list[int] = []  # the files counted when it was killed

        def kill() -> None:
            if progress.first.wait(timeout=300):  # the first chunk is in: the run is under way
                killed.append(progress.files)
                os.kill(victim, signal.SIGKILL)

        killer = threading.Thread(target=kill, daemon=True)
        killer.start()
        try:
            remote = validate.check_paths(
                [tmp_path], dask=validate.DaskRun(client), progress=t.cast(t.Any, progress)
            ).report
        finally:
            killer.join(timeout=60)
        assert killed and killed[0] < files  # killed mid-run: tasks it ran or results it held were lost
        events = [event for _, event in own.scheduler.get_events("all") if isinstance(event, dict)]
        removed = [event for event in events if event.get("action") == "remove-worker"]
        assert any(event.get("processing-tasks") or event.get("lost-computed-tasks") for event in removed)
        assert victim not in client.run(os.getpid).values()  # gone (its nanny started another)
    assert (remote.problems, remote.files, remote.records) == (local.problems, local.files, local.records)
    assert (progress.files, progress.records) == (local.files, local.records)


def _die_when_checking() -> None:
    """On a worker: the next chunk it checks ends its process, as a crash would."""
    records_toolkit.validate._check_chunk = lambda *args, **kwargs: os._exit(1)  # type: ignore[assignment]


@pytest.mark.slow
def test_workers_dying_on_the_same_files_more_times_than_dask_retries_is_a_clear_error(tmp_path: Path) -> None:
    """Dask retries a task whose worker died, up to its `allowed-failures`; past that the run
    cannot finish (`KilledWorker`): said in plain words, not a traceback."""
    distributed = pytest.importorskip("distributed")
    import dask

    from bench.corpus import make

    make(tmp_path, 1)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as own,
        distributed.Client(own) as client,
    ):
        dask_run = validate.DaskRun(client)
        dask_run.client()  # the workers' toolkit checked before they are made to die
        client.run(_die_when_checking)
        with pytest.raises(CouldNotRun, match="workers ended unexpectedly on the same files, more times than Dask"):
            validate.check_paths([tmp_path], dask=dask_run, progress=t.cast(t.Any, _Counted()))


@pytest.mark.slow
@pytest.mark.parametrize("waiting_on", ["_chunk_outcome", "_merge_states"])
def test_a_connection_closed_while_a_result_is_fetched_is_a_clear_error_not_a_wait(
    cluster: t.Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waiting_on: str
) -> None:
    """A fetch of a chunk's outcome or of a merged state that fails because a connection closed
    (seen once under heavy load: `CommClosedError`, a stream to the scheduler gone) ends the run
    with exit 3's error at once. Before, the outcomes came through `as_completed(with_results=True)`,
    which logs such a failure and never hands the future on: the run waited for ever."""
    import signal

    distributed = pytest.importorskip("distributed")
    from distributed.comm.core import CommClosedError

    from bench.corpus import make

    make(tmp_path, 1)
    gather = distributed.Client._gather
    failed: list[str] = []

    async def closing(self: t.Any, futures: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        keys = [str(getattr(future, "key", "")) for future in futures]
        if any(key.startswith(waiting_on) for key in keys):
            failed.append(keys[0])
            raise CommClosedError("in <TCP (closed) ConnectionPool.gather local=tcp://127.0.0.1>: Stream is closed")
        return await gather(self, futures, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "_gather", closing)
    signal.alarm(120)  # this test's own limit: a wait for ever is what it looks for
    try:
        with pytest.raises(CouldNotRun, match=r"validation could not run on the Dask cluster at .*Stream is closed"):
            validate.check_paths([tmp_path], dask=validate.DaskRun(cluster), progress=t.cast(t.Any, _Counted()))
    finally:
        signal.alarm(TEST_SECONDS)
    assert failed
    monkeypatch.undo()
    assert api.validate([tmp_path], collect=False, scheduler=cluster) == api.validate([tmp_path], collect=False)
