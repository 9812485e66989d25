"""JWT bearer tokens, offline, with keys generated here (RS256 and ES256): valid tokens post, every forgery
in issue 17's list is refused and publishes nothing; the JWKS URL is cached."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from shared.schema import SAMPLE_TRADE
from shared.settings import Settings
from tradedata.app import create_app
from tradedata.service import PRINCIPAL_HEADER
from unit.test_api_http import FakeProducer

TODAY = date(2026, 11, 24)
LIVE = {**SAMPLE_TRADE, "maturity_date": "2027-06-30"}
ISSUER, AUDIENCE = "https://idp.bank.example", "tradestore"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> dict[str, Any]:
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(EC_KEY.public_key()))
    return {"keys": [{**rsa_jwk, "kid": "rsa-1", "use": "sig"}, {**ec_jwk, "kid": "ec-1", "use": "sig"}]}


def token(
    *, key: Any = RSA_KEY, alg: str = "RS256", kid: str = "rsa-1", scope: Any = "trades:write", **claims: Any
) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "svc-booking", "iat": now, "exp": now + 300}
    body.update({"scope" if isinstance(scope, str) else "scp": scope}, **claims)
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None}, key, algorithm=alg, headers={"kid": kid}
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key() -> str:
    """The classic confusion attack: HMAC-sign with the RSA public key (PEM) as the secret."""
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "attacker", "exp": now + 300, "scope": "trades:write"}
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unsigned() -> str:
    now = int(time.time())
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "rsa-1"}).encode())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "attacker", "exp": now + 300, "scope": "trades:write"}
    return f"{header}.{b64(json.dumps(claims).encode())}."


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks()))
    return path


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


def jwt_settings(**extra: Any) -> Settings:
    return Settings(
        tradestore_env="test", tradedata_jwt_issuer=ISSUER, tradedata_jwt_audience=AUDIENCE, **extra
    )


@pytest.fixture
def client(producer: FakeProducer, jwks_file: Path) -> Iterator[TestClient]:
    app = create_app(jwt_settings(tradedata_jwks_file=jwks_file), producer=producer, clock=lambda: TODAY)
    with TestClient(app) as http:
        yield http


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


# Tokens are signed when the test runs, not at collection: a full suite reaches this file minutes later.
@pytest.mark.parametrize(
    "sign",
    [token, lambda: token(key=EC_KEY, alg="ES256", kid="ec-1", scope=["trades:write", "trades:read"])],
    ids=["RS256-scope", "ES256-scp"],
)
def test_valid_token_posts_and_the_record_names_its_subject(
    client: TestClient, producer: FakeProducer, sign: Callable[[], str]
) -> None:
    assert client.post("/trades", json=LIVE, headers=bearer(sign())).status_code == 201
    assert producer.headers == [[(PRINCIPAL_HEADER, b"svc-booking")]]


FORGED = {
    "expired": lambda: token(exp=int(time.time()) - 120),
    "not yet valid": lambda: token(nbf=int(time.time()) + 120),
    "wrong audience": lambda: token(aud="another-service"),
    "wrong issuer": lambda: token(iss="https://evil.example"),
    "unknown kid": lambda: token(kid="rsa-9"),
    "signed by another key": lambda: token(key=OTHER_KEY),
    "alg none": unsigned,
    "HS256 with the public key": hs256_with_public_key,
    "no exp": lambda: token(exp=None),
    "ES256 header on the RSA kid": lambda: token(key=EC_KEY, alg="ES256", kid="rsa-1"),
}


@pytest.mark.parametrize("name", list(FORGED))
def test_forged_or_unusable_tokens_are_refused_401_and_nothing_is_published(
    client: TestClient, producer: FakeProducer, name: str
) -> None:
    r = client.post("/trades", json=LIVE, headers=bearer(FORGED[name]()))
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert producer.sent == []


def test_clock_skew_within_the_leeway_is_tolerated(client: TestClient) -> None:
    r = client.post("/trades", json=LIVE, headers=bearer(token(exp=int(time.time()) - 10)))
    assert r.status_code == 201
    with pytest.raises(ValueError, match="less than or equal to 300"):
        jwt_settings(tradedata_jwt_leeway_s=3600)


def test_token_without_the_scope_is_403_naming_it(client: TestClient, producer: FakeProducer) -> None:
    r = client.post("/trades", json=LIVE, headers=bearer(token(scope="trades:read")))
    assert r.status_code == 403
    assert "trades:write" in r.json()["detail"]
    assert client.get("/trades", headers=bearer(token(scope="trades:write"))).status_code == 403
    assert producer.sent == []


def test_jwt_needs_issuer_and_audience(jwks_file: Path) -> None:
    with pytest.raises(RuntimeError, match="TRADEDATA_JWT_ISSUER"):
        create_app(Settings(tradestore_env="test", tradedata_jwks_file=jwks_file))


class JwksServer:
    """The issuer's JWKS endpoint on a free port, counting fetches."""

    def __init__(self) -> None:
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def test_jwks_url_is_fetched_once_and_cached_and_unknown_kids_do_not_refetch_each_time(
    producer: FakeProducer, jwks_server: JwksServer
) -> None:
    app = create_app(jwt_settings(tradedata_jwks_url=jwks_server.url), producer=producer, clock=lambda: TODAY)
    with TestClient(app) as http:
        for _ in range(3):
            assert http.post("/trades", json=LIVE, headers=bearer(token())).status_code == 201
        assert jwks_server.fetches == 1
        for _ in range(3):
            assert http.post("/trades", json=LIVE, headers=bearer(token(kid="rsa-9"))).status_code == 401
        assert jwks_server.fetches == 2  # one bounded refetch for the unknown kid, not one per request
