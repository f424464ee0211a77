"""The built wheel on its own: installed into a fresh venv, run from elsewhere, with no network.

Nothing comes from the package registry: the wheel goes in with ``pip install --no-index --no-deps``, and its
runtime dependencies are copied from the distributions installed in the current environment into a separate
directory that the new venv sees through a ``.pth`` file. The current environment's own (editable)
``records_toolkit`` is never copied, so the new venv can only import the one from the wheel.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from helpers import SHIPPED
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = canonicalize_name("records-toolkit")

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, offline: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "TOOLKIT_SCHEMAS")}
    # pip never reaches for an index or a config file that could point at one
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    command = [str(a) for a in args]
    if offline and shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"]).returncode == 0:
        command = ["unshare", "-n", *command]  # a network namespace with no interfaces but loopback (down)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether a requirement applies to this interpreter when its distribution is wanted with these extras."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *sorted(extras)))


def runtime_distributions(requires_dist: list[str]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions (of this interpreter) that the requirements need, recursively, by name."""
    found: dict[str, importlib.metadata.Distribution] = {}
    wanted_extras: dict[str, frozenset[str]] = {}
    queue = [Requirement(r) for r in requires_dist]
    queue = [r for r in queue if applies(r, frozenset())]
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        assert name != PROJECT, "the wheel must not depend on itself"
        extras = wanted_extras.get(name, frozenset()) | frozenset(requirement.extras)
        if name in found and extras == wanted_extras[name]:
            continue
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"runtime dependency {requirement} is not installed in the current environment")
        assert requirement.specifier.contains(distribution.version, prereleases=True), (
            f"installed {requirement.name} {distribution.version} does not satisfy {requirement}"
        )
        found[name], wanted_extras[name] = distribution, extras
        queue += [r for r in map(Requirement, distribution.requires or []) if applies(r, extras)]
    return found


def copy_distribution(distribution: importlib.metadata.Distribution, target: Path) -> None:
    """Copy a distribution's files (its .dist-info included) under target, as they sit in site-packages."""
    name = distribution.metadata["Name"]
    assert distribution.files is not None, f"{name} has no RECORD: cannot tell its files"
    base = Path(distribution.locate_file("")).resolve()
    copied = 0
    for file in distribution.files:
        if ".." in file.parts:  # scripts in bin/ and the like, outside site-packages
            continue
        source = Path(distribution.locate_file(file))
        if not source.is_file():  # e.g. .pyc files listed but never written
            continue
        assert source.resolve().is_relative_to(base), source
        destination = target / file
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        copied += 1
    assert copied, f"no files copied for {name}"


def test_wheel_carries_schemas_and_formats_and_works_anywhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, ROOT, cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points_text = archive.read(entry_points).decode()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert {f"records_toolkit/schemas/{n}.schema.json" for n in ("defs", "event", "article", "record")} <= set(names)
    assert {
        "records_toolkit/exporters/ics.py",
        "records_toolkit/exporters/csv_.py",
        "records_toolkit/exporters/jsonld.py",
        "records_toolkit/exporters/markdown_.py",
    } <= set(names)
    assert "records_toolkit/py.typed" in names
    assert not [n for n in names if n.startswith("exporters/")], "the formats ship as records_toolkit.exporters only"
    assert "ics = records_toolkit.exporters.ics:IcsFormat" in entry_points_text

    # The wheel's runtime dependencies, from what this interpreter already has installed.
    dependencies = runtime_distributions(metadata.get_all("Requires-Dist") or [])
    assert {canonicalize_name(n) for n in ("click", "pyyaml", "jsonschema", "jsonschema-rs")} <= set(dependencies)
    assert PROJECT not in dependencies
    deps_dir = tmp_path / "deps"
    deps_dir.mkdir()
    for distribution in dependencies.values():
        copy_distribution(distribution, deps_dir)
    assert not (deps_dir / "records_toolkit").exists() and not list(deps_dir.glob("records_toolkit-*"))

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)  # ensurepip: the bundled pip, no network
    bin_dir = env_dir / "bin"
    python = bin_dir / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path, offline=True)
    assert purelib.returncode == 0, purelib.stderr
    site_packages = Path(purelib.stdout.strip())
    (site_packages / "_wheel_test_deps.pth").write_text(f"{deps_dir}\n")

    installed = run(
        python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheel, cwd=tmp_path, offline=True
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    checked = run(python, "-m", "pip", "check", cwd=tmp_path, offline=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "records", elsewhere / "records")

    # Only the wheel's records_toolkit is visible: not the editable one of the current environment.
    where = run(
        python,
        "-c",
        "import importlib.metadata as m, records_toolkit; "
        "print(records_toolkit.__file__); print(len(list(m.distributions(name='records-toolkit'))))",
        cwd=elsewhere,
        offline=True,
    )
    assert where.returncode == 0, where.stderr
    module_file, count = where.stdout.split()
    assert Path(module_file).is_relative_to(site_packages) and count == "1", where.stdout
    imported = run(python, "-c", "import exporters", cwd=elsewhere, offline=True)
    assert imported.returncode != 0 and "ModuleNotFoundError: No module named 'exporters'" in imported.stderr, (
        imported.stdout + imported.stderr
    )
    imported = run(python, "-c", "import records_toolkit.exporters.ics", cwd=elsewhere, offline=True)
    assert imported.returncode == 0, imported.stderr

    toolkit = bin_dir / "toolkit"
    done = run(toolkit, "validate", cwd=elsewhere, offline=True)
    assert (done.returncode, done.stdout) == (0, f"ok: {SHIPPED} records in {SHIPPED} files, no problems\n"), (
        done.stderr
    )
    done = run(toolkit, "formats", cwd=elsewhere, offline=True)
    assert done.returncode == 0 and [line.split()[0] for line in done.stdout.splitlines()[1:5]] == [
        "csv",
        "ics",
        "jsonld",
        "markdown",
    ]
    done = run(toolkit, "export", "--format", "ics", cwd=elsewhere, offline=True)
    assert done.returncode == 0 and done.stdout.startswith("BEGIN:VCALENDAR")
    assert done.stdout.encode() == (ROOT / "tests" / "golden" / "article.ics").read_bytes().replace(b"\r\n", b"\n")
