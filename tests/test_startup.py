"""Start-up stays light (issue 11): what `toolkit --version` and validating one file import.

No timings (timed unit tests are not kept here): the installed console script runs in a fresh
interpreter under ``-X importtime``, which names every module imported, the entry script's own
included, and the tests assert that the heavy ones stay out. A module-level import of one of them
(in the package, the CLI or anything they import) fails here with the module named.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import records_toolkit
from records_toolkit import launcher

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = Path(sys.executable).with_name("toolkit")

# Never needed to print the version: each of these costs from a few to ~25 ms.
NOT_FOR_VERSION = {
    "importlib.metadata",  # the version is a literal, records_toolkit.__version__
    "email",  # importlib.metadata's and jsonschema-rs's
    "decimal",  # jsonschema-rs's
    "jsonschema",
    "jsonschema_rs",
    "referencing",
    "rpds",
    "yaml",
    "tomllib",
    "json",
    "secrets",  # records_toolkit.output's (signals, locks, hashing): imported only by commands that write
    "shutil",
    "records_toolkit.output",
    "records_toolkit.api",
    "records_toolkit.loader",
    "records_toolkit.plugins",
    "records_toolkit.problems",
    "records_toolkit.render",
    "click",  # the launcher answers --version itself
    "records_toolkit.cli",
}

# Never needed to validate a valid file: jsonschema (with referencing and rpds) explains only a
# record that fails; importlib.metadata is for the formats (export, import) and `toolkit init`;
# PyYAML only for a file the fast path does not take (every shipped record is plain) or to place
# a problem; click only for the options the launcher leaves to it (help, errors, --collection).
# (email and decimal are imported by jsonschema-rs itself, at its own import: not listed.)
NOT_FOR_VALIDATE = {
    "importlib.metadata",
    "jsonschema",
    "referencing",
    "rpds",
    "yaml",
    "click",
    "records_toolkit.cli",
    "records_toolkit.plugins",
    "records_toolkit.exporters",
    "concurrent",  # the worker pool: only for large trees
    "multiprocessing",
    "dask",  # a Dask cluster: only with --scheduler (or RECORDS_TOOLKIT_SCHEDULER)
    "distributed",
    "tornado",
    "cloudpickle",
    "msgpack",
    "fsspec",
}

# Never needed when the result cache answers for every file: nothing is parsed or validated.
NOT_FOR_A_CACHED_RUN = NOT_FOR_VALIDATE | {"jsonschema_rs", "email", "decimal", "yaml_rs"}


def imports(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the console script; what it printed, and every module it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(TOOLKIT), *args], capture_output=True, text=True, cwd=cwd, env=env
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "records_toolkit.launcher" in modules, done.stderr  # (the listing works)
    return done, modules


def heavy(modules: set[str], banned: set[str]) -> list[str]:
    """The modules of ``modules`` that are, or are inside, one of ``banned``."""
    return sorted(m for m in modules if any(m == b or m.startswith(b + ".") for b in banned))


def test_the_version_is_the_projects() -> None:
    """`__version__` is written in the package (no importlib.metadata at start-up): pyproject.toml's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if "version" not in project.get("dynamic", []):  # (dynamic: the build reads it from __init__, one source)
        assert records_toolkit.__version__ == project["version"]


def test_the_version_alone_imports_nothing_more() -> None:
    """`records_toolkit.__version__` costs the package's `__init__` alone: not even typing."""
    code = (
        "import sys\nbefore = set(sys.modules)\nimport records_toolkit\n"
        "assert records_toolkit.__version__\nprint(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "['__future__', 'records_toolkit']\n"  # (__future__: a few lines, for the annotations)


def test_version_imports_only_the_launcher(tmp_path: Path) -> None:
    done, modules = imports(["--version"], tmp_path)
    assert (done.returncode, done.stdout) == (0, f"toolkit {records_toolkit.__version__}\n")
    assert not heavy(modules, NOT_FOR_VERSION)
    ours = sorted(m for m in modules if m.startswith("records_toolkit"))
    assert ours == ["records_toolkit", "records_toolkit.launcher"]


@pytest.mark.parametrize("fmt", ["csv", "jsonld", "ics", "markdown"])
def test_an_export_reads_its_format_without_importlib_metadata(tmp_path: Path, fmt: str) -> None:
    """The formats' entry points are read from the distributions' files (importing
    importlib.metadata, with the modules it brings, took 40 to 50 ms of every export)."""
    done, modules = imports(["export", "-f", fmt, str(ROOT / "records"), "-o", str(tmp_path / "out")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not heavy(modules, {"importlib.metadata", "zipfile"})  # (email: jsonschema-rs imports email.utils)


def test_validating_one_file_alone_imports_no_explainer(tmp_path: Path) -> None:
    record = tmp_path / "algeria.yaml"  # outside any collection: checked on its own
    shutil.copyfile(ROOT / "records" / "places" / "algeria.yaml", record)
    done, modules = imports(["validate", record.name], tmp_path)
    assert (done.returncode, done.stdout) == (0, "ok: 1 record in 1 file, no problems\n"), done.stderr
    assert not heavy(modules, NOT_FOR_VALIDATE | {"records_toolkit.output", "hashlib"})  # (no cache, no SARIF)


def test_validating_one_file_of_a_collection_imports_no_explainer(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "records", tmp_path / "records")  # kayseri refers to turkey and cites an article
    done, modules = imports(["validate", "records/places/kayseri.yaml"], tmp_path)
    assert (done.returncode, done.stdout) == (0, "ok: 1 record in 1 file, no problems\n"), done.stderr
    assert not heavy(modules, NOT_FOR_VALIDATE)


def test_validating_one_plain_file_alone_imports_nothing_for_text_it_lacks(tmp_path: Path) -> None:
    """`--no-collection FILE` (issue 11): unicodedata only for a text that is not ASCII, and the
    patterns of the fast YAML path that only some texts need are not compiled."""
    record = tmp_path / "algeria.yaml"
    shutil.copyfile(ROOT / "records" / "places" / "algeria.yaml", record)
    assert record.read_bytes().isascii()
    code = (
        "import re, sys\n"
        "compiled = []\n"
        "real = re._compile\n"
        "def noted(pattern, flags):\n"
        "    compiled.append(pattern)\n"
        "    return real(pattern, flags)\n"
        "re._compile = noted\n"
        "import atexit\n"
        "from records_toolkit import fast_yaml\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules if m == 'unicodedata'),"
        " [p for p in compiled if p in (fast_yaml._FLOW, fast_yaml._QUOTED_LINE, fast_yaml._PREFIX)]))\n"
        "sys.argv = ['toolkit', 'validate', '--no-collection', 'algeria.yaml']\n"
        "from records_toolkit.launcher import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "ok: 1 record in 1 file, no problems\n[] []\n"), done.stderr


@pytest.mark.parametrize(
    ("record", "exit_code"),
    [
        ("places/iran.yaml", 0),  # valid
        ("events/aliyev-anadolu-agency-interview-2021.yaml", 1),  # dates; references and quotes that dangle alone
    ],
)
def test_validating_one_file_alone_makes_no_dataclass(tmp_path: Path, record: str, exit_code: int) -> None:
    """`--no-collection FILE` (issue 11): importing dataclasses (and inspect with it) and making the
    classes cost a tenth of the run; its values (problems, documents, dates, the scope) are plain
    classes. Looked at when the process ends, problems reported and placed included."""
    shutil.copyfile(ROOT / "records" / record, tmp_path / "record.yaml")
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted(m for m in ('dataclasses', 'inspect') if m in sys.modules)))\n"
        "sys.argv = ['toolkit', 'validate', '--no-collection', 'record.yaml']\n"
        "from records_toolkit.launcher import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == exit_code, done.stderr
    assert done.stdout.endswith("\n[]\n"), done.stdout
    if exit_code:
        assert "dangling-reference" in done.stdout  # (problems were made, and placed at their lines)
    run, modules = imports(["validate", "--no-collection", "record.yaml"], tmp_path)  # (the console script's exit)
    assert run.returncode == exit_code, run.stderr
    assert not heavy(modules, {"dataclasses", "inspect"})


@pytest.mark.parametrize("registered", [False, True])
def test_a_one_file_run_ends_as_the_ordinary_exit_does(tmp_path: Path, registered: bool) -> None:
    """The launcher ends a run over named files without the interpreter's clean-up only when nothing
    is left for it: what is registered with atexit still runs, and output and exit code are the same."""
    (tmp_path / "x.yaml").write_text("id: x\ntype: plaec\n", encoding="utf-8")  # exit 1, on stdout
    code = (
        "import atexit, sys\n"
        + ("atexit.register(lambda: sys.stderr.write('atexit ran\\n'))\n" if registered else "")
        + "sys.argv = ['toolkit', 'validate', '--no-collection', 'x.yaml']\n"
        "from records_toolkit.launcher import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    clicks = subprocess.run(
        [*CLI, "validate", "--no-collection", "x.yaml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert (done.returncode, done.stdout) == (clicks.returncode, clicks.stdout) == (1, clicks.stdout)
    assert "unknown-type" in done.stdout
    assert done.stderr == clicks.stderr + ("atexit ran\n" if registered else "")


def test_a_one_file_run_into_a_closed_pipe_says_what_click_says(tmp_path: Path) -> None:
    """stdout closed before the report is written: the same exit code and messages as through click."""
    shutil.copyfile(ROOT / "records" / "places" / "algeria.yaml", tmp_path / "algeria.yaml")
    results = []
    for command in ([str(TOOLKIT)], CLI):
        read, write = os.pipe()
        os.close(read)
        try:
            done = subprocess.run(
                [*command, "validate", "--no-collection", "algeria.yaml"],
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
            )
        finally:
            os.close(write)
        results.append((done.returncode, done.stderr))
    assert results[0] == results[1]


def test_fragment_refs_resolve_as_urljoin_resolves_them() -> None:
    """SchemaSet.lookup joins a ``#...`` ref to its base without urljoin: the same URI for any base."""
    import urllib.parse

    from records_toolkit.schema_files import SchemaSet

    schemas = SchemaSet(ROOT / "schemas", check=False)
    defs = "https://records-toolkit.example/schemas/defs.schema.json"
    assert schemas.lookup("#/$defs/slug", defs) == (schemas.documents["defs"]["$defs"]["slug"], defs)
    assert schemas.lookup("#", defs) == (schemas.documents["defs"], defs)
    bases = [
        "https://records-toolkit.example/schemas/other.schema.json",
        "https://x.example/a/b?q=1",
        "https://x.example/a/b?",
        "https://x.example",
        "https://x.example/a;p?q#frag",
        "HTTP://X.example//a/../b",
        "urn:example:defs",
        "tag:x,2020:y",
        "file:///tmp/x.json",
        "relative/path.json",
        "",
    ]
    for base in bases:  # none is a schema's $id: the error names the URI the ref was joined to
        for ref in ("#/$defs/x", "#anchor", "#/a/b?c#d", "#/", "#%25", "#"):
            with pytest.raises(LookupError) as raised:
                schemas.lookup(ref, base)
            assert str(raised.value) == urllib.parse.urljoin(base, ref), (base, ref)


def test_validate_through_click_imports_no_dask(tmp_path: Path) -> None:
    """click's `validate` (an option the launcher leaves to it), with the --scheduler option: no Dask unless used."""
    shutil.copytree(ROOT / "records", tmp_path / "records")
    env = {k: v for k, v in os.environ.items() if k != "RECORDS_TOOLKIT_SCHEDULER"}
    done, modules = imports(["validate", "--collection", "records", "records/places/kayseri.yaml"], tmp_path, env)
    assert (done.returncode, done.stdout) == (0, "ok: 1 record in 1 file, no problems\n"), done.stderr
    assert "click" in modules
    assert not heavy(modules, {"dask", "distributed", "tornado", "cloudpickle"})


def interrupted_at(module: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script run with ``args``, Ctrl-C arriving as it imports ``module``."""
    script = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        f"    if name == {module!r}:\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
        f"sys.argv = ['toolkit', *{args!r}]\n"
        "from records_toolkit.launcher import run\n"
        "run()\n"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_ctrl_c_while_the_command_line_loads_is_a_clean_130(tmp_path: Path) -> None:
    """Ctrl-C in the first tens of milliseconds (click and the rest still importing): no traceback."""
    done = interrupted_at("click", ["fmt", "--check"], tmp_path)
    assert (done.returncode, done.stderr) == (130, "interrupted\n")


def test_ctrl_c_while_validate_starts_without_click_is_a_clean_130() -> None:
    """The launcher's own `validate` (no click): Ctrl-C as the validator loads, the command's message."""
    done = interrupted_at("jsonschema_rs", ["validate", "--no-collection", "records/places/algeria.yaml"], ROOT)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "interrupted: nothing was changed\n")


def test_a_file_the_fast_path_does_not_take_imports_pyyaml_then(tmp_path: Path) -> None:
    """PyYAML is imported when a file needs the strict loader, and the result is the same."""
    text = (ROOT / "records" / "places" / "algeria.yaml").read_text(encoding="utf-8")
    flow = text.replace('supports:\n      - "name"\n      - "kind"\n', 'supports: ["name", "kind"]\n')
    assert flow != text
    (tmp_path / "algeria.yaml").write_text(flow, encoding="utf-8")  # a flow list: the strict loader's
    done, modules = imports(["validate", "--no-collection", "algeria.yaml"], tmp_path)
    assert (done.returncode, done.stdout) == (0, "ok: 1 record in 1 file, no problems\n"), done.stderr
    assert "yaml" in modules
    assert not heavy(modules, NOT_FOR_VALIDATE - {"yaml"})


def test_a_run_the_cache_answers_imports_neither_yaml_nor_the_validators(tmp_path: Path) -> None:
    """`toolkit validate FILE` in a collection whose result cache holds every file: no parser, no
    jsonschema-rs (with email and decimal), no schema check against the metaschema."""
    shutil.copytree(ROOT / "records", tmp_path / "records", ignore=shutil.ignore_patterns(".records-toolkit-cache"))
    env = {k: v for k, v in os.environ.items() if k != "RECORDS_TOOLKIT_NO_CACHE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "user-cache")  # (the cache's signing key)
    time.sleep(2.1)  # files changed in the last 2 s are not cached (cache.RACY_NS)
    args = ["validate", "records/places/kayseri.yaml"]
    first, modules = imports(args, tmp_path, env)
    assert (first.returncode, first.stdout) == (0, "ok: 1 record in 1 file, no problems\n"), first.stderr
    assert "jsonschema_rs" in modules  # (the first run fills the cache)
    done, modules = imports(args, tmp_path, env)
    assert (done.returncode, done.stdout) == (first.returncode, first.stdout)
    assert not heavy(modules, NOT_FOR_A_CACHED_RUN)


def test_a_cached_run_with_broken_schemas_still_exits_3(tmp_path: Path) -> None:
    """The schemas' check against the metaschema waits for a record to validate; a run that meets
    none (here: the named file is not YAML) checks them at its end, cache or not."""
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    place = schemas / "place.schema.json"
    place.write_text(place.read_text(encoding="utf-8").replace('"type": "object"', '"type": 5', 1), encoding="utf-8")
    shutil.copytree(ROOT / "records", tmp_path / "records", ignore=shutil.ignore_patterns(".records-toolkit-cache"))
    (tmp_path / "records" / "places" / "broken.yaml").write_text("a: [\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "RECORDS_TOOLKIT_NO_CACHE"}
    env |= {"XDG_CACHE_HOME": str(tmp_path / "user-cache"), "TOOLKIT_SCHEMAS": str(schemas)}
    time.sleep(2.1)
    for args in (["records/places/kayseri.yaml"], ["records/places/broken.yaml"], ["records/places/broken.yaml"]):
        for cache in ([], ["--no-cache"]):
            for command in ([str(TOOLKIT)], ["-m", "records_toolkit"]):
                done = subprocess.run(
                    [sys.executable, *command, "validate", *cache, *args],
                    capture_output=True,
                    text=True,
                    cwd=tmp_path,
                    env=env,
                )
                assert done.returncode == 3, (command, cache, args, done.stdout, done.stderr)
                assert "place.schema.json: not a valid draft 2020-12 schema" in done.stderr


# -- the launcher's `validate` and click's: the same for every argument list the launcher takes


CLI = [sys.executable, "-c", "from records_toolkit.cli import run; run()"]  # (always through click)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "records/places/kayseri.yaml"],
        ["validate", "records/events/efes-2022.yaml", "records/places/kayseri.yaml"],
        ["validate", "--no-collection", "records/events/efes-2022.yaml"],
        ["validate", "-q", "--no-collection", "records/events/efes-2022.yaml"],
        ["validate", "--quiet", "records/places/kayseri.yaml"],
        ["validate", "--output-format", "json", "--no-collection", "records/events/efes-2022.yaml"],
        ["validate", "--output-format=github", "--no-collection", "records/events/efes-2022.yaml"],
        ["validate", "--no-collection", "--output-format", "sarif", "records/places/algeria.yaml"],
        ["validate", "--output-format", "text", "records/places/missing.yaml"],
        ["validate", "--output-format", "json", "records/places/missing.yaml"],
        ["validate", "--max-file-size", "10", "--no-collection", "records/places/algeria.yaml"],
        ["validate", "--max-file-size=0010", "-j", "1", "records/places/algeria.yaml"],
        ["validate", "--jobs=2", "--no-cache", "records/places"],
        ["validate", "--", "records/places/algeria.yaml"],
        ["validate", "--no-collection", "--", "-q"],
        ["validate", "--no-collection", "outside.yaml"],
        ["validate", "--no-collection", "--output-format", "json", "outside.yaml", "records/places/algeria.yaml"],
        ["validate", "-q", "--no-collection", "outside.yaml"],
        ["validate", "/nowhere/kayseri.yaml"],
        ["validate", "records/places/kayseri.yaml", "outside.yaml"],
        ["validate", "records/places/kayseri.yaml", "--no-cache", "--no-collection"],
        ["validate"],
        ["validate", "--output-format", "json"],
        # left to click: the same, whatever click says
        ["validate", "--output-format", "yaml", "records"],
        ["validate", "--output-format", "csv", "records"],
        ["validate", "--output-format"],
        ["validate", "--jobs", "0", "records"],
        ["validate", "-j2", "records"],
        ["validate", "-qj", "1", "records"],
        ["validate", "--quiet=yes", "records"],
        ["validate", "--format", "csv", "records"],
        ["validate", "--collection", "records", "records/places/kayseri.yaml"],
        ["validate", "--collection", "records", "--no-collection", "x.yaml"],
        ["validate", "--scheduler", "no address", "records"],
        ["validate", "--no-such-option"],
        ["validate", "-"],
        ["validate", "--help"],
    ],
)
def test_the_launchers_validate_is_clicks(tmp_path: Path, args: list[str]) -> None:
    """Output, messages and exit code of `toolkit validate` are what the click command gives."""
    shutil.copytree(ROOT / "records", tmp_path / "records", ignore=shutil.ignore_patterns(".records-toolkit-cache"))
    (tmp_path / "outside.yaml").write_text("id: x\n", encoding="utf-8")
    ours = subprocess.run([str(TOOLKIT), *args], capture_output=True, text=True, cwd=tmp_path)
    clicks = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=tmp_path)
    assert (ours.returncode, ours.stdout, ours.stderr) == (clicks.returncode, clicks.stdout, clicks.stderr)


@pytest.mark.parametrize(
    ("variable", "taken"),
    [(None, False), ("", False), ("1", True), (" TRUE ", True), ("off", False), ("n", False), ("2", None)],
)
def test_the_no_cache_variable_is_read_as_click_reads_it(
    monkeypatch: pytest.MonkeyPatch, variable: str | None, taken: bool | None
) -> None:
    if variable is None:
        monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE", raising=False)
    else:
        monkeypatch.setenv("RECORDS_TOOLKIT_NO_CACHE", variable)
    options = launcher.validate_options(["records"])
    assert (None if options is None else options["no_cache"]) == taken


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"paths": []}),
        (["a.yaml", "-q", "b.yaml"], {"paths": ["a.yaml", "b.yaml"], "quiet": True}),
        (["--output-format", "json", "--output-format=sarif"], {"output_format": "sarif"}),
        (["-j", "3", "--max-file-size=007"], {"jobs": 3, "max_bytes": 7}),
        (["--", "--no-cache", "-"], {"paths": ["--no-cache", "-"]}),
        (["--no-collection", "--no-cache", "x"], {"no_collection": True, "no_cache": True, "paths": ["x"]}),
    ],
)
def test_the_launcher_reads_the_plain_forms(
    monkeypatch: pytest.MonkeyPatch, args: list[str], expected: dict[str, object]
) -> None:
    monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE", raising=False)
    defaults = {"paths": [], "output_format": "text", "quiet": False, "max_bytes": 16 * 1024 * 1024}
    defaults |= {"jobs": None, "no_collection": False, "no_cache": False}
    assert launcher.validate_options(args) == defaults | expected


@pytest.mark.parametrize(
    "args",
    [
        ["-h"],
        ["--help"],
        ["-"],
        ["-qq"],
        ["-j"],
        ["-j", "0"],
        ["-j", "+1"],
        ["--jobs", "١"],  # (a digit to str.isdigit, not to click)
        ["--max-file-size", " 5"],
        ["--output-format", "JSON"],
        ["--output-format="],
        ["--no-cache=1"],
        ["--collection", "records"],
        ["--collection=records"],
        ["--scheduler", "local"],
        ["--scheduler=tcp://127.0.0.1:8786"],
        ["-f", "csv"],
        ["--format=csv"],
    ],
)
def test_the_launcher_leaves_the_rest_to_click(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE", raising=False)
    assert launcher.validate_options(["x.yaml", *args]) is None


@pytest.mark.parametrize(("variable", "taken"), [(None, True), ("", True), ("local", False), ("tcp://h:8786", False)])
def test_the_scheduler_variable_leaves_the_run_to_click(
    monkeypatch: pytest.MonkeyPatch, variable: str | None, taken: bool
) -> None:
    """RECORDS_TOOLKIT_SCHEDULER set: click reads it (as --scheduler) and the run goes to the Dask cluster."""
    monkeypatch.delenv("RECORDS_TOOLKIT_NO_CACHE", raising=False)
    if variable is None:
        monkeypatch.delenv("RECORDS_TOOLKIT_SCHEDULER", raising=False)
    else:
        monkeypatch.setenv("RECORDS_TOOLKIT_SCHEDULER", variable)
    assert (launcher.validate_options(["records"]) is not None) == taken


def test_the_launchers_output_formats_are_the_renderers() -> None:
    from records_toolkit import cli, render

    assert cli.OUTPUT_FORMATS == launcher.OUTPUT_FORMATS == tuple(render.RENDERERS)


_AS_PIP_WRITES = """import sys
from records_toolkit.launcher import _called_last
if __name__ == '__main__':
    print(_called_last(sys._getframe(0)))
"""


@pytest.mark.parametrize(
    ("script", "how", "ends_at_once"),
    [
        (_AS_PIP_WRITES, [], True),
        (_AS_PIP_WRITES, ["-m", "cProfile", "-o", "{tmp}/prof.out"], False),
        (_AS_PIP_WRITES, ["-m", "trace", "--count", "--missing", "-C", "{tmp}"], False),
        (
            _AS_PIP_WRITES.replace("    print(", "    try:\n        print(").replace(
                "0)))\n", "0)))\n    finally:\n        pass\n"
            ),
            [],
            False,
        ),
        (_AS_PIP_WRITES, ["-i"], False),
    ],
    ids=["console script", "under cProfile", "under trace", "inside try-finally", "python -i"],
)
def test_a_one_file_run_ends_at_once_only_when_nothing_comes_after_it(
    tmp_path: Path, script: str, how: list[str], ends_at_once: bool
) -> None:
    """``os._exit`` (no interpreter clean-up) only for the console script run as it is: a profiler
    writes its file at exit, a wrapper's ``finally`` runs."""
    path = tmp_path / "toolkit-like"
    path.write_text(script, encoding="utf-8")
    command = [sys.executable, *(part.replace("{tmp}", str(tmp_path)) for part in how), str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(ends_at_once)


def test_a_profiled_one_file_run_writes_its_profile(tmp_path: Path) -> None:
    record = tmp_path / "iran.yaml"
    shutil.copy(ROOT / "records" / "places" / "iran.yaml", record)
    profile = tmp_path / "prof.out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(profile),
            str(TOOLKIT),
            "validate",
            "--no-collection",
            str(record),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("ok: 1 record"), done.stderr
    assert profile.stat().st_size > 0


_CTRL_C_WHILE_LOADING = """
import sys

class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == "records_toolkit.errors":
            raise KeyboardInterrupt  # as a Ctrl-C that lands while the checks load
        return None

sys.meta_path.insert(0, Interrupting())
sys.argv = ["toolkit", "validate", "--no-collection", sys.argv[1]]
from records_toolkit.launcher import run
run()
"""


def test_ctrl_c_while_the_checks_load_is_an_interrupt_not_a_traceback(tmp_path: Path) -> None:
    record = tmp_path / "iran.yaml"
    shutil.copy(ROOT / "records" / "places" / "iran.yaml", record)
    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C_WHILE_LOADING, str(record)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (130, "interrupted: nothing was changed\n")


def test_python_m_of_the_cli_module_runs_the_command(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text('id: "x"\ntype: "place"\nname: [unclosed\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "records_toolkit.cli", "validate", "--no-collection", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "[yaml-syntax]" in done.stdout, (done.stdout, done.stderr)


# A console script as pip writes it, with two witnesses: a function registered with atexit (run
# by the interpreter's exit first: it must run however the process ends) and an object whose
# __del__ runs only in the interpreter's clean-up of the script's module (skipped by os._exit).
_WITNESSED = """import atexit, sys
from pathlib import Path
MARKS = Path(sys.argv.pop(1))
atexit.register(lambda: MARKS.with_suffix(".atexit").write_text("ran"))
class CleanUp:
    def __del__(self):
        MARKS.with_suffix(".cleanup").write_text("ran")
witness = CleanUp()
from records_toolkit.launcher import run
if __name__ == '__main__':
    sys.exit(run())
"""


@pytest.mark.parametrize(
    ("args", "code", "written"),
    [
        (["validate", "--no-cache", "{records}"], 0, None),
        (["validate", "--no-cache", "{records}/places/iran.yaml", "{tmp}/missing.yaml"], 1, None),
        (["validate", "--no-cache", "--collection", "{records}", "{records}/places/iran.yaml"], 0, None),
        (["export", "--no-cache", "-f", "jsonld", "{records}", "-o", "{tmp}/out.jsonld"], 0, "out.jsonld"),
        (["export", "--no-cache", "-f", "csv", "{records}", "-o", "{tmp}/tables"], 0, "tables/places.csv"),
        (["export", "-f", "nope", "{records}", "-o", "{tmp}/never"], 2, None),
    ],
    ids=[
        "validate tree (launcher)",
        "validate with a problem",
        "validate through click",
        "export",
        "export tables",
        "usage error",
    ],
)
def test_a_whole_run_ends_without_the_clean_up_but_after_atexit(
    tmp_path: Path, args: list[str], code: int, written: str | None
) -> None:
    """Every command run by the console script ends in os._exit once its output is out (issue 11:
    ~20 ms of each 10k-file run was the interpreter freeing its objects): the atexit functions
    (the worker pool's finalizers, a profiler's file) still run, the exit code and output are the
    same, and whatever the command wrote is complete."""
    records = tmp_path / "records"
    shutil.copytree(ROOT / "records", records)
    script = tmp_path / "toolkit-witnessed"
    script.write_text(_WITNESSED, encoding="utf-8")
    given = [a.replace("{records}", str(records)).replace("{tmp}", str(tmp_path)) for a in args]
    marks = tmp_path / "marks.txt"
    done = subprocess.run(
        [sys.executable, str(script), str(marks), *given], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == code, done.stderr
    assert (tmp_path / "marks.atexit").read_text() == "ran"
    assert not (tmp_path / "marks.cleanup").exists()  # (the interpreter's clean-up did not run)
    plain = subprocess.run([str(TOOLKIT), *given], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert (plain.returncode, plain.stdout) == (done.returncode, done.stdout)
    if written is not None:
        assert "wrote" in done.stderr
        target = tmp_path / written
        assert target.stat().st_size > 0
        if target.suffix == ".jsonld":
            import json

            assert json.loads(target.read_text(encoding="utf-8"))["@graph"]


def test_a_run_inside_a_wrapper_keeps_the_clean_up(tmp_path: Path) -> None:
    """Under ``try``/``finally`` (code after the run), the ordinary exit: the clean-up runs."""
    script = tmp_path / "toolkit-wrapped"
    script.write_text(
        _WITNESSED.replace("    sys.exit(run())", "    try:\n        sys.exit(run())\n    finally:\n        pass"),
        encoding="utf-8",
    )
    marks = tmp_path / "marks.txt"
    done = subprocess.run(
        [sys.executable, str(script), str(marks), "validate", "--no-cache", str(ROOT / "records")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "marks.atexit").read_text() == "ran"
    assert (tmp_path / "marks.cleanup").read_text() == "ran"


_KEEPS_FILES_OPEN = """
import os, tempfile
from records_toolkit.plugins import Exported
AUDIT = open(os.environ["TINY_AUDIT"], "a", encoding="utf-8")  # (never flushed by the format itself)
SCRATCH = tempfile.NamedTemporaryFile(prefix="tiny-scratch-", dir=os.environ["TINY_SCRATCH"])

class TinyFormat:
    name = "tiny"
    suffix = ".txt"
    media_type = "text/plain"
    summary = "ids, one a line"
    directory = False
    options = ()

    def export(self, records, context):
        AUDIT.write(f"exported {len(records)} records\\n")
        return Exported(files={"ids.txt": "".join(r["id"] + "\\n" for r in records).encode()})
"""


def test_a_format_of_another_package_ends_through_the_interpreters_clean_up(tmp_path: Path) -> None:
    """A plugin may leave what it opened to the interpreter's clean-up (a log it never flushes, a
    temporary file its finalizer removes): after loading one, the console script ends as Python
    ends, not in os._exit (helper-79 found the log empty and the temporary file left)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "tinyopen.py").write_text(_KEEPS_FILES_OPEN, encoding="utf-8")
    info = site / "tinyopen-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyopen\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[records_toolkit.formats]\ntiny = tinyopen:TinyFormat\n", encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "TINY_AUDIT": str(tmp_path / "audit.log")}
    env["TINY_SCRATCH"] = str(scratch)
    done = subprocess.run(
        [str(TOOLKIT), "export", "--no-cache", "-f", "tiny", str(ROOT / "records"), "-o", str(tmp_path / "ids.txt")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "audit.log").read_text(encoding="utf-8") == "exported 44 records\n"
    assert list(scratch.iterdir()) == []
    assert len((tmp_path / "ids.txt").read_text(encoding="utf-8").splitlines()) == 44


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_the_version_into_a_full_or_closed_output_is_what_other_commands_do() -> None:
    """Into /dev/full: said once on stderr, exit 3, as ``toolkit codes`` (it printed "Exception
    ignored" and exited 120); with stdout closed: nothing and exit 0, as every command through
    click (it was an AttributeError traceback)."""
    with open("/dev/full", "wb") as full:
        done = subprocess.run([str(TOOLKIT), "--version"], stdout=full, stderr=subprocess.PIPE, text=True, check=False)
        codes = subprocess.run([str(TOOLKIT), "codes"], stdout=full, stderr=subprocess.PIPE, text=True, check=False)
    assert (done.returncode, done.stderr) == (3, "toolkit: cannot write the output: No space left on device\n")
    assert (codes.returncode, codes.stderr) == (done.returncode, done.stderr)
    closed = [
        subprocess.run(["sh", "-c", f'exec "$0" {args} >&-', str(TOOLKIT)], capture_output=True, text=True, check=False)
        for args in ("--version", "formats")
    ]
    assert [(run.returncode, run.stderr) for run in closed] == [(0, "")] * 2


@pytest.mark.parametrize("through", ["launcher", "click"])
def test_a_report_into_a_non_blocking_pipe_arrives_whole(tmp_path: Path, through: str) -> None:
    """A parent may leave the pipe it reads non-blocking (O_NONBLOCK): the report is written as into
    any pipe, waiting while it is full (it stopped at 64 KiB with exit 3, where exports waited)."""
    import fcntl
    import json

    for number in range(400):
        (tmp_path / f"e{number}.yaml").write_text(f"id: e{number}\ntype: event\nname: x\n", encoding="utf-8")
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETFL, fcntl.fcntl(write_end, fcntl.F_GETFL) | os.O_NONBLOCK)
    args = [str(TOOLKIT), "validate", "--no-cache", "--output-format", "json", str(tmp_path)]
    if through == "click":
        args.insert(2, "--collection=" + str(tmp_path))  # (an option the launcher leaves to click)
    process = subprocess.Popen(args, stdout=write_end, stderr=subprocess.PIPE, cwd=tmp_path)
    os.close(write_end)
    time.sleep(0.5)  # (the pipe fills before anything is read)
    received = bytearray()
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(4096):
            received += chunk
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 1, errors
    assert len(received) > 65536
    problems = json.loads(received)
    assert len({problem["file"] for problem in problems}) == 400
