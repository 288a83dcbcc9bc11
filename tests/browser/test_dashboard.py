"""What a person sees: the overview's numbers, a dead letter requeued with the token, a phone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from pgqrs import sync
from tests.browser.conftest import TOKEN

ONCE = sync.RetryPolicy(max_attempts=1)


def work(
    config: sync.Config, queue: str, failing: Callable[[Any], bool], error: str = "card declined"
) -> None:
    """Run a worker on `queue` until it is empty: messages for which `failing` holds raise."""
    app = sync.App()

    @app.handler(queue, retry=ONCE)
    def handle(message: sync.QueueMessage) -> None:
        if failing(message.payload):
            raise ValueError(error)

    app.run(config.replace(poll_interval=0.05), until_empty=True)


def row_cell(page: Any, queue: str, column: str) -> Any:
    return page.locator(f'tr[data-queue="{queue}"] [data-test="{column}"]')


def test_overview_numbers_match_the_database_and_refresh_by_themselves(
    page_for: Callable[..., Any], dashboard: str, admin: sync.PgqrsAdmin, config: sync.Config
) -> None:
    emails = admin.create_queue("emails")
    producer = sync.Producer(admin.pool, emails, config)
    producer.batch_enqueue([{"n": n} for n in range(40)])
    work(config, "emails", lambda payload: payload["n"] % 10 == 0)
    producer.batch_enqueue([{"n": n} for n in range(7)])
    producer.batch_enqueue([{"later": True}] * 3, delay=3600)
    metrics = admin.queue_metrics("emails")
    assert (metrics.pending_count, metrics.delayed_count, metrics.dead_letter_count) == (7, 3, 4)

    page = page_for()
    page.goto(dashboard)
    expect(row_cell(page, "emails", "pending")).to_have_text(f"{metrics.pending_count:,}")
    expect(row_cell(page, "emails", "in_flight")).to_have_text(f"{metrics.locked_count:,}")
    expect(row_cell(page, "emails", "delayed")).to_have_text(f"{metrics.delayed_count:,}")
    expect(row_cell(page, "emails", "dead_letters")).to_have_text(f"{metrics.dead_letter_count:,}")
    expect(page.locator('[data-test="hour-total"]').first).to_have_text(f"{metrics.archived_count:,}")

    producer.batch_enqueue([{"n": n} for n in range(5)])  # the page is not reloaded
    expect(row_cell(page, "emails", "pending")).to_have_text("12")


def test_a_dead_letter_shows_its_error_and_requeue_needs_the_token(
    page_for: Callable[..., Any], dashboard: str, admin: sync.PgqrsAdmin, config: sync.Config
) -> None:
    payments = admin.create_queue("payments")
    sync.Producer(admin.pool, payments, config).enqueue({"order": 42})
    work(config, "payments", lambda payload: True, error="card declined for order 42")
    [record] = admin.dead_letters("payments")

    page = page_for()
    page.goto(f"{dashboard}/queues/payments?tab=dead-letters")
    row = page.locator(f'tr[data-record="{record.id}"]')
    expect(row).to_contain_text("ValueError: card declined for order 42")
    row.locator("summary").click()
    expect(row.locator("pre")).to_contain_text("Traceback")

    row.get_by_role("button", name="Requeue").click()  # locked: refused
    expect(page.get_by_role("alert")).to_contain_text("actions need the token")
    assert len(admin.dead_letters("payments")) == 1

    page.goto(f"{dashboard}/queues/payments?tab=dead-letters")
    page.get_by_placeholder("token").fill(TOKEN)
    page.get_by_role("button", name="Unlock actions").click()
    expect(page.get_by_role("status").first).to_contain_text("Actions unlocked")
    page.locator(f'tr[data-record="{record.id}"]').get_by_role("button", name="Requeue").click()
    expect(page.get_by_text("1 dead letter(s) put back on the queue.")).to_be_visible()
    expect(page.get_by_text("No dead letters.")).to_be_visible()

    page.get_by_role("link", name="Messages").click()
    requeued = page.locator("tr[data-message]")
    expect(requeued).to_have_count(1)
    expect(requeued).to_contain_text("ValueError: card declined for order 42")
    assert admin.dead_letters("payments") == [] and admin.queue_metrics("payments").pending_count == 1
    assert TOKEN not in page.content()


def test_the_pages_fit_a_phone_and_show_times_in_the_viewers_zone(
    page_for: Callable[..., Any], dashboard: str, admin: sync.PgqrsAdmin, config: sync.Config
) -> None:
    queue = admin.create_queue("a-queue-with-a-rather-long-name")
    sync.Producer(admin.pool, queue, config).batch_enqueue([{"text": "x" * 300} for _ in range(3)])
    page = page_for(viewport={"width": 390, "height": 844}, is_mobile=True, timezone_id="Asia/Tokyo")
    for path in ("/", f"/queues/{queue.queue_name}", "/workers"):
        page.goto(dashboard + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    page.goto(f"{dashboard}/queues/{queue.queue_name}")
    expect(page.locator('[data-test="pending"]').first).to_have_text("3")
    expect(page.locator("footer")).to_contain_text("Asia/Tokyo")
    enqueued = page.locator("tr[data-message] time").nth(1)
    expect(enqueued).not_to_contain_text("UTC")  # rewritten in the viewer's zone
