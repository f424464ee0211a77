"""An export after a clean ``toolkit validate`` reads the result cache: the files, unchanged since,
are loaded without being checked again, and the export is the same as without the cache.

The cache only vouches; it never decides what is exported: each file is read and its SHA-256
compared with the one that was checked, so a file changed between the validate and the export
(even one whose size and times were put back) is checked again, and an invalid one stops the
export as before. The export reads the cache and never writes it.
"""

from __future__ import annotations

import os
import shutil
import time
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import files_checked_here

from records_toolkit import api, cache, plugins, streaming, validate
from records_toolkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
HOUR_AGO = time.time() - 3600
FORMATS = ("csv", "jsonld", "ics", "markdown")
FILES = len(list((ROOT / "records").rglob("*.yaml")))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped records as a collection with a config, old enough to be cached; cwd is its root."""
    monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))  # (ctime cannot be set back: the fresh copies count as settled)
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "records", repo / "records", ignore=shutil.ignore_patterns(cache.CACHE_DIR))
    (repo / "records-toolkit.toml").write_text('[collection]\npath = "records"\n', encoding="utf-8")
    for path in (repo / "records").rglob("*.yaml"):
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files checked in this process (an export the cache vouches for checks none)."""
    return files_checked_here(monkeypatch)


def _invoke(*args: str) -> Result:
    result = CliRunner(catch_exceptions=False).invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def _export(fmt: str, to: Path, *extra: str) -> Result:
    return _invoke("export", "-f", fmt, "-o", str(to), *extra)


def _files(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {"": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _after_vouching(monkeypatch: pytest.MonkeyPatch, change: t.Callable[[], object]) -> None:
    """``change`` the tree right after the cache vouched for its files as walked, before they are loaded."""
    vouching = streaming._vouched

    def then(*args: t.Any) -> bytes | None:
        expected = vouching(*args)
        assert expected is not None  # (the cache did vouch: the change comes behind its back)
        change()
        return expected

    monkeypatch.setattr(streaming, "_vouched", then)


def test_an_export_after_a_clean_validate_checks_nothing_again_and_writes_the_same(
    repo: Path, checked: list[str], tmp_path: Path
) -> None:
    assert _invoke("validate").exit_code == 0
    snapshot = repo / "records" / cache.CACHE_DIR / cache.snapshot_name(str(repo / "records"))
    before = (snapshot.read_bytes(), snapshot.stat().st_mtime_ns)
    for fmt in FORMATS:
        checked.clear()
        cached = _export(fmt, tmp_path / f"cached-{fmt}")
        assert cached.exit_code == 0, cached.output
        assert checked == [], fmt  # loaded, not checked
        assert "records loaded, not checked again: the result cache vouches for them" in cached.stderr
        full = _export(fmt, tmp_path / f"full-{fmt}", "--no-cache")
        assert full.exit_code == 0, full.output
        assert len(checked) == FILES  # every file checked
        assert "not checked again" not in full.stderr
        assert _files(tmp_path / f"cached-{fmt}") == _files(tmp_path / f"full-{fmt}"), fmt
    assert (snapshot.read_bytes(), snapshot.stat().st_mtime_ns) == before  # read, never written


def test_no_cache_from_the_environment_checks_everything(
    repo: Path, checked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _invoke("validate").exit_code == 0
    monkeypatch.setenv("RECORDS_TOOLKIT_NO_CACHE", "1")
    checked.clear()
    assert _export("jsonld", tmp_path / "out.jsonld").exit_code == 0
    assert len(checked) == FILES


def test_a_file_changed_since_the_validate_is_checked_and_stops_the_export(
    repo: Path, checked: list[str], tmp_path: Path
) -> None:
    assert _invoke("validate").exit_code == 0
    place = repo / "records" / "places" / "kayseri.yaml"
    place.write_text(place.read_text(encoding="utf-8").replace('kind: "city"', 'kind: "planet"'), encoding="utf-8")
    checked.clear()
    result = _export("csv", tmp_path / "tables")
    assert result.exit_code == 1
    assert "kayseri.yaml" in result.output and "planet" in result.output
    assert not (tmp_path / "tables").exists()
    assert len(checked) == FILES


def test_a_file_changed_behind_the_signatures_back_is_caught_by_its_hash(
    repo: Path, checked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changed after the cache vouched for the walk's signatures (its size and times put back, as
    a careful tool or a coarse clock would leave them): the SHA-256 of the bytes loaded sees it,
    and then everything is checked."""
    assert _invoke("validate").exit_code == 0
    place = repo / "records" / "places" / "kayseri.yaml"
    text = place.read_text(encoding="utf-8")
    assert 'kind: "city"' in text

    def change() -> None:
        info = place.stat()
        place.write_text(text.replace('kind: "city"', 'kind: "xity"'), encoding="utf-8")
        os.utime(place, ns=(info.st_atime_ns, info.st_mtime_ns))

    _after_vouching(monkeypatch, change)
    checked.clear()
    result = _export("jsonld", tmp_path / "out.jsonld")
    assert result.exit_code == 1, result.output
    assert "xity" in result.output
    assert not (tmp_path / "out.jsonld").exists()
    assert len(checked) == FILES


def test_the_same_holds_in_worker_processes(
    repo: Path, checked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "PARALLEL_FROM", 2)
    assert _invoke("validate", "--jobs", "2").exit_code == 0
    pooled: list[str] = []
    real = validate._in_workers

    def noting(files: t.Any, keep: bool, max_bytes: int, layout: t.Any, workers: int, work: t.Any) -> t.Any:
        pooled.append(work.__name__)
        return real(files, keep, max_bytes, layout, workers, work)

    monkeypatch.setattr(validate, "_in_workers", noting)
    checked.clear()
    cached = _export("csv", tmp_path / "cached", "--jobs", "2")
    assert cached.exit_code == 0, cached.output
    assert pooled == ["_load_chunk"] and checked == []  # loaded in two worker processes, checked nowhere
    assert _export("csv", tmp_path / "full", "--no-cache", "--jobs", "1").exit_code == 0
    assert _files(tmp_path / "cached") == _files(tmp_path / "full")
    # a file changed behind the walk's back, loaded in a worker: its hash differs, everything is
    # checked after all (in the workers), and the change, invalid, stops the export
    place = repo / "records" / "places" / "kayseri.yaml"
    text = place.read_text(encoding="utf-8")
    _after_vouching(
        monkeypatch, lambda: place.write_text(text.replace('kind: "city"', 'kind: "xity"'), encoding="utf-8")
    )
    pooled.clear()
    again = _export("csv", tmp_path / "cached2", "--jobs", "2")
    assert again.exit_code == 1, again.output
    assert "xity" in again.output
    assert pooled == ["_load_chunk", "_spool_chunk"]
    assert not (tmp_path / "cached2").exists()


def test_the_cache_vouches_only_for_a_clean_run_of_the_same_files(
    repo: Path, checked: list[str], tmp_path: Path
) -> None:
    # a validate that found a problem: the export checks (and fails) as without a cache
    draft = repo / "records" / "places" / "nowhere.yaml"
    draft.write_text('id: "nowhere"\ntype: "place"\n', encoding="utf-8")
    os.utime(draft, (HOUR_AGO, HOUR_AGO))
    assert _invoke("validate").exit_code == 1
    checked.clear()
    assert _export("jsonld", tmp_path / "a.jsonld").exit_code == 1
    assert len(checked) == FILES + 1
    draft.unlink()
    assert _invoke("validate").exit_code == 0
    # a subfolder, or files named, are not the files the cache is of
    checked.clear()
    assert _invoke("export", "-f", "jsonld", "records/places", "records/events").exit_code == 1  # (references dangle)
    assert checked
    checked.clear()
    assert _invoke("export", "-f", "jsonld", "records").exit_code == 0
    assert checked == []
    # another working folder spells the names otherwise: checked
    os.chdir(repo / "records")
    checked.clear()
    assert _invoke("export", "-f", "jsonld").exit_code == 0
    assert len(checked) == FILES


def test_an_export_checks_while_it_walks_unless_a_cache_may_vouch(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no cache folder there is nothing to ask: the workers check the first files while the
    rest is walked (issue 11). With one, the walk comes first: the cache compares its signatures."""
    streamed: list[bool] = []
    real = validate.Streamed.states

    def noting(self: validate.Streamed, *args: t.Any) -> t.Any:
        streamed.append(True)
        return real(self, *args)

    monkeypatch.setattr(validate.Streamed, "states", noting)
    assert _export("csv", tmp_path / "a", "--jobs", "2").exit_code == 0
    assert streamed == [True] and not (repo / "records" / cache.CACHE_DIR).exists()
    assert _invoke("validate").exit_code == 0
    streamed.clear()
    vouched = _export("csv", tmp_path / "b", "--jobs", "2")
    assert vouched.exit_code == 0 and streamed == [] and "not checked again" in vouched.stderr
    assert _export("csv", tmp_path / "c", "--jobs", "2", "--no-cache").exit_code == 0 and streamed == [True]
    assert _files(tmp_path / "a") == _files(tmp_path / "b") == _files(tmp_path / "c")


def test_an_export_without_a_cache_makes_none_and_no_key(repo: Path, tmp_path: Path) -> None:
    assert _export("jsonld", tmp_path / "out.jsonld").exit_code == 0
    assert not (repo / "records" / cache.CACHE_DIR).exists()
    assert not (tmp_path / "user-cache").exists()


def test_an_export_makes_no_signing_key_and_without_one_checks_everything(
    repo: Path, checked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _invoke("validate").exit_code == 0
    elsewhere = tmp_path / "another-user-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(elsewhere))  # (this user's key is not there)
    checked.clear()
    assert _export("jsonld", tmp_path / "out.jsonld").exit_code == 0
    assert len(checked) == FILES
    assert not elsewhere.exists()  # neither the key nor its folder made


def test_a_collection_named_otherwise_than_validate_named_it_is_checked(repo: Path, checked: list[str]) -> None:
    """The snapshot names files as the validate's walk spelled them (see the README)."""
    assert _invoke("validate").exit_code == 0
    checked.clear()
    assert _invoke("export", "-f", "jsonld", "./records").exit_code == 0
    assert checked == []  # (the walk spells ./records/x as records/x)
    assert _invoke("export", "-f", "jsonld", str(repo / "records")).exit_code == 0
    assert len(checked) == FILES


def test_the_api_reads_the_cache_only_when_asked(repo: Path, checked: list[str]) -> None:
    assert api.validate(collection=True, cache=True, collect=False).ok
    checked.clear()
    assert api.export(["records"], "jsonld").files
    assert len(checked) == FILES
    checked.clear()
    assert api.export(["records"], "jsonld", cache=True).files
    assert checked == []


def test_an_option_named_as_an_argument_of_the_export_is_refused(repo: Path) -> None:
    """`-O to=x` used to reach api.export as its own `to` (a TypeError's traceback)."""
    for name in ("to", "jobs", "cache", "parts"):
        result = _invoke("export", "-f", "jsonld", "-O", f"{name}=x")
        assert result.exit_code == 2, result.output
        assert f"has no option {name!r}" in result.stderr

    class Clashing:
        name, suffix, media_type, summary, directory = "clash", ".x", "text/plain", "a format", False
        options = (plugins.Option("jobs", "how many", "1"),)

        def export(self, records: t.Any, context: t.Any) -> t.Any:
            raise AssertionError

    assert plugins._malformed(Clashing()) == "option name 'jobs' is taken by an argument of the export itself"  # type: ignore[arg-type]


def test_the_reserved_names_are_the_arguments_of_export() -> None:
    import inspect

    parameters = inspect.signature(api.export).parameters.values()
    assert plugins.RESERVED_OPTION_NAMES == {p.name for p in parameters if p.kind is not p.VAR_KEYWORD}


def test_a_directory_format_given_a_file_is_a_usage_error_before_any_check(
    repo: Path, checked: list[str], tmp_path: Path
) -> None:
    """It was exit 3 ("cannot write into ...") after the whole validation."""
    (tmp_path / "a-file").write_text("kept\n", encoding="utf-8")
    for target in (str(tmp_path / "a-file"), "/dev/stdout"):
        for args in (["-f", "csv"], ["-f", "jsonld", "--parts", "2"]):
            result = _invoke("export", *args, "-o", target)
            assert result.exit_code == 2, (target, args, result.output)
            assert "is not a directory" in result.stderr
    assert checked == []
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "kept\n"


def test_a_file_that_is_no_longer_a_file_when_loaded_makes_the_export_check_everything(
    repo: Path, checked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _invoke("validate").exit_code == 0
    place = repo / "records" / "places" / "kayseri.yaml"
    _after_vouching(monkeypatch, lambda: (place.unlink(), os.mkfifo(place)))
    checked.clear()
    result = _export("jsonld", tmp_path / "out.jsonld")
    assert result.exit_code == 1, result.output
    assert "kayseri.yaml" in result.output
    assert len(checked) == FILES
    assert not (tmp_path / "out.jsonld").exists()


def test_an_export_keeps_the_collections_layout_rule_as_validate_does(repo: Path, tmp_path: Path) -> None:
    """A record in the wrong folder: validate refused it, and export wrote it anyway (a new user's
    and a hostile tester's finding); now both refuse it, with the cache or without."""
    (repo / "records" / "places" / "kayseri.yaml").rename(repo / "records" / "events" / "kayseri.yaml")
    assert _invoke("validate").exit_code == 1
    for extra in ([], ["--no-cache"], ["--jobs", "1"]):
        result = _export("jsonld", tmp_path / "out.jsonld", *extra)
        assert result.exit_code == 1, (extra, result.output)
        assert "misplaced-record" in result.output and "belongs at records/places/kayseri.yaml" in result.output
        assert not (tmp_path / "out.jsonld").exists()
    # layout "any" puts no rule on places: then the export goes through
    (repo / "records-toolkit.toml").write_text('[collection]\npath = "records"\nlayout = "any"\n', encoding="utf-8")
    assert _export("jsonld", tmp_path / "out.jsonld").exit_code == 0
    # and a tree outside any collection has no layout rule either
    os.chdir(tmp_path)
    assert (
        _invoke("export", "-f", "jsonld", str(repo / "records"), "-o", str(tmp_path / "outside.jsonld")).exit_code == 0
    )
