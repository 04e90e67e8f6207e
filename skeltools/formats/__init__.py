"""Raw-format readers, one module per dataset family.

Each reader turns one raw file into a `RawSample` (per-body joint tracks) or raises
`SampleError` whose message names the problem; the numba kernels that do the byte
parsing are pure functions over arrays and do no I/O.
"""
