"""`make bench`: throughput and peak memory of `toolkit validate` against check-jsonschema, same files, one run.

Both tools read the same corpus (the shipped records copied N times, ids made unique). The peer
gets the same schemas bundled into one file (it would otherwise try to fetch `$ref`s by their
`$id` over the network); it skips the `edtf` format and all collection rules, which toolkit runs.
Numbers are ratios measured side by side, never absolute thresholds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from corpus import make  # noqa: E402

MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter(); done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)\n"
)


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


def measure(command: list[str], repeat: int) -> tuple[float, float, int]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
        seconds, rss, code = out.stdout.split()
        runs.append((float(seconds), int(rss) / 1024, int(code)))
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[0][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=100, help="copies of the shipped records (43 each)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = HERE / ".work"
    shutil.rmtree(work, ignore_errors=True)
    count = make(work / "corpus", args.copies)
    size = sum(p.stat().st_size for p in (work / "corpus").rglob("*.yaml"))
    (work / "record.bundle.json").write_text(json.dumps(bundle(ROOT / "schemas")))
    files = sorted(str(p) for p in (work / "corpus").rglob("*.yaml"))
    bin_dir = Path(sys.executable).parent
    tools = {
        "toolkit validate": [str(bin_dir / "toolkit"), "validate", str(work / "corpus")],
        "check-jsonschema": [
            str(bin_dir / "check-jsonschema"),
            "--schemafile",
            str(work / "record.bundle.json"),
            *files,
        ],
    }
    print(f"corpus: {count} records in {count} files, {size / 2**20:.1f} MiB; median of {args.repeat} runs")
    results = {}
    for name, command in tools.items():
        if not Path(command[0]).exists():
            print(f"{name}: not installed (pip install check-jsonschema)")
            continue
        results[name] = measure(command, args.repeat)
        seconds, rss, code = results[name]
        print(f"{name:18} {seconds:7.2f} s  {count / seconds:8.0f} records/s  peak {rss:6.0f} MiB  exit {code}")
    if len(results) == 2:
        ours, peer = results["toolkit validate"], results["check-jsonschema"]
        print(
            f"throughput ratio (toolkit / check-jsonschema): {peer[0] / ours[0]:.1f}x; memory ratio {ours[1] / peer[1]:.2f}"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
