"""Problems in plain block-style records are placed without PyYAML: exactly where composing puts them.

:mod:`records_toolkit.block_marks` reads the kind of file ``toolkit fmt`` writes line by line;
every other file is composed as before. Here the two are compared on every pointer of every
example file, shipped record and generated record, with pointers that go past what exists.
"""

from __future__ import annotations

import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import collections

from records_toolkit import api, block_marks, loader

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*(ROOT / "records").rglob("*.yaml"), *(ROOT / "tests" / "examples").rglob("*.yaml")])


def _pointers(node: t.Any, pointer: str = "") -> t.Iterator[str]:
    """Every pointer of a composed document, and for each one a step past what exists."""
    from yaml.nodes import MappingNode, SequenceNode

    yield pointer
    yield pointer + "/no-such-key"
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield from _pointers(value, f"{pointer}/{str(key.value).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, SequenceNode):
        yield pointer + f"/{len(node.value)}"
        for index, item in enumerate(node.value):
            yield from _pointers(item, f"{pointer}/{index}")


def _compared(text: str) -> int | None:
    """How many pointers were compared (None: the text is not of the simple kind)."""
    root = block_marks.marks(text)
    if root is None:
        return None
    documents = list(loader.Positions._compose(text))
    assert len(documents) == 1, "block_marks took a text of several documents"
    compared = 0
    for pointer in _pointers(documents[0]):
        for key in (False, True):
            expected = loader._mark_at(documents[0], pointer, key).index
            assert block_marks.mark_at(root, pointer, key) == expected, (pointer, key, text)
            compared += 1
    return compared


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_every_example_and_record_is_placed_as_composing_places_it(path: Path) -> None:
    text = loader.decode(path.read_bytes(), str(path))
    if isinstance(text, str):
        _compared(text)


def test_the_shipped_records_are_of_the_simple_kind() -> None:
    """(else the test above would compare nothing, and the start-up gain would be lost)"""
    simple = [p for p in (ROOT / "records").rglob("*.yaml") if block_marks.marks(p.read_text(encoding="utf-8"))]
    assert len(simple) == len(list((ROOT / "records").rglob("*.yaml")))


@settings(max_examples=60, deadline=None)
@given(collections(max_per_type=2))
def test_generated_records_written_by_fmt_are_placed_as_composing_places_them(records: list[dict]) -> None:
    for record in records:
        compared = _compared(api.canonical_yaml(record))
        assert compared, "a canonical record was not of the simple kind"


TRICKY = [
    'id: "a"\nlist:\n- "x"\n- "y"\nafter: 1\n',  # a sequence at its key's own indent
    'id: "a"\nnested:\n  deeper:\n    - k: "v"\n      j: |\n        body\n        # not a comment\n    - "s"\nlast: x\n',
    "id: 'it''s'\nplain: some text # a comment\nnumber: -5\nneg: -x\n",
    'id: "a"\n\n# a comment\nk:   "spaced"   # trailing\nm:\n  - - "nested"\n',  # a sequence in a sequence: composed
    'id: "a"\nempty:\nnext: 1\n',  # an empty value: composed
    'id: "a"\nflow: [1, 2]\n',  # a flow collection: composed
    'id: "a"\nmulti: first\n  second line\n',  # a plain scalar over two lines: composed
    'id: "a"\n"quoted key": 1\n',  # a quoted key: composed
    'id: "a"\nanchor: &x 1\n',  # an anchor: composed
    'id: "a"\nfolded: >-\n  a\n  b\nz: 2\n',
    'id: "a"\nitems:\n  -\n    k: 1\n  - j: 2\n',  # an item on the lines after its dash
    # NEL, LS and PS end lines for libyaml, in a comment or a block scalar too (a hostile tester's)
    "# c\u2028a: 1\nb: 2\n",
    "a: 1 # c\x85b: 2\n",
    "a: |\n  x\u2029b: 2\n",
    'id: "k" # n\u2028kind: 12\ntype: "place"\n',
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_are_placed_as_composing_places_them_or_left_to_it(text: str) -> None:
    _compared(text)


def test_a_file_with_a_problem_is_placed_without_importing_pyyaml(tmp_path: Path) -> None:
    """The point of it: ``toolkit validate FILE`` with a dangling reference imports no PyYAML
    (the bench's start-up case), and says the same lines and columns as composing does."""
    agreement = next((ROOT / "records" / "agreements").glob("*.yaml"))
    (tmp_path / "one.yaml").write_bytes(agreement.read_bytes())
    script = (  # (as the console script runs it: records_toolkit.launcher)
        "import atexit, sys; from records_toolkit.launcher import run\n"
        "atexit.register(lambda: sys.stderr.write('yaml imported: %s' % ('yaml' in sys.modules)))\n"
        "sys.argv = ['toolkit', 'validate', '--no-collection', '--output-format', 'json', 'one.yaml']\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "dangling-reference" in done.stdout, done.stderr
    assert done.stderr.endswith("yaml imported: False"), done.stderr
    import json

    found = [(p["line"], p["column"], p["pointer"]) for p in json.loads(done.stdout)]
    composed = loader.Positions()._documents(str(tmp_path / "one.yaml"))
    lines, (document,) = composed
    assert found == [
        lines.position(loader._mark_at(document, pointer, False)) + (pointer,) for _line, _column, pointer in found
    ]


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["comment", "blank", "indent", "dedent", "delete", "copy", "trailing", "dash-gap", "tab", "line-break"]
        ),
        st.integers(0, 10**6),
    ),
    min_size=1,
    max_size=6,
)


def _mutated(text: str, mutations: list[tuple[str, int]]) -> str:
    lines = text.split("\n")
    for kind, at in mutations:
        n = at % len(lines)
        line = lines[n]
        if kind == "comment":
            lines.insert(n, " " * (at % 5) + "# a comment: - [x]")
        elif kind == "blank":
            lines.insert(n, " " * (at % 3))
        elif kind == "indent":
            lines[n] = "  " + line
        elif kind == "dedent":
            lines[n] = line[1:] if line.startswith(" ") else line
        elif kind == "delete" and len(lines) > 1:
            del lines[n]
        elif kind == "copy":
            lines.insert(n, line)
        elif kind == "trailing" and line.strip():
            lines[n] = line + "  # after"
        elif kind == "dash-gap":
            lines[n] = line.replace("- ", "-   ", 1)
        elif kind == "tab":
            lines[n] = line.replace(" ", "\t", 1)
        elif kind == "line-break":  # (NEL, LS or PS, anywhere in the line)
            cut = at % (len(line) + 1)
            lines[n] = line[:cut] + "\x85\u2028\u2029"[at % 3] + line[cut:]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FILES), MUTATIONS)
def test_mutated_records_are_placed_as_composing_places_them_or_left_to_it(path: Path, mutations: list[t.Any]) -> None:
    """Comments, blank lines, indents, deleted or repeated lines, trailing comments, wider dashes,
    tabs: whatever it takes as the simple kind is placed where composing places it."""
    import yaml

    original = loader.decode(path.read_bytes(), str(path))
    if not isinstance(original, str):
        return  # (not UTF-8: a problem of the file, at no pointer)
    text = _mutated(original, mutations)
    try:
        documents = list(yaml.compose_all(text, Loader=loader.CoreLoader))
    except (yaml.YAMLError, loader.LoadProblem, RecursionError):
        return  # (a file that does not load has no problem to place)
    if len(documents) == 1 and documents[0] is not None:
        _compared(text)
    else:
        assert block_marks.marks(text) is None


def test_the_odd_characters_are_exactly_those_outside_lf_and_the_printable_ranges() -> None:
    """Every code point: a text holding one of them goes to the composer (NEL, LS and PS end lines
    for libyaml; TAB, CR, controls, surrogates and the non-characters FFFE and FFFF are its to
    judge), any other may be marked line by line."""
    printable = [(0x0A, 0x0A), (0x20, 0x7E), (0xA0, 0x2027), (0x202A, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF)]
    ok = bytearray(0x110000)
    for low, high in printable:
        ok[low : high + 1] = b"\x01" * (high - low + 1)
    found = [code for code in range(0x110000) if bool(block_marks._ODD.match(chr(code))) == bool(ok[code])]
    assert found == [], [hex(code) for code in found[:10]]
