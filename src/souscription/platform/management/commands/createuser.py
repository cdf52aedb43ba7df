"""`souscription createuser`: a staff account with a role."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from souscription.identity.domain import Role
from souscription.identity.services import create_staff_user
from souscription.kernel.errors import DomainError
from souscription.platform.commands import PlatformCommand


class Command(PlatformCommand):
    help = "Crée (ou, avec --update, met à jour) un compte du personnel avec un rôle."
    examples = (
        "  souscription createuser --email juriste@assureur.fr --role jurist\n"
        '  echo "$MOT_DE_PASSE" | souscription createuser --email c@assureur.fr --role accountant --password-stdin\n'
        f"Rôles : {', '.join(role.value for role in Role)}"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="Adresse e-mail (identifiant de connexion).")
        parser.add_argument("--role", required=True, help="Rôle, par ex. jurist, accountant, customer_advisor.")
        parser.add_argument("--first-name", default="", help="Prénom.")
        parser.add_argument("--last-name", default="", help="Nom.")
        parser.add_argument("--password-stdin", action="store_true", help="Lit le mot de passe sur l'entrée standard.")
        parser.add_argument("--update", action="store_true", help="Met à jour le compte s'il existe déjà.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = self._read_password(from_stdin=options["password_stdin"])
        try:
            user = create_staff_user(
                email=options["email"],
                password=password,
                role=options["role"],
                first_name=options["first_name"],
                last_name=options["last_name"],
                update=options["update"],
            )
        except DomainError as error:
            details = "\n".join(f"  {p.field or '-'} : {p.message} [{p.code}]" for p in error.problems)
            raise CommandError(f"Compte non créé :\n{details}") from None
        self.stdout.write(f"{user.email}\t{user.role}")

    def _read_password(self, *, from_stdin: bool) -> str:
        if from_stdin:
            return sys.stdin.readline().rstrip("\n")
        if not sys.stdin.isatty():
            raise CommandError("Pas de terminal pour saisir le mot de passe : utilisez --password-stdin.")
        first = getpass.getpass("Mot de passe : ")
        if first != getpass.getpass("Confirmation : "):
            raise CommandError("Les deux mots de passe diffèrent.")
        return first
