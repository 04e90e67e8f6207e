"""The process pool of `skel prepare`: results in unit order, bounded memory, a clean end.

Workers are forked where the platform allows it (they inherit the kernels compiled before
the fork) and spawned elsewhere; their arrays come back through hand-off files
(skeltools/handoff.py). `close` always ends the pool, also on Ctrl-C or an error.

The pool is a few processes, each with one pipe, served from the writer's main thread: it
sends a worker its next task when it has room and waits on all pipes (and on every worker's
exit) at once. No helper threads: multiprocessing.Pool's worker-handler thread spins while a
result waits in the pipe (20-35 us of the writer's CPU a sample), and ProcessPoolExecutor's
feeder and manager threads still cost it 13-17 us a sample (benchmarks/RESULTS.md), as much as
all else the writer does. A worker that dies stops the run with a StoreError (a
multiprocessing.Pool would wait forever for its lost task).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import selectors
import signal
import time
from collections import deque
from dataclasses import dataclass, field, replace
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .chunk_targets import ChunkTarget
from .handoff import ShardReader, ShardRun, handoff_folder, remove_folder, write_floats
from .store import StoreError, deliver, scaled_block, scaled_blocks_here


def _serve(conn: Connection, context: object) -> None:
    """A worker's life: (fn, arg) in, (True, fn(context, arg)) or (False, the exception) out,
    until None or the pipe closes. `context` (the job and its units) comes once, at the
    start (inherited by a fork), so that a task is only a span of units. Ctrl-C is left to
    the parent, which ends the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, arg = task
        try:
            reply = (True, fn(context, arg))
        except Exception as e:      # the writer re-raises it
            reply = (False, e)
        try:
            conn.send(reply)
        except Exception as e:      # an unpicklable result or exception: say what it was
            conn.send((False, RuntimeError(f"{type(e).__name__} sending a worker's result: {e}")))


@dataclass
class _Proc:
    """One worker process and its end of the pipe; `queued`: its tasks not yet answered."""

    process: mp.process.BaseProcess
    conn: Connection
    queued: deque = field(default_factory=deque)


def _map_task(context: tuple, span: tuple[int, int]) -> list:
    """Runs in a worker: fn over items[lo:hi] (context: fn and the items)."""
    fn, items = context
    return [fn(x) for x in items[span[0]:span[1]]]


def _read_task(context: tuple, span: tuple[int, int]):
    """Runs in a worker: the job's batch of units[lo:hi] (context: the job and the units)."""
    job, units = context
    return job.batch(units[span[0]:span[1]], span[0])


def _commit_task(context: object, task: tuple[list[tuple[int, list[ShardRun], list[str]]], list[str]], scale: float,
                 target: ChunkTarget | None, folder: str) -> list[tuple[int, object, int]]:
    """Runs in a worker at commit: first removes the hand-off files no chunk reads any more,
    then makes each chunk k of the task (its hand-off runs joined and scaled), `deliver`s it
    (written to `target` (None), encoded for it (an EncodedChunk) or, without a target,
    written to a file for the writer ((path, shape))) and removes the files that only this
    task's chunks read and that chunk k was the last to. Returns (k, that, crc32) per chunk."""
    group, remove = task
    _remove_files(context, remove)
    reader, out = ShardReader(remove=False), []
    for k, runs, done in group:
        block, digest = scaled_block(runs, scale, reader)
        _remove_files(context, done)
        made = deliver(target, k, block)
        if isinstance(made, np.ndarray):        # no target: the block goes back by file
            made = (write_floats(folder, [made]), made.shape)
        out.append((k, made, digest))
    return out


def removal_plan(chunks: list[list[ShardRun]], step: int) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """When each hand-off file may go, for chunks made `step` to a task: ({k: files that the
    task's worker removes right after making chunk k}, {k: files to remove once chunk k's
    result is in}). A file goes after the last chunk that reads it; by the worker itself only
    where every chunk that reads it is in the same task (another may still be reading it)."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for k, runs in enumerate(chunks):
        for run in runs:
            first.setdefault(run.path, k)
            last[run.path] = k
    own: dict[int, list[str]] = {}
    shared: dict[int, list[str]] = {}
    for path, k in last.items():
        (own if first[path] >= k - k % step else shared).setdefault(k, []).append(path)
    return own, shared


def _remove_files(context: object, paths: list[str]) -> None:
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
    handed out finish (at most TASKS_PER_WORKER a worker: a fraction of a second), their
    results dropped, and joins the workers. A worker that does not finish within DRAIN_S is
    killed; a worker that dies stops the run with a StoreError instead of a hang."""

    CHUNK = 64                # units per task at most: each task costs the writer a fixed share, whatever its size
    MIN_TASKS_PER_WORKER = 8  # fewer units a task on small corpora, so that the last tasks still balance
    TASKS_PER_WORKER = 4      # in flight: memory is bounded at 4 x 64 units a worker
    CHUNKS_PER_COMMIT_TASK = 4   # store chunks (64 samples each) per task at commit
    DRAIN_S = 60.0

    def __init__(self, workers: int, out: Path | None = None):
        self.workers = workers
        self.out = out            # the store being written: the hand-off folder goes beside it
        self.handoff: Path | None = None
        self.pool: list[_Proc] | None = None
        self._selector: selectors.BaseSelector | None = None
        self.warm_up_seconds = self.warm_up_cpu_seconds = 0.0   # compiling or loading the kernels, once

    def open_handoff(self, single: bool = False) -> Path | None:
        """Make the hand-off folder now, for a StoreWriter `defer_to` (the poses then stay in
        their files until the writer's final pass): with a pool always, with one worker only
        when `single` (a store the writer cannot rescale in place); else None."""
        if self.out is None or (self.workers <= 1 and not single):
            return None
        self.handoff = handoff_folder(self.out)
        return self.handoff

    def map(self, fn: Callable, items: list, what: str = "reading the raw files") -> list:
        """[fn(x) for x in items], spread over the pool (a pool of its own, ended before
        `results` starts the readers): for work on every unit that must come before reading,
        such as probing the files' layout, which would otherwise be serial in this process.
        `fn` must be picklable where workers are spawned."""
        if self.workers <= 1 or len(items) < 2:
            return [fn(x) for x in items]
        spans = self._spans(len(items), len(items))
        self._start((fn, items))
        try:
            died = f"a worker process died while {what}: nothing was written to {self.out}"
            return [x for part in self._in_order(_map_task, iter(spans), died) for x in part]
        finally:
            self.close_pool()

    def results(self, job, units: list) -> Iterator:
        """`job.batch(units[lo:hi], lo)` for spans of the units that cover them in order, each
        answer as the job gave it. `job` is prepare's _Job: `batch` for a task, `warm_up()`,
        and a `handoff` field (set here to the hand-off folder, where there is one)."""
        if not units:
            return
        wall, cpu = time.perf_counter(), time.process_time()
        warm = job.warm_up()
        self.warm_up_seconds, self.warm_up_cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
        first = 0
        if not warm:           # a format without a warm-up compiles its kernels on its first unit, here
            yield job.batch(units[:1], 0)
            first = 1
        if self.workers > 1 and self.handoff is None and self.out is not None:
            self.handoff = handoff_folder(self.out)
        if self.handoff is not None:
            job = replace(job, handoff=str(self.handoff))
        spans = [(lo + first, hi + first) for lo, hi in self._spans(len(units) - first, self.CHUNK)]
        if self.workers <= 1:
            for lo, hi in spans:
                yield job.batch(units[lo:hi], lo)
            return
        self._start((job, units))
        died = (f"a worker process died while reading the raw files (killed, out of memory, or a crash inside a "
                f"library): nothing was written to {self.out}; run again, or with --workers 1 to see which file")
        yield from self._in_order(_read_task, iter(spans), died)

    def _spans(self, n: int, most: int) -> list[tuple[int, int]]:
        """(lo, hi) spans of n units, at most `most` a span and at least MIN_TASKS_PER_WORKER
        spans a worker where n allows (so that the last tasks still balance)."""
        size = max(1, min(most, n // (self.workers * self.MIN_TASKS_PER_WORKER)))
        return [(lo, min(lo + size, n)) for lo in range(0, n, size)]

    def _start(self, context: object) -> None:
        ctx = mp.get_context(_start_method())
        self.pool = []
        for _ in range(self.workers):
            mine, theirs = ctx.Pipe(duplex=True)
            process = ctx.Process(target=_serve, args=(theirs, context), daemon=True)
            process.start()
            theirs.close()
            self.pool.append(_Proc(process, mine))
        self._selector = selectors.DefaultSelector()
        for i, p in enumerate(self.pool):
            self._selector.register(p.conn, selectors.EVENT_READ, ("answer", i))
            self._selector.register(p.process.sentinel, selectors.EVENT_READ, ("exit", i))

    def _in_order(self, fn: Callable, tasks: Iterator, died: str) -> Iterator:
        """fn(task) for every task in the pool, results in task order; at most
        TASKS_PER_WORKER tasks a worker handed out or answered and not yet yielded. A task's
        exception is raised here; a worker that dies raises StoreError(died)."""
        answers: dict[int, tuple[bool, object]] = {}
        sent = yielded = 0
        more = True
        limit = self.TASKS_PER_WORKER * len(self.pool)
        while True:
            while more and sent - yielded < limit:      # hand out: to the worker with the fewest queued
                proc = min(self.pool, key=lambda p: len(p.queued))
                task = next(tasks, None)
                if task is None:
                    more = False
                    break
                try:
                    proc.conn.send((fn, task))
                except OSError:                           # its end of the pipe is gone: it died
                    raise StoreError(died) from None
                proc.queued.append(sent)
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
        """Wait for any worker to answer (or to die: its exit sentinel), and file its answers.
        One selector for the pool's life (made in _start): a new one per wait cost more than
        reading the answer."""
        ready = {key.data for key, _ in self._selector.select()}
        for i, p in enumerate(self.pool):
            if ("answer", i) in ready:
                try:
                    answers[p.queued.popleft()] = p.conn.recv()
                except (EOFError, OSError, IndexError):
                    raise StoreError(died) from None
            elif ("exit", i) in ready:             # ended without an answer
                raise StoreError(died)

    def scaled_blocks(self, chunks: list[list[ShardRun]], scale: float, target: ChunkTarget | None = None
                      ) -> Iterator[tuple[int, object, int]]:
        """At commit, with the pool still up: the store's chunks made by the workers (read
        from the hand-off files, stacked, scaled, checksummed) and delivered by them
        (store.deliver: written to `target`, encoded for it, or handed back as a block), as
        (k, None / EncodedChunk / block, crc32) in order. A hand-off file is removed by a
        worker once every chunk that reads it is done: at once where they are all in one task
        (most files; the store's pages then reuse theirs), else with a later task or at the end.
        Removing them only with later tasks made the store's writes 2-5 ms a chunk instead of
        0.4 (fresh pages; benchmarks/RESULTS.md)."""
        if self.pool is None or self.handoff is None:
            yield from scaled_blocks_here(chunks, scale, target)
            return
        step = self.CHUNKS_PER_COMMIT_TASK
        own, shared = removal_plan(chunks, step)
        freed: list[str] = []

        def tasks() -> Iterator:
            for lo in range(0, len(chunks), step):
                group = [(k, chunks[k], own.get(k, [])) for k in range(lo, min(lo + step, len(chunks)))]
                remove = freed[:]
                del freed[:]
                yield group, remove

        make = partial(_commit_task, scale=scale, target=target, folder=str(self.handoff))   # picklable
        died = f"a worker process died while writing {self.out}: nothing was written"
        for answer in self._in_order(make, tasks(), died):
            for k, made, digest in answer:
                if isinstance(made, tuple):        # a block handed back by file
                    path, shape = made
                    made = np.fromfile(path, np.float32).reshape(shape)
                    os.unlink(path)
                yield k, made, digest
                freed.extend(shared.get(k, ()))
        parts = [freed[i::self.workers] for i in range(self.workers)]
        list(self._in_order(_remove_files, iter(parts), died))

    def close(self) -> None:
        try:
            self.close_pool()
        finally:
            remove_folder(self.handoff)
            self.handoff = None

    def close_pool(self) -> None:
        """End the pool (the hand-off folder stays: a deferring writer still reads it). The
        tasks handed out finish first, their results dropped; a worker that has not answered
        within DRAIN_S, or cannot be told to stop, is killed."""
        if self.pool is None:
            return
        pool, self.pool = self.pool, None
        self._selector.close()
        deadline = time.monotonic() + self.DRAIN_S
        for p in pool:
            try:
                while p.queued and p.conn.poll(max(0.0, deadline - time.monotonic())):
                    p.conn.recv()
                    p.queued.popleft()
                if not p.queued:
                    p.conn.send(None)
            except (EOFError, OSError):
                pass
        for p in pool:
            p.process.join(timeout=0 if p.queued else max(0.1, deadline - time.monotonic()))
            if p.process.is_alive():
                p.process.kill()
                p.process.join()
            p.conn.close()
