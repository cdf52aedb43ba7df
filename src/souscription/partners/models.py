"""Partners and their API keys (database `default`, the platform's)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Partner(models.Model):
    """A broker or comparator that opens dossiers for its clients and follows them through the API."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("nom"), max_length=120, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """One key of a partner. The secret is kept as its SHA-256 digest only; the counters are the current fixed
    windows (minute, UTC day), updated by one conditional UPDATE per admitted request, shared by every process."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="keys")
    prefix = models.CharField(_("préfixe"), max_length=12, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    scopes = models.JSONField(_("portées"), default=list)
    per_minute = models.PositiveIntegerField(_("requêtes par minute"))
    per_day = models.PositiveIntegerField(_("requêtes par jour"))
    minute_window = models.PositiveBigIntegerField(default=0)
    minute_count = models.PositiveIntegerField(default=0)
    day_window = models.PositiveBigIntegerField(default=0)
    day_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"sk_{self.prefix}_…"
