"""At 100k waiting messages the dequeue and the acknowledgements are index scans, never a seq scan.

A schema change that dropped or reordered pgqrs_messages_dequeue_idx would turn every dequeue into
a scan of the whole table (what makes the Rust pgqrs slow down with its backlog): this catches it.
"""

from __future__ import annotations

from pgqrs.bench import plans


def test_dequeue_and_acks_use_their_indexes(dsn: str, schema: str) -> None:
    found = plans.dequeue_and_ack_plans(dsn, schema)
    assert set(found) == {
        "message_dequeue",
        "message_dequeue_one",
        "message_delete_owned",
        "message_delete_owned_one",
        "archive_move",
    }
    for name, plan in found.items():
        assert "Seq Scan on pgqrs_messages" not in plan, f"{name}:\n{plan}"
    for name in ("message_dequeue", "message_dequeue_one"):
        assert "pgqrs_messages_dequeue_idx" in found[name], found[name]
    # The worker holds 20,000 leases the statistics do not know of: through the worker_id index
    # an ack would read all of them; through the primary key it probes its own ids.
    for name in ("message_delete_owned", "message_delete_owned_one", "archive_move"):
        assert "pgqrs_messages_pkey" in found[name], found[name]
        assert "worker_id_idx" not in found[name], found[name]
