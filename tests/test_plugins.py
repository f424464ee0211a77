"""Formats come in through the entry-point door: built-ins and an outside package alike."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SHIPPED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from records_toolkit.cli import main
from records_toolkit.errors import CouldNotRun
from records_toolkit.plugins import GROUP, Format, Importer, discover, load

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"

TINY = '''
"""A tiny outside format: one line per record, `type id name`."""
from records_toolkit.plugins import Exported, Option


class TinyFormat:
    name = "tiny"
    suffix = ".txt"
    media_type = "text/plain"
    summary = "one line per record"
    directory = False
    options = [Option("sep", "column separator", " ")]

    def export(self, records, context):
        sep = context.options["sep"]
        lines = [sep.join((r["type"], r["id"], r["name"])) for r in records]
        return Exported({"records.txt": ("\\n".join(lines) + "\\n").encode()}, ["tiny says hello"])
'''


@pytest.fixture(autouse=True)
def forget_tinyfmt() -> t.Iterator[None]:
    """Each test installs its own `tinyfmt`; none may see another's module."""
    sys.modules.pop("tinyfmt", None)
    importlib.invalidate_caches()
    yield
    sys.modules.pop("tinyfmt", None)


def install_outside_format(
    site: Path, module: str = TINY, target: str = "tinyfmt:TinyFormat", *, dist: str = "tinyfmt", name: str = "tiny"
) -> Path:
    """Lay out a package the way pip would install it: a module and its dist-info with entry points."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{target.split(':')[0]}.py").write_text(textwrap.dedent(module), encoding="utf-8")
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{name} = {target}\n", encoding="utf-8")
    return site


def test_built_in_formats_come_through_the_entry_points() -> None:
    entries = discover()
    assert {"csv", "ics", "jsonld", "markdown"} <= set(entries)
    assert all(entry.package == "records-toolkit" for name, entry in entries.items() if name != "tiny")
    for name in ("csv", "ics", "jsonld", "markdown"):
        plugin = load(name)
        assert isinstance(plugin, Format) and plugin.name == name
    assert isinstance(load("csv"), Importer) and isinstance(load("jsonld"), Importer)
    assert not isinstance(load("ics"), Importer) and not isinstance(load("markdown"), Importer)


def test_loading_a_format_parses_no_package_metadata() -> None:
    """Which package ships a format, and its version, are read from its METADATA (an email
    message to parse: 1 to 2 ms each) only for a listing or a message: an export found and
    loaded its format three times, and read them each time (a third of its fixed cost). The
    entry points themselves are read without importlib.metadata (importing it took 40 to 50 ms).

    In a fresh interpreter, as the command line runs: a library imported by other tests (Dask's)
    may register a finder of its own, whose distributions read their files otherwise."""
    code = """if True:
        import json, sys
        from records_toolkit.plugins import discover, load
        for name in ("csv", "ics", "jsonld", "markdown"):
            assert load(name).name == name
        loading = "importlib.metadata" in sys.modules
        from importlib import metadata
        read = []
        real = metadata.PathDistribution.read_text
        def reading(self, filename):
            read.append(filename)
            return real(self, filename)
        metadata.PathDistribution.read_text = reading
        origin = discover()["csv"].origin
        print(json.dumps([loading, read, origin]))
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loading, asked, origin = json.loads(done.stdout)
    assert loading is False  # (importlib.metadata not even imported to find and load the formats)
    assert origin.startswith("records-toolkit ") and "METADATA" in asked  # (asked: read then)


@pytest.fixture
def stdlib_discovery() -> t.Iterator[None]:
    with _stdlib_discovery():
        yield


def test_the_entry_points_are_read_as_importlib_metadata_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdlib_discovery: None
) -> None:
    """The formats' entry points, read without importlib.metadata, are the ones it gives, in its
    order: folders of the path in turn, the first distribution of a name hiding the others
    (spelled with other case, dots, dashes or underscores), comments, blank lines and other
    groups skipped, extras after the value, white space around the parts, egg-info as dist-info.
    What this reading does not cover (a zip file on the path) is left to importlib.metadata."""
    from importlib import metadata

    from records_toolkit import plugins

    def dist(site: Path, folder: str, text: str) -> None:
        (site / folder).mkdir(parents=True)
        (site / folder / "METADATA").write_text("Metadata-Version: 2.1\nName: x\nVersion: 1\n", encoding="utf-8")
        (site / folder / "entry_points.txt").write_text(text, encoding="utf-8")

    first, second = tmp_path / "first", tmp_path / "second"
    dist(
        first,
        "Tiny_Fmt-1.0.dist-info",
        f"# a comment\n\n[console_scripts]\nx = y:z\n[{GROUP}]\n  tiny =  tinyfmt : TinyFormat [extra] \n",
    )
    dist(second, "tiny.fmt-2.0.dist-info", f"[{GROUP}]\ntiny = other:Hidden\n")  # (hidden: the same name, later)
    dist(second, "other-3.egg-info", f"[{GROUP}]\nsecond = otherfmt:Second\nthird=otherfmt.sub:Third.attr\n")
    dist(second, "empty-1.dist-info", "")
    (second / "noentries-1.dist-info").mkdir()
    dist(second, "brackets-1.dist-info", f"[[{GROUP}]]\nodd = odd:Odd\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    importlib.invalidate_caches()

    def seen(entries: t.Iterable[t.Any]) -> list[tuple[str, str, str, str]]:
        return [(e.name, e.value, e.group, str(e.dist.name)) for e in entries]

    ours = plugins._entry_points_here(GROUP)
    assert ours is not None
    assert seen(ours) == seen(metadata.entry_points(group=GROUP))
    names = [e.name for e in ours]
    assert {"tiny", "second", "third", "odd"} <= set(names) and names.count("tiny") == 1
    assert next(e for e in ours if e.name == "tiny").value == "tinyfmt : TinyFormat [extra]"
    (first / "tinyfmt.py").write_text("class TinyFormat:\n    pass\n", encoding="utf-8")
    assert next(e for e in ours if e.name == "tiny").load().__name__ == "TinyFormat"
    for odd in ("Odd.EGG", "nameless"):  # (an egg in capitals; a distribution with no name before its version)
        place = tmp_path / odd
        if odd == "nameless":
            dist(place, "-1.0.dist-info", f"[{GROUP}]\nnameless = x:Y\n")
        else:
            place.mkdir()
        with monkeypatch.context() as inner:
            inner.syspath_prepend(str(place))
            assert plugins._entry_points_here(GROUP) is None  # (left to importlib.metadata)
    monkeypatch.syspath_prepend(str(tmp_path / "archive.zip"))
    (tmp_path / "archive.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # (an empty zip: importlib reads it)
    assert plugins._entry_points_here(GROUP) is None
    assert seen(plugins._entry_points(GROUP)) == seen(metadata.entry_points(group=GROUP))


@contextlib.contextmanager
def _stdlib_discovery() -> t.Iterator[None]:
    """Distributions found as the interpreter alone finds them. A library imported by other tests
    (Dask's) brings the importlib_metadata backport, which adds its own finder to sys.meta_path
    and takes ``find_distributions`` off the standard PathFinder: with it, the toolkit leaves the
    entry points to importlib.metadata, and the standard reading is not there to compare with."""
    from importlib import metadata
    from importlib.machinery import PathFinder

    finders, had = sys.meta_path[:], "find_distributions" in vars(PathFinder)
    sys.meta_path[:] = [f for f in sys.meta_path if f is PathFinder or not hasattr(f, "find_distributions")]
    if not had:
        PathFinder.find_distributions = staticmethod(  # type: ignore[attr-defined]
            lambda *args, **kwargs: metadata.MetadataPathFinder.find_distributions(*args, **kwargs)
        )
    try:
        yield
    finally:
        sys.meta_path[:] = finders
        if not had:
            del PathFinder.find_distributions  # type: ignore[attr-defined]


_LINES = st.lists(
    st.one_of(
        st.sampled_from([f"[{GROUP}]", "[other]", f"  [{GROUP}]  ", "[]", "# note", "", "   ", "=", "a=b=c"]),
        st.text(alphabet="ab =:.[]#\t", max_size=12),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=_LINES)
def test_any_entry_points_text_reads_as_importlib_metadata_reads_it(tmp_path: Path, lines: list[str]) -> None:
    """A law over generated ``entry_points.txt`` texts: the same entry points of the group as
    importlib.metadata's own reading, or, where it fails (a line with no ``=``), a failure that
    names the file (a :class:`~records_toolkit.errors.CouldNotRun`, where it raised a bare error)."""
    from importlib import metadata

    from records_toolkit import plugins

    site = Path(tempfile.mkdtemp(dir=tmp_path))
    info = site / "law-1.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    saved = sys.path[:]
    sys.path[:] = [str(site)]
    try:
        with _stdlib_discovery():  # (as the fixture above: hypothesis calls this body many times)
            try:
                theirs: list[tuple[str, str]] | None = [
                    (e.name, e.value) for e in metadata.PathDistribution(info).entry_points if e.group == GROUP
                ]
            except (ValueError, TypeError):
                theirs = None
            try:
                found = plugins._entry_points_here(GROUP)
                assert found is not None
                ours: list[tuple[str, str]] | None = [(e.name, e.value) for e in found]
            except CouldNotRun as exc:  # (said, naming the file: a broken package's metadata)
                assert str(info / "entry_points.txt") in str(exc)
                ours = None
    finally:
        sys.path[:] = saved
    assert ours == theirs


def test_a_broken_entry_points_file_is_named_not_a_traceback(tmp_path: Path) -> None:
    """One installed package's broken metadata (a line with no ``=``, a file that is not UTF-8)
    stops the formats from being listed, as importlib.metadata stops: said, naming the file,
    exit 3, never a traceback."""
    for text in (f"[{GROUP}]\nbroken\n".encode(), b"[x]\na = \xff\n"):
        site = tmp_path / f"site{len(text)}"
        info = site / "broken-1.dist-info"
        info.mkdir(parents=True)
        (info / "entry_points.txt").write_bytes(text)
        env = os.environ | {"PYTHONPATH": str(site)}
        for args in (["export", "-f", "csv", str(ROOT / "records"), "-o", str(tmp_path / "out")], ["formats"]):
            done = subprocess.run(
                [sys.executable, "-m", "records_toolkit", *args], capture_output=True, text=True, env=env, timeout=60
            )
            assert done.returncode == 3, done.stderr
            assert str(info / "entry_points.txt") in done.stderr and "reinstall or remove" in done.stderr
            assert "Traceback" not in done.stderr


def test_formats_table(runner: CliRunner) -> None:
    result = runner.invoke(main, ["formats"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:5]}
    assert rows["csv"][1:5] == [".csv", "text/csv", "directory", "yes"]
    assert rows["ics"][1:5] == [".ics", "text/calendar", "file", "no"]
    assert rows["jsonld"][1:5] == [".jsonld", "application/ld+json", "file", "yes"]
    assert rows["markdown"][1:5] == [".md", "text/markdown", "file", "no"]
    assert "-O imprecise=skip (skip|span)" in result.stdout


def test_an_outside_format_is_listed_and_used(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site")))
    result = runner.invoke(main, ["formats"])
    assert result.exit_code == 0 and "tinyfmt 0.1" in result.stdout and "tiny: one line per record" in result.stdout
    result = runner.invoke(main, ["export", "--format", "tiny", "-O", "sep=|", str(RECORDS)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        len(lines) == SHIPPED
        and lines[0]
        == "agreement|military-education-cooperation-agreement-1992|Military Education Cooperation Agreement"
    )
    assert "notice: tiny says hello" in result.stderr
    result = runner.invoke(main, ["import", "--format", "tiny", str(RECORDS), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "cannot import" in result.output


def test_an_outside_format_in_a_real_subprocess(tmp_path: Path) -> None:
    site = install_outside_format(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(site)}
    toolkit = Path(sys.executable).with_name("toolkit")
    done = subprocess.run(
        [str(toolkit), "export", "-F", "tiny", str(RECORDS), "-o", str(tmp_path / "x.txt")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x.txt").read_text().count("\n") == SHIPPED


def test_a_broken_plugin_is_a_could_not_run_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", "raise ImportError('no numpy here')\n")))
    result = runner.invoke(main, ["export", "--format", "tiny", str(RECORDS)])
    assert result.exit_code == 3
    assert "format plugin 'tiny' from tinyfmt failed to load: ImportError: no numpy here" in result.output


def test_a_plugin_that_is_not_a_format_is_refused(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(
        str(install_outside_format(tmp_path / "site", "class TinyFormat:\n    name = 'tiny'\n"))
    )
    result = runner.invoke(main, ["formats"])
    assert result.exit_code == 3 and "not a format (missing suffix" in result.output


def test_a_plugin_crash_during_export_is_not_blamed_on_the_data(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashing = TINY.replace("sep = context.options", "1 / 0\n        sep = context.options")
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", crashing)))
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    result = runner.invoke(main, ["export", "--format", "tiny", str(RECORDS), "-o", str(out)])
    assert result.exit_code == 3 and "ZeroDivisionError" in result.output
    assert out.read_text() == "keep me"


# -- the contract, enforced ------------------------------------------------------------------------

TWO_FILES = TINY.replace(
    'return Exported({"records.txt": ("\\n".join(lines) + "\\n").encode()}, ["tiny says hello"])',
    'return Exported({"a.txt": b"a", "b.txt": b"b"})',
)


def test_a_single_file_format_returning_two_files_is_the_plugins_fault(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert TWO_FILES != TINY
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", TWO_FILES)))
    out = tmp_path / "out.txt"
    result = runner.invoke(main, ["export", "-f", "tiny", str(RECORDS), "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert (
        "format plugin 'tiny' from tinyfmt broke the format contract: a single-file format must return "
        "exactly one file, not 2" in result.stderr
    )
    assert not out.exists() and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ('{"../escape.txt": b"x"}', "must be a relative path inside"),
        ('{"/etc/passwd": b"x"}', "must be a relative path inside"),
        ('{"a.txt": "text, not bytes"}', "to bytes"),
        ('{".": b"x"}', "no empty, '.' or '..' parts"),
        ('{"a/./b": b"x"}', "no empty, '.' or '..' parts"),
        ('{"a//b": b"x"}', "no empty, '.' or '..' parts"),
        ('{"a\\nb": b"x"}', "control character"),
        ('{"a": b"x", "a/b": b"y"}', "to be a directory, but it is a file too"),
    ],
)
def test_file_names_and_contents_are_checked(
    files: str, why: str, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = TINY.replace("directory = False", "directory = True").replace(
        'return Exported({"records.txt": ("\\n".join(lines) + "\\n").encode()}, ["tiny says hello"])',
        f"return Exported({files})",
    )
    assert module != TINY
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", module)))
    result = runner.invoke(main, ["export", "-f", "tiny", str(RECORDS), "-o", str(tmp_path / "out")])
    assert result.exit_code == 3 and why in result.stderr, result.output
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()


IMPORTER = (
    TINY
    + """
    def import_records(self, source, context):
        from records_toolkit.plugins import invalid_source
        text = source.read_text()
        if text.startswith("bad"):
            raise invalid_source(source, "the first line says bad", line=1, column=1)
        if text.startswith("crash"):
            return {}["no such key"]
        return []
"""
)


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        ("bad input\n", 1, "in.txt:1:1: the first line says bad"),
        ("crash\n", 3, "format plugin 'tiny' from tinyfmt failed during import: KeyError: 'no such key'"),
    ],
)
def test_an_importers_exception_says_whose_fault_it_is(
    content: str, code: int, message: str, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", IMPORTER)))
    (tmp_path / "in.txt").write_text(content)
    result = runner.invoke(main, ["import", "-f", "tiny", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out")])
    assert result.exit_code == code and message in result.stderr, result.output
    assert not (tmp_path / "out").exists()


def test_an_importers_problem_is_an_annotation_in_ci(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", IMPORTER)))
    (tmp_path / "in.txt").write_text("bad\n")
    result = runner.invoke(
        main,
        ["import", "-f", "tiny", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out"), "--output-format", "github"],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("::error file=") and ",line=1,col=1,title=import-invalid::" in result.stderr


def test_two_packages_registering_one_name_are_refused_naming_both(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    impostor = TINY.replace('name = "tiny"', 'name = "csv"')
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", impostor, dist="csvplus", name="csv")))
    entries = discover()
    assert {entries["csv"].package, *(c.split()[0] for c in entries["csv"].clashes)} == {"records-toolkit", "csvplus"}
    result = runner.invoke(main, ["export", "-f", "csv", str(RECORDS), "-o", str(tmp_path / "tables")])
    assert result.exit_code == 3
    assert (
        "records-toolkit" in result.stderr
        and "csvplus" in result.stderr
        and "registers a format named 'csv'" in result.stderr
    )
    assert not (tmp_path / "tables").exists()
    result = runner.invoke(main, ["formats"])  # the others are still listed; the clash is named
    assert result.exit_code == 3
    listed = [line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip() and ":" not in line]
    assert listed == ["ics", "jsonld", "markdown"]
    assert "csvplus" in result.stderr


def test_one_broken_plugin_does_not_hide_the_others(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", "raise ImportError('gone')\n")))
    result = runner.invoke(main, ["formats"])
    assert result.exit_code == 3
    assert [line.split()[0] for line in result.stdout.splitlines()[1:5]] == ["csv", "ics", "jsonld", "markdown"]
    assert "format plugin 'tiny' from tinyfmt failed to load: ImportError: gone" in result.stderr
    result = runner.invoke(main, ["export", "-f", "ics", str(RECORDS)])  # and they keep working
    assert result.exit_code == 0 and result.stdout.startswith("BEGIN:VCALENDAR")


# -- the laws, for any format ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["csv", "jsonld", "ics", "markdown"])
def test_the_built_in_formats_keep_the_laws(name: str) -> None:
    from records_toolkit.testing import check_format

    check_format(name, max_examples=10)


def test_the_law_helper_catches_a_format_that_breaks_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from records_toolkit.testing import check_format

    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site")))
    check_format("tiny", options={"sep": "|"}, max_examples=5)  # a well-behaved outside format passes
    clock = TINY.replace("lines = [", "import time\n        lines = [str(time.perf_counter_ns())] + [")
    lossy = TINY + IMPORTER[len(TINY) :].replace("return []", "return [{'id': 'x', 'type': 'place'}]")
    for number, module in enumerate((clock, lossy)):
        site = install_outside_format(
            tmp_path / f"site{number}", module, f"tinyfmt{number}:TinyFormat", dist=f"tinyfmt{number}", name="tiny"
        )
        sys.modules.pop(f"tinyfmt{number}", None)
        monkeypatch.syspath_prepend(str(site))
        plugin = importlib.import_module(f"tinyfmt{number}").TinyFormat()
        with pytest.raises(AssertionError, match="different bytes" if number == 0 else "import|valid"):
            check_format(plugin, max_examples=5)


def test_the_law_helper_catches_output_that_depends_on_the_hash_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from records_toolkit.testing import check_format

    by_set = TINY.replace(
        'lines = [sep.join((r["type"], r["id"], r["name"])) for r in records]',
        'lines = list({r["id"] for r in records} | {"x", "y", "z", "w", "v"})',
    )
    assert by_set != TINY
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", by_set)))
    with pytest.raises(AssertionError, match="two processes"):
        check_format("tiny", max_examples=3)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (
            TINY.replace("sep = context.options", "raise SystemExit(0)\n        sep = context.options"),
            "failed during export: SystemExit: 0",
        ),
        ("import sys\nsys.exit(5)\n", "failed to load: SystemExit: 5"),
        (
            TINY.replace('options = [Option("sep", "column separator", " ")]', "options = None"),
            "options must be a list of Option",
        ),
        (
            TINY.replace('options = [Option("sep", "column separator", " ")]', 'options = ["sep"]'),
            "options must be a list of Option, not of str",
        ),
        (TINY.replace('suffix = ".txt"', "suffix = 5"), "suffix must be text"),
        (TINY.replace("directory = False", 'directory = "no"'), "directory must be True or False"),
        (
            TINY.replace('Option("sep", "column separator", " ")', 'Option("sep", "column separator", " ", ("|",))'),
            "choices must be text and include the default",
        ),
    ],
)
def test_a_misbehaving_plugin_is_its_own_failure_and_hides_no_other(
    module: str, message: str, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", module)))
    result = runner.invoke(main, ["export", "-f", "tiny", str(RECORDS), "-o", str(tmp_path / "out.txt")])
    assert result.exit_code == 3 and message in result.stderr, result.output
    assert not (tmp_path / "out.txt").exists()
    listed = runner.invoke(main, ["formats"])
    broken_at_load = "during export" not in message
    assert listed.exit_code == (3 if broken_at_load else 0)
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:5]] == [
        "csv",
        "ics",
        "jsonld",
        "markdown",
    ]


@pytest.mark.parametrize(
    ("raised", "said"),
    [("KeyboardInterrupt", "interrupted"), ("__import__('records_toolkit.errors').errors.Terminated()", "terminated")],
)
def test_ctrl_c_or_sigterm_in_a_plugin_is_an_interruption(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: str, said: str
) -> None:
    """Not a plugin's failure: a SIGTERM while a plugin runs (the command line raises it wherever
    it lands) is said as Ctrl-C is."""
    module = TINY.replace("sep = context.options", f"raise {raised}\n        sep = context.options")
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "site", module)))
    args = ["export", "-f", "tiny", str(RECORDS), "-o", str(tmp_path / "out.txt")]
    if said == "interrupted":
        result = runner.invoke(main, args)
        assert result.exit_code == 130 and "interrupted: nothing was changed" in result.stderr
    else:  # (not a PluginError: it passes click's runner, and run(), the console entry, says it)
        from records_toolkit.errors import Terminated

        with pytest.raises(Terminated):
            runner.invoke(main, args)
    assert not (tmp_path / "out.txt").exists()


def test_the_entry_points_are_read_again_only_when_what_is_installed_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export asks three times which formats there are: read once, unless a package came or
    went since (a folder on the path changed, or the path itself)."""
    from records_toolkit import plugins

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    reads: list[str] = []
    real = plugins._entry_points
    monkeypatch.setattr(plugins, "_entry_points", lambda group: reads.append(group) or real(group))
    first = discover()
    assert "tiny" not in first and discover() == first and discover() == first
    assert len(reads) == 1
    discover()["csv"] = first["ics"]  # (what a caller does with the answer is not kept)
    assert discover()["csv"] == first["csv"]
    install_outside_format(site)  # a package installed into a folder already on the path
    importlib.invalidate_caches()
    assert "tiny" in discover() and len(reads) == 2
    assert "tiny" in discover() and len(reads) == 2
    shutil.rmtree(site / "tinyfmt-0.1.dist-info")  # and uninstalled
    importlib.invalidate_caches()
    assert "tiny" not in discover() and len(reads) == 3
    monkeypatch.syspath_prepend(str(install_outside_format(tmp_path / "other")))  # the path changed
    assert "tiny" in discover() and len(reads) == 4
