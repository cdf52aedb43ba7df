"""The audit log's tables, present in every database: an entry is written in the transaction of its action.

Both tables are append-only: triggers (migration 0002) refuse UPDATE and DELETE, and TRUNCATE on PostgreSQL.
Rows are reached through `services` only, always with `.using(alias)`.
"""

from __future__ import annotations

from django.db import models

from souscription.audit.domain import Action

ACTION_CHOICES = [(action.value, action.value) for action in Action]


class AuditEntry(models.Model):
    """Who did what, to which record, when (UTC), from where; `leaf_hash` is its RFC 6962 leaf in the log."""

    sequence = models.PositiveBigIntegerField(unique=True)  # 1, 2, 3… without gaps in each database
    occurred_at = models.DateTimeField()
    actor = models.CharField(max_length=120)  # a user id, `applicant:<subscription id>` or `platform`
    role = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=32, choices=ACTION_CHOICES)
    record_type = models.CharField(max_length=64)
    record_id = models.CharField(max_length=120, blank=True)
    source = models.CharField(max_length=64)  # an IP address, or `workflow`
    details = models.JSONField(default=dict)  # masked (`domain.masked_details`), never a health value
    leaf_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ("sequence",)
        verbose_name = "entrée d'audit"
        verbose_name_plural = "entrées d'audit"

    def __str__(self) -> str:
        return f"{self.sequence} · {self.action} · {self.record_type}:{self.record_id}"


class TreeHead(models.Model):
    """A signed statement: the first `size` entries of this database hash to `root_hash`."""

    size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)  # Ed25519 over `verifier.tree_head_message`, hex
    # Roots of the perfect subtrees of this tree (`merkle.frontier_append`): the next head is computed from them
    # and the new entries only. Not signed: a forged frontier only yields heads that `audit verify` rejects.
    frontier = models.JSONField(default=list)

    class Meta:
        ordering = ("size",)
        verbose_name = "tête d'arbre signée"
        verbose_name_plural = "têtes d'arbre signées"

    def __str__(self) -> str:
        return f"{self.size} · {self.root_hash[:12]}"
