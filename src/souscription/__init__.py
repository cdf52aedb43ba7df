"""Souscription: the subscription and back-office platform of an insurer."""

__version__ = "0.3.0"
