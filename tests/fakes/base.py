"""What every vendor fake shares: an HTTP server on 127.0.0.1 in a thread, routes, fault injection, and a ledger of
side effects keyed by the idempotency key the platform sent, so a test can prove no vendor saw an effect twice.

A fake subclasses `FakeVendor`, registers handlers with `@route(method, pattern)` (a regular expression on the
path; named groups become `request.params`), checks the request's shape and raises `Refuse(reply)` when the vendor
would refuse it, records each side effect with `self.effect(kind, key)`, and answers with a `Reply`.

Faults (`FaultPlan`), drawn per request from a seeded random generator, so a failing run can be replayed:
- `server_error`: 500/502/503 before the handler runs (no effect);
- `rate_limited`: 429 with `Retry-After` before the handler runs (no effect);
- `reset`: the connection is closed without an answer, half the time after the handler ran (the effect happened
  but the platform never heard of it: only an idempotency key saves it from doing it twice);
- `timeout`: the handler runs, then the answer comes later than the client waits;
- `slow`: the answer comes late but within the client's timeout."""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

FAULT_KINDS = ("timeout", "reset", "server_error", "rate_limited", "slow")


@dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    timeout_seconds: float = 1.5
    """How late a `timeout` answer comes: more than the client's timeout in the tests."""
    slow_seconds: float = 0.15
    retry_after: str = "0"

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        with self._lock:
            if self.rate <= 0 or self._random.random() >= self.rate:
                return None
            return self._random.choice(self.kinds)

    def coin(self) -> bool:
        with self._lock:
            return self._random.random() < 0.5


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"

    def payload(self) -> bytes:
        if self.body is not None:
            return self.body
        return b"" if self.json is None else json.dumps(self.json).encode()


class Refuse(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        super().__init__(f"{reply.status}: {reply.json!r}")


Handler = Callable[[Any, Request], Reply]


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        handler._route = (method.upper(), re.compile(pattern + r"\Z"))  # type: ignore[attr-defined]
        return handler

    return mark


class FakeVendor:
    """Subclass, add `@route` handlers, then `with Fake() as fake:` (or `start()`/`stop()`); `fake.url` is its base."""

    name = "vendor"

    def __init__(self, faults: FaultPlan | None = None) -> None:
        self.faults = faults or FaultPlan()
        self.lock = threading.RLock()
        self.effects: Counter[tuple[str, str]] = Counter()
        self.calls: list[tuple[str, str, str | None]] = []
        self.faults_injected: Counter[str] = Counter()
        self._idempotent: dict[str, tuple[str, Reply]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._routes = [
            (*member._route, getattr(self, name))
            for name, member in vars_of(type(self))
            if callable(member) and hasattr(member, "_route")
        ]

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave in two writes: without it, ~40 ms per answer

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-{self.name}", daemon=True
        ).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- what a vendor's handler uses ----------------------------------------------------------------------------

    def effect(self, kind: str, key: str) -> None:
        """Record one side effect (a customer created, an invoice posted) under the key that identifies it."""
        with self.lock:
            self.effects[(kind, key)] += 1

    def duplicates(self) -> dict[tuple[str, str], int]:
        with self.lock:
            return {key: count for key, count in self.effects.items() if count > 1}

    def idempotent(self, request: Request, header: str, handle: Callable[[], Reply], *, conflict: Reply) -> Reply:
        """Stripe-style idempotency: the same key and body replay the first answer; the same key with another body
        gets `conflict`. Without the header the handler just runs."""
        key = request.header(header)
        if not key:
            return handle()
        fingerprint = f"{request.method} {request.path} {request.body!r}"
        with self.lock:
            known = self._idempotent.get(key)
            if known is not None:
                return known[1] if known[0] == fingerprint else conflict
            reply = handle()
            if reply.status < 500:
                self._idempotent[key] = (fingerprint, reply)
            return reply

    def authorize(self, request: Request) -> Reply | None:
        """Override: the vendor's answer to a missing or wrong credential, or None when the call may go on."""
        return None

    def deliver(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST a webhook to the platform, as the vendor would."""
        return httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=10)

    # -- the server's side --------------------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Request(
            method=handler.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
        )
        with self.lock:
            self.calls.append((request.method, request.path, request.header("idempotency-key")))
        fault = self.faults.draw()
        if fault:
            with self.lock:
                self.faults_injected[fault] += 1
        if fault == "server_error":
            self._send(handler, Reply(503, json={"error": "injected"}))
            return
        if fault == "rate_limited":
            self._send(
                handler, Reply(429, json={"error": "rate limited"}, headers={"Retry-After": self.faults.retry_after})
            )
            return
        if fault == "reset" and self.faults.coin():
            self._reset(handler)
            return
        reply = self._handle(request)
        if fault == "reset":
            self._reset(handler)
            return
        if fault == "timeout":
            time.sleep(self.faults.timeout_seconds)
        elif fault == "slow":
            time.sleep(self.faults.slow_seconds)
        self._send(handler, reply)

    def _handle(self, request: Request) -> Reply:
        denied = self.authorize(request)
        if denied is not None:
            return denied
        for method, pattern, member in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                try:
                    reply: Reply = member(request)
                    return reply
                except Refuse as refused:
                    return refused.reply
        return self.not_found(request)

    def not_found(self, request: Request) -> Reply:
        return Reply(404, json={"error": f"no route {request.method} {request.path}"})

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        payload = reply.payload()
        try:
            handler.send_response(reply.status)
            if payload:
                handler.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (its timeout): as a real server, carry on

    @staticmethod
    def _reset(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            return


def missing(payload: Any, names: Iterable[str]) -> list[str]:
    """The required keys absent from a JSON object (all of them when it is not an object)."""
    if not isinstance(payload, dict):
        return list(names)
    return [name for name in names if payload.get(name) in (None, "")]


def vars_of(cls: type) -> list[tuple[str, Any]]:
    """Every attribute defined on a class and its bases, without evaluating properties."""
    seen: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        seen.update(vars(klass))
    return list(seen.items())
