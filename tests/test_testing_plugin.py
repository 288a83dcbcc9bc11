"""pgqrs.testing, the pytest plugin users get with pgqrs: run as they would run it.

Each test writes a small test file into a fresh directory and runs pytest on it in a
subprocess (pytester), where the plugin is loaded by its entry point, not by this suite.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests import support

USERS_TESTS = """
from pathlib import Path

from pgqrs import sync, testing


def enqueue(config, queue, payloads):
    with sync.PgqrsAdmin.connect(config) as admin:
        info = admin.create_queue(queue, exist_ok=True)
        sync.Producer(admin.pool, info, config).batch_enqueue(payloads)


def test_what_was_enqueued(pgqrs_config):
    Path("schemas.txt").open("a").write(pgqrs_config.schema + "\\n")
    enqueue(pgqrs_config, "emails", [{"to": "ada", "template": "welcome"}, {"to": "bob"}])
    [welcome] = testing.assert_enqueued(pgqrs_config, "emails", payload={"to": "ada"}, count=1)
    assert welcome.payload["template"] == "welcome"
    testing.assert_enqueued(pgqrs_config, "emails", count=2)
    testing.refute_enqueued(pgqrs_config, "emails", payload={"to": "cyd"})
    assert [message.payload["to"] for message in testing.enqueued(pgqrs_config, "emails")] == ["ada", "bob"]


def test_each_test_has_a_schema_of_its_own(pgqrs_config):
    Path("schemas.txt").open("a").write(pgqrs_config.schema + "\\n")
    with sync.PgqrsAdmin.connect(pgqrs_config) as admin:
        assert admin.list_queues() == []  # pgqrs is installed, and nothing of the other test is here


def test_an_app_drains_the_queue(pgqrs_config):
    enqueue(pgqrs_config, "emails", [{"to": "ada"}, {"to": "bob"}])
    sent = []
    app = sync.App()

    @app.handler("emails")
    def send_email(message):
        sent.append(message.payload["to"])

    app.run(pgqrs_config, until_empty=True)
    assert sorted(sent) == ["ada", "bob"]
    testing.refute_enqueued(pgqrs_config, "emails")


def test_fails_saying_what_the_queue_holds(pgqrs_config):
    enqueue(pgqrs_config, "emails", [{"to": "ada"}, {"to": "bob"}])
    testing.assert_enqueued(pgqrs_config, "emails", payload={"to": "cyd"})


def test_fails_on_an_unexpected_message(pgqrs_config):
    enqueue(pgqrs_config, "emails", [{"to": "ada"}])
    testing.refute_enqueued(pgqrs_config, "emails", payload={"to": "ada"})


def test_fails_on_a_misspelt_queue(pgqrs_config):
    testing.refute_enqueued(pgqrs_config, "emials")
"""


def test_the_fixtures_and_helpers_in_a_users_test_suite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, dsn: str
) -> None:
    monkeypatch.setenv("PGQRS_TEST_DSN", dsn)
    pytester.makepyfile(test_users=textwrap.dedent(USERS_TESTS))

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3, failed=3)
    # Each failure is shown at the user's line, saying what the queue holds.
    result.stdout.fnmatch_lines(
        [
            '>       testing.assert_enqueued(pgqrs_config, "emails", payload={"to": "cyd"})',
            "E       AssertionError: expected at least 1 message(s) in queue 'emails' with a payload "
            "matching {'to': 'cyd'}; found none among its 2:",
            "E         id 1: {'to': 'ada'}",
            "E         id 2: {'to': 'bob'}",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: expected no message(s) in queue 'emails' with a payload matching "
            "{'to': 'ada'}; found 1 among its 1:",
        ]
    )
    misspelt = "E       AssertionError: queue 'emials' does not exist in schema 'pgqrs_test_*'"
    result.stdout.fnmatch_lines([misspelt])
    # Every schema the fixture made is gone.
    schemas = (Path(pytester.path) / "schemas.txt").read_text().split()
    assert len(schemas) == 2
    for schema in schemas:
        assert not support.count(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", schema)


def test_loading_the_plugin_connects_to_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 1, and the embedded server's data directory is an empty one.
    monkeypatch.setenv("PGQRS_TEST_DSN", "postgresql://postgres@127.0.0.1:1/postgres")
    monkeypatch.setenv("XDG_DATA_HOME", str(pytester.path / "data"))
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--trace-config")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*pgqrs.testing*"])  # loaded by its entry point
    assert not (pytester.path / "data").exists()
