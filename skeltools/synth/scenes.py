"""What every synthetic format shares: a scene's actors in world space, and what one
camera records of them (rigidly, or with the camera's own occlusion errors)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..manifests import Layout, load_layout
from .cameras import camera_pose, occlude, place_body, to_camera
from .motion import class_pattern, perform


@dataclass
class SynthResult:
    out: Path
    samples: list[str] = field(default_factory=list)       # valid sample names written
    broken: dict[str, str] = field(default_factory=dict)   # name -> what is wrong with it
    ignored: list[str] = field(default_factory=list)       # files that are not samples


def pick_actions(candidates: list[int], classes: int) -> list[int]:
    """`classes` action IDs spread evenly over the candidates (so two-person classes are included)."""
    k = max(1, min(classes, len(candidates)))
    return sorted({candidates[int(round(i))] for i in np.linspace(0, len(candidates) - 1, k)})


def scene_actors(action: int, two_person: bool, frames: int, rng: np.random.Generator,
                 facing_deg: float | None = None) -> list[np.ndarray]:
    """World-space Kinect v2 joint tracks (frames, 25, 3) of the actors of one scene; the
    performer faces the azimuth `facing_deg` (None: U(-30, 30) degrees, toward a camera at 0)."""
    parents = np.array(load_layout("kinect_v2_25").parents)
    yaw = np.deg2rad(rng.uniform(-30, 30) if facing_deg is None else facing_deg)
    main = perform(class_pattern(action), parents, frames, rng, height=rng.uniform(0.9, 1.1))
    if not two_person:
        return [place_body(main, yaw, np.zeros(3))]
    partner = perform(class_pattern(action, role=1), parents, frames, rng, height=rng.uniform(0.9, 1.1), amplitude=0.4)
    return [place_body(main, yaw + np.pi / 3, np.array([-0.5, 0.0, 0.0])),
            place_body(partner, yaw - 2 * np.pi / 3, np.array([0.5, 0.0, 0.0]))]


def record(actors: list[np.ndarray], yaw_deg: float, rigid: bool, rng: np.random.Generator,
           height: float | None = None, camera: dict | None = None
           ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """Each actor in one camera's coordinates, as (xyz (frames, 25, 3), tracking state (frames, 25)),
    and the camera's (R, position) for placing other things in its view. `camera` (the hard
    corpus's `hard.camera_setting`) widens the occlusion, biases the inferred joints and
    adds the camera's jitter."""
    R, pos = camera_pose(yaw_deg, rng, height)
    parents = np.array(load_layout("kinect_v2_25").parents)
    out = []
    for world in actors:
        cam = to_camera(world, R, pos)
        if rigid:
            out.append((cam, np.full(cam.shape[:2], 2, np.int8)))
        elif camera is None:
            out.append(occlude(cam, parents, rng))
        else:
            xyz, state = occlude(cam, parents, rng, depth=0.03, width=0.35, pull=(0.3, 0.7), bias=camera["bias"])
            out.append((xyz + rng.normal(0.0, camera["jitter"], size=xyz.shape), state))
    return out, R, pos


def in_layout(xyz: np.ndarray, layout: Layout) -> np.ndarray:
    """Kinect v2 joints (..., 25, 3) as the joints of `layout`."""
    return xyz[..., list(layout.from_kinect_v2), :]
