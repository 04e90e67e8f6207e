"""Whether a store fits a trained run: the same kind of data as the store it was trained on
(dataset, joint layout, bodies and joints, frames, alignment, scaling). An encoder evaluated or
run on another kind of store gives numbers that mean nothing, so eval and embed refuse it
unless told otherwise."""
from __future__ import annotations

from pathlib import Path

from skeltools.store import Store

SIGNATURE = ("dataset", "layout", "frames", "aligned", "scaling", "shape")


def store_signature(path: str | Path) -> dict:
    """What a run must agree with in a store: its root attributes and its sample shape."""
    with Store(path, verify=False) as st:
        sig = {k: st.attrs.get(k) for k in SIGNATURE if k != "shape"}
        sig["scaling"] = sig["scaling"] or "dataset"
        sig["shape"] = [int(v) for v in st.node("poses").shape[1:]]
    return sig


def misfit(trained_on: dict | None, store: str | Path) -> list[str]:
    """How `store` differs from the signature of the run's training store (nothing to compare
    with for a run that recorded none)."""
    if not trained_on:
        return []
    sig = store_signature(store)
    return [f"{k} {sig[k]!r} (the run was trained on {trained_on.get(k)!r})" for k in SIGNATURE
            if k in trained_on and sig[k] != trained_on[k]]


def require_fit(trained_on: dict | None, store: str | Path, force: bool) -> None:
    """ValueError in one line where the store does not fit the run, unless `force`."""
    diff = misfit(trained_on, store)
    if diff and not force:
        raise ValueError(f"{store} does not fit this run: " + "; ".join(diff) + " (--force to use it anyway)")
