"""Config: defaults, sources, per-setting precedence, and errors that name field and source."""

from __future__ import annotations

from pathlib import Path

import pytest

import pgqrs
from pgqrs import config as config_module

DSN = "postgresql://app:s3cr3t-pw@db.example:5432/app"
ENVIRONMENT = [name for name, _ in config_module._ENVIRONMENT.values()] + ["PGQRS_CONFIG_FILE"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each test with no PGQRS_* variables and in an empty directory."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    config = pgqrs.Config.from_dsn(DSN)
    assert (config.dsn, config.schema, config.max_connections) == (DSN, "public", 16)
    assert (config.connection_timeout_seconds, config.default_lock_time_seconds) == (30, 5)
    assert config.default_max_batch_size == 100
    assert config.max_read_count == 5
    assert config.producer_rate_limit is None
    assert config.use_prepared_statements is True
    assert pgqrs.config.Config is pgqrs.Config


def test_from_dsn_with_schema() -> None:
    assert pgqrs.Config.from_dsn_with_schema(DSN, "queues").schema == "queues"


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "PGQRS_DSN": DSN,
        "PGQRS_SCHEMA": "jobs",
        "PGQRS_MAX_CONNECTIONS": "4",
        "PGQRS_CONNECTION_TIMEOUT": "2.5",
        "PGQRS_DEFAULT_LOCK_TIME": "9",
        "PGQRS_DEFAULT_BATCH_SIZE": "50",
        "PGQRS_PREPARED_STATEMENTS": "false",
        "PGQRS_MAX_READ_COUNT": "0",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    config = pgqrs.Config.from_env()
    assert (config.schema, config.max_connections, config.connection_timeout_seconds) == ("jobs", 4, 2.5)
    assert (config.default_lock_time_seconds, config.default_max_batch_size) == (9, 50)
    assert (config.prepared_statements, config.max_read_count) == (False, 0)


def test_from_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f"dsn: {DSN}\nschema: filed\nmax_connections: 3\nproducer_rate_limit: 12.5\n")
    config = pgqrs.Config.from_file(path)
    assert (config.schema, config.max_connections, config.producer_rate_limit) == ("filed", 3, 12.5)


def test_load_prefers_environment_over_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "pgqrs.yaml").write_text("dsn: postgresql://from-default-file/db\nschema: from_default\n")
    named = tmp_path / "named.yml"
    named.write_text("dsn: postgresql://from-named-file/db\nmax_connections: 7\n")
    assert pgqrs.Config.load().dsn == "postgresql://from-default-file/db"
    monkeypatch.setenv("PGQRS_CONFIG_FILE", str(named))
    config = pgqrs.Config.load()
    assert (config.dsn, config.schema, config.max_connections) == (
        "postgresql://from-named-file/db",
        "public",
        7,
    )
    monkeypatch.setenv("PGQRS_DSN", DSN)
    config = pgqrs.Config.load()
    assert (config.dsn, config.max_connections) == (DSN, 7)


def test_load_finds_pgqrs_yml(tmp_path: Path) -> None:
    (tmp_path / "pgqrs.yml").write_text("dsn: postgresql://yml/db\n")
    assert pgqrs.Config.load().dsn == "postgresql://yml/db"


def test_load_with_options_precedence_is_per_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "pgqrs.yaml").write_text("dsn: postgresql://default-file/db\nmax_connections: 2\n")
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("dsn: postgresql://explicit-file/db\ndefault_lock_time_seconds: 11\n")
    monkeypatch.setenv("PGQRS_DSN", "postgresql://environment/db")
    monkeypatch.setenv("PGQRS_SCHEMA", "from_env")
    monkeypatch.setenv("PGQRS_DEFAULT_LOCK_TIME", "3")

    config = pgqrs.Config.load_with_options(dsn=DSN)
    assert (config.dsn, config.schema, config.max_connections) == (DSN, "from_env", 2)
    assert config.default_lock_time_seconds == 3

    config = pgqrs.Config.load_with_options(config_file=explicit)
    assert (config.dsn, config.schema) == ("postgresql://explicit-file/db", "from_env")
    assert config.default_lock_time_seconds == 11

    config = pgqrs.Config.load_with_options(dsn=DSN, config_file=explicit, schema="explicit")
    assert (config.dsn, config.schema, config.max_connections) == (DSN, "explicit", 2)


def test_load_without_a_dsn_anywhere_raises() -> None:
    with pytest.raises(pgqrs.ConfigError, match=r"dsn.*required"):
        pgqrs.Config.load()


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("PGQRS_MAX_CONNECTIONS", "many", "max_connections"),
        ("PGQRS_MAX_CONNECTIONS", "0", "max_connections"),
        ("PGQRS_CONNECTION_TIMEOUT", "-1", "connection_timeout_seconds"),
        ("PGQRS_DEFAULT_LOCK_TIME", "soon", "default_lock_time_seconds"),
        ("PGQRS_DEFAULT_BATCH_SIZE", "-5", "default_max_batch_size"),
        ("PGQRS_SCHEMA", "bad-schema", "schema"),
        ("PGQRS_SCHEMA", 'x"; DROP', "schema"),
        ("PGQRS_SCHEMA", "pg_catalog", "schema"),
        ("PGQRS_PREPARED_STATEMENTS", "maybe", "prepared_statements"),
        ("PGQRS_POOLER", "statement", "pooler"),
    ],
)
def test_bad_environment_values_name_field_and_source(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv("PGQRS_DSN", DSN)
    monkeypatch.setenv(variable, value)
    with pytest.raises(pgqrs.ConfigError) as caught:
        pgqrs.Config.load()
    assert field in str(caught.value)
    assert "environment" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dsn: [unclosed\n", "not valid YAML at line"),
        ("- a list\n", "must hold a mapping"),
        (f"dsn: {DSN}\nmax_connections: lots\n", "max_connections"),
        (f"dsn: {DSN}\nmax_conections: 3\n", "unknown setting(s): max_conections"),
        (f"dsn: {DSN}\ndefault_lock_time_seconds: -1\n", "default_lock_time_seconds"),
        (f"dsn: {DSN}\nschema: 'a b'\n", "schema"),
    ],
)
def test_bad_files_name_the_problem_and_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(pgqrs.ConfigError) as caught:
        pgqrs.Config.from_file(path)
    assert expected in str(caught.value)
    assert "bad.yaml" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)


def test_malformed_yaml_never_echoes_the_password(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text('dsn: "postgresql://app:s3cr3t-pw@host/db\nschema: [\n')
    with pytest.raises(pgqrs.ConfigError) as caught:
        pgqrs.Config.from_file(path)
    assert "s3cr3t-pw" not in str(caught.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(pgqrs.ConfigError, match="cannot be read"):
        pgqrs.Config.from_file(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:s3cr3t-pw@host:notaport/db?x=1",
        "postgresql://app:s3cr3t@pw@host/db",
        "mysql://app:s3cr3t-pw@host/db",
        "host=h password=s3cr3t-pw port",
    ],
)
def test_malformed_dsn_is_refused_without_its_password(dsn: str) -> None:
    with pytest.raises(pgqrs.ConfigError) as caught:
        pgqrs.Config.from_dsn(dsn)
    assert "s3cr3t" not in str(caught.value)
    assert "dsn" in str(caught.value)


def test_repr_masks_the_password() -> None:
    config = pgqrs.Config.from_dsn(DSN)
    assert "s3cr3t-pw" not in repr(config)
    assert "app:***@db.example" in repr(config)
    assert config.masked_dsn == "postgresql://app:***@db.example:5432/app"


def test_pooler_port_turns_prepared_statements_off() -> None:
    behind = pgqrs.Config.from_dsn("postgresql://app@127.0.0.1:6432/db")
    assert behind.behind_transaction_pooler
    assert not behind.use_prepared_statements
    explicit = pgqrs.Config.from_dsn(DSN).replace(pooler="transaction")
    assert not explicit.use_prepared_statements
    assert pgqrs.Config.from_dsn("host=h port=6432").replace(prepared_statements=True).use_prepared_statements
    assert not pgqrs.Config.from_dsn(DSN).replace(prepared_statements=False).use_prepared_statements


def test_direct_construction_is_validated() -> None:
    with pytest.raises(pgqrs.ConfigError, match="max_connections"):
        pgqrs.Config(dsn=DSN, max_connections=0)
    with pytest.raises(pgqrs.ConfigError, match="dsn"):
        pgqrs.Config(dsn="")


def test_embedded_dsn_is_accepted() -> None:
    assert pgqrs.Config.embedded().dsn == "embedded"
    assert pgqrs.Config.embedded("/tmp/data").dsn == "embedded:/tmp/data"


def test_archive_retention_and_partitioning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import datetime

    assert (
        pgqrs.Config.from_dsn(DSN).archive_retention,
        pgqrs.Config.from_dsn(DSN).archive_partitioning,
    ) == (
        None,
        "none",
    )
    monkeypatch.setenv("PGQRS_ARCHIVE_RETENTION", "7d")
    monkeypatch.setenv("PGQRS_ARCHIVE_PARTITIONING", "daily")
    from_environment = pgqrs.Config.load_with_options(dsn=DSN)
    assert (from_environment.archive_retention, from_environment.archive_partitioning) == (604800.0, "daily")
    path = tmp_path / "settings.yaml"
    path.write_text(f"dsn: {DSN}\narchive_retention: 12h\n")
    assert pgqrs.Config.from_file(path).archive_retention == 43200.0
    given = pgqrs.Config(dsn=DSN, archive_retention=datetime.timedelta(minutes=30))
    assert (
        given.archive_retention == 1800.0 and given.replace(archive_retention=None).archive_retention is None
    )
    with pytest.raises(pgqrs.ConfigError, match=r"archive_retention \(from environment\): .*'soon'"):
        monkeypatch.setenv("PGQRS_ARCHIVE_RETENTION", "soon")
        pgqrs.Config.load_with_options(dsn=DSN)
    with pytest.raises(
        pgqrs.ConfigError, match=r"archive_partitioning \(from arguments\): must be one of none, daily"
    ):
        pgqrs.Config(dsn=DSN, archive_partitioning="hourly")
