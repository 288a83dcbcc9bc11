"""Safety: no password or token in pages, answers or logs; read-only with the observer role."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
from psycopg import conninfo

from pgqrs import roles, sync
from tests import support
from tests.serve.conftest import TOKEN, Client, bury

PASSWORD = "s3cret-Pa55word"


def everything(client: httpx.Client) -> str:
    """Return every page, fragment and answer of a dashboard with a queue 'jobs', joined."""
    paths = [
        "/", "/fragments/overview", "/workers", "/fragments/workers", "/metrics", "/healthz",
        "/queues/jobs", "/queues/jobs?tab=archive", "/queues/jobs?tab=dead-letters",
        "/fragments/queues/jobs", "/api/queues", "/api/queues/jobs", "/api/queues/jobs/messages",
        "/api/queues/jobs/archive", "/api/queues/jobs/dead-letters", "/api/workers", "/api/throughput",
    ]
    answers = [client.get(path) for path in paths]
    return "\n".join(answer.text for answer in answers)


def test_no_password_or_token_in_any_page_answer_or_log(
    client_for: Client, admin: sync.PgqrsAdmin, config: sync.Config, caplog: pytest.LogCaptureFixture
) -> None:
    bury(admin, "jobs", 1)
    caplog.set_level(logging.DEBUG)
    # The test server trusts every login: the password is accepted and must never be shown.
    with_password = config.replace(dsn=conninfo.make_conninfo(config.dsn, password=PASSWORD))
    text = everything(client_for(with_password, allow_actions=True, token=TOKEN))
    down = config.replace(dsn=f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/postgres")
    text += everything(client_for(down, allow_actions=True, token=TOKEN))
    assert "The database does not answer" in text and "jobs" in text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PASSWORD, TOKEN):
        assert secret not in text and secret not in logged


@pytest.fixture
def observer_dsn(admin: sync.PgqrsAdmin, dsn: str, schema: str) -> Iterator[str]:
    """Return the DSN of a login that is a member of the observer role on the test's schema."""
    prefix = f"serve_{uuid.uuid4().hex[:8]}"
    group = roles.role_names(prefix)["observer"]
    login = f"{group}_login"
    with support.connect(dsn) as connection:
        connection.execute(roles.roles_sql(schema, prefix))
        connection.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE "{group}"')
    try:
        yield conninfo.make_conninfo(dsn, user=login)
    finally:
        with support.connect(dsn) as connection:
            for role in [login, *roles.role_names(prefix).values()]:
                connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
                )
                connection.execute(f'DROP OWNED BY "{role}"')
                connection.execute(f'DROP ROLE "{role}"')


def test_the_observer_role_sees_everything_but_payloads_and_cannot_act(
    client_for: Client, admin: sync.PgqrsAdmin, config: sync.Config, observer_dsn: str
) -> None:
    bury(admin, "jobs", 2)
    sync.Producer(admin.pool, admin.get_queue("jobs"), admin.config).enqueue({"secret": "payload"})
    observer = client_for(config.replace(dsn=observer_dsn), allow_actions=True, token=TOKEN)
    text = everything(observer)
    assert '"payload"' not in text.replace('"payload":null', "") and "secret" not in text
    assert "Payloads are hidden" in observer.get("/queues/jobs").text
    [queue] = observer.get("/api/queues").json()["queues"]
    assert (queue["pending"], queue["dead_letters"]) == (1, 2)
    assert observer.get("/api/queues/jobs/messages").json()["payloads_visible"] is False
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    refused = observer.post("/api/queues/jobs/dead-letters/requeue", json={"all": True}, headers=bearer)
    assert refused.status_code == 403 and refused.json()["error"] == "Permission denied"
    assert len(admin.dead_letters("jobs")) == 2
