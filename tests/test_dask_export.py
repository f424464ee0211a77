"""`toolkit export --scheduler`: the files checked on a Dask cluster, the parts written by its
workers, the same bytes as a local export (slow: a local cluster of two worker processes)."""

from __future__ import annotations

import json
import os
import time
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from records_toolkit import api, parts, validate
from records_toolkit.cli import main
from records_toolkit.errors import InvalidRecords

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> t.Iterator[t.Any]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four copies of the shipped records (176 records in 176 files): several chunks, every type."""
    from bench.corpus import make

    root = tmp_path_factory.mktemp("corpus")
    make(root, 4)
    return root


def tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def spools(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(parts.SPOOL_PREFIX)]


@pytest.mark.parametrize("fmt", ["csv", "jsonld"])
def test_parts_written_by_the_workers_are_the_local_parts(
    cluster: t.Any, corpus: Path, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local, remote, tiny = tmp_path / "local", tmp_path / "remote", tmp_path / "tiny"
    api.export([str(corpus)], fmt, to=local, parts=5)

    def not_here(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise AssertionError("a part was written in this process, not by a worker")

    with monkeypatch.context() as patch:
        patch.setattr(parts, "run_part", not_here)  # (the workers' own module is not patched)
        api.export([str(corpus)], fmt, to=remote, parts=5, scheduler=cluster)
        patch.setattr(validate, "DASK_CHUNK", 7)  # other chunks of work: the same files
        api.export([str(corpus)], fmt, to=tiny, parts=5, scheduler=cluster)
    assert tree(remote) == tree(local) == tree(tiny)
    assert spools(tmp_path) == []  # the spooled records are gone


@pytest.mark.parametrize(
    ("fmt", "name"), [("ics", "out.ics"), ("markdown", "out.md"), ("csv", "csv"), ("jsonld", "a.jsonld")]
)
def test_formats_gathered_here_are_the_local_export(
    cluster: t.Any, corpus: Path, tmp_path: Path, fmt: str, name: str
) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "remote").mkdir()
    api.export([str(corpus)], fmt, to=tmp_path / "local" / name)
    api.export([str(corpus)], fmt, to=tmp_path / "remote" / name, scheduler=cluster)
    assert tree(tmp_path / "remote") == tree(tmp_path / "local")
    assert spools(tmp_path / "remote") == []


def test_invalid_records_on_the_cluster_write_nothing_and_report_as_validate(
    cluster: t.Any, corpus: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(corpus, broken)
    event = next(broken.rglob("efes-2022.yaml"))
    event.write_text(event.read_text(encoding="utf-8").replace('"2022-05-09/', '"2022-02-30/'), encoding="utf-8")
    next(broken.rglob("izmir.yaml")).unlink()
    out = tmp_path / "out"
    with pytest.raises(InvalidRecords) as caught:
        api.export([str(broken)], "csv", to=out, parts=3, scheduler=cluster)
    expected = api.validate([str(broken)], collection=False, cache=False)
    assert caught.value.report.problems == expected.problems and expected.problems
    assert not out.exists() and spools(tmp_path) == []


def test_the_command_line_on_a_cluster(cluster: t.Any, corpus: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    address = cluster.scheduler.address
    result = runner.invoke(
        main, ["export", "-f", "jsonld", str(corpus), "--parts", "3", "--scheduler", address, "-o", str(tmp_path / "p")]
    )
    assert result.exit_code == 0, result.output
    index = json.loads((tmp_path / "p" / "index.jsonld").read_text(encoding="utf-8"))
    assert len(index["distribution"]) == 3
    back = api.import_records(tmp_path / "p", "jsonld")
    assert len(back) == 4 * 44
    env = {**os.environ, "RECORDS_TOOLKIT_SCHEDULER": address}
    result = runner.invoke(main, ["export", "-f", "csv", str(corpus), "-o", str(tmp_path / "c")], env=env)
    assert result.exit_code == 0, result.output
    assert tree(tmp_path / "c") == tree(_local_csv(corpus, tmp_path))


def _local_csv(corpus: Path, tmp_path: Path) -> Path:
    api.export([str(corpus)], "csv", to=tmp_path / "local-csv")
    return tmp_path / "local-csv"


def test_a_spool_left_by_a_killed_export_is_swept(cluster: t.Any, corpus: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f"{parts.SPOOL_PREFIX}{parts._host()}-{dead.stdout.strip()}-abc"
    left.mkdir()
    (left / "x.spool").write_bytes(b"old")
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    alive = tmp_path / f"{parts.SPOOL_PREFIX}{parts._host()}-{running.pid}-def"  # a running export's
    alive.mkdir()
    other = tmp_path / f"{parts.SPOOL_PREFIX}elsewhere-1-ghi"  # another host's: never ours to judge
    other.mkdir()
    try:
        api.export([str(corpus)], "csv", to=tmp_path / "out", parts=2, scheduler=cluster)
    finally:
        running.kill()
        running.wait()
    assert sorted(spools(tmp_path)) == sorted([alive.name, other.name])


@pytest.mark.parametrize("phase", ["checking", "writing parts"])
def test_a_worker_killed_mid_export_leaves_the_files_of_a_local_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str
) -> None:
    """A worker process killed (SIGKILL) while the files are checked and spooled, or while the parts
    are written: Dask runs its tasks again elsewhere (a spool file and a part file are written
    whole again under the same name), and the export is byte for byte the local one."""
    import signal
    import threading

    distributed = pytest.importorskip("distributed")
    from bench.corpus import make

    corpus = tmp_path / "corpus"
    make(corpus, 30)  # 1,320 files
    local, remote = tmp_path / "local", tmp_path / "remote"
    api.export([str(corpus)], "csv", to=local, parts=40)
    monkeypatch.setattr(validate, "DASK_CHUNK", 5)  # 264 chunks
    started = threading.Event()
    if phase == "writing parts":
        monkeypatch.setattr(parts, "_result", _signalling(parts._result, started))
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
        victim = sorted(client.run(os.getpid).values())[0]
        ended = threading.Event()
        killed: list[bool] = []  # whether the export was still running when the worker was killed

        def kill() -> None:
            if phase == "checking":  # a first chunk checked and spooled (the scheduler runs in this process)
                while not ended.is_set() and not any(task.state == "memory" for task in own.scheduler.tasks.values()):
                    time.sleep(0.005)
            else:  # a first part written
                started.wait(timeout=300)
            killed.append(not ended.is_set())
            os.kill(victim, signal.SIGKILL)

        killer = threading.Thread(target=kill, daemon=True)
        killer.start()
        try:
            api.export([str(corpus)], "csv", to=remote, parts=40, scheduler=client)
        finally:
            ended.set()
            started.set()
            killer.join(timeout=60)
        assert killed == [True]
        events = [event for _, event in own.scheduler.get_events("all") if isinstance(event, dict)]
        assert any(event.get("action") == "remove-worker" for event in events)
    assert tree(remote) == tree(local)
    assert spools(tmp_path) == []


def _signalling(function: t.Callable[..., t.Any], event: t.Any) -> t.Callable[..., t.Any]:
    def wrapped(*args: t.Any, **kwargs: t.Any) -> t.Any:
        result = function(*args, **kwargs)
        event.set()
        return result

    return wrapped


def test_a_relative_output_is_written_where_the_client_runs(
    cluster: t.Any, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers run in another folder: the staging folder they write into is named absolutely."""
    workers_cwd = set(cluster.run(os.getcwd).values())
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert os.getcwd() not in workers_cwd
    api.export([str(corpus)], "csv", to="outp", parts=2, scheduler=cluster)
    assert (tmp_path / "here" / "outp" / "datapackage.json").is_file()
    assert not any(Path(folder, "outp").exists() for folder in workers_cwd)


def test_a_failed_export_on_the_cluster_leaves_no_staging_folder(cluster: t.Any, corpus: Path, tmp_path: Path) -> None:
    """A part the write refuses (a link in its place) fails the export while other parts are still
    being written: none of them may bring the removed staging folder back."""
    from records_toolkit.errors import OutputError

    out = tmp_path / "out"
    (out / "agreements").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("not yours", encoding="utf-8")
    (out / "agreements" / "part-00001.csv").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(OutputError, match="link"):
        api.export([str(corpus)], "csv", to=out, parts=8, scheduler=cluster)
    for _ in range(200):  # until the cluster has nothing left to run
        if not any(cluster.processing().values()):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    assert sorted(p.name for p in out.iterdir()) == ["agreements"]
    assert (tmp_path / "secret.txt").read_text(encoding="utf-8") == "not yours"
