"""De-duplication by message id: the wrapper every bus puts around a consumer, and the in-memory store.

The in-memory store keeps the semantics of the SQL one (`consumed_sql.py`): a row written inside `atomic()` is
kept only when the block ends without an exception, so a consumer that fails half-way is delivered the message
again and applies it then. It is for the embedded bus's tests and for consumers whose effects are themselves in
memory; a consumer that writes to a database uses the SQL store on that database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from souscription.integrations.bus.envelope import Envelope
from souscription.integrations.bus.port import ConsumedMessages, Handler


def apply_once(consumer: str, handler: Handler, consumed: ConsumedMessages, envelope: Envelope) -> bool:
    """Apply `envelope` with `handler` unless `consumer` already did; True when it was applied now.

    The store's row and the handler's writes are in one transaction: if the handler raises, neither stays, and
    the exception goes to the bus, which delivers the message again."""
    with consumed.atomic():
        if not consumed.first_time(consumer, envelope.message_id):
            return False
        handler(envelope)
    return True


class InMemoryConsumedMessages:
    """Thread-safe like a table with a primary key: while one transaction holds a message id, another that asks
    for it waits for the first to commit (then it is not the first time) or roll back (then it is)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._kept: set[tuple[str, str]] = set()
        self._held: set[tuple[str, str]] = set()
        self._local = threading.local()

    def _open(self) -> list[set[tuple[str, str]]]:
        """This thread's open blocks, outermost first (nested blocks behave like savepoints)."""
        stack: list[set[tuple[str, str]]] = getattr(self._local, "stack", None) or []
        self._local.stack = stack
        return stack

    @contextmanager
    def atomic(self) -> Iterator[None]:
        stack = self._open()
        stack.append(set())
        try:
            yield
        except BaseException:
            self._end(stack.pop(), kept=False)
            raise
        written = stack.pop()
        if stack:
            stack[-1].update(written)
        else:
            self._end(written, kept=True)

    def _end(self, written: set[tuple[str, str]], *, kept: bool) -> None:
        with self._changed:
            self._held.difference_update(written)
            if kept:
                self._kept.update(written)
            self._changed.notify_all()

    def first_time(self, consumer: str, message_id: str) -> bool:
        key = (consumer, message_id)
        stack = self._open()
        if any(key in block for block in stack):
            return False
        with self._changed:
            self._changed.wait_for(lambda: key not in self._held)
            if key in self._kept:
                return False
            if not stack:
                self._kept.add(key)
                return True
            self._held.add(key)
        stack[-1].add(key)
        return True

    def __len__(self) -> int:
        with self._changed:
            return len(self._kept)
