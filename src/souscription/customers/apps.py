from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "souscription.customers"
    label = "customers"
    verbose_name = "Service client : identité et contact"
