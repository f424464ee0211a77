"""The loader: YAML as JSON would see it, refusals with positions, never a stray exception."""

from __future__ import annotations

import os
import sys
import time
import typing as t

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from records_toolkit import loader
from records_toolkit.loader import Document, Positions, load_bytes, load_text, read_regular
from records_toolkit.problems import Problem


def load(text: str) -> list[Document | Problem]:
    return list(load_text(text, "r.yaml"))


def only_problem(text: str) -> Problem:
    (result,) = [r for r in load(text) if isinstance(r, Problem)]
    return result


def test_uses_libyaml_when_available() -> None:
    assert (loader.CoreLoader.__mro__[1] is yaml.CSafeLoader) == bool(yaml.__with_libyaml__)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2022-01-21", "2022-01-21"),
        ("NO", "NO"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("12:30", "12:30"),
        ("1_000", "1_000"),
        ("0b11", "0b11"),
        (".nan", ".nan"),
        (".inf", ".inf"),
        ("Null", None),
        ("~", None),
        ("", None),
        ("true", True),
        ("False", False),
        ("010", 10),
        ("0o10", 8),
        ("0x1F", 31),
        ("-5", -5),
        ("1.10", 1.1),
        ("1e3", 1000.0),
        ("'010'", "010"),
        ('"true"', "true"),
        ("|\n  a\n  b", "a\nb\n"),
    ],
)
def test_core_schema_scalars(text: str, value: object) -> None:
    (doc,) = load(f"k: {text}\n")
    assert isinstance(doc, Document)
    assert doc.data == {"k": value}
    assert type(doc.data["k"]) is type(value)  # type: ignore[index]


def test_keys_like_on_and_no_stay_text() -> None:
    (doc,) = load("on: 1\nNO: 2\n")
    assert isinstance(doc, Document) and doc.data == {"on": 1, "NO": 2}


@pytest.mark.parametrize(
    ("text", "code", "line", "column"),
    [
        ("a: 1\nb:\n  c: 1\n  c: 2\n", "yaml-duplicate-key", 4, 3),
        ("a: &x 1\nb: *x\n", "yaml-alias", 2, 4),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "yaml-alias", 3, 7),
        ("a: !!python/object/apply:os.system ['echo hi']\n", "yaml-tag", 1, 4),
        ("a: !!binary aGVsbG8=\n", "yaml-tag", 1, 4),
        ("a: !!set {x, y}\n", "yaml-tag", 1, 4),
        ("a: !!timestamp 2022-01-21\n", "yaml-tag", 1, 4),
        ("a: !foo bar\n", "yaml-tag", 1, 4),
        ("a: !!str 5\n", "yaml-tag", 1, 4),
        ("a: !!int '5'\n", "yaml-tag", 1, 4),
        ('a: !!str "agrees with its value"\n', "yaml-tag", 1, 4),
        ("a: ! 5\n", "yaml-tag", 1, 4),
        ("--- !!map\na: 1\n", "yaml-tag", 1, 5),
        ("1: x\n", "yaml-key-type", 1, 1),
        ("? [a]\n: x\n", "yaml-key-type", 1, 3),
        ("a: [1, 2\n", "yaml-syntax", 1, 4),
        ("a: b: c\n", "yaml-syntax", 1, 5),
        ("- a\n- b\n", "yaml-not-mapping", 1, 1),
        ("just text\n", "yaml-not-mapping", 1, 1),
    ],
)
def test_refusals_name_line_and_column(text: str, code: str, line: int, column: int) -> None:
    problem = only_problem(text)
    assert (problem.code, problem.line, problem.column) == (code, line, column), problem


def test_billion_laughs_is_refused_at_once() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    started = time.perf_counter()
    problem = only_problem("\n".join(lines) + "\n")
    assert problem.code == "yaml-alias" and problem.line == 2
    assert time.perf_counter() - started < 1.0


def test_deep_nesting_is_refused() -> None:
    problem = only_problem("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problem.code in ("yaml-too-deep", "yaml-syntax")


def test_multi_document_files_stream_each_record() -> None:
    results = load("id: a\n---\nid: b\n---\n- not a mapping\n")
    assert [r.data for r in results[:2]] == [{"id": "a"}, {"id": "b"}]  # type: ignore[union-attr]
    assert isinstance(results[2], Problem) and results[2].document == 2 and results[2].line == 5


def test_bad_utf8_is_reported_at_the_bad_byte() -> None:
    (problem,) = load_bytes(b"a: 1\nb: 2\nname: caf\xe9 ok\n", "r.yaml")
    assert isinstance(problem, Problem)
    assert (problem.code, problem.line, problem.column) == ("encoding", 3, 10)
    assert "0xe9" in problem.message


def test_a_bom_is_accepted() -> None:
    (doc,) = load_bytes("\ufeffa: 1\n".encode(), "r.yaml")
    assert isinstance(doc, Document) and doc.data == {"a": 1}


def test_oversized_files_are_refused_before_reading(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 200 + "\n")
    (problem,) = loader.load_file(path, max_bytes=100)
    assert isinstance(problem, Problem) and problem.code == "file-too-large" and problem.line == 1


def test_positions_are_found_for_any_pointer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "r.yaml"
    path.write_text("id: x\nparticipants:\n  - ref: a\n  - ref: b\n    role: 'r/s~t'\n---\nid: y\n")
    positions = Positions()
    file = path.as_posix()
    assert positions.locate(file, 0, "/participants/1/ref") == (4, 10)
    assert positions.locate(file, 0, "/participants/1/role", key=True) == (5, 5)
    assert positions.locate(file, 0, "/participants/1/missing") == (4, 5)  # the nearest existing parent
    assert positions.locate(file, 1, "/id") == (7, 5)
    assert positions.locate(file, 5, "/id") is None


def test_directories_are_walked_in_a_stable_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("b/z.yaml", "a.yml", "b/a.yaml", "notes.txt", "c/.hidden.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("id: x\n")
    files = [p.relative_to(tmp_path).as_posix() for p in loader.iter_record_files([tmp_path])]  # type: ignore[union-attr]
    assert files == ["a.yml", "b/a.yaml", "b/z.yaml", "c/.hidden.yaml"]
    (missing,) = loader.iter_record_files([tmp_path / "nope"])
    assert isinstance(missing, Problem) and missing.code == "file-unreadable"


@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_documents_or_problems_never_exceptions(raw: bytes) -> None:
    for result in load_bytes(raw, "fuzz.yaml"):
        assert isinstance(result, (Document, Problem))
        if isinstance(result, Problem):
            assert result.line is not None and result.line >= 1 and result.code


yaml_ish = st.text(st.sampled_from(list("ab:-[]{}&*!|>'\"#?,\n \t0123456789.~%@`")), max_size=80)


@given(yaml_ish)
def test_arbitrary_yaml_punctuation_never_escapes_as_an_exception(text: str) -> None:
    for result in load_text(text, "fuzz.yaml"):
        assert isinstance(result, (Document, Problem))


def test_a_file_named_twice_is_read_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.yaml").write_text("id: x\n")
    files = list(loader.iter_record_files([tmp_path, tmp_path / "a.yaml", tmp_path]))
    assert files == [tmp_path / "a.yaml"]


names = st.lists(
    st.text(st.one_of(st.characters(), st.sampled_from(["/", ".", "é", "\udc80", "\udcff", "\ud800", "\U0001f600"]))),
    max_size=12,
)


@given(names, st.integers(-14, 14), st.integers(-14, 14))
def test_packed_names_give_back_the_very_names(given_names: list[str], start: int, stop: int) -> None:
    """File names as the walk keeps them: any text os.fsdecode can give (lone surrogates from
    undecodable bytes included), each slice a list of the very strings, in order."""
    packed = loader.Names(given_names)
    assert len(packed) == len(given_names)
    assert list(packed) == given_names and packed == given_names
    assert packed[start:stop] == given_names[start:stop]
    assert isinstance(packed[start:stop], list)
    for index in (start, stop):
        if -len(given_names) <= index < len(given_names):
            assert packed[index] == given_names[index]
        else:
            with pytest.raises(IndexError):
                packed[index]
    assert (packed.listed is not None) == any("\0" in name for name in given_names)  # (a NUL: a plain list)


@given(names, names)
def test_packed_names_joined_are_the_names_of_both(first: list[str], second: list[str]) -> None:
    """A later chunk's names after these, as appending each would give (its packed bytes joined;
    a NUL on either side: a plain list)."""
    joined = loader.Names(first)
    joined.extend(loader.Names(second))
    assert joined == [*first, *second] and list(joined) == [*first, *second]
    assert len(joined) == len(first) + len(second)
    assert (joined.listed is not None) == any("\0" in name for name in [*first, *second])
    joined.append("last")
    assert joined[-1] == "last" and joined[: len(first)] == first


def test_packed_names_iterate_in_blocks_and_grow() -> None:
    many = [f"corpus/f{n % 7}/record-{n:05}.yaml" for n in range(10_000)]
    packed = loader.Names()
    for name in many:
        packed.append(name)
    assert list(packed) == many and packed[4095:4098] == many[4095:4098] and packed[-1] == many[-1]
    as_text = sum(map(sys.getsizeof, many)) + 8 * len(many)  # (the strings and a list's pointers)
    assert len(packed.data) + packed.starts.itemsize * len(packed) < 0.6 * as_text
    packed.append("a\0b")  # then a plain list, the same names
    assert packed.listed is not None and list(packed) == [*many, "a\0b"]


def test_one_tree_notes_only_hard_links_and_still_reads_each_file_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The last tree of a walk keeps only hard links' inodes (no other file can be met twice in
    it); a tree followed by others keeps every inode, so that they skip what it read."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    for name in ("a/one.yaml", "a/two.yaml", "b/three.yaml"):
        (tmp_path / name).write_text("id: x\n")
    (tmp_path / "b/one-again.yaml").hardlink_to(tmp_path / "a/one.yaml")
    linked = (tmp_path / "a/one.yaml").stat()
    seen: dict[int, set[int]] = {}
    found = list(loader._walk(tmp_path, seen, every=False))
    assert found == [(tmp_path / n).as_posix() for n in ("a/one.yaml", "a/two.yaml", "b/three.yaml")]
    assert seen == {linked.st_dev: {linked.st_ino}}
    seen = {}
    assert list(loader._walk(tmp_path, seen, every=True)) == found
    assert len(seen[linked.st_dev]) == 3
    for order in ([tmp_path / "a", tmp_path], [tmp_path, tmp_path / "a"], [tmp_path, tmp_path / "a/two.yaml"]):
        files = list(loader.iter_record_names(order))
        assert sorted(t.cast(list[str], files)) == found, order  # (each file once, whichever name came first)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_positions_count_every_kind_of_line_end(tmp_path, newline: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "r.yaml"
    path.write_bytes(newline.join(['id: "x"', 'type: "place"', "name: 5", ""]).encode())
    assert Positions().locate(path.as_posix(), 0, "/name") == (3, 7)
    assert Positions().source_line(path.as_posix(), 3) == "name: 5"


@pytest.mark.parametrize("packed", [False, True], ids=["dict", "Walked"])
def test_each_file_keeps_its_own_signature_when_the_walk_order_is_not_the_sorted_one(tmp_path, packed: bool) -> None:  # type: ignore[no-untyped-def]
    """A folder's files come before its subfolders in the walk (``a/z.yaml`` before ``a/b/c.yaml``),
    then the files are sorted: the signatures move with their files."""
    for name, size in (("a/z.yaml", 1), ("a/b/c.yaml", 22), ("a/b.yaml", 333), ("a/b/d/e.yaml", 4444), ("y.yaml", 5)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"#" * size)
    stats: loader.Stats = loader.Walked() if packed else {}
    files = [name for name in loader.iter_record_names([tmp_path], stats) if isinstance(name, str)]
    assert files == sorted(files) and len(files) == 5
    assert list(stats) == files
    for name in files:
        assert stats[name] == loader.signature(os.lstat(name)), name


def test_mount_points_below_a_tree_are_found_in_mountinfo(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The walk notes every file's inode when something is mounted below the tree (a bind mount
    shows a file again under the same inode, with one link), and when it cannot tell."""
    (tmp_path / "tree" / "with space").mkdir(parents=True)
    real = os.path.realpath(tmp_path)
    table = f"22 27 0:21 / /proc rw - proc proc rw\n36 27 0:30 / {real}/tree/with\\040space rw - tmpfs tmpfs rw\n"
    opened = open

    def fake_open(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "/proc/self/mountinfo":
            import io

            return io.BytesIO(table.encode())
        return opened(name, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    assert loader._mounted_below(tmp_path / "tree") and loader._mounted_below(tmp_path)
    assert not loader._mounted_below(tmp_path / "tree" / "with space")  # (the mount point itself: nothing below)
    assert not loader._mounted_below(tmp_path / "tree" / "with")
    table = "garbage\n"
    assert not loader._mounted_below(tmp_path / "tree")
    monkeypatch.setattr("builtins.open", lambda *a, **k: (_ for _ in ()).throw(FileNotFoundError(2, "no /proc")))
    assert loader._mounted_below(tmp_path / "tree")  # (cannot tell: every inode noted)


def test_a_bind_mount_inside_a_tree_shows_its_files_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A folder bind-mounted inside the tree it belongs to: its files have one link each, and are
    still read once (where the walk meets them first). Needs the right to mount (root, Linux)."""
    import shutil
    import subprocess

    tree = tmp_path / "tree"
    (tree / "places").mkdir(parents=True)
    for name in ("a.yaml", "b.yaml"):
        (tree / "places" / name).write_text(f'id: "{name[0]}"\n', encoding="utf-8")
    (tree / "zz-mirror").mkdir()
    mounted = (
        subprocess.run(
            ["mount", "--bind", str(tree / "places"), str(tree / "zz-mirror")], capture_output=True, check=False
        )
        if shutil.which("mount")
        else None
    )
    if mounted is None or mounted.returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        found = [name for name in loader.iter_record_names([tree]) if isinstance(name, str)]
        assert found == [(tree / "places" / n).as_posix() for n in ("a.yaml", "b.yaml")]
    finally:
        subprocess.run(["umount", str(tree / "zz-mirror")], check=False)


@pytest.mark.skipif(not os.path.exists("/proc/sys/kernel/pid_max"), reason="Linux's /proc")
def test_a_file_that_says_it_has_no_size_is_read_whole() -> None:
    """/proc and /sys files report size 0; some give a 1-byte read only that byte (read_regular
    sizes its first read by the file's size: not for these)."""
    for path in ("/proc/sys/kernel/pid_max", "/proc/sys/kernel/ostype", "/proc/self/status"):
        with open(path, "rb") as plain:
            expected = plain.read()
        got = read_regular(path)
        if "self" not in path:  # (a process's own status changes as it runs)
            assert got == expected
        assert got.endswith(b"\n") and len(got) > 1
