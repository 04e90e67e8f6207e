"""An ordered process pool: `map(fn, items)` yields fn(item) for every item in the items'
order, with a bounded number of tasks in flight.

It knows nothing of what it runs. Workers are forked where the platform allows (they inherit
what the parent compiled before the first map) and spawned elsewhere; they start with the
first map and serve every later one (each map sends its `fn` once to each worker). A
worker that dies (killed, out of memory, a crash inside a library) ends the map with a
`WorkerDied` error instead of a hang; an exception raised by `fn` is raised by the map at
its item. `stop`, called while the pool waits, may raise to end the run (prepare passes its
Ctrl-C/SIGTERM check). Leaving the pool's `with` block on an error kills the workers at once;
workers also die with their parent (a death signal on Linux, a parent check elsewhere).

The pool is served from the calling thread alone, with no helper threads (a helper thread
costs the writing process CPU on every task: benchmarks/RESULTS.md).
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import selectors
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection


class WorkerDied(RuntimeError):
    """A worker process ended without answering."""


HEARTBEAT_S = 1.0   # how often an idle worker checks that its parent is alive
POLL_S = 0.2        # how often the waiting parent calls `stop`


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when its parent dies (PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):
            pass


def _serve(conn: Connection, parent: int, inherited: list[int], fn: Callable | None = None) -> None:
    """A worker's life: ("fn", fn) sets the function (the first map's comes with the start:
    through a fork it is inherited, not pickled), ("task", seq, item) is answered with
    (seq, True, fn(item)) or (seq, False, the exception), None or a closed pipe ends it.
    Ctrl-C is the parent's to handle; the pipes of other workers that a fork copied are closed
    so that only their own worker and the parent hold them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        try:
            while not conn.poll(HEARTBEAT_S):
                if os.getppid() != parent:     # the parent is gone: nobody will read an answer
                    return
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if message[0] == "fn":
            fn = message[1]
            continue
        _, seq, item = message
        try:
            reply = (seq, True, fn(item))
        except Exception as e:      # the map raises it at this item
            reply = (seq, False, e)
        try:
            conn.send(reply)
        except Exception as e:      # an unpicklable result or exception: say what it was
            conn.send((seq, False, RuntimeError(f"{type(e).__name__} sending a worker's result: {e}")))


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    queued: deque = field(default_factory=deque)   # its tasks not yet answered
    fn_of_map: int = -1                            # the map whose fn it holds


def start_method() -> str:
    """fork where the platform has it (workers inherit what the parent compiled), else spawn."""
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


class OrderedPool:
    """See the module docstring. With `workers` <= 1 every map runs in this process."""

    TASKS_PER_WORKER = 4   # tasks in flight a worker: bounds memory, keeps every worker busy

    def __init__(self, workers: int, stop: Callable[[], None] = lambda: None):
        self.workers = max(1, int(workers))
        self.stop = stop
        self._pool: list[_Worker] = []
        self._selector: selectors.BaseSelector | None = None
        self._maps = 0

    def __enter__(self) -> OrderedPool:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.kill()

    def map(self, fn: Callable, items: Iterable, what: str = "working") -> Iterator:
        """fn(item) for each item, in order. `what` completes the message of a worker's death
        ("a worker process died while <what>"). `fn` and the items must be picklable where
        workers are spawned."""
        self._maps += 1
        if self.workers <= 1:
            for item in items:
                self.stop()
                yield fn(item)
            return
        if not self._pool:
            self._start(fn, self._maps)
        yield from self._in_order(fn, iter(items), self._maps, what)

    def _start(self, fn: Callable, map_id: int) -> None:
        ctx = mp.get_context(start_method())
        forked = start_method() == "fork"
        for _ in range(self.workers):
            mine, theirs = ctx.Pipe(duplex=True)
            inherited = [w.conn.fileno() for w in self._pool] + [mine.fileno()] if forked else []
            process = ctx.Process(target=_serve, args=(theirs, os.getpid(), inherited, fn), daemon=True)
            process.start()
            theirs.close()
            self._pool.append(_Worker(process, mine, fn_of_map=map_id))
        self._selector = selectors.DefaultSelector()
        for i, w in enumerate(self._pool):
            self._selector.register(w.conn, selectors.EVENT_READ, ("answer", i))
            self._selector.register(w.process.sentinel, selectors.EVENT_READ, ("exit", i))

    def _in_order(self, fn: Callable, items: Iterator, map_id: int, what: str) -> Iterator:
        answers: dict[int, tuple[bool, object]] = {}
        sent = yielded = 0
        more = True
        limit = self.TASKS_PER_WORKER * len(self._pool)
        died = f"a worker process died while {what} (killed, out of memory, or a crash inside a library)"
        while True:
            while more and sent - yielded < limit:      # hand out: to the worker with the fewest queued
                item = next(items, _END)
                if item is _END:
                    more = False
                    break
                worker = min(self._pool, key=lambda w: len(w.queued))
                try:
                    if worker.fn_of_map != map_id:
                        worker.conn.send(("fn", fn))
                        worker.fn_of_map = map_id
                    worker.conn.send(("task", sent, item))
                except OSError:                           # its end of the pipe is gone: it died
                    self.stop()
                    raise WorkerDied(died) from None
                worker.queued.append(sent)
                sent += 1
            if yielded == sent:
                return
            while yielded not in answers:
                self._receive(answers, died)
            ok, value = answers.pop(yielded)
            yielded += 1
            if not ok:
                raise value
            yield value

    def _receive(self, answers: dict[int, tuple[bool, object]], died: str) -> None:
        """Wait for any worker to answer (or to die), calling `stop` at least every POLL_S."""
        self.stop()
        ready = {key.data for key, _ in self._selector.select(POLL_S)}
        for i, w in enumerate(self._pool):
            if ("answer", i) in ready:
                try:
                    seq, ok, value = w.conn.recv()
                except (EOFError, OSError):
                    self.stop()
                    raise WorkerDied(died) from None
                w.queued.remove(seq)
                answers[seq] = (ok, value)
            elif ("exit", i) in ready:             # ended without an answer
                self.stop()
                raise WorkerDied(died)

    def close(self) -> None:
        """End the workers after their last task (a map's results were all taken)."""
        pool, self._pool = self._pool, []
        for w in pool:
            try:
                w.conn.send(None)
            except OSError:
                pass
        for w in pool:
            w.process.join(timeout=5.0)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
        self._close_selector()

    def kill(self) -> None:
        """End the workers now, whatever they are doing (an error or an interrupt)."""
        pool, self._pool = self._pool, []
        for w in pool:
            w.process.kill()
        for w in pool:
            w.process.join()
            w.conn.close()
        self._close_selector()

    def _close_selector(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None


_END = object()
