"""Legal's slice (seed 004), physically apart in the `legal` database: investigation reports for now."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class InvestigationReport(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField(_("client"), db_index=True)
    author_id = models.BigIntegerField(_("enquêteur"))
    findings = models.TextField(_("conclusions"))
    written_at = models.DateTimeField(_("rédigé le"))

    class Meta:
        verbose_name = _("rapport d'enquête")
        ordering = ("-written_at",)

    def __str__(self) -> str:
        return f"Rapport du {self.written_at:%d/%m/%Y}"
