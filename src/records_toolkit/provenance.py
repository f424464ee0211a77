"""Where each fact of one record comes from: the rules on its ``sources`` and their ``supports``.

A source supports a whole field (``"date"``) or one value of a field (``"aliases: EFES-2022"``;
a reference by the id it names, ``"participants: azerbaijan"``). Every fact needs a source,
field by field or value by value (``unsourced-fact``); a source may only name what the record
holds (``unknown-supported-field``, ``unknown-supported-value``).

Text the schema marks ``x-attested`` (aliases: names are where invention creeps in) is checked
against the words its sources give: when every source supporting a value carries a quote, the
value must appear in one of them, compared by :func:`attest_form` (``unattested-text``). A
source without a quote (an outside page cited by URL and title) is taken at its word: there is
nothing to compare with, and ``confidence`` says how far it is trusted.

These rules need one record only, so they run in the checker, in any worker process.
"""

from __future__ import annotations

import re
import typing as t

from .messages import did_you_mean
from .problems import pointer_join
from .schema_types import Template, compile_template

#: The fields no source has to support: identity, bookkeeping and free prose about the record.
NOT_FACTS = frozenset({"id", "type", "sources", "notes", "description"})

Item = tuple[str, str, str, bool]  # (pointer, code, message, at_key), as the schema messages

#: Characters of quotes read to attest the values of one file, at most (each comparison counts
#: at least :data:`_MIN_COST`). Each value is looked for in each quote supporting it, so 10,000
#: aliases and an 8 MB quote (one 16 MiB file) would read 80 GB: past this the rest is reported
#: as not checked (``unattested-text``), never read.
ATTEST_BUDGET = 50_000_000
_MIN_COST = 64
_NO_FIELDS: frozenset[str] = frozenset()
HINTS = 20  # unknown values per record that get a did-you-mean (each compares with every value)
SHOWN_SOURCES = 3  # sources named in one message

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e17\u2e3a\u2e3b\u058a\u1806\u301c\ufe31\ufe32\ufe58\ufe63\uff0d"
_QUOTE_MARKS = '\u2018\u2019\u201a\u201b\u2032\u00b4`\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\u2039\u203a"'
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"  # soft hyphen, zero-width characters: pasted from web pages
_FOLD = str.maketrans(
    {
        **dict.fromkeys(_DASHES, "-"),
        **dict.fromkeys(_QUOTE_MARKS, "'"),
        **dict.fromkeys(_INVISIBLE, None),
        "\u0130": "i",  # İ: casefold would give i + a combining dot, and İZMİR would not hold İzmir
        "\u0131": "i",  # ı: its capital is I (IRMAK, ırmak)
    }
)
# _FOLD as a pattern and a mapping: str.translate looks every character of a text that is not
# ASCII up in its table (an exception for each one not there), some ten times slower than this.
# The pattern is compiled for the first text that is not ASCII (0.4 ms: most runs meet none).
_FOLDED: re.Pattern[str] | None = None
_FOLD_TEXT = {chr(code): to or "" for code, to in _FOLD.items()}


def attest_form(text: str) -> str:
    """``text`` as attestation compares it: Unicode-compatible forms (NFKC), every dash a hyphen,
    every quote mark an apostrophe, invisible characters dropped, Turkish dotted and dotless i
    as i, case folded, runs of white space one space."""
    if text.isascii():  # NFKC leaves it as it is; of _FOLD only " and ` are ASCII; casefold is lower
        if '"' in text or "`" in text:
            text = text.replace('"', "'").replace("`", "'")
        return _one_space(text.lower())
    global _FOLDED
    if _FOLDED is None:
        _FOLDED = re.compile("[" + "".join(re.escape(chr(code)) for code in _FOLD) + "]")
    import unicodedata  # (only for a text that is not ASCII)

    text = unicodedata.normalize("NFKC", text)
    # .translate(_FOLD), a character at a time: each one present replaced throughout at once (a
    # quote holds a few kinds, several times each; a sub() calling back for each match is 2.5x as slow)
    for char in set(_FOLDED.findall(text)):
        text = text.replace(char, _FOLD_TEXT[char])
    return _one_space(text.casefold())


def _one_space(text: str) -> str:
    """``" ".join(text.split())``: runs of white space as one space, none at the ends; a text
    whose only white space is single spaces (most quotes) is not split and joined (10 times the cost)."""
    if "  " not in text and text.isprintable():  # (every white space but " " is unprintable)
        return text.strip()
    return " ".join(text.split())


class Budget:
    """What is left of :data:`ATTEST_BUDGET` for one file (shared by its records)."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = ATTEST_BUDGET


def parse_support(entry: str) -> tuple[str, str | None]:
    """``"date"`` -> ``("date", None)``; ``"aliases: EFES-2022"`` -> ``("aliases", "EFES-2022")``.

    Field names never hold ``:`` (the schema's pattern), so the first ``": "`` splits.
    """
    field, sep, value = entry.partition(": ")
    return (field, value) if sep else (entry, None)


def value_keys(value: t.Any) -> list[tuple[str, str | None]]:
    """How each value of a field is named in ``supports``, with its pointer below the field.

    A list gives one entry per item: a text item by itself, a mapping by its ``ref`` (a
    participant by the record it names), anything else by nothing (``None``: only the whole
    field can be supported). A text field is named by its text.
    """
    if isinstance(value, list):
        out: list[tuple[str, str | None]] = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                item = item.get("ref")
            out.append((f"/{index}", item if isinstance(item, str) else None))
        return out
    return [("", value if isinstance(value, str) else None)]


def check_sources(
    data: dict[str, t.Any],
    attested: t.Sequence[Template],
    wrong: t.AbstractSet[str] = frozenset(),
    budget: Budget | None = None,
) -> list[Item]:
    """The problems of one record's provenance; ``wrong`` holds pointers the schema refused.

    With a source refused by the schema (a `supports` entry written as a mapping), what the
    record's sources support is not known in full: then only the entries that name nothing the
    record holds are reported, never a fact as unsourced or a name as unattested.
    """
    sources = data.get("sources")
    if not isinstance(sources, list):
        return []
    found: list[Item] = []
    wrong_fields = {pointer.split("/")[1] for pointer in wrong if pointer.count("/") >= 1} if wrong else _NO_FIELDS
    whole: dict[str, list[int]] = {}  # field -> the sources supporting all of it
    by_value: dict[tuple[str, str], list[int]] = {}  # (field, value) -> the sources naming it
    keys_of: dict[str, list[str]] = {}  # field -> how its values are named (computed once per field)
    key_sets: dict[str, set[str]] = {}
    hints = 0
    for index, source in enumerate(sources):
        supports = source.get("supports") if isinstance(source, dict) else None
        if not isinstance(supports, list):
            continue
        for position, entry in enumerate(supports):
            if not isinstance(entry, str) or (wrong and f"/sources/{index}/supports/{position}" in wrong):
                continue
            field, sep, value = entry.partition(": ")  # parse_support(entry), inline
            if field not in data:
                at = f"/sources/{index}/supports/{position}"
                found.append((at, "unknown-supported-field", _no_field(entry, field), False))
            elif not sep:
                if field in whole:
                    whole[field].append(index)
                else:
                    whole[field] = [index]
            else:
                if field not in keys_of:
                    keys_of[field] = [key for _, key in value_keys(data[field]) if key is not None]
                    key_sets[field] = set(keys_of[field])
                keys = keys_of[field]
                if value in key_sets[field]:
                    by_value.setdefault((field, value), []).append(index)
                elif field not in wrong_fields:  # a value the schema refused is reported once, there
                    found.append(
                        (
                            f"/sources/{index}/supports/{position}",
                            "unknown-supported-value",
                            _no_value(data[field], field, value, keys, hints < HINTS),
                            False,
                        )
                    )
                    hints += 1
    if "sources" in wrong_fields:
        return found
    valued = {field for field, _ in by_value}
    for field, value in data.items():
        if field in NOT_FACTS or field in whole:
            continue
        where = pointer_join("", field)
        if wrong and where in wrong:
            continue
        if field not in valued:
            message = f"{field!r} has no source: name it in the `supports` list of a source"
            found.append((where, "unsourced-fact", message, True))
            continue
        for below, key in value_keys(value):  # supported value by value: each one needs its source
            if (key is not None and (field, key) in by_value) or (wrong and (where + below) in wrong):
                continue
            if key is None:
                message = f"this value of {field!r} has no source, and only the whole field can be named: add {field!r} to the `supports` of a source"
            else:
                message = f"{key!r} of {field!r} has no source: name {field + ': ' + key!r} (or {field!r}) in the `supports` list of a source"
            found.append((where + below, "unsourced-fact", message, False))
    found.extend(_unattested(data, sources, attested, whole, by_value, wrong, budget or Budget()))
    return found


def _unattested(
    data: dict[str, t.Any],
    sources: list[t.Any],
    attested: t.Sequence[Template],
    whole: dict[str, list[int]],
    by_value: dict[tuple[str, str], list[int]],
    wrong: t.AbstractSet[str],
    budget: Budget,
) -> t.Iterator[Item]:
    """Attested text whose every source has a quote, and no quote holds it.

    The sources supporting a whole field are looked at once per field, not once per value: the
    cost is the values times the quotes that hold them, bounded by ``budget``.
    """
    forms: dict[int, str | None] = {}  # each quote normalised once per record

    def quote_form(index: int) -> str | None:
        if index not in forms:
            source = sources[index]
            quote = source.get("quote") if isinstance(source, dict) else None
            usable = isinstance(quote, str) and not (wrong and f"/sources/{index}/quote" in wrong)
            forms[index] = attest_form(quote) if isinstance(quote, str) and usable else None
        return forms[index]

    for template in attested:
        if len(template) != 1:  # per-value support names top-level fields only
            continue
        values = compile_template(template)(data)
        if not values:
            continue
        field = template[0]
        common = whole.get(field, [])
        common_quotes = [quote_form(i) for i in common]
        if None in common_quotes:
            continue  # an unquoted source vouches for the whole field
        for pointer, value in values:
            for below, key in value_keys(value):
                if key is None or (wrong and (pointer + below) in wrong):
                    continue
                own = [i for i in by_value.get((field, key), ()) if i not in common]
                own_quotes = [quote_form(i) for i in own]
                if not (common or own) or None in own_quotes:
                    continue  # unsourced (reported), or an unquoted source vouches for it
                quotes = t.cast(list[str], common_quotes + own_quotes if own_quotes else common_quotes)
                cost = 0
                for quote in quotes:  # (a loop, not sum() over a generator: most values have one or two)
                    cost += max(len(quote), _MIN_COST)
                budget.left -= cost
                if budget.left < 0:
                    message = (
                        f"{key!r} and the values after it were not checked against their quotes: that would "
                        f"read over {ATTEST_BUDGET:,} characters of quotes in this file (shorten the quotes, "
                        "or split the records)"
                    )
                    yield (pointer + below, "unattested-text", message, False)
                    return
                form = attest_form(key)
                for quote in quotes:
                    if form in quote:
                        break
                else:
                    cited = _either([f"/sources/{i}" for i in sorted([*common, *own])])
                    message = (
                        f"{key!r} appears in no quote of the sources that support it ({cited}): "
                        "cite a source whose words hold it, or remove it"
                    )
                    yield (pointer + below, "unattested-text", message, False)


def _no_field(entry: str, field: str) -> str:
    if entry == field:
        return f"this source supports {field!r}, but the record has no {field!r}"
    return f"this source supports {entry!r}, but the record has no {field!r}"


def _no_value(held: t.Any, field: str, value: str, keys: list[str], hint: bool) -> str:
    if not isinstance(held, (list, str)):
        return f"this source supports {value!r} of {field!r}, but {field!r} can only be supported as a whole: name {field!r}"
    close = did_you_mean(value, keys) if hint else ""
    return f"this source supports {value!r} of {field!r}, but the record's {field!r} has no {value!r}{close}"


def _either(names: t.Sequence[str]) -> str:
    if len(names) > SHOWN_SOURCES:
        return ", ".join(names[:SHOWN_SOURCES]) + f" and {len(names) - SHOWN_SOURCES:,} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
