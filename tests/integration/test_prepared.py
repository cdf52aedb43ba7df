"""The dossier's hot reads and writes, compiled once: they must give what the ORM gives, on every backend."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from souscription.customers.models import Customer
from souscription.platform import prepared
from souscription.platform.models import IdempotencyRecord
from souscription.sales.models import Offer
from souscription.subscriptions import services
from souscription.subscriptions.models import Dossier, SubscriptionSequence
from souscription.underwriting.models import ContractCopy, HealthDeclaration

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


def test_a_row_read_by_several_columns_is_the_first_the_orm_finds_whatever_order_they_are_given_in() -> None:
    now = timezone.now()
    for kind in ("drafted", "signed"):
        ContractCopy.objects.create(
            id=uuid.uuid4(),
            subscription_id="SUB-2026-000901",
            kind=kind,
            pdf=b"%PDF " + kind.encode(),
            sha256="0" * 64,
            drafted_by="",
            created_at=now,
        )
    for where in (
        {"subscription_id": "SUB-2026-000901", "kind": "signed"},
        {"kind": "signed", "subscription_id": "SUB-2026-000901"},
    ):
        found = prepared.first(ContractCopy, where=where)
        _same(found, ContractCopy.objects.get(subscription_id="SUB-2026-000901", kind="signed"), ContractCopy)
    assert prepared.first(ContractCopy, where={"subscription_id": "SUB-2026-000901", "kind": "other"}) is None
    assert prepared.first(ContractCopy, where={"subscription_id": "SUB-2026-000901", "kind": None}) is None  # ORM


def test_get_or_create_finds_the_row_or_inserts_it_once() -> None:
    where = {"subscription_id": "SUB-2026-000902", "kind": "drafted"}
    defaults = {"id": uuid.uuid4(), "pdf": b"%PDF", "sha256": "1" * 64, "drafted_by": "", "created_at": timezone.now()}
    created, was_created = prepared.get_or_create(ContractCopy, where=where, defaults=defaults)
    again, created_again = prepared.get_or_create(ContractCopy, where=where, defaults={**defaults, "id": uuid.uuid4()})
    assert (was_created, created_again) == (True, False)
    assert again.pk == created.pk
    assert ContractCopy.objects.filter(**where).count() == 1


def test_update_or_create_updates_the_row_of_the_same_unique_value_or_inserts_it() -> None:
    defaults = {"first_name": "Léa", "last_name": "Martin", "phone": "", "country": "FR"}
    first, created = prepared.update_or_create(Customer, where={"email": "lea@example.test"}, defaults=defaults)
    second, created_again = prepared.update_or_create(
        Customer, where={"email": "lea@example.test"}, defaults={**defaults, "country": "BE"}
    )
    assert (created, created_again) == (True, False)
    assert second.pk == first.pk
    stored = Customer.objects.get(email="lea@example.test")
    assert (stored.country, stored.first_name) == ("BE", "Léa")


def test_an_insert_that_loses_the_race_for_a_unique_value_takes_the_winners_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    winner = Customer.objects.create(email="hugo@example.test", first_name="Hugo", last_name="Dubois", country="FR")
    real_first, calls = prepared.first, []

    def not_yet_seen(*args: object, **kwargs: object) -> object:
        calls.append(1)  # the first look finds nothing, as when the winner had not committed yet
        return None if len(calls) == 1 else real_first(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(prepared, "first", not_yet_seen)
    found, created = prepared.update_or_create(
        Customer,
        where={"email": "hugo@example.test"},
        defaults={"first_name": "Hugo", "last_name": "Dubois", "country": "CH"},
    )
    assert (found.pk, created) == (winner.pk, False)
    assert Customer.objects.get(pk=winner.pk).country == "CH"  # this writer's values, on the winner's row


def test_increment_adds_one_and_returns_the_new_value_or_none_without_the_row() -> None:
    SubscriptionSequence.objects.create(year=2031, last=41)
    assert prepared.increment(SubscriptionSequence, key=2031, field="last") == 42
    assert prepared.increment(SubscriptionSequence, key=2031, field="last") == 43
    assert SubscriptionSequence.objects.get(year=2031).last == 43
    assert prepared.increment(SubscriptionSequence, key=2032, field="last") is None


def test_update_all_with_fields_writes_those_columns_only() -> None:
    row = _opened()
    stale = prepared.one(Dossier, by="subscription_id", value=row.subscription_id)
    assert stale is not None
    Dossier.objects.filter(pk=row.pk).update(stage="validated")
    stale.decision_due, stale.stage = 7, "draft"
    prepared.update_all(stale, fields=("decision_due",))
    stored = Dossier.objects.get(pk=row.pk)
    assert (stored.decision_due, stored.stage) == (7, "validated")


def test_rows_are_every_match_in_the_order_asked_as_the_orm_lists_them() -> None:
    now = timezone.now()
    for days in (3, 1, 2):
        HealthDeclaration.objects.create(
            id=uuid.uuid4(),
            subscription_id="SUB-2026-000903",
            answers_sealed=f"{days} days ago",
            declared_at=now - timedelta(days=days),
        )
    for _ in range(2):  # compiled, then reused
        found = prepared.rows(
            HealthDeclaration, where={"subscription_id": "SUB-2026-000903"}, order_by=("declared_at",)
        )
        expected = list(HealthDeclaration.objects.filter(subscription_id="SUB-2026-000903").order_by("declared_at"))
        assert [row.answers_sealed for row in found] == ["3 days ago", "2 days ago", "1 days ago"]
        for mine, orms in zip(found, expected, strict=True):
            _same(mine, orms, HealthDeclaration)
    assert prepared.rows(HealthDeclaration, where={"subscription_id": "SUB-2026-000904"}) == []
