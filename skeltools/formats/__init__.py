"""Raw-format readers, one module per dataset family (the manifest's `"reader"`), and the
registry that finds a dataset's reader (`reader_of`) and its raw units (`find_units`).

Each module is a `FormatReader`: `read_unit` turns one raw unit (a file or a folder) into
(name, fields, RawSample or Skipped) items, or raises `SampleError` whose message names the
problem; `warm_up_sample(n_joints)` is a small sample made in memory through its own parser,
on which prepare compiles the kernels before it forks its workers (so that it reads no raw
file itself). A module may also define `find_units(raw_dir, spec)` (default: match file
names) and `probe_layout(units, spec, map_units)` (the joint layout, when the files decide
it; `map_units(fn, units)` spreads the per-file work over prepare's pool). The numba kernels
that parse bytes are pure functions over arrays and do no I/O. `read_unit` may be handed a
`ReadBuffer` that the calling process reuses for each file; a reader whose files are small
or many (N-UCLA's frame files) or not text (UWA3D) ignores it.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

from .raw_sample import RawSample, Skipped
from .read_buffer import ReadBuffer
from .units import RawUnit, units_by_file_name


class FormatReader(Protocol):
    """What `prepare` calls on a format module."""

    def read_unit(self, unit: RawUnit, spec, buffer: ReadBuffer | None = None
                  ) -> list[tuple[str, dict, RawSample | Skipped]]: ...

    def warm_up_sample(self, n_joints: int) -> RawSample: ...


def reader_of(spec) -> FormatReader:
    """The dataset's format module (`"reader"` in its manifest) under skeltools.formats."""
    return importlib.import_module(f"skeltools.formats.{spec.reader}")


def find_units(raw_dir: Path, spec) -> tuple[list[RawUnit], int]:
    """The raw units under raw_dir in a fixed order, and how many other files were ignored."""
    finder = getattr(reader_of(spec), "find_units", units_by_file_name)
    return finder(Path(raw_dir), spec)
