"""A store of a real dataset's size with smooth random poses, for throughput checks.

Training speed depends on the shapes (samples, bodies, frames, joints, views), not on
what the poses show, so `focovil train` can be timed at NTU-60 size without the raw
corpus: S scenes x 3 cameras (NTU-60 has 18,960 scenes, 56,880 samples), 2 bodies, 50
frames, 25 joints, protocols `xview` (train cameras 2, 3; test 1) and `xsub` (scenes
split in half).

    python benchmarks/sized_store.py --out bench_out/ntu60_sized.h5 [--scenes 18960]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def write_sized_store(path: str | Path, scenes: int, classes: int = 60, bodies: int = 2, frames: int = 50,
                      joints: int = 25, views: int = 3, seed: int = 0) -> Path:
    """Write the store; returns its path."""
    from skeltools.store import write_arrays

    rng = np.random.default_rng(seed)
    index = np.arange(scenes * views, dtype=np.int32).reshape(scenes, views)
    base = np.cumsum(rng.normal(0, 0.02, (scenes, 1, bodies, frames, joints, 3)), axis=3).astype(np.float32)
    poses = np.clip(base + rng.normal(0, 0.01, (scenes, views, bodies, frames, joints, 3)).astype(np.float32), -1, 1)
    scene = np.repeat(np.arange(scenes), views)
    meta = {"name": [f"scene{s:05d}_view{v + 1}" for s in range(scenes) for v in range(views)],
            "label": scene % classes, "view": np.tile(np.arange(1, views + 1), scenes), "scene": scene,
            "subject": scene % 40, "setup": np.full(len(scene), -1), "replication": np.full(len(scene), -1),
            "frames": np.full(len(scene), frames), "bodies": np.full(len(scene), bodies)}
    test_subject = (np.arange(scenes) % 40) >= 20
    splits = {"xview": (np.sort(index[:, 1:].ravel()), index[:, 0]),
              "xsub": (np.sort(index[~test_subject].ravel()), np.sort(index[test_subject].ravel()))}
    attrs = {"dataset": "synthetic", "layout": "kinect_v2_25", "frames": frames, "aligned": True,
             "n_views": views, "classes": [f"class {c}" for c in range(classes)], "tool_version": "bench"}
    return write_arrays(path, poses.reshape(-1, bodies, frames, joints, 3), meta, attrs=attrs, views=index,
                        splits=splits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--scenes", type=int, default=18960)
    args = ap.parse_args()
    print(f"wrote {write_sized_store(args.out, args.scenes)}")


if __name__ == "__main__":
    main()
