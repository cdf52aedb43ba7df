"""The consent register, kept by customer service (database `customer_service`) beside the person's contact data.

One row per consent given: it is never overwritten, so the register shows what was agreed, when, on which text,
and when it was withdrawn. A dossier holds at most one consent in force per purpose."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Consent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The dossier the consent was given for: health answers come before the contact step, so a consent is often
    # given before the person has a customer id; `customer_id` is filled when it is known.
    subscription_id = models.CharField(_("souscription"), max_length=20, db_index=True)
    customer_id = models.UUIDField(_("client"), null=True, blank=True, db_index=True)
    purpose = models.CharField(_("finalité"), max_length=32)
    text_version = models.CharField(_("version du texte"), max_length=16)
    given_at = models.DateTimeField(_("donné le"))
    given_by = models.CharField(_("donné par"), max_length=120)
    withdrawn_at = models.DateTimeField(_("retiré le"), null=True, blank=True)
    withdrawn_by = models.CharField(_("retiré par"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("consentement")
        ordering = ("given_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["subscription_id", "purpose"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="one_consent_in_force_per_purpose",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} · {self.purpose} · {self.text_version}"
