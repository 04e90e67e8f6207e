"""A task's answer as the writing process takes it: the task's samples in columns.

The writer's time per sample is what caps how many workers `skel prepare` can keep busy (its
scaling ceiling). Answered as a list of per-unit results (for each sample a Ready object, its
fields dict and two tuples), a task of 64 files cost the writer ~400 us to receive and more to
file away sample by sample (benchmarks/RESULTS.md). As columns (a tuple per meta field, the
poses as one run of a hand-off file) it is one small object to unpickle and a few list
extends (store.StoreWriter.extend). A task with a name already written, whose samples must
then become duplicates one by one, is taken item by item (`items`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .formats.raw_sample import Skipped
from .handoff import move_to_file, sample_at
from .store import META_DTYPES


@dataclass
class Answer:
    """The results of the units `first` .. `first + units - 1` of a run, in their order."""

    first: int                 # the task's first unit, as an index into the run's units
    units: int                 # how many units the task had
    bytes_read: int
    seconds: float             # the workers' CPU time on these units
    meta: tuple[tuple, ...]    # a tuple per store.META_DTYPES column (store.meta_row), a value per sample
    unit_of: tuple[int, ...]   # each sample's unit, counted from `first`
    own: tuple[float, ...]     # each sample's largest |coordinate| before scaling (prepare.Ready.own)
    poses: list                # ShardRuns of a hand-off file (in sample order), or one array per sample
    full: list | None          # with --keep-full: one array, or one run of one, per sample
    skipped: list[tuple[int, str, Skipped]]   # (position among the task's items, sample name, why)

    def __len__(self) -> int:
        return len(self.own)

    @property
    def names(self) -> tuple[str, ...]:
        return self.meta[0]

    def sample(self, i: int) -> tuple[object, tuple, object]:
        """Sample i alone, as StoreWriter.append takes it: (poses, meta row, full)."""
        return sample_at(self.poses, self.meta, self.full, i)

    def items(self) -> Iterator[tuple[int, str, int | Skipped]]:
        """Every item in the task's order: (unit index, name, sample index) for a sample,
        (-1, name, why) for one skipped."""
        skipped = {position: (name, why) for position, name, why in self.skipped}
        i = 0
        for position in range(len(self) + len(self.skipped)):
            if position in skipped:
                yield -1, *skipped[position]
            else:
                yield self.first + self.unit_of[i], self.names[i], i
                i += 1


def collect(first: int, results: list, folder: str | None = None) -> Answer:
    """Where the units were read: their results [(bytes, CPU seconds, [(name, fields, Ready or
    Skipped), ...]), ...] as one Answer. With `folder`, the arrays go to one hand-off file
    there; they stay in the answer (and take the pipe) if it cannot be written."""
    rows, own, unit_of, poses, full, skipped = [], [], [], [], [], []
    position = 0
    for u, (_, _, items) in enumerate(results):
        for name, _, item in items:
            if isinstance(item, Skipped):
                skipped.append((position, name, item))
            else:
                rows.append(item.meta)
                own.append(item.own)
                unit_of.append(u)
                poses.append(item.poses)
                full.append(item.full)
            position += 1
    columns = tuple(zip(*rows)) if rows else ((),) * len(META_DTYPES)
    kept_full = full if any(f is not None for f in full) else None
    answer = Answer(first, len(results), sum(r[0] for r in results), sum(r[1] for r in results), columns,
                    tuple(unit_of), tuple(own), poses, kept_full, skipped)
    if folder is not None and poses:
        try:
            answer.poses, answer.full = move_to_file(folder, poses, kept_full)
        except OSError:
            pass
    return answer
