"""The training loop: checkpoints every epoch, exact resume, metrics.csv, curves.png."""
from __future__ import annotations

import csv
import logging
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from skeltools.store import Store

from .config import DATASET_DEFAULTS, DEFAULT_SOURCES, OTHER_DEFAULTS, TrainConfig  # noqa: F401 (re-exported)
from .checkpoint import CHECKPOINT, RUN_FILES, CheckpointError, load_weights, read_checkpoint, save_atomic
from .data import SceneBatches, load_split
from .losses import multiview_contrastive_loss, reconstruction_loss
from .model import FoCoViL, count_parameters, parse_proj
from .presets import get_preset
from .step import EagerStep, GraphedStep, configure_optimizer

PROGRESS_EVERY = 10  # steps between progress-bar updates of the loss terms
log = logging.getLogger(__name__)


def resolve_device(name: str) -> str:
    """`cpu`, `cuda` or `cuda:N`, checked against this PyTorch; a ValueError in one line otherwise."""
    if name == "cpu":
        return name
    if name != "cuda" and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ValueError(f"--device {name}: use cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, but no GPU is visible"
        raise ValueError(f"--device {name}: this PyTorch ({torch.__version__}) is {build}; use --device cpu")
    if ":" in name and int(name[5:]) >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: only {torch.cuda.device_count()} GPU(s) visible")
    return name


def resolve(cfg: TrainConfig) -> TrainConfig:
    """Fill the dataset-dependent defaults and check that the device and store fit the preset."""
    from skeltools.store import require_valid
    preset = get_preset(cfg.preset)
    cfg.device = resolve_device(cfg.device)
    require_valid(cfg.store)
    cfg.store = str(Path(cfg.store).resolve())   # a run is evaluated from anywhere
    with Store(cfg.store) as st:
        dataset, aligned = st.attrs["dataset"], bool(st.attrs["aligned"])
        st.split(cfg.protocol, "train")
    if aligned != preset.aligned:
        need = "an aligned store (skel prepare without --no-align)" if preset.aligned else \
            "an unaligned store (skel prepare --no-align)"
        raise ValueError(f"preset {cfg.preset!r} needs {need}; {cfg.store} is {'aligned' if aligned else 'unaligned'}")
    if cfg.precision == "bf16" and not cfg.device.startswith("cuda"):
        raise ValueError("--precision bf16 is for CUDA; use fp32 on the CPU")
    if cfg.cuda_graph and not cfg.device.startswith("cuda"):
        raise ValueError("--cuda-graph is for CUDA devices")
    batch, beta = DATASET_DEFAULTS.get(dataset, OTHER_DEFAULTS)
    cfg.batch = cfg.batch or batch
    cfg.beta = beta if cfg.beta is None else cfg.beta
    cfg.resolved = {"dataset": dataset, "preset": preset.as_dict()}
    return cfg


def _rng_state(batches: SceneBatches) -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "batches": batches.generator.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(s: dict, batches: SceneBatches) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])
    batches.generator.set_state(s["batches"])
    if s["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def build_model(cfg: TrainConfig, channels: int) -> FoCoViL:
    return FoCoViL(channels, hidden=cfg.hidden, proj=parse_proj(cfg.proj) if cfg.proj else None,
                   projection=get_preset(cfg.preset).projection)


def step_loss(model: FoCoViL, x: torch.Tensor, mask: torch.Tensor, cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    """alpha * contrastive + beta * reconstruction for one (I, K, T, C) batch whose (I, K)
    mask marks the present views (absent ones are placeholders, left out of both losses)."""
    preset = get_preset(cfg.preset)
    I, K, T, C = x.shape
    flat = x.reshape(I * K, T, C)
    _, z, x_hat = model(flat)
    rec = reconstruction_loss(x_hat, flat, mask.reshape(-1))
    terms = {"recon": rec}
    loss = cfg.beta * rec
    if preset.contrastive:
        con = multiview_contrastive_loss(z.reshape(I, K, -1), cfg.tau, preset.focal, mask,
                                         detach_weights=cfg.detach_focal_weights,
                                         positives=preset.positives, negatives=preset.negatives)
        terms["contrastive"] = con
        loss = loss + cfg.alpha * con
    return loss, terms


@dataclass
class Dist:
    """This process's place under torchrun (WORLD_SIZE, RANK, LOCAL_RANK); 1 process otherwise."""

    world: int = 1
    rank: int = 0
    local: int = 0

    @classmethod
    def from_env(cls) -> Dist:
        return cls(int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def main(self) -> bool:
        return self.rank == 0


def _start_dist(dist: Dist, device: str) -> torch.device:
    if dist.world == 1:
        return torch.device(device)
    import torch.distributed as td
    cuda = device.startswith("cuda")
    td.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(dist.local)
        return torch.device("cuda", dist.local)
    return torch.device("cpu")


def _mean_over_ranks(values: dict, dist: Dist) -> dict:
    if dist.world == 1:
        return {k: float(v) for k, v in values.items()}
    import torch.distributed as td
    keys = sorted(values)
    t = torch.stack([torch.as_tensor(values[k], dtype=torch.float64) for k in keys])
    td.all_reduce(t)
    return {k: float(v) / dist.world for k, v in zip(keys, t.tolist())}


def prepare_run_folder(out: Path, resume: bool, overwrite: bool) -> bool:
    """Check what --out holds against --resume / --overwrite; returns whether the folder is new."""
    ours = [f for f in RUN_FILES if (out / f).exists()]
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other")
    if resume and not (out / CHECKPOINT).exists():
        raise ValueError(f"{out}: nothing to resume (no {CHECKPOINT}); leave out --resume to start a run")
    if not resume and ours and not overwrite:
        raise ValueError(f"{out} already holds a run ({', '.join(ours)}); pass --resume to continue it or "
                         "--overwrite to replace it")
    if overwrite:
        for f in ours + [p.name for p in out.glob("rng_rank*.pt")]:
            (out / f).unlink()
    new = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return new


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, overwrite: bool = False) -> Path:
    """Train (or resume) a run in cfg.out; returns the run folder. Under torchrun, DDP.
    A run that fails before its first checkpoint leaves no folder it created behind."""
    cfg = resolve(cfg)
    dist = Dist.from_env()
    out = Path(cfg.out)
    new = prepare_run_folder(out, resume, overwrite) if dist.main else out.mkdir(parents=True, exist_ok=True)
    try:
        return _train(cfg, resume, progress and dist.main, out, dist)
    except BaseException:
        if new and dist.main and not (out / CHECKPOINT).exists():
            shutil.rmtree(out, ignore_errors=True)
        raise


def _train(cfg: TrainConfig, resume: bool, progress: bool, out: Path, dist: Dist) -> Path:
    """The training itself, in a run folder that `train` has checked."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    if cfg.cuda_graph and dist.world > 1:
        raise ValueError("--cuda-graph runs in one process; under torchrun leave it off")
    device = _start_dist(dist, cfg.device)
    data = load_split(cfg.store, cfg.protocol, "train", device, stream=cfg.stream)
    preset = get_preset(cfg.preset)
    batches = SceneBatches(data, cfg.batch, cfg.views_per_scene, preset.contrastive, cfg.data_fraction, cfg.seed,
                           dist.rank, dist.world)
    model = build_model(cfg, data.x.shape[-1]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_decay_every, gamma=cfg.lr_decay)
    start_epoch, rows = 0, []
    ckpt_path = out / CHECKPOINT
    if resume:
        ck = read_checkpoint(ckpt_path, device)
        load_weights(model, ck["model"], ckpt_path)
        try:
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(f"{ckpt_path}: optimizer state does not fit this model ({e})") from None
        rng = ck["rng"] if dist.main else torch.load(out / f"rng_rank{dist.rank}.pt", weights_only=False)
        _set_rng_state(rng, batches)
        start_epoch, rows = ck["epoch"] + 1, ck["metrics"]
    configure_optimizer(opt, cfg.cuda_graph)
    net = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[dist.local] if device.type == "cuda" else None)
    cfg.resolved.update(parameters=count_parameters(model), train_samples=len(data.index),
                        train_scenes=batches.n_scenes * dist.world, views_per_scene=batches.k,
                        present_views_per_scene=batches.present_views, world_size=dist.world)
    if dist.main:
        cfg.save(out / "config.json")
    if dist.main:
        log.info(f"FoCoViL ({cfg.preset}): {count_parameters(model):,} parameters; {batches.n_scenes * dist.world} "
                 f"scenes x {batches.k} views, {len(batches)} steps/epoch, batch {batches.scenes_per_batch} scenes"
                 + (f" per process x {dist.world}" if dist.world > 1 else ""))
    step_fn = (GraphedStep if cfg.cuda_graph else EagerStep)(net, opt, lambda n, x, m: step_loss(n, x, m, cfg),
                                                             bf16=cfg.precision == "bf16")
    bar = tqdm(total=(cfg.epochs - start_epoch) * len(batches), initial=0, unit="step", disable=not progress,
               desc=f"{cfg.preset}", dynamic_ncols=True)   # one bar over the whole run: its ETA is the run's
    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        sums: dict = {}
        t0, seen = time.perf_counter(), 0
        for step, (x, mask) in enumerate(batches.epoch(), start=1):
            bar.update(1)
            terms = step_fn(x, mask)
            seen += x.shape[0] * batches.present_views  # placeholders of absent views not counted
            for k, v in terms.items():  # summed on the device: no per-step sync
                sums[k] = sums.get(k, 0.0) + v
            if progress and (step % PROGRESS_EVERY == 0 or step == len(batches)):  # one host sync per 10 steps
                shown = {k: f"{float(v) / step:.3f}" for k, v in sums.items()}
                bar.set_postfix(shown, epoch=f"{epoch + 1}/{cfg.epochs}",
                                samples_s=f"{seen * dist.world / (time.perf_counter() - t0):.0f}")
        sched.step()
        secs = time.perf_counter() - t0
        means = _mean_over_ranks({k: float(v) / len(batches) for k, v in sums.items()}, dist)
        row = {"epoch": epoch + 1, **means, "lr": float(opt.param_groups[0]["lr"]),
               "samples_per_s": seen * dist.world / secs, "seconds": secs}
        if device.type == "cuda":
            row["peak_gpu_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        rows.append(row)
        _save(out, model, opt, sched, batches, epoch, rows, cfg, dist)
        if dist.main:
            log.info(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch"))
    bar.close()
    if dist.main:
        _plot_curves(out, rows)
    if dist.world > 1:
        import torch.distributed as td
        td.destroy_process_group()
    return out


def _save(out: Path, model, opt, sched, batches: SceneBatches, epoch: int, rows: list, cfg: TrainConfig,
          dist: Dist) -> None:
    """Rank 0 writes the checkpoint; every other rank its own RNG state (for exact resume)."""
    if not dist.main:
        save_atomic(_rng_state(batches), out / f"rng_rank{dist.rank}.pt")
    else:
        save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                     "rng": _rng_state(batches), "epoch": epoch, "metrics": rows, "config": asdict(cfg)},
                    out / CHECKPOINT)
        _write_metrics(out, rows)
    if dist.world > 1:
        import torch.distributed as td
        td.barrier()


def _write_metrics(out: Path, rows: list[dict]) -> None:
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k != "epoch", k))
    with open(out / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def _plot_curves(out: Path, rows: list[dict]) -> None:
    if not rows:
        return
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone

    terms = [k for k in ("contrastive", "recon") if k in rows[0]]
    fig = Figure(figsize=(5 + 3 * len(terms), 4))
    axes = fig.subplots(1, 1 + len(terms), squeeze=False)[0]   # one panel each: no line hides another
    epochs = [r["epoch"] for r in rows]
    titles = {"loss": "total (alpha * contrastive + beta * recon)", "contrastive": "contrastive (Eq. 3 / 6)",
              "recon": "reconstruction (Eq. 7)"}
    for ax, k, color in zip(axes, ["loss", *terms], ("black", "tab:blue", "tab:orange")):
        ax.plot(epochs, [r[k] for r in rows], color=color, marker="o" if len(rows) < 30 else None, ms=3)
        ax.set(xlabel="epoch", ylabel="mean over the epoch's steps", title=titles[k])
    fig.suptitle("training curves")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=90)


def load_trained(run: str | Path, device: str = "cpu") -> tuple[FoCoViL, TrainConfig]:
    """The model of a run's last checkpoint and its config."""
    path = Path(run) / CHECKPOINT
    ck = read_checkpoint(path, device)
    known = {f for f in TrainConfig.__dataclass_fields__}
    try:
        cfg = TrainConfig(**{k: v for k, v in ck["config"].items() if k in known})
        channels = ck["model"]["readout.weight"].shape[0]
    except (TypeError, KeyError, AttributeError, IndexError) as e:
        raise CheckpointError(f"{path}: its config or model is not a focovil run's ({type(e).__name__}: {e})") from None
    model = build_model(cfg, channels).to(device)
    load_weights(model, ck["model"], path)
    model.eval()
    return model, cfg
