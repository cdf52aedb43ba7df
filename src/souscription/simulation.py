"""Realistic dossiers driven end to end through the public API (`souscription simulate`, the benchmark).

Each simulated applicant opens a dossier, answers the form step by step, accepts the offer and signs; simulated
staff do their part through the same API with their own accounts: the enquêteur files a report, the estimateur
decides (mostly approve, sometimes ask for information, decline or reject), the juriste drafts the contract of a
referred dossier, and an accountant validates the first invoice. Requests go through Django's full stack
(middleware, routing, the API) in-process; the workflows run in this process's DBOS runtime."""

from __future__ import annotations

import random
import re
import secrets
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.test import Client
from django.test.client import ClientHandler

from souscription.consents.domain import Purpose
from souscription.consents.domain import current_text as consent_text
from souscription.customers import services as customers
from souscription.identity import second_factor
from souscription.identity.domain import Role
from souscription.identity.services import create_staff_user
from souscription.products.catalog import ProductVersion
from souscription.products.domain import FieldSpec, FieldType
from souscription.products.runtime import catalog

API = "/api/v1"
STAFF_ROLES = (Role.INVESTIGATOR, Role.ESTIMATOR, Role.JURIST, Role.ACCOUNTANT)
FIRST_NAMES = ("Léa", "Hugo", "Chloé", "Lucas", "Inès", "Nathan", "Manon", "Yanis", "Camille", "Théo", "Jade", "Noé")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau")
MAKES = ("Renault", "Peugeot", "Citroën", "Toyota", "Volkswagen", "Dacia", "Tesla", "BMW", "Fiat", "Kia")
PROFESSIONS = (("comptable", "bureau"), ("infirmière", "manuelle"), ("couvreur", "a_risque"), ("juriste", "bureau"))
IBANS = ("FR7630006000011234567890189", "FR1420041010050500013M02606", "DE89370400440532013000")


class SimulationError(RuntimeError):
    """The API answered something a well-behaved client cannot go on from (the message says what)."""


@dataclass
class Outcome:
    stages: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    seconds: float = 0.0

    @property
    def dossiers(self) -> int:
        return sum(self.stages.values())


def web_client(handler: ClientHandler) -> Client:
    """A client of its own (cookies, session) on the run's one request handler: like a WSGI server, which loads the
    middleware once per process, not once per visitor (a new test client would load it again: ~12 ms each)."""
    client = Client(SERVER_NAME="localhost")
    client.handler = handler
    return client


def signature_code_in_inbox(email: str, subscription_id: str) -> str:
    """The code the applicant reads in the latest signature message of their inbox (the embedded messaging port)."""
    for message in customers.inbox(email):
        if subscription_id in message.subject:
            found = re.search(r"\best (\d{6})\b", message.body)  # the dossier number has digits too
            if found:
                return found.group(1)
    raise SimulationError(f"no signature code for {subscription_id} in {email}'s inbox")


def sign_in(client: Client, *, email: str, password: str) -> None:
    """Sign a staff member in as a person does: password, then the second factor. A member without an authenticator
    enrols one, reading the key from the enrolment page as an app would scan it."""
    answer = client.post("/connexion/", {"username": email, "password": password})
    if answer.status_code != 302 or "second-facteur" not in answer.get("Location", ""):
        raise SimulationError(f"sign-in of {email} refused ({answer.status_code})")
    page = client.get("/connexion/enrolement/")
    if page.status_code == 200:
        found = re.search(r"<code>([A-Z2-7]{16,})</code>", page.content.decode())
        if found is None:
            raise SimulationError("the enrolment page shows no key")
        code = second_factor.authenticator_code(found.group(1), at=time.time())
        answer = client.post("/connexion/enrolement/", {"code": code})
    else:
        raise SimulationError(f"{email} already has an authenticator whose key this simulation does not hold")
    if answer.status_code != 302:
        raise SimulationError(f"second factor of {email} refused ({answer.status_code})")


class Staff:
    """One signed-in client per staff role, created once per run, each signed in with both factors."""

    def __init__(self, handler: ClientHandler, *, team: str = "") -> None:
        self.handler = handler
        self.clients: dict[Role, Client] = {}
        suffix = f"-{team}" if team else ""
        for role in STAFF_ROLES:
            # A random password nobody knows: these accounts only act through this process's sessions.
            password = secrets.token_urlsafe(24)
            user = create_staff_user(
                email=f"simulation-{role.value}{suffix}@assureur.test",
                password=password,
                role=role.value,
                first_name="Simulation",
                last_name=role.label,
                update=True,
            )
            second_factor.reset_second_factor(user)  # its earlier run's authenticator key is gone with that run
            client = web_client(handler)
            sign_in(client, email=user.email, password=password)
            self.clients[role] = client


class Api:
    """A tiny JSON client over Django's test client that counts requests and fails loudly on surprises."""

    def __init__(self, client: Client, outcome: Outcome, token: str = "") -> None:
        self.client, self.outcome, self.token = client, outcome, token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, *, expect: int = 200) -> dict[str, Any]:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "post" else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        send: Callable[..., Any] = getattr(self.client, method)
        response = send(f"{API}{path}", body or {}, content_type="application/json", headers=headers)
        self.outcome.requests += 1
        if response.status_code != expect:
            raise SimulationError(f"{method.upper()} {path} → {response.status_code} {response.content[:400]!r}")
        body_out: dict[str, Any] = response.json()
        return body_out


def simulate(
    *,
    product: str,
    count: int,
    seed: int,
    concurrency: int = 1,
    first: int = 0,
    team: str = "",
    ready: Callable[[], None] | None = None,
) -> Outcome:
    """Drive `count` dossiers of `product` end to end; returns how many ended in each stage.

    Several processes share one run by each taking its own range of applicants (`first`) and its own staff
    accounts (`team`: each process signs its staff in with its own second factor); `ready` is called once the
    staff is signed in, before the clock starts (a barrier between the processes)."""
    version = catalog().effective(product, on=date.today())
    outcome = Outcome()
    staff = Staff(ClientHandler(enforce_csrf_checks=False), team=team)
    if ready is not None:
        ready()
    started = time.perf_counter()

    def one(index: int) -> str:
        rng = random.Random(seed * 1_000_003 + index)  # noqa: S311 -- reproducible test data, not secrets
        return Applicant(version, rng, staff, outcome, index).go()

    indexes = range(first, first + count)
    if concurrency <= 1:
        stages = [one(index) for index in indexes]
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            stages = list(pool.map(one, indexes))
    outcome.seconds = time.perf_counter() - started
    outcome.stages.update(stages)
    return outcome


class Applicant:
    def __init__(self, version: ProductVersion, rng: random.Random, staff: Staff, outcome: Outcome, index: int):
        self.version, self.rng, self.staff, self.outcome, self.index = version, rng, staff, outcome, index
        self.api = Api(web_client(staff.handler), outcome)

    def go(self) -> str:
        opened = self.api.call("post", "/dossiers", {"product": self.version.definition.product}, expect=201)
        self.sid, self.api.token = opened["subscription_id"], opened["applicant_token"]
        answers = realistic_answers(self.version, self.rng, self.index)
        status: dict[str, Any] = opened["status"]
        for step in self.version.definition.steps:
            values = {spec.name: answers[spec.name] for spec in step.fields if spec.name in answers}
            if self.version.definition.health_underwritten and any(f.sensitive == "health" for f in step.fields):
                self.give_health_consent()
            status = self.api.call("post", f"/dossiers/{self.sid}/steps/{step.id}", {"answers": values})
        for _ in range(12):
            if self.done(status):
                break
            status = self.act(status, answers)
        return str(status["stage"])

    @staticmethod
    def done(status: dict[str, Any]) -> bool:
        """Nothing left for the applicant or the simulated staff: a declined dossier waits only for the sales rep's
        review, which is not part of a subscription's path (reading it again would only wait)."""
        return status["next_action"] is None or status["stage"] == "declined"

    def give_health_consent(self) -> None:
        """The applicant reads the health-data consent text in force and accepts it (GDPR art. 9(2)(a))."""
        text = consent_text(Purpose.HEALTH_DATA)
        body = {"purpose": text.purpose.value, "text_version": text.version}
        self.api.call("post", f"/dossiers/{self.sid}/consents", body, expect=201)

    def act(self, status: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
        action = status["next_action"] or {}
        code, sid = action.get("code"), self.sid
        if code in {"accept_offer"}:
            if self.rng.random() < 0.03:
                return self.api.call("post", f"/dossiers/{sid}/withdrawal", {"reason": "Offre concurrente retenue"})
            return self.api.call("post", f"/dossiers/{sid}/acceptance")
        if code == "sign_contract":
            name = f"{answers.get('customer.first_name', '')} {answers.get('customer.last_name', '')}".strip()
            self.api.call("post", f"/dossiers/{sid}/signature-code")
            code = signature_code_in_inbox(str(answers["customer.email"]), sid)
            body = {"signer_name": name or "Demandeur", "code": code}
            return self.api.call("post", f"/dossiers/{sid}/signature", body)
        if code in {"investigate", "estimate_risk", "draft_contract"} and action.get("owner") != "platform":
            return self.staff_task(status, code)
        if code == "answer_information_request":
            # The applicant confirms the answers the estimateur asked about: the health step, else the first one.
            steps = self.version.definition.steps
            step = next((s for s in steps if any(f.sensitive == "health" for f in s.fields)), steps[0])
            values = {spec.name: answers[spec.name] for spec in step.fields if spec.name in answers}
            return self.api.call("post", f"/dossiers/{sid}/steps/{step.id}", {"answers": values})
        if code == "validate_first_invoice":
            accountant = Api(self.staff.clients[Role.ACCOUNTANT], self.outcome)
            return accountant.call("post", f"/invoices/{status['invoice_id']}/validation")
        # Work the platform is doing: read the status again, a little later.
        time.sleep(0.05)
        return self.api.call("get", f"/dossiers/{sid}")

    def staff_task(self, status: dict[str, Any], code: str) -> dict[str, Any]:
        kind = {"investigate": "investigation", "estimate_risk": "estimation", "draft_contract": "contract"}[code]
        task = next((t for t in status["tasks"] if t["kind"] == kind and t["status"] == "open"), None)
        if task is None:
            time.sleep(0.05)
            return self.api.call("get", f"/dossiers/{self.sid}")
        if kind == "investigation":
            api = Api(self.staff.clients[Role.INVESTIGATOR], self.outcome)
            report = "Entretien téléphonique et pièces médicales reçues ; déclarations cohérentes."
            done = api.call("post", f"/underwriting/tasks/{task['id']}/report", {"findings": report})
        elif kind == "estimation":
            api = Api(self.staff.clients[Role.ESTIMATOR], self.outcome)
            done = api.call("post", f"/underwriting/tasks/{task['id']}/estimate", self.estimate(status))
        else:
            api = Api(self.staff.clients[Role.JURIST], self.outcome)
            done = api.call("post", f"/underwriting/tasks/{task['id']}/contract")
        status_out: dict[str, Any] = done["status"]
        return status_out

    def estimate(self, status: dict[str, Any]) -> dict[str, Any]:
        roll = self.rng.random()
        asked_before = status["revision"] > len(self.version.definition.steps)
        if roll < 0.08 and not asked_before:
            return {
                "risk_class": "aggravated",
                "premium_adjustment_pct": 0,
                "exclusions": [],
                "decision": "request_information",
                "note": "Merci de confirmer votre consommation de tabac.",
            }
        if roll < 0.14:
            return {
                "risk_class": "high",
                "premium_adjustment_pct": 0,
                "exclusions": [],
                "decision": "decline",
                "note": "Risque hors appétit à ce jour.",
            }
        if roll < 0.17:
            return {
                "risk_class": "high",
                "premium_adjustment_pct": 0,
                "exclusions": [],
                "decision": "reject",
                "note": "Antécédents incompatibles avec la garantie.",
            }
        return {
            "risk_class": "aggravated",
            "premium_adjustment_pct": self.rng.choice((0, 15, 25, 50)),
            "exclusions": self.rng.choice(([], ["Affections du dos"], ["Sports aériens"])),
            "decision": "approve",
            "note": "Risque aggravé accepté avec surprime.",
        }


STREETS = ("rue des Lilas", "avenue Jean Jaurès", "boulevard Voltaire", "rue de la République", "chemin des Vignes")
DEPARTMENTS = ("69", "75", "13", "33", "44", "59", "31")
CITIES = ("Lyon", "Paris", "Marseille", "Bordeaux", "Nantes", "Lille", "Toulouse")


def realistic_answers(version: ProductVersion, rng: random.Random, index: int) -> dict[str, Any]:
    """Answers a real applicant could give, mostly eligible, some not; any product gets plausible values."""
    today = date.today()
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    birth = _years_ago(today, rng.randint(19, 70), rng)
    known: dict[str, Any] = {
        "customer.first_name": first,
        "customer.last_name": last,
        "customer.email": f"{_ascii(first)}.{_ascii(last)}.{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}@exemple.fr",
        "customer.phone": "+33 6 " + " ".join(str(rng.randint(10, 99)) for _ in range(4)),
        "customer.country": "FR" if rng.random() > 0.02 else "BE",
        "customer.street": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
        "customer.postcode": f"{rng.choice(DEPARTMENTS)}{rng.randint(0, 999):03d}",
        "customer.city": rng.choice(CITIES),
        "billing.frequency": rng.choice(("monthly", "annual")),
        "billing.account_holder": f"{first} {last}",
        "billing.iban": rng.choice(IBANS),
        "vehicle.registration": f"{_letters(rng)}-{rng.randint(100, 999)}-{_letters(rng)}",
        "vehicle.make": rng.choice(MAKES),
        "vehicle.first_registration": _years_ago(today, rng.choice((1, 2, 3, 4, 5, 6, 8, 9, 12)), rng).isoformat(),
        "vehicle.mileage_km": rng.randint(5_000, 210_000),
        "vehicle.power_hp": rng.choice((70, 90, 110, 130, 150, 190, 320)),
        "vehicle.battery_warranty_end": f"{today.year + rng.randint(1, 6)}-{rng.randint(1, 12):02d}",
        "driver.birth_date": birth.isoformat(),
        "driver.license_date": _years_ago(
            today, rng.randint(0, max(0, (today - birth).days // 365 - 18)), rng
        ).isoformat(),
        "insured.birth_date": _years_ago(today, rng.randint(20, 66), rng).isoformat(),
        "insured.sex": rng.choice(("F", "M")),
        "health.tobacco": rng.random() < 0.25,
        "health.cigarettes_per_day": rng.randint(2, 25),
        "health.alcohol_units_per_week": rng.choice((0, 2, 5, 8, 16)),
        "health.chronic_disease": rng.random() < 0.1,
        "health.disease_details": "Asthme léger traité",
        "cover.capital_eur": rng.choice((50_000, 100_000, 150_000, 250_000, 400_000)),
    }
    known["vehicle.fuel"] = rng.choice(("essence", "diesel", "hybride", "electrique"))
    known["insured.profession"], known["insured.profession_risk"] = rng.choice(PROFESSIONS)
    answers: dict[str, Any] = {}
    for spec in version.definition.fields():
        value = known.get(spec.name, _generic(spec, rng, today))
        if spec.required_if and not spec.required_if.holds({**known, **answers}):
            continue
        answers[spec.name] = value
    return answers


def _generic(spec: FieldSpec, rng: random.Random, today: date) -> Any:
    """A plausible value for a field the simulator has no specific knowledge of (a product added as data)."""
    if spec.type is FieldType.CHOICE:
        return rng.choice(spec.choices)
    if spec.type is FieldType.INTEGER:
        low, high = spec.minimum or 0, spec.maximum or (spec.minimum or 0) + 1000
        return rng.randint(low, high)
    if spec.type is FieldType.BOOLEAN:
        return rng.random() < 0.5
    if spec.type is FieldType.DATE:
        return _years_ago(today, rng.randint(1, 10), rng).isoformat()
    if spec.type is FieldType.EMAIL:
        return f"client{rng.getrandbits(40)}@exemple.fr"
    if spec.type is FieldType.COUNTRY:
        return "FR"
    if spec.type is FieldType.IBAN:
        return IBANS[0]
    return "Valeur"


def _years_ago(today: date, years: int, rng: random.Random) -> date:
    return today - timedelta(days=365 * years + rng.randint(1, 300))


def _letters(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(2))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
