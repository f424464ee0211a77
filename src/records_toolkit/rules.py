"""Rules across the whole collection: unique ids, references that name a record of an allowed
type, and quotes found verbatim in the article they cite.

They live apart from the checker (``validate.py``) because they work differently: the checker
sees one record at a time, perhaps in several processes, while these rules need every record.
So the checker hands each schema-valid record to :class:`Collection`, which keeps only small
indexes (ids, references, quotes, article texts); indexes from parallel chunks are merged, and
the rules run once, in :meth:`Collection.check`, when all records are in.

Those indexes cost some 600 bytes of Python objects per record: 60 MB at 100,000 records, 60 GB
at 10^8. A large run's collection therefore moves them, once it passes :data:`SPILL_FROM`
records, into a private temporary SQLite database (:class:`_OnDisk`) whose page cache is bounded:
memory then stays flat whatever the size: references are checked by joins, quotes one
article's text at a time. Same problems, same order.
"""

from __future__ import annotations

import itertools
import sys
import typing as t

from .problems import Value
from .schemas import TypeInfo, compile_template

if t.TYPE_CHECKING:
    from .loader import Document
    from .output import SignalGuard

T = t.TypeVar("T")


class Pending(Value):
    """A problem whose line and column are looked up once all records are read."""

    __slots__ = ("at_key", "code", "document", "file", "message", "pointer")
    _fields = __match_args__ = ("file", "document", "pointer", "code", "message", "at_key")

    file: str
    document: int
    pointer: str
    code: str
    message: str
    at_key: bool

    def __init__(self, file: str, document: int, pointer: str, code: str, message: str, at_key: bool = False) -> None:
        self.file = file
        self.document = document
        self.pointer = pointer
        self.code = code
        self.message = message
        self.at_key = at_key


#: Records (ids indexed or merged) past which a collection allowed to spill moves its indexes to
#: disk (:class:`_OnDisk`); below it they stay in dicts and lists, faster for what most runs hold.
SPILL_FROM = 25_000
#: Once on disk, the records indexed here are written there in batches of this many.
FLUSH_EVERY = 4096
#: The page cache of the disk indexes, in KiB: all the memory they take, whatever their size.
DISK_CACHE_KIB = 4096
CHECK_CACHE_KIB = 1024  # (the least the sorter keeps in memory: 250 pages)
#: The pointers of the first sources' quotes, made and interned once (records cite a few sources).
_QUOTE_POINTERS = tuple(sys.intern(f"/sources/{index}/quote") for index in range(16))


class Collection:
    """What the collection rules need of each record, and the rules themselves.

    ``spill_from``: the records past which the indexes move to disk (None: never, for a worker's
    chunk whose :meth:`state` goes elsewhere, or a caller that reads the indexes themselves).
    ``for_snapshot``: the result cache's snapshot is made from the indexes after :meth:`check`
    (:func:`.incremental.snapshot`): on disk, they then keep every article's text, not only the
    last of each id, and stay open until :meth:`close`.
    """

    def __init__(self, spill_from: int | None = None, *, for_snapshot: bool = False) -> None:
        self.ids: dict[str, tuple[str, int, str]] = {}  # id -> (file, document, type) of its first record
        self.repeats: list[
            tuple[str, str, int, str]
        ] = []  # (id, file, document, type) of every later record with that id
        # One flat tuple per record, (file, doc, then pointer, target, allowed for each reference)
        # and (file, doc, then pointer, article, quote for each quote): a third of the memory of a
        # tuple per reference. Read them through each_ref() and each_quote() (check() takes slices of each entry).
        self.refs: list[tuple[t.Any, ...]] = []
        self.quotes: list[tuple[t.Any, ...]] = []
        self.articles: dict[str, str] = {}  # article id -> its text (of the last article with that id)
        self.texts: list[tuple[str, str, int, str]] = []  # (article id, file, document, text) of every article
        self.spill_from = spill_from
        self.for_snapshot = for_snapshot
        self._count = 0  # what the indexes above hold: records indexed, entries merged (since the last write)
        self._disk: _OnDisk | None = None
        self._read: dict[str, int] = {}  # once on disk: the files indexed since the last write, in read order

    def expect(self, records: int) -> None:
        """About ``records`` will come: past :attr:`spill_from`, the indexes go to disk from the
        first record on (never all in memory first, then copied)."""
        if self.spill_from is not None and records >= self.spill_from:
            self.spill_from = 0

    @property
    def on_disk(self) -> bool:
        """Whether the indexes have moved to disk (then only :meth:`index`, :meth:`merge`,
        :meth:`check`, then :attr:`disk` for the snapshot and :meth:`close` apply)."""
        return self._disk is not None

    @property
    def disk(self) -> _OnDisk | None:
        """The indexes on disk, for the snapshot to read after :meth:`check` (``for_snapshot``); None in memory."""
        return self._disk

    def close(self) -> None:
        """Give back the disk indexes' room (after the snapshot, with ``for_snapshot``): the end
        of the collection (it holds nothing after)."""
        if self._disk is not None:
            self._disk.close()
            self._disk = None

    def index(self, doc: Document, info: TypeInfo, wrong: t.AbstractSet[str] = frozenset()) -> Pending | None:
        """Note one record; a repeated id is reported now (first come, first kept).

        ``wrong`` holds the JSON pointers of values the schema refused: those are left out, every
        other value takes part (a record with one bad key still has its id, references and quotes).
        """
        data = t.cast(dict[str, t.Any], doc.data)
        if self._disk is not None:
            self._read.setdefault(doc.file, len(self._read))
        # (a value is usable when it is text and the schema did not refuse it: `wrong` is empty for
        # most records, and then no pointer is looked up, nor made for a quote)
        given_id = data.get("id")
        record_id = sys.intern(given_id) if isinstance(given_id, str) and not (wrong and "/id" in wrong) else None
        if record_id is not None:  # (interned: the same object as the references to it)
            if record_id in self.ids:
                self.repeats.append((record_id, doc.file, doc.index, info.name))
            else:
                self.ids[record_id] = (doc.file, doc.index, info.name)
        refs: list[t.Any] = [doc.file, doc.index]
        for template, allowed in info.references:
            for pointer, target in compile_template(template)(data):
                if isinstance(target, str) and not (wrong and pointer in wrong):
                    # interned: the same pointers and ids recur in every record
                    refs += (sys.intern(pointer), sys.intern(target), allowed)
        if len(refs) > 2:
            self.refs.append(tuple(refs))
        quotes: list[t.Any] = [doc.file, doc.index]
        sources = data.get("sources")
        for index, source in enumerate(sources if isinstance(sources, list) else ()):
            if not isinstance(source, dict):
                continue
            article, quote = source.get("article"), source.get("quote")
            if not (isinstance(article, str) and isinstance(quote, str)):
                continue
            if wrong and (f"/sources/{index}/article" in wrong or f"/sources/{index}/quote" in wrong):
                continue
            at = _QUOTE_POINTERS[index] if index < len(_QUOTE_POINTERS) else sys.intern(f"/sources/{index}/quote")
            # interned: records citing one sentence share one copy of it
            quotes += (at, sys.intern(article), sys.intern(quote))
        if len(quotes) > 2:
            self.quotes.append(tuple(quotes))
        if info.name == "article" and record_id is not None:
            text = data.get("text")
            if isinstance(text, str) and not (wrong and "/text" in wrong):
                self.articles[record_id] = text
                self.texts.append((record_id, doc.file, doc.index, text))
        self._count += 1
        if self.spill_from is not None and self._count >= (self.spill_from if self._disk is None else FLUSH_EVERY):
            self._write()
        return None  # duplicates are found in check(), against the first record of the whole collection

    def _write(self) -> None:
        """Move what the indexes hold to disk (the first time: all of them), as a chunk read in order."""
        first = self._disk is None
        if self._disk is None:
            self._disk = _OnDisk(texts=self.for_snapshot)
        if self._holds():
            held = self._held()
            held["order"] = list(self._read)
            # the first time, the indexes are as a run in memory made them: their order is kept
            self._disk.merge(held, None if first else _chunk_order(held))
        self.ids, self.repeats, self.refs, self.quotes, self.articles, self.texts = {}, [], [], [], {}, []
        self._count = 0
        self._read = {}

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

    def _holds(self) -> bool:
        """Whether the indexes above hold anything (records without a usable id still have
        references and quotes)."""
        return bool(self.ids or self.repeats or self.refs or self.quotes or self.articles)

    def state(self) -> dict[str, t.Any]:
        """The indexes as plain picklable values, for :meth:`merge` in another process."""
        assert self._disk is None, "a collection on disk has no state to send"
        return self._held()

    def _held(self) -> dict[str, t.Any]:
        return {
            "ids": self.ids,
            "repeats": self.repeats,
            "refs": self.refs,
            "quotes": self.quotes,
            "articles": self.articles,
            "texts": self.texts,
        }

    def merge(self, state: dict[str, t.Any]) -> list[Pending]:
        """Take in a later chunk's indexes, as if its records had been indexed here in order.

        ``state["order"]``, when there: the chunk's files in the order they were read, which keeps
        its repeated ids in that order even where it is not the order of their names (paths named
        out of order, the rest of a collection before the named files, chunks merged on a cluster).
        """
        key = _chunk_order(state)
        if self._disk is not None:
            if self._holds():
                self._write()  # what was indexed here came first
            self._disk.merge(state, key)
            return []
        later: list[tuple[str, str, int, str]] = []
        for record_id, (file, index, type_name) in state["ids"].items():
            if record_id in self.ids:
                later.append((record_id, file, index, type_name))
            else:
                self.ids[record_id] = (file, index, type_name)
        self.repeats.extend(sorted([*later, *state["repeats"]], key=key))
        self.refs.extend(state["refs"])
        self.quotes.extend(state["quotes"])
        self.articles.update(state["articles"])
        self.texts.extend(state["texts"])
        self._count += len(state["ids"]) + len(state["repeats"]) + len(state["refs"]) + len(state["quotes"])
        if self.spill_from is not None and self._count >= self.spill_from:
            self._write()
        return []

    def check(self) -> list[Pending]:
        """Every reference names a record of an allowed type; every quote is in its article."""
        if self._disk is not None:
            if self._holds():
                self._write()
            try:
                return self._disk.check()
            finally:
                if not self.for_snapshot:
                    self._disk.close()  # (its file's room is given back now, not at the next garbage collection)
        found = [_duplicate(record_id, file, index, self.ids[record_id]) for record_id, file, index, _ in self.repeats]
        said: dict[str, str] = {}  # the did-you-mean hints so far, by target
        ids = self.ids
        # (each entry read whole: its targets and allowed types as slices, not one tuple per reference)
        missing = [target for entry in self.refs for target in entry[3::3] if target not in ids]
        hinted = hinted_targets(missing) if missing else set()
        for entry in self.refs:
            for pointer, target, allowed in zip(entry[2::3], entry[3::3], entry[4::3]):
                record = ids.get(target)
                if record is None:
                    found.append(dangling(entry[0], entry[1], pointer, target, ids if target in hinted else None, said))
                elif record[2] not in allowed:
                    found.append(mistyped(entry[0], entry[1], pointer, target, record[2], allowed))
        hints = 0
        articles = self.articles
        for entry in self.quotes:
            for pointer, article, quote in zip(entry[2::3], entry[3::3], entry[4::3]):
                text = articles.get(article)
                if text is None:
                    continue  # a dangling or mistyped article reference was reported above
                if quote not in text:
                    hints += 1
                    near = text if hints <= NEAR_MISS_HINTS else None
                    found.append(not_verbatim(entry[0], entry[1], pointer, article, quote, near))
        return found


Order = t.Callable[[tuple[str, str, int, str]], tuple[int, int]]


def _chunk_order(state: dict[str, t.Any]) -> Order:
    """Order a chunk's repeated ids as its records stood: its files in ``state["order"]`` when
    given, else in walk order (which is sorted); then by document."""
    named = {file for file, _index, _type in state["ids"].values()} | {r[1] for r in state["repeats"]}
    order = state.get("order")
    # (only the files that hold an id: `order` may name a whole tree's)
    rank = {file: n for n, file in enumerate(sorted(named) if order is None else order) if file in named}
    return lambda item: (rank[item[1]], item[2])


def _b(text: str) -> bytes:
    """Text as the disk indexes hold it: UTF-8 bytes, lone surrogates kept (a YAML escape, or a
    file name that is not UTF-8), so that equal texts and substrings stay exactly that."""
    return text.encode("utf-8", "surrogatepass")


def _s(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


class _OnDisk:
    """The collection indexes in a private temporary SQLite database, and the rules as joins.

    SQLite removes the database's file as soon as it has opened it (it never has a name anyone
    can see, and nothing is left however the process ends, ``kill -9`` included); pages reach the
    file only once the bounded page cache (:data:`DISK_CACHE_KIB`) is full. Texts are stored as
    UTF-8 blobs (:func:`_b`): equal blobs are equal texts, and a byte search in UTF-8 is exactly
    a substring search. Rows keep the order they came in (``rowid``), which is the order of the
    problems. Nothing is ever committed: the one transaction dies with the connection.
    """

    def __init__(self, *, texts: bool = False) -> None:
        import functools
        import sqlite3
        import weakref

        self.errors = sqlite3.Error
        self._guards: list[SignalGuard] = []  # the signal guard of the statement running (see _guarded)
        self.db = self._guarded(lambda: sqlite3.connect("", isolation_level=None, check_same_thread=False))
        # a long statement (a join over every reference) asks now and then whether a signal came
        self.db.set_progress_handler(functools.partial(_signalled, self._guards), 100_000)
        weakref.finalize(self, self.db.close)  # (a run that ends in an exception: closed when let go)
        self._guarded(
            lambda: self.db.executescript(
                f"""
                PRAGMA cache_size = -{DISK_CACHE_KIB};
                PRAGMA journal_mode = OFF;
                PRAGMA synchronous = OFF;
                CREATE TABLE ids (id BLOB PRIMARY KEY, file BLOB, doc INTEGER, type TEXT) WITHOUT ROWID;
                CREATE TABLE repeats (id BLOB, file BLOB, doc INTEGER, type TEXT);
                CREATE TABLE refs (file BLOB, doc INTEGER, pointer BLOB, target BLOB, allowed INTEGER);
                CREATE TABLE allowed (n INTEGER, type TEXT, PRIMARY KEY (n, type)) WITHOUT ROWID;
                CREATE TABLE quotes (file BLOB, doc INTEGER, pointer BLOB, article BLOB, quote BLOB);
                CREATE TABLE articles (id BLOB PRIMARY KEY, text BLOB) WITHOUT ROWID;
                CREATE TABLE texts (article BLOB, file BLOB, doc INTEGER, text BLOB);
                BEGIN;
                """
            )
        )
        self.texts = texts  # every article's text kept, in order (for the snapshot: see Collection)
        self.allowed: list[tuple[str, ...]] = []  # the sets of types references allow, by number
        self._numbers: dict[tuple[str, ...], int] = {}

    def _guarded(self, work: t.Callable[[], T]) -> T:
        """``work()``, stopped by Ctrl-C or SIGTERM, which SQLite cannot see: the signal is noted,
        the progress handler ends the statement, and the signal is raised here as itself. SQLite
        failing (the temporary folder full or not writable, its memory exhausted) is an error of
        the environment, said plainly (exit 3), never a traceback nor a problem of a record file;
        the database is then closed (a failed statement may have left it half written)."""
        from .errors import IndexesFailed
        from .output import SignalGuard

        guard = SignalGuard()
        self._guards.append(guard)
        try:
            with guard:
                try:
                    done = work()
                except self.errors:
                    guard.check()  # (the statement was ended for a signal: raised as itself)
                    SignalGuard.raise_pending()  # (or for one a write around this run holds)
                    raise
                guard.check()
                return done
        except self.errors as exc:
            self.close()
            if "interrupt" in str(exc):  # ended by a handler that raised (a guard's, or the caller's own)
                from .output import SignalGuard

                raise SignalGuard.interruption() from None
            raise IndexesFailed(
                f"the collection's indexes could not be kept on disk ({exc}): SQLite's temporary folder "
                "(SQLITE_TMPDIR, else TMPDIR, else /var/tmp, /usr/tmp or /tmp) must be writable and have "
                "room; set SQLITE_TMPDIR to another folder"
            ) from exc
        except MemoryError:
            self.close()
            raise IndexesFailed(
                "the collection's indexes could not be kept on disk: out of memory (SQLite's page cache is "
                f"{DISK_CACHE_KIB:,} KiB; the rest of the run needs room too)"
            ) from None
        except BaseException:
            self.close()
            raise
        finally:
            self._guards.pop()

    def _number(self, allowed: tuple[str, ...]) -> int:
        number = self._numbers.get(allowed)
        if number is None:
            number = self._numbers[allowed] = len(self.allowed)
            self.allowed.append(allowed)
            self.db.executemany("INSERT OR IGNORE INTO allowed VALUES (?, ?)", [(number, name) for name in allowed])
        return number

    def merge(self, state: dict[str, t.Any], key: Order | None) -> None:
        """A chunk's indexes, as :meth:`Collection.merge` takes them in memory (``key``: the order
        of its repeated ids; None: as they are)."""
        self._guarded(lambda: self._merge(state, key))

    def _merge(self, state: dict[str, t.Any], key: Order | None) -> None:
        db = self.db
        later: list[tuple[str, str, int, str]] = []
        adding = db.cursor()
        for record_id, (file, index, type_name) in state["ids"].items():
            adding.execute("INSERT OR IGNORE INTO ids VALUES (?, ?, ?, ?)", (_b(record_id), _b(file), index, type_name))
            if adding.rowcount == 0:  # the id was there already: this record repeats it
                later.append((record_id, file, index, type_name))
        repeats = [*later, *state["repeats"]] if key is None else sorted([*later, *state["repeats"]], key=key)
        db.executemany(
            "INSERT INTO repeats VALUES (?, ?, ?, ?)",
            [(_b(i), _b(file), index, name) for i, file, index, name in repeats],
        )
        number = self._number
        db.executemany(
            "INSERT INTO refs VALUES (?, ?, ?, ?, ?)",
            (
                (_b(entry[0]), entry[1], _b(entry[n]), _b(entry[n + 1]), number(entry[n + 2]))
                for entry in state["refs"]
                for n in range(2, len(entry), 3)
            ),
        )
        db.executemany(
            "INSERT INTO quotes VALUES (?, ?, ?, ?, ?)",
            (
                (_b(entry[0]), entry[1], _b(entry[n]), _b(entry[n + 1]), _b(entry[n + 2]))
                for entry in state["quotes"]
                for n in range(2, len(entry), 3)
            ),
        )
        db.executemany(  # the last article with an id gives the text, as a dict update does
            "INSERT OR REPLACE INTO articles VALUES (?, ?)",
            [(_b(i), _b(text)) for i, text in state["articles"].items()],
        )
        if self.texts:
            db.executemany(
                "INSERT INTO texts VALUES (?, ?, ?, ?)",
                [(_b(article), _b(file), index, _b(text)) for article, file, index, text in state["texts"]],
            )

    def check(self) -> list[Pending]:
        """:meth:`Collection.check`: repeats and references by joins (only what fails comes back),
        quotes article by article."""
        return self._guarded(self._check)

    def _check(self) -> list[Pending]:
        db = self.db
        # The joins below look pages up more than they write them, and SQLite's sorter (the
        # quotes in article order) takes as much memory again as the page cache is allowed:
        # a smaller cache from here on is a smaller peak for the whole run.
        db.execute(f"PRAGMA cache_size = -{CHECK_CACHE_KIB}")
        hints: dict[str, str] = {}
        found = [
            _duplicate(_s(record_id), _s(file), index, (_s(first), first_index, first_type))
            for record_id, file, index, first, first_index, first_type in db.execute(
                "SELECT r.id, r.file, r.doc, i.file, i.doc, i.type FROM repeats r CROSS JOIN ids i ON i.id = r.id"
                " ORDER BY r.rowid"
            )
        ]
        failing = db.execute(
            "SELECT r.file, r.doc, r.pointer, r.target, r.allowed, i.type FROM refs r LEFT JOIN ids i ON i.id = r.target"
            " WHERE i.type IS NULL OR NOT EXISTS (SELECT 1 FROM allowed a WHERE a.n = r.allowed AND a.type = i.type)"
            " ORDER BY r.rowid"
        ).fetchall()
        hinted = hinted_targets(_s(row[3]) for row in failing if row[5] is None)
        for file, index, pointer, raw, number, type_name in failing:
            if type_name is None:
                target = _s(raw)
                every: t.Iterable[str] | None = None  # (past the hints)
                if target in hinted:  # the ids streamed, never all in memory; once per target
                    every = () if target in hints else (_s(row[0]) for row in db.execute("SELECT id FROM ids"))
                found.append(dangling(_s(file), index, _s(pointer), target, every, hints))
            else:
                found.append(mistyped(_s(file), index, _s(pointer), _s(raw), type_name, self.allowed[number]))
        # Each quote is looked for in its article's text by Python's own search (linear; SQLite's
        # instr is not), the quotes taken article by article so that one text is held at a time.
        missed: list[tuple[int, bytes, int, bytes, bytes, bytes]] = []
        current: bytes | None = None
        text: bytes | None = None
        for row, file, index, pointer, article, quote in db.execute(
            "SELECT rowid, file, doc, pointer, article, quote FROM quotes ORDER BY article, rowid"
        ):
            if article != current:
                current, text = article, None
                text = next(iter(db.execute("SELECT text FROM articles WHERE id = ?", (article,))), (None,))[0]
            if text is not None and quote not in text:  # (no such article: reported as a reference)
                missed.append((row, file, index, pointer, article, quote))
        text = None
        missed.sort()
        found_at: dict[int, Pending] = {}  # the first quotes not found get the hint: each article's text read once
        for article, group in itertools.groupby(
            sorted(missed[:NEAR_MISS_HINTS], key=lambda m: (m[4], m[0])), key=lambda m: m[4]
        ):
            (raw,) = db.execute("SELECT text FROM articles WHERE id = ?", (article,)).fetchone()
            whole = _s(raw)
            for row, file, index, pointer, _article, quote in group:
                found_at[row] = not_verbatim(_s(file), index, _s(pointer), _s(article), _s(quote), whole)
        for row, file, index, pointer, article, quote in missed:
            found.append(found_at.get(row) or not_verbatim(_s(file), index, _s(pointer), _s(article), _s(quote), None))
        return found

    def number_files(self, names: t.Iterable[str]) -> None:
        """Number the files of a run, 0 on, in the order given: the ``fids`` the snapshot's rows
        name files by (:meth:`rows`, joined on ``fids.name``)."""

        def fill() -> None:
            self.db.execute(f"PRAGMA cache_size = -{DISK_CACHE_KIB}")  # (the rules' joins are done: sorts now)
            self.db.execute("CREATE TABLE IF NOT EXISTS fids (name BLOB PRIMARY KEY, fid INTEGER) WITHOUT ROWID")
            self.db.execute("DELETE FROM fids")
            self.db.executemany(
                "INSERT OR IGNORE INTO fids VALUES (?, ?)", ((_b(name), n) for n, name in enumerate(names))
            )

        self._guarded(fill)

    def define(self, name: str, function: t.Callable[[bytes], int]) -> None:
        """A deterministic SQL function of one blob, for :meth:`rows`."""
        self.db.create_function(name, 1, function, deterministic=True)

    def rows(self, query: str, batch: int = 4096) -> t.Iterator[tuple[t.Any, ...]]:
        """The rows of ``query``, fetched ``batch`` at a time (the sort before the first row, and
        each batch, stopped by a signal as any statement here: see :meth:`_guarded`)."""
        cursor = self._guarded(lambda: self.db.execute(query))
        while True:
            found = self._guarded(lambda: cursor.fetchmany(batch))
            if not found:
                return
            yield from found

    def close(self) -> None:
        if hasattr(self, "db"):
            self.db.close()


def _signalled(guards: list[SignalGuard]) -> int:
    """SQLite's progress handler: non-zero (end the statement) once a signal has been noted, by
    the statement's guard or by a write's around it (an export's checks end while it writes)."""
    from .output import SignalGuard

    return 1 if (guards and guards[-1].pending is not None) or SignalGuard.held() else 0


def _duplicate(record_id: str, file: str, index: int, first: tuple[str, int, str]) -> Pending:
    where = first[0] + (f" (document {first[1] + 1})" if first[1] else "")
    return Pending(
        file, index, "/id", "duplicate-id", f"id {record_id!r} is already used by {a_or_an(first[2])} in {where}"
    )


def hinted_targets(missing: t.Iterable[str]) -> set[str]:
    """Of the unknown ids a run's references name, those that get a did-you-mean hint: all of
    them, or the first :data:`DANGLING_HINTS` in text order when there are more."""
    return set(sorted(set(missing))[:DANGLING_HINTS])


def dangling(
    file: str, index: int, pointer: str, target: str, ids: t.Iterable[str] | None, hints: dict[str, str] | None = None
) -> Pending:
    """``target`` names no record (the hint compares it with ``ids``, read once; None: no hint,
    see :func:`hinted_targets`). ``hints``: the hints of a run so far, by target: a renamed id
    that many records still name is compared with every id once, not once per reference (``ids``
    is then not read)."""
    hint = hints.get(target) if hints is not None else None
    if ids is None:  # (past the hints: see hinted_targets)
        hint = ""
    elif hint is None:
        from .messages import did_you_mean  # only when a reference dangles

        hint = did_you_mean(target, ids)
        if hints is not None:
            hints[target] = hint
    return Pending(file, index, pointer, "dangling-reference", f"{target!r} is not the id of any record{hint}")


def mistyped(file: str, index: int, pointer: str, target: str, type_name: str, allowed: t.Sequence[str]) -> Pending:
    """``target`` is a record of ``type_name``, not one of the ``allowed`` types."""
    message = f"{target!r} is {a_or_an(type_name)}; here it must be {_either(allowed)}"
    return Pending(file, index, pointer, "reference-type", message)


def not_verbatim(file: str, index: int, pointer: str, article: str, quote: str, text: str | None) -> Pending:
    """``quote`` is not in ``article``'s text; ``text`` given: with the closest passage as a hint."""
    hint = "" if text is None else _near_miss(quote, text)
    return Pending(file, index, pointer, "quote-not-found", f"quote not found verbatim in article {article!r}{hint}")


def a_or_an(name: str) -> str:
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


def _either(names: t.Sequence[str]) -> str:
    words = [a_or_an(n) for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


#: The near-miss hint compares at most this many characters of the quote (its start) ...
NEAR_MISS_QUOTE = 200
#: ... with at most this many character pairs (difflib's worst case is their product): a short
#: article whole, a long one only in windows around pieces of the quote found verbatim in it.
NEAR_MISS_PAIRS = 250_000
NEAR_MISS_ANCHORS = 8  # pieces of the quote looked up in a long article
NEAR_MISS_HINTS = 200  # quotes not found that get the hint (the rest are reported without it)
#: Unknown ids (distinct targets of dangling references) that get a did-you-mean hint: each is
#: compared with every id, so a run with many (a broken import) would cost ids x targets. Past
#: this many, the first in text order get it (whatever the run's order: the same in every mode).
DANGLING_HINTS = 20
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
