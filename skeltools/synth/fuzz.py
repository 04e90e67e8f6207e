"""One fuzzing round of `skel prepare`: a clean synthetic corpus, the same corpus with a
share of its files mutated, both prepared, and the outcome counted.

Per mutated file: skipped with a reason, or accepted (its text still parses as a
plausible sample). Per run: a crash (prepare exits with a traceback or a signal) or a
hang (past the time limit). And the one that must never happen: a sample of an
*unmutated* file that is missing or whose coordinates in metres differ from the clean
run ("changed"), which is what one bad file rescaling the store would do.
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

# per dataset: the raw files to mutate, and the unit (file stem) a sample name belongs to
TARGETS = {
    "ntu60": ("*.skeleton", lambda name: name),
    "pkummd1": ("*.txt", lambda name: name.rsplit("_", 1)[0]),
    "uwa3d": ("*.mat", lambda name: name),
}


@dataclass
class FuzzOutcome:
    dataset: str
    seed: int
    mutants: int = 0
    skipped: int = 0
    accepted: int = 0
    changed: int = 0          # unmutated samples lost or altered: must be 0
    crashes: int = 0
    hangs: int = 0
    check_problems: list = field(default_factory=list)
    by_mutation: dict = field(default_factory=dict)
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _metric(store: Path) -> dict[str, np.ndarray]:
    from ..store import Store
    with Store(store) as st:
        scale = st.read("meta/scale") if st.has("meta/scale") else np.full(len(st), float(st.attrs["scale"]))
        return {n: p.astype(np.float64) * s for n, p, s in zip(st.read("meta/name"), st.read("poses"), scale)}


def _prepare(dataset: str, raw: Path, out: Path, timeout: float) -> tuple[str, str]:
    """('ok' | 'crash' | 'hang', stderr tail) of one `skel prepare` in its own process."""
    cmd = [sys.executable, "-m", "cli.skel", "prepare", dataset, "--raw", str(raw), "--out", str(out), "--quiet",
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

    pattern, unit_of = TARGETS[dataset]
    rng = np.random.default_rng(seed)
    clean = synth(dataset, work / "clean", scenes=scenes, seed=seed, broken=False)
    status, err = _prepare(dataset, clean.out, work / "clean.h5", timeout)
    res = FuzzOutcome(dataset, seed)
    if status != "ok":
        res.error = f"clean corpus: {status} {err}"
        return res
    reference = _metric(work / "clean.h5")
    shutil.copytree(clean.out, work / "mutated")
    files = sorted(p for p in (work / "mutated").rglob(pattern) if p.is_file())
    chosen = [files[k] for k in np.flatnonzero(rng.random(len(files)) < share)]
    mutated_units, kinds = set(), {}
    for path in chosen:
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
    got = _metric(work / "mutated.h5")
    with Store(work / "mutated.h5") as st:
        skipped_units = {unit_of(n) for n in st.read("skipped/name")}
    for name, poses in reference.items():
        unit = unit_of(name)
        if unit in mutated_units:
            continue
        if name not in got or not np.allclose(got[name], poses, atol=1e-5, rtol=1e-5):
            res.changed += 1
    for unit in mutated_units:
        outcome = "skipped" if unit in skipped_units else "accepted"
        setattr(res, outcome, getattr(res, outcome) + 1)
        for name in kinds[unit].split("+"):
            res.by_mutation.setdefault(name, {"skipped": 0, "accepted": 0})[outcome] += 1
    return res
