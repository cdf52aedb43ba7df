"""Exporting a period of the logs as JSON lines that the published verifier checks offline (format: `verifier`).

Each database is verified, then sealed, before anything is written: an export never vouches for a broken log,
and every exported entry is proved against a signed head that covers it (the latest). The heads signed during
the period come along, each chained to the next by a consistency proof, so an auditor who kept an earlier export
can check that the log only grew since.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from souscription.audit import checks, merkle, services
from souscription.audit.domain import PLATFORM_ACTOR, Action
from souscription.audit.keys import signing_key
from souscription.audit.models import AuditEntry, TreeHead
from souscription.audit.verifier import EXPORT_FORMAT
from souscription.platform.databases import PLATFORM_DATABASE


class Writer(Protocol):
    def write(self, text: str, /) -> object: ...


@dataclass(frozen=True)
class ExportedDatabase:
    database: str
    entries: int
    heads: int


def export(
    *, databases: Sequence[str], since: datetime, until: datetime, output: Writer, actor: str = PLATFORM_ACTOR
) -> list[ExportedDatabase]:
    """Write the entries with `since <= occurred_at < until` of each database; raise `AuditLogBroken` first if a
    log does not verify."""
    with transaction.atomic(using=PLATFORM_DATABASE):
        services.record(
            database=PLATFORM_DATABASE,
            actor=actor,
            role="",
            action=Action.EXPORT,
            record_type="audit_log",
            record_id=",".join(databases),
            source="console",
            details={"since": services.utc_text(since), "until": services.utc_text(until)},
        )
    for database in databases:
        report = checks.verify(database)
        if report.problem is not None:
            raise services.AuditLogBroken(database, report.problem.message)
        services.seal(database)
    key = signing_key()
    _write(
        output,
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "public_key": key.public_base64,
            "key_id": key.key_id,
            "since": services.utc_text(since),
            "until": services.utc_text(until),
            "exported_at": services.utc_text(timezone.now()),
            "databases": list(databases),
        },
    )
    return [_export_one(database, since, until, output) for database in databases]


def _export_one(database: str, since: datetime, until: datetime, output: Writer) -> ExportedDatabase:
    heads = list(TreeHead.objects.using(database).order_by("size"))
    if not heads:
        return ExportedDatabase(database, 0, 0)
    final = heads[-1]
    leaves = AuditEntry.objects.using(database).filter(sequence__lte=final.size).order_by("sequence")
    tree = merkle.Tree([bytes.fromhex(leaf) for leaf in leaves.values_list("leaf_hash", flat=True)])
    chosen = [head for head in heads if since <= head.signed_at < until and head is not final] + [final]
    for head in chosen:
        _write(output, _head_line(database, head))
    for old, new in itertools.pairwise(chosen):
        proof = tree.consistency_proof(old.size, new.size)
        _write(
            output,
            {
                "type": "consistency",
                "database": database,
                "from_size": old.size,
                "to_size": new.size,
                "proof": [node.hex() for node in proof],
            },
        )
    period = leaves.filter(occurred_at__gte=since, occurred_at__lt=until)
    count = 0
    for entry in period.iterator():
        proof = tree.inclusion_proof(entry.sequence - 1, final.size)
        _write(
            output,
            {
                "type": "entry",
                "entry": services.entry_fields(database, entry),
                "tree_size": final.size,
                "proof": [node.hex() for node in proof],
            },
        )
        count += 1
    return ExportedDatabase(database, count, len(chosen))


def _head_line(database: str, head: TreeHead) -> dict[str, Any]:
    return {
        "type": "tree_head",
        "database": database,
        "size": head.size,
        "root": head.root_hash,
        "signed_at": services.utc_text(head.signed_at),
        "key_id": head.key_id,
        "signature": head.signature,
    }


def _write(output: Writer, line: dict[str, Any]) -> None:
    output.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
