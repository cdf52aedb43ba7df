"""Integrations (issue 5): the vendor adapters behind each port, and what every one of them shares.

`resilience.py` (pure) decides retries, backoff and the circuit breaker; `http.py` is the one HTTP client every
adapter uses (timeouts, retries of transient failures only, idempotency keys, breaker, metrics); `metrics.py`
counts per connector and renders Prometheus text; `errors.py` the two outcomes an adapter's caller handles:
`VendorUnavailable` (park and retry later) and `VendorRejected` (a person must look)."""
