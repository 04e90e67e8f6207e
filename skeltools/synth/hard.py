"""`skel synth ntu60|ntu120 --hard`: a corpus on which view-invariant representations can
be told apart (the design is fixed in the README before any preset was run on it).

- Classes share motion primitives: 8 single-joint primitives (each arm raised, each
  forearm swung, each leg lifted, a trunk bend, a nod); a class is a pair of them with a
  phase relation. 12 base pairs x 5 variants: as is, the second primitive on the other
  limb, the second primitive a quarter cycle later, both, or the second half a cycle
  later. The base pairs are chosen so that no variant of one is a variant of another:
  60 distinct classes, and classes 5b+1..5b+5 differ in one limb or one phase.
- Subjects differ: bone lengths x U(0.85, 1.15) per bone, a posture style (offsets of
  every driven joint, N(0, 0.2) rad) and an amplitude style (x U(0.7, 1.3)), fixed per
  subject ID across its scenes and drawn anew for each corpus seed; speed x U(0.7, 1.3) per
  scene (the active part of the clip is shorter or longer, with idle frames around it) and
  an incidental gesture.
- Cameras: NTU's layout (skeltools/synth/ntu.py): camera 1 in the middle, cameras 2 and 3
  at -45 and +45 degrees (the side cameras' spacing is a parameter for
  benchmarks/ablation_floor.py), each +-15 degrees, at heights U(0.7, 1.6) m looking at the
  performer, per scene; replication 1 of a performance faces camera 3 and replication 2
  camera 2, turned 20-35 degrees from the middle (the genuine camera-1 R001 files: 22-27).
- View-dependent self-occlusion: a limb joint behind the torso (deeper by 3 cm, within
  35 cm sideways) is "inferred" as Kinect does, pulled 30-70 % toward its parent plus a
  bias of that camera (N(0, 0.06) m per axis) and 2 cm noise; every joint also gets the
  camera's own jitter, sd U(0.01, 0.04) m.
These are the README's design v4 (its history is there).
"""
from __future__ import annotations

import itertools

import numpy as np

from ..manifests import load_layout
from .cameras import place_body
from .motion import perform

# (joint of the Kinect v2 layout, amplitude (x-rot, z-rot) in radians, cycles per performance)
PRIMITIVES = (
    (8, (1.3, 0.2), 1.0),    # 0 right arm raise
    (4, (1.3, -0.2), 1.0),   # 1 left arm raise
    (9, (1.1, 0.4), 2.0),    # 2 right forearm swing
    (5, (1.1, -0.4), 2.0),   # 3 left forearm swing
    (16, (0.8, 0.1), 1.5),   # 4 right leg lift
    (12, (0.8, -0.1), 1.5),  # 5 left leg lift
    (1, (0.35, 0.1), 1.0),   # 6 trunk bend
    (2, (0.4, 0.0), 2.0),    # 7 nod
)
MIRROR = {0: 1, 1: 0, 2: 3, 3: 2, 4: 5, 5: 4}
VARIANTS = 5
PHASES = (0.0, 0.0, np.pi / 2, np.pi / 2, np.pi)   # of the second primitive, per variant
MIRRORED = (False, True, False, True, False)
STYLE_JOINTS = (1, 2, 4, 5, 8, 9, 12, 13, 16, 17)


def _mirrored(p: int, q: int) -> tuple[int, int]:
    """The pair with its second primitive on the other limb (or the first, if the second has none)."""
    return (p, MIRROR[q]) if q in MIRROR else (MIRROR[p], q)


def base_pairs() -> list[tuple[int, int]]:
    """12 primitive pairs with a limb primitive (so that they can be mirrored), no pair or its
    mirror image being another's: every class of every base is distinct."""
    pairs = [(p, q) for p, q in itertools.combinations(range(len(PRIMITIVES)), 2)
             if (q in MIRROR or p in MIRROR) and MIRROR.get(q) != p]   # a mirrored variant keeps two joints
    used: set[frozenset] = set()
    bases = []
    for k in np.random.default_rng(20261201).permutation(len(pairs)):
        p, q = pairs[k]
        as_is, mirror = frozenset((p, q)), frozenset(_mirrored(p, q))
        if as_is not in used and mirror not in used:
            used |= {as_is, mirror}
            bases.append((p, q))
    return bases[:12]


def hard_pattern(action: int) -> dict:
    """The recipe of class `action` (1-based), in the form `motion.perform` takes."""
    base, variant = divmod(action - 1, VARIANTS)
    p, q = base_pairs()[base % 12]
    if MIRRORED[variant]:
        p, q = _mirrored(p, q)
    phase = PHASES[variant]
    prims = [PRIMITIVES[p], PRIMITIVES[q]]
    return {"joints": np.array([j for j, _, _ in prims]), "amp": np.array([a for _, a, _ in prims]),
            "freq": np.array([f for _, _, f in prims]), "phase": np.array([0.0, phase]),
            "posture": np.zeros((2, 2)), "walk": 0.0, "bob": 0.0}


def subject_traits(subject: int, joints: int, seed: int = 0) -> dict:
    """Bone lengths and style of one subject, the same in every scene of that subject in the
    corpus of `seed` (another corpus seed, other subjects)."""
    rng = np.random.default_rng([424242, seed, subject])
    return {"bone_scale": rng.uniform(0.85, 1.15, joints), "amp_scale": rng.uniform(0.7, 1.3),
            "style": {j: rng.normal(0.0, 0.2, 2) for j in STYLE_JOINTS}}


def styled(pattern: dict, traits: dict, rng: np.random.Generator) -> dict:
    """The class recipe as this subject performs it in this scene: its posture offsets on
    every styled joint, and an incidental gesture (a primitive that is not the class's, at
    a fifth to a half of its amplitude, at a random phase) on one of the other joints."""
    extra = [j for j in STYLE_JOINTS if j not in pattern["joints"]]
    joints = np.concatenate([pattern["joints"], extra])
    n = len(extra)
    amp, freq, phase = np.zeros((n, 2)), np.zeros(n), np.zeros(n)
    others = [k for k, (j, _, _) in enumerate(PRIMITIVES) if j in extra]
    k = int(rng.choice(others))
    slot = extra.index(PRIMITIVES[k][0])
    amp[slot] = np.asarray(PRIMITIVES[k][1]) * rng.uniform(0.2, 0.5)
    freq[slot], phase[slot] = PRIMITIVES[k][2], rng.uniform(0, 2 * np.pi)
    return {**pattern, "joints": joints,
            "amp": np.concatenate([pattern["amp"] * traits["amp_scale"], amp]),
            "freq": np.concatenate([pattern["freq"], freq]),
            "phase": np.concatenate([pattern["phase"], phase]),
            "posture": np.stack([traits["style"][int(j)] for j in joints])}


def timeline(frames: int, speed: float, rng: np.random.Generator) -> np.ndarray:
    """Performance time s in [0, 1] per frame: the active part lasts 0.75 / speed of the clip."""
    active = int(np.clip(round(0.75 * frames / speed), 20, frames))
    start = int(rng.integers(0, frames - active + 1))
    return np.clip((np.arange(frames) - start) / max(active - 1, 1), 0.0, 1.0)


def camera_setting(rng: np.random.Generator) -> dict:
    """One camera's deviations for one scene: azimuth offset, height, occlusion bias, jitter."""
    return {"yaw_offset": rng.uniform(-15, 15), "height": rng.uniform(0.7, 1.6),
            "bias": rng.normal(0.0, 0.06, 3), "jitter": rng.uniform(0.01, 0.04)}


def hard_actors(action: int, subject: int, two_person: bool, rng: np.random.Generator, facing_deg: float,
                seed: int = 0, frames: int = 80) -> list[np.ndarray]:
    """World-space Kinect v2 joint tracks (frames, 25, 3) of the actors of one hard scene, the
    performer facing the azimuth `facing_deg` (the traits of the subjects of corpus `seed`)."""
    parents = np.array(load_layout("kinect_v2_25").parents)
    yaw = np.deg2rad(facing_deg)
    time = timeline(frames, rng.uniform(0.7, 1.3), rng)

    def actor(who: int, amplitude: float) -> np.ndarray:
        traits = subject_traits(who, len(parents), seed)
        return perform(styled(hard_pattern(action), traits, rng), parents, frames, rng, amplitude=amplitude,
                       bone_scale=traits["bone_scale"], time=time)

    if not two_person:
        return [place_body(actor(subject, 1.0), yaw, np.zeros(3))]
    return [place_body(actor(subject, 1.0), yaw + np.pi / 3, np.array([-0.5, 0.0, 0.0])),
            place_body(actor(subject + 1000, 0.4), yaw - 2 * np.pi / 3, np.array([0.5, 0.0, 0.0]))]
