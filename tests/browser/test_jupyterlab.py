"""The quick start in a real JupyterLab 4: open it, Run All, as a newcomer would.

A JupyterLab server (this interpreter's ``jupyterlab``, on 127.0.0.1, a free port, a
random token, ``--allow-root``) serves a temp copy of ``notebooks/``, with the isolated
Jupyter directories of the harness (``jupyter_env`` in ``conftest.py``) plus temp
JupyterLab settings and workspaces, and a ``python3`` kernelspec that is ipykernel's own
(display name ``Python 3 (ipykernel)``, argv pinned to this interpreter), so the kernel
metadata JupyterLab writes is the one a user's JupyterLab writes. Headless Chromium
(``browser_page``) opens ``01-quickstart.ipynb`` and checks, in order:

* once the kernel is idle, the notebook is not marked modified (issue 14: the stored
  kernelspec/language_info used to differ from what JupyterLab writes);
* menu *Run > Run All Cells* runs every code cell: all get an execution count, including
  those after the deliberate error cell (tagged ``raises-exception``), and the kernel
  returns to idle (bounded waits);
* the notebook, saved by JupyterLab and read back from disk: every code cell has an
  execution count; error outputs and tracebacks appear only in ``raises-exception`` cells;
* no "Error displaying widget", no JavaScript console error or uncaught page error;
* ``%registry <Tab>`` in a new cell offers the subcommands, before ``-h``/``--help``.

On failure the test saves a screenshot to its tmp path and adds the tail of the server
log and the browser console to the report; the screenshot of the finished run is always
saved there (``jupyterlab-01-run-all.png``, ``jupyterlab-01-completion.png``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from nbregistry.ipython.magics import SUBCOMMANDS

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
QUICKSTART = "01-quickstart.ipynb"
TAG = "raises-exception"

# Bounded waits (shared, noisy 2-core machine => generous, but the test stays < 3 min).
LAB_START_TIMEOUT_S = 60.0
LAB_STOP_TIMEOUT_S = 15.0
OPEN_TIMEOUT_MS = 60_000  # page load -> notebook shown -> kernel idle
RUN_ALL_TIMEOUT_MS = 90_000  # Run All -> every code cell has a count, kernel idle
SAVE_TIMEOUT_S = 20.0

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

# JupyterLab user settings written into the temp settings dir: plugin id -> settings.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # no news / update checks (they would go to the internet, which is unreachable here)
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # every cell stays in the DOM, so the test sees all execution counts without scrolling
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


LOG_TAIL_LINES = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


@dataclass
class LabServer:
    """A running JupyterLab: its port, token, process, log and served directory."""

    port: int
    token: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    root_dir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __repr__(self) -> str:  # never show the token
        return f"LabServer(port={self.port}, root_dir={self.root_dir})"

    def api(self, path: str) -> Any:
        """Return the JSON of GET ``/api/<path>``; URLError/HTTPError if unreachable."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(
            f"{self.base}/api/{path}", headers={"Authorization": f"token {self.token}"}
        )
        with opener.open(req, timeout=5) as resp:
            return json.loads(resp.read())

    def log_tail(self) -> str:
        return _tail(self.log_path)

    def stop(self) -> None:
        if self.proc.poll() is None:
            # SIGTERM: the server shuts its kernels down, then exits
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=LAB_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=LAB_STOP_TIMEOUT_S)


def _lab_env(jupyter_env: Any, tmp_path: Path) -> dict[str, str]:
    """Return the server's environment: the harness's dirs, our kernelspec and settings."""
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    path_dir = tmp_path / "lab-jupyter-path"
    spec_dir = path_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = get_kernel_dict()  # argv: [sys.executable, "-m", "ipykernel_launcher", ...]
    assert spec["argv"][0] == sys.executable, spec
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    settings_dir = tmp_path / "lab-settings"
    for plugin, values in LAB_SETTINGS.items():
        package, name = plugin.split(":")
        target = settings_dir / package / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values), encoding="utf-8")
    env = dict(jupyter_env.env)
    env.update(
        JUPYTER_PATH=str(path_dir),  # searched first: ipykernel's spec, this interpreter
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
        NBREGISTRY_SCALE="ci",
    )
    return env


@pytest.fixture
def jupyterlab(jupyter_env: Any, tmp_path: Path) -> Iterator[LabServer]:
    """Start JupyterLab on a temp copy of notebooks/; stop it (and its kernels) after."""
    root_dir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, root_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = _lab_env(jupyter_env, tmp_path)
    port, token = _free_port(), secrets.token_hex(16)
    log_path = tmp_path / f"jupyterlab-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    # the token goes in through the environment, so it is in no command line or log
    env["JUPYTER_TOKEN"] = token
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=root_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(port, token, proc, log_path, root_dir)
    try:
        deadline = time.monotonic() + LAB_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with code {proc.returncode}:\n{server.log_tail()}",
                    pytrace=False,
                )
            with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
                server.api("status")
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"JupyterLab did not answer within {LAB_START_TIMEOUT_S:.0f}s:\n"
                    f"{server.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.25)
        yield server
    finally:
        server.stop()


# JS run in the page: the state of the open notebook as a person sees it.
_STATE_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const cells = Array.from(panel.querySelectorAll('.jp-Notebook .jp-Cell.jp-CodeCell'));
  return {
    prompts: cells.map((c) => (c.querySelector('.jp-InputPrompt') || {}).innerText || ''),
    dirty: !!document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty'),
    status: (document.querySelector('#jp-main-statusbar') || {}).innerText || '',
    widgetErrors: (document.body.innerText.match(/Error displaying widget/g) || []).length,
  };
}
"""


def _kernel_states(server: LabServer) -> list[str]:
    return [k["execution_state"] for k in server.api("kernels")]


def _wait(page: Page, server: LabServer, what: str, timeout_ms: int, done: Any) -> dict:
    """Poll the page state until ``done(state, kernel_states)``; fail naming ``what``."""
    deadline = time.monotonic() + timeout_ms / 1000
    state: dict[str, Any] | None = None
    kernels: list[str] = []
    while time.monotonic() < deadline:
        state = page.evaluate(_STATE_JS)
        kernels = _kernel_states(server)
        if state is not None and done(state, kernels):
            return state
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out after {timeout_ms} ms {what}: {state}, kernels {kernels}")


def _ran(prompt: str) -> bool:
    return re.fullmatch(r"\[\d+\]:", prompt.strip()) is not None


def _error_cells(nb: dict[str, Any]) -> dict[int, str]:
    """Return ``{code cell number: what failed}`` for cells showing an error or traceback."""
    out: dict[int, str] = {}
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        for o in cell.get("outputs", []):
            text = "".join(o.get("text", "")) if o["output_type"] == "stream" else ""
            if o["output_type"] == "error":
                out[i] = f"{o['ename']}: {o['evalue']}"
            elif o.get("name") == "stderr" and re.search(r"Traceback|^\w*Error:", text, re.M):
                out[i] = text.strip().splitlines()[-1]
    return out


def _run_all_from_menu(page: Page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def test_quickstart_run_all_in_jupyterlab(
    jupyterlab: LabServer, browser_page: Page, tmp_path: Path
) -> None:
    page = browser_page
    # every console message of level error and every uncaught exception, in order
    js_errors: list[str] = []
    page.on("console", lambda m: js_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: js_errors.append(f"uncaught: {e}"))
    try:
        _check_quickstart(page, jupyterlab, tmp_path)
    except Exception as exc:
        with contextlib.suppress(Exception):
            page.screenshot(path=tmp_path / "jupyterlab-failure.png", full_page=True)
        console = "\n".join(js_errors[-30:]) or "<none>"
        pytest.fail(
            f"{exc}\nscreenshot: {tmp_path / 'jupyterlab-failure.png'}\n"
            f"--- browser console ---\n{console}\n"
            f"--- JupyterLab log (tail) ---\n{jupyterlab.log_tail()}",
            pytrace=False,
        )
    assert not js_errors, "JavaScript errors in JupyterLab:\n" + "\n".join(js_errors)


def _check_quickstart(page: Page, server: LabServer, tmp_path: Path) -> None:
    stored = json.loads((server.root_dir / QUICKSTART).read_text(encoding="utf-8"))
    code = [c for c in stored["cells"] if c["cell_type"] == "code"]
    tagged = {i for i, c in enumerate(code) if TAG in c["metadata"].get("tags", [])}
    assert tagged, f"{QUICKSTART} has no {TAG!r} cell: the test would check nothing past one"

    # ?reset: a fresh workspace; the token is handed over once, as the login link does
    page.goto(f"{server.base}/lab/tree/{QUICKSTART}?reset&token={server.token}")
    opened = _wait(
        page,
        server,
        "for the notebook to open with an idle kernel",
        OPEN_TIMEOUT_MS,
        lambda s, k: len(s["prompts"]) == len(code) and k == ["idle"] and "Idle" in s["status"],
    )
    # JupyterLab writes the kernel's metadata as the kernel connects: watch a little longer
    settle = time.monotonic() + 2.0
    while not opened["dirty"] and time.monotonic() < settle:
        page.wait_for_timeout(200)
        opened = page.evaluate(_STATE_JS)
    assert not opened["dirty"], "the notebook shows as modified right after opening"
    stored_counts = sum(c["execution_count"] is not None for c in code)  # nbval-checked
    assert sum(map(_ran, opened["prompts"])) == stored_counts, opened["prompts"]

    _run_all_from_menu(page)
    done = _wait(
        page,
        server,
        "for Run All to execute every code cell",
        RUN_ALL_TIMEOUT_MS,
        lambda s, k: all(_ran(p) for p in s["prompts"]) and k == ["idle"],
    )
    counts = [int(p.strip()[1:-2]) for p in done["prompts"]]
    assert counts == sorted(counts) and len(set(counts)) == len(counts), counts
    assert done["widgetErrors"] == 0, "a widget failed to display"
    page.screenshot(path=tmp_path / "jupyterlab-01-run-all.png")

    # Save (as a person would, Ctrl+S) and read what JupyterLab wrote.
    before = (server.root_dir / QUICKSTART).stat().st_mtime_ns
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").click(
        position={"x": 5, "y": 5}
    )
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + SAVE_TIMEOUT_S
    while (server.root_dir / QUICKSTART).stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, "Ctrl+S did not save the notebook"
        time.sleep(0.2)
    time.sleep(0.5)  # let the write finish
    saved = json.loads((server.root_dir / QUICKSTART).read_text(encoding="utf-8"))
    saved_code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in saved_code] == counts
    failed = _error_cells(saved)
    assert set(failed) == tagged, (
        f"cells showing errors {failed} != cells tagged {TAG!r} {sorted(tagged)}"
    )
    assert saved["metadata"] == stored["metadata"], "JupyterLab rewrote the notebook metadata"

    _check_registry_completion(page, tmp_path / "jupyterlab-01-completion.png")


def _check_registry_completion(page: Page, shot: Path) -> None:
    """In a new cell at the end, ``%registry <Tab>`` lists the subcommands, then -h/--help."""
    from playwright.sync_api import expect

    last = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").last
    last.locator(".jp-InputPrompt").click()  # select it (command mode)
    page.keyboard.press("b")  # a new code cell below it
    page.keyboard.press("Enter")  # edit it
    page.keyboard.type("%registry ")
    page.keyboard.press("Tab")
    items = page.locator(".jp-Completer .jp-Completer-item .jp-Completer-match")
    expect(items.first).to_be_visible()
    offered = [t.strip() for t in items.all_inner_texts()]
    page.screenshot(path=shot)
    page.keyboard.press("Escape")
    # the kernel's completions first, in its order; JupyterLab's context provider may
    # add words of the cell itself after them
    expected = [*sorted(SUBCOMMANDS), "-h", "--help"]
    assert offered[: len(expected)] == expected, offered
    assert set(offered[len(expected) :]) <= {"%", "registry", "%registry"}, offered
