"""Slow and idle clients against a running server, and probes that time what real users get.

Used by bench/abuse.py. The attack is plain asyncio (a few hundred sockets cost the attacker
almost no CPU): `idle` sockets connect and send nothing, `slow` sockets start a request and then
send one header byte a second, never finishing. Any socket the server closes is reopened at once,
as an attacker would. Meanwhile probes ask for real pages every `interval` seconds and record
how long each took (a probe that times out counts as its timeout).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass
class ProbeResult:
    path: str
    latencies: list[float]
    failures: int

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0

    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


async def _idle(host: str, port: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        try:
            # Wait until the server hangs up (or the attack ends), then come straight back.
            read = asyncio.ensure_future(reader.read(1))
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait({read, halt}, return_when=asyncio.FIRST_COMPLETED)
            read.cancel()
            halt.cancel()
        finally:
            writer.close()


async def _slow(host: str, port: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        try:
            writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            await writer.drain()
            while not stop.is_set() and not reader.at_eof():
                await asyncio.sleep(1)
                writer.write(b"a")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


async def _probe(
    host: str, port: int, path: str, stop: asyncio.Event, interval: float, timeout: float
) -> ProbeResult:
    result = ProbeResult(path, [], 0)
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    while not stop.is_set():
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
                await reader.read()
                writer.close()
            if b" 200 " not in status_line:
                result.failures += 1
            result.latencies.append(time.perf_counter() - started)
        except (TimeoutError, OSError):
            result.failures += 1
            result.latencies.append(timeout)
        await asyncio.sleep(interval)
    return result


async def _attack(
    host: str,
    port: int,
    *,
    idle: int,
    slow: int,
    seconds: float,
    paths: list[str],
    interval: float,
    timeout: float,
) -> list[ProbeResult]:
    stop = asyncio.Event()
    attackers = [asyncio.ensure_future(_idle(host, port, stop)) for _ in range(idle)]
    attackers += [asyncio.ensure_future(_slow(host, port, stop)) for _ in range(slow)]
    await asyncio.sleep(1)  # let the sockets land first, as they would in a real attack
    probes = [
        asyncio.ensure_future(_probe(host, port, path, stop, interval, timeout)) for path in paths
    ]
    await asyncio.sleep(seconds)
    stop.set()
    results = await asyncio.gather(*probes)
    for task in attackers:
        task.cancel()
    await asyncio.gather(*attackers, return_exceptions=True)
    return list(results)


def attack(
    port: int,
    *,
    idle: int = 200,
    slow: int = 50,
    seconds: float = 20,
    paths: tuple[str, ...] = ("/api/health", "/api/events"),
    interval: float = 0.2,
    timeout: float = 5.0,
    host: str = "127.0.0.1",
) -> list[ProbeResult]:
    """Probe `paths` for `seconds` while `idle` + `slow` sockets attack 127.0.0.1:`port`."""
    return asyncio.run(
        _attack(
            host,
            port,
            idle=idle,
            slow=slow,
            seconds=seconds,
            paths=list(paths),
            interval=interval,
            timeout=timeout,
        )
    )
