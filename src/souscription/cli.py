"""The `souscription` console command: Django's management commands, with the platform's own first."""

from __future__ import annotations

import os
import sys

USAGE = """\
souscription <commande> [options]

Commandes de la plateforme :
  serve          Sert le portail, le back-office et l'API (et, en mode embarqué, exécute les workflows).
  worker         Exécute les workflows durables (production) sous un identifiant d'exécuteur stable.
  migrate        Applique les migrations à toutes les bases (plateforme et départements).
  demo           Charge le jeu de données de démonstration (reproductible, idempotent).
  createuser     Crée un compte du personnel avec un rôle.
  checkconfig    Affiche la configuration effective et vérifie les bases.
  audit          Journal d'audit inviolable : vérifie, exporte une période, scelle, clé publique.
  gdpr           RGPD : export des données d'un client, effacement, durées de conservation.
  connectors     Connecteurs : santé des fournisseurs, appels en attente ou refusés, relance.
  workflows      Workflows en erreur, et leur reprise à l'étape en échec une fois la cause corrigée.

Exemples :
  souscription migrate && souscription demo && souscription serve
  souscription createuser --email juriste@assureur.fr --role jurist --password-stdin < mdp.txt
  SOUSCRIPTION_PROFILE=production SOUSCRIPTION_EXECUTOR_ID=worker-1 souscription worker
  souscription checkconfig --format json

Aide d'une commande : souscription <commande> --help
Toutes les commandes Django : souscription help --commands
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        sys.stdout.write(USAGE)
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "souscription.settings")
    from django.core.management import execute_from_command_line

    from souscription.configuration import ConfigurationError

    try:
        execute_from_command_line(["souscription", *args])
    except ConfigurationError as error:
        sys.stderr.write(f"{error}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
