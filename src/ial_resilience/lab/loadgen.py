"""The load generator: real users for the lab, open loop, every request recorded.

    python -m ial_resilience.lab.loadgen --url http://127.0.0.1:8080 --rate 200 \\
        --duration 30s --store telemetry.db --stats-port 0 --ready-file lg.json

Requests follow a fixed timetable (``loadgen_schedule``): a slow or failing response never
lowers the offered rate, latency is measured from the scheduled send time and the send-time
skew is recorded. Each outcome goes to the telemetry store in batches (``loadgen_record``),
so availability and p50/p95/p99 are measured from real traffic. While it runs it serves
``/metrics`` (Prometheus text: rolling availability and latency over the last 1 s, totals,
skew) and ``/stats`` (JSON) on 127.0.0.1, which is what experiments' ``metric`` probes read.
SIGTERM/SIGINT stop it cleanly: in-flight requests finish (bounded by the timeout), the store
is flushed and a JSON summary is printed on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ial_resilience.errors import IalrError, InputError
from ial_resilience.lab.loadgen_http import HttpPool, HttpProtocolError
from ial_resilience.lab.loadgen_record import (
    BoundedSample,
    Outcome,
    RollingWindow,
    SkewTracker,
    StoreRecorder,
    nearest_rank,
)
from ial_resilience.lab.loadgen_schedule import (
    DEFAULT_MIX,
    Clock,
    LoopClock,
    MixCycle,
    RequestKind,
    Timetable,
    parse_mix,
)
from ial_resilience.observability.store import TelemetryStore
from ial_resilience.units import parse_duration

Transport = Callable[[str, str, bytes | None], Awaitable[int]]
"""Sends one request (method, path, body) and returns the HTTP status; raises on failure."""

DEFAULT_BODY = b'{"item": "loadgen", "amount": 1.0}'


@dataclass(frozen=True)
class LoadConfig:
    url: str
    rate: float = 50.0
    duration: float | None = None
    mix: tuple[RequestKind, ...] = DEFAULT_MIX
    timeout: float = 2.0
    max_in_flight: int = 512
    body: bytes = DEFAULT_BODY

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise InputError(
                f"load generator URL {self.url!r} is not http://host:port",
                hint="point it at the load balancer, e.g. http://127.0.0.1:8080",
            )
        if not 0 < self.rate <= 10_000:
            raise InputError(f"rate {self.rate:g} req/s is out of range (0, 10000]")
        if self.timeout <= 0 or self.max_in_flight < 1:
            raise InputError("timeout must be > 0 and max_in_flight ≥ 1")

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return str(parts.hostname), parts.port or 80

    @property
    def base_path(self) -> str:
        return urlsplit(self.url).path.rstrip("/")


@dataclass
class Totals:
    scheduled: int = 0
    completed: int = 0
    ok: int = 0
    in_flight: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: BoundedSample = field(default_factory=BoundedSample)


def classify_error(error: BaseException) -> str:
    """The ``status`` label of a request that got no HTTP answer."""
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, HttpProtocolError | asyncio.IncompleteReadError | ValueError):
        return "protocol"
    return "connect"


class LoadGenerator:
    """Sends the mix at ``config.rate`` until ``stop`` is set or ``duration`` has passed."""

    def __init__(
        self,
        config: LoadConfig,
        *,
        store: TelemetryStore | None = None,
        clock: Clock | None = None,
        transport: Transport | None = None,
        sink: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or LoopClock()
        self._pool = HttpPool(*config.host_port) if transport is None else None
        self.transport = transport or self._http
        self.sink = sink
        self.recorder = StoreRecorder(store)
        self.window = RollingWindow()
        self.skew = SkewTracker()
        self.totals = Totals()
        self.started_wall: float | None = None
        self.elapsed = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _http(self, method: str, path: str, body: bytes | None) -> int:
        assert self._pool is not None
        response = await self._pool.request(method, path, body)
        return response.status

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, Any]:
        stop = stop or asyncio.Event()
        self.recorder.start()
        start = self.clock.now()
        wall0 = self.clock.wall()
        self.started_wall = wall0
        table = Timetable(start, self.config.rate)
        mix = MixCycle(self.config.mix)
        end = start + self.config.duration if self.config.duration else None
        index = 0
        try:
            while not stop.is_set():
                due = table.due(index)
                if end is not None and due >= end:
                    break
                await self._sleep_or_stop(due, stop)
                if stop.is_set():
                    break
                now = self.clock.now()
                for i in range(index, table.due_count(now)):
                    due_i = table.due(i)
                    if end is not None and due_i >= end:
                        break
                    self._start(mix.next(), due_i, wall0 + (due_i - start), now)
                    index = i + 1
        finally:
            self.elapsed = self.clock.now() - start
            await self._drain()
            for point in self.skew.flush():
                self.recorder.add(point)
            self.recorder.close()
            if self._pool is not None:
                self._pool.close()
        return self.summary()

    async def _sleep_or_stop(self, due: float, stop: asyncio.Event) -> None:
        if due - self.clock.now() > 0.05:  # long waits (low rates) still notice a stop quickly
            waiter = asyncio.ensure_future(stop.wait())
            sleeper = asyncio.ensure_future(self.clock.sleep_until(due))
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            for pending in (waiter, sleeper):
                pending.cancel()
            return
        await self.clock.sleep_until(due)

    def _start(self, kind: RequestKind, due: float, due_wall: float, now: float) -> None:
        skew_ms = max(0.0, (now - due) * 1000.0)
        for point in self.skew.add(due_wall, skew_ms):
            self.recorder.add(point)
        self.totals.scheduled += 1
        if self.totals.in_flight >= self.config.max_in_flight:
            self._finish(Outcome(due_wall, skew_ms, skew_ms, kind.method, kind.path, "saturated"))
            return
        task = asyncio.ensure_future(self._one(kind, due, due_wall, skew_ms))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, kind: RequestKind, due: float, due_wall: float, skew_ms: float) -> None:
        self.totals.in_flight += 1
        body = self.config.body if kind.method in ("POST", "PUT", "PATCH") else None
        try:
            async with asyncio.timeout(self.config.timeout):
                status = str(
                    await self.transport(kind.method, self.config.base_path + kind.path, body)
                )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            status = classify_error(error)
        finally:
            self.totals.in_flight -= 1
        latency_ms = (self.clock.now() - due) * 1000.0
        self._finish(Outcome(due_wall, skew_ms, latency_ms, kind.method, kind.path, status))

    def _finish(self, outcome: Outcome) -> None:
        totals = self.totals
        totals.completed += 1
        totals.ok += outcome.ok
        totals.statuses[outcome.status] += 1
        totals.latencies.add(outcome.latency_ms)
        self.window.add(self.clock.now(), outcome.ok, outcome.latency_ms)
        self.recorder.add(outcome.point())
        if self.sink is not None:
            self.sink(outcome)

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.config.timeout + 1.0)
        for task in list(self._tasks):
            task.cancel()

    def summary(self) -> dict[str, Any]:
        totals = self.totals
        skews = self.skew.all.values
        return {
            "url": self.config.url,
            "rate_target": self.config.rate,
            "rate_offered": totals.scheduled / self.elapsed if self.elapsed > 0 else 0.0,
            "scheduled": totals.scheduled,
            "completed": totals.completed,
            "ok": totals.ok,
            "availability": totals.ok / totals.completed if totals.completed else None,
            "statuses": dict(totals.statuses),
            "latency_ms": _percentiles(totals.latencies.values),
            "percentiles_exact": totals.latencies.exact and self.skew.all.exact,
            "skew_ms": {**_percentiles(skews), "max": self.skew.all.maximum},
            "store": {"written": self.recorder.written, "dropped": self.recorder.dropped},
            "elapsed_s": self.elapsed,
            "window": self.window.stats(self.clock.now()),
            "connections_opened": self._pool.opened if self._pool is not None else None,
        }

    def metrics_text(self) -> str:
        """Prometheus text exposition of the live figures."""
        live = self.window.stats(self.clock.now())
        skew = self.skew.all.values[-1000:]
        lines = [
            "# TYPE ialr_loadgen_requests_total counter",
            f'ialr_loadgen_requests_total{{outcome="ok"}} {self.totals.ok}',
            'ialr_loadgen_requests_total{outcome="error"} '
            f"{self.totals.completed - self.totals.ok}",
            "# TYPE ialr_loadgen_in_flight gauge",
            f"ialr_loadgen_in_flight {self.totals.in_flight}",
            "# TYPE ialr_loadgen_window_requests gauge",
            f'ialr_loadgen_window_requests{{window="{self.window.seconds:g}s"}} {live["requests"]}',
        ]
        for key in ("availability", "p50_ms", "p95_ms", "p99_ms"):
            value = live[key]
            if value is not None:
                lines += [
                    f"# TYPE ialr_loadgen_window_{key} gauge",
                    f'ialr_loadgen_window_{key}{{window="{self.window.seconds:g}s"}} {value}',
                ]
        p99 = nearest_rank(skew, 99)
        if p99 is not None:
            lines += ["# TYPE ialr_loadgen_skew_p99_ms gauge", f"ialr_loadgen_skew_p99_ms {p99}"]
        return "\n".join(lines) + "\n"


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{q}": nearest_rank(values, q) for q in (50, 95, 99)}


# -- the stats endpoint ---------------------------------------------------------------------
async def serve_stats(generator: LoadGenerator, port: int) -> asyncio.Server:
    """``GET /metrics`` (Prometheus text) and ``GET /stats`` (JSON) on 127.0.0.1."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
            if path.startswith(b"/metrics"):
                body, kind, code = generator.metrics_text().encode(), "text/plain", "200 OK"
            elif path.startswith(b"/stats"):
                body = json.dumps(generator.summary()).encode()
                kind, code = "application/json", "200 OK"
            else:
                body, kind, code = b"not found\n", "text/plain", "404 Not Found"
            writer.write(
                f"HTTP/1.1 {code}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


# -- command line ---------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ial_resilience.lab.loadgen")
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--duration", default=None, help="e.g. 30s (default: until SIGTERM)")
    parser.add_argument("--mix", default="GET /orders=4,POST /orders=1")
    parser.add_argument("--timeout", default="2s", help="per request")
    parser.add_argument("--max-in-flight", type=int, default=512)
    parser.add_argument("--body", default=DEFAULT_BODY.decode(), help="JSON body of POST/PUT")
    parser.add_argument("--store", type=Path, default=None, help="telemetry store (SQLite)")
    parser.add_argument("--stats-port", type=int, default=None, help="serve /metrics here")
    parser.add_argument("--ready-file", type=Path, default=None, help="JSON written at start")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    try:
        duration = parse_duration(args.duration) if args.duration else None
        timeout = parse_duration(args.timeout)
    except ValueError as error:
        raise InputError(str(error), hint="write durations as 250ms, 30s, 5m") from error
    return LoadConfig(
        url=args.url,
        rate=args.rate,
        duration=duration,
        mix=parse_mix(args.mix),
        timeout=timeout,
        max_in_flight=args.max_in_flight,
        body=args.body.encode(),
    )


def write_ready(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


async def _main_async(args: argparse.Namespace) -> dict[str, Any]:
    config = config_from_args(args)
    store = TelemetryStore(args.store) if args.store else None
    generator = LoadGenerator(config, store=store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await serve_stats(generator, args.stats_port) if args.stats_port is not None else None
    ready: dict[str, Any] = {"pid": os.getpid(), "url": config.url, "rate": config.rate}
    if server is not None:
        port = server.sockets[0].getsockname()[1]
        ready["stats_url"] = f"http://127.0.0.1:{port}"
    if args.ready_file:
        write_ready(args.ready_file, ready)
    try:
        return await generator.run(stop)
    finally:
        if server is not None:
            server.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = asyncio.run(_main_async(args))
    except IalrError as error:
        print(f"Error: {error.message}", file=sys.stderr)
        return int(error.exit_code)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
