from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "souscription.subscriptions"
    label = "subscriptions"
    verbose_name = "Souscriptions"
