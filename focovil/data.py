"""A protocol's split as scenes x views batches, held on the training device.

The split's samples are read once into a (N, T, C) tensor on the device (NTU-120 at 50
frames is about 340 MB in fp32); each batch is I scenes x K views drawn there with a
seeded generator, so a step needs no host work. Scenes with fewer than 2 views in the
split cannot form a positive pair: contrastive presets leave them out; reconstruction-
only presets use every sample, each as a one-view "scene".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from skeltools.store import Store


@dataclass
class SplitData:
    x: torch.Tensor          # (N, T, C) poses of the split, frames x (bodies * joints * 3)
    labels: np.ndarray       # (N,)
    scene: np.ndarray        # (N,) store scene ids
    views: np.ndarray        # (N,) 1-based views
    index: np.ndarray        # (N,) store sample indices
    n_classes: int


def load_split(store: str, protocol: str, part: str, device: str | torch.device = "cpu") -> SplitData:
    """The poses and labels of `splits/<protocol>/<part>` as a device tensor (B, T, M*J*3)."""
    with Store(store) as st:
        idx = st.split(protocol, part)
        poses = st.node("poses")
        x = np.concatenate([np.asarray(poses[lo:hi]) for lo, hi in _runs(idx)]) if len(idx) else \
            np.zeros((0,) + tuple(poses.shape[1:]), np.float32)
        meta = {k: st.read(f"meta/{k}")[idx] for k in ("label", "scene", "view")}
        n_classes = len(st.attrs["classes"])
    N, M, T, J, _ = x.shape
    flat = np.ascontiguousarray(x.transpose(0, 2, 1, 3, 4).reshape(N, T, M * J * 3))
    return SplitData(torch.from_numpy(flat).to(device), meta["label"].astype(np.int64), meta["scene"],
                     meta["view"], idx, n_classes)


def _runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of sorted indices, read as whole slices (a batch read is contiguous)."""
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    return [(int(r[0]), int(r[-1]) + 1) for r in np.split(idx, breaks)]


class SceneBatches:
    """Batches of I scenes x K views, sampled on the device.

    `table[s, k]` holds the split-local indices of scene s's views (-1 when absent).
    Each epoch visits every usable scene once in a random order; each batch picks K
    distinct available views per scene at random.
    """

    def __init__(self, data: SplitData, scenes_per_batch: int, views_per_scene: int | None, contrastive: bool,
                 data_fraction: float = 1.0, seed: int = 0):
        device = data.x.device
        if contrastive:
            ids, inverse = np.unique(data.scene, return_inverse=True)
            V = int(data.views.max()) if len(data.views) else 1
            table = np.full((len(ids), V), -1, np.int64)
            table[inverse, data.views.astype(np.int64) - 1] = np.arange(len(data.scene))
            counts = (table >= 0).sum(1)
            table = table[counts >= 2]
            counts = counts[counts >= 2]
            if not len(table):
                raise ValueError("no scene has two views in this split: a contrastive preset cannot train on it")
            k = int(views_per_scene or counts.min())
            if k < 2 or k > counts.max():
                raise ValueError(f"--views-per-scene {k}: scenes here have 2..{counts.max()} views")
            table = table[counts >= k]
        else:
            table, k = np.arange(len(data.scene), dtype=np.int64)[:, None], 1
        rng = np.random.default_rng(seed)
        if data_fraction < 1.0:
            keep = rng.permutation(len(table))[: max(2, int(round(data_fraction * len(table))))]
            table = table[np.sort(keep)]
        self.table = torch.from_numpy(table).to(device)
        self.x = data.x
        self.k = k
        self.scenes_per_batch = min(scenes_per_batch, len(table))
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    @property
    def n_scenes(self) -> int:
        return int(self.table.shape[0])

    def __len__(self) -> int:
        return max(1, self.n_scenes // self.scenes_per_batch)

    def epoch(self):
        """Yields x of shape (I, K, T, C) for one pass over the scenes."""
        order = torch.randperm(self.n_scenes, generator=self.generator, device=self.table.device)
        for b in range(len(self)):
            rows = self.table[order[b * self.scenes_per_batch:(b + 1) * self.scenes_per_batch]]
            keys = torch.rand(rows.shape, generator=self.generator, device=rows.device).masked_fill(rows < 0, -1.0)
            pick = rows.gather(1, keys.topk(self.k, dim=1).indices)
            yield self.x[pick]
