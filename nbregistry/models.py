"""The namespace model classes live in: ``nbregistry.models.<tenant>.<owner>.<Model>``.

Every model class's ``__module__`` is this module and its ``__qualname__`` its address
here, so ``repr(cls)`` reads ``<class 'nbregistry.models.acme.crm.User'>`` and
``nbregistry.models.acme.crm.User`` is the class the process-wide registry holds there
(the owner segment is ``<anonymous>`` for anonymous models; a segment that is no plain
name is percent-encoded: tenant ``acme.eu`` → ``getattr(nbregistry.models, "acme%2Eeu")``,
or the code itself). Attributes resolve at access (PEP 562), so they follow
``define``, ``delete_model`` and ``cleanup_tenant``; a missing one is an AttributeError.
cloudpickle relies on this address to pickle model classes by reference
(:mod:`nbregistry.core.pickling`).
"""

from __future__ import annotations

from .core.pickling import TenantModels, tenant_models, tenant_names


def __getattr__(name: str) -> TenantModels:
    """Return the namespace of tenant ``name``; AttributeError if it is not a tenant code."""
    return tenant_models(name)


def __dir__() -> list[str]:
    """Return the address segments of the tenants of the process-wide registry."""
    return tenant_names()
