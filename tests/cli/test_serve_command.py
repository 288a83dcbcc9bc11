"""`pgqrs serve`: refuses actions without a token, binds to loopback, stops on Ctrl-C."""

from __future__ import annotations

import httpx

from pgqrs import sync
from tests.cli import runner
from tests.serve.conftest import free_port


def test_actions_need_the_token_before_anything_connects(offline: runner.Cli) -> None:
    refused = offline.run("serve", "--allow-actions")
    assert refused.expect(2).error == "pgqrs: error: --allow-actions needs a token: set PGQRS_SERVE_TOKEN"


def test_serves_on_loopback_until_interrupted(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    admin.create_queue("jobs")
    port = free_port()
    with cli.with_environment(PGQRS_SERVE_TOKEN="cli-token-abc").started(
        "serve", "--port", str(port), "--allow-actions"
    ) as server:
        base = f"http://127.0.0.1:{port}"
        runner.wait_until(lambda: _answers(f"{base}/healthz"), "pgqrs serve to answer")
        assert httpx.get(f"{base}/api/queues").json()["queues"][0]["queue_name"] == "jobs"
        assert not _answers(f"http://127.0.0.2:{port}/healthz")  # 127.0.0.1 only
        result = server.interrupt()
    assert result.code == 0  # Ctrl-C is how a server ends
    started = f"pgqrs serve: http://127.0.0.1:{port}/ (schema {admin.schema}; actions need the token)"
    assert started in result.stderr
    assert "cli-token-abc" not in result.stderr + result.stdout


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
