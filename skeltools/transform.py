"""The per-sample transform of CONTRACT section 2, steps 1-3 (scaling is dataset-wide).

`transform_sample` chains body selection, alignment and resampling and returns
unscaled arrays; `prepare` divides everything by one scale at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bodies import DenoiseParams, select_bodies
from .formats.raw_sample import RawSample, SampleError
from .kernels import (ALIGN_HIPS_PARALLEL, ALIGN_SPINE_ON_ROOT, alignment_rotation, apply_alignment, body_present,
                      extent_and_distance, largest_step, resample_linear)

ALIGN_ERRORS = {
    ALIGN_SPINE_ON_ROOT: "degenerate skeleton: spine joint on the root, no body frame",
    ALIGN_HIPS_PARALLEL: "degenerate skeleton: hips parallel to the spine, no body frame",
}


@dataclass(frozen=True)
class PlausibilityBounds:
    """What a Kinect skeleton in metres can be (per dataset: `plausibility` in its manifest).

    A sample outside them is broken (a lost decimal point, 1e30, millimetres) and skipped
    before it can count towards the dataset-wide scale."""

    max_distance_m: float = 10.0     # a joint farther than this from the camera
    max_body_extent_m: float = 3.0   # one body, one frame: joints spread wider than this along an axis
    max_joint_step_m: float = 1.5    # one joint, between consecutive kept frames of its body: a jump, not a motion


@dataclass(frozen=True)
class TransformParams:
    frames: int = 50
    align: bool = True
    min_norm: float = 1e-4   # metres; shorter spine or hip axis = degenerate
    denoise: DenoiseParams = DenoiseParams()
    bounds: PlausibilityBounds = PlausibilityBounds()


def check_plausible(poses: np.ndarray, bounds: PlausibilityBounds, present: np.ndarray | None = None) -> None:
    """Raise SampleError when the selected bodies (camera coordinates) break the bounds."""
    dist, dist_t, ext, ext_t = extent_and_distance(poses)
    if dist > bounds.max_distance_m:
        raise SampleError(f"implausible coordinates: a joint {dist:.3g} m from the camera in kept frame {dist_t + 1} "
                          f"(bound {bounds.max_distance_m:g} m; the raw files must hold metres)")
    if ext > bounds.max_body_extent_m:
        raise SampleError(f"implausible body: {ext:.3g} m across in kept frame {ext_t + 1} "
                          f"(bound {bounds.max_body_extent_m:g} m)")
    step, body, t, joint = largest_step(poses, body_present(poses) if present is None else present)
    if step > bounds.max_joint_step_m:
        raise SampleError(f"implausible motion: joint {joint} of body {body + 1} moved {step:.3g} m between kept frames "
                          f"{t} and {t + 1} (bound {bounds.max_joint_step_m:g} m: a jump, not a motion)")


@dataclass
class Transformed:
    poses: np.ndarray        # (M, T, J, 3) float32, aligned and resampled, unscaled
    full: np.ndarray         # (M, L, J, 3) float32, aligned, not resampled, unscaled
    frames: int              # L
    bodies: int


def align(poses: np.ndarray, roles: np.ndarray, min_norm: float, present: np.ndarray | None = None) -> np.ndarray:
    """Rotate all bodies into the body frame of body 0's first present frame (Eq. 1-2)."""
    present = body_present(poses) if present is None else present
    t0 = int(np.argmax(present[0]))
    ref = poses[0, t0]
    status, R = alignment_rotation(ref[roles[0]], ref[roles[1]], ref[roles[2]], ref[roles[3]], min_norm)
    if status in ALIGN_ERRORS:
        raise SampleError(ALIGN_ERRORS[status])
    return apply_alignment(poses, R, ref[roles[0]].astype(np.float64), present)


def transform_sample(raw: RawSample, slots: int, roles: np.ndarray, params: TransformParams) -> Transformed:
    """Select bodies, align (unless disabled) and resample one raw sample."""
    return transform_bodies(select_bodies(raw, slots, params.denoise), roles, params)


def transform_bodies(poses: np.ndarray, roles: np.ndarray, params: TransformParams) -> Transformed:
    """From the selected bodies (slots, L, J, 3) on: plausibility, alignment, resampling (the
    entry point for data whose bodies were picked elsewhere, e.g. mmaction2 pickles)."""
    present = body_present(poses)       # computed once: alignment keeps an absent body at exact zeros
    check_plausible(poses, params.bounds, present)
    if params.align:
        poses = align(poses, roles, params.min_norm, present)
    if not np.isfinite(poses).all():
        raise SampleError("non-finite coordinates after alignment")
    return Transformed(poses=resample_linear(poses, params.frames, present), full=poses, frames=poses.shape[1],
                       bodies=int(present.any(axis=1).sum()))
