"""Authoring commands as a newcomer meets them: new, quote, show, schema (CLI and API)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from records_toolkit import api
from records_toolkit.authoring import sentences
from records_toolkit.canonical import dumps
from records_toolkit.cli import main
from records_toolkit.errors import InvalidData, UsageError
from records_toolkit.schemas import load_model

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"
TOOLKIT = Path(sys.executable).with_name("toolkit")
ARTICLE = "azernews-2022-01-21-servicemen-parachute-course"
COMMANDS = ("new", "quote", "show", "schema")


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """A copy of the shipped records, to write into."""
    folder = tmp_path / "records"
    shutil.copytree(RECORDS, folder)
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _article_text() -> str:
    data = yaml.safe_load((RECORDS / "articles" / f"{ARTICLE}.yaml").read_text(encoding="utf-8"))
    return str(data["text"])


# -- new -------------------------------------------------------------------------------------------


def test_new_event_writes_a_canonical_skeleton_that_validates(runner: CliRunner, collection: Path) -> None:
    result = runner.invoke(main, ["new", "event", "my-event", "--records", str(collection)])
    assert result.exit_code == 0, result.output
    path = collection / "events" / "my-event.yaml"
    assert path.as_posix() in result.stderr
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert dumps([data]) == text  # canonical, keys in schema order
    assert data["id"] == "my-event" and data["type"] == "event"
    info = load_model().types["event"]
    assert set(info.required) <= set(data)
    assert data["name"].startswith("TODO")
    assert data["kind"] == info.schema["properties"]["kind"]["enum"][0]
    assert "kind" in data["notes"] and "status" in data["notes"] and "TODO" in data["notes"]
    assert data["sources"][0]["supports"] == ["name", "kind", "status"]
    checked = runner.invoke(main, ["validate", str(collection)])
    assert checked.exit_code == 0, checked.output
    assert runner.invoke(main, ["fmt", "--check", str(collection)]).exit_code == 0


@pytest.mark.parametrize("type_name", sorted(load_model().types))
def test_every_type_gets_a_skeleton_that_validates(collection: Path, type_name: str) -> None:
    path = api.new_record(type_name, f"new-{type_name}", records=collection)
    assert path == collection / f"{type_name}s" / f"new-{type_name}.yaml"
    report = api.validate(collection)
    info = load_model().types[type_name]
    dates = {f"/{path[0]}" for path in info.dates if len(path) == 1 and path[0] in info.required}
    # the only problems: required dates left as TODO (a skeleton never invents a date)
    assert {(p.pointer, p.code) for p in report.errors} == {(d, "schema-format") for d in dates}, report.errors
    record = next(r for r in api.load(path))
    assert set(load_model().types[type_name].required) <= set(record)


def test_new_into_a_directory_that_does_not_exist_yet(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "records"
    result = runner.invoke(main, ["new", "person", "jane-doe", "--records", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "persons" / "jane-doe.yaml").is_file()
    assert api.validate(target).ok


@pytest.mark.parametrize("bad", ["Bad_Id", "../escape", "a--b", "-a", "a b", "é", "x\n"])
def test_new_refuses_an_id_that_is_not_a_slug(runner: CliRunner, collection: Path, bad: str) -> None:
    before = _files(collection)
    result = runner.invoke(main, ["new", "--records", str(collection), "--", "event", bad])
    assert result.exit_code == 1
    assert "is not a valid id" in result.stderr and "nothing written" in result.stderr
    assert _files(collection) == before
    assert not list(collection.parent.glob("escape*"))


def test_new_refuses_an_existing_file(runner: CliRunner, collection: Path) -> None:
    before = _files(collection)
    result = runner.invoke(main, ["new", "place", "kayseri", "--records", str(collection)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert _files(collection) == before


def test_new_refuses_an_id_used_by_a_record_of_another_type(runner: CliRunner, collection: Path) -> None:
    before = _files(collection)
    result = runner.invoke(main, ["new", "person", "kayseri", "--records", str(collection)])
    assert result.exit_code == 1
    assert "already used by a place" in result.stderr
    assert _files(collection) == before


def test_new_unknown_type_is_a_usage_error(runner: CliRunner, collection: Path) -> None:
    result = runner.invoke(main, ["new", "evnt", "x", "--records", str(collection)])
    assert result.exit_code == 2
    assert "did you mean 'event'" in result.stderr
    assert not (collection / "evnts").exists()


# -- quote -----------------------------------------------------------------------------------------


def test_quote_pasted_as_a_source_passes_the_verbatim_check(runner: CliRunner, collection: Path) -> None:
    assert runner.invoke(main, ["new", "event", "my-event", "--records", str(collection)]).exit_code == 0
    result = runner.invoke(main, ["quote", ARTICLE, "kayseri", "113TH", "--records", str(collection)])
    assert result.exit_code == 0, result.output
    block = result.stdout
    assert block.startswith(f'  - article: "{ARTICLE}"\n    quote: "The 113th Term')
    assert block.count("- article:") == 1 and "supports: []" in block
    (quote,) = [s["quote"] for s in yaml.safe_load(block)]
    assert quote in _article_text()

    path = collection / "events" / "my-event.yaml"
    text = path.read_text(encoding="utf-8")
    pasted = text.replace("sources:\n", "sources:\n" + block.replace("supports: []", 'supports: ["status"]'), 1)
    path.write_text(pasted, encoding="utf-8")
    checked = runner.invoke(main, ["validate", str(collection)])
    assert checked.exit_code == 0, checked.output

    path.write_text(pasted.replace("113th", "113rd"), encoding="utf-8")  # the check is really on
    broken = runner.invoke(main, ["validate", str(collection)])
    assert broken.exit_code == 1 and "[quote-not-found]" in broken.stdout


def test_quote_prints_one_block_per_matching_sentence(runner: CliRunner) -> None:
    result = runner.invoke(main, ["quote", ARTICLE, "ALIYEV", "--records", str(RECORDS)])
    assert result.exit_code == 0, result.output
    sources = yaml.safe_load(result.stdout)
    assert len(sources) == 2
    assert all(s["article"] == ARTICLE and s["supports"] == [] for s in sources)
    assert all(s["quote"] in _article_text() and "aliyev" in s["quote"].lower() for s in sources)


def test_api_find_quotes() -> None:
    found = api.find_quotes(ARTICLE, ["memorandum", "june"], records=RECORDS)
    assert found == [
        "On June 15, the two countries signed a memorandum of alliance that cemented the existing military, "
        "political and economic cooperation."
    ]
    assert yaml.safe_load(api.source_block(ARTICLE, found))[0]["quote"] == found[0]


def test_every_sentence_is_verbatim() -> None:
    text = _article_text()
    found = sentences(text)
    assert len(found) > 10
    assert all(s in text and s == s.strip() for s in found)
    assert "".join("".join(found).split()) == "".join(text.split())  # nothing lost between sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ('He said "Go." Then left.', ['He said "Go."', "Then left."]),
        ("Headline\n\nBody here.", ["Headline", "Body here."]),
        ("It was approx. five km.\nNext line.", ["It was approx. five km.", "Next line."]),
        ("Version 1.5 shipped.  Done.", ["Version 1.5 shipped.", "Done."]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_quote_without_a_match_exits_1(runner: CliRunner) -> None:
    result = runner.invoke(main, ["quote", ARTICLE, "kayseri", "zebra", "--records", str(RECORDS)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no sentence" in result.stderr and "'zebra'" in result.stderr
    both = runner.invoke(main, ["quote", ARTICLE, "kayseri", "shusha", "--records", str(RECORDS)])
    assert both.exit_code == 1 and "no one sentence holds them all" in both.stderr


def test_quote_of_an_unknown_article_exits_1_with_a_hint(runner: CliRunner) -> None:
    result = runner.invoke(main, ["quote", "azernews-2022", "kayseri", "--records", str(RECORDS)])
    assert result.exit_code == 1
    assert f"did you mean {ARTICLE!r}" in result.stderr
    other = runner.invoke(main, ["quote", "kayseri", "x", "--records", str(RECORDS)])
    assert other.exit_code == 1 and "is a place, not an article" in other.stderr
    with pytest.raises(InvalidData):
        api.find_quotes("nope", ["x"], records=RECORDS)


def test_quote_needs_words(runner: CliRunner) -> None:
    assert runner.invoke(main, ["quote", ARTICLE]).exit_code == 2


# -- show ------------------------------------------------------------------------------------------


def test_show_lists_the_record_its_referrers_and_cited_articles(runner: CliRunner) -> None:
    result = runner.invoke(main, ["show", "kayseri", "--records", str(RECORDS)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith((RECORDS / "places" / "kayseri.yaml").read_text(encoding="utf-8"))
    assert "referred to by" in out
    line = next(x for x in out.splitlines() if "parachute-course-113-kayseri" in x)
    assert "event" in line and "/locations/0" in line
    assert "cites the articles:\n  " + ARTICLE in out


def test_api_show_turkey() -> None:
    shown = api.show("turkey", records=RECORDS)
    assert shown.record["id"] == "turkey"
    assert any(r.id == "kayseri" and r.type == "place" and r.pointer == "/within" for r in shown.referrers)
    article = api.show(ARTICLE, records=RECORDS)
    assert any(r.pointer.endswith("/article") for r in article.referrers)


def test_show_unknown_id_exits_1_with_did_you_mean(runner: CliRunner) -> None:
    typo = runner.invoke(main, ["show", "kayseir", "--records", str(RECORDS)])
    assert typo.exit_code == 1 and "did you mean 'kayseri'" in typo.stderr
    assert typo.stdout == ""


def _shown_by_reading_everything(record_id: str, records: Path) -> api.Shown | None:
    """What ``show`` told before it read only the files that may hold the id: every record loaded."""
    from records_toolkit.authoring import Referrer, Shown
    from records_toolkit.canonical import canonical_record
    from records_toolkit.schema_types import values_at
    from records_toolkit.schema_view import SchemaView

    loaded = [dict(r) for r in api.load(records, problems=[])]
    record = next((r for r in loaded if r.get("id") == record_id), None)
    if record is None:
        return None
    view = SchemaView.of(load_model())
    referrers = [
        Referrer(str(other.get("id")), info.name, pointer)
        for other in loaded
        if (info := view.types.get(other.get("type"))) is not None  # type: ignore[arg-type]
        for reference in info.references
        for pointer, value in values_at(other, reference.path)
        if value == record_id
    ]
    cites = [s["article"] for s in record.get("sources", []) if isinstance(s, dict) and "article" in s]
    return Shown(canonical_record(record), dumps([record]), tuple(referrers), tuple(dict.fromkeys(cites)))


@pytest.fixture
def spelled(collection: Path) -> Path:
    """The shipped records, plus records that spell ids in ways YAML allows: escapes, a folded line."""
    (collection / "places" / "talas.yaml").write_text(
        'id: "t\\u0061las"\ntype: place\nname: "Talas"\nkind: "city"\nwithin: "k\\x61yseri"\n', encoding="utf-8"
    )
    (collection / "places" / "two.yaml").write_text(
        "id: two\n  words\ntype: place\nname: Two\nkind: city\nwithin: 'talas'\n", encoding="utf-8"
    )
    (collection / "places" / "broken.yaml").write_text("id: [kayseri\n", encoding="utf-8")  # (holds the id: parsed)
    (collection / "places" / "broken-too.yaml").write_text("name: [\n", encoding="utf-8")  # (does not)
    return collection


def test_show_reads_only_the_files_that_may_hold_the_id_and_tells_what_reading_all_tells(
    spelled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from records_toolkit import loader

    parsed: list[str] = []
    load_bytes = loader.load_bytes
    monkeypatch.setattr(loader, "load_bytes", lambda raw, file: (parsed.append(file), load_bytes(raw, file))[1])
    every = sorted(p for p in spelled.rglob("*.yaml"))
    ids = [str(r["id"]) for r in api.load(spelled, problems=[])]
    assert "talas" in ids and "two words" in ids  # (spelled "t\\u0061las", and on two lines)
    for record_id in dict.fromkeys(ids):
        expected = _shown_by_reading_everything(record_id, spelled)
        parsed.clear()
        assert api.show(record_id, records=spelled) == expected, record_id
        if record_id != "two words":  # (text with a space: any file may hold it, every one is parsed)
            assert 0 < len(parsed) < len(every), (record_id, len(parsed))
    parsed.clear()
    kayseri = api.show("kayseri", records=spelled)
    assert ("talas", "place", "/within") in [(r.id, r.type, r.pointer) for r in kayseri.referrers]  # spelled k\x61yseri
    assert any(f.endswith("broken.yaml") for f in parsed) and not any(f.endswith("broken-too.yaml") for f in parsed)
    assert [r.id for r in api.show("talas", records=spelled).referrers] == ["two words"]


def test_new_still_finds_an_id_spelled_with_an_escape(runner: CliRunner, spelled: Path) -> None:
    result = runner.invoke(main, ["new", "person", "talas", "--records", str(spelled)])
    assert result.exit_code == 1 and "already used by a place" in result.stderr
    assert not (spelled / "persons" / "talas.yaml").exists()


def test_an_unknown_id_is_looked_for_in_every_file_for_its_hint(runner: CliRunner, spelled: Path) -> None:
    typo = runner.invoke(main, ["show", "kayserri", "--records", str(spelled)])
    assert typo.exit_code == 1 and typo.stdout == ""
    assert "did you mean 'kayseri'" in typo.stderr and "(2 files could not be read" in typo.stderr
    with pytest.raises(InvalidData, match="did you mean 'kayseri'"):  # (paths given once, as an iterator)
        api.show("kayserri", records=iter([spelled]))
    article = runner.invoke(main, ["quote", "talass", "x", "--records", str(spelled)])
    assert article.exit_code == 1 and "no article has the id 'talass'" in article.stderr
    assert "did you mean" not in article.stderr  # (talas is a place)


_YAML_TEXT = st.text(st.sampled_from("ab-1 '\"\\\t\n#:é\x85\u2028\x07"), min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(
    text=_YAML_TEXT,
    style=st.sampled_from([None, '"', "'", "|", ">"]),
    width=st.integers(2, 40),
    unicode=st.booleans(),
)
def test_a_file_whose_value_is_the_text_may_hold_it_however_yaml_spells_it(
    text: str, style: str | None, width: int, unicode: bool
) -> None:
    from records_toolkit.authoring import _may_hold
    from records_toolkit.loader import Document, load_bytes

    raw = yaml.safe_dump({"ref": text}, default_style=style, width=width, allow_unicode=unicode).encode("utf-8")
    loaded = [d for d in load_bytes(raw, "f.yaml") if isinstance(d, Document)]
    if loaded and loaded[0].data == {"ref": text}:
        assert _may_hold(text)(raw), raw


def test_text_yaml_spells_only_as_itself_is_looked_for_as_bytes() -> None:
    from records_toolkit.authoring import _may_hold

    assert not _may_hold("kayseri")(b'id: "turkey"\nname: "Ankara \\"quoted\\""\n')
    assert _may_hold("kayseri")(b"id: kayseri\n") and _may_hold("kayseri")(b'id: "k\\x61yseri"\n')
    assert _may_hold("two words")(b"id: x\n") and _may_hold("it's")(b"id: x\n")  # (any file may hold these)


# -- schema ----------------------------------------------------------------------------------------


def test_schema_lists_the_types(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == sorted(load_model().types)
    assert any(line.startswith("event ") and "A real-world act" in line for line in lines)


def test_schema_event_lists_kind_with_its_allowed_values(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schema", "event"])
    assert result.exit_code == 0
    out = result.stdout
    kinds = load_model().types["event"].schema["properties"]["kind"]["enum"]
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:2] == ["kind", "required"])
    assert "allowed: " + ", ".join(kinds) in [line.strip() for line in lines[at + 1 : at + 3]]  # after its description
    assert "date          optional  EDTF date" in out
    assert "refers to: place" in out
    names = [line.split()[0] for line in lines[2:] if line.startswith("  ") and not line.startswith("    ")]
    assert names == list(load_model().types["event"].properties)


def test_api_describe_schema() -> None:
    every = api.describe_schema()
    assert [info.name for info in every] == sorted(load_model().types)
    event = api.describe_schema("event")
    status = next(f for f in event.fields if f.name == "status")
    assert status.required and "planned" in status.allowed and status.description
    locations = next(f for f in event.fields if f.name == "locations")
    assert not locations.required and locations.refers_to == ("place",)
    with pytest.raises(UsageError):
        api.describe_schema("nope")


def test_schema_unknown_type_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schema", "evnt"])
    assert result.exit_code == 2 and "did you mean 'event'" in result.stderr


# -- every command ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_help_ends_with_examples(runner: CliRunner, command: str) -> None:
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    tail = result.stdout.rstrip("\n").split("\n\n")[-1].splitlines()
    assert tail[0].strip() in ("Examples:", "Example:")
    assert tail[1:] and all(line.strip().startswith("toolkit ") for line in tail[1:])


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["new", "event", "Bad_Id"], 1),
        (["new", "place", "kayseri"], 1),
        (["new", "nope", "x"], 2),
        (["quote", ARTICLE, "zebra"], 1),
        (["quote", "no-such-article", "x"], 1),
        (["show", "no-such-record"], 1),
        (["schema", "nope"], 2),
    ],
)
def test_errors_in_a_real_process_have_no_traceback(collection: Path, args: list[str], code: int) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [str(TOOLKIT), *args, "--records", str(collection)] if args[0] != "schema" else [str(TOOLKIT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_newcomer_flow_in_a_real_process(collection: Path) -> None:
    def toolkit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TOOLKIT), *args], capture_output=True, text=True, cwd=collection.parent, timeout=60, check=False
        )

    assert toolkit("new", "event", "my-event").returncode == 0  # the default --records is records/
    block = toolkit("quote", ARTICLE, "joint", "drills").stdout
    path = collection / "events" / "my-event.yaml"
    text = path.read_text(encoding="utf-8").replace("sources:\n", "sources:\n" + block, 1)
    path.write_text(text.replace("supports: []", 'supports: ["kind"]'), encoding="utf-8")
    checked = toolkit("validate")
    assert checked.returncode == 0, checked.stdout
    shown = toolkit("show", "my-event")
    assert shown.returncode == 0 and f"cites the articles:\n  {ARTICLE}" in shown.stdout
