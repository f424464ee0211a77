"""A catalogue of example folders: every refusal and rule, proven with its exact position.

``tests/examples/valid/<case>/`` holds records that must validate (exit 0, no problem).
``tests/examples/invalid/<case>/`` holds the smallest set of records that shows ONE kind of
problem (valid helper records allowed) and ``expected.json``: the problems ``toolkit validate
-f json`` must print, each ``{"file", "line", "column", "pointer", "code", "message_contains"}``
(``file`` relative to the case folder; an optional ``"document"`` is the index in a
multi-document file). An optional ``args.json`` holds extra CLI arguments (a JSON list).

Each case runs through the CLI with the case folder as the working directory, so file names
in the output are relative to it. A new folder is a new test: nothing to register.

Cases in :data:`KNOWN_BUGS` show behaviour that is wrong today; they are strict xfails, so
fixing the bug turns them into failures until the entry is removed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from records_toolkit.cli import main
from records_toolkit.loader import Document, load_paths
from records_toolkit.render import visible
from records_toolkit.schemas import load_model

EXAMPLES = Path(__file__).resolve().parent / "examples"
VALID = sorted(p for p in (EXAMPLES / "valid").iterdir() if p.is_dir())
INVALID = sorted(p for p in (EXAMPLES / "invalid").iterdir() if p.is_dir())
KEYS = ("file", "line", "column", "pointer", "code")
SECONDS = 5.0  # generous; every case takes well under a second (the alias bomb included)

#: case name -> why the toolkit's behaviour is wrong (the expected files say what is right).
KNOWN_BUGS: dict[str, str] = {}


def _case_param(case: Path) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[case.name])] if case.name in KNOWN_BUGS else []
    return pytest.param(case, id=case.name, marks=marks)


def _validate(case: Path, output_format: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    args_file = case / "args.json"
    extra = json.loads(args_file.read_text(encoding="utf-8")) if args_file.exists() else []
    monkeypatch.chdir(case)
    started = time.perf_counter()
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", "--output-format", output_format, *extra, "."])
    elapsed = time.perf_counter() - started
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    assert elapsed < SECONDS, f"took {elapsed:.1f} s"
    return result


def _source_line(case: Path, file: str, line: int) -> str | None:
    lines = (case / file).read_bytes().decode("utf-8", "replace").split("\n")
    return lines[line - 1].rstrip("\r") if 1 <= line <= len(lines) else None


def test_catalogue_is_complete() -> None:
    assert len(VALID) >= 5 and len(INVALID) >= 40
    assert set(KNOWN_BUGS) <= {c.name for c in VALID + INVALID}, "a KNOWN_BUGS entry names no case"
    for case in INVALID:
        expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        assert expected, f"{case.name}: expected.json lists no problem"
        for item in expected:
            assert set(item) >= {*KEYS, "message_contains"}, f"{case.name}: {item}"
            assert (case / item["file"]).is_file(), f"{case.name}: no file {item['file']}"
    for case in VALID:
        assert not (case / "expected.json").exists(), f"{case.name}: a valid case expects no problem"


def test_every_optional_field_case_uses_every_field() -> None:
    """The valid case `every-optional-field` keeps up with the schemas: every property of every type."""
    model = load_model()
    used: dict[str, set[str]] = {name: set() for name in model.types}
    source_keys: set[str] = set()
    participant_keys: set[str] = set()
    identifier_keys: set[str] = set()
    for _, loaded in load_paths([EXAMPLES / "valid" / "every-optional-field"]):
        assert isinstance(loaded, Document), loaded
        data = loaded.data
        assert isinstance(data, dict)
        used[data["type"]] |= set(data)
        source_keys.update(*(set(s) for s in data["sources"]))
        participant_keys.update(*(set(p) for p in data.get("participants", [])))
        identifier_keys |= set(data.get("identifiers", {}))
    for name, info in model.types.items():
        assert set(info.properties) - used[name] == set(), name
    defs = model.documents["defs"]["$defs"]
    assert source_keys == set(defs["source"]["properties"])
    assert participant_keys == set(defs["participant"]["properties"])
    assert identifier_keys == set(defs["identifiers"]["properties"])


@pytest.mark.parametrize("case", [_case_param(c) for c in VALID])
def test_valid(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _validate(case, "json", monkeypatch)
    assert json.loads(result.stdout) == []
    assert result.exit_code == 0
    text = _validate(case, "text", monkeypatch)
    assert text.exit_code == 0
    assert text.stdout.startswith("ok: "), text.stdout


@pytest.mark.parametrize("case", [_case_param(c) for c in INVALID])
def test_invalid(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))

    result = _validate(case, "json", monkeypatch)
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout)
    got = [{k: p[k] for k in KEYS} | {"document": p["document"]} for p in problems]
    want = [{k: e[k] for k in KEYS} | {"document": e.get("document", 0)} for e in expected]
    assert got == want
    for problem, item in zip(problems, expected):
        assert problem["severity"] == "error"
        assert item["message_contains"] in problem["message"], (item, problem["message"])

    text = _validate(case, "text", monkeypatch)
    assert text.exit_code == 1
    lines = text.stdout.splitlines()
    assert lines[-1].startswith(f"{len(expected)} problem"), lines[-1]
    for item in expected:
        head = f"{item['file']}:{item['line']}:{item['column']}: error: "
        found = [
            i
            for i, line in enumerate(lines)
            if line.startswith(head) and line.endswith(f"[{item['code']}]") and item["message_contains"] in line
        ]
        assert found, f"no line {head}...{item['message_contains']}...[{item['code']}] in:\n{text.stdout}"
        if not (case / item["file"]).read_bytes():
            continue  # an empty file has no line to show
        at = found[0]
        source = _source_line(case, item["file"], item["line"])
        assert source is not None and source.strip(), f"{head}: line {item['line']} is past the end or blank"
        shown, column = source.expandtabs(1), item["column"]
        if len(shown) > 120:  # long lines are shown around the column, marked with an ellipsis
            start = max(0, column - 60)
            shown = ("…" if start else "") + shown[start : start + 120] + ("…" if start + 120 < len(shown) else "")
            column = column - start + (1 if start else 0)
        # control characters are shown escaped (tests/test_hostile_trees.py pins the escapes)
        assert lines[at + 1] == "    " + visible(shown), text.stdout
        assert lines[at + 2] == "    " + " " * len(visible(shown[: column - 1])) + "^", text.stdout
