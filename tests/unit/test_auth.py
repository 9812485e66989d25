"""Access control on TradeData: secure by default when auth is on, scoped API keys, provenance, metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.credentials import CredentialsError, parse_api_keys
from shared.ports import StoredTrade, TradeFilter
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from tradedata.app import create_app
from tradedata.auth import key_matches
from tradedata.service import PRINCIPAL_HEADER
from unit.test_api_http import FakeProducer

TODAY = date(2026, 11, 24)
LIVE = {**SAMPLE_TRADE, "maturity_date": "2027-06-30"}
WRITER, READER, OPS = "w-secret-0123456789", "r-secret-0123456789", "o-secret-0123456789"
KEYS = f"ingest:trades:write:{WRITER}; dashboard:trades:read:{READER}\nops:trades:read,trades:admin:{OPS}"


class Reader:
    """One stored trade, submitted by `ingest`."""

    name = "fake"

    def __init__(self) -> None:
        stored = StoredTrade(TradePayload.model_validate(LIVE), 0, 7, datetime.now(UTC), "ingest")
        self.trades = [stored]

    def versions(self, trade_id: str) -> list[StoredTrade]:
        return [t for t in self.trades if t.trade.trade_id == trade_id]

    def find(self, filters: TradeFilter, limit: int, offset: int) -> tuple[list[StoredTrade], int]:
        return self.trades, len(self.trades)

    def ping(self) -> None: ...

    def close(self) -> None: ...


def make_client(producer: FakeProducer, **settings: Any) -> TestClient:
    cfg = Settings(tradestore_env="test", **settings)
    return TestClient(create_app(cfg, producer=producer, clock=lambda: TODAY, reader=Reader()))


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
def client(producer: FakeProducer) -> Iterator[TestClient]:
    with make_client(producer, tradedata_api_keys=KEYS) as http:
        yield http


def key(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


def problem(r: Any, status: int, title: str) -> dict[str, Any]:
    """The RFC 9457 body of a refusal: type, title, status and a detail, as application/problem+json."""
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert {k: body[k] for k in ("type", "title", "status")} == {
        "type": "about:blank",
        "title": title,
        "status": status,
    }
    assert body["detail"]
    return body


def test_post_without_key_is_401_problem_with_www_authenticate_and_nothing_sent(
    client: TestClient, producer: FakeProducer
) -> None:
    r = client.post("/trades", json=LIVE)
    body = problem(r, 401, "Authentication required")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "X-API-Key" in body["detail"]
    assert producer.sent == []


@pytest.mark.parametrize(
    "headers",
    [{"X-API-Key": "nope"}, {"Authorization": "Bearer nope"}, {"X-API-Key": WRITER + "x"}],
)
def test_wrong_key_is_403_and_no_secret_is_echoed_or_logged(
    client: TestClient, producer: FakeProducer, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tradedata.auth"):
        r = client.post("/trades", json=LIVE, headers=headers)
    problem(r, 403, "Forbidden")
    presented = next(iter(headers.values())).removeprefix("Bearer ")
    for text in (r.text, caplog.text):
        assert presented not in text
        assert WRITER not in text
    assert "invalid API key" in caplog.text
    assert producer.sent == []


@pytest.mark.parametrize("headers", [key(WRITER), {"Authorization": f"Bearer {WRITER}"}])
def test_write_key_posts_and_the_record_names_its_key_id(
    client: TestClient, producer: FakeProducer, headers: dict[str, str]
) -> None:
    assert client.post("/trades", json=LIVE, headers=headers).status_code == 201
    assert [k for _, _, k in producer.sent] == [b"T-1001:1:B-1"]
    assert producer.headers == [[(PRINCIPAL_HEADER, b"ingest")]]


def test_read_only_key_cannot_post_403_naming_the_scope_and_nothing_is_published(
    client: TestClient, producer: FakeProducer
) -> None:
    for path, body in (("/trades", LIVE), ("/trades/batch", [LIVE])):
        r = client.post(path, json=body, headers=key(READER))
        assert "trades:write" in problem(r, 403, "Forbidden")["detail"]
        assert 'scope="trades:write"' in r.headers["www-authenticate"]
    assert producer.sent == []


def test_batch_needs_the_write_scope_and_every_record_carries_the_principal(
    client: TestClient, producer: FakeProducer
) -> None:
    assert client.post("/trades/batch", json=[LIVE]).status_code == 401
    r = client.post("/trades/batch", json=[LIVE, {**LIVE, "version": 2}], headers=key(WRITER))
    assert r.json()["counts"]["accepted"] == 2
    assert producer.headers == [[(PRINCIPAL_HEADER, b"ingest")]] * 2


def test_a_valid_key_next_to_a_wrong_one_is_refused(client: TestClient, producer: FakeProducer) -> None:
    headers = {**key(WRITER), "Authorization": "Bearer wrong"}
    problem(client.post("/trades", json=LIVE, headers=headers), 403, "Forbidden")
    assert producer.sent == []


def test_auth_is_checked_before_the_body_is_read(client: TestClient) -> None:
    r = client.post("/trades", content=b"x" * 100_000, headers={"content-type": "text/plain"})
    assert r.status_code == 401


def test_reads_need_a_principal_with_trades_read_by_default(client: TestClient) -> None:
    for path in ("/trades", "/trades/T-1001"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=key("bad-key-0000")).status_code == 403
        r = client.get(path, headers=key(WRITER))
        assert r.status_code == 403
        assert "trades:read" in r.json()["detail"]
        assert client.get(path, headers=key(READER)).status_code == 200


def test_probes_and_the_openapi_description_stay_open(client: TestClient) -> None:
    for path in ("/health", "/ready", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_principal_is_returned_to_trades_admin_only(client: TestClient) -> None:
    assert "principal" not in client.get("/trades/T-1001", headers=key(READER)).json()
    assert client.get("/trades/T-1001", headers=key(OPS)).json()["principal"] == "ingest"
    assert client.get("/trades", headers=key(OPS)).json()["items"][0]["principal"] == "ingest"
    assert "principal" not in client.get("/trades", headers=key(READER)).json()["items"][0]
    versions = client.get("/trades/T-1001?all=true", headers=key(OPS)).json()["versions"]
    assert versions[0]["principal"] == "ingest"


def refused(text: str, reason: str) -> float:
    prefix = f'tradedata_requests_refused_total{{reason="{reason}"}} '
    return next(
        (float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix)), 0
    )


def test_metrics_need_trades_admin_and_count_refusals_by_reason(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=key(READER)).status_code == 403
    before = client.get("/metrics", headers=key(OPS)).text
    client.post("/trades", json=LIVE)
    client.post("/trades", json=LIVE, headers=key("bad-key-0000"))
    client.post("/trades", json=LIVE, headers=key(READER))
    client.post("/trades", json={**LIVE, "version": 0}, headers=key(WRITER))
    client.post("/trades", content=b"{", headers={**key(WRITER), "content-type": "application/json"})
    after = client.get("/metrics", headers=key(OPS)).text
    for reason in ("no_credentials", "invalid_key", "missing_scope", "invalid_trade", "malformed_body"):
        assert refused(after, reason) >= refused(before, reason) + 1, reason


def test_open_reads_is_an_explicit_setting_and_writes_stay_protected(producer: FakeProducer) -> None:
    with make_client(producer, tradedata_api_keys=KEYS, tradedata_open_reads=True) as http:
        assert http.get("/trades").status_code == 200
        assert "principal" not in http.get("/trades").json()["items"][0]
        assert http.get("/trades", headers=key("bad-key-0000")).status_code == 403
        assert http.post("/trades", json=LIVE).status_code == 401
        assert http.get("/metrics").status_code == 401


def test_production_refuses_open_reads_unless_confirmed() -> None:
    prod = {
        "tradestore_env": "production",
        "tradedata_api_keys": SecretStr(KEYS),
        "tradedata_open_reads": True,
    }
    with pytest.raises(RuntimeError, match="TRADEDATA_OPEN_READS_CONFIRMED"):
        create_app(Settings(**prod))
    create_app(Settings(**prod, tradedata_open_reads_confirmed=True))


def test_auth_off_by_default_and_openapi_then_declares_no_security(producer: FakeProducer) -> None:
    with make_client(producer) as http:
        assert http.post("/trades", json=LIVE).status_code == 201
        assert http.get("/trades").status_code == 200
        spec = http.get("/openapi.json").json()
    assert producer.headers == [None]  # no principal, no provenance header
    assert "securitySchemes" not in spec.get("components", {})
    assert "401" not in spec["paths"]["/trades"]["post"]["responses"]


def test_openapi_declares_both_schemes_and_401_403_when_auth_is_on(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"apiKey", "http"}
    for path, method in (("/trades", "post"), ("/trades", "get"), ("/metrics", "get")):
        assert {"401", "403"} <= set(spec["paths"][path][method]["responses"])
    assert "security" not in spec["paths"]["/health"]["get"]


def test_legacy_comma_separated_keys_get_ids_and_read_write_scopes(producer: FakeProducer) -> None:
    with make_client(producer, tradedata_api_keys="alpha-key-123, beta-key-456") as http:
        assert http.post("/trades", json=LIVE, headers=key("beta-key-456")).status_code == 201
        assert http.get("/trades", headers=key("alpha-key-123")).status_code == 200
        assert http.get("/metrics", headers=key("alpha-key-123")).status_code == 403
    assert producer.headers == [[(PRINCIPAL_HEADER, b"key2")]]


def test_keys_file_is_read_with_comments(producer: FakeProducer, tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# id:scopes:secret\nfilekey:trades:write:{WRITER}  # the ingest job\n")
    with make_client(producer, tradedata_api_keys_file=path) as http:
        assert http.post("/trades", json=LIVE, headers=key(WRITER)).status_code == 201
    assert producer.headers == [[(PRINCIPAL_HEADER, b"filekey")]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"a:trades:writ:{WRITER}", "unknown scope"),
        (f"a:trades:write:{WRITER};a:trades:read:{READER}", "unique"),
        (f"bad/id:trades:write:{WRITER}", "the id must"),
        ("a:trades:write:short", "at least 8"),
        (f"a:{WRITER}", "id:scope,scope:secret"),
    ],
)
def test_bad_key_configuration_is_refused_without_printing_a_secret(text: str, message: str) -> None:
    with pytest.raises(CredentialsError, match=message) as info:
        parse_api_keys(text)
    assert WRITER not in str(info.value)
    assert READER not in str(info.value)
    with pytest.raises(RuntimeError, match=message):
        create_app(Settings(tradestore_env="test", tradedata_api_keys=SecretStr(text)))


def test_key_comparison_checks_every_configured_key() -> None:
    import hashlib

    digests = [hashlib.sha256(k.encode()).digest() for k in ("a", "b", "c")]
    assert key_matches("c", digests)
    assert not key_matches("d", digests)
    assert not key_matches("", digests)
    assert key_matches("\ud800", [hashlib.sha256("\ud800".encode("utf-8", "surrogatepass")).digest()])


def test_settings_never_print_keys_and_list_their_secrets_for_scrubbing() -> None:
    cfg = Settings(tradedata_api_keys=SecretStr(" k1 ,k2,, "))
    assert cfg.api_keys() == ["k1", "k2"]
    assert "k1" not in repr(cfg)
    assert "k1" not in str(cfg.model_dump())
    assert {"k1", "k2"} <= set(cfg.secret_values())
    assert Settings(tradedata_api_keys=SecretStr(KEYS)).api_keys() == [WRITER, READER, OPS]


def test_production_api_refuses_auth_off_unless_anonymous_is_explicit() -> None:
    with pytest.raises(RuntimeError, match="no API keys and no JWT issuer in production"):
        create_app(Settings(tradestore_env="production"))
    assert Settings(tradestore_env="production").api_keys() == []  # a consumer needs no keys
    create_app(Settings(tradestore_env="production", tradedata_allow_anonymous=True))
    create_app(Settings(tradestore_env="production", tradedata_api_keys=SecretStr("s3cr3t-k3y")))
    with pytest.raises(RuntimeError, match="placeholder") as info:
        create_app(Settings(tradestore_env="production", tradedata_api_keys=SecretStr("good-key,changeme")))
    assert "good-key" not in str(info.value)


def test_settings_read_security_fields_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEDATA_API_KEYS", "env-key")
    monkeypatch.setenv("TRADEDATA_OPEN_READS", "true")
    monkeypatch.setenv("TRADEDATA_LIMIT_CONCURRENCY", "64")
    cfg = Settings()
    assert cfg.api_keys() == ["env-key"]
    assert cfg.tradedata_open_reads is True
    assert cfg.tradedata_limit_concurrency == 64
