"""Staff single sign-on against a real OpenID provider (npm `oidc-provider` on 127.0.0.1, see oidc_provider.py).

The browser is played by hand: Django's test client for our pages, httpx for the provider's, each redirect followed
explicitly. Every refusal is asserted by its stable code, with nobody signed in afterwards."""

from __future__ import annotations

import dataclasses
import time
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import jwt
import pytest
from django.test import Client

from souscription.identity import oidc
from souscription.identity.models import User
from souscription.identity.sso import PENDING_KEY
from tests.integration.conftest import PASSWORD
from tests.integration.oidc_provider import ACCOUNTS, CLIENT_ID, CLIENT_SECRET, OpenIdProvider

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]

ALEX = ACCOUNTS["alex"]["email"]


@pytest.fixture
def sso(settings: Any, openid_provider: OpenIdProvider) -> OpenIdProvider:
    """Single sign-on configured on the test provider (MFA required, the default)."""
    configure(settings, oidc_issuer=openid_provider.issuer)
    return openid_provider


def configure(settings: Any, **changes: Any) -> None:
    base = {"oidc_client_id": CLIENT_ID, "oidc_client_secret": CLIENT_SECRET, "oidc_require_mfa": True}
    settings.SOUSCRIPTION = dataclasses.replace(settings.SOUSCRIPTION, **{**base, **changes})
    oidc.clear_caches()


def staff(role: str = "jurist", email: str = ALEX, **fields: Any) -> User:
    return User.objects.create_user(email, PASSWORD, role=role, **fields)


def through_provider(authorize_url: str, *, account: str = "alex", amr: str = "pwd,otp", acr: str = "") -> str:
    """Sign in at the provider as `account` and return the callback URL it sends the browser back to."""
    url = authorize_url
    with httpx.Client(timeout=10) as browser:
        for _ in range(12):
            answer = browser.get(url)
            if answer.status_code == 200 and urlparse(url).path.startswith("/interaction/"):
                assert answer.json()["prompt"] == "login"
                answer = browser.post(f"{url}/login", data={"account": account, "amr": amr, "acr": acr})
            assert answer.is_redirect, (answer.status_code, answer.text[:500])
            url = urljoin(url, answer.headers["Location"])
            if url.startswith("http://testserver/"):
                return url
    raise AssertionError("the provider never sent the browser back")


def start(client: Client, *, next_url: str = "") -> str:
    answer = client.post("/connexion/sso/", {"next": next_url} if next_url else {})
    assert answer.status_code == 302, answer.content.decode()[:500]
    return str(answer["Location"])


def refused_with(answer: Any, code: str) -> None:
    assert answer.status_code in (403, 503), answer.status_code
    assert f"<code>{code}</code>" in answer.content.decode()


def nobody_signed_in(client: Client) -> None:
    assert "_auth_user_id" not in client.session
    assert client.get("/api/v1/me").status_code == 401


def test_the_login_page_offers_single_sign_on_only_when_it_is_configured(client: Client, settings: Any) -> None:
    button = "Se connecter avec l'authentification unique"
    configure(settings, oidc_issuer="")
    assert button not in client.get("/connexion/").content.decode()
    configure(settings, oidc_issuer="https://sso.assureur.test")
    assert button in client.get("/connexion/").content.decode()


def test_a_staff_member_signs_in_with_the_providers_mfa_and_reaches_their_home_and_the_api(
    client: Client, sso: OpenIdProvider
) -> None:
    staff("estimator")
    client.get("/connexion/")
    client.session.save()
    before = client.session.session_key
    authorize = start(client)
    query = parse_qs(urlparse(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert {"state", "nonce", "code_challenge"} <= query.keys()
    answer = client.get(through_provider(authorize))
    assert answer.status_code == 302
    assert answer["Location"] == "/"
    assert client.session.session_key != before
    home = client.get("/")
    assert home.status_code == 200
    assert client.get("/api/v1/me").json()["role"] == "estimator"


def test_an_acr_the_insurer_trusts_proves_the_second_factor(client: Client, settings: Any, sso: OpenIdProvider) -> None:
    configure(settings, oidc_issuer=sso.issuer, oidc_acr_values=("urn:assureur:mfa",))
    staff()
    authorize = start(client)
    assert "acr_values=urn%3Aassureur%3Amfa" in authorize
    answer = client.get(through_provider(authorize, amr="pwd", acr="urn:assureur:mfa"))
    assert answer.status_code == 302
    assert client.get("/api/v1/me").status_code == 200


def test_a_sign_in_without_mfa_is_refused_when_mfa_is_required(client: Client, sso: OpenIdProvider) -> None:
    staff()
    refused_with(client.get(through_provider(start(client), amr="pwd")), "sso_mfa_missing")
    nobody_signed_in(client)


def test_without_required_mfa_a_password_only_sign_in_still_asks_our_second_factor(
    client: Client, settings: Any, sso: OpenIdProvider
) -> None:
    configure(settings, oidc_issuer=sso.issuer, oidc_require_mfa=False)
    staff()
    answer = client.get(through_provider(start(client), amr="pwd"))
    assert answer["Location"].startswith("/connexion/second-facteur/")
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_an_email_the_provider_does_not_vouch_for_is_refused(client: Client, sso: OpenIdProvider) -> None:
    staff(email=ACCOUNTS["camille"]["email"])
    refused_with(client.get(through_provider(start(client), account="camille")), "sso_email_unverified")
    nobody_signed_in(client)


def test_an_unknown_person_gets_no_account(client: Client, sso: OpenIdProvider) -> None:
    accounts = User.objects.count()
    answer = client.get(through_provider(start(client), account="inconnu"))
    refused_with(answer, "sso_unknown_account")
    assert "responsable informatique" in answer.content.decode()
    assert User.objects.count() == accounts
    nobody_signed_in(client)


def test_a_disabled_account_cannot_sign_in_by_single_sign_on(client: Client, sso: OpenIdProvider) -> None:
    staff(is_active=False)
    refused_with(client.get(through_provider(start(client))), "sso_account_disabled")
    nobody_signed_in(client)


def test_a_callback_works_once_even_after_a_refusal(client: Client, sso: OpenIdProvider) -> None:
    callback = through_provider(start(client))
    refused_with(client.get(callback), "sso_unknown_account")
    staff()  # the account now exists: replaying the same answer must still not sign anybody in
    refused_with(client.get(callback), "sso_state_invalid")
    nobody_signed_in(client)


def test_a_replayed_code_is_refused_by_the_provider_and_shown_clearly(client: Client, sso: OpenIdProvider) -> None:
    staff()
    callback = through_provider(start(client))
    assert client.get(callback).status_code == 302
    attacker = Client()
    fresh_state = parse_qs(urlparse(start(attacker)).query)["state"][0]
    used_code = parse_qs(urlparse(callback).query)["code"][0]
    replay = attacker.get("/connexion/sso/retour/", {"code": used_code, "state": fresh_state})
    refused_with(replay, "sso_code_refused")
    nobody_signed_in(attacker)


def tamper_pending(client: Client, **changes: Any) -> None:
    session = client.session
    pending = session[PENDING_KEY]
    for entry in pending.values():
        entry.update(changes)
        for name in [name for name, value in changes.items() if value is None]:
            del entry[name]
    session[PENDING_KEY] = pending
    session.save()


def test_a_callback_whose_sign_in_has_no_pkce_verifier_is_refused(client: Client, sso: OpenIdProvider) -> None:
    staff()
    authorize = start(client)
    tamper_pending(client, code_verifier=None)
    refused_with(client.get(through_provider(authorize)), "sso_pkce_missing")
    nobody_signed_in(client)


def test_a_code_exchanged_without_its_pkce_verifier_is_refused_by_the_provider(
    client: Client, sso: OpenIdProvider
) -> None:
    staff()
    authorize = start(client)
    tamper_pending(client, code_verifier="un-autre-verificateur-" + "x" * 43)
    refused_with(client.get(through_provider(authorize)), "sso_code_refused")
    nobody_signed_in(client)


def test_a_token_for_another_sign_in_is_refused_by_its_nonce(client: Client, sso: OpenIdProvider) -> None:
    staff()
    authorize = start(client)
    tamper_pending(client, nonce="nonce-d-une-autre-connexion")
    refused_with(client.get(through_provider(authorize)), "sso_wrong_nonce")
    nobody_signed_in(client)


def test_a_provider_answering_for_another_issuer_is_refused(client: Client, settings: Any, sso: OpenIdProvider) -> None:
    configure(settings, oidc_issuer=sso.issuer.replace("127.0.0.1", "localhost"))
    refused_with(client.post("/connexion/sso/"), "sso_wrong_issuer")


# -- the ID token's checks, on tokens signed with the provider's own key ----------------------------------------


def mint(provider: OpenIdProvider, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": provider.issuer, "sub": "alex", "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims.update(changes)
    for name in [name for name, value in changes.items() if value is None]:
        del claims[name]
    return jwt.encode(claims, provider.private_key, algorithm="RS256", headers={"kid": provider.key_id})


def verify(provider: OpenIdProvider, token: str) -> dict[str, Any]:
    config = oidc.ClientConfig(issuer=provider.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    metadata = oidc.discover(issuer=provider.issuer)
    return oidc.verify_id_token(token=token, config=config, metadata=metadata, nonce="n-1")


def test_a_token_signed_by_the_provider_with_the_right_claims_is_accepted(sso: OpenIdProvider) -> None:
    assert verify(sso, mint(sso))["sub"] == "alex"
    assert verify(sso, mint(sso, aud=[CLIENT_ID, "autre"], azp=CLIENT_ID))["sub"] == "alex"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"iss": "https://faux-fournisseur.test"}, oidc.SsoWrongIssuer),
        ({"aud": "autre-application"}, oidc.SsoWrongAudience),
        ({"aud": [CLIENT_ID, "autre-application"]}, oidc.SsoWrongAudience),  # several audiences and no azp
        ({"azp": "autre-application"}, oidc.SsoWrongAudience),
        ({"nonce": "n-2"}, oidc.SsoWrongNonce),
        ({"nonce": None}, oidc.SsoTokenInvalid),
        ({"exp": int(time.time()) - 600}, oidc.SsoTokenExpired),
        ({"iat": int(time.time()) + 600}, oidc.SsoTokenExpired),
        ({"exp": None}, oidc.SsoTokenInvalid),
    ],
    ids=["issuer", "audience", "audiences-without-azp", "azp", "nonce", "no-nonce", "expired", "future", "no-exp"],
)
def test_a_token_with_one_wrong_claim_is_refused(sso: OpenIdProvider, changes: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        verify(sso, mint(sso, **changes))


def test_a_token_signed_by_another_key_or_not_signed_is_refused(sso: OpenIdProvider) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    foreign = dataclasses.replace(sso, private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(oidc.SsoBadSignature):
        verify(sso, mint(foreign))
    unsigned = jwt.encode(jwt.decode(mint(sso), options={"verify_signature": False}), key=None, algorithm="none")
    with pytest.raises(oidc.SsoBadSignature):
        verify(sso, unsigned)
    with pytest.raises(oidc.SsoBadSignature):
        verify(sso, jwt.encode({"iss": sso.issuer}, CLIENT_SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    ("claims", "proven"),
    [
        ({"amr": ["pwd", "otp"]}, True),
        ({"amr": ["hwk"]}, True),
        ({"amr": ["pwd"]}, False),
        ({"amr": "mfa"}, False),  # amr is a list; a string is not read letter by letter
        ({"acr": "urn:assureur:mfa"}, True),
        ({"acr": "urn:assureur:mot-de-passe"}, False),
        ({}, False),
    ],
)
def test_the_second_factor_is_read_from_amr_or_a_trusted_acr(claims: dict[str, Any], proven: bool) -> None:
    assert oidc.check_second_factor(claims=claims, acr_values=("urn:assureur:mfa",)) is proven
