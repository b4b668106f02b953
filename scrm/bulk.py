"""Bulk inserts with PostgreSQL's COPY: several times faster than INSERT ... VALUES for thousands
of rows, and no SQL for Django to build."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


def copy_insert(model, objs: list, *, with_pk: bool) -> None:
    """Insert model instances with COPY (PostgreSQL). Values are prepared by the fields as
    ``bulk_create`` would; defaults were filled when the instances were made."""
    if not objs:
        return
    connection = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not the per-access proxy
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {table} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for obj in objs:
            copy.write_row(
                [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            )


def copy_rows(model, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY plain tuples (no model instances) into ``model``'s table, PostgreSQL only.

    ``columns`` must name every concrete column but the id, which is optional: a field added to
    the model and not given here fails at once instead of silently taking no value. Values go as
    psycopg adapts them (int, str, Decimal, aware datetime, None); a JSON column takes its text."""
    required = {f.column for f in model._meta.concrete_fields if not f.primary_key}
    missing = required - set(columns)
    if missing:
        raise ValueError(f"copy_rows({model.__name__}): no value for {sorted(missing)}")
    connection = connections[DEFAULT_DB_ALIAS]
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def rows_to_instances(model, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list:
    """The same tuples as model instances, for ``bulk_create`` where COPY is not available (a
    JSON column's text read back into its value)."""
    from django.db.models import JSONField

    fields = {f.column: f for f in model._meta.concrete_fields}
    names = [fields[c].attname for c in columns]
    json_at = [i for i, c in enumerate(columns) if isinstance(fields[c], JSONField)]

    def values(row: Sequence[Any]) -> list:
        out = list(row)
        for i in json_at:
            if isinstance(out[i], str):
                out[i] = json.loads(out[i])
        return out

    return [model(**dict(zip(names, values(row), strict=True))) for row in rows]


def insert_arrays(
    model,
    arrays: dict[str, list],
    *,
    skip_conflicts: bool = False,
    returning: Sequence[str] = ("id",),
) -> list[tuple]:
    """``INSERT ... SELECT FROM unnest(arrays) [ON CONFLICT DO NOTHING] RETURNING``, PostgreSQL only.

    One array per varying column (one parameter each, however many rows); every other column takes
    its field's default, so a column with neither fails here, not in the database. With
    ``skip_conflicts`` a row that would break a unique constraint is left out, and so is missing
    from what is returned: the caller finds out which, and why."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    unknown = set(arrays) - {f.column for f in fields}
    if unknown:
        raise ValueError(f"insert_arrays({model.__name__}): no column {sorted(unknown)}")
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        raise ValueError(f"insert_arrays({model.__name__}): arrays of different lengths")
    if not lengths.pop():
        return []
    varying = [f for f in fields if f.column in arrays]
    selects: list[str] = []
    params: list[Any] = []
    for f in fields:
        if f.column in arrays:
            selects.append(f"v.{quote(f.column)}")
        else:
            value = f.get_default()  # as a new instance gets it ("" for a blank text field)
            if value is None and not f.null:
                raise ValueError(f"insert_arrays({model.__name__}): no value for {f.column}")
            selects.append(f"CAST(%s AS {f.db_type(connection)})")
            params.append(f.get_db_prep_save(value, connection))
    unnest = ", ".join(f"%s::{f.db_type(connection)}[]" for f in varying)
    array_params = [arrays[f.column] for f in varying]
    # Identifiers come from the model's metadata, quoted; every value is a parameter.
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    aliases = ", ".join(quote(f.column) for f in varying)
    tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    if returning:
        tail += " RETURNING " + ", ".join(quote(c) for c in returning)
    values = ", ".join(selects)
    sql = f"INSERT INTO {table} ({names}) SELECT {values} FROM unnest({unnest}) AS v({aliases})"  # noqa: S608
    sql += tail
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *array_params])  # constants come first in the SELECT
        return cursor.fetchall() if returning else []
