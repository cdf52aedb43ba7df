"""With the signature port given to Yousign (its local fake, answering 30 % of calls with faults), the contract a
dossier accepts is sent to Yousign once; the customer signs there, and Yousign's webhooks (late, repeated, out of
order) move `signature_status` and, on `done`, sign and bill the dossier once. A dossier withdrawn while its
request is open has the request cancelled at Yousign (compensation). The platform's own code signature is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from souscription.configuration import VendorAccess
from souscription.underwriting import services as underwriting
from tests.fakes.base import FaultPlan
from tests.fakes.yousign import FakeYousign
from tests.integration.test_dossier_api import CAR, Applicant, validate_first_invoice
from tests.integration.vendor_settings import port_given_to

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]
WEBHOOK = "/api/v1/webhooks/yousign"


@pytest.fixture
def yousign(settings: Any) -> Iterator[FakeYousign]:
    with FakeYousign(FaultPlan(rate=0.3, seed=5, kinds=("server_error", "rate_limited", "reset", "slow"))) as fake:
        access = VendorAccess("yousign", fake.api_url, token=fake.api_key, webhook_secret=fake.webhook_secret)
        with port_given_to(settings, "signature", access):
            yield fake


def awaiting_signature(fake: FakeYousign) -> tuple[Applicant, str]:
    applicant = Applicant("garantie_automobile")
    applicant.answer_all(CAR)
    accepted = applicant.post("/acceptance").json()
    assert accepted["stage"] == "awaiting_signature"
    assert accepted["signature_status"] == "ongoing"
    [request] = list(fake.requests.values())
    return applicant, str(request["id"])


def deliver(headers: dict[str, str], body: bytes) -> int:
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return Client().post(WEBHOOK, body, content_type="application/json", **extra).status_code


def until(applicant: Applicant, field: str, value: str, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    status = applicant.status()
    while status[field] != value and time.monotonic() < deadline:
        time.sleep(0.1)
        status = applicant.status()
    assert status[field] == value, status
    return status


def test_a_contract_signed_at_yousign_signs_and_bills_the_dossier_once_whatever_the_deliveries(
    yousign: FakeYousign,
) -> None:
    applicant, request_id = awaiting_signature(yousign)
    request = yousign.requests[request_id]
    assert request["status"] == "ongoing"
    assert len(request["signers"]) == 1
    # The platform's own code signature is refused, with the reason.
    refused = applicant.post("/signature-code")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "signature_at_vendor"

    yousign.sign(request_id)
    deliveries = list(yousign.webhooks)
    # Late, repeated and out of order: the request's `done` first, then every event again, oldest last.
    done = [item for item in deliveries if json.loads(item[1])["event_name"] == "signature_request.done"]
    for headers, body in [*done, *reversed(deliveries), *done]:
        assert deliver(headers, body) == 204

    signed = until(applicant, "invoice_status", "drafted")  # signed, then the mandate and the first invoice
    assert signed["stage"] == "signed"
    assert signed["signature_status"] == "done"
    # Legal keeps the copy Yousign signed: the drafted contract with Yousign's seal.
    drafted = yousign.contents[request["documents"][0]["id"]]
    assert drafted == underwriting.contract_copy(applicant.sid, "drafted")
    kept = underwriting.contract_copy(applicant.sid, "signed")
    assert kept is not None
    assert kept.startswith(drafted)
    assert f"fake Yousign for {request_id}".encode() in kept
    active = validate_first_invoice(signed)
    assert active["stage"] == "active"
    # Yousign saw each effect once: one request, one document, one signer, one activation.
    assert yousign.duplicates() == {}
    kinds = sorted(kind for kind, _key in yousign.effects)
    assert kinds == ["document.upload", "request.activate", "request.create", "signer.add"]
    assert sum(yousign.faults_injected.values()) > 0


def test_a_declined_or_expired_request_is_shown_and_the_dossier_waits_for_a_person(yousign: FakeYousign) -> None:
    applicant, request_id = awaiting_signature(yousign)
    yousign.decline(request_id)
    for headers, body in yousign.webhooks:
        assert deliver(headers, body) == 204
    status = until(applicant, "signature_status", "declined")
    assert status["stage"] == "awaiting_signature"
    # An older event delivered late changes nothing: never backwards.
    headers, body = yousign.webhook("signature_request.activated", request_id, event_time=time.time() - 60)
    assert deliver(headers, body) == 204
    assert applicant.status()["signature_status"] == "declined"


def test_a_withdrawn_dossier_has_its_open_request_cancelled_at_yousign(yousign: FakeYousign) -> None:
    applicant, request_id = awaiting_signature(yousign)
    withdrawn = applicant.post("/withdrawal", {"reason": "Le client a trouvé moins cher."}).json()
    assert withdrawn["stage"] == "withdrawn"
    status = until(applicant, "signature_status", "canceled")
    assert status["stage"] == "withdrawn"
    assert yousign.requests[request_id]["status"] == "canceled"
    assert [kind for kind, _key in yousign.effects].count("request.cancel") == 1
    assert yousign.duplicates() == {}


def test_a_webhook_not_signed_with_the_secret_is_refused_and_changes_nothing(yousign: FakeYousign) -> None:
    applicant, request_id = awaiting_signature(yousign)
    headers, body = yousign.webhook("signature_request.done", request_id, secret="not-the-secret")
    assert deliver(headers, body) == 401
    headers, body = yousign.webhook("signature_request.done", request_id)
    assert deliver({**headers, "X-Yousign-Signature-256": ""}, body) == 401
    assert applicant.status()["signature_status"] == "ongoing"
    assert applicant.status()["stage"] == "awaiting_signature"
