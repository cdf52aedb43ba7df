"""`souscription apikey`: partners' API keys: create (the secret printed once), list, revoke."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from souscription.kernel.errors import DomainError
from souscription.partners import services
from souscription.partners.domain import Scope, UnknownScope
from souscription.platform.commands import PlatformCommand


class Command(PlatformCommand):
    help = (
        "Clés d'API des partenaires (courtiers) : crée une clé avec ses portées et ses quotas (le secret n'est "
        "affiché qu'une fois), liste les clés, révoque une clé par son préfixe."
    )
    examples = (
        "  souscription apikey create --partner 'Courtage Dupont' --scopes dossiers:write,dossiers:read\n"
        "  souscription apikey create --partner 'Courtage Dupont' --scopes dossiers:read --per-minute 30 "
        "--per-day 5000\n"
        "  souscription apikey list\n"
        "  souscription apikey revoke 3f9a0c1d2e4b\n"
        f"Portées : {', '.join(scope.value for scope in Scope)}"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = actions.add_parser("create", help="Crée une clé ; affiche le secret une seule fois.")
        create.add_argument("--partner", required=True, help="Nom du partenaire (créé à sa première clé).")
        create.add_argument("--scopes", required=True, type=_scopes, help="Portées séparées par des virgules.")
        create.add_argument("--per-minute", type=int, default=60, help="Requêtes par minute (défaut : 60).")
        create.add_argument("--per-day", type=int, default=10_000, help="Requêtes par jour UTC (défaut : 10000).")
        actions.add_parser("list", help="Liste les clés (jamais leur secret).")
        revoke = actions.add_parser("revoke", help="Révoque une clé, aussitôt pour tous les processus.")
        revoke.add_argument("prefix", help="Préfixe de la clé (sk_<préfixe>_…), tel que `list` l'affiche.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "create":
                self._create(options)
            elif options["action"] == "list":
                for key in services.list_keys():
                    self.stdout.write(_line(key))
            else:
                key = services.revoke(prefix=options["prefix"], now=timezone.now())
                self.progress_console.print(f"Clé {key.prefix} de « {key.partner_name} » révoquée.")
                self.stdout.write(_line(key))
        except DomainError as error:
            details = "\n".join(f"  {p.field or '-'} : {p.message} [{p.code}]" for p in error.problems)
            raise CommandError(f"Échec :\n{details}") from None

    def _create(self, options: dict[str, Any]) -> None:
        created = services.create_key(
            partner_name=options["partner"],
            scopes=options["scopes"],
            per_minute=options["per_minute"],
            per_day=options["per_day"],
            now=timezone.now(),
        )
        self.progress_console.print(
            f"Clé {created.key.prefix} créée pour « {created.key.partner_name} ». Le secret ci-dessous ne sera "
            "plus jamais affiché : transmettez-le au partenaire par un canal sûr."
        )
        self.stdout.write(created.secret)


def _scopes(value: str) -> tuple[Scope, ...]:
    try:
        return Scope.parse_many(value)
    except UnknownScope as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _line(key: services.KeyView) -> str:
    state = f"révoquée {_when(key.revoked_at)}" if key.revoked_at else "active"
    return "\t".join(
        [
            key.prefix,
            key.partner_name,
            ",".join(key.scopes),
            f"{key.per_minute}/min",
            f"{key.per_day}/jour",
            f"créée {_when(key.created_at)}",
            f"utilisée {_when(key.last_used_at)}",
            state,
        ]
    )


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"
