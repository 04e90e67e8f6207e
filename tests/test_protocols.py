"""Known answers: every protocol written out here independently of the manifests, and the
1-NN / retrieval metrics on features whose neighbours are known."""
from __future__ import annotations

import numpy as np
import pytest

from focovil.evaluate import cosine_nn, cross_view_retrieval, knn1_accuracy
from skeltools.prepare import prepare
from skeltools.store import Store
from skeltools.synth.generate import synth

NTU60_TRAIN_SUBJECTS = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}  # Shahroudy 2016


def uwa3d_rule(name: str):
    """`vAB-vC`: train on views A and B, test on view C (the paper's 12 two-view protocols)."""
    train, test = name[1:].split("-v")
    return lambda m: np.isin(m["view"], [int(c) for c in train]), lambda m: m["view"] == int(test)


RULES = {
    "ntu60": {"xview": (lambda m: m["view"] != 1, lambda m: m["view"] == 1),
              "xsub": (lambda m: np.isin(m["subject"], list(NTU60_TRAIN_SUBJECTS)),
                       lambda m: ~np.isin(m["subject"], list(NTU60_TRAIN_SUBJECTS)))},
    "ntu120": {"xset": (lambda m: m["setup"] % 2 == 0, lambda m: m["setup"] % 2 == 1)},
    "nucla": {"xview": (lambda m: m["view"] <= 2, lambda m: m["view"] == 3)},
    "uwa3d": {f"v{a}{b}-v{c}": uwa3d_rule(f"v{a}{b}-v{c}") for a, b, c in
              [(1, 2, 3), (1, 2, 4), (1, 3, 2), (1, 3, 4), (1, 4, 2), (1, 4, 3), (2, 3, 1), (2, 3, 4), (2, 4, 1),
               (2, 4, 3), (3, 4, 1), (3, 4, 2)]},
}


@pytest.mark.parametrize("dataset", sorted(RULES))
def test_splits_follow_the_protocols_written_out_here(dataset, tmp_path):
    scenes = 24 if dataset.startswith("ntu") else 8
    corpus = synth(dataset, tmp_path / "raw", scenes=scenes, seed=9, rigid=True, broken=False)
    prepare(dataset, corpus.out, tmp_path / "s.h5", workers=1, progress=False)
    with Store(tmp_path / "s.h5") as st:
        meta = st.meta()
        assert set(st.protocols()) >= set(RULES[dataset])
        for name, (is_train, is_test) in RULES[dataset].items():
            train, test = st.split(name, "train"), st.split(name, "test")
            assert np.array_equal(train, np.flatnonzero(is_train(meta))), name
            assert np.array_equal(test, np.flatnonzero(is_test(meta))), name
            assert len(train) and len(test), name


def test_cosine_nn_known_answer_across_chunks():
    angles = np.deg2rad([0, 90, 180, 270])
    bank = np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32) * np.array([[1], [5], [2], [9]], np.float32)
    query = np.array([[1, 0.2], [-0.1, 3], [-4, -0.5], [0.3, -1], [0.9, 1.0]], np.float32)
    assert cosine_nn(query, bank, chunk=2).tolist() == [0, 1, 2, 3, 1]   # scale does not matter, the angle does
    assert cosine_nn(bank, bank, exclude_self=True, chunk=3).tolist() != [0, 1, 2, 3]


def test_knn1_accuracy_indexes_the_training_labels():
    train = np.eye(4, dtype=np.float32)
    train_labels = np.array([7, 3, 3, 5])
    test = np.array([[0, 0, 0, 1], [0.9, 0.1, 0, 0], [0, 0, 1, 0.2]], np.float32)
    assert knn1_accuracy(train, train_labels, test, np.array([5, 7, 3])) == 1.0
    assert knn1_accuracy(train, train_labels, test, np.array([5, 3, 3])) == pytest.approx(2 / 3)


def test_cross_view_retrieval_known_answer():
    # scenes 0 and 1 seen twice, scene 2 once (not counted); the second view of scene 1 is nearest to scene 2
    feats = np.array([[1, 0, 0], [0.95, 0.05, 0], [0, 1, 0], [0, 0.2, 1], [0, 0.1, 1.1]], np.float32)
    scene = np.array([0, 0, 1, 1, 2])
    assert cross_view_retrieval(feats, scene) == pytest.approx(3 / 4)
    assert cross_view_retrieval(feats, np.arange(5)) is None
