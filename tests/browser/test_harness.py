"""Demonstrates the Voila + headless Chromium harness on a small ipywidgets notebook.

The sample notebook mimics what the tenant browser needs: a search ``Text`` that
filters tenant labels, a ``Button`` that "expands" the ``acme`` tenant and an
``HTML`` pane that shows the model name ``User`` only after the click.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).with_name("sample_widgets.ipynb")
TENANTS = ("acme", "globex", "initech", "umbrella")

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_sample_widgets_expand_and_filter(serve_notebook, open_voila, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = open_voila(serve_notebook(SAMPLE), ready_selector=".nbr-app .widget-button")
    app = page.locator(".nbr-app")

    # Initial state: every tenant listed, the model name not shown yet.
    for name in TENANTS:
        expect(app.locator(f".nbr-tenant-{name}")).to_be_visible()
    details = app.locator(".nbr-details")
    expect(details.get_by_text("User", exact=True)).to_have_count(0)

    # Expanding goes through the kernel (on_click -> HTML.value) and back.
    page.get_by_role("button", name="expand acme").click()
    expect(details.get_by_text("User", exact=True)).to_be_visible()

    # Typing into the search box filters the labels (continuous_update, no Enter needed).
    search = app.locator(".nbr-search input")
    search.press_sequentially("glo", delay=50)
    expect(app.locator(".nbr-tenant-globex")).to_be_visible()
    for name in ("acme", "initech", "umbrella"):
        expect(app.locator(f".nbr-tenant-{name}")).to_be_hidden()

    # Clearing the query brings everything back.
    search.fill("")
    for name in TENANTS:
        expect(app.locator(f".nbr-tenant-{name}")).to_be_visible()
    search.fill("u")  # matches "umbrella" only
    expect(app.locator(".nbr-tenant-umbrella")).to_be_visible()
    # Each label's layout change is a separate comm message: wait for all of them.
    for name in ("acme", "globex", "initech"):
        expect(app.locator(f".nbr-tenant-{name}")).to_be_hidden()

    shot = tmp_path / "sample_widgets.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 0
