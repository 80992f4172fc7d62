"""LoopBack-style data access on model classes, backed by the owning DataSource's connector.

:class:`DataAccess` is a mixin of :class:`~nbregistry.Model`. Every method reaches the
rows through ``cls.data_source.connector`` (a model an App took over keeps its
``data_source``, so it keeps its rows). A model without a DataSource (defined by a
standalone ``ModelBuilder``) or an anonymous embedded model raises TypeError.

A property named like an instance method (``save``, ``delete``, ``to_dict``) shadows it on
instances; call ``Model.save(instance)`` then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model

__all__ = ["DataAccess"]


class DataAccess:
    """Data-access methods: create, find, find_one, find_by_id, count, update_all,
    destroy_all, save, delete and to_frame (see DESIGN §4b)."""

    __slots__ = ()

    @classmethod
    def _nbr_connector(cls) -> Any:
        """Return the connector holding this model's rows; TypeError if there is none."""
        name = getattr(cls, "model_name", cls.__name__)
        if getattr(cls, "anonymous", False):
            raise TypeError(
                f"{name!r} is an anonymous embedded model: it has no rows of its own; "
                "query the model that embeds it"
            )
        ds = getattr(cls, "data_source", None)
        if ds is None:
            raise TypeError(
                f"model {name!r} is not attached to a DataSource, so it has no data "
                "access; define it with ds.define(...) or attach it with ds.attach(model)"
            )
        return ds.connector

    @classmethod
    def _nbr_writer(cls, what: str) -> Any:
        """Return the connector for a write; SchemaError for a read-only model."""
        definition = getattr(cls, "definition", None)
        if definition is not None and definition.settings.get("read_only", False):
            from .errors import SchemaError

            table = definition.settings.get("table", definition.name)
            raise SchemaError(
                f"model {cls.model_name!r} is read-only (settings read_only=True; discovery "
                f"sets it for a view or a table without a one-column primary key), so "
                f"{what} cannot write to {table!r}; a view is not written through "
                "nbregistry, a table is once it has a primary key (add one and discover it "
                "again)"
            )
        return cls._nbr_connector()

    @classmethod
    def create(cls, rows: Any = None, /, **data: Any) -> Any:
        """Create and store one row (``create(name=...)`` or ``create({...})``) or many.

        ``create([{...}, ...])`` stores all rows or none and returns a list; one row
        returns one instance (a copy of the stored row). Raises ValidationError listing
        every failing property (of every row), including a duplicate id, TypeError for
        a non-dict row, PersistenceError if a file-backed store cannot be written.
        """
        conn = cls._nbr_writer("create()")
        if rows is None:
            return conn.create(cls, [data], bulk=False)[0]
        if isinstance(rows, (list, tuple)):
            if data:
                raise TypeError(
                    "create([...]) takes a list of rows and no keyword arguments; put "
                    f"{', '.join(data)} into each row"
                )
            # plain dicts (the common case) pass as they are, without the Mapping ABC check
            items = [
                r if type(r) is dict else _row_data(cls, r, f"create([...])[{i}]")
                for i, r in enumerate(rows)
            ]
            return conn.create(cls, items, bulk=True)
        item = _row_data(cls, rows, "create()")
        return conn.create(cls, [{**item, **data}], bulk=False)[0]

    @classmethod
    def find(
        cls,
        where: Mapping[str, Any] | None = None,
        order: str | list[str] | None = None,
        limit: int | None = None,
        skip: int | None = None,
        fields: Any = None,
        *,
        offset: int | None = None,
    ) -> list[Any]:
        """Return copies of the matching rows as instances.

        ``where`` uses LoopBack's syntax; ``order`` is ``"prop"``, ``"prop DESC"``,
        ``"age DESC, name"`` or a list (without it, rows come in id order); ``offset`` is
        an alias of ``skip``; ``fields`` a list of names or ``{"name": True}``.
        FilterError for a malformed filter.
        """
        conn = cls._nbr_connector()
        if offset is None:
            return conn.find(cls, where, order, limit, skip, fields)
        return conn.find(cls, where, order, limit, skip, fields, offset=offset)

    @classmethod
    def find_one(
        cls,
        where: Mapping[str, Any] | None = None,
        order: str | list[str] | None = None,
        skip: int | None = None,
        fields: Any = None,
        *,
        offset: int | None = None,
    ) -> Any:
        """Return a copy of the first matching row, or None; FilterError."""
        found = cls.find(where, order, 1, skip, fields, offset=offset)
        return found[0] if found else None

    @classmethod
    def find_by_id(cls, id: Any) -> Any:
        """Return a copy of the row with that id, or None (O(1)); TypeError without an id."""
        return cls._nbr_connector().find_by_id(cls, id)

    @classmethod
    def count(cls, where: Mapping[str, Any] | None = None) -> int:
        """Return how many rows match ``where`` (all rows when None); FilterError."""
        return int(cls._nbr_connector().count(cls, where))

    @classmethod
    def update_all(cls, where: Mapping[str, Any] | None, data: Mapping[str, Any]) -> int:
        """Set ``data`` on every row matching ``where``; return how many rows changed.

        All-or-nothing: ValidationError (invalid value, unknown property of a strict
        model, an id change) writes nothing. FilterError, TypeError for a non-dict.
        """
        return int(cls._nbr_writer("update_all()").update_all(cls, where, data))

    @classmethod
    def destroy_all(cls, where: Mapping[str, Any] | None = None) -> int:
        """Delete the rows matching ``where`` (every row when None); return how many."""
        return int(cls._nbr_writer("destroy_all()").destroy_all(cls, where))

    @classmethod
    def to_frame(
        cls,
        where: Mapping[str, Any] | None = None,
        order: str | list[str] | None = None,
        limit: int | None = None,
        skip: int | None = None,
        fields: Any = None,
        *,
        offset: int | None = None,
    ) -> pd.DataFrame:
        """Return the matching rows as a pandas DataFrame.

        Ids are the index; columns follow property order with dtypes from the property
        types (date → datetime64, boolean → bool/"boolean", number → float64, integer →
        "Int64", string → str; others object). ``offset`` is an alias of ``skip``.
        FilterError for a malformed filter.
        """
        conn = cls._nbr_connector()
        if offset is None:
            return conn.to_frame(cls, where, order, limit, skip, fields)
        return conn.to_frame(cls, where, order, limit, skip, fields, offset=offset)

    def save(self) -> Any:
        """Insert this instance, or replace the stored row with its id; return self.

        A new instance gets a generated id. Raises ValidationError (nothing written).
        """
        type(self)._nbr_writer("save()").save(self)
        return self

    def delete(self) -> bool:
        """Delete the stored row with this instance's id; return True if one was deleted."""
        return bool(type(self)._nbr_writer("delete()").delete(self))


def _row_data(cls: type[Any], row: Any, where: str) -> Mapping[str, Any]:
    if isinstance(row, Mapping):
        return row
    if isinstance(row, cls):
        model: Model = row
        return dict(model.__dict__)
    raise TypeError(
        f"{where}: a row must be a dict of property values or a {cls.model_name} instance, "
        f"got {row!r:.80}"
    )
