"""``nbregistry.legacy`` is :mod:`nbregistry.bench.legacy`, the *before* design.

Kept importable under its old name for the benchmark notebooks and user scripts; the
module object is the same (``nbregistry.legacy is nbregistry.bench.legacy``).
"""

import sys

from .bench import legacy as _legacy

sys.modules[__name__] = _legacy
