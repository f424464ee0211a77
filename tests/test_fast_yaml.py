"""The fast YAML path (yaml-rs) gives exactly what the strict loader gives, or steps aside.

``records_toolkit.fast_yaml`` answers for plain files and returns None for anything else, which the
strict loader then loads (and locates) as before. These tests prove the two paths agree: on
accepted values (same keys in the same order, same types, same numbers) and on refusals (the same
problems, since every refusal is the strict path's), differentially over generated records written
canonically and in PyYAML's styles, over mutated YAML, grids of scalars and the limits; they pin
the facts about yaml-rs that the module docstring's argument rests on; and they check that
``toolkit validate`` prints the same for every example folder with the fast path on and off.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
import yaml_rs
from click.testing import CliRunner
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from strategies import collections

from records_toolkit import canonical, fast_yaml, loader
from records_toolkit.cli import main
from records_toolkit.loader import Document, load_bytes, load_text
from records_toolkit.problems import Problem

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "examples"
CASES = sorted(p for p in (EXAMPLES / "valid").iterdir() if p.is_dir()) + sorted(
    p for p in (EXAMPLES / "invalid").iterdir() if p.is_dir()
)
MANY = settings(max_examples=max(settings().max_examples * 5, 20))
"""Differential tests run five times the profile's examples (200 in CI, 2,500 with ``thorough``)."""


# -- the two paths ---------------------------------------------------------------------------------


@contextlib.contextmanager
def fast_path(on: bool) -> t.Iterator[None]:
    old = os.environ.get(fast_yaml.ENVIRONMENT)
    os.environ[fast_yaml.ENVIRONMENT] = "1" if on else "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ[fast_yaml.ENVIRONMENT]
        else:
            os.environ[fast_yaml.ENVIRONMENT] = old


def load(text: str, *, fast: bool) -> list[Document | Problem]:
    with fast_path(fast):
        return list(load_text(text, "r.yaml"))


def same(a: object, b: object) -> bool:
    """Equal values of equal types all the way down, keys in the same order (``1 == 1.0 == True`` is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        assert isinstance(b, float)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def same_results(a: list[Document | Problem], b: list[Document | Problem]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, Document) and isinstance(y, Document):
            if (x.file, x.index) != (y.file, y.index) or not same(x.data, y.data):
                return False
        elif x != y:
            return False
    return True


def agree(text: str) -> bool:
    """The fast path's answer is the strict path's, and ``load_text`` gives the same with it on and off.

    Returns whether the fast path answered (False: it stepped aside).
    """
    fast = fast_yaml.load(text)
    strict = load(text, fast=False)
    if fast is not None:
        assert len(strict) == 1 and isinstance(strict[0], Document), (text, fast, strict)
        assert same(strict[0].data, fast), (text, fast, strict[0].data)
    with_fast = load(text, fast=True)
    assert same_results(with_fast, strict), (text, with_fast, strict)
    encoded = text.encode("utf-8", "surrogatepass")  # the bytes load_bytes passes with the text it decoded
    given = fast_yaml.load(text, encoded=encoded)
    assert (given is None) == (fast is None) and (fast is None or same(given, fast)), (text, given, fast)
    decoded = loader.decode(encoded, "r.yaml")
    if isinstance(decoded, str):  # (no surrogate: what a file can hold; a leading BOM is taken off)
        with fast_path(True):
            from_file = list(load_bytes(encoded, "r.yaml"))
        assert same_results(from_file, load(decoded, fast=False)), (text, from_file)
    with contextlib.suppress(InvalidArgument):  # outside hypothesis there are no statistics to keep
        event("fast path" if fast is not None else "strict path")
    return fast is not None


# -- what the argument rests on ---------------------------------------------------------------------


def test_yaml_rs_is_installed_and_the_fast_path_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fast_yaml.parser() is yaml_rs
    monkeypatch.delenv(fast_yaml.ENVIRONMENT, raising=False)
    assert fast_yaml.enabled()
    for off in ("0", "false", "No", " off "):
        monkeypatch.setenv(fast_yaml.ENVIRONMENT, off)
        assert not fast_yaml.enabled()
        (document,) = load_text("a: 1\n", "r.yaml")
        assert isinstance(document, Document) and document.data == {"a": 1}
    monkeypatch.setenv(fast_yaml.ENVIRONMENT, "1")
    assert fast_yaml.enabled()


def test_the_limits_are_the_loaders() -> None:
    assert (fast_yaml.MAX_DEPTH, fast_yaml.MAX_ITEMS, fast_yaml.MAX_VALUES) == (
        loader.MAX_DEPTH,
        loader.MAX_ITEMS,
        loader.MAX_VALUES,
    )


def rs(text: str) -> t.Any:
    return yaml_rs.loads(text, parse_datetime=False)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",
        "a: 1\nb:\n  c: 1\n  c: 2\n",
        "- a: 1\n  a: 1\n",
        'a: 1\n"a": 2\n',
        "a: 1\n'a': 2\n",
        'a: 1\n"\\x61": 2\n',
        'ab: 1\n"a\\x62": 2\n',
        "? a\n: 1\na: 2\n",
        "a: {x: 1, x: 2}\n",
    ],
)
def test_yaml_rs_refuses_duplicate_keys_so_the_fast_path_steps_aside(text: str) -> None:
    """yaml-rs keeps no silent last value: a repeated key is an error (``DuplicateKeyPolicy.Error``)."""
    with pytest.raises(yaml_rs.YAMLDecodeError, match="duplicate"):
        rs(text)
    assert fast_yaml.load(text) is None
    (problem,) = load(text, fast=True)
    assert isinstance(problem, Problem) and problem.code == "yaml-duplicate-key"
    assert load(text, fast=False) == [problem]


def test_yaml_rs_reads_what_the_fast_path_must_refuse() -> None:
    """Why rules 1, 3, 4 and 5 exist: yaml-rs reads these, differently from the strict loader or not at all."""
    assert rs("a: &x 1\nb: *x\n") == {"a": 1, "b": 1}  # aliases expanded
    assert rs("a: !!str 5\nb: !foo x\nc: !!binary aGk=\n") == {"a": "5", "b": "x", "c": "aGk="}  # tags dropped
    assert rs("a: !!set {x, y}\n") == {"a": {"x", "y"}}
    assert rs("a: \x01\n") == {"a": "\x01"}  # control characters (libyaml refuses them)
    assert rs("a: x\u2028y\n") == {"a": "x\u2028y"}  # a line break to libyaml
    assert rs("a: |\n") == {"a": "\n"}  # an empty block scalar at the end: libyaml reads ""
    assert rs("a: |\n  x") == {"a": "x\n"}  # no final line break: libyaml reads "x"
    assert rs("a: {b\n : c}\n") == {"a": {"b": "c"}}  # an implicit key over two lines
    assert rs("a: 1\n---\nb: 2\n") == [{"a": 1}, {"b": 2}] and rs("- a\n- b\n") == ["a", "b"]
    assert rs("") is None and rs("---\n") is None
    assert rs("1: x\n") == {1: "x"} and rs("? [a]\n: x\n") == {("a",): "x"}  # keys that are not text
    numbers = {"1_000": 1000, "_.5": 0.5, "0b11": 3, "0X1F": 31, "0O17": 15, "+0x1F": 31, "-0o7": -7}
    for text, value in numbers.items():
        assert rs(f"k: {text}\n") == {"k": value}, text
    for text in (".inf", "-.Inf", "1e400", ".NaN"):
        assert not math.isfinite(rs(f"k: {text}\n")["k"])


@pytest.mark.parametrize(
    "text",
    [
        'a: "foo\n  "[x]"\n',
        'a: "foo\n  " [x]"\n',
        'a: "foo\n  "x{"\n',
        'a: \'foo\n  "it [x]"\n',
        "a: 'foo\n  'x'\n",
        '- "foo\n  - "[x]"\n',
    ],
)
def test_yaml_rs_refuses_text_after_a_quoted_scalar(text: str) -> None:
    """Rule 2's argument: after a quoted scalar closes, text that is not ``:`` or a comment is an error."""
    with pytest.raises(yaml_rs.YAMLDecodeError):
        rs(text)
    assert agree(text) is False


core_int = st.from_regex(loader._INT_RE, fullmatch=True)
core_float = st.from_regex(loader._FLOAT_RE, fullmatch=True)


@MANY
@given(st.one_of(core_int, core_float).filter(lambda s: len(s) <= 100 and "\n" not in s))
def test_every_core_number_is_the_same_number_to_yaml_rs(text: str) -> None:
    """So a string from yaml-rs was never a plain number to the strict loader, and a record with no
    number needs no number check (rule 6)."""
    value = rs(f"k: {text}\n")["k"]
    assert type(value) in (int, float)
    if isinstance(value, float) and not math.isfinite(value):
        assert fast_yaml.load(f"k: {text}\n") is None  # the strict loader refuses it (yaml-number)
        return
    (document,) = load(f"k: {text}\n", fast=False)
    assert isinstance(document, Document) and same(document.data, {"k": value}), text
    agree(f"k: {text}\n")  # (30 digits in a row or more: the strict path, for the length rule)


CORE_WORDS = ["null", "Null", "NULL", "nULL", "~", "true", "True", "TRUE", "tRUE", "false", "False", "FALSE"]
CORE_WORDS += ["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N"]


@pytest.mark.parametrize("word", CORE_WORDS)
def test_nulls_and_booleans_are_the_core_schemas_to_both(word: str) -> None:
    assert agree(f"k: {word}\n")
    assert agree(f'k: "{word}"\n')
    assert agree(f"k:\n  - {word}\n")
    agree(f"{word}: v\n")


# -- grids ----------------------------------------------------------------------------------------

SCALARS = [
    *CORE_WORDS,
    *["0", "-0", "+0", "00", "010", "0o10", "0o8", "0x1F", "0x1f", "0xG", "0X1F", "0O17", "0b11", "0B11", "+0x1F"],
    *["-0x1F", "+0o7", "-0o7", "1_000", "_1", "1_", "1__0", "0x_1F", "1.5_0", "_.5", "1e3", "1E3", "1e+3", "1e-3"],
    *["1.e3", ".5e3", "1.", "+1.", "-.5", ".5", ".", "+", "-", "1e", "1e+", "e3", ".e3", "1.5.3", "1..5", "-.0"],
    *["-0.0", "0.0", "1e400", "-1e400", "1e-400", ".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN"],
    *["inf", "nan", "Infinity", "1" * 30, "1" * 100, "1" * 101, "0." + "0" * 99, "1e" + "0" * 98, "9" * 400],
    *["0x" + "f" * 98, "0x" + "f" * 99, "12:30", "12:30:45", "1:20", "190:20:30", "2022-01-21", "2022-01-21T10:00Z"],
    *["2022-1-2", "2001-12-14 21:59:43.10 -5", "=SUM(A1)", "+380 44", "-5 troops", "@x", "`x", "%x", "x%", "a b"],
    *["é", "😀", "\u00a0x", "x\u00a0", "Шуша", "a#b", "a #b", "a:b", "a: b", "'a'", '"a"', "'a''b'", '"a\\"b"'],
    *['"\\x41"', '"\\u00e9"', '"\\U0001F600"', '"\\L"', '"\\N"', '"\\_"', '"\\/"', '"\\ "', '"\\t"', '"\\e"', '"\\0"'],
    *['"\\a"', '"\\b"', '"\\v"', '"\\f"', '"\\r"', '"\\q"', '"\\x7f"', '"\\uD800"', '"\\U00110000"', "''", '""'],
    *["|\n  x", ">\n  x\n  y", "|-\n  x\n", "|+\n  x\n\n", ">\n  x\n\n  y\n", "|2\n   x", ">-\n  a\n   b\n  c"],
    *["[a]", "{a: 1}", "[]", "{}", "-", "- x", "? x", ": x", "x:", "*x", "&x y", "!x y", "!!str y", "<<"],
]


@pytest.mark.parametrize("scalar", SCALARS)
@pytest.mark.parametrize("form", ["k: {}\n", "k:\n  - {}\n", "{}: v\n", "- {}\n", "k: {}", "a:\n  b: {}\nc: 1\n"])
def test_scalar_grid(scalar: str, form: str) -> None:
    text = form.replace("{}", scalar.replace("\n", "\n    ") if "\n" in scalar else scalar)
    agree(text)
    agree(text.replace("\n", "\r\n"))


def nested(depth: int, style: str) -> str:
    """A record nested ``depth`` levels below its root (a scalar at the bottom)."""
    if style == "mapping":
        return "".join(" " * i + "k:\n" for i in range(depth - 1)) + " " * (depth - 1) + "k: x\n"
    if style == "sequence":
        return "k:\n" + "".join("  " * i + "-\n" for i in range(depth - 2)) + "  " * (depth - 2) + "- x\n"
    return "k: " + "- " * (depth - 1) + "x\n"  # compact: "- - - x"


@pytest.mark.parametrize("style", ["mapping", "sequence", "compact"])
@pytest.mark.parametrize("depth", [1, 2, 30, 60, 63, 64, 65, 99, 100, 101, 102, 300])
def test_nesting_around_the_limits(style: str, depth: int) -> None:
    agree(nested(depth, style))


@pytest.mark.parametrize(
    "text",
    [
        "k:\n" + "".join(f"  - {i}\n" for i in range(10_000)),
        "k:\n" + "".join(f"  - {i}\n" for i in range(10_001)),
        "".join(f"k{i}: {i}\n" for i in range(10_000)),
        "".join(f"k{i}: {i}\n" for i in range(10_001)),
        "".join(f"k{i}:\n" + "".join(f"  - {j}\n" for j in range(9_998)) for i in range(10)),
        "".join(f"k{i}:\n" + "".join(f"  - {j}\n" for j in range(9_999)) for i in range(10)),
        "a" * 100 + ": 1\n",
        "a" * 101 + ": 1\n",
        "a" * 1_024 + ": 1\n",
        "a" * 1_025 + ": 1\n",
        '"' + "\\x41" * 300 + '": 1\n',
    ],
    ids=[
        "items",
        "items+1",
        "keys",
        "keys+1",
        "values",
        "values+1",
        "key100",
        "key101",
        "key1024",
        "key1025",
        "keyesc",
    ],
)
def test_sizes_around_the_limits(text: str) -> None:
    agree(text)


@pytest.mark.parametrize(
    ("limit", "value", "text", "code"),
    [
        ("MAX_ITEMS", 5, "a:\n" + "".join(f"  - {n}\n" for n in range(6)), "yaml-too-many-items"),
        ("MAX_ITEMS", 2, "a: 1\nb: 2\nc: 3\n", "yaml-too-many-items"),
        ("MAX_VALUES", 10, "a:\n" + "".join(f"  - {n}\n" for n in range(9)), "yaml-too-many-values"),
        ("MAX_DEPTH", 3, "a:\n  b:\n    c:\n      - x\n", "yaml-too-deep"),
    ],
)
def test_the_loaders_limits_hold_on_the_fast_path(
    limit: str, value: int, text: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader passes its limits: one changed (as the tests of the limits do) holds on both paths."""
    assert fast_yaml.load(text) is not None
    monkeypatch.setattr(loader, limit, value)
    (problem,) = load(text, fast=True)
    assert isinstance(problem, Problem) and problem.code == code
    assert load(text, fast=False) == [problem]
    monkeypatch.setattr(loader, limit, value + 1)  # just enough: accepted on both paths
    (document,) = load(text, fast=True)
    assert isinstance(document, Document) and load(text, fast=False) == [document]


@pytest.mark.parametrize(
    "text",
    [
        "- " * 20_000 + "x\n",
        "k:\n  " + "- " * 20_000 + "x\n",
        "? " * 20_000 + "x\n",
        "- ? " * 10_000 + "x\n",
        "".join(" " * i + "k:\n" for i in range(1_000)) + " " * 1_000 + "k: x\n",
        "k: " + "[" * 20_000 + "]" * 20_000 + "\n",
    ],
    ids=["sequences", "in-a-mapping", "keys", "mixed", "indented", "flow"],
)
def test_deep_texts_never_reach_yaml_rs(text: str, tmp_path: Path) -> None:
    """yaml-rs overflows its stack (a crash, not an exception) some 10,000 levels deep: the guard
    keeps such texts from it. Run apart, so that a crash fails this test, not the whole run."""
    script = tmp_path / "deep.py"
    script.write_text(
        "import sys\nfrom records_toolkit import fast_yaml\n"
        "print(fast_yaml.load(open(sys.argv[1], encoding='utf-8').read()))\n",
        encoding="utf-8",
    )
    (tmp_path / "deep.yaml").write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "deep.yaml")], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout) == (0, "None\n"), done.stderr


# -- generated records ------------------------------------------------------------------------------


@MANY
@given(collections(), st.data())
def test_canonical_records(records: list[dict[str, t.Any]], data: st.DataObject) -> None:
    record = data.draw(st.sampled_from(records))
    text = canonical.dumps([record])
    answered = agree(text)
    if answered:
        assert fast_yaml.load(text) == record  # the canonical form reads back as the record
    agree(canonical.dumps(records[:3]))  # several documents: always the strict path


pyyaml_styles = st.fixed_dictionaries(
    {
        "default_flow_style": st.sampled_from([False, False, False, None, True]),
        "default_style": st.sampled_from([None, None, None, '"', "'", "|", ">"]),
        "width": st.sampled_from([8, 20, 80, 1_000, 1_000]),
        "allow_unicode": st.booleans(),
        "indent": st.integers(2, 5),
        "explicit_start": st.sampled_from([False, False, True]),
        "explicit_end": st.sampled_from([False, False, True]),
        "sort_keys": st.booleans(),
    }
)
"""PyYAML's styles, block style most often: plain, single-quoted and folded scalars; flow collections."""


@MANY
@given(collections(), st.data(), pyyaml_styles, st.booleans())
def test_records_in_pyyaml_styles(
    records: list[dict[str, t.Any]], data: st.DataObject, style: dict[str, t.Any], crlf: bool
) -> None:
    text = yaml.safe_dump(data.draw(st.sampled_from(records)), **style)
    agree(text.replace("\n", "\r\n") if crlf else text)


SIGNIFICANT = [*":-?,[]{}#&*!|>'\"%@`~\n \t\r.+_01exob\\<="]
SIGNIFICANT += ["\u2028", "\u2029", "\x85", "\ufeff", "\x00", "\x7f", "\xa0", "\n  ", "\n- ", ": ", "- ", "\r\n"]
FRAGMENTS = ["&a ", "*a", "!!str ", "!x ", "<<: ", "yes", "0o17", "0x1F", "0X1F", "1_000", ".inf", "1e400", "+0x1"]
FRAGMENTS += ["---\n", "...\n", "%YAML 1.1\n", "[[[", "]]", "9" * 120, "? ", "'", '"', "\\n", "\\x41", "\\L", "\\N"]
FRAGMENTS += ["\\_", "\\/", "\\ ", "\\\t", "\\e", "|", ">", "|-", ">+", "|2", "#", " #", "\n\n", "0", "-0", ".5"]
FRAGMENTS += ["1.", "1e3", "1.e3", "~", "null", "NULL", "True", "FALSE", "0b1", "0o8", "08", "-.5", ":x", "x:"]
FRAGMENTS += ["{a: 1}", "[a, b]", '"[x]"', "- ", "  ", "\r\n", "\n" + " " * 70 + "x"]


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few characters inserted, deleted or replaced, fragments inserted, lines repeated."""
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["insert", "delete", "replace", "fragment", "repeat-line"]))
        at = draw(st.integers(0, len(text)))
        if operation == "insert":
            text = text[:at] + draw(st.sampled_from(SIGNIFICANT)) + text[at:]
        elif operation == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 3)) :]
        elif operation == "replace":
            text = text[:at] + draw(st.sampled_from(SIGNIFICANT)) + text[at + 1 :]
        elif operation == "fragment":
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        else:  # a duplicate key, most often
            lines = text.split("\n")
            line = lines[draw(st.integers(0, len(lines) - 1))]
            lines.insert(draw(st.integers(0, len(lines))), line)
            text = "\n".join(lines)
    return text


@MANY
@given(collections(), st.data())
def test_mutated_records(records: list[dict[str, t.Any]], data: st.DataObject) -> None:
    record = data.draw(st.sampled_from(records))
    if data.draw(st.booleans()):
        text = canonical.dumps([record])
    else:
        text = yaml.safe_dump(record, allow_unicode=True, width=data.draw(st.sampled_from([20, 80, 1_000])))
    agree(data.draw(mutated(text)))


# YAML put together from pieces: the scalars of every style with content that matters to parsers.
_PIECES = [*"abxyz abc  :-#',.0123456789~%@`eE+/=?", "é", "😀", "\u00a0", "\u3000", " #", ": ", "- ", "-1"]
_PIECES += ["1.5", "0x1F", "0o7", "1e3", ".5", "1.", "01", "null", "true", "NO", "yes", "~", "\n", "\n ", "\n  "]
_PIECES += ["\n\n", "[x]", "{y}", '"', "'", "''", "\\", "---", "...", "\t"]
_ESCAPES = ["\\n", "\\x41", "\\u2028", "\\U0001F600", "\\L", "\\N", "\\_", "\\/", "\\ ", "\\\n", "\\\n  ", "\\e"]
_ESCAPES += ["\\t", "\\0", "\\a", "\\b", "\\v", "\\f", "\\r", '\\"', "\\\\", "\\x7f", "\\xe9", "\\uD800", "\\q"]
_plain = st.lists(st.sampled_from(_PIECES), max_size=10).map("".join)
_escaped = st.lists(st.one_of(st.sampled_from(_PIECES), st.sampled_from(_ESCAPES)), max_size=10).map("".join)
_HEADERS = ["|", ">", "|-", ">-", "|+", ">+", "|1", ">2", "|2-", "|+1", "| # c", "|-  # c"]


@st.composite
def scalar(draw: st.DrawFn, indent: int) -> str:
    style = draw(st.sampled_from(["plain", "plain", "double", "double", "single", "block"]))
    if style == "plain":
        return " " + draw(_plain)
    if style == "double":
        return ' "' + draw(_escaped).replace('"', '\\"').replace('\\\\"', '\\"') + '"'
    if style == "single":
        return " '" + draw(_plain).replace("'", "''") + "'"
    lines = draw(st.lists(_plain, max_size=4))
    extra = draw(st.sampled_from([0, 0, 1, 2]))
    body = "".join(
        "\n" + (" " * (indent + 2 + (extra if i % 2 else 0)) + line if line else "") for i, line in enumerate(lines)
    )
    return " " + draw(st.sampled_from(_HEADERS)) + body


@st.composite
def node(draw: st.DrawFn, indent: int, depth: int) -> str:
    kind = draw(st.integers(0, 4 if depth < 3 else 1))
    if kind <= 2:
        return draw(scalar(indent))
    if kind == 3:
        inner = indent + draw(st.sampled_from([0, 2]))
        items = [draw(node(inner + 2, depth + 1)) for _ in range(draw(st.integers(1, 3)))]
        return "".join("\n" + " " * inner + "-" + item for item in items)
    return "\n" + draw(mapping(indent + 2, depth + 1))


_KEYS = ["id", "type", "name", "a", "b", "date", "1", "null", "yes", "on", '"q"', "'s'", "? x", "-x", "x y", '"\\x41"']


@st.composite
def mapping(draw: st.DrawFn, indent: int = 0, depth: int = 0) -> str:
    entries = []
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.one_of(st.sampled_from(_KEYS), _plain))
        end = draw(st.sampled_from(["", "", " # c", "  ", "\n", "\n# c"]))
        entries.append(" " * indent + key + ":" + draw(node(indent, depth)) + end)
    return "\n".join(entries)


@MANY
@given(
    mapping(),
    st.sampled_from(["", "\n", "\n", "\n\n", "\n# c\n", "\n  \n"]),
    st.sampled_from(["", "", "# c\n", "\n", "---\n"]),
    st.booleans(),
)
def test_yaml_from_pieces(text: str, end: str, start: str, crlf: bool) -> None:
    text = start + text + end
    agree(text.replace("\n", "\r\n") if crlf else text)


_BLOCK_LINES = ["", " ", "  ", "x", "  x", " x", "   x", "    x", "  x ", "  # c", "  - x", "  a: b", "#c", '  "q"']


@MANY
@given(
    st.sampled_from(["a: ", "- ", "a:\n  b: ", "- a: "]),
    st.sampled_from(_HEADERS),
    st.lists(st.sampled_from(_BLOCK_LINES), max_size=4),
    st.sampled_from(["", "\n", "\n\n", "\nb: 1", "\nb: 1\n", "\n# c\n", "\n  \n", "\n\n\n"]),
)
def test_block_scalars(before: str, header: str, lines: list[str], after: str) -> None:
    """Chomping, indentation indicators, blank and less indented lines, the end of the text (rule 3)."""
    agree(before + header + "".join("\n" + line for line in lines) + after)


# -- the files of the project --------------------------------------------------------------------


def test_the_fast_path_answers_for_the_shipped_records() -> None:
    """Nearly every shipped record and valid example takes the fast path; the three examples made
    to be unusual do not."""
    files = sorted((ROOT / "records").rglob("*.yaml")) + sorted((EXAMPLES / "valid").rglob("*.y*ml"))
    strict_only = set()
    for path in files:
        text = loader.decode(path.read_bytes(), path.as_posix())
        assert isinstance(text, str)
        if not agree(text):
            strict_only.add(path.relative_to(ROOT).as_posix())
    assert strict_only >= {
        "tests/examples/valid/multi-document-file/people.yaml",  # several documents
        "tests/examples/valid/unicode-text/article.yaml",  # a tab
        "tests/examples/valid/yaml-1-2-plain-text/a.yaml",  # 1_000: a number to yaml-rs, text to the strict loader
    }
    assert len(strict_only) <= len(files) // 10, strict_only


def _validate(case: Path, on: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    args_file = case / "args.json"
    extra = json.loads(args_file.read_text(encoding="utf-8")) if args_file.exists() else []
    monkeypatch.chdir(case)
    monkeypatch.setenv(fast_yaml.ENVIRONMENT, "1" if on else "0")
    result = CliRunner(catch_exceptions=False).invoke(main, ["validate", "--output-format", "json", *extra, "."])
    return result.exit_code, result.stdout


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_every_example_validates_the_same_with_the_fast_path_on_and_off(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same problems, lines, columns and messages (the strict path places them in both runs)."""
    assert _validate(case, True, monkeypatch) == _validate(case, False, monkeypatch)


def test_a_large_text_takes_the_strict_path() -> None:
    """yaml-rs ends the process when an allocation fails: large texts never reach it."""
    from records_toolkit import fast_yaml

    big = "id: x\ntype: place\nname: " + "a" * fast_yaml.MAX_CHARS + "\n"
    assert fast_yaml.load(big) is None
    assert fast_yaml.load("id: x\ntype: place\nname: a\n") == {"id": "x", "type": "place", "name": "a"}
