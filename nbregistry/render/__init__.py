"""Rendering: pandas DataFrames and HTML tables built from plain values.

The lowest layer: it knows no registry and imports nothing of nbregistry; callers hand it
rows, columns and headers. pandas is imported lazily, only when a frame is built.
"""
