"""The toolkit from Python, as a pipeline uses it: records_toolkit.api, its errors and its types."""

from __future__ import annotations

import datetime
import enum
import functools
import io
import json
import re
import shutil
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
import yaml
from helpers import SHIPPED

import records_toolkit
from records_toolkit import api, errors
from records_toolkit.plugins import Exported
from records_toolkit.problems import Problem, Report

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
GOLDEN = ROOT / "tests" / "golden"
Record = dict[str, t.Any]


@pytest.fixture(scope="module")
def report() -> Report:
    return api.validate([RECORDS])


def test_validate_gives_plain_sorted_records(report: Report) -> None:
    assert report.ok and (report.files, report.records) == (SHIPPED, SHIPPED)
    assert len(report.valid) == SHIPPED
    assert all(type(r) is dict for r in report.valid)  # no wrapper type leaks
    keys = [(r["type"], r["id"]) for r in report.valid]
    assert keys == sorted(keys)
    assert all(list(r)[:2] == ["id", "type"] for r in report.valid)  # canonical key order
    json.dumps(report.valid)  # JSON-like through and through


def test_validate_keeps_only_the_records_without_errors(tmp_path: Path) -> None:
    shutil.copytree(RECORDS, tmp_path / "records")
    broken = tmp_path / "records" / "events" / "efes-2022.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("2022-05-09/2022-06-09", "2022-06-09/2022-05-09"), encoding="utf-8"
    )
    found = api.validate([tmp_path / "records"])
    assert not found.ok and found.records == SHIPPED
    assert [(p.code, p.pointer, p.line) for p in found.errors] == [("date-order", "/date", 8)]
    assert len(found.valid) == SHIPPED - 1 and "efes-2022" not in {r["id"] for r in found.valid}
    with pytest.raises(errors.InvalidRecords) as caught:
        found.raise_for_problems()
    assert caught.value.report is found and caught.value.exit_code == 1


def test_validate_without_collect_holds_no_records() -> None:
    found = api.validate(RECORDS, collect=False)
    assert found.ok and found.valid == [] and found.records == SHIPPED
    with pytest.raises(errors.UsageError, match="collect=True"):
        api.export(found, "ics")


def test_validate_records_in_memory_names_each_record(report: Report) -> None:
    records = [dict(r) for r in report.valid]
    event = next(i for i, r in enumerate(records) if r["type"] == "event")
    records[event] = dict(records[event], date="2022-02-30")
    found = api.validate_records(records)
    assert [(p.file, p.pointer, p.code, p.line) for p in found.errors] == [
        (f"<record {event + 1}>", "/date", "schema-format", None)
    ]
    assert len(found.valid) == SHIPPED - 1
    found = api.validate_records([{"id": "x"}, "not a mapping"])  # type: ignore[list-item]
    assert {p.code for p in found.errors} == {"unknown-type", "yaml-not-mapping"}


def test_the_callers_records_are_never_changed(report: Report) -> None:
    records = [json.loads(json.dumps(r)) for r in report.valid]
    snapshot = json.dumps(records)
    api.export(records, "csv")
    api.export(records, "jsonld")
    assert json.dumps(records) == snapshot


def test_load_streams_records_and_collects_or_raises_problems(tmp_path: Path) -> None:
    stream = api.load(RECORDS / "places")
    first = next(stream)  # a generator: nothing else read yet
    assert first["type"] == "place" and type(first) is dict
    assert len([first, *stream]) == len(list((RECORDS / "places").glob("*.yaml")))
    (tmp_path / "a.yaml").write_text('id: "a"\ntype: "place"\n', encoding="utf-8")
    (tmp_path / "b.yaml").write_text('id: "b"\nid: "c"\n', encoding="utf-8")
    problems: list[Problem] = []
    assert [r["id"] for r in api.load(tmp_path, problems=problems)] == ["a"]
    assert [(p.file.rsplit("/", 1)[1], p.line, p.column, p.code) for p in problems] == [
        ("b.yaml", 2, 1, "yaml-duplicate-key")
    ]
    with pytest.raises(errors.InvalidData, match=r"b\.yaml:2:1: duplicate key 'id'"):
        list(api.load(tmp_path))


def test_export_returns_bytes_equal_to_the_golden_files(report: Report) -> None:
    exported = api.export(report, "ics", source_date_epoch=None)
    assert isinstance(exported, Exported)
    assert exported.data == (GOLDEN / "article.ics").read_bytes()
    assert any("leaves out" in n or "not known to the day" in n for n in exported.notices) or exported.notices
    assert api.export(report, "markdown").data == (GOLDEN / "article.md").read_bytes()
    assert api.export(RECORDS, "jsonld").data == (GOLDEN / "article.jsonld").read_bytes()  # from paths


def test_export_options_are_keyword_arguments(report: Report) -> None:
    skipped = api.export(report, "ics").data
    spanned = api.export(report, "ics", imprecise="span").data
    assert spanned.count(b"BEGIN:VEVENT") > skipped.count(b"BEGIN:VEVENT")
    with pytest.raises(
        errors.OptionError, match=r"no option 'imprecis' \(its options: calname, imprecise, previous, refresh\)"
    ) as caught:
        api.export(report, "ics", imprecis="span")
    assert caught.value.exit_code == 2
    with pytest.raises(errors.OptionError, match="use one of skip, span"):
        api.export(report, "ics", imprecise="sometimes")
    with pytest.raises(errors.OptionError, match="as text"):
        api.export(report, "ics", imprecise=True)  # type: ignore[arg-type]
    with pytest.raises(errors.UsageError, match="no format named 'pdf'"):
        api.export(report, "pdf")


def test_export_to_a_file_object_a_file_and_a_directory(report: Report, tmp_path: Path) -> None:
    stream = io.BytesIO()
    api.export(report, "ics", to=stream)
    assert stream.getvalue() == (GOLDEN / "article.ics").read_bytes()
    api.export(report, "ics", to=tmp_path / "a.ics")
    assert (tmp_path / "a.ics").read_bytes() == stream.getvalue()
    exported = api.export(report, "csv", to=str(tmp_path / "tables"))
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == sorted(exported.files)
    with pytest.raises(errors.UsageError, match="directory path"):
        api.export(report, "csv", to=io.BytesIO())
    with pytest.raises(errors.UsageError, match="35 files, not one"):
        _ = api.export(report, "csv").data
    with pytest.raises(errors.UsageError, match="binary file object"):
        api.export(report, "ics", to=io.StringIO())


def test_invalid_records_export_nothing(report: Report, tmp_path: Path) -> None:
    target = tmp_path / "a.ics"
    target.write_bytes(b"old")
    records = [dict(r, status="done") if r["type"] == "event" else r for r in report.valid]
    with pytest.raises(errors.InvalidRecords) as caught:
        api.export(records, "ics", to=target)
    assert {p.code for p in caught.value.report.errors} == {"schema-enum"}
    assert "nothing written" in str(caught.value)
    assert target.read_bytes() == b"old"


def test_import_gives_back_the_records_and_writes_canonical_yaml(report: Report, tmp_path: Path) -> None:
    api.export(report, "csv", to=tmp_path / "tables")
    back = api.import_records(tmp_path / "tables", "csv", to=tmp_path / "again")
    assert back == report.valid
    written = sorted(p.relative_to(tmp_path / "again").as_posix() for p in (tmp_path / "again").rglob("*.yaml"))
    assert written == sorted(p.relative_to(RECORDS).as_posix() for p in RECORDS.rglob("*.yaml"))
    for path in (tmp_path / "again").rglob("*.yaml"):  # canonical, byte for byte the shipped files
        assert path.read_bytes() == (RECORDS / path.relative_to(tmp_path / "again")).read_bytes()


def test_import_errors_are_the_toolkits_own(report: Report, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonld").write_text('{"@context": 1,\n "@graph": [}', encoding="utf-8")
    with pytest.raises(errors.InvalidSource) as caught:
        api.import_records(tmp_path / "bad.jsonld", "jsonld")
    (problem,) = caught.value.problems
    assert (problem.line, problem.column, caught.value.exit_code) == (2, 13, 1)
    with pytest.raises(errors.InvalidData, match="no such file"):
        api.import_records(tmp_path / "missing", "csv")
    with pytest.raises(errors.UsageError, match="cannot import"):
        api.import_records(tmp_path / "bad.jsonld", "ics")
    data = api.export(report, "jsonld").data.replace(b'"termCode": "took-place"', b'"termCode": "took-place-maybe"', 1)
    (tmp_path / "odd.jsonld").write_bytes(data)
    with pytest.raises(errors.InvalidData) as invalid:  # read, but not a valid record: the data's fault
        api.import_records(tmp_path / "odd.jsonld", "jsonld", to=tmp_path / "out")
    assert invalid.value.exit_code == 1 and not (tmp_path / "out").exists()


def test_canonical_yaml_is_what_fmt_writes(report: Report) -> None:
    place = next(r for r in report.valid if r["type"] == "place")
    text = api.canonical_yaml(place)
    assert text.encode() == (RECORDS / "places" / f"{place['id']}.yaml").read_bytes()
    shuffled = dict(reversed(list(place.items())))
    assert api.canonical_yaml(shuffled) == text
    assert api.canonical_yaml([place, place]) == text + "---\n" + text
    assert yaml.safe_load(text)["id"] == place["id"]


def test_fmt_reports_and_rewrites(tmp_path: Path) -> None:
    source = next(iter(sorted((RECORDS / "places").glob("*.yaml"))))
    target = tmp_path / source.name
    target.write_text(source.read_text(encoding="utf-8").replace('type: "place"', "type: place"), encoding="utf-8")
    checked = api.fmt(tmp_path, check=True)
    assert [p.code for p in checked.report.problems] == ["not-canonical"] and checked.changed == [target.as_posix()]
    assert target.read_bytes() != source.read_bytes()
    done = api.fmt(tmp_path)
    assert done.report.ok and target.read_bytes() == source.read_bytes()


def test_formats_lists_the_built_ins() -> None:
    found = api.formats()
    assert [f.name for f in found.available][:4] == ["csv", "ics", "jsonld", "markdown"] and not found.broken
    assert {f.name: f.can_import for f in found.available}.items() >= {
        "csv": True,
        "jsonld": True,
        "ics": False,
    }.items()


def test_the_package_exports_the_api_errors_and_values() -> None:
    assert records_toolkit.api is api
    assert records_toolkit.InvalidRecords is errors.InvalidRecords and records_toolkit.Report is Report
    assert set(records_toolkit.__all__) >= {"api", "ToolkitError", "Problem", "Report", "__version__"}
    for name in records_toolkit.__all__:
        assert getattr(records_toolkit, name) is not None
    with pytest.raises(AttributeError):
        _ = records_toolkit.nonsense  # type: ignore[attr-defined]
    assert (Path(records_toolkit.__file__).parent / "py.typed").exists()


def test_every_error_has_its_exit_code_and_one_root() -> None:
    expected = {
        "InvalidData": 1,
        "InvalidRecords": 1,
        "InvalidSource": 1,
        "UsageError": 2,
        "OptionError": 2,
        "CouldNotRun": 3,
        "SchemaBroken": 3,
        "PluginError": 3,
        "PluginLoadError": 3,
        "OutputError": 3,
    }
    for name, code in expected.items():
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ToolkitError) and cls.exit_code == code, name


def test_readme_example_runs(tmp_path: Path) -> None:
    """The README's Python example, run as a user would: a fresh process in a records repository."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- api-example[^>]*-->\n```python\n(.*?)```", readme, re.S)
    assert match, "the README has no api-example block"
    shutil.copytree(RECORDS, tmp_path / "records")
    (tmp_path / "example.py").write_text(match.group(1), encoding="utf-8")
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert "/date '2022-02-30': February 2022 has no day 30" in done.stdout, done.stdout
    assert 'id: "' in done.stdout and lines[-1] in {p.stem for p in (RECORDS / "places").glob("*.yaml")}
    assert (tmp_path / "tables" / "datapackage.json").exists()


def test_the_api_is_strictly_typed(tmp_path: Path) -> None:
    """A pipeline type-checks against the API with strict mypy (py.typed ships with the package)."""
    pipeline = tmp_path / "pipeline.py"
    pipeline.write_text(
        textwrap.dedent("""
        from records_toolkit import api
        from records_toolkit.errors import ToolkitError
        from records_toolkit.problems import Report

        def events(paths: list[str]) -> list[str]:
            report: Report = api.validate(paths)
            return [str(r["id"]) for r in report.valid if r["type"] == "event"]

        def calendar(paths: list[str]) -> bytes:
            try:
                return api.export(paths, "ics", imprecise="span").data
            except ToolkitError as exc:
                raise SystemExit(exc.exit_code) from exc
    """),
        encoding="utf-8",
    )
    wrong = tmp_path / "wrong.py"  # and the types say something: a mistake is caught
    wrong.write_text("from records_toolkit import api\ncount: int = api.export(['records'], 'ics').data\n", "utf-8")
    for path, expected in ((pipeline, 0), (wrong, 1)):
        done = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )
        assert done.returncode == expected, done.stdout


def test_problems_of_records_in_memory_are_shown_at_their_pointer(report: Report) -> None:
    from records_toolkit.render import text

    records = [dict(r, kind="planet") if r["type"] == "place" and r["id"] == "iran" else r for r in report.valid]
    found = api.validate_records(records)
    index = next(i for i, r in enumerate(records) if r["id"] == "iran") + 1
    assert text(found).splitlines()[0].startswith(f"<record {index}>#/kind: error: 'planet' is not allowed")


# -- wrong input is a toolkit error, never another exception -----------------------------------------

WRONG_CALLS: list[tuple[str, t.Callable[[], t.Any]]] = [
    ("load(5)", lambda: list(api.load(5))),  # type: ignore[arg-type]
    ("load([None])", lambda: list(api.load([None]))),  # type: ignore[list-item]
    ("load(b'records')", lambda: list(api.load(b"records"))),  # type: ignore[arg-type]
    ("load problems=5", lambda: list(api.load("records", problems=5))),  # type: ignore[arg-type]
    ("load NUL", lambda: list(api.load("rec\x00ords"))),
    ("validate(5)", lambda: api.validate(5)),  # type: ignore[arg-type]
    ("validate size", lambda: api.validate(RECORDS, max_file_size="x")),  # type: ignore[arg-type]
    ("validate jobs", lambda: api.validate(RECORDS, jobs=1.5)),  # type: ignore[arg-type]
    ("validate jobs 0", lambda: api.validate(RECORDS, jobs=0)),
    ("fmt(5)", lambda: api.fmt(5)),  # type: ignore[arg-type]
    ("fmt size", lambda: api.fmt(RECORDS, max_file_size=None)),  # type: ignore[arg-type]
    ("validate_records(None)", lambda: api.validate_records(None)),  # type: ignore[arg-type]
    ("validate_records names short", lambda: api.validate_records([{}, {}], names=["a"])),
    ("validate_records names 5", lambda: api.validate_records([{}], names=[5])),  # type: ignore[list-item]
    ("export(None)", lambda: api.export(None, "ics")),  # type: ignore[arg-type]
    ("export(5)", lambda: api.export(5, "ics")),  # type: ignore[arg-type]
    ("export format list", lambda: api.export(RECORDS, ["ics"])),  # type: ignore[arg-type]
    ("export to NUL", lambda: api.export(RECORDS, "ics", to="a\x00b")),
    ("export to 5", lambda: api.export(RECORDS, "ics", to=5)),  # type: ignore[arg-type]
    ("import None", lambda: api.import_records(None, "csv")),  # type: ignore[arg-type]
    ("import to 5", lambda: api.import_records(RECORDS, "csv", to=5)),  # type: ignore[arg-type]
    ("import format {}", lambda: api.import_records(RECORDS, {})),  # type: ignore[arg-type]
    ("canonical_yaml(None)", lambda: api.canonical_yaml(None)),  # type: ignore[arg-type]
    ("canonical_yaml nan", lambda: api.canonical_yaml({"id": "x", "n": float("nan")})),
    ("canonical_yaml bytes", lambda: api.canonical_yaml({"id": "x", "n": b"x"})),
    ("canonical_yaml int key", lambda: api.canonical_yaml({1: "x"})),  # type: ignore[dict-item]
    ("canonical_yaml deep", lambda: api.canonical_yaml({"a": functools.reduce(lambda v, _: [v], range(5000), [])})),
]


@pytest.mark.parametrize(("label", "call"), WRONG_CALLS, ids=[label for label, _ in WRONG_CALLS])
def test_a_wrong_call_raises_a_usage_error(label: str, call: t.Callable[[], t.Any]) -> None:
    with pytest.raises(errors.ToolkitError) as caught:
        call()
    assert caught.value.exit_code in (1, 2), label


class Kind(str, enum.Enum):  # noqa: UP042 - str() of a (str, Enum) is its name: the case that corrupted CSV cells
    EXERCISE = "exercise"


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        (datetime.date(2022, 1, 21), "schema-type", "write dates as EDTF text"),
        (b"x", "schema-type", "a bytes is not a JSON value"),
        ({1, 2}, "schema-type", "a set is not a JSON value"),
        (float("nan"), "yaml-number", "not a number JSON can hold"),
        (10**200, "yaml-number", "more than 100 digits"),
        ("\ud800", "encoding", "lone surrogate"),
        ({1: "x"}, "yaml-key-type", "keys must be text"),
    ],
)
def test_a_value_json_cannot_hold_is_a_problem_of_its_record(
    report: Report, value: t.Any, code: str, words: str
) -> None:
    records = [dict(r, notes=value) if r["id"] == "efes-2022" else r for r in report.valid]
    name = f"<record {next(i for i, r in enumerate(records) if r['id'] == 'efes-2022') + 1}>"
    found = api.validate_records(records)
    (problem,) = [p for p in found.errors if p.file == name]  # (references to it dangle: issue 10)
    assert (problem.code, problem.pointer) == (code, "/notes") and words in problem.message
    assert "efes-2022" not in {r["id"] for r in found.valid}


def test_text_and_number_subclasses_are_read_as_their_values(report: Report) -> None:
    records = [dict(r, kind=Kind.EXERCISE) if r["id"] == "efes-2022" else r for r in report.valid]
    found = api.validate_records(records)
    assert found.ok
    efes = next(r for r in found.valid if r["id"] == "efes-2022")
    assert type(efes["kind"]) is str and efes["kind"] == "exercise"
    tables = api.export(records, "csv").files["events.csv"].decode()
    assert "Kind.EXERCISE" not in tables and ",exercise," in tables


def test_names_given_to_records_in_memory_are_never_read_from_disk(report: Report) -> None:
    records = [dict(r, status="done") if r["id"] == "efes-2022" else r for r in report.valid]
    real = sorted(str(p) for p in RECORDS.rglob("*.yaml"))[: len(records)]
    found = api.validate_records(records, names=real)
    assert found.errors and all(p.line is None and p.column is None for p in found.errors)
    assert "/status" in {p.pointer for p in found.errors}


def test_a_report_edited_after_validation_is_validated_again(report: Report) -> None:
    copy_of = api.validate(RECORDS)
    copy_of.valid[0]["id"] = "Not A Slug"
    with pytest.raises(errors.InvalidRecords, match="changed after validation"):
        api.export(copy_of, "jsonld")


def test_a_plugin_cannot_change_the_callers_records(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_plugins import TINY, install_outside_format

    mutator = TINY.replace(
        "return Exported(", "records[0]['name'] = 'MUTATED'; records.append({})\n        return Exported("
    )
    assert mutator != TINY
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", mutator)))
    mine = api.validate(RECORDS)
    before = json.dumps(mine.valid)
    api.export(mine, "tiny")
    assert json.dumps(mine.valid) == before
    assert api.export(mine, "jsonld").data == (GOLDEN / "article.jsonld").read_bytes()


def test_closed_stdout_is_an_output_error_not_a_traceback() -> None:
    toolkit = Path(sys.executable).with_name("toolkit")
    done = subprocess.run(f"'{toolkit}' export -f ics '{RECORDS}' >&-", shell=True, capture_output=True, text=True)
    assert done.returncode == 3 and "standard output" in done.stderr and "Traceback" not in done.stderr


def test_an_import_never_writes_what_validate_would_refuse(report: Report, tmp_path: Path) -> None:
    """The limits of validate hold for imports: items per list, and the size of each written file."""
    many = [dict(r, aliases=[f"alias {n}" for n in range(10_001)]) if r["id"] == "iran" else r for r in report.valid]
    found = api.validate_records(many)
    assert {(p.code, p.pointer) for p in found.errors} >= {("yaml-too-many-items", "/aliases")}
    tables = tmp_path / "tables"
    api.export(report, "csv", to=tables)
    aliases = tables / "place_aliases.csv"
    extra = "".join(f"iran,{n},alias {n}\r\n" for n in range(100, 10_101))
    aliases.write_text(aliases.read_text(encoding="utf-8") + extra, encoding="utf-8")
    with pytest.raises(errors.InvalidRecords) as caught:
        api.import_records(tables, "csv", to=tmp_path / "out")
    assert "yaml-too-many-items" in {p.code for p in caught.value.report.errors}
    assert not (tmp_path / "out").exists()


def test_an_import_whose_yaml_would_be_too_large_writes_nothing(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import records_toolkit.loader as loader

    api.export(report, "csv", to=tmp_path / "tables")
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 2_000)  # the article's YAML is larger than this
    with pytest.raises(errors.InvalidRecords) as caught:
        api.import_records(tmp_path / "tables", "csv", to=tmp_path / "out")
    assert "file-too-large" in {p.code for p in caught.value.report.errors}
    assert not (tmp_path / "out").exists()
