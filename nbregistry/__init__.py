"""nbregistry — a multi-tenant, centralized model registry that lives inside Jupyter.

``import nbregistry`` stays light: pandas, ipywidgets, matplotlib and IPython are
imported lazily, only where used. Importing starts no thread and no timer.
"""

from __future__ import annotations

from . import models as _models  # the address module of model classes (§12.6): loaded with us
from .core.builder import ModelBuilder
from .core.connector import Connector
from .core.datasource import DataSource
from .core.errors import (
    AmbiguousModelError,
    ConflictError,
    DataSourceConnectionError,
    DefinitionError,
    FilterError,
    IncompatibleDefinitionError,
    ModelNotFoundError,
    ModelRedefinedWarning,
    PersistenceError,
    RegistryError,
    SchemaError,
    StoreError,
    TenantError,
    ValidationError,
)
from .core.fingerprint import fingerprint
from .core.model import Model, ModelDefinition, PropertyDefinition
from .core.owners import App
from .core.pickling import model_class as _model_class  # registers the class reducer (§12.6)
from .core.registry import (
    ModelRegistry,
    RegistryEvent,
    RegistryStats,
    Subscription,
    TenantRegistry,
    TenantStats,
    registry,
)
from .core.store import Store
from .core.tenancy import GLOBAL_TENANT, carry_tenant, tenant, validate_tenant
from .core.views import ModelsView

__version__ = "0.1.0"

__all__ = [
    "GLOBAL_TENANT",
    "AmbiguousModelError",
    "App",
    "ConflictError",
    "Connector",
    "DataSource",
    "DataSourceConnectionError",
    "DefinitionError",
    "FilterError",
    "IncompatibleDefinitionError",
    "Model",
    "ModelBuilder",
    "ModelDefinition",
    "ModelNotFoundError",
    "ModelRedefinedWarning",
    "ModelRegistry",
    "ModelsView",
    "PersistenceError",
    "PropertyDefinition",
    "RegistryError",
    "RegistryEvent",
    "RegistryStats",
    "SchemaError",
    "Store",
    "StoreError",
    "Subscription",
    "TenantError",
    "TenantRegistry",
    "TenantStats",
    "ValidationError",
    "__version__",
    "carry_tenant",
    "connect",
    "current_tenant",
    "fingerprint",
    "registry",
    "tenant",
    "use_tenant",
    "validate_tenant",
]


# Public classes show (and pickle) under the name users import them by, as httpx does:
# ``nbregistry.Model``, not ``nbregistry.core.model.Model``.
for _name in __all__:
    _obj = globals().get(_name)
    if isinstance(_obj, type) and _obj.__module__.startswith("nbregistry."):
        _obj.__module__ = __name__
del _name, _obj, _model_class, _models


def connect(url: str, *, listen: bool = False) -> Store:
    """Connect the process-wide registry to the shared store at ``url``; return the store.

    ``sqlite:///path/registry.db`` (one machine) or ``postgresql://user@host/db`` (a
    team). See :meth:`ModelRegistry.connect_store` for what it raises.
    """
    return registry.connect_store(url, listen=listen)


def current_tenant() -> str:
    """Return the tenant in force for the process-wide registry."""
    return registry.current_tenant()


def use_tenant(code: str | None) -> None:
    """Set the session-default tenant of the process-wide registry; TenantError."""
    registry.use_tenant(code)


def load_ipython_extension(ipython: object) -> None:
    """Register the ``%registry``/``%%tenant`` magics and formatters (``%load_ext``)."""
    from .ipython import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """Remove what ``load_ipython_extension`` registered (``%unload_ext``)."""
    from .ipython import unload_ipython_extension as _unload

    _unload(ipython)
