"""`toolkit validate --scheduler`: the per-file checks on a Dask cluster, the same report as a local run.

One local cluster of two worker processes serves the module (the tests that use it are marked
slow); the missing extra and an unreachable scheduler need none.
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
from records_toolkit import api, validate
from records_toolkit.cli import main
from records_toolkit.errors import CouldNotRun
from records_toolkit.launcher import OUTPUT_FORMATS

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = Path(sys.executable).with_name("toolkit")


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

    def with_a_ghost(paths: t.Any, stats: t.Any = None) -> t.Iterator[t.Any]:
        yield from walk(paths, stats)
        yield (corpus / "c00002" / "zz-gone.yaml").as_posix()

    monkeypatch.setattr(validate, "iter_record_names", with_a_ghost)
    local = api.validate([corpus], collect=False)
    remote = api.validate([corpus], collect=False, scheduler=cluster)  # a caller's client: left open
    assert remote.problems == local.problems and remote.records == local.records
    assert [p.code for p in local.problems if p.file.endswith("zz-gone.yaml")] == ["file-unreadable"]
    assert cluster.status == "running"


@pytest.mark.slow
def test_a_local_cluster_fills_the_result_cache_as_a_local_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--scheduler local` (its own cluster, ended with the run), through the result cache's full run."""
    pytest.importorskip("distributed")
    from bench.corpus import make

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
    local = subprocess.run(args, capture_output=True, text=True, env=env)
    env["RECORDS_TOOLKIT_SCHEDULER"] = cluster.scheduler.address
    remote = subprocess.run(args, capture_output=True, text=True, env=env)
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
