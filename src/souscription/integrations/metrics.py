"""Per-connector counters, latency and circuit state, kept in the process and rendered as Prometheus text.

Counted for every call through `http.VendorClient`: calls by operation and outcome (`ok`, or the failure kind),
latency (a Prometheus histogram, plus the last 1,024 latencies for exact percentiles in `souscription connectors
health`), and the breaker's state. Without a dependency: the text format is small and stable
(https://prometheus.io/docs/instrumenting/exposition_formats/)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_RECENT = 1024


@dataclass
class _Connector:
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    latency_sum: float = 0.0
    latency_count: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))
    circuit: str = "closed"


@dataclass(frozen=True)
class ConnectorHealth:
    vendor: str
    calls: int
    failures: dict[str, int]
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    circuit: str


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connectors: dict[str, _Connector] = {}

    def _of(self, vendor: str) -> _Connector:
        return self._connectors.setdefault(vendor, _Connector())

    def observe(self, vendor: str, operation: str, outcome: str, seconds: float) -> None:
        with self._lock:
            connector = self._of(vendor)
            connector.calls[(operation, outcome)] += 1
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    connector.buckets[index] += 1
            connector.latency_sum += seconds
            connector.latency_count += 1
            connector.recent.append(seconds)

    def circuit(self, vendor: str, state: str) -> None:
        with self._lock:
            self._of(vendor).circuit = state

    def health(self) -> list[ConnectorHealth]:
        with self._lock:
            rows = []
            for vendor, connector in sorted(self._connectors.items()):
                failures: Counter[str] = Counter()
                for (_operation, outcome), count in connector.calls.items():
                    if outcome != "ok":
                        failures[outcome] += count
                ordered = sorted(connector.recent)
                rows.append(
                    ConnectorHealth(
                        vendor=vendor,
                        calls=sum(connector.calls.values()),
                        failures=dict(failures),
                        p50_ms=_percentile(ordered, 0.50),
                        p95_ms=_percentile(ordered, 0.95),
                        p99_ms=_percentile(ordered, 0.99),
                        circuit=connector.circuit,
                    )
                )
            return rows

    def render(self) -> str:
        """The Prometheus text exposition of every connector."""
        lines = [
            "# HELP souscription_connector_calls_total Calls to a vendor, by operation and outcome.",
            "# TYPE souscription_connector_calls_total counter",
        ]
        with self._lock:
            connectors = sorted(self._connectors.items())
            for vendor, connector in connectors:
                for (operation, outcome), count in sorted(connector.calls.items()):
                    labels = _labels(vendor=vendor, operation=operation, outcome=outcome)
                    lines.append(f"souscription_connector_calls_total{labels} {count}")
            lines += [
                "# HELP souscription_connector_latency_seconds Latency of one HTTP exchange with a vendor.",
                "# TYPE souscription_connector_latency_seconds histogram",
            ]
            for vendor, connector in connectors:
                for bound, count in zip(BUCKETS, connector.buckets, strict=True):
                    labels = _labels(vendor=vendor, le=f"{bound:g}")
                    lines.append(f"souscription_connector_latency_seconds_bucket{labels} {count}")
                labels = _labels(vendor=vendor, le="+Inf")
                lines.append(f"souscription_connector_latency_seconds_bucket{labels} {connector.latency_count}")
                lines.append(
                    f"souscription_connector_latency_seconds_sum{_labels(vendor=vendor)} {connector.latency_sum:.6f}"
                )
                lines.append(
                    f"souscription_connector_latency_seconds_count{_labels(vendor=vendor)} {connector.latency_count}"
                )
            lines += [
                "# HELP souscription_connector_circuit_open 1 when the vendor's circuit breaker is open or half-open.",
                "# TYPE souscription_connector_circuit_open gauge",
            ]
            for vendor, connector in connectors:
                value = 0 if connector.circuit == "closed" else 1
                lines.append(
                    f"souscription_connector_circuit_open{_labels(vendor=vendor, state=connector.circuit)} {value}"
                )
        return "\n".join(lines) + "\n"

    def reset(self) -> None:
        with self._lock:
            self._connectors.clear()


def _percentile(ordered: list[float], rank: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(rank * len(ordered) + 0.5) - 1))
    return round(ordered[index] * 1000, 1)


def _labels(**values: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{key}="{escape(value)}"' for key, value in values.items()) + "}"


METRICS = Metrics()
"""The process's registry: `/metrics` and `souscription connectors health` read it."""
