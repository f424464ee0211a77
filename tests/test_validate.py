"""The validator: two independent 2020-12 engines agree, and the collection rules hold."""

from __future__ import annotations

import copy
import itertools
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SHIPPED
from hypothesis import given
from hypothesis import strategies as st
from strategies import collections

from records_toolkit.cli import main
from records_toolkit.loader import Document
from records_toolkit.schemas import load_model
from records_toolkit.validate import Checker

ROOT = Path(__file__).resolve().parents[1]

MUTATIONS = [
    ("drop", None),
    ("set", 10),
    ("set", ""),
    ("set", "two\nlines"),
    ("set", " padded"),
    ("set", "padded\n"),
    ("set", []),
    ("set", {}),
    ("set", None),
    ("set", True),
    ("set", "2022-02-30"),
    ("set", "Not A Slug"),
    ("set", "https://example.org/x"),
    ("set", "1992-08-11/1992-08-01"),
    ("set", 91.5),
    ("set", "Q0"),
    ("add", "nmae"),
    ("set", ["a", "a"]),
]


def mutate(record: dict, key: str, how: str, value: object) -> dict:
    changed = copy.deepcopy(record)
    if how == "drop":
        changed.pop(key, None)
    elif how == "add":
        changed[value] = "x"  # type: ignore[index]
    else:
        changed[key] = value
    return changed


@given(collections(), st.data())
def test_jsonschema_and_jsonschema_rs_agree(records: list[dict], data: st.DataObject) -> None:
    """The fast path may only answer yes when the explaining validator would too."""
    model = load_model()
    for record in records:
        key = data.draw(st.sampled_from(sorted(record)))
        how, value = data.draw(st.sampled_from(MUTATIONS))
        for candidate in (record, mutate(record, key, how, value)):
            type_name = candidate.get("type")
            if not isinstance(type_name, str) or type_name not in model.types:
                continue
            slow = not any(True for _ in model.validator(type_name).iter_errors(candidate))
            assert model.fast_is_valid(type_name, candidate) == slow, (key, how, value, candidate)


def check(records: list[dict]) -> list[tuple[str, str, str]]:
    checker = Checker()
    for index, record in enumerate(records):
        checker.add(Document(f"r{index}.yaml", 0, record))
    return [(p.file, p.pointer, p.code) for p in checker.finish().report.problems]


BASE = [
    {
        "id": "a1",
        "type": "article",
        "name": "A",
        "date_published": "2022-01-21",
        "text": "One sentence. Two.",
        "sources": [{"url": "https://example.org/a", "title": "A", "supports": ["name", "date_published", "text"]}],
    },
    {
        "id": "p1",
        "type": "place",
        "name": "P",
        "kind": "city",
        "sources": [{"article": "a1", "quote": "One sentence.", "supports": ["name", "kind"]}],
    },
]


def test_collection_rules() -> None:
    assert check(BASE) == []
    event = {
        "id": "e1",
        "type": "event",
        "name": "E",
        "kind": "exercise",
        "status": "planned",
        "locations": ["p1"],
        "sources": [{"article": "a1", "quote": "Two.", "supports": ["name", "kind", "status", "locations"]}],
    }
    assert check([*BASE, event]) == []
    assert check([*BASE, {**event, "locations": ["a1"]}]) == [("r2.yaml", "/locations/0", "reference-type")]
    assert check([*BASE, {**event, "locations": ["p2"]}]) == [("r2.yaml", "/locations/0", "dangling-reference")]
    assert check([*BASE, {**event, "id": "p1"}]) == [("r2.yaml", "/id", "duplicate-id")]
    quoted = {**event, "sources": [{**event["sources"][0], "quote": "Three."}]}  # type: ignore[dict-item]
    assert check([*BASE, quoted]) == [("r2.yaml", "/sources/0/quote", "quote-not-found")]
    assert check(
        [
            *BASE,
            {
                **event,
                "date": "2022-06-09/2022-05-09",
                "sources": [{**event["sources"][0], "supports": ["name", "kind", "status", "locations", "date"]}],
            },
        ]
    ) == [  # type: ignore[dict-item]
        ("r2.yaml", "/date", "date-order")
    ]
    assert check([*BASE, {**event, "date": "2022"}]) == [("r2.yaml", "/date", "unsourced-fact")]
    supports_more = {
        **event,
        "sources": [{**event["sources"][0], "supports": ["name", "kind", "status", "locations", "date"]}],
    }  # type: ignore[dict-item]
    assert check([*BASE, supports_more]) == [("r2.yaml", "/sources/0/supports/4", "unknown-supported-field")]


def test_quote_mismatch_points_at_the_nearest_passage(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    for source in sorted((ROOT / "records").rglob("*.yaml")):
        target = folder / source.relative_to(ROOT / "records")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    event = folder / "events" / "shusha-declaration-signing.yaml"
    event.write_text(
        event.read_text(encoding="utf-8").replace("Azerbaijan’s victory", "Azerbaijan's victory"), encoding="utf-8"
    )
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "quote not found verbatim in article 'azernews-2022-01-21-servicemen-parachute-course'" in result.stdout
    assert "the closest passage reads" in result.stdout and "[quote-not-found]" in result.stdout


def test_parallel_chunks_find_exactly_what_one_process_finds(tmp_path: Path) -> None:
    from bench.corpus import make
    from records_toolkit.validate import check_paths

    make(tmp_path, 3)
    first = sorted(tmp_path.rglob("*.yaml"))[0]
    (tmp_path / "c00002" / "dup.yaml").write_text(
        first.read_text(encoding="utf-8"), encoding="utf-8"
    )  # a duplicate id far away
    broken = tmp_path / "c00001" / "events" / "efes-2022.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace('"2022-05-09/', '"2022-02-30/'), encoding="utf-8")
    one = check_paths([tmp_path], jobs=1, keep=True)
    two = check_paths([tmp_path], jobs=2, keep=True)
    assert one.report.sorted() == two.report.sorted()
    # the broken event is still indexed (its id is valid): the announcement's reference to it resolves
    assert sorted(p.code for p in one.report.problems) == ["duplicate-id", "schema-format"]
    assert (one.report.files, one.report.records) == (two.report.files, two.report.records) == (3 * SHIPPED + 1,) * 2
    assert [d.data for d in one.records] == [d.data for d in two.records]


def _streaming_tree(root: Path) -> None:
    """Three copies of the shipped records, with what spans chunks and what the walk itself reports."""
    import os

    from bench.corpus import make

    make(root, 3)
    first = sorted(root.rglob("*.yaml"))[0]
    (root / "c00002" / "dup.yaml").write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    broken = root / "c00001" / "events" / "efes-2022.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace('"2022-05-09/', '"2022-02-30/'), encoding="utf-8")
    (root / "c00000" / "link.yaml").symlink_to(first)
    os.mkfifo(root / "c00001" / "pipe.yaml")
    (root / "c00002" / "a-b").mkdir()
    (root / "c00002" / "a-b" / "not-yaml.yaml").write_text("id: [\n", encoding="utf-8")


def test_checks_that_start_while_the_tree_is_walked_find_what_a_walk_first_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: the workers check the first files while the rest is walked. With chunks of a
    few files, sent while the walk goes on, the report is the one of a tree walked first: the
    same problems in the same order (the walk's own first), the same counts and records."""
    from records_toolkit import validate
    from records_toolkit.validate import check_paths

    _streaming_tree(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(validate.Streamed, "fits", staticmethod(lambda paths, jobs: False))
        walked_first = check_paths([tmp_path], jobs=2, keep=True)  # (the chunks of a whole walk, in workers)
    alone = check_paths([tmp_path], jobs=1, keep=True)
    sent: list[tuple[bool, int]] = []  # (the walk done when sent, files)
    real = validate.Streamed._chunks

    def chunks(self: validate.Streamed) -> t.Iterator[list[str]]:
        for chunk in real(self):
            sent.append((self.done, len(chunk)))
            yield chunk

    monkeypatch.setattr(validate.Streamed, "_chunks", chunks)
    monkeypatch.setattr(validate, "WALK_STEP", 3)
    monkeypatch.setattr(validate, "MIN_CHUNK", 2)
    monkeypatch.setattr(validate, "MAX_CHUNK", 9)
    streamed = check_paths([tmp_path], jobs=2, keep=True)
    assert sum(1 for done, _ in sent if not done) >= 4 and sum(files for _, files in sent) == 3 * SHIPPED + 2
    assert streamed.report.problems == walked_first.report.problems
    assert sorted(p.code for p in streamed.report.problems) == [
        "duplicate-id", "file-special", "file-symlink", "schema-format", "yaml-syntax"
    ]  # fmt: skip
    assert streamed.report.problems[:2] == [p for p in alone.report.problems if p.code.startswith("file-")]
    assert streamed.report.sorted() == alone.report.sorted()
    assert (streamed.report.files, streamed.report.records) == (walked_first.report.files, walked_first.report.records)
    assert [d.data for d in streamed.records] == [d.data for d in walked_first.records]
    # a tree smaller than a pool is worth, or a system that cannot fork: checked here, once walked
    with monkeypatch.context() as patch:
        patch.setattr(validate, "_can_fork", lambda: False)
        sent.clear()
        assert check_paths([tmp_path], jobs=2, keep=True).report.problems == walked_first.report.problems
        assert sent == []
    monkeypatch.setattr(validate, "PARALLEL_FROM", 10**6)
    assert check_paths([tmp_path], keep=True).report.problems == walked_first.report.problems and sent == []


def test_a_streamed_walk_walks_as_far_as_it_is_asked(tmp_path: Path) -> None:
    from records_toolkit.validate import Streamed

    for name in ("a.yaml", "b/c.yaml", "b/d.yml", "b-e.yaml", "f.yaml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("id: x\n", encoding="utf-8")
    (tmp_path / "g.yaml").symlink_to(tmp_path / "a.yaml")
    walk = Streamed([tmp_path], jobs=2)
    assert walk.walk(2) and list(walk.files) == [str(tmp_path / "a.yaml"), str(tmp_path / "b-e.yaml")]
    assert walk.walk(0) and len(walk.files) == 2 and not walk.done  # (nothing asked: nothing walked)
    assert not walk.walk(-1) and walk.done and len(walk.files) == 5  # (all the rest)
    assert [p.code for p in walk.problems] == ["file-symlink"]
    assert not walk.walk(0) and not walk.walk(3) and walk.done and len(walk.files) == 5


def test_each_missing_key_is_reported_once() -> None:
    place = {
        "id": "p2",
        "type": "place",
        "name": "P",
        "kind": "city",
        "sources": [{"article": "a1", "url": "https://example.org/p", "supports": ["name", "kind"]}],
    }
    assert sorted(code for _, _, code in check([BASE[0], place])) == [
        "schema-required",
        "schema-required",
        "schema-unknown-key",
    ]  # quote beside article, title beside url; url
    assert [code for _, _, code in check([{"id": "w", "type": "place"}])] == [
        "schema-required"
    ] * 3  # name, kind, sources


def test_merged_chunks_find_what_one_checker_finds() -> None:
    """The collection rules run on indexes merged from chunks (`state`/`merge`)."""
    event = {
        "id": "e1",
        "type": "event",
        "name": "E",
        "kind": "exercise",
        "status": "planned",
        "locations": ["p1", "p9", "a1"],
        "sources": [{"article": "a1", "quote": "Three.", "supports": ["name", "kind", "status", "locations"]}],
    }
    records = [*BASE, event, {**BASE[1], "name": 5}, {**event, "locations": ["p1"]}, BASE[1]]
    one = Checker()
    for index, record in enumerate(records):
        one.add(Document(f"r{index}.yaml", 0, record))
    first, second = Checker(), Checker()
    for index, record in enumerate(records):
        (first if index < 3 else second).add(Document(f"r{index}.yaml", 0, record))
    first.merge(second.state())
    expected = one.finish().report.sorted()
    assert first.finish().report.sorted() == expected
    assert [(p.file, p.pointer, p.code) for p in expected] == [
        ("r2.yaml", "/locations/1", "dangling-reference"),
        ("r2.yaml", "/locations/2", "reference-type"),
        ("r2.yaml", "/sources/0/quote", "quote-not-found"),
        ("r3.yaml", "/id", "duplicate-id"),  # a record with a schema error still has its id (no cascade)
        ("r3.yaml", "/name", "schema-type"),
        ("r4.yaml", "/id", "duplicate-id"),
        ("r4.yaml", "/sources/0/quote", "quote-not-found"),
        ("r5.yaml", "/id", "duplicate-id"),
    ]


def test_the_closest_passage_shows_the_white_space_that_differs() -> None:
    """A paragraph break or a no-break space in the article is shown as such, not as a space."""
    text = "The servicemen will join the drills.\n\nThey trained in\u00a0Kayseri for weeks."
    article = {**BASE[0], "text": text}
    place = {
        **BASE[1],
        "sources": [
            {"article": "a1", "quote": "join the drills. They trained in Kayseri", "supports": ["name", "kind"]}
        ],
    }
    checker = Checker()
    for index, record in enumerate([article, place]):
        checker.add(Document(f"r{index}.yaml", 0, record))
    found = [p.message for p in checker.finish().report.problems if p.code == "quote-not-found"]
    assert len(found) == 1 and "\\n\\n" in found[0], found


@given(st.integers(1, 300_000), st.integers(1, 16))
def test_the_workers_chunks_cover_the_files_in_order_large_first(total: int, workers: int) -> None:
    """Chunks are contiguous and cover every file once, in order; none is larger than MAX_CHUNK;
    each worker gets one at least; they shrink towards the end (the last ones no larger than
    MIN_CHUNK), so no worker is left alone with a large last chunk."""
    from records_toolkit import validate

    bounds = list(validate.chunk_bounds(total, workers))
    assert bounds[0][0] == 0 and bounds[-1][1] == total
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [end - start for start, end in bounds]
    assert all(0 < size <= validate.MAX_CHUNK for size in sizes)
    assert len(sizes) >= min(total, workers)
    assert sizes == sorted(sizes, reverse=True) or sizes[:-1] == sorted(sizes[:-1], reverse=True)
    assert sizes[-1] <= validate.MIN_CHUNK
