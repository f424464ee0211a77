"""`toolkit validate FILE...` inside a collection: checked against all of it, only its own problems reported.

Each test builds a small repository in ``tmp_path`` (a ``.git`` folder, ``records-toolkit.toml``,
``records/<type>s/<id>.yaml``) and runs the CLI from inside it, as an editor or a pre-commit
hook passing the changed files would.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import SHIPPED

from records_toolkit import api
from records_toolkit.cli import main
from records_toolkit.collection import CONFIG_NAME, find_config, read_config, resolve
from records_toolkit.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]

CONFIG = '[collection]\npath = "records"\nlayout = "one-record-per-file"\n'


def _place(place_id: str, name: str) -> str:
    return (
        f'id: "{place_id}"\ntype: "place"\nname: "{name}"\nkind: "city"\n'
        'sources:\n  - url: "https://example.org/a"\n    title: "Example"\n'
        '    supports:\n      - "name"\n      - "kind"\n'
    )


def _person(person_id: str, name: str, extra: str = "") -> str:
    return (
        f'id: "{person_id}"\ntype: "person"\nname: "{name}"\n{extra}'
        'sources:\n  - url: "https://example.org/a"\n    title: "Example"\n'
        '    supports:\n      - "name"\n'
    )


def _event(event_id: str, location: str) -> str:
    return (
        f'id: "{event_id}"\ntype: "event"\nname: "An Event"\nkind: "exercise"\nstatus: "took-place"\n'
        f'locations:\n  - "{location}"\n'
        'sources:\n  - url: "https://example.org/a"\n    title: "Example"\n'
        '    supports:\n      - "name"\n      - "kind"\n      - "status"\n      - "locations"\n'
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A records repository with a config and three valid records; the working directory is its root."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "records-toolkit.toml").write_text(CONFIG, encoding="utf-8")
    _write(root / "records/places/kayseri.yaml", _place("kayseri", "Kayseri"))
    _write(root / "records/places/baku.yaml", _place("baku", "Baku"))
    _write(root / "records/events/drill.yaml", _event("drill", "kayseri"))
    monkeypatch.chdir(root)
    return root


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _run(*args: str) -> Result:
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", *args])
    assert "Traceback" not in result.output
    return result


def _problems(*args: str) -> list[dict[str, t.Any]]:
    result = _run("--output-format", "json", *args)
    assert result.exit_code in (0, 1), result.output
    found: list[dict[str, t.Any]] = json.loads(result.stdout)
    return found


def _codes(*args: str) -> list[tuple[str, str]]:
    return [(p["file"], p["code"]) for p in _problems(*args)]


# -- the named files against the whole collection ------------------------------------------------


def test_a_reference_to_an_unnamed_file_resolves(repo: Path) -> None:
    _write(repo / "records/events/visit.yaml", _event("visit", "baku"))
    result = _run("records/events/visit.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 1 record in 1 file, no problems"
    alone = _problems("--no-collection", "records/events/visit.yaml")
    assert [(p["code"], p["pointer"]) for p in alone] == [("dangling-reference", "/locations/0")]


def test_a_dangling_reference_in_a_named_file_is_still_found(repo: Path) -> None:
    _write(repo / "records/events/visit.yaml", _event("visit", "bakuu"))
    found = _problems("records/events/visit.yaml")
    assert [(p["file"], p["code"]) for p in found] == [("records/events/visit.yaml", "dangling-reference")]
    assert "did you mean 'baku'" in found[0]["message"]


def test_a_duplicate_id_is_reported_at_the_named_file(repo: Path) -> None:
    # sorted first, so a whole-collection run reports the other file; the named one is the newcomer
    _write(repo / "records/persons/kayseri.yaml", _person("kayseri", "Kayseri"))
    assert ("records/places/kayseri.yaml", "duplicate-id") in _codes()
    found = _problems("records/persons/kayseri.yaml")
    assert [(p["file"], p["code"], p["pointer"]) for p in found] == [
        ("records/persons/kayseri.yaml", "duplicate-id", "/id")
    ]
    assert "already used by a place in records/places/kayseri.yaml" in found[0]["message"]


def test_problems_of_unnamed_files_are_not_reported_nor_counted(repo: Path) -> None:
    _write(repo / "records/places/broken.yaml", _place("broken", "Broken") + "nmae: typo\n")
    _write(repo / "records/events/lost.yaml", _event("lost", "nowhere"))
    (repo / "records/places/.toolkit-tmp-1-x").mkdir()
    result = _run("records/events/drill.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 1 record in 1 file, no problems"
    whole = _codes()
    assert ("records/places/broken.yaml", "schema-unknown-key") in whole
    assert ("records/events/lost.yaml", "dangling-reference") in whole
    assert ("records/places/.toolkit-tmp-1-x", "leftover-temp") in whole


def test_the_summary_counts_only_the_named_files(repo: Path) -> None:
    _write(repo / "records/events/visit.yaml", _event("visit", "nowhere"))
    result = _run("records/events/visit.yaml", "records/places/baku.yaml")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "1 problem in 1 file (2 records in 2 files checked)"


def test_a_file_named_twice_or_in_any_spelling_is_read_once(repo: Path) -> None:
    _write(repo / "records/persons/kayseri.yaml", _person("kayseri", "Kayseri"))
    named = "records/persons/kayseri.yaml"
    found = _problems(named, f"./{named}", str(repo / named), "records/persons")
    assert [p["code"] for p in found] == ["duplicate-id"]  # never "already used by ... persons/kayseri.yaml"
    assert "records/places/kayseri.yaml" in found[0]["message"]
    result = _run(named, f"./{named}", "records/persons")
    assert result.stdout.splitlines()[-1] == "1 problem in 1 file (1 record in 1 file checked)"


def test_no_collection_checks_only_the_named_files(repo: Path) -> None:
    found = _codes("--no-collection", "records/events/drill.yaml")
    assert found == [("records/events/drill.yaml", "dangling-reference")]
    # and no place rule either
    _write(repo / "records/places/wrong.yaml", _place("right", "Right"))
    assert _codes("--no-collection", "records/places/wrong.yaml") == []
    assert _run("--no-collection", "--collection", "records", "records").exit_code == 2


def test_the_config_is_found_from_a_subdirectory(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "records" / "events")
    assert find_config() == repo / "records-toolkit.toml"
    result = _run("drill.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 1 record in 1 file, no problems"
    # no path: the whole collection, wherever in the repository the command runs
    result = _run()
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 3 records in 3 files, no problems"
    _write(repo / "records/places/wrong.yaml", _place("right", "Right"))
    found = _problems()
    assert [(p["file"], p["code"]) for p in found] == [("../places/wrong.yaml", "misplaced-record")]
    assert "belongs at ../places/right.yaml" in found[0]["message"]


def test_the_config_names_the_collection_folder(repo: Path) -> None:
    (repo / "records").rename(repo / "data")
    (repo / "records-toolkit.toml").write_text('[collection]\npath = "data"\n', encoding="utf-8")
    assert _run("data/events/drill.yaml").exit_code == 0
    assert _run("--no-collection", "data/events/drill.yaml").exit_code == 1
    assert _run().stdout.strip() == "ok: 3 records in 3 files, no problems"


def _command(*args: str) -> Result:
    result = CliRunner(catch_exceptions=False).invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def test_every_command_given_no_path_works_on_the_configured_collection(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only `validate`: export, fmt, show, new and quote read records-toolkit.toml too, from
    any folder of the repository (they used to mean ./records, missing here)."""
    (repo / "records").rename(repo / "data")
    (repo / "records-toolkit.toml").write_text('[collection]\npath = "data"\n', encoding="utf-8")
    (repo / "docs").mkdir()
    monkeypatch.chdir(repo / "docs")
    exported = _command("export", "-f", "jsonld")
    assert exported.exit_code == 0, exported.output
    assert sorted(node["@id"].rsplit("/", 1)[1] for node in json.loads(exported.stdout)["@graph"]) == [
        "baku",
        "drill",
        "kayseri",
    ]
    assert _command("fmt", "--check").exit_code == 0
    (repo / "data/places/baku.yaml").write_text(_place("baku", "Baku") + "\n\n", encoding="utf-8")
    unformatted = _command("fmt", "--check")
    assert unformatted.exit_code == 1 and "../data/places/baku.yaml" in unformatted.output
    assert _command("fmt").exit_code == 0
    assert (repo / "data/places/baku.yaml").read_text(encoding="utf-8") == _place("baku", "Baku")
    shown = _command("show", "kayseri")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith('id: "kayseri"') and "drill" in shown.stdout
    made = _command("new", "person", "jane-doe")
    assert made.exit_code == 0, made.output
    assert (repo / "data/persons/jane-doe.yaml").is_file()
    # --records still names another folder; a broken config is a usage error for every command
    assert _command("show", "kayseri", "--records", str(repo / "nowhere")).exit_code == 1
    (repo / "records-toolkit.toml").write_text("[collection]\npath = 3\n", encoding="utf-8")
    for args in (["export", "-f", "jsonld"], ["fmt"], ["show", "kayseri"], ["new", "place", "x"], ["quote", "a", "b"]):
        broken = _command(*args)
        assert broken.exit_code == 2, (args, broken.output)
        assert "path must be a folder" in broken.stderr
    assert not (repo / "data/places/x.yaml").exists()


def test_a_removed_working_folder_is_said_as_such(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """getcwd() fails: it used to read "cannot write the output" (exit 3)."""
    gone = repo / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    for args in (["export", "-f", "jsonld"], ["fmt", "--check"], ["show", "kayseri"], ["validate"]):
        result = _command(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "the working folder no longer exists" in result.stderr


def test_without_a_config_commands_mean_records_here(repo: Path) -> None:
    (repo / "records-toolkit.toml").unlink()
    exported = _command("export", "-f", "jsonld")
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(exported.stdout)["@graph"]) == 3
    (repo / "records").rename(repo / "data")
    missing = _command("export", "-f", "jsonld")
    assert missing.exit_code == 1 and "records" in missing.stderr


def test_the_walk_stops_at_the_repository_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / CONFIG_NAME).write_text(CONFIG, encoding="utf-8")
    inner = tmp_path / "inner"
    (inner / ".git").mkdir(parents=True)
    (inner / "sub").mkdir()
    assert find_config(inner / "sub") is None
    assert find_config(tmp_path / "elsewhere") == tmp_path / CONFIG_NAME


def test_without_a_config_records_here_is_the_collection(repo: Path) -> None:
    (repo / "records-toolkit.toml").unlink()
    assert _run("records/events/drill.yaml").exit_code == 0
    _write(repo / "records/persons/nobody.yaml", _person("somebody", "Somebody"))
    assert _codes("records/persons/nobody.yaml") == [("records/persons/nobody.yaml", "misplaced-record")]


def test_paths_outside_the_collection_are_checked_on_their_own(repo: Path) -> None:
    _write(repo / "drafts/visit.yaml", _event("visit", "baku"))
    assert _codes("drafts/visit.yaml") == [("drafts/visit.yaml", "dangling-reference")]
    # unless the collection is named: then a draft is checked against it (no place rule outside it)
    assert _codes("--collection", "records", "drafts/visit.yaml") == []


def test_a_broken_config_is_a_usage_error(repo: Path) -> None:
    config = repo / "records-toolkit.toml"
    for text, words in [
        ("[collection\n", "not valid TOML"),
        ('[collection]\npaht = "records"\n', "unknown key 'paht'"),
        ('[collection]\nlayout = "flat"\n', "layout 'flat' is not one of"),
        ("[collection]\npath = 3\n", "path must be a folder"),
    ]:
        config.write_text(text, encoding="utf-8")
        result = _run("records")
        assert result.exit_code == 2, result.output
        assert words in result.stderr
        with pytest.raises(UsageError, match=words):
            read_config(config)
    assert _run("--collection", "nowhere", "records").exit_code == 2


def test_the_api_checks_against_the_collection_when_asked(repo: Path) -> None:
    _write(repo / "records/events/visit.yaml", _event("visit", "baku"))
    named = "records/events/visit.yaml"
    assert not api.validate([named]).ok  # the API's default: the paths on their own
    report = api.validate([named], collection=True)
    assert report.ok and report.records == 1 and report.files == 1
    assert [r["id"] for r in report.valid] == ["visit"]
    assert api.validate([named], collection="records").ok
    assert api.validate([named], collection=Path("records")).ok


# -- misplaced records ---------------------------------------------------------------------------


def test_a_record_in_the_wrong_folder(repo: Path) -> None:
    _write(repo / "records/places/ilham-aliyev.yaml", _person("ilham-aliyev", "Ilham Aliyev"))
    found = _problems("records/places/ilham-aliyev.yaml")
    assert [(p["code"], p["pointer"], p["line"]) for p in found] == [("misplaced-record", "/type", 2)]
    assert "belongs at records/persons/ilham-aliyev.yaml" in found[0]["message"]


def test_a_record_outside_any_type_folder(repo: Path) -> None:
    _write(repo / "records/baku2.yaml", _place("baku-2", "Baku"))
    _write(repo / "records/places/old/baku3.yaml", _place("baku-3", "Baku"))
    found = _problems("records/baku2.yaml", "records/places/old")
    assert [p["message"] for p in found] == [
        "a place under records/: it belongs at records/places/baku-2.yaml",
        "a place under records/places/old/: it belongs at records/places/baku-3.yaml",
    ]


def test_a_file_not_named_after_its_id(repo: Path) -> None:
    _write(repo / "records/persons/aliyev.yml", _person("ilham-aliyev", "Ilham Aliyev"))
    found = _problems("records/persons/aliyev.yml")
    assert [(p["code"], p["pointer"]) for p in found] == [("misplaced-record", "/id")]
    assert "belongs at records/persons/ilham-aliyev.yaml" in found[0]["message"]


def test_a_file_of_two_documents(repo: Path) -> None:
    _write(repo / "records/places/izmir.yaml", _place("izmir", "Izmir") + "---\n" + _place("shusha", "Shusha"))
    found = _problems("records/places/izmir.yaml")
    assert [(p["code"], p["document"], p["pointer"]) for p in found] == [("misplaced-record", 1, "")]
    assert "several documents" in found[0]["message"]
    assert "belongs at records/places/shusha.yaml" in found[0]["message"]


def test_a_record_with_an_invalid_id_is_not_also_misplaced(repo: Path) -> None:
    _write(repo / "records/places/bad.yaml", _place("Bad Id", "Bad"))
    assert [p["code"] for p in _problems("records/places/bad.yaml")] == ["schema-pattern"]


def test_layout_any_puts_no_rule_on_places(repo: Path) -> None:
    (repo / "records-toolkit.toml").write_text('[collection]\npath = "records"\nlayout = "any"\n', encoding="utf-8")
    _write(repo / "records/places/ilham-aliyev.yaml", _person("ilham-aliyev", "Ilham Aliyev"))
    assert _codes() == []
    assert _codes("records/places/ilham-aliyev.yaml") == []


def test_folders_outside_a_collection_have_no_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    _write(tmp_path / "stuff/anything.yaml", _person("ilham-aliyev", "Ilham Aliyev"))
    monkeypatch.chdir(tmp_path)
    assert _codes("stuff") == []
    assert resolve(["stuff"], True).layout is None


# -- the whole collection, as before -------------------------------------------------------------


def test_the_shipped_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for args in [(), ("records",), ("--no-collection", "records"), ("--collection", "records")]:
        result = _run(*args)
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == f"ok: {SHIPPED} records in {SHIPPED} files, no problems"
    scope = resolve(["records"], True)
    assert scope.context is None and scope.layout is not None  # named = the collection: read once
    result = _run("records/events/efes-2022.yaml", "records/persons")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 4 records in 4 files, no problems"
