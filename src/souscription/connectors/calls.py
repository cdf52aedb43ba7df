"""Vendor calls as durable child workflows: one per call key, on the rate-limited queue of its port.

A dossier's workflow calls `run(operation, key=..., args=...)`: the call becomes the workflow `call:<key>`, enqueued
on `connector-<port>` (DBOS's limiter holds it to the vendor's rate), and the parent waits for its result. The key
is derived from the dossier and the step, so a replayed parent joins the same call instead of making another, and
the adapter sends the key as the vendor's idempotency key (or looks it up before creating).

When the vendor is unavailable (retries exhausted, circuit open) the call parks: a `ParkedCall` row says why, the
child workflow sleeps durably (first `SOUSCRIPTION_CONNECTOR_PARK_SECONDS`, doubling to 10 minutes, never less than
the vendor's `Retry-After`), then tries again, so the dossier resumes by itself once the vendor is back. When the
vendor refuses the call (4xx) it is dead-lettered: it waits for a person to replay it (`souscription connectors
replay <key>`, which sends the workflow a message); a replay also cuts a parked call's wait short. A crash at any
point resumes the child where it was: its attempts are DBOS steps, its waits durable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbos import DBOS, DBOSClient, SetWorkflowID
from django.conf import settings
from django.utils import timezone

from souscription.connectors import registry, services
from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.platform import workflows

REPLAY_TOPIC = "replay"
MAX_PARK_SECONDS = 600.0
DEAD_RECHECK_SECONDS = 24 * 3600.0

Operation = Callable[..., Any]
OPERATIONS: dict[str, Operation] = {}
"""`<port>.<name>` -> function(*args, key=...) making the call through the port's configured adapter; its result
must be JSON-serialisable and free of health or bank data (DBOS keeps it)."""


class NotReady(Exception):
    """What the call sends is not recorded yet (the transaction that records it has not committed): the call parks
    with this reason and tries again, as for a vendor away."""


def operation(name: str) -> Callable[[Operation], Operation]:
    port = name.partition(".")[0]
    if port not in registry.PORTS:
        raise ValueError(f"operation {name!r}: unknown port {port!r}")

    def register(function: Operation) -> Operation:
        OPERATIONS[name] = function
        return function

    return register


def queue_name(port: str) -> str:
    return f"connector-{port}"


def run(name: str, *, key: str, subscription_id: str = "", args: tuple[Any, ...] = ()) -> Any:
    """From a workflow: make the call (once per key) and return its result, however long the vendor takes."""
    with SetWorkflowID(f"call:{key}"):
        handle = DBOS.enqueue_workflow(
            queue_name(name.partition(".")[0]), vendor_call, name, key, subscription_id, list(args)
        )
    return handle.get_result()


@DBOS.workflow()
def vendor_call(name: str, key: str, subscription_id: str, args: list[Any]) -> Any:
    failures = 0
    while True:
        outcome = attempt(name, key, args)
        if outcome["ok"]:
            if failures:
                resolved(key)
            return outcome["value"]
        failures += 1
        dead = bool(outcome["dead"])
        wait = None if dead else _park_seconds(failures, outcome.get("retry_after"))
        parked(name, key, subscription_id, outcome["reason"], dead, wait)
        if dead:
            while DBOS.recv(REPLAY_TOPIC, timeout_seconds=DEAD_RECHECK_SECONDS) is None:
                pass
        else:
            DBOS.recv(REPLAY_TOPIC, timeout_seconds=wait or MAX_PARK_SECONDS)


@workflows.step()
def attempt(name: str, key: str, args: list[Any]) -> dict[str, Any]:
    try:
        value = OPERATIONS[name](*args, key=key)
    except VendorUnavailable as error:
        return {"ok": False, "dead": False, "reason": error.reason, "retry_after": error.retry_after}
    except NotReady as error:
        return {"ok": False, "dead": False, "reason": f"{name} : {error}", "retry_after": None}
    except VendorRejected as error:
        return {"ok": False, "dead": True, "reason": error.reason}
    except Exception as error:
        return {"ok": False, "dead": True, "reason": f"{name} : {_described(error)}"}
    return {"ok": True, "value": value}


def _described(error: Exception) -> str:
    """The class and, for our data-quality checks, their codes: never the message of an unknown error, which could
    quote personal data."""
    codes = getattr(error, "codes", None) or ([getattr(error, "code")] if hasattr(error, "code") else [])  # noqa: B009
    return f"{type(error).__name__}" + (f" [{', '.join(map(str, codes))}]" if codes else "")


@workflows.step()
def parked(name: str, key: str, subscription_id: str, reason: str, dead: bool, wait: float | None) -> None:
    services.park(
        key=key,
        workflow_id=f"call:{key}",
        vendor=registry.vendor_of(name.partition(".")[0]),
        operation=name,
        subscription_id=subscription_id,
        dead=dead,
        reason=reason,
        retry_in=wait,
        at=timezone.now(),
    )


@workflows.step()
def resolved(key: str) -> None:
    services.resolve(key, at=timezone.now())


def replay(key: str) -> bool:
    """Wake a parked or dead-lettered call now (the command line, later the ops screens). Works from any process:
    without a running DBOS, the message goes through a DBOS client on the workflow database."""
    if not any(call.key == key for call in services.waiting()):
        return False
    if workflows.is_running():
        DBOS.send(f"call:{key}", "replay", topic=REPLAY_TOPIC)
        return True
    client = DBOSClient(system_database_url=settings.SOUSCRIPTION.workflow_database_url)
    try:
        client.send(f"call:{key}", "replay", topic=REPLAY_TOPIC, idempotency_key=f"replay:{key}:{timezone.now()}")
    finally:
        client.destroy()
    return True


def _park_seconds(failures: int, retry_after: float | None) -> float:
    first = float(settings.SOUSCRIPTION.connector_park_seconds)
    return float(max(min(MAX_PARK_SECONDS, first * 2.0 ** (failures - 1)), retry_after or 0.0))


def declare_queues() -> None:
    """One queue per port served by a vendor, limited to the vendor's documented rate."""
    for port in registry.PORTS:
        vendor = registry.vendor_of(port)
        if vendor != "embedded":
            workflows.queue(queue_name(port), limiter=registry.RATE_LIMITS[vendor], polling_interval_sec=0.2)
