"""The toolkit as a user meets it: validate, fmt, formats, codes; exit codes and output forms."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from helpers import SHIPPED
from hypothesis import given
from strategies import collections

from records_toolkit.canonical import dumps
from records_toolkit.cli import main
from records_toolkit.loader import Document, load_text
from records_toolkit.problems import CODES

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
TOOLKIT = Path(sys.executable).with_name("toolkit")

BROKEN = """\
id: "efes-2022"
type: "event"
name: "EFES-2022"
kind: "exercise"
date: "2022-02-30"
status: "took-place"
locations:
  - "nowhere"
nmae: "typo"
sources:
  - url: "https://example.org/efes"
    title: "EFES"
    supports: ["name", "kind", "date", "status", "locations"]
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "efes.yaml").write_text(BROKEN, encoding="utf-8")
    return folder


def test_shipped_records_are_valid(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(RECORDS)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {SHIPPED} records in {SHIPPED} files, no problems\n"


def test_default_path_is_records(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0 and f"{SHIPPED} records" in result.stdout


def test_text_output_points_at_each_problem_with_a_caret(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(main, ["validate", str(broken)])
    assert result.exit_code == 1
    file = (broken / "efes.yaml").as_posix()
    lines = result.stdout.splitlines()
    assert lines[0] == f"{file}:5:7: error: '2022-02-30': February 2022 has no day 30 [schema-format]"
    assert lines[1] == '    date: "2022-02-30"'
    assert lines[2] == "    " + " " * 6 + "^"
    assert f"{file}:9:1: error: unknown key 'nmae' (did you mean 'name'?)" in result.stdout
    assert f"{file}:8:5: error: 'nowhere' is not the id of any record [dangling-reference]" in result.stdout
    assert lines[-1] == "3 problems in 1 file (1 record in 1 file checked)"
    assert "Traceback" not in result.output


def test_json_output_lists_every_problem(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(main, ["validate", "--output-format", "json", str(broken)])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert [(p["line"], p["column"], p["pointer"], p["code"]) for p in problems] == [
        (5, 7, "/date", "schema-format"),
        (8, 5, "/locations/0", "dangling-reference"),
        (9, 1, "/nmae", "schema-unknown-key"),
    ]
    assert set(problems[0]) == {"file", "line", "column", "pointer", "code", "severity", "message", "document"}


def test_fixing_what_is_reported_gives_a_clean_run_with_no_second_wave(runner: CliRunner, broken: Path) -> None:
    """The collection rules run beside the schema errors: fixing everything reported leaves nothing."""
    text = BROKEN.replace('date: "2022-02-30"', 'date: "2022-02-03"').replace('nmae: "typo"\n', "")
    (broken / "efes.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(main, ["validate", "--output-format", "json", str(broken)])
    assert [(p["line"], p["column"], p["code"]) for p in json.loads(result.stdout)] == [(8, 5, "dangling-reference")]
    (broken / "efes.yaml").write_text(text.replace('  - "nowhere"\n', '  - "efes-2022"\n'), encoding="utf-8")
    result = runner.invoke(main, ["validate", "--output-format", "json", str(broken)])
    assert [p["code"] for p in json.loads(result.stdout)] == ["reference-type"]  # the one new finding: a real one


def test_github_output_is_workflow_commands(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(main, ["validate", "--output-format", "github", str(broken)])
    assert result.exit_code == 1
    file = (broken / "efes.yaml").as_posix()
    first = result.stdout.splitlines()[0]
    assert first == (
        f"::error file={file},line=5,col=7,title=schema-format::/date%3A "[:0]
        + f"::error file={file},line=5,col=7,title=schema-format::/date: '2022-02-30': February 2022 has no day 30"
    )


def test_github_escapes_newlines_and_percent() -> None:
    from records_toolkit.problems import Problem, Report
    from records_toolkit.render import github

    report = Report([Problem(file="a,b:c.yaml", line=1, column=2, pointer="", code="x", message="50%\nnext")])
    first, notice = github(report).splitlines()  # then the summary notice (tests/test_render.py)
    assert first == "::error file=a%2Cb%3Ac.yaml,line=1,col=2,title=x::50%25%0Anext"
    assert notice.startswith("::notice title=records-toolkit::1 problem in 1 file")


def test_sarif_output(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(main, ["validate", "--output-format", "sarif", str(broken)])
    doc = json.loads(result.stdout)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["schema-format", "dangling-reference", "schema-unknown-key"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 5, "startColumn": 7}
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {
        "schema-format",
        "dangling-reference",
        "schema-unknown-key",
    }


def test_quiet_prints_nothing_but_keeps_the_exit_code(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(main, ["validate", "-q", str(broken)])
    assert (result.exit_code, result.output) == (1, "")


def test_wrong_usage_exits_2(runner: CliRunner) -> None:
    assert runner.invoke(main, ["validate", "--output-format", "xml"]).exit_code == 2
    assert runner.invoke(main, ["nonsense"]).exit_code == 2
    assert runner.invoke(main, ["export", "--format", "pdf", str(RECORDS)]).exit_code == 2
    result = runner.invoke(main, ["export", "--format", "ics", "-O", "nope=1", str(RECORDS)])
    assert result.exit_code == 2 and "nope" in result.output


def test_a_broken_schema_exits_3(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from records_toolkit.schemas import load_model

    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    (schemas / "event.schema.json").write_text(
        '{"type": "object", "properties": {"type": {"const": "event"}}, "minLength": -1}'
    )
    monkeypatch.setenv("TOOLKIT_SCHEMAS", str(schemas))
    load_model.cache_clear()
    try:
        result = runner.invoke(main, ["validate", str(RECORDS)])
    finally:
        load_model.cache_clear()
    assert result.exit_code == 3
    assert "event.schema.json" in result.output and "Traceback" not in result.output


def test_schemas_never_reach_for_the_network(tmp_path: Path) -> None:
    from records_toolkit.errors import SchemaBroken
    from records_toolkit.schemas import Model

    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    event = json.loads((schemas / "event.schema.json").read_text())
    event["properties"]["name"] = {"$ref": "https://json-schema.example/remote.json"}
    (schemas / "event.schema.json").write_text(json.dumps(event))
    with pytest.raises(SchemaBroken, match=r"remote\.json"):
        Model(schemas)


def test_format_checkers_we_rely_on_are_present() -> None:
    from records_toolkit.schemas import REQUIRED_FORMATS, load_model

    assert set(REQUIRED_FORMATS) <= set(load_model().format_checker.checkers)


def test_codes_are_listed(runner: CliRunner) -> None:
    result = runner.invoke(main, ["codes"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(CODES)


# -- fmt ---------------------------------------------------------------------------------------------

MESSY = """\
sources:
- {url: 'https://example.org/x', title: A title, supports: [name, kind, aliases, coordinates]}
kind: city
type: place
name: Yes
id: "x"
aliases: [NO, '2022-01-21', on]
coordinates: {longitude: 35.4875, latitude: 38.7225}
"""


def test_fmt_rewrites_into_the_canonical_form(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(MESSY.replace("name: Yes", 'name: "Yes"'), encoding="utf-8")
    result = runner.invoke(main, ["fmt", "--check", str(tmp_path)])
    assert result.exit_code == 1 and path.as_posix() in result.output and "not-canonical" in result.output
    assert runner.invoke(main, ["fmt", str(tmp_path)]).exit_code == 0
    assert path.read_text(encoding="utf-8") == (
        'id: "x"\ntype: "place"\nname: "Yes"\naliases:\n  - "NO"\n  - "2022-01-21"\n  - "on"\nkind: "city"\n'
        'coordinates:\n  latitude: 38.7225\n  longitude: 35.4875\nsources:\n  - url: "https://example.org/x"\n'
        '    title: "A title"\n    supports:\n      - "name"\n      - "kind"\n      - "aliases"\n      - "coordinates"\n'
    )
    assert runner.invoke(main, ["fmt", "--check", str(tmp_path)]).exit_code == 0
    assert runner.invoke(main, ["validate", str(tmp_path)]).exit_code == 0


def test_fmt_refuses_to_touch_files_it_cannot_load(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    result = runner.invoke(main, ["fmt", str(tmp_path)])
    assert result.exit_code == 1 and "yaml-duplicate-key" in result.output
    assert path.read_text(encoding="utf-8") == "a: 1\na: 2\n"


def test_shipped_records_are_canonical(runner: CliRunner) -> None:
    result = runner.invoke(main, ["fmt", "--check", str(RECORDS)])
    assert result.exit_code == 0, result.output


@given(collections())
def test_canonical_form_round_trips_and_is_idempotent(records: list[dict]) -> None:
    for record in records:
        text = dumps([record])
        (doc,) = load_text(text, "r.yaml")
        assert isinstance(doc, Document) and doc.data == record  # our strict (YAML 1.2 core) reader
        assert yaml.load(text, Loader=yaml.SafeLoader) == record  # a YAML 1.1 reader agrees
        assert dumps([doc.data]) == text  # type: ignore[list-item]
        assert text.endswith("\n") and not text.endswith("\n\n") and "\r" not in text.replace("\\r", "")


@pytest.mark.parametrize(
    "text",
    [
        "An escape in prose:\n\\U0001F600 is the grinning face.\n",
        "Two backslashes:\n\\\\U0001F600 and one: \\U0001F600 and \\u00e9, \\x41\n",
        "The face itself: \U0001f600\nand text after it\n",
    ],
)
def test_a_text_that_looks_like_an_escape_keeps_its_characters(runner: CliRunner, tmp_path: Path, text: str) -> None:
    """A multi-line text (a literal block) holds backslashes as they are: ``\\U0001F600`` there is
    eleven characters, never the emoji (``fmt`` once turned it into one, changing an article)."""
    record = {"id": "a", "type": "article", "headline": "H \U0001f600 \\U0001F600", "text": text}
    written = dumps([record])
    (doc,) = load_text(written, "a.yaml")
    assert isinstance(doc, Document) and doc.data == record
    assert yaml.load(written, Loader=yaml.SafeLoader) == record
    assert '"H \U0001f600 \\\\U0001F600"' in written  # in double quotes: the emoji as itself, the backslash escaped
    path = tmp_path / "a.yaml"
    path.write_text(written, encoding="utf-8")
    assert runner.invoke(main, ["fmt", str(tmp_path)]).exit_code == 0
    assert path.read_text(encoding="utf-8") == written


# -- the real command, as a subprocess -----------------------------------------------------------------


def test_installed_command_in_a_subprocess(tmp_path: Path, broken: Path) -> None:
    done = subprocess.run([str(TOOLKIT), "validate", str(RECORDS)], capture_output=True, text=True, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"ok: {SHIPPED} records in {SHIPPED} files, no problems\n")
    done = subprocess.run(
        [str(TOOLKIT), "validate", "--output-format", "github", str(broken)], capture_output=True, text=True
    )
    assert done.returncode == 1 and done.stdout.startswith("::error file=") and done.stderr == ""
    done = subprocess.run([sys.executable, "-m", "records_toolkit", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("toolkit ")


def test_the_core_imports_no_format() -> None:
    code = (
        "import sys\nfrom records_toolkit.validate import check_paths\n"
        f"r = check_paths([{str(RECORDS)!r}])\nassert r.report.ok\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'exporters'], 'a format was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stderr


# -- options mean the same in every command ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["validate", "-f", "json"], "has no data format. For the form of its report use --output-format"),
        (["fmt", "--format", "json"], "has no data format"),
        (["export", "--output-format", "csv", str(RECORDS)], "'csv' is a data format: use --format csv"),
        (["export", "-f", "json", str(RECORDS)], "(--output-format json is the form of the problem report)"),
        (["export", "-f", "pdf", str(RECORDS)], "'pdf' is not an installed format; use one of: csv, ics, jsonld"),
        (["export", "-f", "ics", "-O", "imprecise", str(RECORDS)], "write NAME=VALUE"),
        (["export", "-f", "ics", "-O", "imprecis=span", str(RECORDS)], "no option 'imprecis'"),
    ],
)
def test_an_option_given_the_wrong_way_round_says_which_to_use(runner: CliRunner, args: list[str], hint: str) -> None:
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert hint in result.output


def test_the_data_format_is_f_everywhere(runner: CliRunner, tmp_path: Path) -> None:
    for flag in ("-f", "-F", "--format"):
        result = runner.invoke(main, ["export", flag, "csv", str(RECORDS), "-o", str(tmp_path / flag)])
        assert result.exit_code == 0, result.output
        result = runner.invoke(
            main, ["import", flag, "csv", str(tmp_path / flag), "-o", str(tmp_path / f"{flag}-back")]
        )
        assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "-f-back").rglob("*.yaml"))) == SHIPPED


@pytest.mark.parametrize("command", ["validate", "fmt", "export", "import", "formats", "codes"])
def test_every_command_help_shows_an_example(runner: CliRunner, command: str) -> None:
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    example = result.stdout.split("Example", 1)[1]
    assert f"toolkit {command}" in example


def test_export_reports_invalid_records_in_the_chosen_form(runner: CliRunner, broken: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        main, ["export", "-f", "ics", "--output-format", "github", str(broken), "-o", str(tmp_path / "x.ics")]
    )
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("::error file=") and "title=schema-format::/date:" in result.stderr
    assert not (tmp_path / "x.ics").exists()
    quiet = runner.invoke(main, ["export", "-f", "ics", "-q", str(broken)])
    assert (quiet.exit_code, quiet.output) == (1, "")


def test_no_command_body_exits_by_itself() -> None:
    """One exit path: commands return or raise a ToolkitError; ToolkitGroup turns it into the exit code."""
    import ast

    source = (ROOT / "src" / "records_toolkit" / "cli.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command" for d in node.decorator_list
        ):
            calls = {ast.unparse(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
            assert not calls & {"sys.exit", "ctx.exit", "exit"}, (node.name, calls)


def test_import_into_a_directory_of_records_needs_force_and_leaves_no_stale_file(
    runner: CliRunner, tmp_path: Path
) -> None:
    tables, out = tmp_path / "tables", tmp_path / "out"
    assert runner.invoke(main, ["export", "-f", "csv", str(RECORDS), "-o", str(tables)]).exit_code == 0
    assert runner.invoke(main, ["import", "-f", "csv", str(tables), "-o", str(out)]).exit_code == 0
    stale = out / "places" / "atlantis.yaml"
    stale.write_text(
        (out / "places" / "iran.yaml").read_text(encoding="utf-8").replace('"iran"', '"atlantis"', 1), encoding="utf-8"
    )
    before = {p: p.read_bytes() for p in out.rglob("*.yaml")}
    result = runner.invoke(main, ["import", "-f", "csv", str(tables), "-o", str(out)])
    assert result.exit_code == 2 and f"already holds {SHIPPED + 1} record files: give --force" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*.yaml")} == before
    result = runner.invoke(main, ["import", "-f", "csv", str(tables), "-o", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert not stale.exists() and len(list(out.rglob("*.yaml"))) == SHIPPED
    assert runner.invoke(main, ["validate", str(out)]).exit_code == 0


def test_import_help_lists_only_the_formats_that_can_import(runner: CliRunner) -> None:
    result = runner.invoke(main, ["import", "--help"])
    assert "can import: csv, jsonld." in " ".join(result.stdout.split())


def test_fmt_check_says_why_a_file_is_not_canonical(runner: CliRunner, tmp_path: Path) -> None:
    source = (RECORDS / "places" / "iran.yaml").read_text(encoding="utf-8")
    cases = [
        (source.replace('id: "iran"', 'id: "iran"  ', 1), "1:11", "trailing white space: found 'id: \"iran\"··'"),
        (source.replace('type: "place"', 'type:\t"place"', 1), "2:6", "a tab: found 'type:→\"place\"'"),
        (source.replace('id: "iran"', "id: iran", 1), "1:5", "found 'id: iran', expected 'id: \"iran\"'"),
    ]
    for text, where, why in cases:
        (tmp_path / "iran.yaml").write_text(text, encoding="utf-8")
        result = runner.invoke(main, ["fmt", "--check", str(tmp_path)])
        assert result.exit_code == 1
        assert f"iran.yaml:{where}: error: not in canonical form from here on: {why}" in result.stdout, result.stdout


def test_fmt_writes_emoji_as_themselves_and_says_when_a_text_cannot_be_a_block(
    runner: CliRunner, tmp_path: Path
) -> None:
    text = (RECORDS / "places" / "iran.yaml").read_text(encoding="utf-8")
    text = text.replace('name: "Iran"', 'name: "Iran \\U0001FA82 \\U0001F1E6\\U0001F1FF"', 1)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("notes:")) + "\n"
    (tmp_path / "iran.yaml").write_text(text + 'notes: "line one \\nline two"\n', encoding="utf-8")
    result = runner.invoke(main, ["fmt", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "iran.yaml").read_text(encoding="utf-8")
    assert 'name: "Iran 🪂 🇦🇿"' in written and "\\U0001" not in written
    assert (
        "iran.yaml#/notes: warning: multi-line text written as one quoted line: its line 1 ends in white space"
        in result.stderr
    )
    assert runner.invoke(main, ["fmt", "--check", str(tmp_path)]).exit_code == 0  # idempotent


def _fmt_tree(root: Path) -> list[Path]:
    """Three copies of the shipped records with every kind of finding: not canonical (a tab, a
    missing quote, trailing space), a file that does not load, a text that cannot be a block,
    a symbolic link and a FIFO the walk refuses; two paths named."""
    from bench.corpus import make

    make(root / "a", 2)
    make(root / "b", 1)
    files = sorted((root / "a").rglob("*.yaml"))
    for number, path in enumerate(files[::9]):
        text = path.read_text(encoding="utf-8")
        path.write_text(
            [text.replace('type: "', 'type:\t"', 1), text.replace('id: "', "id: ", 1), text + "  \n"][number % 3],
            encoding="utf-8",
        )
    files[4].write_text("id: [\n", encoding="utf-8")
    files[7].write_text(files[7].read_text(encoding="utf-8") + 'notes: "a \\nb"\n', encoding="utf-8")
    (root / "a" / "link.yaml").symlink_to(files[0])
    os.mkfifo(root / "b" / "fifo.yaml")
    return [root / "a", root / "b"]


@pytest.mark.parametrize("form", ["text", "json", "github", "sarif"])
def test_fmt_check_in_worker_processes_says_what_one_process_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """A large tree is checked by worker processes in contiguous chunks: the same report, in
    the same order, in every output form, walk problems and warnings included."""
    from records_toolkit import validate

    paths = [str(path) for path in _fmt_tree(tmp_path)]
    runner = CliRunner()
    alone = runner.invoke(main, ["fmt", "--check", "--jobs", "1", "--output-format", form, *paths])
    assert alone.exit_code == 1 and "not-canonical" in alone.output and "file-symlink" in alone.output
    from records_toolkit import workers

    pools: list[int] = []
    real = workers.in_order

    def counted(work: t.Any, tasks: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        tasks = list(tasks)
        pools.append(len(tasks))
        return real(work, tasks, *args, **kwargs)

    monkeypatch.setattr(validate, "PARALLEL_FROM", 10)
    monkeypatch.setattr(validate, "MIN_CHUNK", 3)
    monkeypatch.setattr(validate, "MAX_CHUNK", 11)
    monkeypatch.setattr(workers, "in_order", counted)
    before = {path: path.read_bytes() for path in tmp_path.rglob("*.yaml") if path.is_file() and not path.is_symlink()}
    pooled = runner.invoke(main, ["fmt", "--check", "--jobs", "2", "--output-format", form, *paths])
    assert pooled.exception is None or isinstance(pooled.exception, SystemExit), repr(pooled.exception)
    assert (pooled.exit_code, pooled.stdout, pooled.stderr) == (alone.exit_code, alone.stdout, alone.stderr)
    assert len(pools) == 1 and pools[0] > 10  # one pool, many chunks
    after = {path: path.read_bytes() for path in tmp_path.rglob("*.yaml") if path.is_file() and not path.is_symlink()}
    assert after == before  # --check changes nothing


def _dies(start: int, stop: int) -> None:
    """In a worker: the end of its process, as a crash would be."""
    os._exit(1)


def test_a_fmt_check_worker_that_dies_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from records_toolkit import canonical, validate

    paths = [str(path) for path in _fmt_tree(tmp_path)]
    monkeypatch.setattr(validate, "PARALLEL_FROM", 10)
    monkeypatch.setattr(canonical, "_check_run", _dies)
    result = CliRunner().invoke(main, ["fmt", "--check", "--jobs", "2", *paths])
    assert result.exit_code == 3 and "fmt --check could not run: a worker process ended unexpectedly" in result.stderr
    assert "Traceback" not in result.output


def test_fmt_leaves_the_repositorys_other_yaml_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hook passes every changed *.yml: a workflow or a pre-commit config is not a record, and is never
    rewritten (fmt would strip its comments and quote `on:`)."""
    shutil.copytree(RECORDS, tmp_path / "records")
    workflow = tmp_path / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("# CI\non:\n  push: {}\njobs: {}\n", encoding="utf-8")
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text("repos: []  # none yet\n", encoding="utf-8")
    record = tmp_path / "records" / "places" / "iran.yaml"
    record.write_text(record.read_text(encoding="utf-8").replace('id: "iran"', "id: iran", 1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner(catch_exceptions=False).invoke(
        main, ["fmt", ".github/workflows/ci.yml", ".pre-commit-config.yaml", "records/places/iran.yaml"]
    )
    assert result.exit_code == 0, result.output
    assert workflow.read_text(encoding="utf-8") == "# CI\non:\n  push: {}\njobs: {}\n"
    assert config.read_text(encoding="utf-8") == "repos: []  # none yet\n"
    assert record.read_text(encoding="utf-8").startswith('id: "iran"')
    assert "left alone .github/workflows/ci.yml: not a record of the collection" in result.stderr
    assert "reformatted records/places/iran.yaml" in result.stderr


@pytest.mark.parametrize("entry", [["toolkit"], [sys.executable, "-m", "records_toolkit"]], ids=["launcher", "click"])
def test_a_name_the_terminal_cannot_encode_is_escaped_not_a_traceback(tmp_path: Path, entry: list[str]) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "çığ€.yaml").write_text("id: x\n", encoding="utf-8")
    command = [str(Path(sys.executable).parent / "toolkit"), *entry[1:]] if entry == ["toolkit"] else entry
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    done = subprocess.run([*command, "validate", str(folder)], capture_output=True, env=env, cwd=tmp_path)
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    assert b"\\u011f" in done.stdout + done.stderr  # ğ, escaped
