"""Raw-format readers, one module per dataset family (the manifest's `"reader"`).

Each module is a `FormatReader`: `read_unit` turns one raw unit (a file or a folder) into
(name, fields, RawSample or Skipped) items, or raises `SampleError` whose message names the
problem. A module may also define `find_units(raw_dir, spec)` (default: match file names)
and `probe_layout(units, spec, map_units)` (the joint layout, when the files decide it;
`map_units(fn, units)` spreads the per-file work over prepare's pool), and every module has
`warm_up_sample(n_joints)`: a small sample made in memory through its own parser, on which
prepare compiles the kernels before it forks, so that it reads no raw file itself. The numba
kernels that do the byte parsing are pure functions over arrays and do no I/O. `read_unit`
may be handed a `ReadBuffer` that the calling process reuses for each file; a reader whose
files are small or many (N-UCLA's frame files) or not text (UWA3D) ignores it.
"""
from __future__ import annotations

from typing import Protocol

from .raw_sample import RawSample, Skipped
from .read_buffer import ReadBuffer
from .units import RawUnit


class FormatReader(Protocol):
    """What `prepare` calls on a format module."""

    def read_unit(self, unit: RawUnit, spec, buffer: ReadBuffer | None = None
                  ) -> list[tuple[str, dict, RawSample | Skipped]]: ...
