"""Synthetic "own recordings" for `skel prepare custom` (`skel synth custom`): two corpora.

- `recordings/` + `recordings.csv`: a lab's three cameras in the Azure Kinect layout (32 joints),
  each recording in one of the formats the index takes, mixed: Azure Kinect Body Tracking JSON
  (formats/azure.py), NumPy `.npy` / `.npz`, `.csv` and the Kinect v2 SDK text; the first two
  scenes of performer 1 lie in one session file per camera, cut by `start` / `end`. With its
  `classes.txt` and the layout as a user's file (`my_layout.json`).
- `kinect_v2/`: NTU RGB+D `.skeleton` files (synth/ntu.py) under `ntu/`, and `index.csv` listing
  the same performances as `.skeleton`, `.npy`, `.npz` and `.csv` (arrays in millimetres):
  prepared with `--units mm`, the store must equal `skel prepare ntu60` of `ntu/`.

Scenes are the NTU generator's (three cameras at 0 and -/+45 degrees, noise bodies, empty
frames, occlusion unless `rigid`); Azure coordinates are Kinect v2's turned 180 degrees about
the optical axis (x right, y down), in millimetres.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..formats.custom import FORMATS
from ..formats.ntu import read_ntu
from ..manifests import DatasetSpec, layout_dict, load_dataset, load_layout
from .ntu import CAMERA_YAW, _view_frames, facing, skeleton_text, write_ntu
from .scenes import SynthResult, in_layout, scene_actors

CLASSES = ("wave", "kick", "squat", "jump", "point", "bow", "throw", "clap", "reach", "hug")
TWO_PERSON = {"hug"}
FORMAT_CYCLE = ("azure", "npy", "csv", "skeleton", "npz")
SUFFIX = {fmt: suffix for suffix, fmt in FORMATS.items()}    # the readers' table, read the other way
AZURE_AXES = np.array([-1.0, -1.0, 1.0])       # Kinect v2 camera axes -> Azure Kinect depth camera axes
SUBJECTS = 4


def tracks(frames: list[list[tuple]]) -> np.ndarray:
    """Frames of (body_id, xyz (J, 3), ...) records as an (M, T, J, 3) array: one slot per body
    ID in order of first appearance (the order body selection ranks ties in), zeros where absent."""
    ids: dict[int, int] = {}
    for bodies in frames:
        for b in bodies:
            ids.setdefault(int(b[0]), len(ids))
    J = next(b[1].shape[0] for bodies in frames for b in bodies)
    out = np.zeros((max(len(ids), 1), len(frames), J, 3))
    for t, bodies in enumerate(frames):
        for b in bodies:
            out[ids[int(b[0])], t] = b[1]
    return out


def azure_json(frames: list[list[tuple]], joint_names: list[str]) -> dict:
    """The offline_processor JSON of frames in Kinect v2 camera coordinates (metres)."""
    ids: dict[int, int] = {}
    out = []
    for t, bodies in enumerate(frames):
        listed = [{"body_id": ids.setdefault(int(b[0]), len(ids) + 1),
                   "joint_positions": np.round(b[1] * AZURE_AXES * 1000.0, 3).tolist(),
                   "joint_orientations": [[1.0, 0.0, 0.0, 0.0]] * len(b[1])} for b in bodies]
        out.append({"frame_id": t, "timestamp_usec": t * 33333, "num_bodies": len(listed), "bodies": listed})
    return {"k4abt_sdk_version": "1.1.2", "source_file": "synthetic.mkv", "joint_names": joint_names,
            "bone_list": [], "frames": out}


def write_recording(path: Path, fmt: str, frames: list[list[tuple]], rng: np.random.Generator,
                    joint_names: list[str], metres_per_unit: float = 1.0) -> None:
    """One recording's frames (Kinect v2 camera coordinates, metres) as a file of `fmt`; arrays
    in units of `metres_per_unit` metres; a `.csv` holds one body, the one present in most frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "azure":
        path.write_text(json.dumps(azure_json(frames, joint_names)))
    elif fmt == "skeleton":
        path.write_bytes(skeleton_text(frames, rng).encode())
    else:
        a = tracks(frames) / metres_per_unit
        if fmt == "npy":
            np.save(path, a.astype(np.float32))
        elif fmt == "npz":
            np.savez(path, poses=a.astype(np.float32))
        else:
            body = a[np.argmax((np.abs(a).sum(axis=(2, 3)) > 0).sum(axis=1))]
            np.savetxt(path, body.reshape(len(body), -1), delimiter=",", fmt="%.9g",
                       header=",".join(f"{j}_{c}" for j in joint_names for c in "xyz"), comments="")


def _in_layout(frames: list[list[tuple]], layout) -> list[list[tuple]]:
    """(body_id, xyz, tracking state) records of Kinect v2 joints as records of `layout`'s joints."""
    pick = list(layout.from_kinect_v2)
    return [[(b[0], in_layout(b[1], layout), b[2][pick]) for b in bodies] for bodies in frames]


def _write_index(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, columns, restval="")
        w.writeheader()
        w.writerows(rows)


def _broken(folder: Path, rows: list[dict], scene_rows: list[dict], res: SynthResult) -> None:
    """Files broken the ways each format breaks, and index rows that cannot be samples."""
    good = scene_rows[0]
    files = {
        "broken_json": ("P01/broken_cam1.json", lambda p: p.write_text('{"frames": [{"bodies": [{"body_id": 1, '),
                        "a JSON file cut short"),
        "broken_npy": ("P01/broken_cam2.npy", lambda p: np.save(p, np.ones((40, 20, 3), np.float32)),
                       "20 joints in a 32-joint layout"),
        "broken_npz": ("P01/broken_cam3.npz", lambda p: np.savez(p, poses=np.array([{"a": 1}], dtype=object)),
                       "a pickled object array"),
        "broken_csv": ("P02/broken_cam1.csv", lambda p: p.write_text("a,b,c\n1,2,x\n"), "a non-numeric value"),
        "broken_skeleton": ("P02/broken_cam2.skeleton", lambda p: p.write_text(""), "an empty file"),
    }
    for scene, (rel, write, why) in files.items():
        write(folder / rel)
        rows.append({**good, "path": rel, "scene": scene, "view": "1", "name": ""})
        res.broken[f"{scene}-1"] = why
    bad_rows = [
        ({"path": "P03/missing_cam1.json", "scene": "missing"}, "no such file"),
        ({"label": "juggle", "scene": "unknown_label"}, "unknown label"),
        ({"scene": good["scene"], "view": good["view"]}, "a second row for one scene and view"),
        ({"scene": "outside", "start": "1", "end": "100000"}, "an interval outside the file"),
        ({"scene": "backwards", "start": "30", "end": "10"}, "start after end"),
    ]
    for change, why in bad_rows:
        row = {**good, "name": "", "start": "", "end": "", **change}
        if row["scene"] == good["scene"]:
            row["name"] = f"{good['scene']}-{good['view']}-again"
        rows.append(row)
        res.broken[row["name"] or f"{row['scene']}-{row['view']}"] = why


def write_main(out: Path, scenes: int, seed: int, rigid: bool, classes: int, broken: bool) -> SynthResult:
    """`recordings/`, `recordings.csv`, `classes.txt` and `my_layout.json` (see the module)."""
    ntu = load_dataset("ntu60")
    layout = load_layout("azure_kinect_32")
    names = list(CLASSES[:max(2, min(classes, len(CLASSES)))])
    folder = out / "recordings"
    res = SynthResult(out=out)
    rows: list[dict] = []
    session: dict[int, list] = {}
    for k in range(scenes):
        label = names[k % len(names)]
        subject = 1 + (k // len(names) + k) % SUBJECTS
        rng = np.random.default_rng([seed, k])
        actors = scene_actors(1 + CLASSES.index(label), label in TWO_PERSON, int(rng.integers(50, 110)), rng,
                              facing(1 + k % 2, rng))
        scene = f"s{k + 1:03d}"
        for view in CAMERA_YAW:
            frames = _in_layout(_view_frames(ntu, actors, view, rigid, np.random.default_rng([seed, k, view])), layout)
            row = {"path": "", "label": label, "view": str(view), "scene": scene, "subject": str(subject)}
            if k < 2 and scenes > 2:                          # performer 1's session: one file per camera, cut
                start = len(session.get(view, [])) + 1
                session.setdefault(view, []).extend(frames)
                rows.append({**row, "path": f"P01/session_cam{view}.json", "subject": "1", "start": str(start),
                             "end": str(len(session[view]))})
            else:
                fmt = FORMAT_CYCLE[(k + view) % len(FORMAT_CYCLE)]
                if fmt == "csv" and label in TWO_PERSON:
                    fmt = "npz"                               # a CSV holds one body
                rel = f"P{subject:02d}/{scene}_cam{view}{SUFFIX[fmt]}"
                write_recording(folder / rel, fmt, frames, np.random.default_rng([seed, k, view, 1]),
                                list(layout.joints))
                rows.append({**row, "path": rel})
            res.samples.append(f"{scene}-{view}")
    for view, frames in session.items():
        write_recording(folder / f"P01/session_cam{view}.json", "azure", frames, np.random.default_rng(0),
                        list(layout.joints))
    if broken and rows:
        _broken(folder, rows, rows[-3:], res)
    for row in rows:
        row["path"] = f"recordings/{row['path']}"
    _write_index(out / "recordings.csv", rows)
    (out / "classes.txt").write_text("\n".join(names) + "\n")
    (out / "my_layout.json").write_text(json.dumps({**layout_dict("azure_kinect_32"), "name": "my_layout"}, indent=1))
    return res


def write_kinect_v2(out: Path, scenes: int, seed: int, rigid: bool, classes: int) -> list[str]:
    """`kinect_v2/`: NTU files under `ntu/` and `index.csv` listing the same performances in the
    four Kinect v2 formats (arrays in millimetres); returns the sample names."""
    ntu = load_dataset("ntu60")
    written = write_ntu(ntu, out / "ntu", scenes, seed, rigid, classes, broken=False)
    rows = []
    for k, name in enumerate(written.samples):
        raw = read_ntu(out / "ntu" / f"{name}.skeleton")
        frames: list[list[tuple]] = [[] for _ in range(raw.n_frames)]
        for t, b, xyz in zip(raw.frame, raw.body_id, raw.xyz):
            frames[t].append((int(b), xyz))
        fmt = ("skeleton", "npy", "csv", "npz")[k % 4]
        if fmt == "csv" and len(np.unique(raw.body_id)) > 1:
            fmt = "npy"                                       # a CSV holds one body
        path = f"ntu/{name}.skeleton" if fmt == "skeleton" else f"arrays/{name}{SUFFIX[fmt]}"
        if fmt != "skeleton":
            write_recording(out / path, fmt, frames, np.random.default_rng(0),
                            list(load_layout("kinect_v2_25").joints), metres_per_unit=0.001)
        camera, action = int(name[5:8]), int(name[17:20])
        rows.append({"path": path, "label": ntu.classes[action - 1], "view": str(camera),
                     "scene": name[:4] + name[8:], "subject": str(int(name[9:12])), "setup": str(int(name[1:4])),
                     "name": name, "split:xview": "test" if camera == 1 else "train"})
    _write_index(out / "index.csv", rows)
    return written.samples


def write_custom(spec: DatasetSpec, out: Path, scenes: int, seed: int, rigid: bool, classes: int,
                 broken: bool) -> SynthResult:
    """Both corpora of the module under `out` (`spec`: the custom manifest, unused: the index
    carries the facts). The result lists the main corpus's samples and broken items."""
    out.mkdir(parents=True, exist_ok=True)
    res = write_main(out, scenes, seed, rigid, classes, broken)
    write_kinect_v2(out / "kinect_v2", scenes, seed, rigid, classes)
    return res
