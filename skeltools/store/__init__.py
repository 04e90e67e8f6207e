"""One store, two backends: HDF5 (h5py) for `*.h5`/`*.hdf5`, Zarr v3 for `*.zarr`.

`schema` holds the contract's constants, `backends` the two libraries behind one interface,
`reader` the `Store` every command reads through, `writer` the `StoreWriter` that `prepare`
fills, `chunks` how the large arrays' chunks are made and written, `integrity` the
checksums and `skel check`'s logic, `files` the atomic rename and the clean-up after a
kill. Nothing here knows of processes or of prepare's hand-off.
"""
from .backends import load_backend
from .chunks import ChunkDone, ChunkJob, array_checksum, chunk_checksum, make_chunk
from .files import is_disk_full, remove_stale
from .integrity import check_store, content_problems, require_valid, structure_problems
from .reader import Store, is_tool_store
from .schema import (CHECKSUM_KEY, DEFAULT_COMPRESSION, FORMAT_NAME, FORMAT_VERSION, META_DTYPES, DiskFull,
                     StoreError, backend_of, compression_names)
from .writer import StoreWriter, write_arrays

__all__ = ["CHECKSUM_KEY", "DEFAULT_COMPRESSION", "FORMAT_NAME", "FORMAT_VERSION", "META_DTYPES", "ChunkDone",
           "ChunkJob", "DiskFull", "Store", "StoreError", "StoreWriter", "array_checksum", "backend_of",
           "check_store", "chunk_checksum", "compression_names", "content_problems", "is_disk_full",
           "is_tool_store", "load_backend", "make_chunk", "remove_stale", "require_valid", "structure_problems",
           "write_arrays"]
