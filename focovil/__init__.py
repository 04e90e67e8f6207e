"""FoCoViL: focalized contrastive view-invariant learning on a skeltools store.

Modules: `presets` (the paper's ablations as data), `data` (scenes x views batches on the
device), `model` (bi-GRU encoder, projection, zero-input GRU decoder), `losses` (Eq. 3, 6,
7), `train` (loop, checkpoints, resume) and `evaluate` (frozen-encoder protocols).
"""
