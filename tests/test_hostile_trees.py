"""A records tree from an untrusted pull request: links, special files, control characters.

The policy: symbolic links inside a tree are never followed (a link named like a record, or
leading to a directory, is a ``file-symlink`` problem at the link), special files are never
read (``file-special``), and nothing untrusted reaches the terminal raw. validate, fmt, export
and import agree on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SHIPPED

from records_toolkit.cli import main
from records_toolkit.loader import TEMP_PREFIX, iter_record_files

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
TOOLKIT = Path(sys.executable).with_name("toolkit")
SECRET = "CI_TOKEN=hunter2-do-not-print"
PLACE = 'id: "x"\ntype: "place"\nname: "X"\nkind: "planet"\nsources: []\n'


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the shipped records, and a secret outside it."""
    shutil.copytree(RECORDS, tmp_path / "records")
    (tmp_path / "secret.yaml").write_text(f"# {SECRET}\nid: x\n", encoding="utf-8")
    return tmp_path / "records"


def run(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOLKIT), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def test_a_linked_record_is_refused_and_its_target_never_printed(tree: Path) -> None:
    (tree / "places" / "stolen.yaml").symlink_to(tree.parent / "secret.yaml")
    done = run("validate", str(tree))
    assert done.returncode == 1
    assert SECRET not in done.stdout + done.stderr
    assert f"{tree.as_posix()}/places/stolen.yaml: error: a symbolic link to a file: not followed" in done.stdout
    assert "[file-symlink]" in done.stdout and f"{SHIPPED} records in {SHIPPED + 1} files" in done.stdout
    for form in ("json", "github", "sarif"):
        done = run("validate", "--output-format", form, str(tree))
        assert done.returncode == 1 and SECRET not in done.stdout


def test_a_link_given_by_name_is_refused_too(tree: Path) -> None:
    """pre-commit passes the files of a pull request by name."""
    link = tree / "places" / "stolen.yaml"
    link.symlink_to("/proc/self/environ")
    done = run("validate", str(link))
    assert done.returncode == 1 and "[file-symlink]" in done.stdout
    assert "PATH=" not in done.stdout


def test_fmt_never_rewrites_a_file_outside_the_tree(tree: Path) -> None:
    outside = tree.parent / "secret.yaml"
    before = outside.read_bytes()
    (tree / "places" / "stolen.yaml").symlink_to(outside)
    done = run("fmt", str(tree))
    assert done.returncode == 1 and "[file-symlink]" in done.stdout
    assert outside.read_bytes() == before


def test_a_linked_directory_does_not_hide_an_invalid_record(tree: Path) -> None:
    hidden = tree.parent / "elsewhere"
    hidden.mkdir()
    (hidden / "bad.yaml").write_text(PLACE, encoding="utf-8")
    (tree / "more").symlink_to(hidden, target_is_directory=True)
    done = run("validate", str(tree))
    assert done.returncode == 1
    assert "more: error: a symbolic link to a directory: not followed" in done.stdout
    assert not done.stdout.startswith("ok")


def test_a_directory_named_on_the_command_line_may_be_a_link(tree: Path) -> None:
    (tree.parent / "linked").symlink_to(tree, target_is_directory=True)
    done = run("validate", str(tree.parent / "linked"))
    assert (done.returncode, done.stdout) == (0, f"ok: {SHIPPED} records in {SHIPPED} files, no problems\n")


@pytest.mark.parametrize("only", [True, False])
def test_a_fifo_named_like_a_record_is_a_problem_and_never_read(tree: Path, only: bool) -> None:
    folder = tree.parent / "fifo-only" if only else tree
    folder.mkdir(exist_ok=True)
    os.mkfifo(folder / "pipe.yaml")
    done = run("validate", str(folder), timeout=30)  # reading it would block forever
    assert done.returncode == 1
    assert (
        f"{(folder / 'pipe.yaml').as_posix()}: error: a FIFO (named pipe), not a regular file: not read"
        " [file-special]" in done.stdout
    )
    assert not done.stdout.startswith("ok")
    done = run("validate", str(folder / "pipe.yaml"), timeout=30)
    assert done.returncode == 1 and "[file-special]" in done.stdout
    done = run("export", "-f", "ics", str(folder), "-o", str(tree.parent / "x.ics"), timeout=30)
    assert done.returncode == 1 and not (tree.parent / "x.ics").exists()


def test_export_agrees_on_the_policy(tree: Path, tmp_path: Path) -> None:
    (tree / "places" / "stolen.yaml").symlink_to(tree.parent / "secret.yaml")
    done = run("export", "-f", "csv", str(tree), "-o", str(tmp_path / "tables"))
    assert done.returncode == 1 and "[file-symlink]" in done.stderr and not (tmp_path / "tables").exists()


def test_the_toolkits_own_leftovers_are_not_records(tree: Path) -> None:
    leftover = tree / f"{TEMP_PREFIX}12345-abc"
    shutil.copytree(tree / "places", leftover)  # e.g. staging left behind by a SIGKILL
    (tree / "events" / f"{TEMP_PREFIX}999-x.yaml").write_text(PLACE, encoding="utf-8")
    done = run("validate", str(tree))
    assert done.returncode == 1  # reported (a pull request cannot hide records behind the name), never read
    assert (
        "duplicate-id" not in done.stdout
        and f"2 problems in 2 files ({SHIPPED} records in {SHIPPED + 2} files checked)" in done.stdout
    )
    assert done.stdout.count("[leftover-temp]") == 2


def test_the_walk_sees_links_without_following_them(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(PLACE, encoding="utf-8")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)  # a loop: never walked
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "readme.md").symlink_to(tmp_path / "a.yaml")  # not named like a record: not one
    found = list(iter_record_files([tmp_path]))
    problems = sorted((Path(p.file).name, p.code) for p in found if not isinstance(p, Path))
    assert problems == [("dangling.yaml", "file-symlink"), ("loop", "file-symlink")]
    assert [p.name for p in found if isinstance(p, Path)] == ["a.yaml"]


# -- nothing untrusted reaches the terminal raw -------------------------------------------------------


def test_a_control_character_is_reported_at_its_place_and_shown_escaped(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(b'id: "a"\ntype: "place"\nname: "X\x1b[2J\x1b]0;pwned\x07"\n')
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    first, source, caret = result.stdout.splitlines()[:3]
    assert first.startswith(f"{tmp_path.as_posix()}/bad.yaml:3:9: error: unacceptable character '\\x1b' (U+001B)")
    assert source == '    name: "X\\x1b[2J\\x1b]0;pwned\\x07"'
    assert caret == "    " + " " * 8 + "^"
    assert "\x1b" not in result.output and "\x07" not in result.output


@pytest.mark.parametrize("form", ["text", "github"])
def test_file_names_and_values_with_controls_are_escaped(tmp_path: Path, form: str) -> None:
    name = "evil\x1b[31m\u202e.yaml"
    (tmp_path / name).write_text('id: "a"\ntype: "place"\nname: "x\u202eY"\nkind: "planet"\n', encoding="utf-8")
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", "--output-format", form, str(tmp_path)])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "evil\\x1b[31m\\u202e.yaml" in result.output


def test_json_keeps_the_exact_names_for_machines(tmp_path: Path) -> None:
    name = "evil\u202e.yaml"
    (tmp_path / name).write_text('id: "a"\n', encoding="utf-8")
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", "--output-format", "json", str(tmp_path)])
    assert {Path(p["file"]).name for p in json.loads(result.stdout)} == {name}


def test_a_linked_folder_on_the_way_to_a_named_file_is_refused(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`toolkit validate records/l/environ` with records/l -> /proc/self must not echo the environment."""
    outside = tree.parent / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text("# keep this comment\n" + PLACE, encoding="utf-8")
    (tree / "l").symlink_to(outside, target_is_directory=True)
    (tree / "p").symlink_to("/proc/self", target_is_directory=True)
    monkeypatch.chdir(tree.parent)
    runner = CliRunner(catch_exceptions=False)
    for named in ("records/p/environ", "records/l/x.yaml"):
        result = runner.invoke(main, ["validate", named])
        assert result.exit_code == 1 and "PATH=" not in result.output
        assert result.stdout.startswith(f"{named.rsplit('/', 1)[0]}: error: a symbolic link on the way to {named}")
    result = runner.invoke(main, ["fmt", "records/l/x.yaml"])
    assert result.exit_code == 1 and (outside / "x.yaml").read_text(encoding="utf-8").startswith("# keep this")


def test_a_dangling_or_looping_link_is_named_for_what_it_is(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "d.yaml: error: a symbolic link to nothing (it dangles): not followed" in result.stdout
    assert "loop.yaml: error: a symbolic link to itself (a loop): not followed" in result.stdout
    assert "[file-unreadable]" not in result.stdout


def test_a_file_name_that_is_not_utf8_is_reported_in_every_form(tmp_path: Path) -> None:
    """Linux names are bytes: one that is not UTF-8 is shown with escapes (JSON, text) or its bytes
    percent-encoded (the SARIF URI), never a traceback or output no UTF-8 reader can take."""
    import json as json_module

    folder = tmp_path / "records"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.yaml"), "wb") as stream:
        stream.write(b'id: "x"\ntype: "place"\n')
    for form in ("text", "json", "github", "sarif"):
        done = subprocess.run(
            [TOOLKIT, "validate", "--no-collection", "--output-format", form, str(folder)], capture_output=True
        )
        assert done.returncode == 1 and b"Traceback" not in done.stderr, done.stderr
        shown = done.stdout.decode("utf-8")  # valid UTF-8 whatever the name
        if form == "json":
            assert {p["file"] for p in json_module.loads(shown)} == {f"{folder.as_posix()}/caf\\xe9.yaml"}
        if form == "sarif":
            uris = {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in json_module.loads(shown)["runs"][0]["results"]
            }
            assert all(u.endswith("/caf%E9.yaml") for u in uris)
