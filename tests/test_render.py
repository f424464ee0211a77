"""The CI forms of the problem report, held to what their consumers take.

SARIF: the OASIS 2.1.0 schema (vendored in tests/data/sarif), and the rules GitHub code scanning
documents for uploaded SARIF ("SARIF support for code scanning") and Microsoft's SARIF Multitool
checks with ``validate --rule-kind-option Gh,Ghas`` (GH1001-GH1007, GHAS1011-GHAS2012): the final
schema URI; a tool driver with a name, an ``informationUri`` and rules; every rule with
``shortDescription``, ``fullDescription``, ``help`` (text and Markdown) and a ``helpUri``; every
result with a rule, a level, a message, one location whose URI is relative or ``file:``, a region
with ``startLine``, and ``partialFingerprints``. GitHub's limits: 25,000 results and 25,000 rules a run.

GitHub workflow commands: the last line is a notice counting every problem, since GitHub shows
only ten annotations of each type per step.
"""

from __future__ import annotations

import json
import re
import typing as t
import urllib.parse
from pathlib import Path

import jsonschema
import pytest

from records_toolkit import render
from records_toolkit.problems import CODES, Problem, Report

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif" / "sarif-schema-2.1.0.json").read_text("utf-8"))
GITHUB = ("https://github.com/OWNER/records-toolkit", "https://github.com/OWNER/records-toolkit/blob/v0.2.0/README.md")
LEVELS = {"none", "note", "warning", "error"}


def problems() -> Report:
    return Report(
        [
            Problem(file="records/places/a.yaml", line=3, column=5, pointer="/name", code="schema-type", message="x"),
            Problem(file="records/places/a.yaml", line=3, column=5, pointer="/name", code="schema-type", message="y"),
            Problem(file="records/b.yaml", line=None, column=None, pointer="", code="file-unreadable", message="gone"),
            Problem(file="a:b c%.yaml", line=None, column=None, pointer="/x", code="not-canonical", message="fmt"),
            Problem(
                file="/abs/café.yaml",
                line=1,
                column=1,
                pointer="",
                code="text-not-block",
                message="w",
                severity="warning",
            ),
            Problem(file="records/c.yaml", line=2, column=1, pointer="", code="no-such-code", message="z"),
        ],
        files=5,
        records=4,
    )


def github_profile(doc: dict[str, t.Any]) -> list[str]:
    """What GitHub code scanning (and the Multitool's GitHub rules) would refuse or not show."""
    found: list[str] = []
    if not str(doc.get("$schema", "")).endswith(("sarif-schema-2.1.0.json", "sarif-2.1.0.json")):
        found.append("$schema is not the final 2.1.0 schema")
    if doc.get("version") != "2.1.0":
        found.append("version")
    for run in doc.get("runs", []):
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            found.append("driver.name")
        if not urllib.parse.urlsplit(driver.get("informationUri", "")).scheme:
            found.append("driver.informationUri")
        rules = driver.get("rules")
        if not isinstance(rules, list) or len(rules) > 25_000:
            found.append("driver.rules")
            rules = []
        ids = [rule.get("id") for rule in rules]
        for rule in rules:
            for key in ("shortDescription", "fullDescription"):
                if not str(rule.get(key, {}).get("text", "")).strip():
                    found.append(f"{rule.get('id')}: {key}.text")
            for key in ("text", "markdown"):
                if not str(rule.get("help", {}).get(key, "")).strip():
                    found.append(f"{rule.get('id')}: help.{key}")
            if urllib.parse.urlsplit(rule.get("helpUri", "")).scheme not in ("https", "http", "file"):
                found.append(f"{rule.get('id')}: helpUri")
        results = run.get("results")
        if not isinstance(results, list) or len(results) > 25_000:
            found.append("results")
            results = []
        for i, result in enumerate(results):
            if result.get("ruleId") not in ids:
                found.append(f"result {i}: ruleId names no rule")
            elif "ruleIndex" in result and ids[result["ruleIndex"]] != result["ruleId"]:
                found.append(f"result {i}: ruleIndex")
            if result.get("level", "warning") not in LEVELS:
                found.append(f"result {i}: level")
            if not str(result.get("message", {}).get("text", "")).strip():
                found.append(f"result {i}: message.text")
            if not result.get("partialFingerprints"):
                found.append(f"result {i}: partialFingerprints")
            locations = result.get("locations") or []
            if not 1 <= len(locations) <= 1_000:
                found.append(f"result {i}: locations")
            for location in locations:
                physical = location.get("physicalLocation", {})
                uri = physical.get("artifactLocation", {}).get("uri", "")
                scheme = urllib.parse.urlsplit(uri).scheme
                if not uri or scheme not in ("", "file"):
                    found.append(f"result {i}: uri {uri!r} is neither relative nor file:")
                if (
                    not isinstance(physical.get("region", {}).get("startLine"), int)
                    or physical["region"]["startLine"] < 1
                ):
                    found.append(f"result {i}: region.startLine")
    return found


@pytest.fixture
def on_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "documentation", lambda: GITHUB)


def test_sarif_is_valid_against_the_oasis_schema_and_githubs_profile(on_github: None) -> None:
    doc = json.loads(render.sarif(problems()))
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(doc)
    assert github_profile(doc) == []
    assert github_profile({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": [{"id": "a"}]}}}]})


def test_every_rule_is_documented_and_links_to_the_code_table(on_github: None) -> None:
    doc = json.loads(render.sarif(problems()))
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == GITHUB[0]
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert sorted(rules) == ["file-unreadable", "no-such-code", "not-canonical", "schema-type", "text-not-block"]
    for code, rule in rules.items():
        assert rule["helpUri"] == GITHUB[1] + "#problem-codes"  # README's "### Problem codes"
        assert CODES.get(code, code) in rule["fullDescription"]["text"]
        assert rule["help"]["markdown"].startswith(f"**`{code}`**")
        assert GITHUB[1] + "#problem-codes" in rule["help"]["text"]
    assert rules["text-not-block"]["defaultConfiguration"]["level"] == "warning"
    assert rules["schema-type"]["shortDescription"]["text"] == "A value has the wrong JSON type"
    # the README documents every code under the anchor linked (a table row per code)
    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    assert "\n### Problem codes\n" in readme
    assert all(f"| `{code}` |" in readme for code in CODES)


def test_file_level_results_carry_a_region_and_uris_are_references(on_github: None) -> None:
    results = json.loads(render.sarif(problems()))["runs"][0]["results"]
    by_message = {r["message"]["text"]: r["locations"][0]["physicalLocation"] for r in results}
    assert by_message["gone"] == {"artifactLocation": {"uri": "records/b.yaml"}, "region": {"startLine": 1}}
    assert by_message["fmt"]["artifactLocation"]["uri"] == "a%3Ab%20c%25.yaml"  # no "a:" scheme
    assert by_message["w"]["artifactLocation"]["uri"] == "file:///abs/caf%C3%A9.yaml"
    assert by_message["x"]["region"] == {"startLine": 3, "startColumn": 5}
    prints = [r["partialFingerprints"]["recordsToolkitProblem/v1"] for r in results]
    assert len(set(prints)) == len(prints)
    assert json.loads(render.sarif(problems()))["runs"][0]["results"] == results  # stable


def test_the_installed_toolkit_documents_its_codes() -> None:
    """In this checkout (an editable install of a git clone) the links go to the local README."""
    render.documentation.cache_clear()
    docs = render.documentation()
    assert docs is not None and docs[1].startswith("file://") and docs[1].endswith("/README.md")
    doc = json.loads(render.sarif(problems()))
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(doc)
    assert github_profile(doc) == []


def test_without_a_known_home_the_sarif_is_still_schema_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "documentation", lambda: None)
    doc = json.loads(render.sarif(problems()))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    assert "`toolkit codes` lists every code" in doc["runs"][0]["tool"]["driver"]["rules"][0]["help"]["text"]


def test_github_form_ends_with_a_notice_counting_every_problem() -> None:
    many = Report(
        [Problem(file=f"r/{i % 3}.yaml", line=i + 1, column=1, pointer="", code="x", message="m") for i in range(12)]
        + [Problem(file="r/w.yaml", line=1, column=1, pointer="", code="y", message="m", severity="warning")],
        files=7,
        records=7,
    )
    lines = render.github(many).splitlines()
    assert len(lines) == 14 and all(line.startswith(("::error ", "::warning ")) for line in lines[:13])
    assert lines[-1] == (
        "::notice title=records-toolkit::12 problems and 1 warning in 4 files (7 records in 7 files checked). "
        "GitHub shows at most 10 annotations per type per step; see the job log or SARIF (--output-format sarif) "
        "for them all"
    )
    assert render.github(Report(files=2, records=2)) == (
        "::notice title=records-toolkit::no problems (2 records in 2 files checked)\n"
    )


def test_the_notice_is_escaped_as_a_workflow_command() -> None:
    """Data: ``%``, CR and LF encoded; the notice holds only counts, and still goes through them."""
    line = render.github_summary(
        Report([Problem(file="a%\n.yaml", line=1, column=1, pointer="", code="x", message="m")])
    )
    assert "\n" not in line and "\r" not in line
    assert re.fullmatch(r"::notice title=records-toolkit::[^%\r\n]*", line)


def test_visible_escapes_every_control_and_bidi_character_and_keeps_the_rest() -> None:
    """Text of plain printable ASCII is kept as it is without looking at each character; anything
    else is looked at: every character escaped exactly when it is hidden."""
    hidden = {*range(0x20), 0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029}
    hidden |= {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF}
    for code in [*range(0x300), *sorted(hidden), 0x2030, 0x1F600, 0xDC80, 0xDCFF]:
        char = chr(code)
        for text in (char, f"plain {char} text", f"{char}{char}"):
            shown = render.visible(text)
            if code in hidden or 0xD800 <= code < 0xE000:
                assert char not in shown and "\\" in shown, (hex(code), shown)
            else:
                assert shown == text, hex(code)
    assert render.visible("a\x1b[31mb") == "a\\x1b[31mb" and render.visible("\udc80") == "\\x80"


def test_many_notices_are_said_one_a_line_in_order() -> None:
    """Written a thousand lines at a time: the same lines, each escaped, none with -q."""
    from click.testing import CliRunner

    from records_toolkit.cli import _said

    notices = [f"event e{n}: left out" + (" \x1b[2J" if n % 1000 == 999 else "") for n in range(2500)]
    runner = CliRunner()
    with runner.isolation() as (_out, err, *_):
        _said(notices, False)
        said = err.getvalue().decode().splitlines()
    assert said == [f"notice: {render.visible(n)}" for n in notices]
    assert "notice: event e999: left out \\x1b[2J" in said
    with runner.isolation() as (_out, err, *_):
        _said(notices, True)
        assert err.getvalue() == b""
