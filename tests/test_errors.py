"""One exception hierarchy (DESIGN §8): each error is also the matching built-in."""

from __future__ import annotations

import pytest

import nbregistry
from nbregistry import (
    AmbiguousModelError,
    DefinitionError,
    FilterError,
    ModelNotFoundError,
    ModelRedefinedWarning,
    PersistenceError,
    RegistryError,
    TenantError,
    ValidationError,
)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (TenantError, ValueError),
        (DefinitionError, ValueError),
        (ValidationError, ValueError),
        (FilterError, ValueError),
        (PersistenceError, ValueError),
        (ModelNotFoundError, LookupError),
        (AmbiguousModelError, LookupError),
    ],
)
def test_errors_subclass_registry_error_and_the_builtin(error: type, builtin: type) -> None:
    assert issubclass(error, RegistryError) and issubclass(error, builtin)


def test_warning_is_a_user_warning() -> None:
    assert issubclass(ModelRedefinedWarning, UserWarning)


def test_validation_error_lists_every_failure() -> None:
    err = ValidationError("User", [("name", "is required"), ("age", "expected a number")])
    assert err.errors == [("name", "is required"), ("age", "expected a number")]
    assert str(err) == "User: 2 invalid properties: name: is required; age: expected a number"


def test_public_api_is_curated() -> None:
    for name in nbregistry.__all__:
        assert hasattr(nbregistry, name), name
    assert "registry" in nbregistry.__all__ and "ModelsView" in nbregistry.__all__
