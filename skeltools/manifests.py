"""Dataset facts (classes, splits, layouts, file naming) read from data_manifests/.

The facts live in JSON/text files so that a user can correct them without touching
code; this module only loads them into small typed records.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np


def _manifests_root():
    """data_manifests/: installed as skeltools.data_manifests, or the repo's folder when run from a checkout."""
    try:
        return resources.files("skeltools.data_manifests")
    except ModuleNotFoundError:
        return resources.files("data_manifests")


def _manifest_text(relpath: str) -> str:
    return _manifests_root().joinpath(relpath).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Layout:
    """A joint layout: joint names, the kinematic tree and the joints that alignment uses."""

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    roles: dict = field(hash=False)
    from_kinect_v2: tuple[int, ...] = ()   # for synthetic data: which Kinect v2 joint stands for each joint

    @property
    def n_joints(self) -> int:
        return len(self.joints)

    @property
    def bones(self) -> list[tuple[int, int]]:
        return [(p, j) for j, p in enumerate(self.parents) if p >= 0]

    def as_dict(self) -> dict:
        """The layout file's schema (what a store of a user's layout records as `layout_spec`)."""
        return {"name": self.name, "joints": list(self.joints), "parents": list(self.parents),
                "roles": {k: self.roles[k] for k in ROLES}}

    def role_indices(self) -> np.ndarray:
        """Indices of (root, spine, left hip, right hip), in the order alignment expects."""
        r = self.roles
        return np.array([r["root"], r["spine"], r["left_hip"], r["right_hip"]], dtype=np.int64)


@dataclass(frozen=True)
class Protocol:
    """A split rule over one per-sample field: values in `train` train and values in `test`
    test; a side given as None is everything the other side does not hold."""

    name: str
    field: str
    train: tuple | None
    test: tuple | None = None

    def assign(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sorted train and test indices for an array of per-sample field values."""
        values = np.asarray(values)
        is_train = np.isin(values, self.train) if self.train is not None else None
        is_test = np.isin(values, self.test) if self.test is not None else None
        if is_train is None:
            is_train = ~is_test
        if is_test is None:
            is_test = ~is_train
        return (np.flatnonzero(is_train).astype(np.int32), np.flatnonzero(is_test).astype(np.int32))


def read_split_file(path) -> list[Protocol]:
    """An official PKU-MMD split file (`Training videos:` / IDs / `Validataion videos:` / IDs)
    as a protocol over video names; named xsub or xview after the file name."""
    from pathlib import Path
    path = Path(path)
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    heads = [i for i, ln in enumerate(lines) if ln.rstrip(": ").lower().endswith("videos")]
    if len(heads) != 2:
        raise ValueError(f"{path}: expected 'Training videos:' and 'Validataion videos:' headings")
    ids = [[v.strip() for ln in lines[a + 1:b] for v in ln.split(",") if v.strip()]
           for a, b in ((heads[0], heads[1]), (heads[1], len(lines)))]
    stem = path.stem.lower()
    name = "xsub" if "subject" in stem else "xview" if "view" in stem else stem
    return [Protocol(name=name, field="unit", train=tuple(ids[0]), test=tuple(ids[1]))]


@dataclass(frozen=True)
class DatasetSpec:
    """Everything `prepare` needs to know about one dataset, loaded from its manifest."""

    name: str
    reader: str
    layout_name: str
    bodies: int
    n_views: int
    n_classes: int
    file_pattern: str
    name_format: str
    scene_fields: tuple[str, ...]
    ranges: dict = field(hash=False)
    classes_file: str = ""
    missing_list: str = ""
    two_person_actions: tuple[int, ...] = ()
    protocols: tuple[Protocol, ...] = ()
    class_names: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, hash=False)   # format-specific facts (label maps, folders, ...)

    @cached_property
    def layout(self) -> Layout:
        return load_layout(self.layout_name)

    @cached_property
    def classes(self) -> list[str]:
        if self.class_names:
            return list(self.class_names)
        names = [ln.strip() for ln in _manifest_text(self.classes_file).splitlines() if ln.strip()]
        return names[: self.n_classes]

    @property
    def example(self) -> str:
        """A raw file name (or path) of this dataset, for messages."""
        return self.extra.get("example", self.name_format)

    @cached_property
    def missing(self) -> frozenset[str]:
        if not self.missing_list:
            return frozenset()
        return frozenset(ln.strip() for ln in _manifest_text(self.missing_list).splitlines() if ln.strip())

    @cached_property
    def name_regex(self) -> re.Pattern:
        return re.compile(self.file_pattern)

    def parse_file_name(self, filename: str) -> dict | None:
        """Fields of a raw file name as ints, or None when the file is not a sample."""
        m = self.name_regex.match(filename)
        if m is None:
            return None
        return {k: int(v) for k, v in m.groupdict().items()}

    def out_of_range(self, fields: dict) -> str | None:
        """Why a well-named file is not part of this dataset (e.g. an NTU-120 action in NTU-60)."""
        for key, (lo, hi) in self.ranges.items():
            if key in fields and not lo <= fields[key] <= hi:
                return f"{key} {fields[key]} outside {self.name} ({lo}-{hi})"
        return None


ROLES = ("root", "spine", "left_hip", "right_hip")


def layout_problems(d: object) -> list[str]:
    """What is wrong with a layout file's content, one line per problem."""
    if not isinstance(d, dict):
        return ["not a JSON object"]
    out = [f"{key!r} is missing" for key in ("name", "joints", "parents", "roles") if key not in d]
    if out:
        return out
    joints, parents, roles = d["joints"], d["parents"], d["roles"]
    J = len(joints) if isinstance(joints, list) else 0
    if not J or not all(isinstance(j, str) for j in joints):
        out.append("'joints' must be a list of joint names")
    if len(set(joints if isinstance(joints, list) else [])) != J:
        out.append("'joints' names a joint twice")
    if not isinstance(parents, list) or len(parents) != J or \
            not all(isinstance(p, int) and not isinstance(p, bool) and -1 <= p < J for p in parents):
        out.append(f"'parents' must list a parent index in -1..{J - 1} for each of the {J} joints")
    if not isinstance(roles, dict):
        return out + ["'roles' must map root, spine, left_hip and right_hip to joint indices"]
    for role in ROLES:
        v = roles.get(role)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < J:
            out.append(f"role {role!r} is {v!r}: expected a joint index in 0..{J - 1}")
    if not out:
        if roles["left_hip"] == roles["right_hip"]:
            out.append("the left and right hips are one joint: alignment needs two")
        if roles["root"] == roles["spine"]:
            out.append("root and spine are one joint: alignment needs a spine direction")
    return out


def json_object(path: str | Path, what: str) -> dict:
    """A JSON file that must hold one object (a config, a manifest); ValueError naming `what`."""
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{what}: cannot be read ({e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{what}: not a JSON object")
    return d


def layout_dict(name: str) -> dict:
    """The JSON content of a shipped layout (data_manifests/layouts/NAME.json)."""
    return json.loads(_manifest_text(f"layouts/{name}.json"))


def load_layout(name: str) -> Layout:
    """A layout by its name in data_manifests/layouts, or a user's layout file (a path ending
    in .json, same schema); ValueError, one line per problem, for a file that breaks the rules."""
    path = None if not str(name).endswith(".json") else Path(name)
    try:
        d = json.loads(path.read_text() if path is not None else _manifest_text(f"layouts/{name}.json"))
    except (OSError, ValueError) as e:
        raise ValueError(f"layout {name}: cannot be read ({e})") from None
    return layout_from_dict(d, str(name))


def layout_from_dict(d: object, where: str) -> Layout:
    """A Layout from a layout file's content; ValueError, one line per problem, naming `where`."""
    problems = layout_problems(d)
    if problems:
        raise ValueError("\n".join(f"layout {where}: {p}" for p in problems))
    return Layout(name=str(d["name"]), joints=tuple(d["joints"]), parents=tuple(d["parents"]), roles=d["roles"],
                  from_kinect_v2=tuple(d.get("from_kinect_v2", range(len(d["joints"])))))


def store_layout(attrs: dict) -> Layout:
    """The layout a store was made with: its own `layout_spec` (a user's layout file) or the
    shipped layout its `layout` names."""
    if "layout_spec" in attrs:
        return layout_from_dict(attrs["layout_spec"], "layout_spec of the store")
    return load_layout(attrs["layout"])


def dataset_names() -> list[str]:
    root = _manifests_root().joinpath("datasets")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".json"))


def load_dataset(name: str) -> DatasetSpec:
    """The spec of a dataset by its store name (`ntu60`, `ntu120`, ...)."""
    if name not in dataset_names():
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}")
    d = json.loads(_manifest_text(f"datasets/{name}.json"))
    known = {"name", "reader", "layout", "bodies", "n_views", "n_classes", "file_pattern", "name_format", "scene_fields",
             "ranges", "classes_file", "missing_list", "two_person_actions", "protocols", "classes"}
    protocols = tuple(
        Protocol(name=p, field=r["field"], train=tuple(r["train"]) if "train" in r else None,
                 test=tuple(r["test"]) if "test" in r else None)
        for p, r in d.get("protocols", {}).items()
    )
    return DatasetSpec(
        name=d["name"], reader=d["reader"], layout_name=d["layout"], bodies=d["bodies"], n_views=d["n_views"],
        n_classes=d["n_classes"], file_pattern=d["file_pattern"], name_format=d["name_format"],
        scene_fields=tuple(d["scene_fields"]), ranges=d.get("ranges", {}), classes_file=d.get("classes_file", ""),
        missing_list=d.get("missing_list", ""), two_person_actions=tuple(d.get("two_person_actions", ())),
        protocols=protocols, class_names=tuple(d.get("classes", ())),
        extra={k: v for k, v in d.items() if k not in known},
    )
