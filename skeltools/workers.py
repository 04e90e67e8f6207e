"""The process pool of `skel prepare`: results in unit order, bounded memory, a clean end.

Workers are forked where the platform allows it (they inherit the kernels compiled before
the fork) and spawned elsewhere; their arrays come back through hand-off files
(skeltools/handoff.py). `close` always ends the pool, also on Ctrl-C or an error.

The pool is a ProcessPoolExecutor, not multiprocessing.Pool: Pool's worker-handler thread
wakes on every result waiting in the pipe and spins until the result thread has read it
(20-35 us of the writer's CPU per sample here, against 9 for the executor), and a Pool whose
worker dies replaces it and waits forever for the lost task, where the executor reports it.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .handoff import ShardReader, ShardSlice, handoff_folder, remove_folder, unpack, write_floats
from .chunk_targets import ChunkTarget
from .store import StoreError, scaled_block, scaled_blocks_here


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which ends the pool (a worker dying of it would break the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _commit_task(task: tuple[list[tuple[int, list[ShardSlice]]], list[str]], scale: float,
                 target: ChunkTarget | None, folder: str) -> list[tuple[int, str | None, tuple, int]]:
    """Runs in a worker at commit: first removes the hand-off files no chunk reads any more,
    then makes each chunk k of the task (its hand-off slices stacked and scaled) and writes
    it to `target`, or, without one, to a file for the writer. Returns (k, that file or None,
    shape, crc32) per chunk."""
    group, remove = task
    _remove_files(remove)
    reader, out = ShardReader(remove=False), []
    for k, refs in group:
        block, digest = scaled_block(refs, scale, reader)
        if target is None:
            out.append((k, write_floats(folder, [block]), block.shape, digest))
        else:
            target.write(k, block)
            out.append((k, None, block.shape, digest))
    return out


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


def _start_method() -> str:
    """fork where the platform has it (workers inherit the compiled kernels), else spawn (they load the cache)."""
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


class Workers:
    """Results in unit order through a pool, a bounded number of tasks in flight. The kernels
    are compiled once in this process before the fork, on the format's built-in warm-up
    sample (formats without one: on the first unit, read here).

    `close` always ends the pool, also on Ctrl-C or an error: it lets the tasks already
    handed out finish (a fraction of a second), cancels the rest and joins the workers. A
    worker that does not finish within DRAIN_S is killed; a worker that dies stops the run
    with a StoreError instead of a hang."""

    CHUNK = 32                # units per task: each task costs the writer a fixed share, whatever its size
    TASKS_PER_WORKER = 4      # in flight: memory is bounded at 4 x 32 units a worker
    CHUNKS_PER_COMMIT_TASK = 4   # store chunks (64 samples each) per task at commit
    DRAIN_S = 60.0

    def __init__(self, workers: int, out: Path | None = None):
        self.workers = workers
        self.out = out            # the store being written: the hand-off folder goes beside it
        self.handoff: Path | None = None
        self.pool: ProcessPoolExecutor | None = None
        self.pending: deque = deque()   # futures of the tasks in flight, oldest first
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
        tasks = iter([rest[lo:lo + self.CHUNK] for lo in range(0, len(rest), self.CHUNK)])
        if self.handoff is None and self.out is not None:
            self.handoff = handoff_folder(self.out)
        if self.handoff is not None:
            job = replace(job, handoff=str(self.handoff))
        self.pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context(_start_method()),
                                        initializer=_ignore_sigint)
        died = (f"a worker process died while reading the raw files (killed, out of memory, or a crash inside a "
                f"library): nothing was written to {self.out}; run again, or with --workers 1 to see which file")
        for batch in self._in_order(job.batch, tasks, died):
            yield from unpack(batch, self.defer_poses)

    def _in_order(self, fn: Callable, tasks: Iterator, died: str) -> Iterator:
        """fn(task) for every task in the pool, results in task order, TASKS_PER_WORKER a worker
        in flight; a worker that dies raises StoreError(died)."""
        self.pending = deque(self.pool.submit(fn, t) for t in islice(tasks, self.TASKS_PER_WORKER * self.workers))
        while self.pending:
            try:
                result = self.pending[0].result()
            except BrokenProcessPool:
                raise StoreError(died) from None
            self.pending.popleft()
            task = next(tasks, None)
            if task is not None:
                self.pending.append(self.pool.submit(fn, task))
            yield result

    def scaled_blocks(self, chunks: list[list[ShardSlice]], scale: float, target: ChunkTarget | None = None
                      ) -> Iterator[tuple[int, np.ndarray | None, int]]:
        """At commit, with the pool still up: the store's chunks made by the workers (read
        from the hand-off files, stacked, scaled, checksummed) and written by them to
        `target` (or, without one, handed back: block not None), as (k, block, crc32) in
        order. A hand-off file is removed by a worker once every chunk that reads it is done
        (the files freed by one result travel with a later task; the last ones at the end)."""
        if self.pool is None or self.handoff is None:
            yield from scaled_blocks_here(chunks, scale, target)
            return
        last = {ref.path: k for k, refs in enumerate(chunks) for ref in refs}
        done_with: dict[int, list[str]] = {}
        for path, k in last.items():
            done_with.setdefault(k, []).append(path)
        freed: list[str] = []

        def tasks() -> Iterator:
            for lo in range(0, len(chunks), self.CHUNKS_PER_COMMIT_TASK):
                group = [(k, chunks[k]) for k in range(lo, min(lo + self.CHUNKS_PER_COMMIT_TASK, len(chunks)))]
                remove = freed[:]
                del freed[:]
                yield group, remove

        make = partial(_commit_task, scale=scale, target=target, folder=str(self.handoff))   # picklable
        died = f"a worker process died while writing {self.out}: nothing was written"
        for made in self._in_order(make, tasks(), died):
            for k, path, shape, digest in made:
                block = None
                if path is not None:
                    block = np.fromfile(path, np.float32).reshape(shape)
                    os.unlink(path)
                yield k, block, digest
                freed.extend(done_with.get(k, ()))
        parts = [freed[i::self.workers] for i in range(self.workers)]
        list(self._in_order(_remove_files, iter(parts), died))

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
        for future in self.pending:          # not started yet: dropped
            future.cancel()
        deadline = time.monotonic() + self.DRAIN_S
        for future in self.pending:          # running: let them finish, results discarded
            if future.cancelled():
                continue
            try:
                future.result(timeout=max(0.01, deadline - time.monotonic()))
            except FutureTimeout:            # a worker that does not finish: stop them hard
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.kill()
                break
            except Exception:                # a task's own failure or a broken pool: nothing to keep
                pass
        self.pending = deque()
        pool.shutdown(wait=True, cancel_futures=True)
