"""Class-dependent skeleton motion by forward kinematics over a layout's joint tree."""
from __future__ import annotations

import numpy as np

# Rest pose of the Kinect v2 25-joint layout, metres, body frame: x to the body's left,
# y up, z forward (the way the body faces).
REST_V2 = np.array([
    [0.00, 1.00, 0.00], [0.00, 1.25, 0.00], [0.00, 1.52, 0.00], [0.00, 1.66, 0.01],
    [0.18, 1.42, 0.00], [0.21, 1.15, -0.02], [0.23, 0.92, 0.00], [0.24, 0.85, 0.01],
    [-0.18, 1.42, 0.00], [-0.21, 1.15, -0.02], [-0.23, 0.92, 0.00], [-0.24, 0.85, 0.01],
    [0.09, 0.97, 0.00], [0.10, 0.54, 0.02], [0.10, 0.10, -0.02], [0.10, 0.04, 0.09],
    [-0.09, 0.97, 0.00], [-0.10, 0.54, 0.02], [-0.10, 0.10, -0.02], [-0.10, 0.04, 0.09],
    [0.00, 1.45, 0.00], [0.25, 0.78, 0.02], [0.21, 0.84, 0.04], [-0.25, 0.78, 0.02], [-0.21, 0.84, 0.04],
])
# Joints that classes may drive, with the largest swing (radians) of each.
DRIVEN = {1: 0.35, 2: 0.4, 4: 1.4, 5: 1.3, 8: 1.4, 9: 1.3, 12: 0.9, 13: 1.1, 16: 0.9, 17: 1.1}
FREQUENCIES = (0.5, 1.0, 1.5, 2.0)  # cycles per performance


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def rot_y(a: float | np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def class_pattern(action: int, role: int = 0) -> dict:
    """The motion recipe of one class (fixed across seeds so that a class is a class).

    `role` 1 gives the partner's recipe in two-person classes."""
    rng = np.random.default_rng([7919, action, role])
    joints = rng.choice(sorted(DRIVEN), size=3, replace=False)
    return {
        "joints": joints,
        "amp": np.array([[rng.uniform(0.4, 1.0) * DRIVEN[j] * rng.choice([-1, 1]),
                          rng.uniform(0.0, 0.5) * DRIVEN[j] * rng.choice([-1, 1])] for j in joints]),
        "freq": rng.choice(FREQUENCIES, size=3),
        "phase": rng.uniform(0, 2 * np.pi, size=3),
        "posture": rng.uniform(-0.3, 0.3, size=(3, 2)),
        "walk": rng.uniform(-0.6, 0.6) if rng.random() < 0.3 else 0.0,
        "bob": rng.uniform(0.05, 0.2) if rng.random() < 0.3 else 0.0,
    }


def perform(pattern: dict, parents: np.ndarray, frames: int, rng: np.random.Generator,
            height: float = 1.0, amplitude: float = 1.0, bone_scale: np.ndarray | None = None,
            time: np.ndarray | None = None) -> np.ndarray:
    """One performance of a class as (frames, J, 3) in the body frame (root near the origin).

    Scene-to-scene variation: amplitude, phase, body height and a little posture noise;
    `bone_scale` (J,) scales each bone, `time` (frames,) is the performance time in [0, 1]
    of each frame (default: uniform over the clip).
    """
    J = len(parents)
    s = np.linspace(0.0, 1.0, frames) if time is None else np.asarray(time, np.float64)
    angles = np.zeros((frames, J, 2))
    for k, j in enumerate(pattern["joints"]):
        wave = np.sin(2 * np.pi * pattern["freq"][k] * s + pattern["phase"][k] + rng.uniform(-0.3, 0.3))
        angles[:, j] = pattern["posture"][k] + amplitude * rng.uniform(0.85, 1.15) * pattern["amp"][k] * wave[:, None]
    local = _rot_x(angles[..., 0]) @ _rot_z(angles[..., 1])            # (frames, J, 3, 3)
    offsets = (REST_V2[:J] - REST_V2[np.maximum(parents, 0)][:J]) * height
    if bone_scale is not None:
        offsets = offsets * np.asarray(bone_scale)[:J, None]
    glob = np.zeros((frames, J, 3, 3))
    pos = np.zeros((frames, J, 3))
    for j in _topological(parents):
        p = parents[j]
        if p < 0:
            glob[:, j] = local[:, j]
            pos[:, j] = REST_V2[j] * height
        else:
            glob[:, j] = glob[:, p] @ local[:, j]
            pos[:, j] = pos[:, p] + np.einsum("tab,b->ta", glob[:, p], offsets[j])
    pos[:, :, 2] += pattern["walk"] * s[:, None]
    pos[:, :, 1] += pattern["bob"] * np.abs(np.sin(2 * np.pi * s))[:, None]
    return pos + rng.normal(0.0, 0.003, size=pos.shape)


def _topological(parents: np.ndarray) -> list[int]:
    order, seen = [], set()

    def visit(j: int) -> None:
        if j in seen:
            return
        if parents[j] >= 0:
            visit(int(parents[j]))
        seen.add(j)
        order.append(j)

    for j in range(len(parents)):
        visit(j)
    return order
