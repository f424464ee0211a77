"""`toolkit init DIR`: a records repository ready to use, and install lines that work as written."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from records_toolkit import api
from records_toolkit.cli import main
from records_toolkit.errors import UsageError
from records_toolkit.scaffold import EXAMPLE_IDS, Initialized

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = Path(sys.executable).with_name("toolkit")
VERSION = importlib.metadata.version("records-toolkit")
SOURCE = "https://github.com/example-owner/records-toolkit"
FILES = {
    "records-toolkit.toml",
    "README.md",
    ".pre-commit-config.yaml",
    ".github/workflows/records.yml",
    "records/articles/example-article.yaml",
    "records/events/example-festival-2024.yaml",
}
FORMATS = {"csv": "tables", "jsonld": "out.jsonld", "ics": "out.ics", "markdown": "out.md"}


def _url(folder: Path) -> str:
    """A local repository as the install lines name it: ``file://localhost/PATH`` (old pip refuses ``file:///``)."""
    return "file://localhost" + folder.as_uri().removeprefix("file://")


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links not followed), by relative name."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def _init(runner: CliRunner, directory: Path, *args: str) -> t.Any:
    return runner.invoke(main, ["init", str(directory), *args])


def _workflow(repo: Path) -> dict[str, t.Any]:
    return t.cast(
        dict[str, t.Any], yaml.safe_load((repo / ".github/workflows/records.yml").read_text(encoding="utf-8"))
    )


def _pip_line(repo: Path) -> str:
    (step,) = [s for s in _workflow(repo)["jobs"]["records"]["steps"] if str(s.get("run", "")).startswith("pip ")]
    return str(step["run"])


# -- a ready repository ----------------------------------------------------------------------------


def test_init_writes_a_repository_where_validate_and_every_export_work(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "my-records"
    result = _init(runner, repo, "--toolkit-source", SOURCE)
    assert result.exit_code == 0, result.output
    assert set(_files(repo)) == FILES
    for name in FILES:
        assert f"wrote {repo.as_posix()}/{name}" in result.stderr
    assert "next: cd" in result.stderr
    # from the new repository (config discovery: no path given), and from a folder inside it
    monkeypatch.chdir(repo)
    checked = runner.invoke(main, ["validate"])
    assert (checked.exit_code, checked.stdout) == (0, "ok: 2 records in 2 files, no problems\n"), checked.output
    monkeypatch.chdir(repo / "records" / "events")
    checked = runner.invoke(main, ["validate"])
    assert (checked.exit_code, checked.stdout) == (0, "ok: 2 records in 2 files, no problems\n"), checked.output
    monkeypatch.chdir(repo)
    assert runner.invoke(main, ["fmt", "--check"]).exit_code == 0
    for fmt, target in FORMATS.items():
        done = runner.invoke(main, ["export", "-f", fmt, "-o", target])
        assert done.exit_code == 0, (fmt, done.output)
        assert (repo / target).exists() and (
            any((repo / target).iterdir()) if fmt == "csv" else (repo / target).stat().st_size
        )
    events = [line for line in (repo / "out.ics").read_text(encoding="utf-8").splitlines() if line == "BEGIN:VEVENT"]
    assert len(events) == 1  # the example event: a calendar with something in it


def test_the_example_records_are_marked_as_examples_and_canonical(tmp_path: Path) -> None:
    from records_toolkit.canonical import dumps

    repo = tmp_path / "repo"
    api.init(repo, toolkit_source=SOURCE)
    records = {r["id"]: r for r in api.load(repo / "records")}
    assert set(records) == set(EXAMPLE_IDS)
    for record_id, record in records.items():
        assert "example written by `toolkit init`" in record["notes"], record_id
        path = repo / "records" / f"{record['type']}s" / f"{record_id}.yaml"
        assert path.read_text(encoding="utf-8") == dumps([record])
    event = records["example-festival-2024"]
    assert event["sources"][0]["article"] == "example-article"
    assert event["sources"][0]["quote"] in records["example-article"]["text"]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    for command in ("toolkit new", "toolkit quote", "toolkit validate", "toolkit fmt", "toolkit export"):
        assert command in readme
    assert "records/<type>s/<id>.yaml" in readme and "example-article.yaml" in readme


def test_the_install_lines_name_the_toolkit_source_in_every_file(runner: CliRunner, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert _init(runner, repo, "--toolkit-source", f"git+{SOURCE}/").exit_code == 0  # `git+` and `/` dropped
    requirement = f"records-toolkit @ git+{SOURCE}@v{VERSION}"
    workflow = _workflow(repo)
    assert set(workflow["on"]) == {"push", "pull_request"}
    steps = workflow["jobs"]["records"]["steps"]
    assert [s.get("uses", "").split("@")[0] for s in steps[:2]] == ["actions/checkout", "actions/setup-python"]
    assert [s.get("run") or s["uses"].split("@")[0] for s in steps[2:]] == [
        f'pip install "{requirement}"',
        "rm -rf records/.records-toolkit-cache",
        "actions/cache",
        "toolkit validate --output-format github",
        "toolkit fmt --check",
    ]
    assert shlex.split(_pip_line(repo)) == ["pip", "install", requirement]
    config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert config == {
        "repos": [{"repo": SOURCE, "rev": f"v{VERSION}", "hooks": [{"id": hook["id"]} for hook in hooks]}]
    }
    assert f'pip install "{requirement}"' in (repo / "README.md").read_text(encoding="utf-8")


def test_the_workflow_keeps_the_result_cache_and_a_ci_run_after_a_change_reads_only_that_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workflow's cache step keeps all that `toolkit validate` writes of its cache (the cache
    folder and the key that signs it, in the runner's home: no XDG_CACHE_HOME there), and its
    step before drops a cache committed into the tree. On a new runner, a fresh checkout (new
    inodes and times) with a planted cache dropped and the kept one restored, a run after one
    change parses that file alone and reports what a run without the cache reports."""
    from helpers import files_checked_here

    from records_toolkit import cache

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE", raising=False)
    repo = tmp_path / "runner-a" / "repo"
    assert _init(runner, repo, "--toolkit-source", SOURCE).exit_code == 0
    shutil.rmtree(repo / "records")  # (the shipped records: references, quotes, 44 files)
    shutil.copytree(ROOT / "records", repo / "records", ignore=shutil.ignore_patterns(cache.CACHE_DIR))
    steps = _workflow(repo)["jobs"]["records"]["steps"]
    (drop,) = [s["run"] for s in steps if str(s.get("run", "")).startswith("rm ")]
    (kept,) = [s["with"] for s in steps if str(s.get("uses", "")).startswith("actions/cache@")]
    assert "${{ github.sha }}" in kept["key"] and kept["restore-keys"] in kept["key"]  # a new entry each run

    def kept_paths(home: Path, checkout: Path) -> list[Path]:
        return [home / p[2:] if p.startswith("~/") else checkout / p for p in kept["path"].split()]

    def every_file(*roots: Path) -> set[Path]:
        return {p for root in roots for p in root.rglob("*") if p.is_file()}

    def validate(home: Path, checkout: Path, *args: str) -> t.Any:
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.chdir(checkout)
        return CliRunner().invoke(main, ["validate", "--output-format", "json", *args])

    home_a = tmp_path / "runner-a" / "home"
    home_a.mkdir()
    before = every_file(repo, home_a)
    first = validate(home_a, repo)
    assert first.exit_code == 0, first.output
    written = every_file(repo, home_a) - before
    cached = kept_paths(home_a, repo)
    assert written and all(any(path.is_relative_to(folder) for folder in cached) for path in written)
    assert all(any(path.is_relative_to(folder) for path in written) for folder in cached)  # (each one used)
    store = tmp_path / "actions-cache"  # what actions/cache saves at the job's end
    for number, folder in enumerate(cached):
        shutil.copytree(folder, store / str(number), symlinks=True)

    home_b, checkout = tmp_path / "runner-b" / "home", tmp_path / "runner-b" / "repo"
    home_b.mkdir(parents=True)
    shutil.copytree(repo, checkout, ignore=shutil.ignore_patterns(cache.CACHE_DIR))
    for path in every_file(checkout):
        os.utime(path)  # (a checkout's times: now)
    planted = checkout / "records" / cache.CACHE_DIR
    planted.mkdir()
    (planted / "snapshot").write_bytes(b"a cache committed in a pull request")
    subprocess.run(["sh", "-c", drop], cwd=checkout, check=True)
    assert not planted.exists()
    for number, folder in enumerate(kept_paths(home_b, checkout)):
        shutil.copytree(store / str(number), folder, symlinks=True)
    place = checkout / "records" / "places" / "kayseri.yaml"
    place.write_text(place.read_text(encoding="utf-8").replace('kind: "city"', 'kind: "planet"'), encoding="utf-8")
    parsed = files_checked_here(monkeypatch)
    again = validate(home_b, checkout)
    assert parsed == ["records/places/kayseri.yaml"]
    full = validate(home_b, checkout, "--no-cache")
    assert (again.exit_code, again.stdout) == (full.exit_code, full.stdout) == (1, full.stdout)
    assert [p["file"] for p in json.loads(full.stdout)] == ["records/places/kayseri.yaml"]


def test_the_readme_shows_the_steps_of_the_workflow_init_writes(runner: CliRunner, tmp_path: Path) -> None:
    """The project README's workflow example is the one `toolkit init` writes, step for step."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("# .github/workflows/records.yml (the steps)\n", 1)[1].split("```", 1)[0]
    shown = yaml.safe_load(block)
    assert (
        _init(runner, tmp_path / "repo", "--toolkit-source", "https://github.com/OWNER/records-toolkit").exit_code == 0
    )
    written = _workflow(tmp_path / "repo")["jobs"]["records"]["steps"]
    unnamed = [{key: value for key, value in step.items() if key != "name"} for step in written]
    for step in (*shown, *unnamed):
        if str(step.get("run", "")).startswith("pip install"):
            step["run"] = re.sub(r"@v[0-9][^\"]*", "@vVERSION", step["run"])
    assert shown == unnamed


def test_a_local_clone_given_as_the_source_becomes_a_file_url(runner: CliRunner, tmp_path: Path) -> None:
    clone = tmp_path / "toolkit clone"  # a space: percent-encoded in the URL
    (clone / ".git").mkdir(parents=True)
    result = _init(runner, tmp_path / "repo", "--toolkit-source", str(clone))
    assert result.exit_code == 0, result.output
    assert shlex.split(_pip_line(tmp_path / "repo"))[2] == f"records-toolkit @ git+{_url(clone)}@v{VERSION}"
    assert "work here, not in CI elsewhere" in result.stderr  # a file:// source is this machine's only
    assert f"the tag v{VERSION} is not in {clone}" in result.stderr  # and it has no tag yet


@pytest.mark.parametrize(
    "given",
    [
        "ftp://example.org/toolkit",
        "https://example.org/a b",
        'https://x/"',
        "nowhere/",
        "https://x/$(id)",  # a command substitution inside the double-quoted pip line
        "https://x/!event",  # history expansion when the README line is pasted
        "https://",  # no host
        "file:///nonexistent-toolkit-source",
        "/",  # a directory, but not a git repository
    ],
)
def test_a_toolkit_source_that_cannot_stand_in_an_install_line_is_refused(
    runner: CliRunner, tmp_path: Path, given: str
) -> None:
    result = _init(runner, tmp_path / "repo", "--toolkit-source", given)
    assert result.exit_code == 2 and "--toolkit-source" in result.stderr, result.output
    assert not (tmp_path / "repo").exists()


# -- where the toolkit comes from ------------------------------------------------------------------


class _Installed:
    """A stand-in for the installed distribution, with the direct_url.json given."""

    def __init__(self, direct_url: dict[str, t.Any] | None) -> None:
        self.direct_url = direct_url
        self.version = VERSION

    def read_text(self, name: str) -> str | None:
        assert name == "direct_url.json"
        return None if self.direct_url is None else json.dumps(self.direct_url)


def _installed_from(monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, t.Any] | None) -> None:
    real = importlib.metadata.distribution

    def distribution(name: str) -> t.Any:
        return _Installed(direct_url) if name == "records-toolkit" else real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)


def test_the_source_is_where_this_toolkit_was_installed_from(tmp_path: Path) -> None:
    """The real installation of this test run: its direct_url.json decides, read here independently."""
    text = importlib.metadata.distribution("records-toolkit").read_text("direct_url.json")
    info = json.loads(text) if text else {}
    url = info.get("url", "")
    if "vcs_info" in info:
        expected: str | None = url
    elif "dir_info" in info and url.startswith("file:///") and (Path(url[len("file://") :]) / ".git").exists():
        expected = "file://localhost" + url[len("file://") :]  # old pip refuses git+file:/// (no host)
    else:
        expected = None
    if expected is None:
        with pytest.raises(UsageError, match="--toolkit-source"):
            api.init(tmp_path / "repo")
        return
    done = api.init(tmp_path / "repo")
    assert (done.source.url, done.source.rev) == (expected, f"v{VERSION}")
    assert f"git+{expected}@v{VERSION}" in _pip_line(tmp_path / "repo")


@pytest.mark.parametrize(
    "direct_url",
    [
        {"url": "https://github.com/o/records-toolkit", "vcs_info": {"vcs": "git", "commit_id": "ab" * 20}},
        {
            "url": "git+ssh://git@example.org/o/records-toolkit.git",
            "vcs_info": {"vcs": "git", "requested_revision": "x"},
        },
    ],
)
def test_a_git_install_gives_its_repository(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, t.Any]
) -> None:
    _installed_from(monkeypatch, direct_url)
    result = _init(runner, tmp_path / "repo")
    assert result.exit_code == 0, result.output
    url = direct_url["url"].removeprefix("git+")
    assert _pip_line(tmp_path / "repo") == f'pip install "records-toolkit @ git+{url}@v{VERSION}"'


def test_a_local_git_directory_install_gives_a_file_url(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    _installed_from(monkeypatch, {"url": checkout.as_uri(), "dir_info": {"editable": True}})
    result = _init(runner, tmp_path / "repo")
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tmp_path / "repo/.pre-commit-config.yaml").read_text())
    assert config["repos"][0]["repo"] == _url(checkout)


@pytest.mark.parametrize(
    ("direct_url", "why"),
    [
        (None, "package index or a wheel"),
        ({"url": "https://example.org/records_toolkit-0.1.0.tar.gz", "archive_info": {}}, "archive"),
        ({"url": "file:///nowhere/records-toolkit", "dir_info": {}}, "not a git repository"),
        ({"url": "https://example.org/hg/toolkit", "vcs_info": {"vcs": "hg", "commit_id": "1"}}, "not git"),
    ],
)
def test_without_a_known_source_init_refuses_and_writes_nothing(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, t.Any] | None, why: str
) -> None:
    _installed_from(monkeypatch, direct_url)
    result = _init(runner, tmp_path / "repo")
    assert result.exit_code == 2, result.output
    assert "give --toolkit-source URL" in result.stderr and why in result.stderr
    assert "nothing written" in result.stderr
    assert not (tmp_path / "repo").exists()
    assert _init(runner, tmp_path / "repo", "--toolkit-source", SOURCE).exit_code == 0  # the way out it names


# -- the directory ---------------------------------------------------------------------------------


def test_an_empty_directory_or_one_with_only_git_is_fine(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert _init(runner, tmp_path / "empty", "--toolkit-source", SOURCE).exit_code == 0
    (tmp_path / "cloned" / ".git").mkdir(parents=True)
    assert _init(runner, tmp_path / "cloned", "--toolkit-source", SOURCE).exit_code == 0
    assert set(_files(tmp_path / "cloned")) == FILES


def test_a_directory_that_is_not_empty_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").write_text("mine\n")
    result = _init(runner, repo, "--toolkit-source", SOURCE)
    assert result.exit_code == 2, result.output
    assert f"{repo.as_posix()} is not empty" in result.stderr and "notes.txt" in result.stderr
    assert "--force" in result.stderr and "nothing written" in result.stderr
    assert _files(repo) == {"notes.txt": b"mine\n"}
    file = tmp_path / "a-file"
    file.write_text("x")
    assert _init(runner, file, "--toolkit-source", SOURCE).exit_code == 2


def test_force_adds_the_missing_files_and_never_replaces_one(runner: CliRunner, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "LICENSE").write_text("mine\n")
    result = _init(runner, repo, "--toolkit-source", SOURCE, "--force")
    assert result.exit_code == 0, result.output
    assert set(_files(repo)) == FILES | {"LICENSE"}
    again = _init(runner, repo, "--toolkit-source", SOURCE, "--force")  # idempotent: the same files are kept
    assert again.exit_code == 0 and again.stderr.count("already there, the same") == len(FILES), again.output
    before = _files(repo)
    (repo / "README.md").write_text("# my own readme\n")
    (repo / ".pre-commit-config.yaml").unlink()
    refused = _init(runner, repo, "--toolkit-source", SOURCE, "--force")
    assert refused.exit_code == 2, refused.output
    assert "README.md with other content" in refused.stderr and "never replaces a file" in refused.stderr
    assert not (repo / ".pre-commit-config.yaml").exists()  # nothing written: not even the missing file
    assert (repo / "README.md").read_text() == "# my own readme\n"
    assert set(before) - set(_files(repo)) == {".pre-commit-config.yaml"}


def test_force_adds_no_examples_to_records_already_there(runner: CliRunner, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "records" / "places", repo / "records" / "places")
    result = _init(runner, repo, "--toolkit-source", SOURCE, "--force")
    assert result.exit_code == 0, result.output
    assert "no example records added" in result.stderr
    assert not (repo / "records" / "articles").exists()
    assert "example-article" not in (repo / "README.md").read_text(encoding="utf-8")


def test_a_link_at_dir_or_inside_it_never_redirects_the_writes(runner: CliRunner, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tmp_path / "link"
    link.symlink_to(outside, target_is_directory=True)
    result = _init(runner, link, "--toolkit-source", SOURCE)
    assert result.exit_code == 2 and "is a symbolic link" in result.stderr, result.output
    assert not any(outside.iterdir())
    for inside in (".github", "records", "README.md"):
        repo = tmp_path / f"repo-{inside.strip('.')}"
        repo.mkdir()
        (repo / inside).symlink_to(outside / inside)
        if inside != "README.md":
            (outside / inside).mkdir()
        result = _init(runner, repo, "--toolkit-source", SOURCE, "--force")
        assert result.exit_code == 2 and "symbolic link" in result.stderr, (inside, result.output)
        assert [p for p in outside.rglob("*") if p.is_file()] == [], inside
        assert sorted(p.name for p in repo.iterdir()) == [inside]


def test_a_failed_write_leaves_nothing(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """All or nothing: the third file cannot be moved in; the first two are taken out again, DIR removed."""
    import records_toolkit.output as output

    real = os.replace
    moved: list[str] = []

    def replace(src: t.Any, dst: t.Any, **at: t.Any) -> None:
        if ".toolkit-tmp-" in str(src) and "/new/" in str(src):
            moved.append(str(dst))
            if len(moved) == 3:
                raise OSError(28, "No space left on device")
        real(src, dst, **at)

    monkeypatch.setattr(output.os, "replace", replace)
    repo = tmp_path / "new" / "repo"
    result = _init(runner, repo, "--toolkit-source", SOURCE)
    assert result.exit_code == 3 and "nothing was changed" in result.stderr, result.output
    assert len(moved) == 3 and not (tmp_path / "new").exists()
    moved.clear()
    repo.mkdir(parents=True)
    (repo / ".git").mkdir()
    result = _init(runner, repo, "--toolkit-source", SOURCE)
    assert result.exit_code == 3 and [p.name for p in repo.iterdir()] == [".git"], result.output


# -- from Python, from a shell ---------------------------------------------------------------------


def test_api_init_from_python(tmp_path: Path) -> None:
    done = api.init(str(tmp_path / "repo"), toolkit_source=SOURCE)
    assert isinstance(done, Initialized)
    assert set(done.written) == FILES and done.kept == () and done.notices == ()
    assert (done.source.url, done.source.rev, done.source.version) == (SOURCE, f"v{VERSION}", VERSION)
    assert done.source.pip_line == f'pip install "records-toolkit @ git+{SOURCE}@v{VERSION}"'
    report = api.validate(tmp_path / "repo" / "records")
    assert report.ok and len(report.valid) == 2
    with pytest.raises(UsageError, match="not empty"):
        api.init(tmp_path / "repo", toolkit_source=SOURCE)
    with pytest.raises(UsageError):
        api.init("", toolkit_source=SOURCE)
    with pytest.raises(UsageError):
        api.init(tmp_path / "other", toolkit_source=42)  # type: ignore[arg-type]


def test_init_in_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TOOLKIT_SCHEMAS"}
    done = subprocess.run(
        [TOOLKIT, "init", "my-records", "--toolkit-source", SOURCE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert set(_files(tmp_path / "my-records")) == FILES
    checked = subprocess.run(
        [TOOLKIT, "validate"], cwd=tmp_path / "my-records", capture_output=True, text=True, env=env, timeout=120
    )
    assert (checked.returncode, checked.stdout) == (0, "ok: 2 records in 2 files, no problems\n"), checked.stderr


def test_init_help_ends_with_examples(runner: CliRunner) -> None:
    result = runner.invoke(main, ["init", "--help"])
    assert result.exit_code == 0
    assert "--toolkit-source URL" in result.output and "--force" in result.output
    tail = result.output.rstrip().split("Examples:")[-1]
    assert "toolkit init my-records" in tail and "--toolkit-source" in tail
    assert "init" in runner.invoke(main, ["--help"]).output


# -- the install lines, as written -----------------------------------------------------------------


def _git(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    done = subprocess.run(["git", *identity, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def _scratch_clone(target: Path) -> None:
    """A clone of this repository holding its working tree as it is now (uncommitted and untracked
    files too: what the next commit holds), committed: in CI, a fresh clone, the same."""
    _git("clone", "-q", ROOT, target, cwd=target.parent)
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source, copy = ROOT / name, target / name
        try:
            info = os.lstat(source)
        except FileNotFoundError:  # deleted in the working tree
            if copy.is_symlink() or copy.exists():
                copy.unlink()
            continue
        if copy.is_symlink() or copy.is_file():
            copy.unlink()
        copy.parent.mkdir(parents=True, exist_ok=True)
        if stat.S_ISLNK(info.st_mode):
            copy.symlink_to(os.readlink(source))
        elif stat.S_ISREG(info.st_mode):
            shutil.copy2(source, copy)
    _git("add", "-A", cwd=target)
    _git("commit", "-q", "--allow-empty", "-m", "the working tree", cwd=target)
    for tag in subprocess.run(["git", "tag", "-l"], cwd=target, capture_output=True, text=True).stdout.split():
        _git("tag", "-d", tag, cwd=target)  # the release tags of the real repository: this clone makes its own


@pytest.mark.slow
def test_the_install_lines_work_as_written(tmp_path: Path) -> None:
    """A scratch clone tagged by `make release`; the workflow's pip line, word for word, in a fresh venv
    (offline: the dependencies come from this environment); the pre-commit config's hooks on the new
    repository (`pre-commit run`, which builds its hook environment from the package registry)."""
    from test_wheel import copy_distribution, run, runtime_distributions

    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs git and a git checkout of the toolkit")
    toolkit_repo = tmp_path / "toolkit"
    _scratch_clone(toolkit_repo)

    # `make release` tags the version; it refuses a second time, and refuses a dirty tree
    make = ["make", "-s", "release", f"PYTHON={sys.executable}"]
    released = subprocess.run(make, cwd=toolkit_repo, capture_output=True, text=True, timeout=120)
    assert released.returncode == 0, released.stdout + released.stderr
    assert _git("tag", "-l", cwd=toolkit_repo).stdout.split() == [f"v{VERSION}"]
    again = subprocess.run(make, cwd=toolkit_repo, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "exists already" in again.stderr
    (toolkit_repo / "stray.txt").write_text("x\n")
    dirty = subprocess.run(make, cwd=toolkit_repo, capture_output=True, text=True, timeout=120)
    assert dirty.returncode != 0 and "not committed" in dirty.stderr
    (toolkit_repo / "stray.txt").unlink()

    repo = tmp_path / "my-records"
    made = CliRunner(catch_exceptions=False).invoke(
        main, ["init", str(repo), "--toolkit-source", toolkit_repo.as_uri()]
    )
    assert made.exit_code == 0, made.output
    assert "is not in" not in made.stderr  # the tag exists now: no warning

    # the workflow's pip line, exactly, in a fresh venv; offline flags added, the requirement untouched
    words = shlex.split(_pip_line(repo))
    assert words[:2] == ["pip", "install"] and words[2] == f"records-toolkit @ git+{_url(toolkit_repo)}@v{VERSION}"
    needed = runtime_distributions([*(importlib.metadata.requires("records-toolkit") or []), "hatchling>=1.21"])
    deps = tmp_path / "deps"
    for distribution in needed.values():
        copy_distribution(distribution, deps)
    env_dir = tmp_path / "venv"
    import venv

    venv.create(env_dir, with_pip=True)
    python, bin_dir = env_dir / "bin" / "python", env_dir / "bin"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    (Path(purelib.stdout.strip()) / "_init_test_deps.pth").write_text(f"{deps}\n")
    offline = ["--no-index", "--no-deps", "--no-build-isolation", "--quiet"]
    installed = run(bin_dir / words[0], words[1], *offline, *words[2:], cwd=tmp_path, offline=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr[-3000:]
    version = run(bin_dir / "toolkit", "--version", cwd=repo, offline=True)
    assert (version.returncode, version.stdout) == (0, f"toolkit {VERSION}\n"), version.stderr
    checked = run(bin_dir / "toolkit", "validate", "--output-format", "github", cwd=repo, offline=True)
    assert checked.returncode == 0 and checked.stdout.startswith("::notice "), checked.stdout + checked.stderr
    assert "no problems" in checked.stdout and "::error" not in checked.stdout
    assert run(bin_dir / "toolkit", "fmt", "--check", cwd=repo, offline=True).returncode == 0
    # that toolkit knows where it came from: its own init needs no --toolkit-source
    second = run(bin_dir / "toolkit", "init", tmp_path / "second", cwd=tmp_path, offline=True)
    assert second.returncode == 0, second.stderr
    assert shlex.split(_pip_line(tmp_path / "second")) == words

    # the pre-commit config, as written, on the new repository
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}
    env.pop("VIRTUAL_ENV", None)
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-qm", "toolkit init", cwd=repo)
    hooks = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert hooks.returncode == 0, hooks.stdout + hooks.stderr
    assert "toolkit validate" in hooks.stdout and "toolkit fmt" in hooks.stdout
    assert hooks.stdout.count("Passed") == 2, hooks.stdout
    # and they catch a problem: a record not in canonical form
    record = repo / "records" / "events" / "example-festival-2024.yaml"
    record.write_text(record.read_text(encoding="utf-8").replace('kind: "other"', "kind: other"), encoding="utf-8")
    caught = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert caught.returncode == 1 and "files were modified by this hook" in caught.stdout, caught.stdout
