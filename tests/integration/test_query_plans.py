"""The dequeue and the acknowledgements cost O(batch), whatever the planner's statistics say.

Two states: a queue of 100k analyzed messages whose worker took 20,000 leases after the analyze
(an ack through the worker_id index read all of them), and the normal state of a new queue:
statistics gathered before it existed, then a backlog. In the second, a plan that walks or
sorts the backlog reads buffers in proportion to it; the index order scans read the same few
at 2,000 and at 150,000 messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pgqrs.bench import plans
from tests import support

# A walk of 148,000 more messages reads thousands of pages; an index descent one level deeper
# for each of the 100 rows (in each of four indexes, for a lease) stays well under this.
MORE_BUFFERS_ALLOWED = 1_000


def test_dequeue_and_acks_use_their_indexes(dsn: str, schema: str) -> None:
    found = plans.dequeue_and_ack_plans(dsn, schema)
    assert set(found) == set(plans.PLANNED)
    for name, plan in found.items():
        assert "Seq Scan on pgqrs_messages" not in plan, f"{name}:\n{plan}"
        assert "Bitmap Heap Scan on pgqrs_messages" not in plan, f"{name}:\n{plan}"
    # The worker holds 20,000 leases the statistics do not know of: through the worker_id index
    # an ack would read all of them; through the primary key it probes its own ids.
    for name in ("message_delete_owned", "message_delete_owned_one", "archive_move"):
        assert "pgqrs_messages_pkey" in found[name], found[name]
        assert "worker_id_idx" not in found[name], found[name]
        assert "dequeue_idx" not in found[name], found[name]
    dequeue = found["message_dequeue"]
    if "Query Text:" in dequeue:  # the function's own statements, where auto_explain exists
        assert "Index Scan using pgqrs_messages_dequeue_idx" in dequeue, dequeue


@pytest.fixture
def second_schema(dsn: str) -> Iterator[str]:
    name = f"pgqrs_test_{uuid.uuid4().hex[:12]}"
    with support.connect(dsn) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with support.connect(dsn) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_cost_does_not_grow_with_a_backlog_the_statistics_miss(
    dsn: str, schema: str, second_schema: str
) -> None:
    small = plans.stale_statistics_reads(dsn, schema, 2_000)
    large = plans.stale_statistics_reads(dsn, second_schema, 150_000)
    assert set(small) == set(large) == set(plans.MEASURED)
    for name in plans.MEASURED:
        assert large[name] - small[name] < MORE_BUFFERS_ALLOWED, (name, small, large)
