"""The reproducible demo data set: one staff account per role and customers spread over the departments.

Same seed, same data: identifiers are derived (uuid5) from the seed, so running it twice changes nothing.
Each department's slice goes through that department's own services, into its own database.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial

from souscription.billing import services as billing
from souscription.customers import services as customers
from souscription.identity import services as identity
from souscription.identity.domain import Role
from souscription.sales import services as sales
from souscription.tickets import services as tickets
from souscription.underwriting import services as underwriting

DEMO_PASSWORD = "Parapluie-Tulipe-2026"  # noqa: S105 - public demo password; `demo` is refused in production
DEMO_DOMAIN = "demo.souscription.test"
_NAMESPACE = uuid.UUID("5f0c8a54-1d7e-4a53-9a0e-3c2d6f1b7e21")
_FIRST_NAMES = (
    "Camille",
    "Léa",
    "Hugo",
    "Chloé",
    "Louis",
    "Inès",
    "Jules",
    "Manon",
    "Nathan",
    "Sarah",
    "Yanis",
    "Zoé",
)
_LAST_NAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
)
_PROFESSIONS = (
    "Infirmière",
    "Artisan",
    "Enseignant",
    "Agriculteur",
    "Commerçante",
    "Cadre",
    "Chauffeur",
    "Retraitée",
)
_REASONS = ("Demande de devis", "Changement d'adresse", "Question sur un prélèvement", "Suivi de dossier")
_NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: Role


def staff_accounts() -> list[DemoAccount]:
    return [DemoAccount(f"{role.value.replace('_', '.')}@{DEMO_DOMAIN}", role) for role in Role]


def demo_steps(*, seed: int, customers_count: int) -> Iterator[tuple[str, Callable[[], None]]]:
    """The demo as named steps (for a progress bar). Each step is idempotent; a customer's step writes each
    department's slice through that department's services."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
    people = [_person(rng, seed, index) for index in range(customers_count)]
    operator: dict[Role, int] = {}

    def staff() -> None:
        for account in staff_accounts():
            first, last = account.role.label.split(" ")[0], "Démo"
            user = identity.create_staff_user(
                email=account.email,
                password=DEMO_PASSWORD,
                role=account.role.value,
                first_name=first,
                last_name=last,
                update=True,
            )
            operator[account.role] = user.pk

    yield "Comptes du personnel (plateforme)", staff
    for person in people:
        yield (
            f"Client {person.first_name} {person.last_name}",
            partial(_seed_customer, person, operator, rng_seed=seed),
        )


@dataclass(frozen=True)
class DemoPerson:
    id: uuid.UUID
    index: int
    first_name: str
    last_name: str
    email: str
    phone: str
    age_category: str
    profession: str
    sex: str
    reason: str
    amount_cents: int


def _person(rng: random.Random, seed: int, index: int) -> DemoPerson:
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    # The draws stay in this order: the same seed must keep giving the same people.
    phone = f"+33 6 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    return DemoPerson(
        id=uuid.uuid5(_NAMESPACE, f"{seed}:customer:{index}"),
        index=index,
        first_name=first,
        last_name=last,
        email=f"{first}.{last}.{index}@exemple.fr".lower().replace("é", "e").replace("è", "e").replace("ï", "i"),
        phone=phone,
        age_category=rng.choice(["18-25", "26-40", "41-60", "61+"]),
        profession=rng.choice(_PROFESSIONS),
        sex=rng.choice(["F", "M"]),
        reason=rng.choice(_REASONS),
        amount_cents=rng.randint(2_500, 18_000),
    )


def _seed_customer(person: DemoPerson, operator: dict[Role, int], *, rng_seed: int) -> None:
    index = person.index
    opened = _NOW - timedelta(days=index)
    customers.register_customer(
        customer_id=person.id,
        contact=customers.ContactDetails(
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            phone=person.phone,
            availability="En semaine, 9h-18h",
        ),
    )
    tickets.log_contact(
        ticket_id=uuid.uuid5(_NAMESPACE, f"{rng_seed}:ticket:{index}"),
        customer_id=person.id,
        channel="call" if index % 2 else "email",
        reason=person.reason,
        operator_id=operator.get(Role.CUSTOMER_ADVISOR, 0),
        action="Demande enregistrée",
        at=opened,
    )
    sales.record_profile(
        customer_id=person.id, age_category=person.age_category, profession=person.profession, sex=person.sex
    )
    if index % 3 == 0:
        underwriting.file_investigation_report(
            report_id=uuid.uuid5(_NAMESPACE, f"{rng_seed}:report:{index}"),
            customer_id=person.id,
            author_id=operator.get(Role.INVESTIGATOR, 0),
            findings="Aucune anomalie relevée.",
            at=opened,
        )
    if index % 2 == 0:
        billing.draft_invoice(
            invoice_id=uuid.uuid5(_NAMESPACE, f"{rng_seed}:invoice:{index}"),
            number=f"FAC-2026-{index + 1:06d}",
            customer_id=person.id,
            amount_cents=person.amount_cents,
            drafted_by=operator.get(Role.ACCOUNTING_ASSISTANT, 0),
            issued_on=date(2026, 11, 1),
        )
