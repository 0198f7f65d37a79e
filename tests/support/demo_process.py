"""A `kargo-actions demo` process read line by line: the demo test and the installed-wheel test use it."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# The demo's last line before it waits with its servers up (--keep).
READY = "Ctrl-C stops the servers and removes "


@dataclass
class KeptDemo:
    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def start_pump(self) -> None:
        """Read the demo's output in a thread, so that a read can time out."""

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.put(line)
            self.lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def read_until(self, marker: str, timeout: float) -> str:
        """Lines printed so far, up to and including the first holding `marker`."""
        deadline = time.monotonic() + timeout
        while not any(marker in line for line in self.seen):
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                raise AssertionError(f"no {marker!r} in the demo's output:\n{''.join(self.seen)}")
            self.seen.append(line)
        return "".join(self.seen)


def start_demo(
    *args: str, command: list[str] | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> KeptDemo:
    """`kargo-actions demo ARGS` (by default this Python's), its output (stderr too) pumped."""
    proc = subprocess.Popen(
        [*(command or [sys.executable, "-m", "kargo_actions"]), "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    demo = KeptDemo(proc)
    demo.start_pump()
    return demo
