"""Rules across the whole collection: unique ids, references that name a record of an allowed
type, and quotes found verbatim in the article they cite.

They live apart from the checker (``validate.py``) because they work differently: the checker
sees one record at a time, perhaps in several processes, while these rules need every record.
So the checker hands each schema-valid record to :class:`Collection`, which keeps only small
indexes (ids, references, quotes, article texts); indexes from parallel chunks are merged, and
the rules run once, in :meth:`Collection.check`, when all records are in.
"""

from __future__ import annotations

import dataclasses
import sys
import typing as t

from .schemas import TypeInfo, values_at

if t.TYPE_CHECKING:
    from .loader import Document


@dataclasses.dataclass(slots=True)
class Pending:
    """A problem whose line and column are looked up once all records are read."""

    file: str
    document: int
    pointer: str
    code: str
    message: str
    at_key: bool = False


class Collection:
    """What the collection rules need of each record, and the rules themselves."""

    def __init__(self) -> None:
        self.ids: dict[str, tuple[str, int, str]] = {}  # id -> (file, document, type) of its first record
        self.repeats: list[
            tuple[str, str, int, str]
        ] = []  # (id, file, document, type) of every later record with that id
        # One flat tuple per record, (file, doc, then pointer, target, allowed for each reference)
        # and (file, doc, then pointer, article, quote for each quote): a third of the memory of a
        # tuple per reference. Read them through each_ref() and each_quote().
        self.refs: list[tuple[t.Any, ...]] = []
        self.quotes: list[tuple[t.Any, ...]] = []
        self.articles: dict[str, str] = {}  # article id -> its text (of the last article with that id)
        self.texts: list[tuple[str, str, int, str]] = []  # (article id, file, document, text) of every article

    def index(self, doc: Document, info: TypeInfo, wrong: t.AbstractSet[str] = frozenset()) -> Pending | None:
        """Note one record; a repeated id is reported now (first come, first kept).

        ``wrong`` holds the JSON pointers of values the schema refused: those are left out, every
        other value takes part (a record with one bad key still has its id, references and quotes).
        """
        data = t.cast(dict[str, t.Any], doc.data)

        def usable(value: t.Any, pointer: str) -> t.TypeGuard[str]:
            return isinstance(value, str) and pointer not in wrong

        record_id = data.get("id")
        if usable(record_id, "/id"):
            record_id = sys.intern(record_id)  # the same object as the references to it
            if record_id in self.ids:
                self.repeats.append((record_id, doc.file, doc.index, info.name))
            else:
                self.ids[record_id] = (doc.file, doc.index, info.name)
        refs: list[t.Any] = [doc.file, doc.index]
        for template, allowed in info.references:
            for pointer, target in values_at(data, template):
                if usable(target, pointer):  # interned: the same pointers and ids recur in every record
                    refs += (sys.intern(pointer), sys.intern(target), allowed)
        if len(refs) > 2:
            self.refs.append(tuple(refs))
        quotes: list[t.Any] = [doc.file, doc.index]
        sources = data.get("sources")
        for index, source in enumerate(sources if isinstance(sources, list) else []):
            if not isinstance(source, dict):
                continue
            article, quote = source.get("article"), source.get("quote")
            at = f"/sources/{index}"
            if usable(article, f"{at}/article") and usable(quote, f"{at}/quote"):
                # interned: records citing one sentence share one copy of it
                quotes += (sys.intern(f"{at}/quote"), sys.intern(article), sys.intern(quote))
        if len(quotes) > 2:
            self.quotes.append(tuple(quotes))
        if info.name == "article" and usable(record_id, "/id") and usable(data.get("text"), "/text"):
            self.articles[record_id] = data["text"]
            self.texts.append((record_id, doc.file, doc.index, data["text"]))
        return None  # duplicates are found in check(), against the first record of the whole collection

    def each_ref(self) -> t.Iterator[tuple[str, int, str, str, tuple[str, ...]]]:
        """Every reference: (file, document, pointer, target id, the types allowed there)."""
        for entry in self.refs:
            for n in range(2, len(entry), 3):
                yield entry[0], entry[1], entry[n], entry[n + 1], entry[n + 2]

    def each_quote(self) -> t.Iterator[tuple[str, int, str, str, str]]:
        """Every quote: (file, document, pointer, article id, quote)."""
        for entry in self.quotes:
            for n in range(2, len(entry), 3):
                yield entry[0], entry[1], entry[n], entry[n + 1], entry[n + 2]

    def state(self) -> dict[str, t.Any]:
        """The indexes as plain picklable values, for :meth:`merge` in another process."""
        return {
            "ids": self.ids,
            "repeats": self.repeats,
            "refs": self.refs,
            "quotes": self.quotes,
            "articles": self.articles,
            "texts": self.texts,
        }

    def merge(self, state: dict[str, t.Any]) -> list[Pending]:
        """Take in a later chunk's indexes, as if its records had been indexed here in order."""
        found: list[Pending] = []
        later: list[tuple[str, str, int, str]] = []
        for record_id, (file, index, type_name) in state["ids"].items():
            if record_id in self.ids:
                later.append((record_id, file, index, type_name))
            else:
                self.ids[record_id] = (file, index, type_name)
        self.repeats.extend(sorted([*later, *state["repeats"]], key=_in_chunk_order(state)))
        self.refs.extend(state["refs"])
        self.quotes.extend(state["quotes"])
        self.articles.update(state["articles"])
        self.texts.extend(state["texts"])
        return found

    def check(self) -> list[Pending]:
        """Every reference names a record of an allowed type; every quote is in its article."""
        found = [_duplicate(record_id, file, index, self.ids[record_id]) for record_id, file, index, _ in self.repeats]
        for file, index, pointer, target, allowed in self.each_ref():
            record = self.ids.get(target)
            if record is None:
                from .messages import did_you_mean  # only when a reference dangles

                hint = did_you_mean(target, self.ids)
                message = f"{target!r} is not the id of any record{hint}"
                found.append(Pending(file, index, pointer, "dangling-reference", message))
            elif record[2] not in allowed:
                message = f"{target!r} is a {record[2]}; here it must be {_either(allowed)}"
                found.append(Pending(file, index, pointer, "reference-type", message))
        hints = 0
        for file, index, pointer, article, quote in self.each_quote():
            text = self.articles.get(article)
            if text is None:
                continue  # a dangling or mistyped article reference was reported above
            if quote not in text:
                hints += 1
                hint = _near_miss(quote, text) if hints <= NEAR_MISS_HINTS else ""
                message = f"quote not found verbatim in article {article!r}{hint}"
                found.append(Pending(file, index, pointer, "quote-not-found", message))
        return found


def _in_chunk_order(state: dict[str, t.Any]) -> t.Callable[[tuple[str, str, int, str]], tuple[int, int]]:
    """Order a chunk's repeated ids as its records stood (files in walk order, which is sorted; then document)."""
    files = sorted({file for file, _index, _type in state["ids"].values()} | {r[1] for r in state["repeats"]})
    rank = {file: n for n, file in enumerate(files)}
    return lambda item: (rank[item[1]], item[2])


def _duplicate(record_id: str, file: str, index: int, first: tuple[str, int, str]) -> Pending:
    where = first[0] + (f" (document {first[1] + 1})" if first[1] else "")
    article = "an" if first[2][:1] in "aeiou" else "a"
    return Pending(
        file, index, "/id", "duplicate-id", f"id {record_id!r} is already used by {article} {first[2]} in {where}"
    )


def _either(names: t.Sequence[str]) -> str:
    words = [f"a {n}" if n[0] not in "aeiou" else f"an {n}" for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


#: The near-miss hint compares at most this many characters of the quote (its start) ...
NEAR_MISS_QUOTE = 200
#: ... with at most this many character pairs (difflib's worst case is their product): a short
#: article whole, a long one only in windows around pieces of the quote found verbatim in it.
NEAR_MISS_PAIRS = 250_000
NEAR_MISS_ANCHORS = 8  # pieces of the quote looked up in a long article
NEAR_MISS_HINTS = 200  # quotes not found that get the hint (the rest are reported without it)
_MIN_MATCH = 12


def _near_miss(quote: str, text: str) -> str:
    """Point at the closest passage, so a curly quote or a typo is easy to spot.

    The work is bounded whatever the sizes: the first :data:`NEAR_MISS_QUOTE` characters of the
    quote are compared with the whole article when the pair count stays under
    :data:`NEAR_MISS_PAIRS`, else with windows of the article around the places where pieces of
    the quote are found verbatim (a few ``str.find``, linear).
    """
    import difflib  # only when a quote is not found

    probe = quote[:NEAR_MISS_QUOTE]
    best: tuple[int, int, int] | None = None  # (size, start in text, start in probe)
    for begin, end in _near_miss_windows(probe, text):
        matcher = difflib.SequenceMatcher(None, text[begin:end], probe, autojunk=False)
        match = matcher.find_longest_match(0, end - begin, 0, len(probe))
        if match.size >= _MIN_MATCH and (best is None or match.size > best[0]):
            best = (match.size, begin + match.a, match.b)
    if best is not None:
        start = max(0, best[1] - best[2])
        # as it is, white space made visible (repr: a paragraph break shows as \n, a no-break space
        # as \xa0): the difference is often exactly there
        excerpt = text[start : start + min(len(quote), 80)]
        return f"; the closest passage reads {excerpt!r}"
    return ""


def _near_miss_windows(probe: str, text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` the hint compares with ``probe``: each at most NEAR_MISS_PAIRS // len(probe) long."""
    if len(probe) < _MIN_MATCH:
        return []
    span = NEAR_MISS_PAIRS // len(probe)
    if len(text) <= span:
        return [(0, len(text))]
    margin = max(0, (span - len(probe)) // 2)
    step = max(1, (len(probe) - _MIN_MATCH) // max(1, NEAR_MISS_ANCHORS - 1))
    windows: list[tuple[int, int]] = []
    for offset in range(0, len(probe) - _MIN_MATCH + 1, step)[:NEAR_MISS_ANCHORS]:
        found = text.find(probe[offset : offset + _MIN_MATCH])
        if found < 0:
            continue
        begin = max(0, found - offset - margin)
        window = (begin, min(len(text), begin + span))
        if window not in windows:
            windows.append(window)
    return windows
