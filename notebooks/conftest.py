"""pytest/nbval settings for the notebooks: run them small unless told otherwise.

The notebooks read ``NBREGISTRY_SCALE`` (``ci`` or ``full``). Under pytest the default is
``ci`` so the whole suite stays quick; export ``NBREGISTRY_SCALE=full`` to run them at
the Binder scale. nbval's kernels inherit this process's environment.
"""

from __future__ import annotations

import os

os.environ.setdefault("NBREGISTRY_SCALE", "ci")
