"""FoCoViL: losses against a float64 statement of the equations, training, resume, metrics, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.focovil import main as focovil
from focovil.evaluate import purity
from focovil.losses import multiview_contrastive_loss, reconstruction_loss
from focovil.checkpoint import load_trained
from focovil.train import TrainConfig, train
from skeltools.prepare import prepare


def reference_contrastive(z, tau, focal, mask=None, grad="both"):
    """Eq. 3 / Eq. 6 written out loop by loop in float64 torch scalars (autograd gives its
    gradient), with the pinned mask semantics: absent views are neither anchors, positives
    nor negatives, and w- averages (1 + r) over the negative terms that exist. `grad`: which
    focal weights carry gradient (both, pos, neg, none)."""
    z = torch.as_tensor(z, dtype=torch.float64)
    I, V, _ = z.shape
    present = np.ones((I, V), bool) if mask is None else np.asarray(mask, bool)
    zn = [[z[i, u] / z[i, u].norm() for u in range(V)] for i in range(I)]
    r = lambda i, u, j, v: zn[i][u] @ zn[j][v]  # noqa: E731
    S = lambda i, u, j, v: torch.exp(r(i, u, j, v) / tau)  # noqa: E731
    keep_pos = (lambda w: w) if grad in ("both", "pos") else (lambda w: w.detach())  # noqa: E731
    keep_neg = (lambda w: w) if grad in ("both", "neg") else (lambda w: w.detach())  # noqa: E731
    total, anchors = 0.0, 0
    for i in range(I):
        for u in range(V):
            views = [v for v in range(V) if v != u and present[i, v]]
            if not present[i, u] or not views:
                continue
            anchors += 1
            for v in views:
                terms = [(j, u) for j in range(I) if j != i and present[j, u]] + \
                        [(j, v) for j in range(I) if j != i and present[j, v]]
                log_den = torch.log(sum(S(i, u, j, w) for j, w in terms)) if terms else 0.0
                log_pos = torch.log(S(i, u, i, v))
                if focal:
                    wp = keep_pos(torch.sigmoid(1 - r(i, u, i, v)))
                    wn = keep_neg(torch.sigmoid(sum(1 + r(i, u, j, w) for j, w in terms) / len(terms))) if terms \
                        else 0.0
                    total = total - (wp * log_pos - wn * log_den)
                else:
                    total = total - (log_pos - log_den)
    return total / anchors


@pytest.mark.parametrize("focal", [False, True])
@pytest.mark.parametrize("I,V", [(2, 2), (5, 3), (4, 4)])
def test_contrastive_loss_matches_equations(focal, I, V):
    z = np.random.default_rng(I * 10 + V).normal(size=(I, V, 16))
    got = multiview_contrastive_loss(torch.tensor(z, dtype=torch.float64), tau=0.5, focal=focal)
    assert float(got) == pytest.approx(float(reference_contrastive(z, 0.5, focal)), rel=1e-9)


MASKS = {
    "all": None,
    "one view missing": [[1, 1, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1], [1, 1, 1]],
    "lone view": [[1, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],   # scene 1: no pair, still a negative
}


@pytest.mark.parametrize("grad", ["both", "pos", "neg", "none"])
@pytest.mark.parametrize("focal", [False, True])
@pytest.mark.parametrize("mask_name", list(MASKS))
def test_contrastive_value_and_gradient_match_the_equations(grad, focal, mask_name):
    """Value and gradient against autograd through the loop, for every focal-gradient variant:
    the gradient flows through w+ and w- as `focal_grad` says, and masked views change exactly
    what the pinned semantics say."""
    mask = MASKS[mask_name]
    z0 = np.random.default_rng(7).normal(size=(5, 3, 6))
    z = torch.tensor(z0, requires_grad=True)
    m = None if mask is None else torch.tensor(mask, dtype=torch.bool)
    got = multiview_contrastive_loss(z, 0.5, focal, m, focal_grad=grad)
    (g_got,) = torch.autograd.grad(got, z)
    zr = torch.tensor(z0, requires_grad=True)
    want = reference_contrastive(zr, 0.5, focal, mask, grad)
    (g_want,) = torch.autograd.grad(want, zr)
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-9)
    assert torch.allclose(g_got, g_want, rtol=1e-7, atol=1e-10)
    if mask is not None:
        absent = ~torch.tensor(mask, dtype=torch.bool)
        assert torch.all(g_got[absent] == 0)   # an absent view gets no gradient at all


def test_every_focal_gradient_variant_differs_and_detach_is_none():
    """Differentiating Eq. 6 through the weights is not the same as reweighting, and each
    gradient path matters on its own; detach_weights=True is the old name of "none"."""
    z = torch.randn(6, 3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    grads = {g: torch.autograd.grad(multiview_contrastive_loss(z, focal=True, focal_grad=g), z)[0]
             for g in ("both", "pos", "neg", "none")}
    for a in grads:
        for b in grads:
            if a < b:
                assert (grads[a] - grads[b]).norm() > 0.01 * grads["both"].norm(), (a, b)
    (old,) = torch.autograd.grad(multiview_contrastive_loss(z, focal=True, detach_weights=True), z)
    assert torch.equal(old, grads["none"])
    with pytest.raises(ValueError, match="focal_grad"):
        multiview_contrastive_loss(z, focal_grad="half")


def reference_gradient_ratio(z, tau, focal, grad):
    """The total gradient magnitude on the negatives' cosines over that on the positives', each
    term differentiated by autograd with its cosines as independent leaves (loop by loop)."""
    z = torch.as_tensor(z, dtype=torch.float64)
    I, V, _ = z.shape
    zn = torch.nn.functional.normalize(z, dim=-1)
    g_pos = g_neg = 0.0
    for i in range(I):
        for u in range(V):
            for v in range(V):
                if v == u:
                    continue
                rp = (zn[i, u] @ zn[i, v]).detach().requires_grad_()
                rn = torch.stack([zn[i, u] @ zn[j, w] for j in range(I) if j != i for w in (u, v)]).detach() \
                    .requires_grad_()
                lse = torch.logsumexp(rn / tau, 0)
                if focal:
                    wp = torch.sigmoid(1 - rp)
                    wn = torch.sigmoid((1 + rn).mean())
                    wp = wp if grad in ("both", "pos") else wp.detach()
                    wn = wn if grad in ("both", "neg") else wn.detach()
                    term = wp * rp / tau - wn * lse
                else:
                    term = rp / tau - lse
                dp, dn = torch.autograd.grad(term, (rp, rn))
                g_pos, g_neg = g_pos + dp.abs(), g_neg + dn.abs().sum()
    return float(g_neg / g_pos)


@pytest.mark.parametrize("focal,grad", [(False, "both"), (True, "both"), (True, "pos"), (True, "neg"),
                                        (True, "none")])
def test_focal_statistics_match_the_equations(focal, grad):
    """The per-batch diagnostics: mean cosines and weights, and the gradient ratio against
    autograd on each term (CoViL's ratio is 1: a softmax spreads exactly the positive's pull)."""
    z = torch.randn(5, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    stats = {}
    multiview_contrastive_loss(z, 0.5, focal, focal_grad=grad, stats=stats)
    assert float(stats["grad_neg_over_pos"]) == pytest.approx(reference_gradient_ratio(z, 0.5, focal, grad), rel=1e-9)
    zn = torch.nn.functional.normalize(z, dim=-1)
    r = torch.einsum("iud,jvd->iujv", zn, zn)
    pos = [float(r[i, u, i, v]) for i in range(5) for u in range(3) for v in range(3) if u != v]
    assert float(stats["pos_cos"]) == pytest.approx(np.mean(pos), rel=1e-9)
    if focal:
        assert float(stats["w_pos"]) == pytest.approx(np.mean(1 / (1 + np.exp(-(1 - np.array(pos))))), rel=1e-9)
    else:
        assert float(stats["grad_neg_over_pos"]) == pytest.approx(1.0) and float(stats["w_pos"]) == 1.0


def test_all_true_mask_is_the_unmasked_loss():
    z = torch.randn(4, 3, 5, dtype=torch.float64)
    for focal in (False, True):
        a = multiview_contrastive_loss(z, 0.5, focal)
        b = multiview_contrastive_loss(z, 0.5, focal, torch.ones(4, 3, dtype=torch.bool))
        assert float(a) == float(b)


def test_contrastive_ablation_terms_add_up():
    z = torch.randn(6, 3, 8, dtype=torch.float64)
    full = multiview_contrastive_loss(z, focal=False)
    only_pos = multiview_contrastive_loss(z, focal=False, negatives=False)
    only_neg = multiview_contrastive_loss(z, focal=False, positives=False)
    assert float(full) == pytest.approx(float(only_pos + only_neg))


def test_reconstruction_loss_is_mean_frame_l2():
    x, y = torch.randn(3, 7, 5), torch.randn(3, 7, 5)
    ref = np.mean([[np.linalg.norm((x - y)[b, t].numpy()) for t in range(7)] for b in range(3)])
    assert float(reconstruction_loss(x, y)) == pytest.approx(ref, rel=1e-6)


def test_purity_and_ari_on_known_clusters():
    from focovil.evaluate import clustering
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 30)
    centers = rng.normal(0, 10, size=(4, 8))
    res = clustering(centers[labels] + rng.normal(0, 0.1, size=(120, 8)), labels, seed=0)
    assert res["kmeans_purity"] == res["gmm_purity"] == 1.0 and res["kmeans_ari"] == pytest.approx(1.0)
    assert purity(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0])) == 0.5


def cfg(store, out, **kw):
    base = dict(store=str(store), protocol="xsub", out=str(out), hidden=32, epochs=2, batch=8, seed=3)
    return TrainConfig(**{**base, **kw})


def test_resume_equals_straight_run(small_store, tmp_path):
    train(cfg(small_store, tmp_path / "a", epochs=3), progress=False)
    train(cfg(small_store, tmp_path / "b", epochs=1), progress=False)
    train(cfg(small_store, tmp_path / "b", epochs=3), resume=True, progress=False)
    a, _ = load_trained(tmp_path / "a")
    b, _ = load_trained(tmp_path / "b")
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), k


def test_tiny_model_overfits_tiny_store(small_store, tmp_path):
    run = train(cfg(small_store, tmp_path / "o", preset="ali-reconst", hidden=64, epochs=60, lr=3e-3), progress=False)
    rows = (run / "metrics.csv").read_text().splitlines()
    first, last = float(rows[1].split(",")[1]), float(rows[-1].split(",")[1])
    assert last < 0.5 * first


def test_preset_refuses_wrong_alignment(small_store, tmp_path):
    r = CliRunner().invoke(focovil, ["train", "--store", str(small_store), "--protocol", "xsub", "--out",
                                     str(tmp_path / "r"), "--preset", "reconst", "--hidden", "16"])
    assert r.exit_code == 2 and "needs an unaligned store" in r.output


def test_train_and_eval_through_the_cli(small_store, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(focovil, ["train", "--store", str(small_store), "--protocol", "xview", "--out", str(run),
                                     "--hidden", "32", "--epochs", "2", "--batch", "8", "--quiet"])
    assert r.exit_code == 0, r.output
    cfg_json = json.loads((run / "config.json").read_text())
    assert cfg_json["resolved"]["parameters"] > 0 and cfg_json["beta"] == 1.0
    r = CliRunner().invoke(focovil, ["eval", "--run", str(run), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    for k in ("linear_acc", "knn1_acc", "gmm_purity", "gmm_ari", "kmeans_purity", "kmeans_ari"):
        assert 0.0 <= res[k] <= 1.0 or (k.endswith("ari") and -1.0 <= res[k] <= 1.0)
    assert res["test_samples"] == 30 and res["train_samples"] == 60
    assert (run / "tsne.png").exists() and (run / "confusion.png").exists() and (run / "curves.png").exists()


@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
def test_streamed_training_equals_device_resident(rigid_corpus, small_store, tmp_path, suffix):
    store = small_store
    if suffix == ".zarr":
        store = tmp_path / "s.zarr"
        prepare("ntu60", rigid_corpus.out, store, workers=1, progress=False)
    train(cfg(store, tmp_path / "dev"), progress=False)
    train(cfg(store, tmp_path / "str", stream=True), progress=False)
    a, _ = load_trained(tmp_path / "dev")
    b, _ = load_trained(tmp_path / "str")
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), k


def test_epoch_visits_every_scene_once_with_distinct_views(small_store):
    from focovil.data import SceneBatches, load_split
    data = load_split(str(small_store), "xsub", "train")
    batches = SceneBatches(data, 4, 2, contrastive=True, seed=5)
    picks, masks = (t.numpy() for t in batches.epoch_picks())
    assert picks.shape == (len(batches), 4, 2) and len(batches) == batches.n_scenes // 4 and masks.all()
    flat = picks.reshape(-1, 2)
    scenes = data.scene[flat]
    assert (scenes[:, 0] == scenes[:, 1]).all() and (data.views[flat[:, 0]] != data.views[flat[:, 1]]).all()
    assert len(np.unique(scenes[:, 0])) == len(flat)  # no scene twice in an epoch


def test_batches_carry_every_view_of_a_scene_and_mask_the_absent(small_store):
    """Default: K = every view the split has; a scene seen by 2 of 3 cameras brings its 2, masked third."""
    from focovil.data import SceneBatches, SplitData, load_split
    full = load_split(str(small_store), "xsub", "train")
    drop = np.flatnonzero((full.views == 3) & (full.scene % 2 == 0))  # camera 3 lost for even scenes
    keep = np.setdiff1d(np.arange(len(full.index)), drop)
    data = SplitData(full.x[keep], full.labels[keep], full.scene[keep], full.views[keep], full.index[keep],
                     full.n_classes)
    batches = SceneBatches(data, 4, None, contrastive=True, seed=2)
    assert batches.k == 3
    picks, masks = (t.numpy() for t in batches.epoch_picks())
    picks, masks = picks.reshape(-1, 3), masks.reshape(-1, 3)
    scene = data.scene[picks[:, 0]]
    assert (data.scene[picks] == scene[:, None]).all()                       # placeholders: same scene
    assert (masks.sum(1) == np.where(scene % 2 == 0, 2, 3)).all()
    assert (masks[:, 2] == (scene % 2 == 1)).all()                          # column = camera
    present = picks[masks]
    assert (data.views[present] == np.nonzero(masks)[1] + 1).all()
    assert len(np.unique(scene)) == len(scene) == batches.n_scenes // 4 * 4


@pytest.mark.parametrize("read_ahead", [False, True])
def test_streamed_batches_equal_device_resident_ones(small_store, read_ahead):
    import threading
    from focovil.data import SceneBatches, load_split
    resident = load_split(str(small_store), "xsub", "train")
    streamed = load_split(str(small_store), "xsub", "train", stream=True)
    a = list(SceneBatches(resident, 4, None, contrastive=True, seed=7).epoch())
    b = list(SceneBatches(streamed, 4, None, contrastive=True, seed=7, read_ahead=read_ahead).epoch())
    assert len(a) == len(b) > 2
    assert all(torch.equal(x, y) and torch.equal(m, n) for (x, m), (y, n) in zip(a, b))
    threads = threading.active_count()
    epoch = SceneBatches(streamed, 4, None, contrastive=True, seed=7, read_ahead=read_ahead).epoch()
    assert torch.equal(next(epoch)[0], a[0][0])
    epoch.close()  # a loop left early stops its reader thread
    assert threading.active_count() == threads


def test_covil_without_g_has_no_projection_and_decodes_from_f_e(small_store, tmp_path):
    from focovil.model import FoCoViL
    run = train(cfg(small_store, tmp_path / "nog", preset="covil-no-g", epochs=1), progress=False)
    model, _ = load_trained(run)
    assert not any(k.startswith("projection.") for k in model.state_dict())
    x = torch.randn(3, 50, model.channels)
    h, z, x_hat = model(x)
    assert torch.equal(h, z)
    out, _ = model.decoder(torch.zeros_like(x), h.unsqueeze(0).contiguous())
    assert torch.allclose(model.readout(out), x_hat)
    with_g = FoCoViL(model.channels, hidden=32)
    assert any(k.startswith("projection.") for k in with_g.state_dict())


def test_config_records_sources_and_paper_defaults(small_store, tmp_path):
    run = train(cfg(small_store, tmp_path / "src", epochs=1), progress=False)
    saved = json.loads((run / "config.json").read_text())
    assert saved["focal_grad"] == "both" and saved["tau"] == 0.5 and saved["lr"] == 1e-4
    assert {"epochs", "lr", "lr_decay", "batch", "tau", "alpha", "beta", "hidden"} <= set(saved["sources"])
    assert saved["resolved"]["views_per_scene"] == 3   # xsub: all three cameras of a scene
    assert TrainConfig.load(run / "config.json").tau == 0.5


def test_reader_thread_only_where_a_core_is_free(monkeypatch):
    import os
    from focovil.data import reader_has_a_core
    threads, cores = torch.get_num_threads(), len(os.sched_getaffinity(0))
    try:
        torch.set_num_threads(1)
        assert reader_has_a_core(torch.device("cuda"))
        assert reader_has_a_core(torch.device("cpu")) == (cores > 1)
        torch.set_num_threads(cores)
        assert not reader_has_a_core(torch.device("cpu"))
        torch.set_num_threads(1)
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(cores))  # torchrun: one process per core
        assert not reader_has_a_core(torch.device("cpu"))
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_ddp_two_gloo_processes(small_store, tmp_path):
    import os
    import subprocess
    import sys
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "cli.focovil", "train", "--store", str(small_store), "--protocol", "xsub", "--out", str(run),
           "--hidden", "16", "--epochs", "2", "--batch", "4", "--device", "cpu", "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    config = json.loads((run / "config.json").read_text())
    assert config["resolved"]["world_size"] == 2
    import pandas as pd
    rows = pd.read_csv(run / "metrics.csv")
    assert len(rows) == 2 and np.isfinite(rows[["loss", "contrastive", "recon"]].to_numpy()).all()
    assert (run / "rng_rank1.pt").exists()
    single = train(cfg(small_store, tmp_path / "one", hidden=16, epochs=1, batch=4), progress=False)
    assert json.loads((single / "config.json").read_text())["resolved"]["train_scenes"] == \
        config["resolved"]["train_scenes"]                       # the two ranks share every scene between them
    trained, _ = load_trained(run)
    torch.manual_seed(3)
    from focovil.model import FoCoViL
    init = FoCoViL(trained.channels, hidden=16)
    assert all(not torch.equal(p, q) for p, q in zip(trained.state_dict().values(), init.state_dict().values())
               if p.dtype.is_floating_point)                     # every tensor was trained
    r = CliRunner().invoke(focovil, ["eval", "--run", str(run), "--no-plots", "--json"])
    assert r.exit_code == 0, r.output


def test_labelled_subset_is_stratified():
    from focovil.evaluate import labelled_subset
    labels = np.repeat(np.arange(5), [100, 50, 10, 3, 1])
    sub = labelled_subset(labels, 0.1, seed=0)
    assert np.bincount(labels[sub]).tolist() == [10, 5, 1, 1, 1]
    assert len(np.unique(sub)) == len(sub)


def test_finetune_and_semi_supervised_eval(small_store, tmp_path):
    run = train(cfg(small_store, tmp_path / "ft", protocol="xview", epochs=1), progress=False)
    r = CliRunner().invoke(focovil, ["eval", "--run", str(run), "--no-plots", "--finetune", "--semi", "0.1",
                                     "--finetune-epochs", "150", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["finetune_acc"] > 0.5 and 0.0 <= res["semi_10pct_acc"] <= 1.0   # chance is 0.1
    assert res["finetune_settings"]["epochs"] == 150 and res["finetune_settings"]["lr"] == 1e-3


def _adam_steps(model, opt, n, seed):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randn(5, 4, generator=gen)
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()


def test_optimizer_switches_between_eager_and_graph_settings_without_changing_training():
    """A run resumed with the other --cuda-graph setting keeps its learning rate, schedule and Adam state."""
    from focovil.step import configure_optimizer

    runs = []
    for switch in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 3)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        _adam_steps(model, opt, 3, seed=1)
        if switch:
            configure_optimizer(opt, cuda_graph=True)
            lr = opt.param_groups[0]["lr"]
            assert torch.is_tensor(lr) and opt.param_groups[0]["capturable"]
            sched.step()
            assert opt.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(5e-3)  # in place: a graph sees it
            configure_optimizer(opt, cuda_graph=False)
            assert isinstance(opt.param_groups[0]["lr"], float) and not opt.param_groups[0]["capturable"]
        else:
            sched.step()
        _adam_steps(model, opt, 3, seed=2)
        runs.append(model)
    for p, q in zip(runs[0].parameters(), runs[1].parameters()):
        assert torch.allclose(p, q, atol=1e-7), (p, q)


def test_cuda_graph_needs_cuda(small_store, tmp_path):
    r = CliRunner().invoke(focovil, ["train", "--store", str(small_store), "--protocol", "xsub", "--out",
                                     str(tmp_path / "g"), "--device", "cpu", "--cuda-graph", "--hidden", "16"])
    assert r.exit_code == 2 and "--cuda-graph is for CUDA" in r.output


def test_same_seed_and_threads_give_identical_metrics(small_store, tmp_path):
    """What the ablation benchmark relies on: a seed fixes a run's numbers on one machine."""
    from focovil.evaluate import evaluate
    results = []
    for name in ("a", "b"):
        run = train(cfg(small_store, tmp_path / name, protocol="xview", epochs=2), progress=False)
        results.append(evaluate(run, plots=False))
    keys = ("linear_acc", "knn1_acc", "gmm_purity", "gmm_ari", "kmeans_purity", "kmeans_ari", "cross_view_retrieval")
    assert [results[0][k] for k in keys] == [results[1][k] for k in keys]
    other = evaluate(train(cfg(small_store, tmp_path / "c", protocol="xview", epochs=2, seed=4), progress=False),
                     plots=False)
    assert [other[k] for k in keys] != [results[0][k] for k in keys]   # and another seed does not


def test_embed_writes_the_encoder_features(small_store, tmp_path):
    import h5py

    import focovil as fv
    from focovil.model import features
    from skeltools.store import Store
    run = train(cfg(small_store, tmp_path / "e", epochs=1), progress=False)
    r = CliRunner().invoke(focovil, ["embed", "--run", str(run), "--store", str(small_store), "--out",
                                     str(tmp_path / "f.h5"), "--batch", "7"])
    assert r.exit_code == 0, r.output
    model, _ = load_trained(run)
    with Store(small_store) as st, h5py.File(tmp_path / "f.h5") as f:
        poses = st.read("poses")
        from focovil.data import flatten_poses
        want = features(model.encode, torch.from_numpy(flatten_poses(poses)))      # the evaluation's own path
        assert np.allclose(f["features"][()], want, atol=1e-6) and f["features"].dtype == np.float32
        assert list(f["meta/name"].asstr()[()]) == list(st.read("meta/name"))
        assert f["meta/label"][()].tolist() == st.read("meta/label").tolist()
        assert json.loads(f.attrs["config"])["hidden"] == 32
        enc = fv.load_encoder(run)
        assert isinstance(enc, torch.nn.Module) and np.allclose(enc.encode(poses[:5]), want[:5], atol=1e-6)


def test_train_config_reproduces_a_run(small_store, tmp_path):
    first = train(cfg(small_store, tmp_path / "a", epochs=2, tau=0.3, proj="32-16-32"), progress=False)
    r = CliRunner().invoke(focovil, ["train", "--config", str(first / "config.json"), "--out", str(tmp_path / "b"),
                                     "--quiet"])
    assert r.exit_code == 0, r.output
    a, b = (json.loads((p / "config.json").read_text()) for p in (first, tmp_path / "b"))
    assert {k: v for k, v in a.items() if k != "out"} == {k: v for k, v in b.items() if k != "out"}
    ma, _ = load_trained(first)
    mb, _ = load_trained(tmp_path / "b")
    assert all(torch.equal(p, q) for p, q in zip(ma.state_dict().values(), mb.state_dict().values()))
    r = CliRunner().invoke(focovil, ["train", "--store", str(small_store), "--protocol", "xsub"])
    assert r.exit_code == 2 and "missing --out" in r.output
