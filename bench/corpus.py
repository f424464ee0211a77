"""Make a large corpus from the shipped records: N copies, ids suffixed, references rewritten."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make(target: Path, copies: int) -> int:
    sources = sorted((ROOT / "records").rglob("*.yaml"))
    texts = [(p.relative_to(ROOT / "records"), p.read_text(encoding="utf-8")) for p in sources]
    ids = sorted({re.search(r'^id: "([^"]+)"', text, re.M).group(1) for _, text in texts}, key=len, reverse=True)  # type: ignore[union-attr]
    # a reference is a quoted id, or the id after "field: " in a `supports` entry ("locations: izmir")
    pattern = re.compile(r'(?:(?<=")|(?<=[a-z_]: ))(' + "|".join(map(re.escape, ids)) + r')(?=")')
    count = 0
    for copy in range(copies):
        for rel, text in texts:
            out = target / f"c{copy:05d}" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(pattern.sub(lambda m, copy=copy: f"{m.group(1)}-c{copy}", text), encoding="utf-8")
            count += 1
    return count


if __name__ == "__main__":
    print(make(Path(sys.argv[1]), int(sys.argv[2])))
