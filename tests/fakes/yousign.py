"""A stateful Yousign v3 on 127.0.0.1: its paths under `/v3`, bearer authentication, JSON and multipart bodies,
status codes and error bodies (`{"type", "detail", "invalid_params"}`) as developers.yousign.com documents them.

It enforces the order the real service does: documents and signers only on a draft, no activation without a
signable document and a signer with a signature field, cancellation only of an ongoing (or approval) request,
deletion of anything but those. The slow states are walked by the test (`sign`, `decline`, `expire`), a signed PDF
is served once done, and every change is announced by a webhook signed as Yousign signs them (hex HMAC-SHA256 of
the raw body, `X-Yousign-Signature-256: sha256=...`), kept in `webhooks` and POSTed when `webhook_url` is set.

Side effects are counted by external id (the adapter's idempotency key): `request.create`, `document.upload`,
`signer.add`, `request.activate`, `request.cancel`, `request.delete`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from typing import Any

from pypdf import PdfReader

from tests.fakes.base import FakeVendor, FaultPlan, Refuse, Reply, Request, route

_ID = r"(?P<id>[^/]+)"
LOCALES = ("en", "fr", "de", "it", "nl", "es", "pl")
LEVELS = ("electronic_signature", "advanced_electronic_signature", "qualified_electronic_signature")
AUTH_MODES = ("otp_email", "otp_sms", "no_otp")
CANCEL_REASONS = ("contractualization_aborted", "errors_in_document", "other")
OPEN = ("approval", "ongoing")


def invalid(*params: tuple[str, str]) -> Refuse:
    return Refuse(
        Reply(
            400,
            json={
                "type": "validation.error",
                "detail": "You have some invalid params in your payload.",
                "invalid_params": [{"name": name, "reason": reason} for name, reason in params],
            },
        )
    )


def refused(detail: str, kind: str = "about:blank", status: int = 400) -> Refuse:
    return Refuse(Reply(status, json={"type": kind, "detail": detail}))


class FakeYousign(FakeVendor):
    name = "yousign"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        api_key: str = "ys-test-key",
        webhook_secret: str = "ys-webhook-secret",
        webhook_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(faults)
        self.api_key, self.webhook_secret, self.webhook_url, self.clock = api_key, webhook_secret, webhook_url, clock
        self.requests: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.signers: dict[str, dict[str, Any]] = {}
        self.webhooks: list[tuple[dict[str, str], bytes]] = []
        self._delivered = 0

    def reset(self) -> None:
        """Forget everything, so one running server serves many tests (starting one costs half a second)."""
        with self.lock:
            for store in (self.requests, self.documents, self.contents, self.signers):
                store.clear()
            self.webhooks.clear()
            self._delivered = 0
            self.effects.clear()
            self.calls.clear()
            self.faults_injected.clear()

    @property
    def api_url(self) -> str:
        return self.url + "/v3"

    def authorize(self, request: Request) -> Reply | None:
        if request.header("authorization") != f"Bearer {self.api_key}":
            return Reply(401, json={"type": "about:blank", "detail": "Unauthorized: invalid or missing API key."})
        return None

    def _handle(self, request: Request) -> Reply:
        reply = super()._handle(request)
        self.flush_webhooks()
        return reply

    def not_found(self, request: Request) -> Reply:
        return Reply(404, json={"type": "resource.not_found", "detail": f"No route {request.method} {request.path}."})

    # -- signature requests ----------------------------------------------------------------------------------------

    @route("POST", r"/v3/signature_requests")
    def create(self, request: Request) -> Reply:
        body = self._json(request)
        problems = []
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            problems.append(("name", "This value should not be blank."))
        if body.get("delivery_mode") not in ("none", "email"):
            problems.append(("delivery_mode", 'Value must be in ["none", "email"].'))
        if "external_id" in body and not (isinstance(body["external_id"], str) and len(body["external_id"]) <= 255):
            problems.append(("external_id", "This value should be a string of at most 255 characters."))
        if body.get("audit_trail_locale", "en") not in LOCALES:
            problems.append(("audit_trail_locale", f"Value must be in {list(LOCALES)}."))
        problems.extend(self._expiration_problems(body.get("expiration_date")))
        if problems:
            raise invalid(*problems)
        with self.lock:
            created = self._new_request(body)
            self.effect("request.create", self._key(created))
        return Reply(201, json=created)

    @route("GET", r"/v3/signature_requests")
    def list_requests(self, request: Request) -> Reply:
        limit = request.arg("limit", "100") or "100"
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise invalid(("limit", "This value should be between 1 and 100."))
        wanted = request.arg("external_id[eq]")
        with self.lock:
            found = [
                _in_list(item)
                for item in reversed(self.requests.values())
                if wanted is None or item["external_id"] == wanted
            ]
        return Reply(200, json={"meta": {"next_cursor": None}, "data": found[: int(limit)]})

    @route("GET", rf"/v3/signature_requests/{_ID}")
    def fetch(self, request: Request) -> Reply:
        with self.lock:
            return Reply(200, json=self._request(request))

    @route("DELETE", rf"/v3/signature_requests/{_ID}")
    def delete(self, request: Request) -> Reply:
        with self.lock:
            target = self._request(request)
            if target["status"] in OPEN:
                raise refused("A Signature Request in approval or ongoing status cannot be deleted; cancel it.")
            target["status"] = "deleted"
            self.effect("request.delete", self._key(target))
            self._emit("signature_request.deleted", target)
        return Reply(204)

    @route("POST", rf"/v3/signature_requests/{_ID}/activate")
    def activate(self, request: Request) -> Reply:
        self._json(request, optional=True)
        with self.lock:
            target = self._request(request)
            self._check_activable(target)
            target["status"] = "ongoing"
            for signer in target["signers"]:
                self._notify(target, self.signers[signer["id"]])
            self.effect("request.activate", self._key(target))
            self._emit("signature_request.activated", target)
            activated = {**target, "signers": [self.signers[s["id"]] for s in target["signers"]]}
        return Reply(201, json=activated)

    @route("POST", rf"/v3/signature_requests/{_ID}/cancel")
    def cancel(self, request: Request) -> Reply:
        body = self._json(request)
        problems = []
        if body.get("reason") not in CANCEL_REASONS:
            problems.append(("reason", f"Value must be in {list(CANCEL_REASONS)}."))
        if "custom_note" in body and not isinstance(body["custom_note"], str):
            problems.append(("custom_note", "This value should be a string."))
        if problems:
            raise invalid(*problems)
        with self.lock:
            target = self._request(request)
            if target["status"] not in OPEN:
                raise refused(f"The Signature Request is {target['status']}: only approval or ongoing can be canceled.")
            target["status"] = "canceled"
            target["cancel"] = {"reason": body["reason"], "custom_note": body.get("custom_note")}
            self.effect("request.cancel", self._key(target))
            self._emit("signature_request.canceled", target)
            return Reply(201, json=target)

    # -- documents and signers -------------------------------------------------------------------------------------

    @route("POST", rf"/v3/signature_requests/{_ID}/documents")
    def upload(self, request: Request) -> Reply:
        parts = _multipart(request)
        nature, upload = parts.get("nature"), parts.get("file")
        problems = []
        if nature is None or nature[1] not in (b"signable_document", b"attachment"):
            problems.append(("nature", 'Value must be in ["attachment", "signable_document"].'))
        if upload is None or not upload[0]:
            problems.append(("file", "A file with a file name is required."))
        if problems:
            raise invalid(*problems)
        assert nature is not None
        assert upload is not None
        pages = _pages(upload[1])
        with self.lock:
            target = self._request(request)
            self._check_draft(target, "add a Document")
            document = self._new_document(upload[0], nature[1].decode(), upload[1], pages)
            target["documents"].append({"id": document["id"], "nature": document["nature"]})
            self.effect("document.upload", self._key(target))
        return Reply(201, json=document)

    @route("GET", rf"/v3/signature_requests/{_ID}/documents/(?P<document>[^/]+)/download")
    def download(self, request: Request) -> Reply:
        with self.lock:
            target = self._request(request)
            document_id = request.params["document"]
            if not any(item["id"] == document_id for item in target["documents"]):
                raise refused(f"Document {document_id} not found.", "resource.not_found", 404)
            content = self.contents[document_id]
            if target["status"] == "done":
                content = content + f"\n% signed by fake Yousign for {target['id']}\n".encode()
        return Reply(200, body=content, content_type="application/pdf")

    @route("POST", rf"/v3/signature_requests/{_ID}/signers")
    def add_signer(self, request: Request) -> Reply:
        body = self._json(request)
        with self.lock:
            target = self._request(request)
            problems = _signer_problems(body, {d["id"]: self.documents[d["id"]] for d in target["documents"]})
            if problems:
                raise invalid(*problems)
            self._check_draft(target, "add a Signer")
            signer = self._new_signer(body)
            target["signers"].append({"id": signer["id"], "status": signer["status"]})
            self.effect("signer.add", self._key(target))
        return Reply(201, json=signer)

    # -- the slow states, walked by the test -----------------------------------------------------------------------

    def sign(self, request_id: str) -> None:
        """Every signer signs: `signer.done` for each, then `signature_request.done`."""
        with self.lock:
            target = self._ongoing(request_id)
            for entry in target["signers"]:
                signer = self.signers[entry["id"]]
                signer["status"] = entry["status"] = "signed"
                self._emit("signer.done", target, signer)
            target["status"] = "done"
            self._emit("signature_request.done", target)
        self.flush_webhooks()

    def decline(self, request_id: str, reason: str = "Je ne souhaite plus souscrire.") -> None:
        with self.lock:
            target = self._ongoing(request_id)
            if not target["signers_allowed_to_decline"]:
                raise AssertionError("signers_allowed_to_decline is false: Yousign offers no way to decline")
            entry = target["signers"][0]
            self.signers[entry["id"]]["status"] = entry["status"] = "declined"
            target["status"] = "declined"
            target["decline_information"] = {
                "signer_id": entry["id"],
                "reason": reason,
                "declined_at": self._now().isoformat(),
            }
            self._emit("signature_request.declined", target)
        self.flush_webhooks()

    def expire(self, request_id: str) -> None:
        with self.lock:
            target = self._ongoing(request_id)
            target["status"] = "expired"
            self._emit("signature_request.expired", target)
        self.flush_webhooks()

    def by_external_id(self, external_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [item for item in self.requests.values() if item["external_id"] == external_id]

    # -- webhooks --------------------------------------------------------------------------------------------------

    def webhook(
        self,
        event_name: str,
        request_id: str,
        *,
        event_time: float | None = None,
        secret: str | None = None,
        signer: dict[str, Any] | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A webhook as Yousign would send it now (or at `event_time`), signed with `secret` (the subscription's
        by default); the test may then tamper with it."""
        with self.lock:
            target = self.requests[request_id]
            data: dict[str, Any] = {"signature_request": _in_list(target)}
            if signer is not None:
                data["signer"] = signer
            payload = {
                "event_id": str(uuid.uuid4()),
                "event_name": event_name,
                "event_time": str(int(self.clock() if event_time is None else event_time)),
                "subscription_id": "fake-subscription",
                "subscription_description": "Souscription",
                "sandbox": True,
                "data": data,
            }
        body = json.dumps(payload).encode()
        digest = hmac.new((secret or self.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Yousign-Signature-256": f"sha256={digest}",
            "X-Yousign-Retry": "0",
            "User-Agent": "Yousign Webhook Bot",
        }
        return headers, body

    def _emit(self, event_name: str, target: dict[str, Any], signer: dict[str, Any] | None = None) -> None:
        self.webhooks.append(self.webhook(event_name, target["id"], signer=signer))

    def flush_webhooks(self) -> None:
        """POST the webhooks not yet delivered to `webhook_url`, outside the lock (the receiver may call back)."""
        with self.lock:
            pending, self._delivered = self.webhooks[self._delivered :], len(self.webhooks)
        if self.webhook_url:
            for headers, body in pending:
                self.deliver(self.webhook_url, body, headers)

    def events(self) -> list[str]:
        return [json.loads(body)["event_name"] for _headers, body in self.webhooks]

    # -- state -----------------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def _key(self, target: dict[str, Any]) -> str:
        return str(target["external_id"] or target["id"])

    def _request(self, request: Request) -> dict[str, Any]:
        found = self.requests.get(request.params["id"])
        if found is None:
            raise refused(f"Signature Request {request.params['id']} not found.", "resource.not_found", 404)
        return found

    def _ongoing(self, request_id: str) -> dict[str, Any]:
        target = self.requests[request_id]
        if target["status"] not in OPEN:
            raise AssertionError(f"{request_id} is {target['status']}: only an ongoing request moves on")
        return target

    def _check_draft(self, target: dict[str, Any], action: str) -> None:
        if target["status"] != "draft":
            raise refused(f"Unable to {action}: the Signature Request is {target['status']}, not draft.")

    def _check_activable(self, target: dict[str, Any]) -> None:
        self._check_draft(target, "activate")
        if not any(item["nature"] == "signable_document" for item in target["documents"]):
            raise refused("A Signature Request needs at least one signable Document to be activated.")
        if not target["signers"]:
            raise refused("A Signature Request needs at least one Signer to be activated.")
        for entry in target["signers"]:
            if not any(field["type"] == "signature" for field in self.signers[entry["id"]]["fields"]):
                raise refused(f"Signer {entry['id']} has no signature Field.")

    def _notify(self, target: dict[str, Any], signer: dict[str, Any]) -> None:
        signer["status"] = "notified"
        if target["delivery_mode"] == "none":
            signer["signature_link"] = f"https://yousign.app/signatures/{target['id']}?s={signer['id']}"
        self._emit("signer.notified", target, signer)

    def _new_request(self, body: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        created = {
            "id": str(uuid.uuid4()),
            "status": "draft",
            "name": body["name"],
            "delivery_mode": body["delivery_mode"],
            "created_at": now.isoformat(),
            "ordered_signers": bool(body.get("ordered_signers", False)),
            "ordered_approvers": False,
            "reminder_settings": None,
            "timezone": body.get("timezone", "Europe/Paris"),
            "email_custom_note": body.get("email_custom_note"),
            "expiration_date": body.get("expiration_date") or (now + timedelta(days=182)).date().isoformat(),
            "source": "public_api",
            "signers": [],
            "approvers": [],
            "labels": [],
            "documents": [],
            "sender": None,
            "external_id": body.get("external_id"),
            "branding_id": None,
            "custom_experience_id": None,
            "signers_allowed_to_decline": bool(body.get("signers_allowed_to_decline", False)),
            "workspace_id": "fake-workspace",
            "audit_trail_locale": body.get("audit_trail_locale", "en"),
            "email_notification": None,
            "bulk_send_batch_id": None,
            "decline_information": None,
        }
        self.requests[created["id"]] = created
        return created

    def _new_document(self, filename: str, nature: str, content: bytes, pages: int) -> dict[str, Any]:
        document_id = str(uuid.uuid4())
        document: dict[str, Any] = {
            "id": document_id,
            "filename": filename,
            "nature": nature,
            "content_type": "application/pdf",
            "sha256": hashlib.sha256(content).hexdigest(),
            "is_protected": False,
            "is_signed": False,
            "created_at": self._now().isoformat(),
            "total_pages": pages,
            "is_locked": False,
            "initials": None,
            "total_anchors": 0,
        }
        self.documents[document_id] = document
        self.contents[document_id] = content
        return document

    def _new_signer(self, body: dict[str, Any]) -> dict[str, Any]:
        signer = {
            "id": str(uuid.uuid4()),
            "info": body["info"],
            "status": "initiated",
            "fields": [{"id": str(uuid.uuid4()), **field} for field in body.get("fields", [])],
            "signature_level": body["signature_level"],
            "signature_authentication_mode": body.get("signature_authentication_mode"),
            "signature_link": None,
            "signature_link_expiration_date": None,
            "signature_image_preview": None,
            "redirect_urls": {"success": None, "error": None, "decline": None},
            "custom_text": {"request_subject": None, "request_body": None, "reminder_subject": None},
            "delivery_mode": None,
            "identification_attestation_id": None,
            "sms_notification": None,
            "email_notification": None,
            "pre_identity_verification_required": False,
        }
        self.signers[signer["id"]] = signer
        return signer

    def _json(self, request: Request, *, optional: bool = False) -> dict[str, Any]:
        if optional and not request.body:
            return {}
        if not (request.header("content-type") or "").startswith("application/json"):
            raise refused("The request body must be JSON (Content-Type: application/json).", status=415)
        body = request.json()
        if not isinstance(body, dict):
            raise refused("The request body must be a JSON object.")
        return body

    def _expiration_problems(self, value: Any) -> list[tuple[str, str]]:
        if value is None:
            return []
        try:
            day = date.fromisoformat(value)
        except (TypeError, ValueError):
            return [("expiration_date", "This value should be a date (yyyy-mm-dd).")]
        today = self._now().date()
        if not today <= day <= today + timedelta(days=365):
            return [("expiration_date", "The date cannot be in the past nor more than one year away.")]
        return []


def _in_list(target: dict[str, Any]) -> dict[str, Any]:
    """The list's and the webhooks' shape (`SignatureRequestInList`): the object without its last details."""
    hidden = ("email_notification", "decline_information", "cancel")
    return {key: value for key, value in target.items() if key not in hidden}


def _multipart(request: Request) -> dict[str, tuple[str, bytes]]:
    """The form's parts by name: (file name, bytes); the file name is empty for plain fields."""
    content_type = request.header("content-type") or ""
    if not content_type.startswith("multipart/form-data"):
        raise refused("Documents are uploaded as multipart/form-data.", status=415)
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    parts: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = (part.get_filename() or "", payload if isinstance(payload, bytes) else b"")
    return parts


def _pages(content: bytes) -> int:
    if not content.startswith(b"%PDF-"):
        raise refused("The file is not a PDF (signable documents: PDF or DOCX).", "document.analyze_error")
    try:
        return len(PdfReader(io.BytesIO(content)).pages)
    except Exception:
        raise refused("The PDF cannot be read.", "document.analyze_error") from None


_E164 = re.compile(r"\+[1-9]\d{7,14}")


def _signer_problems(body: dict[str, Any], documents: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    info = body.get("info") if isinstance(body.get("info"), dict) else {}
    assert isinstance(info, dict)
    problems = [(f"info.{name}", "This value should not be blank.") for name in ("first_name", "last_name", "email")]
    problems = [problem for problem in problems if not info.get(problem[0][5:])]
    if info.get("locale") not in LOCALES:
        problems.append(("info.locale", f"Value must be in {list(LOCALES)}."))
    phone = info.get("phone_number")
    if phone is not None and not (isinstance(phone, str) and _E164.fullmatch(phone)):
        problems.append(("info.phone_number", "This value is not a valid phone number (E.164)."))
    level, mode = body.get("signature_level"), body.get("signature_authentication_mode")
    if level not in LEVELS:
        problems.append(("signature_level", f"Value must be in {list(LEVELS)}."))
    if level == "electronic_signature" and mode not in AUTH_MODES:
        problems.append(("signature_authentication_mode", f"Value must be in {list(AUTH_MODES)}."))
    if mode == "otp_sms" and not phone:
        problems.append(("info.phone_number", "A phone number is required with otp_sms."))
    fields = body.get("fields", [])
    if not isinstance(fields, list):
        return [*problems, ("fields", "This value should be a list.")]
    for index, field in enumerate(fields):
        problems.extend(_field_problems(f"fields[{index}]", field, documents))
    return problems


def _field_problems(where: str, field: Any, documents: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    if not isinstance(field, dict):
        return [(where, "This value should be an object.")]
    document = documents.get(field.get("document_id"))  # type: ignore[arg-type]
    if document is None:
        return [(f"{where}.document_id", "This Document is not part of the Signature Request.")]
    problems = []
    if field.get("type") != "signature":
        problems.append((f"{where}.type", "Only signature fields are supported by this fake."))
    page = field.get("page")
    if not isinstance(page, int) or not 1 <= page <= document["total_pages"]:
        problems.append((f"{where}.page", f"The page must be between 1 and {document['total_pages']}."))
    for axis in ("x", "y"):
        if not isinstance(field.get(axis), int) or field[axis] < 0:
            problems.append((f"{where}.{axis}", "This value should be a positive integer."))
    return problems
