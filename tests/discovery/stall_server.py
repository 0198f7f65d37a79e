"""TCP servers on 127.0.0.1 that hold a client: one that trickles an HTTP answer a byte at a time, one that never answers."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StallServer:
    """What the server saw: connections, how many at once at most, and when each was closed by the client."""

    port: int
    interval: float  # seconds between two bytes; 0 = never send anything
    accepted: int = 0
    active: int = 0
    most_active: int = 0
    closed_at: list[float] = field(default_factory=list)  # time.monotonic() of each client close
    lock: threading.Lock = field(default_factory=threading.Lock)
    open_conns: set[socket.socket] = field(default_factory=set)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return f"http://{self.host}{path}"


# An answer that never ends: headers promise a body that comes, one byte at a time, for ever.
_TRICKLE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 100_000


@contextmanager
def serve_stall(interval: float, give_up: float = 20.0) -> Iterator[StallServer]:
    """Accept every connection, read what the client sends, then send one byte every `interval` seconds
    (never anything when 0) until the client closes the connection or the server stops; after `give_up`
    seconds the server closes it, so a client without a deadline fails a test instead of hanging it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    server = StallServer(listener.getsockname()[1], interval)
    stopping = threading.Event()

    def closed_by_client(conn: socket.socket) -> bool:
        try:
            if not select.select([conn], [], [], 0)[0]:
                return False  # nothing to read: still open
            return conn.recv(1, socket.MSG_PEEK) == b""  # readable: data waits (open) or the end (closed)
        except (BlockingIOError, TimeoutError):
            return False
        except OSError:
            return True

    def hold(conn: socket.socket) -> None:
        with server.lock:
            # A connection its client has closed but whose thread has not noticed yet (it looks every 0.2 s)
            # is not open any more: count it out before counting this one in.
            for other in [c for c in server.open_conns if closed_by_client(c)]:
                server.open_conns.discard(other)
            server.accepted += 1
            server.open_conns.add(conn)
            server.active = len(server.open_conns)
            server.most_active = max(server.most_active, server.active)
        conn.settimeout(0.2)
        sent = 0
        next_byte = time.monotonic() + interval
        end = time.monotonic() + give_up
        try:
            while not stopping.is_set() and time.monotonic() < end:
                try:
                    if conn.recv(65536) == b"":
                        break  # the client closed its side
                except TimeoutError:
                    pass
                if interval and time.monotonic() >= next_byte and sent < len(_TRICKLE):
                    conn.sendall(_TRICKLE[sent : sent + 1])
                    sent += 1
                    next_byte += interval
        except OSError:
            pass  # reset by the client
        finally:
            with server.lock:
                server.open_conns.discard(conn)
                server.active = len(server.open_conns)
                server.closed_at.append(time.monotonic())
            conn.close()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=hold, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()
