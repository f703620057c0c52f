"""Progress of pulls and imports: a bar per layer on a terminal, nothing
elsewhere.

Used by images/cli.py, which makes one Progress per command: shown when
stderr is a terminal and -q was not given. The bar is redrawn in place
with a carriage return at most ten times a second; a finished layer keeps
one line. Nothing goes to stdout, which belongs to the caller's scripts.
"""

import os
import time


class Progress:
    def __init__(self, shown):
        self.shown = shown
        self.last = 0.0

    def _write(self, text):
        try:
            os.write(2, text.encode(errors="replace"))
        except OSError:
            self.shown = False

    def start(self, what, total):
        if not self.shown:
            return None
        state = {"done": 0}

        def advance(n):
            state["done"] += n
            now = time.monotonic()
            if now - self.last < 0.1:
                return
            self.last = now
            done = state["done"]
            if total:
                share = min(done / total, 1.0)
                bar = "#" * int(share * 30)
                self._write(f"\r{what} [{bar:<30}] {done >> 20}/{total >> 20} MiB\x1b[K")
            else:
                self._write(f"\r{what} {done >> 20} MiB\x1b[K")
        return advance

    def done(self, what, text):
        if self.shown:
            self._write(f"\r{what}: {text}\x1b[K\n")
