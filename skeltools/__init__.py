"""skeltools: raw skeleton datasets to one aligned, view-indexed HDF5/Zarr store.

Importing the package compiles nothing: numba kernels compile (or load from their
on-disk cache) on first call. It does check that cache against the sources
(skeltools/kernel_cache.py says why).
"""
from pathlib import Path as _Path

from .kernel_cache import refresh as _refresh

__version__ = "0.1.0"

_refresh(_Path(__file__).parent)
