"""The training loop: a checkpoint every epoch, exact resume, metrics.csv and curves.png."""
from __future__ import annotations

import logging
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from skeltools.store import Store, require_valid

from .checkpoint import (CHECKPOINT, CheckpointError, build_model, load_weights, read_checkpoint, rng_state,
                         save_atomic, set_rng_state, load_safely)
from .config import DATASET_DEFAULTS, OTHER_DEFAULTS, TrainConfig
from .data import SceneBatches, load_split
from .device import resolve_device
from .distributed import Dist
from .losses import multiview_contrastive_loss, reconstruction_loss
from .model import FoCoViL, count_parameters
from .presets import get_preset
from .reports import plot_curves, write_metrics
from .run_folder import prepare_run_folder
from .step import EagerStep, GraphedStep, configure_optimizer
from .store_fit import store_signature

PROGRESS_EVERY = 10  # steps between progress-bar updates (and checks for a non-finite loss)
log = logging.getLogger(__name__)


class NonFiniteLoss(ValueError):
    """A training step gave a NaN or infinite loss: the run stops, its last checkpoint kept."""


def resolve(cfg: TrainConfig, verify: bool = True) -> TrainConfig:
    """Fill the dataset-dependent defaults and check that the device and store fit the preset."""
    preset = get_preset(cfg.preset)
    cfg.device = resolve_device(cfg.device)
    require_valid(cfg.store, verify)
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
    cfg.resolved = {"dataset": dataset, "preset": preset.as_dict(), "store": store_signature(cfg.store),
                    "dataset_defaults": {"batch": batch, "beta": beta}}
    return cfg


def step_loss(model: FoCoViL, x: torch.Tensor, mask: torch.Tensor, cfg: TrainConfig,
              diagnostics: bool = True) -> tuple[torch.Tensor, dict]:
    """alpha * contrastive + beta * reconstruction for one (I, K, T, C) batch whose (I, K)
    mask marks the present views (absent ones are placeholders, left out of both losses);
    with `diagnostics`, the terms also hold what the focal weights did (losses.focal_stats)."""
    preset = get_preset(cfg.preset)
    I, K, T, C = x.shape
    flat = x.reshape(I * K, T, C)
    _, z, x_hat = model(flat)
    rec = reconstruction_loss(x_hat, flat, mask.reshape(-1))
    terms = {"recon": rec}
    loss = cfg.beta * rec
    if preset.contrastive:
        stats: dict | None = {} if diagnostics else None
        con = multiview_contrastive_loss(z.reshape(I, K, -1), cfg.tau, preset.focal, mask, focal_grad=cfg.focal_grad,
                                         positives=preset.positives, negatives=preset.negatives, stats=stats)
        terms["contrastive"] = con
        terms.update(stats or {})     # what the focal weights do: metrics.csv and curves.png show them per epoch
        loss = loss + cfg.alpha * con
    return loss, terms


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, overwrite: bool = False,
          verify: bool = True) -> Path:
    """Train (or resume) a run in cfg.out; returns the run folder. Under torchrun, DDP.
    A run that fails before its first checkpoint leaves no folder it created behind.
    `verify`: check the store's content against its checksums as it is read."""
    cfg = resolve(cfg, verify)
    dist = Dist.from_env()
    out = Path(cfg.out)
    new = False
    if dist.main:
        new = prepare_run_folder(out, resume, overwrite)
    else:
        out.mkdir(parents=True, exist_ok=True)
    try:
        return _train(cfg, resume, progress and dist.main, out, dist, verify)
    except BaseException:
        if dist.main and not (out / CHECKPOINT).exists():
            for f in ("config.json", "metrics.csv"):
                (out / f).unlink(missing_ok=True)
            if new:
                shutil.rmtree(out, ignore_errors=True)
        raise


def _train(cfg: TrainConfig, resume: bool, progress: bool, out: Path, dist: Dist, verify: bool) -> Path:
    """The training itself, in a run folder that `train` has checked."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    if cfg.cuda_graph and dist.world > 1:
        raise ValueError("--cuda-graph runs in one process; under torchrun leave it off")
    device = dist.start(cfg.device)
    data = load_split(cfg.store, cfg.protocol, "train", device, stream=cfg.stream, verify=verify)
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
        set_rng_state(ck["rng"] if dist.main else load_safely(out / f"rng_rank{dist.rank}.pt"), batches.generator)
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
        first_bad = torch.full((), -1, dtype=torch.long, device=device)   # the epoch's first non-finite step
        t0, seen = time.perf_counter(), 0
        for step, (x, mask) in enumerate(batches.epoch(), start=1):
            bar.update(1)
            terms = step_fn(x, mask)
            seen += x.shape[0] * batches.present_views  # placeholders of absent views not counted
            for k, v in terms.items():  # summed on the device: no per-step sync
                sums[k] = sums.get(k, 0.0) + v
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(terms["loss"]), step, first_bad)
            if step % PROGRESS_EVERY == 0 or step == len(batches):  # one host sync per 10 steps
                _stop_if_non_finite(first_bad, epoch, ckpt_path, dist)
                if progress:
                    shown = {k: f"{float(sums[k]) / step:.3f}" for k in ("loss", "contrastive", "recon") if k in sums}
                    bar.set_postfix(shown, epoch=f"{epoch + 1}/{cfg.epochs}",
                                    samples_s=f"{seen * dist.world / (time.perf_counter() - t0):.0f}")
        sched.step()
        secs = time.perf_counter() - t0
        means = dist.mean({k: float(v) / len(batches) for k, v in sums.items()})
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
        plot_curves(out, rows)
    dist.end()
    return out


def _stop_if_non_finite(first_bad: torch.Tensor, epoch: int, ckpt_path: Path, dist: Dist) -> None:
    """Raise NonFiniteLoss if a step of this epoch gave a NaN or infinite loss (on any process)."""
    bad = int(first_bad)
    if dist.world > 1:
        import torch.distributed as td
        flag = torch.tensor([bad], dtype=torch.long, device=first_bad.device)
        td.all_reduce(flag, op=td.ReduceOp.MAX)
        bad = int(flag)
    if bad >= 0:
        kept = f"the last good checkpoint ({ckpt_path}, epoch {epoch}) is kept" if epoch and ckpt_path.exists() \
            else "no checkpoint was written"
        raise NonFiniteLoss(f"the loss became NaN or infinite at epoch {epoch + 1}, step {bad}: training stopped; "
                            f"{kept}. Check the store (`skel check`) or lower --lr")


def _save(out: Path, model, opt, sched, batches: SceneBatches, epoch: int, rows: list, cfg: TrainConfig,
          dist: Dist) -> None:
    """Rank 0 writes the checkpoint, config.json and metrics.csv; every other rank its own RNG
    state (for exact resume)."""
    if not dist.main:
        save_atomic(rng_state(batches.generator), out / f"rng_rank{dist.rank}.pt")
    else:
        save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                     "rng": rng_state(batches.generator), "epoch": epoch, "metrics": rows, "config": asdict(cfg)},
                    out / CHECKPOINT)
        cfg.save(out / "config.json")
        write_metrics(out, rows)
    dist.barrier()
