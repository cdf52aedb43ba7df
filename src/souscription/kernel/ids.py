"""Identifiers shared by every context. A customer is known everywhere by the same `CustomerId`."""

from __future__ import annotations

import uuid
from typing import NewType

CustomerId = NewType("CustomerId", uuid.UUID)


def customer_id_from(value: str | uuid.UUID) -> CustomerId:
    """Parse a customer id; raises `ValueError` on anything that is not a UUID."""
    return CustomerId(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
