"""A real OpenID provider for the tests: npm `oidc-provider` (tests/oidc/), installed and started on 127.0.0.1.

Without `node` and `npm` the tests that need it are skipped, saying why; with `SOUSCRIPTION_REQUIRE_OIDC=1` (set
by `.ci/run`) they fail instead. The provider signs with a key generated here, so tests can also mint tokens the
relying party must refuse (expired, for another audience...) with the provider's own key."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

PROVIDER_DIR = Path(__file__).parents[1] / "oidc"
CLIENT_ID = "souscription"
CLIENT_SECRET = "secret-du-client-de-test-0123456789"  # the test provider's client, nothing else
REDIRECT_URI = "http://testserver/connexion/sso/retour/"
ACCOUNTS = {
    "alex": {"email": "alex.sso@assureur.test", "email_verified": True},
    "camille": {"email": "camille.sso@assureur.test", "email_verified": False},
    "inconnu": {"email": "inconnu.sso@assureur.test", "email_verified": True},
}


@dataclass(frozen=True)
class OpenIdProvider:
    issuer: str
    private_key: rsa.RSAPrivateKey
    key_id: str


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("SOUSCRIPTION_REQUIRE_OIDC") == "1":
        pytest.fail(f"SOUSCRIPTION_REQUIRE_OIDC=1 but {reason}")
    pytest.skip(f"{reason}: the single sign-on tests need Node.js and npm (set SOUSCRIPTION_REQUIRE_OIDC=1 to fail)")


def _install(npm: str) -> None:
    if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    done = subprocess.run(
        [npm, "ci", "--prefix", str(PROVIDER_DIR), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        _unavailable(f"`npm ci --prefix tests/oidc` failed: {done.stderr[-500:]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _signing_jwks(key: rsa.RSAPrivateKey, key_id: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid=key_id, alg="RS256", use="sig")
    return {"keys": [jwk]}


def _wait_until_ready(process: subprocess.Popen[bytes], issuer: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the OpenID provider stopped at start: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the OpenID provider did not answer within 30 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def openid_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("`node` or `npm` is not installed")
    _install(npm)
    folder = tmp_path_factory.mktemp("openid-provider")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "jwks.json").write_text(json.dumps(_signing_jwks(key, "test-key-1")))
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "OIDC_JWKS": str(folder / "jwks.json"),
        "OIDC_CLIENT": json.dumps(
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]}
        ),
        "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
    }
    log = folder / "provider.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [node, str(PROVIDER_DIR / "provider.mjs")], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    issuer = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, issuer, log)
        yield OpenIdProvider(issuer=issuer, private_key=key, key_id="test-key-1")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
