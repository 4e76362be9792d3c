"""Tracing in three lines::

    from ial_resilience.observability import setup_tracing, traced, span
    setup_tracing("orders", exporter="otlp")          # once, at start-up
    @traced                                           # or: with span("charge", order=id): …

``setup_tracing`` builds an OpenTelemetry ``TracerProvider``: parent-based ratio sampler,
resource attributes (service, environment), a batch processor whose queue drops are counted,
and an exporter (OTLP/HTTP, console, the local store, or none) wrapped so that failures are
counted, never raised. ``xray=True`` adds X-Ray trace ids and the X-Ray propagator.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ial_resilience.errors import InputError
from ial_resilience.observability.exporters import (
    CountingBatchProcessor,
    CountingExporter,
    StoreSpanExporter,
)
from ial_resilience.observability.store import TelemetryStore

P = ParamSpec("P")
R = TypeVar("R")
INSTRUMENTATION = "ial_resilience"


class ExporterKind(StrEnum):
    OTLP = "otlp"
    CONSOLE = "console"
    STORE = "store"
    NONE = "none"


@dataclass(frozen=True)
class Tracing:
    """What :func:`setup_tracing` built; ``shutdown()`` flushes and stops the exporter."""

    provider: TracerProvider
    exporter: CountingExporter | None

    def tracer(self) -> trace.Tracer:
        return self.provider.get_tracer(INSTRUMENTATION)

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        return bool(self.provider.force_flush(int(timeout_s * 1000)))

    def shutdown(self) -> None:
        self.provider.shutdown()


_tracer: trace.Tracer | None = None
_root_ratio: float = 1.0


def _skip() -> bool:
    """True when the span would not be sampled anyway: no need to create it.

    A child of an unsampled parent is never sampled (parent-based); a root is never sampled
    when the ratio is 0. With ratio 1 nothing is skipped (the sampled path stays bare).
    Skipping keeps the parent's context current, which carries the same "not sampled"
    decision downstream.
    """
    if _root_ratio == 1.0:
        return False  # the SDK decides; checking would only cost the sampled path
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return not context.trace_flags.sampled
    return _root_ratio == 0.0


def _make_exporter(
    kind: ExporterKind, endpoint: str | None, store: TelemetryStore | str | Path | None
) -> SpanExporter | None:
    if kind is ExporterKind.NONE:
        return None
    if kind is ExporterKind.CONSOLE:
        return ConsoleSpanExporter()
    if kind is ExporterKind.STORE:
        if store is None:
            raise InputError(
                "exporter 'store' needs a telemetry store",
                hint="pass store=PATH (or a TelemetryStore) to setup_tracing",
            )
        return StoreSpanExporter(
            store if isinstance(store, TelemetryStore) else TelemetryStore(store)
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url = endpoint or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces"
    )
    return OTLPSpanExporter(endpoint=url, timeout=2)


def _parse_kind(exporter: str) -> ExporterKind:
    try:
        return ExporterKind(exporter)
    except ValueError:
        choices = ", ".join(k.value for k in ExporterKind)
        raise InputError(
            f"unknown trace exporter {exporter!r}", hint=f"use one of {choices}"
        ) from None


def setup_tracing(
    service: str,
    *,
    environment: str = "local",
    exporter: str = "otlp",
    endpoint: str | None = None,
    sample_ratio: float = 1.0,
    xray: bool = False,
    store: TelemetryStore | str | Path | None = None,
    set_global: bool = True,
    max_queue_size: int = 2048,
) -> Tracing:
    """Configure tracing for ``service``; returns the provider and the counting exporter."""
    if not 0.0 <= sample_ratio <= 1.0:
        raise InputError(
            f"sample_ratio {sample_ratio} is outside [0, 1]", hint="use e.g. 0.1 for 10 %"
        )
    resource = Resource.create({"service.name": service, "deployment.environment": environment})
    id_generator = None
    if xray:
        from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator

        id_generator = AwsXRayIdGenerator()
    provider = TracerProvider(
        resource=resource,
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        id_generator=id_generator,
    )
    inner = _make_exporter(_parse_kind(exporter), endpoint, store)
    counting = CountingExporter(inner) if inner is not None else None
    if counting is not None:
        provider.add_span_processor(CountingBatchProcessor(counting, max_queue_size=max_queue_size))
    if set_global:
        _install(provider, xray, sample_ratio)
    else:
        use_provider(provider, sample_ratio=sample_ratio)
    return Tracing(provider, counting)


def _install(provider: TracerProvider, xray: bool, ratio: float) -> None:
    global _tracer, _root_ratio
    trace.set_tracer_provider(provider)
    _tracer = provider.get_tracer(INSTRUMENTATION)
    _root_ratio = ratio
    propagators: list[Any] = [TraceContextTextMapPropagator(), W3CBaggagePropagator()]
    if xray:
        from opentelemetry.propagators.aws import AwsXRayPropagator

        propagators.append(AwsXRayPropagator())
    propagate.set_global_textmap(CompositePropagator(propagators))


def use_provider(provider: trace.TracerProvider, *, sample_ratio: float = 1.0) -> None:
    """Make ``span``/``traced`` use ``provider`` (tests, or a provider built elsewhere)."""
    global _tracer, _root_ratio
    _tracer = provider.get_tracer(INSTRUMENTATION)
    _root_ratio = sample_ratio


def tracer() -> trace.Tracer:
    """The tracer of ``setup_tracing`` (the OpenTelemetry global one until then: no-op)."""
    return _tracer if _tracer is not None else trace.get_tracer(INSTRUMENTATION)


def span(name: str, **attributes: Any) -> Any:
    """``with span("charge", order_id=7):`` — a current span; exceptions are recorded."""
    if _skip():
        return contextlib.nullcontext(trace.get_current_span())
    return tracer().start_as_current_span(name, attributes=attributes or None)


@overload
def traced(function: Callable[P, R]) -> Callable[P, R]: ...
@overload
def traced(
    function: None = None, *, name: str | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced(function: Any = None, *, name: str | None = None) -> Any:
    """Decorator: the call runs in a span named ``name`` or ``module.qualname``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        span_name = name or f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if _root_ratio != 1.0 and _skip():
                return fn(*args, **kwargs)
            with (_tracer or tracer()).start_as_current_span(span_name):
                return fn(*args, **kwargs)

        return wrapper

    return decorate(function) if function is not None else decorate


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) in hex of the current valid span, else None."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
