"""fsspec URLs as paths (issue 9): `toolkit validate memory://records/`, `toolkit export ... s3://...`.

A user's sessions: the shipped records copied into the in-memory file system give the report of
the same tree on disk, problem for problem and in order, only the names differing (full URLs);
exports from there are byte-identical; a file:// URL is its local path; a URL that does not exist
is a missing path; an unknown scheme, a backend or fsspec not installed exit 2 saying what to
install; and fsspec is never imported for plain paths. memory:// lives in one process: the
CliRunner tests fill it in their own process, the subprocess tests use file:// URLs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import typing as t
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import SHIPPED

from records_toolkit import api
from records_toolkit.cli import main
from records_toolkit.loader import TEMP_PREFIX, is_url

fsspec = pytest.importorskip("fsspec")

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
TOOLKIT = Path(sys.executable).with_name("toolkit")
LOCAL = "t0tree"  # the local tree's folder: a name found nowhere in the records, so mapping it is safe
FORMS = ("text", "json", "github")
NO_CACHE = shutil.ignore_patterns(".records-toolkit-cache")  # (a run in the working copy may have left one)


class Memory:
    """A folder of the in-memory file system for one test, removed after it."""

    def __init__(self) -> None:
        self.fs = fsspec.filesystem("memory")
        self.base = f"/records-toolkit-test-{uuid.uuid4().hex}"

    def url(self, relative: str = "") -> str:
        return f"memory:/{self.base}" + (f"/{relative}" if relative else "")

    def copy(self, tree: Path, relative: str) -> str:
        """``tree`` (its files and folders, empty ones too) copied to ``relative``; its URL."""
        for path in sorted(tree.rglob("*")):
            target = f"{self.base}/{relative}/{path.relative_to(tree).as_posix()}"
            if path.is_dir():
                self.fs.mkdir(target)
            else:
                self.fs.pipe(target, path.read_bytes())
        return self.url(relative)

    def remove(self) -> None:
        if self.fs.exists(self.base):
            self.fs.rm(self.base, recursive=True)


@pytest.fixture
def memory() -> t.Iterator[Memory]:
    found = Memory()
    yield found
    found.remove()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory outside any collection, with a copy of the shipped records in ``t0tree/``."""
    shutil.copytree(RECORDS, tmp_path / LOCAL, ignore=NO_CACHE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def break_tree(tree: Path, limit: int) -> None:
    """Every kind of problem the tree walk and the loader report, in one tree."""
    event = tree / "events" / "efes-2022.yaml"
    text = event.read_text(encoding="utf-8")
    event.write_text(text.replace('name: "', 'nmae: "', 1), encoding="utf-8")  # an invalid record
    (tree / "places" / "kayseri.yaml").write_text(
        (tree / "places" / "kayseri.yaml").read_text(encoding="utf-8").replace('within: "turkey"', 'within: "nowhere"'),
        encoding="utf-8",
    )  # a dangling reference
    (tree / "places" / "broken.yaml").write_text('id: "broken"\ntype: "place"\nname: [unclosed\n', encoding="utf-8")
    (tree / "places" / "huge.yaml").write_text("# " + "x" * (limit + 100) + "\n", encoding="utf-8")
    (tree / "places" / "latin1.yaml").write_bytes(b'id: "caf\xe9"\n')  # not UTF-8
    (tree / "places" / "two.yml").write_text('id: "a"\ntype: "place"\n---\n- 1\n', encoding="utf-8")
    (tree / "notes.txt").write_text("not a record\n", encoding="utf-8")
    (tree / "empty").mkdir()
    (tree / "persons" / f"{TEMP_PREFIX}123-abc").mkdir()
    (tree / "persons" / f"{TEMP_PREFIX}123-abc" / "hidden.yaml").write_text("id: hidden\n", encoding="utf-8")


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def as_url(output: str, url: str, form: str = "text") -> str:
    """The local run's output with its names spelled as in the URL's run (GitHub's workflow
    commands escape the ``:`` of a property as ``%3A``)."""
    if form == "github":
        url = url.replace(":", "%3A")
    return output.replace(f"{LOCAL}/", f"{url}/").replace(f"{LOCAL}:", f"{url}:")


def limit_for(tree: Path) -> int:
    return max(path.stat().st_size for path in tree.rglob("*.yaml")) + 100


# -- validate: the same report ---------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_the_shipped_records_in_memory_give_the_report_of_the_tree_on_disk(
    runner: CliRunner, here: Path, memory: Memory, form: str
) -> None:
    url = memory.copy(here / LOCAL, "records")
    local = invoke(runner, "validate", "--output-format", form, LOCAL)
    remote = invoke(runner, "validate", "--output-format", form, url + "/")  # a trailing slash: the same names
    assert (local.exit_code, remote.exit_code) == (0, 0), remote.output
    assert remote.stdout == as_url(local.stdout, url, form)
    if form == "text":
        assert remote.stdout == f"ok: {SHIPPED} records in {SHIPPED} files, no problems\n"


@pytest.mark.parametrize("form", FORMS)
def test_a_broken_tree_in_memory_gives_the_report_of_the_tree_on_disk(
    runner: CliRunner, here: Path, memory: Memory, form: str
) -> None:
    limit = limit_for(here / LOCAL)
    break_tree(here / LOCAL, limit)
    url = memory.copy(here / LOCAL, "records")
    size = ("--max-file-size", str(limit))
    local = invoke(runner, "validate", *size, "--output-format", form, LOCAL)
    remote = invoke(runner, "validate", *size, "--output-format", form, url)
    assert (local.exit_code, remote.exit_code) == (1, 1), remote.output
    assert remote.stdout == as_url(local.stdout, url, form)
    assert remote.stderr == local.stderr == ""
    if form == "json":
        found = json.loads(remote.stdout)
        codes = {problem["code"] for problem in found}
        assert {
            "schema-unknown-key",
            "schema-required",
            "dangling-reference",
            "yaml-syntax",
            "file-too-large",
            "encoding",
            "yaml-not-mapping",
            "leftover-temp",
        } <= codes
        assert all(problem["file"].startswith(url + "/") for problem in found)
        syntax = next(problem for problem in found if problem["code"] == "yaml-syntax")
        assert (syntax["file"], syntax["line"], syntax["column"]) == (f"{url}/places/broken.yaml", 3, 7)
        dangling = next(problem for problem in found if problem["code"] == "dangling-reference")
        assert (dangling["file"], dangling["line"]) == (f"{url}/places/kayseri.yaml", 5)
    if form == "text":  # the source line and caret, read back through fsspec
        assert f"{url}/places/broken.yaml:3:7: error: " in remote.stdout
        assert '    within: "nowhere"\n            ^\n' in remote.stdout


def test_a_file_over_the_limit_is_refused_before_it_is_read(
    runner: CliRunner, here: Path, memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk knows the size: the file is never fetched (an object store would send it whole)."""
    limit = limit_for(here / LOCAL)
    (here / LOCAL / "places" / "huge.yaml").write_text("# " + "x" * 10 * limit + "\n", encoding="utf-8")
    url = memory.copy(here / LOCAL, "records")
    fetched: list[str] = []
    cat_file = type(memory.fs).cat_file

    def spy(self: t.Any, path: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        fetched.append(path)
        return cat_file(self, path, *args, **kwargs)

    monkeypatch.setattr(type(memory.fs), "cat_file", spy)
    done = invoke(runner, "validate", "--max-file-size", str(limit), "--output-format", "json", url)
    assert done.exit_code == 1
    (problem,) = json.loads(done.stdout)
    assert problem["code"] == "file-too-large" and problem["file"] == f"{url}/places/huge.yaml"
    assert problem["message"] == f"file is {10 * limit + 3} bytes; the limit is {limit} (--max-file-size)"
    assert f"{memory.base}/records/places/kayseri.yaml" in fetched  # (the spy sees the reads)
    assert not any(path.endswith("huge.yaml") for path in fetched)


def test_files_and_folders_named_one_by_one(runner: CliRunner, here: Path, memory: Memory) -> None:
    """Files, folders, a folder without records, a file named twice, local paths and URLs mixed:
    the order and the problems of the same paths on disk."""
    (here / LOCAL / "empty").mkdir()
    url = memory.copy(here / LOCAL, "records")
    named = ["places/kayseri.yaml", "events", "empty", "places/kayseri.yaml", "nothing.yaml", "places"]
    local = invoke(runner, "validate", "--output-format", "json", *(f"{LOCAL}/{n}" for n in named))
    remote = invoke(runner, "validate", "--output-format", "json", *(f"{url}/{n}" for n in named))
    assert (local.exit_code, remote.exit_code) == (1, 1)
    assert remote.stdout == as_url(local.stdout, url)
    codes = {p["code"] for p in json.loads(remote.stdout)}  # (half a collection: references dangle)
    assert codes == {"no-records", "file-unreadable", "dangling-reference"}
    halves = [
        f"{LOCAL}/places",
        f"{url}/events",
        f"{url}/articles",
        f"{LOCAL}/agreements",
        f"{LOCAL}/places/kayseri.yaml",
    ]
    halves += [f"{url}/organizations", f"{LOCAL}/persons", f"{url}/events/efes-2022.yaml"]  # (two named twice)
    mixed = invoke(runner, "validate", *halves)
    assert mixed.exit_code == 0 and mixed.stdout == f"ok: {SHIPPED} records in {SHIPPED} files, no problems\n"
    from records_toolkit.remote import iter_names

    found = [name for name in iter_names(halves) if isinstance(name, str)]
    given_at = [
        next(n for n, half in enumerate(halves) if name == half or name.startswith(half + "/")) for name in found
    ]
    assert len(found) == SHIPPED and given_at == sorted(given_at)  # (each path's files where it was named)


def test_a_url_that_does_not_exist_is_a_missing_path(runner: CliRunner, here: Path, memory: Memory) -> None:
    local = invoke(runner, "validate", "no/such/records")
    remote = invoke(runner, "validate", memory.url("no/such/records"))
    assert (local.exit_code, remote.exit_code) == (1, 1)
    assert remote.stdout == local.stdout.replace("no/such/records", memory.url("no/such/records"))
    assert "cannot read: no such file or directory [file-unreadable]" in remote.stdout


def test_the_python_api_takes_urls(here: Path, memory: Memory) -> None:
    url = memory.copy(here / LOCAL, "records")
    report = api.validate([url])
    assert report.ok and len(report.valid) == SHIPPED
    assert report.valid == api.validate([LOCAL]).valid
    assert api.export([url], "jsonld").data == api.export([LOCAL], "jsonld").data


def test_a_url_draft_against_a_local_collection_writes_no_cache(
    runner: CliRunner, here: Path, memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--collection: a draft in an object store checked against the collection on disk. The result
    cache is for local trees: a run with a URL neither reads nor writes it (and does not fail)."""
    monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE", raising=False)
    draft = (here / LOCAL / "places" / "kayseri.yaml").read_text(encoding="utf-8").replace('"kayseri"', '"kayseri-2"')
    memory.fs.pipe(f"{memory.base}/drafts/kayseri-2.yaml", draft.encode())
    against = invoke(runner, "validate", "--collection", LOCAL, memory.url("drafts"))
    assert against.exit_code == 0 and against.stdout == "ok: 1 record in 1 file, no problems\n", against.output
    alone = invoke(runner, "validate", "--no-collection", "--output-format", "json", memory.url("drafts"))
    assert alone.exit_code == 1
    assert {p["code"] for p in json.loads(alone.stdout)} == {"dangling-reference"}  # turkey, the article
    assert not (here / LOCAL / ".records-toolkit-cache").exists()
    assert invoke(runner, "validate", "--jobs", "2", memory.url("drafts/kayseri-2.yaml")).exit_code == 1


# -- file:// URLs are local paths -------------------------------------------------------------------


def test_a_file_url_gives_the_report_of_its_local_path(runner: CliRunner, here: Path) -> None:
    tree = (here / LOCAL).resolve()
    same = invoke(runner, "validate", f"file://{tree.as_posix()}")
    assert same.exit_code == 0 and same.stdout == f"ok: {SHIPPED} records in {SHIPPED} files, no problems\n"
    limit = limit_for(tree)
    break_tree(tree, limit)
    for form in FORMS:
        args = ("validate", "--max-file-size", str(limit), "--output-format", form)
        local = invoke(runner, *args, tree.as_posix())
        remote = invoke(runner, *args, f"file://{tree.as_posix()}")
        assert (local.exit_code, remote.exit_code) == (1, 1)
        assert remote.stdout == local.stdout


def test_the_installed_command_takes_file_urls(tmp_path: Path) -> None:
    """The console script in a subprocess (its fast launcher, then click), as a user runs it."""
    tree = tmp_path / "records"
    shutil.copytree(RECORDS, tree, ignore=NO_CACHE)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(TOOLKIT), *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)

    for args in ([], ["--collection", str(tree)]):
        local, remote = run("validate", *args, str(tree)), run("validate", *args, tree.as_uri())
        assert (local.returncode, remote.returncode) == (0, 0), remote.stderr
        assert remote.stdout == local.stdout == f"ok: {SHIPPED} records in {SHIPPED} files, no problems\n"
    break_tree(tree, limit_for(tree))
    local, remote = run("validate", "--no-collection", str(tree)), run("validate", "--no-collection", tree.as_uri())
    assert (local.returncode, remote.returncode) == (1, 1)
    assert remote.stdout == local.stdout and "[dangling-reference]" in remote.stdout
    unknown = run("validate", "nosuchfs://bucket/records")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.startswith("error: nosuchfs://bucket/records: no file system is known for nosuchfs://")


# -- exports ---------------------------------------------------------------------------------------


def test_exports_from_memory_are_byte_identical_to_exports_from_disk(
    runner: CliRunner, here: Path, memory: Memory
) -> None:
    url = memory.copy(here / LOCAL, "records")
    for source, name in ((LOCAL, "local"), (url, "memory"), ((here / LOCAL).resolve().as_uri(), "file")):
        assert invoke(runner, "export", "-f", "csv", source, "-o", f"{name}-tables").exit_code == 0
        assert invoke(runner, "export", "-f", "jsonld", source, "-o", f"{name}.jsonld").exit_code == 0
    tables = sorted(path.name for path in (here / "local-tables").iterdir())
    assert "datapackage.json" in tables and len(tables) > 2
    for name in ("memory", "file"):
        assert sorted(path.name for path in (here / f"{name}-tables").iterdir()) == tables
        for table in tables:
            assert (here / f"{name}-tables" / table).read_bytes() == (here / "local-tables" / table).read_bytes()
        assert (here / f"{name}.jsonld").read_bytes() == (here / "local.jsonld").read_bytes()


def test_an_export_of_a_broken_tree_in_memory_writes_nothing(runner: CliRunner, here: Path, memory: Memory) -> None:
    break_tree(here / LOCAL, limit_for(here / LOCAL))
    url = memory.copy(here / LOCAL, "records")
    done = invoke(runner, "export", "-f", "jsonld", url, "-o", "out.jsonld")
    assert done.exit_code == 1 and not (here / "out.jsonld").exists()
    assert f"{url}/places/broken.yaml:3:7: error: " in done.stderr


# -- what cannot be read: exit 2, saying what to install ----------------------------------------------


@pytest.mark.parametrize("command", [["validate"], ["export", "-f", "jsonld"]])
def test_an_unknown_scheme_is_a_usage_error(runner: CliRunner, here: Path, command: list[str]) -> None:
    done = invoke(runner, *command, "nosuchfs://x/records")
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.startswith("error: nosuchfs://x/records: no file system is known for nosuchfs://")


def test_a_scheme_whose_backend_is_missing_says_what_to_install(runner: CliRunner, here: Path) -> None:
    from fsspec.registry import known_implementations

    known = known_implementations.get("s3")
    if known is None or importlib_available(known["class"].split(".")[0]):
        pytest.skip("s3fs is installed (or unknown to this fsspec)")
    done = invoke(runner, "validate", "s3://bucket/records/")
    assert done.exit_code == 2
    assert "s3://bucket/records/: reading s3:// URLs needs a package that is not installed" in done.stderr
    assert "s3fs" in done.stderr


def importlib_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_without_fsspec_a_url_says_what_to_install(
    runner: CliRunner, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "fsspec" or m.startswith("fsspec.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fsspec", None)  # import fsspec: ImportError
    done = invoke(runner, "validate", "memory://records")
    assert done.exit_code == 2
    assert "memory://records: a URL as a path needs fsspec, which is not installed: pip install fsspec" in done.stderr
    plain = invoke(runner, "validate", LOCAL)  # plain paths and file:// URLs never need it
    assert plain.exit_code == 0
    assert invoke(runner, "validate", (here / LOCAL).resolve().as_uri()).exit_code == 0


def test_memory_urls_on_a_dask_cluster_are_refused(runner: CliRunner, here: Path, memory: Memory) -> None:
    """memory:// lives in this process: the workers of a cluster would find nothing there."""
    pytest.importorskip("distributed")
    url = memory.copy(here / LOCAL, "records")
    done = invoke(runner, "validate", "--scheduler", "local", url)
    assert done.exit_code == 2
    assert "memory:// is a file system of this process only" in done.stderr


# -- start-up and names -------------------------------------------------------------------------------


def test_plain_paths_import_no_fsspec(tmp_path: Path) -> None:
    shutil.copytree(RECORDS, tmp_path / "records", ignore=NO_CACHE)
    code = (
        "import sys\nfrom records_toolkit import api\n"
        "assert api.validate(['records', (sys.argv[1])]).ok\n"
        "assert api.export(['records'], 'csv').files\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'fsspec'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, (tmp_path / "records").as_uri()],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert done.stdout == "[]\n"


def test_what_counts_as_a_url() -> None:
    for url in ("memory://records", "s3://bucket/x", "file:///srv/records", "simplecache::s3://b/x", "gcs://b"):
        assert is_url(url)
    for path in ("records", "/srv/records", "C://records", "c:\\records", "dir/s3://x", "records:/x", Path("s3://b")):
        assert not is_url(path)


def test_a_file_url_inside_the_collection_is_checked_against_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file:// URL is the file it names: one event named so resolves its references against the
    whole collection and reports only its own problems, as the local path does."""
    shutil.copytree(RECORDS, tmp_path / "records", ignore=shutil.ignore_patterns(".records-toolkit-cache"))
    monkeypatch.chdir(tmp_path)
    event = tmp_path / "records" / "events" / "efes-2022.yaml"
    event.write_text(event.read_text(encoding="utf-8").replace("izmir", "nowhere-at-all"), encoding="utf-8")
    by_path = api.validate([str(event)], cache=False, collection=True)
    by_url = api.validate([event.as_uri()], cache=False, collection=True)
    assert by_url.problems == by_path.problems
    assert by_path.problems and all(p.file == str(event) for p in by_path.problems)
    assert [p.code for p in by_path.problems] == ["dangling-reference"]
