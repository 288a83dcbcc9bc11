"""OpenTelemetry: a span per enqueue and per handler run, linked through the message.

Needs opentelemetry-api (the ``otel`` extra); `pgqrs.instrumentation` registers `DEFAULT` at
import when it is installed. Spans go to the global tracer provider (set one up with the SDK
and an exporter of your choice); until one is set they are not recorded, and nothing is stored
or read for them.

- ``<queue> publish`` (kind PRODUCER) around every enqueue call (one for a batch); its context
  is stored with the messages as a W3C traceparent (pgqrs_messages.trace_context).
- ``<queue> process`` (kind CONSUMER) around every handler run, current while the handler runs
  (its own spans are children), with a link to the publish span of its message. Failed runs
  have status ERROR and the exception recorded; ``pgqrs.outcome`` says what happens next.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from pgqrs import instrumentation, models, runtime

_PROPAGATOR = TraceContextTextMapPropagator()
_SYSTEM = "pgqrs"


class OpenTelemetryHooks(instrumentation.Instrumentation):
    """Spans for enqueues and handler runs.

    Args:
        tracer_provider: Where spans go; the global tracer provider when None.
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._provider = tracer_provider
        self._tracer_made: trace.Tracer | None = None

    def _tracer(self) -> trace.Tracer:
        if self._tracer_made is None:
            # Made on first use, not at import (pgqrs is still importing then). From the global
            # provider this is a proxy: a provider set up later is honoured.
            from pgqrs import __version__

            self._tracer_made = trace.get_tracer("pgqrs", __version__, tracer_provider=self._provider)
        return self._tracer_made

    @property
    def wants_trace_context(self) -> bool:
        provider = self._provider or trace.get_tracer_provider()
        # The API's default provider records nothing: reading trace contexts would be for nothing.
        return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))

    def enqueue_started(self, queue: str, count: int) -> Any:
        if not self.wants_trace_context:
            # Nothing records spans: not even a non-recording one is made (that cost ~30 us of
            # every enqueue with opentelemetry-api merely installed).
            return None
        attributes: dict[str, AttributeValue] = {
            "messaging.system": _SYSTEM,
            "messaging.destination.name": queue,
            "messaging.operation.type": "publish",
            "messaging.batch.message_count": count,
        }
        span = self._tracer().start_span(f"{queue} publish", kind=SpanKind.PRODUCER, attributes=attributes)
        return span, context.attach(trace.set_span_in_context(span))

    def trace_context(self, token: Any) -> str | None:
        if token is None:
            return None
        span, _attached = token
        if not span.get_span_context().is_valid:
            return None
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
        return carrier.get("traceparent")

    def enqueue_finished(self, token: Any, error: BaseException | None) -> None:
        if token is None:
            return
        span, attached = token
        _end(span, error)
        context.detach(attached)

    def handler_started(self, queue: str, message: models.QueueMessage, trace_context: str | None) -> Any:
        if not self.wants_trace_context:
            return None
        links = []
        if trace_context:
            producer = trace.get_current_span(_PROPAGATOR.extract({"traceparent": trace_context}))
            if producer.get_span_context().is_valid:
                links.append(Link(producer.get_span_context()))
        attributes: dict[str, AttributeValue] = {
            "messaging.system": _SYSTEM,
            "messaging.destination.name": queue,
            "messaging.operation.type": "process",
            "messaging.message.id": str(message.id),
            "pgqrs.attempt": message.read_ct,
        }
        span = self._tracer().start_span(
            f"{queue} process", kind=SpanKind.CONSUMER, attributes=attributes, links=links
        )
        return span, context.attach(trace.set_span_in_context(span))

    def handler_finished(
        self, token: Any, queue: str, outcome: runtime.Outcome, error: BaseException | None, seconds: float
    ) -> None:
        if token is None:
            return
        span, attached = token
        span.set_attribute("pgqrs.outcome", outcome.settlement)
        _end(span, error)
        context.detach(attached)


def _end(span: trace.Span, error: BaseException | None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()


DEFAULT = OpenTelemetryHooks()
