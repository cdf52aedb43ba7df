"""The dossier's hot reads and writes, compiled once: they must give what the ORM gives, on every backend."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from souscription.platform import prepared
from souscription.platform.models import IdempotencyRecord
from souscription.sales.models import Offer
from souscription.subscriptions import services
from souscription.subscriptions.models import Dossier
from souscription.underwriting.models import HealthDeclaration

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]


def _opened() -> Dossier:
    opened = services.open_dossier(
        product="garantie_automobile", created_by=None, partner_id=None, customer_account_id=None, now=timezone.now()
    )
    return Dossier.objects.get(subscription_id=opened.subscription_id)


def _same(one: object, other: object, model: type) -> None:
    for field in model._meta.concrete_fields:  # type: ignore[attr-defined]
        mine, orms = getattr(one, field.attname), getattr(other, field.attname)
        assert (mine, type(mine)) == (orms, type(orms)), field.attname


def test_a_row_read_by_one_column_is_the_instance_the_orm_builds_every_time() -> None:
    row = _opened()
    row.exclusions, row.offer_valid_until, row.customer_id = ["Sports aériens"], timezone.now(), uuid.uuid4()
    row.save()
    for _ in range(2):  # the first call compiles, the second reuses the statement with its own value
        found = prepared.one(Dossier, by="subscription_id", value=row.subscription_id)
        _same(found, Dossier.objects.get(pk=row.pk), Dossier)
        assert found is not None
        assert found._state.db == "default"
        assert not found._state.adding
    other = _opened()
    assert prepared.one(Dossier, by="subscription_id", value=other.subscription_id).pk == other.pk  # type: ignore[union-attr]
    assert prepared.one(Dossier, by="subscription_id", value="SUB-2000-000000") is None
    assert prepared.one(Dossier, by="offer_id", value=None) is not None  # IS NULL, by the ORM


def test_order_only_and_defer_shapes_are_honoured() -> None:
    now = timezone.now()
    for days, answers in ((2, "older"), (1, "newer")):
        HealthDeclaration.objects.create(
            id=uuid.uuid4(),
            subscription_id="SUB-2026-000777",
            answers_sealed=answers,
            declared_at=now - timedelta(days=days),
        )
    latest = prepared.one(HealthDeclaration, by="subscription_id", value="SUB-2026-000777", order_by=("-declared_at",))
    assert latest is not None
    assert latest.answers_sealed == "newer"
    row = _opened()
    token_only = prepared.one(
        Dossier, by="subscription_id", value=row.subscription_id, only=("applicant_token_sha256",)
    )
    assert token_only is not None
    assert token_only.get_deferred_fields() >= {"stage", "answered_fields"}
    assert token_only.applicant_token_sha256 == row.applicant_token_sha256
    assert prepared.one(Offer, by="id", value=uuid.uuid4(), defer=("document",)) is None


def test_update_all_writes_every_column_and_refuses_a_row_that_is_gone() -> None:
    row = _opened()
    found = prepared.one(Dossier, by="subscription_id", value=row.subscription_id)
    assert found is not None
    found.stage, found.answered_fields, found.revision = "validated", ["vehicle.make"], 3
    prepared.update_all(found)
    _same(Dossier.objects.get(pk=row.pk), found, Dossier)
    Dossier.objects.filter(pk=row.pk).delete()
    with pytest.raises(Dossier.DoesNotExist):
        prepared.update_all(found)


@pytest.mark.django_db(transaction=True, databases="__all__")  # the other thread sees committed rows only
def test_another_thread_reads_the_row_on_its_own_connection_after_this_one_compiled() -> None:
    row = _opened()
    seen: list[object] = []

    def read() -> None:
        seen.append(prepared.one(Dossier, by="subscription_id", value=row.subscription_id))

    prepared.one(Dossier, by="subscription_id", value=row.subscription_id)
    other = threading.Thread(target=read)
    other.start()
    other.join()
    assert [found.pk for found in seen] == [row.pk]  # type: ignore[attr-defined]


def test_insert_writes_every_column_and_reads_back_the_automatic_key() -> None:
    first = IdempotencyRecord(scope="user:1", key="k1", request_fingerprint="f" * 64, created_at=timezone.now())
    second = IdempotencyRecord(scope="user:1", key="k2", request_fingerprint="f" * 64, created_at=timezone.now())
    prepared.insert(first, using="default")
    prepared.insert(second, using="default")
    assert first.pk is not None
    assert second.pk != first.pk
    assert not second._state.adding
    _same(IdempotencyRecord.objects.get(pk=second.pk), second, IdempotencyRecord)
    with pytest.raises(IntegrityError):  # the database's own constraints hold
        prepared.insert(
            IdempotencyRecord(scope="user:1", key="k1", request_fingerprint="f" * 64, created_at=timezone.now()),
            using="default",
        )


def test_update_where_changes_the_matching_rows_only_as_the_orm_update_would() -> None:
    now = timezone.now()
    for key in ("k1", "k2"):
        prepared.insert(
            IdempotencyRecord(scope="user:1", key=key, request_fingerprint="f" * 64, created_at=now), using="default"
        )
    answer = {"status_code": 201, "content_type": "application/json", "body": b"\x00sealed\xff"}
    for _ in range(2):  # the second call reuses the compiled statement
        changed = prepared.update_where(
            IdempotencyRecord, where={"scope": "user:1", "key": "k1"}, values=answer, using="default"
        )
        assert changed == 1
    updated, untouched = IdempotencyRecord.objects.get(key="k1"), IdempotencyRecord.objects.get(key="k2")
    assert (updated.status_code, updated.content_type, bytes(updated.body)) == (201, "application/json", answer["body"])
    assert (untouched.status_code, untouched.content_type, bytes(untouched.body)) == (None, "", b"")
    assert prepared.update_where(IdempotencyRecord, where={"scope": "user:2", "key": "k1"}, values=answer) == 0
    with pytest.raises(ValueError, match="IS NULL"):
        prepared.update_where(IdempotencyRecord, where={"status_code": None}, values=answer)
