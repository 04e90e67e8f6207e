"""A fast, seeded subset of benchmarks/fuzz_prepare.py: mutated raw files never crash or
hang prepare, never change a good file's sample, and the store stays valid."""
from __future__ import annotations

import pytest

from skeltools.synth.fuzz import fuzz_round


@pytest.mark.slow
@pytest.mark.parametrize("dataset,seed,scenes", [("ntu60", 11, 6), ("pkummd1", 12, 16), ("uwa3d", 13, 6)])
def test_fuzzed_corpus(dataset, seed, scenes, tmp_path):
    res = fuzz_round(dataset, tmp_path, seed, scenes=scenes, share=0.6)
    assert not res.error, res.error
    assert res.mutants >= 8
    assert (res.crashes, res.hangs, res.changed, res.check_problems) == (0, 0, 0, [])
    assert res.skipped + res.accepted == res.mutants and res.skipped > 0
