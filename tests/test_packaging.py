"""What a records repository wires up: the pre-commit hooks point at real commands."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from records_toolkit.cli import main
from records_toolkit.problems import CODES

ROOT = Path(__file__).resolve().parents[1]


def test_pre_commit_hooks_name_real_commands() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {hook["id"] for hook in hooks} == {"toolkit-validate", "toolkit-fmt"}
    for hook in hooks:
        program, command = hook["entry"].split()
        assert program == "toolkit" and command in main.commands  # type: ignore[attr-defined]
        flags = ["--check"] if command == "fmt" else []
        result = CliRunner(catch_exceptions=False).invoke(main, [command, *flags, str(ROOT / "records")])
        assert result.exit_code == 0, result.output


def test_readme_documents_every_problem_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert set(CODES) <= documented, set(CODES) - documented


def test_make_golden_selects_every_golden_test() -> None:
    """`make golden` rewrites the goldens through the tests that compare them; it must name real tests."""
    import shlex
    import subprocess
    import sys

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ngolden:", 1)[1].split("\n")[1].strip()
    words = shlex.split(recipe.replace("$(BIN)/python", sys.executable))
    assert "--update-golden" in words
    collect = [w for w in words if w != "--update-golden"] + ["--collect-only"]
    done = subprocess.run(collect, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    selected = [line for line in done.stdout.splitlines() if "::" in line]
    for fmt in ("csv", "ics", "jsonld", "markdown"):
        assert any(f"test_{fmt}.py::" in line and "golden" in line for line in selected), (fmt, selected)


def test_the_fuzzer_runs_and_finds_no_foreign_exception() -> None:
    """`make fuzz` in small: a fixed seed and number of inputs (the real run is time-bounded)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fuzz.py"), "--seconds", "120", "--runs", "40", "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tried = re.search(r"fuzz: seed 3, (\d+) inputs tried", done.stdout)  # a step may try two inputs
    assert tried and 40 <= int(tried.group(1)) <= 41 and "0 foreign exceptions" in done.stdout, done.stdout


@pytest.mark.slow
def test_the_hooks_touch_records_only(tmp_path: Path) -> None:
    """`pre-commit try-repo` on a scratch repository holding records, a workflow and a pre-commit config:
    toolkit-fmt rewrites the record that is not canonical and leaves the other YAML files as they are."""
    import shutil
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PRE_COMMIT_HOME": str(tmp_path / "cache"),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
        }
        return subprocess.run(args, cwd=tmp_path / "repo", capture_output=True, text=True, env=env, timeout=900)

    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "records", repo / "records")
    workflow = repo / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("# CI\non:\n  push: {}\njobs: {}\n", encoding="utf-8")
    (repo / ".pre-commit-config.yaml").write_text("repos: []  # none yet\n", encoding="utf-8")
    record = repo / "records" / "places" / "iran.yaml"
    record.write_text(record.read_text(encoding="utf-8").replace('id: "iran"', "id: iran", 1), encoding="utf-8")
    assert run("git", "init", "-q").returncode == 0
    assert run("git", "add", "-A").returncode == 0 and run("git", "commit", "-qm", "scratch").returncode == 0
    pre_commit = [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT)]
    fmt = run(*pre_commit, "toolkit-fmt", "--all-files")
    assert fmt.returncode == 1 and "files were modified by this hook" in fmt.stdout, fmt.stdout + fmt.stderr
    assert "left alone .github/workflows/ci.yml: not a record of the collection" in fmt.stdout
    assert run("git", "status", "--short").stdout.strip() == "M records/places/iran.yaml"
    assert workflow.read_text(encoding="utf-8") == "# CI\non:\n  push: {}\njobs: {}\n"
    validate = run(*pre_commit, "toolkit-validate", "--all-files")
    assert validate.returncode == 0, validate.stdout + validate.stderr


def test_the_modelling_guide_names_only_records_that_exist() -> None:
    """The guide's examples are the shipped records: every file and id it names must be there."""
    import re

    guide = (ROOT / "docs" / "modelling.md").read_text(encoding="utf-8")
    files = set(re.findall(r"`((?:articles|events|places|agreements|persons|organizations)/[a-z0-9-]+\.yaml)`", guide))
    assert len(files) >= 8
    for name in files:
        assert (ROOT / "records" / name).is_file(), name
    ids = {p.stem for p in (ROOT / "records").rglob("*.yaml")}
    for record_id in re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", guide):
        if record_id in {"training-course", "took-place", "under-way", "x-attested"} or record_id in CODES:
            continue
        assert record_id in ids, record_id
