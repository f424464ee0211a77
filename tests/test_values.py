"""The value classes that were dataclasses (issue 11: a one-file validate makes no dataclass) behave
as the dataclasses did: construction, repr, equality, hash, immutability, pickling, ``match``.

Each is compared with the dataclass it was, made here again from the same fields and options.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from records_toolkit.api import FormatInfo, Formats
from records_toolkit.collection import Config, Layout, Scope
from records_toolkit.dates import Edtf, EdtfDate, parse
from records_toolkit.loader import Document
from records_toolkit.problems import Problem, Report, Value
from records_toolkit.remote import _LocalLayout
from records_toolkit.rules import Pending
from records_toolkit.schema_types import TypeInfo
from records_toolkit.validate import Result

PROBLEM = Problem(file="a.yaml", line=3, column=None, pointer="/name", code="schema-type", message="it's wrong")
DAY = EdtfDate(2022, 1, 21, "")
MONTH = EdtfDate(2022, 5, None, "?")
LAYOUT = Layout("/r", "records")


class Case(t.NamedTuple):
    value: Value
    fields: list[t.Any]  # as dataclasses.make_dataclass takes them: (name, type[, field])
    options: dict[str, t.Any]  # the decorator's
    repr: str


def frozen(*names: str, **defaults: t.Any) -> list[t.Any]:
    return [(n, t.Any) for n in names] + [(n, t.Any, dataclasses.field(default=v)) for n, v in defaults.items()]


def factory(*names: str) -> list[t.Any]:
    return [(n, t.Any, dataclasses.field(default_factory=list)) for n in names]


TYPE_INFO = TypeInfo("place", {"a": 1}, ((("x",), ("place",)),), (("d",),), (), {(): ("a",)}, ("id",), ("id", "type"))
FORMAT = FormatInfo("ics", ".ics", "text/calendar", "iCalendar", False, True, "records-toolkit", "1.0", ())

CASES = [
    Case(
        PROBLEM,
        frozen("file", "line", "column", "pointer", "code", "message", severity="error", document=0),
        {"frozen": True, "slots": True, "kw_only": True},
        "Problem(file='a.yaml', line=3, column=None, pointer='/name', code='schema-type', message=\"it's wrong\", "
        "severity='error', document=0)",
    ),
    Case(
        Report([PROBLEM], 2, 3, [{"id": "x"}]),
        factory("problems")
        + [("files", int, dataclasses.field(default=0))]
        + [("records", int, dataclasses.field(default=0))]
        + factory("valid"),
        {"slots": True},
        f"Report(problems=[{PROBLEM!r}], files=2, records=3, valid=[{{'id': 'x'}}])",
    ),
    Case(
        DAY,
        frozen("year", "month", "day", "qualifier"),
        {"frozen": True, "slots": True},
        "EdtfDate(year=2022, month=1, day=21, qualifier='')",
    ),
    Case(
        MONTH,
        frozen("year", "month", "day", "qualifier"),
        {"frozen": True, "slots": True},
        "EdtfDate(year=2022, month=5, day=None, qualifier='?')",
    ),
    Case(
        Edtf("2022-05?/..", "interval", MONTH, None, open_end=True),
        frozen("text", "kind", "start", "end", open_start=False, open_end=False),
        {"frozen": True, "slots": True},
        "Edtf(text='2022-05?/..', kind='interval', start=EdtfDate(year=2022, month=5, day=None, qualifier='?'), "
        "end=None, open_start=False, open_end=True)",
    ),
    Case(
        Config("/r"),
        frozen("root", layout="one-record-per-file", config=None),
        {"frozen": True, "slots": True},
        "Config(root='/r', layout='one-record-per-file', config=None)",
    ),
    Case(LAYOUT, frozen("root", "shown"), {"frozen": True, "slots": True}, "Layout(root='/r', shown='records')"),
    Case(
        Scope([Path("x"), "y"], None, LAYOUT, "/r"),
        frozen("named", context=None, layout=None, root=None),
        {"frozen": True, "slots": True},
        f"Scope(named=[{Path('x')!r}, 'y'], context=None, layout=Layout(root='/r', shown='records'), root='/r')",
    ),
    Case(
        TYPE_INFO,
        frozen("name", "schema", "references", "dates", "attested", "key_order", "required", "properties"),
        {"frozen": True},
        "TypeInfo(name='place', schema={'a': 1}, references=((('x',), ('place',)),), dates=(('d',),), attested=(), "
        "key_order={(): ('a',)}, required=('id',), properties=('id', 'type'))",
    ),
    Case(
        FORMAT,
        frozen("name", "suffix", "media_type", "summary", "directory", "can_import", "package", "version", "options"),
        {"frozen": True},
        "FormatInfo(name='ics', suffix='.ics', media_type='text/calendar', summary='iCalendar', directory=False, "
        "can_import=True, package='records-toolkit', version='1.0', options=())",
    ),
    Case(
        Formats((FORMAT,), ()),
        frozen("available", "broken"),
        {"frozen": True},
        f"Formats(available=({FORMAT!r},), broken=())",
    ),
    Case(
        Document("f.yaml", 1, {"id": "x"}),
        frozen("file", "index", "data"),
        {"frozen": True, "slots": True},
        "Document(file='f.yaml', index=1, data={'id': 'x'})",
    ),
    Case(
        Pending("f.yaml", 0, "/id", "duplicate-id", "again"),
        frozen("file", "document", "pointer", "code", "message", at_key=False),
        {"slots": True},
        "Pending(file='f.yaml', document=0, pointer='/id', code='duplicate-id', message='again', at_key=False)",
    ),
    Case(
        Result(Report(), []),
        frozen("report", "records"),
        {"slots": True},
        "Result(report=Report(problems=[], files=0, records=0, valid=[]), records=[])",
    ),
]
IDS = [type(case.value).__name__ for case in CASES]


def values(value: Value) -> dict[str, t.Any]:
    return {name: getattr(value, name) for name in type(value)._fields}


def was(case: Case) -> t.Any:
    """The value as the dataclass it was."""
    cls = type(case.value)
    old = dataclasses.make_dataclass(cls.__name__, case.fields, **case.options)
    old.__qualname__ = cls.__qualname__
    return old(**values(case.value))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_repr_and_equality_are_the_dataclasses(case: Case) -> None:
    value, old = case.value, was(case)
    assert repr(value) == repr(old) == case.repr
    twin = type(value)(**values(value))
    assert value == twin and not value != twin
    assert value != old and value != tuple(values(value).values())  # (another class: not equal)
    assert value.__eq__(1) is NotImplemented


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hash_and_immutability_are_the_dataclasses(case: Case) -> None:
    value, old = case.value, was(case)
    name = next(iter(values(value)))
    if case.options.get("frozen"):
        try:
            expected: int | None = hash(old)
        except TypeError:  # (a field that is a list or a dict)
            expected = None
        if expected is None:
            with pytest.raises(TypeError):
                hash(value)
        else:
            assert hash(value) == expected == hash(tuple(values(value).values()))
        before = getattr(value, name)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"^cannot assign to field '{name}'$"):
            setattr(value, name, before)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"^cannot delete field '{name}'$"):
            delattr(value, name)
        with pytest.raises(AttributeError):
            value.elsewhere = 1  # type: ignore[attr-defined]
        assert getattr(value, name) is before
    else:
        with pytest.raises(TypeError, match="unhashable"):
            hash(value)
        changed = copy.copy(value)
        setattr(changed, name, getattr(value, name))
        assert changed == value
    if case.options.get("slots"):
        assert not hasattr(value, "__dict__")
    else:  # (a dataclass without slots has a __dict__ and takes weak references)
        assert vars(value) == values(value)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_pickles_and_copies_round_trip(case: Case) -> None:
    """Problems, documents, layouts go to worker processes and to Dask."""
    value = case.value
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(value, protocol))
        assert type(back) is type(value) and back == value and repr(back) == repr(value)
    for copied in (copy.copy(value), copy.deepcopy(value)):
        assert type(copied) is type(value) and copied == value


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_construction_and_match_are_the_dataclasses(case: Case) -> None:
    cls: t.Any = type(case.value)
    old = type(was(case))
    assert cls.__match_args__ == old.__match_args__

    def parameters(c: type) -> list[tuple[str, t.Any, t.Any]]:
        listed = inspect.signature(c).parameters.values()
        return [(p.name, p.kind, repr(p.default)) for p in listed]

    assert parameters(cls) == parameters(old)
    if cls.__match_args__:
        positional = cls(*values(case.value).values())
        assert positional == case.value
        match case.value:
            case cls(first):
                assert first == getattr(case.value, cls.__match_args__[0])
            case _:
                pytest.fail("no match")
    else:  # (keyword-only)
        with pytest.raises(TypeError):
            cls(*values(case.value).values())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_replace_is_dataclasses_replace(case: Case) -> None:
    value, old = case.value, was(case)
    name, first = next(iter(values(value).items()))
    assert value.replace() == value and value.replace() is not value
    changed = value.replace(**{name: "other"})
    assert repr(changed) == repr(dataclasses.replace(old, **{name: "other"}))
    assert getattr(value, name) is first
    with pytest.raises(TypeError):
        value.replace(nonsense=1)


def test_defaults_are_the_dataclasses() -> None:
    one, two = Report(), Report()
    assert one == two and one.problems is not two.problems and one.valid is not two.valid
    assert (one.files, one.records) == (0, 0)
    problem = Problem(file="f", line=None, column=None, pointer="", code="c", message="m")
    assert (problem.severity, problem.document) == ("error", 0)
    assert Config("/r") == Config("/r", "one-record-per-file", None)
    assert Scope(["x"]) == Scope(["x"], None, None, None)
    assert Pending("f", 0, "", "c", "m").at_key is False
    assert Edtf("2022", "date", DAY, DAY) == Edtf("2022", "date", DAY, DAY, False, False)


def test_a_subclass_is_its_own_class() -> None:
    """``remote._LocalLayout``: its own name in its repr, never equal to a Layout, pickled as itself."""
    local = _LocalLayout("/r", "records")
    assert repr(local) == "_LocalLayout(root='/r', shown='records')"
    assert local != LAYOUT and hash(local) == hash(LAYOUT)
    assert type(pickle.loads(pickle.dumps(local))) is _LocalLayout


def test_frozen_without_dataclasses_loaded_is_an_attribute_error() -> None:
    """Code that catches FrozenInstanceError has imported dataclasses (and gets it, above); without
    dataclasses loaded, the refusal is the AttributeError FrozenInstanceError is."""
    code = (
        "import sys\n"
        "from records_toolkit.problems import Problem\n"
        "p = Problem(file='f', line=None, column=None, pointer='', code='c', message='m')\n"
        "try:\n"
        "    p.code = 'x'\n"
        "except AttributeError as exc:\n"
        "    print(type(exc).__name__, exc, 'dataclasses' in sys.modules, p.code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "AttributeError cannot assign to field 'code' False c\n"


def test_parsed_dates_are_the_values() -> None:
    value = parse("2022-05?/..")
    assert value == Edtf("2022-05?/..", "interval", MONTH, None, open_end=True)
    assert str(value.start) == "2022-05?"


def test_a_value_that_holds_itself_shows_as_a_dataclass_would() -> None:
    report = Report()
    report.valid.append(report)  # type: ignore[arg-type]
    assert repr(report) == "Report(problems=[], files=0, records=0, valid=[...])"
