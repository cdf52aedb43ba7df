from django.apps import AppConfig


class GdprConfig(AppConfig):
    name = "souscription.gdpr"
    label = "gdpr"
    verbose_name = "RGPD : droits des personnes et durées de conservation"
