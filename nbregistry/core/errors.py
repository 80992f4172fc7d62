"""One exception hierarchy for nbregistry.

Every error derives from :class:`RegistryError` *and* from the matching built-in
(``ValueError``, ``LookupError``, ``KeyError``), so callers can catch either — the
pattern of ``attrs.exceptions``. Messages name the offending value and say what
would be valid.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousModelError",
    "ConflictError",
    "DataSourceConnectionError",
    "DefinitionError",
    "FilterError",
    "IncompatibleDefinitionError",
    "ModelNotFoundError",
    "ModelRedefinedWarning",
    "PersistenceError",
    "RegistryError",
    "SchemaError",
    "StoreError",
    "TenantError",
    "ValidationError",
]


class RegistryError(Exception):
    """Base class of every error nbregistry raises on purpose."""


class TenantError(RegistryError, ValueError):
    """A tenant code is not valid (empty, too long, bad characters, not a ``str``)."""


class DefinitionError(RegistryError, ValueError):
    """A model definition is malformed; the message names the property path."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        #: Dotted path of the offending property (``"address.geo.lat"``), if any.
        self.path = path


class ValidationError(RegistryError, ValueError):
    """Data does not satisfy a model; ``errors`` lists every failing property."""

    def __init__(self, model_name: str, errors: list[tuple[str, str]]) -> None:
        #: ``[(property path, problem), ...]`` — every failure, not just the first.
        self.errors = list(errors)
        self.model_name = model_name
        lines = "; ".join(f"{path}: {problem}" for path, problem in self.errors)
        n = len(self.errors)
        super().__init__(f"{model_name}: {n} invalid propert{'y' if n == 1 else 'ies'}: {lines}")


class FilterError(RegistryError, ValueError):
    """A ``where``/``order``/``fields`` filter is malformed; the message names its path."""


class PersistenceError(RegistryError, ValueError):
    """A connector's backing file cannot be read or written; the message names the file."""


class SchemaError(RegistryError, ValueError):
    """An existing database table does not fit its model; the message names the columns."""


class DataSourceConnectionError(RegistryError, ConnectionError):
    """A DataSource cannot reach its database; names host, port and database, never a secret."""


class ModelNotFoundError(RegistryError, LookupError):
    """No model has that name where it was looked for; the message suggests close matches."""


class AmbiguousModelError(RegistryError, LookupError):
    """Several owners in one tenant define that name; qualify it as ``"owner.Model"``."""


class ModelRedefinedWarning(UserWarning):
    """A model name was re-defined on the same owner with a different definition."""


class StoreError(RegistryError, RuntimeError):
    """The shared definition store cannot be opened, read or written; names its URL or file."""


class ConflictError(RegistryError, RuntimeError):
    """Another process changed what a shared write expected; names that revision and author.

    ``clashes`` lists every clash (one per model) when several were found at once.
    """

    def __init__(self, message: str, *, clashes: list[str] | None = None) -> None:
        super().__init__(message)
        #: One human-readable line per clash.
        self.clashes = list(clashes or [])


class IncompatibleDefinitionError(RegistryError, ValueError):
    """A redefinition breaks the registry's compatibility mode; lists every breaking change.

    ``changes`` holds one human-readable line per breaking change.
    """

    def __init__(self, message: str, *, changes: list[str] | None = None) -> None:
        super().__init__(message)
        #: One line per breaking change.
        self.changes = list(changes or [])
