from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "souscription.audit"
    label = "audit"
    verbose_name = "Journal d'audit"

    def ready(self) -> None:
        # Receivers of Django's login signals: identity stays unaware of the audit trail.
        from souscription.audit import signals  # noqa: F401
