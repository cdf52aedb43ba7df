"""`souscription reencrypt`: every data key wrapped again under the active master key, database by database.

Field ciphertexts are sealed with per-dossier data keys, so a master key rotation only re-wraps those keys: no
field is rewritten. Afterwards no row references an older master key, which can then leave the ring.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from souscription.platform.commands import PlatformCommand
from souscription.platform.databases import database_for_model
from souscription.platform.encryption.keyring import FieldEncryptionError, add_key_to_file
from souscription.platform.encryption.store import data_key_models, key_ring, keys_by_master_key, rewrap


class Command(PlatformCommand):
    help = (
        "Ré-emballe chaque clé de données sous la clé maîtresse active (la première de SOUSCRIPTION_FIELD_KEYS "
        "ou du fichier field_keys.json) ; affiche, par base, les clés ré-emballées et celles déjà à jour."
    )
    examples = (
        "  souscription reencrypt                     # après avoir mis la nouvelle clé en tête du trousseau\n"
        "  souscription reencrypt --dry-run           # ce qui serait ré-emballé, sans rien écrire\n"
        "  souscription reencrypt --rotate            # embarqué : nouvelle clé active dans field_keys.json\n"
        "  souscription reencrypt --format json | jq '.databases'"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Compte sans rien écrire.")
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="Mode embarqué : ajoute une nouvelle clé active au fichier field_keys.json avant de ré-emballer.",
        )
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        console = self.progress_console
        if options["rotate"]:
            self._rotate()
        try:
            ring = key_ring()
            results = []
            for model in data_key_models():
                console.print(f"base « {database_for_model(model)} » : ré-emballage sous « {ring.active.id} »")
                results.append((rewrap(model, dry_run=options["dry_run"]), keys_by_master_key(model)))
        except FieldEncryptionError as error:
            raise CommandError(f"Ré-emballage interrompu, rien n'est écrit pour cette base : {error.message}") from None
        rows: list[dict[str, Any]] = [
            {
                "database": result.database,
                "table": result.table,
                "rewrapped": result.rewrapped,
                "already_current": result.already_current,
                "by_master_key": by_master_key,
            }
            for result, by_master_key in results
        ]
        if options["format"] == "json":
            body = {"active_key": ring.active.id, "dry_run": options["dry_run"], "databases": rows}
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
            return
        self.stdout.write("base\ttable\tré-emballées\tdéjà à jour\tpar clé maîtresse")
        for row in rows:
            keys = ",".join(f"{key}={count}" for key, count in sorted(row["by_master_key"].items())) or "-"
            self.stdout.write(
                f"{row['database']}\t{row['table']}\t{row['rewrapped']}\t{row['already_current']}\t{keys}"
            )

    def _rotate(self) -> None:
        env = settings.SOUSCRIPTION
        if env.is_production or env.field_keys:
            raise CommandError(
                "--rotate ne gère que le fichier de clés du mode embarqué : mettez la nouvelle clé en tête de "
                "SOUSCRIPTION_FIELD_KEYS (l'ancienne après elle), redémarrez, puis relancez souscription reencrypt."
            )
        added = add_key_to_file(env.data_dir)
        self.progress_console.print(f"nouvelle clé maîtresse active « {added.id} »")
