"""Liveness and readiness: for load balancers and orchestrators, unauthenticated and without personal data."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from souscription.platform import health

router = Router(tags=["plateforme"])


class LiveOut(Schema):
    status: str


class CheckOut(Schema):
    name: str
    ok: bool
    detail: str


class ReadyOut(Schema):
    status: str
    checks: list[CheckOut]


@router.get("/health", response=LiveOut, auth=None, summary="Le processus répond")
def live(request: HttpRequest) -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", response={200: ReadyOut, 503: ReadyOut}, auth=None, summary="Prêt à servir")
def ready(request: HttpRequest) -> Status[Any]:
    checks = health.readiness_checks()
    ok = all(check.ok for check in checks)
    body = {"status": "ready" if ok else "not_ready", "checks": [check.as_dict() for check in checks]}
    return Status(200 if ok else 503, body)
