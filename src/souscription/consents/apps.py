from django.apps import AppConfig


class ConsentsConfig(AppConfig):
    name = "souscription.consents"
    label = "consents"
    verbose_name = "Service client : registre des consentements"
