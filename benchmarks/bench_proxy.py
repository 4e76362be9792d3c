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
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

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
    """CPU time of a process and its live children (socat forks one per connection)."""
    process = psutil.Process(pid)
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def bulk(port: int, cpu_pid: int | None, size: int = BULK_BYTES) -> tuple[float, float | None]:
    """Send ``size`` bytes to the sink; returns (GiB/s, relay CPU-s per GiB)."""
    block = memoryview(bytes(4 << 20))
    sock = _connect(port)
    cpu_before = _cpu_seconds(cpu_pid) if cpu_pid else 0.0
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
    cpu = (_cpu_seconds(cpu_pid) - cpu_before) / (size / GIB) if cpu_pid else None
    sock.close()
    if int.from_bytes(reply, "big") != size:
        raise RuntimeError(f"the sink got {int.from_bytes(reply, 'big')} of {size} bytes")
    return size / GIB / elapsed, cpu


def rtts(port: int, connections: int, rounds: int) -> list[float]:
    """Round-trip times (µs) of 64-byte messages, ``connections`` in flight at once."""
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
        round_samples = []
        while waiting:
            for key, _ in selector.select(5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                waiting[sock] -= len(sock.recv(MESSAGE))
                if waiting[sock] == 0:
                    round_samples.append((time.perf_counter() - sent_at[sock]) * 1e6)
                    del waiting[sock]
        samples.extend(round_samples)
    for sock in socks:
        sock.close()
    return samples[5 * connections :]  # the first rounds warm up threads and caches


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


def latency_fidelity(port: int, latency_ms: int, base_us: float) -> list[float]:
    """Added delay (ms) per message with a latency toxic: a message every 10 ms, pipelined."""
    sock = _connect(port)
    window = max(1.0, latency_ms / 1000 * 0.5 + 0.5)
    count = int(window / 0.01)
    sent_at: list[float] = []
    added: list[float] = []

    def send() -> None:
        start = time.perf_counter()
        for index in range(count):
            pause = start + index * 0.01 - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sent_at.append(time.perf_counter())
            sock.sendall(index.to_bytes(8, "big") * (MESSAGE // 8))

    sender = threading.Thread(target=send)
    sender.start()
    for index in range(count):
        got = b""
        while len(got) < MESSAGE:
            got += sock.recv(MESSAGE - len(got))
        arrived = time.perf_counter()
        assert int.from_bytes(got[:8], "big") == index
        added.append((arrived - sent_at[index]) * 1000 - base_us / 1000)
    sender.join()
    sock.close()
    return added


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


def measure_all(r: Relays, log: Callable[[str], None]) -> list[Row]:
    rows: list[Row] = []
    paths = [p for p in ("direct", "link", "socat") if p in r.sink]
    cpu_pid = {"direct": None, "link": r.link.pid, "socat": r.socat[1].pid if r.socat else None}

    log("bulk 1 GiB")
    speed, cpu = {}, {}
    for path in paths:
        speed[path], cpu[path] = bulk(r.sink[path], cpu_pid[path])
    ratio = {p: speed[p] / speed["direct"] for p in paths}
    rows.append(
        Row(
            "bulk 1 GiB throughput (GiB/s, ratio to direct)",
            _fmt(speed["direct"]),
            f"{speed['link']:.2f} ({ratio['link']:.2f}×)",
            f"{speed['socat']:.2f} ({ratio['socat']:.2f}×)" if "socat" in speed else "not run",
            "link ≥ 0.8× direct",
            ratio["link"] >= 0.8,
        )
    )
    rows.append(
        Row(
            "relay CPU per GiB (CPU-s)",
            "—",
            _fmt(cpu["link"]),
            _fmt(cpu.get("socat")) if "socat" in cpu else "not run",
            "≤ 1.0",
            cpu["link"] is not None and cpu["link"] <= 1.0,
        )
    )

    base_us = 0.0
    for connections, rounds in ((1, 2000), (100, 40)):
        log(f"64-byte echo RTT, {connections} connection(s)")
        samples = {p: rtts(r.echo[p], connections, rounds) for p in paths}
        p50 = {p: percentile(s, 0.5) for p, s in samples.items()}
        p99 = {p: percentile(s, 0.99) for p, s in samples.items()}
        if connections == 1:
            base_us = p50["direct"]
        added50 = {p: p50[p] - p50["direct"] for p in paths}
        added99 = {p: p99[p] - p99["direct"] for p in paths}
        rows.append(
            Row(
                f"echo RTT at {connections} conn: p50 µs (added)",
                _fmt(p50["direct"], digits=0),
                f"{p50['link']:.0f} (+{added50['link']:.0f})",
                f"{p50['socat']:.0f} (+{added50['socat']:.0f})" if "socat" in p50 else "not run",
                "added ≤ 100 µs",
                added50["link"] <= 100,
            )
        )
        rows.append(
            Row(
                f"echo RTT at {connections} conn: p99 µs (added)",
                _fmt(p99["direct"], digits=0),
                f"{p99['link']:.0f} (+{added99['link']:.0f})",
                f"{p99['socat']:.0f} (+{added99['socat']:.0f})" if "socat" in p99 else "not run",
                "added ≤ 1000 µs",
                added99["link"] <= 1000,
            )
        )

    log("1,000 concurrent connections")
    failures = hold_connections(r.echo["link"], 1000)
    direct_failures = hold_connections(r.echo["direct"], 1000)
    rows.append(
        Row(
            "1,000 concurrent connections: failures",
            str(direct_failures),
            str(failures),
            "not run (forks a process per connection)",
            "0 failures",
            failures == 0,
        )
    )

    for latency_ms in LATENCIES_MS:
        log(f"latency toxic {latency_ms} ms")
        toxic = json.dumps(
            {"kind": "latency", "attributes": {"latency_ms": latency_ms}, "direction": "upstream"}
        )
        toxic_id = r.command(f"add echo {toxic}")
        added = latency_fidelity(r.echo["link"], latency_ms, base_us)
        evidence = json.loads(r.command(f"remove echo {toxic_id}"))
        p50, p99 = percentile(added, 0.5), percentile(added, 0.99)
        measured = evidence.get("added_delay_ms", {})
        rows.append(
            Row(
                f"latency toxic {latency_ms} ms: added p50 / p99 ms ({len(added)} msgs)",
                "—",
                f"{p50:.2f} / {p99:.2f} (agent says {measured.get('p50', 0):.2f} / "
                f"{measured.get('p99', 0):.2f})",
                "—",
                "p50 within 0.5 ms, p99 within 2 ms",
                abs(p50 - latency_ms) <= 0.5 and abs(p99 - latency_ms) <= 2.0,
            )
        )

    log("bulk 1 GiB with a 50 ms latency toxic")
    toxic = json.dumps({"kind": "latency", "attributes": {"latency_ms": 50}, "direction": "both"})
    toxic_id = r.command(f"add sink {toxic}")
    slowed, _ = bulk(r.sink["link"], None)
    r.command(f"remove sink {toxic_id}")
    rows.append(
        Row(
            "bulk 1 GiB with 50 ms latency toxic (GiB/s, ratio to no-toxic link)",
            "—",
            f"{slowed:.2f} ({slowed / speed['link']:.2f}×)",
            "—",
            "≥ 0.5× no-toxic link",
            slowed / speed["link"] >= 0.5,
        )
    )
    return rows


def render(rows: list[Row], socat_note: str, seconds: float) -> str:
    header = ["measure", "direct", "ialr link", "socat", "target", "result"]
    lines = [
        MARK_START,
        "## Link proxy",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{COMMAND}` "
        f"({seconds:.0f} s; {os.cpu_count()} CPUs; loopback; Python {sys.version.split()[0]}). "
        "The link runs in its own process so its CPU time can be read; socat runs with "
        "128 KiB buffers. Added RTT = link percentile minus direct percentile.",
    ]
    if socat_note:
        lines += ["", socat_note]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    lines.append(MARK_END)
    return "\n".join(lines)


def write_section(section: str, path: Path | None = None) -> None:
    path = path or Path(__file__).with_name("BENCHMARKS.md")
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if MARK_START in text and MARK_END in text:
        head, _, rest = text.partition(MARK_START)
        _, _, tail = rest.partition(MARK_END)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> int:
    _raise_nofile()
    started = time.monotonic()
    note = "" if shutil.which("socat") else "socat is not installed: its column was skipped."
    if note:
        print(note, flush=True)
    with relays() as found:
        rows = measure_all(found, lambda text: print(f"  {text}", flush=True))
    seconds = time.monotonic() - started
    section = render(rows, note, seconds)
    print(section)
    write_section(section)
    failed = [row.measure for row in rows if row.passed is False]
    print(f"bench_proxy: {len(rows) - len(failed)}/{len(rows)} targets met in {seconds:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
