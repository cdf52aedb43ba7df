"""`souscription connectors`: the connectors' health, the parked and dead-lettered vendor calls, and replay."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from souscription.connectors import calls, registry, services
from souscription.platform.commands import PlatformCommand


class Command(PlatformCommand):
    help = (
        "Connecteurs : l'adaptateur de chaque port, la santé de chaque fournisseur (appels, échecs par nature, "
        "latences, disjoncteur), les appels en attente ou refusés, et leur relance."
    )
    examples = (
        "  souscription connectors health                 # lit /metrics du serveur en marche\n"
        "  souscription connectors parked --vendor stripe\n"
        "  souscription connectors replay stripe:payment:SUB-2026-000042:first"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{health,parked,replay}")
        health = actions.add_parser("health", help="Santé des connecteurs, lue sur /metrics du serveur en marche.")
        health.add_argument("--url", help="Adresse de /metrics (défaut : celle de souscription serve).")
        parked = actions.add_parser("parked", help="Appels en attente (fournisseur indisponible) ou refusés.")
        parked.add_argument("--vendor", help="Un seul fournisseur.")
        parked.add_argument("--status", choices=["parked", "dead"], help="Seulement en attente, ou seulement refusés.")
        replay = actions.add_parser("replay", help="Relance un appel en attente ou refusé, par sa clé.")
        replay.add_argument("key", nargs="+", help="Clé(s) de l'appel, telles que `parked` les affiche.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "health":
            self._health(options.get("url"))
        elif options["action"] == "parked":
            for call in services.waiting(vendor=options.get("vendor"), status=options.get("status")):
                when = (
                    call.next_attempt_at.isoformat(timespec="seconds") if call.next_attempt_at else "relance manuelle"
                )
                self.stdout.write(
                    "\t".join(
                        [
                            call.key,
                            call.status,
                            call.operation,
                            call.subscription_id or "-",
                            f"{call.attempts} essai(s)",
                            f"prochain : {when}",
                            call.reason,
                        ]
                    )
                )
        else:
            unknown = [key for key in options["key"] if not calls.replay(key)]
            if unknown:
                raise CommandError("Aucun appel en attente sous la clé : " + ", ".join(unknown))
            self.progress_console.print(f"{len(options['key'])} appel(s) relancé(s).")

    def _health(self, url: str | None) -> None:
        env = settings.SOUSCRIPTION
        for port in registry.PORTS:
            self.stdout.write(f"port {port}\t{registry.vendor_of(port)}")
        counts = services.counts()
        self.stdout.write(f"appels en attente\t{counts.get('parked', 0)}\trefusés\t{counts.get('dead', 0)}")
        target = url or f"http://{env.host}:{env.port}/metrics"
        try:
            text = httpx.get(target, timeout=5).text
        except httpx.HTTPError as error:
            raise CommandError(f"{target} ne répond pas ({error}) : le serveur est-il démarré ?") from None
        for line in summarize(text):
            self.stdout.write(line)


def summarize(text: str) -> list[str]:
    """Per vendor: calls, failures by kind, latency percentiles from the histogram, circuit state."""
    calls_by: dict[str, dict[str, float]] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    circuits: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        metric, _, raw_labels = name.partition("{")
        labels = dict(part.split("=", 1) for part in raw_labels.rstrip("}").split(",") if "=" in part)
        labels = {key: item.strip('"') for key, item in labels.items()}
        vendor = labels.get("vendor", "")
        if metric == "souscription_connector_calls_total":
            outcomes = calls_by.setdefault(vendor, {})
            outcomes[labels["outcome"]] = outcomes.get(labels["outcome"], 0) + float(value)
        elif metric == "souscription_connector_latency_seconds_bucket" and labels.get("le") != "+Inf":
            buckets.setdefault(vendor, []).append((float(labels["le"]), float(value)))
        elif metric == "souscription_connector_circuit_open":
            circuits[vendor] = labels.get("state", "?")
    lines = []
    for vendor, outcomes in sorted(calls_by.items()):
        total = sum(outcomes.values())
        failures = ", ".join(f"{kind} {int(count)}" for kind, count in sorted(outcomes.items()) if kind != "ok") or "-"
        quantiles = " ".join(f"p{int(q * 100)}≤{_quantile(buckets.get(vendor, []), q)}" for q in (0.5, 0.95, 0.99))
        lines.append(
            f"{vendor}\t{int(total)} appels\téchecs : {failures}\t{quantiles}\tdisjoncteur {circuits.get(vendor, '?')}"
        )
    return lines or ["aucun appel à un fournisseur depuis le démarrage du serveur"]


def _quantile(bounds: list[tuple[float, float]], rank: float) -> str:
    if not bounds or bounds[-1][1] == 0:
        return "-"
    ordered = sorted(bounds)
    total = ordered[-1][1]
    for bound, count in ordered:
        if count >= rank * total:
            return f"{bound * 1000:g} ms"
    return f"> {ordered[-1][0] * 1000:g} ms"
