"""The tenant browser's one ``<style>`` block (scoped to ``.nbr-browser``).

Core ipywidgets have no per-widget CSS, so the browser carries this block in a hidden
``HTML`` widget; JupyterLab's theme variables are used with light-theme fallbacks.
"""

from __future__ import annotations

__all__ = ["CSS"]

CSS = """<style>
.nbr-browser .nbr-tree { border: 1px solid var(--jp-border-color2, #ddd); padding: 4px; }
.nbr-browser .nbr-node.jupyter-button, .nbr-browser .nbr-more.jupyter-button {
  text-align: left; background: transparent; box-shadow: none; border: none;
  height: 24px; line-height: 24px; margin: 0; padding-right: 6px;
  font-family: var(--jp-code-font-family, monospace); font-size: 12.5px; }
.nbr-browser .nbr-node.jupyter-button:hover { background: var(--jp-layout-color2, #eee); }
.nbr-browser .nbr-node.nbr-selected { background: var(--jp-brand-color3, #cfe3f7);
  font-weight: bold; }
.nbr-browser .nbr-node-tenant { color: var(--jp-ui-font-color0, #111); }
.nbr-browser .nbr-node-owner { color: var(--jp-brand-color0, #0b5394); }
.nbr-browser .nbr-node-group { color: var(--jp-ui-font-color2, #777); font-style: italic; }
.nbr-browser .nbr-more.jupyter-button { color: var(--jp-ui-font-color2, #777); }
.nbr-browser .nbr-depth-0 { padding-left: 4px; }
.nbr-browser .nbr-depth-1 { padding-left: 26px; }
.nbr-browser .nbr-depth-2 { padding-left: 48px; }
.nbr-browser .nbr-depth-3 { padding-left: 70px; }
.nbr-browser .nbr-props table { font-size: 12px; border-collapse: collapse; margin: 0; }
.nbr-browser .nbr-props td { padding: 0 14px 0 0; line-height: 18px; border: none; }
.nbr-browser .nbr-header { font-size: 13px; padding: 2px 0 4px 0; }
.nbr-browser .nbr-details { padding-left: 12px; overflow: auto; }
.nbr-browser .nbr-details h4 { margin: 4px 0 6px 0; }
.nbr-browser .nbr-details h5 { margin: 10px 0 4px 0; }
.nbr-browser .nbr-details .nbr-subtitle { margin: 0 0 6px 0;
  color: var(--jp-ui-font-color1, #333); }
.nbr-browser .nbr-details table { font-size: 12px; border-collapse: collapse; margin: 0; }
.nbr-browser .nbr-details th, .nbr-browser .nbr-details td {
  padding: 2px 8px; line-height: 18px; text-align: left;
  border: none; border-bottom: 1px solid var(--jp-border-color2, #e0e0e0); }
.nbr-browser .nbr-details .nbr-facts td { border: none; padding: 1px 12px 1px 0; }
.nbr-browser .nbr-details .nbr-error { color: var(--jp-error-color1, #d32f2f);
  margin: 0 0 6px 0; overflow-wrap: anywhere; }
.nbr-browser .nbr-confirm-text { margin: 6px 0 2px 0; }
.nbr-browser .nbr-confirm-buttons .jupyter-button { flex: 0 0 auto; min-width: max-content;
  overflow: visible; }
</style>"""
