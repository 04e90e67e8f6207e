"""The settings of a training run: their defaults and where each comes from, the command-line
options built from them, and the one set of rules every source of settings (the command
line, a `--config` file, a resumed run) is checked against. No torch needed: `focovil --help`
and `skel` work without the trainer installed."""
from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

# Paper settings per dataset (Section 4.2): batch in scenes, and beta (UWA3D's skeletons are noisier).
DATASET_DEFAULTS = {"ntu60": (128, 1.0), "ntu120": (128, 1.0), "uwa3d": (64, 2.0)}
OTHER_DEFAULTS = (64, 1.0)
# Where each default of TrainConfig comes from: shown by `focovil train --help`, saved in config.json.
DEFAULT_SOURCES = {
    "epochs": "not in the paper: 100, so that the P&C decay step (every 50 epochs) applies once; "
              "check that curves.png has flattened on your data",
    "lr": "paper Sec. 4.2 (Adam, learning rate 0.0001)",
    "lr_decay": "paper Sec. 4.2 (decay rate 0.95)",
    "lr_decay_every": "not in the paper, which gives no step: P&C's code (0.95 ** (epoch // 50)), which FoCoViL builds on",
    "batch": "paper Sec. 4.2 (128 scenes for NTU RGB+D, 64 for the other datasets)",
    "views_per_scene": "paper Eq. 3 (sums over every other view v != u): every view a scene has, absent ones masked",
    "tau": "paper Sec. 3.2 (0.5, best of 0.1, 0.5, 1, 2)",
    "alpha": "paper Sec. 4.2 (alpha = 1 for every dataset)",
    "beta": "paper Sec. 4.2 (1; 2 for UWA3D)",
    "hidden": "paper Sec. 4.2 (1024 for the encoder and decoder output; here 2 x 512 per direction)",
    "proj": "paper Sec. 4.2 (projection units 512 and 1024) and Table 9",
    "focal_grad": "paper Eq. 6 (the loss as written, differentiated through w+ and w-); kept by the rule of the "
                  "ablation benchmark's focal table (README): no variant beat the other three in every seed at 60 "
                  "epochs (none and pos equalled CoViL, neg and both were 0.03-0.04 below it)",
    "proj_act": "paper Sec. 3.1 says 'a linear projection net' of two fully-connected layers; P&C-style nets put a "
                "ReLU between them. Kept: in the ablation benchmark's Table 9 the linear net was not better "
                "(-0.016, mixed signs over 3 seeds)",
    "scaling": "the store's: `skel prepare --scale` (paper Sec. 4.2 says only 'normalized to [-1, 1]')",
}
# The command-line options of `focovil train`, one per setting: (option names, help). The
# type and the rule come from RULES, the default and its source from TrainConfig and DEFAULT_SOURCES.
OPTIONS = {
    "store": (("--store",), "Store written by `skel prepare`.  [required]"),
    "protocol": (("--protocol",), "Split to train on (e.g. xsub, xview, xset).  [required]"),
    "out": (("--out",), "Run folder (checkpoint, metrics, config).  [required]"),
    "preset": (("--preset",), "Method or ablation (Table 8 of the paper)."),
    "epochs": (("--epochs",), "Training epochs (one pass over the split's scenes each)."),
    "batch": (("--batch",), "Scenes per step (default: 128 for NTU, 64 otherwise)."),
    "hidden": (("--hidden",), "Representation size: the bi-GRU has hidden/2 units per direction."),
    "proj": (("--proj",), "Projection sizes, e.g. 1024-512-1024 (default hidden-hidden/2-hidden)."),
    "alpha": (("--alpha",), "Weight of the contrastive loss."),
    "beta": (("--beta",), "Weight of the reconstruction loss (default 1; UWA3D 2)."),
    "tau": (("--tau",), "Temperature of the similarity S (Eq. 4)."),
    "lr": (("--lr",), "Adam learning rate."),
    "lr_decay": (("--lr-decay",), "Learning-rate factor per decay step."),
    "lr_decay_every": (("--lr-decay-every",), "Epochs between decay steps."),
    "views_per_scene": (("--views-per-scene",), "Draw this many views per scene instead of all."),
    "data_fraction": (("--data-fraction",), "Share of training scenes to use (Table 10)."),
    "seed": (("--seed",), "Seeds the initialisation, the batch order and the view draws."),
    "device": (("--device",), "cpu, cuda or cuda:N (default: cuda when available)."),
    "precision": (("--precision",), "fp32 or bf16: bf16 autocast on CUDA (its default there), fp32 on the CPU."),
    "focal_grad": (("--focal-grad",), "Which focal weights carry gradient: both (Eq. 6 differentiated as written), "
                                      "pos (only w+), neg (only w-) or none (both constants; --detach-focal is its "
                                      "old name)."),
    "proj_act": (("--proj-act",), "Between the projection's layers: relu, or none (a linear projection)."),
    "stream": (("--stream",), "Read each batch from the store instead of holding the split on the device (for "
                              "splits that do not fit; fastest from an uncompressed HDF5 store). Beside a GPU the "
                              "next batch is read while the current one trains."),
    "cuda_graph": (("--cuda-graph",), "Capture the whole step (forward, backward, Adam) as one CUDA graph and replay "
                                      "it: removes the kernel-launch cost that bounds small batches. One process, "
                                      "CUDA only; see benchmarks/RESULTS.md."),
}


def option_help(name: str) -> str:
    """An option's help: what it does, its default where it has a plain one, and its source."""
    text = OPTIONS[name][1]
    default = next(f.default for f in fields(TrainConfig) if f.name == name)
    if default is not MISSING and default is not None and not isinstance(default, bool) and \
            name not in ("device", "precision"):
        text += f"  [default: {default}]"
    if name in DEFAULT_SOURCES:
        text += f" Source: {DEFAULT_SOURCES[name]}."
    return text


# What a resumed run may change: how it runs, not what it trains.
CHANGEABLE_ON_RESUME = ("epochs", "device", "precision", "stream", "cuda_graph", "out")


@dataclass
class TrainConfig:
    store: str
    protocol: str
    out: str
    preset: str = "focovil"
    epochs: int = 100
    batch: int | None = None          # scenes per step; None: by the store's dataset
    hidden: int = 1024                # representation size (2 x GRU units per direction)
    proj: str | None = None           # e.g. 1024-512-1024; None: hidden-hidden/2-hidden
    alpha: float = 1.0
    beta: float | None = None         # None: by the store's dataset
    tau: float = 0.5
    lr: float = 1e-4
    lr_decay: float = 0.95
    lr_decay_every: int = 50          # epochs between decays
    views_per_scene: int | None = None
    data_fraction: float = 1.0
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"           # bf16 autocast on CUDA
    focal_grad: str = "both"          # which focal weights carry gradient: both, pos, neg or none
    proj_act: str = "relu"            # between the projection's layers: relu or none (linear)
    stream: bool = False              # read batches from the store instead of a device copy
    cuda_graph: bool = False          # capture the whole step as one CUDA graph (one process, CUDA only)
    resolved: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        """config.json: the settings, and for each one at its default, where that default comes
        from ("set by the user" for the others)."""
        defaults = {f.name: f.default for f in fields(self)}
        defaults.update(self.resolved.get("dataset_defaults", {}))     # batch and beta: by the store's dataset
        sources = {k: v if getattr(self, k, None) == defaults.get(k) else "set by the user"
                   for k, v in DEFAULT_SOURCES.items() if hasattr(self, k)}
        path.write_text(json.dumps({**asdict(self), "sources": sources}, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """A config.json written by `save`, checked like the command line (ValueError: one line a bad field)."""
        from skeltools.manifests import json_object
        return from_settings(json_object(path, f"{path} (a focovil config.json)"), where=str(path))

    def settings(self) -> dict:
        """The settings alone (what a run is made of)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "resolved"}


SETTINGS = tuple(f.name for f in fields(TrainConfig) if f.name != "resolved")


def _number(v, kind: type) -> bool:
    if isinstance(v, bool):
        return False
    if kind is int:
        return isinstance(v, int)
    return isinstance(v, (int, float)) and math.isfinite(v)


# field -> (kind, test, what a good value is); None passes where the field may be None
RULES = {
    "store": (str, lambda v: bool(v), "a store path"),
    "protocol": (str, lambda v: bool(v), "a protocol name"),
    "out": (str, lambda v: bool(v), "a run folder"),
    "preset": (str, lambda v: v in _presets(), "one of the presets"),
    "epochs": (int, lambda v: v >= 1, "an integer >= 1"),
    "batch": (int, lambda v: v >= 2, "an integer >= 2 (scenes per step)"),
    "hidden": (int, lambda v: v >= 2 and v % 2 == 0, "an even integer >= 2"),
    "proj": (str, lambda v: _proj_ok(v), "sizes joined by '-', e.g. 1024-512-1024"),
    "alpha": (float, lambda v: v >= 0, "a number >= 0"),
    "beta": (float, lambda v: v >= 0, "a number >= 0"),
    "tau": (float, lambda v: v > 0, "a number > 0"),
    "lr": (float, lambda v: v > 0, "a number > 0"),
    "lr_decay": (float, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "lr_decay_every": (int, lambda v: v >= 1, "an integer >= 1"),
    "views_per_scene": (int, lambda v: v >= 2, "an integer >= 2"),
    "data_fraction": (float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "seed": (int, lambda v: v >= 0, "an integer >= 0"),
    "device": (str, lambda v: bool(v), "cpu, cuda or cuda:N"),
    "precision": (str, lambda v: v in ("fp32", "bf16"), "fp32 or bf16"),
    "focal_grad": (str, lambda v: v in ("both", "pos", "neg", "none"), "both, pos, neg or none"),
    "proj_act": (str, lambda v: v in ("relu", "none"), "relu or none"),
    "stream": (bool, lambda v: True, "true or false"),
    "cuda_graph": (bool, lambda v: True, "true or false"),
}
MAY_BE_NONE = {"batch", "proj", "beta", "views_per_scene"}


def _presets() -> tuple[str, ...]:
    from .presets import PRESETS
    return tuple(PRESETS)


def _proj_ok(spec: str) -> bool:
    parts = spec.split("-")
    return len(parts) >= 2 and all(p.isdigit() and int(p) > 0 for p in parts)


def problems(settings: dict) -> list[str]:
    """One line per setting that breaks its rule (the same rules for every source of settings)."""
    out = []
    for name, (kind, test, good) in RULES.items():
        v = settings.get(name)
        if v is None and name in MAY_BE_NONE:
            continue
        ok = isinstance(v, str) if kind is str else isinstance(v, bool) if kind is bool else _number(v, kind)
        if not ok or not test(v):
            out.append(f"{name} = {v!r}: expected {good}")
    return out


def from_settings(settings: dict, where: str = "the settings") -> TrainConfig:
    """A checked TrainConfig from a mapping of settings (unknown keys such as `sources` and
    `resolved` are not settings and are left out); ValueError lists every bad field."""
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.name in SETTINGS and f.default is not MISSING}
    known = {k: v for k, v in settings.items() if k in SETTINGS}
    if settings.get("detach_focal_weights") is True and "focal_grad" not in settings:   # a run of an older version
        known["focal_grad"] = "none"
    merged = {**defaults, **known}
    bad = [f"{k}: missing" for k in ("store", "protocol", "out") if k not in merged] or problems(merged)
    if bad:
        raise ValueError("\n".join(f"{where}: {line}" for line in bad))
    return TrainConfig(**merged)


def resume_conflicts(saved: TrainConfig, given: dict) -> list[str]:
    """The options given to a resumed run that differ from its saved settings (only
    CHANGEABLE_ON_RESUME may), one line each."""
    def same(k: str) -> bool:
        if k == "store":        # the run records its store as an absolute path
            return Path(given[k]).resolve() == Path(saved.store).resolve()
        return given[k] == getattr(saved, k)
    return [f"--{k.replace('_', '-')} {given[k]!r} differs from the run's {getattr(saved, k)!r}"
            for k in SETTINGS if k in given and k not in CHANGEABLE_ON_RESUME and not same(k)]
