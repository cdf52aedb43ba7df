"""`/metrics`: the connectors' counters in Prometheus text (no personal data: vendors, operations, counts)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from souscription.connectors import services
from souscription.integrations.metrics import METRICS


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    counts = services.counts()
    lines = [
        METRICS.render().rstrip("\n"),
        "# HELP souscription_connector_waiting_calls Vendor calls parked (vendor unavailable) or dead-lettered.",
        "# TYPE souscription_connector_waiting_calls gauge",
        *(f'souscription_connector_waiting_calls{{status="{status}"}} {count}' for status, count in counts.items()),
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4; charset=utf-8")
