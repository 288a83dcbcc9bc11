"""Hook points for metrics and traces: enqueues and handler runs, observed by optional hooks.

The producer and the worker runtime call `enqueue` and `handle`; each returns None at once
when no hook is registered, so a process without hooks pays one attribute read per call. Hooks
subclass `Instrumentation` (every method a no-op) and are registered with `register`:

- `pgqrs.metrics.RuntimeMetrics`: the runtime's Prometheus counters (``--metrics-port``);
- `pgqrs.tracing.OpenTelemetryHooks`: a span per enqueue and per handler run, registered at
  import when opentelemetry-api is installed (the ``otel`` extra).

A hook may give an enqueue a trace context (W3C traceparent text), stored with the messages
(pgqrs_messages.trace_context) and handed back to the hooks when a handler runs them.
"""

from __future__ import annotations

import time
from typing import Any

from pgqrs import models, runtime


class Instrumentation:
    """A hook: override what you observe (each method here does nothing)."""

    @property
    def wants_trace_context(self) -> bool:
        """Return whether handler runs need the trace context their enqueue stored."""
        return False

    def enqueue_started(self, queue: str, count: int) -> Any:
        """An enqueue of `count` messages on `queue` starts; return a token for `enqueue_finished`."""
        return None

    def trace_context(self, token: Any) -> str | None:
        """Return the trace context to store with the messages of this enqueue (None: none)."""
        return None

    def enqueue_finished(self, token: Any, error: BaseException | None) -> None:
        """The enqueue ended (`error`: it raised)."""

    def handler_started(self, queue: str, message: models.QueueMessage, trace_context: str | None) -> Any:
        """A handler starts on `message`; return a token for `handler_finished`."""
        return None

    def handler_finished(
        self, token: Any, queue: str, outcome: runtime.Outcome, error: BaseException | None, seconds: float
    ) -> None:
        """The handler ended: `outcome` is what the runtime does with the message next."""


_hooks: tuple[Instrumentation, ...] = ()


def register(hook: Instrumentation) -> Instrumentation:
    """Add a hook (once); return it."""
    global _hooks
    if hook not in _hooks:
        _hooks = (*_hooks, hook)
    return hook


def unregister(hook: Instrumentation) -> None:
    """Remove a hook (nothing happens if it was not registered)."""
    global _hooks
    _hooks = tuple(registered for registered in _hooks if registered is not hook)


def hooks() -> tuple[Instrumentation, ...]:
    """Return the registered hooks, in registration order."""
    return _hooks


def wants_trace_context() -> bool:
    """Return whether any hook needs the trace contexts of the messages a handler runs."""
    return any(hook.wants_trace_context for hook in _hooks)


class EnqueueObservation:
    """One enqueue as the hooks see it (from `enqueue`)."""

    def __init__(self, queue: str, count: int, observers: tuple[Instrumentation, ...]) -> None:
        self._started = [(hook, hook.enqueue_started(queue, count)) for hook in observers]
        contexts = (hook.trace_context(token) for hook, token in self._started)
        self.trace_context = next((context for context in contexts if context), None)

    def finish(self, error: BaseException | None) -> None:
        """Tell the hooks the enqueue ended (last started, first told)."""
        for hook, token in reversed(self._started):
            hook.enqueue_finished(token, error)


def finish_all(observations: list[EnqueueObservation | None], error: BaseException | None) -> None:
    """Finish each observation of a statement that wrote several calls' messages (None: none)."""
    for observation in observations:
        if observation is not None:
            observation.finish(error)


class HandlerObservation:
    """One handler run as the hooks see it (from `handle`)."""

    def __init__(
        self,
        queue: str,
        message: models.QueueMessage,
        trace_context: str | None,
        observers: tuple[Instrumentation, ...],
    ) -> None:
        self.queue = queue
        self._started = [(hook, hook.handler_started(queue, message, trace_context)) for hook in observers]
        self._clock = time.perf_counter()

    def finish(self, outcome: runtime.Outcome, error: BaseException | None) -> None:
        """Tell the hooks the handler ended and how long it ran."""
        seconds = time.perf_counter() - self._clock
        for hook, token in reversed(self._started):
            hook.handler_finished(token, self.queue, outcome, error, seconds)


def enqueue(queue: str, count: int) -> EnqueueObservation | None:
    """Start observing an enqueue; None when no hook is registered."""
    return EnqueueObservation(queue, count, _hooks) if _hooks else None


def handle(
    queue: str, message: models.QueueMessage, trace_context: str | None = None
) -> HandlerObservation | None:
    """Start observing a handler run; None when no hook is registered."""
    return HandlerObservation(queue, message, trace_context, _hooks) if _hooks else None


def _register_available() -> None:
    """Register the OpenTelemetry hooks when opentelemetry-api is installed (the otel extra)."""
    try:
        from pgqrs import tracing
    except ImportError:
        return
    register(tracing.DEFAULT)


_register_available()
