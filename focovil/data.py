"""A protocol's split as scenes x views batches.

By default the split's samples are read once into a (N, T, C) tensor on the device
(all of NTU-120 at 50 frames is about 3.4 GB in fp32) and each batch of I scenes x K views
is drawn there with a seeded generator, so a step needs no host work. With `stream=True`
the samples stay in the store and each batch reads its rows (one sorted selection; runs
of rows read in place from uncompressed HDF5, whole chunks decoded otherwise) and moves
them to the device; where a core is free (always beside a GPU) a reader thread reads
the next batch while the current one trains (h5py releases the interpreter lock while it
reads, torch while it computes).

Scenes with fewer than 2 views in the split cannot form a positive pair: contrastive
presets leave them out; reconstruction-only presets use every sample, each as a one-view
"scene". Under DDP each rank takes every world-th scene and all ranks take the same
number of steps.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from skeltools.store import Store


def flatten_poses(x: np.ndarray) -> np.ndarray:
    """(N, M, T, J, 3) -> (N, T, M*J*3): one frame vector per time step, bodies side by side."""
    N, M, T, J, _ = x.shape
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3, 4).reshape(N, T, M * J * 3))


class StoreRows:
    """The split's rows read from the store on demand, batch by batch (see `batches`)."""

    def __init__(self, store: str, index: np.ndarray, device: torch.device, verify: bool = True):
        self.store = Store(store, verify=verify)
        self.index = index
        self.device = torch.device(device)
        N, M, T, J, _ = self.store.node("poses").shape
        self.shape = (len(index), T, M * J * 3)

    def __len__(self) -> int:
        return self.shape[0]

    def host(self, pick: np.ndarray) -> torch.Tensor:
        """The rows of split-local indices `pick` (any shape) on the host, pinned when bound for CUDA."""
        uniq, inverse = np.unique(self.index[pick.reshape(-1)], return_inverse=True)
        rows = flatten_poses(self.store.read_rows("poses", uniq))[inverse]
        out = torch.from_numpy(rows.reshape(*pick.shape, *self.shape[1:]))
        return out.pin_memory() if self.device.type == "cuda" else out

    def to_device(self, rows: torch.Tensor) -> torch.Tensor:
        return rows.to(self.device, non_blocking=True)

    def batches(self, picks: np.ndarray, read_ahead: bool) -> Iterator[torch.Tensor]:
        """The batches of `picks` (B, ...) in order; read ahead: each read on a thread while the one before is used."""
        if not read_ahead:
            for pick in picks:
                yield self.to_device(self.host(pick))
            return
        if not len(picks):
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-read") as reader:
            pending = reader.submit(self.host, picks[0])
            for b in range(len(picks)):
                rows = pending.result()
                if b + 1 < len(picks):
                    pending = reader.submit(self.host, picks[b + 1])
                yield self.to_device(rows)


def reader_has_a_core(device: torch.device) -> bool:
    """Whether a reader thread can run beside the step: the host idles while a GPU computes;
    on the CPU only when torch leaves a core free (measured: competing for cores costs 2-4 %),
    counting the other processes torchrun started on this machine."""
    if device.type == "cuda":
        return True
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return torch.get_num_threads() < cores // int(os.environ.get("LOCAL_WORLD_SIZE", 1))


@dataclass
class SplitData:
    x: torch.Tensor | StoreRows  # (N, T, C) poses of the split, frames x (bodies * joints * 3)
    labels: np.ndarray           # (N,)
    scene: np.ndarray            # (N,) store scene ids
    views: np.ndarray            # (N,) 1-based views
    index: np.ndarray            # (N,) store sample indices
    n_classes: int


def load_split(store: str, protocol: str, part: str, device: str | torch.device = "cpu",
               stream: bool = False, verify: bool = True) -> SplitData:
    """The poses and labels of `splits/<protocol>/<part>`, on the device unless streamed; each
    chunk of poses checked against its checksum as it is first read (unless `verify` is off)."""
    with Store(store, verify=verify) as st:
        idx = st.split(protocol, part)
        meta = {k: st.read(f"meta/{k}")[idx] for k in ("label", "scene", "view")}
        n_classes = len(st.attrs["classes"])
        if stream:
            x = StoreRows(store, idx, torch.device(device), verify)
        else:
            raw = np.concatenate([st.read("poses", slice(lo, hi)) for lo, hi in _runs(idx)]) if len(idx) else \
                np.zeros((0,) + tuple(st.node("poses").shape[1:]), np.float32)
            x = torch.from_numpy(flatten_poses(raw)).to(device)
    return SplitData(x, meta["label"].astype(np.int64), meta["scene"], meta["view"], idx, n_classes)


def _runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of sorted indices, read as whole slices."""
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    return [(int(r[0]), int(r[-1]) + 1) for r in np.split(idx, breaks)]


def scene_table(data: SplitData, contrastive: bool, views_per_scene: int | None) -> tuple[np.ndarray, int]:
    """(S, V) split-local sample indices of each usable scene (-1 absent), and K views per batch.

    Columns are the views that occur in the split. By default (views_per_scene None) a
    batch carries every column, K = V, and absent views are masked (Eq. 3 sums over every
    v != u a scene has); an explicit K draws K distinct present views of scenes that have K."""
    if not contrastive:
        return np.arange(len(data.scene), dtype=np.int64)[:, None], 1
    ids, inverse = np.unique(data.scene, return_inverse=True)
    V = int(data.views.max()) if len(data.views) else 1
    table = np.full((len(ids), V), -1, np.int64)
    table[inverse, data.views.astype(np.int64) - 1] = np.arange(len(data.scene))
    table = table[:, (table >= 0).any(0)]
    counts = (table >= 0).sum(1)
    table, counts = table[counts >= 2], counts[counts >= 2]
    if not len(table):
        raise ValueError("no scene has two views in this split: a contrastive preset cannot train on it")
    if views_per_scene is None:
        return table, table.shape[1]
    k = int(views_per_scene)
    if k < 2 or k > counts.max():
        raise ValueError(f"--views-per-scene {k}: scenes here have 2..{counts.max()} views")
    return table[counts >= k], k


class SceneBatches:
    """Batches of I scenes x K views, with an (I, K) mask of the views that are present.

    Each epoch visits this rank's scenes once in a random order. With every view (the
    default) each scene's views sit in their columns and an absent one holds a copy of a
    present one, masked out of the losses; with K < V each batch picks K distinct present
    views per scene at random (mask all True). Drawn on the device of the data.
    """

    def __init__(self, data: SplitData, scenes_per_batch: int, views_per_scene: int | None, contrastive: bool,
                 data_fraction: float = 1.0, seed: int = 0, rank: int = 0, world: int = 1,
                 read_ahead: bool | None = None):
        table, self.k = scene_table(data, contrastive, views_per_scene)
        self.all_views = self.k == table.shape[1]
        if data_fraction < 1.0:
            keep = np.random.default_rng(seed).permutation(len(table))
            table = table[np.sort(keep[: max(2, int(round(data_fraction * len(table))))])]
        per_rank = len(table) // world
        if per_rank < 2:
            raise ValueError(f"{len(table)} usable scenes cannot be shared by {world} processes")
        table = table[rank::world][:per_rank]
        device = data.x.device
        self.table = torch.from_numpy(table).to(device)
        # mean present views per scene (what a batch carries beyond placeholders), from the host copy:
        # the training loop counts samples with it every step, which must not sync with the device
        self.present_views = float((table >= 0).sum(1).mean()) if self.all_views else float(self.k)
        self.x = data.x
        self.scenes_per_batch = min(scenes_per_batch, per_rank)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed * 1000 + rank)
        self.read_ahead = reader_has_a_core(device) if read_ahead is None else read_ahead  # streamed data only

    @property
    def n_scenes(self) -> int:
        return int(self.table.shape[0])

    def __len__(self) -> int:
        return max(1, self.n_scenes // self.scenes_per_batch)

    def epoch_picks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, I, K) split-local indices of one epoch (every scene once) and their (B, I, K) presence mask."""
        n = len(self) * self.scenes_per_batch
        order = torch.randperm(self.n_scenes, generator=self.generator, device=self.table.device)[:n]
        rows = self.table[order]
        if self.all_views:
            mask = rows >= 0
            pick = torch.where(mask, rows, rows.max(dim=1, keepdim=True).values)  # placeholder: a present view
        else:
            keys = torch.rand(rows.shape, generator=self.generator, device=rows.device).masked_fill(rows < 0, -1.0)
            pick = rows.gather(1, keys.topk(self.k, dim=1).indices)
            mask = torch.ones_like(pick, dtype=torch.bool)
        shape = (len(self), self.scenes_per_batch, self.k)
        return pick.reshape(shape), mask.reshape(shape)

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yields (x (I, K, T, C), mask (I, K) bool) for one pass over the scenes."""
        picks, masks = self.epoch_picks()
        if isinstance(self.x, StoreRows):
            yield from zip(self.x.batches(picks.cpu().numpy(), self.read_ahead), masks)
        else:
            for pick, mask in zip(picks, masks):
                yield self.x[pick], mask
