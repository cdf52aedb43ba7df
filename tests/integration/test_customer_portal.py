"""Customer accounts of the portal: registration with a verified address, sign-in with a code sent by message, a
password reset that never signs in, and the customer's own dossiers.

Everything goes through the real pages and API; codes and links are read from the portal inbox
(`customers.services.inbox`), as the customer reads them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from souscription.audit.domain import Action
from souscription.audit.models import AuditEntry
from souscription.customers.services import inbox, send_message
from souscription.identity import customers, one_time
from souscription.identity.models import User
from tests.integration.conftest import PASSWORD, signed_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]
ROOT = Path(__file__).parents[2]
CAR = json.loads((ROOT / "tests/data/answers/garantie_automobile.json").read_text(encoding="utf-8"))
EMAIL = "lea.martin@exemple.fr"
NEW_PASSWORD = "Girouette-Saumon-2027"


def newest(email: str, subject: str) -> str:
    messages = [message for message in inbox(email) if message.subject == subject]
    assert messages, f"a message « {subject} » was sent to {email}"
    return messages[0].body


def token_in(body: str) -> str:
    found = re.search(r"\?jeton=([\w-]+)", body)
    assert found, "the message carries a link with its token"
    return found.group(1)


def code_in(body: str) -> str:
    found = re.search(r"\b(\d{6})\b", body)
    assert found, "the message carries a 6-digit code"
    return found.group(1)


def register(client: Client, email: str = EMAIL, password: str = PASSWORD) -> object:
    return client.post(
        "/api/v1/portal/accounts",
        {"email": email, "password": password, "first_name": "Léa", "last_name": "Martin"},
        content_type="application/json",
    )


def registered(email: str = EMAIL) -> User:
    """A registered customer whose address is verified through the link of the message (on the page)."""
    client = Client()
    assert register(client, email).status_code == 202
    token = token_in(newest(email, "Confirmez votre adresse e-mail"))
    assert client.get(f"/espace-client/verification/?jeton={token}").status_code == 200
    assert client.post("/espace-client/verification/", {"token": token}).status_code == 302
    return User.objects.get(email=email)


def password_step(client: Client, email: str = EMAIL, password: str = PASSWORD) -> object:
    return client.post("/espace-client/connexion/", {"email": email, "password": password})


def signed_in_customer(client: Client, email: str = EMAIL, password: str = PASSWORD) -> Client:
    assert password_step(client, email, password).status_code == 302
    code = code_in(newest(email, "Votre code de connexion"))
    assert client.post("/espace-client/connexion/code/", {"code": code}).status_code == 302
    return client


def actions(user: User) -> list[tuple[str, str]]:
    rows = AuditEntry.objects.using("default").filter(record_type="customer_account", record_id=str(user.pk))
    return [(row.action, row.details.get("change", "")) for row in rows.order_by("sequence")]


def test_registration_sends_a_single_use_verification_link_and_the_address_is_then_verified() -> None:
    client = Client()
    assert register(client).status_code == 202
    user = User.objects.get(email=EMAIL)
    assert user.is_customer
    assert user.staff_role is None
    assert user.email_verified_at is None
    assert user.password.startswith("argon2")
    token = token_in(newest(EMAIL, "Confirmez votre adresse e-mail"))
    verified = client.post("/api/v1/portal/accounts/verification", {"token": token}, content_type="application/json")
    assert verified.status_code == 200
    assert verified.json()["email_verified"] is True
    again = client.post("/api/v1/portal/accounts/verification", {"token": token}, content_type="application/json")
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "link_invalid"
    assert actions(user) == [(Action.CREATE, "registered"), (Action.CHANGE, "email_verified")]


def test_registration_errors_are_in_french_per_field_with_stable_codes(client: Client) -> None:
    answer = client.post(
        "/api/v1/portal/accounts",
        {"email": "pas-une-adresse", "password": "court", "first_name": "", "last_name": "Martin"},
        content_type="application/json",
    )
    assert answer.status_code == 422
    errors = {error["field"]: error for error in answer.json()["errors"]}
    assert errors["email"]["code"] == "invalid_email"
    assert errors["first_name"]["code"] == "first_name_required"
    assert errors["password"]["code"] == "weak_password"
    assert "12 caractères" in errors["password"]["message"]
    assert not User.objects.filter(email="pas-une-adresse").exists()


def test_an_address_already_used_gets_the_same_answer_and_its_owner_a_notice(client: Client, staff_member) -> None:
    registered()
    staff = staff_member("jurist")
    new, known, staff_answer = register(client, "nouveau@exemple.fr"), register(client), register(client, staff.email)
    assert new.status_code == known.status_code == staff_answer.status_code == 202
    assert new.json() == known.json() == staff_answer.json()
    assert "déjà un compte" in newest(EMAIL, "Tentative d'inscription avec votre adresse")
    assert "déjà un compte" in newest(staff.email, "Tentative d'inscription avec votre adresse")
    assert User.objects.filter(email=EMAIL).count() == 1
    assert User.objects.get(email=staff.email).staff_role is not None  # the staff account is untouched


def test_an_unverified_account_cannot_sign_in(client: Client) -> None:
    register(client)
    answer = password_step(client)
    assert answer.status_code == 200
    assert "pas encore vérifiée" in answer.content.decode()
    assert not inbox(EMAIL) or all(message.subject != "Votre code de connexion" for message in inbox(EMAIL))
    api = client.post("/api/v1/portal/sign-in", {"email": EMAIL, "password": PASSWORD}, content_type="application/json")
    assert api.status_code == 422
    assert api.json()["errors"][0]["code"] == "email_unverified"


def test_the_password_alone_signs_nothing_in_and_the_emailed_code_does_once(client: Client) -> None:
    user = registered()
    assert password_step(client).status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get("/api/v1/portal/dossiers").status_code == 401
    code = code_in(newest(EMAIL, "Votre code de connexion"))
    before = client.session.session_key
    assert client.post("/espace-client/connexion/code/", {"code": code}).status_code == 302
    assert client.session.session_key != before
    assert client.get("/api/v1/portal/account").json()["email"] == EMAIL
    assert AuditEntry.objects.using("default").filter(action=Action.LOGIN, record_id=str(user.pk)).exists()
    replay = Client()
    password_step(replay)
    refused = replay.post("/espace-client/connexion/code/", {"code": code})  # a new code was sent: the old is dead
    assert refused.status_code == 200
    assert "Code refusé" in refused.content.decode()
    assert replay.get("/api/v1/portal/account").status_code == 401


def test_the_api_signs_in_with_the_password_then_the_code(client: Client) -> None:
    registered()
    body = {"email": EMAIL, "password": PASSWORD}
    assert client.post("/api/v1/portal/sign-in", body, content_type="application/json").status_code == 202
    assert client.get("/api/v1/portal/account").status_code == 401
    code = code_in(newest(EMAIL, "Votre code de connexion"))
    answer = client.post("/api/v1/portal/sign-in/code", {"code": code}, content_type="application/json")
    assert answer.status_code == 200
    assert client.get("/api/v1/portal/dossiers").json() == {"dossiers": []}


def test_wrong_codes_are_limited_and_then_even_the_right_one_is_refused(client: Client) -> None:
    user = registered()
    password_step(client)
    code = code_in(newest(EMAIL, "Votre code de connexion"))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(one_time.CODE_ATTEMPTS):
        assert "Code refusé" in client.post("/espace-client/connexion/code/", {"code": wrong}).content.decode()
    late = client.post("/espace-client/connexion/code/", {"code": code})
    assert "plus valable (10 minutes, 5 essais)" in late.content.decode()
    assert "_auth_user_id" not in client.session
    failed = AuditEntry.objects.using("default").filter(action=Action.LOGIN_FAILED, record_id=str(user.pk))
    assert failed.count() == one_time.CODE_ATTEMPTS + 1


def test_an_expired_code_is_refused(client: Client) -> None:
    user = registered()
    password_step(client)
    eleven_minutes_ago = timezone.now() - timedelta(minutes=11)
    customers.send_sign_in_code(user=user, send=send_message, now=eleven_minutes_ago)
    expired = [m for m in inbox(EMAIL) if m.subject == "Votre code de connexion" and m.sent_at == eleven_minutes_ago]
    answer = client.post("/espace-client/connexion/code/", {"code": code_in(expired[0].body)})
    assert "plus valable (10 minutes, 5 essais)" in answer.content.decode()
    assert client.get("/api/v1/portal/account").status_code == 401


def test_wrong_passwords_are_limited_as_for_staff(client: Client) -> None:
    registered()
    for _ in range(5):
        assert "incorrect" in password_step(client, password="pas-le-bon-mot-de-passe").content.decode()
    locked = password_step(client)
    assert "Trop de tentatives de connexion" in locked.content.decode()


def test_a_reset_does_not_sign_in_ends_every_session_and_the_next_sign_in_asks_for_the_code() -> None:
    user = registered()
    laptop = signed_in_customer(Client())
    assert laptop.get("/api/v1/portal/account").status_code == 200
    visitor = Client()
    assert visitor.post("/espace-client/mot-de-passe-oublie/", {"email": EMAIL}).status_code == 200
    token = token_in(newest(EMAIL, "Choisir un nouveau mot de passe"))
    assert visitor.get(f"/espace-client/nouveau-mot-de-passe/?jeton={token}").status_code == 200
    done = visitor.post("/espace-client/nouveau-mot-de-passe/", {"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/espace-client/connexion/"
    assert "_auth_user_id" not in visitor.session
    assert visitor.get("/api/v1/portal/account").status_code == 401
    assert laptop.get("/api/v1/portal/account").status_code == 401  # every session of the account has ended
    reused = visitor.post("/espace-client/nouveau-mot-de-passe/", {"token": token, "password": "Autre-Chose-2028x"})
    assert "Ce lien est invalide" in reused.content.decode()
    assert password_step(visitor, password=NEW_PASSWORD).status_code == 302
    assert visitor.get("/api/v1/portal/account").status_code == 401  # the password alone is not enough
    assert visitor.get("/espace-client/connexion/code/").status_code == 200
    signed_in_customer(Client(), password=NEW_PASSWORD)
    assert (Action.CHANGE, "password_reset") in actions(user)


def test_a_reset_request_answers_the_same_for_known_and_unknown_addresses() -> None:
    registered()
    known = Client().post("/api/v1/portal/password-reset", {"email": EMAIL}, content_type="application/json")
    unknown = Client().post("/api/v1/portal/password-reset", {"email": "x@exemple.fr"}, content_type="application/json")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert inbox("x@exemple.fr") == []
    pages = [Client().post("/espace-client/mot-de-passe-oublie/", {"email": e}) for e in (EMAIL, "x@exemple.fr")]
    without_csrf = [re.sub(rb"[A-Za-z0-9]{64}", b"", page.content) for page in pages]  # each visitor's own token
    assert without_csrf[0] == without_csrf[1]


def test_a_customer_reaches_no_staff_page_and_no_staff_operation(staff_member) -> None:
    registered()
    client = signed_in_customer(Client())
    for page in ("/", "/connexion/second-facteur/", "/connexion/enrolement/"):
        answer = client.get(page)
        assert (answer.status_code, answer["Location"]) == (302, "/espace-client/"), page
    assert client.get("/api/v1/underwriting/queue").status_code == 403
    assert client.get("/api/v1/customers/lea.martin@exemple.fr/data-export").status_code == 403
    target = staff_member("sales_rep")
    assert client.post(f"/api/v1/staff-users/{target.pk}/deactivation").status_code == 403
    assert client.get("/api/v1/me").json()["role"] is None
    assert "Mot de passe" in Client().post("/connexion/", {"username": EMAIL, "password": PASSWORD}).content.decode()


def test_a_staff_account_cannot_sign_in_on_the_portal(staff_member) -> None:
    staff = staff_member("customer_advisor")
    answer = password_step(Client(), staff.email)
    assert "incorrect" in answer.content.decode()
    assert inbox(staff.email) == []


def test_a_customer_acts_on_their_own_dossiers_with_their_session_and_never_on_another(staff_member) -> None:
    registered()
    registered("paul.durand@exemple.fr")
    lea, paul = signed_in_customer(Client()), signed_in_customer(Client(), "paul.durand@exemple.fr")
    opened = lea.post("/api/v1/dossiers", {"product": "garantie_automobile"}, content_type="application/json")
    assert opened.status_code == 201
    mine = opened.json()["subscription_id"]
    vehicle = {key: value for key, value in CAR.items() if key.startswith("vehicle.")}
    step = lea.post(f"/api/v1/dossiers/{mine}/steps/vehicle", {"answers": vehicle}, content_type="application/json")
    assert step.status_code == 200
    assert lea.get(f"/api/v1/dossiers/{mine}").status_code == 200
    assert lea.get("/api/v1/portal/dossiers").json()["dossiers"] == [
        {"subscription_id": mine, "product": "garantie_automobile", "stage": "draft"}
    ]
    assert mine in lea.get("/espace-client/").content.decode()
    assert paul.get(f"/api/v1/dossiers/{mine}").status_code == 404
    assert (
        paul.post(
            f"/api/v1/dossiers/{mine}/withdrawal", {"reason": "pas à moi"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert paul.get("/api/v1/portal/dossiers").json() == {"dossiers": []}
    staff_opened = signed_in(Client(), staff_member("customer_advisor")).post(
        "/api/v1/dossiers", {"product": "garantie_automobile"}, content_type="application/json"
    )
    assert lea.get(f"/api/v1/dossiers/{staff_opened.json()['subscription_id']}").status_code == 404


def test_an_idle_customer_session_is_ended() -> None:
    registered()
    client = signed_in_customer(Client())
    session = client.session
    session["souscription_seen_at"] = int(timezone.now().timestamp()) - 31 * 60
    session.save()
    assert client.get("/api/v1/portal/account").status_code == 401


def test_the_api_resets_the_password_without_signing_in_and_signs_out_every_session() -> None:
    registered()
    laptop, phone = signed_in_customer(Client()), signed_in_customer(Client())
    assert laptop.post("/api/v1/portal/sign-out").status_code == 204
    assert phone.get("/api/v1/portal/account").status_code == 401
    visitor = Client()
    visitor.post("/api/v1/portal/password-reset", {"email": EMAIL}, content_type="application/json")
    token = token_in(newest(EMAIL, "Choisir un nouveau mot de passe"))
    weak = {"token": token, "password": "court"}
    answer = visitor.post("/api/v1/portal/password-reset/confirmation", weak, content_type="application/json")
    assert answer.json()["errors"][0]["code"] == "weak_password"  # refused: the link still works
    body = {"token": token, "password": NEW_PASSWORD}
    assert (
        visitor.post("/api/v1/portal/password-reset/confirmation", body, content_type="application/json").status_code
        == 204
    )
    assert visitor.get("/api/v1/portal/account").status_code == 401
    signed_in_customer(visitor, password=NEW_PASSWORD)


def test_registering_again_an_unverified_address_replaces_the_earlier_password() -> None:
    squatter = Client()
    assert register(squatter, password="Squatteur-Mot-2026").status_code == 202
    assert register(Client(), password=NEW_PASSWORD).status_code == 202  # the address's owner registers too
    token = token_in(newest(EMAIL, "Confirmez votre adresse e-mail"))
    assert Client().post("/espace-client/verification/", {"token": token}).status_code == 302
    assert password_step(Client(), password="Squatteur-Mot-2026").status_code != 302
    signed_in_customer(Client(), password=NEW_PASSWORD)


def test_a_password_reset_ends_a_sign_in_waiting_for_its_code() -> None:
    registered()
    attacker = Client()
    assert password_step(attacker).status_code == 302  # has the old password, waits for a code
    reset = Client()
    reset.post("/espace-client/mot-de-passe-oublie/", {"email": EMAIL})
    token = token_in(newest(EMAIL, "Choisir un nouveau mot de passe"))
    reset.post("/espace-client/nouveau-mot-de-passe/", {"token": token, "password": NEW_PASSWORD})
    again = attacker.post("/api/v1/portal/sign-in/new-code", content_type="application/json")
    assert again.status_code == 401  # the waiting sign-in ended with the old password: no new code to guess at
    assert attacker.get("/api/v1/portal/account").status_code == 401
