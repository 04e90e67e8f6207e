"""The 3D annotation pickles of mmaction2 and pyskl (`ntu60_3danno.pkl`, `ntu120_3danno.pkl`), in and out.

The dict: {"split": {name: [frame_dir, ...]}, "annotations": [{"frame_dir", "label"
(0-based), "keypoint" (M, T, V, 3) float32, "total_frames"}, ...]}, with denoised but
unaligned Kinect joints. A plain unpickler runs whatever code a pickle names; this one
rebuilds only what such a pickle holds (plain Python values and numpy arrays and scalars)
and refuses any other object.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..store import Store
from .raw_sample import SampleError


# What a genuine annotation pickle names (numpy 1 and 2 spellings; `_codecs.encode` rebuilds the
# bytes of protocol 2, which mmcv writes): numpy arrays, dtypes and scalars, and nothing that runs code.
ALLOWED_GLOBALS = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                   *((f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("_reconstruct", "scalar")),
                   *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core"))}


class RefusedPickle(ValueError):
    """A pickle that names something a genuine annotation pickle never holds."""


class AnnotationUnpickler(pickle.Unpickler):
    """Rebuilds plain values and numpy arrays; any other global is refused before it is imported."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise RefusedPickle(f"it names {module}.{name}, which an mmaction2/pyskl annotation pickle never holds "
                                "(a pickle can run code when loaded; this one is refused)")
        import warnings
        with warnings.catch_warnings():      # numpy 2 warns about numpy.core when rebuilding numpy 1 pickles
            warnings.simplefilter("ignore", DeprecationWarning)
            return super().find_class(module, name)


def load_pickle(path: str | Path) -> dict:
    """The pickle's dict, checked for the two keys; rebuilt without running any code."""
    try:
        with open(path, "rb") as f:
            data = AnnotationUnpickler(f).load()
    except RefusedPickle as e:
        raise ValueError(f"{path}: refused: {e}") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ValueError(f"{path}: not an mmaction2/pyskl annotation pickle (no 'annotations' list)")
    if not isinstance(data.get("split", {}), dict):
        raise ValueError(f"{path}: its 'split' is not a dict of name -> frame_dir list")
    return data


def bodies_of(annotation: dict, joints: int, slots: int) -> np.ndarray:
    """An annotation's keypoints as (slots, L, J, 3) float32 over the frames where a body is
    present, the shape body selection gives; SampleError for what cannot be a sample."""
    if not isinstance(annotation, dict) or "keypoint" not in annotation:
        raise SampleError("annotation without keypoint")
    kp = np.asarray(annotation["keypoint"])
    if kp.ndim == 4 and kp.shape[-1] == 2:
        raise SampleError(f"2D keypoints (C = 2, shape {kp.shape}): this tool needs 3D joints (pyskl's *_3danno.pkl, "
                          "not the 2D *_hrnet.pkl)")
    if kp.ndim != 4 or kp.shape[-1] != 3 or kp.shape[2] != joints or kp.dtype.kind not in "fiu":
        raise SampleError(f"wrong keypoint shape: {kp.shape} {kp.dtype}, expected (M, T, {joints}, 3) numbers")
    if kp.shape[0] == 0 or kp.shape[1] == 0:
        raise SampleError(f"empty keypoint array {kp.shape}")
    kp = kp.astype(np.float32)
    if not np.isfinite(kp).all():
        t = int(np.argmin(np.isfinite(kp).all(axis=(0, 2, 3))))
        raise SampleError(f"non-finite coordinates (NaN or inf) in frame {t + 1}")
    kp = kp[:slots]
    present = np.abs(kp).sum(axis=(0, 2, 3)) > 0
    if not present.any():
        raise SampleError(f"all frames empty: no body in any of {kp.shape[1]} frames")
    out = np.zeros((slots, int(present.sum()), joints, 3), np.float32)
    out[:len(kp)] = kp[:, present]
    return out


def export_mmaction(store: str | Path, out: str | Path, *, protocol: str | None = None, metres: bool = False,
                    frames: int | None = None, verify: bool = True, overwrite: bool = False) -> tuple[dict, str]:
    """The store's samples as the annotation-pickle dict (absent bodies dropped; splits
    `<protocol>_train` / `<protocol>_val`, of one protocol or every one), written whole to
    `out`; returns it and how the poses were made. Each annotation also carries its `scale`
    (the divisor its values carry; 1 with `metres`), so that `skel prepare --from-mmaction`
    restores metres; pyskl's and mmaction2's loaders ignore the extra key."""
    from ..export import require_suffix, sample_poses
    from ..outputs import check_output, written_whole

    require_suffix(out, ".pkl", "--to mmaction")
    target = check_output(out, [store], overwrite)
    with Store(store, verify=verify) as st:
        names, labels = st.read("meta/name"), st.read("meta/label")
        scales = st.read("meta/scale") if st.has("meta/scale") else np.full(len(names), float(st.attrs["scale"]))
        protocols = [protocol] if protocol else st.protocols()
        split = {}
        for p in protocols:
            split[f"{p}_train"] = [str(names[i]) for i in st.split(p, "train")]
            split[f"{p}_val"] = [str(names[i]) for i in st.split(p, "test")]
        poses, how = sample_poses(st, np.arange(len(names)), metres=metres, frames=frames)
    annotations = []
    for name, label, p, scale in zip(names, labels, poses, scales):
        present = np.abs(p).reshape(len(p), -1).max(axis=1) > 0
        annotations.append({"frame_dir": str(name), "label": int(label), "keypoint": np.ascontiguousarray(p[present]),
                            "total_frames": int(p.shape[1]), "scale": 1.0 if metres else float(scale)})
    data = {"split": split, "annotations": annotations}
    with written_whole(target) as tmp, open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=4)
    return data, how
