"""Base of the versioned domain events that contexts publish to each other."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """A fact that happened, named in the past tense. `name` and `version` form its published contract."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    occurred_at: datetime

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        return {"event": self.name, "version": self.version, "data": data}
