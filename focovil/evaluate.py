"""Evaluation of the frozen encoder f_e on a protocol's test split.

Linear probe (a softmax layer = multinomial logistic regression on frozen features,
scikit-learn), cosine 1-NN, GMM and KMeans with k = classes present (purity, Eq. 8, and
ARI, Eq. 9), a cross-view retrieval rate, a t-SNE plot and a confusion matrix.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, confusion_matrix
from sklearn.metrics.cluster import contingency_matrix
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from .checkpoint import load_trained
from .data import load_split
from .model import features
from .store_fit import require_fit

LINEAR_PROBE = {"C": 1.0, "max_iter": 1000, "solver": "lbfgs", "standardize": True}
FINETUNE = {"epochs": 50, "batch": 64, "lr": 1e-3, "optimizer": "Adam", "head": "one linear softmax layer on f_e"}


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Eq. 8: the share of samples that belong to their cluster's majority class."""
    return float(contingency_matrix(labels, clusters).max(axis=0).sum() / len(labels))


def cosine_nn(query: np.ndarray, bank: np.ndarray, exclude_self: bool = False, chunk: int = 4096,
              device: str | torch.device = "cpu") -> np.ndarray:
    """Index into `bank` of each query row's nearest neighbour by cosine similarity,
    computed on `device` in chunks of query rows (bounded memory)."""
    q = torch.nn.functional.normalize(torch.from_numpy(query).to(device), dim=1)
    b = torch.nn.functional.normalize(torch.from_numpy(bank).to(device), dim=1)
    out = []
    for lo in range(0, len(q), chunk):
        sim = q[lo:lo + chunk] @ b.T
        if exclude_self:
            sim[torch.arange(len(sim)), torch.arange(lo, lo + len(sim))] = -float("inf")
        out.append(sim.argmax(1))
    return torch.cat(out).cpu().numpy()


def knn1_accuracy(train_feats: np.ndarray, train_labels: np.ndarray, test_feats: np.ndarray,
                  test_labels: np.ndarray, device: str | torch.device = "cpu") -> float:
    """Cosine 1-NN: the share of test samples whose nearest training sample has their label."""
    nn = cosine_nn(test_feats, train_feats, device=device)
    return float(np.mean(train_labels[nn] == test_labels))


def cross_view_retrieval(feats: np.ndarray, scene: np.ndarray, device: str | torch.device = "cpu") -> float | None:
    """Share of test samples (whose scene has another view in the split) whose nearest
    other sample is the same scene from another view; None when no scene has two views."""
    ids, counts = np.unique(scene, return_counts=True)
    has_pair = np.isin(scene, ids[counts >= 2])
    if not has_pair.any():
        return None
    nn = cosine_nn(feats, feats, exclude_self=True, device=device)
    return float(np.mean(scene[nn][has_pair] == scene[has_pair]))


def kmeans_clusters(feats: np.ndarray, k: int, seed: int) -> np.ndarray:
    """KMeans, best of 10 k-means++ starts (stable purity between runs; 10x one start's cost)."""
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(feats)


def gmm_clusters(feats: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A diagonal-covariance GMM (full covariances of 1024-d features would not fit in memory)."""
    gmm = GaussianMixture(n_components=k, covariance_type="diag", reg_covar=1e-4, random_state=seed).fit(feats)
    return gmm.predict(feats)


def clustering(feats: np.ndarray, labels: np.ndarray, seed: int) -> dict:
    """KMeans and GMM with k = the number of classes present: purity (Eq. 8) and ARI (Eq. 9)."""
    k = len(np.unique(labels))
    km, g = kmeans_clusters(feats, k, seed), gmm_clusters(feats, k, seed)
    return {"kmeans_purity": purity(labels, km), "kmeans_ari": float(adjusted_rand_score(labels, km)),
            "gmm_purity": purity(labels, g), "gmm_ari": float(adjusted_rand_score(labels, g)), "clusters": k}


def linear_probe(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, seed: int) -> np.ndarray:
    scaler = StandardScaler().fit(train_f)
    clf = LogisticRegression(C=LINEAR_PROBE["C"], max_iter=LINEAR_PROBE["max_iter"], solver=LINEAR_PROBE["solver"],
                             random_state=seed)
    clf.fit(scaler.transform(train_f), train_y)
    return clf.predict(scaler.transform(test_f))


def labelled_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a class-stratified `fraction` of the samples (at least one per class)."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        keep.append(rng.choice(members, size=max(1, int(round(fraction * len(members)))), replace=False))
    return np.sort(np.concatenate(keep))


def finetune_accuracy(model, x_train: torch.Tensor, y_train: np.ndarray, x_test: torch.Tensor, y_test: np.ndarray,
                      n_classes: int, seed: int, settings: dict = FINETUNE) -> float:
    """Train a copy of f_e plus a softmax layer end to end on the labels given; test accuracy."""
    import copy
    torch.manual_seed(seed)
    enc = copy.deepcopy(model).train()
    head = torch.nn.Linear(enc.hidden, n_classes).to(x_train.device)
    params = list(enc.encoder.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=settings["lr"])
    y = torch.as_tensor(y_train, device=x_train.device)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(settings["epochs"]):
        for b in torch.randperm(len(y), generator=gen).split(settings["batch"]):
            b = b.to(x_train.device)
            loss = torch.nn.functional.cross_entropy(head(enc.encode(x_train[b])), y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    enc.eval()
    with torch.no_grad():
        pred = torch.cat([head(enc.encode(x_test[i:i + 1024])).argmax(1) for i in range(0, len(x_test), 1024)])
    return float(np.mean(pred.cpu().numpy() == y_test))


def evaluate(run: str | Path, store: str | None = None, protocol: str | None = None, device: str = "cpu",
             plots: bool = True, finetune: bool = False, semi: tuple[float, ...] = (),
             finetune_settings: dict | None = None, verify: bool = True, force: bool = False) -> dict:
    """All metrics of a run on the test split. They go to the run's results.json (and plots)
    for the run's own store, to results-<store name>.json (tsne-..., confusion-...) for
    another; a store that does not fit the run is refused unless `force`."""
    run = Path(run)
    from skeltools.store import require_valid
    model, cfg = load_trained(run, device)
    own = store is None or Path(store).resolve() == Path(cfg.store).resolve()
    store, protocol = store or cfg.store, protocol or cfg.protocol
    if not Path(store).exists():
        raise ValueError(f"{store}: the store this run was trained on is not there; pass --store")
    require_valid(store, verify)
    require_fit(cfg.resolved.get("store"), store, force)
    train = load_split(store, protocol, "train", device, verify=verify)
    test = load_split(store, protocol, "test", device, verify=verify)
    if not len(test.index) or not len(train.index):
        raise ValueError(f"protocol {protocol!r} of {store} has an empty train or test split")
    ftr, fte = features(model.encode, train.x), features(model.encode, test.x)
    pred = linear_probe(ftr, train.labels, fte, cfg.seed)
    res = {
        "run": str(run), "store": str(store), "protocol": protocol, "preset": cfg.preset,
        "train_samples": len(ftr), "test_samples": len(fte),
        "linear_acc": float(np.mean(pred == test.labels)),
        "knn1_acc": knn1_accuracy(ftr, train.labels, fte, test.labels, device),
        **clustering(fte, test.labels, cfg.seed),
        "cross_view_retrieval": cross_view_retrieval(fte, test.scene, device),
        "linear_probe": {**LINEAR_PROBE, "model": "sklearn LogisticRegression (multinomial softmax layer)"},
        "features": "f_e: last encoder layer, final forward and backward states concatenated",
    }
    if res["cross_view_retrieval"] is None:
        res["cross_view_retrieval_note"] = "no test scene has two views: the test split holds one camera (as xview does)"
    ft = {**FINETUNE, **(finetune_settings or {})}
    if finetune or semi:
        res["finetune_settings"] = ft
    if finetune:
        res["finetune_acc"] = finetune_accuracy(model, train.x, train.labels, test.x, test.labels, train.n_classes,
                                                cfg.seed, ft)
    for frac in semi:
        sub = torch.as_tensor(labelled_subset(train.labels, frac, cfg.seed), device=train.x.device)
        res[f"semi_{frac * 100:g}pct_acc"] = finetune_accuracy(
            model, train.x[sub], train.labels[sub.cpu().numpy()], test.x, test.labels, train.n_classes, cfg.seed, ft)
    tag = "" if own else f"-{Path(store).name}"
    if plots:
        classes = _class_names(store)
        _tsne_plot(fte, test.labels, classes, run / f"tsne{tag}.png", cfg.seed)
        _confusion_plot(test.labels, pred, classes, run / f"confusion{tag}.png")
    res["results_file"] = str(run / f"results{tag}.json")
    (run / f"results{tag}.json").write_text(json.dumps(res, indent=1))
    return res


def _class_names(store: str) -> list[str]:
    from skeltools.store import Store
    with Store(store, verify=False) as st:
        return list(st.attrs["classes"])


def _tsne_plot(feats: np.ndarray, labels: np.ndarray, classes: list[str], path: Path, seed: int) -> None:
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone
    from sklearn.manifold import TSNE

    shown = np.unique(labels)[:10]
    keep = np.isin(labels, shown)
    if keep.sum() < 5:
        return
    emb = TSNE(n_components=2, perplexity=min(30.0, (keep.sum() - 1) / 3), random_state=seed,
               init="pca").fit_transform(feats[keep])
    fig = Figure(figsize=(9, 6), layout="constrained")
    ax = fig.subplots()
    for c in shown:
        m = labels[keep] == c
        ax.scatter(emb[m, 0], emb[m, 1], s=12, label=textwrap.shorten(classes[c], 32, placeholder="…"))
    ax.legend(fontsize=7, markerscale=1.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_title("t-SNE of f_e on the test split (up to 10 classes)")
    fig.savefig(path, dpi=90)


def _confusion_plot(y: np.ndarray, pred: np.ndarray, classes: list[str], path: Path) -> None:
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone
    from matplotlib.ticker import MaxNLocator
    from sklearn.metrics import ConfusionMatrixDisplay

    present = np.unique(np.concatenate([y, pred]))
    cm = confusion_matrix(y, pred, labels=present)
    fig = Figure(figsize=(max(7, len(present) * 0.55), max(6, len(present) * 0.5)), layout="constrained")
    ax = fig.subplots()
    names = [textwrap.shorten(classes[c], 24, placeholder="…") for c in present]   # whole words, never cut mid-word
    shown = ConfusionMatrixDisplay(cm, display_labels=names).plot(ax=ax, xticks_rotation="vertical", colorbar=True,
                                                                  include_values=len(present) <= 20)
    shown.im_.colorbar.locator = MaxNLocator(integer=True)          # counts: whole numbers on the colour bar
    shown.im_.colorbar.update_ticks()
    ax.set_title(f"linear probe, test split\naccuracy {np.mean(y == pred):.3f} ({len(y)} samples)", fontsize=10)
    fig.savefig(path, dpi=90)
