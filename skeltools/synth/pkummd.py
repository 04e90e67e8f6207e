"""Synthetic PKU-MMD: untrimmed videos (150 values a line) with label files of several
instances separated by idle gaps, in phase 1's or phase 2's folder layout."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..manifests import DatasetSpec, load_layout
from .motion import perform
from .scenes import SynthResult, pick_actions, record, scene_actors

CAMERA_YAW = {"L": -45.0, "M": 0.0, "R": 45.0}
INSTANCES_PER_VIDEO = 4


def video_name(spec: DatasetSpec, m: int) -> tuple[str, str, str]:
    """(video stem without view, skeleton folder, label folder) of the m-th synthetic video.

    Phase 1 alternates sequence numbers inside and outside the cross-subject test range
    (0291-0334); phase 2 cycles subjects N01.. so that N02/N03/N07 occur."""
    if spec.name == "pkummd1":
        seq = 291 + m // 2 if m % 2 else 2 + m // 2
        return f"{seq:04d}", "PKU_Skeleton_Renew", "Train_Label_PKU_final"
    return f"A{1 + m // 8:02d}N{1 + m % 8:02d}", "skeleton", "label"


def _idle(frames: int, rng: np.random.Generator) -> np.ndarray:
    parents = np.array(load_layout("kinect_v2_25").parents)
    still = {"joints": np.array([1, 2, 4]), "amp": np.zeros((3, 2)), "freq": np.ones(3), "phase": np.zeros(3),
             "posture": np.zeros((3, 2)), "walk": 0.0, "bob": 0.0}
    return perform(still, parents, frames, rng)


def timeline(spec: DatasetSpec, actions: list[int], rng: np.random.Generator):
    """World tracks of a whole video (2 actors, the second absent = NaN outside two-person
    instances) and its labels [(action, start, end)] with 1-based inclusive frames."""
    parts1, parts2, labels, t = [], [], [], 0
    for action in actions:
        gap = int(rng.integers(15, 40))
        idle = _idle(gap, rng)
        parts1.append(idle - idle[:1, :1] * [1, 0, 1])
        parts2.append(np.full_like(idle, np.nan))
        t += gap
        frames = int(rng.integers(40, 90))
        actors = scene_actors(action, action in spec.two_person_actions, frames, rng)
        parts1.append(actors[0])
        parts2.append(actors[1] if len(actors) > 1 else np.full_like(actors[0], np.nan))
        labels.append((action, t + 1, t + frames))
        t += frames
    tail = _idle(20, rng)
    parts1.append(tail - tail[:1, :1] * [1, 0, 1])
    parts2.append(np.full_like(tail, np.nan))
    return [np.concatenate(parts1), np.concatenate(parts2)], labels


def skeleton_text(bodies: list[np.ndarray]) -> str:
    """One line per frame: 75 values of body 1, then 75 of body 2 (zeros when absent)."""
    rows = np.concatenate([np.nan_to_num(b.reshape(len(b), -1), nan=0.0) for b in bodies], axis=1)
    return "\n".join(" ".join(f"{v:.6f}" for v in row) for row in rows.tolist()) + "\n"


def write_pkummd(spec: DatasetSpec, out: Path, scenes: int, seed: int, rigid: bool, classes: int,
                 broken: bool) -> SynthResult:
    res = SynthResult(out=out)
    actions = pick_actions(list(range(1, spec.n_classes + 1)), classes)
    videos = -(-scenes // INSTANCES_PER_VIDEO)
    k = 0
    for m in range(videos):
        rng = np.random.default_rng([seed, m])
        n = min(INSTANCES_PER_VIDEO, scenes - k)
        acts = [actions[(k + i) % len(actions)] for i in range(n)]
        k += n
        world, labels = timeline(spec, acts, rng)
        stem, skel_dir, label_dir = video_name(spec, m)
        label_text = "\n".join(f"{a},{s},{e},{1 + i % 2}" for i, (a, s, e) in enumerate(labels)) + "\n"
        for letter, yaw in CAMERA_YAW.items():
            tracks, _, _ = record(world, yaw, rigid, np.random.default_rng([seed, m, ord(letter)]))
            video = f"{stem}-{letter}"
            _write(out / skel_dir / f"{video}.txt", skeleton_text([cam for cam, _ in tracks]))
            _write(out / label_dir / f"{video}.txt", label_text)
            res.samples += [f"{video}_{i:03d}" for i in range(1, len(labels) + 1)]
    if broken:
        stem, skel_dir, label_dir = video_name(spec, videos)
        person = scene_actors(actions[0], False, 30, np.random.default_rng([seed, videos]))[0] + [0.0, 0.0, 3.0]
        good = skeleton_text([person, np.full_like(person, np.nan)])
        cases = {
            "L": (good.replace(" ", "  \n", 1), "1,1,20,1\n", "too few values on a line"),
            "M": (good, "1,1,20,1\nx,y,z,w\n", "garbage label line"),
            "R": (good, "1,10,50,1\n", "interval beyond the file"),
        }
        skipped_as = {"L": f"{stem}-L", "M": f"{stem}-M_002", "R": f"{stem}-R_001"}
        for letter, (skel, label, why) in cases.items():
            _write(out / skel_dir / f"{stem}-{letter}.txt", skel)
            _write(out / label_dir / f"{stem}-{letter}.txt", label)
            res.broken[skipped_as[letter]] = why
        res.samples.append(f"{stem}-M_001")  # the good line of the file with a garbage line
        stem2, _, _ = video_name(spec, videos + 1)
        _write(out / skel_dir / f"{stem2}-L.txt", good)
        res.broken[f"{stem2}-L"] = "no label file"
        _write(out / "README.txt", "not a sample\n")
        res.ignored.append("README.txt")
    return res


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
