"""The pages: numbers, designed empty and error states, and the forms' token and CSRF checks."""

from __future__ import annotations

import re

import httpx

from pgqrs import sync
from tests.serve.conftest import TOKEN, Client, bury

UNREACHABLE_DSN = "postgresql://postgres@127.0.0.1:1/postgres"


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text
    return found.group(1)


def cell(page: httpx.Response, queue: str, column: str) -> str:
    row = re.search(rf'<tr data-queue="{queue}">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    found = re.search(rf'data-test="{column}">([^<]*)<', row.group(1))
    assert found, row.group(1)
    return found.group(1)


def test_overview_shows_each_queue_and_refreshes_from_a_fragment(
    client: httpx.Client, admin: sync.PgqrsAdmin
) -> None:
    empty = client.get("/")
    assert empty.status_code == 200 and "No queues yet" in empty.text
    jobs = admin.create_queue("jobs")
    sync.Producer(admin.pool, jobs, admin.config).batch_enqueue([{"n": n} for n in range(1234)])
    bury(admin, "jobs", 2)
    page = client.get("/fragments/overview")
    assert cell(page, "jobs", "pending") == "1,234"
    assert cell(page, "jobs", "dead_letters") == "2"
    assert '<svg class="chart"' in page.text and "<html" not in page.text
    assert 'data-refresh="/fragments/overview"' in client.get("/").text


def test_counts_over_the_cap_say_so(client_for: Client, admin: sync.PgqrsAdmin) -> None:
    jobs = admin.create_queue("jobs")
    sync.Producer(admin.pool, jobs, admin.config).batch_enqueue([{"n": n} for n in range(12)])
    other = admin.create_queue("other")
    sync.Producer(admin.pool, other, admin.config).batch_enqueue([{"n": n} for n in range(3)])
    page = client_for(count_cap=10).get("/")
    assert cell(page, "jobs", "pending") == "more than 10" and cell(page, "other", "pending") == "3"
    assert 'data-test="total-pending">13+<' in page.text


def test_queue_page_tabs_show_messages_archive_and_dead_letters_with_errors(
    client: httpx.Client, admin: sync.PgqrsAdmin
) -> None:
    admin.create_queue("jobs")
    bury(admin, "jobs", 1, error="KeyError: 'email'\n\nTraceback (most recent call last): ...")
    messages = client.get("/queues/jobs")
    assert messages.status_code == 200 and "No messages." in messages.text
    dead = client.get("/queues/jobs", params={"tab": "dead-letters"})
    assert "gave up" in dead.text and "KeyError: &#39;email&#39;" in dead.text
    assert 'data-test="dead-letters"' in dead.text and "Requeue" not in dead.text  # read-only
    assert "No dead letters" not in dead.text
    assert "The archive is empty" not in client.get("/queues/jobs", params={"tab": "archive"}).text


def test_not_found_and_bad_requests_have_pages(client: httpx.Client, admin: sync.PgqrsAdmin) -> None:
    admin.create_queue("jobs")
    missing = client.get("/queues/nope")
    assert missing.status_code == 404 and "queue &#39;nope&#39; does not exist" in missing.text
    bad = client.get("/queues/jobs", params={"tab": "x"})
    assert bad.status_code == 400 and "no tab &#39;x&#39;" in bad.text
    assert client.get("/queues/jobs", params={"state": "lost"}).status_code == 400
    assert client.get("/queues/jobs", params={"before": "x", "tab": "archive"}).status_code == 400


def test_designed_errors_instead_of_tracebacks(
    client: httpx.Client, client_for: Client, config: sync.Config
) -> None:
    not_installed = client.get("/")  # the schema is empty: no admin fixture here
    assert not_installed.status_code == 503 and "pgqrs is not installed" in not_installed.text
    assert "install" in not_installed.text and "Traceback" not in not_installed.text
    down = client_for(config.replace(dsn=UNREACHABLE_DSN))
    page = down.get("/")
    assert page.status_code == 503 and "The database does not answer" in page.text
    assert down.get("/healthz").status_code == 503
    assert down.get("/api/queues").json()["error"] == "The database does not answer"
    assert 'data-reload-when-ok' in page.text  # it comes back by itself


def test_healthz_and_metrics(client: httpx.Client, admin: sync.PgqrsAdmin) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    bury(admin, "jobs", 3)
    sync.Producer(admin.pool, admin.get_queue("jobs"), admin.config).enqueue({"n": 9})
    assert client.get("/healthz").json()["status"] == "ok"
    scraped = client.get("/metrics")
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    negotiated = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert negotiated.headers["content-type"].startswith("application/openmetrics-text")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    jobs = (("queue", "jobs"),)
    assert samples[("pgqrs_database_up", ())] == 1
    assert samples[("pgqrs_queue_pending", jobs)] == 1
    assert samples[("pgqrs_queue_dead_letters", jobs)] == 3
    assert samples[("pgqrs_queue_in_flight", jobs)] == 0
    assert samples[("pgqrs_workers", (("queue", "jobs"), ("state", "stopped")))] == 1
    assert ("pgqrs_queue_oldest_pending_age_seconds", jobs) in samples


def test_metrics_without_a_database_say_it_is_down(client_for: Client, config: sync.Config) -> None:
    scraped = client_for(config.replace(dsn=UNREACHABLE_DSN)).get("/metrics")
    assert scraped.status_code == 200 and "pgqrs_database_up 0.0" in scraped.text
    assert "pgqrs_queue_pending" not in scraped.text


def test_forms_need_the_token_and_a_genuine_csrf_token(acting: httpx.Client, admin: sync.PgqrsAdmin) -> None:
    bury(admin, "jobs", 1)
    [record] = admin.dead_letters("jobs")
    page = acting.get("/queues/jobs", params={"tab": "dead-letters"})
    csrf = csrf_of(page)
    requeue = {"csrf": csrf, "ids": str(record.id)}
    locked = acting.post("/queues/jobs/requeue", data=requeue)
    assert locked.status_code == 403 and "unlock them first" in locked.text
    wrong = acting.post("/unlock", data={"csrf": csrf, "token": "nope"})
    assert wrong.status_code == 403 and "wrong token" in wrong.text
    forged = acting.post("/unlock", data={"csrf": "0" * 64, "token": TOKEN})
    assert forged.status_code == 403 and "CSRF" in forged.text
    elsewhere = acting.post(
        "/unlock", data={"csrf": csrf, "token": TOKEN}, headers={"Origin": "http://evil.example"}
    )
    assert elsewhere.status_code == 403
    assert len(admin.dead_letters("jobs")) == 1
    unlocked = acting.post("/unlock", data={"csrf": csrf, "token": TOKEN})
    assert unlocked.status_code == 303 and "pgqrs_session" in unlocked.headers["set-cookie"]
    assert TOKEN not in unlocked.headers["set-cookie"]
    done = acting.post("/queues/jobs/requeue", data=requeue, headers={"Referer": str(page.url)})
    assert done.status_code == 303 and "notice=requeued" in done.headers["location"]
    assert admin.dead_letters("jobs") == []
    shown = acting.get(done.headers["location"])
    assert "1 dead letter(s) put back on the queue." in shown.text and TOKEN not in shown.text
    assert acting.post("/queues/jobs/requeue", data={"ids": str(record.id)}).status_code == 403  # no csrf


def test_purge_asks_for_the_queues_name(acting: httpx.Client, admin: sync.PgqrsAdmin) -> None:
    jobs = admin.create_queue("jobs")
    sync.Producer(admin.pool, jobs, admin.config).batch_enqueue([{"n": 1}, {"n": 2}])
    csrf = csrf_of(acting.get("/queues/jobs"))
    acting.post("/unlock", data={"csrf": csrf, "token": TOKEN})
    refused = acting.post("/queues/jobs/purge", data={"csrf": csrf, "confirm": "job"})
    assert refused.status_code == 400 and admin.queue_metrics("jobs").pending_count == 2
    purged = acting.post("/queues/jobs/purge", data={"csrf": csrf, "confirm": "jobs"})
    assert purged.status_code == 303 and admin.queue_metrics("jobs").pending_count == 0


def test_read_only_dashboards_refuse_actions(client: httpx.Client, admin: sync.PgqrsAdmin) -> None:
    bury(admin, "jobs", 1)
    page = client.get("/queues/jobs", params={"tab": "dead-letters"})
    assert "read-only" in page.text and "Unlock actions" not in page.text
    refused = client.post("/queues/jobs/requeue", data={"csrf": "x", "all": "1"})
    assert refused.status_code == 403 and "--allow-actions" in refused.text
    assert client.get("/queues/jobs/requeue").status_code == 405
    assert len(admin.dead_letters("jobs")) == 1
