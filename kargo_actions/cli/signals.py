"""SIGTERM / SIGINT as an abort request: the running promotion step stops and the promotion ends Aborted."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def abort_on_signals() -> Iterator[threading.Event]:
    """An Event set by the first SIGTERM or SIGINT; a second one gets the default behaviour (exit at once).

    Only the CLI installs handlers: the engine and the steps just watch the Event.
    """
    event = threading.Event()
    watched = (signal.SIGTERM, signal.SIGINT)
    if threading.current_thread() is not threading.main_thread():
        yield event  # signal handlers can only live in the main thread
        return
    previous = {sig: signal.getsignal(sig) for sig in watched}

    def handle(signum: int, frame: FrameType | None) -> None:
        event.set()
        for sig in watched:
            signal.signal(sig, signal.SIG_DFL if sig == signal.SIGTERM else signal.default_int_handler)

    for sig in watched:
        signal.signal(sig, handle)
    try:
        yield event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
