"""``field__any=ids``: ``field = ANY(%s)`` with one array parameter on PostgreSQL.

``__in`` with thousands of values writes thousands of placeholders, which psycopg then has to
split and adapt one by one (a second per few queries in an import); an array is one parameter.
Elsewhere (SQLite, the embedded demo) it is ``__in``."""

from __future__ import annotations

import hashlib

from django.db.backends.signals import connection_created
from django.db.models import Field, ForeignObject, Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return [self.lhs.output_field.get_prep_value(v) for v in self.rhs]

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return In(self.lhs, self.rhs).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [self.lhs.output_field.get_db_prep_value(v, connection) for v in self.rhs]
        return f"{lhs} = ANY(%s)", [*lhs_params, values]


def register() -> None:
    Field.register_lookup(AnyOf)
    ForeignObject.register_lookup(AnyOf)  # member_id__any=...
    connection_created.connect(_sqlite_functions, dispatch_uid="scrm_sqlite_functions")


def _sqlite_functions(sender, connection, **kwargs) -> None:
    """SQLite (the embedded demo) gets PostgreSQL's ``md5(text)``, which the campaign draw
    orders by: the same SQL then runs on both."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function(
        "md5",
        1,
        lambda s: None if s is None else hashlib.md5(str(s).encode()).hexdigest(),  # noqa: S324
        deterministic=True,
    )
