"""Data migrations that move a plaintext column into a sealed one (and back, when a migration is reversed).

They receive historical models, so the functions take the model and name the columns instead of importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models

from souscription.platform.encryption.store import FieldCipher


def seal_column(
    model: Any,
    *,
    data_keys: type[models.Model],
    database: str,
    plaintext: str,
    sealed: str,
    field: str,
    encode: Callable[[Any], str] = str,
) -> int:
    """Seal every row's `plaintext` column into `sealed` (AAD field name `field`) and empty the plaintext one."""
    cipher = FieldCipher(data_keys, database=database)
    rows = model._default_manager.db_manager(database).exclude(**{f"{plaintext}__isnull": True})
    _zero_freed_pages(model, database)
    count = 0
    for row in rows.iterator(chunk_size=500):
        token = cipher.seal(
            encode(getattr(row, plaintext)),
            subject=row.subscription_id,
            table=model._meta.db_table,
            record_id=row.pk,
            field=field,
        )
        setattr(row, sealed, token)
        setattr(row, plaintext, None)
        row.save(update_fields=[sealed, plaintext])
        count += 1
    return count


def open_column(
    model: Any,
    *,
    data_keys: type[models.Model],
    database: str,
    plaintext: str,
    sealed: str,
    field: str,
    decode: Callable[[str], Any] = str,
) -> int:
    """The reverse of `seal_column`: the plaintext column filled again from the sealed one."""
    cipher = FieldCipher(data_keys, database=database)
    count = 0
    for row in model._default_manager.db_manager(database).exclude(**{sealed: ""}).iterator(chunk_size=500):
        value = cipher.open(getattr(row, sealed), table=model._meta.db_table, record_id=row.pk, field=field)
        setattr(row, plaintext, decode(value))
        row.save(update_fields=[plaintext])
        count += 1
    return count


def _zero_freed_pages(model: Any, database: str) -> None:
    # On SQLite the plaintext would otherwise stay in the freed pages of the file until they are reused.
    from django.db import connections

    connection = connections[database]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")
