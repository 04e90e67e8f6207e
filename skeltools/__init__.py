"""skeltools: raw skeleton datasets to one aligned, view-indexed HDF5/Zarr store.

Importing the package compiles nothing: numba kernels compile (or load from their
on-disk cache) on first call.
"""
__version__ = "0.1.0"
