"""The clock is a port: domain code receives `now`, services receive a `Clock`, tests pass a fixed one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, always timezone-aware UTC. Only composition roots construct it."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that answers what it is told: for tests and simulations."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance_to(self, at: datetime) -> None:
        self._at = at
