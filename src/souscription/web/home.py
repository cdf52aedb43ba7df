"""What each role sees first: its missions (PRODUCT.md, "People and roles") and its department's figures.

Figures come from each department's own services, so a role only ever counts what its department owns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from souscription.billing import services as billing
from souscription.customers import services as customers
from souscription.identity.domain import Department, Role
from souscription.sales import services as sales
from souscription.tickets import services as tickets
from souscription.underwriting import services as underwriting


@dataclass(frozen=True)
class Figure:
    label: Promise
    value: Callable[[], int]


@dataclass(frozen=True)
class RoleHome:
    missions: tuple[Promise, ...]
    figures: tuple[Figure, ...]


_DEPARTMENT_FIGURES: dict[Department, tuple[Figure, ...]] = {
    Department.CUSTOMER_SERVICE: (
        Figure(_("Clients"), customers.customer_count),
        Figure(_("Tickets ouverts"), tickets.open_ticket_count),
    ),
    Department.SALES: (Figure(_("Profils commerciaux"), sales.profile_count),),
    Department.LEGAL: (Figure(_("Rapports d'enquête"), underwriting.report_count),),
    Department.BILLING: (Figure(_("Factures en brouillon"), billing.draft_invoice_count),),
}

_MISSIONS: dict[Role, tuple[Promise, ...]] = {
    Role.CUSTOMER_ADVISOR: (
        _("Enregistrer chaque appel et chaque e-mail comme un ticket"),
        _("Consulter et mettre à jour les coordonnées des clients"),
        _("Orienter la demande vers le bon département"),
    ),
    Role.SALES_REP: (
        _("Cibler les prospects par catégorie d'âge, profession et sexe"),
        _("Présenter une offre adaptée et demander un contrat au Légal"),
        _("Demander la facture à la Facturation après signature"),
    ),
    Role.SALES_LEAD: (
        _("Définir la stratégie commerciale et le plan d'action"),
        _("Suivre les objectifs de l'équipe"),
        _("Transmettre le rapport quotidien à la direction"),
    ),
    Role.INVESTIGATOR: (_("Enquêter sur le demandeur"), _("Rédiger le rapport d'enquête")),
    Role.ESTIMATOR: (
        _("Estimer le risque à partir du rapport et des données de santé"),
        _("Proposer le prix"),
    ),
    Role.JURIST: (_("Rédiger les contrats : vous êtes le seul rôle habilité"),),
    Role.LEGAL_LEAD: (_("Superviser les dossiers du Légal"), _("Réaffecter les tâches")),
    Role.ACCOUNTING_ASSISTANT: (_("Rédiger les factures à partir des données client"),),
    Role.ACCOUNTANT: (
        _("Valider les factures (jamais les vôtres : principe des quatre yeux)"),
        _("Mettre à jour l'historique de facturation"),
    ),
    Role.BILLING_LEAD: (_("Valider les factures"), _("Transmettre le rapport quotidien à la direction")),
    Role.IT_MANAGER: (
        _("Sauvegarde quotidienne et restauration"),
        _("Gérer les utilisateurs et les connecteurs"),
        _("Vérifier la piste d'audit"),
    ),
    Role.DIRECTOR: (_("Suivre les indicateurs clés"), _("Lire les rapports quotidiens des responsables")),
    Role.AUDITOR: (_("Consulter la piste d'audit"), _("Exporter les registres de consentement et RGPD")),
}


def home_for(role: Role) -> RoleHome:
    return RoleHome(missions=_MISSIONS[role], figures=_DEPARTMENT_FIGURES.get(role.department, ()))
