#!/usr/bin/env python3
"""Take the dashboard screenshots of docs/operations.md and the README (docs/images/*.png).

    python tools/dashboard_screenshots.py [DSN]

Fills a schema of its own (pgqrs_screenshots, dropped at the end) through the public API: four
queues, a worker run whose handler fails on some messages (real dead letters, real
tracebacks), a backlog, leases held, delayed messages. Then it spreads the archive's times over
the last hour so that the throughput chart has an hour to show, serves the dashboard on a free
port, and photographs it with Debian's Chromium (Playwright).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import psycopg
import uvicorn
from playwright.sync_api import sync_playwright
from psycopg import sql

from pgqrs import serve, sync

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
SCHEMA = "pgqrs_screenshots"
BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# (path, file, viewport width)
SHOTS = [
    ("/", "dashboard-overview.png", 1280),
    ("/queues/emails", "dashboard-queue.png", 1280),
    ("/queues/emails?tab=dead-letters", "dashboard-dead-letters.png", 1280),
    ("/", "dashboard-phone.png", 390),
]


def fill(config: sync.Config) -> None:
    """Queues with a history: processed, failed, waiting, leased and delayed messages."""
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        sizes = {"emails": 4_000, "invoices": 120, "thumbnails": 1_500, "webhooks": 0}
        for name, size in sizes.items():
            queue = admin.create_queue(name)
            sync.Producer(admin.pool, queue, config).batch_enqueue(
                [{"type": "send", "to": f"user{n}@example.com", "n": n} for n in range(size)]
            )
        run_workers(config)
        for name, backlog in (("emails", 1_240), ("thumbnails", 310), ("invoices", 12)):
            producer = sync.Producer(admin.pool, admin.get_queue(name), config)
            producer.batch_enqueue([{"to": f"later{n}@example.com", "n": n} for n in range(backlog)])
            producer.batch_enqueue([{"reminder": n} for n in range(backlog // 8)], delay=3600)
        for name, held in (("emails", 16), ("thumbnails", 8)):
            consumer = sync.Consumer(admin.pool, admin.get_queue(name), config)
            consumer.dequeue_batch(held, lock_time=600)  # a worker busy with these


def run_workers(config: sync.Config) -> None:
    app = sync.App()

    def deliver(message: sync.QueueMessage) -> None:
        if message.payload.get("n", 1) % 797 == 0:
            raise ConnectionError(f"smtp.example.com:587 timed out sending to {message.payload['to']}")

    def invoice(message: sync.QueueMessage) -> None:
        if message.payload.get("n", 1) % 41 == 0:
            raise KeyError("vat_number")

    app.handler("emails", concurrency=8, retry=sync.RetryPolicy(max_attempts=1))(deliver)
    app.handler("thumbnails", concurrency=4)(lambda message: None)
    app.handler("invoices", retry=sync.RetryPolicy(max_attempts=1))(invoice)
    app.run(config.replace(poll_interval=0.05), until_empty=True)


def spread_over_the_hour(dsn: str) -> None:
    """Age the archive over the last hour (load growing towards now) and the backlog by minutes."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            sql.SQL(
                "UPDATE {} SET archived_at = now() - make_interval(secs => 3590 * (1 - sqrt(random())))"
            ).format(sql.Identifier(SCHEMA, "pgqrs_archive"))
        )
        connection.execute(
            sql.SQL(
                "UPDATE {} SET vt = vt - interval '200 seconds', enqueued_at = enqueued_at - interval "
                "'200 seconds' WHERE vt <= now()"
            ).format(sql.Identifier(SCHEMA, "pgqrs_messages"))
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def photograph(config: sync.Config) -> None:
    port = free_port()
    settings = serve.ServeSettings(allow_actions=True, token="screenshot-token-only")
    app = serve.create_app(config, settings)
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    IMAGES.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
            for path, name, width in SHOTS:
                page = browser.new_page(viewport={"width": width, "height": 860}, timezone_id="Europe/Berlin")
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.screenshot(path=str(IMAGES / name), full_page=width < 600)
                print(f"wrote docs/images/{name}")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> int:
    dsn = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    config = sync.Config.from_dsn_with_schema(dsn, SCHEMA)
    try:
        fill(config)
        spread_over_the_hour(dsn)
        photograph(config)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
