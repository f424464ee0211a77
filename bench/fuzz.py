"""`make fuzz`: mutation fuzzing of validate, fmt, every export and every importer, for a bounded time.

Seeds are the shipped records and their exports; each run mutates one of them (bytes, lines, or
hostile tokens: anchors, tags, NUL, surrogate escapes, deep nesting, control and bidi
characters, huge numbers) and feeds it to the toolkit through its API, rendering every report
in every output form. The only acceptable failures are the toolkit's own errors
(``records_toolkit.errors.ToolkitError``); anything else is a *foreign exception*: its input is
saved under ``bench/.work/fuzz-crashes/`` and the run exits 1.

    python bench/fuzz.py --seconds 60 [--seed N] [--runs N]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
CRASHES = ROOT / "bench" / ".work" / "fuzz-crashes"

TOKENS = [
    b"&a ",
    b"*a",
    b"<<: *a",
    b"!!python/object:os.system ",
    b"!!binary ",
    b"! ",
    b"---\n",
    b"...\n",
    b"\x00",
    b"\\ud800",
    b"\\u0000",
    b"\x1b[2J",
    b"\xe2\x80\xae",
    b"\xc2\x85",
    b"\r",
    b"\r\n",
    b"\t",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"[" * 200,
    b"{a: " * 120,
    b"9" * 400,
    b"1e999",
    b".nan",
    b"-0.0",
    b"0x1F",
    b"NO",
    b"2022-02-30",
    b'"' + b"a" * 5000 + b'"',
    b'=HYPERLINK("x")',
    b"@",
    b"\xef\xbc\x9d",
    b'"id": null',
    b'"@graph": {}',
    b'"@type": []',
    b'"@context": 5',
    b",,,,",
    b'"""',
    b"\n\n\n",
    b"- - - -",
    b"? [a]\n: b",
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        at = rng.randrange(len(out) + 1)
        if choice == 0 and out:  # flip a byte
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif choice == 1:  # insert a hostile token
            out[at:at] = rng.choice(TOKENS)
        elif choice == 2 and out:  # delete a range
            del out[at : at + rng.randint(1, 40)]
        elif choice == 3 and out:  # duplicate a range
            start = rng.randrange(len(out))
            out[at:at] = out[start : start + rng.randint(1, 200)]
        elif choice == 4:  # swap two lines
            lines = bytes(out).split(b"\n")
            if len(lines) > 2:
                i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
                out = bytearray(b"\n".join(lines))
        elif choice == 5 and out:  # truncate
            del out[at:]
        else:  # repeat the whole thing (many documents, long files)
            out = out + b"\n---\n" + out if rng.random() < 0.5 else out
    return bytes(out)


class Fuzzer:
    def __init__(self, work: Path, rng: random.Random) -> None:
        from records_toolkit import api

        self.api = api
        self.work = work
        self.rng = rng
        self.runs = 0
        self.foreign: list[str] = []
        self.exported = work / "seed-export"
        report = api.validate([RECORDS])
        api.export(report, "csv", to=self.exported / "csv")
        api.export(report, "jsonld", to=self.exported / "records.jsonld")
        self.yaml_seeds = sorted(RECORDS.rglob("*.yaml"))
        self.csv_seeds = sorted((self.exported / "csv").iterdir())

    def case(self, target: str, run: t.Callable[[], object], files: dict[str, bytes]) -> None:
        from records_toolkit.errors import ToolkitError

        self.runs += 1
        try:
            run()
        except ToolkitError:
            pass
        except Exception:  # a foreign exception: the bug this fuzzer looks for
            number = len(self.foreign) + 1
            folder = CRASHES / f"{target}-{number}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for name, data in files.items():
                (folder / name.replace("/", "__")).write_bytes(data)
            (folder / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
            self.foreign.append(f"{target}: {traceback.format_exc().strip().splitlines()[-1]} ({folder})")

    def validate_and_fmt(self) -> None:
        from records_toolkit.render import RENDERERS

        case = self.work / "case"
        shutil.rmtree(case, ignore_errors=True)
        shutil.copytree(RECORDS, case)
        seed = self.rng.choice(self.yaml_seeds)
        target = case / seed.relative_to(RECORDS)
        data = mutate(seed.read_bytes(), self.rng)
        target.write_bytes(data)
        files = {seed.relative_to(RECORDS).as_posix(): data}

        def validate() -> None:
            report = self.api.validate([case])
            for render in RENDERERS.values():
                render(report)
            if report.ok:
                for name in ("csv", "jsonld", "ics", "markdown"):
                    out = self.work / f"out-{name}"
                    self.api.export(report, name, to=out if name == "csv" else io.BytesIO())

        def fmt() -> None:
            self.api.fmt([case], check=True)
            self.api.fmt([case])
            self.api.validate([case])

        self.case("validate", validate, files)
        self.case("fmt", fmt, files)

    def import_csv(self) -> None:
        case = self.work / "csv"
        shutil.rmtree(case, ignore_errors=True)
        shutil.copytree(self.exported / "csv", case)
        seed = self.rng.choice(self.csv_seeds)
        data = mutate(seed.read_bytes(), self.rng)
        (case / seed.name).write_bytes(data)
        self.case("import-csv", lambda: self.api.import_records(case, "csv", to=self.work / "back"), {seed.name: data})

    def import_jsonld(self) -> None:
        data = mutate((self.exported / "records.jsonld").read_bytes(), self.rng)
        if self.rng.random() < 0.3:  # structural: a value of another JSON type somewhere
            try:
                doc = json.loads(data)
                node = self.rng.choice(doc["@graph"])
                key = self.rng.choice(sorted(node))
                node[key] = self.rng.choice([None, 1.5, [], {}, "x", [[[]]], {"@id": 5}, True])
                data = json.dumps(doc).encode()
            except Exception:  # the mutation broke the JSON already: fuzz that instead
                pass
        source = self.work / "case.jsonld"
        source.write_bytes(data)
        self.case("import-jsonld", lambda: self.api.import_records(source, "jsonld"), {"case.jsonld": data})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=0, help="stop after this many inputs (0: only the time)")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="toolkit-fuzz-") as temp:
        fuzzer = Fuzzer(Path(temp), rng)
        steps = [fuzzer.validate_and_fmt, fuzzer.validate_and_fmt, fuzzer.import_csv, fuzzer.import_jsonld]
        end = time.monotonic() + args.seconds
        while time.monotonic() < end and (not args.runs or fuzzer.runs < args.runs):
            rng.choice(steps)()
    print(
        f"fuzz: seed {seed}, {fuzzer.runs} inputs tried in {args.seconds:.0f} s at most, "
        f"{len(fuzzer.foreign)} foreign exceptions"
    )
    for line in fuzzer.foreign[:20]:
        print(f"  {line}")
    return 1 if fuzzer.foreign else 0


if __name__ == "__main__":
    sys.exit(main())
