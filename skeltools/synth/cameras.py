"""Cameras around a performance, and the view-specific errors a real depth camera makes."""
from __future__ import annotations

import numpy as np

from .motion import rot_y

# Joints whose far-side occlusion is simulated, with the parent they are pulled toward.
LIMB_JOINTS_V2 = (5, 6, 7, 21, 22, 9, 10, 11, 23, 24, 13, 14, 15, 17, 18, 19)


def camera_pose(yaw_deg: float, rng: np.random.Generator, height: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A camera about 3 m from the scene at the given azimuth, with a small tilt (or, with
    `height`, that high and looking down at the performer).

    Returns (R, position) with camera coordinates x_cam = R^T (x_world - position):
    x right, y up, z the depth direction, as Kinect reports them (a proper rotation).
    """
    yaw = np.deg2rad(yaw_deg + rng.uniform(-5, 5))
    dist = rng.uniform(2.6, 3.4)
    pos = np.array([dist * np.sin(yaw), rng.uniform(0.7, 1.1) if height is None else height, dist * np.cos(yaw)])
    target = np.array([0.0, rng.uniform(0.8, 1.0), 0.0])
    fwd = target - pos
    fwd /= np.linalg.norm(fwd)
    tilt = np.deg2rad(rng.uniform(-4, 4))
    up0 = np.array([np.sin(tilt), np.cos(tilt), 0.0])
    right = np.cross(up0, fwd)
    right /= np.linalg.norm(right)
    up = np.cross(fwd, right)
    return np.stack([right, up, fwd], axis=1), pos


def to_camera(world: np.ndarray, R: np.ndarray, pos: np.ndarray) -> np.ndarray:
    return (world - pos) @ R


def place_body(body: np.ndarray, yaw: float, offset: np.ndarray) -> np.ndarray:
    """Body-frame joints turned by `yaw` about the vertical and moved to `offset` (world)."""
    return body @ rot_y(yaw).T + offset


def occlude(cam: np.ndarray, parents: np.ndarray, rng: np.random.Generator, depth: float = 0.05,
            width: float = 0.25, pull: tuple[float, float] = (0.4, 0.8),
            bias: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Kinect-style inference of joints the camera cannot see (hidden behind the torso).

    A limb joint deeper than the torso by `depth` and within `width` of it sideways gets
    tracking state 1 and is pulled toward its parent (by a share drawn from `pull`), plus
    the camera's `bias` and 2 cm jitter. Returns (xyz, state).
    """
    out = cam.copy()
    state = np.full(cam.shape[:2], 2, np.int8)
    torso = cam[:, 1]
    for j in LIMB_JOINTS_V2:
        if j >= cam.shape[1]:
            continue
        hidden = (cam[:, j, 2] > torso[:, 2] + depth) & (np.abs(cam[:, j, 0] - torso[:, 0]) < width)
        if not hidden.any():
            continue
        p = parents[j]
        pulled = cam[hidden, p] + rng.uniform(*pull) * (cam[hidden, j] - cam[hidden, p])
        out[hidden, j] = pulled + rng.normal(0.0, 0.02, size=pulled.shape) + (0.0 if bias is None else bias)
        state[hidden, j] = 1
    return out, state
