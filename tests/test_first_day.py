"""A newcomer's first day: a repository from `toolkit init`, an article and an event of their own added
with `toolkit new` and `toolkit quote` (edited as a person edits YAML), the examples deleted, then
validate, every export (read back by parsers we did not write) and import, all through the CLI."""

from __future__ import annotations

import csv
import json
import typing as t
from pathlib import Path

import frictionless
import icalendar
import pytest
import yaml
from click.testing import CliRunner
from markdown_it import MarkdownIt

from records_toolkit import api
from records_toolkit.cli import main

SOURCE = "https://github.com/example-owner/records-toolkit"
ARTICLE = "northfield-courier-2024-03-02-bridge"
EVENT = "northfield-river-bridge-opening"
ARTICLE_TEXT = """\
The new river bridge in Northfield was opened on 1 March 2024 by the mayor, Anna Berg. Traffic crossed it the same afternoon.

Approx. five thousand people came to watch, the town said. The old ferry will keep running until the summer."""


def _ok(result: t.Any) -> t.Any:
    assert result.exit_code == 0, result.output
    return result


def _written(result: t.Any) -> Path:
    """The file `toolkit new` says it wrote (``wrote PATH: replace each TODO, ...``)."""
    line = result.stderr.strip()
    assert line.startswith("wrote ") and "TODO" in line, line
    return Path(line.removeprefix("wrote ").split(": ", 1)[0])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.yaml"))}


def test_a_newcomers_first_day(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "our-records"
    _ok(runner.invoke(main, ["init", str(repo), "--toolkit-source", SOURCE]))
    monkeypatch.chdir(repo)
    assert runner.invoke(main, ["validate"]).stdout == "ok: 2 records in 2 files, no problems\n"

    # An article of their own: the skeleton, every TODO filled in by editing the YAML.
    path = _written(_ok(runner.invoke(main, ["new", "article", ARTICLE])))
    assert path == Path("records", "articles", f"{ARTICLE}.yaml")
    article = yaml.safe_load(path.read_text(encoding="utf-8"))
    article.update(
        name="New river bridge opens in Northfield",
        date_published="2024-03-02",
        url="https://example.org/northfield-courier/2024/03/02/bridge",
        language="en",
        text=ARTICLE_TEXT,
    )
    (source,) = article["sources"]
    source.update(url=article["url"], title="Northfield Courier, 2 March 2024")
    source["supports"] += ["url", "language"]
    del article["notes"]  # "delete or rewrite this note"
    path.write_text(yaml.safe_dump(article, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")

    # An event citing it: `toolkit quote` prints the source block, pasted under `sources:` as printed.
    quoted = _ok(runner.invoke(main, ["quote", ARTICLE, "bridge", "opened"]))
    block = quoted.stdout
    (cited,) = yaml.safe_load("sources:\n" + block)["sources"]
    assert cited["article"] == ARTICLE and cited["supports"] == []
    assert cited["quote"] == "The new river bridge in Northfield was opened on 1 March 2024 by the mayor, Anna Berg."
    event_path = _written(_ok(runner.invoke(main, ["new", "event", EVENT])))
    event = yaml.safe_load(event_path.read_text(encoding="utf-8"))
    allowed = {f.name: f.allowed for f in api.describe_schema("event").fields}
    assert "ceremony" in allowed["kind"] and "took-place" in allowed["status"]
    event.update(name="Opening of the Northfield river bridge", kind="ceremony", date="2024-03-01", status="took-place")
    del event["sources"], event["notes"]
    head = yaml.safe_dump(event, allow_unicode=True, sort_keys=False)
    supports = '"name", "kind", "date", "status"'
    pasted = block.replace("supports: []", f"supports: [{supports}]")
    assert pasted != block
    event_path.write_text(head + "sources:\n" + pasted, encoding="utf-8")

    # The examples go, as their notes say; what is left is theirs.
    for example in ("records/articles/example-article.yaml", "records/events/example-festival-2024.yaml"):
        Path(example).unlink()
    checked = runner.invoke(main, ["validate"])
    assert (checked.exit_code, checked.stdout) == (0, "ok: 2 records in 2 files, no problems\n"), checked.output
    assert runner.invoke(main, ["fmt", "--check"]).exit_code == 1  # hand-written YAML is not canonical yet
    formatted = _ok(runner.invoke(main, ["fmt"]))
    assert "2 of 2 files reformatted" in formatted.stderr
    _ok(runner.invoke(main, ["fmt", "--check"]))
    assert "TODO" not in "".join(p.read_text(encoding="utf-8") for p in Path("records").rglob("*.yaml"))
    shown = _ok(runner.invoke(main, ["show", EVENT]))
    assert f"cites the articles:\n  {ARTICLE}" in shown.stdout
    annotations = runner.invoke(main, ["validate", "--output-format", "github"]).stdout  # what the CI workflow runs
    assert annotations.startswith("::notice ") and "no problems" in annotations and "::error" not in annotations

    # Every export, read by parsers we did not write.
    out = tmp_path / "exports"
    for fmt, target in {"csv": "tables", "jsonld": "facts.jsonld", "ics": "facts.ics", "markdown": "facts.md"}.items():
        _ok(runner.invoke(main, ["export", "-f", fmt, "-o", str(out / target)]))
    calendar = icalendar.Calendar.from_ical((out / "facts.ics").read_bytes())
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Opening of the Northfield river bridge"
    assert vevent.decoded("DTSTART").isoformat() == "2024-03-01"
    graph = json.loads((out / "facts.jsonld").read_text(encoding="utf-8"))
    flat = json.dumps(graph)
    assert EVENT in flat and ARTICLE in flat and "Anna Berg" in flat
    with open(out / "tables" / "events.csv", newline="", encoding="utf-8") as stream:
        (row,) = list(csv.DictReader(stream))
    assert (row["id"], row["date"], row["kind"]) == (EVENT, "2024-03-01", "ceremony")
    with open(out / "tables" / "articles.csv", newline="", encoding="utf-8") as stream:
        assert [r["id"] for r in csv.DictReader(stream)] == [ARTICLE]
    report = frictionless.validate(str(out / "tables" / "datapackage.json"))
    assert report.valid, report.flatten(["type", "note"])
    html = MarkdownIt().render((out / "facts.md").read_text(encoding="utf-8"))
    assert "Opening of the Northfield river bridge" in html

    # Import gives the same records back: csv and jsonld, each into a fresh directory.
    originals = api.validate(["records"]).valid
    for fmt, exported in (("csv", out / "tables"), ("jsonld", out / "facts.jsonld")):
        again = tmp_path / f"from-{fmt}"
        imported = _ok(runner.invoke(main, ["import", "-f", fmt, str(exported), "-o", str(again)]))
        assert "wrote 2 records" in imported.stderr
        assert api.validate([again]).valid == originals, fmt
        assert _files(again) == _files(Path("records")), fmt  # byte for byte: both canonical
