"""The access export as a page a person can read: one section per department, every value escaped."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

SECTION_TITLES: dict[str, str] = {
    "customer_service": "Service client : coordonnées, tickets, consentements",
    "default": "Plateforme : dossiers et décisions",
    "sales": "Ventes : profil commercial, réponses, offres",
    "legal": "Juridique : santé, enquêtes, estimations, contrats",
    "billing": "Facturation : comptes, mandats, factures",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1a1a1a}table{border-collapse:collapse;margin:.3rem 0}"
    "td,th{border:1px solid #ccc;padding:.2rem .5rem;vertical-align:top;text-align:left}th{background:#f3f3f3}"
)


def to_html(export: dict[str, Any]) -> str:
    """A standalone HTML page (no script, no external resource) of the export."""
    plain = json.loads(json.dumps(export, cls=DjangoJSONEncoder))
    parts = [
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'>",
        f"<title>Données personnelles du client {escape(str(plain['customer_id']))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Vos données personnelles</h1>",
        f"<p>Client <code>{escape(str(plain['customer_id']))}</code>, export du {escape(str(plain['exported_at']))}"
        " (droit d'accès, RGPD art. 15).</p>",
    ]
    for database, content in plain["databases"].items():
        parts.append(f"<h2>{escape(SECTION_TITLES.get(database, database))}</h2>")
        parts.append(_value(content))
    parts.append("<h2>Journal d'audit : ce qui a été fait de vos données</h2>")
    parts.append(_value(plain["audit_trail"]))
    parts.append("</body></html>")
    return "".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "<em>aucune donnée</em>"
        rows = "".join(f"<tr><th>{escape(str(key))}</th><td>{_value(item)}</td></tr>" for key, item in value.items())
        return f"<table>{rows}</table>"
    if isinstance(value, list):
        if not value:
            return "<em>aucune donnée</em>"
        return "<ol>" + "".join(f"<li>{_value(item)}</li>" for item in value) + "</ol>"
    if value is None:
        return "<em>aucune donnée</em>"
    return escape(str(value))
