"""The tenant browser in a real browser: Voila serves notebook 02, headless Chromium clicks.

Uses the harness in ``tests/browser/conftest.py`` (``serve_notebook``, ``open_voila``).
Set ``NBREGISTRY_UPDATE_SCREENSHOT=1`` to also refresh the README's screenshot,
``notebooks/images/tenant-browser.png`` (by default screenshots go to the test's tmp path
only, so a test run never changes the work tree).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "02-tenant-browser.ipynb"
README_SHOT = ROOT / "notebooks" / "images" / "tenant-browser.png"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_tenant_browser_expand_search_and_details(
    serve_notebook, open_voila, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = open_voila(serve_notebook(NOTEBOOK), ready_selector=".nbr-browser .nbr-node-tenant")
    app = page.locator(".nbr-browser")
    tree = app.locator(".nbr-tree")
    tenant = tree.locator(".nbr-node-tenant")

    # The notebook left the tree collapsed: one row per tenant, nothing below.
    for code in ("acme", "globex", "umbrella"):
        expect(tenant.filter(has_text=code)).to_be_visible()
    expect(tenant).to_have_count(3)  # "trial-co" was cleaned up by the notebook
    expect(tree.locator(".nbr-node-model")).to_have_count(0)
    expect(app.locator(".nbr-header")).to_contain_text("hit rate")

    # Click a tenant: it expands (owners appear) and its stats show in the details pane.
    tenant.filter(has_text="acme").click()
    owner = tree.locator(".nbr-node-owner")
    expect(owner.filter(has_text="crm")).to_be_visible()
    expect(owner.filter(has_text="ops")).to_be_visible()  # defined after the browser cell
    details = app.locator(".nbr-details-content")
    expect(details).to_contain_text("Tenant acme")
    expect(app.locator(".nbr-cleanup")).to_be_visible()

    # Clean up asks first; the question and both buttons show in full (issue 14 item 4),
    # also as narrow as JupyterLab's output area (~970 px; there they were cut).
    page.set_viewport_size({"width": 1000, "height": 900})
    app.locator(".nbr-cleanup").click()
    confirm = app.locator(".nbr-cleanup-confirm")
    cancel = app.locator(".nbr-cleanup-cancel")
    expect(confirm).to_be_visible()
    expect(app.locator(".nbr-confirm-text")).to_contain_text("Remove all")
    for button in (confirm, cancel):
        fits = button.evaluate("(e) => e.scrollWidth <= e.clientWidth + 1")
        assert fits, f"{button.inner_text()!r} is cut: {button.bounding_box()}"
    assert confirm.inner_text().strip() == "Yes, remove"
    assert cancel.inner_text().strip() == "Cancel"
    question = app.locator(".nbr-confirm-text").bounding_box()
    assert question is not None and question["height"] < 80, question  # not one word a line
    cancel.click()
    expect(confirm).to_be_hidden()

    # Expand the owner: the model names become visible.
    owner.filter(has_text="crm").click()
    # The owner pane names owner and type once and keeps every column in view.
    expect(details).to_contain_text("DataSource crm")
    table = details.locator("table.nbr-frame")
    for column in ("fingerprint", "registered_at", "records"):
        expect(table.locator("th", has_text=column)).to_be_visible()
    expect(table.locator("th", has_text="owner_type")).to_have_count(0)
    pane = app.locator(".nbr-details").bounding_box()
    box = table.bounding_box()
    assert pane is not None and box is not None
    assert box["x"] + box["width"] <= pane["x"] + pane["width"] + 1, (box, pane)
    page.set_viewport_size({"width": 1280, "height": 900})  # the README screenshot's size
    model = tree.locator(".nbr-node-model")
    user = model.filter(has_text="User")
    expect(user).to_be_visible()
    expect(model.filter(has_text="Order")).to_be_visible()
    expect(user).to_contain_text("4 records")

    # Select the model: properties, fingerprint and first rows in the details pane.
    user.click()
    expect(details).to_contain_text("Model User")
    expect(details).to_contain_text("fingerprint")
    expect(details.get_by_text("Ann", exact=True)).to_be_visible()
    expect(tree.locator(".nbr-props")).to_contain_text("required")
    shot = tmp_path / "tenant-browser.png"
    app.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("NBREGISTRY_UPDATE_SCREENSHOT", "").strip() in ("1", "true", "yes"):
        README_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_SHOT)

    # Search: typing filters the tree (no Enter needed) and shows the match count.
    search = app.locator(".nbr-search input")
    search.press_sequentially("glob", delay=50)
    expect(app.locator(".nbr-match-count")).to_have_text("1 match")
    expect(tenant.filter(has_text="globex")).to_be_visible()
    expect(tenant).to_have_count(1)
    expect(model).to_have_count(0)

    search.fill("order")
    expect(app.locator(".nbr-match-count")).to_have_text("3 matches")
    expect(model.filter(has_text="Order")).to_have_count(3)  # one per tenant, ancestors open
    expect(tenant).to_have_count(3)
    expect(model.filter(has_text="User")).to_have_count(0)

    search.fill("")
    expect(app.locator(".nbr-match-count")).to_have_text("")
    expect(user).to_be_visible()  # back to the expanded, unfiltered tree
    page.screenshot(path=str(tmp_path / "tenant-browser-page.png"), full_page=True)
