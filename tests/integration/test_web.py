"""The French UI shell: sign in, a home page per role, an accessible skeleton, nothing typed is lost."""

from __future__ import annotations

import pytest
from django.test import Client

from souscription.identity.domain import Role
from tests.integration.conftest import PASSWORD, signed_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]


def test_an_anonymous_visitor_is_sent_to_the_login_page(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/")


def test_the_login_page_is_french_and_accessible(client: Client) -> None:
    html = client.get("/connexion/").content.decode()
    assert '<html lang="fr">' in html
    assert 'class="skip-link" href="#contenu"' in html
    assert 'id="contenu"' in html
    assert 'role="banner"' in html
    assert "<main" in html
    assert 'role="contentinfo"' in html
    assert '<label for="id_username">Adresse e-mail</label>' in html
    assert "/static/django_htmx/htmx-2.min.js" in html  # vendored, no CDN


def test_a_failed_login_keeps_the_email_typed_and_says_why_in_french(client: Client, staff_member) -> None:
    staff_member("jurist", email="juriste@assureur.test")
    response = client.post("/connexion/", {"username": "juriste@assureur.test", "password": "mauvais"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="juriste@assureur.test"' in html
    assert 'role="alert"' in html
    assert "Saisissez" in html


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_own_home_page(client: Client, staff_member, role: Role) -> None:
    signed_in(client, staff_member(role.value))
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Votre espace {role.label}" in html
    assert "Vos missions" in html
    assert response["Cache-Control"] == "no-store"


def test_the_jurist_is_told_they_alone_draft_contracts(client: Client, staff_member) -> None:
    signed_in(client, staff_member("jurist"))
    assert "seul rôle habilité" in client.get("/").content.decode()


def test_a_department_sees_only_its_own_figures(client: Client, staff_member) -> None:
    signed_in(client, staff_member("accountant"))
    html = client.get("/").content.decode()
    assert "Factures en brouillon" in html
    assert "Rapports d&#x27;enquête" not in html
    assert "Tickets ouverts" not in html


def test_an_account_without_a_role_gets_a_clear_403(client: Client) -> None:
    from souscription.identity.models import User

    signed_in(client, User.objects.create_user("sans.role@assureur.test", PASSWORD))
    response = client.get("/")
    assert response.status_code == 403
    assert "responsable informatique" in response.content.decode()


def test_logout_ends_the_session(client: Client, staff_member) -> None:
    signed_in(client, staff_member("jurist"))
    client.post("/deconnexion/")
    assert client.get("/").status_code == 302
