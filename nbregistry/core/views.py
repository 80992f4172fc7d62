"""``ModelsView``: the live, read-mostly mapping behind ``ds.models``.

A view stores no models. Its ``__dict__`` *is* the owner's name index that the registry
maintains (``{model name → class}``), so ``ds.models.User`` is a plain C-level instance
attribute lookup — no ``__getattr__`` (which costs ~45 times a dict lookup on CPython 3.11).
The Mapping methods are installed as *data* descriptors, which take precedence over the
instance ``__dict__``: a model named ``keys`` cannot shadow ``view.keys()`` and is
reachable as ``view["keys"]``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from operator import attrgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Model

__all__ = ["ModelsView"]


class _Method:
    """A data descriptor wrapping a method, so an instance-dict entry cannot shadow it."""

    __slots__ = ("func", "name")

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.name = func.__name__

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.func.__doc__

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self.func
        return self.func.__get__(obj, objtype)

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(
            f"{self.name!r} is a ModelsView method; assign the model with view[{self.name!r}] = cls"
        )


_DELEGATED = frozenset({"keys", "values", "items"})


def _shielded(cls: type) -> type:
    """Turn every public method of ``cls`` into a data descriptor (see module docstring)."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and callable(value):
            if name in _DELEGATED:
                # A property whose getter is C-level (attrgetter): ``view.items`` is the
                # index dict's own bound method, so ``view.items()`` costs ``d.items()``.
                # Still a data descriptor, so a model named ``items`` cannot shadow it.
                setattr(cls, name, property(attrgetter(f"_index.{name}"), doc=value.__doc__))
            else:
                setattr(cls, name, _Method(value))
    return cls


@_shielded
class ModelsView(Mapping[str, "type[Model]"]):
    """A live mapping of one owner's models, in definition order; stores none itself.

    Reads: ``view.User``, ``view["User"]``, ``"User" in view``, ``len``, iteration,
    ``keys/values/items/get``. Writes go to the registry: ``view["X"] = cls`` (or
    ``view.X = cls``) attaches ``cls`` to the owner; ``del view["X"]`` removes it.
    """

    __slots__ = ("__dict__", "__weakref__", "_index", "_owner")

    def __init__(self, owner: Any, index: dict[str, type[Model]]) -> None:
        # Weak: owner → view → owner would be a cycle, so an unreachable owner (and the
        # name it reserves) would wait for the cyclic GC instead of going at once.
        object.__setattr__(self, "_owner", weakref.ref(owner))
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "__dict__", index)

    # reads -------------------------------------------------------------------------

    def __getitem__(self, name: str) -> type[Model]:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(self._missing(name)) from None
        except TypeError:
            raise KeyError(f"model names are str, got {name!r}") from None

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._index
        except TypeError:
            return False

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def keys(self) -> KeysView[str]:
        """Return a live view of the model names."""
        return self._index.keys()

    def values(self) -> ValuesView[type[Model]]:
        """Return a live view of the model classes."""
        return self._index.values()

    def items(self) -> ItemsView[str, type[Model]]:
        """Return a live view of ``(name, class)`` pairs."""
        return self._index.items()

    def get(self, name: str, default: Any = None) -> Any:
        """Return the model named ``name``, or ``default`` (also for an unhashable name)."""
        try:
            return self._index.get(name, default)
        except TypeError:
            return default

    @property
    def owner(self) -> Any:
        """Return the owner whose models this view shows."""
        return self._live_owner()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ModelsView):
            return dict(self._index) == dict(other._index)
        if isinstance(other, Mapping):
            return dict(self._index) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # writes ------------------------------------------------------------------------

    def __setitem__(self, name: str, model: type[Model]) -> None:
        owner = self._live_owner()
        owner._registry.check_attachable(owner, model)  # TypeError / ValueError
        if name != model.model_name:
            raise ValueError(
                f"key {name!r} does not match the model's name {model.model_name!r}; "
                f"write view[{model.model_name!r}] = cls"
            )
        owner._registry.attach(owner, model)

    def __delitem__(self, name: str) -> None:
        if not isinstance(name, str) or name not in self._index:
            raise KeyError(self._missing(name))
        owner = self._live_owner()
        owner._registry.delete(owner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or isinstance(vars(type(self)).get(name), (_Method, property)):
            raise AttributeError(
                f"cannot set {name!r} on a ModelsView; assign models by their name, "
                "e.g. view.User = User"
            )
        self[name] = value

    def __delattr__(self, name: str) -> None:
        if name not in self._index:
            raise AttributeError(self._missing(name))
        del self[name]

    def _live_owner(self) -> Any:
        owner = self._owner()
        if owner is None:
            raise ReferenceError("the owner of this ModelsView no longer exists")
        return owner

    # display -----------------------------------------------------------------------

    def _label(self) -> str:
        o = self._owner()
        if o is None:
            return "(an owner that no longer exists)"
        return f"{type(o).__name__} {o.name!r} tenant={o.tenant!r}"

    def _missing(self, name: object) -> str:
        import difflib

        close = difflib.get_close_matches(str(name), list(self._index), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"no model {name!r} in {self._label()}{hint}"

    def __repr__(self) -> str:
        names = ", ".join(self._index)
        return (
            f"<ModelsView {self._label()}: {names}>"
            if names
            else (f"<ModelsView {self._label()}: (empty)>")
        )

    def _repr_html_(self) -> str:
        from .tables import view_table

        return view_table(self).html()

    def __dir__(self) -> list[str]:
        return sorted(set(self._index) | {"keys", "values", "items", "get", "owner"})

    def __reduce__(self) -> Any:
        raise TypeError("a ModelsView is a live view of the registry and cannot be pickled")
