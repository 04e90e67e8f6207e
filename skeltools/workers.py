"""The process pool of `skel prepare`: results in unit order, bounded memory, a clean end.

Workers are forked where the platform allows it (they inherit the kernels compiled before
the fork) and spawned elsewhere; their arrays come back through hand-off files
(skeltools/handoff.py). `close` always ends the pool, also on Ctrl-C or an error.
"""
from __future__ import annotations

import multiprocessing as mp
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from .handoff import handoff_folder, remove_folder, unpack


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which ends the pool (a worker dying of it mid-task can hang the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_method() -> str:
    """fork where the platform has it (workers inherit the compiled kernels), else spawn (they load the cache)."""
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


class Workers:
    """Results in unit order through a pool, two bounded windows in flight. The kernels are
    compiled once in this process before the fork, on the format's built-in warm-up sample
    (formats without one: on the first unit, read here).

    `close` always ends the pool, also on Ctrl-C or an error: it lets the units already
    handed out finish (at most two windows, a fraction of a second) and joins the workers.
    It never calls Pool.terminate, which can deadlock on the result queue's lock when a
    worker is writing a large result (the hang 2 runs in 19 showed on Ctrl-C)."""

    CHUNK = 32            # units per task: the pool costs the writer ~0.4 ms a task, whatever its size
    TASKS_PER_WORKER = 2  # per window; two windows in flight bound memory at 4 x 32 units a worker
    DRAIN_S = 60.0

    def __init__(self, workers: int, out: Path | None = None):
        self.workers = workers
        self.out = out            # the store being written: the hand-off folder goes beside it
        self.handoff: Path | None = None
        self.pool = None
        self.pending: list = []   # imap iterators in flight, oldest first
        self.warm_up_seconds = self.warm_up_cpu_seconds = 0.0   # compiling or loading the kernels, once
        self.defer_poses = False  # poses stay in their hand-off files for the writer (open_handoff)

    def open_handoff(self) -> Path | None:
        """With a pool: make the hand-off folder now, for a StoreWriter `defer_to` (the poses
        then stay in their files until the writer's final pass); None with one worker."""
        if self.workers <= 1 or self.out is None:
            return None
        self.handoff = handoff_folder(self.out)
        self.defer_poses = True
        return self.handoff

    def results(self, job, units: list) -> Iterator:
        """`job(unit)` for every unit, in order. `job` is prepare's _Job: callable on a unit,
        with `batch(units)` for a pool task and `warm_up()`, and a `handoff` field."""
        if not units:
            return
        wall, cpu = time.perf_counter(), time.process_time()
        warm = job.warm_up()
        self.warm_up_seconds, self.warm_up_cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
        if self.workers <= 1:
            yield from map(job, units)
            return
        rest = units
        if not warm:
            yield job(units[0])
            rest = units[1:]
        tasks = [rest[lo:lo + self.CHUNK] for lo in range(0, len(rest), self.CHUNK)]
        size = self.TASKS_PER_WORKER * self.workers   # tasks per window
        windows = [tasks[lo:lo + size] for lo in range(0, len(tasks), size)]
        if self.handoff is None and self.out is not None:
            self.handoff = handoff_folder(self.out)
        if self.handoff is not None:
            job = replace(job, handoff=str(self.handoff))
        self.pool = mp.get_context(_start_method()).Pool(self.workers, initializer=_ignore_sigint)
        self.pending = [self.pool.imap(job.batch, w) for w in windows[:2]]
        for k in range(len(windows)):
            for batch in self.pending[0]:
                yield from unpack(batch, self.defer_poses)
            self.pending.pop(0)
            if k + 2 < len(windows):
                self.pending.append(self.pool.imap(job.batch, windows[k + 2]))

    def close(self) -> None:
        try:
            self.close_pool()
        finally:
            remove_folder(self.handoff)
            self.handoff = None

    def close_pool(self) -> None:
        """End the pool (the hand-off folder stays: a deferring writer still reads it)."""
        if self.pool is None:
            return
        pool, self.pool = self.pool, None
        deadline = time.monotonic() + self.DRAIN_S
        try:
            for it in self.pending:          # let the handed-out units finish, results discarded
                try:
                    while True:
                        it.next(timeout=max(0.01, deadline - time.monotonic()))
                except StopIteration:        # this window is done: on to the next
                    pass
        except mp.TimeoutError:              # a worker that does not finish: stop them hard
            for proc in pool._pool:
                proc.kill()
        self.pending = []
        pool.close()
        pool.join()
