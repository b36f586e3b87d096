"""A TCP proxy on loopback that adds latency: every byte arrives ``delay`` seconds after it was sent, each way.

With 25 ms each way, a request/response exchange through the proxy costs 50 ms more than it would
direct: a 50 ms round trip, as between a client and a deployment on another continent. Data is delayed,
not throttled: each chunk is stamped when it is read and written once its time has come, so pipelined
bytes keep their spacing and a large body is not slowed beyond the delay. (The TCP handshake is not
delayed: the kernel completes it when the proxy accepts.)

Bounded: it listens and connects on loopback only (127.0.0.0/8 or ::1), takes at most ``max_connections``
connections at once, and stops by itself after ``lifetime`` seconds (or when stopped).

    python benchmarks/delay_proxy.py --upstream-port 8787 --port 8788 --delay-ms 25 --lifetime 300

In a program: ``with DelayProxy(upstream_port, delay=0.025) as proxy: ... proxy.port ... proxy.stats``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import threading
import time
from dataclasses import dataclass, field
from typing import Any

CHUNK = 65536


@dataclass
class Stats:
    connections: int = 0
    peak_connections: int = 0
    chunks_up: int = 0  # client -> server writes: about one per request on a keep-alive connection
    chunks_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    refused: int = 0  # connections over max_connections
    _open: int = field(default=0, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class DelayProxy:
    """The proxy, run on an event loop of its own in a daemon thread (``start``/``stop`` or ``with``)."""

    def __init__(
        self,
        upstream_port: int,
        *,
        delay: float = 0.025,
        port: int = 0,
        host: str = "127.0.0.1",
        upstream_host: str = "127.0.0.1",
        lifetime: float = 900.0,
        max_connections: int = 256,
    ) -> None:
        if not (_loopback(host) and _loopback(upstream_host)):
            raise ValueError("the delay proxy listens and connects on loopback only")
        if not 0 <= delay <= 5 or not 0 < lifetime <= 24 * 3600:
            raise ValueError("delay must be 0-5 s and lifetime positive (at most a day)")
        self.upstream = (upstream_host, upstream_port)
        self.delay, self.host, self.requested_port = delay, host, port
        self.lifetime, self.max_connections = lifetime, max_connections
        self.stats = Stats()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> DelayProxy:
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the delay proxy did not start")
        if self._error is not None:
            raise RuntimeError(f"the delay proxy did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already closed: it stopped by itself
                self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self.serve())
        except BaseException as exc:  # reported by start() if it happens before the proxy is ready
            self._error = exc
            self._ready.set()

    async def serve(self) -> None:
        """Accept and relay until stopped or ``lifetime`` is over; then close every connection."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        tasks: set[asyncio.Task] = set()

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await self._relay(reader, writer)
            except asyncio.CancelledError:
                pass  # stopping: the connection is dropped (the task ends here, nothing awaits it)
            finally:
                tasks.discard(task)

        server = await asyncio.start_server(accepted, self.host, self.requested_port)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await asyncio.wait_for(self._stopped.wait(), self.lifetime)
        except TimeoutError:
            pass  # the lifetime is over: stop by ourselves
        finally:
            server.close()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    # -- relaying -----------------------------------------------------------------------------------

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        if stats._open >= self.max_connections:
            stats.refused += 1
            client_writer.close()
            return
        stats._open += 1
        stats.connections += 1
        stats.peak_connections = max(stats.peak_connections, stats._open)
        try:
            try:
                server_reader, server_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                client_writer.close()
                return
            up = asyncio.create_task(self._pipe(client_reader, server_writer, up=True))
            down = asyncio.create_task(self._pipe(server_reader, client_writer, up=False))
            try:
                await asyncio.gather(up, down)
            finally:
                up.cancel()
                down.cancel()
                for writer in (server_writer, client_writer):
                    writer.close()
        finally:
            stats._open -= 1

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool) -> None:
        """Read chunks as they come, write each ``delay`` after it was read; EOF travels with the same delay."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def read() -> None:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                await queue.put((loop.time() + self.delay, data))
                if not data:
                    return
                if up:
                    self.stats.chunks_up += 1
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.chunks_down += 1
                    self.stats.bytes_down += len(data)

        reading = asyncio.create_task(read())
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:  # EOF: pass the half-close on
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                try:
                    writer.write(data)
                    await writer.drain()
                except (ConnectionError, OSError):
                    return
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream-port", type=int, required=True, help="the server's port on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="where to listen on 127.0.0.1 (default: a free port)")
    parser.add_argument("--delay-ms", type=float, default=25.0, help="added latency each way (default 25)")
    parser.add_argument("--lifetime", type=float, default=900.0, help="stop after this many seconds (default 900)")
    args = parser.parse_args(argv)
    proxy = DelayProxy(args.upstream_port, delay=args.delay_ms / 1000, port=args.port, lifetime=args.lifetime)
    proxy.start()
    print(f"delaying {args.delay_ms:g} ms each way: {proxy.url} -> 127.0.0.1:{args.upstream_port}", flush=True)
    started = time.monotonic()
    try:
        while proxy._thread is not None and proxy._thread.is_alive():
            proxy._thread.join(1)
    except KeyboardInterrupt:
        proxy.stop()
    print(f"stopped after {time.monotonic() - started:.0f} s: {proxy.stats.as_dict()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
