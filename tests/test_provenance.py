"""Per-value provenance and attested names: what a source supports, and names its words must hold."""

from __future__ import annotations

import sys
import typing as t
import unicodedata

import pytest
from helpers import problems
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import line

from records_toolkit import provenance
from records_toolkit.provenance import attest_form, check_sources, parse_support

ATTESTED = (("aliases",),)
ARTICLE = "azernews"


def _event(aliases: list[str], *sources: dict[str, t.Any], **more: t.Any) -> dict[str, t.Any]:
    return {"id": "e", "type": "event", "name": "E", "aliases": aliases, "sources": list(sources), **more}


def _quoted(quote: str, *supports: str) -> dict[str, t.Any]:
    return {"article": ARTICLE, "quote": quote, "supports": ["name", *supports]}


def _codes(record: dict[str, t.Any]) -> list[tuple[str, str]]:
    return [(pointer, code) for pointer, code, _message, _at_key in check_sources(record, ATTESTED)]


@pytest.mark.parametrize(
    ("value", "quote"),
    [
        ("EFES - 2022", "will join the EFES – 2022 drills"),  # en dash
        ("Winter Training-2022", "WINTER TRAINING—2022"),  # case and em dash
        ("Anadolu Ajansı", "from  Anadolu\nAjansı:"),  # white space
        ("O'Neil", "said O’Neil"),  # typographic apostrophe
        ('"Eternity"', "the «Eternity» drills"),  # guillemets
        ("ＥＦＥＳ", "EFES-2022"),  # full-width letters (NFKC)
        ("İzmir", "İZMİR’DE EFES-2022 TATBİKATI"),  # Turkish dotted capital I
        ("ırmak", "IRMAK"),  # Turkish dotless i
        ("EFES-2022", "EFES\u200b-2022"),  # a zero-width space pasted from a web page
        ("Seferihisar", "Seferi\u00adhisar"),  # a soft hyphen
        ("EFES - 2022", "EFES ⸺ 2022"),  # a two-em dash
    ],
)
def test_an_alias_is_attested_by_a_quote_that_holds_it_after_folding(value: str, quote: str) -> None:
    assert attest_form(value) in attest_form(quote)
    assert _codes(_event([value], _quoted(quote, "aliases"))) == []


def test_an_alias_in_no_quote_is_unattested_at_its_value() -> None:
    record = _event(["EFES-2022", "ArMI-2022"], _quoted("the EFES-2022 drills", "aliases"))
    found = check_sources(record, ATTESTED)
    assert [(p, c) for p, c, _, _ in found] == [("/aliases/1", "unattested-text")]
    assert "'ArMI-2022' appears in no quote of the sources that support it (/sources/0)" in found[0][2]


def test_an_unquoted_outside_source_vouches_for_an_alias() -> None:
    outside = {"url": "https://example.org/a", "title": "A", "supports": ["aliases: ArMI-2022"]}
    record = _event(["EFES-2022", "ArMI-2022"], _quoted("the EFES-2022 drills", "aliases"), outside)
    assert _codes(record) == []


def test_an_outside_quote_attests_only_what_it_holds() -> None:
    outside = {
        "url": "https://example.org/a",
        "title": "A",
        "quote": "ArMI-2022 opened",
        "supports": ["name", "aliases"],
    }
    record = _event(["ArMI-2022", "Army Games"], outside)
    assert _codes(record) == [("/aliases/1", "unattested-text")]


def test_a_value_supported_by_value_needs_no_whole_field_support() -> None:
    record = _event(
        ["EFES - 2022"],
        _quoted("join the EFES – 2022", "aliases: EFES - 2022", "locations: izmir", "participants: azerbaijan"),
        locations=["izmir"],
        participants=[{"ref": "azerbaijan", "role": "participant"}],
    )
    assert _codes(record) == []


def test_each_value_of_a_field_supported_value_by_value_needs_a_source() -> None:
    record = _event([], _quoted("x", "locations: izmir"), locations=["izmir", "seferihisar"])
    del record["aliases"]
    found = check_sources(record, ATTESTED)
    assert [(p, c) for p, c, _, _ in found] == [("/locations/1", "unsourced-fact")]
    assert "name 'locations: seferihisar' (or 'locations')" in found[0][2]


def test_a_value_the_field_does_not_hold_is_named_with_a_hint() -> None:
    record = _event(["E1"], _quoted("E1", "aliases", "locations: izmr"), locations=["izmir"])
    found = check_sources(record, ATTESTED)
    assert [(p, c) for p, c, _, _ in found] == [
        ("/sources/0/supports/2", "unknown-supported-value"),
        ("/locations", "unsourced-fact"),
    ]
    assert "(did you mean 'izmir'?)" in found[0][2]


def test_a_value_of_a_field_the_record_lacks_is_an_unknown_field() -> None:
    found = check_sources(_event(["E1"], _quoted("E1", "aliases", "locations: izmir")), ATTESTED)
    assert [(p, c) for p, c, _, _ in found] == [("/sources/0/supports/2", "unknown-supported-field")]
    assert "supports 'locations: izmir', but the record has no 'locations'" in found[0][2]


def test_parse_support_splits_at_the_first_colon_and_space() -> None:
    assert parse_support("date") == ("date", None)
    assert parse_support("aliases: Operation: Eagle") == ("aliases", "Operation: Eagle")


def test_attesting_is_bounded_and_says_what_it_left_unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provenance, "ATTEST_BUDGET", 100)
    record = _event([f"name {n}" for n in range(10)], _quoted("x" * 40 + " name 0 name 1 name 2", "aliases"))
    found = check_sources(record, ATTESTED)
    assert [(p, c) for p, c, _, _ in found] == [("/aliases/1", "unattested-text")]
    assert "'name 1' and the values after it were not checked" in found[0][2]


def test_the_shipped_schemas_mark_every_types_aliases_attested() -> None:
    from records_toolkit.schemas import load_model

    model = load_model()
    assert {name: info.attested for name, info in model.types.items()} == dict.fromkeys(model.types, (("aliases",),))


def test_the_whole_checker_reports_the_rule_with_no_cascade() -> None:
    """Through validation: one unattested alias, and a schema error elsewhere hides nothing."""
    place = {
        "id": "p",
        "type": "place",
        "name": "P",
        "kind": "city",
        "aliases": ["Pee", "Invented"],
        "coordinates": {"latitude": 91, "longitude": 0},
        "sources": [
            {
                "url": "https://example.org/p",
                "title": "P",
                "quote": "P, or Pee",
                "supports": ["name", "kind", "aliases", "coordinates"],
            }
        ],
    }
    said = problems([place])
    assert any(s.startswith("/aliases/1: 'Invented' appears in no quote") for s in said), said
    assert any(s.startswith("/coordinates/latitude:") for s in said) and len(said) == 2, said


_DASH = st.sampled_from(["-", "\u2013", "\u2014", "\u2011", "\u2212"])
_QUOTE = st.sampled_from(["'", "\u2019", "\u2018", '"', "\u201c", "\u00ab"])


@given(st.lists(st.one_of(line, _DASH, _QUOTE), min_size=1, max_size=6), st.data())
def test_an_alias_found_in_its_quote_with_other_dashes_quotes_spacing_and_ascii_case_is_attested(
    parts: list[str], data: st.DataObject
) -> None:
    alias = " ".join(parts)
    dashes, quotes = "-\u2013\u2014\u2011\u2212", "'\u2019\u2018\"\u201c\u00ab"

    def vary(part: str) -> str:
        if part in dashes:
            return data.draw(_DASH)
        if part in quotes:
            return data.draw(_QUOTE)
        return part.swapcase() if part.isascii() else part

    quote = "Before, " + "  ".join(vary(p) for p in parts) + " after."
    record = _event([alias.strip()], _quoted(quote, "aliases"))
    assert _codes(record) == []


def test_per_value_entries_cost_one_pass_over_each_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """10,000 entries naming 10,000 aliases: each field's values are listed once, not once per entry."""
    calls = []
    real = provenance.value_keys
    monkeypatch.setattr(provenance, "value_keys", lambda value: calls.append(1) or real(value))
    aliases = [f"alias number {n:05d}" for n in range(10_000)]
    outside = {"url": "https://example.org/a", "title": "A", "supports": ["name", *(f"aliases: {a}" for a in aliases)]}
    assert _codes(_event(aliases, outside)) == []
    assert len(calls) <= 3


def test_only_the_first_unknown_values_get_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = provenance.did_you_mean
    monkeypatch.setattr(provenance, "did_you_mean", lambda *a: calls.append(1) or real(*a))
    aliases = [f"alias number {n:05d}" for n in range(500)]
    entries = [f"aliases: alias numbr {n:05d}" for n in range(500)]
    outside = {"url": "https://example.org/a", "title": "A", "supports": ["name", "aliases", *entries]}
    found = check_sources(_event(aliases, outside), ATTESTED)
    assert [c for _, c, _, _ in found] == ["unknown-supported-value"] * 500
    assert len(calls) == provenance.HINTS and "did you mean" in found[0][2] and "did you mean" not in found[-1][2]


def test_a_message_names_a_few_sources_and_counts_the_rest() -> None:
    sources = [_quoted(f"quote {n}", "aliases") for n in range(50)]
    found = check_sources(_event(["zq"], *sources), ATTESTED)
    assert [(p, c) for p, c, _, _ in found] == [("/aliases/0", "unattested-text")]
    assert "(/sources/0, /sources/1, /sources/2 and 47 more)" in found[0][2]


def test_many_quoted_sources_times_many_aliases_stay_within_the_budget() -> None:
    """4,000 aliases x 5,000 quoted sources: the budget counts every comparison, so this stops early."""
    sources = [
        {"url": f"https://example.org/{n}", "title": "T", "quote": "x", "supports": ["aliases"]} for n in range(5000)
    ]
    sources.insert(0, {"url": "https://example.org/n", "title": "N", "supports": ["name"]})
    found = check_sources(_event([f"zq{n:05d}" for n in range(4000)], *sources), ATTESTED)
    assert 1 < len(found) < 4000 and "were not checked against their quotes" in found[-1][2]


def test_a_value_the_schema_refused_is_not_also_an_unknown_value() -> None:
    record = _event([5], _quoted("x", "aliases: 5"))  # type: ignore[list-item]
    assert _codes(dict(record)) != [] and all(
        code != "unknown-supported-value"
        for _, code in [(p, c) for p, c, _, _ in check_sources(record, ATTESTED, {"/aliases/0"})]
    )


def test_a_mapping_field_is_supported_only_as_a_whole() -> None:
    record = _event(["E"], _quoted("E", "aliases", "identifiers: wikidata"), identifiers={"wikidata": "Q1"})
    found = check_sources(record, ATTESTED)
    assert ("/sources/0/supports/2", "unknown-supported-value") in [(p, c) for p, c, _, _ in found]
    assert "'identifiers' can only be supported as a whole" in found[0][2]


def test_with_a_source_refused_only_entries_naming_nothing_are_reported() -> None:
    """A `supports` entry written as a mapping is refused by the schema: what the sources support is
    then not known in full, so no fact is called unsourced and no name unattested."""
    record = _event(["Invented"], _quoted("x", "locations: nowhere"), locations=["izmir"])
    found = check_sources(record, ATTESTED, {"/sources/0/supports/0"})
    assert [(p, c) for p, c, _, _ in found] == [("/sources/0/supports/1", "unknown-supported-value")]


def _attest_form_by_the_long_way(text: str) -> str:
    """What attest_form is defined as: every step, for every text (it takes short cuts)."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(provenance._FOLD).casefold().split())


# White space str.split() splits on (\x1c-\x1f among it, \x85 and \u2028 beyond ASCII), the ASCII
# marks that fold (" and `), characters NFKC or casefold change, and every character of the fold.
_TRICKY_ASCII = "aZ09 '\"`-\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x00\x7f"
_TRICKY = (
    _TRICKY_ASCII + "\x85\xa0\u2028\u2029\u3000\uff02\uff07\uff0dßẞﬁǅİıΣς\u0301Ⅻ①" + "".join(map(chr, provenance._FOLD))
)


@settings(max_examples=500)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=st.characters(max_codepoint=127)),
        st.text(alphabet=st.sampled_from(_TRICKY)),
        st.text(alphabet=st.sampled_from(_TRICKY_ASCII)),
    )
)
def test_attest_form_gives_what_the_long_way_gives(text: str) -> None:
    assert attest_form(text) == _attest_form_by_the_long_way(text)


def test_attest_form_of_every_character_is_the_long_ways() -> None:
    for code in range(0x30000):
        if 0xD800 <= code < 0xE000:
            continue
        text = f"A{chr(code)} b{chr(code)}"
        assert attest_form(text) == _attest_form_by_the_long_way(text), hex(code)


def test_every_white_space_but_the_space_is_unprintable() -> None:
    """attest_form strips a printable text without two spaces in a row instead of splitting it:
    this makes that the same (for the Unicode of the Python running)."""
    printable_space = [hex(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and chr(c).isprintable()]
    assert printable_space == ["0x20"]
