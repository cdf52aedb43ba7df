"""`souscription checkconfig`: the effective configuration (secrets masked), whether each database answers, and
whether each vendor adapter the configuration names can be built from its settings (no call is made)."""

from __future__ import annotations

import json
import os
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from souscription.configuration import SETTINGS
from souscription.connectors import registry
from souscription.platform.commands import PlatformCommand
from souscription.platform.health import readiness_checks

_SECRET_WORDS = ("SECRET", "KEY", "PASSWORD", "TOKEN")


class Command(PlatformCommand):
    help = "Affiche chaque réglage (valeur, source) et vérifie les bases ; code de sortie 1 si une vérification échoue."
    examples = "  souscription checkconfig\n  souscription checkconfig --format json | jq '.settings'"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = [
            {
                "variable": s.env,
                "value": _shown(s.env, os.environ.get(s.env, s.default)),
                "source": "environnement" if os.environ.get(s.env) else "défaut",
            }
            for s in SETTINGS
        ]
        checks = [c.as_dict() for c in readiness_checks() if c.name.startswith("database:")] + _connector_checks()
        if options["format"] == "json":
            body = {"profile": settings.SOUSCRIPTION.profile.value, "settings": rows, "checks": checks}
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(f"Profil : {settings.SOUSCRIPTION.profile.value}")
            for row in rows:
                self.stdout.write(f"  {row['variable']:<42} {row['value'] or '(calculé)'}  [{row['source']}]")
            for check in checks:
                self.stdout.write(f"  {'OK ' if check['ok'] else 'KO '} {check['name']:<28} {check['detail']}")
        if not all(check["ok"] for check in checks):
            raise CommandError("Une base ou un connecteur au moins n'est pas prêt (voir ci-dessus).")


def _connector_checks() -> list[dict[str, Any]]:
    """Each port given to a vendor: its adapter built from the settings, as the first vendor call would build it
    (a HubSpot pipeline that cannot hold the deals, a missing account...), without calling the vendor."""
    checks = []
    for port in registry.PORTS:
        if not registry.uses_vendor(port):
            continue
        name = f"connector:{port}"
        try:
            registry.adapter(port)
        except ValueError as error:
            checks.append({"name": name, "ok": False, "detail": str(error)})
        else:
            checks.append({"name": name, "ok": True, "detail": registry.vendor_of(port)})
    return checks


def _shown(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if any(word in name for word in _SECRET_WORDS):
        return "********"
    if "DATABASE_URL" in name and "@" in value:
        scheme, _, rest = value.partition("://")
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":")[0]
        return f"{scheme}://{user}:****@{host}" if ":" in credentials else value
    return value
