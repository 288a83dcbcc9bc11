"""The JSON API: the same numbers as the database, keyset pages, workers, and its actions."""

from __future__ import annotations

import httpx

from pgqrs import sync
from tests.serve.conftest import TOKEN, Client, bury

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_queues_answer_the_databases_counts(client: httpx.Client, admin: sync.PgqrsAdmin) -> None:
    jobs = admin.create_queue("jobs")
    producer = sync.Producer(admin.pool, jobs, admin.config)
    producer.batch_enqueue([{"n": n} for n in range(6)])
    producer.batch_enqueue([{"later": True}], delay=3600)
    with sync.Consumer(admin.pool, jobs, admin.config) as consumer:
        leased = consumer.dequeue_batch(2, lock_time=60)
        consumer.archive(leased[0].id)
        held = client.get("/api/queues").json()
    bury(admin, "jobs", 1)
    [queue] = held["queues"]
    assert (queue["queue_name"], queue["pending"], queue["in_flight"], queue["delayed"]) == ("jobs", 4, 1, 1)
    assert (queue["archived"], queue["dead_letters"], queue["archived_last_hour"]) == (1, 0, 1)
    assert queue["pending_over_cap"] is False and queue["oldest_pending_seconds"] >= 0
    fresh = client.get("/api/queues/jobs").json()  # the overview is shared for a second; this is not
    assert (fresh["dead_letters"], fresh["pending"], fresh["in_flight"]) == (1, 4, 1)
    assert client.get("/api/queues/nope").status_code == 404


def test_pages_of_messages_archive_and_dead_letters_follow_their_keys(
    client: httpx.Client, admin: sync.PgqrsAdmin
) -> None:
    jobs = admin.create_queue("jobs")
    sent = sync.Producer(admin.pool, jobs, admin.config).batch_enqueue([{"n": n} for n in range(5)])
    seen: list[int] = []
    after = ""
    while True:
        page = client.get("/api/queues/jobs/messages", params={"limit": 2, "after": after}).json()
        seen += [message["id"] for message in page["messages"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == [message.id for message in sent]
    assert page["payloads_visible"] is True
    first = client.get("/api/queues/jobs/messages", params={"limit": 1, "state": "pending"}).json()
    assert first["messages"][0]["payload"] == '{"n": 0}'
    bury(admin, "jobs", 5)
    newest = client.get("/api/queues/jobs/dead-letters", params={"limit": 3}).json()
    older = client.get("/api/queues/jobs/dead-letters", params={"before": newest["next"]}).json()
    ids = [record["id"] for record in newest["records"] + older["records"]]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True) and older["next"] is None
    assert newest["records"][0]["last_error"] == "ValueError: bad input"
    assert len(client.get("/api/queues/jobs/archive").json()["records"]) == 5
    assert client.get("/api/queues/jobs/messages", params={"after": "garbage"}).status_code == 400
    assert client.get("/api/queues/jobs/messages", params={"state": "lost"}).status_code == 400
    assert client.get("/api/queues/jobs/messages", params={"limit": "0"}).status_code == 400


def test_workers_with_state_and_leases(client: httpx.Client, admin: sync.PgqrsAdmin) -> None:
    jobs = admin.create_queue("jobs")
    sync.Producer(admin.pool, jobs, admin.config).batch_enqueue([{"n": 1}, {"n": 2}])
    with sync.Consumer(admin.pool, jobs, admin.config) as consumer:
        consumer.dequeue_batch(2, lock_time=60)
        [worker] = client.get("/api/workers").json()["workers"]
    assert worker["id"] == consumer.worker_id and worker["queue_name"] == "jobs"
    assert (worker["state"], worker["leases"]) == ("running", 2)
    [stopped] = client.get("/api/workers").json()["workers"]
    assert (stopped["state"], stopped["leases"]) == ("stopped", 2)  # not expired yet


def test_actions_need_allow_actions_and_the_token(
    client: httpx.Client, acting: httpx.Client, admin: sync.PgqrsAdmin
) -> None:
    bury(admin, "jobs", 2)
    path = "/api/queues/jobs/dead-letters/requeue"
    assert client.post(path, json={"all": True}, headers=BEARER).status_code == 403
    assert acting.post(path, json={"all": True}).status_code == 401
    wrong = acting.post(path, json={"all": True}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and TOKEN not in wrong.text
    assert acting.get(path).status_code == 405
    assert acting.post(path, json={}, headers=BEARER).status_code == 400
    assert len(admin.dead_letters("jobs")) == 2  # nothing was requeued
    first = admin.dead_letters("jobs")[0].id
    one = acting.post(path, json={"ids": [first]}, headers=BEARER).json()
    assert one["requeued"] == 1 and one["messages"][0]["id"] == first
    assert acting.post(path, json={"all": True}, headers=BEARER).json()["requeued"] == 1
    assert admin.dead_letters("jobs") == [] and admin.queue_metrics("jobs").pending_count == 2


def test_delete_and_purge(acting: httpx.Client, admin: sync.PgqrsAdmin) -> None:
    jobs, other = admin.create_queue("jobs"), admin.create_queue("other")
    sent = sync.Producer(admin.pool, jobs, admin.config).batch_enqueue([{"n": n} for n in range(3)])
    foreign = sync.Producer(admin.pool, other, admin.config).enqueue({"elsewhere": True})
    deleted = acting.post(f"/api/queues/jobs/messages/{sent[0].id}/delete", headers=BEARER)
    assert deleted.json() == {"deleted": sent[0].id}
    assert acting.post(f"/api/queues/jobs/messages/{foreign.id}/delete", headers=BEARER).status_code == 404
    assert acting.post("/api/queues/jobs/purge", json={"confirm": "other"}, headers=BEARER).status_code == 400
    purged = acting.post("/api/queues/jobs/purge", json={"confirm": "jobs"}, headers=BEARER)
    assert purged.json() == {"purged": 2}
    assert admin.queue_metrics("other").pending_count == 1


def test_the_token_is_required_to_allow_actions(client_for: Client) -> None:
    try:
        client_for(allow_actions=True)
    except sync.ConfigError as error:
        assert "PGQRS_SERVE_TOKEN" in error.message
    else:
        raise AssertionError("actions were allowed without a token")
