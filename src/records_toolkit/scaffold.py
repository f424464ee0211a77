"""``toolkit init DIR``: a new records repository, ready to use.

What it writes (:func:`plan`):

- ``records-toolkit.toml``: the collection is ``records/``, one record per file (what
  :mod:`records_toolkit.collection` reads);
- ``records/``: two example records (an article and an event quoting it), made from the same
  skeletons as ``toolkit new`` and written in canonical form, so that ``toolkit validate`` and
  every export work at once; their ``notes`` say they are examples to replace;
- ``.pre-commit-config.yaml``: this toolkit's hooks (``toolkit-validate``, ``toolkit-fmt``), from
  its git repository at the tag of this version;
- ``.github/workflows/records.yml``: an example CI workflow that installs the toolkit from the
  same repository and tag, restores the result cache of earlier runs (``actions/cache``: the
  cache folder and the key that signs it; a cache folder committed into the tree is removed
  first), then runs ``toolkit validate --output-format github`` and ``toolkit fmt --check``;
- ``README.md``: what the repository is, where records go, the commands.

The toolkit is not on the package index under its name, so the install lines name its git
repository (:func:`find_source`): the one this toolkit was installed from (PEP 610
``direct_url.json``: a git install, or a local directory that is a git repository), or the one
given (``--toolkit-source``). The revision is the tag ``v<version>`` (``make release`` makes it). When
neither tells a repository, nothing is written: an install line that cannot work is worse than none.

``DIR`` must not exist, or be empty (a ``.git`` alone is allowed: ``git init`` first is fine).
With ``force``, a directory that holds other files is accepted: the missing files are added, a
file already there with the same content is kept, and a file with other content is never
replaced (the whole init is refused, naming it). Example records are added only to a
``records/`` that holds no other records. Everything is written all or nothing
(:func:`records_toolkit.output.atomic_write_tree`); ``DIR`` itself being a symbolic link, or a
link anywhere on the way to a file to write, is refused: the writes never leave ``DIR``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import stat
import typing as t
import urllib.parse
import urllib.request
from pathlib import Path

from .cache import CACHE_DIR
from .errors import OutputError, UsageError

__all__ = ["EXAMPLE_IDS", "Initialized", "ToolkitSource", "find_source", "init", "plan"]

PROJECT = "records-toolkit"
CONFIG = "records-toolkit.toml"
RECORDS = "records"
PRE_COMMIT = ".pre-commit-config.yaml"
WORKFLOW = ".github/workflows/records.yml"
README = "README.md"
HOOKS = ("toolkit-validate", "toolkit-fmt")
KEY_FOLDER = "~/.cache/records-toolkit"  # (cache.secret_key's folder on a runner: no XDG_CACHE_HOME there)
EXAMPLE_ARTICLE = "example-article"
EXAMPLE_EVENT = "example-festival-2024"
EXAMPLE_IDS = (EXAMPLE_ARTICLE, EXAMPLE_EVENT)
_SCHEMES = ("https", "http", "ssh", "git", "file")
# what may stand in an install line unquoted inside "...": no white space, quotes, backslashes or `#`
# what may stand in `pip install "records-toolkit @ git+URL@tag"` and be pasted into a shell: no
# `$` or backtick (substitution inside double quotes), no `!` (history expansion), no quotes,
# white space, `;`, `&`, `(`, `)`, backslash or `#`
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?@+,=%\[\]-]+\Z")


@dataclasses.dataclass(frozen=True)
class ToolkitSource:
    """Where the written install lines take the toolkit from: a git repository and a tag."""

    url: str
    """The git repository (``https://...``, ``ssh://...``, ``file://localhost/...``), as pip and pre-commit take it."""
    rev: str
    """The tag: ``v<version>``."""
    version: str
    origin: str
    """How it was found: ``--toolkit-source``, or the installation's ``direct_url.json``."""

    @property
    def requirement(self) -> str:
        """The pip requirement: ``records-toolkit @ git+URL@TAG``."""
        return f"{PROJECT} @ git+{self.url}@{self.rev}"

    @property
    def pip_line(self) -> str:
        """The shell line that installs the toolkit (as written in the workflow and the README)."""
        return f'pip install "{self.requirement}"'


@dataclasses.dataclass(frozen=True)
class Initialized:
    """What ``toolkit init`` did."""

    directory: Path
    written: tuple[str, ...]
    """The files written (relative ``/`` names), in the order of :func:`plan`."""
    kept: tuple[str, ...]
    """Files already there with the same content (``force``): left as they were."""
    source: ToolkitSource
    notices: tuple[str, ...]
    """Things to know before relying on the install lines (a local repository, a missing tag)."""


# -- where the toolkit comes from ------------------------------------------------------------------


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(PROJECT)
    except importlib.metadata.PackageNotFoundError:
        raise UsageError(
            f"{PROJECT} is not installed (imported from a source tree?): its version, the tag the install "
            "lines pin, is unknown; install it (pip install -e .) and run init again (nothing written)"
        ) from None


def _installed_url() -> tuple[str | None, str]:
    """The git repository this toolkit was installed from (PEP 610), or None and why not."""
    import importlib.metadata

    try:
        text = importlib.metadata.distribution(PROJECT).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None, f"{PROJECT} is not installed"
    if not text:
        return None, "it was installed from a package index or a wheel file, which names no repository"
    try:
        data = json.loads(text)
    except ValueError:
        return None, "its direct_url.json cannot be read"
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        return None, "its direct_url.json names no URL"
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict):
        if vcs.get("vcs") != "git":
            return None, f"it was installed from a {vcs.get('vcs')} repository, not git"
        return _local(url.removeprefix("git+")), "installed from git"
    if isinstance(data.get("dir_info"), dict) and url.startswith("file:"):
        folder = _file_path(url)
        if folder is None or not os.path.lexists(os.path.join(folder, ".git")):
            return None, f"it was installed from the directory {folder or url}, which is not a git repository"
        return _local(url), "installed from a local git repository"
    return None, f"it was installed from an archive ({url}), which is not a repository"


def _file_path(url: str) -> str | None:
    """The local path of a ``file:`` URL (None when it names another host)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return urllib.request.url2pathname(parts.path)


def _local(url: str) -> str:
    """A ``file:`` URL as ``file://localhost/PATH``: pip before 23.3 refuses ``git+file:///PATH`` (no host)
    in a ``name @ URL`` requirement, and every pip, pre-commit and git take ``localhost``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return url
    return urllib.parse.urlunsplit(("file", "localhost", parts.path or "/", parts.query, parts.fragment))


def _normalized(given: str) -> str:
    """``--toolkit-source`` as a git URL: ``git+`` dropped, a local path made a ``file://`` URL."""
    text = given.strip().removeprefix("git+")
    if not text:
        raise UsageError("--toolkit-source '': give the toolkit's git repository (a URL or a local path)")
    if "://" not in text:
        if not os.path.isdir(text):
            raise UsageError(
                f"--toolkit-source {given!r}: not a URL (https://..., ssh://..., file:///...) and not a local directory"
            )
        text = Path(os.path.abspath(text)).as_uri()
    scheme = text.split("://", 1)[0].lower()
    if scheme not in _SCHEMES:
        raise UsageError(f"--toolkit-source {given!r}: use a git URL with one of: {', '.join(_SCHEMES)}")
    if _URL_CHARS.match(text) is None:
        raise UsageError(
            f"--toolkit-source {given!r}: white space, quotes, backslashes, '#', '$', '!', ';', '&' and "
            "parentheses cannot stand in an install line pasted into a shell (percent-encode them)"
        )
    parts = urllib.parse.urlsplit(text)
    if scheme == "file":
        folder = _file_path(text)
        if folder is None or not os.path.isdir(folder):
            raise UsageError(f"--toolkit-source {given!r}: no such directory on this machine")
        if _has_tag(folder, "HEAD") is None and not os.path.lexists(os.path.join(folder, ".git")):
            raise UsageError(f"--toolkit-source {given!r}: {folder} is not a git repository")
    elif not parts.hostname:
        raise UsageError(f"--toolkit-source {given!r}: the URL names no host")
    return _local(text.rstrip("/") if not text.endswith("://") else text)


def find_source(given: str | None = None) -> ToolkitSource:
    """The repository and tag for the install lines: ``given``, else where this toolkit came from.

    Raises :class:`UsageError` (nothing is written) when neither names a git repository.
    """
    version = _version()
    if given is not None:
        if not isinstance(given, str):
            raise UsageError(f"toolkit_source: give a URL as text, not {type(given).__name__}")
        return ToolkitSource(_normalized(given), f"v{version}", version, "--toolkit-source")
    url, why = _installed_url()
    if url is None:
        raise UsageError(
            f"cannot tell which git repository this toolkit comes from ({why}), so no install line written "
            "could work: give --toolkit-source URL, the toolkit's git repository (such as "
            f"https://github.com/OWNER/records-toolkit, or a local clone), where the tag v{version} "
            "exists (nothing written)"
        )
    if _URL_CHARS.match(url) is None:
        raise UsageError(
            f"this toolkit was installed from {url!r}, which cannot stand in an install line: "
            "give --toolkit-source URL (nothing written)"
        )
    return ToolkitSource(url, f"v{version}", version, why)


def _has_tag(folder: str, tag: str) -> bool | None:
    """Whether the local git repository at ``folder`` has ``tag``; None when that cannot be told cheaply."""
    git = os.path.join(folder, ".git")
    if not os.path.isdir(git):
        bare = os.path.isfile(os.path.join(folder, "HEAD")) and os.path.isdir(os.path.join(folder, "refs"))
        if not bare:
            return None  # a worktree's .git file, or not a repository
        git = folder
    if os.path.isfile(os.path.join(git, "refs", "tags", tag)):
        return True
    try:
        with open(os.path.join(git, "packed-refs"), encoding="utf-8", errors="replace") as stream:
            return any(line.rstrip("\n").endswith(f" refs/tags/{tag}") for line in stream)
    except FileNotFoundError:
        return False
    except OSError:
        return None


def _notices(source: ToolkitSource) -> list[str]:
    notices: list[str] = []
    folder = _file_path(source.url) if source.url.startswith("file:") else None
    if folder is not None:
        notices.append(
            f"the install lines take the toolkit from {source.url}, a directory of this machine: they work "
            "here, not in CI elsewhere; for GitHub give --toolkit-source with the repository's public URL"
        )
        if _has_tag(folder, source.rev) is False:
            notices.append(
                f"the tag {source.rev} is not in {folder} yet: the install lines and the pre-commit hooks fail "
                f"until it exists (run `make release` there)"
            )
    return notices


# -- the files -------------------------------------------------------------------------------------

_ARTICLE_TEXT = (
    "This example article was written by `toolkit init` to show how records fit together; replace it with "
    "a real article.\n"
    "\n"
    "The Example Festival took place in Exampleton on 15 January 2024, its organisers said.\n"
    "\n"
    "Each fact of a record names its source: an article of the collection with the exact sentence (as the "
    "example event quotes this article), or an outside page by its address and title."
)
_EXAMPLE_NOTE = (
    "An example written by `toolkit init`: replace it with real records (`toolkit new TYPE ID`), then delete "
    f"{RECORDS}/articles/{EXAMPLE_ARTICLE}.yaml and {RECORDS}/events/{EXAMPLE_EVENT}.yaml together."
)


def _example_records() -> list[dict[str, t.Any]]:
    """An article and an event quoting it, from the skeletons ``toolkit new`` writes, filled in."""
    from .authoring import sentences, skeleton

    article = skeleton("article", EXAMPLE_ARTICLE)
    page = "https://example.org/news/example-article"
    article.update(
        name="Example article: replace it with a real one",
        date_published="2024-01-15",
        url=page,
        language="en",
        text=_ARTICLE_TEXT,
        notes=_EXAMPLE_NOTE,
    )
    article["sources"] = [
        {
            "url": page,
            "title": "Example source: the page where the article was published",
            "supports": _supports(article),
        }
    ]
    event = skeleton("event", EXAMPLE_EVENT)
    event.update(
        name="Example Festival 2024", kind="other", date="2024-01-15", status="took-place", notes=_EXAMPLE_NOTE
    )
    (quote,) = [s for s in sentences(_ARTICLE_TEXT) if "Example Festival" in s]
    event["sources"] = [{"article": EXAMPLE_ARTICLE, "quote": quote, "supports": _supports(event)}]
    return [article, event]


def _supports(record: t.Mapping[str, t.Any]) -> list[str]:
    """The fields a source of ``record`` supports: every field but identity, sources and prose."""
    from .schema_view import SchemaView
    from .schemas import load_model

    fields = SchemaView.of(load_model()).types[str(record["type"])].fields
    return [name for name in fields if name in record and name not in ("id", "type", "sources", "notes", "description")]


def _config() -> str:
    return (
        "# The records of this repository, for `toolkit` (validate, fmt, export, new, quote, show).\n"
        "[collection]\n"
        f'path = "{RECORDS}"                 # relative to this file\n'
        'layout = "one-record-per-file"   # each record at records/<type>s/<id>.yaml\n'
    )


def _pre_commit(source: ToolkitSource) -> str:
    hooks = "".join(f"      - id: {hook}\n" for hook in HOOKS)
    return (
        "# pre-commit (https://pre-commit.com): `pip install pre-commit && pre-commit install` checks the\n"
        "# records before each commit: toolkit validate (the whole collection), toolkit fmt (canonical form).\n"
        "repos:\n"
        f"  - repo: {json.dumps(source.url)}\n"
        f"    rev: {json.dumps(source.rev)}\n"
        "    hooks:\n"
        f"{hooks}"
    )


def _workflow(source: ToolkitSource) -> str:
    return (
        "# Checks the records on every push and pull request; problems show as annotations on the lines.\n"
        "name: records\n"
        '"on":\n'
        "  push:\n"
        "  pull_request:\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  records:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-python@v5\n"
        "        with:\n"
        '          python-version: "3.12"\n'
        f"      - name: Install the records toolkit {source.version}\n"
        f"        run: {_yaml_text(source.pip_line)}\n"
        "      # The result cache of the last run on this branch or the default one: a run after a few\n"
        "      # changes hashes the files and re-checks only what the changes reach. It is signed with a\n"
        "      # key kept beside it in the runner's cache folder; one committed into the tree is dropped.\n"
        "      - name: Drop a result cache committed into the tree\n"
        f"        run: rm -rf {RECORDS}/{CACHE_DIR}\n"
        "      - name: Restore the result cache of earlier runs\n"
        "        uses: actions/cache@v4\n"
        "        with:\n"
        "          path: |\n"
        f"            {RECORDS}/{CACHE_DIR}\n"
        f"            {KEY_FOLDER}\n"
        "          key: records-toolkit-${{ runner.os }}-${{ github.sha }}\n"
        "          restore-keys: records-toolkit-${{ runner.os }}-\n"
        "      - name: Validate the records\n"
        "        run: toolkit validate --output-format github\n"
        "      - name: Check the canonical form\n"
        "        run: toolkit fmt --check\n"
    )


def _yaml_text(text: str) -> str:
    """A one-line text as a YAML scalar: plain when YAML reads it back as the same text, else single-quoted."""
    import yaml

    if yaml.safe_load(f"run: {text}") == {"run": text}:
        return text
    return "'" + text.replace("'", "''") + "'"


def _readme(source: ToolkitSource, *, examples: bool) -> str:
    example = (
        f"`{RECORDS}/articles/{EXAMPLE_ARTICLE}.yaml` and `{RECORDS}/events/{EXAMPLE_EVENT}.yaml` are examples "
        "(an article, and an event that quotes it): read them, add your own records, then delete both.\n"
        if examples
        else ""
    )
    web = source.url.startswith(("https://", "http://"))
    toolkit = f"[records-toolkit]({source.url})" if web else "records-toolkit"
    return f"""# Records

Facts of news articles as reviewed YAML records: each fact names its source, and
{toolkit} checks them and exports them (CSV, JSON-LD, iCalendar, Markdown).
Made with `toolkit init` (records-toolkit {source.version}).

## Set up

```sh
{source.pip_line}
pip install pre-commit && pre-commit install   # validate and fmt before each commit
```

## Where records go

One record per file, at `{RECORDS}/<type>s/<id>.yaml` (`{CONFIG}` names the folder); the types are
article, person, organization, place, event and agreement (`toolkit schema`).
{example}
## Commands

```sh
toolkit new article my-article          # a skeleton at {RECORDS}/articles/my-article.yaml: replace each TODO
toolkit quote my-article word word      # the sentence holding the words, as a source block to paste
toolkit new event my-event              # then paste the block under `sources:` and fill in `supports`
toolkit validate                        # schemas and collection rules, from any folder of the repository
toolkit fmt                             # canonical form (`toolkit fmt --check` in CI)
toolkit export -f csv -o tables/        # also -f jsonld, -f ics, -f markdown (`toolkit formats`)
toolkit show my-event                   # a record, what refers to it, the articles it cites
```

`{WORKFLOW}` runs `toolkit validate` and `toolkit fmt --check` on every push and pull request,
keeping the result cache between runs (a run after a few changes re-checks what they reach);
`{PRE_COMMIT}` runs the same hooks before each commit.
"""


def plan(source: ToolkitSource, *, examples: bool = True) -> dict[str, bytes]:
    """Every file ``init`` writes, by relative ``/`` name."""
    from .canonical import dumps, record_path

    files = {
        CONFIG: _config(),
        README: _readme(source, examples=examples),
        PRE_COMMIT: _pre_commit(source),
        WORKFLOW: _workflow(source),
    }
    if examples:
        for record in _example_records():
            files[f"{RECORDS}/{record_path(record)}"] = dumps([record])
    return {name: text.encode("utf-8") for name, text in files.items()}


# -- the directory ---------------------------------------------------------------------------------


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot read {path.as_posix()}: {exc.strerror or exc} (nothing written)") from exc


def _what(info: os.stat_result) -> str:
    return "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a plain file or directory"


def _existing(directory: Path, name: str) -> bytes | None:
    """The content of ``directory/name`` if it is a plain file; None if absent. A link on the way is refused."""
    parts = name.split("/")
    here = directory
    for depth, part in enumerate(parts, 1):
        here = here / part
        info = _lstat(here)
        if info is None:
            return None
        last = depth == len(parts)
        if stat.S_ISLNK(info.st_mode) or (not last and not stat.S_ISDIR(info.st_mode)):
            raise UsageError(
                f"{here.as_posix()} is {_what(info) if stat.S_ISLNK(info.st_mode) else 'not a directory'}: "
                "init writes only into plain directories, never through a link (nothing written)"
            )
        if last and not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{here.as_posix()} is {_what(info)}: init writes {name} there (nothing written)")
    try:
        fd = os.open(here, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise OutputError(f"cannot read {here.as_posix()}: {exc.strerror or exc} (nothing written)") from exc
    with os.fdopen(fd, "rb") as stream:
        return stream.read(1 << 20) if stat.S_ISREG(os.fstat(stream.fileno()).st_mode) else b""


def _holds_records(folder: Path) -> bool:
    """Whether ``folder`` (a plain directory, or absent) holds a ``*.yaml``/``*.yml`` file other than
    the example records (a second ``init --force`` finds its own examples, and keeps them)."""
    info = _lstat(folder)
    if info is None or not stat.S_ISDIR(info.st_mode):
        return False
    examples = {f"{kind}s/{name}.yaml" for kind, name in (("article", EXAMPLE_ARTICLE), ("event", EXAMPLE_EVENT))}
    for root, _dirs, names in os.walk(folder):  # never follows a link to a directory
        for name in names:
            relative = Path(root, name).relative_to(folder).as_posix()
            if name.endswith((".yaml", ".yml")) and relative not in examples:
                return True
    return False


def init(directory: Path, *, toolkit_source: str | None = None, force: bool = False) -> Initialized:
    """Make a records repository in ``directory``; see the module's documentation."""
    from .output import atomic_write_tree

    shown = directory.as_posix()
    source = find_source(toolkit_source)
    info = _lstat(directory)
    examples = True
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise UsageError(
                f"{shown} is a symbolic link: init writes only into a real directory "
                "(give the directory it points to, if that is the one meant; nothing written)"
            )
        if not stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{shown} exists and is not a directory (nothing written)")
        try:
            entries = sorted(name for name in os.listdir(directory) if name != ".git")
        except OSError as exc:
            raise OutputError(f"cannot read {shown}: {exc.strerror or exc} (nothing written)") from exc
        if entries and not force:
            listed = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise UsageError(
                f"{shown} is not empty ({len(entries)} entries: {listed}): init makes a new repository in an "
                "empty or new directory (a .git alone is fine); give --force to add the missing files to it "
                "(a file already there is never replaced; nothing written)"
            )
        examples = not _holds_records(directory / RECORDS)
    files = plan(source, examples=examples)
    kept: list[str] = []
    different: list[str] = []
    for name, data in files.items():
        before = _existing(directory, name) if info is not None else None
        if before is None:
            continue
        (kept if before == data else different).append(name)
    if different:
        raise UsageError(
            f"{shown} already holds {', '.join(different)} with other content: init never replaces a file; "
            "move them away (or merge them by hand afterwards) and run init again (nothing written)"
        )
    written = {name: data for name, data in files.items() if name not in kept}
    if written:
        folders = sorted({"/".join(n.split("/")[:i]) for n in written for i in range(1, n.count("/") + 1)})
        new = [f for f in folders if not os.path.lexists(directory / f)]
        missing = []
        probe = Path(os.path.abspath(directory))
        while not os.path.lexists(probe) and probe.parent != probe:
            missing.append(probe)
            probe = probe.parent
        try:
            atomic_write_tree(directory, written)
        except BaseException:
            # the write was undone; it may leave the folders on the way (records/, .github/) behind, empty
            for folder in sorted(new, key=lambda f: -f.count("/")):  # innermost first
                with contextlib.suppress(OSError):
                    os.rmdir(directory / folder)  # only if empty; a link is no directory to rmdir
            for made in missing:  # DIR and the folders above it that this init made, innermost first
                with contextlib.suppress(OSError):
                    os.rmdir(made)
            raise
    notices = _notices(source)
    if not examples:
        notices.append(f"{shown}/{RECORDS} already holds records: no example records added")
    return Initialized(directory, tuple(written), tuple(kept), source, tuple(notices))
