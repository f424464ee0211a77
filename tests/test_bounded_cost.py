"""Bounded cost (issue 7): every input under the file limit costs time and memory linear in its size.

No test here measures time: each asserts the behaviour that keeps the cost bounded (one line
index and one composition per file, the composer stopped at a limit, a bounded near-miss
search, linear uniqueness) or the problem a limit gives, with its code and place.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from records_toolkit import loader, rules, validate
from records_toolkit.cli import main
from records_toolkit.loader import LineIndex, Positions, load_text, position
from records_toolkit.messages import first_repeat, json_key
from records_toolkit.problems import CODES, Problem
from records_toolkit.validate import Checker, check_paths

ROOT = Path(__file__).resolve().parents[1]
PERSON = 'id: "p"\ntype: "person"\nname: "P"\n'
SOURCE = 'sources:\n  - url: "https://example.org/a"\n    title: "E"\n    supports: ["name", "aliases"]\n'


def _naive(text: str, index: int) -> tuple[int, int]:
    """Line and column by counting from the start (LF, CR and CRLF end lines)."""
    line, start, at = 1, 0, 0
    while at < index:
        if text[at] == "\r" and at + 1 < index and text[at + 1] == "\n":
            at += 1
        if text[at] in "\r\n":
            line, start = line + 1, at + 1
        at += 1
    return line, index - start + 1


def _validate(tmp_path: Path, text: str, *extra: str) -> tuple[int, list[dict[str, t.Any]]]:
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--output-format", "json", *extra, str(tmp_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout)


class _Counter:
    def __init__(self) -> None:
        self.calls = 0


# -- 1. positions: one line index and one composition per file ---------------------------------------


@pytest.mark.parametrize("block", [1, 2, 3, 7, 4096])
def test_line_index_agrees_with_counting_from_the_start(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LineIndex, "BLOCK", block)
    rnd = random.Random(block)
    for _ in range(30):
        text = "".join(rnd.choice(["a", "b", "\n", "\r", "\r\n", "é"]) for _ in range(rnd.randrange(0, 60)))
        index = LineIndex(text)
        for at in range(len(text) + 1):
            assert index.locate(at) == _naive(text, at), (text, at)


def test_position_builds_the_line_index_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _Counter()
    original = LineIndex.__init__

    def counting(self: LineIndex, text: str) -> None:
        built.calls += 1
        original(self, text)

    monkeypatch.setattr(LineIndex, "__init__", counting)
    text = "a: 1\n" * 5000
    marks = [yaml_mark(i * 5 + 3) for i in range(0, 5000, 7)]
    places = [position(text, mark) for mark in marks]
    assert places == [(i + 1, 4) for i in range(0, 5000, 7)]
    assert built.calls == 1


def yaml_mark(index: int) -> t.Any:
    import yaml

    return yaml.Mark("t", index, 0, 0, None, None)


def test_many_documents_are_placed_with_one_composition_and_one_line_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    composed, built = _Counter(), _Counter()
    compose, init = Positions._compose, LineIndex.__init__

    def counting_compose(text: str) -> t.Any:
        composed.calls += 1
        return compose(text)

    def counting_init(self: LineIndex, text: str) -> None:
        built.calls += 1
        init(self, text)

    monkeypatch.setattr(Positions, "_compose", staticmethod(counting_compose))
    monkeypatch.setattr(LineIndex, "__init__", counting_init)
    documents = 900  # under the problems-per-file cap: every one is placed
    (tmp_path / "a.yaml").write_text("---\na: 1\n" * documents, encoding="utf-8")
    report = check_paths([tmp_path]).report
    found = sorted(report.problems, key=lambda p: p.document)
    assert [p.code for p in found] == ["unknown-type"] * documents
    assert [(p.document, p.line, p.column) for p in found] == [(n, 2 * n + 2, 1) for n in range(documents)]
    assert composed.calls == 1
    assert built.calls <= 2  # the loader's (none here: no load problem) and the placing's


def test_locate_many_keeps_only_what_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("---\nid: a\nx: [1, 2]\n---\nid: b\n---\nid: c\n", encoding="utf-8")
    positions = Positions()
    wanted = [(2, "/id", False), (0, "/x/1", False), (0, "/x", True), (9, "/id", False)]
    assert positions.locate_many(path.as_posix(), wanted) == [(7, 5), (3, 8), (3, 1), None]
    assert [positions.locate(path.as_posix(), d, p, key=k) for d, p, k in wanted] == [(7, 5), (3, 8), (3, 1), None]


# -- 4. limits: items per list, keys per mapping, values per record, documents per file ----------------


def test_a_huge_flow_list_stops_the_composer_at_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = _Counter()
    hook = loader.CoreLoader.descend_resolver

    def counting(self: t.Any, parent: t.Any, index: t.Any) -> None:
        nodes.calls += 1
        hook(self, parent, index)

    monkeypatch.setattr(loader.CoreLoader, "descend_resolver", counting)
    items = loader.MAX_ITEMS * 20
    code, found = _validate(tmp_path, PERSON + "aliases: [" + "a, " * items + "a]\n" + SOURCE)
    assert code == 1
    assert [(p["code"], p["line"], p["column"]) for p in found] == [("yaml-too-many-items", 4, 10)]
    assert "10,000 items" in found[0]["message"] and "the limit is 10,000" in found[0]["message"]
    assert nodes.calls <= loader.MAX_ITEMS + 10  # stopped at the limit, not at the end of the list


def test_a_block_list_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_ITEMS", 5)  # the record itself has 5 keys
    text = PERSON + "aliases:\n" + "".join(f'  - "a{n}"\n' for n in range(7)) + SOURCE
    (problem,) = list(load_text(text, "a.yaml"))
    assert isinstance(problem, Problem)
    assert (problem.code, problem.line, problem.column) == ("yaml-too-many-items", 5, 3)
    assert "more than 5 items" in problem.message
    within = PERSON + "aliases:\n" + "".join(f'  - "a{n}"\n' for n in range(5)) + SOURCE
    assert not [r for r in load_text(within, "a.yaml") if isinstance(r, Problem)]


def test_a_mapping_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_ITEMS", 4)
    text = "a: 1\nb: 2\nc: {x: 1, y: 2, z: 3, w: 4, v: 5}\n"
    (problem,) = list(load_text(text, "a.yaml"))
    assert isinstance(problem, Problem)
    assert (problem.code, problem.line, problem.column) == ("yaml-too-many-items", 3, 4)
    assert "a mapping of more than 4 keys" in problem.message


def test_a_record_of_too_many_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_VALUES", 50)
    rows = "".join(f"  - [{', '.join(['1'] * 9)}]\n" for _ in range(6))  # 6 lists of 9: 60 values and more
    text = "ok: 1\n---\nrows:\n" + rows
    first, problem = list(load_text(text, "a.yaml"))
    assert isinstance(first, loader.Document)
    assert isinstance(problem, Problem)
    assert (problem.code, problem.document) == ("yaml-too-many-values", 1)
    assert "more than 50 values" in problem.message
    assert problem.line is not None and 4 <= problem.line <= 9


def test_a_file_of_too_many_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_DOCUMENTS", 5)
    results = list(load_text("---\na: 1\n" * 8, "a.yaml"))
    assert [type(r).__name__ for r in results] == ["Document"] * 5 + ["Problem"]
    problem = results[-1]
    assert isinstance(problem, Problem)
    assert (problem.code, problem.document, problem.line, problem.column) == ("yaml-too-many-documents", 5, 12, 1)
    assert "more than 5 documents" in problem.message


def test_the_real_document_limit_is_reported(tmp_path: Path) -> None:
    code, found = _validate(tmp_path, "---\na: 1\n" * (loader.MAX_DOCUMENTS + 3))
    assert code == 1
    limit = [p for p in found if p["code"] == "yaml-too-many-documents"]
    assert [(p["document"], p["line"]) for p in limit] == [(loader.MAX_DOCUMENTS, 2 * loader.MAX_DOCUMENTS + 2)]
    assert "more than 10,000 documents" in limit[0]["message"]


# -- problems reported per file ---------------------------------------------------------------------------


def test_problems_per_file_are_capped_with_a_count_of_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "MAX_PROBLEMS_PER_FILE", 5)
    (tmp_path / "b.yaml").write_text("---\na: 1\n" * 3, encoding="utf-8")  # under the cap: all reported
    code, found = _validate(tmp_path, "---\na: 1\n" * 12)
    assert code == 1
    in_a = [p for p in found if p["file"].endswith("a.yaml")]
    assert [p["code"] for p in in_a] == ["unknown-type"] * 5 + ["problems-truncated"]
    assert [p["document"] for p in in_a] == [0, 1, 2, 3, 4, 5]
    assert "7 more problems in this file not reported" in in_a[-1]["message"]
    assert "at most 5 are reported per file" in in_a[-1]["message"]
    assert in_a[-1]["line"] == 12  # where the first problem not reported is
    assert [p["code"] for p in found if p["file"].endswith("b.yaml")] == ["unknown-type"] * 3


def test_the_problem_that_ended_loading_is_never_truncated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(validate, "MAX_PROBLEMS_PER_FILE", 3)
    monkeypatch.setattr(loader, "MAX_DOCUMENTS", 6)
    code, found = _validate(tmp_path, "---\n5\n" * 9)
    assert code == 1
    codes = [p["code"] for p in found]
    assert "yaml-too-many-documents" in codes and codes.count("problems-truncated") == 1
    assert len(found) == 4
    assert "4 more problems" in next(p["message"] for p in found if p["code"] == "problems-truncated")


def test_every_new_code_is_catalogued() -> None:
    for code in (
        "yaml-too-many-items",
        "yaml-too-many-values",
        "yaml-too-many-documents",
        "problems-truncated",
        "out-of-memory",
    ):
        assert code in CODES


# -- 2. the quote-not-found hint ------------------------------------------------------------------------


def test_the_near_miss_hint_compares_a_bounded_window(monkeypatch: pytest.MonkeyPatch) -> None:
    import difflib

    pairs: list[int] = []
    original = difflib.SequenceMatcher.find_longest_match

    def counting(self: difflib.SequenceMatcher[str], alo: int, ahi: int, blo: int, bhi: int) -> t.Any:
        pairs.append((ahi - alo) * (bhi - blo))
        return original(self, alo, ahi, blo, bhi)

    monkeypatch.setattr(difflib.SequenceMatcher, "find_longest_match", counting)
    article = ("The two armies held joint drills near the border. " * 20_000)[:1_000_000]
    quote = "The two armies held joint drills near the river. " * 400  # 20,000 characters, not in the article
    hint = rules._near_miss(quote, article)
    assert hint.startswith("; the closest passage reads '") and "two armies held joint drills near the" in hint
    assert pairs and max(pairs) <= rules.NEAR_MISS_PAIRS
    assert len(pairs) <= rules.NEAR_MISS_ANCHORS
    pairs.clear()
    assert rules._near_miss("a" * 19_999 + "b", "a" * 20_000).startswith("; the closest passage reads 'aaaa")
    assert pairs and max(pairs) <= rules.NEAR_MISS_PAIRS


def test_the_near_miss_hint_of_a_short_article_is_unchanged() -> None:
    article = "Azerbaijan’s servicemen attended a parachute course in Kayseri. They came back."
    quote = "Azerbaijan's servicemen attended a parachute course in Kayseri."
    assert rules._near_miss(quote, article) == (
        "; the closest passage reads 'Azerbaijan’s servicemen attended a parachute course in Kayseri.'"
    )
    assert rules._near_miss("nothing alike at all", article) == ""


def test_only_the_first_quotes_not_found_get_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "NEAR_MISS_HINTS", 2)
    collection = rules.Collection()
    collection.articles["art"] = "The servicemen attended a parachute course in Kayseri."
    collection.quotes = [("f.yaml", n, "/sources/0/quote", "art", "The servicemen attended a course") for n in range(4)]
    messages = [p.message for p in collection.check()]
    assert ["closest passage" in m for m in messages] == [True, True, False, False]
    assert all(m.startswith("quote not found verbatim in article 'art'") for m in messages)


# -- 3. uniqueItems in linear time ----------------------------------------------------------------------


def test_first_repeat_uses_json_equality() -> None:
    assert first_repeat(["a", "b", "a"]) == 2
    assert first_repeat([1, 1.0]) == 1  # one number
    assert first_repeat([True, 1, False, 0]) is None  # a boolean is not a number
    assert first_repeat([{"a": 1, "b": [1, 2]}, {"b": [1, 2.0], "a": 1}]) == 1  # mapping order does not count
    assert first_repeat([[1, 2], [2, 1], None, "None"]) is None
    assert json_key({"a": [1]}) == json_key({"a": [1.0]})
    many = [{"n": n} for n in range(20_000)] + [{"n": 7}]
    assert first_repeat(many) == 20_000


def test_the_explaining_validator_never_compares_every_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema._keywords

    def quadratic(container: t.Any) -> bool:
        raise AssertionError("jsonschema's pairwise uniqueItems was used")

    monkeypatch.setattr(jsonschema._keywords, "uniq", quadratic)
    checker = Checker()
    aliases: list[t.Any] = [{"n": n} if n % 2 else n for n in range(5000)] + [6]  # mixed: jsonschema cannot sort
    record = {"id": "p", "type": "person", "name": "P", "aliases": aliases}
    record["sources"] = [{"url": "https://example.org/a", "title": "E", "supports": ["name", "aliases"]}]
    checker.add(loader.Document("<p>", 0, record))
    found = [(p.pointer, p.code) for p in checker.finish().report.problems if p.code == "schema-unique"]
    assert found == [("/aliases/5000", "schema-unique")]


def test_a_long_list_with_one_repeat_names_the_repeat(tmp_path: Path) -> None:
    items = "".join(f'  - "alias {n}"\n' for n in range(9000)) + '  - "alias 0"\n'
    code, found = _validate(tmp_path, PERSON + "aliases:\n" + items + SOURCE)
    assert code == 1
    assert [(p["code"], p["pointer"], p["line"]) for p in found] == [("schema-unique", "/aliases/9000", 9005)]


# -- memory: a problem of the file, never a traceback ---------------------------------------------------


def test_a_memory_error_while_loading_is_a_problem_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDS_TOOLKIT_FAST_YAML", "0")  # the strict loader's construct is what fails here

    def exhausted(node: t.Any) -> t.Any:
        raise MemoryError

    (tmp_path / "b.yaml").write_text("a: 1\n", encoding="utf-8")
    monkeypatch.setattr(loader, "construct", exhausted)
    code, found = _validate(tmp_path, "a: 1\n")
    assert code == 1
    assert sorted((Path(p["file"]).name, p["code"]) for p in found) == [
        ("a.yaml", "out-of-memory"),
        ("b.yaml", "out-of-memory"),
    ]


def test_a_memory_error_while_validating_is_a_problem_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhausted(self: Checker, doc: t.Any) -> None:
        if doc.file.endswith("a.yaml"):
            raise MemoryError

    monkeypatch.setattr(Checker, "add", exhausted)
    (tmp_path / "b.yaml").write_text("a: 1\n", encoding="utf-8")
    code, found = _validate(tmp_path, "x: 1\n---\ny: 2\n")
    assert code == 1
    assert [(Path(p["file"]).name, p["code"], p["document"]) for p in found] == [("a.yaml", "out-of-memory", 0)]


_UNDER_A_MEMORY_LIMIT = """
import resource, sys
from records_toolkit.cli import main

def vm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1])

limit = (vm_kb() + {headroom_mb} * 1024) * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["toolkit", "validate", "--output-format", "json", {path!r}]
main()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to size the memory limit")
def test_a_16_mb_flow_list_under_a_memory_limit_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    """Before the limits this took 2.3 GB and ended in a MemoryError traceback under `ulimit -v`."""
    path = tmp_path / "a.yaml"
    with path.open("w", encoding="utf-8") as out:
        out.write(PERSON + "aliases: [")
        out.write("a, " * 5_200_000)  # 15.6 MB
        out.write("a]\n" + SOURCE)
    assert path.stat().st_size < loader.MAX_FILE_BYTES
    script = textwrap.dedent(_UNDER_A_MEMORY_LIMIT).format(headroom_mb=400, path=str(path))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    found = json.loads(done.stdout)
    assert [(p["code"], p["line"], p["column"]) for p in found] == [("yaml-too-many-items", 4, 10)]
