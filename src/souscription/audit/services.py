"""Writing the audit trail: `record` an entry in the caller's transaction, `seal` the log with a signed tree head.

How to call it from a department's service (the entry lands in the same database, in the same transaction, as
the action it records, so one never commits without the other):

    from souscription.audit import services as audit
    from souscription.audit.domain import Action

    with transaction.atomic(using="billing"):
        invoice.save(using="billing")
        audit.record(
            database="billing",                 # the database of the action: each database keeps its own log
            actor=str(user.pk),                 # a user id, `domain.applicant_actor(subscription_id)` or `platform`
            role=user.role,                     # the actor's role ("" for an applicant or the platform)
            action=Action.VALIDATE,
            record_type="invoice",              # what the action is about, by type and id (never a foreign key)
            record_id=str(invoice.id),
            source=request_ip or "workflow",    # an IP address, or `domain.WORKFLOW_SOURCE` in a workflow step
            details={"number": invoice.number}, # masked on the way in; health values are dropped
        )

`record` refuses to run outside a transaction on `database` (`AuditOutsideTransaction`): opening its own would
commit the entry without the action, or the action without the entry, whichever fails second. An action that has
nothing else to write (a failed login, a refused access) opens `transaction.atomic(using=...)` around `record`.

Sequence numbers are allocated inside the writing transaction and are gap-free: on SQLite the platform's
transactions are `BEGIN IMMEDIATE`, so writers are serialized before they read the last number; on PostgreSQL
`record` takes a transaction-level advisory lock. The unique constraint on the number backs both.

When tree heads are signed: inside `record` every `SEAL_EVERY` entries (so an attacker with write access to the
database can alter at most that many unsigned entries unnoticed, and signing costs one Ed25519 signature per
`SEAL_EVERY` writes), on `souscription audit seal` (to schedule, e.g. every few minutes, so a quiet log is sealed
too), and before every export (the exported entries are proved against a head that covers them). `audit verify`
never signs: it reads only, so it can run on a replica, and it must never vouch for what it has not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from souscription.audit import merkle
from souscription.audit.domain import Action, masked_details
from souscription.audit.keys import signing_key
from souscription.audit.models import AuditEntry, TreeHead
from souscription.audit.verifier import ENTRY_FIELDS, entry_leaf_hash, tree_head_message
from souscription.platform import prepared

SEAL_EVERY = 64
_ADVISORY_LOCK = 0x50A0D17  # any constant shared by every writer of the log of one PostgreSQL database


class AuditOutsideTransaction(RuntimeError):
    """A programming error: the caller records outside a transaction on the action's database."""

    code = "audit_outside_transaction"

    def __init__(self, database: str) -> None:
        self.message = (
            f"Une entrée d'audit s'écrit dans la transaction de l'action : ouvrez transaction.atomic(using="
            f"« {database} ») autour de l'action et de audit.record."
        )
        super().__init__(self.message)


class AuditLogBroken(RuntimeError):
    """The log no longer matches its heads or its own hashes: nothing is signed over it until it is examined."""

    code = "audit_log_broken"

    def __init__(self, database: str, detail: str) -> None:
        self.message = (
            f"Journal d'audit de la base « {database} » incohérent : {detail}. Lancez souscription audit verify."
        )
        super().__init__(self.message)


def utc_text(moment: datetime) -> str:
    """The one text form of a time in entries and heads: UTC, microseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_fields(database: str, entry: AuditEntry) -> dict[str, Any]:
    """The fields the leaf hash covers, as the published verifier reads them."""
    fields: dict[str, Any] = {
        "database": database,
        "sequence": entry.sequence,
        "occurred_at": utc_text(entry.occurred_at),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "source": entry.source,
        "details": entry.details,
    }
    if tuple(fields) != ENTRY_FIELDS:  # a field added here alone would change every entry's hash silently
        raise RuntimeError(f"audit entry fields {tuple(fields)} differ from ENTRY_FIELDS {ENTRY_FIELDS}")
    return fields


def record(
    *,
    database: str,
    actor: str,
    role: str,
    action: Action,
    record_type: str,
    record_id: str,
    source: str,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry to `database`'s log, in the caller's open transaction on that database."""
    if not connections[database].in_atomic_block:
        raise AuditOutsideTransaction(database)
    _lock(database)
    last = _last_sequence(database)
    entry = AuditEntry(
        sequence=(last or 0) + 1,
        occurred_at=(now or timezone.now()).astimezone(UTC),
        actor=actor,
        role=role,
        action=Action(action).value,
        record_type=record_type,
        record_id=record_id,
        source=source,
        details=masked_details(details or {}),
    )
    entry.leaf_hash = entry_leaf_hash(entry_fields(database, entry)).hex()
    prepared.insert(entry, using=database)
    if entry.sequence % SEAL_EVERY == 0:
        _seal_locked(database)
    return entry


def seal(database: str) -> TreeHead | None:
    """Sign a tree head over every entry of `database` not yet covered; the latest head if there is none new."""
    with transaction.atomic(using=database):
        _lock(database)
        return _seal_locked(database)


def latest_head(database: str) -> TreeHead | None:
    return TreeHead.objects.using(database).order_by("-size").first()


def _seal_locked(database: str) -> TreeHead | None:
    latest = latest_head(database)
    size = latest.size if latest else 0
    frontier = [bytes.fromhex(node) for node in latest.frontier] if latest else []
    if latest and merkle.frontier_root(frontier).hex() != latest.root_hash:
        raise AuditLogBroken(database, f"la tête de taille {size} ne correspond plus à son propre résumé")
    new_entries = AuditEntry.objects.using(database).filter(sequence__gt=size).order_by("sequence")
    for entry in new_entries.iterator():
        if entry.sequence != size + 1:
            raise AuditLogBroken(database, f"entrée n° {size + 1} absente")
        leaf = entry_leaf_hash(entry_fields(database, entry))
        if leaf.hex() != entry.leaf_hash:
            raise AuditLogBroken(database, f"entrée n° {entry.sequence} modifiée")
        frontier = merkle.frontier_append(frontier, size, leaf)
        size += 1
    if latest and size == latest.size:
        return latest
    return _sign(database, size=size, frontier=frontier)


def _sign(database: str, *, size: int, frontier: list[bytes]) -> TreeHead:
    key = signing_key()
    root = merkle.frontier_root(frontier).hex()
    signed_at = timezone.now().astimezone(UTC)
    message = tree_head_message(database=database, size=size, root=root, signed_at=utc_text(signed_at))
    head = TreeHead(
        size=size,
        root_hash=root,
        signed_at=signed_at,
        key_id=key.key_id,
        signature=key.sign(message).hex(),
        frontier=[node.hex() for node in frontier],
    )
    head.save(using=database, force_insert=True)
    return head


def _last_sequence(database: str) -> int | None:
    """The log's last sequence number (a query an entry needs each time: written once, not compiled each time)."""
    connection = connections[database]
    quote = connection.ops.quote_name
    table, column = quote(AuditEntry._meta.db_table), quote("sequence")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX({column}) FROM {table}")  # noqa: S608 -- names from the model, no value
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _lock(database: str) -> None:
    connection = connections[database]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
    # SQLite: the transaction began IMMEDIATE (settings), so this connection already holds the only write lock.
