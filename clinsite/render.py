"""View models + Jinja templates -> HTML text (stage 5 of the pipeline).

The templates see only `*View` values built here, never the loaders' models,
so a theme can be changed without knowing the pipeline. The built-in theme
lives in clinsite/theme/; a file of the same name in the site's templates/
folder overrides it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, replace
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from types import CodeType, TracebackType
from typing import Any, Protocol, cast

import jinja2

from clinsite import __version__
from clinsite.compose import ComposedPage, root_prefix
from clinsite.diagnostics import Diagnostic, error
from clinsite.frontmatter import decode_source
from clinsite.listings import IndexEntry, TagView, home_listings
from clinsite.models import Document, Drug, Summary
from clinsite.views import ViewContext, drug_view, page_view, reviewer_view, summary_view

THEME = Path(__file__).parent / "theme"
# Only the site's own files may run or style the page; Pagefind's search needs
# WebAssembly ('wasm-unsafe-eval') and a worker. JSON-LD is a data block, not script,
# so it needs no hash. (frame-ancestors cannot be set from a <meta>; set it as an HTTP
# header on the server if framing must be refused.)
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'")


@dataclass(frozen=True, slots=True)
class SiteView:
    title: str
    publisher: str
    language: str
    base_url: str
    description: str
    disclaimer_html: str
    policy_url: str | None  # site-relative
    generator: str
    pages: tuple[tuple[str, str], ...] = ()  # (title, site-relative URL) of plain pages
    search: bool = True  # False with --no-search: no index, no search page or box


class TemplateFailure(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.format())
        self.diagnostic = diagnostic


def human_date(value: dt.date | None) -> str:
    """``21 November 2026``: unambiguous in every locale."""
    return "" if value is None else f"{value.day} {value.strftime('%B %Y')}"


_ENVIRONMENT_OPTIONS: dict[str, object] = {
    "autoescape": True,
    "undefined": jinja2.StrictUndefined,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
}


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's compiled templates kept between builds (compiling the theme costs about
    40 ms a process). Jinja keys each file on the template's name, path and source; the
    file names also carry what else the compiled code depends on: the clinsite and Jinja
    versions, the interpreter's bytecode magic, the options above and this module's text
    (its filters). A damaged or unwritable cache is only slower."""

    def __init__(self, folder: Path) -> None:
        tag = hashlib.blake2b(repr((__version__, jinja2.__version__, MAGIC_NUMBER,
                                    sorted(_ENVIRONMENT_OPTIONS.items()))).encode(),
                              digest_size=6)
        tag.update(Path(__file__).read_bytes())  # (the filters: Jinja may fold constants)
        super().__init__(str(folder), f"{tag.hexdigest()}-%s.cache")

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # (a damaged file can raise almost anything: compile instead)
            bucket.reset()
        if bucket.code is not None and not isinstance(bucket.code, CodeType):
            bucket.reset()  # (a damaged payload that still unmarshals: compile, rewrite)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


class TrackingTemplate(jinja2.Template):
    """A template that records again, on each import, what its own top level loaded.
    Jinja keeps the module of a template imported without context (`{% import %}`,
    `{% from %}`): the code it compiles calls `_get_default_module`, which runs the
    template's top level, and so its own imports and `extends`, on the first import in a
    process only. (The hook is Jinja's; tests/test_incremental.py fails if it changes.)"""

    _loaded: frozenset[str] = frozenset()

    def _get_default_module(self, ctx: Any = None) -> Any:
        env = cast("TrackingEnvironment", self.environment)  # (its template_class)
        if self._module is not None:  # (kept: its top level does not run again)
            if env.recording is not None:
                env.recording.update(self._loaded)
            return super()._get_default_module(ctx)
        with env.record() as used:
            module = super()._get_default_module(ctx)
        if self._module is not None:
            self._loaded = frozenset(used)
        return module


class TrackingEnvironment(jinja2.Environment):
    """An environment that can record the name of every template a render loads: the one
    it starts from and each it extends, includes or imports, by a constant name or a
    computed one (the compiled code asks `get_template` or `select_template` for each, on
    every render, even when the template is already loaded). A page's record keeps these
    names, so that editing a template rebuilds only the pages that used it."""

    recording: set[str] | None = None
    template_class = TrackingTemplate

    @contextlib.contextmanager
    def record(self) -> Iterator[set[str]]:
        """Record the names of the templates loaded inside the block into the set it
        gives (nested blocks record into the outer block's set too)."""
        outer, used = self.recording, set[str]()
        self.recording = used
        try:
            yield used
        finally:
            self.recording = outer
            if outer is not None:
                outer.update(used)

    def get_template(self, name: str | jinja2.Template, parent: str | None = None,
                     globals: MutableMapping[str, Any] | None = None) -> jinja2.Template:
        if self.recording is not None and isinstance(name, str):
            self.recording.add(self.join_path(name, parent) if parent is not None else name)
        return super().get_template(name, parent, globals)

    def select_template(self, names: Iterable[str | jinja2.Template],
                        parent: str | None = None,
                        globals: MutableMapping[str, Any] | None = None) -> jinja2.Template:
        if self.recording is not None and not isinstance(names, jinja2.Undefined):
            names = list(names)
            # Every name of the list, found or not: a file created for an earlier name
            # would be chosen instead.
            self.recording.update(self.join_path(name, parent) if parent is not None else name
                                  for name in names if isinstance(name, str))
        return super().select_template(names, parent, globals)


def make_environment(root: Path, bytecode: Path | None = None) -> TrackingEnvironment:
    """The Jinja environment: site overrides first, then the built-in theme. With
    `bytecode`, a folder, compiled templates are kept there between builds."""
    cache = None
    if bytecode is not None:
        with contextlib.suppress(OSError):
            bytecode.mkdir(parents=True, exist_ok=True)
            cache = _BytecodeCache(bytecode)
    env = TrackingEnvironment(
        loader=jinja2.FileSystemLoader([str(root / "templates"), str(THEME / "templates")]),
        bytecode_cache=cache,
        **_ENVIRONMENT_OPTIONS,  # type: ignore[arg-type]
    )
    env.filters["date"] = human_date
    env.filters["iso"] = lambda d: "" if d is None else d.isoformat()
    return env


def template_diagnostic(exc: BaseException, root: Path) -> Diagnostic:
    """A template error as a diagnostic at the template file and line."""
    name = getattr(exc, "filename", None) or getattr(exc, "name", None)
    line = getattr(exc, "lineno", None)
    if not name or not line:
        name, line = _template_frame(exc.__traceback__)
    return error(_display_path(name, root), line or 0, 1 if line else 0, "template-error",
                 f"template error: {exc}")


def _undecodable_template(root: Path, exc: UnicodeDecodeError) -> Diagnostic:
    """Find the site template that is not UTF-8 and point at its first bad byte."""
    base = root / "templates"
    for file in sorted(base.rglob("*")) if base.is_dir() else []:
        if file.is_file() and file.suffix in (".html", ".xml", ".txt"):
            found = decode_source(file.relative_to(root).as_posix(), file.read_bytes())
            if isinstance(found, Diagnostic):
                return found
    return error("templates", 0, 0, "encoding", f"a template is not valid UTF-8: {exc}")


def _template_frame(tb: TracebackType | None) -> tuple[str, int]:
    found = ("templates", 0)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".xml", ".txt")):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _display_path(name: str, root: Path) -> str:
    path = Path(name)
    for base, label in ((root.resolve(), ""), (THEME.parent.parent, "")):
        try:
            return label + path.resolve().relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


class TemplateSources(Protocol):
    """What the listing memo asks of the renderer (see Renderer)."""

    def recording(self) -> contextlib.AbstractContextManager[set[str]]: ...

    def template_digest(self, name: str) -> str: ...


class ListingMemo:
    """Rendered listings by a digest of everything their templates are given, kept
    between builds: a listing whose views did not change is not rendered again.
    Only given `previous` (the keys the last build kept) when the site-wide inputs
    (settings, board, today) are the same as when those were rendered (clinsite.cache's
    site digest). Each text is kept with the templates its render loaded and a digest of
    each (`templates`, the renderer, records and digests them): a text whose templates
    changed since is rendered again. The texts are files in `folder`, one a key, read only
    when asked for: most builds need few of them."""

    def __init__(self, folder: Path, previous: Iterable[str] | None = None,
                 templates: TemplateSources | None = None) -> None:
        self.folder = folder
        self.previous = frozenset(previous or ())
        self.templates = templates
        self.used: set[str] = set()
        self.names: set[str] = set()  # the templates of every text used (kept or new)
        self._new: dict[str, bytes] = {}

    def get(self, inputs: object, render: Callable[[], str]) -> str:
        """The text `render` makes from `inputs`, rendered only if not known; the key
        is the repr of `inputs` (views are frozen dataclasses)."""
        key = hashlib.blake2b(repr(inputs).encode(), digest_size=16).hexdigest()
        text = self._known(key) if key in self.previous else None
        if text is None:
            if self.templates is None:
                text, used = render(), set[str]()
            else:
                with self.templates.recording() as used:
                    text = render()
            self._new[key] = self._head(used) + text.encode("utf-8")
            self.names.update(used)
        self.used.add(key)
        return text

    def _head(self, names: Iterable[str]) -> bytes:
        """The first line of a kept text: its templates and their digests, as JSON."""
        digest = self.templates.template_digest if self.templates is not None else str
        return json.dumps({name: digest(name) for name in sorted(names)}).encode() + b"\n"

    def _known(self, key: str) -> str | None:
        """The kept text of `key`, if readable and its templates are unchanged."""
        try:
            head, _, text = (self.folder / key).read_bytes().partition(b"\n")
            templates = json.loads(head)
            if not isinstance(templates, dict) or self._head(templates) != head + b"\n":
                return None
            decoded = text.decode("utf-8")
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        self.names.update(templates)
        return decoded

    def save(self) -> None:
        """Keep this build's listings (and only those) for the next build."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for key, data in self._new.items():
            tmp = self.folder / f".{key}.{os.getpid()}"
            tmp.write_bytes(data)
            os.replace(tmp, self.folder / key)
        for path in self.folder.iterdir():
            if path.name not in self.used:
                path.unlink(missing_ok=True)


class Renderer:
    """Renders view models with the site's templates."""

    def __init__(self, root: Path, site: SiteView, ctx: ViewContext,
                 bytecode: Path | None = None) -> None:
        self.root = root
        self.env = make_environment(root, bytecode)
        self.site = site
        self.ctx = ctx
        self.memo: ListingMemo | None = None  # set by a build that keeps a cache
        self._digests: dict[str, str] = {}  # template name -> digest of its source
        self._sets: dict[tuple[str, ...], str] = {}  # names -> digest (templates_digest)
        self._names: dict[frozenset[str], tuple[str, ...]] = {}  # one tuple for each set
        # Every template's digest now, before anything is rendered: a template saved during
        # the build then differs from its digest in the manifest, and the next build renders
        # its pages again (the assets, files served as they are, are not templates).
        for name in self.env.list_templates():
            if not name.startswith("assets/"):
                self.template_digest(name)

    def recording(self) -> contextlib.AbstractContextManager[set[str]]:
        """The templates loaded inside the block (TrackingEnvironment.record)."""
        return self.env.record()

    def used_templates(self, used: set[str]) -> tuple[str, ...]:
        """`used` as a sorted tuple, the same object for the same names (records share
        it, and a pickle of many records holds it once)."""
        key = frozenset(used)
        found = self._names.get(key)
        if found is None:
            found = self._names[key] = tuple(sorted(key))
        return found

    def template_digest(self, name: str) -> str:
        """A digest of the source the name `name` loads now (the site's file, else the
        theme's), or a mark for a missing or unreadable one; read once a build."""
        found = self._digests.get(name)
        if found is None:
            try:
                source = self.env.loader.get_source(self.env, name)[0]  # type: ignore[union-attr]
            except jinja2.TemplateNotFound:
                found = "missing"
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                found = f"unreadable: {type(exc).__name__}"
            else:
                found = hashlib.blake2b(source.encode("utf-8", "surrogatepass"),
                                        digest_size=16).hexdigest()
            self._digests[name] = found
        return found

    def templates_digest(self, names: tuple[str, ...]) -> str:
        """A digest of what the templates `names` (a sorted tuple) load now."""
        found = self._sets.get(names)
        if found is None:
            found = self._sets[names] = hashlib.blake2b("\0".join(
                f"{name}\1{self.template_digest(name)}" for name in names).encode(),
                digest_size=16).hexdigest()
        return found

    def _listing(self, template: str, url: str, *, root: str | None = None,
                 **context: object) -> str:
        """`render` for a listing page, through the memo when there is one. The key is
        the repr of every value the template is given (views are frozen dataclasses)."""
        if self.memo is None:
            return self.render(template, url, root=root, **context)
        return self.memo.get((template, url, root, self.site, sorted(context.items())),
                             lambda: self.render(template, url, root=root, **context))

    def by_key(self, key: object, render: Callable[[], str]) -> str:
        """`render()`, or the memo's text for `key`, for a listing known to be a function of
        `key` and the site-wide inputs (which gate the memo): see clinsite.emit. A miss
        renders without the repr-keyed memo (`render` is not stored twice)."""
        memo = self.memo
        if memo is None:
            return render()

        def unmemoised() -> str:
            self.memo = None
            try:
                return render()
            finally:
                self.memo = memo

        return memo.get(("by key", key), unmemoised)

    def render(self, template: str, url: str, *, root: str | None = None,
               **context: object) -> str:
        """Render `template` for the page published at site-relative `url`."""
        try:
            tpl = self.env.get_template(template)
            return tpl.render(site=self.site, root=root or root_prefix(url), page_url=url,
                              csp=CSP, **context)
        except jinja2.TemplateNotFound as exc:
            diagnostic = template_diagnostic(exc, self.root)
            missing = exc.name if isinstance(exc.name, str) else exc.message
            raise TemplateFailure(replace(diagnostic, message=(
                f"template error: template '{missing}' not found in templates/ or the built-in "
                "theme"))) from exc
        except UnicodeDecodeError as exc:  # a template file that is not UTF-8
            raise TemplateFailure(_undecodable_template(self.root, exc)) from exc
        except RecursionError as exc:
            diagnostic = template_diagnostic(exc, self.root)
            raise TemplateFailure(replace(diagnostic, message="template error: recursion too "
                                          "deep (does a macro or include call itself?)")) from exc
        except Exception as exc:  # a theme is code: any error it raises is reported, not raised
            raise TemplateFailure(template_diagnostic(exc, self.root)) from exc

    def render_document(self, doc: Document, composed: ComposedPage) -> str:
        """A summary, drug monograph or plain page."""
        if isinstance(doc, Summary):
            return self.render("summary.html", doc.url, page=summary_view(doc, composed, self.ctx))
        if isinstance(doc, Drug):
            return self.render("drug.html", doc.url, page=drug_view(doc, composed, self.ctx))
        return self.render("page.html", doc.url, page=page_view(doc, composed, self.ctx))

    def render_home(self, summaries: Iterable[Summary], drugs: Iterable[Drug],
                    tags: Sequence[TagView]) -> str:
        items, recent, monographs = home_listings(summaries, drugs)
        return self._listing("home.html", "", summaries=items, recent=recent, drugs=monographs,
                           tags=tags, canonical=self.site.base_url)

    def render_references(self, entries: Sequence[IndexEntry]) -> str:
        return self._listing("references.html", "references/", entries=entries,
                           canonical=self.site.base_url + "references/")

    def render_tags(self, tags: Sequence[TagView]) -> str:
        return self._listing("tags.html", "tags/", tags=tags,
                           canonical=self.site.base_url + "tags/")

    def render_tag(self, tag: TagView) -> str:
        return self._listing("tag.html", tag.url, tag=tag, canonical=self.site.base_url + tag.url)

    def render_search(self, shards: Sequence[str] = ()) -> str:
        """The search page; `shards`: further index bundles (relative to the root) to merge."""
        return self._listing("search.html", "search/", canonical=self.site.base_url + "search/",
                           search_shards=tuple(shards))

    def render_board(self) -> str:
        members = tuple(reviewer_view(self.ctx.board[i]) for i in sorted(self.ctx.board))
        return self._listing("board.html", "board/", members=members,
                           canonical=self.site.base_url + "board/")

    def render_not_found(self) -> str:
        # 404.html is served at any depth, so its links are absolute paths.
        base_path = self.site.base_url.split("://", 1)[-1].partition("/")[2]
        return self._listing("404.html", "", root="/" + base_path, canonical=self.site.base_url)


def theme_assets(root: Path) -> list[tuple[str, Path]]:
    """(output path, source) of every asset: the theme's, then the site's overrides."""
    chosen: dict[str, Path] = {}
    for base in (THEME / "assets", root / "templates" / "assets"):
        if base.is_dir():
            for file in sorted(base.rglob("*")):
                if file.is_file() and not file.name.startswith("."):
                    chosen["assets/" + file.relative_to(base).as_posix()] = file
    return sorted(chosen.items())


def generator() -> str:
    return f"clinsite {__version__}"

