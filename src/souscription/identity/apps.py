from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "souscription.identity"
    label = "identity"
    verbose_name = "Identités et rôles"
