"""One fuzzing round of `skel prepare`: a clean synthetic corpus, the same corpus with a
share of its files mutated, both prepared, and the outcome counted.

Per mutated file: skipped with a reason, or accepted (its text still parses as a
plausible sample). Per run: a crash (prepare exits with a traceback or a signal) or a
hang (past the time limit). And the one that must never happen: a sample of an
*unmutated* file that is missing or whose coordinates in metres differ from the clean
run ("changed"). Beside it, the good samples compared as stored (scaled): they move only
with the dataset's scale, so each round records `scale_ratio`, mutated over clean. Below 1:
the file that set the scale was mutated and skipped; above 1: an accepted mutant has a larger
coordinate, which a glitch must not be (the joint-speed bound); how far above is reported.

`custom` fuzzes the recordings of `skel synth custom` (every format its index takes);
UWA3D's `.mat` files also get a structural mutation, external storage (the data in
another file), which must be refused.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .generate import synth
from .mutate import mutate

# per dataset: the raw files to mutate, and the unit (a file stem) each sample name belongs to
TARGETS = {
    "ntu60": (("**/*.skeleton",), lambda name, corpus: name),
    "pkummd1": (("**/*.txt",), lambda name, corpus: name.rsplit("_", 1)[0]),
    "uwa3d": (("**/*.mat",), lambda name, corpus: name),
    "custom": (("recordings/**/*.json", "recordings/**/*.npy", "recordings/**/*.npz", "recordings/**/*.csv",
                "recordings/**/*.skeleton"), lambda name, corpus: _index_stems(corpus)[name]),
}
STRUCTURAL_SHARE = 0.25        # of the chosen .mat files: external storage instead of byte mutations


def _index_stems(corpus: Path) -> dict[str, str]:
    """Sample name -> the stem of its file, from a custom corpus's index."""
    import pandas as pd
    rows = pd.read_csv(corpus / "recordings.csv", dtype=str, keep_default_na=False)
    return {(r.get("name") or f"{r['scene']}-{r['view']}"): Path(r["path"]).stem for r in rows.to_dict("records")}


def external_storage(path: Path) -> None:
    """Rewrite a .mat file's dataset `A` with its data in a file beside it (HDF5 external storage)."""
    import h5py
    from .uwa3d import MAT_HEADER
    with h5py.File(path, "r") as f:
        a = f["A"][()]
    (path.parent / f"{path.stem}.bin").write_bytes(a.astype("<f8").tobytes())
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("A", shape=a.shape, dtype="<f8", external=[(f"{path.stem}.bin", 0, a.nbytes)])
    with open(path, "r+b") as f:
        f.write(MAT_HEADER.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")


@dataclass
class FuzzOutcome:
    dataset: str
    seed: int
    mutants: int = 0
    skipped: int = 0
    accepted: int = 0
    changed: int = 0          # unmutated samples lost or altered: must be 0
    scale_ratio: float = 1.0  # the mutated store's scale over the clean store's
    rescaled: int = 0         # good samples whose stored (scaled) values moved
    crashes: int = 0
    hangs: int = 0
    check_problems: list = field(default_factory=list)
    by_mutation: dict = field(default_factory=dict)
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _metric(store: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """Each sample's poses in metres, and as stored (scaled); the store's scale."""
    from ..store import Store
    with Store(store) as st:
        scale = st.read("meta/scale") if st.has("meta/scale") else np.full(len(st), float(st.attrs["scale"]))
        stored = dict(zip(st.read("meta/name"), st.read("poses")))
        metres = {n: p.astype(np.float64) * s for (n, p), s in zip(stored.items(), scale)}
        return metres, stored, float(st.attrs["scale"])


def _prepare(dataset: str, raw: Path, out: Path, timeout: float) -> tuple[str, str]:
    """('ok' | 'crash' | 'hang', stderr tail) of one `skel prepare` in its own process."""
    source = ["--index", str(raw / "recordings.csv"), "--layout", "azure_kinect_32"] if dataset == "custom" else \
        ["--raw", str(raw)]
    cmd = [sys.executable, "-m", "skeltools.cli.skel", "prepare", dataset, *source, "--out", str(out), "--quiet",
           "--workers", "2", "--allow-empty-splits"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=Path(__file__).resolve().parents[2])
    except subprocess.TimeoutExpired:
        return "hang", ""
    return ("ok" if done.returncode == 0 else "crash"), done.stderr[-2000:]


def fuzz_round(dataset: str, work: Path, seed: int, scenes: int = 6, share: float = 0.5,
               timeout: float = 180.0) -> FuzzOutcome:
    """Mutate `share` of the corpus's files (1-3 mutations each) and count what prepare does."""
    from ..store import check_store
    from ..store import Store

    patterns, unit_of = TARGETS[dataset]
    rng = np.random.default_rng(seed)
    clean = synth(dataset, work / "clean", scenes=scenes, seed=seed, broken=False)
    status, err = _prepare(dataset, clean.out, work / "clean.h5", timeout)
    res = FuzzOutcome(dataset, seed)
    if status != "ok":
        res.error = f"clean corpus: {status} {err}"
        return res
    reference, reference_stored, reference_scale = _metric(work / "clean.h5")
    shutil.copytree(clean.out, work / "mutated")
    files = sorted(p for pattern in patterns for p in (work / "mutated").glob(pattern) if p.is_file())
    chosen = [files[k] for k in np.flatnonzero(rng.random(len(files)) < share)]
    mutated_units, kinds = set(), {}
    for path in chosen:
        if path.suffix == ".mat" and rng.random() < STRUCTURAL_SHARE:
            external_storage(path)
            names = ["external_storage"]
        else:
            data, names = mutate(path.read_bytes(), rng, rounds=int(rng.integers(1, 4)))
            path.write_bytes(data)
        mutated_units.add(path.stem)
        kinds[path.stem] = "+".join(names)
    res.mutants = len(mutated_units)   # a PKU video counts once, whether its skeleton or label file (or both) changed
    status, err = _prepare(dataset, work / "mutated", work / "mutated.h5", timeout)
    if status != "ok":
        res.crashes, res.hangs = int(status == "crash"), int(status == "hang")
        res.error = err
        return res
    problems, _ = check_store(work / "mutated.h5")
    res.check_problems = problems
    got, got_stored, scale = _metric(work / "mutated.h5")
    res.scale_ratio = scale / reference_scale
    with Store(work / "mutated.h5") as st:
        skipped_units = {unit_of(n, clean.out) for n in st.read("skipped/name")}
    for name, poses in reference.items():
        if unit_of(name, clean.out) in mutated_units:
            continue
        if name not in got or not np.allclose(got[name], poses, atol=1e-5, rtol=1e-5):
            res.changed += 1
        elif not np.array_equal(got_stored[name], reference_stored[name]):
            res.rescaled += 1
    for unit in mutated_units:
        outcome = "skipped" if unit in skipped_units else "accepted"
        setattr(res, outcome, getattr(res, outcome) + 1)
        for name in kinds[unit].split("+"):
            res.by_mutation.setdefault(name, {"skipped": 0, "accepted": 0})[outcome] += 1
    return res
