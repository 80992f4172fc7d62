"""The ``%registry`` line magic and the ``%%tenant`` cell magic.

Every subcommand returns an object that displays richly (a pandas DataFrame, a widget, an
int) instead of printing. User mistakes raise IPython's ``UsageError``: one line, no
traceback. A bug inside nbregistry still shows its traceback.

The line is *not* variable-expanded (``{...}`` and ``$x`` stay literal), so JSON given to
``find --structure`` reaches ``json.loads`` untouched and nothing in the line is evaluated.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import importlib
import inspect
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.utils._process_common import arg_split
from traitlets import Bool, Instance, Int
from traitlets.config import Configurable

from ..core import tables as _tables
from ..core.errors import RegistryError
from ..core.meta import owner_of
from ..core.registry import ModelRegistry
from ..core.tenancy import GLOBAL_TENANT, tenant, validate_tenant
from ..render import frames as _frames
from ..render.html import DEFAULT_MAX_ROWS, titled_html

if TYPE_CHECKING:
    import pandas as pd

    from ..core.model import Model

__all__ = ["SUBCOMMANDS", "RegistryMagics", "UsageTable", "tenant_cell_transformer"]

#: Subcommand → (usage, one-line description); the source of ``%registry help``.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "stats": ("stats", "counters and one row per tenant (plus a total row) as a DataFrame"),
    "tenants": ("tenants", "one row per tenant: models, named, anonymous, owners, times"),
    "models": (
        "models [-t TENANT | --all-tenants] [-o OWNER] [--anonymous | --named]",
        "one row per model with its record count (default: the current tenant)",
    ),
    "owners": (
        "owners [-t TENANT | --all-tenants]",
        "one row per owner: connector, database/schema, model names, records",
    ),
    "show": (
        "show MODEL [-t TENANT]",
        "a model's properties, with owner, tenant, connector, records, fingerprint",
    ),
    "find": (
        "find NAME | --structure JSON [-t TENANT]",
        "a model by name ('owner.Model' too; --all-tenants), or anonymous by structure",
    ),
    "tenant": ("tenant [CODE | --reset]", "show the current tenant, or set the session default"),
    "cleanup": ("cleanup TENANT", "remove every model of a tenant; returns how many"),
    "clear": (
        "clear --yes [--store]",
        "remove everything here (refuses without --yes); --store: for every process",
    ),
    "connect": (
        "connect URL [--listen]",
        "connect to a shared store (sqlite:///…, postgresql://…)",
    ),
    "disconnect": ("disconnect", "disconnect the shared store (everything here stays, local)"),
    "sync": ("sync", "apply other processes' revisions now; prints how many"),
    "history": ("history NAME [-t TENANT]", "a model's revisions (with a store: every process's)"),
    "diff": ("diff NAME A B [-t TENANT]", "what changed in a model from revision A to B"),
    "browse": ("browse [-t TENANT]", "the interactive tenant browser widget"),
    "help": ("help", "this table (also: %registry -h; %registry SUBCOMMAND -h for details)"),
}

_HINT = "see %registry help"


# --- argparse that raises instead of exiting -------------------------------------------


class _ParserExit(Exception):
    """argparse asked to exit (after printing ``-h`` help): end the magic quietly."""


class _Parser(MagicArgumentParser):
    """A MagicArgumentParser whose errors are one-line UsageErrors and that never exits."""

    def error(self, message: str) -> Any:
        """Raise UsageError with a one-line message (argparse would call sys.exit)."""
        raise UsageError(f"{self.prog}: {message} ({_HINT})")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        """Raise _ParserExit instead of calling sys.exit (after -h printed its help)."""
        if status:
            raise UsageError(f"{self.prog}: {(message or 'invalid arguments').strip()}")
        raise _ParserExit()


def _build_parser() -> _Parser:
    """Return the ``%registry`` parser: one subparser per subcommand."""
    parser = _Parser(prog="%registry", add_help=False)
    parser.add_argument("-h", "--help", action="store_true", help="show the usage table")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=_Parser)

    def add(name: str) -> _Parser:
        usage, desc = SUBCOMMANDS[name]
        return sub.add_parser(
            name,
            prog=f"%registry {name}",
            usage=f"%%registry {usage}",  # argparse %-formats usage: escape the '%'
            formatter_class=argparse.HelpFormatter,
            description=desc,
            help=desc,
            add_help=True,
        )

    add("stats")
    add("tenants")
    p = add("models")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-t", "--tenant", help="tenant code (default: the current tenant)")
    where.add_argument("--all-tenants", action="store_true", help="every tenant")
    p.add_argument("-o", "--owner", help="only the models of this owner (by name)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--anonymous", action="store_true", help="only anonymous models")
    kind.add_argument("--named", action="store_true", help="only named models")
    p = add("owners")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-t", "--tenant", help="tenant code (default: the current tenant)")
    where.add_argument("--all-tenants", action="store_true", help="every tenant")
    p = add("show")
    p.add_argument("model", metavar="MODEL", help="model name, or 'owner.Model'")
    p.add_argument("-t", "--tenant", help="tenant code (default: the current tenant)")
    p = add("find")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("name", metavar="NAME", nargs="?", help="model name, or 'owner.Model'")
    what.add_argument("--structure", metavar="JSON", help='e.g. \'{"street": "string"}\'')
    p.add_argument("--strict", action="store_true", help="with --structure: strict models")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-t", "--tenant", help="tenant code (default: the current tenant)")
    where.add_argument("--all-tenants", action="store_true", help="every tenant (NAME only)")
    p = add("tenant")
    what = p.add_mutually_exclusive_group()
    what.add_argument("code", metavar="CODE", nargs="?", help="set the session default")
    what.add_argument("--reset", action="store_true", help="reset the session default")
    p = add("cleanup")
    p.add_argument("tenant", metavar="TENANT", help="tenant code")
    p = add("clear")
    p.add_argument("--yes", action="store_true", help="confirm: remove everything")
    p.add_argument("--store", action="store_true", help="record it in the shared store too")
    p = add("connect")
    p.add_argument("url", metavar="URL", help="sqlite:///path/registry.db or postgresql://…")
    p.add_argument("--listen", action="store_true", help="PostgreSQL: apply as announced")
    add("disconnect")
    add("sync")
    p = add("history")
    p.add_argument("name", metavar="NAME", help="model name")
    p.add_argument("-t", "--tenant", help="tenant code (default: the current tenant)")
    p = add("diff")
    p.add_argument("name", metavar="NAME", help="model name")
    p.add_argument("a", metavar="A", type=int, help="revision (see %%registry history NAME)")
    p.add_argument("b", metavar="B", type=int, help="revision")
    p.add_argument("-t", "--tenant", help="tenant code (default: the current tenant)")
    p = add("browse")
    p.add_argument("-t", "--tenant", help="tenant to open (default: all)")
    add("help")
    return parser


def option_names(parser: argparse.ArgumentParser) -> list[str]:
    """Return the option strings (``--tenant``, ``-t``...) a parser accepts."""
    return [s for action in parser._actions for s in action.option_strings]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Return ``{subcommand: its parser}`` of the ``%registry`` parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn nbregistry's own errors caused by user input into one-line UsageErrors."""
    try:
        yield
    except RegistryError as exc:
        raise UsageError(" ".join(str(exc).split())) from None


# --- display helpers ----------------------------------------------------------------------


class UsageTable:
    """The ``%registry help`` table: renders as text and as HTML."""

    def __init__(self, rows: list[tuple[str, str]], options: list[tuple[str, str]]) -> None:
        self.rows = rows
        self.options = options

    def __repr__(self) -> str:
        width = max(len(u) for u, _ in self.rows + self.options)
        lines = ["%registry SUBCOMMAND [options]   (%%tenant CODE runs a cell in a tenant)"]
        lines += [f"  {u.ljust(width)}  {d}" for u, d in self.rows]
        lines.append("options (set with %config):")
        lines += [f"  {u.ljust(width)}  {d}" for u, d in self.options]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        subcommands = titled_html(
            "%registry SUBCOMMAND [options]",
            columns=("usage", "what it does"),
            rows=self.rows,
            code=("usage",),
            max_rows=len(self.rows),
        )
        options = titled_html(
            "options (set with %config)",
            columns=("option", "what it sets"),
            rows=self.options,
            code=("option",),
            max_rows=max(1, len(self.options)),
        )
        return subcommands + options


def __getattr__(name: str) -> Any:
    # Frames pickled before the render layer held the class name it here.
    if name == "RegistryFrame":
        return _frames.RegistryFrame
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _models_frame(models: list[type[Model]]) -> pd.DataFrame:
    """Return the ``to_frame()`` rows of ``models`` plus ``records``, fingerprints shortened.

    The header names each DataSource's connector and database/schema, and the error of
    any that could not count its records (never a secret).
    """
    table, header = _tables.magic_models_table(models)
    return _frames.header_frame(
        table.frame(), header, shorten={"fingerprint": _tables.SHORT_FINGERPRINT}
    )


# --- the magics -----------------------------------------------------------------------------


@magics_class
class RegistryMagics(Magics, Configurable):
    """``%registry`` subcommands and the ``%%tenant`` cell magic (``%load_ext nbregistry``).

    Options are traitlets: ``%config RegistryMagics.max_rows = 50``. ``registry`` is the
    ModelRegistry the magics act on (``nbregistry.registry`` unless set).
    """

    max_rows = Int(
        DEFAULT_MAX_ROWS,
        min=1,
        help="Rows shown in rich (HTML) displays of registries, tenants, owners and models "
        "before '… N more rows not shown'.",
    ).tag(config=True)

    all_tenants = Bool(
        False,
        help="When True, 'models', 'owners' and 'find NAME' without -t cover every tenant "
        "instead of the current one.",
    ).tag(config=True)

    registry = Instance(ModelRegistry, help="The registry the magics act on.")

    def __init__(self, shell: Any = None, *, registry: ModelRegistry | None = None, **kw: Any):
        super().__init__(shell=shell, **kw)
        if registry is None:
            from ..core.registry import registry as default_registry

            registry = default_registry
        self.registry = registry
        self._parser = _build_parser()

    # entry points ----------------------------------------------------------------------

    @no_var_expand
    @line_magic("registry")
    def registry_magic(self, line: str = "") -> Any:
        """Inspect and manage the model registry: ``%registry SUBCOMMAND [options]``.

        Subcommands: stats, tenants, models, owners, show, find, tenant, cleanup, clear,
        connect, disconnect, sync, history, diff, browse, help. ``%registry help`` shows
        the usage table, ``%registry SUBCOMMAND -h`` the options of one subcommand.
        Raises UsageError (one line) for a bad subcommand, option, tenant code, model
        name or JSON.
        """
        try:
            argv = arg_split(line, posix=True, strict=True)
        except ValueError as exc:
            raise UsageError(f"%registry: cannot split {line!r}: {exc} ({_HINT})") from None
        try:
            args = self._parser.parse_args(argv)
        except _ParserExit:
            return None
        if args.help or args.command in (None, "help"):
            return self.usage()
        handler: Callable[[argparse.Namespace], Any] = getattr(self, f"_cmd_{args.command}")
        with _user_errors():
            return handler(args)

    @no_var_expand
    @cell_magic("tenant")
    def tenant_magic(self, line: str, cell: str) -> Any:
        """Run the cell with tenant CODE in force: ``%%tenant CODE``.

        Works for plain and top-level ``await`` cells; the previous tenant is restored
        afterwards, also when the cell raises. Raises UsageError for a missing or invalid
        tenant code.
        """
        __tracebackhide__ = True
        code = self._tenant_arg(line)
        return self._run_in_tenant(code, cell)

    # %%tenant ------------------------------------------------------------------------

    def _tenant_arg(self, line: str) -> str:
        try:
            argv = arg_split(line, posix=True, strict=True)
        except ValueError as exc:
            raise UsageError(f"%%tenant: cannot split {line!r}: {exc}") from None
        if len(argv) != 1:
            raise UsageError(
                f"%%tenant takes exactly one tenant code, got {line.strip()!r}; "
                "e.g. %%tenant acme on the cell's first line"
            )
        with _user_errors():
            return validate_tenant(argv[0])

    def _compile_cell(self, cell: str) -> tuple[Any, Any, bool]:
        """Return ``(exec code, eval code of the last expression or None, is_async)``."""
        shell = self.shell
        source = shell.transform_cell(cell)
        filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if shell.autoawait else 0
        with shell.compile.extra_flags(flags):
            tree = shell.transform_ast(shell.compile.ast_parse(source, filename=filename))
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                quiet = shell.displayhook.semicolon_at_end_of_expression(source)
                last_node = tree.body.pop()
                if quiet:
                    tree.body.append(last_node)
                else:
                    last = ast.Expression(last_node.value)
            body = shell.compile(ast.Module(tree.body, type_ignores=[]), filename, "exec")
            expr = None if last is None else shell.compile(last, filename, "eval")
        is_async = any(c is not None and c.co_flags & inspect.CO_COROUTINE for c in (body, expr))
        return body, expr, bool(is_async)

    def _run_in_tenant(self, code: str, cell: str) -> Any:
        """Run ``cell`` in the user namespace with ``code`` as the tenant override."""
        __tracebackhide__ = True
        body, expr, is_async = self._compile_cell(cell)
        ns = self.shell.user_ns
        glob = self.shell.user_global_ns
        if not is_async:
            with tenant(code):
                exec(body, glob, ns)
                return None if expr is None else eval(expr, glob, ns)

        async def run() -> Any:
            __tracebackhide__ = True
            with tenant(code):
                result = eval(body, glob, ns)
                if inspect.iscoroutine(result):
                    await result
                if expr is None:
                    return None
                result = eval(expr, glob, ns)
                if inspect.iscoroutine(result):
                    result = await result
                return result

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # No loop running (terminal IPython, tests): run it to completion here.
            return self.shell.loop_runner(run())
        # Inside a running loop (ipykernel): the cell transformer made the calling line
        # ``await get_ipython().run_cell_magic(...)``, so hand the coroutine back.
        return run()

    # subcommands ---------------------------------------------------------------------

    def usage(self) -> UsageTable:
        """Return the usage table of ``%registry`` and its options."""
        rows = [(f"%registry {u}", d) for u, d in SUBCOMMANDS.values()]
        rows.append(("%%tenant CODE", "run the cell with tenant CODE in force"))
        opts = []
        for name, trait in sorted(self.class_traits(config=True).items()):
            opts.append(
                (f"RegistryMagics.{name} = {getattr(self, name)!r}", trait.help.split(". ")[0])
            )
        return UsageTable(rows, opts)

    def _known_tenant(self, code: str | None, *, all_tenants: bool = False) -> list[str]:
        """Return the tenant codes a reading subcommand covers; UsageError for an unknown one."""
        reg = self.registry
        if all_tenants:
            return reg.tenants()
        if code is None:
            return [reg.current_tenant()]
        code = validate_tenant(code)
        if code not in reg.tenants() and not reg.owners(tenant=code):
            known = ", ".join(reg.tenants()) or "none yet"
            raise UsageError(
                f"no tenant {code!r} in the registry (tenants holding models: {known})"
            )
        return [code]

    def _cmd_stats(self, args: argparse.Namespace) -> pd.DataFrame:
        stats = self.registry.stats()
        return _frames.header_frame(_tables.stats_frame(stats), _tables.headline_text(stats))

    def _cmd_tenants(self, args: argparse.Namespace) -> pd.DataFrame:
        return _tables.tenant_stats_table(self.registry.stats().per_tenant).frame()

    def _models_in(self, codes: list[str]) -> list[type[Model]]:
        reg = self.registry
        if len(codes) == 1:
            return reg.all_models(tenant=codes[0])
        return reg.all_models()

    def _cmd_models(self, args: argparse.Namespace) -> pd.DataFrame:
        codes = self._known_tenant(args.tenant, all_tenants=self._all(args))
        models = self._models_in(codes) if codes else []
        if args.owner is not None:
            owners = {o.name for c in codes for o in self.registry.owners(tenant=c)}
            if args.owner not in owners:
                where = ", ".join(repr(c) for c in codes) or "the registry"
                have = ", ".join(sorted(owners)) or "none"
                raise UsageError(
                    f"no owner named {args.owner!r} in tenant {where} (owners: {have})"
                )
            models = [
                m
                for m in models
                if not m.anonymous and owner_of(m) is not None and owner_of(m).name == args.owner
            ]
        if args.anonymous:
            models = [m for m in models if m.anonymous]
        elif args.named:
            models = [m for m in models if not m.anonymous]
        return _models_frame(models)

    def _all(self, args: argparse.Namespace) -> bool:
        return bool(args.all_tenants or (self.all_tenants and args.tenant is None))

    def _cmd_owners(self, args: argparse.Namespace) -> pd.DataFrame:
        codes = self._known_tenant(args.tenant, all_tenants=self._all(args))
        table, errors = _tables.owners_errors(self.registry, codes)
        header = {"records unavailable": "; ".join(f"{k}: {v}" for k, v in errors.items())}
        return _frames.header_frame(table.frame(), header if errors else None)

    def _cmd_show(self, args: argparse.Namespace) -> pd.DataFrame:
        codes = self._known_tenant(args.tenant) if args.tenant is not None else [None]
        cls = self.registry.get_model(args.model, tenant=codes[0])
        header: dict[str, Any] = {
            "model": cls.model_name,
            "tenant": cls.tenant,
            "owner": _tables.owner_label(owner_of(cls)) or "(anonymous)",
            "fingerprint": cls.definition.fingerprint,
        }
        ds = None if cls.anonymous else cls.data_source
        info = _tables.connector_info(ds)
        for key in ("connector", "host", "database", "schema"):
            if info.get(key):
                header[key] = info[key]
        if ds is not None:
            count = _tables.count_records([cls]).get(cls)
            if count is not None:
                header["records"] = count if isinstance(count, int) else f"unavailable: {count}"
        return _frames.header_frame(_tables.properties_frame(cls), header)

    def _cmd_find(self, args: argparse.Namespace) -> pd.DataFrame:
        from ..core.errors import AmbiguousModelError

        if args.structure is not None:
            if args.all_tenants:
                raise UsageError(
                    "find --structure searches one tenant (and global); drop "
                    "--all-tenants or give -t TENANT"
                )
            return _models_frame([self._find_structure(args)])
        if args.strict:
            raise UsageError("--strict only applies to find --structure JSON")
        name = args.name
        if self._all(args):
            found = [
                m
                for m in self.registry.all_models()
                if m.model_name == name or _qualified(m) == name
            ]
            if not found:
                raise UsageError(f"no model named {name!r} in any tenant ({_HINT})")
            return _models_frame(found)
        codes = self._known_tenant(args.tenant)
        try:
            return _models_frame([self.registry.get_model(name, tenant=codes[0])])
        except AmbiguousModelError:
            # Several owners define it: list them all rather than fail. The ambiguity may
            # be in the tenant itself or in the global tenant it falls back to.
            for code in dict.fromkeys((codes[0], GLOBAL_TENANT)):
                found = [m for m in self.registry.all_models(tenant=code) if m.model_name == name]
                if found:
                    return _models_frame(found)
            raise

    def _find_structure(self, args: argparse.Namespace) -> type[Model]:
        from ..core.fingerprint import fingerprint

        try:
            spec = json.loads(args.structure)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--structure is not valid JSON ({exc}): {args.structure!r}; "
                'e.g. --structure \'{"street": "string"}\''
            ) from None
        if not isinstance(spec, dict):
            raise UsageError(
                f"--structure must be a JSON object of properties, got {args.structure!r}; "
                'e.g. \'{"street": "string"}\''
            )
        fp = fingerprint(spec)
        code = self._known_tenant(args.tenant)[0]
        # Read the structure index directly: a query from the magic must not count as a
        # reuse hit/miss (those measure define-time reuse).
        for c in (code, GLOBAL_TENANT) if code != GLOBAL_TENANT else (code,):
            treg = self.registry.tenant_registry(c)
            hit = None if treg is None else treg.by_structure.get((fp, bool(args.strict)))
            if hit is not None:
                return hit
        where = f"tenant {code!r}" + (" or global" if code != GLOBAL_TENANT else "")
        strict = " strict" if args.strict else ""
        raise UsageError(
            f"no{strict} anonymous model with structure {args.structure} (fingerprint "
            f"{fp[:12]}) in {where}; anonymous models come from nested dicts in define()"
        )

    def _cmd_tenant(self, args: argparse.Namespace) -> str | None:
        reg = self.registry
        if args.reset:
            before = reg.session_tenant
            reg.use_tenant(None)
            print(f"session tenant reset to {GLOBAL_TENANT!r} (was {before!r})")
            return None
        if args.code is None:
            return reg.current_tenant()
        before = reg.session_tenant
        reg.use_tenant(args.code)
        note = ""
        if reg.current_tenant() != reg.session_tenant:
            note = f" (the %%tenant/with tenant() override {reg.current_tenant()!r} still wins)"
        print(f"session tenant is now {reg.session_tenant!r} (was {before!r}){note}")
        return None

    def _cmd_cleanup(self, args: argparse.Namespace) -> int:
        return self.registry.cleanup_tenant(args.tenant)

    def _cmd_clear(self, args: argparse.Namespace) -> None:
        reg = self.registry
        stats = reg.stats()
        if not args.yes:
            raise UsageError(
                f"refusing to clear {stats.models} models in {len(stats.per_tenant)} tenants "
                "without confirmation; run %registry clear --yes"
            )
        reg.clear(scope="store" if args.store else "local")
        where = " (and in the shared store, for every process)" if args.store else ""
        print(f"cleared {stats.models} models in {len(stats.per_tenant)} tenants{where}")

    def _cmd_connect(self, args: argparse.Namespace) -> None:
        try:
            store = self.registry.connect_store(args.url, listen=args.listen)
        except (ValueError, TypeError) as exc:  # a malformed URL or an unknown scheme
            raise UsageError(f"%registry connect: {' '.join(str(exc).split())}") from None
        print(f"connected to {store!r}; {len(self.registry.tenants())} tenants here")

    def _cmd_disconnect(self, args: argparse.Namespace) -> None:
        store = self.registry.store
        self.registry.disconnect_store()
        print("no store was connected" if store is None else f"disconnected {store!r}")

    def _cmd_sync(self, args: argparse.Namespace) -> int:
        return self.registry.sync()

    def _cmd_history(self, args: argparse.Namespace) -> pd.DataFrame:
        return self.registry.history(args.name, tenant=args.tenant)

    def _cmd_diff(self, args: argparse.Namespace) -> pd.DataFrame:
        return self.registry.diff(args.name, args.a, args.b, tenant=args.tenant)

    def _cmd_browse(self, args: argparse.Namespace) -> Any:
        code = self._known_tenant(args.tenant)[0] if args.tenant is not None else None
        try:
            widgets = importlib.import_module("nbregistry.widgets")
            browser_cls = widgets.TenantBrowser
        except (ImportError, AttributeError) as exc:
            print(
                "%registry browse: the tenant browser is not available "
                f"(nbregistry.widgets.TenantBrowser: {exc}); use %registry tenants / models"
            )
            return None
        return browser_cls(registry=self.registry, tenant=code)


def _qualified(cls: type[Model]) -> str:
    owner = owner_of(cls)
    return cls.model_name if owner is None else f"{owner.name}.{cls.model_name}"


# --- %%tenant with top-level await under a running loop -----------------------------------


def tenant_cell_transformer(shell: Any) -> Callable[[list[str]], list[str]]:
    """Return an ``input_transformers_post`` hook that awaits async ``%%tenant`` cells.

    IPython turns ``%%tenant acme`` cells into ``get_ipython().run_cell_magic('tenant',
    'acme', body)``. When ``body`` needs ``await``, prefix that line with ``await `` so a
    kernel runs the cell on its own loop, and the magic returns a coroutine.
    """

    prefix = "get_ipython().run_cell_magic('tenant', "

    def transform(lines: list[str]) -> list[str]:
        if len(lines) != 1 or not lines[0].startswith(prefix) or not shell.autoawait:
            return lines
        try:
            call = ast.parse(lines[0], mode="eval").body
            assert isinstance(call, ast.Call) and len(call.args) == 3
            body = ast.literal_eval(call.args[2])
            source = shell.transform_cell(body)
            code = compile(source, "<%%tenant>", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except Exception:
            return lines  # let the magic itself report the problem
        if code.co_flags & inspect.CO_COROUTINE:
            return ["await " + lines[0]]
        return lines

    transform.nbregistry = True  # type: ignore[attr-defined]
    return transform
