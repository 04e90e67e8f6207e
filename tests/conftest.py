"""Shared fixtures: small synthetic corpora made by the real generator, prepared once.

Every test process, and every command a test starts, uses one torch / OpenMP / BLAS thread:
with the libraries' defaults, threads oversubscribed the cores and two training tests took
190 s + 324 s at load 3-4 instead of 35 s + 22 s."""
from __future__ import annotations

import os

os.environ.update(dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"),
                                "1"))   # before torch or numpy start their pools; inherited by subprocesses

from pathlib import Path  # noqa: E402

import pytest

from skeltools.prepare import prepare
from skeltools.synth.generate import synth

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    import torch
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked `cuda` skip where torch sees no GPU (CI); scripts/gpu_check.sh runs them on one."""
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (run by scripts/gpu_check.sh)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def rigid_corpus(tmp_path_factory):
    """30 scenes x 3 cameras, views related by rigid transforms only, with the broken files."""
    out = tmp_path_factory.mktemp("rigid_raw")
    return synth("ntu60", out, scenes=30, seed=1, rigid=True)


@pytest.fixture(scope="session")
def rigid_store(rigid_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("stores") / "rigid.h5"
    summary = prepare("ntu60", rigid_corpus.out, out, workers=2, keep_full=True, progress=False)
    return out, summary


@pytest.fixture(scope="session")
def small_store(rigid_corpus, tmp_path_factory):
    """The rigid corpus prepared in one process: the trainer tests' store."""
    out = tmp_path_factory.mktemp("fv") / "s.h5"
    prepare("ntu60", rigid_corpus.out, out, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def occluded_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("occluded_raw")
    return synth("ntu60", out, scenes=12, seed=2, rigid=False, broken=False)


@pytest.fixture(scope="session")
def shared_real():
    real = SHARED / "real"
    if not real.is_dir():
        pytest.skip(f"{real} not present (genuine raw files live in ../shared/real)")
    return real
