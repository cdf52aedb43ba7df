"""Give a port to a vendor's fake for one test, as `SOUSCRIPTION_CONNECTORS` and the vendor's settings would."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dbos import DBOS

from souscription.configuration import VendorAccess
from souscription.connectors import calls, registry
from souscription.integrations.http import reset_breakers


@contextmanager
def port_given_to(settings: Any, port: str, access: VendorAccess) -> Iterator[None]:
    """The port's calls go to `access` (parked calls retried after 1 s), on a queue polled every 0.1 s; the
    adapters and breakers built for the test are forgotten after it."""
    settings.SOUSCRIPTION = dataclasses.replace(
        settings.SOUSCRIPTION,
        connectors={**settings.SOUSCRIPTION.connectors, port: access.vendor},
        vendors={**settings.SOUSCRIPTION.vendors, access.vendor: access},
        connector_park_seconds=1,
    )
    DBOS.register_queue(calls.queue_name(port), polling_interval_sec=0.1, on_conflict="always_update")
    registry.reset()
    reset_breakers()
    try:
        yield
    finally:
        registry.reset()
        reset_breakers()
