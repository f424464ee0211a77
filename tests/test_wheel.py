"""The built wheel on its own: installed into a fresh venv, run from elsewhere, with no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, offline: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "TOOLKIT_SCHEMAS")}
    command = [str(a) for a in args]
    if offline and shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"]).returncode == 0:
        command = ["unshare", "-n", *command]  # a network namespace with no interfaces but loopback (down)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_wheel_carries_schemas_and_formats_and_works_anywhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, ROOT, cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"records_toolkit/schemas/{n}.schema.json" for n in ("defs", "event", "article", "record")} <= set(names)
    assert {
        "records_toolkit/exporters/ics.py",
        "records_toolkit/exporters/csv_.py",
        "records_toolkit/exporters/jsonld.py",
        "records_toolkit/exporters/markdown_.py",
    } <= set(names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "ics = records_toolkit.exporters.ics:IcsFormat" in zipfile.ZipFile(wheel).read(entry_points).decode()

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    installed = run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]

    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "records", elsewhere / "records")
    toolkit = bin_dir / "toolkit"
    done = run(toolkit, "validate", cwd=elsewhere, offline=True)
    assert (done.returncode, done.stdout) == (0, "ok: 43 records in 43 files, no problems\n"), done.stderr
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
