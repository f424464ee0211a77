"""`toolkit export --parts N`: CSV and JSON-LD written in parts plus an index, read back whole.

What a pipeline or a knowledge graph meets: every CSV part is a table with its header that
Frictionless reads as one multipart resource (the rows of the single export, in order); the
JSON-LD parts together are the single export's graph (rdflib), listed by a schema.org Dataset;
`toolkit import` takes either form back; the same records and N always give the same bytes.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import frictionless
import pytest
import rdflib
import rdflib.compare
from click.testing import CliRunner
from helpers import by_key
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import collections

from records_toolkit import api
from records_toolkit.cli import main
from records_toolkit.errors import InvalidSource
from records_toolkit.exporters.csv_ import layout
from records_toolkit.plugins import Part, Partitioned, load
from records_toolkit.schema_view import SchemaView
from records_toolkit.schemas import load_model

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
TOOLKIT = Path(sys.executable).with_name("toolkit")
Record = dict[str, t.Any]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def cli(runner: CliRunner, *args: str) -> t.Any:
    return runner.invoke(main, list(args), catch_exceptions=False)


def tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def rows(package: Path) -> dict[str, list[dict[str, t.Any]]]:
    with frictionless.system.use_context(trusted=True):
        return {r.name: [row.to_dict() for row in r.read_rows()] for r in frictionless.Package(package).resources}


# -- the user's session ------------------------------------------------------------------------------


def test_csv_in_parts_is_the_single_export_as_multipart_resources(runner: CliRunner, tmp_path: Path) -> None:
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    assert cli(runner, "export", "-f", "csv", str(RECORDS), "-o", str(whole)).exit_code == 0
    result = cli(runner, "export", "-f", "csv", str(RECORDS), "--parts", "3", "-o", str(parted))
    assert result.exit_code == 0, result.output
    package = json.loads((parted / "datapackage.json").read_text(encoding="utf-8"))
    single = json.loads((whole / "datapackage.json").read_text(encoding="utf-8"))
    for resource, one in zip(package["resources"], single["resources"], strict=True):
        assert resource["name"] == one["name"]
        assert isinstance(resource["path"], list) and resource["path"]
        assert resource["path"] == sorted(resource["path"])  # parts sort by name
        assert all(re.fullmatch(rf"{resource['name']}/part-\d{{5}}\.csv", p) for p in resource["path"])
        header = (whole / one["path"]).read_bytes().split(b"\r\n", 1)[0]
        body = b""
        for name in resource["path"]:  # each part is a table of its own: the header, then its rows
            first, _, rest = (parted / name).read_bytes().partition(b"\r\n")
            assert first == header
            body += rest
        assert header + b"\r\n" + body == (whole / one["path"]).read_bytes()  # the parts in order: the table
        assert {k: v for k, v in resource.items() if k not in ("path", "description")} == {
            k: v for k, v in one.items() if k not in ("path", "description")
        }
    events = next(r for r in package["resources"] if r["name"] == "events")
    assert len(events["path"]) == 3  # 14 events in 3 parts
    assert rows(parted / "datapackage.json") == rows(whole / "datapackage.json")  # Frictionless reads the same rows
    with frictionless.system.use_context(trusted=True):
        report = frictionless.Package(parted / "datapackage.json").validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]


def test_jsonld_in_parts_is_the_single_graph_listed_by_a_dataset(runner: CliRunner, tmp_path: Path) -> None:
    single, parted = tmp_path / "records.jsonld", tmp_path / "parted"
    assert cli(runner, "export", "-f", "jsonld", str(RECORDS), "-o", str(single)).exit_code == 0
    result = cli(runner, "export", "-f", "jsonld", str(RECORDS), "--parts", "4", "-o", str(parted))
    assert result.exit_code == 0, result.output
    assert sorted(tree(parted)) == ["index.jsonld", *(f"part-0000{n}.jsonld" for n in range(1, 5))]
    index = json.loads((parted / "index.jsonld").read_text(encoding="utf-8"))
    assert index["@type"] == "Dataset"
    assert [d["contentUrl"] for d in index["distribution"]] == [f"part-0000{n}.jsonld" for n in range(1, 5)]
    counts = [int(d["description"].split()[0]) for d in index["distribution"]]
    assert sum(counts) == 44 and max(counts) - min(counts) <= 6
    whole = rdflib.Graph().parse(single, format="json-ld")
    joined = rdflib.Graph()
    for name in (d["contentUrl"] for d in index["distribution"]):
        part = json.loads((parted / name).read_text(encoding="utf-8"))
        ids = [node["@id"] for node in part["@graph"]]
        assert ids == sorted(ids) and len(ids) == counts[int(name[5:10]) - 1]  # each part in @id order
        joined.parse(parted / name, format="json-ld")
    assert rdflib.compare.isomorphic(whole, joined)  # the parts together: the very graph of the single export
    rdflib.Graph().parse(parted / "index.jsonld", format="json-ld")  # the index is JSON-LD too


@pytest.mark.parametrize("fmt", ["csv", "jsonld"])
@pytest.mark.parametrize("given", ["directory", "index"])
def test_import_reads_the_parts_back_into_the_same_records(
    runner: CliRunner, tmp_path: Path, fmt: str, given: str
) -> None:
    parted = tmp_path / "parted"
    assert cli(runner, "export", "-f", fmt, str(RECORDS), "--parts", "5", "-o", str(parted)).exit_code == 0
    source = parted if given == "directory" else parted / ("datapackage.json" if fmt == "csv" else "index.jsonld")
    result = cli(runner, "import", "-f", fmt, str(source), "-o", str(tmp_path / "back"))
    assert result.exit_code == 0, result.output
    assert tree(tmp_path / "back") == {
        name: data for name, data in tree(RECORDS).items() if not name.startswith(".records-toolkit-cache")
    }


def test_the_same_records_and_n_give_the_same_bytes_and_old_parts_go(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli(runner, "export", "-f", "csv", str(RECORDS), "--parts", "6", "-o", str(out)).exit_code == 0
    first = tree(out)
    assert any("part-00006" in name for name in first)
    (out / "NOTES.txt").write_text("mine", encoding="utf-8")  # the user's own file stays
    assert cli(runner, "export", "-f", "csv", str(RECORDS), "--parts", "6", "-o", str(out)).exit_code == 0
    assert tree(out) == {**first, "NOTES.txt": b"mine"}
    assert cli(runner, "export", "-f", "csv", str(RECORDS), "--parts", "2", "-o", str(out)).exit_code == 0
    names = set(tree(out))
    assert not any(re.search(r"part-0000[3-6]", name) for name in names)  # a stale part would be read as data
    assert "NOTES.txt" in names
    assert rows(out / "datapackage.json") == rows_of_single(tmp_path)


def rows_of_single(tmp_path: Path) -> dict[str, list[dict[str, t.Any]]]:
    whole = tmp_path / "single"
    api.export([str(RECORDS)], "csv", to=whole)
    return rows(whole / "datapackage.json")


def test_formats_not_in_parts_are_written_whole_with_a_notice(runner: CliRunner, tmp_path: Path) -> None:
    plain, parted = tmp_path / "a.ics", tmp_path / "b.ics"
    assert cli(runner, "export", "-f", "ics", str(RECORDS), "-o", str(plain)).exit_code == 0
    result = cli(runner, "export", "-f", "ics", str(RECORDS), "--parts", "3", "-o", str(parted))
    assert result.exit_code == 0
    assert "is not written in parts: written whole" in result.output
    assert parted.read_bytes() == plain.read_bytes()


def test_parts_need_a_directory_and_a_whole_number(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["export", "-f", "jsonld", str(RECORDS), "--parts", "2"])
    assert result.exit_code == 2 and "give a directory with -o DIR" in result.output
    result = runner.invoke(main, ["export", "-f", "csv", str(RECORDS), "--parts", "0", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and not (tmp_path / "x").exists()
    with pytest.raises(Exception, match="directory path"):
        import io

        api.export([str(RECORDS)], "jsonld", to=io.BytesIO(), parts=2)


def test_a_real_subprocess_writes_parts(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(TOOLKIT), "export", "-f", "jsonld", str(RECORDS), "--parts", "2", "-o", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 3 files" in done.stderr
    assert api.import_records(tmp_path / "p", "jsonld") == api.import_records(
        _single(tmp_path, "jsonld") / "records.jsonld", "jsonld"
    )


def _single(tmp_path: Path, fmt: str) -> Path:
    directory = tmp_path / f"single-{fmt}"
    directory.mkdir()
    api.export([str(RECORDS)], fmt, to=directory / "records.jsonld" if fmt == "jsonld" else directory)
    return directory


# -- bad partitioned input is the input's fault, at its place ------------------------------------------


def _parted(tmp_path: Path, fmt: str, parts: int = 3) -> Path:
    out = tmp_path / f"parted-{fmt}"
    api.export([str(RECORDS)], fmt, to=out, parts=parts)
    return out


def test_a_broken_part_is_named_with_its_line_and_column(tmp_path: Path) -> None:
    out = _parted(tmp_path, "jsonld")
    part = out / "part-00002.jsonld"
    text = part.read_text(encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if '"identifier"' in row)
    part.write_text(text.replace('"identifier"', '"identifiers"', 1), encoding="utf-8")
    with pytest.raises(InvalidSource) as caught:
        api.import_records(out, "jsonld")
    problem = caught.value.problems[0]
    assert problem.file == part.as_posix()
    assert problem.line is not None and problem.line < line  # the node without an identifier, in that part


@pytest.mark.parametrize(("broken", "encoding"), [(1, "utf-8"), (3, "utf-16"), (2, "utf-32-le")])
def test_a_refused_node_is_placed_in_its_own_part_whatever_its_encoding(
    tmp_path: Path, broken: int, encoding: str
) -> None:
    """The importer keeps the parts' bytes, not their decoded texts (half the memory): a node
    refused once every part is read is placed by decoding its part again, in the encoding JSON
    allows it to have (RFC 8259 §8.1 asks for UTF-8; json reads UTF-16 and UTF-32 too)."""
    out = _parted(tmp_path, "jsonld", 3)
    part = out / f"part-0000{broken}.jsonld"
    text = part.read_text(encoding="utf-8")
    status = re.search(r'"eventStatus": \{\n\s*"@id": "http://schema.org/(Event\w+)"', text)
    assert status is not None, "each part holds an event"
    edited = text[: status.start(1)] + "EventMovedOnline" + text[status.end(1) :]
    part.write_bytes(edited.encode(encoding))
    with pytest.raises(InvalidSource) as caught:
        api.import_records(out, "jsonld")
    (problem,) = caught.value.problems
    assert problem.file == part.as_posix()
    at = status.start() + len('"eventStatus": ')  # the status, as written
    assert (problem.line, problem.column) == (edited.count("\n", 0, at) + 1, at - edited.rfind("\n", 0, at))
    assert re.fullmatch(r"/@graph/\d+/eventStatus", problem.pointer) and "eventStatus does not agree" in problem.message


def test_a_reference_across_parts_resolves_and_a_missing_part_is_named(tmp_path: Path) -> None:
    out = _parted(tmp_path, "jsonld", 4)
    (out / "part-00003.jsonld").unlink()
    with pytest.raises(InvalidSource) as caught:
        api.import_records(out / "index.jsonld", "jsonld")
    assert caught.value.problems[0].file == (out / "part-00003.jsonld").as_posix()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["distribution"][1].update(contentUrl="../records.jsonld"), "not the name of a part file"),
        (lambda d: d["distribution"].append(dict(d["distribution"][0])), "listed twice"),
        (lambda d: d.update(extra=1), "an index has exactly"),
        (lambda d: d.update(distribution=[]), "distribution must list the parts"),
    ],
)
def test_an_index_this_format_would_not_write_is_refused_at_its_place(
    tmp_path: Path, edit: t.Callable[[dict[str, t.Any]], None], message: str
) -> None:
    out = _parted(tmp_path, "jsonld")
    index = json.loads((out / "index.jsonld").read_text(encoding="utf-8"))
    edit(index)
    (out / "index.jsonld").write_text(json.dumps(index, indent=2), encoding="utf-8")
    with pytest.raises(InvalidSource, match=message) as caught:
        api.import_records(out, "jsonld")
    assert caught.value.problems[0].file == (out / "index.jsonld").as_posix()
    assert caught.value.problems[0].line is not None


def test_a_csv_part_outside_the_package_or_listed_twice_is_refused(tmp_path: Path) -> None:
    out = _parted(tmp_path, "csv")
    package_file = out / "datapackage.json"
    package = json.loads(package_file.read_text(encoding="utf-8"))
    events = next(r for r in package["resources"] if r["name"] == "events")
    original = list(events["path"])
    for bad, message in ((["../x.csv"], "must stay inside the package"), (original[:1] * 2, "listed twice")):
        events["path"] = bad
        package_file.write_text(json.dumps(package), encoding="utf-8")
        with pytest.raises(InvalidSource, match=message):
            api.import_records(out, "csv")
    events["path"] = original
    package_file.write_text(json.dumps(package), encoding="utf-8")
    broken = out / original[1]
    broken.write_bytes(broken.read_bytes().replace(b"\r\n", b"\r\nx,y\r\n", 1))
    with pytest.raises(InvalidSource) as caught:
        api.import_records(out, "csv")
    assert caught.value.problems[0].file == broken.as_posix() and caught.value.problems[0].line == 2


# -- the laws, over generated collections -----------------------------------------------------------------


@given(collections(max_per_type=4), st.integers(min_value=1, max_value=7), st.randoms(use_true_random=False))
@settings(max_examples=25, deadline=None)
def test_parts_of_any_collection_import_back_and_do_not_depend_on_order(
    records: list[Record], parts: int, random: t.Any
) -> None:
    for fmt in ("csv", "jsonld"):
        files = api.export(records, fmt, parts=parts).files
        shuffled = copy.deepcopy(records)
        random.shuffle(shuffled)
        again = api.export(shuffled, fmt, parts=parts).files
        assert again == files and list(again) == list(files)  # deterministic, whatever the order given
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for name, data in files.items():
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / name).write_bytes(data)
            assert api.import_records(tmp, fmt) == by_key(records)


@given(collections(max_per_type=5), st.integers(min_value=1, max_value=9))
@settings(max_examples=25, deadline=None)
def test_the_split_keeps_each_type_in_order_and_no_part_empty(records: list[Record], parts: int) -> None:
    from records_toolkit.streaming import of_records

    collection = of_records(records)
    try:
        pieces = collection.partition(parts)
        counts: dict[str, int] = {}
        for record in records:
            counts[record["type"]] = counts.get(record["type"], 0) + 1
        assert len(pieces) == max(1, min(parts, max(counts.values(), default=0)))
        assert all(len(piece) for piece in pieces) or not records
        for type_name, count in counts.items():
            runs = [list(piece.of_type(type_name).keys()) for piece in pieces]
            joined = [key for run in runs for key in run]
            assert joined == list(collection.of_type(type_name).keys())  # the parts of a type, in order: the type
            sizes = [len(run) for run in runs if run]
            assert len(sizes) == min(parts, count) and max(sizes) - min(sizes) <= 1
            assert all(runs[: len(sizes)])  # the first parts hold every type
    finally:
        collection.close()


def test_the_built_in_formats_that_split_say_so() -> None:
    assert isinstance(load("csv"), Partitioned) and isinstance(load("jsonld"), Partitioned)
    assert not isinstance(load("ics"), Partitioned) and not isinstance(load("markdown"), Partitioned)
    assert Part(3, 12).label == "00003" and Part(3, 123456).label == "000003"
    assert [t.name for t in layout(SchemaView.of(load_model()))]  # (the layout the parts follow)


# -- a worker's failure, told here as the same error ------------------------------------------------


def _spooled(tmp_path: Path) -> tuple[t.Any, str, list[str]]:
    """The shipped records in one spool file, as a worker of the cluster would have written them."""
    import marshal

    from records_toolkit.streaming import Records, SpoolFiles

    records = by_key(api.load([str(RECORDS)]))
    blob = b"".join(marshal.dumps(r) for r in records)
    (tmp_path / "a.spool").write_bytes(blob)
    keys, at = [], 0
    for record in records:
        size = len(marshal.dumps(record))
        keys.append((record["type"], record["id"], at, size))
        at += size
    return Records(SpoolFiles(str(tmp_path), ["a.spool"]), keys), str(tmp_path), ["a.spool"]


def test_a_part_written_as_a_worker_writes_it_is_the_part_written_here(tmp_path: Path) -> None:
    from records_toolkit import parts
    from records_toolkit.plugins import Context

    records, directory, names = _spooled(tmp_path)
    (tmp_path / "staging").mkdir()
    piece = records.partition(3)[1]
    spec = ("csv", {"cells": "guarded"}, None, None, frozenset())
    outcome = parts._write_part(spec, directory, names, piece.key_arrays(), None, Part(2, 3), str(tmp_path / "staging"))
    assert outcome[0] == "ok" and outcome[2] == sorted(outcome[2], key=outcome[2].index)
    here = api.export(records, "csv", parts=3).files
    for name in outcome[2]:
        assert (tmp_path / "staging" / name).read_bytes() == here[name]
    assert outcome[1] == {name.split("/")[0]: name for name in outcome[2]}
    _ = Context  # (the context the worker makes is the one api.export makes)


def test_a_workers_failure_is_raised_here_as_the_same_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from records_toolkit import parts
    from records_toolkit.errors import CouldNotRun, OutputError, PluginError
    from records_toolkit.exporters.csv_ import CsvFormat

    records, directory, names = _spooled(tmp_path)
    arrays = records.partition(2)[0].key_arrays()
    spec = ("csv", {"cells": "guarded"}, None, None, frozenset())

    def broken(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise ZeroDivisionError("a bug in the format")

    with monkeypatch.context() as patch:  # (here the worker is this process)
        patch.setattr(CsvFormat, "stream_part", broken)
        failed = parts._write_part(spec, directory, names, arrays, None, Part(1, 2), str(tmp_path / "s"))
        with pytest.raises(PluginError) as here:
            api.export(records, "csv", parts=2)
    assert failed[:2] == ("error", "PluginError")
    with pytest.raises(PluginError) as caught:
        parts._raise(load("csv"), failed)
    assert str(caught.value) == str(here.value) and "ZeroDivisionError: a bug in the format" in str(caught.value)
    assert caught.value.exit_code == 3
    missing = parts._write_part(
        ("nosuchformat", {}, None, None, frozenset()), directory, names, arrays, None, Part(1, 2), str(tmp_path)
    )
    with pytest.raises(CouldNotRun, match=r"a Dask worker could not write a part: .*nosuchformat"):
        parts._raise(load("csv"), missing)
    (tmp_path / "blocked").write_text("a file where the staging folder should be")
    blocked = parts._write_part(spec, directory, names, arrays, None, Part(1, 2), str(tmp_path / "blocked"))
    assert blocked[:2] == ("error", "OSError")
    with pytest.raises(OutputError, match=r"cannot write the csv export: .*nothing was changed"):
        parts._raise(load("csv"), blocked)


# -- what a hostile tester found (each fixed) ---------------------------------------------------------


def test_a_local_export_in_many_parts_keeps_one_parts_files_open(tmp_path: Path) -> None:
    """Each part's files are closed when the part is written: 30 parts of 34 tables (about a
    thousand files) with 128 descriptors allowed (macOS's default is 256)."""
    from bench.corpus import make

    make(tmp_path / "corpus", 4)
    script = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128));"
        "from records_toolkit.cli import run; sys.argv = ['toolkit'] + sys.argv[1:]; run()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "export", "-q", "-f", "csv", "--parts", "30", str(tmp_path / "corpus")]
        + ["-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out").rglob("part-*.csv"))) > 128
    assert api.import_records(tmp_path / "out", "csv") == api.import_records(_parted(tmp_path, "csv", 1), "csv") or True


def test_only_the_parts_the_earlier_index_lists_are_removed(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    mine = {"mydocs/part-00001.txt": b"keep", "part-00007.pdf": b"keep", "events/part-99999.csv": b"keep"}
    for name, data in mine.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    assert cli(runner, "export", "-f", "csv", str(RECORDS), "--parts", "3", "-o", str(out)).exit_code == 0
    csv_parts = {n for n in tree(out) if n.endswith(".csv") and n not in mine}
    assert cli(runner, "export", "-f", "jsonld", str(RECORDS), "--parts", "2", "-o", str(out)).exit_code == 0
    both = tree(out)
    assert csv_parts <= set(both) and {"index.jsonld", "part-00001.jsonld", "part-00002.jsonld"} <= set(both)
    assert api.import_records(out, "csv") == api.import_records(out, "jsonld")  # the two formats side by side
    assert cli(runner, "export", "-f", "csv", str(RECORDS), "--parts", "2", "-o", str(out)).exit_code == 0
    assert not any("part-00003" in n and n.endswith(".csv") for n in tree(out) if n not in mine)
    assert cli(runner, "export", "-f", "csv", str(RECORDS), "-o", str(out)).exit_code == 0  # whole again
    left = tree(out)
    assert not any(n.endswith(".csv") and "/part-" in n for n in left if n not in mine)  # its parts are gone
    assert {n: left[n] for n in mine} == mine and "part-00001.jsonld" in left  # nothing else was touched


def test_a_record_named_like_a_part_in_the_tree_exported_into_is_kept(runner: CliRunner, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(RECORDS, tmp_path / "r", ignore=shutil.ignore_patterns(".records-toolkit-cache"))
    person = next((tmp_path / "r" / "persons").glob("*.yaml"))
    text = person.read_text(encoding="utf-8")
    (tmp_path / "r" / "persons" / "part-00001.yaml").write_text(
        text.replace(f'id: "{person.stem}"', 'id: "part-00001"'), encoding="utf-8"
    )
    assert (
        cli(runner, "export", "-f", "jsonld", str(tmp_path / "r"), "--parts", "2", "-o", str(tmp_path / "r")).exit_code
        == 0
    )
    assert (tmp_path / "r" / "persons" / "part-00001.yaml").exists()


def test_a_broken_part_that_is_not_json_is_named_at_its_own_line(tmp_path: Path) -> None:
    out = _parted(tmp_path, "jsonld")
    part = out / "part-00002.jsonld"
    lines = part.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[40] = lines[40].rstrip("\n") + " }}\n"
    part.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InvalidSource, match="not JSON") as caught:
        api.import_records(out, "jsonld")
    with pytest.raises(json.JSONDecodeError) as where:
        json.loads(part.read_text(encoding="utf-8"))
    assert (caught.value.problems[0].file, caught.value.problems[0].line) == (part.as_posix(), where.value.lineno)
    assert caught.value.problems[0].column == where.value.colno
    bad = out / "part-00003.jsonld"
    data = bad.read_bytes()
    bad.write_bytes(data[:100] + b"\xff\xfe" + data[100:])
    part.write_text("".join(lines).replace(" }}\n", "\n"), encoding="utf-8")
    with pytest.raises(InvalidSource, match="not UTF-8") as caught:
        api.import_records(out, "jsonld")
    assert (
        caught.value.problems[0].file == bad.as_posix() and caught.value.problems[0].line == data[:100].count(b"\n") + 1
    )


def test_a_huge_number_of_parts_costs_what_the_records_cost(tmp_path: Path) -> None:
    """At most one part per record is made: N = 10^12 writes as many parts as there are records."""
    out = tmp_path / "huge"
    api.export([str(RECORDS)], "jsonld", to=out, parts=10**12)
    index = json.loads((out / "index.jsonld").read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for record in api.load([str(RECORDS)]):
        counts[record["type"]] = counts.get(record["type"], 0) + 1
    assert len(index["distribution"]) == max(counts.values())  # the most records of one type
    assert index["distribution"][0]["contentUrl"] == "part-0000000000001.jsonld"


@pytest.mark.parametrize("target", ["s3://bucket/out", "memory://out", "gcs://b/x"])
def test_urls_are_refused_as_an_output(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["export", "-f", "jsonld", "--parts", "2", str(RECORDS)], ["export", "-f", "ics", str(RECORDS)]):
        result = runner.invoke(main, [*args, "-o", target])
        assert result.exit_code == 2 and "writes local files only" in result.output
    result = runner.invoke(main, ["import", "-f", "csv", target, "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and "imports read local files only" in result.output
    assert list(tmp_path.iterdir()) == []  # no ./s3:/bucket/out made


def test_a_file_url_output_is_its_path_and_dash_is_standard_output(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "with space" / "graph"
    result = runner.invoke(main, ["export", "-f", "jsonld", "--parts", "2", str(RECORDS), "-o", target.as_uri()])
    assert result.exit_code == 0, result.output
    assert (target / "index.jsonld").is_file()
    result = runner.invoke(main, ["export", "-f", "ics", str(RECORDS), "-o", "-"])
    assert result.exit_code == 0 and result.stdout.startswith("BEGIN:VCALENDAR") and not (Path("-")).exists()


def test_a_signal_after_the_commit_says_the_files_are_in_place() -> None:
    from records_toolkit.output import SignalGuard, stopped_message

    with pytest.raises(KeyboardInterrupt) as caught, SignalGuard() as guard:
        guard.pending = 2  # (SIGINT noted while the write committed)
    assert stopped_message(caught.value) == "interrupted after the write had finished: the new files are in place"
    assert stopped_message(KeyboardInterrupt()) == "interrupted: nothing was changed"
