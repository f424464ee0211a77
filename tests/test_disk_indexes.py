"""A large run's collection indexes live on disk (a private temporary SQLite database): the same
problems, in the same order, as when they are held in memory, and nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from records_toolkit import rules
from records_toolkit.cli import main
from records_toolkit.loader import Document
from records_toolkit.problems import Problem
from records_toolkit.validate import Checker, check_paths

EXAMPLES = Path(__file__).parent / "examples"
ROOT = Path(__file__).parent.parent


def _problems(result_problems: list[Problem]) -> list[tuple[object, ...]]:
    return [(p.file, p.line, p.column, p.pointer, p.code, p.message, p.severity) for p in result_problems]


def _run(
    paths: list[Path],
    jobs: int,
    spill_from: int | None,
    flush: int,
    monkeypatch: pytest.MonkeyPatch,
    must_spill: bool = False,
) -> object:
    """The report of one run, its indexes on disk from ``spill_from`` records (None: in memory)."""
    monkeypatch.setattr(rules, "SPILL_FROM", 10**12 if spill_from is None else spill_from)
    monkeypatch.setattr(rules, "FLUSH_EVERY", flush)
    seen: list[bool] = []
    real = rules.Collection.check

    def check(self: rules.Collection) -> list[rules.Pending]:
        found = real(self)
        seen.append(self.on_disk)
        return found

    monkeypatch.setattr(rules.Collection, "check", check)
    result = check_paths(paths, jobs=jobs)
    if spill_from is None or must_spill:
        assert seen and seen[-1] == (spill_from is not None), "the run did not keep its indexes where asked"
    report = result.report
    return (_problems(report.problems), report.files, report.records)


@pytest.mark.parametrize("example", sorted(p.name for p in (EXAMPLES / "invalid").iterdir()))
def test_every_invalid_example_reports_the_same_from_disk(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = EXAMPLES / "invalid" / example
    expected = _run([folder], 1, None, 4096, monkeypatch)
    for spill_from, flush in ((0, 1), (1, 2), (2, 4096)):
        assert _run([folder], 1, spill_from, flush, monkeypatch) == expected, (spill_from, flush)


def _tangled(root: Path) -> None:
    """A collection where every collection rule fires, across chunks and write batches."""
    from bench.corpus import make

    make(root, 6)
    first = sorted(root.rglob("*.yaml"))[0]
    text = first.read_text(encoding="utf-8")
    (root / "c00005" / "dup.yaml").write_text(text, encoding="utf-8")  # an id repeated far away
    (root / "c00000" / "zz-dup.yaml").write_text(text, encoding="utf-8")  # and near, in the same batch
    for copy in ("c00002", "c00004"):
        event = root / copy / "events" / "efes-2022.yaml"
        body = event.read_text(encoding="utf-8")
        # a dangling reference (with its did-you-mean), a reference of the wrong type, a quote not found
        body = body.replace('  - "izmir-c', '  - "izmir-cx', 1).replace('\n  - "turkey-c', '\n  - "efes-2022-c', 1)
        body = body.replace("EFES - 2022, Indestructible", "EFES-2022, Indestructible", 1)
        event.write_text(body, encoding="utf-8")
    article = next((root / "c00003" / "articles").iterdir())
    body = article.read_text(encoding="utf-8")
    assert "Kayseri" in body
    article.write_text(body.replace("Kayseri", "Kaysery"), encoding="utf-8")  # quotes of that copy not found


def test_a_tangled_collection_reports_the_same_from_disk_in_one_process_and_in_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tangled(tmp_path)
    expected = _run([tmp_path], 1, None, 4096, monkeypatch)
    codes = {problem[4] for problem in expected[0]}  # type: ignore[index]
    assert {"duplicate-id", "dangling-reference", "reference-type", "quote-not-found"} <= codes, codes
    assert any("did you mean" in problem[5] for problem in expected[0])  # type: ignore[index]
    assert any("is an event; here it must be" in problem[5] for problem in expected[0])  # type: ignore[index]
    for jobs, spill_from, flush in ((1, 0, 7), (1, 50, 33), (2, 0, 4096), (2, 100, 5)):
        assert _run([tmp_path], jobs, spill_from, flush, monkeypatch, True) == expected, (jobs, spill_from, flush)


def test_the_rest_of_a_collection_read_first_keeps_its_order_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named files read after the rest of their collection: a repeated id is reported at the named file."""
    _tangled(tmp_path)
    named = [tmp_path / "c00000" / "zz-dup.yaml"]
    monkeypatch.setattr(rules, "SPILL_FROM", 10**12)
    expected = check_paths(named, collection=[tmp_path], jobs=1).report
    assert [p.code for p in expected.problems] == ["duplicate-id"]
    for spill_from, flush in ((0, 3), (10, 4096)):
        monkeypatch.setattr(rules, "SPILL_FROM", spill_from)
        monkeypatch.setattr(rules, "FLUSH_EVERY", flush)
        assert _problems(check_paths(named, collection=[tmp_path], jobs=1).report.problems) == _problems(
            expected.problems
        )


ODD = "caf\udce9"  # a lone surrogate: a file name that is not UTF-8, or a YAML escape


def _odd_records() -> list[dict[str, object]]:
    article = {
        "id": f"a-{ODD}",
        "type": "article",
        "text": f"Quote\x00with a NUL and {ODD} inside.",
    }
    cited = [
        {"article": f"a-{ODD}", "quote": quote, "supports": ["name"]}
        for quote in ("", "\x00with a NUL", ODD, "caf", "not there", "caf\udce8")
    ]
    return [
        article,
        {"id": "p", "type": "place", "name": "P", "sources": cited},
        {"id": f"p-{ODD}", "type": "place", "name": "Q", "sources": []},
        {"id": f"p-{ODD}", "type": "place", "name": "Q again", "sources": []},
    ]


def test_texts_that_are_not_utf8_compare_as_python_compares_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lone surrogates and NUL characters in ids, file names, quotes and texts: the same answers as `in` and `==`."""

    def found(spill_from: int | None) -> list[tuple[str, int, str, str, str]]:
        collection = rules.Collection(spill_from=spill_from)
        model_types = {name: _Info(name) for name in ("article", "place")}
        for number, record in enumerate(_odd_records()):
            doc = Document(f"{ODD}-{number}.yaml", 0, record)
            collection.index(doc, model_types[str(record["type"])])  # type: ignore[arg-type]
        pending = collection.check()
        assert collection.on_disk == (spill_from is not None)
        return [(p.file, p.document, p.pointer, p.code, p.message) for p in pending]

    expected = found(None)
    assert [(p[2], p[3]) for p in expected] == [
        ("/id", "duplicate-id"),
        ("/sources/4/quote", "quote-not-found"),
        ("/sources/5/quote", "quote-not-found"),
    ]
    assert found(0) == expected


class _Info:
    """The little of a record type :meth:`rules.Collection.index` reads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.references: tuple[object, ...] = ()


def test_merged_chunks_on_disk_find_what_one_checker_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A state merged into a collection on disk, after records indexed there (the order is kept)."""
    from tests.test_validate import BASE

    records = [*BASE, {**BASE[1], "name": 5}, BASE[1], BASE[0], BASE[1]]
    one = Checker()
    for index, record in enumerate(records):
        one.add(Document(f"r{index}.yaml", 0, record))
    expected = [(p.file, p.pointer, p.code, p.message) for p in one.finish().report.problems]
    assert [code for _file, _pointer, code, _message in expected].count("duplicate-id") == 4
    monkeypatch.setattr(rules, "SPILL_FROM", 2)
    monkeypatch.setattr(rules, "FLUSH_EVERY", 2)
    first, second = Checker(spill=True), Checker()
    for index, record in enumerate(records):
        (first if index < 4 else second).add(Document(f"r{index}.yaml", 0, record))
    assert first._collection.on_disk
    first.merge(second.state())
    assert [(p.file, p.pointer, p.code, p.message) for p in first.finish().report.problems] == expected


def test_the_database_has_no_name_and_leaves_nothing(tmp_path: Path) -> None:
    """Its pages go to a file in the temporary folder that SQLite unlinked as it opened it."""
    script = f"""
import json, os, sys
sys.path.insert(0, {str(ROOT)!r})
from records_toolkit import rules
from records_toolkit.loader import Document
rules.DISK_CACHE_KIB = 16  # (a small cache: the pages go to the file at once)
collection = rules.Collection(spill_from=0)
for n in range(20000):
    collection.index(Document(f"f{{n}}.yaml", 0, {{"id": f"id-{{n}}", "type": "place"}}), type("I", (), {{"name": "place", "references": ()}})())
collection._write()  # (the last records to disk too; check() would close the database)
links = []
for fd in os.listdir("/proc/self/fd"):
    try:
        links.append(os.readlink(f"/proc/self/fd/{{fd}}"))
    except OSError:  # (the listing's own descriptor, closed by now)
        pass
print(json.dumps([sorted(os.listdir({str(tmp_path)!r})), [link for link in links if link.startswith({str(tmp_path)!r})]]))
sys.stdout.flush()
os.kill(os.getpid(), 9)
"""
    env = {**os.environ, "TMPDIR": str(tmp_path), "SQLITE_TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    listed, linked = json.loads(done.stdout)
    assert listed == []  # no name in the folder while it was open ...
    assert linked and all(link.endswith("(deleted)") for link in linked)  # ... and its file was there, unlinked
    assert os.listdir(tmp_path) == []  # nothing left after kill -9


def test_a_temporary_folder_that_fails_is_said_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite failing (a full or unwritable temporary folder) is exit 3 with what to do, no traceback."""
    import sqlite3

    for name in ("places", "events"):
        shutil.copytree(ROOT / "records" / name, tmp_path / "records" / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(rules, "SPILL_FROM", 0)

    def full(*args: object, **kwargs: object) -> object:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sqlite3, "connect", full)
    result = CliRunner().invoke(main, ["validate", "--no-cache", "--jobs", "1", "records"])
    assert result.exit_code == 3, result.output
    assert "could not be kept on disk (database or disk is full)" in result.output
    assert "set SQLITE_TMPDIR to another folder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_each_article_text_is_read_once_and_searched_by_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quotes are taken article by article: one text held at a time, read once, searched with
    Python's own (linear) search, never SQLite's instr (quadratic in the worst case)."""
    collection = rules.Collection(spill_from=0)
    info = {"article": _Info("article"), "place": _Info("place")}
    texts = {"a1": "a" * 5000, "a2": "The servicemen attended a course."}
    for article, text in texts.items():
        collection.index(
            Document(f"{article}.yaml", 0, {"id": article, "type": "article", "text": text}), info["article"]
        )  # type: ignore[arg-type]
    for number in range(40):  # the two articles' quotes interleaved, found and not
        article = "a1" if number % 2 else "a2"
        quote = "a" * 2000 + "b" if number % 4 == 1 else ("course" if number % 4 == 0 else "a" * 300)
        sources = [{"article": article, "quote": quote}]
        collection.index(
            Document(f"p{number:02}.yaml", 0, {"id": f"p{number}", "type": "place", "sources": sources}), info["place"]
        )  # type: ignore[arg-type]
    disk = collection._disk
    assert disk is not None
    statements: list[str] = []
    real = disk.db

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def execute(self, sql: str, *args: object) -> object:
            statements.append(sql)
            return real.execute(sql, *args)

    disk.db = Counting()  # type: ignore[assignment]
    found = collection.check()
    assert not any("instr" in sql for sql in statements)
    # once per article to compare, once per article for the hints
    assert sum("SELECT text FROM articles" in sql for sql in statements) <= 2 * len(texts)
    missed = [n for n in range(40) if n % 4 in (1, 2)]  # the long quote in a1, the run of a's in a2
    assert [(p.file, p.code) for p in found] == [(f"p{n:02}.yaml", "quote-not-found") for n in missed]


def test_the_connection_is_closed_when_the_rules_have_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its file's room is given back at once (a process running many validations must not pile them up)."""
    _tangled(tmp_path / "tree")
    monkeypatch.setenv("SQLITE_TMPDIR", str(tmp_path))
    monkeypatch.setattr(rules, "SPILL_FROM", 0)
    monkeypatch.setattr(rules, "DISK_CACHE_KIB", 16)

    def deleted_here() -> list[str]:
        links = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                links.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        return [link for link in links if link.startswith(str(tmp_path)) and link.endswith("(deleted)")]

    import gc

    gc.disable()  # (closed by the run itself, not by a collection)
    try:
        for _ in range(3):
            assert check_paths([tmp_path / "tree"], jobs=1).report.problems
            assert deleted_here() == []
        # and a run that fills the result cache, which keeps them open for its snapshot (each
        # collection kept alive here: the file is given back by the run, not when it is let go)
        from records_toolkit import cache

        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
        alive: list[rules.Collection] = []
        made = rules.Collection.__init__

        def kept(self: rules.Collection, *args: t.Any, **kwargs: t.Any) -> None:
            made(self, *args, **kwargs)
            alive.append(self)

        monkeypatch.setattr(rules.Collection, "__init__", kept)
        for _ in range(2):
            shutil.rmtree(tmp_path / "tree" / cache.CACHE_DIR, ignore_errors=True)
            assert check_paths([tmp_path / "tree"], jobs=1, cache_root=str(tmp_path / "tree")).report.problems
            assert (tmp_path / "tree" / cache.CACHE_DIR / cache.snapshot_name(str(tmp_path / "tree"))).is_file()
            assert deleted_here() == []
    finally:
        gc.enable()


def _long_statement(disk: t.Any) -> t.Any:
    """A statement of about a minute (not forever when the signal is not seen: the test then fails)."""
    return disk.db.execute(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT count(*) FROM c"
    ).fetchone()


def test_ctrl_c_ends_a_long_statement_and_is_raised_as_itself() -> None:
    """SQLite cannot be interrupted by Python's signal handling: the progress handler ends the
    statement once the signal has been noted, and the signal is then raised as Ctrl-C."""
    import signal
    import threading

    disk = rules._OnDisk()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            disk._guarded(lambda: _long_statement(disk))
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


@pytest.mark.parametrize("defer", [True, False])
@pytest.mark.parametrize(("signum", "raised"), [("SIGINT", KeyboardInterrupt), ("SIGTERM", "Terminated")])
def test_a_signal_a_write_holds_ends_a_long_statement_too(signum: str, raised: t.Any, defer: bool) -> None:
    """An export's collection rules run inside its write (while the workers write their slices),
    whose guard only notes a signal: the statement still ends at once, and the signal is raised
    as itself (SIGTERM as terminated, not as Ctrl-C)."""
    import signal
    import threading

    from records_toolkit import output

    expected = getattr(output, raised) if isinstance(raised, str) else raised
    disk = rules._OnDisk()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), getattr(signal, signum)))
    # (defer: a write's guard, which holds the signal; else a wait on workers', which raises it
    # at once, inside SQLite's progress handler, where it is swallowed and must come back as itself)
    with output.SignalGuard(defer=defer):
        timer.start()
        try:
            with pytest.raises(expected):
                disk._guarded(lambda: _long_statement(disk))
        finally:
            timer.cancel()


def test_sqlite_out_of_memory_is_said_plainly_not_a_problem_of_a_file() -> None:
    from records_toolkit.errors import CouldNotRun

    disk = rules._OnDisk()

    def exhausted() -> None:
        raise MemoryError

    with pytest.raises(CouldNotRun, match="could not be kept on disk: out of memory"):
        disk._guarded(exhausted)


def test_a_reference_to_a_record_of_the_wrong_type_names_its_type_with_its_article() -> None:
    assert rules.a_or_an("article") == "an article" and rules.a_or_an("place") == "a place"
    assert rules._either(("event", "place", "organization")) == "an event, a place or an organization"


def test_a_merged_chunk_without_a_usable_id_keeps_its_references_and_quotes() -> None:
    """Records whose id the schema refused still have references and quotes: a chunk of only such
    records, merged first into a collection on disk, must not be dropped (a review found it was)."""

    def chunks() -> list[dict[str, object]]:
        first = {
            "ids": {},
            "repeats": [],
            "refs": [("a.yaml", 0, "/publisher", "nobody", ("organization",))],
            "quotes": [("a.yaml", 0, "/sources/0/quote", "art-1", "not in it")],
            "articles": {},
            "texts": [],
            "order": ["a.yaml"],
        }
        second = {
            "ids": {"art-1": ("b.yaml", 0, "article")},
            "repeats": [],
            "refs": [],
            "quotes": [],
            "articles": {"art-1": "some text"},
            "texts": [("art-1", "b.yaml", 0, "some text")],
            "order": ["b.yaml"],
        }
        return [first, second]

    found = {}
    for spill_from in (None, 0):
        collection = rules.Collection(spill_from=spill_from)
        for chunk in chunks():
            collection.merge(chunk)
        assert collection.on_disk == (spill_from == 0)
        found[spill_from] = [(p.file, p.pointer, p.code, p.message) for p in collection.check()]
    assert [code for _file, _pointer, code, _message in found[None]] == ["dangling-reference", "quote-not-found"]
    assert found[0] == found[None]


@pytest.mark.parametrize("spill_from", [None, 0], ids=["in memory", "on disk"])
def test_a_renamed_id_many_records_name_is_compared_with_every_id_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_from: int | None
) -> None:
    """Forty records still name an id that was renamed: forty dangling references, each with the
    same did-you-mean hint, found by one comparison with every id, not forty (and the cached
    run, which decides them again after the rename, the same)."""
    from records_toolkit import messages

    shutil.copytree(ROOT / "records", tmp_path / "records")
    event = (tmp_path / "records" / "events" / "efes-2022.yaml").read_text(encoding="utf-8")
    for n in range(40):
        (tmp_path / "records" / "events" / f"copy-{n:02}.yaml").write_text(
            event.replace('id: "efes-2022"', f'id: "efes-2022-copy-{n:02}"').replace('"izmir"', '"izmirr"'),
            encoding="utf-8",
        )
    calls: list[str] = []
    real = messages.did_you_mean

    def counted(word: str, choices: t.Iterable[str]) -> str:
        calls.append(word)
        return real(word, choices)

    monkeypatch.setattr(messages, "did_you_mean", counted)
    problems = _run([tmp_path / "records"], 1, spill_from, 4096, monkeypatch)[0]  # type: ignore[index]
    dangling = [p for p in problems if p[4] == "dangling-reference"]
    assert len(dangling) == 40 and calls.count("izmirr") == 1
    assert {p[5] for p in dangling} == {"'izmirr' is not the id of any record (did you mean 'izmir'?)"}


@pytest.mark.parametrize("spill_from", [None, 0], ids=["in memory", "on disk"])
def test_past_the_hints_the_first_unknown_ids_in_text_order_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_from: int | None
) -> None:
    """Five mistyped ids, three hints: the first three in text order get one (each compared with
    every id once), whatever order the files are read in; the other two are reported plainly."""
    from records_toolkit import messages

    monkeypatch.setattr(rules, "DANGLING_HINTS", 3)
    shutil.copytree(ROOT / "records", tmp_path / "records")
    event = (tmp_path / "records" / "events" / "efes-2022.yaml").read_text(encoding="utf-8")
    for n, typo in enumerate(["turkeyy", "izmirr", "turkeyx", "izmirx", "izmirz"]):
        (tmp_path / "records" / "events" / f"copy-{4 - n}.yaml").write_text(
            event.replace('id: "efes-2022"', f'id: "efes-2022-copy-{n}"').replace('"izmir"', f'"{typo}"'),
            encoding="utf-8",
        )
    calls: list[str] = []
    real = messages.did_you_mean
    monkeypatch.setattr(messages, "did_you_mean", lambda word, ids: calls.append(word) or real(word, ids))
    problems = _run([tmp_path / "records"], 1, spill_from, 4096, monkeypatch)[0]  # type: ignore[index]
    said = sorted(p[5] for p in problems if p[4] == "dangling-reference")
    assert said == [
        "'izmirr' is not the id of any record (did you mean 'izmir'?)",
        "'izmirx' is not the id of any record (did you mean 'izmir'?)",
        "'izmirz' is not the id of any record (did you mean 'izmir'?)",
        "'turkeyx' is not the id of any record",
        "'turkeyy' is not the id of any record",
    ]
    typos = {"turkeyy", "izmirr", "turkeyx", "izmirx", "izmirz"}
    assert sorted(word for word in calls if word in typos) == ["izmirr", "izmirx", "izmirz"]


def _snapshot_sections(
    root: Path, jobs: int, spill_from: int | None, flush: int, monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    """The sections the run that fills the result cache of ``root`` writes, by name, and whether
    its indexes were on disk when the snapshot was made of them."""
    from records_toolkit import cache, incremental

    shutil.rmtree(root / cache.CACHE_DIR, ignore_errors=True)
    monkeypatch.setattr(rules, "SPILL_FROM", 10**12 if spill_from is None else spill_from)
    monkeypatch.setattr(rules, "FLUSH_EVERY", flush)
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))
    written: dict[str, object] = {}
    where: list[bool] = []
    real_save, real_snapshot = cache.Store.save, incremental.snapshot

    def save(self: cache.Store, fresh: t.Iterable[tuple[str, object]], **kwargs: t.Any) -> None:
        sections = list(fresh)
        written.update(sections)
        real_save(self, sections, **kwargs)

    def snapshot(order: t.Any, stats: t.Any, checker: Checker, *args: t.Any) -> t.Any:
        where.append(checker._collection.on_disk)
        return real_snapshot(order, stats, checker, *args)

    with monkeypatch.context() as patch:  # (undone after the run: the next run's spies wrap the real ones)
        patch.setattr(cache.Store, "save", save)
        patch.setattr(incremental, "snapshot", snapshot)
        check_paths([root], jobs=jobs, cache_root=str(root))
    assert where == [spill_from is not None]
    return written


def _unordered(sections: dict[str, t.Any]) -> dict[str, t.Any]:
    """The sections with what each file contributed as sets (their order there carries nothing)."""
    return {
        name: {fid: [sorted(keys) for keys in kinds] for fid, kinds in value.items()}
        if name[0] == "f" and name[1:].isdigit()
        else value
        for name, value in sections.items()
    }


def test_the_snapshot_of_indexes_on_disk_is_the_snapshot_of_indexes_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that fills the result cache keeps a large collection's indexes on disk too, and makes
    the snapshot from them a shard at a time: every section holds what it holds when the indexes
    are in memory (every rule fires, ids repeated, articles twice, in one process and in workers)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    tree = tmp_path / "tree"
    _tangled(tree)
    article = next((tree / "c00001" / "articles").iterdir())
    (tree / "c00004" / "articles" / "again.yaml").write_text(article.read_text(encoding="utf-8"), encoding="utf-8")
    expected = _snapshot_sections(tree, 1, None, 4096, monkeypatch)
    assert any(value for name, value in expected.items() if name.startswith("t") and len(value) > 0)
    assert expected["multi"] and expected["dangling"] and expected["problems"]
    assert sum(len(v) for n, v in expected.items() if n[0] == "t" and n[1:].isdigit()) > 1
    for jobs, spill_from, flush in ((1, 0, 7), (2, 0, 4096), (2, 40, 5)):
        found = _snapshot_sections(tree, jobs, spill_from, flush, monkeypatch)
        assert list(found) == list(expected), (jobs, spill_from, flush)  # (the same sections, in the same order)
        assert _unordered(found) == _unordered(expected), (jobs, spill_from, flush)


def _cache_files(root: Path) -> list[str]:
    from records_toolkit import cache

    folder = root / cache.CACHE_DIR
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def test_the_disk_indexes_failing_as_the_snapshot_reads_them_leave_the_report_and_no_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is an optimisation: SQLite failing after the rules have run (its temporary folder
    full as the snapshot's rows are sorted) costs the snapshot, never the run's report."""
    import sqlite3

    from records_toolkit import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))
    tree = tmp_path / "tree"
    _tangled(tree)
    monkeypatch.setattr(rules, "SPILL_FROM", 0)
    expected = _problems(check_paths([tree], jobs=1).report.problems)

    def full(self: rules._OnDisk, query: str, batch: int = 4096) -> t.Iterator[tuple[t.Any, ...]]:
        def fail() -> None:
            raise sqlite3.OperationalError("database or disk is full")

        self._guarded(fail)
        yield ()

    monkeypatch.setattr(rules._OnDisk, "rows", full)
    found = check_paths([tree], jobs=1, cache_root=str(tree))
    assert _problems(found.report.problems) == expected and expected
    assert set(_cache_files(tree)) <= {".gitignore"}  # (no snapshot, no temporary file)


def test_ctrl_c_while_the_snapshot_is_made_from_disk_leaves_no_snapshot_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT during a sort of the snapshot's rows (inside SQLite, which cannot see it): the
    statement is ended, the interrupt raised as itself, and nothing of the snapshot is left."""
    import signal

    from records_toolkit import cache, incremental

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.setattr(cache, "RACY_NS", -(10**12))
    tree = tmp_path / "tree"
    _tangled(tree)
    monkeypatch.setattr(rules, "SPILL_FROM", 0)
    calls: list[int] = []
    stop_at = [0]

    def shard(raw: bytes) -> int:
        calls.append(1)
        if len(calls) == stop_at[0]:
            os.kill(os.getpid(), signal.SIGINT)
        return incremental._shard_of_bytes(raw)

    real_define = rules._OnDisk.define
    monkeypatch.setattr(rules._OnDisk, "define", lambda self, name, function: real_define(self, name, shard))
    check_paths([tree], jobs=1, cache_root=str(tree))  # (uninterrupted: how many rows are sorted)
    assert cache.snapshot_name(str(tree)) in _cache_files(tree)
    shutil.rmtree(tree / cache.CACHE_DIR)
    every, stop_at[0] = len(calls), 50
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        check_paths([tree], jobs=1, cache_root=str(tree))
    assert 50 <= len(calls) < every // 2  # (ended in the sort it came in, the first of several)
    assert set(_cache_files(tree)) <= {".gitignore"}
