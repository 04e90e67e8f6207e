"""Synthetic N-UCLA: `multiview_action/view_N/aXX_sYY_eZZ/frame_<n>_tc_<tc>_skeletons.txt`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..manifests import DatasetSpec
from .scenes import SynthResult, in_layout, pick_actions, record, scene_actors

CAMERA_YAW = {1: -50.0, 2: 0.0, 3: 50.0}


def frame_text(skeletons: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """One frame file: per skeleton a header integer, then `x,y,z,state` lines (CRLF)."""
    lines = []
    for k, (xyz, state) in enumerate(skeletons):
        lines.append(str(60 + k))
        lines += [f"{x:.7g},{y:.7g},{z:.7g},{int(s)}" for (x, y, z), s in zip(xyz.tolist(), state)]
    return "\r\n".join(lines) + ("\r\n" if lines else "")


def write_sequence(folder: Path, frames: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    listing = []
    for n, text in enumerate(frames, start=1):
        tc = 1000 + 33 * n
        (folder / f"frame_{n}_tc_{tc}_skeletons.txt").write_text(text)
        listing.append(f"{n} {n} {tc}")
    (folder / "fileList.txt").write_text("\n".join(listing) + "\n")


def write_nucla(spec: DatasetSpec, out: Path, scenes: int, seed: int, rigid: bool, classes: int,
                broken: bool) -> SynthResult:
    res = SynthResult(out=out)
    root = out / "multiview_action"
    layout = spec.layout
    raw_ids = sorted(int(a) for a in spec.extra["label_map"])
    actions = pick_actions(raw_ids, classes)
    for k in range(scenes):
        raw_action, m = actions[k % len(actions)], k // len(actions)
        subject, episode = 1 + m % 10, m // 10
        rng = np.random.default_rng([seed, k])
        actors = scene_actors(raw_action, False, int(rng.integers(30, 70)), rng)
        for view, yaw in CAMERA_YAW.items():
            vrng = np.random.default_rng([seed, k, view])
            (cam, state), = record(actors, yaw, rigid, vrng)[0]
            xyz, st = in_layout(cam, layout), state[:, list(layout.from_kinect_v2)]
            frames = []
            for t in range(len(xyz)):
                skel = [(xyz[t], st[t])]
                if vrng.random() < 0.15:  # a second, farther skeleton in the same frame file
                    skel.insert(int(vrng.integers(0, 2)), (xyz[t] + [0.4, 0.0, 1.5], st[t]))
                frames.append(frame_text(skel))
            lead, trail = int(vrng.integers(0, 3)), int(vrng.integers(0, 3))
            if not rigid and vrng.random() < 0.3:
                frames[int(vrng.integers(1, len(frames) - 1))] = ""   # an empty frame file mid-sequence
            frames = [""] * lead + frames + [frame_text([(xyz[-1], st[-1])])[:40]] * trail  # empty / short
            name = spec.name_format.format(action=raw_action, subject=subject, replication=episode, view=view)
            write_sequence(root / f"view_{view}" / f"a{raw_action:02d}_s{subject:02d}_e{episode:02d}", frames)
            res.samples.append(name)
    if broken:
        good = frame_text([(np.ones((layout.n_joints, 3)), np.full(layout.n_joints, 2))])
        cases = {
            (1, 99): ([""] * 5, "all frame files empty"),
            (2, 98): ([good, good.replace("1,1", "1,x", 1)], "non-numeric value in a frame file"),
            (7, 97): ([good] * 5, "action a07 is not one of the 10 classes"),
        }
        for (action, episode), (frames, why) in cases.items():
            write_sequence(root / "view_1" / f"a{action:02d}_s01_e{episode:02d}", frames)
            res.broken[spec.name_format.format(action=action, subject=1, replication=episode, view=1)] = why
        (root / "README.txt").write_text("not a sample\n")
        res.ignored.append("README.txt")
    return res
