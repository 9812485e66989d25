"""Kafka adapter: partitioning by trade_id (Kafka's murmur2), librdkafka config, settings and redaction."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from shared.kafka import client_config, murmur2, partition_for, partitioner, producer_config, topics
from shared.redact import redact_text, redact_url
from shared.settings import Settings


@pytest.mark.parametrize(
    ("data", "java_signed"),
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_kafkas_java_client(data: bytes, java_signed: int) -> None:
    # Vectors from Kafka's UtilsTest; the partitioner uses the value masked to positive.
    assert murmur2(data) == java_signed & 0x7FFFFFFF


def test_every_version_of_a_trade_goes_to_one_partition() -> None:
    assert len({partition_for("T-1001", 4) for _ in range(3)}) == 1
    assert {partition_for(f"T-{i}", 4) for i in range(200)} == {0, 1, 2, 3}


def test_producer_is_idempotent_acks_all_and_times_out_with_the_api() -> None:
    config = producer_config(Settings(kafka_publish_timeout_s=2.5, kafka_bootstrap_servers="h:1"))
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["message.timeout.ms"] == 2500
    assert config["bootstrap.servers"] == "h:1"


def test_security_settings_pass_through_to_librdkafka() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr("s3cr3t-value"),
        kafka_ssl_ca_location="/etc/ca.pem",
    )
    config = client_config(settings)
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.password"] == "s3cr3t-value"
    assert config["ssl.ca.location"] == "/etc/ca.pem"
    assert "s3cr3t-value" not in repr(settings)
    assert "sasl.username" not in client_config(Settings())


def test_default_sql_url_is_a_sqlite_file_under_home(tmp_path: object) -> None:
    settings = Settings(tradestore_home=tmp_path)
    assert settings.sql_url_value == f"sqlite:///{tmp_path}/tradestore.db"


def test_urls_with_passwords_never_show_in_repr() -> None:
    settings = Settings(
        mongo_url=SecretStr("mongodb://app:hunter2@db:27017"), sql_url=SecretStr("mssql://sa:pw9@x")
    )
    assert "hunter2" not in repr(settings)
    assert "pw9" not in repr(settings)
    assert "hunter2" in settings.secret_values()


def test_production_refuses_placeholder_passwords() -> None:
    with pytest.raises(ValidationError, match="SQL_URL uses a placeholder password"):
        Settings(
            tradestore_env="production", sql_url=SecretStr("mssql+pymssql://sa:YourStrong%21Pass@db/master")
        )
    with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD"):
        Settings(tradestore_env="production", kafka_sasl_password=SecretStr("changeme"))
    Settings(tradestore_env="local", sql_url=SecretStr("mssql+pymssql://sa:YourStrong%21Pass@db/master"))
    Settings(tradestore_env="production", sql_url=SecretStr("mssql+pymssql://sa:Xq9-long-real@db/master"))


def test_settings_read_documented_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEDATA_PORT", "9001")
    monkeypatch.setenv("TRADESTORE_MATURED_POLICY", "reject")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k:1")
    settings = Settings()
    assert (
        settings.tradedata_port,
        settings.tradestore_matured_policy,
        settings.kafka_bootstrap_servers,
    ) == (
        9001,
        "reject",
        "k:1",
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mongodb://app:hunter2@db:27017/x", "mongodb://app:***@db:27017/x"),
        ("mongodb://db:27017", "mongodb://db:27017"),
        ("mssql+pyodbc://sa:p%40ss@h/db?driver=x", "mssql+pyodbc://sa:***@h/db?driver=x"),
        ("Server=h;UID=sa;PWD=YourStrong!Pass;", "Server=h;UID=sa;PWD=***;"),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_scrubs_known_secrets_from_driver_messages() -> None:
    assert redact_text("login failed for hunter2 at x", ["hunter2", ""]) == "login failed for *** at x"


def test_a_producer_that_must_not_block_refuses_at_once_on_a_metadata_miss() -> None:
    import threading

    from shared.errors import PublishUnavailable
    from shared.kafka import TradeProducer
    from tradestore.local.process import free_port

    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", kafka_publish_timeout_s=0.5)
    producer = TradeProducer(settings, block_on_metadata=False)
    lookup_started, release = threading.Event(), threading.Event()

    def held_lookup(topic: str) -> int:  # a metadata fetch that lasts until the test releases it
        lookup_started.set()
        release.wait(30)
        raise PublishUnavailable("the held lookup ended")

    producer.warm = held_lookup  # type: ignore[method-assign]
    try:
        # "at once" without a clock: send refuses while the lookup it started is still held; a send
        # that waited for the lookup would end with the lookup's own error instead
        with pytest.raises(PublishUnavailable, match="not available yet"):
            producer.send("trades", value={"trade_id": "T-1"}, key=b"T-1:1:B-1")
        assert lookup_started.wait(5), "the metadata refresh was not started in the background"
        assert not release.is_set()
        assert not producer.broker_reachable(timeout_s=0.2)
    finally:
        release.set()
        producer.close(timeout_s=0.1)

    blocking = TradeProducer(settings)
    try:
        with pytest.raises(PublishUnavailable, match="broker unreachable"):
            blocking.partition_count("trades")
    finally:
        blocking.close(timeout_s=0.1)


def test_records_are_partitioned_by_the_values_trade_id_even_with_colons() -> None:
    from shared.kafka import trade_id_of

    assert trade_id_of({"trade_id": "A:B"}, b"A:B:1:B-1") == "A:B"
    assert trade_id_of(b'{"trade_id": "A:B", "version": 1}', b"A:B:1:B-1") == "A:B"
    assert trade_id_of(b"not json", b"X:1:B-1") == "X"  # a poison record still gets a partition
    assert trade_id_of(b"[1, 2]", b"Y:1:B-1") == "Y"


class _Msg:
    def __init__(self, topic: str, partition: int) -> None:
        self._t, self._p = topic, partition

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return 0


class _FencedOnce:
    """A confluent_kafka.Producer stand-in: the first instance is fenced, later ones acknowledge."""

    made: list[_FencedOnce] = []

    def __init__(self, config: dict[str, object]) -> None:
        self.config = config
        self.fenced = not _FencedOnce.made
        self.pending: list[tuple[object, object]] = []
        _FencedOnce.made.append(self)

    def produce(
        self,
        topic: str,
        value: object,
        key: object,
        partition: int = 0,
        on_delivery: Any = None,
        **kw: object,
    ) -> None:
        self.pending.append((on_delivery, (topic, partition)))

    def poll(self, timeout: float = 0) -> int:
        from confluent_kafka import KafkaError

        pending, self.pending = self.pending, []
        for callback, (topic, partition) in pending:
            msg = _Msg(topic, partition)
            callback(KafkaError(KafkaError.PRODUCER_FENCED) if self.fenced else None, msg)  # type: ignore[operator]
        return len(pending)

    def list_topics(self, topic: str | None = None, timeout: float = 0) -> Any:
        meta = type("T", (), {"partitions": {0: None, 1: None}, "error": None})()
        return type("Meta", (), {"topics": {topic: meta}})()

    def purge(self) -> None:
        self.poll()

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return 0

    def __len__(self) -> int:
        return len(self.pending)


def test_a_fenced_producer_fails_its_records_and_replaces_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.errors import PublishUnavailable
    from shared.kafka import TradeProducer, producer

    _FencedOnce.made = []
    monkeypatch.setattr(producer, "Producer", _FencedOnce)
    sender = TradeProducer(Settings(), client_id="kafkaconsumer-i1-dlq")
    try:
        with pytest.raises(PublishUnavailable, match="did not acknowledge"):
            sender.send("dlq", b"x", b"T-1:1:B-1", [("dlq.reason", b"undecodable")]).result(5)
        deadline = time.monotonic() + 5
        while sender.replacements == 0 and time.monotonic() < deadline:  # the delivery thread replaces it
            time.sleep(0.01)
        delivered = sender.send("dlq", b"x", b"T-1:1:B-1").result(5)
        assert delivered.topic == "dlq"
        assert sender.replacements == 1
        assert [p.config["client.id"] for p in _FencedOnce.made] == ["kafkaconsumer-i1-dlq"] * 2
    finally:
        sender.close(0.1)


def test_every_client_names_its_role() -> None:
    from shared.kafka import consumer_config, role_client_id

    settings = Settings(consumer_instance_id="i-1")
    assert role_client_id("tradedata") == "tradedata"
    assert role_client_id("kafkaconsumer", settings) == "kafkaconsumer-i-1"
    assert consumer_config(settings, "mongo", "kafkaconsumer-i-1")["client.id"] == "kafkaconsumer-i-1"
    assert producer_config(settings, "tradedata")["client.id"] == "tradedata"


def test_consumers_fetch_wait_follows_the_batch_wait() -> None:
    from shared.kafka import consumer_config

    assert consumer_config(Settings(consumer_batch_timeout_ms=40), "mongo")["fetch.wait.max.ms"] == 40
    assert consumer_config(Settings(), "sql")["fetch.wait.max.ms"] == Settings().consumer_batch_timeout_ms


# --- the partitioner is librdkafka's own murmur2 on the trade_id (shared.kafka.partitioner.NATIVE) ------


def test_the_partitioner_is_librdkafkas_murmur2_on_this_platform() -> None:
    """Found in the library confluent-kafka loaded: without it every batch item pays the Python hash (3x)."""
    assert partitioner.NATIVE is not None
    data = b"a-little-bit-longer-string"
    assert partitioner.NATIVE(None, data, len(data), 2**31 - 1, None, None) == (-1486304829 & 0x7FFFFFFF)


@hsettings(max_examples=300, deadline=None)
@given(trade_id=st.text(max_size=80), partitions=st.integers(min_value=1, max_value=10_000))
def test_librdkafkas_murmur2_partitions_every_trade_id_as_kafkas_java_client(
    trade_id: str, partitions: int
) -> None:
    """The key -> partition mapping is exactly the Python murmur2 one (and so the Java client's)."""
    data = trade_id.encode()
    assert partitioner.NATIVE is not None
    assert partitioner.NATIVE(None, data, len(data), partitions, None, None) == murmur2(data) % partitions
    assert partition_for(trade_id, partitions) == murmur2(data) % partitions


def test_without_librdkafkas_partitioner_the_python_murmur2_partitions_alike(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    maps = tmp_path / "maps"
    absent = tmp_path / "librdkafka.so.1"  # named like the library, not loadable
    maps.write_text(f"7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6\n7f01-7f02 r-xp 0 08:01 2 {absent}\n")
    assert partitioner.native_murmur2(maps) is None
    assert partitioner.native_murmur2(tmp_path / "absent") is None
    native = [partition_for(f"T-{n}", 7) for n in range(50)]
    monkeypatch.setattr(partitioner, "NATIVE", None)
    assert [partition_for(f"T-{n}", 7) for n in range(50)] == native


def test_no_partitions_is_an_error_not_a_crash_in_librdkafka() -> None:
    """librdkafka's partitioner divides by the count unchecked: a zero must never reach it."""
    with pytest.raises(ZeroDivisionError):
        partition_for("T-1", 0)


class _Admin:
    """An AdminClient that has no topic and records what it is asked to create."""

    created: list[Any] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def list_topics(self, timeout: float) -> Any:
        return type("Metadata", (), {"topics": {"trades": object()}})()

    def create_topics(self, topics: list[Any], request_timeout: float) -> dict[str, Any]:
        _Admin.created = topics
        done = type("Done", (), {"result": lambda self, timeout: None})
        return {t.topic: done() for t in topics}


@pytest.mark.parametrize(
    ("env", "replicas", "shown"),
    [({}, -1, "the broker's default"), ({"TRADES_TOPIC_REPLICATION": "3"}, 3, "3")],
)
def test_missing_topics_are_created_with_the_brokers_default_replication_unless_told(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    replicas: int,
    shown: str,
) -> None:
    """Replication 1 would put every acknowledged trade on one broker of a production cluster: the default
    (-1) takes the broker's default.replication.factor (3 on a production cluster, 1 on a single broker)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(topics, "AdminClient", _Admin)
    with caplog.at_level("INFO", logger="shared.kafka.topics"):
        topics.ensure_topics(Settings(trades_topic_partitions=6))
    assert [(t.topic, t.num_partitions, t.replication_factor) for t in _Admin.created] == [
        ("trades.dlq", 6, replicas),
        ("trades.outcomes", 6, replicas),
    ]
    assert caplog.messages == [
        f"created topic trades.dlq with 6 partitions, replication {shown}",
        f"created topic trades.outcomes with 6 partitions, replication {shown}",
    ]


def test_a_replication_factor_of_zero_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ValidationError, match="TRADES_TOPIC_REPLICATION is -1"):
        Settings(trades_topic_replication=0)
    with pytest.raises(ValidationError):
        Settings(trades_topic_replication=-2)
    assert Settings(trades_topic_replication=1).trades_topic_replication == 1
