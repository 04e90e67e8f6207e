"""`skel prepare custom`: your own multi-view recordings, listed by an index file
(skeltools/index.py), through the same stages as the public datasets."""
from __future__ import annotations

from pathlib import Path

from ..index import read_index
from .plan import output_path
from .run import prepare_units
from .summary import PrepareSummary


def prepare_custom(index: str | Path, out: str | Path, *, layout: str = "kinect_v2_25",
                   classes: str | Path | None = None, raw: str | Path | None = None, units: str = "m",
                   manifest: str | Path | None = None, limit: int | None = None, **options) -> PrepareSummary:
    """A store from the recordings an index file lists (`limit`: its first rows only;
    `options`: those of `prepare`). The store's dataset is `custom`; its classes, views,
    scenes and splits come from the index, whose name and digest it records."""
    found = read_index(index, layout=layout, classes=classes, raw=raw, units=units, manifest=manifest)
    if not found.units:
        raise FileNotFoundError(f"{index}: the index lists no recording")
    return prepare_units(found.spec, found.units[:limit], output_path(Path(out)), list(found.spec.protocols),
                         found.protocol_sources, extra_attrs={"source": f"index:{Path(index).name}", **found.attrs},
                         **options)
