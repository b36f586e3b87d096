"""An ASGI app served by uvicorn on a loopback port, from a thread of this process.

For the notebooks (the reference started inside the kernel) and the tests (servers a test talks to
over real sockets). The thread is a daemon: it does not outlive the process that started it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


def free_port() -> int:
    """A loopback port nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerThread:
    """uvicorn serving ``app`` on ``127.0.0.1:port`` in a daemon thread; started and answering on return
    (the app's lifespan startup has run: the reference is seeded)."""

    def __init__(self, app: Any, port: int | None = None, name: str = "uvicorn", timeout: float = 30):
        import uvicorn

        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise RuntimeError(f"{name} did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(15)


@contextlib.contextmanager
def uvicorn_thread(app: Any, port: int | None = None, name: str = "uvicorn", timeout: float = 30) -> Iterator[str]:
    """Serve ``app`` for the block; yields its base URL."""
    server = ServerThread(app, port, name, timeout)
    try:
        yield server.base_url
    finally:
        server.stop()
