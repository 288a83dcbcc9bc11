"""`pgqrs schedule add|list|remove`, and periodic jobs run by several `pgqrs worker run` processes."""

from __future__ import annotations

import contextlib
import signal
import textwrap
from pathlib import Path

import psycopg

from pgqrs import schedules, sync
from tests.cli import runner

Raw = psycopg.Connection[tuple[object, ...]]
# Four runtimes of one app; the app's handler works another queue, so the ticks' messages stay
# where the test counts them.
TICKING_APP = """
from pgqrs import sync as pgqrs

app = pgqrs.App()


@app.handler("unused")
def unused(message: pgqrs.QueueMessage) -> None: ...
"""
RUNTIMES = 4
TICKS = 20


def test_add_list_and_remove(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    admin.create_queue("reports")
    added, added_json = cli.many(
        ["schedule", "add", "nightly", "--queue", "reports", "--cron", "30 2 * * *", "--timezone",
         "Europe/Berlin", "--payload", '{"kind": "nightly"}'],
        ["--format", "json", "schedule", "add", "often", "--queue", "reports", "--every", "2",
         "--priority", "5", "--no-catch-up"],
    )  # fmt: skip
    assert "cron           30 2 * * *" in added.expect(0).stdout
    assert "timezone       Europe/Berlin" in added.stdout
    often = added_json.expect(0).json()
    assert (often["every_seconds"], often["cron"], often["priority"], often["catch_up"]) == (
        2.0,
        None,
        5,
        False,
    )

    listed, listed_json, taken = cli.many(
        ["schedule", "list"],
        ["--format", "json", "schedule", "list"],
        ["schedule", "add", "often", "--queue", "reports", "--every", "5"],
    )
    header, _rule, *rows = listed.expect(0).stdout.splitlines()
    assert header.split() == ["name", "queue", "when", "timezone", "last_tick_at"]
    assert [row.split()[:2] for row in rows] == [["nightly", "reports"], ["often", "reports"]]
    assert "30 2 * * *  Europe/Berlin" in rows[0] and "every 2s" in rows[1]
    assert [s["payload"] for s in listed_json.expect(0).json()] == [{"kind": "nightly"}, {}]
    assert taken.expect(1).error == (
        "pgqrs: error: schedule 'often' already exists; remove it first, or replace it"
    )
    replaced = cli.run(
        "--format", "json", "schedule", "add", "nightly", "-q", "reports", "--every", "60", "--replace"
    )
    assert replaced.expect(0).json()["every_seconds"] == 60.0

    removed, removed_json = cli.many(
        ["schedule", "remove", "nightly"], ["--format", "json", "schedule", "remove", "often"]
    )
    assert removed.expect(0).stdout.strip() == "schedule 'nightly' removed"
    assert removed_json.expect(0).json() == {"schedule": "often", "removed": True}
    missing, empty = cli.many(["schedule", "remove", "nightly"], ["schedule", "list"])
    assert missing.expect(1).error == "pgqrs: error: schedule 'nightly' does not exist"
    assert empty.expect(0).stdout.strip() == "no schedules"


def test_bad_definitions_are_usage_errors_and_change_nothing(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    admin.create_queue("reports")
    add = ["schedule", "add", "bad", "--queue", "reports"]
    results = cli.many(
        [*add, "--cron", "61 * * * *"],
        [*add, "--cron", "* * *"],
        [*add, "--cron", "0 9 * * *", "--timezone", "Berlin"],
        [*add, "--every", "0.5"],
        [*add],
        [*add, "--cron", "* * * * *", "--every", "5"],
        [*add, "--every", "5", "--payload", "{nope"],
        ["schedule", "add", "bad", "--queue", "-bad", "--every", "5"],
    )
    errors = [result.expect(2).error for result in results]
    assert errors[0] == "pgqrs: error: cron: '61 * * * *' is not a valid cron expression (Bad minute)"
    assert "'* * *' has 3 field(s)" in errors[1]
    assert "unknown time zone 'Berlin'; use an IANA name" in errors[2]
    assert "every must be at least 1 second" in errors[3]
    assert "a cron expression or every=" in errors[4] and "a cron expression or every=" in errors[5]
    assert "invalid JSON" in errors[6]
    assert "invalid queue name '-bad'" in errors[7]
    missing_queue = cli.run("schedule", "add", "x", "--queue", "nope", "--every", "5").expect(1)
    assert missing_queue.error == "pgqrs: error: queue 'nope' does not exist"
    assert admin.list_schedules() == []


def test_four_runtimes_enqueue_each_tick_exactly_once(
    cli: runner.Cli, admin: sync.PgqrsAdmin, raw: Raw, schema: str, tmp_path: Path
) -> None:
    (tmp_path / "ticking.py").write_text(textwrap.dedent(TICKING_APP))
    ticks = admin.create_queue("ticks")
    cli.run("schedule", "add", "two-seconds", "--queue", "ticks", "--cron", "*/2 * * * * *").expect(0)
    with contextlib.ExitStack() as stack:
        workers = [stack.enter_context(cli.started("worker", "run", "ticking:app")) for _ in range(RUNTIMES)]
        runner.wait_until(lambda: admin.messages.count_by_fk(ticks.id) >= TICKS, f"{TICKS} ticks enqueued")
        results = [worker.signal(signal.SIGTERM) for worker in workers]
    for result in results:
        result.expect(0)

    enqueued = admin.messages.filter_by_fk(ticks.id)
    found = [schedules.tick_of(message) for message in enqueued]
    seconds = sorted(int(tick[1].timestamp()) for tick in found if tick is not None)
    # One message for every tick from the first enqueued to the last: none twice (four runtimes
    # woke at each), none missed.
    assert len(found) == len(seconds) >= TICKS
    assert seconds == list(range(seconds[0], seconds[0] + 2 * len(seconds), 2))
    assert admin.get_schedule("two-seconds").last_tick_at.timestamp() == seconds[-1]
    assert all(message.payload == {} for message in enqueued)
    starts = raw.execute(f'SELECT count(DISTINCT pid) FROM "{schema}".pgqrs_workers').fetchone()
    assert starts is not None and starts[0] == RUNTIMES
