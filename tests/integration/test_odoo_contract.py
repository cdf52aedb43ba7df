"""The Odoo adapter against a fake Odoo speaking JSON-2: the whole path of a first instalment (partner, invoice
posted, payment states read back, credit note), Odoo's refusals as `VendorRejected` with Odoo's exception name,
lost answers and faults that never duplicate a partner, an invoice or a posting, and the fake's own strictness."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from souscription.configuration import VendorAccess
from souscription.integrations.erp.odoo import OdooErp
from souscription.integrations.erp.port import Customer, ErpSync, InstalmentInvoice, ReversalOutcome
from souscription.integrations.erp.quality import RecordRejected, customer_reference
from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.metrics import Metrics
from souscription.integrations.resilience import CircuitBreaker, RetryPolicy
from tests.fakes.base import FaultPlan
from tests.fakes.odoo import FakeOdoo

pytestmark = pytest.mark.integration

FAST = RetryPolicy(attempts=10, base_seconds=0.001, cap_seconds=0.01)


def erp(fake: FakeOdoo, **overrides: Any) -> OdooErp:
    access = overrides.pop("access", None) or VendorAccess("odoo", fake.url, token=fake.api_key, account=fake.database)
    options: dict[str, Any] = {
        "timeout": 0.5,
        "policy": FAST,
        "breaker": CircuitBreaker(failure_threshold=1000),
        "metrics": Metrics(),
    }
    options.update(overrides)
    return OdooErp(access, **options)


def customer(number: int = 1) -> Customer:
    return Customer(
        reference=customer_reference(uuid.uuid5(uuid.NAMESPACE_URL, f"customer:{number}")),
        name="jeanne MARTIN" if number == 1 else f"Client {chr(64 + number % 26)}",
        email=f"client{number}@example.fr",
        street="12 rue des Lilas",
        postcode="69 003",
        city="Lyon",
        country_code="fr",
    )


def invoice(number: int = 1, *, amount: int = 10000, rate: str = "0.09") -> InstalmentInvoice:
    return InstalmentInvoice(
        invoice_id=f"F-2026-{number:06d}-01",
        subscription_id=f"SUB-2026-{number:06d}",
        customer_reference=customer(number).reference,
        amount_excl_tax_cents=amount,
        tax_rate=Decimal(rate),
        currency="EUR",
        issued_on=date(2026, 11, 5),
        label="Prime d'assurance, première échéance",
    )


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOdoo]:
    with FakeOdoo() as odoo:
        yield odoo


@pytest.fixture
def fake(server: FakeOdoo) -> FakeOdoo:
    server.reset()
    return server


# -- the happy path ------------------------------------------------------------------------------------------------


def test_a_customer_becomes_one_partner_normalised_and_is_updated_only_when_it_changed(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    first = adapter.upsert_customer(customer(), key="erp:SUB-2026-000001:partner")
    partner = fake.partner(customer().reference)
    assert partner is not None
    assert first.created
    assert (partner["name"], partner["zip"], partner["customer_rank"]) == ("Jeanne Martin", "69003", 1)
    again = adapter.upsert_customer(customer(), key="erp:SUB-2026-000001:partner")
    moved = adapter.upsert_customer(replace(customer(), city="Paris", postcode="75001"), key="erp:SUB-2:partner")
    assert not again.created
    assert again.erp_id == moved.erp_id == first.erp_id
    assert fake.partner(customer().reference)["city"] == "Paris"  # type: ignore[index]
    writes = [path for _method, path, _key in fake.calls if path.endswith("/res.partner/write")]
    assert len(writes) == 1  # the unchanged second upsert wrote nothing
    assert fake.effects == {("partner.create", customer().reference): 1}


def test_an_archived_partner_is_brought_back_not_duplicated(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    adapter.upsert_customer(customer(), key="k1")
    fake.archive_partner(customer().reference)
    assert not adapter.upsert_customer(customer(), key="k2").created
    assert fake.partner(customer().reference)["active"] is True  # type: ignore[index]
    assert fake.duplicates() == {}


def test_the_first_instalment_is_invoiced_with_its_tax_and_posted(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    posted = adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="erp:SUB-2026-000001:invoice")
    assert posted.sync is ErpSync.SYNCED
    assert posted.number == "INV/2026/00001"
    assert (posted.amount_excl_tax_cents, posted.tax_cents, posted.total_cents) == (10000, 900, 10900)
    assert posted.residual_cents == 10900
    move = fake.move("F-2026-000001-01")
    assert (move["invoice_origin"], move["invoice_date"], move["state"]) == ("SUB-2026-000001", "2026-11-05", "posted")
    tax = fake.records["account.tax"][fake.records["account.move.line"][1]["tax_ids"][0]]
    assert (tax["type_tax_use"], tax["amount"], tax.get("price_include")) == ("sale", 9.0, False)


def test_a_replayed_post_creates_and_posts_nothing_new(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    first = adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k-invoice")
    replayed = adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k-invoice")
    assert replayed == first
    assert fake.effects[("move.create", "F-2026-000001-01")] == 1
    assert fake.effects[("move.post", "F-2026-000001-01")] == 1


def test_an_untaxed_instalment_has_no_tax_line(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    posted = adapter.post_invoice(invoice(rate="0"), customer_erp_id=partner.erp_id, key="k")
    assert (posted.tax_cents, posted.total_cents) == (0, 10000)


def test_payment_states_are_read_back_as_they_walk(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k")
    reference = "F-2026-000001-01"
    seen = [adapter.invoice_status(reference)]
    fake.start_payment(reference)
    seen.append(adapter.invoice_status(reference))
    fake.pay(reference, 4000)
    seen.append(adapter.invoice_status(reference))
    fake.pay(reference)
    seen.append(adapter.invoice_status(reference))
    assert [status.sync for status in seen if status] == [
        ErpSync.SYNCED,
        ErpSync.IN_PAYMENT,
        ErpSync.PARTIALLY_PAID,
        ErpSync.PAID,
    ]
    assert [status.residual_cents for status in seen if status] == [10900, 10900, 6900, 0]
    fake.block_payment(reference)
    assert adapter.invoice_status(reference).sync is ErpSync.BLOCKED  # type: ignore[union-attr]


def test_an_invoice_odoo_never_saw_has_no_status(fake: FakeOdoo) -> None:
    assert erp(fake).invoice_status("F-2026-999999-01") is None


def test_an_unknown_payment_state_is_refused_not_guessed(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k")
    fake.set_payment_state("F-2026-000001-01", "refunded_by_magic")
    with pytest.raises(VendorRejected) as refused:
        adapter.invoice_status("F-2026-000001-01")
    assert refused.value.vendor_code == "unknown_state"


# -- compensation --------------------------------------------------------------------------------------------------


def test_a_refunded_payment_reverses_the_posted_invoice_with_one_credit_note(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k")
    reversal = adapter.reverse_invoice("F-2026-000001-01", reason="Paiement remboursé", key="refund:1")
    replayed = adapter.reverse_invoice("F-2026-000001-01", reason="Paiement remboursé", key="refund:1")
    assert reversal == replayed
    assert (reversal.outcome, reversal.sync, reversal.credit_note_number) == (
        ReversalOutcome.CREDIT_NOTE,
        ErpSync.REVERSED,
        "RINV/2026/00001",
    )
    [credit_note] = fake.credit_notes_of("F-2026-000001-01")
    assert (credit_note["state"], credit_note["amount_total"], credit_note["partner_id"]) == (
        "posted",
        109.0,
        int(partner.erp_id),
    )
    assert fake.effects[("move.reverse", "F-2026-000001-01")] == 1
    assert fake.effects[("move.post", "avoir:F-2026-000001-01")] == 1


def test_a_draft_is_cancelled_rather_than_credited_and_an_unknown_invoice_needs_nothing(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    adapter.upsert_customer(customer(), key="k")
    fake.seed_invoice("F-2026-000001-01", partner_ref=customer().reference, price_unit=100.0, tax_percent=9.0)
    cancelled = adapter.reverse_invoice("F-2026-000001-01", reason="Contrat annulé", key="k")
    assert (cancelled.outcome, cancelled.sync) == (ReversalOutcome.CANCELLED, ErpSync.CANCELLED)
    assert fake.move("F-2026-000001-01")["state"] == "cancel"
    assert adapter.reverse_invoice("F-2026-000001-01", reason="Contrat annulé", key="k") == cancelled
    nothing = adapter.reverse_invoice("F-2026-000404-01", reason="Contrat annulé", key="k")
    assert (nothing.outcome, nothing.sync) == (ReversalOutcome.NOTHING_TO_REVERSE, ErpSync.NONE)
    assert fake.credit_notes_of("F-2026-000001-01") == []


# -- lost answers and interrupted steps ----------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "method"), [("res.partner", "create"), ("account.move", "create")])
def test_a_lost_answer_to_a_create_is_found_again_by_its_reference(fake: FakeOdoo, model: str, method: str) -> None:
    adapter = erp(fake)
    fake.lose_answer(model, method)
    partner = adapter.upsert_customer(customer(), key="k")
    posted = adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k")
    assert posted.sync is ErpSync.SYNCED
    assert fake.duplicates() == {}
    assert len(fake.moves()) == 1


def test_a_lost_answer_to_action_post_does_not_post_twice(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    fake.lose_answer("account.move", "action_post")
    posted = adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k")
    assert (posted.sync, posted.number) == (ErpSync.SYNCED, "INV/2026/00001")
    assert fake.effects[("move.post", "F-2026-000001-01")] == 1


def test_a_draft_left_by_an_interrupted_step_is_posted_by_the_replay_not_duplicated(fake: FakeOdoo) -> None:
    partner = erp(fake).upsert_customer(customer(), key="k")
    fake.unavailable("account.move", "action_post")
    with pytest.raises(VendorUnavailable):
        erp(fake, policy=RetryPolicy(attempts=1)).post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k")
    assert fake.move("F-2026-000001-01")["state"] == "draft"
    replayed = erp(fake).post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k")
    assert replayed.sync is ErpSync.SYNCED
    assert fake.effects[("move.create", "F-2026-000001-01")] == 1


def test_a_draft_that_is_not_our_invoice_stays_for_an_accountant(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    fake.seed_invoice("F-2026-000001-01", partner_ref=customer().reference, price_unit=99.0, tax_percent=9.0)
    with pytest.raises(VendorRejected) as refused:
        adapter.post_invoice(invoice(), customer_erp_id=partner.erp_id, key="k")
    assert refused.value.vendor_code == "invoice_mismatch"
    assert fake.move("F-2026-000001-01")["state"] == "draft"


# -- refusals ------------------------------------------------------------------------------------------------------


def test_a_bad_api_key_is_refused_once_with_odoos_exception_name(fake: FakeOdoo) -> None:
    access = VendorAccess("odoo", fake.url, token="wrong", account=fake.database)
    with pytest.raises(VendorRejected) as refused:
        erp(fake, access=access).invoice_status("F-2026-000001-01")
    assert (refused.value.status, refused.value.vendor_code) == (401, "werkzeug.exceptions.Unauthorized")
    assert len(fake.calls) == 1


def test_a_wrong_database_is_refused(fake: FakeOdoo) -> None:
    access = VendorAccess("odoo", fake.url, token=fake.api_key, account="other")
    with pytest.raises(VendorRejected) as refused:
        erp(fake, access=access).invoice_status("F-2026-000001-01")
    assert (refused.value.status, refused.value.vendor_code) == (404, "werkzeug.exceptions.NotFound")


def test_a_tax_rate_odoo_does_not_have_is_a_configuration_refusal(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    partner = adapter.upsert_customer(customer(), key="k")
    with pytest.raises(VendorRejected) as refused:
        adapter.post_invoice(invoice(rate="0.1327"), customer_erp_id=partner.erp_id, key="k")
    assert refused.value.vendor_code == "not_configured"
    assert "13.27 %" in str(refused.value)
    assert fake.moves() == []


def test_a_record_failing_the_quality_checks_is_never_sent(fake: FakeOdoo) -> None:
    adapter = erp(fake)
    with pytest.raises(RecordRejected) as refused:
        adapter.upsert_customer(replace(customer(), postcode="7500", email="jeanne"), key="k")
    assert refused.value.codes == ("email_invalid", "postcode_invalid")
    with pytest.raises(RecordRejected):
        adapter.post_invoice(invoice(amount=0), customer_erp_id="1", key="k")
    assert fake.calls == []


# -- the fake is as strict as Odoo ---------------------------------------------------------------------------------


def rpc(fake: FakeOdoo, path: str, body: Any = None, **options: Any) -> httpx.Response:
    headers = {"Authorization": f"bearer {fake.api_key}", "X-Odoo-Database": fake.database}
    return httpx.post(f"{fake.url}{path}", json=body, headers=headers | options.pop("headers", {}), **options)


def test_the_fake_answers_errors_in_odoos_shape_and_status(fake: FakeOdoo) -> None:
    cases = [
        (rpc(fake, "/json/2/res.nothing/search_read", {}), 404, "werkzeug.exceptions.NotFound"),
        (rpc(fake, "/json/2/res.partner/unlink_all", {}), 404, "werkzeug.exceptions.NotFound"),
        (rpc(fake, "/json/2/res.partner/_compute_name", {}), 404, "werkzeug.exceptions.NotFound"),
        (rpc(fake, "/json/2/res.partner/create", {"vals": {}}), 422, "werkzeug.exceptions.UnprocessableEntity"),
        (rpc(fake, "/json/2/res.partner/create", {"ids": [1], "vals_list": []}), 422, None),
        (
            rpc(fake, "/json/2/res.partner/create", {"vals_list": [{"ref": "x"}]}),
            422,
            "odoo.exceptions.ValidationError",
        ),
        (rpc(fake, "/json/2/res.partner/create", {"vals_list": [{"nom": "x"}]}), 500, "builtins.ValueError"),
        (rpc(fake, "/json/2/account.move/read", {"ids": [99], "fields": ["name"]}), 404, None),
        (rpc(fake, "/json/2/res.partner/search_read", [1]), 400, "werkzeug.exceptions.BadRequest"),
        (httpx.get(f"{fake.url}/json/2/res.partner/search_read"), 404, "werkzeug.exceptions.NotFound"),
        (rpc(fake, "/json/2/res.partner/search_read", {}, headers={"Authorization": ""}), 403, None),
    ]
    for response, status, name in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"name", "message", "arguments", "context", "debug"}
        assert name is None or body["name"] == name, body
    assert rpc(fake, "/json/2/account.move/read", {"ids": [99]}).json()["name"] == "odoo.exceptions.MissingError"


def test_the_fake_answers_the_methods_return_value_and_refuses_a_second_posting(fake: FakeOdoo) -> None:
    created = rpc(fake, "/json/2/res.partner/create", {"vals_list": [{"name": "Jeanne", "country_id": 1}]}).json()
    assert created == [1]
    read = rpc(fake, "/json/2/res.partner/read", {"ids": created, "fields": ["name", "country_id", "email"]}).json()
    assert read == [{"id": 1, "name": "Jeanne", "country_id": [1, "France"], "email": False}]
    line = {"name": "Prime", "quantity": 1, "price_unit": 100.0, "tax_ids": [[6, 0, [3]]]}
    move = rpc(
        fake,
        "/json/2/account.move/create",
        {"vals_list": [{"move_type": "out_invoice", "partner_id": 1, "invoice_line_ids": [[0, 0, line]]}]},
    ).json()
    assert rpc(fake, "/json/2/account.move/action_post", {"ids": move}).json() is False
    again = rpc(fake, "/json/2/account.move/action_post", {"ids": move})
    assert (again.status_code, again.json()["name"]) == (422, "odoo.exceptions.UserError")
    assert "is already posted" in again.json()["message"]


# -- under faults --------------------------------------------------------------------------------------------------


def test_thirty_operations_through_thirty_percent_faults_land_exactly_once() -> None:
    with FakeOdoo(FaultPlan(rate=0.3, seed=11, timeout_seconds=0.6, slow_seconds=0.05)) as fake:
        adapter = erp(fake)
        operations = 0
        for number in range(1, 11):
            partner = adapter.upsert_customer(customer(number), key=f"erp:{number}:partner")
            posted = adapter.post_invoice(invoice(number), customer_erp_id=partner.erp_id, key=f"erp:{number}:invoice")
            status = adapter.invoice_status(invoice(number).invoice_id)
            assert posted.sync is ErpSync.SYNCED
            assert status is not None
            assert status.total_cents == 10900
            operations += 3
        for number in (1, 2, 3):
            reversal = adapter.reverse_invoice(invoice(number).invoice_id, reason="Paiement remboursé", key="r")
            assert reversal.outcome is ReversalOutcome.CREDIT_NOTE
            operations += 1
    assert operations >= 30
    assert sum(fake.faults_injected.values()) > 10
    assert fake.duplicates() == {}
    assert len(fake.moves()) == 10
    assert len(fake.moves("out_refund")) == 3
    assert all(move["state"] == "posted" for move in fake.moves() + fake.moves("out_refund"))
    assert len(fake.records["res.partner"]) == 10


# -- against a real Odoo, when one is configured (docs/integrations/odoo.md) ---------------------------------------


def test_against_a_real_odoo_when_one_is_configured() -> None:
    url, token = os.environ.get("SOUSCRIPTION_TEST_ODOO_URL", ""), os.environ.get("SOUSCRIPTION_TEST_ODOO_TOKEN", "")
    if not (url and token):
        pytest.skip("SOUSCRIPTION_TEST_ODOO_URL et SOUSCRIPTION_TEST_ODOO_TOKEN ne sont pas définis : pas d'Odoo réel.")
    access = VendorAccess(
        "odoo", url.rstrip("/"), token=token, account=os.environ.get("SOUSCRIPTION_TEST_ODOO_DATABASE", "")
    )
    adapter = OdooErp(access, timeout=20.0, metrics=Metrics(), breaker=CircuitBreaker())
    run = uuid.uuid4()
    someone = replace(customer(), reference=customer_reference(run), email=f"essai-{run.hex[:8]}@example.com")
    first = replace(
        invoice(),
        invoice_id=f"F-ESSAI-{run.hex[:12].upper()}",
        subscription_id=f"SUB-2026-{run.int % 1_000_000:06d}",
        customer_reference=someone.reference,
        tax_rate=Decimal(os.environ.get("SOUSCRIPTION_TEST_ODOO_TAX_RATE", "0.20")),
    )
    partner = adapter.upsert_customer(someone, key="essai")
    assert adapter.upsert_customer(someone, key="essai").erp_id == partner.erp_id
    posted = adapter.post_invoice(first, customer_erp_id=partner.erp_id, key="essai")
    assert posted.sync is ErpSync.SYNCED
    assert adapter.post_invoice(first, customer_erp_id=partner.erp_id, key="essai") == posted
    assert adapter.invoice_status(first.invoice_id) == posted
    reversal = adapter.reverse_invoice(first.invoice_id, reason="Essai d'intégration", key="essai")
    assert reversal.outcome is ReversalOutcome.CREDIT_NOTE
    assert adapter.reverse_invoice(first.invoice_id, reason="Essai d'intégration", key="essai") == reversal
