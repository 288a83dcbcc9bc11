"""Without the otel extra no hook is registered, and the hook points cost a check each."""

from __future__ import annotations

import subprocess
import sys

import pytest

WITHOUT_OPENTELEMETRY = """
import sys
sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
import pgqrs
from pgqrs import instrumentation
assert instrumentation.hooks() == (), instrumentation.hooks()
assert instrumentation.enqueue("jobs", 1) is None and not instrumentation.wants_trace_context()
assert "opentelemetry.trace" not in sys.modules
print("ok")
"""


def test_no_hooks_and_no_opentelemetry_without_the_extra() -> None:
    command = [sys.executable, "-c", WITHOUT_OPENTELEMETRY]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_the_opentelemetry_hooks_are_registered_when_the_extra_is_there() -> None:
    from pgqrs import instrumentation, tracing

    assert tracing.DEFAULT in instrumentation.hooks()


def test_without_a_recording_provider_no_span_is_made() -> None:
    pytest.importorskip("opentelemetry")
    from opentelemetry import trace

    from pgqrs import tracing

    # The API's default (proxy) provider records nothing: the hooks must not even start spans.
    hooks = tracing.OpenTelemetryHooks(trace.NoOpTracerProvider())
    assert hooks.enqueue_started("q", 1) is None
    assert hooks.trace_context(None) is None
    hooks.enqueue_finished(None, None)
