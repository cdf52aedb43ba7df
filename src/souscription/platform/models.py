"""The platform's own technical tables (database `default`)."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """The answer given to a POST carrying an `Idempotency-Key`, replayed when the same request comes again.

    The key is scoped to who sent it (an account, or an anonymous caller), so two clients never share one."""

    scope = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)  # None while the first request is in flight
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="one_answer_per_key")]

    def __str__(self) -> str:
        return f"{self.scope} · {self.key}"
