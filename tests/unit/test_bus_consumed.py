"""De-duplication by message id in the consumer's transaction: one contract, run against every store.

`ConsumedMessagesContract` is run here on the in-memory store and in `tests/integration/test_bus_consumed_sql.py`
on SQLite and PostgreSQL, so the in-memory store the embedded bus's tests rely on behaves like the real ones."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from souscription.integrations.bus.consumed import InMemoryConsumedMessages, apply_once
from souscription.integrations.bus.envelope import Envelope
from souscription.integrations.bus.port import ConsumedMessages


class Failed(Exception):
    pass


def rolled_back(store: ConsumedMessages, *actions: Callable[[], object]) -> None:
    """Run `actions` in a transaction of `store` that then fails."""
    with store.atomic():
        for action in actions:
            action()
        raise Failed


def message(message_id: str) -> Envelope:
    return Envelope(message_id, "subscriptions.dossier_signed", 1, datetime(2026, 3, 2, tzinfo=UTC), "subscriptions")


class ConsumedMessagesContract:
    """Every `ConsumedMessages` honours these; a subclass provides the `store` fixture."""

    def test_a_message_is_new_the_first_time_only(self, store: ConsumedMessages) -> None:
        with store.atomic():
            assert store.first_time("billing", "m-1") is True
        with store.atomic():
            assert store.first_time("billing", "m-1") is False

    def test_each_consumer_has_its_own_record(self, store: ConsumedMessages) -> None:
        with store.atomic():
            assert store.first_time("billing", "m-2") is True
            assert store.first_time("customer-service", "m-2") is True

    def test_a_failed_consumer_s_transaction_leaves_the_message_new(self, store: ConsumedMessages) -> None:
        with pytest.raises(Failed):
            rolled_back(store, lambda: store.first_time("billing", "m-3"))
        with store.atomic():
            assert store.first_time("billing", "m-3") is True

    def test_apply_once_applies_a_redelivered_message_once(self, store: ConsumedMessages) -> None:
        applied: list[str] = []
        for _ in range(3):
            apply_once("billing", lambda envelope: applied.append(envelope.message_id), store, message("m-4"))
        assert applied == ["m-4"]

    def test_apply_once_applies_again_after_the_handler_failed(self, store: ConsumedMessages) -> None:
        outcomes = iter([Failed(), None])
        applied: list[str] = []

        def handler(envelope: Envelope) -> None:
            outcome = next(outcomes)
            if outcome is not None:
                raise outcome
            applied.append(envelope.message_id)

        with pytest.raises(Failed):
            apply_once("billing", handler, store, message("m-5"))
        assert apply_once("billing", handler, store, message("m-5")) is True
        assert apply_once("billing", handler, store, message("m-5")) is False
        assert applied == ["m-5"]


class TestInMemoryConsumedMessages(ConsumedMessagesContract):
    @pytest.fixture
    def store(self) -> InMemoryConsumedMessages:
        return InMemoryConsumedMessages()

    def test_a_nested_block_that_fails_forgets_only_its_own_rows(self, store: InMemoryConsumedMessages) -> None:
        with store.atomic():
            store.first_time("billing", "outer")
            with pytest.raises(Failed):
                rolled_back(store, lambda: store.first_time("billing", "inner"))
        with store.atomic():
            assert store.first_time("billing", "outer") is False
            assert store.first_time("billing", "inner") is True

    def test_a_second_thread_waits_for_the_first_transaction_then_sees_its_outcome(
        self, store: InMemoryConsumedMessages
    ) -> None:
        holding, answers, waited = threading.Event(), [], []

        def other() -> None:
            holding.wait()
            with store.atomic():
                answers.append(store.first_time("billing", "m-6"))

        def still_waiting() -> None:
            waited.append(thread.is_alive())

        thread = threading.Thread(target=other)
        thread.start()
        with pytest.raises(Failed):
            rolled_back(
                store, lambda: store.first_time("billing", "m-6"), holding.set, lambda: thread.join(0.2), still_waiting
            )
        assert waited == [True], "the other transaction must wait, not decide on an uncommitted row"
        thread.join(timeout=5)
        assert answers == [True], "the first transaction rolled back: for the second it is the first time"
