"""`make bench`: speed and peak memory of the toolkit against its peers, side by side, in one run.

The corpus is the shipped records copied until it holds the number of records asked for (ids
made unique, one record per file). Every tool reads the same files; the measurements are taken
in interleaved rounds (A B C, A B C, ...) so that a busy machine slows each of them alike, and
reported as medians and ratios, never as absolute thresholds. The results go to the terminal and
to ``bench/RESULTS.md`` with the date, the machine's cores and its load.

Measured:
- ``toolkit validate`` with one process and with the default pool (``--jobs``), no cache;
- the same with the result cache: filling it (cold), then after one file changed (warm);
- check-jsonschema on the same files with the schemas bundled into one file (it would otherwise
  fetch ``$ref`` s over the network); it skips the ``edtf`` format and every collection rule;
- a plain script: libyaml (PyYAML's C loader) + jsonschema-rs, schema checks only, the lower
  bound of a careful hand-written validator;
- start-up: ``python -c pass``, ``toolkit --version``, ``toolkit validate`` of one file;
- each export (csv, jsonld, ics, markdown) of the whole corpus, against the validate time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from corpus import make  # noqa: E402

MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter(); done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)\n"
)

PLAIN = r"""
import json, sys, yaml, jsonschema_rs
schema = json.load(open(sys.argv[1]))
validator = jsonschema_rs.validator_for(schema)
bad = 0
for path in open(sys.argv[2]).read().split("\n"):
    if path:
        with open(path, "rb") as stream:
            for doc in yaml.load_all(stream, Loader=yaml.CSafeLoader):
                bad += not validator.is_valid(doc)
print(bad)
"""


def bundle(schemas: Path) -> dict:
    """One self-contained schema: every file becomes a local `$defs` entry, `$ref`s rewritten."""
    docs = {p.name: json.loads(p.read_text()) for p in schemas.glob("*.schema.json")}

    def rewrite(node: object) -> object:
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items() if k not in ("$id", "$schema")}
            ref = out.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                name, _, fragment = ref.partition("#")
                shared = name == "defs.schema.json"
                out["$ref"] = "#/$defs" + fragment.removeprefix("/$defs") if shared else f"#/$defs/{name}"
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    root = rewrite(docs.pop("record.schema.json"))
    defs = rewrite(docs.pop("defs.schema.json"))["$defs"]  # type: ignore[index]
    for name, doc in docs.items():
        defs[name] = rewrite(doc)
    root["$defs"] = defs  # type: ignore[index]
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"  # type: ignore[index]
    return root  # type: ignore[return-value]


def once(command: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one run, measured from a fresh process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True, cwd=cwd)
    seconds, rss, code = out.stdout.split()
    return float(seconds), int(rss) / 1024, int(code)


def load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000, help="records in the corpus (one per file)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians of these)")
    parser.add_argument("--peer-repeat", type=int, default=1, help="rounds for check-jsonschema (slow)")
    parser.add_argument("--startup-repeat", type=int, default=15)
    parser.add_argument("--no-exports", action="store_true")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()

    work = HERE / ".work"
    shutil.rmtree(work, ignore_errors=True)
    corpus = work / "corpus"
    shipped = len(list((ROOT / "records").rglob("*.yaml")))
    count = make(corpus, -(-args.records // shipped))
    (work / "records-toolkit.toml").write_text('[collection]\npath = "corpus"\nlayout = "any"\n', encoding="utf-8")
    size = sum(p.stat().st_size for p in corpus.rglob("*.yaml"))
    (work / "record.bundle.json").write_text(json.dumps(bundle(ROOT / "schemas")))
    files = sorted(str(p) for p in corpus.rglob("*.yaml"))
    (work / "files.txt").write_text("\n".join(files))
    one = work / "one.yaml"
    shutil.copy(files[0], one)
    bin_dir = Path(sys.executable).parent
    toolkit = str(bin_dir / "toolkit")
    env_note = f"{os.cpu_count()} cores, load {load()} at the start"
    print(f"corpus: {count:,} records in {count:,} files, {size / 2**20:.1f} MiB; {env_note}")
    time.sleep(2.1)  # the cache does not keep files changed in the last two seconds

    contenders = {
        "toolkit validate --jobs 1": [toolkit, "validate", "--no-cache", "--jobs", "1", "corpus"],
        "toolkit validate (pool)": [toolkit, "validate", "--no-cache", "corpus"],
        "plain libyaml + jsonschema-rs": [
            sys.executable,
            "-c",
            PLAIN,
            str(work / "record.bundle.json"),
            str(work / "files.txt"),
        ],
    }
    rows: dict[str, list[tuple[float, float, int]]] = {name: [] for name in contenders}
    rows["toolkit validate, cache cold"] = []
    rows["toolkit validate, cache warm (1 file changed)"] = []
    for round_ in range(args.repeat):
        for name, command in contenders.items():
            rows[name].append(once(command, work))
        shutil.rmtree(corpus / ".records-toolkit-cache", ignore_errors=True)
        rows["toolkit validate, cache cold"].append(once([toolkit, "validate", "corpus"], work))
        changed = Path(files[round_ % len(files)])
        changed.write_text(changed.read_text(encoding="utf-8") + f"# round {round_}\n", encoding="utf-8")
        rows["toolkit validate, cache warm (1 file changed)"].append(once([toolkit, "validate", "corpus"], work))
        print(f"round {round_ + 1}/{args.repeat} done, load {load()}")

    peer = bin_dir / "check-jsonschema"
    if peer.exists():
        command = [str(peer), "--schemafile", str(work / "record.bundle.json"), *files]
        rows["check-jsonschema (bundled schema)"] = [once(command, work) for _ in range(args.peer_repeat)]
    else:
        print("check-jsonschema: not installed (make bench installs it)")

    startup = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "toolkit --version": [toolkit, "--version"],
        "toolkit validate ONE_FILE": [toolkit, "validate", "--no-collection", str(one)],
    }
    started: dict[str, list[float]] = {name: [] for name in startup}
    for _ in range(args.startup_repeat):
        for name, command in startup.items():
            started[name].append(once(command, work)[0])

    exports: dict[str, list[tuple[float, float, int]]] = {}
    if not args.no_exports:
        for fmt, target in (("csv", "out-csv"), ("jsonld", "out.jsonld"), ("ics", "out.ics"), ("markdown", "out.md")):
            exports[f"toolkit export -f {fmt}"] = [once([toolkit, "export", "-f", fmt, "corpus", "-o", target], work)]

    lines = report(count, size, env_note, rows, started, exports, args)
    print("\n".join(lines))
    args.results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {args.results}")
    shutil.rmtree(work, ignore_errors=True)


def report(count, size, env_note, rows, started, exports, args) -> list[str]:  # type: ignore[no-untyped-def]
    today = datetime.date.today().isoformat()
    lines = [
        "# Benchmark results",
        "",
        f"{today}, {platform.machine()}, Python {platform.python_version()}, {env_note}, load {load()} at the end.",
        f"Corpus: {count:,} records in {count:,} files ({size / 2**20:.1f} MiB), the shipped records copied.",
        f"Medians of {args.repeat} interleaved rounds (check-jsonschema: {args.peer_repeat}); peak = largest RSS.",
        "",
        "| validate | median s | records/s | peak MiB | exit | vs toolkit (pool) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = statistics.median(r[0] for r in rows["toolkit validate (pool)"])
    for name, runs in rows.items():
        if not runs:
            continue
        seconds = statistics.median(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        lines.append(
            f"| {name} | {seconds:.2f} | {count / seconds:,.0f} | {peak:.0f} | {runs[0][2]} | {seconds / base:.2f}x the time |"
        )
    lines += ["", "| start-up | median s | vs python -c pass |", "|---|---:|---:|"]
    python = statistics.median(started["python -c pass"])
    for name, runs in started.items():
        lines.append(f"| {name} | {statistics.median(runs):.3f} | {statistics.median(runs) / python:.1f}x |")
    if exports:
        lines += ["", "| export (one run each) | s | peak MiB | vs validate (pool) |", "|---|---:|---:|---:|"]
        for name, runs in exports.items():
            seconds, peak, _code = runs[0]
            lines.append(f"| {name} | {seconds:.2f} | {peak:.0f} | {seconds / base:.2f}x |")
    return lines


if __name__ == "__main__":
    main()
