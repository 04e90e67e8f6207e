"""Azure Kinect Body Tracking JSON, as the SDK's offline_processor sample writes it
(Azure-Kinect-Samples, body-tracking-samples/offline_processor):

    {"k4abt_sdk_version": ..., "source_file": ..., "joint_names": [32 names], "bone_list": [...],
     "frames": [{"frame_id": n, "timestamp_usec": ..., "num_bodies": k,
                 "bodies": [{"body_id": id, "joint_positions": [[x, y, z] x 32],
                             "joint_orientations": [[w, x, y, z] x 32]}]}]}

Positions are millimetres in the depth camera's coordinates (x right, y down, z forward: a
rotation of Kinect v2's axes, which alignment does not see). Every frame is a frame of the
sample, an empty one too (no body), as the SDK tracks at the camera's rate.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .raw_sample import RawSample, SampleError
from .units import check_frames, check_size


def sample_of_json(data: object, n_joints: int, metres_per_unit: float) -> RawSample:
    """The joint records of a parsed offline_processor JSON; SampleError names what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise SampleError("not an Azure Kinect body-tracking JSON: no 'frames' list")
    names = data.get("joint_names")
    if isinstance(names, list) and len(names) != n_joints:
        raise SampleError(f"wrong joint count: {len(names)} joint names, the layout has {n_joints}")
    frames, ids, xyz = [], [], []
    for t, frame in enumerate(data["frames"]):
        bodies = frame.get("bodies", []) if isinstance(frame, dict) else None
        if not isinstance(bodies, list):
            raise SampleError(f"frame {t}: 'bodies' is not a list")
        for body in bodies:
            pos = np.asarray(body.get("joint_positions") if isinstance(body, dict) else None, dtype=object)
            try:
                pos = pos.astype(np.float64)
            except (TypeError, ValueError):
                raise SampleError(f"frame {t}: joint_positions are not numbers") from None
            if pos.shape != (n_joints, 3):
                raise SampleError(f"wrong joint count: frame {t} has joint_positions of shape {pos.shape}, "
                                  f"expected ({n_joints}, 3)")
            if not np.isfinite(pos).all():
                raise SampleError(f"non-finite coordinates (NaN or inf) in frame {t + 1}")
            body_id = body.get("body_id")
            if isinstance(body_id, bool) or not isinstance(body_id, int):
                raise SampleError(f"frame {t}: body_id {body_id!r} is not an integer")
            frames.append(t)
            ids.append(body_id)
            xyz.append(pos * metres_per_unit)
    if not frames:
        raise SampleError(f"all frames empty: no body in any of {len(data['frames'])} frames")
    return RawSample(frame=np.asarray(frames, np.int32), body_id=np.asarray(ids, np.int64),
                     xyz=np.asarray(xyz, np.float32), n_frames=len(data["frames"]))


def read_azure_json(path: Path, spec, n_joints: int, metres_per_unit: float = 0.001) -> RawSample:
    """One offline_processor JSON file, within the manifest's limits."""
    check_size(path, spec)
    try:
        data = json.loads(Path(path).read_bytes())
    except (ValueError, UnicodeDecodeError) as e:
        raise SampleError(f"not valid JSON ({str(e)[:120]})") from None
    if isinstance(data, dict) and isinstance(data.get("frames"), list):
        check_frames(len(data["frames"]), spec)
    return sample_of_json(data, n_joints, metres_per_unit)
