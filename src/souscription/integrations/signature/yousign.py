"""The Yousign v3 adapter of the e-signature port: signature request, document, signer, activation; status,
signed document, cancellation. Every call goes through `VendorClient` (timeouts, breaker, metrics).

Yousign has no idempotency header, so sending is made idempotent by its own state: the request carries the caller's
key as `external_id`, and each step first looks at what the vendor already holds (a request with that external id,
its signable document, its signer, its status) and does only what is missing. Reads are retried by the client; a
call that changes something is sent once per round, and after a transient failure (the effect may have happened
without our hearing of it) the next round looks again before acting. A step replayed after a crash resumes where
the first attempt stopped: created but no document, document but no signer, not yet activated.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

import httpx

from souscription.configuration import VendorAccess
from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.http import VendorClient, breaker_for
from souscription.integrations.metrics import METRICS, Metrics
from souscription.integrations.resilience import CircuitBreaker, FailureKind, RetryPolicy
from souscription.integrations.signature import yousign_states as states
from souscription.integrations.signature.port import (
    CancelReason,
    ContractForSignature,
    SignatureEvent,
    SignatureNotDone,
    SignatureRequest,
    SignatureStatus,
    SignedContract,
    check_contract,
)
from souscription.kernel.errors import InvalidInput, Problem

VENDOR = "yousign"
SIGNABLE = "signable_document"
T = TypeVar("T")


def error_type(response: httpx.Response) -> str:
    """Yousign's 4xx bodies are `{"type", "detail", "invalid_params"?}`: only `type` is kept (the detail and the
    parameters may quote personal data), with the names of the parameters at fault."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    code = str(body.get("type") or body.get("message") or "")
    names = [str(item.get("name")) for item in body.get("invalid_params") or () if isinstance(item, dict)]
    return f"{code}: {', '.join(names)}" if names else code


class YousignSignature:
    """`SignaturePort` on Yousign v3. `delivery_mode="email"` lets Yousign send the invitation and the one-time
    code; `"none"` sends nothing (the platform would show the signer's `signature_link`, which the port does not
    return yet)."""

    def __init__(
        self,
        access: VendorAccess,
        *,
        delivery_mode: str = "email",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] | None = None,
    ) -> None:
        if delivery_mode not in ("email", "none"):
            raise ValueError("delivery_mode : email ou none")
        self.delivery_mode = delivery_mode
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        token = access.token
        self._webhook_secret = access.webhook_secret
        shared: dict[str, Any] = {
            "vendor": VENDOR,
            "base_url": access.url,
            "auth": lambda: {"Authorization": f"Bearer {token}"},
            "timeout": timeout,
            "error_code": error_type,
            "metrics": metrics or METRICS,
            "transport": transport,
            "sleep": sleep,
            "breaker": breaker or breaker_for(VENDOR),
        }
        self._draw = draw or random.random
        shared["draw"] = self._draw
        self._reads = VendorClient(policy=self._policy, **shared)
        self._writes = VendorClient(policy=replace(self._policy, attempts=1), **shared)

    def close(self) -> None:
        self._reads.close()
        self._writes.close()

    # -- the port ----------------------------------------------------------------------------------------------------

    def send_for_signature(self, contract: ContractForSignature, *, key: str) -> SignatureRequest:
        check_contract(contract)
        _check_size(contract)
        external_id = states.external_id_of(key)
        request = self._ensure_request(contract, external_id)
        if request["status"] != "draft":
            return _state(request)  # the first attempt went all the way; this is its replay
        request = self._ensure_document(request, contract)
        request = self._ensure_signer(request, contract)
        return _state(self._ensure_activated(request))

    def status(self, request_id: str) -> SignatureRequest:
        return _state(self._fetch(request_id))

    def signed_document(self, request_id: str) -> SignedContract:
        request = self._fetch(request_id)
        status = _state(request).status
        if status is not SignatureStatus.DONE:
            raise SignatureNotDone(status)
        document_id = _signable(request)
        if document_id is None:
            raise _unexpected("download", "demande terminée sans document à signer")
        response = self._reads.request(
            "GET",
            f"/signature_requests/{request_id}/documents/{document_id}/download",
            operation="download",
            headers={"Accept": "application/pdf"},
        )
        if not response.content.startswith(b"%PDF-"):
            raise _unexpected("download", "le document téléchargé n'est pas un PDF")
        return SignedContract(request_id=request_id, pdf=response.content)

    def cancel(self, request_id: str, *, reason: CancelReason, note: str, key: str) -> SignatureRequest:
        """Idempotent through the status (Yousign takes no key; `key` is the port's, for providers that do): a draft,
        never sent to the customer, is deleted; an ongoing request (or one awaiting approval) is cancelled with the
        reason, which Yousign tells the signer; a final one is returned unchanged."""
        request = self._fetch(request_id)
        if request["status"] == "draft":
            request = self._converge(
                request,
                done=lambda r: r["status"] != "draft",
                act=lambda: self._request_after(
                    request_id, self._write("DELETE", f"/signature_requests/{request_id}", "delete_request")
                ),
                probe=lambda: self._fetch(request_id),
            )
        if request["status"] in ("approval", "ongoing"):
            body = states.cancel_body(reason, note)
            request = self._converge(
                request,
                done=lambda r: r["status"] not in ("approval", "ongoing"),
                act=lambda: self._request_after(
                    request_id,
                    self._write("POST", f"/signature_requests/{request_id}/cancel", "cancel_request", json=body),
                ),
                probe=lambda: self._fetch(request_id),
            )
        return _state(request)

    def read_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> SignatureEvent:
        """The verified event of a delivery to the platform's webhook, or `WebhookRejected`."""
        return states.verify_webhook(headers, body, self._webhook_secret, now)

    # -- the steps of sending ----------------------------------------------------------------------------------------

    def _ensure_request(self, contract: ContractForSignature, external_id: str) -> dict[str, Any]:
        def act() -> dict[str, Any] | None:
            body = states.request_body(contract, external_id=external_id, delivery_mode=self.delivery_mode)
            return self._write("POST", "/signature_requests", "create_request", json=body)

        found = self._converge(
            self._lookup(external_id), done=lambda r: r is not None, act=act, probe=lambda: self._lookup(external_id)
        )
        if found is None:  # `_converge` returns only once `done` holds, that is once the request is found
            raise _unexpected("create_request", "demande de signature introuvable après sa création")
        return found

    def _ensure_document(self, request: dict[str, Any], contract: ContractForSignature) -> dict[str, Any]:
        request_id = request["id"]

        def act() -> dict[str, Any]:
            document = self._write(
                "POST",
                f"/signature_requests/{request_id}/documents",
                "upload_document",
                data={"nature": SIGNABLE},
                files={"file": (contract.file_name, contract.pdf, "application/pdf")},
            )
            if document.get("nature") != SIGNABLE or not document.get("id"):
                raise _unexpected("upload_document", "réponse sans document à signer")
            # The answer is the document: the request it joined is known without reading it back.
            added = {"id": document["id"], "nature": SIGNABLE}
            return {**request, "documents": [*(request.get("documents") or ()), added]}

        return self._converge(
            request, done=lambda r: _signable(r) is not None, act=act, probe=lambda: self._fetch(request_id)
        )

    def _ensure_signer(self, request: dict[str, Any], contract: ContractForSignature) -> dict[str, Any]:
        request_id = request["id"]
        document_id = _signable(request)
        if document_id is None:  # `_ensure_document` returned only once the request held one
            raise _unexpected("add_signer", "demande de signature sans document à signer")

        def act() -> dict[str, Any]:
            body = states.signer_body(contract, document_id=document_id)
            signer = self._write("POST", f"/signature_requests/{request_id}/signers", "add_signer", json=body)
            if not signer.get("id"):
                raise _unexpected("add_signer", "réponse sans signataire")
            added = {"id": signer["id"], "status": signer.get("status")}
            return {**request, "signers": [*(request.get("signers") or ()), added]}

        # The only signer this adapter adds is the customer: any signer present is the one a previous attempt added.
        return self._converge(
            request, done=lambda r: bool(r.get("signers")), act=act, probe=lambda: self._fetch(request_id)
        )

    def _ensure_activated(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id = request["id"]
        return self._converge(
            request,
            done=lambda r: r["status"] != "draft",
            act=lambda: self._write("POST", f"/signature_requests/{request_id}/activate", "activate_request", json={}),
            probe=lambda: self._fetch(request_id),
        )

    # -- calls -------------------------------------------------------------------------------------------------------

    def _converge(
        self,
        known: T,
        *,
        done: Callable[[T], bool],
        act: Callable[[], T],
        probe: Callable[[], T],
    ) -> T:
        """Act until `done` holds: each round acts once; after a transient failure, the next round reads the
        vendor's state again (`probe`, retried) before acting, since the failed call may have taken effect."""
        current, attempt = known, 0
        while not done(current):
            attempt += 1
            try:
                return act()
            except VendorUnavailable as failure:
                if not self._policy.should_retry(attempt, failure.kind, failure.retry_after):
                    raise  # an open circuit is not transient: the step parks at once
                self._sleep(self._policy.delay(attempt, self._draw(), failure.retry_after))
            current = probe()
        return current

    def _write(self, method: str, path: str, operation: str, **options: Any) -> dict[str, Any]:
        response = self._writes.request(method, path, operation=operation, **options)
        return _object(response, operation) if response.content else {}

    def _request_after(self, request_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        """The request after a write: the answer when it is the request itself, else read back (an empty 204)."""
        if answer.get("id") == request_id and "status" in answer:
            return answer
        return self._fetch(request_id)

    def _fetch(self, request_id: str) -> dict[str, Any]:
        response = self._reads.request("GET", f"/signature_requests/{request_id}", operation="get_request")
        return _object(response, "get_request")

    def _lookup(self, external_id: str) -> dict[str, Any] | None:
        response = self._reads.request(
            "GET",
            "/signature_requests",
            operation="find_request",
            params={"external_id[eq]": external_id, "limit": 10},
        )
        listed = _object(response, "find_request").get("data")
        if not isinstance(listed, list):
            raise _unexpected("find_request", "liste sans « data »")
        # Checked again here: a filter the vendor ignored must not hand us someone else's request.
        matches = [item for item in listed if isinstance(item, dict) and item.get("external_id") == external_id]
        return matches[0] if matches else None


def _object(response: httpx.Response, operation: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise _unexpected(operation, "réponse illisible (JSON attendu)") from None
    if not isinstance(body, dict):
        raise _unexpected(operation, "réponse inattendue (objet JSON attendu)")
    return body


def _state(request: Mapping[str, Any]) -> SignatureRequest:
    try:
        status = states.signature_status(request.get("status"))
    except states.UnmappedState as unknown:
        raise _unexpected("status", str(unknown), code=f"unmapped_status:{unknown.vendor_status}") from None
    return SignatureRequest(
        request_id=str(request["id"]),
        status=status,
        vendor_status=str(request["status"]),
        external_id=str(request.get("external_id") or ""),
    )


def _signable(request: Mapping[str, Any]) -> str | None:
    for document in request.get("documents") or ():
        if isinstance(document, dict) and document.get("nature") == SIGNABLE:
            return str(document["id"])
    return None


def _check_size(contract: ContractForSignature) -> None:
    if len(contract.pdf) > states.MAX_DOCUMENT_BYTES:
        raise InvalidInput([Problem("too_large", "Le contrat dépasse 50 Mo, la limite de Yousign.", "pdf")])


def _unexpected(operation: str, message: str, *, code: str = "unexpected_answer") -> VendorRejected:
    """An answer outside Yousign's documented contract: not retried, a person looks (the reason says what)."""
    return VendorRejected(VENDOR, operation, FailureKind.REJECTED, message, vendor_code=code)
