"""Without the otel extra no hook is registered, and the hook points cost a check each."""

from __future__ import annotations

import subprocess
import sys

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
