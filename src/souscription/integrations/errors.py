"""What an adapter's caller handles. Messages are French (they show in the ops screens); they carry the vendor's
error code, never the request or the answer's body, which may hold personal data."""

from __future__ import annotations

from souscription.integrations.resilience import FailureKind


class VendorError(Exception):
    def __init__(
        self,
        vendor: str,
        operation: str,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        vendor_code: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.vendor, self.operation, self.kind, self.status = vendor, operation, kind, status
        self.vendor_code, self.retry_after = vendor_code, retry_after
        super().__init__(message)

    @property
    def reason(self) -> str:
        """One line for the parked or dead-lettered call's listing."""
        status = f" (HTTP {self.status})" if self.status else ""
        code = f" [{self.vendor_code}]" if self.vendor_code else ""
        return f"{self.vendor}.{self.operation} : {self.kind.value}{status}{code} — {self}"


class VendorUnavailable(VendorError):
    """Transient: retries exhausted or the circuit is open. The work parks and resumes when the vendor is back."""


class VendorRejected(VendorError):
    """The vendor refused the request (4xx other than 429): sending it again changes nothing; a person looks."""


class WebhookRejected(Exception):
    """An inbound webhook that must not be trusted: bad or missing signature, outside the replay window, malformed.
    `code` is stable; the endpoint answers 400 (401 for signatures) and records nothing."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
