"""Synthetic NTU RGB+D `.skeleton` files (FORMATS.md 1.1-1.2), CRLF like the originals."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ..manifests import DatasetSpec
from .cameras import to_camera
from .hard import camera_setting, hard_actors
from .scenes import SynthResult, pick_actions, record, scene_actors

# NTU RGB+D's layout (Shahroudy et al., CVPR 2016, Sec. 3-4): three cameras at -45, 0 and +45
# degrees; every action performed twice, "once towards the left camera and once towards the
# right camera"; the cross-view test set, camera 1, holds "the left and right 45 degree views",
# so camera 1 is the middle one and cameras 2 and 3 the sides. Which side camera replication 1
# faces the paper does not say: the genuine camera-1 R001 files (../shared/real/ntu) show the
# hip line at 153-158 degrees in the camera's x-z plane, turned 22-27 degrees, which these
# scenes reproduce when replication 1 turns toward camera 3 (by U(20, 35) degrees).
CAMERA_YAW = {1: 0.0, 2: -45.0, 3: 45.0}
FACES = {1: 3, 2: 2}                        # replication -> the side camera it is performed towards
FIRST_BODY_ID = 72057594037927936           # the magnitude of real Kinect v2 body IDs
JOINT_LINE = " ".join(["{:.7g}"] * 11) + " {:d}"
JOINT_LINE_EXP = "{:.6e} {:.6e} {:.6e} " + " ".join(["{:.7g}"] * 8) + " {:d}"


def scene_keys(spec: DatasetSpec, scenes: int, actions: list[int]) -> list[dict]:
    """(setup, subject, replication, action) keys whose files are not on the missing list: each
    performance (setup, subject, action) twice in a row, replication 1 then 2, as NTU records
    it. The first performances go through the actions, setups and odd subjects together (a
    few scenes already hold several subjects and classes); once those repeat, every other
    combination follows, so no two scenes share a file name (a repeat would overwrite files).
    More scenes than the names allow is an error."""
    S, P = spec.ranges["setup"][1], spec.ranges["subject"][1]

    def spread():          # performance k: the next action, the next setup, the next odd subject
        for k in range(S * P * len(actions)):
            yield 1 + k % S, 1 + (2 * k) % P, actions[k % len(actions)]

    def every():
        for subject, setup in itertools.product(range(1, P + 1), range(1, S + 1)):
            for a in actions:
                yield setup, subject, a

    keys: list[dict] = []
    seen: set[tuple] = set()
    for setup, subject, action in itertools.chain(spread(), every()):
        if len(keys) >= scenes:
            break
        pair = [{"setup": setup, "subject": subject, "replication": rep, "action": action} for rep in (1, 2)]
        names = [spec.name_format.format(view=v, **key) for key in pair for v in CAMERA_YAW]
        if (setup, subject, action) not in seen and not any(n in spec.missing for n in names):
            seen.add((setup, subject, action))
            keys += pair
    keys = keys[:scenes]
    if len(keys) < scenes:
        raise ValueError(f"{spec.name} file names allow {len(keys)} scenes with {len(actions)} classes; "
                         f"ask for fewer --scenes or more --classes")
    return keys


def _body_line(body_id: int, rng: np.random.Generator) -> str:
    return f"{body_id} 0 1 1 1 1 0 {rng.uniform(-0.1, 0.1):.7g} {rng.uniform(-0.1, 0.1):.7g} 2"


def _joint_lines(xyz: np.ndarray, state: np.ndarray, rng: np.random.Generator, exp_share: float) -> list[str]:
    z = np.maximum(xyz[:, 2], 0.5)
    depth = np.stack([256 + 365 * xyz[:, 0] / z, 212 - 365 * xyz[:, 1] / z], 1)
    color = np.stack([960 + 1060 * xyz[:, 0] / z, 540 - 1060 * xyz[:, 1] / z], 1)
    quat = np.tile([0.9, 0.1, 0.3, -0.2], (len(xyz), 1))
    vals = np.concatenate([xyz, depth, color, quat], 1)
    use_exp = rng.random(len(xyz)) < exp_share
    return [(JOINT_LINE_EXP if e else JOINT_LINE).format(*v, int(s)) for v, s, e in zip(vals.tolist(), state, use_exp)]


def skeleton_text(frames: list[list[tuple]], rng: np.random.Generator, exp_share: float = 0.05) -> str:
    """The `.skeleton` text of frames given as lists of (body_id, xyz (J, 3), state (J,))."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, xyz, state in bodies:
            lines.append(_body_line(body_id, rng))
            lines.append(str(len(xyz)))
            lines.extend(_joint_lines(xyz, state, rng, exp_share))
    return "\r\n".join(lines) + "\r\n"


def facing(replication: int, rng: np.random.Generator) -> float:
    """The azimuth the performer faces: turned 20-35 degrees toward the side camera of the replication
    (the genuine camera-1 R001 files: 22-27)."""
    return float(np.sign(CAMERA_YAW[FACES[1 + (replication - 1) % 2]]) * rng.uniform(20, 35))


def _scene_world(spec: DatasetSpec, key: dict, rng: np.random.Generator, hard: bool = False,
                 seed: int = 0) -> list[np.ndarray]:
    two_person = key["action"] in spec.two_person_actions
    if hard:
        return hard_actors(key["action"], key["subject"], two_person, rng, facing(key["replication"], rng), seed)
    frames = int(rng.integers(50, 110))
    return scene_actors(key["action"], two_person, frames, rng, facing(key["replication"], rng))


def _view_frames(spec: DatasetSpec, actors: list[np.ndarray], view: int, rigid: bool,
                 rng: np.random.Generator, hard: bool = False, spacing: float = 45.0) -> list[list[tuple]]:
    """What one camera records: actors in its coordinates, plus its own noise bodies and empty frames
    (`spacing`: the hard corpus's degrees between the middle camera and each side camera)."""
    frames = len(actors[0])
    J = actors[0].shape[1]
    base_id = FIRST_BODY_ID + int(rng.integers(1000, 9000))
    if hard:
        cam = camera_setting(rng)
        yaw = np.sign(CAMERA_YAW[view]) * spacing + cam["yaw_offset"]
        recorded, R, pos = record(actors, yaw, rigid, rng, cam["height"], cam)
    else:
        recorded, R, pos = record(actors, CAMERA_YAW[view], rigid, rng)
    tracks = [(base_id + a, cam, state) for a, (cam, state) in enumerate(recorded)]
    out: list[list[tuple]] = [[(bid, cam[t], st[t]) for bid, cam, st in tracks] for t in range(frames)]
    if rng.random() < 0.35:  # a short-lived spurious body (dropped by the length filter)
        start, life = int(rng.integers(0, frames - 12)), int(rng.integers(3, 11))
        centre = to_camera(np.array([rng.uniform(1.0, 1.6), 1.0, rng.uniform(-0.5, 0.5)]), R, pos)
        for t in range(start, start + life):
            out[t].append((base_id + 50, centre + rng.normal(0, 0.15, (J, 3)), np.ones(J, np.int8)))
    if rng.random() < 0.2:  # a table-like flat object seen as a body (dropped by the spread filter)
        ang = rng.uniform(0, 2 * np.pi, J)
        rad = rng.uniform(0.2, 0.6, J)
        table = np.stack([1.5 + rad * np.cos(ang), np.full(J, 0.75), rad * np.sin(ang)], 1)
        cam = to_camera(table, R, pos)
        for t in range(frames):
            out[t].insert(0, (base_id + 60, cam + rng.normal(0, 0.003, (J, 3)), np.ones(J, np.int8)))
    lead, trail = int(rng.integers(0, 5)), int(rng.integers(0, 4))
    if not rigid and rng.random() < 0.3:  # tracking lost for a frame mid-sequence: the camera's own gap
        del out[int(rng.integers(1, frames - 1))]
    return [[] for _ in range(lead)] + out + [[] for _ in range(trail)]


def _broken_files(valid_text: str) -> dict[str, tuple[str, str]]:
    """Kinds of broken file -> (content, what is wrong), made from one valid file's text."""
    lines = valid_text.split("\r\n")
    garbage = list(lines)
    garbage[5] = garbage[5].replace(" ", " abc ", 1)
    nan = list(lines)
    nan[6] = "nan " + " ".join(nan[6].split(" ")[1:])
    wrong_joints = [lines[0], "1", lines[2], "24"] + lines[4:28] + ["0"] * (int(lines[0]) - 1)
    declared = int(lines[0])
    return {
        "empty": ("", "empty file"),
        "truncated": (valid_text[: len(valid_text) // 2].rsplit(" ", 3)[0], "file cut mid-line"),
        "garbage": ("\r\n".join(garbage), "non-numeric token"),
        "nan": ("\r\n".join(nan), "NaN coordinate"),
        "joints": ("\r\n".join(wrong_joints) + "\r\n", "24 joints instead of 25"),
        "count": ("\r\n".join([str(max(1, declared - 5))] + lines[1:]), "frame count smaller than content"),
        "no_body": ("5\r\n0\r\n0\r\n0\r\n0\r\n0\r\n", "all frames empty"),
    }


def write_ntu(spec: DatasetSpec, out: Path, scenes: int, seed: int, rigid: bool, classes: int,
              broken: bool, hard: bool = False, spacing: float = 45.0) -> SynthResult:
    """Write `scenes` scenes x 3 cameras of `.skeleton` files (plus broken and non-sample files);
    `hard`: the corpus of skeltools/synth/hard.py, side cameras `spacing` degrees off the middle."""
    out.mkdir(parents=True, exist_ok=True)
    res = SynthResult(out=out)
    actions = pick_actions(list(range(1, spec.ranges["action"][1] + 1)), classes)
    keys = scene_keys(spec, scenes + (1 if broken else 0), actions)
    actors: list[np.ndarray] = []
    for k, key in enumerate(keys[:scenes]):
        actors = _scene_world(spec, key, np.random.default_rng([seed, k]), hard, seed)
        for view in CAMERA_YAW:
            name = spec.name_format.format(view=view, **key)
            frames = _view_frames(spec, actors, view, rigid, np.random.default_rng([seed, k, view]), hard, spacing)
            text = skeleton_text(frames, np.random.default_rng([seed, k, view, 1]))
            (out / f"{name}.skeleton").write_bytes(text.encode())
            res.samples.append(name)
    if broken and actors:
        rng = np.random.default_rng([seed, scenes])
        state = np.full(actors[0].shape[1], 2, np.int8)
        text = skeleton_text([[(FIRST_BODY_ID, xyz + [0.0, 0.0, 3.0], state)] for xyz in actors[0]], rng)
        extra = keys[scenes]
        subjects = iter(range(spec.ranges["subject"][1], 0, -1))
        for content, why in _broken_files(text).values():
            name = spec.name_format.format(view=1, **{**extra, "subject": next(subjects)})
            (out / f"{name}.skeleton").write_bytes(content.encode())
            res.broken[name] = why
        listed = sorted(spec.missing)[0]
        (out / f"{listed}.skeleton").write_bytes(text.encode())
        res.broken[listed] = "on the dataset's missing-skeleton list"
        for fn in ("README.txt", ".hidden.skeleton"):
            (out / fn).write_text("not a sample\n")
            res.ignored.append(fn)
    return res
