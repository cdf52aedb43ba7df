"""Staff sign-in: a password, then a mandatory second factor (TOTP); guesses limited; sessions that end.

Every test signs in through the real pages (no `force_login`): what is asserted is what a staff member lives."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from souscription.identity import second_factor
from souscription.identity.middleware import SEEN_AT, SIGNED_IN_AT
from souscription.identity.models import User
from tests.integration.conftest import PASSWORD, signed_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]


def password_only(client: Client, user: User, password: str = PASSWORD) -> object:
    return client.post("/connexion/", {"username": user.email, "password": password})


def enrolment_key(client: Client) -> str:
    found = re.search(r"<code>([A-Z2-7]{16,})</code>", client.get("/connexion/enrolement/").content.decode())
    assert found, "the enrolment page shows the key to type into the app"
    return found.group(1)


def enrolled(client: Client, user: User) -> str:
    """Signed in and enrolled; returns the authenticator key. The session is then signed out."""
    password_only(client, user)
    key = enrolment_key(client)
    answer = client.post("/connexion/enrolement/", {"code": second_factor.authenticator_code(key, at=time.time())})
    assert answer.status_code == 302
    client.post("/deconnexion/")
    return key


def test_a_password_alone_opens_neither_the_pages_nor_the_api(client: Client, staff_member) -> None:
    password_only(client, staff_member("jurist"))
    page = client.get("/")
    assert page.status_code == 302
    assert page["Location"].startswith("/connexion/second-facteur/")
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/underwriting/queue").status_code == 401


def test_a_first_sign_in_enrols_an_authenticator_and_then_opens_the_role_home(client: Client, staff_member) -> None:
    user = staff_member("estimator")
    answer = password_only(client, user)
    assert client.get(answer["Location"])["Location"].startswith("/connexion/enrolement/")
    key = enrolment_key(client)
    wrong = client.post("/connexion/enrolement/", {"code": "000000"})
    assert "Code refusé" in wrong.content.decode()
    assert second_factor.confirmed_device(user) is None
    time.sleep(1.1)  # after one wrong code the next is accepted only a second later (the throttle's first step)
    code = second_factor.authenticator_code(key, at=time.time())
    assert client.post("/connexion/enrolement/", {"code": code}).status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").json()["role"] == "estimator"


def test_a_code_is_refused_the_second_time(staff_member) -> None:
    user = staff_member("accountant")
    key = enrolled(Client(), user)
    code = second_factor.authenticator_code(key, at=time.time() + 30)  # the next step: not used by the enrolment
    first, second = Client(), Client()
    password_only(first, user)
    assert first.post("/connexion/second-facteur/", {"code": code}).status_code == 302
    password_only(second, user)
    replay = second.post("/connexion/second-facteur/", {"code": code})
    assert replay.status_code == 200
    assert "un code ne sert qu" in replay.content.decode()
    assert second.get("/").status_code == 302


def test_wrong_codes_are_slowed_down_even_when_the_right_one_follows(client: Client, staff_member) -> None:
    user = staff_member("investigator")
    key = enrolled(Client(), user)
    password_only(client, user)
    for guess in ("111111", "222222"):
        client.post("/connexion/second-facteur/", {"code": guess})
    right = second_factor.authenticator_code(key, at=time.time() + 30)
    throttled = client.post("/connexion/second-facteur/", {"code": right})
    assert "Trop de codes erronés" in throttled.content.decode()
    assert client.get("/").status_code == 302


def test_wrong_passwords_lock_the_account_name_for_a_while_whatever_the_password(client: Client, staff_member) -> None:
    user = staff_member("jurist")
    for _ in range(second_factor.MAX_FAILURES):
        assert password_only(client, user, "pas-le-bon-mot-de-passe").status_code == 200
    locked = password_only(client, user)  # the right password, too late
    assert locked.status_code == 200
    assert "Trop de tentatives de connexion" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_unknown_name_is_limited_the_same_way_so_existence_is_not_revealed(client: Client) -> None:
    for _ in range(second_factor.MAX_FAILURES + 1):
        answer = client.post("/connexion/", {"username": "personne@assureur.test", "password": "x" * 12})
    assert "Trop de tentatives de connexion" in answer.content.decode()  # type: ignore[attr-defined]


def test_signing_in_gives_a_new_session_id(client: Client, staff_member) -> None:
    client.get("/connexion/")
    client.session.save()
    before = client.session.session_key
    signed_in(client, staff_member("sales_rep"))
    assert client.session.session_key != before


def test_signing_out_ends_every_session_of_the_account(staff_member) -> None:
    user = staff_member("legal_lead")
    laptop, phone = Client(), Client()
    password_only(laptop, user)
    key = enrolment_key(laptop)
    laptop.post("/connexion/enrolement/", {"code": second_factor.authenticator_code(key, at=time.time())})
    password_only(phone, user)
    phone.post("/connexion/second-facteur/", {"code": second_factor.authenticator_code(key, at=time.time() + 30)})
    assert laptop.get("/").status_code == phone.get("/").status_code == 200
    phone.post("/deconnexion/")
    assert laptop.get("/").status_code == 302
    assert laptop.get("/api/v1/me").status_code == 401


def test_an_account_disabled_by_the_it_manager_loses_its_open_sessions_at_once(client: Client, staff_member) -> None:
    user = staff_member("billing_lead")
    signed_in(client, user)
    assert client.get("/api/v1/me").status_code == 200
    it_manager = signed_in(Client(), staff_member("it_manager"))
    refused = signed_in(Client(), staff_member("accountant")).post(f"/api/v1/staff-users/{user.pk}/deactivation")
    assert refused.status_code == 403
    assert it_manager.post(f"/api/v1/staff-users/{user.pk}/deactivation").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/").status_code == 302
    assert password_only(Client(), user).status_code == 200  # the form again: a disabled account cannot sign in


def test_a_reset_second_factor_ends_the_sessions_and_asks_for_a_new_enrolment(client: Client, staff_member) -> None:
    user = staff_member("sales_lead")
    signed_in(client, user)
    it_manager = signed_in(Client(), staff_member("it_manager"))
    assert it_manager.post(f"/api/v1/staff-users/{user.pk}/second-factor-reset").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert second_factor.confirmed_device(user) is None
    signed_in(Client(), user)  # enrols a new authenticator


@pytest.mark.parametrize(("key", "age"), [(SEEN_AT, 31 * 60), (SIGNED_IN_AT, 10 * 3600 + 60)])
def test_an_idle_or_too_old_session_is_ended(client: Client, staff_member, key: str, age: int) -> None:
    signed_in(client, staff_member("director"))
    session = client.session
    session[key] = int(time.time()) - age
    session.save()
    assert client.get("/api/v1/me").status_code == 401
    assert not Session.objects.filter(session_key=session.session_key).exists()


def test_pages_and_api_answers_are_never_cached_and_pages_carry_a_strict_policy(client: Client, staff_member) -> None:
    signed_in(client, staff_member("customer_advisor"))
    page, api = client.get("/"), client.get("/api/v1/me")
    assert page["Cache-Control"] == api["Cache-Control"] == "no-store"
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "httponly" in str(client.cookies["sessionid"]).lower()
    assert "samesite=lax" in str(client.cookies["sessionid"]).lower()
