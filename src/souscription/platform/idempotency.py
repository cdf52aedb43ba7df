"""`Idempotency-Key` on every POST of the API: the same key with the same request gets the first answer again;
the same key with another request is refused (422, `idempotency_key_reused`); a key whose first request is still
being processed gets 409 (`idempotency_key_in_flight`), so a client's retry never does the work twice.

Keys are scoped to the caller (a scope a context registered, such as the partner of an API key, else the
signed-in account, else the bearer token's digest, else the anonymous caller), remembered in the platform
database for `RETENTION`, and apply to answers below 500: a server error frees the key so the client may retry.

An answer may hold secrets (the applicant token of a dossier just opened) and personal data, and an anonymous
caller has no credential but the key: so the key itself is the credential. A key sent without any other credential
must be unguessable (a UUID or 22+ random characters); the table keeps only a keyed digest of the key, and the
stored answer is sealed (AES-GCM) with a key derived from the idempotency key, so that neither someone reading the
table nor another caller guessing a weak key can read or be served someone else's answer.

The claim and the answer are committed without waiting for the disk (`databases.without_flush`): two of the
dossier database's durable commits on every POST. A process killed at any point loses neither; a power cut may lose
the last ones, and the client's retry then runs the request again, as after a claim whose process died before
answering. The work a request commits is durable on its own, and a dossier opened under a key records the key in
its own transaction (`services.open_dossier`), so opening it again returns the same dossier."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from souscription.kernel.errors import Problem
from souscription.platform import prepared
from souscription.platform.databases import without_flush
from souscription.platform.models import IdempotencyRecord
from souscription.platform.problems import problems_body

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
DATABASE = "default"
RETENTION = timedelta(hours=24)
_UNGUESSABLE = re.compile(r"^[A-Za-z0-9_-]{22,255}$")


def _problem(status: int, code: str, message: str) -> HttpResponse:
    body = problems_body([Problem(code, message, HEADER)])
    return HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return _problem(
                422, "invalid_idempotency_key", "Idempotency-Key : de 1 à 255 caractères, par exemple un UUID."
            )
        scope = _scope(request)
        if scope == ANONYMOUS and not _UNGUESSABLE.match(key):
            return _problem(
                422,
                "idempotency_key_too_weak",
                "Sans compte ni jeton, l'Idempotency-Key doit être imprévisible : un UUID ou 22 caractères aléatoires.",
            )
        secret, key = key, _digest(scope, key)
        # A service that must bind its effect to the key in its own transaction (opening a dossier) reads these.
        request.idempotency_digest, request.idempotency_secret = key, secret  # type: ignore[attr-defined]
        fingerprint = hashlib.sha256(b"\0".join([request.path.encode(), request.body])).hexdigest()
        with without_flush(DATABASE):
            record = self._claim(scope, key, fingerprint)
        if record is not None:
            return self._replay(record, fingerprint, secret)
        try:
            response = self.get_response(request)
        except BaseException:
            self._release(scope, key)
            raise
        if response.status_code >= 500 or getattr(response, "streaming", False):
            self._release(scope, key)
            return response
        with without_flush(DATABASE), transaction.atomic(using=DATABASE):
            prepared.update_where(
                IdempotencyRecord,
                where={"scope": scope, "key": key},
                values={
                    "status_code": response.status_code,
                    "content_type": response.get("Content-Type", ""),
                    "body": _seal(secret, key, response.content),
                },
                using=DATABASE,
            )
        return response

    @staticmethod
    def _release(scope: str, key: str) -> None:
        with without_flush(DATABASE):
            IdempotencyRecord.objects.filter(scope=scope, key=key, status_code=None).delete()

    @staticmethod
    def _claim(scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Reserve the key for this request; return the existing record when the key was already used."""
        now = timezone.now()
        try:
            with transaction.atomic(using=DATABASE):
                prepared.insert(
                    IdempotencyRecord(scope=scope, key=key, request_fingerprint=fingerprint, created_at=now),
                    using=DATABASE,
                )
            return None
        except IntegrityError:
            record = IdempotencyRecord.objects.get(scope=scope, key=key)
        if record.created_at < now - RETENTION:
            # A key used again after its retention is a new request. Forgotten here, on the rare reuse, rather than
            # by a delete before every claim: that one costs every POST a durable commit of its own.
            IdempotencyRecord.objects.filter(pk=record.pk, created_at__lt=now - RETENTION).delete()
            return IdempotencyMiddleware._claim(scope, key, fingerprint)
        if record.status_code is None and record.request_fingerprint == fingerprint:
            # A claim older than any request can run belongs to a process that died (kill -9, power loss) before
            # answering: without this, its client's retry would be refused for a whole day. Taken over atomically,
            # so two retries do not both run. (If the dead process had committed its work but not its answer, the
            # retry does the work again: the window is the few instructions between the two.)
            stale = now - timedelta(seconds=settings.SOUSCRIPTION.idempotency_in_flight_seconds)
            taken = IdempotencyRecord.objects.filter(
                scope=scope, key=key, status_code=None, created_at__lt=stale
            ).update(created_at=now)
            if taken:
                return None
        return record

    @staticmethod
    def _replay(record: IdempotencyRecord, fingerprint: str, secret: str) -> HttpResponse:
        if record.request_fingerprint != fingerprint:
            return _problem(
                422,
                "idempotency_key_reused",
                "Cette Idempotency-Key a déjà servi pour une autre requête : utilisez une nouvelle clé.",
            )
        if record.status_code is None:
            return _problem(
                409, "idempotency_key_in_flight", "La première requête avec cette clé est en cours : réessayez."
            )
        try:
            body = _open(secret, record.key, bytes(record.body))
        except InvalidTag:  # sealed under another secret key (rotated): the answer cannot be given again
            return _problem(
                409, "idempotency_key_expired", "Cette Idempotency-Key a expiré : utilisez une nouvelle clé."
            )
        response = HttpResponse(body, status=record.status_code, content_type=record.content_type)
        response["Idempotent-Replayed"] = "true"
        return response


ScopeResolver = Callable[[HttpRequest], str | None]
_scope_resolvers: list[ScopeResolver] = []


def register_scope_resolver(resolver: ScopeResolver) -> None:
    """A context that knows a credential the platform cannot (a partner's API key) names its scope; the first
    resolver that answers wins, before the account and bearer scopes."""
    if resolver not in _scope_resolvers:
        _scope_resolvers.append(resolver)


def _scope(request: HttpRequest) -> str:
    for resolver in _scope_resolvers:
        scope = resolver(request)
        if scope is not None:
            return scope
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    authorization = request.headers.get("Authorization", "")
    if authorization:
        return "bearer:" + hashlib.sha256(authorization.encode()).hexdigest()[:64]
    return ANONYMOUS


ANONYMOUS = "anonymous"


def purge_expired(*, now: datetime) -> int:
    """Forget the answers older than `RETENTION` (the retention job calls it)."""
    cutoff = now - RETENTION
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _digest(scope: str, key: str) -> str:
    return hmac.new(_secret(b"idempotency-key"), f"{scope}\0{key}".encode(), hashlib.sha256).hexdigest()


def _body_key(secret: str, digest: str) -> bytes:
    return hmac.new(_secret(b"idempotency-body"), f"{digest}\0{secret}".encode(), hashlib.sha256).digest()


def _seal(secret: str, digest: str, body: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_body_key(secret, digest)).encrypt(nonce, body, digest.encode())


def _open(secret: str, digest: str, sealed: bytes) -> bytes:
    return AESGCM(_body_key(secret, digest)).decrypt(sealed[:12], sealed[12:], digest.encode())


def _secret(purpose: bytes) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), purpose, hashlib.sha256).digest()
