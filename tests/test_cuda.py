"""What only a GPU can show (run by scripts/gpu_check.sh as `pytest -m cuda`; skipped without CUDA)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.focovil import main as focovil
from focovil.checkpoint import load_trained
from focovil.train import TrainConfig, train

from .test_focovil import cfg as cpu_cfg

pytestmark = pytest.mark.cuda


@pytest.fixture
def store(small_store):
    return small_store


def cfg(store, out, **kw):
    return cpu_cfg(store, out, **{"device": "cuda", **kw})


def test_cuda_graph_training_equals_eager(store, tmp_path):
    eager = train(cfg(store, tmp_path / "e", epochs=3), progress=False)
    graph = train(cfg(store, tmp_path / "g", epochs=3, cuda_graph=True), progress=False)
    import pandas as pd
    a, b = (pd.read_csv(r / "metrics.csv")[["loss", "contrastive", "recon", "lr"]].to_numpy() for r in (eager, graph))
    assert np.allclose(a, b, rtol=1e-3), (a, b)
    ma, _ = load_trained(eager, "cuda")
    mb, _ = load_trained(graph, "cuda")
    for (k, p), q in zip(ma.state_dict().items(), mb.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-4), k


def test_bf16_steps_are_finite_and_the_loss_falls(store):
    from focovil.data import SceneBatches, load_split
    from focovil.model import FoCoViL
    from focovil.step import EagerStep, configure_optimizer
    from focovil.train import step_loss

    torch.manual_seed(0)
    data = load_split(str(store), "xsub", "train", "cuda")
    batches = SceneBatches(data, 8, None, contrastive=True, seed=0)
    x, mask = next(batches.epoch())
    model = FoCoViL(x.shape[-1], hidden=64).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    configure_optimizer(opt, False)
    c = TrainConfig(store="", protocol="", out="", hidden=64, beta=1.0)
    step = EagerStep(model, opt, lambda n, xb, m: step_loss(n, xb, m, c), bf16=True)
    losses = [float(step(x, mask)["loss"]) for _ in range(20)]
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < 0.8 * losses[0], losses


def test_streamed_batches_equal_resident_ones_on_cuda(store):
    from focovil.data import SceneBatches, load_split
    resident = load_split(str(store), "xsub", "train", "cuda")
    streamed = load_split(str(store), "xsub", "train", "cuda", stream=True)
    a = list(SceneBatches(resident, 4, None, contrastive=True, seed=7).epoch())
    b = list(SceneBatches(streamed, 4, None, contrastive=True, seed=7).epoch())
    assert len(a) == len(b) > 2
    assert all(x.is_cuda and y.is_cuda and torch.equal(x, y) and torch.equal(m, n) for (x, m), (y, n) in zip(a, b))


def test_train_and_eval_end_to_end_on_cuda(store, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(focovil, ["train", "--store", str(store), "--protocol", "xview", "--out", str(run),
                                     "--hidden", "32", "--epochs", "2", "--batch", "8", "--device", "cuda", "--quiet"])
    assert r.exit_code == 0, r.output
    config = json.loads((run / "config.json").read_text())
    assert config["device"] == "cuda" and config["precision"] == "bf16"
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and "peak_gpu_memory_gb" in rows[0]
    r = CliRunner().invoke(focovil, ["eval", "--run", str(run), "--device", "cuda", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert 0.0 <= res["knn1_acc"] <= 1.0 and res["test_samples"] == 30
