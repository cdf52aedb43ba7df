"""A platform process for the dossier kill -9 test, on the real runtime and the public API.

    python dossier_crash_worker.py start   # dossier to awaiting_signature, then sign; blocks inside billing
    python dossier_crash_worker.py resume  # same executor id: DBOS resumes the signature workflow; then activate

`start` opens a car warranty dossier through the API, answers it, accepts the offer, and signs. The signature
workflow signs the contract (step 1); in step 2 Billing's mandate call notes "billing" in the log and blocks, so the
test can kill the process there (step 3 would mark the dossier signed and its billing ready). `resume` notes every
contract signature it performs: none is expected, since that step had completed before the kill."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "souscription.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from souscription.billing import services as billing  # noqa: E402
from souscription.billing.models import Invoice, LedgerEntry, Mandate  # noqa: E402
from souscription.identity.services import create_staff_user  # noqa: E402
from souscription.platform import workflows  # noqa: E402
from souscription.simulation import sign_in, signature_code_in_inbox  # noqa: E402
from souscription.subscriptions import paperwork  # noqa: E402
from souscription.subscriptions.models import Dossier, DossierEvent  # noqa: E402
from souscription.underwriting.models import ContractCopy  # noqa: E402

LOG = Path(os.environ["CRASH_LOG"])
ANSWERS = json.loads((Path(__file__).parents[1] / "data/answers/garantie_automobile.json").read_text("utf-8"))
STEPS = {"vehicle": "vehicle.", "driver": "driver.", "contact": "customer.", "billing": "billing."}


def note(event: str) -> None:
    with LOG.open("a") as log:
        log.write(f"{event} {os.getpid()}\n")
        log.flush()
        os.fsync(log.fileno())


def call(client: Client, path: str, body: dict[str, Any] | None = None, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post(f"/api/v1{path}", body or {}, content_type="application/json", headers=headers)
    if response.status_code not in (200, 201):
        raise SystemExit(f"{path}: {response.status_code} {response.content!r}")
    return response.json()


def start() -> None:
    client = Client(SERVER_NAME="localhost")
    opened = call(client, "/dossiers", {"product": "garantie_automobile"})
    sid, token = opened["subscription_id"], opened["applicant_token"]
    for step, prefix in STEPS.items():
        call(client, f"/dossiers/{sid}/steps/{step}", {"answers": _with_prefix(prefix)}, token)
    assert call(client, f"/dossiers/{sid}/acceptance", token=token)["stage"] == "awaiting_signature"
    (LOG.parent / "subscription_id").write_text(json.dumps({"sid": sid, "token": token}))

    def blocked_mandate(**kwargs: Any) -> str:
        note("billing")
        time.sleep(3600)
        raise AssertionError("the test kills this process before")

    billing.record_mandate = blocked_mandate  # type: ignore[assignment]
    call(client, f"/dossiers/{sid}/signature-code", token=token)
    code = signature_code_in_inbox(str(_with_prefix("customer.")["customer.email"]), sid)
    call(client, f"/dossiers/{sid}/signature", {"signer_name": "Léa Martin", "code": code}, token)


def resume() -> None:
    real_sign = paperwork.sign_contract

    def noted_sign(*args: Any, **kwargs: Any) -> bytes:
        note("signed-again")
        return real_sign(*args, **kwargs)

    paperwork.sign_contract = noted_sign  # type: ignore[assignment]
    sid = json.loads((LOG.parent / "subscription_id").read_text())["sid"]
    deadline = time.monotonic() + 60
    while Dossier.objects.get(subscription_id=sid).invoice_status != "drafted":
        if time.monotonic() > deadline:
            raise SystemExit("the signature workflow was not resumed")
        time.sleep(0.1)
    accountant = create_staff_user(
        email="comptable@assureur.test", password="Parapluie-Tulipe-2026", role="accountant", update=True
    )
    client = Client(SERVER_NAME="localhost")
    sign_in(client, email=accountant.email, password="Parapluie-Tulipe-2026")
    invoice_id = Dossier.objects.get(subscription_id=sid).invoice_id
    final = call(client, f"/invoices/{invoice_id}/validation")
    events = list(DossierEvent.objects.filter(dossier__subscription_id=sid).values_list("name", flat=True))
    print(
        json.dumps(
            {
                "stage": final["stage"],
                "signed_events": events.count("subscriptions.dossier_signed"),
                "signed_copies": ContractCopy.objects.filter(subscription_id=sid, kind="signed").count(),
                "mandates": Mandate.objects.filter(subscription_id=sid).count(),
                "invoices": Invoice.objects.filter(subscription_id=sid).count(),
                "ledger_entries": LedgerEntry.objects.filter(invoice_number__contains=sid[4:]).count(),
                "signature_verifies": _verifies(sid),
            }
        )
    )


def _verifies(sid: str) -> bool:
    pdf = bytes(ContractCopy.objects.get(subscription_id=sid, kind="signed").pdf)
    check = paperwork.verify_contract(pdf)
    return check.intact and check.valid and check.trusted


def _with_prefix(prefix: str) -> dict[str, Any]:
    return {name: value for name, value in ANSWERS.items() if name.startswith(prefix)}


if __name__ == "__main__":
    workflows.launch(settings.SOUSCRIPTION)
    try:
        {"start": start, "resume": resume}[sys.argv[1]]()
    finally:
        workflows.shutdown()
