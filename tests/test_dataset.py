"""skeltools.dataset.StoreDataset under a DataLoader with worker processes, on both backends."""
from __future__ import annotations

import multiprocessing as mp

import pytest
import torch

from skeltools.dataset import StoreDataset
from skeltools.prepare import prepare
from skeltools.store import Store


@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_dataloader_workers_read_the_store(rigid_corpus, tmp_path, suffix, start):
    path = tmp_path / f"s{suffix}"
    prepare("ntu60", rigid_corpus.out, path, workers=1, progress=False)
    ds = StoreDataset(path, protocol="xsub", part="test")
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context=mp.get_context(start))
    poses = torch.cat([x for x, _ in loader])
    labels = torch.cat([y for _, y in loader])
    with Store(path) as st:
        idx = st.split("xsub", "test")
        assert torch.equal(poses, torch.from_numpy(st.read("poses")[idx]))
        assert labels.tolist() == st.read("meta/label")[idx].tolist()
    x, y = ds[0]
    assert x.dtype == torch.float32 and x.shape == (2, 50, 25, 3) and isinstance(y, int)
    assert len(StoreDataset(path)) == len(idx) + len(StoreDataset(path, "xsub", "train"))
    with pytest.raises(IndexError):
        ds[len(ds)]
