"""A PyTorch Dataset over a store, for people who train their own models on it.

torch is imported only when the class is used, and the store is opened lazily in each
process that reads it: an h5py handle must not cross a fork, so a DataLoader worker opens
its own on its first item (it works with fork and spawn alike).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .store import Store


class StoreDataset:
    """(poses (M, T, J, 3) float32 tensor, label int) of a store's samples: all of them
    (`protocol=None`) or the `part` ("train" / "test") of a protocol's split. Each chunk of
    poses is checked against its checksum when first read (`verify=False`: not); a damaged
    one raises StoreError naming the store and the rows."""

    def __init__(self, path: str | Path, protocol: str | None = None, part: str = "train", verify: bool = True):
        from .store import require_valid
        if part not in ("train", "test"):
            raise ValueError(f"part {part!r}: use 'train' or 'test'")
        self.path = str(Path(path).resolve())
        self.verify = verify
        require_valid(self.path, verify)
        with Store(self.path) as st:
            self.index = st.split(protocol, part) if protocol else np.arange(len(st))
            self.labels = st.read("meta/label")[self.index].astype(np.int64)
            self.classes = list(st.attrs["classes"])
        self._store: Store | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.index)

    def _open(self) -> Store:
        if self._store is None or self._pid != os.getpid():   # a new process: its own handle
            self._store = Store(self.path, verify=self.verify)
            self._pid = os.getpid()
        return self._store

    def __getitem__(self, i: int):
        import torch
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        row = int(self.index[i])
        poses = np.asarray(self._open().read("poses", slice(row, row + 1))[0], dtype=np.float32)
        return torch.from_numpy(poses), int(self.labels[i])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_store"], state["_pid"] = None, None    # never pickle an open handle into a worker
        return state
