"""Which adapter serves each port, from configuration (`SOUSCRIPTION_CONNECTORS`), built once per process.

The embedded defaults are the platform's own code paths (its pipeline, ledger, PAdES signature, SEPA records,
ticketing, sandbox bank): a port left `embedded` makes no vendor call at all. A vendor adapter is built from its
`VendorAccess` (URL and secrets from the environment) by the factory named here."""

from __future__ import annotations

import functools
import importlib
from typing import Any

from django.conf import settings

from souscription.configuration import PORTS
from souscription.integrations.resilience import CircuitBreaker, RetryPolicy

__all__ = ["PORTS", "RATE_LIMITS", "adapter", "uses_vendor", "vendor_of"]

FACTORIES: dict[str, str] = {
    "hubspot": "souscription.integrations.crm.hubspot:HubSpotCrm",
    "odoo": "souscription.integrations.erp.odoo:OdooErp",
    "yousign": "souscription.integrations.signature.yousign:YousignSignature",
    "stripe": "souscription.integrations.payment.stripe:StripePayments",
    "zendesk": "souscription.integrations.ticketing.zendesk:ZendeskTicketing",
    "gocardless": "souscription.integrations.open_banking.gocardless:GoCardlessBankData",
}
"""Vendor -> `module:class` of its adapter; the class takes the `VendorAccess` first."""

RATE_LIMITS: dict[str, dict[str, float]] = {
    "hubspot": {"limit": 100, "period": 10},  # private apps: 100-190 requests per 10 s depending on the tier
    "odoo": {"limit": 20, "period": 1},  # no published limit: what one Odoo worker takes comfortably
    "yousign": {"limit": 40, "period": 60},  # 200 requests per minute; sending is 4-5 requests
    "stripe": {"limit": 20, "period": 1},  # 100 per second live, 25 in test mode
    "zendesk": {"limit": 100, "period": 60},  # 200-700 per minute depending on the plan
    "gocardless": {"limit": 10, "period": 1},  # and 4 account-data calls a day per account, kept by the port
}
"""Calls started per period on each vendor's queue (DBOS limiter), below the vendor's documented limits."""


def vendor_of(port: str) -> str:
    return str(settings.SOUSCRIPTION.connectors[port])


def uses_vendor(port: str) -> bool:
    """The port is connected to a vendor (its work goes there), not left to the platform's embedded version."""
    return vendor_of(port) != "embedded"


@functools.cache
def adapter(port: str) -> Any:
    """The port's vendor adapter (one per process, sharing the vendor's circuit breaker and metrics)."""
    vendor = vendor_of(port)
    if vendor == "embedded":
        raise LookupError(f"port {port}: embedded, no vendor adapter")
    module, _, name = FACTORIES[vendor].partition(":")
    factory = getattr(importlib.import_module(module), name)
    env = settings.SOUSCRIPTION
    return factory(
        env.vendors[vendor],
        policy=RetryPolicy(attempts=4),
        timeout=float(env.connector_timeout_seconds),
        breaker=CircuitBreaker(reset_after=float(env.connector_breaker_seconds)),
    )


def reset() -> None:
    """Tests: forget the built adapters after the configuration changed."""
    adapter.cache_clear()
