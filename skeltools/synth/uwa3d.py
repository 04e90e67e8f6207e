"""Synthetic UWA3D II: `ActionsSkeleton/view_W/aXX_sYY_eZZ_vWW.mat`, MATLAB v7.3 files
(HDF5 with the 512-byte MATLAB header) holding dataset `A` = frames x (joints * 3)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..manifests import DatasetSpec, load_layout
from .scenes import SynthResult, in_layout, pick_actions, record, scene_actors

# front, left, right, and a camera above looking down (the usual reading of V1..V4; UNVERIFIED)
CAMERAS = {1: (0.0, None), 2: (-90.0, None), 3: (90.0, None), 4: (0.0, 2.6)}
MAT_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Wed Nov 25 00:00:00 2026 HDF5 schema 1.00 ."


def write_mat(path: Path, key: str, a: np.ndarray) -> None:
    """A MATLAB v7.3 file as h5py writes it, with MATLAB's text header in the user block."""
    import h5py
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset(key, data=np.asarray(a, np.float64))
    with open(path, "r+b") as f:
        f.write(MAT_HEADER.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")


def write_uwa3d(spec: DatasetSpec, out: Path, scenes: int, seed: int, rigid: bool, classes: int,
                broken: bool, joints: int = 15) -> SynthResult:
    res = SynthResult(out=out)
    layout = load_layout(spec.extra["layouts_by_joints"][str(joints)])
    key = spec.extra["mat_dataset"]
    actions = pick_actions(list(range(1, spec.n_classes + 1)), classes)
    root = out / "ActionsSkeleton"
    for k in range(scenes):
        action, m = actions[k % len(actions)], k // len(actions)
        subject, episode = 1 + m % 10, 1 + m // 10
        rng = np.random.default_rng([seed, k])
        actors = scene_actors(action, False, int(rng.integers(40, 90)), rng)
        for view, (yaw, height) in CAMERAS.items():
            (cam, _), = record(actors, yaw, rigid, np.random.default_rng([seed, k, view]), height)[0]
            xyz = in_layout(cam, layout)
            name = spec.name_format.format(action=action, subject=subject, replication=episode, view=view)
            write_mat(root / f"view_{view}" / f"{name}.mat", key, xyz.reshape(len(xyz), -1))
            res.samples.append(name)
    if broken:
        other = load_layout(spec.extra["layouts_by_joints"]["20" if joints == 15 else "15"])
        cases = {
            "a30_s10_e09_v01": ("not hdf5", "not a MATLAB v7.3 file"),
            "a30_s10_e09_v02": ("no A", "no dataset A"),
            "a30_s10_e09_v03": ("other joints", f"{other.n_joints} joints"),
        }
        for name, (kind, why) in cases.items():
            path = root / f"view_{int(name[-2:])}" / f"{name}.mat"
            if kind == "not hdf5":
                path.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 200)
            elif kind == "no A":
                write_mat(path, "B", np.ones((10, 3 * joints)))
            else:
                write_mat(path, key, np.ones((10, 3 * other.n_joints)))
            res.broken[name] = why
        (root / "README.txt").write_text("not a sample\n")
        res.ignored.append("README.txt")
    return res
