"""`make bench`: speed and peak memory of the toolkit against its peers, side by side, in one run.

The corpus is the shipped records copied until it holds the number of records asked for (ids
made unique, one record per file, in type folders ``corpus/cNNNNN/<types>/``). Every tool reads
the same files; the measurements are taken in interleaved rounds (A B C, A B C, ...) so that a
busy machine slows each of them alike, and reported as medians and ratios, never as absolute
thresholds. The results go to the terminal and to ``bench/RESULTS.md`` with the date, the
machine's cores and its load.

Measured:
- ``toolkit validate`` with ``--jobs 1``, ``--jobs 2`` and the default pool, no cache;
- the same with the result cache: filling it (cold), then after one file changed (warm);
- a plain script: libyaml (PyYAML's C loader) + jsonschema-rs, schema checks only, the lower
  bound of a careful hand-written validator;
- check-jsonschema on the same files, twice: with the schemas bundled into one file, and once
  per record type with that type's schema file as a user would call it (``--base-uri`` points
  its ``$ref`` to ``defs.schema.json`` at the local file: no network). It skips the ``edtf``
  format (unknown to it) and every collection rule;
- linkml-validate from its own venv (``bench/.linkml-venv``, made by ``make bench``) with the
  LinkML version of the schemas (``bench/linkml/records.yaml``), once per record type (``-C
  Event``...). On a corpus above ``--linkml-sample`` files (default 10k) it runs on a sample of
  whole corpus copies and its time is extrapolated (start-up measured apart, the rest per file);
- the peers run in the first ``--peer-repeat`` rounds, after the toolkit; before any timing each
  peer must report the shipped records valid and a broken record invalid, else its row is skipped
  with the reason;
- start-up: ``python -c pass``, ``toolkit --version``, ``toolkit validate`` of one file (valid on its own, and
  one whose references dangle when it is checked alone: its problems placed at their lines);
- each export (csv, jsonld, ics, markdown) of the whole corpus, against the validate time (with
  ``--no-cache``; JSON-LD also with ``--jobs 1``, checked and written in one process; and a CSV
  export after a clean validate, which the result cache vouches for), in ``--export-repeat``
  interleaved rounds: each round a validate, then every export, each export's ratio to the
  validate of its own round (the median and the range of those ratios), and the ratio of their CPU
  seconds (every process's user and system time: the work an export adds, which a busy machine's
  load changes least);
- on Dask (when ``distributed`` is installed; ``--no-dask`` skips it): ``toolkit validate
  --scheduler`` against already-running local clusters of 1 and 2 worker processes, and with
  ``--scheduler local`` (the cluster started by the run), beside the local pool; ``toolkit
  export -f csv --parts 8`` locally and on the 2-worker cluster. From the 1- and 2-worker times
  (``T(w) = S + P/w``) the notes give the work per worker and the part that stays serial on the
  client (walk, merge, collection rules), and the scaling plan for 10^7 and 10^8 records. These
  rows come last, in rounds of their own, each beside a validate (pool): the clusters run only
  then, since idle ones take a share of the cores that slows a two-process pool and not a
  one-process peer;
- ``toolkit import`` of the corpus's JSON-LD export in 8 parts and of its CSV tables, each round
  into a new folder: time, peak memory and CPU seconds (much of the time is the file system's).

The toolkit's modules are compiled before anything is timed, as installing its wheel compiles
them (an editable install under ``PYTHONDONTWRITEBYTECODE=1`` would compile each module edited
since its last ``.pyc`` in every run timed). Long file lists are passed in batches (as ``xargs`` would): 100k paths exceed the kernel's limit
on one command line. Time is the sum of the batches; peak memory is the largest process's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import typing as t
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from corpus import make  # noqa: E402

Run = tuple[float, float, int, float, float]  # wall s, peak MiB, exit, CPU s (user + system), system s
"""Wall seconds, peak RSS of the largest process (MiB), first non-zero exit code, and CPU seconds
(user and system of the commands' processes, their workers included, not a running cluster's: what
a busy machine's load changes least)."""

# Runs the commands (a JSON list on stdin) one after the other; prints their total wall time, the
# largest RSS any of them reached (ru_maxrss of the children), the first non-zero exit code and the
# CPU seconds of the children (user + system; a command's workers are waited for, so counted).
MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "commands = json.load(sys.stdin); code = 0\n"
    "t = time.perf_counter()\n"
    "for command in commands:\n"
    "    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "    code = code or done.returncode\n"
    "used = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(time.perf_counter() - t, used.ru_maxrss, code, used.ru_utime + used.ru_stime, used.ru_stime)\n"
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

ARGV_BYTES = 512 * 1024  # file names per command line: well under ARG_MAX (2 MiB here, environment included)
TYPE_LINE = re.compile(r'^type: *"?([a-z]+)"?\s*$', re.M)
FOLDER_TYPES = {
    "articles": "article",
    "persons": "person",
    "organizations": "organization",
    "places": "place",
    "events": "event",
    "agreements": "agreement",
}


def bundle(schemas: Path) -> dict[str, object]:
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


def by_type(files: Sequence[str], cwd: Path) -> dict[str, list[str]]:
    """The files grouped by record type: each record's `type:`, else its folder's name."""
    groups: dict[str, list[str]] = {}
    for name in files:
        path = cwd / name
        found = TYPE_LINE.search(path.read_text(encoding="utf-8"))
        kind = found.group(1) if found else FOLDER_TYPES.get(path.parent.name, "unknown")
        groups.setdefault(kind, []).append(name)
    return dict(sorted(groups.items()))


def batched(prefix: list[str], files: Sequence[str]) -> list[list[str]]:
    """``prefix + files`` split into command lines the kernel accepts, as ``xargs`` would."""
    commands: list[list[str]] = []
    chunk: list[str] = []
    size = 0
    for name in files:
        if chunk and size + len(name) + 1 > ARGV_BYTES:
            commands.append(prefix + chunk)
            chunk, size = [], 0
        chunk.append(name)
        size += len(name) + 1
    if chunk:
        commands.append(prefix + chunk)
    return commands


def run(commands: Sequence[Sequence[str]], cwd: Path) -> Run:
    """Wall seconds, peak RSS (MiB), exit code and CPU seconds of commands run one after the other,
    from a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE],
        input=json.dumps([list(c) for c in commands]),
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    seconds, rss, code, cpu, system = out.stdout.split()
    return float(seconds), int(rss) / 1024, int(code), float(cpu), float(system)


def once(command: list[str], cwd: Path) -> Run:
    """One command, measured from a fresh process."""
    return run([command], cwd)


# A local Dask cluster of N worker processes, kept running until stdin closes; prints its address.
CLUSTER = r"""
import sys, distributed
cluster = distributed.LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=1, processes=True,
                                   dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"})
print(cluster.scheduler_address, flush=True)
sys.stdin.read()
cluster.close()
"""


def start_cluster(workers: int, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """A running local cluster (its workers in ``cwd``, as ``toolkit`` runs there) and its address."""
    process = subprocess.Popen(
        [sys.executable, "-c", CLUSTER, str(workers)],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def stop_cluster(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


# Runs one validation on a running cluster (argv: address, corpus) with Dask's task stream on; prints
# the wall time and the seconds the workers spent computing, in chunk tasks and in the others (merges).
PROFILE = r"""
import json, sys, time, distributed
from records_toolkit import api, validate
spent = {"walk": 0.0, "merge": 0.0, "finish": 0.0}
def timed(name, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start
    return wrapper
validate.walk_into = timed("walk", validate.walk_into)
validate.Checker.merge = timed("merge", validate.Checker.merge)
validate.Checker.finish = timed("finish", validate.Checker.finish)
with distributed.Client(sys.argv[1]) as client, distributed.get_task_stream(client) as stream:
    start = time.perf_counter()
    report = api.validate([sys.argv[2]], scheduler=client, cache=False, collect=False)
    wall = time.perf_counter() - start
    workers = len(client.nthreads())
busy = {"chunks": 0.0, "other": 0.0}
for task in stream.data:
    done = sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
    busy["chunks" if "check_chunk" in str(task["key"]) else "other"] += done
print(json.dumps({"wall": wall, "records": report.records, "workers": workers, **busy, **spent}))
"""


def profile(address: str, cwd: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROFILE, address, "corpus"], cwd=cwd, capture_output=True, text=True, check=True
    )
    return t.cast(dict[str, float], json.loads(out.stdout.strip().splitlines()[-1]))


def scaling(count: int, measured: dict[str, float], fixed: float) -> list[str]:
    """The per-worker figures and the plan: the workers' compute time from Dask's task stream, the
    client's own work (walk, merging the last state, the collection rules) timed in its process,
    the rest of the wall time the cost of coordinating (its fixed part measured on one file)."""
    workers = measured["workers"]
    work = measured["chunks"] + measured["other"]
    own = measured["walk"] + measured["merge"] + measured["finish"]
    waiting = max(measured["wall"] - own - work / workers, 0.0)
    notes = [
        f"Dask, 2-worker running cluster, measured in process with the task stream: {measured['wall']:.2f} s wall; "
        f"the workers computed {measured['chunks']:.2f} s in chunk tasks ({count / max(measured['chunks'], 1e-9):,.0f} "
        f"records/s per worker, compute time as the workers' clocks saw it on a shared CPU) and "
        f"{measured['other']:.2f} s in merges; the client's own work was {own:.2f} s (walk {measured['walk']:.2f}, "
        f"taking in the merged state {measured['merge']:.2f}, the collection rules {measured['finish']:.2f}: "
        f"{own / count * 1e6:.0f} s per million records) and {waiting:.2f} s went to coordinating and the last "
        f"chunks' tail; start-up and connecting, {fixed:.2f} s (one file's run), do not grow with the records."
    ]
    for total in (10**7, 10**8):
        scale = total / count
        stays = fixed + own * scale
        plans = []
        for budget in (3600, 4 * 3600):
            if budget <= stays:
                plans.append(f"not within {budget // 3600} h (the client's own work alone takes {stays / 3600:.1f} h)")
            else:
                needed = -(-(work * scale) // (budget - stays))
                plans.append(f"{int(needed)} workers for {budget // 3600} h")
        notes.append(
            f"Scaling plan, {total:.0e} records (linear in records, from the above): {work * scale / 3600:.1f} "
            f"worker-hours, the client's own work {stays / 60:.0f} min; " + "; ".join(plans) + " (plus coordination, "
            "which the plan assumes grows no faster than the work)."
        )
    return notes


def load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def version(command: list[str]) -> str:
    """The last line a ``--version`` prints, or why there is none."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"version unknown: {error}"
    printed = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return printed[-1].rpartition(", ")[2] if printed else "version unknown"  # "linkml-validate, version 1.12.1"


class Peer:
    """A validator called once per record type, as a user would; checked on known files before it is timed."""

    def __init__(self, name: str, command: str) -> None:
        self.name = name
        self.command = command

    def commands(self, kind: str, files: Sequence[str]) -> list[list[str]]:
        raise NotImplementedError

    def calls(self, groups: dict[str, list[str]]) -> list[list[str]]:
        return [c for kind, files in groups.items() for c in self.commands(kind, files)]

    def preflight(self, shipped: dict[str, list[str]], broken: str) -> str | None:
        """None when the peer reports every shipped record valid and the broken one invalid, else why not."""
        if not Path(self.command).exists():
            return f"{self.command} is not installed (make bench-peers installs it)"
        for kind, files in shipped.items():
            code = run(self.commands(kind, files), ROOT)[2]
            if code != 0:
                return f"it reports the shipped {kind} records invalid or fails (exit {code})"
        if run(self.commands("event", [broken]), ROOT)[2] == 0:
            return f"it reports a broken record valid ({broken})"
        return None


class CheckJsonschema(Peer):
    def commands(self, kind: str, files: Sequence[str]) -> list[list[str]]:
        schema = ROOT / "schemas" / f"{kind}.schema.json"
        # the schemas' $id are https URLs: the base URI makes "defs.schema.json" the local file
        return batched([self.command, "--schemafile", str(schema), "--base-uri", schema.as_uri()], files)


class LinkmlValidate(Peer):
    def commands(self, kind: str, files: Sequence[str]) -> list[list[str]]:
        return batched([self.command, "-s", str(HERE / "linkml" / "records.yaml"), "-C", kind.capitalize()], files)


LinkmlModel = tuple[list[list[str]], list[list[str]], int, int]  # start-up calls, sample calls, types, sampled files


def peers(
    args: argparse.Namespace, work: Path, relative: list[str], count: int, per_copy: int
) -> tuple[dict[str, list[list[str]]], LinkmlModel | None, list[str]]:
    """The peers' calls (check-jsonschema twice, linkml-validate whole or sampled) and the notes on them.

    Each peer is checked first on the shipped records and on a broken one; a peer that fails is left
    out with the reason in the notes.
    """
    shipped_files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "records").rglob("*.yaml"))
    bin_dir = Path(sys.executable).parent
    notes: list[str] = []
    peer_calls: dict[str, list[list[str]]] = {}
    linkml_model: LinkmlModel | None = None
    if args.no_peers:
        return peer_calls, linkml_model, notes
    groups = by_type(relative, work)
    shipped = by_type(shipped_files, ROOT)
    broken = work / "broken-event.yaml"
    broken.write_text((ROOT / shipped["event"][0]).read_text(encoding="utf-8") + 'colour: "red"\n', "utf-8")
    check = CheckJsonschema("check-jsonschema", str(bin_dir / "check-jsonschema"))
    linkml = LinkmlValidate("linkml-validate", str(args.linkml))
    for peer in (check, linkml):
        began = time.perf_counter()
        why = peer.preflight(shipped, str(broken))
        if why is None:
            print(
                f"{peer.name}: reports the shipped records valid and a broken one invalid ({time.perf_counter() - began:.0f} s)"
            )
        else:
            print(f"{peer.name}: skipped: {why}")
            notes.append(f"{peer.name}: row skipped: {why}.")
            continue
        if peer is check:
            notes.append(
                f"check-jsonschema {version([check.command, '--version'])}: reports the shipped records valid and a "
                "broken one invalid; it skips the `edtf` format (unknown to it) and every collection rule "
                "(references resolve, ids unique, quotes verbatim in their article, ...). One call per type uses "
                "`--schemafile schemas/<type>.schema.json --base-uri file://.../schemas/<type>.schema.json` "
                "(the `$ref` to `defs.schema.json` read from disk, no network)."
            )
            peer_calls["check-jsonschema (bundled schema)"] = batched(
                [check.command, "--schemafile", str(work / "record.bundle.json")], relative
            )
            peer_calls["check-jsonschema (one call per type)"] = check.calls(groups)
            continue
        copies = -(-args.linkml_sample // per_copy) if args.linkml_sample > 0 else count
        sample = {kind: [f for f in names if int(Path(f).parts[1][1:]) < copies] for kind, names in groups.items()}
        sampled = sum(map(len, sample.values()))
        linkml_version = version([linkml.command, "--version"])
        common = (
            f"linkml-validate {linkml_version} (own venv bench/.linkml-venv): schema bench/linkml/records.yaml, "
            "one call per type (`-C Event` ...); reports the shipped records valid and a broken one invalid. "
            "It checks the same required fields, enums, patterns, references' form and closed objects as the "
            "JSON Schemas, and the EDTF subset by a regular expression (not the calendar); no `uniqueItems`, "
            "no maximum lengths and no collection rule."
        )
        if sampled >= count:
            peer_calls["linkml-validate (one call per type)"] = linkml.calls(groups)
            notes.append(common)
            continue
        startup_calls = linkml.calls({kind: names[:1] for kind, names in sample.items()})
        linkml_model = (startup_calls, linkml.calls(sample), len(sample), sampled)
        notes.append(
            common + f" Run on a sample of {sampled:,} files ({copies} corpus copies, every type as in the corpus) "
            f"and extrapolated to {count:,}: time = start-up (one call of one file per type, measured in the same "
            "round) + (sample time - start-up) per file x files; peak memory is the sample's."
        )
    return peer_calls, linkml_model, notes


def compiled() -> None:
    """Write the toolkit's bytecode before anything is timed, as installing its wheel does (pip
    compiles what it installs). In an editable install with ``PYTHONDONTWRITEBYTECODE=1`` (set on
    this project's machines) every module edited since its ``.pyc`` was written is compiled from
    source again in every run: on 2026-12-02, six modules and 48 ms of each export of 44 records
    (263 against 215 ms), 23 ms of ``toolkit validate ONE_FILE`` (97 against 74)."""
    import compileall

    for folder in (ROOT / "src" / "records_toolkit", ROOT / "exporters"):  # (the second: a link in the first)
        if not compileall.compile_dir(str(folder), quiet=1):
            sys.exit(f"bench: the toolkit's modules under {folder} do not compile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000, help="records in the corpus (one per file)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians of these)")
    parser.add_argument("--peer-repeat", type=int, default=1, help="rounds for check-jsonschema and linkml (slow)")
    parser.add_argument("--startup-repeat", type=int, default=15)
    parser.add_argument(
        "--linkml-sample",
        type=int,
        default=10_000,
        help="linkml-validate runs on whole corpus copies holding at least this many files; on a larger corpus "
        "its time is extrapolated (0: always the whole corpus). Below a few thousand files its start-up "
        "(about 2 s a call) dwarfs the per-file time and the extrapolation is noise",
    )
    parser.add_argument(
        "--linkml",
        type=Path,
        default=HERE / ".linkml-venv" / "bin" / "linkml-validate",
        help="linkml-validate in its own venv (make bench creates it)",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip check-jsonschema and linkml-validate")
    parser.add_argument("--no-exports", action="store_true")
    parser.add_argument("--export-repeat", type=int, default=7, help="interleaved rounds of the exports (medians)")
    parser.add_argument("--no-dask", action="store_true", help="skip the rows on local Dask clusters")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()

    compiled()
    work = HERE / ".work"
    shutil.rmtree(work, ignore_errors=True)
    corpus = work / "corpus"
    per_copy = len(list((ROOT / "records").rglob("*.yaml")))  # records in one copy of the shipped ones
    count = make(corpus, -(-args.records // per_copy))
    (work / "records-toolkit.toml").write_text('[collection]\npath = "corpus"\nlayout = "any"\n', encoding="utf-8")
    size = sum(p.stat().st_size for p in corpus.rglob("*.yaml"))
    (work / "record.bundle.json").write_text(json.dumps(bundle(ROOT / "schemas")))
    files = sorted(str(p) for p in corpus.rglob("*.yaml"))
    (work / "files.txt").write_text("\n".join(files))
    relative = [os.path.relpath(f, work) for f in files]  # shorter command lines; every tool runs in `work`
    one = work / "one.yaml"  # an agreement: alone, its references dangle (problems, placed at their lines)
    shutil.copy(files[0], one)
    alone = work / "alone.yaml"  # a place that names no other record: valid on its own
    shutil.copy(next(f for f in files if f.endswith(f"{os.sep}places{os.sep}azerbaijan.yaml")), alone)
    bin_dir = Path(sys.executable).parent
    toolkit = str(bin_dir / "toolkit")
    env_note = f"{os.cpu_count()} cores, load {load()} at the start"
    print(f"corpus: {count:,} records in {count:,} files, {size / 2**20:.1f} MiB; {env_note}")

    # The peers: checked on the shipped records and on a broken one before they are timed.
    peer_calls, linkml_model, notes = peers(args, work, relative, count, per_copy)
    time.sleep(2.1)  # the cache does not keep files changed in the last two seconds

    contenders = {
        "toolkit validate --jobs 1": [toolkit, "validate", "--no-cache", "--jobs", "1", "corpus"],
        "toolkit validate --jobs 2": [toolkit, "validate", "--no-cache", "--jobs", "2", "corpus"],
        "toolkit validate (pool)": [toolkit, "validate", "--no-cache", "corpus"],
        "plain libyaml + jsonschema-rs": [
            sys.executable,
            "-c",
            PLAIN,
            str(work / "record.bundle.json"),
            str(work / "files.txt"),
        ],
    }
    rows: dict[str, list[Run]] = {name: [] for name in contenders}
    rows["toolkit validate, cache cold"] = []
    rows["toolkit validate, cache warm (1 file changed)"] = []
    for name in peer_calls:
        rows[name] = []
    linkml_row = "linkml-validate (one call per type; extrapolated from a sample)"
    if linkml_model is not None:
        rows[linkml_row] = []
    rounds = max(args.repeat, args.peer_repeat if peer_calls or linkml_model else 0)
    for round_ in range(rounds):
        if round_ < args.repeat:
            for name, command in contenders.items():
                rows[name].append(once(command, work))
            shutil.rmtree(corpus / ".records-toolkit-cache", ignore_errors=True)
            rows["toolkit validate, cache cold"].append(once([toolkit, "validate", "corpus"], work))
            changed = Path(files[round_ % len(files)])
            changed.write_text(changed.read_text(encoding="utf-8") + f"# round {round_}\n", encoding="utf-8")
            rows["toolkit validate, cache warm (1 file changed)"].append(once([toolkit, "validate", "corpus"], work))
        if round_ < args.peer_repeat:
            for name, calls in peer_calls.items():
                rows[name].append(run(calls, work))
                print(f"  {name}: {rows[name][-1][0]:.1f} s")
            if linkml_model is not None:
                startup_calls, sample_calls, kinds, sampled = linkml_model
                start = run(startup_calls, work)
                part = run(sample_calls, work)
                per_file = max(part[0] - start[0], 0.0) / max(sampled - kinds, 1)
                cpu = start[3] + max(part[3] - start[3], 0.0) / max(sampled - kinds, 1) * (count - kinds)
                system = start[4] + max(part[4] - start[4], 0.0) / max(sampled - kinds, 1) * (count - kinds)
                rows[linkml_row].append((start[0] + per_file * (count - kinds), part[1], part[2], cpu, system))
                notes.append(
                    f"linkml-validate round {round_ + 1}: start-up {start[0]:.1f} s for {kinds} calls of one file, "
                    f"sample {part[0]:.1f} s for {sampled:,} files ({per_file * 1000:.1f} ms per file after start-up, "
                    f"{max(part[0] - start[0], 0.0) / part[0]:.0%} of the sample's time)."
                )
                print(f"  {linkml_row}: {rows[linkml_row][-1][0]:.1f} s (sample {part[0]:.1f} s)")
        print(f"round {round_ + 1}/{rounds} done, load {load()}")

    startup = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "toolkit --version": [toolkit, "--version"],
        "toolkit validate ONE_FILE (valid alone)": [toolkit, "validate", "--no-collection", str(alone)],
        "toolkit validate ONE_FILE (its references dangle alone)": [toolkit, "validate", "--no-collection", str(one)],
    }
    started: dict[str, list[float]] = {name: [] for name in startup}
    for _ in range(args.startup_repeat):
        for name, command in startup.items():
            started[name].append(once(command, work)[0])

    # Exports in interleaved rounds, each beside a validate of its own round: a ratio to the
    # validate of the same minute, not of another (on a shared machine the load moves between them).
    exports: dict[str, list[Run]] = {}
    export_base: list[Run] = []  # the validate (pool) of each export round
    if not args.no_exports:
        validate_pool = contenders["toolkit validate (pool)"]
        parted = [toolkit, "export", "--no-cache", "-f", "csv", "--parts", "8", "corpus", "-o"]
        commands: dict[str, list[str] | None] = {
            f"toolkit export -f {fmt}": [toolkit, "export", "--no-cache", "-f", fmt, "corpus", "-o", target]
            for fmt, target in (
                ("csv", "out-csv"),
                ("jsonld", "out.jsonld"),
                ("ics", "out.ics"),
                ("markdown", "out.md"),
            )
        }
        # the same in one process (the format's step not in slices): what the workers writing slices gain
        commands["toolkit export -f jsonld --jobs 1 (checks and format in one process)"] = [
            *[toolkit, "export", "--no-cache", "--jobs", "1", "-f", "jsonld", "corpus", "-o", "out-alone.jsonld"]
        ]
        # the usual CI job: a validate (which writes the result cache), then the export it vouches for
        commands["toolkit export -f csv, after a clean validate (result cache)"] = None
        commands["toolkit export -f csv --parts 8"] = [*parted, "out-parts"]
        exports = {name: [] for name in commands}
        for round_ in range(args.export_repeat):
            export_base.append(once(validate_pool, work))
            for name, command in commands.items():
                if command is None:
                    once([toolkit, "validate", "corpus"], work)
                    command = [toolkit, "export", "-f", "csv", "corpus", "-o", "out-csv-cached"]
                exports[name].append(once(command, work))
            print(f"export round {round_ + 1}/{args.export_repeat} done, load {load()}")
        notes.append(
            "Exports: each round writes over the last round's files, as a newsroom's nightly export does; the "
            "calendar (ICS) then reads the last one back as the previous export (SEQUENCE and LAST-MODIFIED "
            "kept for unchanged events), from the second round on."
        )
    # Dask last, with its clusters running only then: two idle local clusters (seven processes) took
    # about a tenth of one core and made the local pool's validate 13% slower (0.56 against 0.495 s,
    # medians of 12 runs, 2026-12-02), while a one-process peer, with a core to spare, lost nothing.
    dask_rows: dict[str, list[Run]] = {}
    dask_base: list[Run] = []  # the validate (pool) of each Dask round, the clusters running
    clusters: dict[int, tuple[subprocess.Popen[str], str]] = {}
    if not args.no_dask:
        try:
            import distributed  # noqa: F401
        except ImportError:
            notes.append("Dask rows skipped: distributed is not installed.")
        else:
            clusters = {workers: start_cluster(workers, work) for workers in (1, 2)}
    if clusters:
        validate_pool = contenders["toolkit validate (pool)"]
        on_dask: dict[str, list[str]] = {}
        for workers, (_process, address) in clusters.items():
            on_dask[f"toolkit validate --scheduler (running cluster, {workers} worker{'s' * (workers > 1)})"] = [
                toolkit,
                "validate",
                "--no-cache",
                "--scheduler",
                address,
                "corpus",
            ]
        on_dask["toolkit validate --scheduler (running cluster, 2 workers), one file"] = [
            toolkit,
            "validate",
            "--no-cache",
            "--no-collection",
            "--scheduler",
            clusters[2][1],
            str(one),
        ]
        on_dask["toolkit validate --scheduler local (starts 2 workers)"] = [
            toolkit,
            "validate",
            "--no-cache",
            "--scheduler",
            "local",
            "corpus",
        ]
        if not args.no_exports:
            on_dask["toolkit export -f csv --parts 8 --scheduler (running cluster, 2 workers)"] = [
                *[toolkit, "export", "--no-cache", "-f", "csv", "--parts", "8", "corpus", "-o", "out-parts-dask"],
                *["--scheduler", clusters[2][1]],
            ]
        dask_rows = {name: [] for name in on_dask}
        for round_ in range(args.repeat):
            dask_base.append(once(validate_pool, work))
            for name, command in on_dask.items():
                dask_rows[name].append(once(command, work))
            print(f"Dask round {round_ + 1}/{args.repeat} done, load {load()}")
        for name, runs in dask_rows.items():
            (exports if name.startswith("toolkit export") else rows)[name] = runs
        rows["toolkit validate (pool), beside the running clusters"] = dask_base
        notes.append(
            "Dask rows: measured last, in rounds of their own, with the two local clusters (1 and 2 workers) "
            "running only then; each round begins with a validate (pool), whose median is the row 'beside the "
            "running clusters' (the idle clusters' share of the cores) and the base of the Dask export's ratios. "
            "Every other row was measured with no cluster running."
        )
    measured = profile(clusters[2][1], work) if 2 in clusters else None
    for process, _address in clusters.values():
        stop_cluster(process)
    if measured is not None:
        fixed = statistics.median(
            r[0] for r in rows["toolkit validate --scheduler (running cluster, 2 workers), one file"]
        )
        notes.extend(scaling(count, measured, fixed))
        notes.append(
            "Dask peak MiB is the client's (the toolkit process); the workers are the cluster's processes. "
            "The client keeps the collection's indexes (ids, references, quotes) for the rules that run once "
            "on the whole: see the validate peak per record for what 10^7 or 10^8 records ask of its memory."
        )

    # Each export step against the obvious library doing the same job (bench/exports.py), in this
    # process on the validated records: rows (name, median seconds, library time / toolkit time).
    export_steps: list[tuple[str, float, float]] = []
    if not args.no_exports:
        from exports import compare

        from records_toolkit import api

        valid = api.validate([str(corpus)], jobs=1).valid
        export_steps = compare(valid, rounds=args.repeat)
        del valid
        notes.append(
            "Export steps: each format's step in process (records decoded as `toolkit export` reads them) against "
            "the obvious library writing the same export from the same records (tests/test_bench_peers.py: the "
            "CSV tables and JSON-LD byte for byte, the calendar as icalendar reads both): icalendar, "
            "json.dumps(indent=2) of the same document, csv.DictWriter for the same tables; the markdown peer "
            "(str.format rows of a four-column table) does a smaller job than the report. A ratio above 1 means "
            "the toolkit's step is faster."
        )

    # Imports: the exports read back into one YAML file per record, each round into a new folder
    # (kept until the bench ends): the records held, checked as a collection, written all or nothing.
    imports: dict[str, list[Run]] = {}
    if not args.no_exports:
        sources = {
            "toolkit import -f jsonld (8 parts)": (["export", "--no-cache", "-f", "jsonld", "--parts", "8"], "jsonld"),
            "toolkit import -f csv": (["export", "--no-cache", "-f", "csv"], "csv"),
        }
        limits: dict[str, list[str]] = {}
        for name, (export, fmt) in sources.items():
            once([toolkit, *export, "corpus", "-o", f"source-{fmt}"], work)
            imports[name] = []
            # an import refuses a file over 16 MiB unless told (at 100k the CSV's event_sources table is
            # 36 MB, a JSON-LD part 49 MB): the largest file of the export is allowed, and said in the notes
            largest = max((f.stat().st_size for f in (work / f"source-{fmt}").rglob("*") if f.is_file()), default=0)
            limits[fmt] = ["--max-file-size", str(largest)] if largest > 16 << 20 else []
            if limits[fmt]:
                notes.append(
                    f"Import of {fmt}: run with --max-file-size {largest} (its largest file; the default is 16 MiB)."
                )
        for round_ in range(args.repeat):
            for name, (_export, fmt) in sources.items():
                target = f"imported-{fmt}-{round_}"
                # (kept until the end: files created where many were just deleted cost ext4 ten times the
                # system time, which a removal after each round would measure instead of the import)
                command = [toolkit, "import", "-f", fmt, *limits[fmt], f"source-{fmt}", "-o", target]
                imports[name].append(once(command, work))
        notes.append(
            "Imports: the export of the corpus (JSON-LD in 8 parts, CSV tables) read back into one canonical YAML "
            "file per record, a new folder each round; part of their time is the file system's (a file created, "
            "then renamed into place, per record: the system seconds)."
        )

    lines = report(
        count, size, env_note, rows, started, exports, export_base, export_steps, notes, args, imports, dask_base
    )
    print("\n".join(lines))
    args.results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {args.results}")
    shutil.rmtree(work, ignore_errors=True)


def report(
    count: int,
    size: int,
    env_note: str,
    rows: dict[str, list[Run]],
    started: dict[str, list[float]],
    exports: dict[str, list[Run]],
    export_base: list[Run],
    export_steps: list[tuple[str, float, float]],
    notes: list[str],
    args: argparse.Namespace,
    imports: dict[str, list[Run]] | None = None,
    dask_base: list[Run] | None = None,
) -> list[str]:
    today = datetime.date.today().isoformat()
    lines = [
        "# Benchmark results",
        "",
        f"{today}, {platform.machine()}, Python {platform.python_version()}, {env_note}, load {load()} at the end.",
        f"Corpus: {count:,} records in {count:,} files ({size / 2**20:.1f} MiB), the shipped records copied.",
        f"Medians of {args.repeat} interleaved rounds (check-jsonschema, linkml-validate: {args.peer_repeat}); "
        "peak = largest RSS of one process.",
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
    for name, times in started.items():
        lines.append(f"| {name} | {statistics.median(times):.3f} | {statistics.median(times) / python:.1f}x |")
    if exports:
        rounds = len(export_base)
        lines += [
            "",
            f"| export ({rounds} interleaved round{'s' * (rounds > 1)}: a validate, then each) | median s | peak MiB "
            "| vs that round's validate (pool): median | range | CPU s | CPU vs that round's validate: median |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| toolkit validate (pool), in these rounds | {statistics.median(r[0] for r in export_base):.2f} | | 1.00x "
            f"| | {statistics.median(r[3] for r in export_base):.2f} | 1.00x |",
        ]
        for name, runs in exports.items():
            # (a Dask row's ratios are to the validate of its own rounds, the clusters running)
            base_runs = dask_base if dask_base and "running cluster" in name else export_base
            ratios = [run[0] / alone[0] for run, alone in zip(runs, base_runs, strict=True)]
            cpu = [run[3] / alone[3] for run, alone in zip(runs, base_runs, strict=True)]
            # (a running cluster's workers are not the command's processes: their CPU is not counted)
            cpu_cells = (
                "| | |"
                if "running cluster" in name
                else f"| {statistics.median(r[3] for r in runs):.2f} | {statistics.median(cpu):.2f}x |"
            )
            lines.append(
                f"| {name} | {statistics.median(r[0] for r in runs):.2f} | {max(r[1] for r in runs):.0f} "
                f"| {statistics.median(ratios):.2f}x | {min(ratios):.2f}-{max(ratios):.2f}x {cpu_cells}"
            )
    if export_steps:
        lines += ["", "| export step, in process | median s | library time / toolkit time |", "|---|---:|---:|"]
        lines += [f"| {name} | {seconds:.3f} | {ratio:.1f}x |" for name, seconds, ratio in export_steps]
    if imports:
        lines += [
            "",
            "| import | median s | records/s | peak MiB | CPU s | of which system s | exit |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, runs in imports.items():
            seconds = statistics.median(r[0] for r in runs)
            lines.append(
                f"| {name} | {seconds:.2f} | {count / seconds:,.0f} | {max(r[1] for r in runs):.0f} "
                f"| {statistics.median(r[3] for r in runs):.2f} | {statistics.median(r[4] for r in runs):.2f} "
                f"| {max(r[2] for r in runs)} |"
            )
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return lines


if __name__ == "__main__":
    main()
