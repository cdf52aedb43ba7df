"""The platform process of the chaos test: it drives N car dossiers through the public API while the workflows
run in the same process, with the CRM and the ERP given to the vendor fakes the test runs (they inject faults).

    python chaos_worker.py <count> <seed>

It is killed with kill -9 several times and started again with the same executor id: DBOS resumes the workflows
that were in flight, and the driver picks every dossier up from its status (opening one again with the same
Idempotency-Key replays the first answer). It appends each dossier it opened to `progress.jsonl` and, once every
dossier is active, closed or waiting for a person, writes `result.json`."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "souscription.settings")
django.setup()

from dbos import DBOS  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test.client import ClientHandler  # noqa: E402

from souscription.connectors import services as connectors  # noqa: E402
from souscription.platform import workflows  # noqa: E402
from souscription.products.runtime import catalog  # noqa: E402
from souscription.simulation import Applicant, Outcome, SimulationError, Staff, realistic_answers  # noqa: E402
from souscription.subscriptions.models import DossierEvent  # noqa: E402

FOLDER = Path(os.environ["CHAOS_DIR"])
FINAL = {"active", "declined", "rejected", "withdrawn", "expired"}
_progress_lock = threading.Lock()


def opened_before() -> dict[int, dict[str, str]]:
    path = FOLDER / "progress.jsonl"
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {int(row["index"]): row for row in rows}


def note_opened(index: int, sid: str, token: str) -> None:
    with _progress_lock, (FOLDER / "progress.jsonl").open("a") as progress:
        progress.write(json.dumps({"index": index, "sid": sid, "token": token}) + "\n")
        progress.flush()
        os.fsync(progress.fileno())


def drive(index: int, seed: int, staff: Staff, known: dict[int, dict[str, str]]) -> str:
    version = catalog().effective("garantie_automobile", on=date.today())
    rng = random.Random(seed * 1_000_003 + index)
    applicant = Applicant(version, rng, staff, Outcome(), index)
    answers = realistic_answers(version, rng, index)
    if index in known:
        applicant.sid, applicant.api.token = known[index]["sid"], known[index]["token"]
    else:
        key = hashlib.sha256(f"chaos:{seed}:{index}".encode()).hexdigest()
        opened = open_dossier(applicant, key, index)
        applicant.sid, applicant.api.token = opened["subscription_id"], opened["applicant_token"]
        note_opened(index, applicant.sid, applicant.api.token)
    deadline = time.monotonic() + 120
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            status = applicant.api.call("get", f"/dossiers/{applicant.sid}")
            if status["stage"] in FINAL:
                return str(status["stage"])
            if any(call.subscription_id == applicant.sid for call in connectors.waiting(status="dead")):
                return f"waiting:{status['stage']}"
            if status["stage"] == "draft":
                for step in version.definition.steps:
                    if step.id in status["missing_steps"]:
                        values = {spec.name: answers[spec.name] for spec in step.fields if spec.name in answers}
                        applicant.api.call("post", f"/dossiers/{applicant.sid}/steps/{step.id}", {"answers": values})
                continue
            applicant.act(status, answers)
        except SimulationError:
            time.sleep(0.2)  # a request refused because the dossier moved meanwhile: read the status again
    return f"unfinished:{status.get('stage')}"


def open_dossier(applicant: Applicant, key: str, index: int) -> dict[str, Any]:
    """POST /dossiers with the dossier's own Idempotency-Key: after a kill -9 the same key gives the same dossier
    (409 while the dead process's claim on the key has not yet gone stale)."""
    deadline = time.monotonic() + 90
    while True:
        response = applicant.api.client.post(
            "/api/v1/dossiers",
            {"product": "garantie_automobile"},
            content_type="application/json",
            headers={"Idempotency-Key": key},
        )
        if response.status_code == 201:
            opened: dict[str, Any] = response.json()
            return opened
        if response.status_code != 409 or time.monotonic() > deadline:
            raise SimulationError(f"opening {index}: {response.status_code} {response.content[:200]!r}")
        time.sleep(0.5)


def settle(seconds: float = 120) -> None:
    """A dossier the driver saw active may still have work after it (the CRM told it is won): wait until every
    workflow has finished, but the dead-lettered calls and their parents, which wait for a person, and every event
    is relayed (an event left unpublished at exit would be published at the next start: the test checks all)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        running = DBOS.list_workflows(status=["PENDING", "ENQUEUED"], load_input=False, load_output=False)
        relayed = not DossierEvent.objects.filter(published_at__isnull=True).exists()  # the outbox drained too
        if relayed and len(running) <= 2 * len(connectors.waiting(status="dead")):
            return
        time.sleep(0.2)
    raise SystemExit("workflows still running after the dossiers were driven")


def main(count: int, seed: int) -> None:
    workflows.launch(settings.SOUSCRIPTION)
    staff = Staff(ClientHandler(enforce_csrf_checks=False))
    known = opened_before()
    with ThreadPoolExecutor(max_workers=12) as pool:
        stages = list(pool.map(lambda index: drive(index, seed, staff, known), range(count)))
    settle()
    (FOLDER / "result.json").write_text(json.dumps(Counter(stages)))
    workflows.shutdown()
    os._exit(0)  # DBOS's and httpx's threads may still be winding down: the result is written


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
