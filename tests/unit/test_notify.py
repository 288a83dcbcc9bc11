"""Wake-up payloads and the per-queue notification throttle."""

from __future__ import annotations

import time

from pgqrs import _notify


def test_wake_payload_round_trips() -> None:
    payload = _notify.wake_payload("my_schema", 42)
    assert _notify.parse_wake(payload) == ("my_schema", 42)
    assert _notify.parse_wake("something else") is None
    assert _notify.parse_wake("schema x") is None


def test_throttle_allows_one_notification_per_interval_per_queue() -> None:
    throttle = _notify.Throttle(interval=0.05)
    assert throttle.due("s", 1)
    assert not throttle.due("s", 1)
    assert throttle.due("s", 2) and throttle.due("t", 1)
    time.sleep(0.06)
    assert throttle.due("s", 1)
