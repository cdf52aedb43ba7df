"""The one HTTP client of every vendor adapter: timeouts, retries of transient failures with backoff and jitter,
an idempotency key on every call that changes something, a circuit breaker per vendor, metrics per call.

An adapter says what it calls (`operation`, for metrics and error messages) and which statuses are an answer
rather than a failure (`accept`, such as a 404 on a lookup). It gets back the response, or one of two errors:
`VendorUnavailable` (transient, retries exhausted or circuit open: the caller parks the work) or `VendorRejected`
(permanent). The idempotency key is the caller's, derived from the dossier and the step, so a workflow step
replayed after a crash sends the same key and the vendor applies the call once."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.metrics import METRICS, Metrics
from souscription.integrations.resilience import CircuitBreaker, FailureKind, RetryPolicy, failure_of_status

_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(vendor: str) -> CircuitBreaker:
    """The process's breaker of one vendor, shared by every client of that vendor."""
    with _breakers_lock:
        return _breakers.setdefault(vendor, CircuitBreaker())


def reset_breakers() -> None:
    with _breakers_lock:
        _breakers.clear()


def breaker_states() -> dict[str, str]:
    with _breakers_lock:
        return {vendor: breaker.state.value for vendor, breaker in _breakers.items()}


ErrorCode = Callable[[httpx.Response], str]


def _no_code(_response: httpx.Response) -> str:
    return ""


@dataclass
class VendorClient:
    vendor: str
    base_url: str
    auth: Callable[[], Mapping[str, str]] = dict
    """Headers that authenticate a call (called on each attempt: a token may be refreshed in between)."""
    timeout: float = 10.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    error_code: ErrorCode = _no_code
    """Reads the vendor's error code from a failed answer (only the code: the body may hold personal data)."""
    metrics: Metrics = METRICS
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic
    breaker: CircuitBreaker | None = None

    def __post_init__(self) -> None:
        self._breaker = self.breaker or breaker_for(self.vendor)
        self._breaker_lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
            transport=self.transport,
            headers={"User-Agent": "souscription"},
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        files: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        idempotency_header: str = "Idempotency-Key",
        accept: Collection[int] = (),
    ) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            self._enter(operation)
            started = self.clock()
            kind: FailureKind | None
            retry_after: float | None = None
            response: httpx.Response | None = None
            try:
                sent = {**self.auth(), **(headers or {})}
                if idempotency_key:
                    sent[idempotency_header] = idempotency_key
                response = self._http.request(
                    method, path, json=json, data=data, content=content, files=files, params=params, headers=sent
                )
                kind = None if response.status_code in accept else failure_of_status(response.status_code)
                retry_after = _retry_after(response)
            except httpx.TimeoutException:
                kind = FailureKind.TIMEOUT
            except httpx.TransportError:
                kind = FailureKind.CONNECTION
            elapsed = self.clock() - started
            self.metrics.observe(self.vendor, operation, kind.value if kind else "ok", elapsed)
            self._leave(kind)
            if kind is None:
                if response is None:  # no failure without an answer: the request returned one
                    raise RuntimeError(f"{self.vendor} {operation}: neither an answer nor a failure")
                return response
            status = response.status_code if response is not None else None
            if kind is FailureKind.REJECTED:
                raise VendorRejected(
                    self.vendor,
                    operation,
                    kind,
                    "le fournisseur refuse la requête",
                    status=status,
                    vendor_code=self.error_code(response) if response is not None else "",
                )
            if not self.policy.should_retry(attempt, kind, retry_after):
                raise VendorUnavailable(
                    self.vendor,
                    operation,
                    kind,
                    f"indisponible après {attempt} tentative(s)",
                    status=status,
                    retry_after=retry_after,
                    vendor_code=self.error_code(response) if response is not None else "",
                )
            self.sleep(self.policy.delay(attempt, self.draw(), retry_after))

    def _enter(self, operation: str) -> None:
        with self._breaker_lock:
            allowed = self._breaker.allow(self.clock())
            wait = self._breaker.seconds_until_trial(self.clock())
            state = self._breaker.state.value
        self.metrics.circuit(self.vendor, state)
        if not allowed:
            self.metrics.observe(self.vendor, operation, FailureKind.CIRCUIT_OPEN.value, 0.0)
            raise VendorUnavailable(
                self.vendor,
                operation,
                FailureKind.CIRCUIT_OPEN,
                f"circuit ouvert, prochain essai dans {wait:.0f} s",
                retry_after=wait,
            )

    def _leave(self, kind: FailureKind | None) -> None:
        with self._breaker_lock:
            if kind is None:
                self._breaker.succeeded()
            else:
                self._breaker.failed(kind, self.clock())
            state = self._breaker.state.value
        self.metrics.circuit(self.vendor, state)


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds or as an HTTP date; None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
