from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "souscription.partners"
    label = "partners"
    verbose_name = "Partenaires"

    def ready(self) -> None:
        # The platform's idempotency middleware cannot import a context: the partner's scope is registered here.
        from souscription.partners import auth
        from souscription.platform import idempotency

        idempotency.register_scope_resolver(auth.idempotency_scope)
