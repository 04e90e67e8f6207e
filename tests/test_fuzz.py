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


@pytest.mark.slow
def test_fuzzed_custom_recordings_in_every_format(tmp_path):
    res = fuzz_round("custom", tmp_path, 14, scenes=8, share=0.7)
    assert not res.error, res.error
    assert res.mutants >= 8 and res.skipped > 0
    assert (res.crashes, res.hangs, res.changed, res.check_problems) == (0, 0, 0, [])


def test_external_storage_mat_is_refused_and_glitches_are_skipped(tmp_path):
    from skeltools.formats.raw_sample import SampleError
    from skeltools.formats.uwa3d import read_matrix
    from skeltools.synth.fuzz import external_storage
    from skeltools.synth.mutate import joint_glitch
    from skeltools.synth.uwa3d import write_mat
    import numpy as np
    write_mat(tmp_path / "a.mat", "A", np.ones((10, 45)))
    external_storage(tmp_path / "a.mat")
    with pytest.raises(SampleError, match="external storage"):
        read_matrix(tmp_path / "a.mat", "A")
    data = b"1 0.500000 2"
    assert abs(float(joint_glitch(data, np.random.default_rng(0)).split()[1]) - 0.5) >= 1.6
