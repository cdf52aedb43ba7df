"""Right to erasure (GDPR art. 17) across the departments: crypto-shredding plus deletion, except what the law or
a contract in force needs, which is kept and listed with its reason.

What an insurer does, and this module does:
- a dossier without a signed contract loses everything: data keys destroyed (health answers and IBANs unreadable in
  the databases and their backups), answers, offers, tasks, reports, estimates, decisions and the dossier itself;
- a contract in force (stage signed or active) is not erased: performing it needs the person's contact data, the
  risk declared, the health declaration it was underwritten on and the account to debit (art. 17(3)(b) and (e),
  art. 6(1)(b)). Only `force` (the contract has ended outside the platform, which records no termination yet)
  erases it, and then only what no legal retention covers;
- always kept: signed contracts (end of contract + limitation period), invoices and the ledger (10 years, Code de
  commerce L123-22), the SEPA mandate's reference (the IBAN on it is shredded), the consents (proof, art. 7(1)),
  and the audit trail, append-only, whose entries hold no erased value. The erasure itself is recorded in each
  database it touched (`Action.ERASE`, counts only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from souscription.billing import privacy as billing
from souscription.consents import services as consents
from souscription.customers import services as customers
from souscription.identity import privacy as accounts
from souscription.sales import services as sales
from souscription.subscriptions import privacy as dossiers
from souscription.tickets import services as tickets
from souscription.underwriting import privacy as underwriting

REQUEST = "erasure_request"
IN_FORCE = "Contrat en cours : données nécessaires à son exécution (RGPD art. 6(1)(b), art. 17(3)(b) et (e))."
SIGNED_CONTRACT = "Contrat signé : conservé jusqu'à la fin du contrat et la prescription (Code des assurances L114-1)."
INVOICE = "Pièce comptable, avec son écriture au journal : 10 ans (Code de commerce art. L123-22)."
MANDATE = "Mandat SEPA : preuve des prélèvements effectués ; l'IBAN qu'il portait est effacé (clé détruite)."
CONSENT = "Preuve du consentement (RGPD art. 7(1)) : 5 ans après son retrait."
AUDIT = "Journal d'audit en ajout seul : valeurs personnelles masquées, aucune valeur effacée n'y figure."


@dataclass(frozen=True)
class Kept:
    category: str
    reference: str
    reason: str
    detail: str = ""


@dataclass
class ErasureResult:
    customer_id: uuid.UUID
    dry_run: bool
    force: bool
    erased: dict[str, dict[str, int]] = field(default_factory=dict)
    kept: list[Kept] = field(default_factory=list)

    def add(self, database: str, counts: dict[str, int]) -> None:
        totals = self.erased.setdefault(database, {})
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count


def erase_dossier(*, subscription_id: str, signed: bool, dry_run: bool, reason: str) -> dict[str, dict[str, int]]:
    """One dossier's erasure in every department (each step idempotent: a rerun finds nothing left to erase)."""
    return {
        "legal": underwriting.erase_dossier(subscription_id=subscription_id, dry_run=dry_run, reason=reason),
        "billing": billing.erase_dossier(subscription_id=subscription_id, dry_run=dry_run, reason=reason),
        "sales": sales.erase_dossier(
            subscription_id=subscription_id, keep_accepted_offer=signed, dry_run=dry_run, reason=reason
        ),
        "default": dossiers.erase_dossier(
            subscription_id=subscription_id, keep_reference=signed, dry_run=dry_run, reason=reason
        ),
    }


def erase_customer(*, customer_id: uuid.UUID, force: bool, dry_run: bool) -> ErasureResult:
    result = ErasureResult(customer_id=customer_id, dry_run=dry_run, force=force)
    all_dossiers = dossiers.customer_dossiers(customer_id)
    in_force = [sid for sid, stage in all_dossiers if stage in dossiers.CONTRACT_SIGNED and not force]
    for sid, stage in all_dossiers:
        if sid in in_force:
            result.kept.append(Kept("dossier", sid, IN_FORCE, f"étape {stage.value}"))
            continue
        for database, counts in erase_dossier(
            subscription_id=sid, signed=stage in dossiers.CONTRACT_SIGNED, dry_run=dry_run, reason=REQUEST
        ).items():
            result.add(database, counts)
    _erase_customer_level(result, keep_contact=bool(in_force))
    _list_kept(result, [sid for sid, _stage in all_dossiers])
    return result


def _erase_customer_level(result: ErasureResult, *, keep_contact: bool) -> None:
    customer_id, dry_run = result.customer_id, result.dry_run
    result.add(
        "customer_service",
        {"tickets": tickets.erase_customer_tickets(customer_id=customer_id, dry_run=dry_run, reason=REQUEST)},
    )
    result.add(
        "sales", {"commercial_profiles": sales.erase_profile(customer_id=customer_id, dry_run=dry_run, reason=REQUEST)}
    )
    if keep_contact:
        result.kept.append(Kept("contact", str(customer_id), IN_FORCE))
        return
    contact = customers.contact_of(customer_id)
    if contact is not None and contact.email:
        result.add(
            "default", {"portal_accounts": accounts.erase_account(email=contact.email, dry_run=dry_run, reason=REQUEST)}
        )
    result.add(
        "customer_service",
        {"contacts": customers.erase_contact(customer_id=customer_id, dry_run=dry_run, reason=REQUEST)},
    )
    result.add(
        "legal",
        {
            "investigation_reports": underwriting.erase_customer_reports(
                customer_id=customer_id, dry_run=dry_run, reason=REQUEST
            )
        },
    )


def _list_kept(result: ErasureResult, subscription_ids: list[str]) -> None:
    for copy in underwriting.contract_copies(subscription_ids):
        if copy["kind"] == "signed":
            result.kept.append(Kept("signed_contract", copy["subscription_id"], SIGNED_CONTRACT, copy["sha256"]))
    for invoice in billing.invoices_of(customer_id=result.customer_id, subscription_ids=subscription_ids):
        detail = f"{invoice['amount_cents']} centimes, émise le {invoice['issued_on']}"
        result.kept.append(Kept("invoice", invoice["number"], INVOICE, detail))
    for mandate in billing.mandates_kept(subscription_ids):
        result.kept.append(Kept("sepa_mandate", mandate["reference"], MANDATE, f"signé le {mandate['signed_on']}"))
    for consent in consents.customer_data(customer_id=result.customer_id, subscription_ids=subscription_ids):
        detail = f"{consent['purpose']} v{consent['text_version']}"
        result.kept.append(Kept("consent", str(consent["id"]), CONSENT, detail))
    result.kept.append(Kept("audit_trail", "toutes les bases", AUDIT))
