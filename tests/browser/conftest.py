"""Real-browser test harness: serve a notebook with Voila, drive headless Chromium.

How it works
============

``serve_notebook`` (function-scoped factory fixture)
    ``url = serve_notebook(path)`` starts::

        <sys.executable> -m voila <path> --no-browser --port=<free port>
            --Voila.ip=127.0.0.1 --Voila.port_retries=0 --show_tracebacks=True ...

    in its own process group, with ``cwd`` = the notebook's directory, and an
    isolated Jupyter environment (see ``jupyter_env``): temp ``JUPYTER_DATA_DIR``,
    ``JUPYTER_CONFIG_DIR``, ``JUPYTER_RUNTIME_DIR``, ``IPYTHONDIR``,
    ``MPLCONFIGDIR``, ``XDG_CACHE_HOME`` and Voila connection dir, so nothing
    touches ``~``.  The kernel is pinned to *this*
    interpreter: a kernelspec whose argv is ``[sys.executable, "-m",
    "ipykernel_launcher", ...]`` is written into a temp ``JUPYTER_PATH`` under the
    kernel name found in the notebook's metadata (default ``python3``);
    ``JUPYTER_PATH`` wins over the venv's and the user's kernelspecs.

    It polls the port until *any* HTTP response comes back (an error status for
    a probe path, so no kernel is spent on the readiness check), bounded by
    ``VOILA_START_TIMEOUT_S``.  If Voila exits or never answers, the test fails
    with the command and the tail of Voila's log.  ``--Voila.port_retries=0``
    makes Voila fail instead of silently moving to another port; the harness
    then retries with a fresh free port (a small race between picking and
    binding the port is unavoidable).

    Teardown sends SIGTERM (Voila then shuts its kernels down cleanly), waits,
    escalates to SIGKILL of the process group, and finally kills any kernel
    processes left over (kernels are started in their own session by
    jupyter_client, so they are tracked with psutil, not via the group).

    Voila's combined stdout/stderr goes to ``<tmp_path>/voila-<port>.log``; on
    test failure its tail is attached to the pytest report.

    ``serve_notebook(path, extra_args=[...])`` appends Voila options (do not
    repeat the harness's own, e.g. ``--Voila.ip``: traitlets rejects duplicates).
    Several notebooks may be served in one test; all are stopped at teardown.
    The session-scoped ``jupyter_env`` fixture exposes the env dict and
    ``kernels_dir`` if a test needs a custom kernelspec.

``browser_page`` (function-scoped)
    Playwright *sync* API, Debian's ``/usr/bin/chromium`` (override with env
    ``NBREGISTRY_CHROMIUM``; never ``playwright install``), headless, with
    ``CHROMIUM_ARGS``; a fresh context and page with bounded default timeouts
    (``ACTION_TIMEOUT_MS`` / ``NAVIGATION_TIMEOUT_MS``, also applied to
    ``playwright.sync_api.expect``).  Any host other than
    127.0.0.1 / localhost is unresolvable inside the browser (Voila's lab
    template links a Font Awesome CDN), so tests stay hermetic and fast.
    Browser console errors and uncaught page errors are recorded and attached
    to the pytest report on failure.  Everything is closed on teardown.  If
    Chromium is missing the test is skipped, unless ``CI`` is set to a truthy
    value, in which case it fails (CI must install ``chromium``).

``open_voila`` (function-scoped, uses ``browser_page``)
    ``page = open_voila(url)`` navigates and waits (bounded by
    ``READY_TIMEOUT_MS``, counted from the first response byte) until a
    *visible* element matching ``ready_selector`` (default
    ``.jupyter-widgets``) exists.  It fails fast, with a diagnosis, if
    Voila answered with an HTTP error (e.g. the kernel could not start), if a
    cell raised (error output / traceback in the page), and on timeout it says
    whether Voila was still executing the notebook (kernel never came up /
    busy), or the cells were done but widget outputs never turned into DOM
    widgets (widget manager did not come up), plus recent browser errors.
    It also fails fast when Voila's log shows the kernel died while starting
    (Voila then leaves the page hanging at "Running ...").  Pass
    ``allow_errors=True`` to tolerate error outputs in cells.

Writing a browser test
======================

Mark it ``@pytest.mark.browser`` (the marker is registered in pyproject.toml)
and give it a generous ``@pytest.mark.timeout``.  For the tenant browser::

    from pathlib import Path

    import pytest
    from playwright.sync_api import expect

    NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02-tenant-browser.ipynb"

    @pytest.mark.browser
    @pytest.mark.timeout(300)
    def test_tenant_tree(serve_notebook, open_voila, tmp_path):
        page = open_voila(serve_notebook(NOTEBOOK), ready_selector=".widget-button")
        page.get_by_role("button", name="acme").click()        # expand a tenant node
        expect(page.locator(".jupyter-widgets").get_by_text("User")).to_be_visible()
        page.locator(".widget-text input").fill("acme")        # search box
        page.screenshot(path=tmp_path / "tenant-browser.png", full_page=True)

Tips / pitfalls:

* Scope assertions to widget DOM (``.jupyter-widgets``, or a class you add in
  the notebook with ``widget.add_class("...")``), not the whole page: markdown
  cells are rendered too and may contain the same words.
* Widgets render asynchronously *after* ``goto`` returns; always use
  ``expect(...)`` / ``locator`` auto-waiting, never ``time.sleep``.
* ``Text`` widgets have ``continuous_update=True`` by default, so ``fill`` /
  ``press_sequentially`` reach the kernel without pressing Enter; kernel
  round-trips are async, so assert with ``expect`` (it retries).
* ``filterwarnings = ["error"]`` applies to this process only (not Voila or the
  kernel).  Playwright/psutil are imported lazily inside fixtures; if a new
  version starts warning on import, add a *narrow*
  ``pytest.mark.filterwarnings("ignore:<message>:<Category>")`` with a comment.
* Timeouts are constants below; the machine is shared and noisy, so they are
  generous but bounded.  The notebook is executed by Voila *during* page
  load, so a notebook importing heavy libraries needs ``NAVIGATION_TIMEOUT_MS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported lazily at runtime, see module docstring
    from playwright.sync_api import Page

# Debian's chromium; NBREGISTRY_CHROMIUM may point elsewhere (e.g. a developer machine).
CHROMIUM_PATH = Path(os.environ.get("NBREGISTRY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Hermetic: only loopback is reachable (Voila's lab template links a CDN stylesheet).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

# Bounded timeouts (shared, noisy 2-core machine => generous).
VOILA_START_TIMEOUT_S = 60.0
VOILA_STOP_TIMEOUT_S = 15.0
VOILA_PORT_ATTEMPTS = 3
BROWSER_LAUNCH_TIMEOUT_MS = 60_000
NAVIGATION_TIMEOUT_MS = 120_000  # plain page.goto(); Voila executes the notebook while serving
READY_TIMEOUT_MS = 150_000  # navigation commit -> notebook executed -> widget visible
ACTION_TIMEOUT_MS = 30_000  # default for clicks, fills, expect(...)

LOG_TAIL_LINES = 60

_VOILA_SERVERS = pytest.StashKey[list["VoilaServer"]]()
_BROWSER_LOG = pytest.StashKey[list[str]]()


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- Jupyter env


@dataclass
class JupyterEnv:
    """Isolated Jupyter directories plus kernelspecs pinned to ``sys.executable``."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def kernels_dir(self) -> Path:
        return self.root / "path" / "kernels"

    def ensure_kernelspec(self, name: str) -> None:
        spec_dir = self.kernels_dir / name
        if (spec_dir / "kernel.json").exists():
            return
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"{name} (test harness: {sys.executable})",
            "language": "python",
            "metadata": {"debugger": False},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory: pytest.TempPathFactory) -> JupyterEnv:
    root = tmp_path_factory.mktemp("jupyter-env")
    names = ("path", "data", "config", "runtime", "ipython", "mpl", "xdg-cache")
    dirs = {name: root / name for name in names}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        JUPYTER_PATH=str(dirs["path"]),  # searched first: our kernelspecs win
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        IPYTHONDIR=str(dirs["ipython"]),
        MPLCONFIGDIR=str(dirs["mpl"]),  # notebooks importing matplotlib: font cache in tmp
        XDG_CACHE_HOME=str(dirs["xdg-cache"]),  # jedi / other library caches in tmp
        JUPYTER_PLATFORM_DIRS="1",  # silences jupyter_core's platformdirs deprecation notice
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # quiets debugpy's frozen-modules note in kernels
        PYTHONUNBUFFERED="1",  # so the log tail is current when we report a failure
    )
    # Voila's client JS (and our probe) talk to 127.0.0.1; never route them via a proxy.
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    jenv = JupyterEnv(root=root, env=env)
    jenv.ensure_kernelspec("python3")
    return jenv


def _notebook_kernel_name(path: Path) -> str:
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return "python3"
    return (meta.get("kernelspec") or {}).get("name") or "python3"


# --------------------------------------------------------------------------- Voila server


@dataclass
class VoilaServer:
    notebook: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    cmd: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def stop(self) -> None:
        try:
            import psutil  # hard dependency of ipykernel, so present in the dev env
        except ImportError:  # pragma: no cover - fall back to group kill only
            psutil = None

        descendants = []
        if psutil is not None and self.proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                descendants = psutil.Process(self.proc.pid).children(recursive=True)

        if self.proc.poll() is None:
            # Voila handles SIGTERM by stopping its loop and shutting down all kernels.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=VOILA_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=VOILA_STOP_TIMEOUT_S)

        if psutil is not None and descendants:
            alive = [p for p in descendants if p.is_running()]
            for p in alive:
                with contextlib.suppress(psutil.Error):
                    p.terminate()
            _, alive = psutil.wait_procs(alive, timeout=5)
            for p in alive:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            psutil.wait_procs(alive, timeout=5)


def _http_answers(port: int) -> bool:
    # Any HTTP status (a 404 here) proves the server is up; a probe path avoids
    # requesting "/" which would make Voila start a kernel and execute the notebook.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/__harness_probe__", timeout=3):
            return True
    except urllib.error.HTTPError as exc:
        exc.close()
        return True
    except (urllib.error.URLError, OSError):
        return False


def _start_voila(
    notebook: Path, jenv: JupyterEnv, log_dir: Path, extra_args: list[str]
) -> VoilaServer:
    failures = []
    for _attempt in range(VOILA_PORT_ATTEMPTS):
        port = _free_port()
        conn_dir = jenv.root / "voila-connections"
        conn_dir.mkdir(exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0",
            f"--Voila.connection_dir_root={conn_dir}",
            "--show_tracebacks=True",
            "--theme=light",
            *extra_args,
        ]
        log_path = log_dir / f"voila-{port}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=notebook.parent,
                env=jenv.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = VoilaServer(notebook, port, proc, log_path, cmd)
        deadline = time.monotonic() + VOILA_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _http_answers(port):
                return server
            time.sleep(0.25)
        exited = proc.poll()
        server.stop()
        tail = server.log_tail()
        if exited is not None and "already in use" in tail:
            failures.append(f"port {port} taken, retrying")
            continue
        reason = (
            f"exited with code {exited}"
            if exited is not None
            else f"did not answer HTTP on 127.0.0.1:{port} within {VOILA_START_TIMEOUT_S:.0f}s"
        )
        pytest.fail(
            f"Voila {reason}.\ncommand: {' '.join(cmd)}\n--- tail of {log_path} ---\n{tail}",
            pytrace=False,
        )
    pytest.fail(f"Voila could not bind a port: {failures}", pytrace=False)


@pytest.fixture
def serve_notebook(
    request: pytest.FixtureRequest, jupyter_env: JupyterEnv, tmp_path: Path
) -> Iterator[Callable[..., str]]:
    """Factory: ``url = serve_notebook(path, extra_args=())`` -> ``http://127.0.0.1:<port>/``."""
    servers: list[VoilaServer] = []
    request.node.stash[_VOILA_SERVERS] = servers

    def _serve(path: str | os.PathLike[str], extra_args: tuple[str, ...] | list[str] = ()) -> str:
        notebook = Path(path).resolve()
        if not notebook.is_file():
            pytest.fail(f"notebook to serve does not exist: {notebook}", pytrace=False)
        jupyter_env.ensure_kernelspec(_notebook_kernel_name(notebook))
        server = _start_voila(notebook, jupyter_env, tmp_path, list(extra_args))
        servers.append(server)
        return server.url

    yield _serve
    errors = []
    for server in reversed(servers):
        try:
            server.stop()
        except Exception as exc:  # keep tearing the others down
            errors.append(f"{server.url}: {exc!r}")
    if errors:
        pytest.fail(f"failed to stop Voila cleanly: {errors}", pytrace=False)


# --------------------------------------------------------------------------- browser


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A fresh headless-Chromium page (Playwright sync API); closed on teardown."""
    if not (CHROMIUM_PATH.is_file() and os.access(CHROMIUM_PATH, os.X_OK)):
        msg = f"{CHROMIUM_PATH} not found/executable (Debian: apt-get install chromium)"
        if _ci():
            pytest.fail(f"{msg}; CI must provide it", pytrace=False)
        pytest.skip(msg)

    from playwright.sync_api import expect, sync_playwright

    log: list[str] = []
    request.node.stash[_BROWSER_LOG] = log
    expect.set_options(timeout=ACTION_TIMEOUT_MS)

    # Playwright gives Chromium a temp profile, but Chromium still writes crash-report
    # settings / dconf state under XDG dirs (~/.config, ~/.cache): keep those in tmp too.
    xdg = tmp_path / "chromium-xdg"
    browser_env = dict(os.environ)
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        browser_env[var] = str(xdg / var.lower())

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM_PATH),
            headless=True,
            args=CHROMIUM_ARGS,
            env=browser_env,
            timeout=BROWSER_LAUNCH_TIMEOUT_MS,
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
            page = context.new_page()

            def _on_console(msg: Any) -> None:
                if msg.type in ("error", "warning"):
                    log.append(f"console.{msg.type}: {msg.text}")

            page.on("console", _on_console)
            page.on("pageerror", lambda e: log.append(f"pageerror: {e}"))
            yield page
        finally:
            browser.close()


# Lines in Voila's log meaning the kernel never came up. Voila keeps the half-streamed
# page open ("Running ...") in that case, so without this we would only time out.
_KERNEL_START_FAILURES = (
    "Error occurred while starting new kernel client",
    "Kernel died before replying to kernel_info",
    "No such kernel named",
    "Error occurred during kernel start",
    "Kernel didn't respond in",
)


def _fail_on_voila_log_errors(server: VoilaServer, url: str) -> None:
    if server.proc.poll() is not None:
        pytest.fail(
            f"Voila serving {url} exited with code {server.proc.returncode}:\n{server.log_tail()}",
            pytrace=False,
        )
    tail = server.log_tail(400)
    for marker in _KERNEL_START_FAILURES:
        if marker in tail:
            pytest.fail(
                f"the kernel for {url} did not start ({marker!r} in Voila's log):\n"
                f"{server.log_tail()}",
                pytrace=False,
            )


_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# JS run in the page to explain why widgets did not show up.
_DIAGNOSE_JS = """
(readySelector) => {
  const q = (s) => Array.from(document.querySelectorAll(s));
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const spinner = document.getElementById('loading');
  const cells = document.getElementById('rendered_cells');
  const errors = q('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    .map((el) => el.innerText)
    .filter((t) => /Traceback|Error|error when executing cell/.test(t));
  const pending = q('script[type="application/vnd.voila.cell-output+json"]')
    .filter((s) => s.textContent.includes('application/vnd.jupyter.widget-view+json')).length;
  return {
    readyState: document.readyState,
    executing: !!spinner,
    loadingText: (document.getElementById('loading_text') || {}).innerText || null,
    cellsShown: !!cells && cells.style.display !== 'none',
    cellCount: q('[cell-index]').length,
    errors: errors.map((t) => t.slice(0, 2000)),
    widgetOutputs: pending,
    widgetCount: q('.jupyter-widgets').length,
    ready: q(readySelector).some(visible),
    bodyText: (document.body ? document.body.innerText : '').slice(0, 500),
  };
}
"""


def _explain(state: dict[str, Any], ready_selector: str, timeout_ms: int) -> str:
    if state["errors"]:
        return "a notebook cell raised (kernel is up):\n" + "\n---\n".join(state["errors"])
    if state["executing"] or not state["cellsShown"]:
        return (
            f"Voila was still executing the notebook after {timeout_ms} ms "
            f"(kernel did not start or is stuck; loading text: {state['loadingText']!r})"
        )
    if state["widgetOutputs"] and not state["widgetCount"]:
        return (
            f"cells executed and produced {state['widgetOutputs']} widget output(s), but no "
            "'.jupyter-widgets' element appeared: the widget manager did not come up "
            "(check browser errors / labextension versions)"
        )
    if not state["widgetOutputs"] and not state["widgetCount"]:
        return "cells executed but produced no widget output at all (did the cell display one?)"
    return (
        f"{state['widgetCount']} widget element(s) rendered, but no visible "
        f"{ready_selector!r} appeared within {timeout_ms} ms"
    )


@pytest.fixture
def open_voila(request: pytest.FixtureRequest, browser_page: Page) -> Callable[..., Page]:
    """``page = open_voila(url, ready_selector=".jupyter-widgets", allow_errors=False)``."""

    def _open(
        url: str,
        ready_selector: str = ".jupyter-widgets",
        *,
        timeout_ms: int = READY_TIMEOUT_MS,
        allow_errors: bool = False,
    ) -> Page:
        from playwright.sync_api import Error as PlaywrightError

        page = browser_page
        log = request.node.stash.get(_BROWSER_LOG, [])
        # "commit": return as soon as headers arrive; Voila then streams the page while the
        # kernel executes the notebook, and the loop below watches that with diagnostics.
        response = page.goto(url, wait_until="commit")
        if response is not None and response.status >= 400:
            pytest.fail(
                f"Voila answered HTTP {response.status} for {url} (kernel failed to start or "
                f"notebook could not be rendered):\n{page.inner_text('body')[:2000]}",
                pytrace=False,
            )
        server = next(
            (srv for srv in request.node.stash.get(_VOILA_SERVERS, []) if url.startswith(srv.url)),
            None,
        )
        deadline = time.monotonic() + timeout_ms / 1000
        state: dict[str, Any] = {}
        while True:
            if server is not None:
                _fail_on_voila_log_errors(server, url)
            try:
                state = page.evaluate(_DIAGNOSE_JS, ready_selector)
            except PlaywrightError as exc:  # e.g. context replaced while the page streams in
                if time.monotonic() >= deadline:
                    pytest.fail(f"could not inspect Voila page {url}: {exc}", pytrace=False)
                page.wait_for_timeout(250)
                continue
            if state["errors"] and not allow_errors:
                break
            if state["ready"] or time.monotonic() >= deadline:
                break
            page.wait_for_timeout(250)
        if state["ready"] and (allow_errors or not state["errors"]):
            return page
        if response is not None and state.get("readyState") == "complete":
            # Voila's JS removes the raw output <script>s once it renders them, so count
            # widget outputs in the HTML as served (complete by now, so this is instant).
            with contextlib.suppress(PlaywrightError):
                served = response.text().count(_WIDGET_MIME)
                state["widgetOutputs"] = max(state["widgetOutputs"], served)
        browser_errors = "\n".join(log[-15:]) or "<none>"
        pytest.fail(
            f"Voila page {url} not ready: {_explain(state, ready_selector, timeout_ms)}\n"
            f"page state: { {k: v for k, v in state.items() if k not in ('errors',)} }\n"
            f"recent browser console errors/warnings:\n{browser_errors}",
            pytrace=False,
        )

    return _open


# --------------------------------------------------------------------------- reporting


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.failed:
        for server in item.stash.get(_VOILA_SERVERS, []):
            report.sections.append((f"voila log {server.url} (tail)", server.log_tail()))
        log = item.stash.get(_BROWSER_LOG, [])
        if log:
            report.sections.append(("browser console", "\n".join(log[-50:])))
    return report
