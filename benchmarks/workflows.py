"""Four-step workflows per second through the platform's runtime, embedded SQLite, against raw SQLite.

Printed with it, measured in the same run: the CPU time DBOS's bookkeeping costs, per workflow and per step, on
workflows whose steps do nothing (a step's is `four_empty_steps` less `no_step`, over four), next to the CPU time
the four department steps cost when called as plain functions. A dossier runs four workflows and about twelve
steps, so these two numbers say how much of its CPU time the durable runtime takes whatever the steps do.

Each workflow writes one slice of a new customer per step, each step a transaction in a different department
database (the shape of every later saga). The baseline, measured in the same run and folder, is the number of
durable single-row commits per second SQLite achieves with the same pragmas. DBOS adds its own commits (workflow
status and one checkpoint per step), so the ratio says what durability costs per workflow.

    .venv/bin/python benchmarks/workflows.py [--workflows 300] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

DATA = Path(tempfile.mkdtemp(prefix="souscription-bench-"))
os.environ.update(SOUSCRIPTION_DATA_DIR=str(DATA), SOUSCRIPTION_LOG_LEVEL="WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "souscription.settings")

import django  # noqa: E402

django.setup()

from dbos import DBOS, SetWorkflowID  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from souscription.billing import services as billing  # noqa: E402
from souscription.customers import services as customers  # noqa: E402
from souscription.platform import workflows  # noqa: E402
from souscription.sales import services as sales  # noqa: E402
from souscription.underwriting import services as underwriting  # noqa: E402

AT = datetime(2026, 11, 2, tzinfo=UTC)


@workflows.step()
def contact(cid: str) -> None:
    customers.register_customer(
        customer_id=uuid.UUID(cid),
        contact=customers.ContactDetails(first_name="Bench", last_name="Mark", email=f"{cid}@exemple.fr"),
    )


@workflows.step()
def profile(cid: str) -> None:
    sales.record_profile(customer_id=uuid.UUID(cid), age_category="26-40", profession="Cadre", sex="M")


@workflows.step()
def report(cid: str) -> None:
    underwriting.file_investigation_report(
        report_id=uuid.uuid4(), customer_id=uuid.UUID(cid), author_id=1, findings="RAS", at=AT
    )


@workflows.step()
def invoice(cid: str) -> None:
    billing.draft_invoice(
        invoice_id=uuid.uuid4(),
        number=cid[:30],
        customer_id=uuid.UUID(cid),
        amount_cents=100,
        drafted_by=1,
        issued_on=date(2026, 11, 2),
    )


@DBOS.step()
def nothing(value: int) -> int:
    return value


@DBOS.workflow()
def no_step(value: int) -> int:
    return value


@DBOS.workflow()
def four_empty_steps(value: int) -> int:
    for _ in range(3):
        nothing(value)
    return nothing(value)


@DBOS.workflow()
def onboard(cid: str) -> None:
    contact(cid)
    profile(cid)
    report(cid)
    invoice(cid)


def sqlite_commits_per_second(count: int) -> float:
    connection = sqlite3.connect(DATA / "baseline.sqlite3", isolation_level=None)
    connection.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (v TEXT);")
    started = time.perf_counter()
    for index in range(count):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (?)", (str(index),))
        connection.execute("COMMIT")
    return count / (time.perf_counter() - started)


def run_one(_: int) -> None:
    cid = str(uuid.uuid4())
    with SetWorkflowID(f"bench-{cid}"):
        DBOS.start_workflow(onboard, cid).get_result()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_ms_each(count: int, run: Any) -> float:
    """CPU milliseconds (user and system, every thread) per call of `run(index)`, over `count` calls."""
    started = cpu_seconds()
    for index in range(count):
        run(index)
    return 1000 * (cpu_seconds() - started) / count


def bookkeeping(count: int) -> tuple[float, float, float]:
    """CPU ms of an empty workflow, of one empty step, and of the four department steps called without DBOS."""

    def started(workflow: Any) -> Any:
        def run(index: int) -> None:
            with SetWorkflowID(f"bench-{workflow.__name__}-{uuid.uuid4()}"):
                DBOS.start_workflow(workflow, index).get_result()

        return run

    def plain(_: int) -> None:
        cid = str(uuid.uuid4())
        for step in (contact, profile, report, invoice):
            inspect.unwrap(step)(cid)  # the function under DBOS's decorator and the connection release

    workflow_ms = cpu_ms_each(count, started(no_step))
    step_ms = (cpu_ms_each(count, started(four_empty_steps)) - workflow_ms) / 4
    return workflow_ms, step_ms, cpu_ms_each(count, plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    baseline = sqlite_commits_per_second(2000)
    workflows.launch(settings.SOUSCRIPTION, executor_id="bench")
    try:
        for warmup in range(10):
            run_one(warmup)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(run_one, range(args.workflows)))
        elapsed = time.perf_counter() - started
        workflow_ms, step_ms, plain_ms = bookkeeping(args.workflows)
    finally:
        workflows.shutdown()
    rate = args.workflows / elapsed
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, data in {DATA}")
    print(f"baseline: SQLite durable commits/s (WAL, synchronous=FULL): {baseline:,.0f}")
    print(f"four-step workflows/s ({args.workflows} workflows, {args.concurrency} threads): {rate:,.1f}")
    print(f"ratio: one workflow costs the time of {baseline / rate:,.1f} raw durable commits")
    print(f"DBOS bookkeeping, CPU ms: {workflow_ms:.2f} per workflow, {step_ms:.2f} per step (steps doing nothing)")
    print(
        f"the four department steps without DBOS, CPU ms: {plain_ms:.2f} "
        f"(a four-step workflow's bookkeeping costs {(workflow_ms + 4 * step_ms) / plain_ms:.1f}x their own)"
    )


if __name__ == "__main__":
    main()
