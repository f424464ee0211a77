"""The result cache: a run after a change re-reads only what changed and reports what a full run reports."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
import time
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import files_checked_here
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from records_toolkit import api, cache, incremental, loader, rules, validate
from records_toolkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
HOUR_AGO = time.time() - 3600


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A collection (the shipped records plus a draft with problems), old enough to be cached."""
    monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "records", repo / "records", ignore=shutil.ignore_patterns(cache.CACHE_DIR))
    (repo / "records-toolkit.toml").write_text('[collection]\npath = "records"\n', encoding="utf-8")
    kayseri = (repo / "records" / "places" / "kayseri.yaml").read_text(encoding="utf-8")
    (repo / "records" / "places" / "kayseri.yaml").write_text(
        kayseri.replace('kind: "city"', 'kind: "planet"'), encoding="utf-8"
    )
    _age(repo)
    monkeypatch.chdir(repo)
    return repo


def _age(repo: Path) -> None:
    """Files changed a moment ago are not cached (a second change could hide in the same tick)."""
    for path in (repo / "records").rglob("*.yaml"):
        os.utime(path, (HOUR_AGO, HOUR_AGO))


def _run(*args: str) -> tuple[int, list[dict[str, t.Any]]]:
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", "--output-format", "json", *args])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files parsed in this process (a cache hit parses nothing)."""
    return files_checked_here(monkeypatch)


def _snapshot(repo: Path) -> Path:
    """The snapshot of the runs made from the working folder (the repository's root, here)."""
    return repo / "records" / cache.CACHE_DIR / cache.snapshot_name(str(repo / "records"))


def _ctime_aged(monkeypatch: pytest.MonkeyPatch) -> None:
    """ctime cannot be set back: let the racy window end now, for the tests' fresh copies."""
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))


def test_a_cached_run_reports_exactly_what_a_full_run_reports(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctime_aged(monkeypatch)
    full = _run("--no-cache")
    assert not (repo / "records" / cache.CACHE_DIR).exists()
    parsed.clear()
    first = _run()
    assert len(parsed) == 44 and (_snapshot(repo)).is_file()
    parsed.clear()
    second = _run()
    assert parsed == []  # every file unchanged: nothing parsed
    assert full == first == second and full[0] == 1
    assert [p["code"] for p in full[1]] == ["schema-enum"]
    assert (repo / "records" / cache.CACHE_DIR / ".gitignore").read_text(encoding="utf-8").endswith("*\n")


def test_after_one_change_only_that_file_is_parsed_and_the_collection_rules_still_run(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctime_aged(monkeypatch)
    _run()
    parsed.clear()
    # kayseri is referred to by cached files: removing its record makes their references dangle
    place = repo / "records" / "places" / "kayseri.yaml"
    place.write_text(place.read_text(encoding="utf-8").replace('id: "kayseri"', 'id: "kayseri-city"'), encoding="utf-8")
    code, problems = _run()
    assert parsed == ["records/places/kayseri.yaml"]
    assert code == 1 and {p["code"] for p in problems} >= {"dangling-reference", "misplaced-record"}
    assert any(p["file"] != "records/places/kayseri.yaml" for p in problems if p["code"] == "dangling-reference")
    assert (code, problems) == _run("--no-cache")


def test_when_more_than_a_quarter_of_the_files_changed_the_run_is_made_in_full(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a quarter of the collection (and :data:`~records_toolkit.incremental.FULL_FROM`
    files), the changed files are not checked one by one here against the snapshot: every file
    is, as in a run that fills the cache, and the snapshot is written anew. Up to it, only the
    changed files are parsed. Either way the report is the one a run without the cache gives."""
    _ctime_aged(monkeypatch)
    monkeypatch.setattr(incremental, "FULL_FROM", 0)
    _run()
    files = sorted((repo / "records").rglob("*.yaml"))
    assert len(files) == 44

    def mark(few: list[Path]) -> None:
        for path in few:
            path.write_text("# marked\n" + path.read_text(encoding="utf-8"), encoding="utf-8")

    mark(files[:11])  # a quarter: through the snapshot
    parsed.clear()
    assert _run() == _run("--no-cache")
    assert len(parsed) == 11 + 44  # (the run without the cache parsed all)
    mark(files[11:23])  # twelve more changed: more than a quarter
    parsed.clear()
    code, problems = _run()
    assert len(parsed) == 44 and (code, problems) == _run("--no-cache") and code == 1
    parsed.clear()
    assert _run() == (code, problems) and parsed == []  # the snapshot written anew by the full run


def test_runs_from_other_folders_keep_a_snapshot_each_and_the_oldest_go(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names are spelled from the working folder, so each folder has its own snapshot: going
    between the repository's root and a folder of records fills each once, never again; a change
    is then one file parsed from either. Past :data:`~records_toolkit.cache.KEPT_SNAPSHOTS`
    folders, the snapshots written longest ago are removed."""
    _ctime_aged(monkeypatch)
    folders = [
        repo,
        repo / "records",
        repo / "records" / "places",
        repo / "records" / "events",
        repo / "records" / "articles",
    ]
    for folder in folders[:2]:
        monkeypatch.chdir(folder)
        parsed.clear()
        assert _run() == _run("--no-cache")  # the first run from there: its own snapshot filled
        assert len(parsed) == 2 * 44
    for folder in folders[:2] * 2:
        monkeypatch.chdir(folder)
        parsed.clear()
        assert _run()[0] == 1 and parsed == []  # each folder's own snapshot, kept
    place = repo / "records" / "places" / "kayseri.yaml"
    place.write_text(place.read_text(encoding="utf-8").replace('kind: "planet"', 'kind: "moon"'), encoding="utf-8")
    for folder in folders[:2]:
        monkeypatch.chdir(folder)
        parsed.clear()
        changed = _run()
        assert len(parsed) == 1 and parsed[0].endswith("places/kayseri.yaml")
        assert changed == _run("--no-cache") and changed[0] == 1
    legacy = repo / "records" / cache.CACHE_DIR / cache.INDEX
    legacy.write_bytes(b"the one snapshot an older toolkit wrote")
    for folder in folders[2:]:
        monkeypatch.chdir(folder)
        _run()
    assert not legacy.exists()
    names = [p.name for p in (repo / "records" / cache.CACHE_DIR).iterdir() if p.name.startswith(cache.INDEX)]
    monkeypatch.chdir(repo)
    assert len(names) == cache.KEPT_SNAPSHOTS  # (the root's, written longest ago, went)
    assert cache.snapshot_name(str(repo / "records")) not in names


def test_planted_snapshots_never_push_out_the_ones_in_use(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files named as snapshots but not signed by this user (a pull request adding the cache
    folder: a checkout dates them now; or dated far ahead) were kept before the real ones, so each
    run from a folder was a full run again. They now go first; a file named otherwise is left."""
    _ctime_aged(monkeypatch)
    folder = repo / "records" / cache.CACHE_DIR
    folder.mkdir()
    future = time.time() + 10 * 365 * 86400
    planted = [folder / f"{cache.INDEX}-{n:016x}" for n in range(cache.KEPT_SNAPSHOTS + 2)]
    for n, path in enumerate(planted):
        path.write_bytes(b"not a snapshot" if n % 2 else b"x" * 200 + b"\n" + b"0" * 64 + b"\n000000000010\n")
        soon = future if n < 3 else time.time() + 30  # (the rest: dated now, as a checkout a moment later dates them)
        os.utime(path, (soon, soon))
    foreign = [folder / f"{cache.INDEX}.bak", folder / f"{cache.INDEX}-NOT-HEX-0123456", folder / f"{cache.INDEX}-dir"]
    for path in foreign[:2]:
        path.write_bytes(b"someone else's")
    foreign[2].mkdir()
    for where in (repo, repo / "records"):
        monkeypatch.chdir(where)
        assert _run() == _run("--no-cache")
    for where in (repo, repo / "records", repo):
        monkeypatch.chdir(where)
        parsed.clear()
        assert _run()[0] == 1 and parsed == []  # both folders' snapshots kept: nothing parsed
    assert all(path.exists() for path in foreign)  # (not ours: left as they are)
    assert sum(path.exists() for path in planted) == cache.KEPT_SNAPSHOTS - 2  # (the room the two real ones left)
    assert (folder / cache.snapshot_name(str(repo / "records"))).is_file()


def test_an_unchanged_file_touched_is_hashed_not_parsed(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctime_aged(monkeypatch)
    _run()
    parsed.clear()
    os.utime(repo / "records" / "places" / "turkey.yaml", (HOUR_AGO + 60, HOUR_AGO + 60))
    _run()
    assert parsed == []


def test_a_cache_signed_by_someone_else_is_never_trusted(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A pull request can commit a cache saying its bad file is valid: another key, so ignored."""
    _ctime_aged(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker"))
    place = repo / "records" / "places" / "kayseri.yaml"
    bad = place.read_bytes()
    place.write_text(bad.decode().replace('"planet"', '"city"'), encoding="utf-8")
    _age(repo)
    assert _run()[0] == 0  # the attacker's cache: kayseri "valid"
    place.write_bytes(bad)  # the same size, the same times: only the content differs
    os.utime(place, (HOUR_AGO, HOUR_AGO))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim"))
    parsed.clear()
    code, problems = _run()
    assert code == 1 and [p["code"] for p in problems] == ["schema-enum"] and len(parsed) == 44


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_a_corrupt_cache_is_ignored_and_rewritten(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    _ctime_aged(monkeypatch)
    expected = _run()
    index = _snapshot(repo)
    data = index.read_bytes()
    at = _section_at(data, "files") + 5
    index.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"\x00\xff" * 10, "flip": data[:at] + b"X" + data[at + 1 :]}[
            damage
        ]
    )
    parsed.clear()
    assert _run() == expected and len(set(parsed)) == 44
    parsed.clear()
    assert _run() == expected and parsed == []  # rewritten, trusted again


def _stored_files(repo: Path) -> dict[str, t.Any]:
    """The snapshot's table of files (read with this user's key): each file's signature kept, by name."""
    header = _header((_snapshot(repo)).read_bytes())
    store = cache.Store.open(str(repo / "records"), header["fingerprint"], 44)
    assert store is not None and not store.empty
    table = incremental._Table.read(store)
    store.close()
    names = table.names.decode("utf-8", "surrogatepass").split("\0") if table.count else []
    return {name: table.signature(number) for number, name in enumerate(names)}


def _header(data: bytes) -> dict[str, t.Any]:
    """The snapshot's header: it ends the file, before its HMAC and its length."""
    size = int(data[-13:-1])
    end = len(data) - cache._TRAILER - 1
    return t.cast(dict[str, t.Any], json.loads(data[end - size : end]))


def _section_at(data: bytes, name: str) -> int:
    """Where a section of the snapshot begins in its file."""
    return int(_header(data)["sections"][name][0])


def test_a_damaged_index_shard_is_found_when_a_change_needs_it(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run decodes only the shards a change reaches; each is checked against the signed header
    when it is read, and a damaged one makes the run a full one, never a wrong one."""
    _ctime_aged(monkeypatch)
    _run()
    index = _snapshot(repo)
    data = index.read_bytes()
    for number in range(cache.SHARDS):
        for prefix in "dfqrt":
            at = _section_at(data, f"{prefix}{number}")
            data = data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1 :]
    index.write_bytes(data)
    expected = _run("--no-cache")
    parsed.clear()
    assert _run() == expected and parsed == []  # nothing changed: no shard is read
    place = repo / "records" / "places" / "kayseri.yaml"
    place.write_text(place.read_text(encoding="utf-8").replace('id: "kayseri"', 'id: "kayseri-city"'), encoding="utf-8")
    _age(repo)
    expected = _run("--no-cache")
    parsed.clear()
    assert _run() == expected and len(set(parsed)) == 44


def test_a_cache_folder_that_is_a_link_is_neither_read_nor_written(
    repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _ctime_aged(monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "records" / cache.CACHE_DIR).symlink_to(elsewhere)
    expected = _run("--no-cache")
    assert _run() == expected and _run() == expected
    assert list(elsewhere.iterdir()) == []


def test_reordered_schema_keys_empty_the_cache(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The order of a schema's properties shows in messages (the keys allowed, in order): a schema
    that differs only in its key order is another schema to the cache."""
    from records_toolkit.schemas import load_model

    _ctime_aged(monkeypatch)
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    monkeypatch.setenv("TOOLKIT_SCHEMAS", str(schemas))
    load_model.cache_clear()
    try:
        _run()
        event = schemas / "event.schema.json"
        document = json.loads(event.read_text(encoding="utf-8"))
        document["properties"] = dict(reversed(list(document["properties"].items())))
        event.write_text(json.dumps(document, indent=2), encoding="utf-8")
        load_model.cache_clear()
        parsed.clear()
        _run()
        assert len(parsed) == 44
    finally:
        load_model.cache_clear()


def test_a_fifo_or_a_leftover_in_the_cache_folder_neither_blocks_nor_stays(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache folder is in the untrusted tree: its temporary names are not guessable and are
    created exclusively (a FIFO waiting there would block an open for writing forever), and what a
    killed run left is removed by the next one that writes."""
    _ctime_aged(monkeypatch)
    expected = _run("--no-cache")
    folder = repo / "records" / cache.CACHE_DIR
    folder.mkdir()
    real_token = cache._token
    monkeypatch.setattr(cache, "_token", lambda: "guessed")
    for name in (".gitignore", _snapshot(repo).name):
        os.mkfifo(folder / f".tmp-{os.getpid()}-guessed-{name}")
    assert _run() == expected  # no hang, nothing written (the names are taken), the run itself unharmed
    assert not _snapshot(repo).exists()
    monkeypatch.setattr(cache, "_token", real_token)
    for fifo in folder.iterdir():
        fifo.unlink()
    stale = folder / ".tmp-12345-0123456789abcdef-snapshot"
    stale.write_bytes(b"half a snapshot")
    os.utime(stale, (HOUR_AGO, HOUR_AGO))
    fresh = folder / ".tmp-12346-0123456789abcdef-snapshot"
    fresh.write_bytes(b"a run writing now")
    assert _run() == expected
    assert _snapshot(repo).is_file() and not stale.exists() and fresh.exists()


def test_a_changed_schema_or_version_empties_the_cache(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctime_aged(monkeypatch)
    _run()
    parsed.clear()
    monkeypatch.setattr(cache, "FORMAT", cache.FORMAT + 1)  # any part of the fingerprint
    _run()
    assert len(parsed) == 44


def test_no_cache_writes_nothing_and_a_key_others_can_read_is_not_used(
    repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _ctime_aged(monkeypatch)
    _run("--no-cache")
    assert not (repo / "records" / cache.CACHE_DIR).exists()
    monkeypatch.setenv("RECORDS_TOOLKIT_NO_CACHE", "1")
    _run()
    assert not (repo / "records" / cache.CACHE_DIR).exists()
    monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE")
    key = tmp_path / "user-cache" / "records-toolkit" / "key"
    key.parent.mkdir(parents=True)
    key.write_bytes(b"k" * 32)
    key.chmod(0o644)  # readable by others: not a secret
    assert cache.secret_key() is None
    _run()
    assert not (repo / "records" / cache.CACHE_DIR).exists()


def test_files_changed_a_moment_ago_are_not_cached(repo: Path, parsed: list[str]) -> None:
    (repo / "records" / "places" / "turkey.yaml").write_bytes(
        (repo / "records" / "places" / "turkey.yaml").read_bytes()
    )
    _run()
    sigs = _stored_files(repo)
    assert sigs["records/places/turkey.yaml"] is None  # its ctime is now: compared by content next time
    parsed.clear()
    _run()
    assert parsed == []  # compared by content: the same, so not parsed


def test_worker_processes_give_the_same_report_and_fill_the_cache(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _ctime_aged(monkeypatch)
    expected = _run("--no-cache", "--jobs", "1")
    assert _run("--jobs", "2") == expected
    assert _run("--jobs", "2") == expected
    assert len(_stored_files(repo)) == 44


def test_a_file_name_that_is_not_utf8_is_cached_like_any(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _ctime_aged(monkeypatch)
    source = (repo / "records" / "places" / "iran.yaml").read_text(encoding="utf-8")
    odd = os.path.join(os.fsencode(repo / "records" / "places"), b"caf\xe9.yaml")
    with open(odd, "wb") as stream:
        stream.write(source.replace('id: "iran"', 'id: "iran-2"').encode())
    os.utime(odd, (HOUR_AGO, HOUR_AGO))
    expected = _run("--no-cache")
    assert _run() == expected and _run() == expected  # written (the name kept as an escape), then read


def test_an_out_of_memory_result_is_not_cached(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Running out of memory says more about the machine than the file: the next run tries again."""
    _ctime_aged(monkeypatch)
    real = validate.load_bytes

    def exhausted(raw: bytes, file: str) -> t.Iterator[t.Any]:
        if file.endswith("turkey.yaml"):
            raise MemoryError
        yield from real(raw, file)

    monkeypatch.setattr(validate, "load_bytes", exhausted)
    assert "out-of-memory" in {p["code"] for p in _run()[1]}
    monkeypatch.setattr(validate, "load_bytes", real)
    assert _run() == _run("--no-cache")


def test_a_changed_toolkit_module_empties_the_cache(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edited install (an editable one, a patch) keeps its version number: its code is in the key."""
    _ctime_aged(monkeypatch)
    _run()
    parsed.clear()
    monkeypatch.setattr(cache, "_code_hash", lambda: "another build")
    _run()
    assert len(parsed) == 44


def test_a_name_run_from_another_folder_of_the_collection_is_another_file(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The names are relative to the working folder: ``a.yaml`` from ``records/articles`` is not
    the ``a.yaml`` of ``records/events``, where the layout says an article does not belong. A
    run from each folder reports what it would without the cache (a hostile tester found the
    second run reusing the first one's result: no misplaced record)."""
    _ctime_aged(monkeypatch)
    name = "azernews-2022-01-21-servicemen-parachute-course.yaml"
    monkeypatch.chdir(repo / "records" / "articles")
    assert _run(name) == _run(name, "--no-cache") == (0, [])
    (repo / "records" / "articles" / name).rename(repo / "records" / "events" / name)
    monkeypatch.chdir(repo / "records" / "events")
    code, problems = _run(name)
    assert (code, problems) == _run(name, "--no-cache")
    assert code == 1 and [p["code"] for p in problems] == ["misplaced-record"]


def _site(root: Path, version: str = "1.0", *, listed: bool = True) -> Path:
    """A site-packages folder holding a package ``fakelib`` and a module ``fakemod``, each
    installed from a wheel (a ``.dist-info`` folder whose RECORD lists its files)."""
    (root / "fakelib").mkdir(parents=True)
    (root / "fakelib" / "__init__.py").write_text("VALUE = 1\n", encoding="utf-8")
    (root / "fakemod.py").write_text("VALUE = 2\n", encoding="utf-8")
    for name, files in (("fakelib", ["fakelib/__init__.py"]), ("fakemod", ["fakemod.py"])):
        info = root / f"{name}-{version}.dist-info"
        info.mkdir()
        lines = [f"{file},sha256=abc{version},10" for file in files if listed] + [f"{info.name}/RECORD,,"]
        (info / "RECORD").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def fake_libraries(monkeypatch: pytest.MonkeyPatch) -> t.Callable[[Path], dict[str, list[t.Any]]]:
    """What the cache's key says of the libraries when ``fakelib`` and ``fakemod`` are imported from the site given."""
    import importlib
    import sys

    monkeypatch.setattr(cache, "LIBRARIES", {"fakelib": "fakelib", "fakemod": "fakemod"})

    def libraries(site: Path) -> dict[str, list[t.Any]]:
        monkeypatch.setattr(sys, "path", [str(site), *[p for p in sys.path if "fake-site" not in p]])
        importlib.invalidate_caches()
        return cache._library_files()

    return libraries


def test_libraries_installed_again_elsewhere_keep_the_key_and_an_upgrade_changes_it(
    tmp_path: Path, fake_libraries: t.Callable[[Path], dict[str, list[t.Any]]]
) -> None:
    """A CI job installs the libraries anew on each run (new times, maybe another folder): the
    same wheels give the same key, so a cache kept between runs is used; another version of
    one (its RECORD changes), or its imported file edited in place, empties the cache."""
    first = fake_libraries(_site(tmp_path / "fake-site-a"))
    assert first == {
        "fakelib": ["fakelib/__init__.py", *first["fakelib"][1:]],
        "fakemod": ["fakemod.py", *first["fakemod"][1:]],
    }
    again = _site(tmp_path / "fake-site-b")
    later = time.time() + 1000
    for path in again.rglob("*"):
        os.utime(path, (later, later))
    assert fake_libraries(again) == first
    upgraded = fake_libraries(_site(tmp_path / "fake-site-c", "1.1"))
    assert upgraded["fakelib"] != first["fakelib"] and upgraded["fakemod"] != first["fakemod"]
    edited = _site(tmp_path / "fake-site-d")
    (edited / "fakemod.py").write_text("VALUE = 3\n", encoding="utf-8")  # patched in place: RECORD unchanged
    assert fake_libraries(edited)["fakemod"] != first["fakemod"]
    assert fake_libraries(edited)["fakelib"] == first["fakelib"]


@pytest.mark.parametrize("how", ["no RECORD names the file", "two versions side by side", "no dist-info"])
def test_a_library_not_known_by_a_wheels_record_is_known_by_its_file(
    tmp_path: Path, fake_libraries: t.Callable[[Path], dict[str, list[t.Any]]], how: str
) -> None:
    """Without a RECORD that lists the very file imported (a source tree on the path, a system
    package, two versions side by side), a library is known by its file, its size and its time,
    as before: installing it again (a new time) empties the cache."""
    site = _site(tmp_path / "fake-site", listed=how != "no RECORD names the file")
    if how == "two versions side by side":
        shutil.copytree(site / "fakelib-1.0.dist-info", site / "fakelib-0.9.dist-info")
        shutil.copytree(site / "fakemod-1.0.dist-info", site / "fakemod-0.9.dist-info")
    elif how == "no dist-info":
        shutil.rmtree(site / "fakelib-1.0.dist-info")
        shutil.rmtree(site / "fakemod-1.0.dist-info")
    first = fake_libraries(site)
    file = site / "fakelib" / "__init__.py"
    assert first["fakelib"] == [str(file), file.stat().st_size, file.stat().st_mtime_ns]
    os.utime(file, (time.time() + 1000, time.time() + 1000))
    assert fake_libraries(site)["fakelib"] != first["fakelib"]


def test_the_libraries_this_toolkit_runs_with_are_known_by_their_wheels() -> None:
    """The installed dependencies (wheels, as pip installs them in CI): each known by its RECORD."""
    found = cache._library_files()
    assert set(found) == set(cache.LIBRARIES)
    for name, (where, *digests) in found.items():
        assert where in (f"{name}/__init__.py", f"{name}.py"), name
        assert len(digests) == 2 and all(re.fullmatch("[0-9a-f]{64}", digest) for digest in digests), name


def test_an_index_larger_than_the_run_can_need_is_ignored_unread(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctime_aged(monkeypatch)
    _run()
    parsed.clear()
    monkeypatch.setattr(cache, "MAX_INDEX_BASE", 0)
    monkeypatch.setattr(cache, "MAX_INDEX_PER_FILE", 10)  # 440 bytes for 44 files
    _run()
    assert len(parsed) == 44


def test_a_relative_xdg_cache_home_is_ignored(repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "records")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.secret_key() is not None
    assert not (repo / "records" / "records-toolkit").exists()
    assert (tmp_path / "home" / ".cache" / "records-toolkit" / "key").is_file()


# -- the law: a cached run reports what a full run reports, whatever the edits ---------------------

EDITS = (
    "rename-id",
    "copy",
    "delete",
    "restore",
    "break-quote",
    "edit-article",
    "schema-error",
    "syntax-error",
    "touch",
    "retype",
    "rename-file",
    "subset",
)


def _edit(records: Path, original: Path, edit: str, pick: int | str) -> list[str]:
    """Apply one edit to the collection; the arguments of the runs to compare (a subset run names a file).

    ``pick`` chooses the file: a number (among 16 spread over the folders), or a part of its name.
    """
    files = sorted(p for p in records.rglob("*.yaml"))
    if isinstance(pick, str):
        path = next((p for p in files if pick in p.name), files[0])
    else:
        path = files[(pick * 7) % len(files)]
    text = path.read_text(encoding="utf-8")
    if edit == "rename-id":
        path.write_text(re.sub(r'^id: "([^"]+)"', r'id: "\1-x"', text, count=1, flags=re.M), encoding="utf-8")
    elif edit == "copy":
        shutil.copy(path, path.with_name(f"copy-{len(files)}-{path.name}"))
    elif edit == "delete":
        path.unlink()
    elif edit == "restore":
        shutil.rmtree(records)
        shutil.copytree(original, records)
    elif edit == "break-quote":
        path.write_text(text.replace('quote: "', 'quote: "Not ', 1), encoding="utf-8")
    elif edit == "edit-article":
        articles = sorted((records / "articles").glob("*.yaml"))
        if articles:
            path = articles[0]
            body = path.read_text(encoding="utf-8")
            path.write_text(body.replace("Azerbaijan", "Changed"), encoding="utf-8")  # in most quotes
    elif edit == "schema-error":
        path.write_text(text + "bogus: 1\n", encoding="utf-8")
    elif edit == "syntax-error":
        path.write_text(text + "\n: : [\n", encoding="utf-8")
    elif edit == "touch":
        os.utime(path, (HOUR_AGO + len(files), HOUR_AGO + len(files)))
    elif edit == "retype":
        path.write_text(text.replace('type: "place"', 'type: "organization"', 1), encoding="utf-8")
    elif edit == "rename-file":
        path.rename(path.with_name(f"a-{path.name}"))
    elif edit == "subset":
        return [path.relative_to(records.parent).as_posix()]
    return []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(EDITS), st.one_of(st.integers(0, 15), st.sampled_from(["kayseri", "turkey"]))),
        min_size=1,
        max_size=8,
    ),
    settled=st.booleans(),
    hinted=st.sampled_from([20, 1, 2]),
)
@example(  # unknown ids past the hints: which get one changes as they come and go
    edits=[("rename-id", "iran.yaml"), ("rename-id", "azerbaijan.yaml"), ("rename-id", "turkey.yaml"), ("restore", 0)],
    settled=True,
    hinted=1,
)
@example(edits=[("rename-id", "turkey.yaml"), ("rename-id", "azerbaijan.yaml"), ("copy", 3)], settled=True, hinted=2)
@example(
    edits=[("copy", "kayseri"), ("restore", 0)], settled=True, hinted=20
)  # a duplicate-id left at an unchanged file
@example(
    edits=[("rename-id", "kayseri"), ("rename-id", "kayseri")], settled=True, hinted=20
)  # hints of old dangling refs
@example(edits=[("copy", "kayseri"), ("rename-file", "kayseri")], settled=True, hinted=20)  # which definition is first
@example(edits=[("edit-article", 0), ("restore", 0)], settled=True, hinted=20)  # quotes of unchanged events
@example(
    edits=[("copy", "azernews"), ("edit-article", 0), ("subset", "azernews"), ("touch", 0)], settled=True, hinted=20
)
@example(edits=[("retype", "kayseri")], settled=False, hinted=20)  # reference-type at unchanged events
@example(edits=[("subset", "kayseri"), ("copy", "turkey"), ("subset", "turkey")], settled=True, hinted=20)  # run order
@pytest.mark.parametrize("spilled", [False, True], ids=["indexes-in-memory", "indexes-on-disk"])
def test_after_any_edits_a_cached_run_reports_what_a_full_run_reports(
    edits: list[tuple[str, int | str]], settled: bool, repo: Path, hinted: int, spilled: bool
) -> None:
    """Random edit sequences (ids renamed, records copied, deleted, retyped, quotes and articles
    changed, syntax and schema errors, files touched and renamed, subset runs): after each, the
    run through the snapshot and a run without it give the same exit code and the same problems
    (also when only one or two unknown ids get a did-you-mean hint), with one index shard at a
    time held decoded. ``spilled``: every run keeps
    its collection's indexes on disk, as a large collection's do, the snapshot made from them."""
    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as patch:
        work = Path(scratch)
        shutil.copytree(repo, work / "repo", ignore=shutil.ignore_patterns(cache.CACHE_DIR))
        patch.chdir(work / "repo")
        if settled:  # signatures trusted at once (else every file is compared by content)
            patch.setattr(cache, "RACY_NS", -(10**12))
        patch.setattr(incremental, "CHUNK", 8)  # the table in parts (44 files: 6), files added and removed
        patch.setattr(incremental._Shards, "DECODED", 1)  # every other shard let go, encoded, decoded again
        patch.setattr(rules, "DANGLING_HINTS", hinted)
        if spilled:
            patch.setattr(rules, "SPILL_FROM", 0)
            patch.setattr(rules, "FLUSH_EVERY", 5)
        patch.setattr(loader, "SPLIT_FROM", 0)  # every walk split over two processes
        patch.setattr(loader, "_may_split", lambda processes: processes is None or processes > 1)
        records = work / "repo" / "records"
        original = work / "original"
        shutil.copytree(records, original)
        _run()
        for edit, pick in edits:
            named = _edit(records, original, edit, pick)
            assert _run(*named) == _run("--no-cache", *named), (edit, pick)


def test_a_snapshot_cut_short_while_a_run_reads_it_is_never_trusted(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sections are read from the open snapshot when asked for (it is never read whole): one cut
    short meanwhile (truncated in place) reads as unusable, and a save that would copy it gives up
    instead of failing the run or writing what it could not check."""
    _ctime_aged(monkeypatch)
    expected = _run()
    index = _snapshot(repo)
    store = cache.Store.open(str(repo / "records"), _header(index.read_bytes())["fingerprint"], 44)
    assert store is not None and not store.empty
    os.truncate(index, 100)
    with pytest.raises(cache.Unusable):
        store.section("rows0")  # (past the cut)
    store.save([("problems", [])], keep_rest=True)  # no exception; nothing half-checked written
    assert index.stat().st_size == 100
    store.close()
    assert _run() == expected  # the cut snapshot is ignored: a full run, rewritten
    assert index.stat().st_size > 100


# -- the table of files, written in parts -----------------------------------------------------------


def test_a_run_after_a_change_appends_what_changed_and_compacts_in_time(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save after a change appends its sections and a new header to the snapshot (the file
    stays, only grows; the table's other parts are not written again); once what it no longer
    uses outweighs what it uses, it is written anew."""
    _ctime_aged(monkeypatch)
    monkeypatch.setattr(incremental, "CHUNK", 8)  # 44 files: 6 parts of the table
    _run()
    index = _snapshot(repo)
    before = index.read_bytes()
    inode = index.stat().st_ino
    place = repo / "records" / "places" / "kayseri.yaml"
    place.write_text(place.read_text(encoding="utf-8").replace('id: "kayseri"', 'id: "kayseri-city"'), encoding="utf-8")
    expected = _run("--no-cache")
    parsed.clear()
    assert _run() == expected and parsed == ["records/places/kayseri.yaml"]
    after = index.read_bytes()
    assert index.stat().st_ino == inode and after.startswith(before)  # appended to: nothing rewritten
    old, new = _header(before)["sections"], _header(after)["sections"]
    rewritten = {name for name in new if new[name] != old.get(name)}
    names = sorted(p.relative_to(repo).as_posix() for p in (repo / "records").rglob("*.yaml"))
    part = names.index("records/places/kayseri.yaml") // 8
    assert rewritten & {f"rows{n}" for n in range(6)} == {f"rows{part}"}  # only the part that holds it
    assert "names" not in rewritten  # the same files
    assert _run() == expected and index.read_bytes() == after  # nothing changed: nothing written
    monkeypatch.setattr(cache, "COMPACT_SLACK", 0)
    place.write_text(place.read_text(encoding="utf-8").replace('"kayseri-city"', '"kayseri"'), encoding="utf-8")
    expected = _run("--no-cache")
    assert _run() == expected  # the dead sections now outweigh the live ones: written anew
    data = index.read_bytes()
    live = sum(length for _at, length, _digest in _header(data)["sections"].values())
    assert live == len(data) - cache._TRAILER - 1 - int(data[-13:-1]) and len(data) < len(after)  # none dead
    parsed.clear()
    assert _run() == expected and parsed == []


def test_a_file_added_or_removed_rewrites_the_table_and_keeps_the_report(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctime_aged(monkeypatch)
    monkeypatch.setattr(incremental, "CHUNK", 8)
    _run()
    places = repo / "records" / "places"
    shutil.copy(places / "turkey.yaml", places / "aaa-turkey.yaml")  # a duplicate id, early in the order
    os.utime(places / "aaa-turkey.yaml", (HOUR_AGO, HOUR_AGO))
    parsed.clear()
    first = _run()
    assert parsed == ["records/places/aaa-turkey.yaml"] and first == _run("--no-cache")
    (places / "iran.yaml").unlink()
    parsed.clear()
    second = _run()
    assert parsed == [] and second == _run("--no-cache")
    assert set(_stored_files(repo)) == {p.relative_to(repo).as_posix() for p in (repo / "records").rglob("*.yaml")}


def test_a_signature_a_row_cannot_hold_is_not_kept() -> None:
    """Sizes and times are kept as signed 64-bit numbers, inodes and devices as unsigned ones:
    a file whose signature does not fit keeps none, and is compared by content each time."""
    assert incremental._pack((1, 2, 3, 4, 5)) is not None
    assert incremental._pack((1, -(2**63), 3, 2**64 - 1, 2**63)) is not None
    assert incremental._pack((1, 2**63, 3, 4, 5)) is None
    assert incremental._pack((1, 2, 3, 2**64, 5)) is None
    stats = {"a.yaml": (1, 2, 3, 4, 5), "b.yaml": (1, 2**70, 3, 4, 5)}
    rows, odd = incremental._pack_all(["a.yaml", "b.yaml"], stats)
    assert rows[:40] == incremental._pack((1, 2, 3, 4, 5)) and rows[40:] == bytes(40)
    assert odd == {1: ((1, 2**70, 3, 4, 5), False)}


signatures = st.tuples(
    st.integers(-(2**64), 2**64),
    st.integers(-(2**64), 2**64),
    st.integers(0, 3),
    st.integers(0, 2**65),
    st.integers(0, 9),
)


@given(st.dictionaries(st.text(max_size=6), signatures, max_size=8), st.integers(0, 8))
def test_the_walks_packed_signatures_read_as_the_dict_of_them(given_stats: dict[str, t.Any], start: int) -> None:
    """What the walk notes for the cache (:class:`loader.Walked`) is read as a dict of the same
    signatures would be: by name, in order, packed as the snapshot packs them (a signature past
    64 bits included), and by position in the walk's own order."""
    walked = loader.Walked()
    walked.update(given_stats.items())
    names = list(given_stats)
    assert len(walked) == len(given_stats) and list(walked) == names
    assert all(walked[name] == sig for name, sig in given_stats.items())
    assert [walked.row(n) for n in range(len(names))] == list(given_stats.values())
    assert walked.aligned(names) and walked.aligned(loader.Names(names))
    assert not walked.aligned(names[::-1]) or names == names[::-1]
    assert incremental._pack_all(names, walked) == incremental._pack_all(names, given_stats)
    assert incremental._pack_all(names[::-1], walked) == incremental._pack_all(names[::-1], given_stats)
    start = min(start, len(names))
    moved = walked.moved(start)
    assert list(moved) == names[start:] + names[:start] and dict(moved.items()) == given_stats


def test_a_run_in_the_walks_own_order_never_looks_a_name_up(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached run reads the walk's signatures by position, first run, unchanged and after a
    change alike: no index of every name is built (memory, at 100,000 files)."""
    _ctime_aged(monkeypatch)

    def looked_up(self: loader.Walked, name: str) -> t.Any:
        raise AssertionError(f"looked up by name: {name}")

    monkeypatch.setattr(loader.Walked, "__getitem__", looked_up)
    first = _run()
    parsed.clear()
    assert _run() == first and parsed == []
    place = repo / "records" / "places" / "iran.yaml"
    place.write_text(place.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert _run() == first and parsed == ["records/places/iran.yaml"]


def test_a_file_with_a_time_past_2262_is_compared_by_content(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctime_aged(monkeypatch)
    far = 2**63 + 10**9  # nanoseconds: past what a signed 64-bit number holds
    turkey = repo / "records" / "places" / "turkey.yaml"
    try:
        os.utime(turkey, ns=(far, far))
    except (OSError, OverflowError):
        pytest.skip("this file system cannot hold the time")
    if turkey.stat().st_mtime_ns != far:
        pytest.skip("this file system cannot hold the time")
    expected = _run("--no-cache")
    assert _run() == expected
    assert _stored_files(repo)["records/places/turkey.yaml"] is None
    parsed.clear()
    assert _run() == expected and parsed == []  # hashed: the same content


def test_the_files_of_the_run_are_found_by_number_a_few_at_a_time_or_all_at_once() -> None:
    import array

    fids = array.array("q", [7, 3, 9, 1])
    where = incremental._Positions(fids, ["a", "b", "c", "d"])
    assert (where[9], where.name(1)) == (2, "d") and where.scans == 2 and where.fid_of == {"d": 1}
    where.scans = incremental._Positions.SCANS
    assert where[3] == 1 and where.whole and len(where.found) == 4  # many asked for: one dict
    with pytest.raises(KeyError):
        where[4]
    with pytest.raises(ValueError):
        incremental._Positions(fids, ["a", "b", "c", "d"])[4]


# -- the walk, split over two processes -------------------------------------------------------------


def _hostile_tree(root: Path) -> Path:
    """The shipped records and 12 more folders, with what the walk must report or skip: links, a
    FIFO, leftovers, an unreadable folder (see ``splits``), hard links within a folder and
    across the folders a split shares (which process lists which folder varies)."""
    records = root / "records"
    shutil.copytree(ROOT / "records", records, ignore=shutil.ignore_patterns(cache.CACHE_DIR))
    for number in range(12):
        folder = records / f"f{number:02d}"
        folder.mkdir(parents=True)
        for name in ("x.yaml", "y.yml", "readme.md"):
            (folder / name).write_text(f"id: {number}-{name}\n", encoding="utf-8")
    os.link(records / "f00" / "x.yaml", records / "f11" / "z-hard.yaml")  # across the split
    os.link(records / "places" / "iran.yaml", records / "f01" / "iran.yaml")  # across: the first is f01's
    os.link(records / "f07" / "x.yaml", records / "f10" / "a-hard.yaml")  # both the helper's
    os.link(records / "places" / "turkey.yaml", records / "places" / "turkey-again.yaml")  # one folder
    (records / "f05" / "link.yaml").symlink_to(records / "places" / "iran.yaml")
    (records / "f06" / "dir-link").symlink_to(records / "places", target_is_directory=True)
    (records / "f07" / "dangling.yaml").symlink_to(records / "nowhere.yaml")
    os.mkfifo(records / "f08" / "pipe.yaml")
    (records / "f09" / f"{loader.TEMP_PREFIX}1-x.yaml").write_text("id: t\n", encoding="utf-8")
    (records / "f09" / f"{loader.TEMP_PREFIX}2-dir").mkdir()
    (records / "f04" / "caf\udce9.yaml").write_text("id: cafe\n", encoding="utf-8", errors="surrogateescape")
    (records / "f03" / "empty").mkdir()
    (records / "f10" / "unreadable").mkdir()
    return records


def _walked(
    paths: list[str], processes: int | None
) -> tuple[list[str | tuple[str, str, str]], list[tuple[str, loader.Signature]]]:
    stats: dict[str, loader.Signature] = {}
    found = [
        item if isinstance(item, str) else (item.file, item.code, item.message)
        for item in loader.iter_record_names(paths, stats, processes=processes)
    ]
    return found, list(stats.items())  # (the order of stats too: a run reads it in order)


@pytest.fixture
def splits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Split every walk at once (a small tree too); the number of folders each helper was given."""
    given: list[int] = []
    real = loader._Helper.start

    def start(part: loader._Part, stack: list[str]) -> loader._Helper | None:
        given.append(len(stack))
        return real(part, stack)

    monkeypatch.setattr(loader, "SPLIT_FROM", 0)
    monkeypatch.setattr(loader._Helper, "start", start)
    monkeypatch.setattr(loader, "_may_split", lambda processes: processes is None or processes > 1)
    real_scandir = os.scandir

    def scandir(path: t.Any) -> t.Any:
        if str(path).endswith("unreadable"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(loader.os, "scandir", scandir)
    return given


@pytest.mark.parametrize("named", [["records"], ["records/f03", "records", "records/places/iran.yaml"]])
def test_a_walk_split_over_two_processes_finds_what_one_process_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, splits: list[int], named: list[str]
) -> None:
    _hostile_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    one = _walked(named, 1)
    assert splits == []
    two = _walked(named, None)
    assert splits == [18]  # (shared once the root is listed: its 18 folders)
    assert two == one
    files, _stats = one
    codes = {item[1] for item in files if isinstance(item, tuple)}
    assert codes == {"file-symlink", "file-special", "leftover-temp", "file-unreadable"}
    for kept, dropped in [
        ("records/f00/x.yaml", "records/f11/z-hard.yaml"),
        ("records/f01/iran.yaml", "records/places/iran.yaml"),
        ("records/f07/x.yaml", "records/f10/a-hard.yaml"),
        ("records/places/turkey-again.yaml", "records/places/turkey.yaml"),  # (sorted: "-" before ".")
    ]:
        assert kept in files and dropped not in files


@pytest.mark.parametrize("share", ["alternate", "all-to-the-helper", "none-to-the-helper"])
def test_the_walk_puts_the_shared_folders_back_in_walk_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, splits: list[int], share: str
) -> None:
    """Which process lists which group of folders varies (the faster takes more); here it is
    forced, so that hard links across the groups of both are met in every arrangement."""
    _hostile_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    one = _walked(["records"], 1)

    def take(part: loader._Part, queue: int, groups: list[list[str]]) -> list[tuple[int, int, int, int]]:
        walk = part.helper is not None  # (the helper's part has none)
        mine = {
            "alternate": lambda group: group % 2 == walk,
            "all-to-the-helper": lambda group: not walk,
            "none-to-the-helper": lambda group: walk,
        }[share]
        marks = []
        for group in range(len(groups)):
            if mine(group):
                part.walk(groups[group][::-1], processes=1)
                marks.append(part.mark(group))
        return marks

    monkeypatch.setattr(loader, "_take", take)
    assert _walked(["records"], None) == one and splits == [18]


def test_a_helper_that_fails_leaves_its_folders_to_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, splits: list[int]
) -> None:
    """A helper killed or failing (here: it cannot send what it found) changes nothing but the time."""
    _hostile_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    one = _walked(["records"], 1)

    def failing(rows: loader._Rows) -> bytes:
        raise MemoryError

    monkeypatch.setattr(loader._Rows, "sent", failing)
    assert _walked(["records"], None) == one and splits


def _apart(
    walked: tuple[list[str | tuple[str, str, str]], list[tuple[str, loader.Signature]]],
) -> tuple[list[str], list[tuple[str, str, str]], list[tuple[str, loader.Signature]]]:
    """A walk's files, its problems and its signatures, each in the order given."""
    items, stats = walked
    return [i for i in items if isinstance(i, str)], [i for i in items if not isinstance(i, str)], stats


def _streamed(paths: list[str]) -> tuple[list[str], list[tuple[str, str, str]], list[tuple[str, loader.Signature]]]:
    stats: dict[str, loader.Signature] = {}
    found = [
        item if isinstance(item, str) else (item.file, item.code, item.message)
        for item in loader.iter_record_names(paths, stats, streamed=True)
    ]
    return _apart((found, list(stats.items())))


@pytest.mark.parametrize("named", [["records"], ["records/f03", "records", "records/places/iran.yaml"]])
def test_a_streamed_walk_finds_what_the_walk_finds_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, splits: list[int], named: list[str]
) -> None:
    """The validation's workers check the first files while the rest is walked (issue 11): the
    walk gives them as it finds them, each folder's entries in the order of the names of the
    files below them, so they come in the order a walk that sorts at the end gives. A hard link
    across folders keeps the same name, also between "a" and "a-b", whose files sort the other way."""
    records = _hostile_tree(tmp_path)
    for folder in ("a", "a-b", "a.b", "a b", "a/b", "a/b/c"):
        (records / folder).mkdir()
    for name in ("a/b.yaml", "a/ba.yaml", "a/b/c.yaml", "a/b/c/d.yaml", "a.b/x.yaml", "a b/x.yaml", "a-b.yaml"):
        (records / name).write_text(f"id: {name}\n", encoding="utf-8")
    os.link(records / "a" / "b.yaml", records / "a-b" / "b.yaml")  # "a-b/" before "a/": kept there
    os.link(records / "a" / "b" / "c.yaml", records / "a" / "0.yaml")  # a folder's files before its subfolders
    monkeypatch.chdir(tmp_path)
    one = _walked(named, 1)
    assert _streamed(named) == _apart(one)  # (the problems of a tree come after its files: kept apart)
    assert _walked(named, None) == one and splits  # (and split over two processes)
    files = _apart(one)[0]
    assert "records/a-b/b.yaml" in files and "records/a/b.yaml" not in files
    assert "records/a/0.yaml" in files and "records/a/b/c.yaml" not in files
    if named == ["records"]:
        assert files == sorted(files)
        assert files.index("records/a b/x.yaml") < files.index("records/a-b.yaml") < files.index("records/a-b/b.yaml")
        assert files.index("records/a-b/b.yaml") < files.index("records/a.b/x.yaml") < files.index("records/a/0.yaml")
        assert files.index("records/a/b/c/d.yaml") < files.index("records/a/ba.yaml")


_SORTING_NAMES = st.sampled_from(["a", "b", "a-b", "a.b", "a b", "a0", "ab", "\u00e9", "a_", "A"])


@st.composite
def _trees(draw: st.DrawFn, depth: int = 0) -> dict[str, t.Any]:
    """A folder: names to files (a suffix) and to folders (dicts), a few levels deep."""
    folder: dict[str, t.Any] = {}
    for name in draw(st.lists(_SORTING_NAMES, max_size=5, unique=True)):
        if depth < 3 and draw(st.booleans()):
            folder[name] = draw(_trees(depth + 1))
        else:
            folder[name + draw(st.sampled_from([".yaml", ".yml", ".md", ""]))] = ""
    return folder


def _make(root: Path, tree: dict[str, t.Any]) -> list[Path]:
    root.mkdir(exist_ok=True)
    made: list[Path] = []
    for name, value in tree.items():
        if isinstance(value, dict):
            made += _make(root / name, value)
        elif not (root / name).exists():
            (root / name).write_text("id: x\n", encoding="utf-8")
            made.append(root / name)
    return made


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees(), links=st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), max_size=4))
def test_streamed_and_sorted_walks_agree_on_any_tree(tmp_path: Path, tree: dict[str, t.Any], links: t.Any) -> None:
    """Over generated trees of names that sort in every way against a "/", with hard links among
    their files: the streamed walk gives the files (and their signatures) in the order, and
    under the names, that the walk that sorts at the end gives."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    files = [path for path in _make(root / "t", tree) if path.suffix in (".yaml", ".yml")]
    for a, b in links:
        if files and files[a % len(files)] != files[b % len(files)]:
            source, target = files[a % len(files)], files[b % len(files)]
            target.unlink(missing_ok=True)
            os.link(source, target)
    paths = [str(root / "t")]
    one = _apart(_walked(paths, 1))
    assert _streamed(paths) == one
    assert one[0] == sorted(one[0])


def test_the_cached_run_with_a_split_walk_reports_what_a_full_run_reports(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch, splits: list[int]
) -> None:
    _ctime_aged(monkeypatch)
    expected = _run("--no-cache")
    assert _run() == expected and _run() == expected and splits
    place = repo / "records" / "places" / "kayseri.yaml"
    place.write_text(place.read_text(encoding="utf-8").replace('id: "kayseri"', 'id: "kayseri-city"'), encoding="utf-8")
    parsed.clear()
    changed = _run()
    assert parsed == ["records/places/kayseri.yaml"] and changed == _run("--no-cache")


def test_an_interrupted_walk_leaves_no_helper_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, splits: list[int]
) -> None:
    _hostile_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    helpers: list[int] = []
    real = loader._Part.folder
    walker = os.getpid()

    def folder(self: loader._Part, name: str, stack: list[str]) -> None:
        if self.helper is not None:  # (the walk's first folder after the split; never the helper's)
            helpers.append(self.helper.pid)
            raise KeyboardInterrupt
        if os.getpid() != walker:  # the helper lists slowly: on a busy machine it took every folder first
            time.sleep(0.05)
        real(self, name, stack)

    monkeypatch.setattr(loader._Part, "folder", folder)
    with pytest.raises(KeyboardInterrupt):
        _walked(["records"], None)
    assert splits == [18] and len(helpers) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(helpers[0], os.WNOHANG)  # ended and waited for: no process, no zombie


# -- a hostile reviewer's findings (each fixed) ---------------------------------------------------


def test_an_append_never_grows_the_snapshot_past_what_a_run_reads(
    repo: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next run would ignore a snapshot over its size cap (a full run): the save writes it anew
    before an append would take it past three quarters of the cap."""
    _ctime_aged(monkeypatch)
    _run()
    index = _snapshot(repo)
    size = index.stat().st_size
    monkeypatch.setattr(cache, "MAX_INDEX_BASE", size + size // 4)  # room for the snapshot, little for appends
    monkeypatch.setattr(cache, "MAX_INDEX_PER_FILE", 0)
    place = repo / "records" / "places" / "kayseri.yaml"
    for round_ in range(6):
        place.write_text(place.read_text(encoding="utf-8") + f"# {round_}\n", encoding="utf-8")
        expected = _run("--no-cache")
        parsed.clear()
        assert _run() == expected and parsed == ["records/places/kayseri.yaml"]  # never a full run
        assert index.stat().st_size <= cache.MAX_INDEX_BASE


def test_a_directory_planted_at_the_snapshot_leaves_no_temporary_file(repo: Path) -> None:
    folder = repo / "records" / cache.CACHE_DIR
    folder.mkdir()
    _snapshot(repo).mkdir()
    for _ in range(3):
        _run()
    assert [p.name for p in folder.iterdir() if p.name.startswith(cache._TEMP)] == []


def test_the_walk_leaves_the_callers_frozen_objects_frozen(tmp_path: Path) -> None:
    import gc

    (tmp_path / "a.yaml").write_text('id: "a"\ntype: "person"\nname: "A"\n', encoding="utf-8")
    kept = [[n] for n in range(1000)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        list(loader.iter_record_names([tmp_path]))
        assert gc.get_freeze_count() == frozen and kept
    finally:
        gc.unfreeze()


def test_no_helper_is_forked_with_jobs_1_or_another_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--jobs 1` walks alone on every path (the rest of a collection, exports too); a thread the
    threading module does not know of (`_thread`, a C library's) also forbids the fork."""
    import _thread
    import time

    from bench.corpus import make

    make(tmp_path / "records", 2)
    # (the copies sit in c00000/... folders: no one-record-per-file layout, which export keeps too)
    (tmp_path / "records-toolkit.toml").write_text('[collection]\npath = "records"\nlayout = "any"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(loader, "SPLIT_FROM", 1)

    def no_fork() -> t.NoReturn:
        raise AssertionError("the walk forked a helper")

    monkeypatch.setattr(loader.os, "fork", no_fork)
    named = sorted((tmp_path / "records").rglob("*.yaml"))[0]
    api.validate([str(named)], jobs=1, collection=True, cache=False)
    api.export([str(tmp_path / "records")], "csv", jobs=1)
    done = []
    _thread.start_new_thread(lambda: (time.sleep(1), done.append(1)), ())
    assert not loader._may_split(None)


def test_the_walks_helper_ends_with_the_process_that_forked_it() -> None:
    """SIGTERM or SIGKILL to the walking process alone: the kernel ends its helper (PR_SET_PDEATHSIG)."""
    import subprocess
    import sys
    import time

    script = (
        "import os, time\n"
        "from records_toolkit.loader import _die_with\n"
        "parent = os.getpid()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    _die_with(parent); time.sleep(120); os._exit(0)\n"
        "print(pid, flush=True)\n"
        "time.sleep(0.5)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    helper = int(done.stdout.split()[0])
    for _ in range(100):
        try:
            with open(f"/proc/{helper}/stat", "rb") as stream:
                if stream.read().rpartition(b")")[2].split()[0] == b"Z":
                    break  # dead, not yet reaped by whoever adopted it
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the helper {helper} outlived the process that forked it")


def test_unknown_ids_past_the_hints_are_decided_again_when_one_goes(
    repo: Path, monkeypatch: pytest.MonkeyPatch, parsed: list[str]
) -> None:
    """Two mistyped references, one hint (``rules.DANGLING_HINTS`` = 1): the first unknown id in
    text order gets it. When that typo is fixed, the other one gets it, in a cached run too (the
    snapshot of a run past the hints is never updated in place)."""
    _ctime_aged(monkeypatch)
    monkeypatch.setattr(rules, "DANGLING_HINTS", 1)
    efes = repo / "records" / "events" / "efes-2022.yaml"
    drills = repo / "records" / "events" / "eternity-2022.yaml"
    efes.write_text(efes.read_text(encoding="utf-8").replace('  - "izmir"', '  - "izmirr"'), encoding="utf-8")
    drills.write_text(drills.read_text(encoding="utf-8").replace('  - "turkey"', '  - "turkeyy"', 1), encoding="utf-8")
    _age(repo)
    first = _run()
    assert first == _run("--no-cache")
    said = sorted(p["message"] for p in first[1] if p["code"] == "dangling-reference")
    assert said == [
        "'izmirr' is not the id of any record (did you mean 'izmir'?)",
        "'turkeyy' is not the id of any record",
    ]
    efes.write_text(efes.read_text(encoding="utf-8").replace('  - "izmirr"', '  - "izmir"'), encoding="utf-8")
    second = _run()
    assert second == _run("--no-cache")
    assert [p["message"] for p in second[1] if p["code"] == "dangling-reference"] == [
        "'turkeyy' is not the id of any record (did you mean 'turkey'?)"
    ]


@given(
    st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=12).flatmap(
        lambda names: st.tuples(
            st.just(names),
            st.lists(st.sampled_from(names), unique=True) if names else st.just([]),
            st.permutations(names),
            st.integers(0, len(names)),
        )
    )
)
def test_the_packed_hashes_answer_as_a_dict_of_them(given_names: tuple[list[str], list[str], list[str], int]) -> None:
    """Each file's hash and records, noted in the order checked (some files never noted: not
    read), answer for any order of names as dicts keyed by name would, in chunks joined or pickled."""
    import pickle

    names, noted, order, cut = given_names
    sha = {name: bytes([len(name)]) * 32 for name in noted}
    records = {name: len(name) * 3 for name in noted}
    first, second = cache.Hashes(), cache.Hashes()
    for number, name in enumerate(noted):
        (first if number < cut else second).note(name, sha[name], records[name])
    whole = pickle.loads(pickle.dumps(first))
    whole.extend(pickle.loads(pickle.dumps(second)))
    assert len(whole) == len(noted)
    in_order = [name for name in order if name not in noted][:1] + noted + [n for n in order if n not in noted][1:]
    for asked in (order, in_order, names):  # (in_order: the files of a run, checked in its order)
        assert list(whole.each(asked)) == [(sha.get(name), records.get(name, 0)) for name in asked]
        assert [whole.get(name) for name in asked] == [(sha.get(name), records.get(name, 0)) for name in asked]


@given(
    st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=12).flatmap(
        lambda names: st.tuples(
            st.just(names),
            st.lists(st.sampled_from(names), unique=True) if names else st.just([]),
            st.lists(st.integers(0, 12), max_size=4),
            st.booleans(),
        )
    )
)
@example(given=(["a", "b", "c"], ["a", "b", "c"], [1], True))
@example(given=(["a", "b", "c"], ["a", "c"], [1], True))
def test_hashes_of_the_expected_files_keep_their_names_once(
    given: tuple[list[str], list[str], list[int], bool],
) -> None:
    """A run's hashes told the files it checks (``expected``) answer as hashes that keep every
    name, whichever files were noted and however the chunks were cut; while the files come in
    the expected order their names are not kept a second time."""
    import pickle

    names, noted, cuts, whole_order = given
    expected = loader.Names(names if whole_order else noted)
    plain, told = cache.Hashes(), cache.Hashes(expected)
    bounds = sorted({0, len(noted), *(min(c, len(noted)) for c in cuts)})
    for number, (start, end) in enumerate(itertools.pairwise(bounds)):
        for hashes in (plain, told):
            if number % 2:  # a worker's chunk, pickled back
                chunk = cache.Hashes()
                for name in noted[start:end]:
                    chunk.note(name, bytes([len(name)]) * 32, len(name))
                hashes.extend(pickle.loads(pickle.dumps(chunk)))
            else:  # checked in this process
                for name in noted[start:end]:
                    hashes.note(name, bytes([len(name)]) * 32, len(name))
    assert told == plain and list(told.noted()) == noted
    for asked in (expected, names, noted, noted[::-1]):
        assert list(told.each(asked)) == list(plain.each(asked))
        assert [told.get(name) for name in asked] == [plain.get(name) for name in asked]
    assert pickle.loads(pickle.dumps(told)) == plain
    if list(expected) == noted and expected.listed is None:  # in the expected order: the names held once
        assert len(told.names) == 0 and told.noted() is expected
    told.clear()
    assert len(told) == 0 and list(told.noted()) == [] and told.get(noted[0] if noted else "x") == (None, 0)


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"a\0b\xff",
        bytearray(b"names\0of\0files"),
        memoryview(bytearray(b"x\0y\0"))[:-1],
        "text",
        (b"a", 1),
        [None],
    ],
)
def test_a_section_written_in_pieces_reads_back_as_marshal_would(value: t.Any) -> None:
    """A run of bytes (the snapshot's names) is written after marshal's header as it is, not copied."""
    import marshal

    pieces = cache._marshalled(value)
    assert marshal.loads(b"".join(bytes(piece) for piece in pieces)) == marshal.loads(marshal.dumps(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        assert pieces[1] == value and len(pieces[0]) == 5


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_snapshot_of_the_runs_own_hashes_is_the_one_made_name_by_name(
    repo: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    """A run that fills the cache hands its hashes over to the snapshot's table (its own order:
    no names kept twice, no columns copied); the snapshot is byte for byte the one made from
    hashes that keep every name and are looked up name by name."""
    _ctime_aged(monkeypatch)
    snapshot = _snapshot(repo)
    first = _run("--jobs", jobs)
    handed_over = snapshot.read_bytes()
    shutil.rmtree(snapshot.parent)

    class NameByName(cache.Hashes):
        def __init__(self, expected: loader.Names | None = None) -> None:
            super().__init__()

    own = cache.Hashes
    monkeypatch.setattr(cache, "Hashes", NameByName)
    assert _run("--jobs", jobs) == first
    assert snapshot.read_bytes() == handed_over
    monkeypatch.setattr(cache, "Hashes", own)
    assert _run("--jobs", jobs) == first  # (read back: the same report)


_NAMES = st.text(st.sampled_from("ab/é\udcff"), min_size=1, max_size=4)


@given(st.lists(_NAMES, unique=True, max_size=10), st.lists(_NAMES, unique=True, max_size=10), st.booleans())
@example(old=["a"], new=["a", "b"], packed=True)
@example(old=["a", "b"], new=["b"], packed=True)
@example(old=["ab"], new=["b"], packed=True)
@example(old=["a", "b"], new=["a", "ab", "b"], packed=True)
@example(old=["a/b", "b"], new=["b", "a/b"], packed=True)
def test_the_files_of_the_last_run_are_found_by_their_names(old: list[str], new: list[str], packed: bool) -> None:
    """After files come, go or move, each file's number in the last run is the one looking its
    name up would give, though only the names between those both runs begin and end with are
    looked up."""
    import array

    count = len(old)
    table = incremental._Table(
        "\0".join(old).encode("utf-8", "surrogatepass"),
        count,
        count,
        True,
        bytes(incremental._SIG * count),
        bytearray(incremental._SHA * count),
        bytearray(count),
        array.array("q", range(count)),
        array.array("q", [0] * count),
    )
    order: t.Sequence[str] = loader.Names(new) if packed else new
    runs = incremental._old_numbers(table, order)
    assert [number for run in runs for number in run] == [old.index(n) if n in old else -1 for n in new]
    if packed and old and new and old[0] == new[0]:
        assert len(runs[0]) >= 1  # (found as bytes, not looked up)


# -- fmt --check and the contents known canonical -----------------------------------------------------


def _fmt(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["fmt", "--check", "--jobs", "1", *args])
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture
def fmt_parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files ``fmt`` parses in this process (a content known canonical is not parsed)."""
    from records_toolkit import canonical

    seen: list[str] = []
    real = canonical.load_bytes

    def counting(data: bytes, name: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        seen.append(name)
        return real(data, name, *args, **kwargs)

    monkeypatch.setattr(canonical, "load_bytes", counting)
    return seen


def test_fmt_check_parses_only_the_contents_it_has_not_found_canonical(repo: Path, fmt_parsed: list[str]) -> None:
    """With the collection's cache folder (a validate made it), ``fmt --check`` keeps the contents
    it found canonical without a word to say; the next check parses only the others and says what
    a check without the cache says. A file not canonical, or with a warning, is never kept."""
    assert not (repo / "records" / cache.CACHE_DIR / cache.CANONICAL).exists()
    _run()  # (the cache folder and the key)
    first = _fmt()
    assert first[0] == 0 and len(fmt_parsed) == 44
    assert (repo / "records" / cache.CACHE_DIR / cache.CANONICAL).is_file()
    fmt_parsed.clear()
    assert _fmt() == first and fmt_parsed == []
    iran = repo / "records" / "places" / "iran.yaml"
    iran.write_text(iran.read_text(encoding="utf-8").replace('type: "', 'type:\t"', 1), encoding="utf-8")
    drills = repo / "records" / "events" / "azerbaijan-mod-announces-2022-drills.yaml"
    lines = drills.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if line.startswith("notes:"))
    drills.write_text("".join([*lines[:at], 'notes: "line one \\nline two"\n', *lines[at + 1 :]]), encoding="utf-8")
    for form in ("text", "json"):
        fmt_parsed.clear()
        cached = _fmt("--output-format", form)
        assert sorted(fmt_parsed) == [
            "records/events/azerbaijan-mod-announces-2022-drills.yaml",
            "records/places/iran.yaml",
        ]
        assert cached == _fmt("--output-format", form, "--no-cache")
        assert cached[0] == 1 and "not-canonical" in cached[1] and "text-not-block" in cached[1]


def test_a_set_of_canonical_contents_not_signed_by_this_user_is_not_used(
    repo: Path, fmt_parsed: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _run()
    _fmt()
    kept = repo / "records" / cache.CACHE_DIR / cache.CANONICAL
    data = bytearray(kept.read_bytes())
    data[-40] ^= 1  # (an entry changed: its signature no longer holds)
    kept.write_bytes(bytes(data))
    fmt_parsed.clear()
    expected = _fmt("--no-cache")
    assert _fmt() == expected and len(fmt_parsed) == 88  # (each run parsed all 44)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    _run()  # (another user's key, the snapshot written anew)
    fmt_parsed.clear()
    _fmt()  # signs its own set
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    fmt_parsed.clear()
    assert _fmt() == expected and len(fmt_parsed) == 44


def test_fmt_check_of_some_files_reads_the_set_but_never_narrows_it(repo: Path, fmt_parsed: list[str]) -> None:
    _run()
    _fmt()
    kept = repo / "records" / cache.CACHE_DIR / cache.CANONICAL
    before = kept.read_bytes()
    fmt_parsed.clear()
    assert _fmt("records/places/iran.yaml")[0] == 0 and fmt_parsed == []
    assert kept.read_bytes() == before


def test_without_the_cache_folder_fmt_check_keeps_nothing(repo: Path, fmt_parsed: list[str]) -> None:
    """``fmt`` never makes the cache folder or the key: a collection never validated keeps nothing."""
    assert _fmt()[0] == 0
    assert not (repo / "records" / cache.CACHE_DIR).exists()


def test_fmt_check_in_workers_uses_the_set_and_says_the_same(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "PARALLEL_FROM", 4)
    monkeypatch.setattr(validate, "MIN_CHUNK", 3)
    _run()
    pooled = CliRunner().invoke(main, ["fmt", "--check", "--jobs", "2"])
    iran = repo / "records" / "places" / "iran.yaml"
    iran.write_text(iran.read_text(encoding="utf-8").replace('id: "', "id: ", 1), encoding="utf-8")
    again = CliRunner().invoke(main, ["fmt", "--check", "--jobs", "2", "--output-format", "json"])
    alone = CliRunner().invoke(main, ["fmt", "--check", "--jobs", "1", "--no-cache", "--output-format", "json"])
    assert pooled.exit_code == 0 and (again.exit_code, again.stdout) == (alone.exit_code, alone.stdout) == (
        1,
        alone.stdout,
    )


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_fmt_check_with_broken_schemas_says_what_it_says_without_the_cache(tmp_path: Path, jobs: str) -> None:
    """The schemas are read where a file needs them, with the cache as without it (a hostile
    tester found the cache's key reading them first: exit 3 where a check of files that do not
    parse reports them). In worker processes too (more files than the pool's threshold)."""
    import subprocess
    import sys

    (tmp_path / "records" / "persons").mkdir(parents=True)
    (tmp_path / "records-toolkit.toml").write_text('[collection]\npath = "records"\n', encoding="utf-8")
    (tmp_path / "no-schemas").mkdir()
    for number in range(validate.PARALLEL_FROM + 5):
        (tmp_path / "records" / "persons" / f"p{number}.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    env = {**os.environ, "TOOLKIT_SCHEMAS": str(tmp_path / "no-schemas"), "XDG_CACHE_HOME": str(tmp_path / "key")}
    env.pop("RECORDS_TOOLKIT_NO_CACHE", None)
    toolkit = [sys.executable, "-m", "records_toolkit", "fmt", "--check", "--jobs", jobs]

    def run(*args: str) -> tuple[int, str, str]:
        done = subprocess.run([*toolkit, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
        return done.returncode, done.stdout, done.stderr

    (tmp_path / "records" / cache.CACHE_DIR).mkdir()  # (as a validate makes it)
    cached = run()
    assert cached == run("--no-cache") and cached[0] == 1 and "yaml-syntax" in cached[1]
    assert run("records/persons/p0.yaml") == run("records/persons/p0.yaml", "--no-cache")


def test_fmt_rewrites_only_what_it_has_not_found_canonical_and_keeps_the_new_bytes(
    repo: Path, fmt_parsed: list[str]
) -> None:
    """``toolkit fmt`` uses the set as ``--check`` does: a content known canonical is neither parsed
    nor rewritten, a file rewritten is kept by its new bytes; the files written are those of a run
    without the cache."""
    _run()
    assert CliRunner().invoke(main, ["fmt"]).exit_code == 0 and len(fmt_parsed) == 44
    iran = repo / "records" / "places" / "iran.yaml"
    canonical_text = iran.read_text(encoding="utf-8")
    iran.write_text(canonical_text.replace('id: "iran"', "id: iran", 1), encoding="utf-8")
    fmt_parsed.clear()
    rewritten = CliRunner().invoke(main, ["fmt"])
    assert rewritten.exit_code == 0 and fmt_parsed == ["records/places/iran.yaml"]
    assert (
        iran.read_text(encoding="utf-8") == canonical_text
        and "reformatted records/places/iran.yaml" in rewritten.stderr
    )
    fmt_parsed.clear()
    assert _fmt()[0] == 0 and fmt_parsed == []  # (the rewritten bytes were kept)
    iran.write_text(canonical_text.replace('id: "iran"', "id: iran", 1), encoding="utf-8")
    without = CliRunner().invoke(main, ["fmt", "--no-cache"])
    assert (without.exit_code, without.stderr) == (rewritten.exit_code, rewritten.stderr)
    assert iran.read_text(encoding="utf-8") == canonical_text
