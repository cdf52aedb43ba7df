"""Retry, backoff and circuit-breaker decisions, pure: the caller gives the clock and the random draw.

Only transient failures are retried (a timeout, a reset connection, a 5xx, a 429); a 4xx is the vendor refusing
the request, and sending it again changes nothing. Backoff is exponential with full jitter (AWS's "Exponential
Backoff And Jitter"), so many dossiers retrying the same vendor do not return in step; a `Retry-After` the vendor
gave is a floor. The breaker opens after consecutive transient failures, so a vendor that is down is not hammered:
calls fail at once (the work parks) until `reset_after` has passed, then one trial call decides."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    CIRCUIT_OPEN = "circuit_open"


TRANSIENT = frozenset({FailureKind.TIMEOUT, FailureKind.CONNECTION, FailureKind.SERVER_ERROR, FailureKind.RATE_LIMITED})


def failure_of_status(status: int) -> FailureKind | None:
    """What an HTTP status means for retrying: None when it is a success (2xx, 3xx)."""
    if status < 400:
        return None
    if status == 429:
        return FailureKind.RATE_LIMITED
    if status >= 500 or status == 408:
        return FailureKind.SERVER_ERROR
    return FailureKind.REJECTED


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    """Calls in all, the first included."""
    base_seconds: float = 0.2
    cap_seconds: float = 5.0
    max_retry_after_seconds: float = 30.0
    """A longer `Retry-After` is not waited for in the call: the work parks instead."""

    def delay(self, attempt: int, draw: float, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry); `draw` is uniform in [0, 1)."""
        jittered = draw * min(self.cap_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return max(jittered, retry_after or 0.0)

    def should_retry(self, attempt: int, kind: FailureKind, retry_after: float | None = None) -> bool:
        """After the call numbered `attempt` (1 = first) failed with `kind`."""
        if kind not in TRANSIENT or attempt >= self.attempts:
            return False
        return retry_after is None or retry_after <= self.max_retry_after_seconds


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Consecutive transient failures open it; after `reset_after` seconds one trial call is let through
    (half-open): its success closes the circuit, its failure opens it again for another period."""

    failure_threshold: int = 5
    reset_after: float = 30.0
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    trial_running: bool = False

    def allow(self, now: float) -> bool:
        if self.state is CircuitState.CLOSED:
            return True
        if self.state is CircuitState.OPEN and now - self.opened_at >= self.reset_after:
            self.state, self.trial_running = CircuitState.HALF_OPEN, False
        if self.state is CircuitState.HALF_OPEN and not self.trial_running:
            self.trial_running = True
            return True
        return False

    def succeeded(self) -> None:
        self.state, self.failures, self.trial_running = CircuitState.CLOSED, 0, False

    def failed(self, kind: FailureKind, now: float) -> None:
        """Only transient failures count: a rejected request says nothing about the vendor's health."""
        if kind not in TRANSIENT:
            if self.state is CircuitState.HALF_OPEN:
                self.succeeded()
            return
        self.failures += 1
        if self.state is CircuitState.HALF_OPEN or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self.trial_running = CircuitState.OPEN, now, False

    def seconds_until_trial(self, now: float) -> float:
        return max(0.0, self.reset_after - (now - self.opened_at)) if self.state is CircuitState.OPEN else 0.0
