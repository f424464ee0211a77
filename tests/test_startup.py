"""Start-up stays light (issue 11): what `toolkit --version` and validating one file import.

No timings (timed unit tests are not kept here): the installed console script runs in a fresh
interpreter under ``-X importtime``, which names every module imported, the entry script's own
included, and the tests assert that the heavy ones stay out. A module-level import of one of them
(in the package, the CLI or anything they import) fails here with the module named.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import records_toolkit

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
# record that fails; importlib.metadata is for the formats (export, import) and `toolkit init`.
# (email and decimal are imported by jsonschema-rs itself, at its own import: not listed.)
NOT_FOR_VALIDATE = {
    "importlib.metadata",
    "jsonschema",
    "referencing",
    "rpds",
    "records_toolkit.plugins",
    "records_toolkit.exporters",
    "concurrent",  # the worker pool: only for large trees
    "multiprocessing",
}


def imports(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the console script; what it printed, and every module it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(TOOLKIT), *args], capture_output=True, text=True, cwd=cwd
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


def test_validating_one_file_alone_imports_no_explainer(tmp_path: Path) -> None:
    record = tmp_path / "algeria.yaml"  # outside any collection: checked on its own
    shutil.copyfile(ROOT / "records" / "places" / "algeria.yaml", record)
    done, modules = imports(["validate", record.name], tmp_path)
    assert (done.returncode, done.stdout) == (0, "ok: 1 record in 1 file, no problems\n"), done.stderr
    assert not heavy(modules, NOT_FOR_VALIDATE | {"records_toolkit.output"})


def test_validating_one_file_of_a_collection_imports_no_explainer(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "records", tmp_path / "records")  # kayseri refers to turkey and cites an article
    done, modules = imports(["validate", "records/places/kayseri.yaml"], tmp_path)
    assert (done.returncode, done.stdout) == (0, "ok: 1 record in 1 file, no problems\n"), done.stderr
    assert not heavy(modules, NOT_FOR_VALIDATE)


def test_ctrl_c_while_the_command_line_loads_is_a_clean_130() -> None:
    """Ctrl-C in the first tens of milliseconds (click and the rest still importing): no traceback."""
    script = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name == 'click':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
        "sys.argv = ['toolkit', 'validate']\n"
        "from records_toolkit.launcher import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (130, "interrupted\n")
