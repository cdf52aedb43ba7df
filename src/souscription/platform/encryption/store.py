"""Where the wrapped data keys live, and the cipher a department's services use on their sensitive fields.

Each department that holds encrypted fields has its own concrete `DataKey` model (a subclass of `DataKeyBase`
in its app), so the router keeps its keys in its database, beside its data: a copy of the Legal database carries
the keys of Legal's fields and of nothing else. The subject of a data key is the dossier's subscription id.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connections, models, transaction
from django.utils import timezone

from souscription.platform import prepared
from souscription.platform.databases import database_for_model
from souscription.platform.encryption.keyring import (
    DataKeyShredded,
    KeyRing,
    KeyRingMissing,
    WrappedKey,
    data_key_id_of,
    embedded_key_ring,
    key_file,
    new_data_key,
    open_field,
    seal_field,
)


class DataKeyBase(models.Model):
    """One subject's data key, wrapped by the master key `master_key_id` (never stored in the clear)."""

    id = models.UUIDField(primary_key=True, editable=False)
    subject = models.CharField(max_length=64, unique=True)
    master_key_id = models.CharField(max_length=40, db_index=True)
    wrapped = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.subject} · {self.master_key_id}"


def key_ring() -> KeyRing:
    """The ring from `SOUSCRIPTION_FIELD_KEYS`, else (embedded only) from the data folder's key file."""
    env = settings.SOUSCRIPTION
    if env.field_keys:
        return _ring_of(env.field_keys)
    if env.is_production:
        raise KeyRingMissing()
    path = key_file(env.data_dir)
    # Keyed on the file's modification time, so a rotation by another process is seen without a restart.
    return _embedded_ring(env.data_dir, path.stat().st_mtime_ns if path.exists() else None)


@functools.lru_cache(maxsize=4)
def _ring_of(pairs: tuple[tuple[str, bytes], ...]) -> KeyRing:
    return KeyRing.from_pairs(pairs)


@functools.lru_cache(maxsize=4)
def _embedded_ring(data_dir: Path, _stamp: int | None) -> KeyRing:
    return embedded_key_ring(data_dir)


class FieldCipher:
    """Seals and opens one department's fields with its subjects' data keys, in that department's database.

    `data_keys` is the department's `DataKey` model, or its historical version inside a migration."""

    def __init__(self, data_keys: type[models.Model], *, database: str) -> None:
        self._data_keys = data_keys
        self._database = database

    @property
    def _rows(self) -> Any:
        return self._data_keys._default_manager.db_manager(self._database)

    @property
    def _table(self) -> str:
        return str(self._data_keys._meta.db_table)

    def seal(self, value: str, *, subject: str, table: str, record_id: object, field: str) -> str:
        data_key_id, data_key = self._data_key_of(subject)
        return seal_field(
            value, data_key=data_key, data_key_id=data_key_id, table=table, record_id=str(record_id), field=field
        )

    def open(self, token: str, *, table: str, record_id: object, field: str) -> str:
        row = prepared.one(self._data_keys, by="id", value=data_key_id_of(token), using=self._database)
        if row is None:
            raise DataKeyShredded()
        return open_field(token, data_key=self._unwrap(row), table=table, record_id=str(record_id), field=field)

    def shred(self, *, subject: str) -> int:
        """Destroy the subject's data key: every ciphertext of its fields, wherever copied, becomes unreadable.

        Copies of the wrapped key in backups die with the master key that wrapped it: rotate (`reencrypt`) and
        remove the old master key to make a shredding final for the backups too."""
        with transaction.atomic(using=self._database):
            connection = connections[self._database]
            if connection.vendor == "sqlite":
                # Freed pages are zeroed instead of keeping the wrapped key's bytes until they are reused.
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA secure_delete = ON")
            rows = self._rows.filter(subject=subject)
            rows.update(wrapped="", master_key_id="")
            deleted: int = rows.delete()[0]
        return deleted

    def _data_key_of(self, subject: str) -> tuple[str, bytes]:
        row = prepared.one(self._data_keys, by="subject", value=subject, using=self._database)
        if row is not None:
            return str(row.pk), self._unwrap(row)
        data_key_id, data_key = str(uuid.uuid4()), new_data_key()
        wrapped = key_ring().wrap(data_key, table=self._table, data_key_id=data_key_id, subject=subject)
        try:
            with transaction.atomic(using=self._database):
                row = self._data_keys(
                    id=data_key_id,
                    subject=subject,
                    master_key_id=wrapped.master_key_id,
                    wrapped=wrapped.wrapped,
                    created_at=timezone.now(),
                )
                prepared.insert(row, using=self._database)
        except IntegrityError:
            # Another writer created the subject's key first: use that one.
            row = self._rows.get(subject=subject)
            return str(row.id), self._unwrap(row)
        return data_key_id, data_key

    def _unwrap(self, row: Any) -> bytes:
        return key_ring().unwrap(
            WrappedKey(row.master_key_id, row.wrapped), table=self._table, data_key_id=str(row.id), subject=row.subject
        )


# -- rotation ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rewrapped:
    database: str
    table: str
    rewrapped: int
    already_current: int


def data_key_models() -> list[type[DataKeyBase]]:
    """Every department's concrete `DataKey` model: found in the app registry, so the platform names none."""
    return [model for model in apps.get_models() if issubclass(model, DataKeyBase)]


def rewrap(model: type[DataKeyBase], *, dry_run: bool = False) -> Rewrapped:
    """Wrap every data key of one department under the active master key (data keys and fields unchanged)."""
    ring, database = key_ring(), database_for_model(model)
    table = str(model._meta.db_table)
    manager = model._default_manager.db_manager(database)
    with transaction.atomic(using=database):
        current = manager.filter(master_key_id=ring.active.id).count()
        stale = manager.select_for_update().exclude(master_key_id=ring.active.id)
        count = 0
        for row in stale.iterator(chunk_size=500):
            data_key = ring.unwrap(
                WrappedKey(row.master_key_id, row.wrapped), table=table, data_key_id=str(row.id), subject=row.subject
            )
            if not dry_run:
                wrapped = ring.wrap(data_key, table=table, data_key_id=str(row.id), subject=row.subject)
                row.master_key_id, row.wrapped = wrapped.master_key_id, wrapped.wrapped
                row.save(update_fields=["master_key_id", "wrapped"])
            count += 1
    return Rewrapped(database, table, count, current)


def keys_by_master_key(model: type[DataKeyBase]) -> dict[str, int]:
    """How many data keys each master key wraps in one department (what `reencrypt` is meant to empty)."""
    manager = model._default_manager.db_manager(database_for_model(model))
    rows = manager.values_list("master_key_id").annotate(count=models.Count("id")).order_by()
    return {master_key_id: count for master_key_id, count in rows}
