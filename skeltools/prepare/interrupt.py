"""Ctrl-C and SIGTERM: a flag that long loops check, so that a run ends through its ordinary
clean-up (workers killed, partial store and hand-off folder removed) within a moment.

Raising from the signal handler itself could strike anywhere: inside a finalizer that
swallows it (the run goes on) or in the middle of the pool's bookkeeping (it hangs). A second
signal raises at once, for a run that does not reach a check.
"""
from __future__ import annotations

import signal
import threading


class Stopped(KeyboardInterrupt):
    """The run was stopped by a signal (`signum`: SIGINT for Ctrl-C, or SIGTERM)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopOnSignal:
    """A context in which SIGINT and SIGTERM set a flag that `check` raises as `Stopped`."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise Stopped(signum)
        self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            raise Stopped(self.signum)

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
