"""A worker process for the kill -9 tests, on the real runtime (`workflows.launch`, the one `serve` and `worker`
use). Its workflow writes a new customer's slices, one step per department database; the second step waits
for a gate file so the test can kill the process at a known point.

    python recovery_worker.py start|resume EXECUTOR_ID WORKFLOW_ID CUSTOMER_ID
    python recovery_worker.py count CUSTOMER_ID
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "souscription.settings")
django.setup()

from dbos import DBOS, SetWorkflowID  # noqa: E402
from django.conf import settings  # noqa: E402

from souscription.billing import services as billing  # noqa: E402
from souscription.billing.models import Invoice  # noqa: E402
from souscription.customers import services as customers  # noqa: E402
from souscription.customers.models import Customer  # noqa: E402
from souscription.platform import workflows  # noqa: E402
from souscription.sales import services as sales  # noqa: E402
from souscription.sales.models import CommercialProfile  # noqa: E402
from souscription.underwriting import services as underwriting  # noqa: E402
from souscription.underwriting.models import InvestigationReport  # noqa: E402

LOG = Path(os.environ["RECOVERY_LOG"])
GATE = Path(os.environ["RECOVERY_GATE"])
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def note(event: str) -> None:
    with LOG.open("a") as log:
        log.write(f"{event} {os.getpid()}\n")
        log.flush()
        os.fsync(log.fileno())


@workflows.step()
def register_contact(customer_id: str) -> None:
    note("contact")
    customers.register_customer(
        customer_id=uuid.UUID(customer_id),
        contact=customers.ContactDetails(first_name="Inès", last_name="Durand", email=f"{customer_id}@exemple.fr"),
    )


@workflows.step()
def record_profile(customer_id: str) -> None:
    note("profile:start")
    while not GATE.exists():
        time.sleep(0.05)
    sales.record_profile(customer_id=uuid.UUID(customer_id), age_category="41-60", profession="Artisan", sex="F")
    note("profile:done")


@workflows.step()
def file_report(customer_id: str) -> None:
    note("report")
    underwriting.file_investigation_report(
        report_id=uuid.uuid5(uuid.UUID(customer_id), "report"),
        customer_id=uuid.UUID(customer_id),
        author_id=1,
        findings="RAS",
        at=AT,
    )


@workflows.step()
def draft_invoice(customer_id: str) -> None:
    note("invoice")
    billing.draft_invoice(
        invoice_id=uuid.uuid5(uuid.UUID(customer_id), "invoice"),
        number=f"FAC-{customer_id[:8]}",
        customer_id=uuid.UUID(customer_id),
        amount_cents=4200,
        drafted_by=1,
        issued_on=date(2026, 11, 2),
    )


@DBOS.workflow()
def onboard(customer_id: str) -> str:
    register_contact(customer_id)
    record_profile(customer_id)
    file_report(customer_id)
    draft_invoice(customer_id)
    return "onboarded"


def count(customer_id: str) -> dict[str, int]:
    cid = uuid.UUID(customer_id)
    return {
        "customers": Customer.objects.filter(id=cid).count(),
        "profiles": CommercialProfile.objects.filter(customer_id=cid).count(),
        "reports": InvestigationReport.objects.filter(customer_id=cid).count(),
        "invoices": Invoice.objects.filter(customer_id=cid).count(),
    }


def main(mode: str, *args: str) -> None:
    if mode == "count":
        print(json.dumps(count(args[0])))
        return
    executor_id, workflow_id, customer_id = args
    workflows.launch(settings.SOUSCRIPTION, executor_id=executor_id)
    if mode == "start":
        with SetWorkflowID(workflow_id):
            handle = DBOS.start_workflow(onboard, customer_id)
    else:
        handle = DBOS.retrieve_workflow(workflow_id)
    note(f"result:{handle.get_result()}")
    print(handle.get_status().status)
    workflows.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
