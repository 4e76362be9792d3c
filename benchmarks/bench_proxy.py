"""Link proxy benchmark: direct vs our link vs socat, in one run, on 127.0.0.1.

Run with ``python -m benchmarks bench_proxy``. Three processes besides this one: the servers
(an epoll echo server and a byte sink), our link (so its CPU time can be read) and socat when
installed. Figures are written between the ``bench_proxy`` markers of benchmarks/BENCHMARKS.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

from benchmarks import _sections as sections

LOOPBACK = "127.0.0.1"
GIB = 1 << 30
BULK_BYTES = GIB
MESSAGE = 64
MARK_START = "<!-- bench_proxy:start -->"
MARK_END = "<!-- bench_proxy:end -->"
LATENCIES_MS = (10, 50, 200, 1000)
COMMAND = "python -m benchmarks bench_proxy"


# --- child processes ---------------------------------------------------------------------
def _raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve_servers() -> None:
    """Child: an epoll echo server and a sink (counts bytes, answers the count at EOF)."""
    _raise_nofile()
    echo_sock = _listener()
    sink_sock = _listener()
    print(f"{echo_sock.getsockname()[1]} {sink_sock.getsockname()[1]}", flush=True)
    threading.Thread(target=_sink_loop, args=(sink_sock,), daemon=True).start()
    _echo_loop(echo_sock)


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen(4096)
    return sock


def _echo_loop(listener: socket.socket) -> None:
    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is listener:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                selector.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if data:
                sock.setblocking(True)
                sock.sendall(data)
                sock.setblocking(False)
            else:
                selector.unregister(sock)
                sock.close()


def _sink_loop(listener: socket.socket) -> None:
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_sink, args=(conn,), daemon=True).start()


def _sink(conn: socket.socket) -> None:
    buffer = bytearray(1 << 20)
    total = 0
    while size := conn.recv_into(buffer):
        total += size
    conn.sendall(total.to_bytes(8, "big"))
    conn.close()


def serve_link(echo_port: int, sink_port: int) -> None:
    """Child: two links (to the echo server, to the sink); commands on stdin, one per line."""
    from ial_resilience.agent.link import Link
    from ial_resilience.faults.toxics import parse_toxic

    links = {
        "echo": Link("echo", (LOOPBACK, 0), (LOOPBACK, echo_port)),
        "sink": Link("sink", (LOOPBACK, 0), (LOOPBACK, sink_port)),
    }
    for link in links.values():
        link.start()
    print(f"{links['echo'].listen_address[1]} {links['sink'].listen_address[1]}", flush=True)
    for line in sys.stdin:
        verb, _, rest = line.strip().partition(" ")
        if verb == "add":
            name, _, body = rest.partition(" ")
            request = json.loads(body)
            spec = parse_toxic(request["kind"], request["attributes"], request["direction"])
            print(links[name].add_toxic(spec), flush=True)
        elif verb == "remove":
            name, _, toxic_id = rest.partition(" ")
            print(json.dumps(links[name].remove_toxic(toxic_id)), flush=True)
        else:
            break
    for link in links.values():
        link.stop()


def _spawn(code: str, *args: str) -> tuple[subprocess.Popen[str], list[int]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    ports = [int(part) for part in process.stdout.readline().split()]
    return process, ports


@dataclass
class Relays:
    """The processes under test and the ports to reach the servers through each path."""

    servers: subprocess.Popen[str]
    link: subprocess.Popen[str]
    socat: list[subprocess.Popen[str]]
    echo: dict[str, int]
    sink: dict[str, int]

    def command(self, line: str) -> str:
        assert self.link.stdin is not None and self.link.stdout is not None
        self.link.stdin.write(line + "\n")
        self.link.stdin.flush()
        return self.link.stdout.readline().strip()

    def close(self) -> None:
        for process in [self.link, self.servers, *self.socat]:
            process.terminate()
        for process in [self.link, self.servers, *self.socat]:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def relays() -> Iterator[Relays]:
    servers, (echo_port, sink_port) = _spawn(
        "from benchmarks.bench_proxy import serve_servers; serve_servers()"
    )
    link, (link_echo, link_sink) = _spawn(
        "import sys; from benchmarks.bench_proxy import serve_link; "
        "serve_link(int(sys.argv[1]), int(sys.argv[2]))",
        str(echo_port),
        str(sink_port),
    )
    echo = {"direct": echo_port, "link": link_echo}
    sink = {"direct": sink_port, "link": link_sink}
    socats = []
    if shutil.which("socat"):
        for target, ports in ((echo_port, echo), (sink_port, sink)):
            port = _free_port()
            socats.append(_start_socat(port, target))
            ports["socat"] = port
    found = Relays(servers, link, socats, echo, sink)
    try:
        for ports in (echo, sink):
            for port in ports.values():
                _wait_listening(port)
        yield found
    finally:
        found.close()


def _start_socat(port: int, target: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "socat",
            "-b",
            "131072",
            f"TCP-LISTEN:{port},bind={LOOPBACK},reuseaddr,fork,backlog=4096",
            f"TCP:{LOOPBACK}:{target},nodelay",
        ],
        text=True,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port}")


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# --- measurements ------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children once reaped (socat forks one per
    connection); waits until no child is alive so that nothing is missed or counted twice."""
    process = psutil.Process(pid)
    deadline = time.monotonic() + 5
    while process.children() and time.monotonic() < deadline:
        time.sleep(0.02)
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def bulk(port: int, cpu_pid: int | None, size: int = BULK_BYTES) -> tuple[float, float | None]:
    """Send ``size`` bytes to the sink; returns (GiB/s, relay CPU-s per GiB)."""
    block = memoryview(bytes(4 << 20))
    cpu_before = _cpu_seconds(cpu_pid) if cpu_pid else 0.0
    sock = _connect(port)
    start = time.perf_counter()
    sent = 0
    while sent < size:
        sock.sendall(block[: min(len(block), size - sent)])
        sent += min(len(block), size - sent)
    sock.shutdown(socket.SHUT_WR)
    reply = b""
    while len(reply) < 8:
        part = sock.recv(8 - len(reply))
        if not part:
            raise RuntimeError("the sink closed before answering")
        reply += part
    elapsed = time.perf_counter() - start
    sock.close()
    cpu = (_cpu_seconds(cpu_pid) - cpu_before) / (size / GIB) if cpu_pid else None
    if int.from_bytes(reply, "big") != size:
        raise RuntimeError(f"the sink got {int.from_bytes(reply, 'big')} of {size} bytes")
    return size / GIB / elapsed, cpu


def rtts_burst(port: int, connections: int, rounds: int) -> list[float]:
    """Round-trip times (µs) of 64-byte messages, one in flight on every connection at once."""
    socks = [_connect(port) for _ in range(connections)]
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    payload = b"x" * MESSAGE
    samples: list[float] = []
    for _ in range(rounds + 5):
        sent_at = {}
        for sock in socks:
            sent_at[sock] = time.perf_counter()
            sock.sendall(payload)
        waiting = {sock: MESSAGE for sock in socks}
        while waiting:
            for key, _ in selector.select(5):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                waiting[ready] -= len(ready.recv(MESSAGE))
                if waiting[ready] == 0:
                    samples.append((time.perf_counter() - sent_at[ready]) * 1e6)
                    del waiting[ready]
    for sock in socks:
        sock.close()
    return samples[5 * connections :]  # the first rounds warm up threads and caches


def rtts_open(port: int, connections: int, samples: int) -> list[float]:
    """Round-trip times (µs) of 64-byte messages sent in turn over ``connections`` open ones."""
    socks = [_connect(port) for _ in range(connections)]
    payload = b"x" * MESSAGE
    times: list[float] = []
    for index in range(samples + connections):
        sock = socks[index % connections]
        start = time.perf_counter()
        sock.sendall(payload)
        left = MESSAGE
        while left:
            left -= len(sock.recv(left))
        times.append((time.perf_counter() - start) * 1e6)
    for sock in socks:
        sock.close()
    return times[connections:]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def hold_connections(port: int, count: int) -> int:
    """Open ``count`` connections at once, echo on each, hold them; returns how many failed."""
    socks: list[socket.socket] = []
    failures = 0
    for _ in range(count):
        try:
            socks.append(_connect(port))
        except OSError:
            failures += 1
    for sock in socks:
        sock.sendall(b"y" * MESSAGE)
    for sock in socks:
        try:
            got = b""
            while len(got) < MESSAGE:
                part = sock.recv(MESSAGE - len(got))
                if not part:
                    raise OSError("closed")
                got += part
        except OSError:
            failures += 1
    for sock in socks:
        sock.close()
    return failures


def echo_rtts(port: int, count: int, gap: float = 0.0) -> list[float]:
    """RTT (ms) of ``count`` echoes on one connection, each sent ``gap`` seconds after the
    previous reply (0: back to back)."""
    sock = _connect(port)
    payload = b"z" * MESSAGE
    rtts = []
    for _ in range(count):
        if gap:
            time.sleep(gap)
        start = time.perf_counter()
        sock.sendall(payload)
        left = MESSAGE
        while left:
            left -= len(sock.recv(left))
        rtts.append((time.perf_counter() - start) * 1000)
    sock.close()
    return rtts


FIDELITY_SAMPLES = 100  # at least: below 100 samples a "p99" is just the maximum
# connections echoing side by side per latency, each started latency/connections after the
# previous one so that no two replies are due at once: ~2-5 s per latency
_CONNECTIONS = {10: 1, 50: 2, 200: 10, 1000: 20}


def idle_baseline(port: int, latency_ms: int) -> list[float]:
    """No-toxic link RTTs (ms) with the same quiet time before each echo as under the toxic
    (capped at 20 ms): after milliseconds of idleness the client, the link's threads and the
    echo server all wake from sleep, which a back-to-back baseline never pays."""
    return echo_rtts(port, FIDELITY_SAMPLES, min(latency_ms, 20) / 1000)


def latency_fidelity(port: int, latency_ms: int) -> list[float]:
    """RTT (ms) of at least FIDELITY_SAMPLES echoes with a latency toxic, from staggered
    connections echoing back to back."""
    connections = _CONNECTIONS.get(latency_ms, max(1, latency_ms // 50))
    rounds = math.ceil(FIDELITY_SAMPLES / connections)
    results: list[list[float]] = [[] for _ in range(connections)]

    def echo_later(index: int) -> None:
        time.sleep(index * latency_ms / connections / 1000)
        results[index] = echo_rtts(port, rounds)

    threads = [threading.Thread(target=echo_later, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [rtt for found in results for rtt in found]


# --- the run -----------------------------------------------------------------------------
@dataclass
class Row:
    measure: str
    direct: str
    link: str
    socat: str
    target: str
    passed: bool | None

    def cells(self) -> list[str]:
        verdict = "—" if self.passed is None else ("pass" if self.passed else "FAIL")
        return [self.measure, self.direct, self.link, self.socat, self.target, verdict]


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def _pair(values: dict[str, float], path: str, digits: int = 0) -> str:
    if path not in values:
        return "not run"
    return f"{values[path]:.{digits}f} (+{values[path] - values['direct']:.{digits}f})"


def measure_bulk(r: Relays, paths: list[str]) -> tuple[list[Row], float | None]:
    cpu_pid = {"direct": None, "link": r.link.pid, "socat": r.socat[1].pid if r.socat else None}
    speed: dict[str, float] = {}
    cpu: dict[str, float | None] = {}
    for path in paths:
        speed[path], cpu[path] = bulk(r.sink[path], cpu_pid[path])
    ratio = {p: speed[p] / speed["direct"] for p in paths}
    socat = f"{speed['socat']:.2f} ({ratio['socat']:.2f}×)" if "socat" in speed else "not run"
    link_cpu = cpu["link"]
    rows = [
        Row(
            "bulk 1 GiB throughput, GiB/s (ratio to direct)",
            _fmt(speed["direct"]),
            f"{speed['link']:.2f} ({ratio['link']:.2f}×)",
            socat,
            "link ≥ 0.8× direct",
            ratio["link"] >= 0.8,
        ),
        Row(
            "relay CPU-s per GiB (user + system of the relay process)",
            "—",
            _fmt(link_cpu),
            _fmt(cpu.get("socat")) if "socat" in cpu else "not run",
            "≤ 1.0",
            link_cpu is not None and link_cpu <= 1.0,
        ),
    ]
    return rows, speed.get("socat")


def measure_rtt(label: str, samples: dict[str, list[float]]) -> list[Row]:
    rows = []
    for name, q, limit in (("p50", 0.5, 100.0), ("p99", 0.99, 1000.0)):
        value = {path: percentile(found, q) for path, found in samples.items()}
        added = value["link"] - value["direct"]
        rows.append(
            Row(
                f"echo RTT {label}: {name} µs (added)",
                _fmt(value["direct"], digits=0),
                _pair(value, "link"),
                _pair(value, "socat"),
                f"added ≤ {limit:.0f} µs",
                added <= limit,
            )
        )
    return rows


def measure_latency_toxic(r: Relays, latency_ms: int, base_us: float) -> Row:
    idle = idle_baseline(r.echo["link"], latency_ms)
    toxic = json.dumps(
        {"kind": "latency", "attributes": {"latency_ms": latency_ms}, "direction": "upstream"}
    )
    toxic_id = r.command(f"add echo {toxic}")
    rtts = latency_fidelity(r.echo["link"], latency_ms)
    evidence = json.loads(r.command(f"remove echo {toxic_id}"))
    # added delay at a percentile = that percentile with the toxic minus the same percentile
    # of the idle baseline (as for every other RTT row): the machine's own wake-up jitter is
    # in both, the toxic's error is not
    p50 = percentile(rtts, 0.5) - percentile(idle, 0.5)
    p99 = percentile(rtts, 0.99) - percentile(idle, 0.99)
    over_p50 = percentile(rtts, 0.99) - percentile(idle, 0.5)
    naive = percentile(rtts, 0.5) - base_us / 1000
    agent = evidence.get("added_delay_ms", {})
    return Row(
        f"latency toxic {latency_ms} ms: added p50 / p99 ms ({len(rtts)} msgs)",
        "—",
        f"{p50:.2f} / {p99:.2f} (idle baseline p50 {percentile(idle, 0.5):.2f}, p99 "
        f"{percentile(idle, 0.99):.2f}; p99 over the idle p50 {over_p50:.2f}; p50 over the "
        f"back-to-back baseline {naive:.2f}; agent measured {agent.get('p50', 0):.2f} / "
        f"{agent.get('p99', 0):.2f})",
        "—",
        "p50 ± 0.5 ms, p99 ± 2 ms",
        abs(p50 - latency_ms) <= 0.5 and abs(p99 - latency_ms) <= 2.0,
    )


def measure_bulk_with_latency(r: Relays, socat_speed: float | None, trials: int = 3) -> Row:
    """Bulk through the link with and without a 50 ms latency toxic, interleaved ``trials``
    times (medians): one 1 GiB transfer is noisy on a shared machine."""
    toxic = json.dumps({"kind": "latency", "attributes": {"latency_ms": 50}, "direction": "both"})
    plain: list[float] = []
    slowed: list[float] = []
    for _ in range(trials):
        plain.append(bulk(r.sink["link"], None)[0])
        toxic_id = r.command(f"add sink {toxic}")
        slowed.append(bulk(r.sink["link"], None)[0])
        r.command(f"remove sink {toxic_id}")
    no_toxic, with_toxic = statistics.median(plain), statistics.median(slowed)
    to_socat = f"{with_toxic / socat_speed:.2f}× socat's no-toxic bulk" if socat_speed else "—"
    return Row(
        f"bulk 1 GiB with a 50 ms latency toxic, GiB/s (ratio to the no-toxic link; medians "
        f"of {trials} interleaved)",
        "—",
        f"{with_toxic:.2f} ({with_toxic / no_toxic:.2f}× the no-toxic link at {no_toxic:.2f}; "
        f"{to_socat})",
        f"{socat_speed:.2f} (no toxic)" if socat_speed else "not run",
        "≥ 0.8× no-toxic link",
        with_toxic / no_toxic >= 0.8,
    )


def measure_in_flight(samples: dict[str, list[float]]) -> list[Row]:
    """100 messages in flight on 100 connections: added RTT as a ratio to socat's added RTT
    in the same run (the target: no worse than socat)."""
    rows = measure_rtt("at 100 connections, 100 messages in flight", samples)
    if "socat" not in samples:
        return rows
    added = {
        path: percentile(samples[path], 0.5) - percentile(samples["direct"], 0.5)
        for path in ("link", "socat")
    }
    ratio = added["link"] / added["socat"] if added["socat"] > 0 else float("inf")
    rows.append(
        Row(
            "echo RTT at 100 connections, 100 messages in flight: added p50, ratio to socat's",
            "—",
            f"{ratio:.2f}× (+{added['link']:.0f} µs vs socat +{added['socat']:.0f} µs)",
            "1.00×",
            "≤ 1.0× socat's added p50",
            ratio <= 1.0,
        )
    )
    return rows


def measure_many(r: Relays) -> Row:
    direct = hold_connections(r.echo["direct"], 1000)
    link = hold_connections(r.echo["link"], 1000)
    return Row(
        "1,000 concurrent connections held, one echo each: failures",
        str(direct),
        str(link),
        "not run (forks a process per connection)",
        "0 failures",
        link == 0,
    )


def measure_all(r: Relays, log: Callable[[str], None]) -> list[Row]:
    paths: list[str] = [p for p in ("direct", "link", "socat") if p in r.sink]
    log("bulk 1 GiB")
    rows, socat_speed = measure_bulk(r, paths)
    log("64-byte echo RTT")
    one = {path: rtts_open(r.echo[path], 1, 3000) for path in paths}
    base_us = percentile(one["link"], 0.5)  # the toxic's added delay is measured over this
    rows += measure_rtt("at 1 connection", one)
    rows += measure_rtt(
        "over 100 open connections, one message at a time",
        {path: rtts_open(r.echo[path], 100, 3000) for path in paths},
    )
    rows += measure_in_flight({path: rtts_burst(r.echo[path], 100, 30) for path in paths})
    for latency_ms in LATENCIES_MS:
        log(f"latency toxic {latency_ms} ms")
        rows.append(measure_latency_toxic(r, latency_ms, base_us))
    log("bulk 1 GiB with a 50 ms latency toxic")
    rows.append(measure_bulk_with_latency(r, socat_speed))
    log("1,000 concurrent connections")
    rows.append(measure_many(r))
    return rows


NOTES = (
    "How the link gets there: with no toxic a direction is one thread blocked in `os.splice` "
    "(socket → 1 MiB pipe → socket), so bytes never enter Python and the GIL is released "
    "inside the system call. Latency, loss and timeout toxics keep each chunk in a pipe of "
    "its own while it waits (zero-copy); toxics that read or cut bytes (slicer, bandwidth, "
    "HTTP) switch the direction to userspace chunks. A writer thread sends each chunk at its "
    "due time (sleep, then a short spin when the chunk is alone).",
    "",
    "Known weakness: with 100 messages in flight at once, every message costs the relay a "
    "thread wake-up and two splices per direction, and 100 of them queue behind each other on "
    "2 CPUs shared with the client and the echo server, so queueing adds milliseconds. socat "
    "(C, one process per connection) pays the same price in the same run; no user-space relay "
    "measured here meets ≤ 100 µs added at p50 under this load. A single epoll loop serving "
    "every no-toxic direction with non-blocking splice was prototyped (2026-11-26) and was "
    "slower here, not faster (burst p50 ~9 ms vs ~4.6 ms for the threads, medians of 6 "
    "interleaved runs at load ~2): one thread serialises all the per-message Python work on "
    "one of the 2 CPUs. Latency toxics: the writer thread waits for a lone chunk's deadline "
    "with real-time priority (SCHED_FIFO) where permitted; 100 echoes per latency (staggered "
    "connections for 200 and 1000 ms), so a p99 is not just the maximum. Timing rows are "
    "sensitive to other load on the 2 shared CPUs; the load average is printed above.",
    "",
    "2026-12-07: the in-flight row is also given as the ratio of the link's added p50 to "
    "socat's in the same run (target: no worse than socat, ≤ 1.0×). Bulk with a 50 ms latency "
    "toxic: the writer now holds up to 160 MiB per direction before the reader waits (was 64 "
    "MiB), the bandwidth-delay product of ~3 GiB/s at 50 ms; at 64 MiB the stream was capped "
    "near 64 MiB / 50 ms = 1.3 GiB/s (measured 1.01-1.13 GiB/s, 0.47-0.77× the no-toxic "
    "link, in three runs at 06:16 UTC). The row is now the median of 3 interleaved transfers "
    "with and without the toxic. Raising the 64 pipes a direction may hold to 160 gave no "
    "clear gain (0.84/0.86× vs 0.74-0.86×) and costs file descriptors, so it stays 64. The "
    "'bulk ≥ 0.8× direct' row fails on this machine, whose direct loopback copy reaches "
    "3.4-5.0 GiB/s (1.7 GiB/s on the 2026-11-26 machine): socat reaches 0.3-0.6× direct in the "
    "same runs, so it is the relay design (one splice thread per direction), not a toxic.",
)


def render(rows: list[Row], socat_note: str, seconds: float, load: float) -> str:
    header = ["measure", "direct", "ialr link", "socat", "target", "result"]
    lines = [
        MARK_START,
        "## Link proxy",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{COMMAND}` "
        f"({seconds:.0f} s; {os.cpu_count()} CPUs; loopback; Python {sys.version.split()[0]}). "
        "The link runs in its own process so its CPU time can be read; socat runs with "
        "128 KiB buffers. Added RTT = link percentile minus direct percentile. Latency toxics "
        "are applied to the upstream direction only; their added delay at p50 (p99) is the "
        "echo RTT p50 (p99) with the toxic minus the p50 (p99) of the idle baseline: the "
        "no-toxic link with the same quiet time before each echo (capped at 20 ms), because "
        "after a quiet spell every party wakes from sleep (direct, with no link at all, "
        "64-byte echoes 10 ms apart take ~0.2 ms more than back to back, and their p99 is "
        "milliseconds above their p50 when the machine is busy). 'p99 over the idle p50' is "
        "the stricter figure earlier runs reported. 'agent measured' is the link's own "
        "per-chunk evidence. "
        f"Load average before the run: {load:.2f} (the machine is shared).",
    ]
    if socat_note:
        lines += ["", socat_note]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    lines += ["", *NOTES, MARK_END]
    return "\n".join(lines)


def main() -> int:
    _raise_nofile()
    started = time.monotonic()
    load = os.getloadavg()[0]
    note = "" if shutil.which("socat") else "socat is not installed: its column was skipped."
    if note:
        print(note, flush=True)
    with relays() as found:
        rows = measure_all(found, lambda text: print(f"  {text}", flush=True))
    seconds = time.monotonic() - started
    section = render(rows, note, seconds, load)
    print(section)
    sections.write_section(section, MARK_START, MARK_END)
    failed = [row.measure for row in rows if row.passed is False]
    print(f"bench_proxy: {len(rows) - len(failed)}/{len(rows)} targets met in {seconds:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
